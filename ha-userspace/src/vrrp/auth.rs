//! keepalived's `auth_type AH`: VRRPv2 over IPv4 wrapped in an IPsec AH header (RFC 2402),
//! integrity by HMAC-MD5-96 (RFC 2403, RFC 2104), without any IPsec SA in the kernel.
//!
//! What keepalived 2.2.7 sends (`vrrp_build_ip4`, `vrrp_build_ipsecah`, `vrrp_update_pkt` in
//! vrrp.c), confirmed byte for byte on captured adverts (see `packet/tests.rs`):
//! - IPv4 header: protocol 51, TOS 0xc0, TTL 255, total length 20 + 24 + VRRP message.
//! - AH header, RFC 2402 §2:
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Next Header   |  Payload Len  |          RESERVED             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Security Parameters Index (SPI)               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Sequence Number Field                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Authentication Data (ICV, 96 bits for HMAC-MD5-96)   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!   next header 112, payload length 4 (24 bytes / 4 − 2), SPI = the IPv4 source address
//!   (its four bytes as they are), sequence number from 1, +1 per advert.
//! - VRRPv2 message with auth type 2 and its 8 bytes of authentication data zero.
//! - ICV = first 12 bytes of HMAC-MD5(key, IP header with TOS, flags/fragment offset and
//!   header checksum zeroed — and TTL zeroed too for unicast instances — ‖ AH header with the
//!   ICV zeroed ‖ VRRP message). The key is the password NUL-padded to 8 bytes.
//!
//! On receive keepalived checks the ICV, then SPI == source address, then that the sequence
//! number is above the last one accepted (anti-replay): [`verify_ah`] does the first two; the
//! sequence number is compared by [`super::validate`] against state the caller keeps.

use std::net::Ipv4Addr;

use super::ipv4::{Ipv4Meta, Ipv4Tx, IPV4_HEADER_LEN};
use super::md5::hmac_md5;
use super::packet::{self, Advert, Auth, DecodeError, EncodeError, IPPROTO_AH, IPPROTO_VRRP};

/// Bytes of keepalived's AH header (RFC 2402 §2 with a 96-bit ICV).
pub const AH_LEN: usize = 24;
/// The AH Payload Len field for a 96-bit ICV: 32-bit words minus 2 (RFC 2402 §2.2).
pub const AH_PAYLOAD_LEN: u8 = 4;
/// HMAC-MD5-96 keeps the first 96 bits of the digest (RFC 2403 §2).
pub const ICV_LEN: usize = 12;

/// A parsed AH header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AhHeader {
    /// keepalived puts the sender's IPv4 source address here.
    pub spi: Ipv4Addr,
    /// Anti-replay counter: keepalived starts at 1 and adds 1 per advert.
    pub seq: u32,
    pub icv: [u8; ICV_LEN],
}

/// Splits the payload of an IPv4 packet with protocol 51 into the AH header and the VRRP
/// message it protects.
pub fn parse_ah(payload: &[u8]) -> Result<(AhHeader, &[u8]), DecodeError> {
    let Some(h) = payload.get(..AH_LEN) else {
        return Err(DecodeError::Truncated {
            need: AH_LEN,
            have: payload.len(),
        });
    };
    if h[0] != IPPROTO_VRRP {
        // keepalived: "an AH header for some other protocol - ignore packet".
        return Err(DecodeError::AhNextHeader(h[0]));
    }
    if h[1] != AH_PAYLOAD_LEN {
        return Err(DecodeError::AhLength(h[1]));
    }
    let mut icv = [0u8; ICV_LEN];
    icv.copy_from_slice(&h[12..24]);
    let header = AhHeader {
        spi: Ipv4Addr::new(h[4], h[5], h[6], h[7]),
        seq: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        icv,
    };
    Ok((header, &payload[AH_LEN..]))
}

/// The ICV of an IPv4+AH packet laid out in `pkt` (IP header, AH header, VRRP message),
/// computed with the mutable fields zeroed as keepalived does. `ah_at` is the IP header
/// length. `unicast` zeroes the TTL too (keepalived does so for unicast instances only).
fn compute_icv(pkt: &[u8], ah_at: usize, key: &[u8; 8], unicast: bool) -> [u8; ICV_LEN] {
    let mut head = pkt[..ah_at + AH_LEN].to_vec();
    head[1] = 0; // TOS
    head[6] = 0; // flags + fragment offset
    head[7] = 0;
    head[10] = 0; // header checksum
    head[11] = 0;
    if unicast {
        head[8] = 0; // TTL
    }
    head[ah_at + 12..ah_at + AH_LEN].fill(0);
    let digest = hmac_md5(key, &[&head, &pkt[ah_at + AH_LEN..]]);
    let mut icv = [0u8; ICV_LEN];
    icv.copy_from_slice(&digest[..ICV_LEN]);
    icv
}

/// A whole IPv4 packet carrying `advert` (which must have [`Auth::Ah`]) inside keepalived's AH
/// header, with sequence number `seq` and the ICV keyed by `key` (see [`packet::pad_key`]).
/// `unicast` must match how the receiver is configured (it decides whether TTL is summed).
pub fn encode_ipv4_ah(
    advert: &Advert,
    ip: &Ipv4Tx,
    key: &[u8; 8],
    seq: u32,
    unicast: bool,
) -> Result<Vec<u8>, EncodeError> {
    if advert.auth != Auth::Ah {
        return Err(EncodeError::AuthNotCarried(advert.auth));
    }
    let msg = packet::encode(advert, ip.src.into(), ip.dst.into())?;
    let mut pkt = Vec::with_capacity(IPV4_HEADER_LEN + AH_LEN + msg.len());
    pkt.extend_from_slice(&ip.header(IPPROTO_AH, AH_LEN + msg.len()));
    pkt.extend_from_slice(&[IPPROTO_VRRP, AH_PAYLOAD_LEN, 0, 0]);
    pkt.extend_from_slice(&ip.src.octets());
    pkt.extend_from_slice(&seq.to_be_bytes());
    pkt.extend_from_slice(&[0; ICV_LEN]);
    pkt.extend_from_slice(&msg);
    let icv = compute_icv(&pkt, IPV4_HEADER_LEN, key, unicast);
    pkt[IPV4_HEADER_LEN + 12..IPV4_HEADER_LEN + AH_LEN].copy_from_slice(&icv);
    Ok(pkt)
}

/// Why a received AH advert does not authenticate (all counted as `auth_failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AhError {
    #[error("IPsec AH ICV does not match: wrong password, or fields changed in transit")]
    BadIcv,
    #[error("IPsec AH SPI {spi} is not the source address {src}")]
    SpiNotSource { spi: Ipv4Addr, src: Ipv4Addr },
    #[error("IPsec AH sequence number {seq} not above the last accepted {last}: replay")]
    Replay { seq: u32, last: u32 },
}

/// Verifies the ICV and the SPI of a received IPv4+AH packet: `pkt` is the whole packet,
/// `meta` and `ah` what [`super::ipv4::parse_ipv4_packet`] and [`parse_ah`] returned for it.
/// The comparison runs over all 12 bytes regardless of where they differ.
pub fn verify_ah(
    pkt: &[u8],
    meta: &Ipv4Meta,
    ah: &AhHeader,
    key: &[u8; 8],
    unicast: bool,
) -> Result<(), AhError> {
    if pkt.len() < meta.header_len + AH_LEN {
        return Err(AhError::BadIcv);
    }
    let want = compute_icv(pkt, meta.header_len, key, unicast);
    let diff = want
        .iter()
        .zip(ah.icv.iter())
        .fold(0u8, |d, (a, b)| d | (a ^ b));
    if diff != 0 {
        return Err(AhError::BadIcv);
    }
    if ah.spi != meta.src {
        return Err(AhError::SpiNotSource {
            spi: ah.spi,
            src: meta.src,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::Centis;
    use crate::units::{Priority, Vrid};
    use crate::vrrp::ipv4::parse_ipv4_packet;
    use crate::vrrp::packet::{decode, pad_key, Version, MCAST_V4};
    use crate::vrrp::test_vectors::*;

    const KEY: [u8; 8] = *b"secret\0\0";

    fn ah_advert(priority: u8) -> Advert {
        Advert {
            version: Version::V2,
            vrid: Vrid(53),
            priority: Priority(priority),
            adver_int: Centis(100),
            addrs: vec!["192.168.202.1".parse().unwrap()],
            auth: Auth::Ah,
        }
    }

    /// Parses and verifies a whole IPv4+AH packet, returning the AH header and the advert.
    fn open(pkt: &[u8], key: &[u8; 8], unicast: bool) -> Result<(AhHeader, Advert), AhError> {
        let (meta, payload) = parse_ipv4_packet(pkt).unwrap();
        assert_eq!(meta.protocol, IPPROTO_AH);
        let (ah, msg) = parse_ah(payload).unwrap();
        verify_ah(pkt, &meta, &ah, key, unicast)?;
        Ok((ah, decode(msg, meta.src_ip(), meta.dst_ip()).unwrap()))
    }

    #[test]
    fn ah_advert_matches_keepalived_both_ways() {
        let pkt = hex(V2_AH);
        let (ah, advert) = open(&pkt, &KEY, false).unwrap();
        assert_eq!((ah.spi, ah.seq), (KA_SRC4, 1));
        assert_eq!(advert, ah_advert(200));
        let tx = Ipv4Tx::new(KA_SRC4, MCAST_V4, 1);
        assert_eq!(
            encode_ipv4_ah(&ah_advert(200), &tx, &pad_key(b"secret"), 1, false).unwrap(),
            pkt
        );
    }

    #[test]
    fn ah_priority_zero_advert_matches_keepalived_both_ways() {
        let pkt = hex(V2_AH_PRIO0);
        let (ah, advert) = open(&pkt, &KEY, false).unwrap();
        assert_eq!(ah.seq, 8);
        assert_eq!(advert, ah_advert(0));
        let tx = Ipv4Tx::new(KA_SRC4, MCAST_V4, 8);
        assert_eq!(
            encode_ipv4_ah(&ah_advert(0), &tx, &KEY, 8, false).unwrap(),
            pkt
        );
    }

    #[test]
    fn wrong_password_fails_the_icv() {
        assert_eq!(
            open(&hex(V2_AH), &pad_key(b"secreT"), false).unwrap_err(),
            AhError::BadIcv
        );
    }

    #[test]
    fn any_covered_byte_changed_fails_the_icv() {
        // Priority, sequence number, addresses, TTL (multicast): all covered by the ICV.
        // (VRRP checksum fixed-up is irrelevant: the ICV is checked on the raw bytes.)
        for at in [8, 16, 19, 32, 46, 52] {
            let mut pkt = hex(V2_AH);
            pkt[at] ^= 1;
            assert_eq!(open_raw(&pkt, false), Err(AhError::BadIcv), "byte {at}");
        }
    }

    /// Like `open` but without decoding the (possibly damaged) VRRP message.
    fn open_raw(pkt: &[u8], unicast: bool) -> Result<(), AhError> {
        let (meta, payload) = parse_ipv4_packet(pkt).unwrap();
        let (ah, _) = parse_ah(payload).unwrap();
        verify_ah(pkt, &meta, &ah, &KEY, unicast)
    }

    #[test]
    fn mutable_fields_are_outside_the_icv() {
        // RFC 2402 §3.3.3.1.1.1: TOS, flags/fragment offset, header checksum are zeroed.
        let mut pkt = hex(V2_AH);
        pkt[1] = 0x10;
        pkt[6] = 0x40;
        pkt[10..12].copy_from_slice(&[0xab, 0xcd]);
        assert_eq!(open_raw(&pkt, false), Ok(()));
    }

    #[test]
    fn unicast_instances_leave_ttl_out_of_the_icv() {
        // keepalived zeroes the TTL for unicast instances (a routed unicast advert loses hops).
        let tx = Ipv4Tx::new(KA_SRC4, PEER4, 1);
        let mut pkt = encode_ipv4_ah(&ah_advert(100), &tx, &KEY, 5, true).unwrap();
        pkt[8] = 61;
        assert_eq!(open_raw(&pkt, true), Ok(()));
        assert_eq!(open_raw(&pkt, false), Err(AhError::BadIcv));
    }

    #[test]
    fn spi_must_be_the_source_address() {
        // A correctly signed packet whose SPI names someone else (keepalived checks it after
        // the ICV).
        let tx = Ipv4Tx::new(KA_SRC4, MCAST_V4, 1);
        let mut pkt = encode_ipv4_ah(&ah_advert(100), &tx, &KEY, 1, false).unwrap();
        pkt[24..28].copy_from_slice(&[10, 99, 0, 7]);
        let icv = compute_icv(&pkt, IPV4_HEADER_LEN, &KEY, false);
        pkt[32..44].copy_from_slice(&icv);
        assert_eq!(
            open_raw(&pkt, false),
            Err(AhError::SpiNotSource {
                spi: Ipv4Addr::new(10, 99, 0, 7),
                src: KA_SRC4
            })
        );
    }

    #[test]
    fn ah_header_errors() {
        let pkt = hex(V2_AH);
        let payload = &pkt[20..];
        for have in 0..AH_LEN {
            assert_eq!(
                parse_ah(&payload[..have]),
                Err(DecodeError::Truncated { need: AH_LEN, have })
            );
        }
        let mut other = payload.to_vec();
        other[0] = 6;
        assert_eq!(parse_ah(&other), Err(DecodeError::AhNextHeader(6)));
        let mut len = payload.to_vec();
        len[1] = 5;
        assert_eq!(parse_ah(&len), Err(DecodeError::AhLength(5)));
    }

    #[test]
    fn encode_ah_requires_an_ah_advert() {
        let a = Advert {
            auth: Auth::None,
            ..ah_advert(100)
        };
        let tx = Ipv4Tx::new(KA_SRC4, MCAST_V4, 1);
        assert_eq!(
            encode_ipv4_ah(&a, &tx, &KEY, 1, false),
            Err(EncodeError::AuthNotCarried(Auth::None))
        );
    }
}
