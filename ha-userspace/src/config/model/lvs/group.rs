//! `virtual_server_group NAME { IP [PORT] | IP-RANGE [PORT] | fwmark N [inet|inet6] }`
//! (keepalived.conf(5), "Virtual server group(s)"): one definition shared by several
//! virtual servers, each entry becoming one IPVS service.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use super::read;
use crate::config::ctx::Ctx;
use crate::config::tree::Node;
pub use crate::family::Family;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualServerGroup {
    pub name: String,
    pub entries: Vec<GroupEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupEntry {
    /// Addresses `start..=end` (a single address has `start == end`), all on `port`
    /// (`None`: no port, only valid for persistent services).
    Range {
        start: IpAddr,
        end: IpAddr,
        port: Option<u16>,
    },
    /// A firewall mark; the family is needed only when all real servers are tunnelled.
    Fwmark { mark: u32, family: Option<Family> },
}

impl VirtualServerGroup {
    pub fn has_family(&self, f: Family) -> bool {
        self.entries.iter().any(|e| match e {
            GroupEntry::Range { start, .. } => Family::of(*start) == f,
            GroupEntry::Fwmark { family, .. } => *family == Some(f),
        })
    }
    pub fn has_fwmarks(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e, GroupEntry::Fwmark { .. }))
    }
    pub fn has_addresses(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e, GroupEntry::Range { .. }))
    }
    fn fwmark_without_family(&self) -> bool {
        self.entries
            .iter()
            .any(|e| matches!(e, GroupEntry::Fwmark { family: None, .. }))
    }
}

pub fn parse(n: &Node, cx: &mut Ctx, groups: &mut Vec<VirtualServerGroup>) {
    let Some(name) = cx.arg(n, 0).map(|w| w.text.clone()) else {
        return;
    };
    let mut g = VirtualServerGroup {
        name,
        entries: Vec::new(),
    };
    for line in cx.block(n) {
        if let Some(e) = entry(line, cx, &g.name) {
            g.entries.push(e);
        }
    }
    if g.entries.is_empty() {
        cx.warn(
            n.loc(),
            format!("virtual server group {} has no entries", g.name),
        )
        .fallback("removing it");
        return;
    }
    if g.has_family(Family::V4) && g.has_family(Family::V6) && g.fwmark_without_family() {
        cx.warn(
            n.loc(),
            format!(
                "virtual server group {} cannot have IPv4, IPv6 and fwmark without family",
                g.name
            ),
        )
        .expected("'fwmark N inet' or 'fwmark N inet6'")
        .fallback("removing the group");
        return;
    }
    groups.push(g);
}

fn entry(line: &Node, cx: &mut Ctx, group: &str) -> Option<GroupEntry> {
    if line.name() == "fwmark" {
        let mark = read::unsigned(cx, line, 0, 0, u32::MAX)?;
        let family = match line.args.get(1) {
            None => None,
            Some(w) if w.text == "inet" => Some(Family::V4),
            Some(w) if w.text == "inet6" => Some(Family::V6),
            Some(w) => {
                cx.warn(
                    w.loc,
                    format!("({group}): fwmark '{mark}' family {} unknown", w.text),
                )
                .expected("inet or inet6")
                .fallback("ignoring the entry");
                return None;
            }
        };
        return Some(GroupEntry::Fwmark { mark, family });
    }
    let text = line.name();
    let port = match line.args.first() {
        None => None,
        Some(w) => match read::port(&w.text) {
            Ok(p) => p,
            Err(e) => {
                cx.warn(w.loc, format!("{e} in virtual server group {group}"))
                    .expected("a port in 1..65535")
                    .fallback("skipping the entry");
                return None;
            }
        },
    };
    match parse_range(text) {
        Ok((start, end)) => Some(GroupEntry::Range { start, end, port }),
        Err(why) => {
            cx.warn(line.loc(), format!("{why} in virtual server group {group}"))
                .fallback("skipping the entry");
            None
        }
    }
}

/// `A`, `A-N` (last IPv4 octet / last IPv6 group in hex), `A-B` (full end address) or
/// `A/len` (the whole network, host bits of A must be zero).
pub fn parse_range(text: &str) -> Result<(IpAddr, IpAddr), String> {
    if let Some((a, len)) = text.split_once('/') {
        let start: IpAddr = a
            .parse()
            .map_err(|_| format!("invalid IP address '{text}'"))?;
        let max = if start.is_ipv4() { 32 } else { 128 };
        let len: u32 = match len.parse() {
            Ok(l) if l >= 1 && l <= max => l,
            _ => return Err(format!("invalid netmask in '{text}'")),
        };
        let host = |bits: u32| {
            if len >= bits {
                0u128
            } else {
                (1u128 << (bits - len)) - 1
            }
        };
        return match start {
            IpAddr::V4(v4) => {
                let (s, h) = (u32::from(v4) as u128, host(32));
                if s & h != 0 {
                    return Err(format!("address mask bits not empty in '{text}'"));
                }
                Ok((start, IpAddr::V4(Ipv4Addr::from((s | h) as u32))))
            }
            IpAddr::V6(v6) => {
                let (s, h) = (u128::from(v6), host(128));
                if s & h != 0 {
                    return Err(format!("address mask bits not empty in '{text}'"));
                }
                Ok((start, IpAddr::V6(Ipv6Addr::from(s | h))))
            }
        };
    }
    let Some((a, b)) = text.split_once('-') else {
        let ip: IpAddr = text
            .parse()
            .map_err(|_| format!("invalid IP address '{text}'"))?;
        return Ok((ip, ip));
    };
    let start: IpAddr = a
        .parse()
        .map_err(|_| format!("invalid IP address '{text}'"))?;
    let full_end = match start {
        IpAddr::V4(_) => b.contains('.'),
        IpAddr::V6(_) => b.contains(':'),
    };
    if full_end {
        let end: IpAddr = b
            .parse()
            .map_err(|_| format!("invalid range end in '{text}'"))?;
        if end.is_ipv4() != start.is_ipv4() {
            return Err(format!("range address families do not match in '{text}'"));
        }
        if end < start {
            return Err(format!(
                "address range end is less than address range start in '{text}'"
            ));
        }
        return Ok((start, end));
    }
    let end = match start {
        IpAddr::V4(v4) => {
            let last: u8 = b
                .parse()
                .map_err(|_| format!("invalid range end in '{text}'"))?;
            let o = v4.octets();
            if o[3] >= last {
                return Err(format!(
                    "address range end is not greater than address range start in '{text}'"
                ));
            }
            IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], last))
        }
        IpAddr::V6(v6) => {
            let last =
                u16::from_str_radix(b, 16).map_err(|_| format!("invalid range end in '{text}'"))?;
            let mut s = v6.segments();
            if s[7] >= last {
                return Err(format!(
                    "address range end is not greater than address range start in '{text}'"
                ));
            }
            s[7] = last;
            IpAddr::V6(Ipv6Addr::from(s))
        }
    };
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(t: &str) -> Result<(String, String), String> {
        parse_range(t).map(|(a, b)| (a.to_string(), b.to_string()))
    }

    #[test]
    fn range_forms_of_the_man_page() {
        assert_eq!(r("192.168.200.1-10").unwrap().1, "192.168.200.10");
        assert_eq!(
            r("192.168.200.250-192.168.201.10").unwrap().1,
            "192.168.201.10"
        );
        assert_eq!(r("192.168.202.8/29").unwrap().1, "192.168.202.15");
        assert_eq!(r("2001:db8::1-ff").unwrap().1, "2001:db8::ff");
        assert_eq!(r("2001:db8::/120").unwrap().1, "2001:db8::ff");
        assert_eq!(r("10.0.0.5").unwrap().1, "10.0.0.5");
    }

    #[test]
    fn bad_ranges_are_refused() {
        assert!(r("10.0.0.10-5").unwrap_err().contains("not greater"));
        assert!(r("10.0.0.1/33").unwrap_err().contains("netmask"));
        assert!(r("10.0.0.1/24").unwrap_err().contains("mask bits"));
        assert!(r("10.0.0.9-10.0.0.1").unwrap_err().contains("less than"));
        assert!(r("10.0.0.1-2001:db8::1").is_err());
        assert!(r("bogus").is_err());
    }
}
