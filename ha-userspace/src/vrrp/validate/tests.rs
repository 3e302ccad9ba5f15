//! Receive-check tests: real keepalived 2.2.7 adverts accepted by matching instances, then
//! one or more tests per drop [`Reason`].

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::units::{Priority, Vrid};
use crate::vrrp::checksum::vrrp_checksum;
use crate::vrrp::packet::{pad_key, MCAST_V6};
use crate::vrrp::test_vectors::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn base(vrid: u8, version: Version, family: Family, cs: u32, vips: &[&str]) -> RxExpect {
    RxExpect {
        vrid: Vrid(vrid),
        version,
        family,
        adver_int: Centis(cs),
        vips: vips.iter().map(|v| ip(v)).collect(),
        check_adv_addr: true,
        auth: ExpectAuth::None,
        unicast_peers: None,
        check_unicast_src: false,
    }
}

fn v2_noauth() -> RxExpect {
    base(
        51,
        Version::V2,
        Family::V4,
        100,
        &["192.168.200.16", "192.168.200.17"],
    )
}

fn v2_pass() -> RxExpect {
    RxExpect {
        auth: ExpectAuth::Pass(pad_key(b"secret")),
        ..base(52, Version::V2, Family::V4, 100, &["192.168.201.1"])
    }
}

fn v2_ah(last_seq: u32) -> RxExpect {
    let auth = ExpectAuth::Ah {
        key: pad_key(b"secret"),
        last_seq,
    };
    RxExpect {
        auth,
        ..base(53, Version::V2, Family::V4, 100, &["192.168.202.1"])
    }
}

fn v3_v4() -> RxExpect {
    base(
        54,
        Version::V3,
        Family::V4,
        50,
        &["192.168.203.1", "192.168.203.2"],
    )
}

fn v3_unicast(peer: Ipv4Addr, check_src: bool) -> RxExpect {
    RxExpect {
        unicast_peers: Some(vec![UnicastPeer {
            addr: peer.into(),
            min_ttl: 0,
            max_ttl: 255,
        }]),
        check_unicast_src: check_src,
        ..base(55, Version::V3, Family::V4, 100, &["192.168.204.1"])
    }
}

fn v3_v6() -> RxExpect {
    base(
        56,
        Version::V3,
        Family::V6,
        25,
        &["fd00:99::100", "fd00:99::101"],
    )
}

fn v2_v6() -> RxExpect {
    base(57, Version::V2, Family::V6, 200, &["fd00:99::200"])
}

fn rx6(msg_hex: &str, hop_limit: Option<u8>, expect: &RxExpect) -> Result<Accepted, Dropped> {
    receive_ipv6(&hex(msg_hex), KA_SRC6, MCAST_V6, hop_limit, expect)
}

fn dropped(r: Reason) -> Result<Accepted, Dropped> {
    Err(Dropped(r))
}

/// Edits a captured IPv4 packet's VRRP message (after `skip` bytes of IP + AH headers) and
/// fixes the VRRP checksum, so that only the edit is under test.
fn edit4(pkt_hex: &str, edit: impl FnOnce(&mut [u8])) -> Vec<u8> {
    let mut pkt = hex(pkt_hex);
    let (src, dst) = (
        IpAddr::from([pkt[12], pkt[13], pkt[14], pkt[15]]),
        IpAddr::from([pkt[16], pkt[17], pkt[18], pkt[19]]),
    );
    let msg = &mut pkt[20..];
    edit(msg);
    let version = if msg[0] >> 4 == 3 {
        Version::V3
    } else {
        Version::V2
    };
    let c = vrrp_checksum(version, src, dst, msg);
    msg[6..8].copy_from_slice(&c.to_be_bytes());
    pkt
}

#[test]
fn keepalived_adverts_pass_the_checks_of_a_matching_instance() {
    // RFC 5798 §7.1 / RFC 3768 §7.1, every check passing on real keepalived 2.2.7 traffic.
    let v4_cases = [
        (V2_NOAUTH, v2_noauth()),
        (V2_NOAUTH_PRIO0, v2_noauth()),
        (V2_PASS, v2_pass()),
        (V2_AH, v2_ah(0)),
        (V3_V4, v3_v4()),
        (V3_V4_UNICAST, v3_unicast(KA_SRC4, true)),
    ];
    for (pkt, expect) in v4_cases {
        let got = receive_ipv4(&hex(pkt), &expect).unwrap_or_else(|d| panic!("{pkt}: {d:?}"));
        assert_eq!(got.advert.vrid, expect.vrid);
        assert!(!got.old_unicast_checksum);
    }
    assert_eq!(
        rx6(V3_V6, Some(255), &v3_v6()).unwrap().advert.priority,
        Priority(130)
    );
    assert_eq!(
        rx6(V2_V6, Some(255), &v2_v6()).unwrap().advert.priority,
        Priority(140)
    );
}

#[test]
fn ah_acceptance_reports_the_sequence_number_to_remember() {
    let got = receive_ipv4(&hex(V2_AH_PRIO0), &v2_ah(1)).unwrap();
    assert_eq!((got.advert.priority, got.ah_seq), (Priority(0), Some(8)));
}

#[test]
fn v3_interval_differences_are_accepted_for_the_backup_to_adopt() {
    // RFC 5798 §6.4.2: the backup sets Master_Adver_Interval from the advert; keepalived
    // does not drop v3 adverts for a different interval.
    let expect = RxExpect {
        adver_int: Centis(100),
        ..v3_v4()
    };
    assert_eq!(
        receive_ipv4(&hex(V3_V4), &expect).unwrap().advert.adver_int,
        Centis(50)
    );
}

#[test]
fn skip_check_adv_addr_accepts_a_different_address_list() {
    let expect = RxExpect {
        check_adv_addr: false,
        vips: vec![ip("10.1.1.1")],
        ..v2_noauth()
    };
    assert!(receive_ipv4(&hex(V2_NOAUTH), &expect).is_ok());
}

#[test]
fn unicast_instances_accept_any_ttl() {
    // keepalived skips the TTL 255 rule for unicast (the advert may be routed).
    let mut pkt = hex(V3_V4_UNICAST);
    pkt[8] = 61;
    assert!(receive_ipv4(&pkt, &v3_unicast(KA_SRC4, false)).is_ok());
}

#[test]
fn unknown_hop_limit_skips_the_ttl_check() {
    assert!(rx6(V3_V6, None, &v3_v6()).is_ok());
}

#[test]
fn old_keepalived_unicast_checksum_is_accepted_and_flagged() {
    // keepalived < 2.0.8 put 224.0.0.18 in the pseudo-header of unicast v3 adverts.
    let pkt = edit4(V3_V4_UNICAST, |_| ());
    let mut old = pkt.clone();
    let c = vrrp_checksum(Version::V3, ka_src4(), MCAST_V4.into(), &old[20..]);
    old[26..28].copy_from_slice(&c.to_be_bytes());
    let got = receive_ipv4(&old, &v3_unicast(KA_SRC4, true)).unwrap();
    assert!(got.old_unicast_checksum);
    // A checksum right for neither destination is still a checksum error.
    let mut bad = old.clone();
    bad[30] ^= 1;
    assert_eq!(
        receive_ipv4(&bad, &v3_unicast(KA_SRC4, true)),
        dropped(Reason::Checksum)
    );
}

fn v3_v4_vrid55() -> RxExpect {
    base(55, Version::V3, Family::V4, 100, &["192.168.204.1"])
}

// ---- one test per Reason ----

#[test]
fn ttl_below_255_is_dropped_on_multicast() {
    // RFC 5798 §7.1: MUST verify that the IP TTL / hop limit is 255.
    let mut pkt = hex(V2_NOAUTH);
    pkt[8] = 254;
    assert_eq!(receive_ipv4(&pkt, &v2_noauth()), dropped(Reason::Ttl));
    assert_eq!(rx6(V3_V6, Some(1), &v3_v6()), dropped(Reason::Ttl));
}

#[test]
fn ttl_outside_a_unicast_peers_window_is_dropped() {
    let mut expect = v3_unicast(KA_SRC4, true);
    expect.unicast_peers = Some(vec![UnicastPeer {
        addr: ka_src4(),
        min_ttl: 250,
        max_ttl: 255,
    }]);
    let mut pkt = hex(V3_V4_UNICAST);
    pkt[8] = 64;
    assert_eq!(receive_ipv4(&pkt, &expect), dropped(Reason::Ttl));
}

#[test]
fn the_other_version_is_dropped() {
    // RFC 5798 §7.1: MUST verify the version; a v3 advert at a v2 instance of the same VRID.
    let expect = RxExpect {
        version: Version::V2,
        ..v3_v4()
    };
    assert_eq!(receive_ipv4(&hex(V3_V4), &expect), dropped(Reason::Version));
    let pkt = edit4(V3_V4, |m| m[0] = 0x41);
    assert_eq!(receive_ipv4(&pkt, &v3_v4()), dropped(Reason::Version));
}

#[test]
fn a_type_other_than_advertisement_is_dropped() {
    let pkt = edit4(V3_V4, |m| m[0] = 0x32);
    assert_eq!(receive_ipv4(&pkt, &v3_v4()), dropped(Reason::Type));
}

#[test]
fn a_bad_checksum_is_dropped() {
    let mut pkt = hex(V3_V4);
    pkt[30] ^= 0x80;
    assert_eq!(receive_ipv4(&pkt, &v3_v4()), dropped(Reason::Checksum));
}

#[test]
fn length_lies_are_dropped() {
    let pkt = hex(V2_NOAUTH);
    // IP header cut, IP total length disagreeing, address count lying.
    assert_eq!(
        receive_ipv4(&pkt[..19], &v2_noauth()),
        dropped(Reason::Length)
    );
    assert_eq!(
        receive_ipv4(&pkt[..40], &v2_noauth()),
        dropped(Reason::Length)
    );
    let lie = edit4(V2_NOAUTH, |m| m[3] = 3);
    assert_eq!(receive_ipv4(&lie, &v2_noauth()), dropped(Reason::Length));
    // A length error is counted before a TTL error, as keepalived does.
    let mut both = lie.clone();
    both[8] = 1;
    assert_eq!(receive_ipv4(&both, &v2_noauth()), dropped(Reason::Length));
    // AH header cut short.
    let ah = hex(V2_AH);
    let mut short = ah[..30].to_vec();
    short[2..4].copy_from_slice(&30u16.to_be_bytes());
    assert_eq!(receive_ipv4(&short, &v2_ah(0)), dropped(Reason::Length));
}

#[test]
fn another_vrid_is_not_ours_even_when_malformed() {
    // RFC 5798 §7.1: the VRID must be configured here; not an error on a shared LAN.
    let expect = RxExpect {
        vrid: Vrid(99),
        ..v2_noauth()
    };
    assert_eq!(
        receive_ipv4(&hex(V2_NOAUTH), &expect),
        dropped(Reason::VridMismatch)
    );
    let mut bad = hex(V2_NOAUTH);
    bad[30] ^= 1; // bad checksum, but for VRID 51
    assert_eq!(receive_ipv4(&bad, &expect), dropped(Reason::VridMismatch));
    assert!(!Reason::VridMismatch.is_error());
}

#[test]
fn an_unknown_auth_type_is_dropped() {
    let pkt = edit4(V2_NOAUTH, |m| m[4] = 7);
    assert_eq!(receive_ipv4(&pkt, &v2_noauth()), dropped(Reason::AuthType));
}

#[test]
fn an_auth_type_other_than_ours_is_dropped() {
    // RFC 3768 §7.1: MUST perform the authentication specified by Auth Type.
    assert_eq!(
        receive_ipv4(
            &hex(V2_PASS),
            &RxExpect {
                auth: ExpectAuth::None,
                ..v2_pass()
            }
        ),
        dropped(Reason::AuthTypeMismatch)
    );
    let no_auth = RxExpect {
        auth: ExpectAuth::Pass(pad_key(b"secret")),
        ..v2_noauth()
    };
    assert_eq!(
        receive_ipv4(&hex(V2_NOAUTH), &no_auth),
        dropped(Reason::AuthTypeMismatch)
    );
    // AH present but PASS expected, and AH expected but absent (keepalived checks this first).
    let pass = RxExpect {
        auth: ExpectAuth::Pass(pad_key(b"secret")),
        ..v2_ah(0)
    };
    assert_eq!(
        receive_ipv4(&hex(V2_AH), &pass),
        dropped(Reason::AuthTypeMismatch)
    );
    let ah = RxExpect {
        auth: ExpectAuth::Ah {
            key: pad_key(b"secret"),
            last_seq: 0,
        },
        ..v2_pass()
    };
    assert_eq!(
        receive_ipv4(&hex(V2_PASS), &ah),
        dropped(Reason::AuthTypeMismatch)
    );
}

#[test]
fn a_wrong_password_is_an_auth_failure() {
    let wrong = RxExpect {
        auth: ExpectAuth::Pass(pad_key(b"secreT")),
        ..v2_pass()
    };
    assert_eq!(
        receive_ipv4(&hex(V2_PASS), &wrong),
        dropped(Reason::AuthFailure)
    );
    let wrong_key = RxExpect {
        auth: ExpectAuth::Ah {
            key: pad_key(b"other"),
            last_seq: 0,
        },
        ..v2_ah(0)
    };
    assert_eq!(
        receive_ipv4(&hex(V2_AH), &wrong_key),
        dropped(Reason::AuthFailure)
    );
}

#[test]
fn a_replayed_ah_advert_is_an_auth_failure() {
    // keepalived's anti-replay: the sequence number must grow.
    assert_eq!(
        receive_ipv4(&hex(V2_AH), &v2_ah(1)),
        dropped(Reason::AuthFailure)
    );
    assert_eq!(
        receive_ipv4(&hex(V2_AH_PRIO0), &v2_ah(8)),
        dropped(Reason::AuthFailure)
    );
}

#[test]
fn a_v2_interval_other_than_ours_is_dropped() {
    // RFC 3768 §7.1: MUST verify the Adver Interval is the one configured locally.
    let expect = RxExpect {
        adver_int: Centis(200),
        ..v2_noauth()
    };
    assert_eq!(
        receive_ipv4(&hex(V2_NOAUTH), &expect),
        dropped(Reason::AdverIntMismatch)
    );
}

#[test]
fn a_zero_interval_is_dropped() {
    let pkt = edit4(V3_V4, |m| m[4..6].copy_from_slice(&[0, 0]));
    assert_eq!(receive_ipv4(&pkt, &v3_v4()), dropped(Reason::AdverIntZero));
}

#[test]
fn an_address_list_other_than_ours_is_dropped() {
    // RFC 5798 §7.1 MAY verify the addresses (keepalived does, unless skip_check_adv_addr).
    let fewer = RxExpect {
        vips: vec![ip("192.168.200.16")],
        ..v2_noauth()
    };
    assert_eq!(
        receive_ipv4(&hex(V2_NOAUTH), &fewer),
        dropped(Reason::AddrListMismatch)
    );
    let other = RxExpect {
        vips: vec![ip("192.168.200.16"), ip("192.168.200.99")],
        ..v2_noauth()
    };
    assert_eq!(
        receive_ipv4(&hex(V2_NOAUTH), &other),
        dropped(Reason::AddrListMismatch)
    );
    // Order does not matter.
    let reordered = RxExpect {
        vips: vec![ip("192.168.200.17"), ip("192.168.200.16")],
        ..v2_noauth()
    };
    assert!(receive_ipv4(&hex(V2_NOAUTH), &reordered).is_ok());
}

#[test]
fn multicast_to_a_unicast_instance_and_the_reverse_are_dropped() {
    let unicast = RxExpect {
        unicast_peers: Some(vec![UnicastPeer {
            addr: ka_src4(),
            min_ttl: 0,
            max_ttl: 255,
        }]),
        ..v3_v4()
    };
    assert_eq!(
        receive_ipv4(&hex(V3_V4), &unicast),
        dropped(Reason::WrongDestination)
    );
    assert_eq!(
        receive_ipv4(&hex(V3_V4_UNICAST), &v3_v4_vrid55()),
        dropped(Reason::WrongDestination)
    );
}

#[test]
fn a_unicast_source_outside_the_peers_is_dropped_when_checked() {
    let pkt = hex(V3_V4_UNICAST);
    let stranger = Ipv4Addr::new(10, 99, 0, 7);
    assert_eq!(
        receive_ipv4(&pkt, &v3_unicast(stranger, true)),
        dropped(Reason::UnicastPeerNotAllowed)
    );
    // keepalived checks the source only with check_unicast_src.
    assert!(receive_ipv4(&pkt, &v3_unicast(stranger, false)).is_ok());
}

#[test]
fn the_other_family_is_dropped() {
    let expect = RxExpect {
        family: Family::V4,
        ..v3_v6()
    };
    assert_eq!(rx6(V3_V6, Some(255), &expect), dropped(Reason::Family));
}

#[test]
fn non_vrrp_packets_are_not_vrrp() {
    let mut tcp = hex(V2_NOAUTH);
    tcp[9] = 6;
    assert_eq!(receive_ipv4(&tcp, &v2_noauth()), dropped(Reason::NotVrrp));
    // AH protecting another protocol: keepalived ignores it.
    let mut ah = hex(V2_AH);
    ah[20] = 6;
    assert_eq!(receive_ipv4(&ah, &v2_ah(0)), dropped(Reason::NotVrrp));
    assert!(!Reason::NotVrrp.is_error());
}

#[test]
fn validate_charges_a_decode_error_to_its_counter() {
    let meta = RxMeta {
        src: ka_src6(),
        dst: MCAST_V6.into(),
        hop_limit: Some(255),
        ah: None,
    };
    let err = DecodeError::BadChecksum { got: 1, want: 2 };
    assert_eq!(
        validate(&meta, Err(&err), &v3_v6()),
        Err(Dropped(Reason::Checksum))
    );
    // A TTL error is counted before a checksum error, as keepalived does.
    let meta = RxMeta {
        hop_limit: Some(64),
        ..meta
    };
    assert_eq!(
        validate(&meta, Err(&err), &v3_v6()),
        Err(Dropped(Reason::Ttl))
    );
}

// ---- counters ----

#[test]
fn counter_names_are_stable() {
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.name()).collect();
    assert_eq!(
        names,
        [
            "ttl",
            "version",
            "type",
            "checksum",
            "length",
            "vrid_mismatch",
            "auth_type",
            "auth_type_mismatch",
            "auth_failure",
            "adver_int_mismatch",
            "adver_int_zero",
            "addr_list_mismatch",
            "wrong_destination",
            "unicast_peer_not_allowed",
            "family",
            "not_vrrp",
        ]
    );
}

#[test]
fn each_reason_increments_only_its_own_counter() {
    for (i, r) in Reason::ALL.iter().enumerate() {
        let mut c = Counters::default();
        for _ in 0..=i {
            c.inc(*r);
        }
        for other in Reason::ALL {
            let want = if other == r { i as u64 + 1 } else { 0 };
            assert_eq!(c.get(*other), want, "{} after {}", other.name(), r.name());
        }
        assert_eq!(c.iter().map(|(_, n)| n).sum::<u64>(), i as u64 + 1);
    }
}

#[test]
fn counters_serialize_under_the_stable_names() {
    let mut c = Counters::default();
    c.inc(Reason::Type);
    let json = serde_json::to_value(&c).unwrap();
    assert_eq!(json["type"], 1);
    assert_eq!(json.as_object().unwrap().len(), Reason::ALL.len());
}

#[test]
fn receive_path_drops_feed_the_counters() {
    let mut c = Counters::default();
    let mut ttl = hex(V2_NOAUTH);
    ttl[8] = 1;
    for pkt in [hex(V2_NOAUTH), ttl.clone(), ttl, hex(V3_V4)] {
        if let Err(Dropped(r)) = receive_ipv4(&pkt, &v2_noauth()) {
            c.inc(r);
        }
    }
    assert_eq!((c.ttl, c.vrid_mismatch, c.checksum), (2, 1, 0));
}
