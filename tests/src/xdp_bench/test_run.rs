//! ns/packet of each path of `ha_xdp` timed by `BPF_PROG_TEST_RUN` (the kernel's average
//! over the repetitions, in whole ns), and the same harness's reference programs timed the
//! same way in the same run: the empty `xdp_pass` (the floor) and `xdp_clock`.

use aya::maps::RingBuf;
use aya::programs::Xdp;
use aya::Ebpf;
use ha_common::VRRP_EVENTS_MAP;
use ha_ebpf::XDP_PASS;

use super::frames::{
    advert_frame, arp_request_for, load_ha_xdp, tcp_frame, VIP, VRID_EVENTS, VRID_FOLLOWED,
};
use super::{moved, Harness, Row, RowKind};

/// `BPF_PROG_TEST_RUN` wants an existing interface: lo. `load_ha_xdp` gives it slot 1.
const IFINDEX: u32 = 1;
const SLOT: u32 = 1;
/// Repetitions per batch: long enough that the syscall's own cost vanishes in the average.
const BATCH: u32 = 2_000_000;
/// Single runs per figure, for the paths that rewrite the frame (each run needs the
/// original input: FACTS.md).
const SINGLES: u32 = 100_000;
/// Events per batch: what the ring buffer holds with room to spare.
const EVENT_BATCH: u32 = 400;

fn time(prog: &Xdp, frame: &[u8], repeat: u32) -> Result<(f64, u32), String> {
    let (r, _) = ha_ebpf::test_run_xdp(prog, frame, IFINDEX, repeat).map_err(|e| e.to_string())?;
    Ok((r.duration.as_nanos() as f64, r.return_value))
}

fn singles(prog: &Xdp, frame: &[u8]) -> Result<(f64, u32), String> {
    let (mut total, mut verdict) = (0.0, 0);
    for _ in 0..SINGLES {
        let (ns, v) = time(prog, frame, 1)?;
        total += ns;
        verdict = v;
    }
    Ok((total / f64::from(SINGLES), verdict))
}

fn drain(bpf: &mut Ebpf) -> Result<u32, String> {
    let mut rb = RingBuf::try_from(
        bpf.map_mut(VRRP_EVENTS_MAP)
            .ok_or_else(|| format!("map {VRRP_EVENTS_MAP} missing"))?,
    )
    .map_err(|e| format!("map {VRRP_EVENTS_MAP}: {e}"))?;
    let mut n = 0;
    while rb.next().is_some() {
        n += 1;
    }
    Ok(n)
}

/// Times `frame` on ha_xdp (batch or single runs) and checks that every run landed in
/// `counter`: the figure is that path's.
fn path(
    bpf: &Ebpf,
    name: &'static str,
    frame: &[u8],
    harness: Harness,
    counter: &str,
) -> Result<Row, String> {
    let prog = ha_ebpf::xdp_ref(bpf, ha_ebpf::HA_XDP_PROGRAM).map_err(|e| e.to_string())?;
    let before = ha_ebpf::counters(bpf, SLOT).map_err(|e| e.to_string())?;
    let ((ns, verdict), runs) = match harness {
        Harness::Single => (singles(prog, frame)?, SINGLES),
        _ => (time(prog, frame, BATCH)?, BATCH),
    };
    let got = moved(
        &ha_ebpf::counters(bpf, SLOT).map_err(|e| e.to_string())?,
        &before,
        counter,
    );
    if got != u64::from(runs) {
        return Err(format!(
            "{name}: {got} of {runs} runs counted under {counter}"
        ));
    }
    Ok(Row::new(name, harness, ns, verdict))
}

/// One row per path, then the reference programs.
pub fn ns_per_packet() -> Result<Vec<Row>, String> {
    let mut bpf = load_ha_xdp(IFINDEX)?;
    let absorbed = advert_frame(VRID_FOLLOWED);
    // The first run creates the state entry and arms the timer.
    let prog = ha_ebpf::xdp_ref(&bpf, ha_ebpf::HA_XDP_PROGRAM).map_err(|e| e.to_string())?;
    time(prog, &absorbed, 1)?;
    let mut out = vec![path(
        &bpf,
        "advert absorbed (followed master)",
        &absorbed,
        Harness::Batch,
        "absorbed",
    )?];
    // Events: batches the ring buffer can hold, drained in between.
    let event = advert_frame(VRID_EVENTS);
    let (mut total, mut n, mut verdict) = (0.0, 0u32, 0);
    let before = ha_ebpf::counters(&bpf, SLOT).map_err(|e| e.to_string())?;
    for _ in 0..200 {
        let prog = ha_ebpf::xdp_ref(&bpf, ha_ebpf::HA_XDP_PROGRAM).map_err(|e| e.to_string())?;
        let (ns, v) = time(prog, &event, EVENT_BATCH)?;
        let got = drain(&mut bpf)?;
        if got != EVENT_BATCH {
            return Err(format!(
                "{got} events for {EVENT_BATCH} adverts: the ring overflowed"
            ));
        }
        total += ns * f64::from(EVENT_BATCH);
        n += EVENT_BATCH;
        verdict = v;
    }
    let got = moved(
        &ha_ebpf::counters(&bpf, SLOT).map_err(|e| e.to_string())?,
        &before,
        "advert_events",
    );
    if got != u64::from(n) {
        return Err(format!(
            "{got} of {n} event adverts counted under advert_events"
        ));
    }
    out.push(Row::new(
        "advert sent as an event (full checks, copy into the ring)",
        Harness::Batch,
        total / f64::from(n),
        verdict,
    ));
    out.push(path(
        &bpf,
        "ARP request for an owned VIP → reply",
        &arp_request_for(VIP.octets()),
        Harness::Single,
        "arp_reply",
    )?);
    // The same lookup, missed, in one batch: the ARP path without the reply's stores.
    out.push(path(
        &bpf,
        "ARP request for an unowned address (lookup)",
        &arp_request_for([192, 0, 2, 77]),
        Harness::Batch,
        "arp_pass",
    )?);
    out.push(path(
        &bpf,
        "pass-through (TCP to the VIP)",
        &tcp_frame(),
        Harness::Batch,
        "pass_other",
    )?);
    // The fence (README "Fencing"): the rows above run unfenced (the flag read: one array
    // lookup); fenced, traffic to the VIP is dropped after the VIP lookup.
    beat(&bpf, 1)?;
    std::thread::sleep(std::time::Duration::from_millis(50));
    out.push(path(
        &bpf,
        "TCP to the VIP, fenced (dropped)",
        &tcp_frame(),
        Harness::Batch,
        "fenced",
    )?);
    beat(&bpf, 0)?;

    // No stack runs after a test run, whatever the verdict: xdp_pass is the floor of every
    // row here.
    let floor = ha_ebpf::load_reference(ha_ebpf::XDP_PASS_PROGRAM).map_err(|e| e.to_string())?;
    let prog = ha_ebpf::xdp_ref(&floor, ha_ebpf::XDP_PASS_PROGRAM).map_err(|e| e.to_string())?;
    let (ns, v) = time(prog, &absorbed, BATCH)?;
    out.push(Row::reference(RowKind::Floor, Harness::Batch, ns, v));
    let (ns, v) = singles(prog, &arp_request_for(VIP.octets()))?;
    out.push(Row::reference(RowKind::Floor, Harness::Single, ns, v));
    let clock = ha_ebpf::load_reference(ha_ebpf::XDP_CLOCK_PROGRAM).map_err(|e| e.to_string())?;
    let prog = ha_ebpf::xdp_ref(&clock, ha_ebpf::XDP_CLOCK_PROGRAM).map_err(|e| e.to_string())?;
    let (ns, v) = time(prog, &absorbed, BATCH)?;
    out.push(Row::reference(RowKind::Clock, Harness::Batch, ns, v));
    if out
        .iter()
        .any(|r| r.kind != RowKind::Path && r.verdict != XDP_PASS)
    {
        return Err("a reference program did not pass its frame".into());
    }
    Ok(out)
}

/// A beat of the fence with fence time `stale_ns` (0: off).
fn beat(bpf: &aya::Ebpf, stale_ns: u64) -> Result<(), String> {
    let prog = ha_ebpf::xdp_ref(bpf, ha_ebpf::HA_FENCE_BEAT_PROGRAM).map_err(|e| e.to_string())?;
    let fd = prog.fd().map_err(|e| e.to_string())?;
    ha_ebpf::run_fence_beat(std::os::fd::AsFd::as_fd(fd), stale_ns).map_err(|e| e.to_string())
}
