//! The `BPF_PROG_TEST_RUN` fixture suite of `ha_xdp` (Katran-style): each case is an input
//! frame and the map setup it runs against → the expected verdict, output frame, counters
//! that moved (all others must not) and ring-buffer events. Needs root (CAP_BPF,
//! CAP_NET_ADMIN); without it the tests say SKIPPED on stderr and return (and fail under CI).

#[path = "support/frames.rs"]
mod frames;
#[path = "../../tests/src/gate.rs"]
mod gate;

use std::time::Duration;

use aya::maps::{Array, HashMap, PerCpuArray, RingBuf};
use aya::Ebpf;
use frames::*;
use ha_common::*;

use ha_ebpf::{XDP_DROP, XDP_PASS, XDP_TX};
/// The interface the cases "arrive" on: loopback, which exists in every namespace (the
/// kernel checks `ingress_ifindex` against real devices).
const IFINDEX: u32 = 1;

fn root_or_skip(test: &str) -> bool {
    gate::need_root(test)
}

fn key(family: u8, vrid: u8) -> VrrpKey {
    VrrpKey {
        ifindex: IFINDEX,
        family,
        vrid,
        pad: [0; 2],
    }
}

fn addr16(a: &[u8]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..a.len()].copy_from_slice(a);
    out
}

/// A loaded `ha_xdp` with the maps of one test.
struct Fixture {
    bpf: Ebpf,
}

impl Fixture {
    fn new() -> Fixture {
        let bpf = ha_ebpf::load_ha_xdp().unwrap_or_else(|e| panic!("kernel rejected ha_xdp: {e}"));
        Fixture { bpf }
    }

    /// The instances, peers and VIPs every case runs against.
    fn standard() -> Fixture {
        let mut f = Fixture::new();
        f.slot();
        let v3 = VrrpInstance {
            version: 3,
            priority: 100,
            state: STATE_BACKUP,
            flags: F_CHECK_COUNT,
            naddrs: 1,
            ..Default::default()
        };
        f.instance(key(FAMILY_V4, 51), v3);
        f.instance(key(FAMILY_V6, 51), v3);
        let mut pass = [0u8; 8];
        pass[..6].copy_from_slice(b"secret");
        f.instance(
            key(FAMILY_V4, 52),
            VrrpInstance {
                version: 2,
                auth_type: AUTH_PASS,
                auth_pass: pass,
                adver_int: 1,
                ..v3
            },
        );
        f.instance(
            key(FAMILY_V4, 53),
            VrrpInstance {
                flags: F_CHECK_COUNT | F_UNICAST | F_CHECK_UNICAST_SRC,
                ..v3
            },
        );
        f.peer(key(FAMILY_V4, 53), &SRC4, 10, 255);
        f.follow(key(FAMILY_V4, 54), &followed(), 0);
        f.vip(FAMILY_V4, &VIP4, OUR_MAC, false);
        f.vip(FAMILY_V6, &VIP6, OUR_MAC, false);
        f
    }

    /// One of the program's array maps, to read or write.
    fn array<V: aya::Pod>(&mut self, name: &str) -> Array<&mut aya::maps::MapData, V> {
        Array::try_from(self.bpf.map_mut(name).expect("map")).expect("array")
    }

    /// [`IFINDEX`] gets slot 1, with the VRRP feature.
    fn slot(&mut self) {
        self.iface(FEATURE_VRRP);
    }

    /// [`IFINDEX`] gets slot 1 with these features.
    fn iface(&mut self, features: u32) {
        let mut m: Array<_, IfaceConfig> = self.array(IFACES_MAP);
        let v = IfaceConfig { slot: 1, features };
        m.set(IFINDEX, v, 0).expect("slot");
    }

    fn index(k: VrrpKey) -> u32 {
        instance_index(1, k.family, k.vrid)
    }

    fn instance(&mut self, k: VrrpKey, v: VrrpInstance) {
        let mut m: Array<_, VrrpInstance> = self.array(VRRP_INSTANCES_MAP);
        m.set(Self::index(k), v, 0).expect("set instance");
    }

    /// An instance that follows `advert` (as the engine sets it while BACKUP).
    fn follow(&mut self, k: VrrpKey, advert: &Advert, down_ns: u64) {
        let msg = advert.message();
        let mut master_msg = [0u8; FOLLOW_MSG_LEN];
        if msg.len() <= FOLLOW_MSG_LEN {
            master_msg[..msg.len()].copy_from_slice(&msg);
        }
        self.instance(
            k,
            VrrpInstance {
                version: advert.version,
                priority: 90,
                state: STATE_BACKUP,
                flags: F_CHECK_COUNT | F_FOLLOW,
                naddrs: 1,
                master: addr16(&advert.src),
                master_prio: advert.priority,
                master_int: u16::from_ne_bytes([msg[4], msg[5]]),
                master_csum: u16::from_ne_bytes([msg[6], msg[7]]),
                master_len: msg.len() as u16,
                down_ns,
                master_dst: addr16(&advert.dst),
                master_msg,
                ..Default::default()
            },
        );
    }

    fn peer(&mut self, k: VrrpKey, addr: &[u8], min_ttl: u8, max_ttl: u8) {
        let mut m: HashMap<_, PeerKey, PeerTtl> =
            HashMap::try_from(self.bpf.map_mut(VRRP_PEERS_MAP).expect("map")).expect("hash");
        let pk = PeerKey {
            vrrp: k,
            addr: addr16(addr),
        };
        let v = PeerTtl {
            min_ttl,
            max_ttl,
            pad: [0; 2],
        };
        m.insert(pk, v, 0).expect("insert peer");
    }

    fn vip(&mut self, family: u8, addr: &[u8], mac: [u8; 6], router: bool) {
        let v = VipValue {
            mac,
            router: u8::from(router),
            pad: 0,
        };
        if family == FAMILY_V4 {
            // The first slot of its search (an empty table: no collision).
            let addr: [u8; 4] = addr.try_into().expect("4 bytes");
            let at = vip4_hash(IFINDEX, addr) & (VIP4_SLOTS - 1);
            let mut m: Array<_, Vip4Slot> = self.array(OWNED_VIPS4_MAP);
            let slot = Vip4Slot {
                ifindex: IFINDEX,
                addr,
                mac,
                state: VIP_USED,
                pad: 0,
            };
            m.set(at, slot, 0).expect("set vip");
        } else {
            let mut m: HashMap<_, Vip6Key, VipValue> =
                HashMap::try_from(self.bpf.map_mut(OWNED_VIPS6_MAP).expect("map")).expect("hash");
            let k = Vip6Key {
                ifindex: IFINDEX,
                addr: addr16(addr),
            };
            m.insert(k, v, 0).expect("insert vip");
        }
    }

    /// Lets the next invalid advert log an event (the rate limit is per CPU and second).
    fn reset_invalid_log(&mut self) {
        let mut m: PerCpuArray<_, u64> =
            PerCpuArray::try_from(self.bpf.map_mut("invalid_log_at").expect("map")).expect("array");
        let n = aya::util::nr_cpus().expect("cpus");
        m.set(
            0,
            aya::maps::PerCpuValues::try_from(vec![0u64; n]).expect("values"),
            0,
        )
        .expect("reset");
    }

    /// All interfaces' counters (entry 0: no slot; 1..: by slot), summed over CPUs.
    fn counters(&self) -> XdpCounters {
        let all: Vec<XdpCounters> = (0..=MAX_IFACES).map(|i| self.counters_of(i)).collect();
        XdpCounters::sum(all.iter())
    }

    /// One slot's counters.
    fn counters_of(&self, slot: u32) -> XdpCounters {
        ha_ebpf::counters(&self.bpf, slot).expect("read counters")
    }

    fn state(&self, k: VrrpKey) -> VrrpState {
        let m: Array<_, VrrpState> =
            Array::try_from(self.bpf.map(VRRP_STATE_MAP).expect("map")).expect("array");
        m.get(&Self::index(k), 0).expect("state")
    }

    /// Runs `frame` once on [`IFINDEX`]: the verdict and the frame as it came out.
    fn run(&self, frame: &[u8]) -> (u32, Vec<u8>) {
        let (r, out) =
            ha_ebpf::test_run_ha_xdp(&self.bpf, frame, IFINDEX, 1).expect("BPF_PROG_TEST_RUN");
        (r.return_value, out)
    }

    fn events(&mut self) -> Vec<VrrpEvent> {
        let mut rb = RingBuf::try_from(self.bpf.map_mut(VRRP_EVENTS_MAP).expect("map"))
            .expect("ring buffer");
        let mut out = Vec::new();
        while let Some(item) = rb.next() {
            out.push(bytemuck::pod_read_unaligned::<VrrpEvent>(&item[..]));
        }
        out
    }
}

/// The advert instance 54 follows.
fn followed() -> Advert {
    Advert {
        vrid: 54,
        ..Advert::v3_4()
    }
}

#[derive(Clone, Copy)]
enum Out {
    /// The frame comes out as it went in.
    Same,
    /// Rewritten to exactly these bytes (a reply).
    Bytes(fn() -> Vec<u8>),
}

struct Case {
    name: &'static str,
    frame: Vec<u8>,
    verdict: u32,
    out: Out,
    /// The counters that move by one; every other one must not move.
    moved: &'static [&'static str],
    /// (kind, reason) of the events it must produce, in order.
    events: &'static [(u8, u8)],
}

fn case(
    name: &'static str,
    frame: Vec<u8>,
    verdict: u32,
    moved: &'static [&'static str],
    events: &'static [(u8, u8)],
) -> Case {
    Case {
        name,
        frame,
        verdict,
        out: Out::Same,
        moved,
        events,
    }
}

const EV_NEW: &[(u8, u8)] = &[(EV_ADVERT, WHY_NOT_FOLLOWING)];
const EV_CHANGED: &[(u8, u8)] = &[(EV_ADVERT, WHY_CHANGED)];
const V4_EVENT: &[&str] = &["seen_vrrp_v4", "advert_events"];
const V6_EVENT: &[&str] = &["seen_vrrp_v6", "advert_events"];
const NONE: &[(u8, u8)] = &[];

fn invalid(reason: u8) -> &'static [(u8, u8)] {
    Box::leak(Box::new([(EV_INVALID, reason)]))
}

fn v4_drop(counter: &'static str) -> &'static [&'static str] {
    Box::leak(Box::new(["seen_vrrp_v4", counter]))
}

fn v6_drop(counter: &'static str) -> &'static [&'static str] {
    Box::leak(Box::new(["seen_vrrp_v6", counter]))
}

fn cut(mut f: Vec<u8>, len: usize) -> Vec<u8> {
    f.truncate(len);
    f
}

fn unicast(a: Advert) -> Advert {
    Advert {
        vrid: 53,
        dst: vec![192, 0, 2, 1],
        ttl: 64,
        ..a
    }
}

fn cases() -> Vec<Case> {
    let v3 = Advert::v3_4;
    let v6 = Advert::v3_6;
    let v2 = || Advert {
        vrid: 52,
        ..Advert::v2_4()
    };
    let mut old_checksum = unicast(v3());
    // keepalived < 2.0.8: the v3 unicast checksum with 224.0.0.18 in the pseudo-header.
    {
        let with_group = Advert {
            dst: DST4.to_vec(),
            ..old_checksum.clone()
        };
        let good = with_group.message();
        let real = old_checksum.message();
        let delta = u16::from_be_bytes([good[6], good[7]])
            .wrapping_sub(u16::from_be_bytes([real[6], real[7]]));
        old_checksum.checksum_delta = delta;
    }
    let mut big6 = v6();
    big6.addrs = (0..32u8)
        .map(|i| addr16(&[0x20, 0x01, 0x0d, 0xb8, i])[..].to_vec())
        .collect();
    let mut two_addrs = v3();
    two_addrs.addrs.push(vec![192, 0, 2, 101]);
    let v4_len = v3().frame().len();
    let v6_len = v6().frame().len();

    vec![
        // Valid adverts: the engine must see them (nothing followed yet).
        case(
            "v3 IPv4 advert, new master",
            v3().frame(),
            XDP_DROP,
            V4_EVENT,
            EV_NEW,
        ),
        case(
            "v3 IPv6 advert, new master",
            v6().frame(),
            XDP_DROP,
            V6_EVENT,
            EV_NEW,
        ),
        case(
            "v2 IPv4 PASS advert",
            v2().frame(),
            XDP_DROP,
            V4_EVENT,
            EV_NEW,
        ),
        case(
            "v3 with Ethernet padding to 60 bytes",
            Advert {
                padding: 60 - v4_len,
                ..v3()
            }
            .frame(),
            XDP_DROP,
            V4_EVENT,
            EV_NEW,
        ),
        case(
            "v3 behind IPv4 options (router alert)",
            Advert {
                ip_options: vec![0x94, 4, 0, 0],
                ..v3()
            }
            .frame(),
            XDP_DROP,
            V4_EVENT,
            EV_NEW,
        ),
        case(
            "unicast from an allowed peer inside its TTL window",
            unicast(v3()).frame(),
            XDP_DROP,
            V4_EVENT,
            EV_NEW,
        ),
        // The followed master.
        case(
            "identical to the followed advert: absorbed",
            followed().frame(),
            XDP_DROP,
            &["seen_vrrp_v4", "absorbed"],
            NONE,
        ),
        case(
            "followed master changes priority",
            Advert {
                priority: 120,
                ..followed()
            }
            .frame(),
            XDP_DROP,
            V4_EVENT,
            EV_CHANGED,
        ),
        case(
            "followed master sends priority 0",
            Advert {
                priority: 0,
                ..followed()
            }
            .frame(),
            XDP_DROP,
            V4_EVENT,
            EV_CHANGED,
        ),
        case(
            "another source on the followed VRID",
            Advert {
                src: vec![192, 0, 2, 3],
                ..followed()
            }
            .frame(),
            XDP_DROP,
            V4_EVENT,
            EV_CHANGED,
        ),
        case(
            "followed advert's bytes with TTL 254",
            Advert {
                ttl: 254,
                ..followed()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_ttl"),
            invalid(1),
        ),
        case(
            "followed advert's bytes to a unicast destination",
            Advert {
                dst: vec![192, 0, 2, 1],
                ..followed()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_destination"),
            invalid(10),
        ),
        case(
            "followed master changes its interval",
            Advert {
                interval: 50,
                ..followed()
            }
            .frame(),
            XDP_DROP,
            V4_EVENT,
            EV_CHANGED,
        ),
        // Not ours: to the stack untouched.
        case(
            "VRID not configured",
            Advert { vrid: 99, ..v3() }.frame(),
            XDP_PASS,
            &["seen_vrrp_v4", "pass_not_ours"],
            NONE,
        ),
        case(
            "IPv6 VRID not configured",
            Advert { vrid: 99, ..v6() }.frame(),
            XDP_PASS,
            &["seen_vrrp_v6", "pass_not_ours"],
            NONE,
        ),
        case(
            "802.1Q-tagged advert",
            Advert {
                vlan: Some(100),
                ..v3()
            }
            .frame(),
            XDP_PASS,
            &["vlan_tagged", "pass_other"],
            NONE,
        ),
        // RFC 5798 §7.1 drops.
        case(
            "TTL 254",
            Advert { ttl: 254, ..v3() }.frame(),
            XDP_DROP,
            v4_drop("drop_ttl"),
            invalid(1),
        ),
        case(
            "hop limit 1",
            Advert { ttl: 1, ..v6() }.frame(),
            XDP_DROP,
            v6_drop("drop_ttl"),
            invalid(1),
        ),
        case(
            "version 2 on a v3 instance",
            Advert { version: 2, ..v3() }.frame(),
            XDP_DROP,
            v4_drop("drop_version"),
            invalid(2),
        ),
        case(
            "version 4",
            Advert { version: 4, ..v3() }.frame(),
            XDP_DROP,
            v4_drop("drop_version"),
            invalid(2),
        ),
        case(
            "type 2",
            Advert { kind: 2, ..v3() }.frame(),
            XDP_DROP,
            v4_drop("drop_type"),
            invalid(3),
        ),
        case(
            "count says 2, one address",
            Advert {
                count: Some(2),
                ..v3()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_length"),
            invalid(4),
        ),
        case(
            "bytes after the address list",
            Advert {
                trailing: 4,
                ..v3()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_length"),
            invalid(4),
        ),
        case(
            "IPv6 count says 0",
            Advert {
                count: Some(0),
                ..v6()
            }
            .frame(),
            XDP_DROP,
            v6_drop("drop_length"),
            invalid(4),
        ),
        case(
            "IP length leaves 4 bytes of VRRP",
            {
                let mut f = v3().frame();
                f[16..18].copy_from_slice(&24u16.to_be_bytes());
                let c = internet_checksum(&[&{
                    let mut h = f[14..34].to_vec();
                    h[10] = 0;
                    h[11] = 0;
                    h
                }]);
                f[24..26].copy_from_slice(&c.to_be_bytes());
                f
            },
            XDP_DROP,
            v4_drop("drop_length"),
            invalid(4),
        ),
        case(
            "v3 IPv4 bad checksum",
            Advert {
                checksum_delta: 1,
                ..v3()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_checksum"),
            invalid(5),
        ),
        case(
            "v3 IPv6 bad checksum",
            Advert {
                checksum_delta: 1,
                ..v6()
            }
            .frame(),
            XDP_DROP,
            v6_drop("drop_checksum"),
            invalid(5),
        ),
        case(
            "v2 bad checksum",
            Advert {
                checksum_delta: 1,
                ..v2()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_checksum"),
            invalid(5),
        ),
        case(
            "v2 wrong password",
            Advert {
                password: *b"guessed!",
                ..v2()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_auth"),
            invalid(7),
        ),
        case(
            "v2 no auth on a PASS instance",
            Advert {
                auth_type: 0,
                ..v2()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_auth_type"),
            invalid(6),
        ),
        case(
            "v2 auth type 3",
            Advert {
                auth_type: 3,
                ..v2()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_auth_type"),
            invalid(6),
        ),
        case(
            "v2 Adver Int 2 s against 1 s",
            Advert {
                interval: 2,
                ..v2()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_adver_int"),
            invalid(8),
        ),
        case(
            "v3 Max Adver Int 0",
            Advert {
                interval: 0,
                ..v3()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_adver_int"),
            invalid(8),
        ),
        case(
            "two addresses, one configured",
            two_addrs.frame(),
            XDP_DROP,
            v4_drop("drop_addr_count"),
            invalid(9),
        ),
        case(
            "multicast instance, unicast destination",
            Advert {
                dst: vec![192, 0, 2, 1],
                ..v3()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_destination"),
            invalid(10),
        ),
        case(
            "unicast instance, multicast destination",
            Advert {
                vrid: 53,
                ttl: 255,
                ..v3()
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_destination"),
            invalid(10),
        ),
        case(
            "unicast from a source not in unicast_peer",
            Advert {
                src: vec![192, 0, 2, 9],
                ..unicast(v3())
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_unicast_peer"),
            invalid(11),
        ),
        case(
            "unicast below the peer's min_ttl",
            Advert {
                ttl: 5,
                ..unicast(v3())
            }
            .frame(),
            XDP_DROP,
            v4_drop("drop_ttl"),
            invalid(1),
        ),
        // Ours, but for the raw socket.
        case(
            "keepalived's old v3 unicast checksum",
            old_checksum.frame(),
            XDP_PASS,
            &["seen_vrrp_v4", "pass_unhandled"],
            NONE,
        ),
        case(
            "IPv4 fragment",
            Advert {
                frag: 0x2000,
                ..v3()
            }
            .frame(),
            XDP_PASS,
            &["seen_vrrp_v4", "pass_unhandled"],
            NONE,
        ),
        case(
            "IPv6 advert longer than 512 bytes",
            {
                big6.count = Some(32);
                big6.frame()
            },
            XDP_PASS,
            &["seen_vrrp_v6", "pass_unhandled"],
            NONE,
        ),
        // Truncated at each header boundary.
        // (A frame cut inside Ethernet cannot be fed: BPF_PROG_TEST_RUN wants 14 bytes.)
        case(
            "Ethernet header only",
            cut(v3().frame(), 14),
            XDP_PASS,
            &["truncated"],
            NONE,
        ),
        case(
            "cut inside the IPv4 header",
            cut(v3().frame(), 14 + 12),
            XDP_PASS,
            &["truncated"],
            NONE,
        ),
        case(
            "cut inside the IPv4 options",
            cut(
                Advert {
                    ip_options: vec![0x94, 4, 0, 0],
                    ..v3()
                }
                .frame(),
                14 + 22,
            ),
            XDP_PASS,
            &["truncated"],
            NONE,
        ),
        case(
            "cut inside the IPv6 header",
            cut(v6().frame(), 14 + 30),
            XDP_PASS,
            &["truncated"],
            NONE,
        ),
        case(
            "cut inside the VRRP header",
            cut(v3().frame(), 14 + 20 + 4),
            XDP_PASS,
            &["truncated"],
            NONE,
        ),
        case(
            "cut inside the address list",
            cut(v3().frame(), v4_len - 2),
            XDP_PASS,
            &["truncated"],
            NONE,
        ),
        case(
            "IPv6 cut inside the address list",
            cut(v6().frame(), v6_len - 8),
            XDP_PASS,
            &["truncated"],
            NONE,
        ),
        // ARP and neighbour discovery.
        Case {
            name: "ARP request for an owned VIP",
            frame: arp_request(VIP4),
            verdict: XDP_TX,
            out: Out::Bytes(|| arp_reply(VIP4, OUR_MAC)),
            moved: &["arp_reply"],
            events: NONE,
        },
        case(
            "ARP request for an unowned address",
            arp_request([192, 0, 2, 77]),
            XDP_PASS,
            &["arp_pass"],
            NONE,
        ),
        case(
            "gratuitous ARP for the VIP",
            arp(1, VIP4, VIP4, [0; 6]),
            XDP_PASS,
            &["arp_pass"],
            NONE,
        ),
        case(
            "ARP probe for the VIP",
            arp(1, [0; 4], VIP4, [0; 6]),
            XDP_PASS,
            &["arp_pass"],
            NONE,
        ),
        case(
            "ARP reply",
            arp(2, CLIENT4, VIP4, OUR_MAC),
            XDP_PASS,
            &["arp_pass"],
            NONE,
        ),
        case(
            "ARP cut short",
            cut(arp_request(VIP4), 30),
            XDP_PASS,
            &["truncated"],
            NONE,
        ),
        Case {
            name: "neighbour solicitation for an owned VIP",
            frame: neighbor_solicit(VIP6, CLIENT6, 255, false),
            verdict: XDP_TX,
            out: Out::Bytes(|| neighbor_advert(VIP6, OUR_MAC, false)),
            moved: &["na_reply"],
            events: NONE,
        },
        case(
            "NS for an unowned address",
            neighbor_solicit(CLIENT6, CLIENT6, 255, false),
            XDP_PASS,
            &["ns_pass"],
            NONE,
        ),
        case(
            "NS for DAD (unspecified source)",
            neighbor_solicit(VIP6, [0; 16], 255, true),
            XDP_PASS,
            &["ns_pass"],
            NONE,
        ),
        case(
            "NS with hop limit 64",
            neighbor_solicit(VIP6, CLIENT6, 64, false),
            XDP_PASS,
            &["ns_pass"],
            NONE,
        ),
        case(
            "NS without a source link-layer option",
            neighbor_solicit(VIP6, CLIENT6, 255, true),
            XDP_PASS,
            &["ns_pass"],
            NONE,
        ),
        // Unrelated traffic.
        case(
            "ICMPv6 echo request",
            ping6(),
            XDP_PASS,
            &["pass_other"],
            NONE,
        ),
        case(
            "TCP SYN to the VIP",
            tcp_syn_v4(),
            XDP_PASS,
            &["pass_other"],
            NONE,
        ),
        case(
            "LLDP",
            {
                let mut f = ethernet([1, 0x80, 0xc2, 0, 0, 0xe], PEER_MAC, None, 0x88cc);
                f.extend([0u8; 46]);
                f
            },
            XDP_PASS,
            &["pass_other"],
            NONE,
        ),
    ]
}

#[test]
fn fixtures() {
    if !root_or_skip("ha_xdp fixtures") {
        return;
    }
    let cases = cases();
    assert!(cases.len() >= 40, "the suite promises at least 40 frames");
    let mut fx = Fixture::standard();
    let all_before = fx.counters();
    let mut failures = Vec::new();
    for c in &cases {
        fx.reset_invalid_log();
        let _ = fx.events();
        let before = fx.counters();
        let (verdict, out) = fx.run(&c.frame);
        let moved = fx.counters().delta_since(&before);
        let events: Vec<(u8, u8)> = fx.events().iter().map(|e| (e.kind, e.reason)).collect();
        let mut problems = Vec::new();
        if verdict != c.verdict {
            problems.push(format!("verdict {verdict}, expected {}", c.verdict));
        }
        match c.out {
            Out::Same if out != c.frame => problems.push("frame modified".into()),
            Out::Bytes(want) if out != want() => {
                problems.push(format!("reply {:02x?}\n   expected {:02x?}", out, want()))
            }
            _ => {}
        }
        for (name, n) in moved.iter() {
            let want = u64::from(c.moved.contains(&name));
            if n != want {
                problems.push(format!("counter {name} moved by {n}, expected {want}"));
            }
        }
        if events != c.events {
            problems.push(format!("events {events:?}, expected {:?}", c.events));
        }
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", c.name, problems.join("\n  ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Every frame arrived on IFINDEX (slot 1): its counters are slot 1's, none elsewhere.
    let total = fx.counters().delta_since(&all_before);
    assert_eq!(fx.counters_of(1), total, "counted per interface slot");
    assert_eq!(fx.counters_of(0), XdpCounters::default());
}

/// The event carries what the engine needs to run its own checks: the message, addresses,
/// TTL and the kernel receive time.
#[test]
fn advert_event_carries_the_message() {
    if !root_or_skip("advert event") {
        return;
    }
    let mut fx = Fixture::standard();
    let a = Advert::v3_6();
    let t0 = monotonic_ns();
    assert_eq!(fx.run(&a.frame()).0, XDP_DROP);
    let ev = fx.events();
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(
        (e.kind, e.family, e.vrid, e.ttl, e.ifindex),
        (EV_ADVERT, FAMILY_V6, 51, 255, IFINDEX)
    );
    assert_eq!(e.message(), &a.message()[..]);
    assert_eq!(e.src, SRC6);
    assert_eq!(e.dst, DST6);
    assert!(
        e.ts_ns >= t0 && e.ts_ns <= monotonic_ns(),
        "kernel monotonic receive time"
    );
}

/// Invalid adverts are logged at most once per second per CPU, but all counted.
#[test]
fn invalid_events_are_rate_limited() {
    if !root_or_skip("rate limit") {
        return;
    }
    let mut fx = Fixture::standard();
    fx.reset_invalid_log();
    let bad = Advert {
        ttl: 1,
        ..Advert::v3_4()
    }
    .frame();
    for _ in 0..20 {
        assert_eq!(fx.run(&bad).0, XDP_DROP);
    }
    let ev = fx.events();
    assert!(
        (1..=2).contains(&ev.len()),
        "{} events for 20 bad adverts",
        ev.len()
    );
    assert_eq!(fx.counters().drop_ttl, 20);
}

/// Absorbed adverts refresh the timestamp; when they stop for `down_ns` the kernel timer
/// sends one master-down event (RFC 5798 §6.4.2 Master_Down_Timer, in the kernel).
#[test]
fn master_down_timer_fires_after_silence() {
    if !root_or_skip("master-down timer") {
        return;
    }
    let mut fx = Fixture::new();
    fx.slot();
    let k = key(FAMILY_V4, 54);
    // 200 ms of silence is master-down; adverts 20 ms apart keep it alive with a wide margin
    // for a busy machine.
    fx.follow(k, &followed(), 200_000_000);
    let frame = followed().frame();
    for _ in 0..3 {
        assert_eq!(fx.run(&frame).0, XDP_DROP);
        std::thread::sleep(Duration::from_millis(20));
    }
    let st = fx.state(k);
    assert_eq!(st.absorbed, 3);
    assert_eq!(st.armed, 1);
    assert!(fx.events().is_empty(), "no event while the master speaks");
    std::thread::sleep(Duration::from_millis(400));
    let ev = fx.events();
    assert_eq!(ev.len(), 1, "one master-down event");
    assert_eq!(
        (ev[0].kind, ev[0].vrid, ev[0].family),
        (EV_MASTER_DOWN, 54, FAMILY_V4)
    );
    assert_eq!(ev[0].ts_ns, st.last_seen_ns);
    assert_eq!(fx.counters().master_down, 1);
    assert_eq!(fx.state(k).armed, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert!(fx.events().is_empty(), "fires once");
}

/// A timer armed while following stays silent once the engine stops following (it became
/// MASTER, or the master changed).
#[test]
fn master_down_timer_is_silent_when_not_following() {
    if !root_or_skip("master-down timer") {
        return;
    }
    let mut fx = Fixture::new();
    fx.slot();
    let k = key(FAMILY_V4, 54);
    fx.follow(k, &followed(), 30_000_000);
    assert_eq!(fx.run(&followed().frame()).0, XDP_DROP);
    fx.instance(
        k,
        VrrpInstance {
            version: 3,
            state: STATE_MASTER,
            ..Default::default()
        },
    );
    std::thread::sleep(Duration::from_millis(100));
    assert!(fx.events().is_empty());
    assert_eq!(fx.counters().master_down, 0);
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a valid timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The dispatcher (DESIGN.md §12): on an interface where the VRRP feature is not enabled
/// (another feature's interface, or one being detached), nothing of it runs. An advert of
/// the followed master, an ARP request and a neighbour solicitation for an owned VIP all
/// pass to the stack untouched, each counted once as pass_other; enabling the feature
/// brings the VRRP paths back.
#[test]
fn a_feature_not_enabled_on_the_interface_sees_nothing() {
    if !root_or_skip("dispatcher features") {
        return;
    }
    let mut fx = Fixture::standard();
    fx.iface(0);
    let before = fx.counters();
    let frames = [
        followed().frame(),
        arp_request(VIP4),
        neighbor_solicit(VIP6, CLIENT6, 255, false),
    ];
    for f in &frames {
        let (v, out) = fx.run(f);
        assert_eq!(v, XDP_PASS);
        assert_eq!(&out, f, "untouched");
    }
    let c = fx.counters();
    assert_eq!(c.pass_other - before.pass_other, frames.len() as u64);
    assert_eq!(c.absorbed, before.absorbed, "no VRRP path ran");
    assert_eq!(c.arp_reply, before.arp_reply);
    assert_eq!(c.seen_vrrp_v4, before.seen_vrrp_v4);
    fx.iface(FEATURE_VRRP);
    assert_eq!(fx.run(&arp_request(VIP4)).0, XDP_TX, "enabled again");
}

/// Fencing: a beat (`ha_fence_beat`) clears the fence and restarts its timer; when no other
/// beat comes within the fence time, the timer fences: ARP and NS for owned VIPs and traffic
/// to them are dropped (counted `fenced`), DAD and probes for them too; other traffic and
/// other addresses are untouched. A new beat answers again; a beat of 0 turns it off.
#[test]
fn a_stopped_heartbeat_fences_the_vips() {
    if !root_or_skip("fence") {
        return;
    }
    let mut fx = Fixture::standard();
    let beat = |fx: &Fixture, stale_ns: u64| {
        let prog = ha_ebpf::xdp_ref(&fx.bpf, ha_ebpf::HA_FENCE_BEAT_PROGRAM).expect("beat");
        let fd = prog.fd().expect("fd");
        ha_ebpf::run_fence_beat(std::os::fd::AsFd::as_fd(fd), stale_ns).expect("beat run");
    };
    let fenced = |fx: &mut Fixture| {
        let m: Array<_, Fence> = fx.array(FENCE_MAP);
        m.get(&0, 0).expect("fence").fenced
    };
    let to_vips = [
        arp_request(VIP4),
        neighbor_solicit(VIP6, CLIENT6, 255, false),
        // DAD for the VIP (unspecified source) and an ARP probe: the stack would defend it.
        neighbor_solicit(VIP6, [0; 16], 255, false),
        arp(1, [0; 4], VIP4, [0; 6]),
        tcp_syn_v4(),
        ping6(),
    ];
    let other = [arp_request([192, 0, 2, 77]), followed().frame()];
    // Beating: nothing fenced.
    beat(&fx, 100_000_000);
    assert_eq!(fx.run(&to_vips[0]).0, XDP_TX);
    assert_eq!(fx.run(&to_vips[1]).0, XDP_TX);
    assert_eq!(fx.run(&to_vips[4]).0, XDP_PASS);
    // No beat for the fence time: the timer fences.
    assert!(wait_for(|| fenced(&mut fx) == 1), "the timer did not fire");
    let before = fx.counters();
    for f in &to_vips {
        assert_eq!(fx.run(f).0, XDP_DROP, "fenced: {f:02x?}");
    }
    assert_eq!(fx.counters().fenced - before.fenced, to_vips.len() as u64);
    assert_eq!(fx.run(&other[0]).0, XDP_PASS, "not a VIP");
    assert_eq!(fx.run(&other[1]).0, XDP_DROP, "adverts are still absorbed");
    assert_eq!(fx.counters().fenced - before.fenced, to_vips.len() as u64);
    // A beat answers again at once; one of 0 turns fencing off (no timer fires later).
    beat(&fx, 100_000_000);
    assert_eq!(fx.run(&to_vips[0]).0, XDP_TX);
    beat(&fx, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(fenced(&mut fx), 0);
    assert_eq!(fx.run(&to_vips[0]).0, XDP_TX);
}

fn wait_for(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The IPv4 VIP table is searched like the daemon fills it: past deleted slots, stopping at a
/// free one, at most `VIP4_PROBES` slots.
#[test]
fn arp_table_probing() {
    if !root_or_skip("ARP table probing") {
        return;
    }
    let mut fx = Fixture::new();
    fx.slot();
    let start = vip4_hash(IFINDEX, VIP4) & (VIP4_SLOTS - 1);
    let set = |fx: &mut Fixture, at: u32, state: u8, addr: [u8; 4]| {
        let mut m: Array<_, Vip4Slot> = fx.array(OWNED_VIPS4_MAP);
        let slot = Vip4Slot {
            ifindex: IFINDEX,
            addr,
            mac: OUR_MAC,
            state,
            pad: 0,
        };
        m.set(at & (VIP4_SLOTS - 1), slot, 0).expect("set");
    };
    // Another address in the first slot, a deleted one in the second, ours in the third.
    set(&mut fx, start, VIP_USED, [192, 0, 2, 200]);
    set(&mut fx, start + 1, VIP_DELETED, VIP4);
    set(&mut fx, start + 2, VIP_USED, VIP4);
    let (v, out) = fx.run(&arp_request(VIP4));
    assert_eq!(v, XDP_TX);
    assert_eq!(out, arp_reply(VIP4, OUR_MAC));
    // A free slot before it ends the search.
    set(&mut fx, start + 1, VIP_FREE, [0; 4]);
    assert_eq!(fx.run(&arp_request(VIP4)).0, XDP_PASS);
}

/// The timer heals: a state entry rewritten by userspace (which frees its timer) is re-armed
/// by the next advert, and a shorter Master_Down_Interval takes effect at once.
#[test]
fn master_down_timer_rearms_and_shortens() {
    if !root_or_skip("master-down timer") {
        return;
    }
    let mut fx = Fixture::new();
    fx.slot();
    let k = key(FAMILY_V4, 54);
    fx.follow(k, &followed(), 10_000_000_000);
    let frame = followed().frame();
    assert_eq!(fx.run(&frame).0, XDP_DROP);
    assert_eq!(fx.state(k).armed, 1);
    // Userspace zeroes the entry: the timer is freed.
    {
        let mut m: Array<_, VrrpState> = fx.array(VRRP_STATE_MAP);
        m.set(Fixture::index(k), VrrpState::default(), 0)
            .expect("zero");
    }
    assert_eq!(fx.run(&frame).0, XDP_DROP);
    let st = fx.state(k);
    assert_eq!(st.armed, 1, "re-armed after the rewrite");
    assert!(st.due_ns > st.last_seen_ns + 9_000_000_000);
    // The master now advertises faster: 100 ms of silence is enough.
    fx.follow(k, &followed(), 100_000_000);
    assert_eq!(fx.run(&frame).0, XDP_DROP);
    let st = fx.state(k);
    assert!(
        st.due_ns <= st.last_seen_ns + 100_000_000,
        "the shorter interval applies"
    );
    std::thread::sleep(Duration::from_millis(400));
    let ev = fx.events();
    assert_eq!(ev.len(), 1, "master-down after 100 ms, not 10 s");
    assert_eq!(ev[0].kind, EV_MASTER_DOWN);
}

/// keepalived's `skip_check_adv_addr`: the followed master's adverts skip the address count
/// and unicast source checks (as the daemon's own checks do); another router's do not.
#[test]
fn skip_check_adv_addr_exempts_only_the_followed_master() {
    if !root_or_skip("skip_check_adv_addr") {
        return;
    }
    let mut fx = Fixture::new();
    fx.slot();
    let k = key(FAMILY_V4, 54);
    fx.follow(k, &followed(), 0);
    let mut inst = {
        let m: Array<_, VrrpInstance> = fx.array(VRRP_INSTANCES_MAP);
        m.get(&Fixture::index(k), 0).expect("instance")
    };
    inst.flags |= F_SKIP_FOLLOWED;
    fx.instance(k, inst);
    let mut two = followed();
    two.addrs.push(vec![192, 0, 2, 101]);
    // From the followed master: a changed advert (an event), not a count error.
    assert_eq!(fx.run(&two.frame()).0, XDP_DROP);
    assert_eq!(fx.counters().drop_addr_count, 0);
    assert_eq!(fx.counters().advert_events, 1);
    // From another router: the count is checked.
    let other = Advert {
        src: vec![192, 0, 2, 3],
        ..two
    };
    assert_eq!(fx.run(&other.frame()).0, XDP_DROP);
    assert_eq!(fx.counters().drop_addr_count, 1);
}

/// The benchmark's reference programs (bpf/xdp_reference.bpf.c) do what the benchmark
/// subtracts them for: xdp_pass only passes and xdp_drop only drops, neither touching the
/// frame; xdp_clock passes and has really read the clock (a time between two readings of
/// CLOCK_MONOTONIC around the run).
#[test]
fn benchmark_reference_programs() {
    if !root_or_skip("benchmark_reference_programs") {
        return;
    }
    let frame = arp_request([192, 0, 2, 100]);
    let pass = ha_ebpf::load_reference(ha_ebpf::XDP_PASS_PROGRAM).expect("xdp_pass loads");
    let prog = ha_ebpf::xdp_ref(&pass, ha_ebpf::XDP_PASS_PROGRAM).unwrap();
    let (r, out) = ha_ebpf::test_run_xdp(prog, &frame, IFINDEX, 1).unwrap();
    assert_eq!(r.return_value, XDP_PASS);
    assert_eq!(out, frame, "the frame is untouched");
    let drop = ha_ebpf::load_reference(ha_ebpf::XDP_DROP_PROGRAM).expect("xdp_drop loads");
    let prog = ha_ebpf::xdp_ref(&drop, ha_ebpf::XDP_DROP_PROGRAM).unwrap();
    let (r, out) = ha_ebpf::test_run_xdp(prog, &frame, IFINDEX, 1).unwrap();
    assert_eq!(r.return_value, XDP_DROP);
    assert_eq!(out, frame, "the frame is untouched");

    let clock = ha_ebpf::load_reference(ha_ebpf::XDP_CLOCK_PROGRAM).expect("xdp_clock loads");
    let prog = ha_ebpf::xdp_ref(&clock, ha_ebpf::XDP_CLOCK_PROGRAM).unwrap();
    let before = monotonic_ns();
    let (r, _) = ha_ebpf::test_run_xdp(prog, &frame, IFINDEX, 1).unwrap();
    let after = monotonic_ns();
    assert_eq!(r.return_value, XDP_PASS);
    let sink: Array<_, u64> = Array::try_from(clock.map("clock_sink").unwrap()).unwrap();
    let t = sink.get(&0, 0).unwrap();
    assert!(before <= t && t <= after, "{before} <= {t} <= {after}");
}
