//! The address grammar shared by `virtual_ipaddress`, `virtual_ipaddress_excluded` and
//! `static_ipaddress` (keepalived.conf(5), "Static routes/addresses/rules" and "VRRP
//! instance(s)"; keepalived `alloc_ipaddress`):
//!
//! `<IPADDR>[/<MASK>] [brd <IPADDR>|+|-] [dev <STRING>] [scope <SCOPE>] [label <LABEL>]
//!  [peer <IPADDR>[/<MASK>]] [home] [-nodad] [mngtmpaddr] [noprefixroute] [autojoin]
//!  [no_track] [track_group GROUP] [use_vmac] [preferred_lft nn|forever]`
//!
//! keepalived skips an address it cannot parse (and says so); an unknown option is reported
//! and ignored, the address is kept.

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use super::names;
use crate::config::ctx::Ctx;
use crate::config::preprocess::Word;
use crate::config::tree::Node;

/// Where an address appears: a few options only apply to one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrKind {
    /// `virtual_ipaddress` / `virtual_ipaddress_excluded`: `use_vmac` allowed.
    Virtual,
    /// `static_ipaddress`: `track_group` allowed.
    Static,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Broadcast {
    Address(Ipv4Addr),
    /// `brd +`: the address with all host bits set.
    SetHostBits,
    /// `brd -`: the address with all host bits cleared.
    ClearHostBits,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpAddress {
    pub addr: IpAddr,
    /// Prefix length; 32/128 when not given (keepalived's default).
    pub prefix_len: u8,
    pub broadcast: Option<Broadcast>,
    /// `dev`: the interface; `None` = the instance's interface (or `eth0` for static ones).
    pub dev: Option<String>,
    /// `scope` as a number (global 0, site 200, link 253, host 254, nowhere 255). IPv4 only.
    pub scope: Option<u8>,
    /// `label`, IPv4 only.
    pub label: Option<String>,
    /// `peer`: point-to-point peer; its prefix replaces the address prefix.
    pub peer: Option<IpAddr>,
    pub home: bool,
    /// `-nodad` (IFA_F_NODAD).
    pub nodad: bool,
    pub mngtmpaddr: bool,
    pub noprefixroute: bool,
    pub autojoin: bool,
    /// `no_track`: deleting the address does not take the instance out of MASTER.
    pub no_track: bool,
    /// `track_group` (static addresses only): the static track group name.
    pub track_group: Option<String>,
    /// `use_vmac` (virtual addresses only): configure it on a VMAC of `dev`.
    pub use_vmac: bool,
    /// `preferred_lft`: seconds, `None` = kernel default; `Some(u32::MAX)` = `forever`.
    pub preferred_lft: Option<u32>,
}

impl IpAddress {
    /// `ADDR/LEN` with no option given.
    pub fn new(addr: IpAddr, prefix_len: u8) -> Self {
        IpAddress {
            addr,
            prefix_len,
            broadcast: None,
            dev: None,
            scope: None,
            label: None,
            peer: None,
            home: false,
            nodad: false,
            mngtmpaddr: false,
            noprefixroute: false,
            autojoin: false,
            no_track: false,
            track_group: None,
            use_vmac: false,
            preferred_lft: None,
        }
    }

    pub fn is_ipv6(&self) -> bool {
        self.addr.is_ipv6()
    }
}

/// `ADDR[/LEN]`; keepalived decides the family by the presence of ':'.
/// Returns `None` (after reporting) for an invalid address; a bad prefix falls back to the
/// host prefix with a warning, as keepalived does.
pub fn parse_prefixed(w: &Word, cx: &mut Ctx, allow_prefix: bool) -> Option<(IpAddr, u8)> {
    let text = w.text.as_str();
    let v6 = text.contains(':');
    let max: u8 = if v6 { 128 } else { 32 };
    let (addr_s, plen) = match text.split_once('/') {
        Some((a, p)) if allow_prefix => (a, Some(p)),
        _ => (text, None),
    };
    let addr: Option<IpAddr> = if v6 {
        addr_s.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
    } else {
        addr_s.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    };
    let Some(addr) = addr else {
        cx.warn(w.loc, format!("VRRP parsed invalid IP {text}"))
            .fallback("skipping it");
        return None;
    };
    let mut len = max;
    if let Some(p) = plen {
        match p.parse::<u8>() {
            Ok(v) if v <= max && !p.starts_with('+') => len = v,
            _ => {
                cx.warn(
                    w.loc,
                    format!("Invalid address prefix len {p} for address {text}"),
                )
                .fallback(format!("using {max}"));
            }
        }
    }
    Some((addr, len))
}

/// One line of an address block. `line` is the whole line (the address is its first word).
pub fn parse_address(line: &Node, kind: AddrKind, cx: &mut Ctx) -> Option<IpAddress> {
    let words: Vec<&Word> = line.words().collect();
    let (addr, prefix_len) = parse_prefixed(words[0], cx, true)?;
    let addr_text = words[0].text.clone();
    let mut a = IpAddress::new(addr, prefix_len);
    let mut i = 1;
    while i < words.len() {
        let w = words[i];
        let opt = w.text.as_str();
        let takes_value = matches!(
            opt,
            "dev" | "scope" | "broadcast" | "brd" | "label" | "peer" | "preferred_lft"
        ) || (kind == AddrKind::Static && opt == "track_group");
        let value = words.get(i + 1).copied();
        if takes_value && value.is_none() {
            cx.warn(
                w.loc,
                format!("No {opt} parameter specified for {addr_text}"),
            )
            .fallback("skipping the address");
            return None;
        }
        match (opt, value) {
            ("dev", Some(v)) => {
                if a.dev.is_some() {
                    cx.warn(
                        v.loc,
                        format!(
                            "Cannot specify static ipaddress device more than once for {addr_text}"
                        ),
                    )
                    .fallback("skipping the address");
                    return None;
                }
                if !cx.env.interface_exists(&v.text) {
                    cx.warn(
                        v.loc,
                        format!(
                            "interface '{}' for ip address {addr_text} does not exist",
                            v.text
                        ),
                    )
                    .fallback("skipping the address");
                    return None;
                }
                a.dev = Some(v.text.clone());
                i += 1;
            }
            ("scope", Some(v)) => {
                match names::scope(&v.text) {
                    Some(s) => a.scope = Some(s),
                    None => {
                        cx.warn(
                            v.loc,
                            format!("Invalid scope '{}' specified for {addr_text}", v.text),
                        )
                        .expected("global, site, link, host, nowhere or 0..255")
                        .fallback("ignoring it");
                    }
                }
                i += 1;
            }
            ("broadcast" | "brd", Some(v)) => {
                if a.is_ipv6() {
                    cx.warn(
                        w.loc,
                        format!(
                            "cannot assign a broadcast address to the IPv6 address {addr_text}"
                        ),
                    )
                    .fallback("skipping the address");
                    return None;
                }
                a.broadcast = Some(match v.text.as_str() {
                    "+" => Broadcast::SetHostBits,
                    "-" => Broadcast::ClearHostBits,
                    t => match t.parse::<Ipv4Addr>() {
                        Ok(b) => Broadcast::Address(b),
                        Err(_) => {
                            cx.warn(v.loc, format!("invalid broadcast address {t}"))
                                .fallback("skipping the address");
                            return None;
                        }
                    },
                });
                i += 1;
            }
            ("label", Some(v)) => {
                if v.text.len() >= 16 {
                    cx.warn(
                        v.loc,
                        format!("Address label {} is longer than maximum length 15", v.text),
                    )
                    .fallback("skipping the address");
                    return None;
                }
                a.label = Some(v.text.clone());
                i += 1;
            }
            ("peer", Some(v)) => {
                i += 1;
                if a.peer.is_some() {
                    cx.warn(
                        v.loc,
                        format!("Peer {} - another peer has already been specified", v.text),
                    )
                    .fallback("ignoring it");
                } else {
                    parse_peer(&mut a, v, cx);
                }
            }
            ("preferred_lft", Some(v)) => {
                if v.text == "forever" {
                    a.preferred_lft = Some(u32::MAX);
                } else {
                    match v.text.parse::<u32>() {
                        Ok(n) => a.preferred_lft = Some(n),
                        Err(_) => {
                            cx.warn(
                                v.loc,
                                format!("Invalid preferred_lft {} for {addr_text}", v.text),
                            )
                            .expected("a number of seconds or 'forever'")
                            .fallback("ignoring it");
                        }
                    }
                }
                i += 1;
            }
            ("track_group", Some(v)) => {
                if a.track_group.is_some() {
                    cx.warn(v.loc, format!("track_group {} is a duplicate", v.text))
                        .fallback("ignoring the rest of the line");
                    break;
                }
                a.track_group = Some(v.text.clone());
                i += 1;
            }
            ("home", _) => a.home = true,
            ("-nodad", _) => a.nodad = true,
            ("mngtmpaddr", _) => a.mngtmpaddr = true,
            ("noprefixroute", _) => a.noprefixroute = true,
            ("autojoin", _) => a.autojoin = true,
            ("no_track", _) => a.no_track = true,
            ("use_vmac", _) if kind == AddrKind::Virtual => a.use_vmac = true,
            _ => {
                cx.warn(
                    w.loc,
                    format!("Unknown configuration entry '{opt}' for ip address"),
                )
                .fallback("ignoring it");
            }
        }
        i += 1;
    }
    if a.peer.is_some() && a.broadcast.is_some() {
        cx.warn(line.loc(), "Cannot specify broadcast and peer addresses")
            .fallback("ignoring the broadcast address");
        a.broadcast = None;
    } else if matches!(
        a.broadcast,
        Some(Broadcast::SetHostBits | Broadcast::ClearHostBits)
    ) && a.prefix_len > 30
    {
        cx.warn(
            line.loc(),
            format!(
                "Address prefix length {} too long for broadcast",
                a.prefix_len
            ),
        )
        .fallback("ignoring the broadcast address");
        a.broadcast = None;
    }
    if a.is_ipv6() {
        if a.scope.take().is_some() {
            cx.warn(
                line.loc(),
                format!("Cannot specify scope for IPv6 addresses ({addr_text})"),
            )
            .fallback("ignoring the scope");
        }
        if a.label.take().is_some() {
            cx.warn(
                line.loc(),
                format!("Cannot specify label for IPv6 addresses ({addr_text})"),
            )
            .fallback("ignoring the label");
        }
    }
    Some(a)
}

fn parse_peer(a: &mut IpAddress, v: &Word, cx: &mut Ctx) {
    // keepalived 2.2.7 parses the peer without a prefix ("peer <IPADDR>").
    let Some((peer, plen)) = parse_prefixed(v, cx, false) else {
        return;
    };
    if peer.is_ipv6() != a.is_ipv6() {
        cx.warn(
            v.loc,
            format!("Peer address {} does not match address family", v.text),
        )
        .fallback("ignoring it");
        return;
    }
    let host = if a.is_ipv6() { 128 } else { 32 };
    if a.prefix_len != host {
        cx.warn(
            v.loc,
            "Cannot specify address prefix when specifying peer address",
        )
        .fallback("using the peer's prefix");
    }
    a.prefix_len = plen;
    a.peer = Some(peer);
}

/// Parses every line of an address block into `out`.
pub fn parse_block(n: &Node, kind: AddrKind, cx: &mut Ctx, out: &mut Vec<IpAddress>) {
    for line in cx.block(n) {
        if let Some(a) = parse_address(line, kind, cx) {
            out.push(a);
        }
    }
}
