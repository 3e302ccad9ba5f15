//! The Internet checksum (RFC 1071) and the pseudo-headers VRRP sums with it.
//!
//! Which bytes are summed depends on the version and the family:
//! - VRRPv2 over IPv4 (RFC 3768 §5.3.8): the VRRP message only, authentication data included.
//! - VRRPv3 over IPv4 (RFC 5798 §5.2.8): the IPv4 pseudo-header (src, dst, zero, protocol 112,
//!   VRRP length) then the VRRP message.
//! - Any version over IPv6 (RFC 5798 §5.2.8, RFC 8200 §8.1): the IPv6 pseudo-header (src, dst,
//!   upper-layer length as 32 bits, 3 zero bytes, next header 112) then the VRRP message.
//!   keepalived lets the kernel fill it (`IPV6_CHECKSUM`), also for its VRRPv2-over-IPv6,
//!   which therefore uses the pseudo-header too (checked on real keepalived 2.2.7 adverts).

use std::net::IpAddr;

use super::packet::{Version, IPPROTO_VRRP};

/// Adds `bytes` as big-endian 16-bit words to `acc` (an odd last byte is padded with zero).
/// The sum is not folded: 32 bits hold the carries of any VRRP-sized message.
pub fn sum_words(mut acc: u32, bytes: &[u8]) -> u32 {
    let mut words = bytes.chunks_exact(2);
    for w in &mut words {
        acc += u32::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u32::from(*last) << 8;
    }
    acc
}

/// Folds the carries and takes the one's complement: the value to put in a checksum field,
/// or 0 when summing a message whose checksum field is already right.
pub fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// The pseudo-header sum for `version` from `src` to `dst` with an upper-layer length of
/// `len` bytes: 0 for VRRPv2 over IPv4, which sums the message alone.
pub fn pseudo_header_sum(version: Version, src: IpAddr, dst: IpAddr, len: usize) -> u32 {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) if version == Version::V3 => {
            // RFC 5798 §5.2.8 / RFC 768-style IPv4 pseudo-header; len fits: VRRP ≤ 8+255*4+8.
            let acc = sum_words(sum_words(0, &s.octets()), &d.octets());
            acc + u32::from(IPPROTO_VRRP) + len as u32
        }
        (IpAddr::V4(_), IpAddr::V4(_)) => 0,
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            // RFC 8200 §8.1: 32-bit length, then next header 112.
            let acc = sum_words(sum_words(0, &s.octets()), &d.octets());
            acc + sum_words(0, &(len as u32).to_be_bytes()) + u32::from(IPPROTO_VRRP)
        }
        // Mixed families never reach here: encode and decode reject them first.
        _ => 0,
    }
}

/// The checksum `msg` must carry, computed as if its checksum field (bytes 6..8) were zero.
/// `msg` must be at least 8 bytes (the fixed VRRP header).
pub fn vrrp_checksum(version: Version, src: IpAddr, dst: IpAddr, msg: &[u8]) -> u16 {
    let acc = pseudo_header_sum(version, src, dst, msg.len());
    let acc = sum_words(acc, msg.get(..6).unwrap_or(&[]));
    fold(sum_words(acc, msg.get(8..).unwrap_or(&[])))
}

/// The IPv4 header checksum (RFC 791) of `header`, its checksum field (bytes 10..12) taken as
/// zero.
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    let acc = sum_words(0, header.get(..10).unwrap_or(&[]));
    fold(sum_words(acc, header.get(12..).unwrap_or(&[])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example_sums_to_the_published_value() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (folded), checksum !ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum_words(0, &bytes)), !0xddf2);
    }

    #[test]
    fn odd_length_pads_the_last_byte_with_zero() {
        assert_eq!(sum_words(0, &[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn a_message_with_its_checksum_in_place_sums_to_zero() {
        let src: IpAddr = "10.0.0.1".parse().unwrap();
        let dst: IpAddr = "224.0.0.18".parse().unwrap();
        let mut msg = [0x31, 1, 100, 1, 0, 100, 0, 0, 192, 0, 2, 1];
        let c = vrrp_checksum(Version::V3, src, dst, &msg);
        msg[6..8].copy_from_slice(&c.to_be_bytes());
        let acc = pseudo_header_sum(Version::V3, src, dst, msg.len());
        assert_eq!(fold(sum_words(acc, &msg)), 0);
    }
}
