//! The IPv4 header around VRRP. A raw IPv4 socket for protocol 112 (or 51) returns the packet
//! WITH its IP header, so the receive checks read TTL, addresses and total length from it; an
//! IPv6 raw socket returns only the payload (hop limit and destination come as ancillary data).
//! keepalived sends IPv4 with `IP_HDRINCL` and the header of [`Ipv4Tx`]; we build the same.
//!
//! RFC 791 §3.1:
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Version|  IHL  |Type of Service|          Total Length         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |         Identification        |Flags|      Fragment Offset    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Time to Live |    Protocol   |         Header Checksum       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Source Address                          |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Destination Address                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Options                    |    Padding    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use std::net::{IpAddr, Ipv4Addr};

use super::checksum::ipv4_header_checksum;
use super::packet::{self, Advert, DecodeError, EncodeError, IPPROTO_AH, IPPROTO_VRRP, VRRP_TTL};

/// Bytes of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// The TOS keepalived sends adverts with: precedence "internetwork control" (0xc0).
pub const VRRP_TOS: u8 = 0xc0;

/// What the receive checks need from a received IPv4 header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Meta {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// Must be 255 for multicast adverts (RFC 5798 §7.1).
    pub ttl: u8,
    /// 112 (VRRP) or 51 (AH).
    pub protocol: u8,
    pub tos: u8,
    pub id: u16,
    /// The header length in bytes (IHL × 4): options are skipped, as keepalived does.
    pub header_len: usize,
    pub total_len: u16,
}

impl Ipv4Meta {
    pub fn src_ip(&self) -> IpAddr {
        IpAddr::V4(self.src)
    }

    pub fn dst_ip(&self) -> IpAddr {
        IpAddr::V4(self.dst)
    }
}

/// Splits a raw IPv4 packet into its header fields and its payload (the VRRP message, or the
/// AH header then the VRRP message when `protocol` is 51).
///
/// The total length must equal the bytes received (keepalived: "ip_tot_len mismatch", counted
/// as a length error). The header checksum is not checked: the kernel already dropped bad ones.
pub fn parse_ipv4_packet(pkt: &[u8]) -> Result<(Ipv4Meta, &[u8]), DecodeError> {
    let have = pkt.len();
    let Some(h) = pkt.get(..IPV4_HEADER_LEN) else {
        return Err(DecodeError::Truncated {
            need: IPV4_HEADER_LEN,
            have,
        });
    };
    if h[0] >> 4 != 4 {
        return Err(DecodeError::NotIpv4(h[0] >> 4));
    }
    let header_len = usize::from(h[0] & 0x0f) * 4;
    if header_len < IPV4_HEADER_LEN {
        return Err(DecodeError::BadIhl(header_len));
    }
    if have < header_len {
        return Err(DecodeError::Truncated {
            need: header_len,
            have,
        });
    }
    let total_len = u16::from_be_bytes([h[2], h[3]]);
    if usize::from(total_len) != have {
        return Err(DecodeError::IpLengthMismatch { total_len, have });
    }
    // MF flag or a fragment offset: the kernel reassembles before raw delivery, so a fragment
    // here is malformed input.
    if u16::from_be_bytes([h[6], h[7]]) & 0x3fff != 0 {
        return Err(DecodeError::Fragmented);
    }
    let protocol = h[9];
    if protocol != IPPROTO_VRRP && protocol != IPPROTO_AH {
        return Err(DecodeError::BadProtocol(protocol));
    }
    let meta = Ipv4Meta {
        src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
        dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
        ttl: h[8],
        protocol,
        tos: h[1],
        id: u16::from_be_bytes([h[4], h[5]]),
        header_len,
        total_len,
    };
    Ok((meta, &pkt[header_len..]))
}

/// The IPv4 header fields of an advert we send (keepalived's `vrrp_build_ip4`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Tx {
    pub src: Ipv4Addr,
    /// [`packet::MCAST_V4`] or a unicast peer.
    pub dst: Ipv4Addr,
    /// keepalived counts it per instance from 1, skipping 0 (which asks the kernel to pick).
    pub id: u16,
    /// [`VRRP_TTL`] unless configured otherwise for unicast.
    pub ttl: u8,
    pub tos: u8,
}

impl Ipv4Tx {
    /// keepalived's defaults: TOS 0xc0, TTL 255.
    pub fn new(src: Ipv4Addr, dst: Ipv4Addr, id: u16) -> Self {
        Ipv4Tx {
            src,
            dst,
            id,
            ttl: VRRP_TTL,
            tos: VRRP_TOS,
        }
    }

    /// The 20-byte header for a payload of `payload_len` bytes of `protocol`, header checksum
    /// filled in (the kernel recomputes it under `IP_HDRINCL`; filling it keeps test vectors
    /// equal to what goes on the wire). DF is clear, as keepalived sends it.
    pub fn header(&self, protocol: u8, payload_len: usize) -> [u8; IPV4_HEADER_LEN] {
        let total = (IPV4_HEADER_LEN + payload_len) as u16;
        let mut h = [0u8; IPV4_HEADER_LEN];
        h[0] = 0x45;
        h[1] = self.tos;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&self.id.to_be_bytes());
        h[8] = self.ttl;
        h[9] = protocol;
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        let sum = ipv4_header_checksum(&h);
        h[10..12].copy_from_slice(&sum.to_be_bytes());
        h
    }
}

/// A whole IPv4 packet (header + VRRP message) for `advert`, as keepalived sends it without AH.
/// For `auth_type AH` use [`super::auth::encode_ipv4_ah`].
pub fn encode_ipv4_packet(advert: &Advert, ip: &Ipv4Tx) -> Result<Vec<u8>, EncodeError> {
    let msg = packet::encode(advert, ip.src.into(), ip.dst.into())?;
    let mut out = Vec::with_capacity(IPV4_HEADER_LEN + msg.len());
    out.extend_from_slice(&ip.header(IPPROTO_VRRP, msg.len()));
    out.extend_from_slice(&msg);
    Ok(out)
}
