//! Health checkers inside a `real_server` block (keepalived.conf(5), "real_server ...
//! CHECKER_TYPE"): the keywords all checkers share, and dispatch to one module per type.
//!
//! A checker's timers default to the real server's, which default to the virtual server's
//! ("the virtual server setting is the default for real servers, and the real server setting
//! is the default for checkers"). [`CheckerCommon`] holds the resolved values, filled in by
//! [`resolve`] once the whole configuration is read, so the checker engine uses it directly.

pub mod bfd;
pub mod dns;
pub mod file;
pub mod http;
pub mod misc;
pub mod smtp;
pub mod udp;

use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use super::read::{self, CONNECT_TIMEOUT_MAX, TIMER_MAX};
use crate::config::ctx::Ctx;
use crate::config::source::Loc;
use crate::config::tree::Node;
use crate::units::Micros;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checker {
    pub kind: CheckerKind,
    /// Connection and timer settings; `None` for `FILE_CHECK` and `BFD_CHECK`, which have
    /// none of the standard options.
    pub common: Option<CheckerCommon>,
    #[serde(skip)]
    pub at: Loc,
    /// What the block itself configured, before defaults from the real server.
    #[serde(skip)]
    pub set: CommonSet,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
// The larger kinds are boxed so that a TCP check (the common case, tens of thousands in
// a big config) does not pay for the largest one.
pub enum CheckerKind {
    TcpCheck,
    HttpGet(Box<http::HttpCheck>),
    SslGet(Box<http::HttpCheck>),
    SmtpCheck(Box<smtp::SmtpCheck>),
    DnsCheck(Box<dns::DnsCheck>),
    MiscCheck(Box<misc::MiscCheck>),
    UdpCheck(Box<udp::UdpCheck>),
    PingCheck,
    FileCheck(file::FileCheck),
    BfdCheck(bfd::BfdCheck),
}

/// Resolved settings every checker but `FILE_CHECK`/`BFD_CHECK` has.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckerCommon {
    /// Where to connect; `None` for `MISC_CHECK`, which runs a program instead.
    pub conn: Option<ConnOpts>,
    /// Start in the failed state until the first success (`alpha`).
    pub alpha: bool,
    /// Extra attempts after a failure before the server is declared down.
    pub retry: u32,
    pub delay_before_retry: Micros,
    /// Interval between checks.
    pub delay_loop: Micros,
    /// Maximum random delay before the first check (0: none).
    pub warmup: Micros,
    pub log_all_failures: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnOpts {
    /// `connect_ip`/`connect_port`, defaulting to the real server's address as written.
    /// keepalived copies it when the checker starts, before a missing real server port is
    /// filled in from the virtual server, and `connect_ip` resets the port to 0: both kept.
    pub connect_to: SocketAddr,
    /// `bindto`: the source address.
    pub bindto: Option<IpAddr>,
    /// `bind_port`: the source port.
    pub bind_port: Option<u16>,
    /// `bind_if`: needed for an IPv6 link-local destination.
    pub bind_if: Option<String>,
    /// `connect_timeout`, default the real server's (5 s unless set).
    pub connect_timeout: Micros,
    /// `fwmark`: SO_MARK for the checker's packets.
    pub fwmark: Option<u32>,
}

/// Values a checker, real server or virtual server block set explicitly.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CommonSet {
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Micros>,
    pub warmup: Option<Micros>,
    pub delay_loop: Option<Micros>,
    pub alpha: Option<bool>,
    pub connect_timeout: Option<Micros>,
}

/// The real server's resolved values a checker inherits.
#[derive(Debug, Clone, Copy)]
pub struct Inherited {
    pub alpha: bool,
    pub retry: Option<u32>,
    pub connect_timeout: Micros,
    pub delay_loop: Micros,
    pub warmup: Option<Micros>,
    pub delay_before_retry: Option<Micros>,
}

/// Per-type defaults keepalived sets when queueing a checker.
struct TypeDefaults {
    has_common: bool,
    has_conn: bool,
    retry: u32,
    /// `None`: defaults to the delay loop (DNS_CHECK).
    delay_before_retry: Option<Micros>,
}

fn defaults(kind: &CheckerKind) -> TypeDefaults {
    let (has_common, has_conn, retry, dbr) = match kind {
        CheckerKind::FileCheck(_) | CheckerKind::BfdCheck(_) => (false, false, 0, None),
        CheckerKind::MiscCheck(_) => (true, false, 0, Some(Micros::from_secs(1))),
        CheckerKind::HttpGet(_) | CheckerKind::SslGet(_) => {
            (true, true, 1, Some(Micros::from_secs(3)))
        }
        CheckerKind::DnsCheck(_) => (true, true, 3, None),
        _ => (true, true, 1, Some(Micros::from_secs(1))),
    };
    TypeDefaults {
        has_common,
        has_conn,
        retry,
        delay_before_retry: dbr,
    }
}

/// The names `real_server` accepts as checker blocks.
pub fn is_checker(name: &str) -> bool {
    matches!(
        name,
        "TCP_CHECK"
            | "HTTP_GET"
            | "SSL_GET"
            | "SMTP_CHECK"
            | "DNS_CHECK"
            | "MISC_CHECK"
            | "UDP_CHECK"
            | "PING_CHECK"
            | "FILE_CHECK"
            | "BFD_CHECK"
    )
}

/// Parses one checker block of the real server at `rs_addr`; `owner` names the real server
/// in messages. Returns the checkers it defines (an `SMTP_CHECK` with `host` blocks defines
/// one per host), none if keepalived drops it.
pub fn parse(n: &Node, cx: &mut Ctx, rs_addr: SocketAddr, owner: &str) -> Vec<Checker> {
    let kind = match n.name() {
        "TCP_CHECK" => CheckerKind::TcpCheck,
        "HTTP_GET" => CheckerKind::HttpGet(Box::default()),
        "SSL_GET" => CheckerKind::SslGet(Box::default()),
        "SMTP_CHECK" => CheckerKind::SmtpCheck(Box::default()),
        "DNS_CHECK" => CheckerKind::DnsCheck(Box::default()),
        "MISC_CHECK" => CheckerKind::MiscCheck(Box::default()),
        "UDP_CHECK" => CheckerKind::UdpCheck(Box::default()),
        "PING_CHECK" => CheckerKind::PingCheck,
        "FILE_CHECK" => CheckerKind::FileCheck(file::FileCheck::default()),
        _ => CheckerKind::BfdCheck(bfd::BfdCheck::default()),
    };
    let d = defaults(&kind);
    let conn = d.has_conn.then(|| ConnBuilder::new(rs_addr));
    let mut b = Builder {
        kind,
        conn,
        set: CommonSet::default(),
        log_all_failures: false,
    };
    let mut hosts: Vec<ConnBuilder> = Vec::new();
    let block = format!("{} of real_server {owner}", n.name());
    for c in cx.block(n) {
        let taken = match &mut b.kind {
            CheckerKind::HttpGet(h) | CheckerKind::SslGet(h) => http::keyword(h, c, cx, &mut b.set),
            CheckerKind::SmtpCheck(s) => {
                if c.name() == "host" {
                    // Deprecated: keepalived logs "The SMTP_CHECK host block is deprecated.
                    // Please define additional checkers." without failing `-t`.
                    let mut h = b.conn.clone().unwrap_or_else(|| ConnBuilder::new(rs_addr));
                    for hc in cx.block(c) {
                        if !h.keyword(hc, cx)
                            && !common_keyword(hc, cx, &mut b.set, &mut b.log_all_failures)
                        {
                            cx.unknown(hc, &format!("host of {block}"));
                        }
                    }
                    if h.check(cx, c.loc()) {
                        hosts.push(h);
                    }
                    true
                } else {
                    smtp::keyword(s, c, cx)
                }
            }
            CheckerKind::DnsCheck(dc) => dns::keyword(dc, c, cx),
            CheckerKind::MiscCheck(m) => misc::keyword(m, c, cx),
            CheckerKind::UdpCheck(u) => udp::keyword(u, c, cx),
            CheckerKind::FileCheck(f) => file::keyword(f, c, cx),
            CheckerKind::BfdCheck(bf) => bfd::keyword(bf, c, cx, owner),
            CheckerKind::TcpCheck | CheckerKind::PingCheck => false,
        };
        if taken {
            continue;
        }
        if let Some(conn) = b.conn.as_mut() {
            if conn.keyword(c, cx) {
                continue;
            }
        }
        if d.has_common && common_keyword(c, cx, &mut b.set, &mut b.log_all_failures) {
            continue;
        }
        cx.unknown(c, &block);
    }
    b.finish(n, cx, d, hosts, owner)
}

struct Builder {
    kind: CheckerKind,
    conn: Option<ConnBuilder>,
    set: CommonSet,
    log_all_failures: bool,
}

impl Builder {
    fn finish(
        mut self,
        n: &Node,
        cx: &mut Ctx,
        d: TypeDefaults,
        hosts: Vec<ConnBuilder>,
        owner: &str,
    ) -> Vec<Checker> {
        let keep = match &mut self.kind {
            CheckerKind::HttpGet(h) | CheckerKind::SslGet(h) => http::end(h, cx, n.loc()),
            CheckerKind::MiscCheck(m) => misc::end(m, cx, n.loc()),
            CheckerKind::UdpCheck(u) => udp::end(u, cx, n.loc()),
            CheckerKind::FileCheck(f) => file::end(f, cx, n.loc()),
            CheckerKind::BfdCheck(b) => bfd::end(b, cx, n.loc(), owner),
            _ => true,
        };
        if !keep {
            return Vec::new();
        }
        let log_all_failures = self.log_all_failures;
        let make = |cb: Option<ConnBuilder>, kind: CheckerKind, mut set: CommonSet| {
            set.connect_timeout = cb.as_ref().and_then(|c| c.connect_timeout);
            let conn = cb.map(ConnBuilder::build);
            Checker {
                kind,
                common: d.has_common.then(|| CheckerCommon {
                    conn,
                    alpha: false,
                    retry: d.retry,
                    delay_before_retry: d.delay_before_retry.unwrap_or_default(),
                    delay_loop: Micros::default(),
                    warmup: Micros::default(),
                    log_all_failures,
                }),
                at: n.loc(),
                set,
            }
        };
        let mut out = Vec::new();
        if let CheckerKind::SmtpCheck(_) = self.kind {
            // The checker's own connection counts only if something was configured on it,
            // or if there are no host blocks (keepalived's smtp_check_end_handler).
            let own = self.conn.take();
            let configured = own.as_ref().is_some_and(|c| c.configured);
            if configured || hosts.is_empty() {
                if let Some(c) = own {
                    if c.check(cx, n.loc()) {
                        out.push(make(Some(c), self.kind.clone(), self.set.clone()));
                    }
                }
            }
            for h in hosts {
                out.push(make(Some(h), self.kind.clone(), self.set.clone()));
            }
            return out;
        }
        if let Some(c) = &self.conn {
            if !c.check(cx, n.loc()) {
                return out;
            }
        }
        out.push(make(self.conn, self.kind, self.set));
        out
    }
}

/// The connection keywords, applied in order like keepalived: `connect_ip` replaces the
/// whole destination (port 0), `bindto` the whole source.
#[derive(Debug, Clone)]
struct ConnBuilder {
    dst: SocketAddr,
    bindto: Option<IpAddr>,
    bind_port: Option<u16>,
    bind_if: Option<String>,
    connect_timeout: Option<Micros>,
    fwmark: Option<u32>,
    /// Something was set in this block (SMTP_CHECK host handling).
    configured: bool,
}

impl ConnBuilder {
    fn new(dst: SocketAddr) -> Self {
        ConnBuilder {
            dst,
            bindto: None,
            bind_port: None,
            bind_if: None,
            connect_timeout: None,
            fwmark: None,
            configured: false,
        }
    }

    fn keyword(&mut self, c: &Node, cx: &mut Ctx) -> bool {
        match c.name() {
            "connect_ip" => {
                if let Some(ip) = ip_arg(c, cx) {
                    if self.bindto.is_some_and(|b| b.is_ipv4() != ip.is_ipv4()) {
                        cx.warn(
                            c.loc(),
                            format!(
                                "connect_ip address {ip} does not match address family of bindto"
                            ),
                        )
                        .fallback("ignoring it");
                    } else {
                        self.dst = SocketAddr::new(ip, 0);
                    }
                }
            }
            "connect_port" => {
                if let Some(p) = read::unsigned(cx, c, 0, 1, 65535) {
                    self.dst.set_port(p as u16);
                }
            }
            "bindto" => {
                if let Some(ip) = ip_arg(c, cx) {
                    if ip.is_ipv4() != self.dst.is_ipv4() {
                        cx.warn(
                            c.loc(),
                            format!(
                                "bindto address {ip} does not match address family of connect_ip"
                            ),
                        )
                        .fallback("ignoring it");
                    } else {
                        self.bindto = Some(ip);
                        self.bind_port = None;
                    }
                }
            }
            "bind_port" => {
                if let Some(p) = read::unsigned(cx, c, 0, 1, 65535) {
                    self.bind_port = Some(p as u16);
                }
            }
            "bind_if" => {
                // keepalived only checks the length here, not that the interface exists.
                if let Some(w) = cx.arg(c, 0) {
                    if w.text.len() > 15 {
                        cx.warn(w.loc, format!("interface name {} is too long", w.text))
                            .expected("at most 15 characters")
                            .fallback("ignoring it");
                    } else {
                        self.bind_if = Some(w.text.clone());
                    }
                }
            }
            "connect_timeout" => {
                if let Some(t) = read::timer(cx, c, Micros(1), CONNECT_TIMEOUT_MAX) {
                    self.connect_timeout = Some(t);
                }
            }
            "fwmark" => {
                if let Some(m) = read::unsigned(cx, c, 0, 0, u32::MAX) {
                    self.fwmark = Some(m);
                }
            }
            _ => return false,
        }
        self.configured = true;
        true
    }

    /// keepalived's `check_conn_opts`: an IPv6 link-local destination needs `bind_if`.
    fn check(&self, cx: &mut Ctx, at: Loc) -> bool {
        if let IpAddr::V6(v6) = self.dst.ip() {
            if v6.segments()[0] & 0xffc0 == 0xfe80 && self.bind_if.is_none() {
                cx.warn(
                    at,
                    format!("checker link local address {v6} requires a bind_if"),
                )
                .fallback("ignoring the checker");
                return false;
            }
        }
        true
    }

    fn build(self) -> ConnOpts {
        ConnOpts {
            connect_to: self.dst,
            bindto: self.bindto,
            bind_port: self.bind_port,
            bind_if: self.bind_if,
            connect_timeout: self.connect_timeout.unwrap_or_default(),
            fwmark: self.fwmark,
        }
    }
}

fn ip_arg(c: &Node, cx: &mut Ctx) -> Option<IpAddr> {
    cx.arg(c, 0)?;
    cx.ip(c, 0)
}

/// `retry`, `delay_before_retry`, `warmup`, `delay_loop`, `alpha`, `log_all_failures`.
fn common_keyword(c: &Node, cx: &mut Ctx, set: &mut CommonSet, log_all: &mut bool) -> bool {
    match c.name() {
        "retry" => set.retry = read::unsigned(cx, c, 0, 0, u32::MAX).or(set.retry),
        "delay_before_retry" => {
            set.delay_before_retry =
                read::timer(cx, c, Micros(0), TIMER_MAX).or(set.delay_before_retry)
        }
        "warmup" => set.warmup = read::timer(cx, c, Micros(0), TIMER_MAX).or(set.warmup),
        "delay_loop" => {
            set.delay_loop = read::timer(cx, c, Micros(1), TIMER_MAX).or(set.delay_loop)
        }
        "alpha" => set.alpha = cx.flag(c).or(set.alpha),
        "log_all_failures" => {
            if let Some(v) = cx.flag(c) {
                *log_all = v;
            }
        }
        _ => return false,
    }
    true
}

/// Fills in a checker's settings from its real server (keepalived's validate_check_config).
pub fn resolve(ck: &mut Checker, rs: &Inherited, vs_delay_loop: Micros) {
    let d = defaults(&ck.kind);
    if let CheckerKind::MiscCheck(m) = &mut ck.kind {
        // misc_timeout 0 (unset) means the virtual server's delay_loop (check_misc.c).
        m.effective_timeout = m.misc_timeout.unwrap_or(vs_delay_loop);
    }
    let Some(common) = ck.common.as_mut() else {
        return;
    };
    let set = &ck.set;
    common.alpha = set.alpha.unwrap_or(rs.alpha);
    common.retry = set.retry.or(rs.retry).unwrap_or(d.retry);
    if let Some(conn) = common.conn.as_mut() {
        conn.connect_timeout = set.connect_timeout.unwrap_or(rs.connect_timeout);
    }
    common.delay_loop = set.delay_loop.unwrap_or(rs.delay_loop);
    common.warmup = set.warmup.or(rs.warmup).unwrap_or(common.delay_loop);
    common.delay_before_retry = set
        .delay_before_retry
        .or(rs.delay_before_retry)
        .or(d.delay_before_retry)
        .unwrap_or(common.delay_loop);
}
