//! `BPF_PROG_TEST_RUN` fixtures of the BFD path of `ha_xdp` (`bfd_path.h`): which control
//! packets are stamped, absorbed or passed, and the detection timer's expiry through the
//! ring buffer. Needs root; without it the tests say SKIPPED (and fail under CI).

#[path = "support/frames.rs"]
mod frames;
#[path = "../../tests/src/gate.rs"]
mod gate;

use std::time::{Duration, Instant};

use aya::maps::{Array, RingBuf};
use aya::Ebpf;
use frames::*;
use ha_common::*;
use ha_ebpf::{XDP_DROP, XDP_PASS};

/// Loopback: exists in every namespace.
const IFINDEX: u32 = 1;
const PEER4: [u8; 4] = [192, 0, 2, 2];
const US4: [u8; 4] = [192, 0, 2, 1];
const PEER6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
const US6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// Our discriminator: slot 0x155.
const LOCAL: u32 = 0x5eed_0155;
const REMOTE: u32 = 0x0bad_cafe;

/// A control packet as keepalived sends it once Up: state Up, mult 3, 1 ms timers.
fn control(state: u8, flags: u8, your: u32) -> [u8; 24] {
    let mut b = [0u8; 24];
    b[0] = 0x20;
    b[1] = (state << 6) | flags;
    b[2] = 3;
    b[3] = 24;
    b[4..8].copy_from_slice(&REMOTE.to_be_bytes());
    b[8..12].copy_from_slice(&your.to_be_bytes());
    b[12..16].copy_from_slice(&1_000u32.to_be_bytes());
    b[16..20].copy_from_slice(&1_000u32.to_be_bytes());
    b
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn frame4(src: [u8; 4], ttl: u8, dport: u16, payload: &[u8]) -> Vec<u8> {
    let u = udp(49200, dport, payload);
    let mut f = ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], None, 0x0800);
    f.extend(ipv4_header(src, US4, 17, ttl, &[], 0, u.len()));
    f.extend(u);
    f
}

fn frame6(src: [u8; 16], hops: u8, payload: &[u8]) -> Vec<u8> {
    let u = udp(49200, 3784, payload);
    let mut f = ethernet([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], None, 0x86dd);
    f.extend(ipv6_header(src, US6, 17, hops, u.len()));
    f.extend(u);
    f
}

struct Fixture {
    bpf: Ebpf,
}

impl Fixture {
    fn new() -> Fixture {
        let mut bpf = ha_ebpf::load_ha_xdp().expect("kernel rejected ha_xdp");
        let mut ifaces: Array<_, IfaceConfig> =
            Array::try_from(bpf.map_mut(IFACES_MAP).expect("map")).expect("array");
        ifaces
            .set(
                IFINDEX,
                IfaceConfig {
                    slot: 1,
                    features: FEATURE_BFD,
                },
                0,
            )
            .expect("iface");
        Fixture { bpf }
    }

    fn session(
        &mut self,
        remote: &[u8],
        min_ttl: u8,
        detect_ns: u64,
        absorb: Option<[u8; 24]>,
        epoch: u32,
    ) {
        let mut r = [0u8; 16];
        r[..remote.len()].copy_from_slice(remote);
        let mut m: Array<_, BfdSession> =
            Array::try_from(self.bpf.map_mut(BFD_SESSIONS_MAP).expect("map")).expect("array");
        m.set(
            bfd_slot(LOCAL),
            BfdSession {
                local_disc: LOCAL,
                epoch,
                detect_ns,
                remote: r,
                family: if remote.len() == 4 {
                    FAMILY_V4
                } else {
                    FAMILY_V6
                },
                min_ttl,
                flags: if absorb.is_some() { BFD_F_ABSORB } else { 0 },
                pad: [0; 5],
                expect: absorb.unwrap_or([0; 24]),
            },
            0,
        )
        .expect("session");
    }

    fn state(&self) -> BfdState {
        let m: Array<_, BfdState> =
            Array::try_from(self.bpf.map(BFD_STATE_MAP).expect("map")).expect("array");
        m.get(&bfd_slot(LOCAL), 0).expect("state")
    }

    fn run(&self, frame: &[u8]) -> u32 {
        ha_ebpf::test_run_ha_xdp(&self.bpf, frame, IFINDEX, 1)
            .expect("run")
            .0
            .return_value
    }

    fn counters(&self) -> XdpCounters {
        ha_ebpf::counters(&self.bpf, 1).expect("counters")
    }
}

#[test]
fn steady_packets_are_absorbed_and_changes_passed() {
    if !gate::need_root("steady_packets_are_absorbed_and_changes_passed") {
        return;
    }
    let mut f = Fixture::new();
    let up = control(3, 0, LOCAL);
    f.session(&PEER4, 255, 0, Some(up), 1);
    assert_eq!(f.run(&frame4(PEER4, 255, 3784, &up)), XDP_DROP);
    let st = f.state();
    assert_eq!((st.absorbed, st.passed), (1, 0));
    assert_ne!(st.last_rx_ns, 0);
    // A Poll, another state, other timers: the thread must see them (stamped, passed).
    let mut poll = up;
    poll[1] |= 0x20;
    let mut slower = up;
    slower[12..16].copy_from_slice(&5_000u32.to_be_bytes());
    for p in [poll, control(1, 0, LOCAL), slower] {
        assert_eq!(f.run(&frame4(PEER4, 255, 3784, &p)), XDP_PASS);
    }
    let st2 = f.state();
    assert_eq!((st2.absorbed, st2.passed), (1, 3));
    assert!(st2.last_rx_ns >= st.last_rx_ns);
    // Multihop port too.
    assert_eq!(f.run(&frame4(PEER4, 255, 4784, &up)), XDP_DROP);
    let c = f.counters();
    assert_eq!((c.bfd_absorbed, c.bfd_passed), (2, 3));
}

#[test]
fn packets_the_kernel_cannot_place_pass_unstamped() {
    if !gate::need_root("packets_the_kernel_cannot_place_pass_unstamped") {
        return;
    }
    let mut f = Fixture::new();
    let up = control(3, 0, LOCAL);
    f.session(&PEER4, 255, 0, Some(up), 1);
    let mut bad_version = up;
    bad_version[0] = 0x40;
    let mut auth = up;
    auth[1] |= 0x04;
    let mut mult0 = up;
    mult0[2] = 0;
    let mut long = up;
    long[3] = 40;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "Your Discriminator 0 (coming up)",
            frame4(PEER4, 255, 3784, &control(1, 0, 0)),
        ),
        (
            "another session's discriminator",
            frame4(PEER4, 255, 3784, &control(3, 0, LOCAL ^ 0x1000)),
        ),
        ("another source", frame4([192, 0, 2, 9], 255, 3784, &up)),
        (
            "TTL 254 on a single-hop session",
            frame4(PEER4, 254, 3784, &up),
        ),
        ("version 2", frame4(PEER4, 255, 3784, &bad_version)),
        ("A bit", frame4(PEER4, 255, 3784, &auth)),
        ("detect mult 0", frame4(PEER4, 255, 3784, &mult0)),
        ("length past the datagram", frame4(PEER4, 255, 3784, &long)),
        ("IPv6 source for an IPv4 session", frame6(PEER6, 255, &up)),
    ];
    for (what, frame) in cases {
        assert_eq!(f.run(&frame), XDP_PASS, "{what}");
    }
    // Truncated, and not BFD at all: not the BFD path's.
    assert_eq!(f.run(&frame4(PEER4, 255, 3784, &up[..20])), XDP_PASS);
    assert_eq!(f.run(&frame4(PEER4, 255, 53, &up)), XDP_PASS);
    let st = f.state();
    assert_eq!((st.last_rx_ns, st.absorbed, st.passed), (0, 0, 0));
    // max_hops: a lower bound on the TTL accepts what it allows.
    f.session(&PEER4, 250, 0, Some(up), 2);
    assert_eq!(f.run(&frame4(PEER4, 251, 3784, &up)), XDP_DROP);
}

#[test]
fn ipv6_sessions_check_the_hop_limit() {
    if !gate::need_root("ipv6_sessions_check_the_hop_limit") {
        return;
    }
    let mut f = Fixture::new();
    let up = control(3, 0, LOCAL);
    f.session(&PEER6, 64, 0, Some(up), 1);
    assert_eq!(f.run(&frame6(PEER6, 64, &up)), XDP_DROP);
    assert_eq!(f.run(&frame6(PEER6, 63, &up)), XDP_PASS);
    assert_eq!(f.state().absorbed, 1);
}

/// The timer fires at the last packet + Detection Time and reports it once per epoch; the
/// copies that follow are no longer absorbed.
#[test]
fn silence_past_the_detection_time_is_reported_through_the_ring() {
    if !gate::need_root("silence_past_the_detection_time_is_reported_through_the_ring") {
        return;
    }
    let mut f = Fixture::new();
    let up = control(3, 0, LOCAL);
    let detect = 3_000_000; // 3 ms
    f.session(&PEER4, 255, detect, Some(up), 7);
    let mut ring = RingBuf::try_from(f.bpf.take_map(BFD_EVENTS_MAP).expect("ring")).expect("ring");
    // Packets every ms keep it alive.
    for _ in 0..10 {
        assert_eq!(f.run(&frame4(PEER4, 255, 3784, &up)), XDP_DROP);
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(ring.next().is_none(), "expired while packets arrived");
    let last = f.state().last_rx_ns;
    let t = Instant::now();
    let ev = loop {
        if let Some(item) = ring.next() {
            break bytemuck::pod_read_unaligned::<BfdEvent>(
                &item[..std::mem::size_of::<BfdEvent>()],
            );
        }
        assert!(t.elapsed() < Duration::from_secs(2), "no expiry reported");
        std::thread::sleep(Duration::from_micros(200));
    };
    assert_eq!((ev.local_disc, ev.epoch, ev.detect_ns), (LOCAL, 7, detect));
    assert_eq!(ev.last_rx_ns, last);
    assert!(
        ev.fired_ns >= last + detect,
        "fired before the Detection Time"
    );
    let st = f.state();
    assert_eq!((st.detections, st.tripped_epoch, st.armed), (1, 7, 0));
    // The same epoch: a late copy is stamped and passed, not absorbed, and no second
    // expiry follows.
    assert_eq!(f.run(&frame4(PEER4, 255, 3784, &up)), XDP_PASS);
    std::thread::sleep(Duration::from_millis(10));
    assert!(ring.next().is_none(), "a second expiry in one epoch");
    // A new epoch (the thread rewrote the session) watches again.
    f.session(&PEER4, 255, detect, Some(up), 8);
    assert_eq!(f.run(&frame4(PEER4, 255, 3784, &up)), XDP_DROP);
    let t = Instant::now();
    while ring.next().is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "no expiry in the new epoch"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// detect_ns 0 (the session is not Up or Init): nothing is armed.
#[test]
fn unwatched_sessions_arm_no_timer() {
    if !gate::need_root("unwatched_sessions_arm_no_timer") {
        return;
    }
    let mut f = Fixture::new();
    let up = control(3, 0, LOCAL);
    f.session(&PEER4, 255, 0, None, 1);
    assert_eq!(f.run(&frame4(PEER4, 255, 3784, &up)), XDP_PASS);
    let st = f.state();
    assert_eq!((st.armed, st.passed), (0, 1));
}
