//! The `global_defs` keywords a VRRP daemon, checker or notifier acts on, as typed fields
//! (keepalived.conf(5) "Global definitions"; ranges and fallbacks from global_parser.c and
//! checked against `keepalived -t` 2.2.7). The rest goes to [`super::tuning`].

use std::net::IpAddr;

use serde::Serialize;

use super::read::{int_want, no_block, user_group};
use super::{lvs, notify, tuning, Global};
use crate::config::ctx::Ctx;
use crate::config::tree::Node;
use crate::units::Micros;

/// Gratuitous ARP / unsolicited NA defaults for VRRP instances (RFC 5798 §6.4.2 "broadcast
/// a gratuitous ARP"; repeats and delays are keepalived's).
#[derive(Debug, Default, Serialize)]
pub struct GarpDefaults {
    /// Seconds before the second burst after becoming master (default 5, 0: none).
    pub master_delay: Option<u32>,
    /// Messages per burst after becoming master (default 5).
    pub master_repeat: Option<u32>,
    /// Seconds between refresh bursts while master (default 0: none).
    pub master_refresh: Option<u32>,
    /// Messages per refresh burst (default 1).
    pub master_refresh_repeat: Option<u32>,
    /// Seconds before the second burst after a lower priority advert (default master_delay).
    pub lower_prio_delay: Option<u32>,
    /// Messages per burst after a lower priority advert (default master_repeat).
    pub lower_prio_repeat: Option<u32>,
    /// Delay between gratuitous ARPs on an interface.
    pub interval: Option<Micros>,
    /// Delay between unsolicited neighbour adverts on an interface.
    pub gna_interval: Option<Micros>,
    /// One message per burst, no repeats (only overrides values not set explicitly).
    pub min_garp: bool,
    /// Periodic GARP/NA on interfaces other than the instance's.
    pub extra_if: Option<GarpExtraIf>,
}

#[derive(Debug, Serialize)]
pub struct GarpExtraIf {
    /// Seconds, 1..86400.
    pub interval: u32,
    /// Send on every interface of the instance, not only VMACs.
    pub all: bool,
}

#[derive(Debug, Serialize)]
pub struct DynamicInterfaces {
    pub allow_if_changes: bool,
}

/// Scheduling of one child process (vrrp, checker or bfd).
#[derive(Debug, Default, Serialize)]
pub struct ProcessTuning {
    /// Nice value, -20..19.
    pub priority: Option<i8>,
    /// mlockall() the process.
    pub no_swap: bool,
}

/// Handles one keyword of `global_defs`.
pub fn keyword(n: &Node, cx: &mut Ctx, g: &mut Global) {
    if n.name() == "notification_email" {
        notify::emails(n, cx, g);
        return;
    }
    if no_block(cx, n) {
        return;
    }
    let name = n.name();
    match name {
        "enable_script_security" => {
            if g.seen.security.is_none() {
                g.seen.security = Some(g.seen.now(cx));
            }
            g.enable_script_security = true;
        }
        "script_user" => script_user(n, cx, g),
        "router_id" => {
            if cx.arg_or_warn(n, 0, "'router_id' needs a name").is_some() {
                g.router_id = cx.rest(n, 0);
            }
        }
        "default_interface" => {
            if cx
                .arg_or_warn(n, 0, "'default_interface' needs an interface name")
                .is_some()
            {
                g.default_interface = cx.rest(n, 0);
            }
        }
        "dynamic_interfaces" => {
            let allow = match n.args.first() {
                None => false,
                Some(w) if w.text == "allow_if_changes" => true,
                Some(w) => {
                    cx.warn(
                        w.loc,
                        format!("unknown dynamic_interfaces option '{}'", w.text),
                    )
                    .expected("allow_if_changes")
                    .fallback("dynamic interfaces are enabled without it");
                    false
                }
            };
            g.dynamic_interfaces = Some(DynamicInterfaces {
                allow_if_changes: allow,
            });
        }
        "vrrp_mcast_group4" | "vrrp_mcast_group6" => mcast_group(n, cx, g),
        "vrrp_version" => {
            if let Some(v) = cx.num(n, 0, 2u8, 3) {
                g.vrrp_version = Some(v);
            }
        }
        "vrrp_check_unicast_src" => g.vrrp_check_unicast_src = true,
        "vrrp_skip_check_adv_addr" => g.vrrp_skip_check_adv_addr = true,
        "vrrp_strict" => g.vrrp_strict = true,
        "log_unknown_vrids" => g.log_unknown_vrids = true,
        "vrrp_lower_prio_no_advert" => set_bool(n, cx, &mut g.vrrp_lower_prio_no_advert),
        "vrrp_higher_prio_send_advert" => set_bool(n, cx, &mut g.vrrp_higher_prio_send_advert),
        "vrrp_startup_delay" => {
            // keepalived: read_decimal_unsigned, 0.001 s .. UINT_MAX µs.
            if let Some(v) = cx.decimal(n, 0, 6, 1000, u64::from(u32::MAX)) {
                g.vrrp_startup_delay = Some(Micros(v));
            }
        }
        "vrrp_down_timer_adverts" => {
            if let Some(v) = cx.num(n, 0, 1u32, 100) {
                g.vrrp_down_timer_adverts = Some(v);
            }
        }
        "vrrp_priority" | "checker_priority" | "bfd_priority" => {
            let msg = format!("'{name}' needs a process priority");
            if let Some(v) = int_want(cx, n, 0, -20i32, 19, &msg) {
                process(g, name).priority = Some(v as i8);
            }
        }
        "vrrp_no_swap" | "checker_no_swap" | "bfd_no_swap" => process(g, name).no_swap = true,
        "max_auto_priority" => {
            // Without a value: the maximum, sched_get_priority_max(SCHED_RR).
            let v = match n.args.first() {
                None => Some(99),
                Some(w) => cx.int_word(n, w, -1i32, 99),
            };
            if v.is_some() {
                g.max_auto_priority = v;
            }
        }
        "min_auto_priority_delay" => {
            let msg = "'min_auto_priority_delay' needs a delay in microseconds";
            if let Some(v) = int_want(cx, n, 0, 1u32, 10_000_000, msg) {
                g.min_auto_priority_delay = Some(v);
            }
        }
        "umask" => umask(n, cx, g),
        "random_seed" => {
            if let Some(v) = cx.num(n, 0, 0u32, u32::MAX) {
                g.random_seed = Some(v);
            }
        }
        _ if name.starts_with("vrrp_garp_")
            || name == "vrrp_gna_interval"
            || name == "vrrp_min_garp"
            || name == "vrrp_vmac_garp_intvl" =>
        {
            garp(n, cx, &mut g.garp)
        }
        _ if notify::keyword(n, cx, g) => {}
        _ if lvs::keyword(n, cx, g) => {}
        _ if tuning::keyword(n, cx, g) => {}
        _ => cx.unknown(n, "global_defs"),
    }
}

fn process<'g>(g: &'g mut Global, name: &str) -> &'g mut ProcessTuning {
    match name.split('_').next() {
        Some("vrrp") => &mut g.vrrp_process,
        Some("checker") => &mut g.checker_process,
        _ => &mut g.bfd_process,
    }
}

fn set_bool(n: &Node, cx: &mut Ctx, field: &mut Option<bool>) {
    if let Some(b) = cx.flag(n) {
        *field = Some(b);
    }
}

/// `script_user USER [GROUP]`. keepalived keeps a failed default-user lookup: a later
/// `script_user` is then reported too (see [`super::security`]).
fn script_user(n: &Node, cx: &mut Ctx, g: &mut Global) {
    if g.seen.script_user.is_none() {
        g.seen.script_user = Some((g.seen.now(cx), n.loc()));
    }
    match user_group(cx.env, n, 0) {
        None => {
            cx.warn(n.loc(), "'script_user' needs a user name")
                .fallback("ignoring it");
        }
        Some(Err(why)) => {
            g.seen.script_user_failed = true;
            cx.warn(n.args[0].loc, format!("cannot set the script user: {why}"))
                .fallback("scripts using the default user are not run");
        }
        Some(Ok(u)) => g.script_user = Some(u),
    }
}

fn mcast_group(n: &Node, cx: &mut Ctx, g: &mut Global) {
    let Some(w) = cx.arg(n, 0) else { return };
    let v4 = n.name() == "vrrp_mcast_group4";
    let problem = match w.text.parse::<IpAddr>() {
        Err(_) => "is not an IP address",
        Ok(ip) if ip.is_ipv4() != v4 => {
            if v4 {
                "is not IPv4"
            } else {
                "is not IPv6"
            }
        }
        Ok(ip) if !ip.is_multicast() => "is not a multicast address",
        Ok(IpAddr::V4(a)) => {
            g.vrrp_mcast_group4 = Some(a);
            return;
        }
        Ok(IpAddr::V6(a)) => {
            g.vrrp_mcast_group6 = Some(a);
            return;
        }
    };
    cx.warn(w.loc, format!("'{}' for '{}' {problem}", w.text, n.name()))
        .fallback("using the default group");
}

fn garp(n: &Node, cx: &mut Ctx, d: &mut GarpDefaults) {
    // The delays are whole seconds stored in µs by keepalived: at most UINT_MAX / 10^6.
    const MAX_SECS: u32 = u32::MAX / 1_000_000;
    match n.name() {
        "vrrp_garp_master_delay" => d.master_delay = cx.num(n, 0, 0, MAX_SECS).or(d.master_delay),
        "vrrp_garp_lower_prio_delay" => {
            d.lower_prio_delay = cx.num(n, 0, 0, MAX_SECS).or(d.lower_prio_delay)
        }
        "vrrp_garp_master_repeat" => d.master_repeat = at_least_one(n, cx).or(d.master_repeat),
        "vrrp_garp_master_refresh_repeat" => {
            d.master_refresh_repeat = at_least_one(n, cx).or(d.master_refresh_repeat)
        }
        "vrrp_garp_master_refresh" => {
            // keepalived resets the refresh to 0 when the value is invalid.
            d.master_refresh = Some(cx.num(n, 0, 0, u32::MAX).unwrap_or(0));
        }
        "vrrp_garp_lower_prio_repeat" => {
            d.lower_prio_repeat = cx.num(n, 0, 0, i32::MAX as u32).or(d.lower_prio_repeat)
        }
        "vrrp_garp_interval" | "vrrp_gna_interval" => {
            let Some(v) = cx.decimal(n, 0, 6, 1, u64::from(u32::MAX)) else {
                return;
            };
            if n.name() == "vrrp_garp_interval" {
                d.interval = Some(Micros(v));
            } else {
                d.gna_interval = Some(Micros(v));
            }
        }
        "vrrp_min_garp" => {
            if let Some(true) = cx.flag(n) {
                d.min_garp = true;
            }
        }
        "vrrp_garp_extra_if" | "vrrp_vmac_garp_intvl" => garp_extra_if(n, cx, d),
        _ => cx.unknown(n, "global_defs"),
    }
}

/// A repeat count where keepalived turns 0 into 1 (with a warning).
fn at_least_one(n: &Node, cx: &mut Ctx) -> Option<u32> {
    let v = cx.num(n, 0, 0, u32::MAX)?;
    if v == 0 {
        cx.warn(
            n.args[0].loc,
            format!("'{}' must be greater than 0", n.name()),
        )
        .fallback("using 1");
        return Some(1);
    }
    Some(v)
}

fn garp_extra_if(n: &Node, cx: &mut Ctx, d: &mut GarpDefaults) {
    if n.name() == "vrrp_vmac_garp_intvl" {
        cx.warn(n.loc(), "'vrrp_vmac_garp_intvl' is deprecated")
            .expected("'vrrp_garp_extra_if'");
    }
    let mut all = false;
    let mut interval = None;
    for w in &n.args {
        if w.text == "all" {
            all = true;
        } else {
            match cx.int_word(n, w, 1u32, 86_400) {
                Some(v) => interval = Some(v),
                None => return,
            }
        }
    }
    match interval {
        Some(interval) => d.extra_if = Some(GarpExtraIf { interval, all }),
        None => {
            cx.warn(
                n.loc(),
                format!("'{}' needs an interval in seconds", n.name()),
            )
            .fallback("ignoring it");
        }
    }
}

/// `umask NUMBER` (decimal, 0octal or 0xhex) or `umask BITS` (`IWGRP|IWOTH`, the `|` may be
/// spaced). Only permission bits are allowed.
fn umask(n: &Node, cx: &mut Ctx, g: &mut Global) {
    let Some(first) = cx.arg(n, 0) else { return };
    let result = if first.text.starts_with(|c: char| c.is_ascii_digit()) {
        if n.args.len() != 1 {
            Err("extra parameters after the umask number".to_string())
        } else {
            parse_c_number(&first.text)
                .filter(|v| v & !0o777 == 0)
                .ok_or_else(|| format!("invalid umask value '{}'", first.text))
        }
    } else {
        umask_bits(&n.args.iter().map(|w| w.text.as_str()).collect::<Vec<_>>())
    };
    match result {
        Ok(v) => g.umask = Some(v),
        Err(e) => {
            cx.warn(first.loc, e)
                .expected("a number up to 0777, or bits like IWGRP|IWOTH")
                .fallback("ignoring it");
        }
    }
}

/// strtol(s, 0): decimal, octal with a leading 0, hex with 0x.
pub(super) fn parse_c_number(s: &str) -> Option<u32> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

fn umask_bits(words: &[&str]) -> Result<u32, String> {
    const BITS: [(&str, u32); 9] = [
        ("IRUSR", 0o400),
        ("IWUSR", 0o200),
        ("IXUSR", 0o100),
        ("IRGRP", 0o040),
        ("IWGRP", 0o020),
        ("IXGRP", 0o010),
        ("IROTH", 0o004),
        ("IWOTH", 0o002),
        ("IXOTH", 0o001),
    ];
    let mut mask = 0;
    let mut need_or = false;
    for word in words {
        let mut p = *word;
        while !p.is_empty() {
            if need_or {
                match p.strip_prefix('|') {
                    Some(rest) => {
                        need_or = false;
                        p = rest;
                        continue;
                    }
                    None => return Err(format!("invalid umask syntax '{word}'")),
                }
            }
            match BITS.iter().find(|(name, _)| p.starts_with(name)) {
                Some((name, bit)) => {
                    mask |= bit;
                    p = &p[name.len()..];
                    need_or = true;
                }
                None => return Err(format!("unknown umask bit '{p}'")),
            }
        }
    }
    if !need_or {
        return Err("umask is missing a bit after '|'".to_string());
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn umask_numbers_follow_strtol_base_0() {
        assert_eq!(parse_c_number("022"), Some(0o22));
        assert_eq!(parse_c_number("0x12"), Some(0x12));
        assert_eq!(parse_c_number("18"), Some(18));
        assert_eq!(parse_c_number("08"), None);
        assert_eq!(parse_c_number("0"), Some(0));
    }

    #[test]
    fn umask_bits_need_bars_between_names() {
        assert_eq!(umask_bits(&["IWGRP|IWOTH"]), Ok(0o22));
        assert_eq!(umask_bits(&["IWGRP", "|", "IWOTH"]), Ok(0o22));
        assert_eq!(umask_bits(&["IWGRP", "|IWOTH"]), Ok(0o22));
        assert!(umask_bits(&["IWGRP|"]).is_err());
        assert!(umask_bits(&["IWGRPIWOTH"]).is_err());
        assert!(umask_bits(&["IWXXX"]).is_err());
        assert!(umask_bits(&["-1"]).is_err());
    }
}
