//! The receive checks of RFC 5798 §7.1 (RFC 3768 §7.1 for v2) as keepalived 2.2.7 applies
//! them (`vrrp_check_packet` in vrrp.c), as one pure function: IP metadata + decode result +
//! the local instance's expectations → accept, or drop with a [`Reason`]. Kept apart from the
//! state machine (FRR vrrpd's split): the FSM only ever sees adverts that passed.
//!
//! Order of the checks (keepalived's, so a packet broken several ways is counted where
//! keepalived counts it): VRID (the receive path demultiplexes on it first), address family,
//! AH present iff expected, length, TTL/hop limit, the other decode errors, version, v2
//! authentication and Adver Int, address count, unicast/multicast destination, address list,
//! unicast source (and its TTL window).

use std::net::{IpAddr, Ipv6Addr};

use super::auth::{parse_ah, verify_ah, AhHeader};
use super::ipv4::{parse_ipv4_packet, Ipv4Meta};
use super::packet::{decode, peek_vrid, Advert, Auth, DecodeError, Version, MCAST_V4, VRRP_TTL};
use crate::family::Family;
use crate::units::{Centis, Vrid};

/// Defines [`Reason`] and [`Counters`] from one list, so a counter can't be forgotten.
macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident => $field:ident = $name:literal, )*) => {
        /// Why a received packet was dropped. Each has a stable name: the per-reason receive
        /// counter of `ha status`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Reason {
            $( $(#[$doc])* $variant, )*
        }

        impl Reason {
            /// Every reason, in counter order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),*];

            /// The stable counter name.
            pub fn name(self) -> &'static str {
                match self {
                    $(Reason::$variant => $name,)*
                }
            }
        }

        /// One receive counter per [`Reason`]; serialized under the stable names.
        #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
        pub struct Counters {
            $( #[serde(rename = $name)] pub $field: u64, )*
        }

        impl Counters {
            pub fn inc(&mut self, reason: Reason) {
                match reason {
                    $(Reason::$variant => self.$field += 1,)*
                }
            }

            pub fn get(&self, reason: Reason) -> u64 {
                match reason {
                    $(Reason::$variant => self.$field,)*
                }
            }

            /// `(name, count)` for every reason, in a stable order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                Reason::ALL.iter().map(move |r| (r.name(), self.get(*r)))
            }
        }
    };
}

reasons! {
    /// TTL / hop limit not 255 on a multicast instance, or outside a unicast peer's
    /// `min_ttl`..`max_ttl` (RFC 5798 §7.1; keepalived `ip_ttl_err`).
    Ttl => ttl = "ttl",
    /// Version differs from the instance's (keepalived `vers_err`).
    Version => version = "version",
    /// Packet type is not ADVERTISEMENT (keepalived `invalid_type_rcvd`).
    Type => type_ = "type",
    /// VRRP checksum wrong (keepalived `chk_err`).
    Checksum => checksum = "checksum",
    /// Shorter or longer than its headers and address count say (keepalived `packet_len_err`).
    Length => length = "length",
    /// Not for this instance's VRID: normal on a shared LAN, not an error.
    VridMismatch => vrid_mismatch = "vrid_mismatch",
    /// v2 auth type not 0, 1 or 2 (keepalived `invalid_authtype`).
    AuthType => auth_type = "auth_type",
    /// v2 auth type (or AH presence) differs from the configured one (keepalived
    /// `authtype_mismatch`).
    AuthTypeMismatch => auth_type_mismatch = "auth_type_mismatch",
    /// Wrong PASS password, AH ICV/SPI mismatch or AH replay (keepalived `auth_failure`).
    AuthFailure => auth_failure = "auth_failure",
    /// v2 Adver Int differs from ours: RFC 3768 §7.1 MUST discard (keepalived drops it
    /// uncounted; v3 never drops for this, the backup adopts the master's, RFC 5798 §6.4.2).
    AdverIntMismatch => adver_int_mismatch = "adver_int_mismatch",
    /// An interval of zero (would make the master-down timer meaningless).
    AdverIntZero => adver_int_zero = "adver_int_zero",
    /// Address count or list differs from our VIPs (RFC 5798 §7.1 MAY; keepalived
    /// `addr_list_err`, unless `skip_check_adv_addr` applies).
    AddrListMismatch => addr_list_mismatch = "addr_list_mismatch",
    /// Multicast destination on a unicast instance or the reverse (keepalived counts it in
    /// `addr_list_err`).
    WrongDestination => wrong_destination = "wrong_destination",
    /// Unicast source not in `unicast_peer` with `check_unicast_src` on.
    UnicastPeerNotAllowed => unicast_peer_not_allowed = "unicast_peer_not_allowed",
    /// Address family differs from the instance's.
    Family => family = "family",
    /// Not VRRP at all: another IP protocol, or AH protecting something else.
    NotVrrp => not_vrrp = "not_vrrp",
}

impl Reason {
    /// Whether the drop points at a fault (misconfiguration, attack, corruption), as opposed
    /// to traffic that simply is not ours.
    pub fn is_error(self) -> bool {
        !matches!(self, Reason::VridMismatch | Reason::NotVrrp)
    }

    /// The counter a decode failure is charged to.
    pub fn of_decode_error(e: &DecodeError) -> Reason {
        match e {
            DecodeError::Truncated { .. }
            | DecodeError::AddrCountMismatch { .. }
            | DecodeError::IpLengthMismatch { .. }
            | DecodeError::BadIhl(_)
            | DecodeError::NotIpv4(_)
            | DecodeError::Fragmented
            | DecodeError::AhLength(_) => Reason::Length,
            DecodeError::BadVersion(_) => Reason::Version,
            DecodeError::BadType(_) => Reason::Type,
            DecodeError::BadChecksum { .. } => Reason::Checksum,
            DecodeError::FamilyMismatch { .. } => Reason::Family,
            DecodeError::BadAuthType(_) | DecodeError::AuthOverIpv6(_) => Reason::AuthType,
            DecodeError::ZeroAdverInt => Reason::AdverIntZero,
            DecodeError::BadProtocol(_) | DecodeError::AhNextHeader(_) => Reason::NotVrrp,
        }
    }
}

/// A packet the receive checks refused, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped(pub Reason);

/// The authentication the instance is configured with (VRRPv2 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectAuth {
    None,
    /// `auth_type PASS`: the NUL-padded 8-byte password ([`super::packet::pad_key`]).
    Pass([u8; 8]),
    /// `auth_type AH`: the HMAC key (the padded password) and the highest AH sequence number
    /// accepted so far. The caller stores the accepted packet's sequence number after `Ok`
    /// (keepalived's anti-replay counter; it restarts at 0 when becoming MASTER).
    Ah {
        key: [u8; 8],
        last_seq: u32,
    },
}

/// A configured `unicast_peer` with its TTL window (keepalived's `min_ttl`/`max_ttl`, default
/// 0..=255).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    pub min_ttl: u8,
    pub max_ttl: u8,
}

/// What the local instance expects of adverts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxExpect {
    pub vrid: Vrid,
    pub version: Version,
    pub family: Family,
    /// Our configured interval: compared for v2 only.
    pub adver_int: Centis,
    /// Our virtual addresses, compared with the advert's list when `check_adv_addr`.
    pub vips: Vec<IpAddr>,
    /// keepalived's `check_addr`: true unless `skip_check_adv_addr` is set AND we are BACKUP
    /// AND the advert comes from the master we already follow. It also gates the unicast
    /// source check, as in keepalived.
    pub check_adv_addr: bool,
    pub auth: ExpectAuth,
    /// `Some` for a unicast instance: TTL need not be 255, the destination must be unicast.
    pub unicast_peers: Option<Vec<UnicastPeer>>,
    /// `check_unicast_src` (instance) or `vrrp_check_unicast_src` (global).
    pub check_unicast_src: bool,
}

/// The IPv4+AH parts needed to verify keepalived's AH ICV.
#[derive(Debug, Clone, Copy)]
pub struct RxAh<'a> {
    /// The whole IPv4 packet as received.
    pub packet: &'a [u8],
    pub ip: Ipv4Meta,
    pub header: AhHeader,
}

/// What the receive path knows about the packet besides its VRRP message.
#[derive(Debug, Clone, Copy)]
pub struct RxMeta<'a> {
    pub src: IpAddr,
    /// The IPv4 destination, or the IPv6 one from `IPV6_PKTINFO`.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit (`IPV6_HOPLIMIT`); `None` if the kernel did not say, which
    /// skips the check as keepalived does.
    pub hop_limit: Option<u8>,
    /// Present iff the packet came as IPv4 protocol 51.
    pub ah: Option<RxAh<'a>>,
}

/// Applies the receive checks to one packet. `decoded` is what [`super::packet::decode`] (or
/// the IPv4 / AH parsing before it) returned.
pub fn validate(
    meta: &RxMeta<'_>,
    decoded: Result<&Advert, &DecodeError>,
    expect: &RxExpect,
) -> Result<(), Dropped> {
    let drop = |r| Err(Dropped(r));
    // keepalived demultiplexes on the VRID before anything else.
    if let Ok(a) = decoded {
        if a.vrid != expect.vrid {
            return drop(Reason::VridMismatch);
        }
    }
    if Family::of(meta.src) != expect.family || Family::of(meta.dst) != expect.family {
        return drop(Reason::Family);
    }
    if meta.ah.is_some() != matches!(expect.auth, ExpectAuth::Ah { .. }) {
        return drop(Reason::AuthTypeMismatch);
    }
    let advert = match decoded {
        Ok(a) => Ok(a),
        Err(e) if Reason::of_decode_error(e) == Reason::Length => return drop(Reason::Length),
        Err(e) => Err(e),
    };
    // RFC 5798 §7.1: MUST verify TTL/hop limit 255 — not for unicast, which may be routed.
    if expect.unicast_peers.is_none() && meta.hop_limit.is_some_and(|t| t != VRRP_TTL) {
        return drop(Reason::Ttl);
    }
    let advert = advert.map_err(|e| Dropped(Reason::of_decode_error(e)))?;
    if advert.version != expect.version {
        return drop(Reason::Version);
    }
    if advert.version == Version::V2 {
        check_v2_auth(meta, advert, expect)?;
        // RFC 3768 §7.1: MUST discard on an Adver Int mismatch.
        if advert.adver_int != expect.adver_int {
            return drop(Reason::AdverIntMismatch);
        }
    }
    if expect.check_adv_addr && advert.addrs.len() != expect.vips.len() {
        return drop(Reason::AddrListMismatch);
    }
    if is_multicast(meta.dst) == expect.unicast_peers.is_some() {
        return drop(Reason::WrongDestination);
    }
    if expect.check_adv_addr {
        // RFC 5798 §7.1 MAY: the advertised addresses match ours (order does not matter).
        if expect.vips.iter().any(|v| !advert.addrs.contains(v)) {
            return drop(Reason::AddrListMismatch);
        }
        check_unicast_src(meta, expect)?;
    }
    Ok(())
}

/// An advert that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub advert: Advert,
    /// For AH: the sequence number to store as the new [`ExpectAuth::Ah`] `last_seq`.
    pub ah_seq: Option<u32>,
    /// A v3 IPv4 unicast advert whose checksum used 224.0.0.18 in the pseudo-header (keepalived
    /// before 2.0.8). keepalived 2.2.7 then switches its own sending to that form
    /// (`unicast_chksum_compat` auto); the engine should too.
    pub old_unicast_checksum: bool,
}

/// The whole receive path for what an IPv4 raw socket returns (IP header included):
/// parse, strip AH, decode, check. keepalived's v3 unicast checksum fallback is applied.
pub fn receive_ipv4(pkt: &[u8], expect: &RxExpect) -> Result<Accepted, Dropped> {
    let (ip, payload) = parse_ipv4_packet(pkt).map_err(|e| Dropped(Reason::of_decode_error(&e)))?;
    let (ah, msg) = if ip.protocol == super::packet::IPPROTO_AH {
        let (header, msg) = parse_ah(payload).map_err(|e| Dropped(Reason::of_decode_error(&e)))?;
        (
            Some(RxAh {
                packet: pkt,
                ip,
                header,
            }),
            msg,
        )
    } else {
        (None, payload)
    };
    let meta = RxMeta {
        src: ip.src_ip(),
        dst: ip.dst_ip(),
        hop_limit: Some(ip.ttl),
        ah,
    };
    let mut old_unicast_checksum = false;
    let mut decoded = decode(msg, meta.src, meta.dst);
    if matches!(decoded, Err(DecodeError::BadChecksum { .. }))
        && expect.unicast_peers.is_some()
        && expect.version == Version::V3
    {
        if let Ok(a) = decode(msg, meta.src, MCAST_V4.into()) {
            decoded = Ok(a);
            old_unicast_checksum = true;
        }
    }
    finish(&meta, msg, decoded, expect, old_unicast_checksum)
}

/// The whole receive path for what an IPv6 raw socket returns (the VRRP message only), with
/// the destination (`IPV6_PKTINFO`) and hop limit (`IPV6_HOPLIMIT`) from ancillary data.
pub fn receive_ipv6(
    msg: &[u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: Option<u8>,
    expect: &RxExpect,
) -> Result<Accepted, Dropped> {
    receive_message(msg, src.into(), dst.into(), hop_limit, expect)
}

/// The receive path for a VRRP message handed over by the XDP program (it checked the
/// basics in the kernel; everything is checked again here against the full expectations):
/// either family, with the addresses and TTL / hop limit the kernel saw.
pub fn receive_message(
    msg: &[u8],
    src: IpAddr,
    dst: IpAddr,
    hop_limit: Option<u8>,
    expect: &RxExpect,
) -> Result<Accepted, Dropped> {
    let meta = RxMeta {
        src,
        dst,
        hop_limit,
        ah: None,
    };
    finish(&meta, msg, decode(msg, src, dst), expect, false)
}

fn finish(
    meta: &RxMeta<'_>,
    msg: &[u8],
    decoded: Result<Advert, DecodeError>,
    expect: &RxExpect,
    old_unicast_checksum: bool,
) -> Result<Accepted, Dropped> {
    // keepalived looks the instance up by VRID as soon as the fixed header is there, so an
    // undecodable advert for another VRID is not ours to count.
    if let Some((_, vrid)) = peek_vrid(msg).filter(|_| msg.len() >= super::packet::HEADER_LEN) {
        if vrid != expect.vrid {
            return Err(Dropped(Reason::VridMismatch));
        }
    }
    validate(meta, decoded.as_ref(), expect)?;
    let advert = decoded.map_err(|e| Dropped(Reason::of_decode_error(&e)))?;
    Ok(Accepted {
        advert,
        ah_seq: meta.ah.map(|a| a.header.seq),
        old_unicast_checksum,
    })
}

fn is_multicast(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => a.is_multicast(),
        IpAddr::V6(a) => a.is_multicast(),
    }
}

/// VRRPv2 authentication as keepalived checks it (RFC 3768 §7.1 "MUST perform
/// authentication specified by Auth Type").
fn check_v2_auth(meta: &RxMeta<'_>, advert: &Advert, expect: &RxExpect) -> Result<(), Dropped> {
    match (expect.auth, advert.auth) {
        (ExpectAuth::None, Auth::None) => Ok(()),
        (ExpectAuth::Pass(want), Auth::Pass(got)) => {
            let diff = want
                .iter()
                .zip(got.iter())
                .fold(0u8, |d, (a, b)| d | (a ^ b));
            if diff == 0 {
                Ok(())
            } else {
                Err(Dropped(Reason::AuthFailure))
            }
        }
        (ExpectAuth::Ah { key, last_seq }, Auth::Ah) => {
            // `meta.ah` is present: checked against the expectation before.
            let Some(ah) = meta.ah else {
                return Err(Dropped(Reason::AuthTypeMismatch));
            };
            let unicast = expect.unicast_peers.is_some();
            if verify_ah(ah.packet, &ah.ip, &ah.header, &key, unicast).is_err()
                || ah.header.seq <= last_seq
            {
                return Err(Dropped(Reason::AuthFailure));
            }
            Ok(())
        }
        _ => Err(Dropped(Reason::AuthTypeMismatch)),
    }
}

/// keepalived's `check_unicast_src`: the source must be a configured peer, and the TTL within
/// that peer's window.
fn check_unicast_src(meta: &RxMeta<'_>, expect: &RxExpect) -> Result<(), Dropped> {
    let Some(peers) = &expect.unicast_peers else {
        return Ok(());
    };
    if !expect.check_unicast_src {
        return Ok(());
    }
    let Some(peer) = peers.iter().find(|p| p.addr == meta.src) else {
        return Err(Dropped(Reason::UnicastPeerNotAllowed));
    };
    match meta.hop_limit {
        Some(t) if t < peer.min_ttl || t > peer.max_ttl => Err(Dropped(Reason::Ttl)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
