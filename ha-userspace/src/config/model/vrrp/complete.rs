//! Checks after the whole file is read (keepalived `vrrp_complete_init` /
//! `vrrp_complete_instance`): each fixes the instance the way keepalived does and says so.

use super::instance::{AuthType, InitialState, VrrpInstance};
use super::track::Tracked;
use super::{sync_group, Vrrp};
use crate::config::ctx::Ctx;
use crate::units::Centis;

/// RFC 5798 §5.2.7: Max Adver Int is a 12-bit count of centiseconds.
const V3_MAX_ADVERT: Centis = Centis(4095);

/// The `global_defs` settings that are instance defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct Defaults {
    /// `vrrp_version` (keepalived's default is 2).
    pub version: Option<u8>,
    /// `vrrp_strict`.
    pub strict: bool,
}

pub fn finish(vrrp: &mut Vrrp, defaults: Defaults, cx: &mut Ctx) {
    let mut instances = std::mem::take(&mut vrrp.instances);
    instances.retain_mut(|v| complete_instance(v, defaults, cx));
    vrrp.instances = instances;
    sync_group::resolve(vrrp, cx);
    sync_group_weights(vrrp, cx);
    duplicate_vrids(vrrp, cx);
    track_groups(vrrp, cx);
}

/// false when keepalived drops the instance.
fn complete_instance(v: &mut VrrpInstance, defaults: Defaults, cx: &mut Ctx) -> bool {
    let name = v.name.clone();
    let at = v.line;
    if !v.vrid_set {
        cx.warn(at, format!("({name}) the virtual router id must be set"))
            .expected("virtual_router_id 1..255")
            .fallback("ignoring the instance");
        return false;
    }
    let unicast = !v.unicast_peer.is_empty();
    if v.interface.is_none() && !unicast {
        cx.warn(at, format!("({name}) Unknown interface!"))
            .expected("'interface IFNAME' (or unicast peers)");
    }
    if v.unicast_configured && !unicast {
        if v.unicast_fault_no_peer {
            cx.warn(at, format!("({name}) Cannot use unicast without any peers"))
                .fallback("the instance starts in FAULT state");
        } else {
            cx.warn(
                at,
                format!("({name}) A unicast keyword has been specified without any unicast peers"),
            )
            .fallback(
                "using multicast (deprecated: add unicast_peer or remove the unicast keywords)",
            );
        }
    }
    if v.mcast_dst_ip.is_some() && unicast {
        cx.warn(
            at,
            format!("({name}) multicast destination specified with unicast"),
        )
        .fallback("ignoring mcast_dst_ip");
        v.mcast_dst_ip = None;
    }
    v.ipv6 = v.native_ipv6
        || v.src_ip.is_some_and(|a| a.is_ipv6())
        || v.virtual_ipaddress.first().is_some_and(|a| a.is_ipv6())
        || v.unicast_peer.first().is_some_and(|p| p.addr.is_ipv6());
    if v.version.is_none() {
        v.version = defaults.version;
    }
    if v.ipv6 && v.version == Some(2) {
        cx.warn(at, format!("({name}) cannot use IPv6 with VRRP version 2"))
            .fallback("using version 3");
        v.version = Some(3);
    }
    let version = v.version.unwrap_or(if v.ipv6 { 3 } else { 2 });
    v.version = Some(version);
    let strict = v.strict_mode.unwrap_or(defaults.strict);
    v.strict_mode = Some(strict);

    if v.virtual_ipaddress.is_empty() {
        let what = if v.ipv6 || strict {
            "required"
        } else {
            "sensible"
        };
        cx.warn(
            at,
            format!("({name}) No VIP specified; at least one is {what}"),
        );
    }
    authentication(v, version, strict, cx);
    if strict {
        strict_mode(v, version, cx);
    }
    preemption(v, cx);
    advert_int(v, version, cx);
    if v.vmac_xmit_base && v.use_vmac.is_none() && v.use_ipvlan.is_none() {
        cx.warn(
            at,
            format!("({name}) vmac_xmit_base is only valid with a vmac"),
        )
        .fallback("ignoring it");
        v.vmac_xmit_base = false;
    }
    if let Some(own) = v.interface.clone() {
        v.track_interface.retain(|t| {
            let is_own = t.name == own;
            if is_own {
                cx.warn(
                    at,
                    format!("({name}) Ignoring track_interface {own} since own interface"),
                );
            }
            !is_own
        });
    }
    if v.priority == 255 {
        drop_weighted(v, "address owner", cx);
    }
    true
}

fn authentication(v: &mut VrrpInstance, version: u8, strict: bool, cx: &mut Ctx) {
    let (name, at) = (v.name.clone(), v.line);
    let Some(auth) = &v.authentication else {
        return;
    };
    let problem = if strict {
        Some("Strict mode does not support authentication")
    } else if version == 3 {
        Some("VRRP version 3 does not support authentication")
    } else if auth.auth_pass.is_none() || auth.auth_type.is_none() {
        Some("Authentication specified but no password given")
    } else if auth.auth_type == Some(AuthType::Ah) && v.ipv6 {
        Some("Cannot use AH authentication with IPv6")
    } else if auth.auth_type == Some(AuthType::Ah) && v.state == InitialState::Master {
        Some("Initial state master is incompatible with AH authentication")
    } else {
        None
    };
    if let Some(p) = problem {
        cx.warn(at, format!("({name}) {p}"))
            .fallback("ignoring the authentication");
        v.authentication = None;
    }
}

fn strict_mode(v: &mut VrrpInstance, version: u8, cx: &mut Ctx) {
    let (name, at) = (v.name.clone(), v.line);
    let reset = |what: &str, cx: &mut Ctx| {
        cx.warn(
            at,
            format!("({name}) {what} is incompatible with strict mode"),
        )
        .fallback("resetting it");
    };
    if !v.unicast_peer.is_empty() {
        reset("unicast_peer", cx);
        v.unicast_peer.clear();
    }
    if v.preempt_delay.take().is_some() {
        reset("preempt_delay", cx);
    }
    if v.down_timer_adverts.take().is_some() {
        reset("down_timer_adverts", cx);
    }
    if std::mem::take(&mut v.vmac_xmit_base) {
        reset("vmac_xmit_base", cx);
    }
    if v.use_vmac.as_ref().is_some_and(|m| m.mac.is_some()) {
        reset("a VMAC MAC address", cx);
        if let Some(m) = v.use_vmac.as_mut() {
            m.mac = None;
        }
    }
    if v.garp_lower_prio_repeat.take().is_some() {
        reset("garp_lower_prio_repeat", cx);
    }
    if v.garp_lower_prio_delay.take().is_some() {
        reset("garp_lower_prio_delay", cx);
    }
    if v.lower_prio_no_advert == Some(false) {
        reset("lower_prio_no_advert off", cx);
        v.lower_prio_no_advert = Some(true);
    }
    if v.higher_prio_send_advert == Some(true) {
        reset("higher_prio_send_advert", cx);
        v.higher_prio_send_advert = Some(false);
    }
    if version == 2 && v.accept == Some(true) {
        cx.warn(
            at,
            format!(
                "({name}) warning - accept mode for VRRP version 2 does not comply with RFC3768"
            ),
        )
        .fallback("resetting it");
        v.accept = Some(false);
    }
}

fn preemption(v: &mut VrrpInstance, cx: &mut Ctx) {
    let (name, at) = (v.name.clone(), v.line);
    if v.nopreempt && v.priority == 255 {
        cx.warn(
            at,
            format!("({name}) nopreempt is incompatible with priority 255"),
        )
        .fallback("resetting nopreempt");
        v.nopreempt = false;
    }
    if v.nopreempt && v.state == InitialState::Master {
        cx.warn(
            at,
            format!("({name}) Warning - nopreempt will not work with initial state MASTER"),
        )
        .fallback("clearing nopreempt");
        v.nopreempt = false;
    }
    if v.preempt_delay.is_some() && v.state == InitialState::Master {
        cx.warn(
            at,
            format!("({name}) Warning - preempt delay will not work with initial state MASTER"),
        )
        .fallback("clearing preempt_delay");
        v.preempt_delay = None;
    }
    if v.preempt_delay.is_some() && v.nopreempt {
        cx.warn(
            at,
            format!("({name}) preempt_delay is incompatible with nopreempt mode"),
        )
        .fallback("resetting preempt_delay");
        v.preempt_delay = None;
    }
}

/// VRRPv2 intervals are whole seconds (RFC 3768 §5.3.7), VRRPv3 centiseconds up to 40.95 s
/// (RFC 5798 §5.2.7); keepalived rounds and says so.
fn advert_int(v: &mut VrrpInstance, version: u8, cx: &mut Ctx) {
    let (name, at) = (v.name.clone(), v.line);
    let Some(us) = v.advert_raw else { return };
    if version == 2 {
        let mut secs = (us + 500_000) / 1_000_000;
        if !us.is_multiple_of(1_000_000) {
            secs = secs.max(1);
            cx.warn(
                at,
                format!(
                    "({name}) VRRPv2 advertisement interval {}s must be an integer",
                    us as f64 / 1e6
                ),
            )
            .fallback(format!("rounding to {secs}s"));
        }
        v.advert_int = Centis::from_secs(secs as u32);
    } else {
        let mut cs = (us + 5_000) / 10_000;
        if !us.is_multiple_of(10_000) {
            cx.warn(
                at,
                format!(
                    "({name}) VRRPv3 advertisement interval {}s must be in units of 10ms",
                    us as f64 / 1e6
                ),
            )
            .fallback("rounding");
        }
        if cs > u64::from(V3_MAX_ADVERT.0) {
            cx.warn(
                at,
                format!(
                    "({name}) VRRPv3 advertisement interval {}s is out of range",
                    us as f64 / 1e6
                ),
            )
            .expected("less than 40.96s")
            .fallback("using 40.95s");
            cs = u64::from(V3_MAX_ADVERT.0);
        }
        v.advert_int = Centis(cs as u32);
    }
}

/// Address owners (priority 255) and sync group members cannot have their priority moved by
/// weighted trackers (keepalived.conf(5) `priority`, "VRRP synchronization group(s)").
fn drop_weighted(v: &mut VrrpInstance, why: &str, cx: &mut Ctx) {
    let (name, at) = (v.name.clone(), v.line);
    let interface_weight = |t: &Tracked| t.weight.unwrap_or(0) != 0;
    v.track_interface.retain(|t| {
        let drop = interface_weight(t);
        if drop {
            cx.warn(
                at,
                format!(
                    "({name}) ignoring {} tracked interface due to {why}",
                    t.name
                ),
            );
        }
        !drop
    });
    // Only the weight given on the reference is known here; a script's own weight is too.
    for (list, what) in [
        (&mut v.track_script, "script"),
        (&mut v.track_process, "process"),
        (&mut v.track_file, "file"),
        (&mut v.track_bfd, "bfd"),
    ] {
        list.retain(|t| {
            let drop = t.weight.unwrap_or(0) != 0;
            if drop {
                cx.warn(
                    at,
                    format!(
                        "({name}) ignoring tracked {what} {} with weights due to {why}",
                        t.name
                    ),
                );
            }
            !drop
        });
    }
}

fn sync_group_weights(vrrp: &mut Vrrp, cx: &mut Ctx) {
    // Default weights of scripts count as weights too.
    let script_weight = |vrrp: &Vrrp, n: &str| {
        vrrp.scripts
            .iter()
            .find(|s| s.name == n)
            .map_or(0, |s| s.weight)
    };
    for gi in 0..vrrp.sync_groups.len() {
        if vrrp.sync_groups[gi].sync_group_tracking_weight {
            continue;
        }
        for m in vrrp.sync_groups[gi].group.clone() {
            let Some(ii) = vrrp.instances.iter().position(|i| i.name == m) else {
                continue;
            };
            let weights: Vec<(String, i32)> = vrrp.instances[ii]
                .track_script
                .iter()
                .map(|t| {
                    (
                        t.name.clone(),
                        t.weight.unwrap_or_else(|| script_weight(vrrp, &t.name)),
                    )
                })
                .collect();
            let v = &mut vrrp.instances[ii];
            let at = v.line;
            for (s, w) in weights {
                if w != 0 {
                    cx.warn(
                        at,
                        format!("({m}) ignoring tracked script {s} with weights due to SYNC group"),
                    )
                    .expected("weight 0, or sync_group_tracking_weight on the group");
                    v.track_script.retain(|t| t.name != s);
                }
            }
        }
    }
    // Address owners: scripts whose own weight is non-zero.
    for ii in 0..vrrp.instances.len() {
        if vrrp.instances[ii].priority != 255 {
            continue;
        }
        let weighted: Vec<String> = vrrp.instances[ii]
            .track_script
            .iter()
            .filter(|t| t.weight.is_none() && script_weight(vrrp, &t.name) != 0)
            .map(|t| t.name.clone())
            .collect();
        let v = &mut vrrp.instances[ii];
        for s in weighted {
            cx.warn(
                v.line,
                format!(
                    "({}) ignoring tracked script {s} with weights due to address owner",
                    v.name
                ),
            );
            v.track_script.retain(|t| t.name != s);
        }
    }
}

/// Two instances with the same VRID on the same interface and family share a socket and
/// cannot be told apart, unless both use unicast with different peers or different
/// multicast groups (keepalived.conf(5) `virtual_router_id`).
fn duplicate_vrids(vrrp: &Vrrp, cx: &mut Ctx) {
    let inst = &vrrp.instances;
    for (i, a) in inst.iter().enumerate() {
        for b in &inst[..i] {
            let same = a.vrid == b.vrid
                && a.ipv6 == b.ipv6
                && a.interface.is_some()
                && a.interface == b.interface
                && a.mcast_dst_ip == b.mcast_dst_ip
                && a.unicast_peer.is_empty() == b.unicast_peer.is_empty()
                && (a.unicast_peer.is_empty()
                    || a.unicast_peer
                        .iter()
                        .any(|p| b.unicast_peer.iter().any(|q| q.addr == p.addr)));
            if same {
                cx.warn(
                    a.line,
                    format!(
                        "{} and {} both use VRID {} with IPv{} on interface {}",
                        b.name,
                        a.name,
                        a.vrid,
                        if a.ipv6 { 6 } else { 4 },
                        a.interface.as_deref().unwrap_or("")
                    ),
                )
                .expected("a different virtual_router_id");
            }
        }
    }
}

/// Static addresses/routes/rules name track groups; track groups name instances.
fn track_groups(vrrp: &mut Vrrp, cx: &mut Ctx) {
    let names: Vec<String> = vrrp.instances.iter().map(|i| i.name.clone()).collect();
    for g in &mut vrrp.track_groups {
        g.group.retain(|m| {
            let ok = names.contains(m);
            if !ok {
                cx.diags
                    .warn(
                        None,
                        format!(
                            "vrrp instance {m} specified in track group {} doesn't exist",
                            g.name
                        ),
                    )
                    .fallback("ignoring it");
            }
            ok
        });
    }
    let groups: Vec<String> = vrrp.track_groups.iter().map(|g| g.name.clone()).collect();
    let check = |tg: &mut Option<String>, cx: &mut Ctx| {
        if let Some(g) = tg {
            if !groups.contains(g) {
                cx.diags
                    .warn(None, format!("track_group {g} not found"))
                    .fallback("not tracking it");
                *tg = None;
            }
        }
    };
    for a in &mut vrrp.static_addresses {
        check(&mut a.track_group, cx);
    }
    for r in &mut vrrp.static_routes {
        check(&mut r.track_group, cx);
    }
    for r in &mut vrrp.static_rules {
        check(&mut r.track_group, cx);
    }
}
