//! Codec tests: keepalived 2.2.7 captures checked both ways (decode(bytes) == struct and
//! encode(struct) == bytes), then one test per [`DecodeError`] / [`EncodeError`] variant.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::units::{Priority, Vrid};
use crate::vrrp::checksum::vrrp_checksum;
use crate::vrrp::ipv4::{encode_ipv4_packet, parse_ipv4_packet, Ipv4Tx};
use crate::vrrp::test_vectors::*;

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn mcast4() -> IpAddr {
    IpAddr::V4(MCAST_V4)
}

fn mcast6() -> IpAddr {
    IpAddr::V6(MCAST_V6)
}

/// Parses a captured IPv4 packet and decodes its VRRP message.
fn decode_ipv4(pkt: &[u8]) -> Advert {
    let (meta, payload) = parse_ipv4_packet(pkt).unwrap();
    decode(payload, meta.src_ip(), meta.dst_ip()).unwrap()
}

/// Rewrites the checksum of a hand-edited VRRP message so that only the edit is tested.
fn with_checksum(mut msg: Vec<u8>, version: Version, src: IpAddr, dst: IpAddr) -> Vec<u8> {
    let c = vrrp_checksum(version, src, dst, &msg);
    msg[6..8].copy_from_slice(&c.to_be_bytes());
    msg
}

fn v2_noauth() -> Advert {
    Advert {
        version: Version::V2,
        vrid: Vrid(51),
        priority: Priority(100),
        adver_int: Centis(100),
        addrs: vec![v4("192.168.200.16"), v4("192.168.200.17")],
        auth: Auth::None,
    }
}

#[test]
fn v2_ipv4_without_auth_matches_keepalived_both_ways() {
    // RFC 3768 §5.1: the checksum covers the VRRP message only, auth data included.
    let pkt = hex(V2_NOAUTH);
    let (meta, payload) = parse_ipv4_packet(&pkt).unwrap();
    assert_eq!(
        (meta.src, meta.dst, meta.ttl, meta.protocol),
        (KA_SRC4, MCAST_V4, 255, 112)
    );
    assert_eq!(
        (meta.tos, meta.id, meta.header_len, meta.total_len),
        (0xc0, 1, 20, 44)
    );
    assert_eq!(decode(payload, ka_src4(), mcast4()).unwrap(), v2_noauth());
    let tx = Ipv4Tx::new(KA_SRC4, MCAST_V4, 1);
    assert_eq!(encode_ipv4_packet(&v2_noauth(), &tx).unwrap(), pkt);
}

#[test]
fn v2_priority_zero_on_shutdown_matches_keepalived_both_ways() {
    // RFC 3768 §6.4.3: a stopping master sends priority 0.
    let pkt = hex(V2_NOAUTH_PRIO0);
    let advert = Advert {
        priority: Priority(0),
        ..v2_noauth()
    };
    assert_eq!(decode_ipv4(&pkt), advert);
    assert_eq!(
        encode_ipv4_packet(&advert, &Ipv4Tx::new(KA_SRC4, MCAST_V4, 8)).unwrap(),
        pkt
    );
}

#[test]
fn v2_ipv4_pass_auth_matches_keepalived_both_ways() {
    // keepalived's auth_type PASS: the 8 bytes after the addresses are "secret\0\0".
    let pkt = hex(V2_PASS);
    let advert = Advert {
        version: Version::V2,
        vrid: Vrid(52),
        priority: Priority(150),
        adver_int: Centis(100),
        addrs: vec![v4("192.168.201.1")],
        auth: Auth::pass(b"secret"),
    };
    assert_eq!(advert.auth, Auth::Pass(*b"secret\0\0"));
    assert_eq!(decode_ipv4(&pkt), advert);
    assert_eq!(
        encode_ipv4_packet(&advert, &Ipv4Tx::new(KA_SRC4, MCAST_V4, 1)).unwrap(),
        pkt
    );
}

#[test]
fn v3_ipv4_multicast_matches_keepalived_both_ways() {
    // RFC 5798 §5.2.7: Max Adver Int in centiseconds (advert_int 0.5 → 50);
    // §5.2.8: checksum over the IPv4 pseudo-header with dst 224.0.0.18.
    let pkt = hex(V3_V4);
    let advert = Advert {
        version: Version::V3,
        vrid: Vrid(54),
        priority: Priority(120),
        adver_int: Centis(50),
        addrs: vec![v4("192.168.203.1"), v4("192.168.203.2")],
        auth: Auth::None,
    };
    assert_eq!(decode_ipv4(&pkt), advert);
    assert_eq!(
        encode_ipv4_packet(&advert, &Ipv4Tx::new(KA_SRC4, MCAST_V4, 1)).unwrap(),
        pkt
    );
}

#[test]
fn v3_ipv4_unicast_checksum_uses_the_unicast_destination() {
    // RFC 5798 §5.2.8 with keepalived 2.2.7's default: the pseudo-header holds the peer.
    let pkt = hex(V3_V4_UNICAST);
    let advert = Advert {
        version: Version::V3,
        vrid: Vrid(55),
        priority: Priority(110),
        adver_int: Centis(100),
        addrs: vec![v4("192.168.204.1")],
        auth: Auth::None,
    };
    assert_eq!(decode_ipv4(&pkt), advert);
    assert_eq!(
        encode_ipv4_packet(&advert, &Ipv4Tx::new(KA_SRC4, PEER4, 1)).unwrap(),
        pkt
    );
    // The same message does not verify against the multicast group...
    let payload = &pkt[20..];
    assert!(matches!(
        decode(payload, ka_src4(), mcast4()),
        Err(DecodeError::BadChecksum { .. })
    ));
}

#[test]
fn old_keepalived_unicast_checksum_is_decodable_with_the_group_as_pseudo_destination() {
    // keepalived < 2.0.8 summed 224.0.0.18 into unicast v3 checksums; 2.2.7 falls back to it
    // ("unicast_chksum_compat"). The engine does the same by retrying with MCAST_V4.
    let advert = Advert {
        version: Version::V3,
        vrid: Vrid(9),
        priority: Priority(100),
        adver_int: Centis(100),
        addrs: vec![v4("192.0.2.1")],
        auth: Auth::None,
    };
    let old = encode(&advert, ka_src4(), mcast4()).unwrap();
    let peer = IpAddr::V4(PEER4);
    assert!(matches!(
        decode(&old, ka_src4(), peer),
        Err(DecodeError::BadChecksum { .. })
    ));
    assert_eq!(decode(&old, ka_src4(), mcast4()).unwrap(), advert);
}

#[test]
fn v3_ipv6_matches_keepalived_both_ways() {
    // RFC 5798 §5.2.8 + RFC 8200 §8.1: IPv6 pseudo-header with next header 112.
    let msg = hex(V3_V6);
    let advert = Advert {
        version: Version::V3,
        vrid: Vrid(56),
        priority: Priority(130),
        adver_int: Centis(25),
        addrs: vec![
            "fd00:99::100".parse().unwrap(),
            "fd00:99::101".parse().unwrap(),
        ],
        auth: Auth::None,
    };
    assert_eq!(decode(&msg, ka_src6(), mcast6()).unwrap(), advert);
    assert_eq!(encode(&advert, ka_src6(), mcast6()).unwrap(), msg);
}

#[test]
fn v2_ipv6_has_no_auth_data_and_a_pseudo_header_checksum() {
    // keepalived's VRRPv2 over IPv6: no 8 auth bytes; the kernel's IPV6_CHECKSUM sums the
    // RFC 8200 pseudo-header, as for v3.
    let msg = hex(V2_V6);
    let advert = Advert {
        version: Version::V2,
        vrid: Vrid(57),
        priority: Priority(140),
        adver_int: Centis(200),
        addrs: vec!["fd00:99::200".parse().unwrap()],
        auth: Auth::None,
    };
    assert_eq!(decode(&msg, ka_src6(), mcast6()).unwrap(), advert);
    assert_eq!(encode(&advert, ka_src6(), mcast6()).unwrap(), msg);
}

#[test]
fn v3_reserved_bits_are_ignored_on_receive() {
    // RFC 5798 §5.2.7: the 4 reserved bits MUST be ignored on reception.
    let mut msg = hex(V3_V4)[20..].to_vec();
    msg[4] |= 0xf0;
    let msg = with_checksum(msg, Version::V3, ka_src4(), mcast4());
    assert_eq!(
        decode(&msg, ka_src4(), mcast4()).unwrap().adver_int,
        Centis(50)
    );
}

#[test]
fn v2_auth_data_is_ignored_when_auth_type_is_none() {
    // RFC 3768 §5.3.10: with auth type 0 the data is ignored on receive.
    let mut msg = hex(V2_NOAUTH)[20..].to_vec();
    let n = msg.len();
    msg[n - 8..].copy_from_slice(b"garbage!");
    let msg = with_checksum(msg, Version::V2, ka_src4(), mcast4());
    assert_eq!(decode(&msg, ka_src4(), mcast4()).unwrap(), v2_noauth());
}

#[test]
fn the_largest_adverts_round_trip() {
    // 255 addresses (the count field's limit) and the largest intervals of each version.
    let v6: Vec<IpAddr> = (0..255u16)
        .map(|i| IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i)))
        .collect();
    let v3 = Advert {
        version: Version::V3,
        vrid: Vrid(255),
        priority: Priority(255),
        adver_int: V3_MAX_ADVER_INT,
        addrs: v6,
        auth: Auth::None,
    };
    let bytes = encode(&v3, ka_src6(), mcast6()).unwrap();
    assert_eq!(bytes.len(), 8 + 255 * 16);
    assert_eq!(decode(&bytes, ka_src6(), mcast6()).unwrap(), v3);
    let v4s: Vec<IpAddr> = (0..255u8)
        .map(|i| IpAddr::V4(Ipv4Addr::new(10, 0, 1, i)))
        .collect();
    let v2 = Advert {
        version: Version::V2,
        adver_int: V2_MAX_ADVER_INT,
        addrs: v4s,
        ..v3
    };
    let bytes = encode(&v2, ka_src4(), mcast4()).unwrap();
    assert_eq!(bytes.len(), 8 + 255 * 4 + 8);
    assert_eq!(decode(&bytes, ka_src4(), mcast4()).unwrap(), v2);
}

#[test]
fn peek_vrid_reads_version_and_vrid_before_decoding() {
    assert_eq!(peek_vrid(&hex(V3_V6)), Some((3, Vrid(56))));
    assert_eq!(peek_vrid(&[0x21]), None);
}

// ---- DecodeError, one test per variant ----

#[test]
fn truncated_inside_the_fixed_header_at_every_length() {
    let msg = hex(V2_PASS)[20..].to_vec();
    for have in 0..HEADER_LEN {
        assert_eq!(
            decode(&msg[..have], ka_src4(), mcast4()),
            Err(DecodeError::Truncated {
                need: HEADER_LEN,
                have
            }),
            "{have} bytes"
        );
    }
}

#[test]
fn truncated_after_the_fixed_header_is_an_address_count_mismatch() {
    // Cut inside the addresses or the auth data: the count promises more than arrived.
    let msg = hex(V2_NOAUTH)[20..].to_vec();
    for have in HEADER_LEN..msg.len() {
        assert_eq!(
            decode(&msg[..have], ka_src4(), mcast4()),
            Err(DecodeError::AddrCountMismatch {
                count: 2,
                want: msg.len(),
                have
            }),
            "{have} bytes"
        );
    }
}

#[test]
fn address_count_lies_are_rejected_both_ways() {
    let msg = hex(V3_V4)[20..].to_vec(); // 2 addresses, 16 bytes
    for (count, want) in [(3u8, 20), (1, 12), (0, 8), (255, 8 + 255 * 4)] {
        let mut m = msg.clone();
        m[3] = count;
        assert_eq!(
            decode(&m, ka_src4(), mcast4()),
            Err(DecodeError::AddrCountMismatch {
                count,
                want,
                have: 16
            })
        );
    }
    let mut long = msg.clone();
    long.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(
        decode(&long, ka_src4(), mcast4()),
        Err(DecodeError::AddrCountMismatch {
            count: 2,
            want: 16,
            have: 20
        })
    );
}

#[test]
fn wrong_version_is_rejected() {
    for v in [0u8, 1, 4, 15] {
        let mut msg = hex(V3_V6);
        msg[0] = v << 4 | 1;
        assert_eq!(
            decode(&msg, ka_src6(), mcast6()),
            Err(DecodeError::BadVersion(v))
        );
    }
}

#[test]
fn wrong_type_is_rejected() {
    // RFC 5798 §5.2.2: only type 1 exists.
    let mut msg = hex(V3_V6);
    msg[0] = 0x32;
    assert_eq!(
        decode(&msg, ka_src6(), mcast6()),
        Err(DecodeError::BadType(2))
    );
}

#[test]
fn bad_checksum_reports_received_and_expected_values() {
    let mut msg = hex(V2_PASS)[20..].to_vec();
    msg[2] = 151; // priority changed in flight
    let want = vrrp_checksum(Version::V2, ka_src4(), mcast4(), &msg);
    assert_eq!(
        decode(&msg, ka_src4(), mcast4()),
        Err(DecodeError::BadChecksum { got: 0x81d2, want })
    );
    // A v3 IPv6 message checked against the wrong source fails its pseudo-header sum.
    let other: IpAddr = "fe80::1".parse().unwrap();
    assert!(matches!(
        decode(&hex(V3_V6), other, mcast6()),
        Err(DecodeError::BadChecksum { .. })
    ));
}

#[test]
fn endpoints_of_two_families_are_rejected() {
    let msg = hex(V3_V6);
    assert_eq!(
        decode(&msg, ka_src4(), mcast6()),
        Err(DecodeError::FamilyMismatch {
            src: ka_src4(),
            dst: mcast6()
        })
    );
}

#[test]
fn unknown_v2_auth_type_is_rejected() {
    let mut msg = hex(V2_NOAUTH)[20..].to_vec();
    msg[4] = 3;
    let msg = with_checksum(msg, Version::V2, ka_src4(), mcast4());
    assert_eq!(
        decode(&msg, ka_src4(), mcast4()),
        Err(DecodeError::BadAuthType(3))
    );
}

#[test]
fn v2_auth_over_ipv6_is_rejected() {
    let mut msg = hex(V2_V6);
    msg[4] = 1;
    let msg = with_checksum(msg, Version::V2, ka_src6(), mcast6());
    assert_eq!(
        decode(&msg, ka_src6(), mcast6()),
        Err(DecodeError::AuthOverIpv6(1))
    );
}

#[test]
fn zero_advertisement_interval_is_rejected_in_both_versions() {
    let mut v2 = hex(V2_NOAUTH)[20..].to_vec();
    v2[5] = 0;
    let v2 = with_checksum(v2, Version::V2, ka_src4(), mcast4());
    assert_eq!(
        decode(&v2, ka_src4(), mcast4()),
        Err(DecodeError::ZeroAdverInt)
    );
    // Only reserved bits set: the 12-bit interval is still zero.
    let mut v3 = hex(V3_V6);
    v3[4..6].copy_from_slice(&[0xf0, 0x00]);
    let v3 = with_checksum(v3, Version::V3, ka_src6(), mcast6());
    assert_eq!(
        decode(&v3, ka_src6(), mcast6()),
        Err(DecodeError::ZeroAdverInt)
    );
}

#[test]
fn ipv4_header_truncated_at_every_length() {
    let pkt = hex(V2_NOAUTH);
    for have in 0..20 {
        assert_eq!(
            parse_ipv4_packet(&pkt[..have]),
            Err(DecodeError::Truncated { need: 20, have })
        );
    }
    // A header whose IHL promises options that did not arrive.
    let mut opt = pkt[..20].to_vec();
    opt[0] = 0x46;
    opt[2..4].copy_from_slice(&20u16.to_be_bytes());
    assert_eq!(
        parse_ipv4_packet(&opt),
        Err(DecodeError::Truncated { need: 24, have: 20 })
    );
}

#[test]
fn ipv4_total_length_must_match_what_was_received() {
    let pkt = hex(V2_NOAUTH);
    assert_eq!(
        parse_ipv4_packet(&pkt[..40]),
        Err(DecodeError::IpLengthMismatch {
            total_len: 44,
            have: 40
        })
    );
    let mut long = pkt.clone();
    long.push(0);
    assert_eq!(
        parse_ipv4_packet(&long),
        Err(DecodeError::IpLengthMismatch {
            total_len: 44,
            have: 45
        })
    );
}

#[test]
fn ipv4_options_are_skipped() {
    // IHL 6: one 4-byte option (NOPs) between header and VRRP message.
    let pkt = hex(V2_NOAUTH);
    let mut with_opt = pkt[..20].to_vec();
    with_opt[0] = 0x46;
    with_opt[2..4].copy_from_slice(&48u16.to_be_bytes());
    with_opt.extend_from_slice(&[1, 1, 1, 1]);
    with_opt.extend_from_slice(&pkt[20..]);
    let (meta, payload) = parse_ipv4_packet(&with_opt).unwrap();
    assert_eq!(meta.header_len, 24);
    assert_eq!(
        decode(payload, meta.src_ip(), meta.dst_ip()).unwrap(),
        v2_noauth()
    );
}

#[test]
fn non_ipv4_and_short_ihl_are_rejected() {
    let mut pkt = hex(V2_NOAUTH);
    pkt[0] = 0x65;
    assert_eq!(parse_ipv4_packet(&pkt), Err(DecodeError::NotIpv4(6)));
    pkt[0] = 0x44;
    assert_eq!(parse_ipv4_packet(&pkt), Err(DecodeError::BadIhl(16)));
}

#[test]
fn fragments_are_rejected() {
    let mut pkt = hex(V2_NOAUTH);
    pkt[6] = 0x20; // MF
    assert_eq!(parse_ipv4_packet(&pkt), Err(DecodeError::Fragmented));
    pkt[6] = 0x40; // DF alone is fine
    assert!(parse_ipv4_packet(&pkt).is_ok());
}

#[test]
fn other_ip_protocols_are_rejected() {
    let mut pkt = hex(V2_NOAUTH);
    pkt[9] = 6;
    assert_eq!(parse_ipv4_packet(&pkt), Err(DecodeError::BadProtocol(6)));
}

// ---- EncodeError, one test per variant ----

#[test]
fn v2_interval_must_be_whole_seconds_in_1_to_255() {
    for cs in [0, 50, 150, 25_600] {
        let a = Advert {
            adver_int: Centis(cs),
            ..v2_noauth()
        };
        assert_eq!(
            encode(&a, ka_src4(), mcast4()),
            Err(EncodeError::V2AdverInt(Centis(cs)))
        );
    }
}

#[test]
fn v3_interval_must_fit_12_bits_and_be_non_zero() {
    for cs in [0, 4096] {
        let a = Advert {
            version: Version::V3,
            adver_int: Centis(cs),
            ..v2_noauth()
        };
        assert_eq!(
            encode(&a, ka_src4(), mcast4()),
            Err(EncodeError::V3AdverInt(Centis(cs)))
        );
    }
}

#[test]
fn more_than_255_addresses_cannot_be_counted() {
    let addrs = (0..256u16)
        .map(|i| IpAddr::V4(Ipv4Addr::from(u32::from(i))))
        .collect();
    let a = Advert {
        addrs,
        ..v2_noauth()
    };
    assert_eq!(
        encode(&a, ka_src4(), mcast4()),
        Err(EncodeError::TooManyAddrs(256))
    );
}

#[test]
fn addresses_must_share_the_endpoints_family() {
    let a = v2_noauth();
    assert_eq!(
        encode(&a, ka_src6(), mcast6()),
        Err(EncodeError::AddrFamily {
            addr: v4("192.168.200.16"),
            family: Family::V6
        })
    );
    assert_eq!(
        encode(&a, ka_src4(), mcast6()),
        Err(EncodeError::FamilyMismatch {
            src: ka_src4(),
            dst: mcast6()
        })
    );
}

#[test]
fn authentication_exists_only_in_v2_over_ipv4() {
    let pass = Auth::pass(b"secret");
    let v3 = Advert {
        version: Version::V3,
        auth: pass,
        ..v2_noauth()
    };
    assert_eq!(
        encode(&v3, ka_src4(), mcast4()),
        Err(EncodeError::AuthNotCarried(pass))
    );
    let v2_v6 = Advert {
        addrs: vec![],
        auth: pass,
        ..v2_noauth()
    };
    assert_eq!(
        encode(&v2_v6, ka_src6(), mcast6()),
        Err(EncodeError::AuthNotCarried(pass))
    );
}

#[test]
fn rfc5798_7_3_virtual_router_mac() {
    assert_eq!(virtual_mac(Family::V4, Vrid(51)), [0, 0, 0x5e, 0, 1, 51]);
    assert_eq!(virtual_mac(Family::V6, Vrid(7)), [0, 0, 0x5e, 0, 2, 7]);
}
