//! `BPF_PROG_TEST_RUN` fixtures of the load balancer's path in `ha_xdp` (DESIGN.md §7):
//! DR and TUN (IPIP, GUE) over IPv4 and IPv6, fragments, "too big" answers, an unknown
//! VIP, BACKUP pass-through, connection-table hits and misses, persistence and Maglev's
//! spread. The FIB lookups need real devices, so each test runs in a network namespace of
//! its own with a veth whose neighbours are set by hand. Needs root.

#[path = "support/frames.rs"]
mod frames;
#[path = "../../tests/src/gate.rs"]
mod gate;

use std::collections::HashMap as StdHashMap;
use std::process::Command;

use aya::maps::{Array, HashMap, PerCpuArray};
use aya::Ebpf;
use frames::{internet_checksum, ipv4_header, ipv6_header};
use ha_common::*;
use ha_ebpf::{LbSizes, XDP_DROP, XDP_PASS, XDP_TX};

const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xc1];
const DIRECTOR_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xd1];
const REAL1_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x10];
const REAL2_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];
const REAL6_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x16];
const DIRECTOR4: [u8; 4] = [10, 9, 0, 1];
const VIP4: [u8; 4] = [10, 9, 0, 100];
const REAL1: [u8; 4] = [10, 9, 0, 10];
const REAL2: [u8; 4] = [10, 9, 0, 11];
const UNRESOLVED: [u8; 4] = [10, 9, 0, 99];
const CLIENT4: [u8; 4] = [198, 51, 100, 7];
const DIRECTOR6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const VIP6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
const REAL6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];
const CLIENT6: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0x51, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
];
const TABLE: u32 = 251;

fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A fresh network namespace for this thread: `v0` (the director's interface, MAC
/// DIRECTOR_MAC, MTU 1500, forwarding on) with REAL1, REAL2 and REAL6 resolved.
fn netns() -> u32 {
    // SAFETY: unshare affects this thread only; the test runs on its own thread.
    assert_eq!(unsafe { libc::unshare(libc::CLONE_NEWNET) }, 0, "unshare");
    sh(&[
        "ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1",
    ]);
    sh(&["ip", "link", "set", "v0", "address", "02:00:00:00:00:d1"]);
    sh(&["ip", "link", "set", "v0", "up"]);
    sh(&["ip", "link", "set", "v1", "up"]);
    sh(&["ip", "addr", "add", "10.9.0.1/24", "dev", "v0"]);
    sh(&[
        "ip",
        "addr",
        "add",
        "2001:db8:9::1/64",
        "dev",
        "v0",
        "nodad",
    ]);
    for (ip, mac) in [
        ("10.9.0.10", "02:00:00:00:00:10"),
        ("10.9.0.11", "02:00:00:00:00:11"),
        ("2001:db8:9::10", "02:00:00:00:00:16"),
    ] {
        sh(&[
            "ip",
            "neigh",
            "replace",
            ip,
            "lladdr",
            mac,
            "dev",
            "v0",
            "nud",
            "permanent",
        ]);
    }
    // A network behind REAL1, for a DR real server that is not on-link.
    sh(&["ip", "route", "add", "10.77.0.0/24", "via", "10.9.0.10"]);
    sh(&["sysctl", "-qw", "net.ipv4.conf.all.forwarding=1"]);
    sh(&["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
    // Not /sys: it shows the namespace it was mounted in.
    // SAFETY: a NUL-terminated name.
    let idx = unsafe { libc::if_nametoindex(c"v0".as_ptr()) };
    assert_ne!(idx, 0, "v0 has no ifindex");
    idx
}

struct Lb {
    bpf: Ebpf,
    ifindex: u32,
    next_real: u32,
}

fn addr16(a: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..a.len()].copy_from_slice(a);
    out
}

impl Lb {
    fn new() -> Lb {
        let ifindex = netns();
        let sizes = LbSizes {
            table_size: TABLE,
            tables: 4,
            conns: 1024,
            persist: 1024,
        };
        let mut bpf = ha_ebpf::load_ha_xdp_with(&sizes).expect("kernel rejected ha_xdp");
        let mut cfg: Array<_, LbConfig> =
            Array::try_from(bpf.map_mut(LB_CONFIG_MAP).expect("map")).expect("array");
        cfg.set(
            0,
            LbConfig {
                table_size: TABLE,
                tables: 4,
            },
            0,
        )
        .expect("config");
        let mut ifaces: Array<_, IfaceConfig> =
            Array::try_from(bpf.map_mut(IFACES_MAP).expect("map")).expect("array");
        ifaces
            .set(
                ifindex,
                IfaceConfig {
                    slot: 1,
                    features: FEATURE_LB | FEATURE_VRRP,
                },
                0,
            )
            .expect("iface");
        Lb {
            bpf,
            ifindex,
            next_real: 0,
        }
    }

    /// Service `id` on `vip`:`port` (TCP) using Maglev table `id`; `flags` LB_SVC_*.
    fn service(&mut self, id: u32, vip: &[u8], port: u16, flags: u32, timeout: u32) {
        let v6 = vip.len() == 16;
        let key = LbVipKey {
            addr: addr16(vip),
            port: port.to_be(),
            proto: 6,
            family: if v6 { 6 } else { 4 },
        };
        let mut mask = [0u8; 16];
        mask[..vip.len()].fill(0xff);
        let value = LbService {
            id,
            table: id,
            flags,
            persist_timeout: timeout,
            persist_mask: mask,
            src4: DIRECTOR4,
            src6: DIRECTOR6,
        };
        let mut m: HashMap<_, LbVipKey, LbService> =
            HashMap::try_from(self.bpf.map_mut(LB_SERVICES_MAP).expect("map")).expect("hash");
        m.insert(key, value, 0).expect("service");
        let mut vips: HashMap<_, LbVipAddr, u32> =
            HashMap::try_from(self.bpf.map_mut(LB_VIPS_MAP).expect("map")).expect("hash");
        let va = LbVipAddr {
            addr: addr16(vip),
            family: key.family,
            pad: [0; 3],
        };
        vips.insert(va, 1, 0).expect("vip");
    }

    /// A live real server of service `svc`; returns its id.
    fn real(&mut self, svc: u32, addr: &[u8], method: u8, port: u16) -> u32 {
        let id = self.next_real;
        self.next_real += 1;
        let mut m: Array<_, LbReal> =
            Array::try_from(self.bpf.map_mut(LB_REALS_MAP).expect("map")).expect("array");
        let v = LbReal {
            addr: addr16(addr),
            family: if addr.len() == 16 { 6 } else { 4 },
            method,
            tun_port: port.to_be(),
            flags: LB_REAL_LIVE,
            service: svc,
        };
        m.set(id, v, 0).expect("real");
        id
    }

    /// Fills Maglev table `t` with `slots` repeated.
    fn table(&mut self, t: u32, slots: &[u32]) {
        let mut m: Array<_, u32> =
            Array::try_from(self.bpf.map_mut(LB_MAGLEV_MAP).expect("map")).expect("array");
        for i in 0..TABLE {
            let v = if slots.is_empty() {
                LB_EMPTY
            } else {
                slots[i as usize % slots.len()]
            };
            m.set(t * TABLE + i, v, 0).expect("slot");
        }
    }

    fn own_vip4(&mut self, addr: [u8; 4]) {
        let mut m: Array<_, Vip4Slot> =
            Array::try_from(self.bpf.map_mut(OWNED_VIPS4_MAP).expect("map")).expect("array");
        let h = vip4_hash(self.ifindex, addr) & (VIP4_SLOTS - 1);
        let slot = Vip4Slot {
            ifindex: self.ifindex,
            addr,
            mac: DIRECTOR_MAC,
            state: VIP_USED,
            pad: 0,
        };
        m.set(h, slot, 0).expect("vip4");
    }

    fn counters(&self) -> LbCounters {
        let m: PerCpuArray<_, LbCounters> =
            PerCpuArray::try_from(self.bpf.map(LB_COUNTERS_MAP).expect("map")).expect("percpu");
        LbCounters::sum(m.get(&0, 0).expect("counters").iter())
    }

    fn real_packets(&self, id: u32) -> u64 {
        let m: PerCpuArray<_, LbStats> =
            PerCpuArray::try_from(self.bpf.map(LB_REAL_STATS_MAP).expect("map")).expect("percpu");
        LbStats::sum(m.get(&id, 0).expect("stats").iter()).packets
    }

    fn run(&self, frame: &[u8]) -> (u32, Vec<u8>) {
        let (r, out) = ha_ebpf::test_run_ha_xdp(&self.bpf, frame, self.ifindex, 1).expect("run");
        (r.return_value, out)
    }

    /// Runs `frame` and returns the verdict, the output and the counters that moved.
    fn case(&self, frame: &[u8]) -> (u32, Vec<u8>, Vec<(&'static str, u64)>) {
        let before = self.counters();
        let (v, out) = self.run(frame);
        let moved = self
            .counters()
            .delta_since(&before)
            .iter()
            .filter(|(_, n)| *n != 0)
            .collect();
        (v, out, moved)
    }
}

fn tcp(sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    let mut t = Vec::with_capacity(20 + payload);
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    t.resize(20 + payload, 0xab);
    t
}

fn eth(proto: u16) -> Vec<u8> {
    let mut f = DIRECTOR_MAC.to_vec();
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&proto.to_be_bytes());
    f
}

/// A TCP segment from CLIENT4:`sport` to `dst`:`dport`; `frag` is the flags+offset word.
fn v4(dst: [u8; 4], sport: u16, dport: u16, payload: usize, frag: u16) -> Vec<u8> {
    let t = tcp(sport, dport, payload);
    let mut f = eth(0x0800);
    f.extend(ipv4_header(CLIENT4, dst, 6, 64, &[], frag, t.len()));
    f.extend(t);
    f
}

fn v6(dst: [u8; 16], sport: u16, dport: u16, payload: usize) -> Vec<u8> {
    let t = tcp(sport, dport, payload);
    let mut f = eth(0x86dd);
    f.extend(ipv6_header(CLIENT6, dst, 6, 64, t.len()));
    f.extend(t);
    f
}

const DF: u16 = 0x4000;

fn gate(test: &str) -> bool {
    gate::need_root(test)
}

/// Runs `f` on a thread of its own (it moves into a namespace).
fn isolated(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(f).join().expect("test thread panicked");
}

#[test]
fn dr_rewrites_the_macs_and_remembers_the_flow() {
    if !gate("dr_rewrites_the_macs_and_remembers_the_flow") {
        return;
    }
    isolated(|| {
        let mut lb = Lb::new();
        lb.service(0, &VIP4, 80, 0, 0);
        let r = lb.real(0, &REAL1, LB_DR, 0);
        lb.table(0, &[r]);
        let frame = v4(VIP4, 40000, 80, 10, DF);
        let (v, out, moved) = lb.case(&frame);
        assert_eq!(v, XDP_TX);
        assert_eq!(&out[..6], &REAL1_MAC, "to the real server's MAC");
        assert_eq!(&out[6..12], &DIRECTOR_MAC, "from the director's");
        assert_eq!(&out[12..], &frame[12..], "the packet itself untouched");
        assert_eq!(moved, [("seen", 1), ("forward_dr", 1), ("conn_miss", 1)]);
        assert_eq!(lb.real_packets(r), 1);
        let (_, _, moved) = lb.case(&frame);
        assert_eq!(moved, [("seen", 1), ("forward_dr", 1), ("conn_hit", 1)]);
    });
}

#[test]
fn an_unknown_vip_or_port_passes_untouched() {
    if !gate("an_unknown_vip_or_port_passes_untouched") {
        return;
    }
    isolated(|| {
        let mut lb = Lb::new();
        lb.service(0, &VIP4, 80, 0, 0);
        let r = lb.real(0, &REAL1, LB_DR, 0);
        lb.table(0, &[r]);
        for frame in [
            v4(VIP4, 40000, 443, 10, DF),
            v4([10, 9, 0, 101], 40000, 80, 10, DF),
            v6(VIP6, 40000, 80, 10),
        ] {
            let (v, out, moved) = lb.case(&frame);
            assert_eq!((v, out, moved), (XDP_PASS, frame.clone(), vec![]));
        }
    });
}

#[test]
fn tunnels_encapsulate_ipip_and_gue_in_both_families() {
    if !gate("tunnels_encapsulate_ipip_and_gue_in_both_families") {
        return;
    }
    isolated(|| {
        let mut lb = Lb::new();
        lb.service(0, &VIP4, 80, 0, 0);
        let ipip = lb.real(0, &REAL1, LB_IPIP, 0);
        lb.table(0, &[ipip]);
        let frame = v4(VIP4, 40000, 80, 10, DF);
        let (v, out, moved) = lb.case(&frame);
        assert_eq!(v, XDP_TX);
        assert_eq!(moved, [("seen", 1), ("forward_ipip", 1), ("conn_miss", 1)]);
        assert_eq!(&out[..6], &REAL1_MAC);
        assert_eq!(&out[12..14], &[0x08, 0x00]);
        let outer = &out[14..34];
        assert_eq!(outer[0], 0x45);
        assert_eq!(
            u16::from_be_bytes([outer[2], outer[3]]) as usize,
            frame.len() - 14 + 20
        );
        assert_eq!(outer[6] & 0x40, 0x40, "DF copied from the inner packet");
        assert_eq!(outer[9], 4, "IP-in-IP");
        assert_eq!(&outer[12..16], &DIRECTOR4);
        assert_eq!(&outer[16..20], &REAL1);
        assert_eq!(internet_checksum(&[outer]), 0, "valid header checksum");
        assert_eq!(&out[34..], &frame[14..], "the inner packet follows whole");

        // GUE to port 6080: UDP, then the 4-byte GUE header naming IPv4.
        lb.service(1, &VIP6, 80, 0, 0);
        let gue = lb.real(1, &REAL1, LB_GUE, 6080);
        lb.table(1, &[gue]);
        let frame6 = v6(VIP6, 40000, 80, 10);
        let (v, out, moved) = lb.case(&frame6);
        assert_eq!(v, XDP_TX);
        assert_eq!(moved, [("seen", 1), ("forward_gue", 1), ("conn_miss", 1)]);
        assert_eq!(out[14 + 9], 17, "UDP");
        let udp = &out[34..42];
        assert_eq!(
            u16::from_be_bytes([udp[0], udp[1]]) & 0xc000,
            0xc000,
            "entropy port"
        );
        assert_eq!(u16::from_be_bytes([udp[2], udp[3]]), 6080);
        assert_eq!(
            u16::from_be_bytes([udp[4], udp[5]]) as usize,
            8 + 4 + frame6.len() - 14
        );
        assert_eq!(&out[42..46], &[0, 41, 0, 0], "GUE v0 carrying IPv6");
        assert_eq!(&out[46..], &frame6[14..]);

        // IPv6 outer: ip6ip6 to REAL6.
        lb.service(
            2,
            &[0x20, 0x01, 0x0d, 0xb8, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1],
            80,
            0,
            0,
        );
        let ip6 = lb.real(2, &REAL6, LB_IPIP, 0);
        lb.table(2, &[ip6]);
        let mut vip = VIP6;
        vip[15] = 1;
        let frame = v6(vip, 40001, 80, 10);
        let (v, out, _) = lb.case(&frame);
        assert_eq!(v, XDP_TX);
        assert_eq!(&out[..6], &REAL6_MAC);
        assert_eq!(&out[12..14], &[0x86, 0xdd]);
        assert_eq!(out[14] >> 4, 6);
        assert_eq!(
            u16::from_be_bytes([out[18], out[19]]) as usize,
            frame.len() - 14
        );
        assert_eq!(out[20], 41, "IPv6-in-IPv6");
        assert_eq!(&out[22..38], &DIRECTOR6);
        assert_eq!(&out[38..54], &REAL6);
        assert_eq!(&out[54..], &frame[14..]);
    });
}

#[test]
fn fragments_to_a_vip_are_dropped_and_others_pass() {
    if !gate("fragments_to_a_vip_are_dropped_and_others_pass") {
        return;
    }
    isolated(|| {
        let mut lb = Lb::new();
        lb.service(0, &VIP4, 80, 0, 0);
        lb.service(1, &VIP6, 80, 0, 0);
        let (v, _, moved) = lb.case(&v4(VIP4, 40000, 80, 10, 0x2000));
        assert_eq!(
            (v, moved),
            (XDP_DROP, vec![("fragment", 1)]),
            "first fragment (MF)"
        );
        let (v, _, moved) = lb.case(&v4(VIP4, 40000, 80, 10, 0x0010));
        assert_eq!((v, moved), (XDP_DROP, vec![("fragment", 1)]), "a later one");
        let other = v4([10, 9, 0, 200], 40000, 80, 10, 0x2000);
        assert_eq!(lb.case(&other), (XDP_PASS, other.clone(), vec![]));
        // IPv6: a fragment header (44) after the fixed header.
        let mut frag = v6(VIP6, 40000, 80, 10);
        frag[14 + 6] = 44;
        let (v, _, moved) = lb.case(&frag);
        assert_eq!((v, moved), (XDP_DROP, vec![("fragment", 1)]));
    });
}

#[test]
fn too_big_for_the_tunnel_gets_icmp_or_is_dropped() {
    if !gate("too_big_for_the_tunnel_gets_icmp_or_is_dropped") {
        return;
    }
    isolated(|| {
        let mut lb = Lb::new();
        lb.service(0, &VIP4, 80, 0, 0);
        let r = lb.real(0, &REAL1, LB_IPIP, 0);
        lb.table(0, &[r]);
        // 1500 bytes of IP: 1520 with the outer header, over v0's MTU of 1500.
        let frame = v4(VIP4, 40000, 80, 1460, DF);
        let (v, out, moved) = lb.case(&frame);
        assert_eq!(v, XDP_TX);
        assert_eq!(moved, [("seen", 1), ("conn_miss", 1), ("icmp_too_big", 1)]);
        assert_eq!(&out[..6], &CLIENT_MAC, "back to the sender");
        assert_eq!(&out[6..12], &DIRECTOR_MAC);
        assert_eq!(out.len(), 14 + 20 + 8 + 28);
        let ip = &out[14..34];
        assert_eq!(
            (ip[9], &ip[12..16], &ip[16..20]),
            (1, &VIP4[..], &CLIENT4[..])
        );
        assert_eq!(internet_checksum(&[ip]), 0);
        let icmp = &out[34..];
        assert_eq!((icmp[0], icmp[1]), (3, 4), "fragmentation needed");
        assert_eq!(
            u16::from_be_bytes([icmp[6], icmp[7]]),
            1480,
            "MTU minus the tunnel"
        );
        assert_eq!(
            &icmp[8..36],
            &frame[14..42],
            "quotes the header and 8 bytes"
        );
        assert_eq!(internet_checksum(&[icmp]), 0);

        // Without DF the sender may not be told: dropped.
        let (v, _, moved) = lb.case(&v4(VIP4, 40000, 80, 1460, 0));
        assert_eq!(v, XDP_DROP);
        assert!(moved.contains(&("drop_too_big", 1)), "{moved:?}");

        // IPv6: packet too big with MTU 1460 (1500 - 40).
        lb.service(1, &VIP6, 80, 0, 0);
        let r6 = lb.real(1, &REAL6, LB_IPIP, 0);
        lb.table(1, &[r6]);
        let frame = v6(VIP6, 40000, 80, 1440);
        let (v, out, moved) = lb.case(&frame);
        assert_eq!(v, XDP_TX);
        assert!(moved.contains(&("icmp_too_big", 1)), "{moved:?}");
        let ip = &out[14..54];
        assert_eq!(
            (ip[6], &ip[8..24], &ip[24..40]),
            (58, &VIP6[..], &CLIENT6[..])
        );
        let icmp = &out[54..];
        assert_eq!((icmp[0], icmp[1]), (2, 0));
        assert_eq!(
            u32::from_be_bytes([icmp[4], icmp[5], icmp[6], icmp[7]]),
            1460
        );
        let len = (icmp.len() as u32).to_be_bytes();
        let pseudo = [&ip[8..40], &len[..], &[0, 0, 0, 58]].concat();
        assert_eq!(internet_checksum(&[&pseudo, icmp]), 0);
    });
}

#[test]
fn a_backup_director_passes_vrrp_held_services_to_the_stack() {
    if !gate("a_backup_director_passes_vrrp_held_services_to_the_stack") {
        return;
    }
    isolated(|| {
        let mut lb = Lb::new();
        lb.service(0, &VIP4, 80, LB_SVC_VRRP, 0);
        let r = lb.real(0, &REAL1, LB_DR, 0);
        lb.table(0, &[r]);
        let frame = v4(VIP4, 40000, 80, 10, DF);
        let (v, out, moved) = lb.case(&frame);
        assert_eq!(
            (v, out, moved),
            (
                XDP_PASS,
                frame.clone(),
                vec![("seen", 1), ("pass_backup", 1)]
            )
        );
        lb.own_vip4(VIP4);
        let (v, _, moved) = lb.case(&frame);
        assert_eq!(v, XDP_TX, "MASTER now: forwarded");
        assert!(moved.contains(&("forward_dr", 1)));
    });
}

#[test]
fn established_flows_keep_their_server_new_ones_follow_the_table() {
    if !gate("established_flows_keep_their_server_new_ones_follow_the_table") {
        return;
    }
    isolated(|| {
        let mut lb = Lb::new();
        lb.service(0, &VIP4, 80, 0, 0);
        let r1 = lb.real(0, &REAL1, LB_DR, 0);
        let r2 = lb.real(0, &REAL2, LB_DR, 0);
        lb.table(0, &[r1]);
        let old = v4(VIP4, 40000, 80, 10, DF);
        assert_eq!(&lb.run(&old).1[..6], &REAL1_MAC);
        // The table now sends everything to REAL2 (as a weight change would).
        lb.table(0, &[r2]);
        let (_, out, moved) = lb.case(&old);
        assert_eq!(&out[..6], &REAL1_MAC, "the established flow stays");
        assert!(moved.contains(&("conn_hit", 1)));
        let (_, out, moved) = lb.case(&v4(VIP4, 40001, 80, 10, DF));
        assert_eq!(&out[..6], &REAL2_MAC, "a new flow follows the table");
        assert!(moved.contains(&("conn_miss", 1)));
        // REAL1 leaves the service: its flow is given a new server.
        let mut reals: Array<_, LbReal> =
            Array::try_from(lb.bpf.map_mut(LB_REALS_MAP).expect("map")).expect("array");
        reals.set(r1, LbReal::default(), 0).expect("real");
        let (_, out, moved) = lb.case(&old);
        assert_eq!(&out[..6], &REAL2_MAC);
        assert!(moved.contains(&("conn_stale", 1)), "{moved:?}");
        // No server with a weight: dropped.
        lb.table(0, &[]);
        let (v, _, moved) = lb.case(&v4(VIP4, 40002, 80, 10, DF));
        assert_eq!(v, XDP_DROP);
        assert!(moved.contains(&("no_real", 1)));
        // A real server whose neighbour is unknown: dropped until resolved.
        let far = lb.real(0, &UNRESOLVED, LB_DR, 0);
        lb.table(0, &[far]);
        let (v, _, moved) = lb.case(&v4(VIP4, 40003, 80, 10, DF));
        assert_eq!(v, XDP_DROP);
        assert!(moved.contains(&("no_neigh", 1)), "{moved:?}");
    });
}

#[test]
fn persistence_keeps_a_client_on_one_server_across_flows() {
    if !gate("persistence_keeps_a_client_on_one_server_across_flows") {
        return;
    }
    isolated(|| {
        let mut lb = Lb::new();
        lb.service(0, &VIP4, 80, LB_SVC_PERSIST, 300);
        let r1 = lb.real(0, &REAL1, LB_DR, 0);
        let r2 = lb.real(0, &REAL2, LB_DR, 0);
        lb.table(0, &[r1, r2]);
        let first = lb.run(&v4(VIP4, 40000, 80, 10, DF)).1;
        lb.table(0, &[r2, r1]);
        for sport in 40001..40020 {
            let (_, out, moved) = lb.case(&v4(VIP4, sport, 80, 10, DF));
            assert_eq!(
                &out[..6],
                &first[..6],
                "same server for every flow of the client"
            );
            assert!(moved.contains(&("persist_hit", 1)));
        }
    });
}

/// Flows spread over the Maglev table by their hash: 3 servers owning 1/6, 2/6 and 3/6 of
/// the slots get about those shares of 6000 flows.
#[test]
fn maglev_spreads_flows_by_the_table() {
    if !gate("maglev_spreads_flows_by_the_table") {
        return;
    }
    isolated(|| {
        let mut lb = Lb::new();
        lb.service(0, &VIP4, 80, 0, 0);
        let a = lb.real(0, &REAL1, LB_DR, 0);
        let b = lb.real(0, &REAL2, LB_DR, 0);
        lb.table(0, &[a, b, b, a, b, b]);
        let mut got: StdHashMap<[u8; 6], usize> = StdHashMap::new();
        for sport in 0..6000u16 {
            let out = lb.run(&v4(VIP4, 10000 + sport, 80, 0, DF)).1;
            *got.entry(out[..6].try_into().unwrap()).or_default() += 1;
        }
        let (na, nb) = (got[&REAL1_MAC], got[&REAL2_MAC]);
        assert!(
            (1800..2200).contains(&na) && (3800..4200).contains(&nb),
            "{na} / {nb}"
        );
    });
}

/// DR only rewrites the MAC: a real server behind a router would get the router's MAC and
/// a packet for the VIP, so it is dropped as unroutable instead.
#[test]
fn dr_to_a_real_server_behind_a_router_is_dropped() {
    if !gate("dr_to_a_real_server_behind_a_router_is_dropped") {
        return;
    }
    isolated(|| {
        let mut lb = Lb::new();
        lb.service(0, &VIP4, 80, 0, 0);
        let far = lb.real(0, &[10, 77, 0, 5], LB_DR, 0);
        lb.table(0, &[far]);
        let (v, _, moved) = lb.case(&v4(VIP4, 40000, 80, 10, DF));
        assert_eq!(v, XDP_DROP);
        assert!(moved.contains(&("no_route", 1)), "{moved:?}");
        // The same server through a tunnel is fine: the outer packet goes to the router.
        lb.service(1, &VIP6, 80, 0, 0);
        let tun = lb.real(1, &[10, 77, 0, 5], LB_IPIP, 0);
        lb.table(1, &[tun]);
        let (v, out, _) = lb.case(&v6(VIP6, 40000, 80, 10));
        assert_eq!(v, XDP_TX);
        assert_eq!(&out[..6], &REAL1_MAC, "to the router's MAC");
    });
}
