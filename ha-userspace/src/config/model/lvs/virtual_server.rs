//! `virtual_server IP [PORT] | fwmark N | group NAME { ... }` (keepalived.conf(5),
//! "Virtual server(s)"): one IPVS service (or one per group entry), its scheduler,
//! forwarding, persistence, quorum, and real servers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use serde::Serialize;

use super::checker::CommonSet;
use super::forwarding::{self, Forwarding};
use super::group::Family;
use super::read::{self, CONNECT_TIMEOUT_MAX, TIMER_MAX, WEIGHT_LIMIT};
use super::real_server::{self, addr_text, RealServer, SorryServer};
use crate::config::ctx::Ctx;
use crate::config::model::script::NotifyScript;
use crate::config::source::Loc;
use crate::config::tree::Node;
use crate::units::Micros;

/// keepalived's `IPVS_SVC_PERSISTENT_TIMEOUT`: 6 minutes.
pub const DEFAULT_PERSISTENCE_TIMEOUT: u32 = 360;
/// keepalived's `LVS_MAX_TIMEOUT`: 31 days.
pub const MAX_PERSISTENCE_TIMEOUT: u32 = 86400 * 31;
/// keepalived's `KEEPALIVED_DEFAULT_DELAY`.
pub const DEFAULT_DELAY_LOOP: Micros = Micros::from_secs(60);
pub const DEFAULT_CONNECT_TIMEOUT: Micros = Micros::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VsKey {
    /// `virtual_server IP [PORT]`; port 0 when omitted (persistent services only).
    Addr(SocketAddr),
    /// `virtual_server fwmark N`.
    Fwmark(u32),
    /// `virtual_server group NAME`.
    Group(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

/// IPVS schedulers keepalived 2.2.7 accepts (exact, lower case).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheduler {
    Rr,
    Wrr,
    Lc,
    #[default]
    Wlc,
    Lblc,
    Sh,
    Mh,
    Dh,
    Fo,
    Ovf,
    Lblcr,
    Sed,
    Nq,
    Twos,
}

const SCHEDULERS: &[(&str, Scheduler)] = &[
    ("rr", Scheduler::Rr),
    ("wrr", Scheduler::Wrr),
    ("lc", Scheduler::Lc),
    ("wlc", Scheduler::Wlc),
    ("lblc", Scheduler::Lblc),
    ("sh", Scheduler::Sh),
    ("mh", Scheduler::Mh),
    ("dh", Scheduler::Dh),
    ("fo", Scheduler::Fo),
    ("ovf", Scheduler::Ovf),
    ("lblcr", Scheduler::Lblcr),
    ("sed", Scheduler::Sed),
    ("nq", Scheduler::Nq),
    ("twos", Scheduler::Twos),
];

impl Scheduler {
    /// The kernel's name of the scheduler (`ip_vs_<name>`).
    pub fn name(self) -> &'static str {
        SCHEDULERS
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("wlc", |(n, _)| n)
    }

    pub fn from_name(name: &str) -> Option<Scheduler> {
        SCHEDULERS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }
}

/// Scheduler flags (`ipvsadm -b`) and one-packet scheduling (`-o`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SchedFlags {
    pub flag_1: bool,
    pub flag_2: bool,
    pub flag_3: bool,
    pub sh_port: bool,
    pub sh_fallback: bool,
    pub mh_port: bool,
    pub mh_fallback: bool,
    pub ops: bool,
}

/// `persistence_granularity`: an IPv4 netmask, or an IPv6 prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Granularity {
    V4(Ipv4Addr),
    V6(u8),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualServer {
    pub key: VsKey,
    /// Resolved address family (inet unless the addresses or `ip_family` say otherwise).
    pub family: Option<Family>,
    /// `None` for fwmark services (keepalived ignores a protocol there).
    pub protocol: Option<Protocol>,
    /// Default wlc when unset (keepalived warns).
    pub scheduler: Scheduler,
    pub flags: SchedFlags,
    /// Default forwarding of the real servers.
    pub forwarding: Forwarding,
    /// Seconds; `None`: not persistent.
    pub persistence_timeout: Option<u32>,
    pub persistence_granularity: Option<Granularity>,
    pub persistence_engine: Option<String>,
    pub ha_suspend: bool,
    pub alpha: bool,
    pub omega: bool,
    pub quorum: u32,
    pub hysteresis: u32,
    pub quorum_up: Option<NotifyScript>,
    pub quorum_down: Option<NotifyScript>,
    /// `None`: global_defs decides (smtp_alert_checker, smtp_alert, else no).
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
    pub snmp_name: Option<String>,
    /// Default real server weight.
    pub weight: u32,
    pub inhibit_on_failure: bool,
    pub delay_loop: Micros,
    pub connect_timeout: Micros,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Micros>,
    pub warmup: Option<Micros>,
    pub sorry_server: Option<SorryServer>,
    pub real_servers: Vec<RealServer>,
    #[serde(skip)]
    pub at: Loc,
    /// The scheduler was set (keepalived warns when it is not).
    #[serde(skip)]
    pub scheduler_set: bool,
    #[serde(skip)]
    pub forwarding_set: bool,
}

impl VirtualServer {
    /// keepalived's name for the service in messages: `[ip]:port`, `FWM n`, `[group]`.
    pub fn display(&self) -> String {
        match &self.key {
            VsKey::Addr(a) => addr_text(*a),
            VsKey::Fwmark(m) => format!("FWM {m}"),
            VsKey::Group(g) => format!("[{g}]"),
        }
    }

    pub fn common_set(&self) -> CommonSet {
        CommonSet {
            retry: self.retry,
            delay_before_retry: self.delay_before_retry,
            warmup: self.warmup,
            delay_loop: Some(self.delay_loop),
            alpha: Some(self.alpha),
            connect_timeout: Some(self.connect_timeout),
        }
    }
}

pub fn parse(n: &Node, cx: &mut Ctx) -> Option<VirtualServer> {
    let first = cx.arg(n, 0)?;
    let key = match first.text.as_str() {
        "group" => VsKey::Group(cx.arg(n, 1)?.text.clone()),
        "fwmark" => VsKey::Fwmark(read::unsigned(cx, n, 1, 0, u32::MAX)?),
        ip => match read::server_addr(ip, n.args.get(1).map(|w| w.text.as_str())) {
            Ok(a) => VsKey::Addr(a),
            Err(e) => {
                cx.warn(n.loc(), format!("invalid virtual server address: {e}"))
                    .fallback("skipping the virtual server");
                return None;
            }
        },
    };
    let mut vs = VirtualServer {
        family: match &key {
            VsKey::Addr(a) => Some(Family::of(a.ip())),
            _ => None,
        },
        key,
        protocol: None,
        scheduler: Scheduler::default(),
        flags: SchedFlags::default(),
        forwarding: Forwarding::default(),
        persistence_timeout: None,
        persistence_granularity: None,
        persistence_engine: None,
        ha_suspend: false,
        alpha: false,
        omega: false,
        quorum: 1,
        hysteresis: 0,
        quorum_up: None,
        quorum_down: None,
        smtp_alert: None,
        virtualhost: None,
        snmp_name: None,
        weight: 1,
        inhibit_on_failure: false,
        delay_loop: DEFAULT_DELAY_LOOP,
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        retry: None,
        delay_before_retry: None,
        warmup: None,
        sorry_server: None,
        real_servers: Vec::new(),
        at: n.loc(),
        scheduler_set: false,
        forwarding_set: false,
    };
    let block = format!("virtual_server {}", vs.display());
    for c in cx.block(n) {
        keyword(&mut vs, c, cx, &block);
    }
    end(&mut vs, cx);
    vs.real_servers.shrink_to_fit();
    Some(vs)
}

fn keyword(vs: &mut VirtualServer, c: &Node, cx: &mut Ctx, block: &str) {
    let fwd = || vs.forwarding_set.then_some(vs.forwarding);
    match c.name() {
        "real_server" => {
            let current = fwd();
            if let Some(rs) = real_server::parse(c, cx, current) {
                real_server_end(vs, rs, cx);
            }
        }
        "ip_family" => ip_family(vs, c, cx),
        "retry" => vs.retry = read::unsigned(cx, c, 0, 1, u32::MAX).or(vs.retry),
        "delay_before_retry" => {
            vs.delay_before_retry =
                read::timer(cx, c, Micros(0), TIMER_MAX).or(vs.delay_before_retry)
        }
        "warmup" => vs.warmup = read::timer(cx, c, Micros(0), TIMER_MAX).or(vs.warmup),
        "connect_timeout" => {
            if let Some(t) = read::timer(cx, c, Micros(1), CONNECT_TIMEOUT_MAX) {
                vs.connect_timeout = t;
            }
        }
        "delay_loop" => {
            if let Some(t) = read::timer(cx, c, Micros(1), TIMER_MAX) {
                vs.delay_loop = t;
            }
        }
        // Flags: keepalived ignores any value written after these.
        "inhibit_on_failure" => vs.inhibit_on_failure = true,
        "ha_suspend" => vs.ha_suspend = true,
        "alpha" => vs.alpha = true,
        "omega" => vs.omega = true,
        // `lb_algo` is the old name, still accepted silently.
        "lvs_sched" | "lb_algo" => {
            if let Some(w) = cx.arg(c, 0) {
                match SCHEDULERS.iter().find(|(name, _)| *name == w.text) {
                    Some((_, s)) => {
                        vs.scheduler = *s;
                        vs.scheduler_set = true;
                    }
                    None => {
                        cx.warn(w.loc, format!("invalid lvs_scheduler '{}'", w.text))
                            .expected("one of rr wrr lc wlc lblc sh mh dh fo ovf lblcr sed nq twos")
                            .fallback("ignoring it");
                    }
                }
            }
        }
        "hashed" | "ops" | "flag-1" | "flag-2" | "flag-3" | "sh-port" | "sh-fallback"
        | "mh-port" | "mh-fallback" => sched_flag(vs, c, cx),
        // `lb_kind` is the old name, still accepted silently.
        "lvs_method" | "lb_kind" => {
            if let Some(f) = forwarding::parse(c, cx, "virtual", vs.forwarding) {
                vs.forwarding = f;
                vs.forwarding_set = true;
            }
        }
        "persistence_engine" => {
            if let Some(w) = cx.arg(c, 0) {
                let mut name = w.text.clone();
                if name.len() > 15 {
                    cx.warn(w.loc, format!("persistence_engine name too long - {name}"))
                        .expected("at most 15 characters")
                        .fallback("truncating it");
                    name.truncate(15);
                }
                vs.persistence_engine = Some(name);
            }
        }
        "persistence_timeout" => {
            if c.args.is_empty() {
                vs.persistence_timeout = Some(DEFAULT_PERSISTENCE_TIMEOUT);
            } else if let Some(t) = cx.num(c, 0, 1, MAX_PERSISTENCE_TIMEOUT) {
                vs.persistence_timeout = Some(t);
            }
        }
        "persistence_granularity" => granularity(vs, c, cx),
        "protocol" => {
            if let Some(w) = cx.arg(c, 0) {
                match w.text.to_ascii_uppercase().as_str() {
                    "TCP" => vs.protocol = Some(Protocol::Tcp),
                    "UDP" => vs.protocol = Some(Protocol::Udp),
                    "SCTP" => vs.protocol = Some(Protocol::Sctp),
                    _ => {
                        cx.warn(w.loc, format!("unknown protocol {}", w.text))
                            .expected("TCP, UDP or SCTP")
                            .fallback("ignoring it");
                    }
                }
            }
        }
        "smtp_alert" => vs.smtp_alert = cx.flag(c).or(vs.smtp_alert),
        "virtualhost" => {
            if c.args.is_empty() {
                cx.warn(c.loc(), "virtual server virtualhost missing")
                    .fallback("ignoring it");
            } else {
                vs.virtualhost = cx.rest(c, 0);
            }
        }
        "snmp_name" => {
            vs.snmp_name = real_server::snmp_name(c, cx, "virtual").or(vs.snmp_name.take())
        }
        "quorum_up" | "quorum_down" => {
            let slot = if c.name() == "quorum_up" {
                &mut vs.quorum_up
            } else {
                &mut vs.quorum_down
            };
            if slot.is_some() {
                cx.warn(c.loc(), format!("{} script already specified", c.name()))
                    .fallback("ignoring this one");
            } else {
                *slot = crate::config::model::script::notify_script(cx, c);
            }
        }
        "quorum" => {
            if cx.arg(c, 0).is_some() {
                vs.quorum = cx.num_or(c, 0, 1, u32::MAX, 1);
            }
        }
        "hysteresis" => {
            vs.hysteresis = read::unsigned(cx, c, 0, 0, u32::MAX).unwrap_or(vs.hysteresis)
        }
        "weight" => vs.weight = read::unsigned(cx, c, 0, 1, WEIGHT_LIMIT).unwrap_or(vs.weight),
        "sorry_server" => {
            let current = fwd();
            vs.sorry_server = real_server::parse_sorry(c, cx, current).or(vs.sorry_server.take());
        }
        "sorry_server_inhibit" => match vs.sorry_server.as_mut() {
            Some(s) => s.inhibit = true,
            None => {
                cx.warn(
                    c.loc(),
                    "sorry_server_inhibit used before or without sorry_server",
                )
                .fallback("ignoring it");
            }
        },
        "sorry_server_lvs_method" => match vs.sorry_server.as_mut() {
            Some(s) => {
                if let Some(f) = forwarding::parse(c, cx, "sorry", s.forwarding) {
                    s.forwarding = f;
                    s.forwarding_unset = false;
                }
            }
            None => {
                cx.warn(c.loc(), "sorry_server_lvs_method used without sorry_server")
                    .fallback("ignoring it");
            }
        },
        _ => cx.unknown(c, block),
    }
}

/// keepalived's `lbflags_handler`: flag-1..3 and ops always apply; sh-*/mh-* flags apply to
/// the scheduler set *so far*. With sh or mh set, a flag of the other scheduler (and
/// `hashed`, which 2.2.7 never sets) is silently ignored; otherwise it is reported.
fn sched_flag(vs: &mut VirtualServer, c: &Node, cx: &mut Ctx) {
    let f = &mut vs.flags;
    let sched = vs.scheduler_set.then_some(vs.scheduler);
    match c.name() {
        "ops" => f.ops = true,
        "flag-1" => f.flag_1 = true,
        "flag-2" => f.flag_2 = true,
        "flag-3" => f.flag_3 = true,
        name if sched == Some(Scheduler::Sh) => match name {
            "sh-port" => f.sh_port = true,
            "sh-fallback" => f.sh_fallback = true,
            _ => {}
        },
        name if sched == Some(Scheduler::Mh) => match name {
            "mh-port" => f.mh_port = true,
            "mh-fallback" => f.mh_fallback = true,
            _ => {}
        },
        name => {
            cx.warn(c.loc(), format!("{name} only applies to sh scheduler"))
                .expected("'lvs_sched sh' (or mh for mh-*) before it")
                .fallback("ignoring it");
        }
    }
}

fn ip_family(vs: &mut VirtualServer, c: &Node, cx: &mut Ctx) {
    let Some(w) = cx.arg(c, 0) else {
        return;
    };
    let af = match w.text.as_str() {
        "inet" => Family::V4,
        "inet6" => Family::V6,
        other => {
            cx.warn(w.loc, format!("unknown address family {other}"))
                .expected("inet or inet6")
                .fallback("ignoring it");
            return;
        }
    };
    if vs.family.is_some_and(|f| f != af) {
        cx.warn(
            w.loc,
            format!(
                "virtual server specified family {} conflicts with server family",
                w.text
            ),
        )
        .fallback("ignoring it");
        return;
    }
    vs.family = Some(af);
}

/// IPv6: a prefix length 1..128; IPv4: an address (any `inet_aton` form) used as a mask.
/// The family, if still unknown, is guessed from a '.' in the value.
fn granularity(vs: &mut VirtualServer, c: &Node, cx: &mut Ctx) {
    let Some(w) = cx.arg(c, 0) else {
        return;
    };
    let af = vs.family.unwrap_or(if w.text.contains('.') {
        Family::V4
    } else {
        Family::V6
    });
    let g = match af {
        Family::V6 => w
            .text
            .parse::<u8>()
            .ok()
            .filter(|l| (1..=128).contains(l))
            .map(Granularity::V6),
        Family::V4 => w
            .text
            .parse::<Ipv4Addr>()
            .ok()
            .or_else(|| w.text.parse::<u32>().ok().map(Ipv4Addr::from))
            .map(Granularity::V4),
    };
    let Some(g) = g else {
        let v = if af == Family::V4 { "IPv4" } else { "IPv6" };
        cx.warn(
            w.loc,
            format!("invalid {v} persistence_granularity specified - {}", w.text),
        )
        .fallback("ignoring it");
        return;
    };
    vs.persistence_granularity = Some(g);
    vs.family.get_or_insert(af);
    vs.persistence_timeout
        .get_or_insert(DEFAULT_PERSISTENCE_TIMEOUT);
}

/// keepalived's `rs_end_handler`: a non-tunnelled real server must have the virtual
/// server's address family, and fixes it when still unknown.
fn real_server_end(vs: &mut VirtualServer, rs: RealServer, cx: &mut Ctx) {
    if !matches!(rs.forwarding, Forwarding::Tun(_)) || rs.forwarding_unset {
        let af = Family::of(rs.addr.ip());
        match vs.family {
            None => vs.family = Some(af),
            Some(f) if f != af => {
                cx.warn(
                    rs.at,
                    format!(
                        "address family of virtual server and real server {} don't match",
                        rs.addr.ip()
                    ),
                )
                .fallback("skipping the real server");
                return;
            }
            _ => {}
        }
    }
    vs.real_servers.push(rs);
}

/// keepalived's `vs_end_handler`: the sorry server's family, then a family for fwmark
/// services whose servers are all tunnelled.
fn end(vs: &mut VirtualServer, cx: &mut Ctx) {
    if let Some(s) = &vs.sorry_server {
        if !matches!(s.forwarding, Forwarding::Tun(_)) || s.forwarding_unset {
            let af = Family::of(s.addr.ip());
            match vs.family {
                None => vs.family = Some(af),
                Some(f) if f != af => {
                    cx.warn(
                        vs.at,
                        format!(
                            "address family of virtual server and sorry server {} don't match",
                            s.addr.ip()
                        ),
                    )
                    .fallback("skipping the sorry server");
                    vs.sorry_server = None;
                }
                _ => {}
            }
        }
    }
    if vs.family.is_none() && !matches!(vs.key, VsKey::Group(_)) {
        let mut fams = vs
            .sorry_server
            .iter()
            .map(|s| s.addr.ip())
            .chain(vs.real_servers.iter().map(|r| r.addr.ip()))
            .map(Family::of);
        let first = fams.next();
        vs.family = match first {
            Some(f) if fams.all(|g| g == f) => Some(f),
            _ => Some(Family::V4),
        };
    }
}

/// The address of an address-keyed service.
pub fn vs_ip(vs: &VirtualServer) -> Option<IpAddr> {
    match vs.key {
        VsKey::Addr(a) => Some(a.ip()),
        _ => None,
    }
}
