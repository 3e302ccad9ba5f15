//! ns/packet of each path of `vrrp_rx` timed by `BPF_PROG_TEST_RUN` (the kernel's average
//! over the repetitions), and the same harness's floor: the empty program `xdp_pass` timed
//! the same way in the same run.

use aya::maps::RingBuf;
use aya::Ebpf;
use ha_common::VRRP_EVENTS_MAP;

use super::frames::{
    advert_frame, arp_request_for, load_vrrp_rx, tcp_frame, VIP, VRID_EVENTS, VRID_FOLLOWED,
};
use super::{Harness, Row, RowKind};

/// `BPF_PROG_TEST_RUN` wants an existing interface: lo.
const IFINDEX: u32 = 1;
/// Repetitions per batch: long enough that the syscall's own cost vanishes in the average.
const BATCH: u32 = 2_000_000;
/// Single runs per figure, for the paths that rewrite the frame (each run needs the
/// original input: FACTS.md).
const SINGLES: u32 = 100_000;

fn time(prog: &aya::programs::Xdp, frame: &[u8], repeat: u32) -> Result<(f64, u32), String> {
    let (r, _) = ha_ebpf::test_run_xdp(prog, frame, IFINDEX, repeat)?;
    Ok((r.duration.as_nanos() as f64, r.return_value))
}

fn singles(prog: &aya::programs::Xdp, frame: &[u8]) -> Result<(f64, u32), String> {
    let (mut total, mut verdict) = (0.0, 0);
    for _ in 0..SINGLES {
        let (ns, v) = time(prog, frame, 1)?;
        total += ns;
        verdict = v;
    }
    Ok((total / f64::from(SINGLES), verdict))
}

fn drain(bpf: &mut Ebpf) -> Result<usize, String> {
    let mut rb =
        RingBuf::try_from(bpf.map_mut(VRRP_EVENTS_MAP).ok_or("map")?).map_err(|e| e.to_string())?;
    let mut n = 0;
    while rb.next().is_some() {
        n += 1;
    }
    Ok(n)
}

/// One row per path, then the floors of both harnesses (batch and single runs).
pub fn ns_per_packet() -> Result<Vec<Row>, String> {
    let mut bpf = load_vrrp_rx(IFINDEX)?;
    let mut out = Vec::new();
    {
        let prog = ha_ebpf::xdp_ref(&bpf, ha_ebpf::VRRP_RX_PROGRAM)?;
        let absorbed = advert_frame(VRID_FOLLOWED);
        time(prog, &absorbed, 1)?; // creates the state entry and arms the timer
        let (ns, v) = time(prog, &absorbed, BATCH)?;
        out.push(Row::new(
            "advert absorbed (followed master)",
            Harness::Batch,
            ns,
            v,
        ));
    }
    // Events: batches the ring buffer can hold, drained in between.
    let event = advert_frame(VRID_EVENTS);
    let (mut total, mut n, mut verdict) = (0.0, 0u32, 0);
    for _ in 0..200 {
        let prog = ha_ebpf::xdp_ref(&bpf, ha_ebpf::VRRP_RX_PROGRAM)?;
        let (ns, v) = time(prog, &event, 400)?;
        let got = drain(&mut bpf)?;
        if got != 400 {
            return Err(format!("{got} events for 400 adverts: the ring overflowed"));
        }
        total += ns * 400.0;
        n += 400;
        verdict = v;
    }
    out.push(Row::new(
        "advert sent as an event (full checks, copy into the ring)",
        Harness::Batch,
        total / f64::from(n),
        verdict,
    ));
    let prog = ha_ebpf::xdp_ref(&bpf, ha_ebpf::VRRP_RX_PROGRAM)?;
    let (ns, v) = singles(prog, &arp_request_for(VIP.octets()))?;
    out.push(Row::new(
        "ARP request for an owned VIP → reply",
        Harness::Single,
        ns,
        v,
    ));
    // The same lookup, missed, in one batch: the ARP path without the reply's stores.
    let (ns, v) = time(prog, &arp_request_for([192, 0, 2, 77]), BATCH)?;
    out.push(Row::new(
        "ARP request for an unowned address (lookup)",
        Harness::Batch,
        ns,
        v,
    ));
    let (ns, v) = time(prog, &tcp_frame(), BATCH)?;
    out.push(Row::new(
        "pass-through (TCP to the VIP)",
        Harness::Batch,
        ns,
        v,
    ));

    let floor = ha_ebpf::load_reference(ha_ebpf::XDP_PASS_PROGRAM)?;
    let prog = ha_ebpf::xdp_ref(&floor, ha_ebpf::XDP_PASS_PROGRAM)?;
    let (ns, v) = time(prog, &advert_frame(VRID_FOLLOWED), BATCH)?;
    out.push(Row::reference(RowKind::Floor, Harness::Batch, ns, v));
    let (ns, v) = singles(prog, &arp_request_for(VIP.octets()))?;
    out.push(Row::reference(RowKind::Floor, Harness::Single, ns, v));
    let clock = ha_ebpf::load_reference(ha_ebpf::XDP_CLOCK_PROGRAM)?;
    let prog = ha_ebpf::xdp_ref(&clock, ha_ebpf::XDP_CLOCK_PROGRAM)?;
    let (ns, v) = time(prog, &advert_frame(VRID_FOLLOWED), BATCH)?;
    out.push(Row::reference(RowKind::Clock, Harness::Batch, ns, v));
    Ok(out)
}
