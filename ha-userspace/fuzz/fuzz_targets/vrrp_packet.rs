//! The VRRP codec and receive path on arbitrary bytes: decoding must never panic, and what
//! decodes must re-encode to a message that decodes to the same advert (the re-encoding may
//! differ from the input only in fields the RFCs say are ignored on receive: v3 reserved
//! bits, v2 auth data with auth type 0 or 2).
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ha::family::Family;
use ha::units::{Centis, Vrid};
use ha::vrrp::auth::{encode_ipv4_ah, parse_ah};
use ha::vrrp::checksum::vrrp_checksum;
use ha::vrrp::ipv4::{encode_ipv4_packet, parse_ipv4_packet, Ipv4Tx};
use ha::vrrp::packet::{decode, encode, Auth, Version, IPPROTO_AH};
use ha::vrrp::validate::{receive_ipv4, receive_ipv6, ExpectAuth, RxExpect};
use libfuzzer_sys::fuzz_target;

fn round_trip(msg: &[u8], src: IpAddr, dst: IpAddr) {
    if let Ok(advert) = decode(msg, src, dst) {
        let bytes = encode(&advert, src, dst).expect("a decoded advert re-encodes");
        assert_eq!(bytes.len(), msg.len(), "same length");
        assert_eq!(decode(&bytes, src, dst).as_ref(), Ok(&advert), "round trip");
        assert_eq!(
            bytes[..4],
            msg[..4],
            "version/type, VRID, priority, count kept"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the endpoints, the rest is the VRRP message.
    let Some((&sel, msg)) = data.split_first() else {
        return;
    };
    let (src, dst): (IpAddr, IpAddr) = match sel % 4 {
        0 => (
            Ipv4Addr::new(10, 0, 0, 1).into(),
            Ipv4Addr::new(224, 0, 0, 18).into(),
        ),
        1 => (
            Ipv4Addr::new(10, 0, 0, 1).into(),
            Ipv4Addr::new(10, 0, 0, 2).into(),
        ),
        2 => (
            "fe80::1".parse::<Ipv6Addr>().unwrap().into(),
            "ff02::12".parse::<Ipv6Addr>().unwrap().into(),
        ),
        _ => (
            "fe80::1".parse::<Ipv6Addr>().unwrap().into(),
            "fe80::2".parse::<Ipv6Addr>().unwrap().into(),
        ),
    };
    round_trip(msg, src, dst);
    // Random bytes almost never carry a right checksum; with bit 4 set, fix it up so that
    // the decode-success path (and the round trip) is explored as much as the failures.
    if sel & 0x10 != 0 && msg.len() >= 8 {
        let mut fixed = msg.to_vec();
        let version = if fixed[0] >> 4 == 2 {
            Version::V2
        } else {
            Version::V3
        };
        let sum = vrrp_checksum(version, src, dst, &fixed);
        fixed[6..8].copy_from_slice(&sum.to_be_bytes());
        round_trip(&fixed, src, dst);
    }

    // The same bytes as a whole IPv4 packet: parse, strip AH, decode, re-encode.
    if let Ok((meta, payload)) = parse_ipv4_packet(data) {
        let tx = Ipv4Tx {
            src: meta.src,
            dst: meta.dst,
            id: meta.id,
            ttl: meta.ttl,
            tos: meta.tos,
        };
        if meta.protocol == IPPROTO_AH {
            if let Ok((ah, inner)) = parse_ah(payload) {
                if let Ok(advert) = decode(inner, meta.src_ip(), meta.dst_ip()) {
                    if advert.auth == Auth::Ah {
                        let pkt = encode_ipv4_ah(&advert, &tx, b"fuzzkey!", ah.seq, false).unwrap();
                        assert_eq!(pkt.len(), 20 + payload.len());
                    }
                }
            }
        } else if let Ok(advert) = decode(payload, meta.src_ip(), meta.dst_ip()) {
            let pkt = encode_ipv4_packet(&advert, &tx).unwrap();
            assert_eq!(pkt.len(), 20 + payload.len());
        }
    }

    // And through the full receive checks, for both families: must not panic.
    let expect = |family, auth| RxExpect {
        vrid: Vrid(sel),
        version: if sel & 1 == 0 {
            Version::V2
        } else {
            Version::V3
        },
        family,
        adver_int: Centis(100),
        vips: vec![],
        check_adv_addr: sel & 2 == 0,
        auth,
        unicast_peers: None,
        check_unicast_src: false,
    };
    let auth = match sel >> 6 {
        0 => ExpectAuth::None,
        1 => ExpectAuth::Pass(*b"secret\0\0"),
        _ => ExpectAuth::Ah {
            key: *b"secret\0\0",
            last_seq: 0,
        },
    };
    let _ = receive_ipv4(data, &expect(Family::V4, auth));
    let _ = receive_ipv6(
        msg,
        "fe80::1".parse().unwrap(),
        "ff02::12".parse().unwrap(),
        Some(255),
        &expect(Family::V6, ExpectAuth::None),
    );
});
