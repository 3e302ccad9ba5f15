//! Malformed, truncated and spoofed adverts on the wire: each is counted under its RFC 5798
//! §7.1 reason and ignored. Every one claims priority 254, so if any were accepted the
//! priority-200 MASTER would yield; it must stay MASTER and keep running.

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use ha::units::{Centis, Priority, Vrid};
use ha::vrrp::ipv4::{encode_ipv4_packet, Ipv4Tx, IPV4_HEADER_LEN};
use ha::vrrp::packet::{Advert, Auth, Version, MCAST_V4};
use ha_tests::daemon::{config, Daemon, InstanceSpec, Kind};
use ha_tests::lab::{Lab, VIP4, VIP4_B};
use ha_tests::probe::enter_netns;
use ha_tests::{can_run, wait_until};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

fn advert(version: Version, vrid: u8, vip: Ipv4Addr, auth: Auth) -> Advert {
    Advert {
        version,
        vrid: Vrid(vrid),
        priority: Priority(254),
        adver_int: Centis(if version == Version::V2 { 100 } else { 10 }),
        addrs: vec![IpAddr::V4(vip)],
        auth,
    }
}

fn packet(a: &Advert, src: Ipv4Addr, ttl: u8) -> Vec<u8> {
    let mut ip = Ipv4Tx::new(src, MCAST_V4, 7);
    ip.ttl = ttl;
    encode_ipv4_packet(a, &ip).unwrap()
}

/// Sends raw IPv4 packets (header included) from namespace `ns`.
fn send_all(ns: &str, packets: Vec<Vec<u8>>) {
    let ns = ns.to_owned();
    std::thread::spawn(move || {
        enter_netns(&ns).unwrap();
        let s = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).unwrap();
        s.set_header_included_v4(true).unwrap();
        s.bind_device(Some(b"eth0")).unwrap();
        let to = SockAddr::from(SocketAddrV4::new(MCAST_V4, 0));
        for p in packets {
            s.send_to(&p, &to).unwrap();
        }
    })
    .join()
    .unwrap();
}

/// The daemon's receive-counter name for an XDP drop counter (this test's cases).
fn xdp_reason(counter: &str) -> Option<&'static str> {
    Some(match counter {
        "drop_ttl" => "ttl",
        "drop_version" => "version",
        "drop_type" => "type",
        "drop_length" => "length",
        "drop_checksum" => "checksum",
        "drop_auth_type" => "auth_type_mismatch",
        "drop_auth" => "auth_failure",
        "drop_adver_int" => "adver_int_mismatch",
        "drop_addr_count" => "addr_list_mismatch",
        "drop_destination" => "wrong_destination",
        "drop_unicast_peer" => "unicast_peer_not_allowed",
        _ => return None,
    })
}

#[test]
fn bad_adverts_are_counted_and_ignored() {
    if !can_run("bad_adverts") {
        return;
    }
    let lab = Lab::new("bad", 2, false).unwrap();
    let one = InstanceSpec::new("VI_1", 51, 200);
    let mut two = InstanceSpec::new("VI_2", 52, 200);
    two.version = 2;
    two.advert_int = "1".into();
    two.auth_pass = Some("right".into());
    two.vips = vec![format!("{VIP4_B}/24")];
    let d = Daemon::start(&lab, &lab.nodes[0], Kind::Ha, &config("", &[one, two]));
    assert!(wait_until(Duration::from_secs(10), || {
        d.status()
            .is_some_and(|s| s.instances.iter().all(|i| i.state == "MASTER"))
    }));
    let src = lab.nodes[1].ip4;
    let v3 = advert(Version::V3, 51, VIP4, Auth::None);
    let good = packet(&v3, src, 255);
    let mut bad = Vec::new();
    // RFC 5798 §7.1: TTL must be 255.
    bad.push(("ttl", packet(&v3, src, 64)));
    // Checksum.
    let mut p = good.clone();
    p[IPV4_HEADER_LEN + 6] ^= 0xff;
    bad.push(("checksum", p));
    // Count IPvX Addr says 3, one address present: a length lie (IP length fixed up).
    let mut p = good.clone();
    p[IPV4_HEADER_LEN + 3] = 3;
    bad.push(("length", p));
    // Truncated in the VRRP header.
    let mut p = good[..IPV4_HEADER_LEN + 4].to_vec();
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    bad.push(("length", p));
    // Version 2 to a version 3 instance.
    bad.push((
        "version",
        packet(&advert(Version::V2, 51, VIP4, Auth::None), src, 255),
    ));
    // The address list differs from ours.
    bad.push((
        "addr_list_mismatch",
        packet(
            &advert(Version::V3, 51, Ipv4Addr::new(192, 0, 2, 99), Auth::None),
            src,
            255,
        ),
    ));
    // Wrong PASS password on the v2 instance.
    bad.push((
        "auth_failure",
        packet(
            &advert(Version::V2, 52, VIP4_B, Auth::pass(b"wrong")),
            src,
            255,
        ),
    ));
    // No authentication where PASS is configured.
    bad.push((
        "auth_type_mismatch",
        packet(&advert(Version::V2, 52, VIP4_B, Auth::None), src, 255),
    ));
    let unknown = packet(&advert(Version::V3, 77, VIP4, Auth::None), src, 255);
    let mut wire: Vec<Vec<u8>> = bad.iter().map(|(_, p)| p.clone()).collect();
    wire.push(unknown);
    send_all(&lab.nodes[1].ns, wire);

    let mut want: std::collections::BTreeMap<&str, u64> = Default::default();
    for (r, _) in &bad {
        *want.entry(r).or_default() += 1;
    }
    let ok = wait_until(Duration::from_secs(10), || {
        let Some(s) = d.status() else { return false };
        let mut got: std::collections::BTreeMap<String, u64> = Default::default();
        for i in &s.instances {
            for (k, v) in &i.counters.rx_dropped {
                *got.entry(k.clone()).or_default() += v;
            }
        }
        // With the XDP path, what the kernel can check it drops and counts itself.
        for (k, v) in s.xdp.iter().flat_map(|x| x.counters.iter()) {
            if let Some(name) = xdp_reason(k) {
                *got.entry(name.into()).or_default() += v;
            }
        }
        want.iter().all(|(k, v)| got.get(*k) == Some(v)) && s.unknown_vrid >= 1
    });
    let s = d.status().expect("ha still answers");
    assert!(ok, "counters: {:#?}", s);
    for i in &s.instances {
        assert_eq!(i.state, "MASTER", "{} yielded to a bad advert", i.name);
        assert_eq!(i.counters.adverts_received, 0, "{}", i.name);
    }
    assert!(lab.nodes[0].has_addr(IpAddr::V4(VIP4)));
}
