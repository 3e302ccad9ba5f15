//! The VRRP advertisement codec: VRRPv2 (RFC 3768 §5.1) and VRRPv3 (RFC 5798 §5.1) over IPv4
//! and IPv6, bytes ↔ [`Advert`]. Only the VRRP message: the IPv4 header is in [`super::ipv4`],
//! keepalived's IPsec AH wrapper in [`super::auth`].
//!
//! Units are converted here, at the edge: the v2 Adver Int is whole seconds on the wire, the v3
//! Max Adver Int centiseconds; [`Advert::adver_int`] is always [`Centis`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use super::checksum::{pseudo_header_sum, sum_words, vrrp_checksum};
use crate::family::Family;
use crate::units::{Centis, Priority, Vrid};

/// IP protocol number of VRRP (RFC 5798 §5.2.4, RFC 3768 §5.2.4).
pub const IPPROTO_VRRP: u8 = 112;
/// IP protocol number of IPsec AH, which keepalived's `auth_type AH` wraps VRRPv2 in.
pub const IPPROTO_AH: u8 = 51;
/// The TTL / hop limit adverts are sent with and must arrive with (RFC 5798 §5.1.1.3, §7.1).
pub const VRRP_TTL: u8 = 255;
/// The VRRP IPv4 multicast group (RFC 5798 §5.1.1.2).
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group ff02::12 (RFC 5798 §5.1.2.2).
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// The fixed part of every VRRP message: version/type, VRID, priority, count, 2 bytes, checksum.
pub const HEADER_LEN: usize = 8;
/// The VRRPv2 authentication data after the addresses (RFC 3768 §5.3.10), IPv4 only: keepalived's
/// VRRPv2 over IPv6 carries none.
pub const AUTH_DATA_LEN: usize = 8;
/// Type 1 is the only VRRP packet type: ADVERTISEMENT (RFC 5798 §5.2.2).
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// The largest v3 Max Adver Int: 12 bits of centiseconds (RFC 5798 §5.2.7).
pub const V3_MAX_ADVER_INT: Centis = Centis(4095);
/// The largest v2 Adver Int: 8 bits of seconds (RFC 3768 §5.3.7).
pub const V2_MAX_ADVER_INT: Centis = Centis(255 * 100);

/// The protocol version (RFC 5798 §5.2.1): 2 is RFC 3768, 3 is RFC 5798.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    /// The 4-bit version field's value.
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// RFC 5798 §7.3: the virtual router MAC address, 00-00-5E-00-01-{VRID} for IPv4 and
/// 00-00-5E-00-02-{VRID} for IPv6.
pub fn virtual_mac(family: Family, vrid: Vrid) -> [u8; 6] {
    let proto = match family {
        Family::V4 => 0x01,
        Family::V6 => 0x02,
    };
    [0x00, 0x00, 0x5e, 0x00, proto, vrid.0]
}

/// VRRPv2 authentication as keepalived implements it (RFC 3768 §5.3.6 with RFC 2338's types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Auth Type 0: the 8 bytes of authentication data are zero (ignored on receive).
    None,
    /// Auth Type 1 (`auth_type PASS`): the 8 bytes after the addresses are the password,
    /// NUL-padded (keepalived truncates longer passwords to 8 bytes).
    Pass([u8; 8]),
    /// Auth Type 2 (`auth_type AH`): the VRRP message travels inside an IPsec AH header
    /// (IP protocol 51) whose ICV is HMAC-MD5-96 keyed with the NUL-padded password; the 8
    /// bytes of authentication data are zero. The AH header is [`super::auth`]'s.
    Ah,
}

impl Auth {
    /// The Auth Type field's value.
    pub fn type_number(self) -> u8 {
        match self {
            Auth::None => 0,
            Auth::Pass(_) => 1,
            Auth::Ah => 2,
        }
    }

    /// The password as keepalived keeps it: the first 8 bytes, NUL-padded.
    pub fn pass(password: &[u8]) -> Auth {
        Auth::Pass(pad_key(password))
    }
}

/// Pads (or truncates) a password to keepalived's 8-byte `auth_data`.
pub fn pad_key(password: &[u8]) -> [u8; 8] {
    let mut key = [0u8; 8];
    let n = password.len().min(8);
    key[..n].copy_from_slice(&password[..n]);
    key
}

/// A decoded VRRP ADVERTISEMENT.
///
/// VRRPv2 (RFC 3768 §5.1):
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    | Count IP Addrs|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Auth Type   |   Adver Int   |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         IP Address (1)                        |
/// |                            ...                                |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Authentication Data (1)                   |
/// |                     Authentication Data (2)                   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
/// VRRPv3 (RFC 5798 §5.1):
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |(rsvd) |     Max Adver Int     |          Checksum             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       IPvX Address(es)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub version: Version,
    /// Virtual Router ID, 1..=255 in a valid config (RFC 5798 §5.2.3); decode accepts any.
    pub vrid: Vrid,
    /// 255 = address owner, 0 = the master is stopping (RFC 5798 §5.2.4).
    pub priority: Priority,
    /// v2: whole seconds 1..=255 on the wire; v3: 1..=4095 centiseconds.
    pub adver_int: Centis,
    /// The virtual addresses, all of the IP endpoints' family (empty is allowed: keepalived
    /// runs instances without VIPs).
    pub addrs: Vec<IpAddr>,
    /// Always [`Auth::None`] for v3 and for v2 over IPv6.
    pub auth: Auth,
}

impl Advert {
    /// Bytes of the encoded VRRP message for the family of `self.addrs` / the endpoints.
    pub fn encoded_len(&self, family: Family) -> usize {
        HEADER_LEN + self.addrs.len() * family.addr_len() + auth_len(self.version, family)
    }
}

fn auth_len(version: Version, family: Family) -> usize {
    match (version, family) {
        (Version::V2, Family::V4) => AUTH_DATA_LEN,
        _ => 0,
    }
}

/// Why bytes are not a VRRP advertisement (or an IPv4 / AH packet carrying one). One variant
/// per reason, so each maps to one receive counter ([`super::validate::Reason`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("packet truncated: need {need} bytes, have {have}")]
    Truncated { need: usize, have: usize },
    #[error("VRRP version {0} (expected 2 or 3)")]
    BadVersion(u8),
    #[error("VRRP packet type {0} (only 1, ADVERTISEMENT, exists)")]
    BadType(u8),
    #[error("VRRP checksum {got:#06x}, expected {want:#06x}")]
    BadChecksum { got: u16, want: u16 },
    #[error("address count {count} needs a {want}-byte VRRP message, got {have} bytes")]
    AddrCountMismatch { count: u8, want: usize, have: usize },
    #[error("source {src} and destination {dst} are not of one address family")]
    FamilyMismatch { src: IpAddr, dst: IpAddr },
    #[error("VRRPv2 auth type {0} (expected 0 none, 1 PASS or 2 AH)")]
    BadAuthType(u8),
    #[error("VRRPv2 over IPv6 with auth type {0}: keepalived carries no authentication there")]
    AuthOverIpv6(u8),
    #[error("advertisement interval of zero")]
    ZeroAdverInt,
    #[error("not an IPv4 packet: version {0}")]
    NotIpv4(u8),
    #[error("IPv4 header length {0} bytes is below the minimum of 20")]
    BadIhl(usize),
    #[error("IPv4 total length {total_len} differs from the {have} bytes received")]
    IpLengthMismatch { total_len: u16, have: usize },
    #[error("IPv4 fragment (offset/MF set): VRRP is never fragmented")]
    Fragmented,
    #[error("IP protocol {0} is neither VRRP (112) nor AH (51)")]
    BadProtocol(u8),
    #[error("AH next header {0} is not VRRP (112)")]
    AhNextHeader(u8),
    #[error("AH payload length {0} is not keepalived's 4 (HMAC-MD5-96)")]
    AhLength(u8),
}

/// Why an [`Advert`] cannot be encoded. These are caller bugs (the config layer validates the
/// same limits), reported instead of sending a packet peers would reject.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("VRRPv2 advert_int {0:?} is not a whole number of seconds in 1..=255")]
    V2AdverInt(Centis),
    #[error("VRRPv3 advert_int {0:?} is not in 1..=4095 centiseconds")]
    V3AdverInt(Centis),
    #[error("{0} addresses: the count field holds at most 255")]
    TooManyAddrs(usize),
    #[error("address {addr} is not of the {family:?} family of the IP endpoints")]
    AddrFamily { addr: IpAddr, family: Family },
    #[error("source {src} and destination {dst} are not of one address family")]
    FamilyMismatch { src: IpAddr, dst: IpAddr },
    #[error("authentication {0:?} exists only in VRRPv2 over IPv4")]
    AuthNotCarried(Auth),
}

/// The version nibble and VRID of a VRRP message, if it is long enough to hold them: what the
/// receive path needs to pick the instance before decoding (keepalived looks the VRID up first).
pub fn peek_vrid(payload: &[u8]) -> Option<(u8, Vrid)> {
    match payload {
        [vt, vrid, ..] => Some((vt >> 4, Vrid(*vrid))),
        _ => None,
    }
}

fn endpoints_family(src: IpAddr, dst: IpAddr) -> Option<Family> {
    let f = Family::of(src);
    (f == Family::of(dst)).then_some(f)
}

/// Encodes `advert` as the VRRP message sent from `src` to `dst` (the multicast group or a
/// unicast peer), checksum included. v3 and IPv6 checksums cover the pseudo-header built from
/// `src` and `dst` (RFC 5798 §5.2.8); pass [`MCAST_V4`] as `dst` for keepalived's old unicast
/// checksum ("unicast_chksum_compat").
pub fn encode(advert: &Advert, src: IpAddr, dst: IpAddr) -> Result<Vec<u8>, EncodeError> {
    let family = endpoints_family(src, dst).ok_or(EncodeError::FamilyMismatch { src, dst })?;
    let count = u8::try_from(advert.addrs.len())
        .map_err(|_| EncodeError::TooManyAddrs(advert.addrs.len()))?;
    if let Some(&addr) = advert.addrs.iter().find(|a| Family::of(**a) != family) {
        return Err(EncodeError::AddrFamily { addr, family });
    }
    // Bytes 4..6: v2 Auth Type + Adver Int (seconds), v3 4 reserved bits + Max Adver Int.
    let word2: [u8; 2] = match advert.version {
        Version::V2 => {
            let Centis(cs) = advert.adver_int;
            if cs == 0 || cs % 100 != 0 || advert.adver_int > V2_MAX_ADVER_INT {
                return Err(EncodeError::V2AdverInt(advert.adver_int));
            }
            if family == Family::V6 && advert.auth != Auth::None {
                return Err(EncodeError::AuthNotCarried(advert.auth));
            }
            [advert.auth.type_number(), (cs / 100) as u8]
        }
        Version::V3 => {
            if advert.adver_int == Centis(0) || advert.adver_int > V3_MAX_ADVER_INT {
                return Err(EncodeError::V3AdverInt(advert.adver_int));
            }
            if advert.auth != Auth::None {
                return Err(EncodeError::AuthNotCarried(advert.auth));
            }
            (advert.adver_int.0 as u16).to_be_bytes()
        }
    };

    let mut out = Vec::with_capacity(advert.encoded_len(family));
    out.push(advert.version.number() << 4 | TYPE_ADVERTISEMENT);
    out.extend_from_slice(&[
        advert.vrid.0,
        advert.priority.0,
        count,
        word2[0],
        word2[1],
        0,
        0,
    ]);
    for addr in &advert.addrs {
        match addr {
            IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
            IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
        }
    }
    if auth_len(advert.version, family) > 0 {
        // RFC 3768 §5.3.10; keepalived leaves it zero for AH (the password is the HMAC key).
        let data = match advert.auth {
            Auth::Pass(pw) => pw,
            Auth::None | Auth::Ah => [0; AUTH_DATA_LEN],
        };
        out.extend_from_slice(&data);
    }
    let sum = vrrp_checksum(advert.version, src, dst, &out);
    out[6..8].copy_from_slice(&sum.to_be_bytes());
    Ok(out)
}

/// Decodes the VRRP message `payload` received from `src` for `dst` (for IPv4 the bytes after
/// the IP header and any AH header; for IPv6 what the raw socket returns).
///
/// Checks, in order: fixed header present, version 2 or 3, type 1, endpoints of one family,
/// length agreeing with the address count, checksum (RFC 5798 §7.1 "MUST verify the VRRP
/// checksum"), auth type, non-zero interval. Fields that RFC 5798 §5.2 says are ignored on
/// receive (v3 reserved bits; v2 auth data when the type is not PASS) are ignored.
/// Whether the advert suits the local instance is [`super::validate`]'s business.
pub fn decode(payload: &[u8], src: IpAddr, dst: IpAddr) -> Result<Advert, DecodeError> {
    let have = payload.len();
    let Some(header) = payload.get(..HEADER_LEN) else {
        return Err(DecodeError::Truncated {
            need: HEADER_LEN,
            have,
        });
    };
    let version = match header[0] >> 4 {
        2 => Version::V2,
        3 => Version::V3,
        v => return Err(DecodeError::BadVersion(v)),
    };
    let ptype = header[0] & 0x0f;
    if ptype != TYPE_ADVERTISEMENT {
        return Err(DecodeError::BadType(ptype));
    }
    let family = endpoints_family(src, dst).ok_or(DecodeError::FamilyMismatch { src, dst })?;
    let count = header[3];
    let addrs_len = usize::from(count) * family.addr_len();
    let want = HEADER_LEN + addrs_len + auth_len(version, family);
    if have != want {
        return Err(DecodeError::AddrCountMismatch { count, want, have });
    }
    // Summing the message with its checksum in place must give zero (RFC 1071), which also
    // accepts 0xffff for a zero checksum as keepalived's in_csum does.
    let total = sum_words(pseudo_header_sum(version, src, dst, have), payload);
    if super::checksum::fold(total) != 0 {
        return Err(DecodeError::BadChecksum {
            got: u16::from_be_bytes([header[6], header[7]]),
            want: vrrp_checksum(version, src, dst, payload),
        });
    }
    let (adver_int, auth) = match version {
        Version::V2 => {
            let auth = match (header[4], family) {
                (0, _) => Auth::None,
                (t @ (1 | 2), Family::V6) => return Err(DecodeError::AuthOverIpv6(t)),
                (1, Family::V4) => Auth::Pass(auth_data(payload, want)),
                (2, Family::V4) => Auth::Ah,
                (t, _) => return Err(DecodeError::BadAuthType(t)),
            };
            (Centis(u32::from(header[5]) * 100), auth)
        }
        // RFC 5798 §5.2.7: the 4 reserved bits are ignored on receive.
        Version::V3 => (
            Centis(u32::from(
                u16::from_be_bytes([header[4], header[5]]) & 0x0fff,
            )),
            Auth::None,
        ),
    };
    if adver_int == Centis(0) {
        return Err(DecodeError::ZeroAdverInt);
    }
    let addrs = payload[HEADER_LEN..HEADER_LEN + addrs_len]
        .chunks_exact(family.addr_len())
        .map(|a| match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])),
            Family::V6 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(a);
                IpAddr::V6(Ipv6Addr::from(o))
            }
        })
        .collect();
    Ok(Advert {
        version,
        vrid: Vrid(header[1]),
        priority: Priority(header[2]),
        adver_int,
        addrs,
        auth,
    })
}

/// The 8 authentication bytes that end a v2 IPv4 message of length `len` (checked by caller).
fn auth_data(payload: &[u8], len: usize) -> [u8; 8] {
    let mut data = [0u8; AUTH_DATA_LEN];
    data.copy_from_slice(&payload[len - AUTH_DATA_LEN..len]);
    data
}

#[cfg(test)]
mod tests;
