//! The keywords of a `vrrp_instance` block, one arm each (keepalived.conf(5), "VRRP
//! instance(s)"), and the `authentication` and `unicast_peer` sub-blocks.

use std::net::IpAddr;

use super::address::{self, AddrKind};
use super::instance::*;
use super::route;
use super::rule;
use super::track::{parse_tracked_block, TrackKind};
use super::{notify, Vrrp};
use crate::config::ctx::Ctx;
use crate::config::tree::Node;
use crate::units::Micros;

pub(super) fn keyword(c: &Node, v: &mut VrrpInstance, cx: &mut Ctx, vrrp: &Vrrp) {
    let name = v.name.clone();
    let owner = format!("vrrp_instance {name}");
    match c.name() {
        "state" => {
            let Some(s) = cx.string(c) else { return };
            v.state_set = true;
            match s.as_str() {
                "MASTER" => v.state = InitialState::Master,
                "BACKUP" if v.state == InitialState::Master => {
                    cx.warn(c.loc(), format!("({name}) state previously set as MASTER"))
                        .fallback("ignoring BACKUP");
                }
                "BACKUP" => v.state = InitialState::Backup,
                _ => {
                    cx.warn(c.args[0].loc, format!("({name}) unknown state '{s}'"))
                        .expected("MASTER or BACKUP (upper case)")
                        .fallback("using BACKUP");
                    v.state = InitialState::Backup;
                }
            }
        }
        "interface" => {
            let Some(w) = cx.arg(c, 0) else { return };
            if w.text.len() >= 16 {
                cx.warn(w.loc, format!("Interface name '{}' too long", w.text))
                    .fallback("ignoring it");
                return;
            }
            if w.text == "lo" {
                cx.warn(
                    w.loc,
                    format!("({name}) cannot use a loopback interface (lo) for vrrp"),
                )
                .fallback("ignoring it");
                return;
            }
            cx.check_interface(w, &owner);
            v.interface = Some(w.text.clone());
        }
        "use_vmac" => {
            let mut vm = Vmac::default();
            for a in &c.args {
                if a.text.contains(':') {
                    vm.mac = Some(a.text.clone());
                } else if a.text.len() >= 16 || a.text.contains('/') {
                    cx.warn(
                        a.loc,
                        format!(
                            "VMAC interface name '{}' too long or invalid characters",
                            a.text
                        ),
                    )
                    .fallback("ignoring it");
                } else {
                    vm.ifname = Some(a.text.clone());
                }
            }
            v.use_vmac = Some(vm);
        }
        "use_vmac_addr" => v.use_vmac_addr = true,
        "vmac_xmit_base" => v.vmac_xmit_base = true,
        "use_ipvlan" => v.use_ipvlan = Some(c.args.iter().map(|w| w.text.clone()).collect()),
        "unicast_peer" => {
            v.unicast_configured = true;
            unicast_peers(c, v, cx);
        }
        "unicast_fault_no_peer" => {
            v.unicast_configured = true;
            v.unicast_fault_no_peer = true;
        }
        "check_unicast_src" => {
            v.unicast_configured = true;
            v.check_unicast_src = true;
        }
        "old_unicast_checksum" => {
            v.unicast_configured = true;
            match c.args.first().map(|w| w.text.as_str()) {
                None => v.old_unicast_checksum = Some(true),
                Some("never") => v.old_unicast_checksum = Some(false),
                Some(other) => {
                    cx.warn(
                        c.args[0].loc,
                        format!("({name}) Unknown old_unicast_chksum mode {other}"),
                    )
                    .fallback("ignoring it");
                }
            }
        }
        "native_ipv6" => {
            if v.family_v6() == Some(false) {
                cx.warn(
                    c.loc(),
                    format!("({name}) Cannot specify native_ipv6 with IPv4 addresses"),
                )
                .fallback("ignoring it");
                return;
            }
            v.native_ipv6 = true;
            v.version = Some(3);
        }
        "dont_track_primary" => v.dont_track_primary = true,
        "track_interface" => parse_tracked_block(
            c,
            TrackKind::Interface,
            &name,
            vrrp,
            cx,
            &mut v.track_interface,
        ),
        "track_script" => {
            parse_tracked_block(c, TrackKind::Script, &name, vrrp, cx, &mut v.track_script)
        }
        "track_process" => {
            parse_tracked_block(c, TrackKind::Process, &name, vrrp, cx, &mut v.track_process)
        }
        "track_file" => parse_tracked_block(c, TrackKind::File, &name, vrrp, cx, &mut v.track_file),
        "track_bfd" => parse_tracked_block(c, TrackKind::Bfd, &name, vrrp, cx, &mut v.track_bfd),
        "bfd_takeover" => bfd_takeover(c, &name, cx, v),
        "mcast_src_ip" | "unicast_src_ip" => {
            if c.name() == "unicast_src_ip" {
                v.unicast_configured = true;
            }
            let Some(a) = cx.ip(c, 0) else { return };
            if v.family_v6().is_some_and(|f| f != a.is_ipv6()) {
                cx.warn(
                    c.args[0].loc,
                    format!(
                        "({name}) src address [{a}] must be of the same family as the instance"
                    ),
                )
                .fallback("ignoring it");
                return;
            }
            v.src_ip = Some(a);
        }
        "mcast_dst_ip" => {
            let Some(a) = cx.ip(c, 0) else { return };
            let ok = match a {
                IpAddr::V4(a) => a.is_multicast(),
                // ff02::/16 link-local multicast (any flags nibble: ffX2).
                IpAddr::V6(a) => a.segments()[0] & 0xff0f == 0xff02,
            };
            if !ok {
                cx.warn(
                    c.args[0].loc,
                    format!(
                        "({name}) mcast_dst_ip {a} not multicast (IPv6: not link-local multicast)"
                    ),
                )
                .fallback("ignoring it");
                return;
            }
            v.mcast_dst_ip = Some(a);
        }
        "track_src_ip" => v.track_src_ip = true,
        "virtual_router_id" => {
            let Some(w) = cx.arg(c, 0) else { return };
            match w.text.parse::<u8>() {
                Ok(id) if id >= 1 && !w.text.starts_with('+') => {
                    v.vrid = id;
                    v.vrid_set = true;
                }
                _ => {
                    cx.warn(
                        w.loc,
                        format!(
                            "({name}): VRID '{}' not valid - must be between 1 & 255",
                            w.text
                        ),
                    )
                    .fallback("ignoring it");
                }
            }
        }
        "unicast_ttl" => v.unicast_ttl = cx.num(c, 0, 0u8, 255).or(v.unicast_ttl),
        "version" => {
            let Some(ver) = cx.num::<u8>(c, 0, 2, 3) else {
                return;
            };
            let conflicts =
                v.version.is_some_and(|x| x != ver) || (ver == 2 && v.family_v6() == Some(true));
            if conflicts {
                cx.warn(
                    c.loc(),
                    format!(
                        "({name}) vrrp_version {ver} conflicts with configured or deduced version"
                    ),
                )
                .fallback("ignoring it");
                return;
            }
            v.version = Some(ver);
        }
        "priority" => v.priority = cx.num_or(c, 0, 1u8, 255, 100),
        "advert_int" => {
            // Parsed to µs like keepalived; the version decides the rounding later.
            if let Some(us) = cx.decimal(c, 0, 6, 10_000, 255_000_000) {
                v.advert_raw = Some(us);
            }
        }
        "virtual_ipaddress" | "virtual_ipaddress_excluded" => {
            let excluded = c.name() == "virtual_ipaddress_excluded";
            let mut parsed = Vec::new();
            address::parse_block(c, AddrKind::Virtual, cx, &mut parsed);
            for a in parsed {
                if !excluded {
                    if let Some(f) = v.family_v6() {
                        if f != a.is_ipv6() {
                            cx.warn(
                                c.loc(),
                                format!(
                                    "({name}): address family must match VRRP instance [{}]",
                                    a.addr
                                ),
                            )
                            .expected("IPv4 and IPv6 VIPs in separate instances (or in virtual_ipaddress_excluded)")
                            .fallback("ignoring it");
                            continue;
                        }
                    }
                    v.virtual_ipaddress.push(a);
                } else {
                    v.virtual_ipaddress_excluded.push(a);
                }
            }
        }
        "virtual_routes" => route::parse_block(c, false, cx, &mut v.virtual_routes),
        "virtual_rules" => rule::parse_block(c, false, cx, &mut v.virtual_rules),
        "promote_secondaries" => v.promote_secondaries = true,
        "linkbeat_use_polling" => {
            cx.warn(
                c.loc(),
                format!("({name}) 'linkbeat_use_polling' in vrrp instance deprecated"),
            )
            .expected("the linkbeat_interfaces block");
            v.linkbeat_use_polling = true;
        }
        "accept" => v.accept = Some(true),
        "no_accept" => v.accept = Some(false),
        "skip_check_adv_addr" => v.skip_check_adv_addr = cx.flag(c).or(v.skip_check_adv_addr),
        "strict_mode" => v.strict_mode = cx.flag(c).or(v.strict_mode),
        "preempt" => v.nopreempt = false,
        "nopreempt" => v.nopreempt = true,
        "preempt_delay" => {
            v.preempt_delay = cx
                .micros(c, 0, Micros(0), Micros::from_secs(1000))
                .or(v.preempt_delay)
        }
        "debug" => v.debug = cx.num(c, 0, 0u8, 4).unwrap_or(v.debug),
        "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
            notify(c, &name, cx, &mut v.notify)
        }
        "notify_deleted" => {
            if v.notify_deleted {
                cx.warn(
                    c.loc(),
                    format!("({name}) notify_deleted already specified"),
                )
                .fallback("ignoring it");
                return;
            }
            v.notify_deleted = true;
            if !c.args.is_empty() {
                notify(c, &name, cx, &mut v.notify);
            }
        }
        "notify_master_rx_lower_pri" => {
            if v.notify_master_rx_lower_pri.is_some() {
                cx.warn(
                    c.loc(),
                    format!("({name}) notify_master_rx_lower_pri script already specified"),
                )
                .fallback("ignoring it");
                return;
            }
            v.notify_master_rx_lower_pri = crate::config::model::script::notify_script(cx, c);
        }
        "smtp_alert" => v.smtp_alert = cx.flag(c).or(v.smtp_alert),
        "notify_priority_changes" => {
            v.notify_priority_changes = cx.flag(c).or(v.notify_priority_changes)
        }
        "lvs_sync_daemon_interface" => {
            cx.warn(
                c.loc(),
                format!(
                    "({name}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated"
                ),
            )
            .expected("the global lvs_sync_daemon");
        }
        "garp_master_delay" => {
            v.garp_master_delay = cx
                .num::<u64>(c, 0, 0, u64::from(u32::MAX) / 1_000_000)
                .map(Micros::from_secs)
                .or(v.garp_master_delay)
        }
        "garp_master_refresh" => {
            v.garp_master_refresh = cx
                .num::<u64>(c, 0, 0, u64::from(u32::MAX))
                .map(Micros::from_secs)
                .or(v.garp_master_refresh)
        }
        "garp_master_repeat" | "garp_master_refresh_repeat" => {
            let Some(mut r) = cx.num::<u32>(c, 0, 0, u32::MAX) else {
                return;
            };
            if r == 0 {
                cx.warn(
                    c.loc(),
                    format!("({name}): {} must be greater than 0", c.name()),
                )
                .fallback("setting it to 1");
                r = 1;
            }
            if c.name() == "garp_master_repeat" {
                v.garp_master_repeat = Some(r);
            } else {
                v.garp_master_refresh_repeat = Some(r);
            }
        }
        "garp_lower_prio_delay" => {
            v.garp_lower_prio_delay = cx
                .num::<u64>(c, 0, 0, u64::from(u32::MAX) / 1_000_000)
                .map(Micros::from_secs)
                .or(v.garp_lower_prio_delay)
        }
        "garp_lower_prio_repeat" => {
            v.garp_lower_prio_repeat = cx
                .num(c, 0, 0u32, i32::MAX as u32)
                .or(v.garp_lower_prio_repeat)
        }
        "garp_extra_if" | "vmac_garp_intvl" => {
            if c.name() == "vmac_garp_intvl" {
                cx.warn(c.loc(), "Keyword \"vmac_garp_intvl\" is deprecated")
                    .expected("\"garp_extra_if\"");
            }
            let mut all = false;
            let mut delay = None;
            for (i, a) in c.args.iter().enumerate() {
                if a.text == "all" {
                    all = true;
                } else {
                    match cx.num::<u32>(c, i, 0, 86400) {
                        Some(d) => delay = Some(d),
                        None => return,
                    }
                }
            }
            match delay {
                Some(d) => v.garp_extra_if = Some((all, d)),
                None => {
                    cx.warn(
                        c.loc(),
                        format!("({name}): {} specified without time", c.name()),
                    )
                    .fallback("ignoring it");
                }
            }
        }
        "down_timer_adverts" => {
            v.down_timer_adverts = cx.num(c, 0, 1u8, 100).or(v.down_timer_adverts)
        }
        "lower_prio_no_advert" => v.lower_prio_no_advert = cx.flag(c).or(v.lower_prio_no_advert),
        "higher_prio_send_advert" => {
            v.higher_prio_send_advert = cx.flag(c).or(v.higher_prio_send_advert)
        }
        "kernel_rx_buf_size" => {
            if c.args.len() != 1 {
                cx.warn(
                    c.loc(),
                    format!("({name}) invalid kernel_rx_buf_size specified"),
                )
                .fallback("ignoring it");
                return;
            }
            v.kernel_rx_buf_size = cx.num(c, 0, 0u32, u32::MAX).or(v.kernel_rx_buf_size);
        }
        "authentication" => authentication(c, v, cx),
        _ => cx.unknown(c, &owner),
    }
}

fn authentication(n: &Node, v: &mut VrrpInstance, cx: &mut Ctx) {
    let name = v.name.clone();
    let auth = v.authentication.get_or_insert(Authentication {
        auth_type: None,
        auth_pass: None,
    });
    for c in cx.block(n) {
        match c.name() {
            "auth_type" => {
                let Some(t) = cx.string(c) else { continue };
                match t.as_str() {
                    "PASS" => auth.auth_type = Some(AuthType::Pass),
                    "AH" => auth.auth_type = Some(AuthType::Ah),
                    _ => {
                        cx.warn(
                            c.args[0].loc,
                            format!("({name}) unknown authentication type '{t}'"),
                        )
                        .expected("PASS or AH")
                        .fallback("ignoring it");
                    }
                }
            }
            "auth_pass" => {
                let Some(mut p) = cx.string(c) else { continue };
                if p.len() > 8 {
                    cx.warn(c.args[0].loc, "Truncating auth_pass to 8 characters");
                    let mut cut = 8;
                    while !p.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    p.truncate(cut);
                }
                auth.auth_pass = Some(p);
            }
            _ => cx.unknown(c, &format!("vrrp_instance {name} authentication")),
        }
    }
}

fn unicast_peers(n: &Node, v: &mut VrrpInstance, cx: &mut Ctx) {
    let name = v.name.clone();
    for line in cx.block(n) {
        let w = &line.kw;
        let Ok(addr) = w.text.parse::<IpAddr>() else {
            cx.warn(
                w.loc,
                format!("({name}) malformed unicast peer address [{}]", w.text),
            )
            .fallback("skipping it");
            continue;
        };
        if v.family_v6().is_some_and(|f| f != addr.is_ipv6()) {
            cx.warn(
                w.loc,
                format!("({name}) unicast peer address [{addr}] must be of the same family as the instance"),
            )
            .fallback("skipping it");
            continue;
        }
        let mut p = UnicastPeer {
            addr,
            min_ttl: None,
            max_ttl: None,
        };
        let mut i = 0;
        while i < line.args.len() {
            let a = &line.args[i];
            match a.text.as_str() {
                "min_ttl" | "max_ttl" => {
                    let t = cx.num::<u8>(line, i + 1, 0, 255);
                    if a.text == "min_ttl" {
                        p.min_ttl = t;
                    } else {
                        p.max_ttl = t;
                    }
                    v.check_unicast_src = true;
                    i += 2;
                }
                other => {
                    cx.warn(
                        a.loc,
                        format!("({name}) unknown unicast_peer option {other}"),
                    )
                    .fallback("ignoring it");
                    i += 1;
                }
            }
        }
        v.unicast_peer.push(p);
    }
}

/// `bfd_takeover NAME [force]`: ha's fast takeover on BFD (README "BFD"). keepalived does
/// not know it: `--strict` refuses it, plain `-t` takes it.
fn bfd_takeover(c: &Node, owner: &str, cx: &mut Ctx, v: &mut VrrpInstance) {
    if cx.diags.strict() {
        cx.error(
            c.loc(),
            "'bfd_takeover' is an ha extension keepalived does not know",
        );
        return;
    }
    let Some(w) = cx.arg(c, 0) else { return };
    let bfd = w.text.clone();
    if !cx.defined.bfd_instances.contains(&bfd) {
        cx.warn(
            w.loc,
            format!("({owner}) bfd_takeover: BFD instance {bfd} not found"),
        )
        .expected("the name of a bfd_instance defined before this instance")
        .fallback("ignoring it");
        return;
    }
    let force = match c.args.get(1).map(|a| a.text.as_str()) {
        None => false,
        Some("force") => true,
        Some(other) => {
            cx.warn(
                c.args[1].loc,
                format!("({owner}) unknown bfd_takeover option '{other}'"),
            )
            .expected("force")
            .fallback("ignoring it");
            false
        }
    };
    v.bfd_takeover = Some(super::instance::BfdTakeover { bfd, force });
}
