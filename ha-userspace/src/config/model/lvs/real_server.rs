//! `real_server IP [PORT] { ... }` and `sorry_server` inside a virtual server
//! (keepalived.conf(5), "Virtual server(s)").

use std::net::SocketAddr;

use serde::Serialize;

use super::checker::{self, Checker, CommonSet};
use super::forwarding::{self, Forwarding};
use super::read::{self, CONNECT_TIMEOUT_MAX, TIMER_MAX, WEIGHT_LIMIT};
use crate::config::ctx::Ctx;
use crate::config::model::script::NotifyScript;
use crate::config::source::Loc;
use crate::config::tree::Node;
use crate::units::Micros;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RealServer {
    /// Address and port; after `finish` the port is the virtual server's when it was
    /// omitted (or differed, except with NAT), and 0 for fwmark services (except NAT).
    pub addr: SocketAddr,
    /// IPVS weight, default the virtual server's `weight` (1).
    pub weight: u32,
    pub forwarding: Forwarding,
    /// Set the weight to 0 instead of removing the server when it fails.
    pub inhibit_on_failure: bool,
    pub alpha: bool,
    /// Connection limits (`uthreshold`, `lthreshold`).
    pub uthreshold: Option<u32>,
    pub lthreshold: Option<u32>,
    pub notify_up: Option<NotifyScript>,
    pub notify_down: Option<NotifyScript>,
    /// `None`: global_defs decides (smtp_alert_checker, smtp_alert, else yes).
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub snmp_name: Option<String>,
    /// Defaults for the checkers, resolved from this block and the virtual server.
    pub connect_timeout: Micros,
    pub delay_loop: Micros,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Micros>,
    pub warmup: Option<Micros>,
    pub checkers: Vec<Checker>,
    #[serde(skip)]
    pub at: Loc,
    /// What this block set itself (`None`: inherit from the virtual server).
    #[serde(skip)]
    pub set: CommonSet,
    #[serde(skip)]
    pub set_weight: Option<u32>,
    #[serde(skip)]
    pub set_inhibit: Option<bool>,
    /// `lvs_method` was not given here nor on the virtual server before this block.
    #[serde(skip)]
    pub forwarding_unset: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SorryServer {
    pub addr: SocketAddr,
    pub forwarding: Forwarding,
    /// `sorry_server_inhibit`.
    pub inhibit: bool,
    #[serde(skip)]
    pub forwarding_unset: bool,
}

/// Parses a `real_server` block. `vs_forwarding` is the virtual server's method so far
/// (keepalived copies it when the real server starts).
pub fn parse(n: &Node, cx: &mut Ctx, vs_forwarding: Option<Forwarding>) -> Option<RealServer> {
    let ip = cx.arg(n, 0)?;
    let addr = match read::server_addr(&ip.text, n.args.get(1).map(|w| w.text.as_str())) {
        Ok(a) => a,
        Err(e) => {
            cx.warn(n.loc(), format!("invalid real server address: {e}"))
                .fallback("skipping the real server");
            return None;
        }
    };
    let owner = addr_text(addr);
    let mut rs = RealServer {
        addr,
        weight: 1,
        forwarding: vs_forwarding.unwrap_or_default(),
        inhibit_on_failure: false,
        alpha: false,
        uthreshold: None,
        lthreshold: None,
        notify_up: None,
        notify_down: None,
        smtp_alert: None,
        virtualhost: None,
        snmp_name: None,
        connect_timeout: Micros::default(),
        delay_loop: Micros::default(),
        retry: None,
        delay_before_retry: None,
        warmup: None,
        checkers: Vec::new(),
        at: n.loc(),
        set: CommonSet::default(),
        set_weight: None,
        set_inhibit: None,
        forwarding_unset: vs_forwarding.is_none(),
    };
    let block = format!("real_server {owner}");
    for c in cx.block(n) {
        if checker::is_checker(c.name()) {
            let found = checker::parse(c, cx, addr, &owner);
            rs.checkers.extend(found);
            continue;
        }
        keyword(&mut rs, c, cx, &block);
    }
    // Tens of thousands of real servers each hold a vector or two: without this, growth
    // slack is most of the model's memory (see BENCHMARKS.md).
    rs.checkers.shrink_to_fit();
    Some(rs)
}

fn keyword(rs: &mut RealServer, c: &Node, cx: &mut Ctx, block: &str) {
    match c.name() {
        "weight" => {
            if let Some(w) = read::unsigned(cx, c, 0, 0, WEIGHT_LIMIT) {
                rs.set_weight = Some(w);
            }
        }
        "lvs_method" => {
            if let Some(f) = forwarding::parse(c, cx, "real", rs.forwarding) {
                rs.forwarding = f;
                rs.forwarding_unset = false;
            }
        }
        "uthreshold" => rs.uthreshold = read::unsigned(cx, c, 0, 0, u32::MAX).or(rs.uthreshold),
        "lthreshold" => rs.lthreshold = read::unsigned(cx, c, 0, 0, u32::MAX).or(rs.lthreshold),
        "inhibit_on_failure" => rs.set_inhibit = cx.flag(c).or(rs.set_inhibit),
        "notify_up" | "notify_down" => {
            let slot = if c.name() == "notify_up" {
                &mut rs.notify_up
            } else {
                &mut rs.notify_down
            };
            if slot.is_some() {
                cx.warn(c.loc(), format!("{} script already specified", c.name()))
                    .fallback("ignoring this one");
            } else {
                *slot = crate::config::model::script::notify_script(cx, c);
            }
        }
        "alpha" => rs.set.alpha = cx.flag(c).or(rs.set.alpha),
        "retry" => rs.set.retry = read::unsigned(cx, c, 0, 1, u32::MAX).or(rs.set.retry),
        "delay_before_retry" => {
            rs.set.delay_before_retry =
                read::timer(cx, c, Micros(0), TIMER_MAX).or(rs.set.delay_before_retry)
        }
        "warmup" => rs.set.warmup = read::timer(cx, c, Micros(0), TIMER_MAX).or(rs.set.warmup),
        "connect_timeout" => {
            rs.set.connect_timeout =
                read::timer(cx, c, Micros(1), CONNECT_TIMEOUT_MAX).or(rs.set.connect_timeout)
        }
        "delay_loop" => {
            rs.set.delay_loop = read::timer(cx, c, Micros(1), TIMER_MAX).or(rs.set.delay_loop)
        }
        "smtp_alert" => rs.smtp_alert = cx.flag(c).or(rs.smtp_alert),
        "virtualhost" => {
            if c.args.is_empty() {
                cx.warn(c.loc(), "real server virtualhost missing")
                    .fallback("ignoring it");
            } else {
                rs.virtualhost = cx.rest(c, 0);
            }
        }
        "snmp_name" => rs.snmp_name = snmp_name(c, cx, "real").or(rs.snmp_name.take()),
        _ => cx.unknown(c, block),
    }
}

/// `snmp_name NAME`: exactly one word.
pub fn snmp_name(c: &Node, cx: &mut Ctx, what: &str) -> Option<String> {
    if c.args.len() != 1 {
        cx.warn(
            c.loc(),
            format!("{what} server snmp_name missing or extra parameters"),
        )
        .expected("one name")
        .fallback("ignoring it");
        return None;
    }
    Some(c.args[0].text.clone())
}

/// `sorry_server IP [PORT]`.
pub fn parse_sorry(
    n: &Node,
    cx: &mut Ctx,
    vs_forwarding: Option<Forwarding>,
) -> Option<SorryServer> {
    let ip = cx.arg(n, 0)?;
    match read::server_addr(&ip.text, n.args.get(1).map(|w| w.text.as_str())) {
        Ok(addr) => Some(SorryServer {
            addr,
            forwarding: vs_forwarding.unwrap_or_default(),
            inhibit: false,
            forwarding_unset: vs_forwarding.is_none(),
        }),
        Err(e) => {
            cx.warn(n.loc(), format!("invalid sorry server address: {e}"))
                .fallback("ignoring it");
            None
        }
    }
}

/// `[ip]:port` as keepalived prints servers.
pub fn addr_text(a: SocketAddr) -> String {
    format!("[{}]:{}", a.ip(), a.port())
}
