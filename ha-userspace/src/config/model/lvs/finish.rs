//! Checks across blocks once everything is read, in keepalived's order: linking virtual
//! servers to their groups (`link_vsg_to_vs`), then `validate_check_config` (defaults,
//! duplicates, quorum, ports), then the checkers' inherited settings.

use super::checker::{self, Inherited};
use super::forwarding::Forwarding;
use super::group::{Family, GroupEntry, VirtualServerGroup};
use super::real_server::addr_text;
use super::virtual_server::{Protocol, VirtualServer, VsKey, DEFAULT_PERSISTENCE_TIMEOUT};
use super::Lvs;
use crate::config::ctx::Ctx;

pub fn finish(lvs: &mut Lvs, cx: &mut Ctx) {
    let servers = std::mem::take(&mut lvs.virtual_servers);
    for mut vs in servers {
        if !link_group(&mut vs, &lvs.groups, cx) {
            continue;
        }
        if validate(&mut vs, &lvs.groups, cx) {
            lvs.virtual_servers.push(vs);
        }
    }
}

fn group_of<'a>(
    vs: &VirtualServer,
    groups: &'a [VirtualServerGroup],
) -> Option<&'a VirtualServerGroup> {
    match &vs.key {
        VsKey::Group(name) => groups.iter().find(|g| &g.name == name),
        _ => None,
    }
}

/// keepalived's `link_vsg_to_vs`. keepalived only logs these problems (so `keepalived -t`
/// exits 0) but the daemon then ignores the virtual server; we report them as warnings.
fn link_group(vs: &mut VirtualServer, groups: &[VirtualServerGroup], cx: &mut Ctx) -> bool {
    let VsKey::Group(name) = &vs.key else {
        return true;
    };
    let Some(g) = group_of(vs, groups) else {
        cx.warn(
            vs.at,
            format!("virtual server group {name} specified but not configured"),
        )
        .expected("a virtual_server_group block of that name (with valid entries)")
        .fallback("ignoring the virtual server");
        return false;
    };
    let (v4, v6) = (g.has_family(Family::V4), g.has_family(Family::V6));
    let conflict = match vs.family {
        Some(_) if v4 && v6 => true,
        Some(Family::V6) => v4,
        Some(Family::V4) => v6,
        None => false,
    };
    if conflict {
        cx.warn(
            vs.at,
            format!(
                "{name}: address family of the group doesn't match virtual server {}",
                vs.display()
            ),
        )
        .fallback("ignoring the virtual server");
        return false;
    }
    if v4 != v6 {
        vs.family = Some(if v4 { Family::V4 } else { Family::V6 });
    } else if vs.family.is_none() && !(v4 && v6) {
        // "address family cannot be determined, defaulting to IPv4" (logged only).
        vs.family = Some(Family::V4);
    }
    true
}

/// keepalived's `validate_check_config` for one virtual server; false drops it.
fn validate(vs: &mut VirtualServer, groups: &[VirtualServerGroup], cx: &mut Ctx) -> bool {
    let name = vs.display();
    let at = vs.at;
    if vs.real_servers.is_empty() {
        cx.warn(at, format!("virtual server {name} has no real servers"))
            .fallback("ignoring the virtual server");
        return false;
    }
    let group = group_of(vs, groups);
    let is_fwmark = matches!(vs.key, VsKey::Fwmark(_));
    let group_fwmarks = group.is_some_and(|g| g.has_fwmarks());
    let group_addrs = group.is_some_and(|g| g.has_addresses());
    if vs.ha_suspend && (is_fwmark || group_fwmarks) {
        cx.warn(
            at,
            format!("virtual server {name}: cannot use ha_suspend with fwmarks"),
        )
        .fallback("clearing ha_suspend");
        vs.ha_suspend = false;
    }
    if group_addrs || matches!(vs.key, VsKey::Addr(_)) {
        if vs.protocol.is_none() {
            // The kernel would default to UDP, so keepalived sets it explicitly.
            cx.warn(at, format!("virtual server {name}: no protocol set"))
                .expected("'protocol TCP|UDP|SCTP'")
                .fallback("defaulting to UDP");
            vs.protocol = Some(Protocol::Udp);
        }
        if vs.flags.ops && vs.protocol != Some(Protocol::Udp) {
            cx.warn(
                at,
                format!("virtual server {name}: one packet scheduling requires UDP"),
            )
            .fallback("resetting ops");
            vs.flags.ops = false;
        }
        if let VsKey::Addr(a) = vs.key {
            if a.port() == 0 && vs.persistence_timeout.is_none() {
                zero_port(vs, cx, &name);
            }
        }
    }
    if vs.persistence_timeout.is_none()
        && group.is_some_and(|g| {
            g.entries
                .iter()
                .any(|e| matches!(e, GroupEntry::Range { port: None, .. }))
        })
    {
        zero_port(vs, cx, &name);
    }
    if vs.protocol.is_some() && (is_fwmark || (group_fwmarks && !group_addrs)) {
        cx.warn(
            at,
            format!("virtual server {name}: protocol specified for fwmark"),
        )
        .fallback("the protocol is ignored");
        vs.protocol = None;
    }
    if !vs.scheduler_set {
        cx.warn(at, format!("virtual server {name}: no scheduler set"))
            .expected("'lvs_sched ...'")
            .fallback("setting default 'wlc'");
    }
    real_servers(vs, cx, &name);
    quorum(vs, cx, &name);
    ports(vs, group, cx, &name);
    let vs_delay_loop = vs.delay_loop;
    for rs in &mut vs.real_servers {
        let inherited = Inherited {
            alpha: rs.alpha,
            retry: rs.retry,
            connect_timeout: rs.connect_timeout,
            delay_loop: rs.delay_loop,
            warmup: rs.warmup,
            delay_before_retry: rs.delay_before_retry,
        };
        for ck in &mut rs.checkers {
            checker::resolve(ck, &inherited, vs_delay_loop);
        }
    }
    true
}

fn zero_port(vs: &mut VirtualServer, cx: &mut Ctx, name: &str) {
    cx.warn(
        vs.at,
        format!("virtual server {name}: zero port only valid for persistent services"),
    )
    .expected("a port, or 'persistence_timeout'")
    .fallback(format!(
        "setting persistence_timeout {DEFAULT_PERSISTENCE_TIMEOUT}"
    ));
    vs.persistence_timeout = Some(DEFAULT_PERSISTENCE_TIMEOUT);
}

fn default_forwarding(vs: &mut VirtualServer, cx: &mut Ctx, name: &str) -> Forwarding {
    if !vs.forwarding_set {
        cx.warn(
            vs.at,
            format!("virtual server {name}: no forwarding method set"),
        )
        .expected("'lvs_method NAT|DR|TUN'")
        .fallback("setting default NAT");
        vs.forwarding = Forwarding::Nat;
        vs.forwarding_set = true;
    }
    vs.forwarding
}

/// Duplicates, forwarding and the settings real servers inherit.
fn real_servers(vs: &mut VirtualServer, cx: &mut Ctx, name: &str) {
    let mut kept: Vec<super::real_server::RealServer> = Vec::new();
    let servers = std::mem::take(&mut vs.real_servers);
    for mut rs in servers {
        if kept.iter().any(|k| k.addr == rs.addr) {
            cx.warn(
                rs.at,
                format!(
                    "VS {name}: real server {} is duplicated",
                    addr_text(rs.addr)
                ),
            )
            .fallback("removing the second one");
            continue;
        }
        if rs.forwarding_unset {
            rs.forwarding = default_forwarding(vs, cx, name);
            rs.forwarding_unset = false;
        }
        rs.alpha = rs.set.alpha.unwrap_or(vs.alpha);
        rs.inhibit_on_failure = rs.set_inhibit.unwrap_or(vs.inhibit_on_failure);
        rs.retry = rs.set.retry.or(vs.retry);
        rs.connect_timeout = rs.set.connect_timeout.unwrap_or(vs.connect_timeout);
        rs.delay_loop = rs.set.delay_loop.unwrap_or(vs.delay_loop);
        rs.warmup = rs.set.warmup.or(vs.warmup);
        rs.delay_before_retry = rs.set.delay_before_retry.or(vs.delay_before_retry);
        rs.weight = rs.set_weight.unwrap_or(vs.weight);
        if let Some(s) = vs.sorry_server.as_mut() {
            if s.addr == rs.addr && s.inhibit != rs.inhibit_on_failure {
                cx.warn(
                    rs.at,
                    format!(
                        "virtual server {name}: real server {} matches sorry server, but inhibit setting differs",
                        addr_text(rs.addr)
                    ),
                )
                .fallback(format!(
                    "{} it on the sorry server",
                    if rs.inhibit_on_failure { "setting" } else { "clearing" }
                ));
                s.inhibit = rs.inhibit_on_failure;
            }
        }
        kept.push(rs);
    }
    vs.real_servers = kept;
    if vs.sorry_server.as_ref().is_some_and(|s| s.forwarding_unset) {
        let f = default_forwarding(vs, cx, name);
        if let Some(s) = vs.sorry_server.as_mut() {
            s.forwarding = f;
            s.forwarding_unset = false;
        }
    }
}

/// The quorum must be reachable, and the hysteresis below it.
fn quorum(vs: &mut VirtualServer, cx: &mut Ctx, name: &str) {
    let total: u64 = vs.real_servers.iter().map(|r| u64::from(r.weight)).sum();
    if u64::from(vs.quorum) > total {
        cx.warn(
            vs.at,
            format!(
                "quorum {} for {name} exceeds total weight of real servers {total}",
                vs.quorum
            ),
        )
        .fallback(format!("reducing quorum to {total}"));
        vs.quorum = total as u32;
    }
    if vs.hysteresis >= vs.quorum {
        // keepalived sets quorum - 1, which wraps to 4294967295 when the quorum is 0.
        let h = vs.quorum.saturating_sub(1);
        cx.warn(
            vs.at,
            format!(
                "virtual server {name}: hysteresis {} >= quorum {}",
                vs.hysteresis, vs.quorum
            ),
        )
        .fallback(format!("setting hysteresis to {h}"));
        vs.hysteresis = h;
    }
}

/// Unless NAT, real (and sorry) servers use the virtual server's port, and none with fwmarks.
fn ports(vs: &mut VirtualServer, group: Option<&VirtualServerGroup>, cx: &mut Ctx, name: &str) {
    let at = vs.at;
    let nat = |f: Forwarding| f == Forwarding::Nat;
    if let Some(g) = group {
        if g.has_fwmarks() {
            for rs in vs
                .real_servers
                .iter()
                .filter(|r| !nat(r.forwarding) && r.addr.port() != 0)
            {
                cx.warn(
                    rs.at,
                    format!(
                        "fwmark virtual server {name}, real server {} has port specified",
                        addr_text(rs.addr)
                    ),
                )
                .fallback("the port is ignored");
            }
            if vs
                .sorry_server
                .as_ref()
                .is_some_and(|s| !nat(s.forwarding) && s.addr.port() != 0)
            {
                cx.warn(
                    at,
                    format!("fwmark virtual server {name}, sorry server has port specified"),
                )
                .fallback("the port is ignored");
            }
        }
        for e in &g.entries {
            let GroupEntry::Range { start, port, .. } = e else {
                continue;
            };
            let p = port.unwrap_or(0);
            for rs in vs.real_servers.iter().filter(|r| !nat(r.forwarding)) {
                if rs.addr.port() != 0 && rs.addr.port() != p {
                    cx.warn(
                        rs.at,
                        format!("virtual server {name}:[{start},{p}] and real server {} ports don't match", addr_text(rs.addr)),
                    );
                }
            }
            if vs
                .sorry_server
                .as_ref()
                .is_some_and(|s| !nat(s.forwarding) && s.addr.port() != 0 && s.addr.port() != p)
            {
                cx.warn(
                    at,
                    format!("virtual server {name}, sorry server has port specified"),
                )
                .fallback("the port is ignored");
            }
        }
        return;
    }
    let vs_port = match vs.key {
        VsKey::Addr(a) => Some(a.port()),
        _ => None,
    };
    for rs in &mut vs.real_servers {
        let what = format!("real server {}", addr_text(rs.addr));
        fix_port(&mut rs.addr, rs.forwarding, vs_port, cx, rs.at, &what, name);
    }
    if let Some(s) = vs.sorry_server.as_mut() {
        let mut addr = s.addr;
        fix_port(
            &mut addr,
            s.forwarding,
            vs_port,
            cx,
            at,
            "sorry server",
            name,
        );
        s.addr = addr;
    }
}

/// `vs_port` is `None` for a fwmark service.
fn fix_port(
    addr: &mut std::net::SocketAddr,
    f: Forwarding,
    vs_port: Option<u16>,
    cx: &mut Ctx,
    at: crate::config::source::Loc,
    what: &str,
    name: &str,
) {
    match (f, vs_port) {
        (Forwarding::Nat, Some(p)) if addr.port() == 0 => addr.set_port(p),
        (Forwarding::Nat, _) => {}
        (_, None) if addr.port() != 0 => {
            cx.warn(
                at,
                format!("fwmark virtual server {name}, {what} has port specified"),
            )
            .fallback("clearing the port");
            addr.set_port(0);
        }
        (_, None) => {}
        (_, Some(p)) if addr.port() == 0 => addr.set_port(p),
        (_, Some(p)) if addr.port() != p => {
            cx.warn(
                at,
                format!("virtual server {name} and {what} ports don't match"),
            )
            .fallback(format!("using port {p}"));
            addr.set_port(p);
        }
        _ => {}
    }
}
