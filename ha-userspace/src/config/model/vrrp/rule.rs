//! The rule grammar shared by `virtual_rules` and `static_rules` (keepalived.conf(5),
//! "Static routes/addresses/rules"; keepalived `alloc_rule`): `ip rule add` syntax.
//! keepalived drops a rule it cannot parse; a rule without a preference gets one assigned,
//! with a warning (rules are ordered by preference, so it is probably not what you want).

use serde::Serialize;

use super::names::{self, RTPROT_KEEPALIVED};
use super::route::{prefix_word, Family, Prefix};
use crate::config::ctx::Ctx;
use crate::config::preprocess::Word;
use crate::config::tree::Node;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// `table N` / `lookup N` / `l3mdev`.
    Table(u32),
    L3mdev,
    Goto(u32),
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub family: Family,
    pub from: Option<Prefix>,
    pub to: Option<Prefix>,
    /// `not`: invert the selector.
    pub not: bool,
    pub action: RuleAction,
    /// `preference` / `priority` / `order`; keepalived assigns one when missing.
    pub preference: Option<u32>,
    pub tos: Option<u8>,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    /// `iif` / `dev`.
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub realms: Option<String>,
    pub suppress_prefixlength: Option<u32>,
    pub suppress_ifgroup: Option<String>,
    pub tunnel_id: Option<u64>,
    pub uidrange: Option<(u32, u32)>,
    pub protocol: Option<u8>,
    pub ipproto: Option<String>,
    pub sport: Option<PortRange>,
    pub dport: Option<PortRange>,
    pub no_track: bool,
    pub track_group: Option<String>,
}

/// `START-END`; keepalived 2.2.7 rejects a single port.
fn port_range(s: &str) -> Option<PortRange> {
    let (a, b) = s.split_once('-')?;
    Some(PortRange {
        start: a.parse().ok()?,
        end: b.parse().ok()?,
    })
}

fn fwmark(s: &str) -> Option<(u32, Option<u32>)> {
    let num = |t: &str| names::number(t, u64::from(u32::MAX)).map(|v| v as u32);
    match s.split_once('/') {
        Some((m, k)) => Some((num(m)?, Some(num(k)?))),
        None => Some((num(s)?, None)),
    }
}

/// One rule line; `None` when keepalived would drop it.
pub fn parse_rule(line: &Node, allow_track_group: bool, cx: &mut Ctx) -> Option<Rule> {
    let words: Vec<&Word> = line.words().collect();
    let mut family: Option<Family> = None;
    let mut action: Option<RuleAction> = None;
    let mut table_option = false;
    let mut r = Rule {
        family: Family::V4,
        from: None,
        to: None,
        not: false,
        action: RuleAction::Nop,
        preference: None,
        tos: None,
        fwmark: None,
        fwmask: None,
        iif: None,
        oif: None,
        realms: None,
        suppress_prefixlength: None,
        suppress_ifgroup: None,
        tunnel_id: None,
        uidrange: None,
        protocol: None,
        ipproto: None,
        sport: None,
        dport: None,
        no_track: false,
        track_group: None,
    };
    let drop = |cx: &mut Ctx, w: &Word, msg: String| {
        cx.warn(w.loc, msg).fallback("skipping the rule");
    };
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        let kw = w.text.as_str();
        let takes_value = !matches!(
            kw,
            "inet"
                | "inet6"
                | "not"
                | "l3mdev"
                | "no_track"
                | "nop"
                | "blackhole"
                | "unreachable"
                | "prohibit"
        );
        let v = if takes_value {
            i += 1;
            match words.get(i) {
                Some(v) => *v,
                None => {
                    drop(cx, w, format!("'{kw}' needs a value in rule"));
                    return None;
                }
            }
        } else {
            w
        };
        let mut set_family = |f: Family, cx: &mut Ctx| -> bool {
            if family.is_some_and(|g| g != f) {
                drop(cx, v, "rule specification has mixed IPv4 and IPv6".into());
                return false;
            }
            family = Some(f);
            true
        };
        let mut set_action = |a: RuleAction, cx: &mut Ctx| -> bool {
            if action.is_some() {
                drop(
                    cx,
                    v,
                    "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable/l3mdev for rule".into(),
                );
                return false;
            }
            action = Some(a);
            true
        };
        match kw {
            "inet" | "inet6" => {
                let f = if kw == "inet" { Family::V4 } else { Family::V6 };
                if !set_family(f, cx) {
                    return None;
                }
                // keepalived 2.2.7 quirk: the word after inet/inet6 is skipped (see route.rs).
                i += 1;
            }
            "from" | "to" => {
                let Some(p) = prefix_word(v) else {
                    drop(cx, v, format!("Invalid rule {kw} address {}", v.text));
                    return None;
                };
                if let Some(a) = p.addr {
                    if !set_family(Family::of(a), cx) {
                        return None;
                    }
                }
                if kw == "from" {
                    r.from = Some(p);
                } else {
                    r.to = Some(p);
                }
            }
            "table" | "lookup" => {
                let Some(t) = names::table(&v.text) else {
                    drop(
                        cx,
                        v,
                        format!("Routing table {} not found for rule", v.text),
                    );
                    return None;
                };
                if t == 0 {
                    drop(cx, v, "Table 0 is not valid".into());
                    return None;
                }
                if !set_action(RuleAction::Table(t), cx) {
                    return None;
                }
            }
            "not" => r.not = true,
            "preference" | "order" | "priority" => {
                let Some(p) = names::number(&v.text, u64::from(u32::MAX)) else {
                    drop(
                        cx,
                        v,
                        format!("Invalid rule preference {} specified", v.text),
                    );
                    return None;
                };
                r.preference = Some(p as u32);
            }
            "tos" | "dsfield" => {
                let Some(t) = names::dsfield(&v.text) else {
                    drop(cx, v, format!("TOS value {} is invalid", v.text));
                    return None;
                };
                r.tos = Some(t);
            }
            "fwmark" => {
                let Some((m, k)) = fwmark(&v.text) else {
                    drop(cx, v, format!("Invalid rule fwmark {} specified", v.text));
                    return None;
                };
                r.fwmark = Some(m);
                r.fwmask = k;
            }
            "realms" => {
                r.realms = Some(v.text.clone());
                table_option = true;
                if !set_family(Family::V4, cx) {
                    return None;
                }
            }
            "suppress_prefixlength" | "sup_pl" => {
                let Some(p) = names::number(&v.text, i32::MAX as u64) else {
                    drop(
                        cx,
                        v,
                        format!("Invalid suppress_prefixlength {} specified", v.text),
                    );
                    return None;
                };
                r.suppress_prefixlength = Some(p as u32);
                table_option = true;
            }
            "suppress_ifgroup" | "sup_group" => {
                r.suppress_ifgroup = Some(v.text.clone());
                table_option = true;
            }
            "dev" | "iif" | "oif" => {
                if !cx.env.interface_exists(&v.text) {
                    drop(
                        cx,
                        v,
                        format!("interface '{}' for rule does not exist", v.text),
                    );
                    return None;
                }
                if kw == "oif" {
                    r.oif = Some(v.text.clone());
                } else {
                    r.iif = Some(v.text.clone());
                }
            }
            "tunnel-id" => {
                let Ok(t) = v.text.parse::<u64>() else {
                    drop(cx, v, format!("Invalid tunnel-id {} specified", v.text));
                    return None;
                };
                r.tunnel_id = Some(t);
            }
            "uidrange" => {
                let range = v
                    .text
                    .split_once('-')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
                let Some(range) = range else {
                    drop(cx, v, format!("Invalid uidrange {} specified", v.text));
                    return None;
                };
                r.uidrange = Some(range);
            }
            "l3mdev" => {
                if !set_action(RuleAction::L3mdev, cx) {
                    return None;
                }
            }
            "protocol" => match names::number(&v.text, 255) {
                Some(p) => r.protocol = Some(p as u8),
                None => {
                    cx.warn(v.loc, format!("Invalid protocol {}", v.text))
                        .fallback("ignoring it");
                }
            },
            "ipproto" => {
                let ok = names::number(&v.text, 255).is_some()
                    || matches!(
                        v.text.to_ascii_lowercase().as_str(),
                        "tcp"
                            | "udp"
                            | "icmp"
                            | "ipv6-icmp"
                            | "sctp"
                            | "gre"
                            | "esp"
                            | "ah"
                            | "udplite"
                            | "dccp"
                            | "ospf"
                            | "igmp"
                    );
                if ok {
                    r.ipproto = Some(v.text.clone());
                } else {
                    cx.warn(v.loc, format!("Invalid ipproto {}", v.text))
                        .fallback("ignoring it");
                }
            }
            "sport" | "dport" => match port_range(&v.text) {
                Some(p) if kw == "sport" => r.sport = Some(p),
                Some(p) => r.dport = Some(p),
                None => {
                    cx.warn(v.loc, format!("invalid {kw} range {}", v.text))
                        .fallback("ignoring it");
                }
            },
            "no_track" => r.no_track = true,
            "track_group" if allow_track_group => {
                if r.track_group.is_some() {
                    cx.warn(v.loc, format!("track_group {} is a duplicate", v.text));
                    break;
                }
                r.track_group = Some(v.text.clone());
            }
            "goto" => {
                let Some(t) = names::number(&v.text, u64::from(u32::MAX)) else {
                    drop(cx, v, format!("Invalid target {} specified", v.text));
                    return None;
                };
                if !set_action(RuleAction::Goto(t as u32), cx) {
                    return None;
                }
            }
            "type" | "nop" | "blackhole" | "unreachable" | "prohibit" => {
                let a = match v.text.as_str() {
                    "nop" => RuleAction::Nop,
                    "blackhole" => RuleAction::Blackhole,
                    "unreachable" => RuleAction::Unreachable,
                    "prohibit" => RuleAction::Prohibit,
                    other => {
                        drop(cx, v, format!("Invalid rule action {other}"));
                        return None;
                    }
                };
                if !set_action(a, cx) {
                    return None;
                }
            }
            _ => {
                drop(cx, w, format!("Unknown rule option {kw}"));
                return None;
            }
        }
        i += 1;
    }
    let Some(action) = action else {
        cx.warn(line.loc(), "No action specified for rule")
            .expected("table, goto, nop, blackhole, prohibit, unreachable or l3mdev")
            .fallback("skipping the rule");
        return None;
    };
    if let RuleAction::Goto(target) = action {
        match r.preference {
            Some(p) if p >= target => {
                cx.warn(
                    line.loc(),
                    format!("Invalid rule - preference {p} >= goto target {target}"),
                )
                .fallback("skipping the rule");
                return None;
            }
            None => {
                cx.warn(
                    line.loc(),
                    format!("Invalid rule - goto target {target} specified without preference"),
                )
                .fallback("skipping the rule");
                return None;
            }
            _ => {}
        }
    }
    if table_option && !matches!(action, RuleAction::Table(_)) {
        cx.warn(
            line.loc(),
            "suppressor/realm specified for non table action",
        )
        .fallback("skipping the rule");
        return None;
    }
    r.action = action;
    if !r.no_track {
        if r.protocol.is_some_and(|p| p != RTPROT_KEEPALIVED) {
            cx.warn(
                line.loc(),
                "Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol",
            );
        }
        r.protocol = Some(RTPROT_KEEPALIVED);
    }
    if r.track_group.is_some() && r.iif.is_none() {
        cx.warn(
            line.loc(),
            "Static rule cannot have track_group if dev/iif not specified",
        )
        .fallback("not tracking it");
        r.track_group = None;
    }
    r.family = family.unwrap_or(Family::V4);
    if r.preference.is_none() {
        cx.warn(line.loc(), "Rule has no preference specified")
            .expected("'preference N': rules are applied in preference order")
            .fallback("keepalived assigns one, which is probably not what you want");
    }
    Some(r)
}

pub fn parse_block(n: &Node, allow_track_group: bool, cx: &mut Ctx, out: &mut Vec<Rule>) {
    for line in cx.block(n) {
        if let Some(r) = parse_rule(line, allow_track_group, cx) {
            out.push(r);
        }
    }
}
