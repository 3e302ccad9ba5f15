//! `cargo xtask bench xdp`: what the fast path costs and saves.
//!
//! - **ns/packet** of each path of `vrrp_rx`, timed by the kernel (`BPF_PROG_TEST_RUN`'s
//!   average over the repetitions): an advert absorbed, an advert sent as an event, an ARP
//!   request answered, unrelated traffic passed.
//! - **receive-side daemon CPU**: the BACKUP of a pair receiving 50 instances at
//!   `advert_int 0.01` and 255 at `0.1`, with the XDP path, with the raw-socket path
//!   (`--no-xdp`), and keepalived, in one run.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use aya::maps::{Array, RingBuf};
use aya::Ebpf;
use ha::config::units::Centis;
use ha::vrrp::ipv4::{encode_ipv4_packet, Ipv4Tx, IPV4_HEADER_LEN};
use ha::vrrp::packet::{Advert, Auth, Version, MCAST_V4};
use ha_common::*;

use crate::bench::cpu_with;
use crate::daemon::Kind;

const IFINDEX: u32 = 1;
const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
const PEER: [u8; 6] = [2, 0, 0, 0, 0, 2];
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

fn advert_frame(vrid: u8) -> Vec<u8> {
    let a = Advert {
        version: Version::V3,
        vrid,
        priority: 150,
        adver_int: Centis(1),
        addrs: vec![IpAddr::V4(VIP)],
        auth: Auth::None,
    };
    let ip = Ipv4Tx::new(Ipv4Addr::new(192, 0, 2, 2), MCAST_V4, 1);
    let mut f = vec![0x01, 0x00, 0x5e, 0, 0, 0x12];
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend(encode_ipv4_packet(&a, &ip).expect("encode"));
    f
}

fn arp_request() -> Vec<u8> {
    arp_request_for(VIP.octets())
}

fn arp_request_for(target: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&[192, 0, 2, 50]);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target);
    f
}

fn tcp_frame() -> Vec<u8> {
    let mut f = MAC.to_vec();
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&[198, 51, 100, 7]);
    f.extend_from_slice(&VIP.octets());
    f.extend_from_slice(&[
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 2, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    f
}

fn load() -> Result<Ebpf, String> {
    let mut bpf = ha_ebpf::load_vrrp_rx()?;
    // VRID 51 follows the advert of `advert_frame(51)`; VRID 52 follows nothing (events).
    let frame = advert_frame(51);
    let msg = &frame[14 + IPV4_HEADER_LEN..];
    let mut slots: Array<_, u32> =
        Array::try_from(bpf.map_mut(IFACE_SLOTS_MAP).ok_or("map")?).map_err(|e| e.to_string())?;
    slots.set(IFINDEX, 1, 0).map_err(|e| e.to_string())?;
    let mut inst: Array<_, VrrpInstance> =
        Array::try_from(bpf.map_mut(VRRP_INSTANCES_MAP).ok_or("map")?)
            .map_err(|e| e.to_string())?;
    let mut master = [0u8; 16];
    master[..4].copy_from_slice(&[192, 0, 2, 2]);
    let mut master_dst = [0u8; 16];
    master_dst[..4].copy_from_slice(&MCAST_V4.octets());
    let mut master_msg = [0u8; FOLLOW_MSG_LEN];
    master_msg[..msg.len()].copy_from_slice(msg);
    let follow = VrrpInstance {
        version: 3,
        priority: 100,
        state: STATE_BACKUP,
        flags: F_FOLLOW | F_CHECK_COUNT,
        naddrs: 1,
        master,
        master_prio: 150,
        master_int: u16::from_ne_bytes([msg[4], msg[5]]),
        master_csum: u16::from_ne_bytes([msg[6], msg[7]]),
        master_len: msg.len() as u16,
        down_ns: 36_000_000_000,
        master_dst,
        master_msg,
        ..Default::default()
    };
    inst.set(instance_index(1, FAMILY_V4, 51), follow, 0)
        .map_err(|e| e.to_string())?;
    let events = VrrpInstance {
        flags: F_CHECK_COUNT,
        ..follow
    };
    inst.set(instance_index(1, FAMILY_V4, 52), events, 0)
        .map_err(|e| e.to_string())?;
    let mut vips: Array<_, Vip4Slot> =
        Array::try_from(bpf.map_mut(OWNED_VIPS4_MAP).ok_or("map")?).map_err(|e| e.to_string())?;
    vips.set(
        vip4_hash(IFINDEX, VIP.octets()) & (VIP4_SLOTS - 1),
        Vip4Slot {
            ifindex: IFINDEX,
            addr: VIP.octets(),
            mac: MAC,
            state: VIP_USED,
            pad: 0,
        },
        0,
    )
    .map_err(|e| e.to_string())?;
    Ok(bpf)
}

/// Average ns per run of `frame`, `repeat` runs in the kernel; the verdict.
fn time(bpf: &Ebpf, frame: &[u8], repeat: u32) -> Result<(f64, u32), String> {
    let (r, _) = ha_ebpf::test_run_vrrp_rx(bpf, frame, IFINDEX, repeat)?;
    Ok((r.duration.as_nanos() as f64, r.return_value))
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

/// (path, ns per packet, verdict) for each path.
pub fn ns_per_packet() -> Result<Vec<(&'static str, f64, u32)>, String> {
    let mut bpf = load()?;
    let mut out = Vec::new();
    let absorbed = advert_frame(51);
    time(&bpf, &absorbed, 1)?; // creates the state entry and arms the timer
    let (ns, v) = time(&bpf, &absorbed, 2_000_000)?;
    out.push(("advert absorbed (followed master)", ns, v));
    // Events: batches the ring buffer can hold, drained in between.
    let event = advert_frame(52);
    let (mut total, mut n, mut verdict) = (0.0, 0u32, 0);
    for _ in 0..200 {
        let (ns, v) = time(&bpf, &event, 400)?;
        let got = drain(&mut bpf)?;
        if got != 400 {
            return Err(format!("{got} events for 400 adverts: the ring overflowed"));
        }
        total += ns * 400.0;
        n += 400;
        verdict = v;
    }
    out.push(("advert sent as an event", total / f64::from(n), verdict));
    // ARP: the program rewrites the frame in place, so each run needs the original input:
    // many single runs (FACTS.md).
    let arp = arp_request();
    let (mut total, mut verdict) = (0.0, 0);
    for _ in 0..100_000 {
        let (ns, v) = time(&bpf, &arp, 1)?;
        total += ns;
        verdict = v;
    }
    out.push((
        "ARP request → reply, single runs",
        total / 100_000.0,
        verdict,
    ));
    // The same lookup, missed, in one batch: the ARP path without the measurement floor
    // (the reply itself adds a handful of stores).
    let (ns, v) = time(&bpf, &arp_request_for([192, 0, 2, 77]), 2_000_000)?;
    out.push(("ARP request, unowned address (lookup, batch)", ns, v));
    let (ns, v) = time(&bpf, &tcp_frame(), 2_000_000)?;
    out.push(("pass-through (TCP to the VIP)", ns, v));
    // The same frame in single runs, as the ARP path is timed: the per-run floor of the
    // measurement itself.
    let tcp = tcp_frame();
    let mut total = 0.0;
    for _ in 0..100_000 {
        total += time(&bpf, &tcp, 1)?.0;
    }
    out.push((
        "pass-through, single runs (floor of the ARP timing)",
        total / 100_000.0,
        v,
    ));
    Ok(out)
}

fn verdict_name(v: u32) -> &'static str {
    match v {
        1 => "DROP",
        2 => "PASS",
        3 => "TX",
        _ => "?",
    }
}

/// Prints the Markdown tables.
pub fn run(cpu_secs: u64, kinds: &[Kind]) -> Result<(), String> {
    println!("\n### vrrp_rx ns per packet (BPF_PROG_TEST_RUN, kernel-timed averages)\n");
    println!("| path | verdict | ns/packet |");
    println!("|---|---|---|");
    for (path, ns, v) in ns_per_packet()? {
        println!("| {path} | {} | {ns:.1} |", verdict_name(v));
    }
    println!("\n### BACKUP daemon CPU while receiving ({cpu_secs} s after the election)\n");
    println!(
        "| instances | advert_int | receive path | backup % of a core | µs per advert received |"
    );
    println!("|---|---|---|---|---|");
    for (n, int, per_s) in [(50usize, "0.01", 5000.0), (255, "0.1", 2550.0)] {
        let mut variants: Vec<(Kind, &[&str], &str)> = Vec::new();
        if kinds.contains(&Kind::Ha) {
            variants.push((Kind::Ha, &[], "ha, XDP"));
            variants.push((Kind::Ha, &["--no-xdp"], "ha, raw socket"));
        }
        if kinds.contains(&Kind::Keepalived) {
            variants.push((Kind::Keepalived, &[], "keepalived"));
        }
        for (kind, extra, label) in variants {
            let (_, b) = cpu_with(kind, extra, n, int, cpu_secs)?;
            println!(
                "| {n} | {int} s | {label} | {:.2} | {:.3} |",
                b * 100.0,
                b * 1e6 / per_s
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(())
}
