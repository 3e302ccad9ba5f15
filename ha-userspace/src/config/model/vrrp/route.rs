//! The route grammar shared by `virtual_routes` and `static_routes` (keepalived.conf(5),
//! "Static routes/addresses/rules"; keepalived `alloc_route`): `ip route add` syntax without
//! abbreviations. keepalived drops a route it cannot parse and says why.

use std::net::IpAddr;

use serde::Serialize;

use super::address::parse_prefixed;
use super::names::{self, RouteType};
use crate::config::ctx::Ctx;
use crate::config::preprocess::Word;
use crate::config::tree::Node;
pub use crate::family::Family;

/// A route destination or `from` prefix; `None` address = `default`/`any`/`all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prefix {
    pub addr: Option<IpAddr>,
    pub len: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Metric {
    /// The `ip route` metric keyword: mtu, advmss, rtt, window, ...
    pub name: String,
    /// `lock` given before the value.
    pub lock: bool,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Nexthop {
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    /// 1..=256.
    pub weight: Option<u16>,
    pub onlink: bool,
    pub realms: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub family: Family,
    pub dst: Prefix,
    /// `type` word before the destination (blackhole, unreachable, ...); default unicast.
    pub route_type: RouteType,
    /// `src`: preferred source address.
    pub src: Option<IpAddr>,
    /// `from`: source prefix (IPv6 only).
    pub from: Option<Prefix>,
    /// `via` (or the deprecated `gw`).
    pub via: Option<IpAddr>,
    /// `dev` / `oif`.
    pub dev: Option<String>,
    /// Default main (254).
    pub table: u32,
    /// `metric` / `priority` / `preference`.
    pub metric: Option<u32>,
    pub scope: Option<u8>,
    /// keepalived forces its own protocol (18) on tracked routes.
    pub protocol: Option<u8>,
    pub tos: Option<u8>,
    pub onlink: bool,
    pub metrics: Vec<Metric>,
    pub nexthops: Vec<Nexthop>,
    pub vrf: Option<String>,
    /// `append` (ip route append) rather than the default prepend.
    pub append: bool,
    pub no_track: bool,
    pub track_group: Option<String>,
}

/// Route metric keywords that take an optional `lock` and one value.
const METRICS: &[&str] = &[
    "mtu",
    "advmss",
    "rtt",
    "rttvar",
    "reordering",
    "cwnd",
    "ssthresh",
    "rto_min",
    "congctl",
];
/// Keywords that take one value without `lock`.
const SIMPLE: &[&str] = &[
    "window",
    "initcwnd",
    "initrwnd",
    "hoplimit",
    "expires",
    "quickack",
    "pref",
    "fastopen_no_cookie",
    "ttl-propagate",
    "realms",
];

struct Cursor<'a> {
    words: Vec<&'a Word>,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn next_value(&mut self, cx: &mut Ctx, what: &str) -> Option<&'a Word> {
        self.i += 1;
        let w = self.words.get(self.i).copied();
        if w.is_none() {
            let at = self.words[self.i - 1].loc;
            cx.warn(at, format!("'{what}' needs a value in route"))
                .fallback("skipping the route");
        }
        w
    }
}

fn set_family(family: &mut Option<Family>, f: Family, at: &Word, cx: &mut Ctx) -> bool {
    match family {
        None => {
            *family = Some(f);
            true
        }
        Some(g) if *g == f => true,
        Some(_) => {
            cx.warn(at.loc, "Cannot mix IPv4 and IPv6 addresses for route")
                .fallback("skipping the route");
            false
        }
    }
}

fn prefix(w: &Word, cx: &mut Ctx) -> Option<Prefix> {
    if matches!(w.text.as_str(), "default" | "any" | "all") {
        return Some(Prefix { addr: None, len: 0 });
    }
    if w.text == "default6" {
        cx.warn(
            w.loc,
            "'default6' is deprecated - please replace with 'inet6 default'",
        );
        return Some(Prefix { addr: None, len: 0 });
    }
    parse_prefixed(w, cx, true).map(|(a, len)| Prefix { addr: Some(a), len })
}

fn interface(w: &Word, cx: &mut Ctx) -> Option<String> {
    if !cx.env.interface_exists(&w.text) {
        cx.warn(
            w.loc,
            format!("interface '{}' for route does not exist", w.text),
        )
        .fallback("skipping the route");
        return None;
    }
    Some(w.text.clone())
}

/// One route line; `None` when keepalived would drop it.
pub fn parse_route(line: &Node, allow_track_group: bool, cx: &mut Ctx) -> Option<Route> {
    let mut c = Cursor {
        words: line.words().collect(),
        i: 0,
    };
    let mut family: Option<Family> = None;
    let mut r = Route {
        family: Family::V4,
        dst: Prefix { addr: None, len: 0 },
        route_type: RouteType::Unicast,
        src: None,
        from: None,
        via: None,
        dev: None,
        table: 254,
        metric: None,
        scope: None,
        protocol: None,
        tos: None,
        onlink: false,
        metrics: Vec::new(),
        nexthops: Vec::new(),
        vrf: None,
        append: false,
        no_track: false,
        track_group: None,
    };
    let mut have_dst = false;
    let mut swallowed: Option<String> = None;
    let mut nexthop_at = None;
    while c.i < c.words.len() {
        let w = c.words[c.i];
        let kw = w.text.as_str();
        match kw {
            "inet" | "inet6" => {
                let f = if kw == "inet" { Family::V4 } else { Family::V6 };
                if !set_family(&mut family, f, w, cx) {
                    return None;
                }
                // keepalived 2.2.7 quirk: `inet`/`inet6` also swallow the word after them
                // (its loop increments twice), so `inet6 2001:db8::/64 ...` loses the
                // destination. Mimicked so that both agree on the result.
                if let Some(next) = c.words.get(c.i + 1) {
                    swallowed = Some(next.text.clone());
                }
                c.i += 1;
            }
            "src" => {
                let v = c.next_value(cx, kw)?;
                let Ok(a) = v.text.parse::<IpAddr>() else {
                    cx.warn(v.loc, format!("invalid route src address {}", v.text))
                        .fallback("skipping the route");
                    return None;
                };
                if !set_family(&mut family, Family::of(a), v, cx) {
                    return None;
                }
                r.src = Some(a);
            }
            "via" | "gw" => {
                if kw == "gw" {
                    cx.warn(w.loc, "\"gw\" for routes is deprecated. Please use \"via\"");
                }
                let mut v = c.next_value(cx, kw)?;
                if v.text == "inet" || v.text == "inet6" {
                    let f = if v.text == "inet" {
                        Family::V4
                    } else {
                        Family::V6
                    };
                    if !set_family(&mut family, f, v, cx) {
                        return None;
                    }
                    v = c.next_value(cx, kw)?;
                }
                let Ok(a) = v.text.parse::<IpAddr>() else {
                    cx.warn(v.loc, format!("invalid route via address {}", v.text))
                        .fallback("skipping the route");
                    return None;
                };
                if !set_family(&mut family, Family::of(a), v, cx) {
                    return None;
                }
                r.via = Some(a);
            }
            "from" => {
                let v = c.next_value(cx, kw)?;
                let p = prefix(v, cx)?;
                match p.addr {
                    Some(a) if a.is_ipv6() => {}
                    _ => {
                        cx.warn(
                            v.loc,
                            format!("route from address only supported with IPv6 ({})", v.text),
                        )
                        .fallback("skipping the route");
                        return None;
                    }
                }
                if !set_family(&mut family, Family::V6, v, cx) {
                    return None;
                }
                r.from = Some(p);
            }
            "tos" | "dsfield" => {
                let v = c.next_value(cx, kw)?;
                let Some(t) = names::dsfield(&v.text) else {
                    cx.warn(v.loc, format!("TOS value {} is invalid", v.text))
                        .fallback("skipping the route");
                    return None;
                };
                r.tos = Some(t);
            }
            "table" => {
                let v = c.next_value(cx, kw)?;
                let Some(t) = names::table(&v.text) else {
                    cx.warn(
                        v.loc,
                        format!("Routing table {} not found for route", v.text),
                    )
                    .fallback("skipping the route");
                    return None;
                };
                r.table = t;
            }
            "protocol" => {
                let v = c.next_value(cx, kw)?;
                let Some(p) = names::protocol(&v.text) else {
                    cx.warn(
                        v.loc,
                        format!("Protocol {} not found or invalid for route", v.text),
                    )
                    .fallback("skipping the route");
                    return None;
                };
                r.protocol = Some(p);
            }
            "scope" => {
                let v = c.next_value(cx, kw)?;
                let Some(s) = names::scope(&v.text) else {
                    cx.warn(
                        v.loc,
                        format!("Scope {} not found or invalid for route", v.text),
                    )
                    .fallback("skipping the route");
                    return None;
                };
                r.scope = Some(s);
            }
            "metric" | "priority" | "preference" => {
                let v = c.next_value(cx, kw)?;
                let Some(m) = names::number(&v.text, u64::from(u32::MAX)) else {
                    cx.warn(
                        v.loc,
                        format!("Invalid metric {} specified for route", v.text),
                    )
                    .fallback("skipping the route");
                    return None;
                };
                r.metric = Some(m as u32);
            }
            "dev" | "oif" => {
                let v = c.next_value(cx, kw)?;
                r.dev = Some(interface(v, cx)?);
            }
            "vrf" => {
                let v = c.next_value(cx, kw)?;
                r.vrf = Some(v.text.clone());
            }
            "onlink" => r.onlink = true,
            "append" => r.append = true,
            "prepend" => r.append = false,
            "no_track" => r.no_track = true,
            "track_group" if allow_track_group => {
                let v = c.next_value(cx, kw)?;
                if r.track_group.is_some() {
                    cx.warn(v.loc, format!("track_group {} is a duplicate", v.text));
                    break;
                }
                r.track_group = Some(v.text.clone());
            }
            "features" => {
                let v = c.next_value(cx, kw)?;
                if v.text != "ecn" {
                    cx.warn(v.loc, format!("feature {} not supported", v.text))
                        .fallback("ignoring it");
                } else {
                    r.metrics.push(Metric {
                        name: "features".into(),
                        lock: false,
                        value: "ecn".into(),
                    });
                }
            }
            "or" => {
                cx.warn(
                    w.loc,
                    "\"or\" for routes is deprecated. Please use \"nexthop\"",
                );
                let v = c.next_value(cx, kw)?;
                let Ok(a) = v.text.parse::<IpAddr>() else {
                    cx.warn(v.loc, format!("Invalid \"or\" address {}", v.text))
                        .fallback("skipping the route");
                    return None;
                };
                if r.nexthops.is_empty() {
                    r.nexthops.push(Nexthop {
                        via: r.via.take(),
                        ..Nexthop::default()
                    });
                    r.nexthops.push(Nexthop {
                        via: Some(a),
                        ..Nexthop::default()
                    });
                } else {
                    cx.warn(
                        v.loc,
                        "\"or\" route already specified - ignoring subsequent",
                    );
                }
            }
            "nexthop" => {
                nexthop_at = Some(c.i);
                break;
            }
            _ if METRICS.contains(&kw) || SIMPLE.contains(&kw) => {
                let mut v = c.next_value(cx, kw)?;
                let mut lock = false;
                if METRICS.contains(&kw) && v.text == "lock" {
                    lock = true;
                    v = c.next_value(cx, kw)?;
                }
                if !metric_value_ok(kw, &v.text) {
                    cx.warn(
                        v.loc,
                        format!("Invalid {kw} {} specified for route", v.text),
                    )
                    .fallback("skipping the route");
                    return None;
                }
                let implied = match kw {
                    "expires" | "pref" => Some(Family::V6),
                    "realms" => Some(Family::V4),
                    _ => None,
                };
                if let Some(f) = implied {
                    if !set_family(&mut family, f, v, cx) {
                        return None;
                    }
                }
                r.metrics.push(Metric {
                    name: kw.to_string(),
                    lock,
                    value: v.text.clone(),
                });
            }
            _ => {
                // The destination, optionally after "to" and/or a route type.
                let mut dw = w;
                if kw == "to" {
                    dw = c.next_value(cx, kw)?;
                }
                if let Some(t) = names::route_type(&dw.text) {
                    r.route_type = t;
                    dw = c.next_value(cx, "type")?;
                }
                let Some(p) = prefix_quiet(dw) else {
                    cx.warn(dw.loc, format!("unknown route keyword {}", dw.text))
                        .fallback("skipping the route");
                    return None;
                };
                if let Some(a) = p.addr {
                    if family.is_some_and(|f| f != Family::of(a)) {
                        cx.warn(
                            dw.loc,
                            format!("Cannot mix IPv4 and IPv6 addresses for route ({})", dw.text),
                        )
                        .fallback("skipping the route");
                        return None;
                    }
                    family = Some(Family::of(a));
                }
                r.dst = p;
                have_dst = true;
            }
        }
        c.i += 1;
    }
    if let Some(at) = nexthop_at {
        c.i = at;
        parse_nexthops(&mut c, &mut r, &mut family, cx)?;
    }
    if !have_dst {
        let d = cx.warn(line.loc(), "Route must have a destination");
        if let Some(w) = &swallowed {
            d.expected(format!(
                "the destination after the word following inet/inet6 (keepalived skips '{w}'; put inet/inet6 last)"
            ));
        }
        d.fallback("skipping the route");
        return None;
    }
    if !r.no_track {
        if r.protocol.is_some_and(|p| p != names::RTPROT_KEEPALIVED) {
            cx.warn(
                line.loc(),
                "Route cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol",
            )
            .expected("no 'protocol', or 'no_track'");
        }
        r.protocol = Some(names::RTPROT_KEEPALIVED);
        if r.dev.is_none() {
            cx.warn(
                line.loc(),
                format!(
                    "Warning - cannot track route {} with no interface specified, not tracking",
                    line.name()
                ),
            )
            .expected("'dev IFNAME' or 'no_track'");
            r.no_track = true;
        }
    }
    if r.track_group.is_some() && r.dev.is_none() {
        cx.warn(
            line.loc(),
            "Static route cannot have track group if no oif specified",
        )
        .fallback("not tracking it");
        r.track_group = None;
    }
    r.family = family.unwrap_or(Family::V4);
    Some(r)
}

/// A destination word: an address/prefix or default/any/all, without reporting. Routes also
/// take the deprecated `default6`.
fn prefix_quiet(w: &Word) -> Option<Prefix> {
    if w.text == "default6" {
        return Some(Prefix { addr: None, len: 0 });
    }
    prefix_word(w)
}

/// `ADDR[/LEN]` (LEN defaults to the full length) or `default`/`any`/`all` (the zero prefix),
/// as routes and rules write prefixes.
pub(super) fn prefix_word(w: &Word) -> Option<Prefix> {
    if matches!(w.text.as_str(), "default" | "any" | "all") {
        return Some(Prefix { addr: None, len: 0 });
    }
    let (a, l) = match w.text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (w.text.as_str(), None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv6() { 128 } else { 32 };
    let len = match l {
        Some(l) => l.parse::<u8>().ok().filter(|v| *v <= max)?,
        None => max,
    };
    Some(Prefix {
        addr: Some(addr),
        len,
    })
}

fn metric_value_ok(kw: &str, v: &str) -> bool {
    match kw {
        "hoplimit" => names::number(v, 255).is_some(),
        "quickack" | "fastopen_no_cookie" => names::number(v, 1).is_some(),
        "pref" => matches!(v, "low" | "medium" | "high") || names::number(v, 255).is_some(),
        "ttl-propagate" => matches!(v, "enabled" | "disabled"),
        "congctl" => true,
        "realms" => {
            let ok = |s: &str| s.is_empty() || names::number(s, 0xffff).is_some();
            match v.split_once('/') {
                Some((a, b)) => ok(a) && ok(b),
                None => ok(v),
            }
        }
        // rtt, rttvar, rto_min accept an optional "ms"/"s" suffix.
        "rtt" | "rttvar" | "rto_min" => {
            let n = v.trim_end_matches("ms").trim_end_matches('s');
            names::number(n, u64::from(u32::MAX)).is_some()
        }
        _ => names::number(v, u64::from(u32::MAX)).is_some(),
    }
}

fn parse_nexthops(
    c: &mut Cursor,
    r: &mut Route,
    family: &mut Option<Family>,
    cx: &mut Ctx,
) -> Option<()> {
    if !r.nexthops.is_empty() {
        cx.warn(
            c.words[c.i].loc,
            "Cannot specify nexthops with \"or\" route",
        )
        .fallback("ignoring the nexthops");
        return Some(());
    }
    while c.i < c.words.len() && c.words[c.i].text == "nexthop" {
        c.i += 1;
        let mut nh = Nexthop::default();
        while c.i < c.words.len() {
            let w = c.words[c.i];
            match w.text.as_str() {
                "via" => {
                    let mut v = c.next_value(cx, "via")?;
                    if v.text == "inet" || v.text == "inet6" {
                        v = c.next_value(cx, "via")?;
                    }
                    let Ok(a) = v.text.parse::<IpAddr>() else {
                        cx.warn(v.loc, format!("invalid nexthop address {}", v.text))
                            .fallback("skipping the route");
                        return None;
                    };
                    if family.is_some_and(|f| f != Family::of(a)) {
                        cx.warn(v.loc, "Address family mismatch for next hop")
                            .fallback("skipping the route");
                        return None;
                    }
                    *family = Some(Family::of(a));
                    nh.via = Some(a);
                }
                "dev" => {
                    let v = c.next_value(cx, "dev")?;
                    nh.dev = Some(interface(v, cx)?);
                }
                "weight" => {
                    let v = c.next_value(cx, "weight")?;
                    match names::number(&v.text, 256) {
                        Some(0) | None => {
                            cx.warn(
                                v.loc,
                                format!("Invalid weight {} specified for route", v.text),
                            )
                            .expected("1..256")
                            .fallback("skipping the route");
                            return None;
                        }
                        Some(n) => nh.weight = Some(n as u16),
                    }
                }
                "onlink" => nh.onlink = true,
                "realms" => {
                    let v = c.next_value(cx, "realms")?;
                    nh.realms = Some(v.text.clone());
                }
                _ => break,
            }
            c.i += 1;
        }
        r.nexthops.push(nh);
    }
    if let Some(w) = c.words.get(c.i) {
        cx.warn(
            w.loc,
            format!("Route has trailing nonsense after nexthops - {}", w.text),
        )
        .fallback("skipping the route");
        return None;
    }
    Some(())
}

pub fn parse_block(n: &Node, allow_track_group: bool, cx: &mut Ctx, out: &mut Vec<Route>) {
    for line in cx.block(n) {
        if let Some(r) = parse_route(line, allow_track_group, cx) {
            out.push(r);
        }
    }
}
