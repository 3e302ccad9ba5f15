//! From the config model to what the engine runs: one [`InstancePlan`] per `vrrp_instance`,
//! with every default keepalived applies already resolved (global `vrrp_*` and `garp_*`
//! settings, strict mode). Pure: no interface is looked up here. Reload compares plans, so an
//! instance whose plan is equal keeps running untouched (DESIGN.md §10).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

use super::firewall::FirewallPlan;
use super::vmac::{parse_mac, vrrp_mac};
use crate::config::model::global::Global;
use crate::config::model::script::NotifyScript;
use crate::config::model::vrrp::{
    instance::AuthType, InitialState, IpAddress, Notify, Route, Rule, SyncGroup, TrackFile,
    TrackProcess, Tracked, Vrrp, VrrpInstance, VrrpScript,
};
use crate::config::model::Config;
use crate::config::source::SourceMap;
use crate::units::{Centis, Micros};
use crate::vrrp::fsm::{InstanceConfig, StartState, PRIORITY_OWNER};
use crate::family::Family;
use crate::vrrp::packet::{pad_key, Version, MCAST_V4, MCAST_V6};
use crate::vrrp::timers::DEFAULT_DOWN_TIMER_ADVERTS;
use crate::vrrp::validate::{ExpectAuth, UnicastPeer};

/// VRRPv2 authentication as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthPlan {
    None,
    Pass([u8; 8]),
    Ah([u8; 8]),
}

impl AuthPlan {
    /// What the receive checks expect (AH starts with no sequence number seen).
    pub fn expect(self) -> ExpectAuth {
        match self {
            AuthPlan::None => ExpectAuth::None,
            AuthPlan::Pass(k) => ExpectAuth::Pass(k),
            AuthPlan::Ah(key) => ExpectAuth::Ah { key, last_seq: 0 },
        }
    }
}

/// keepalived's gratuitous ARP / unsolicited NA timing for one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GarpPlan {
    /// `garp_master_delay`: the second burst this long after becoming master (0 = none).
    pub master_delay: Micros,
    /// `garp_master_repeat`: messages per burst.
    pub master_repeat: u32,
    /// `garp_master_refresh`: a refresh burst this often while master (0 = never).
    pub master_refresh: Micros,
    /// `garp_master_refresh_repeat`.
    pub master_refresh_repeat: u32,
    /// `garp_lower_prio_delay` / `garp_lower_prio_repeat`: after a lower-priority advert.
    pub lower_prio_delay: Micros,
    pub lower_prio_repeat: u32,
    /// `vrrp_garp_interval` / `vrrp_gna_interval`: the gap between two messages of a burst.
    pub interval: Micros,
    pub gna_interval: Micros,
}

/// A `garp_group`: announcement gaps for its interfaces, overriding the global ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpLane {
    /// Its position among the `garp_group` blocks (identifies an aggregate lane).
    pub index: usize,
    pub interfaces: Vec<String>,
    /// `interfaces { … }`: one gap across all of them; `interface`: a gap per interface.
    pub aggregate: bool,
    pub interval: Micros,
    pub gna_interval: Micros,
}

/// Which pacing queue an announcement on `ifname` joins and the gaps it must keep:
/// `(lane, arp gap, na gap)`. A lane is the interface index, or a value above any
/// interface index for an aggregated `garp_group`.
pub fn garp_lane(
    lanes: &[GarpLane],
    g: &GarpPlan,
    ifname: &str,
    ifindex: u32,
) -> (u64, Micros, Micros) {
    match lanes
        .iter()
        .find(|l| l.interfaces.iter().any(|i| i == ifname))
    {
        Some(l) if l.aggregate => ((1 << 32) | l.index as u64, l.interval, l.gna_interval),
        Some(l) => (u64::from(ifindex), l.interval, l.gna_interval),
        None => (u64::from(ifindex), g.interval, g.gna_interval),
    }
}

/// A `track_script` entry resolved against its `vrrp_script`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedScript {
    pub script: VrrpScript,
    /// The weight this instance applies (the entry's, else the script's).
    pub weight: i32,
    pub reverse: bool,
}

/// A `track_process` entry resolved against its `vrrp_track_process`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedProcess {
    pub process: TrackProcess,
    pub weight: i32,
    pub reverse: bool,
}

/// A `track_file` entry resolved against its `track_file` block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedFile {
    pub file: TrackFile,
    pub weight: i32,
    pub reverse: bool,
}

/// A `track_interface` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedInterface {
    pub ifname: String,
    /// 0: the instance goes to FAULT when the interface is down.
    pub weight: i32,
    pub reverse: bool,
}

/// Everything the engine needs to run one `vrrp_instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePlan {
    pub name: String,
    pub ifname: String,
    pub family: Family,
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    pub adver_int: Centis,
    pub start: StartState,
    pub preempt: bool,
    pub preempt_delay: Micros,
    pub accept: bool,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub down_timer_adverts: u8,
    /// The addresses listed in adverts: `virtual_ipaddress` of the instance's family.
    pub advert_addrs: Vec<IpAddr>,
    /// Everything added on MASTER: `virtual_ipaddress` then `virtual_ipaddress_excluded`.
    pub vips: Vec<IpAddress>,
    /// `virtual_routes` and `virtual_rules`: added after the VIPs on MASTER.
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
    /// `unicast_src_ip` / `mcast_src_ip`; `None` = the interface's primary address
    /// (IPv6: its link-local address), looked up when the instance starts.
    pub src_ip: Option<IpAddr>,
    /// The multicast group, or `None` for unicast.
    pub mcast_dst: Option<IpAddr>,
    pub unicast_peers: Vec<UnicastPeer>,
    pub unicast_ttl: u8,
    /// `old_unicast_checksum`: start with keepalived's pre-2.0.8 v3 unicast checksum.
    pub old_unicast_checksum: bool,
    pub check_unicast_src: bool,
    /// keepalived's `skip_check_adv_addr`.
    pub skip_check_adv_addr: bool,
    pub auth: AuthPlan,
    pub garp: GarpPlan,
    /// The `garp_group` blocks, resolved against the global gaps.
    pub garp_lanes: Vec<GarpLane>,
    pub notify: Notify,
    pub notify_master_rx_lower_pri: Option<NotifyScript>,
    pub track_interfaces: Vec<TrackedInterface>,
    pub track_scripts: Vec<TrackedScript>,
    pub track_processes: Vec<TrackedProcess>,
    pub track_files: Vec<TrackedFile>,
    /// `dont_track_primary`: the instance's own interface going down does not mean FAULT.
    pub dont_track_primary: bool,
    pub sync_group: Option<String>,
    pub smtp_alert: bool,
    /// `use_vmac`: the macvlan's name and MAC.
    pub vmac: Option<VmacPlan>,
    /// `vmac_xmit_base`: adverts go out (and come in) on the parent interface.
    pub vmac_xmit_base: bool,
}

/// keepalived's `use_vmac [NAME]` with its MAC resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmacPlan {
    pub name: String,
    pub mac: [u8; 6],
}

impl InstancePlan {
    /// The state machine's config, once the source address is known.
    pub fn fsm_config(&self, primary_ip: IpAddr) -> InstanceConfig {
        let mut c = InstanceConfig::new(
            self.vrid,
            self.priority,
            self.adver_int,
            self.version,
            primary_ip,
        );
        c.preempt = self.preempt;
        c.preempt_delay = self.preempt_delay;
        c.accept = self.accept;
        c.start = Some(self.start);
        c.lower_prio_no_advert = self.lower_prio_no_advert;
        c.higher_prio_send_advert = self.higher_prio_send_advert;
        c.down_timer_adverts = self.down_timer_adverts;
        c
    }

    pub fn is_unicast(&self) -> bool {
        self.mcast_dst.is_none()
    }
}

/// A `vrrp_sync_group` as the engine runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    pub name: String,
    pub members: Vec<String>,
    pub notify: Notify,
    pub smtp_alert: bool,
}

/// The whole VRRP side of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub instances: Vec<InstancePlan>,
    pub groups: Vec<GroupPlan>,
    pub router_id: String,
    pub notify_fifo: Option<String>,
    /// `script_user` (default `keepalived_script`, as keepalived) and whether
    /// `enable_script_security` is on.
    pub script_user: Option<String>,
    pub script_security: bool,
    pub smtp: Option<SmtpPlan>,
    /// `vrrp_rt_priority`: the engine thread's SCHED_RR priority.
    pub rt_priority: Option<i32>,
    /// `static_ipaddress`, `static_routes`, `static_rules`: set while the daemon runs,
    /// whatever the VRRP state.
    pub statics: Statics,
    /// The nftables tables that enforce `no_accept`.
    pub firewall: FirewallPlan,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statics {
    pub addresses: Vec<IpAddress>,
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
}

/// Where `smtp_alert` mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpPlan {
    pub server: String,
    pub port: u16,
    pub helo: String,
    pub from: String,
    pub to: Vec<String>,
    pub connect_timeout: Micros,
}

/// A config the engine cannot run, although the config checker let it through.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlanError {
    #[error("{at}: vrrp_instance {name}: no interface (set `interface IFNAME`)")]
    NoInterface { name: String, at: String },
    #[error("{at}: vrrp_instance {name}: VRRP version {version} is not 2 or 3")]
    Version {
        name: String,
        at: String,
        version: u8,
    },
    #[error(
        "vrrp_instance {a} and {b} both run VRID {vrid} for {family:?} on {ifname}: \
         one virtual router per VRID, family and interface (RFC 5798 §5.2.3)"
    )]
    DuplicateVrid {
        a: String,
        b: String,
        vrid: u8,
        family: Family,
        ifname: String,
    },
    #[error("{at}: vrrp_instance {name}: use_vmac MAC {mac} is not 5 or 6 hex octets")]
    VmacMac {
        name: String,
        at: String,
        mac: String,
    },
    #[error("{at}: vrrp_instance {name}: {kind} {object} is not defined")]
    UnknownTracked {
        name: String,
        at: String,
        kind: &'static str,
        object: String,
    },
}

/// keepalived's defaults (global_data.c): 5 s delay, 5 messages per burst, no refresh.
const GARP_MASTER_DELAY_S: u32 = 5;
const GARP_MASTER_REPEAT: u32 = 5;
const GARP_MASTER_REFRESH_REPEAT: u32 = 1;
const SECOND: u64 = 1_000_000;

/// Builds the plan for every `vrrp_instance` of `config`; `map` names files in errors.
pub fn plan(config: &Config, map: &SourceMap) -> Result<Plan, PlanError> {
    let g = &config.global;
    let v = &config.vrrp;
    let mut instances = Vec::with_capacity(v.instances.len());
    for inst in &v.instances {
        instances.push(instance(inst, g, v, map)?);
    }
    for (i, a) in instances.iter().enumerate() {
        if let Some(b) = instances[..i].iter().find(|b| {
            b.vrid == a.vrid && b.family == a.family && b.ifname == a.ifname && !a.is_unicast()
        }) {
            return Err(PlanError::DuplicateVrid {
                a: b.name.clone(),
                b: a.name.clone(),
                vrid: a.vrid,
                family: a.family,
                ifname: a.ifname.clone(),
            });
        }
    }
    let groups = v.sync_groups.iter().map(|s| group(s, g)).collect();
    Ok(Plan {
        instances,
        groups,
        router_id: g.router_id.clone().unwrap_or_else(hostname),
        notify_fifo: g
            .vrrp_notify_fifo
            .name
            .clone()
            .or_else(|| g.notify_fifo.name.clone()),
        script_user: g.script_user.as_ref().map(|u| u.user.clone()),
        script_security: g.enable_script_security,
        smtp: smtp(g),
        statics: Statics {
            addresses: v.static_addresses.clone(),
            routes: v.static_routes.clone(),
            rules: v.static_rules.clone(),
        },
        rt_priority: match g.tuning.get("vrrp_rt_priority") {
            Some(crate::config::model::global::tuning::Setting::Int(p)) => {
                i32::try_from(*p).ok().filter(|p| (1..=99).contains(p))
            }
            _ => None,
        },
        firewall: firewall(g),
    })
}

/// `nftables [NAME]`, `nftables_priority`, `nftables_counters`, `nftables_ifindex`.
fn firewall(g: &Global) -> FirewallPlan {
    use crate::config::model::global::tuning::Setting;
    let mut fw = FirewallPlan::default();
    if let Some(Setting::Text(name)) = g.tuning.get("nftables") {
        if !name.is_empty() {
            fw.table = name.clone();
        }
    }
    if let Some(Setting::Int(p)) = g.tuning.get("nftables_priority") {
        fw.priority = i32::try_from(*p).unwrap_or(fw.priority);
    }
    fw.counters = matches!(g.tuning.get("nftables_counters"), Some(Setting::Flag(true)));
    fw.ifindex = matches!(g.tuning.get("nftables_ifindex"), Some(Setting::Flag(true)));
    fw
}

fn group(s: &SyncGroup, g: &Global) -> GroupPlan {
    GroupPlan {
        name: s.name.clone(),
        members: s.group.clone(),
        notify: s.notify.clone(),
        smtp_alert: s.smtp_alert.or(g.smtp_alert_vrrp).or(g.smtp_alert) == Some(true),
    }
}

fn smtp(g: &Global) -> Option<SmtpPlan> {
    let server = g.smtp_server.as_ref()?;
    if g.notification_email.is_empty() {
        return None;
    }
    let router = g.router_id.clone().unwrap_or_else(hostname);
    Some(SmtpPlan {
        server: server.host.clone(),
        port: server.port,
        helo: g.smtp_helo_name.clone().unwrap_or_else(hostname),
        from: g
            .notification_email_from
            .clone()
            .unwrap_or_else(|| format!("keepalived@{router}")),
        to: g.notification_email.clone(),
        connect_timeout: Micros(u64::from(g.smtp_connect_timeout.unwrap_or(30)) * SECOND),
    })
}

fn instance(
    i: &VrrpInstance,
    g: &Global,
    v: &Vrrp,
    map: &SourceMap,
) -> Result<InstancePlan, PlanError> {
    let at = map.display(i.line).to_string();
    let name = i.name.clone();
    let ifname = i.interface.clone().ok_or_else(|| PlanError::NoInterface {
        name: name.clone(),
        at: at.clone(),
    })?;
    let version = match i.version {
        Some(3) => Version::V3,
        Some(2) | None => Version::V2,
        Some(version) => return Err(PlanError::Version { name, at, version }),
    };
    let family = if i.ipv6 { Family::V6 } else { Family::V4 };
    let strict = i.strict_mode.unwrap_or(g.vrrp_strict);
    let start = if i.priority == PRIORITY_OWNER || i.state == InitialState::Master {
        StartState::Master
    } else {
        StartState::Backup
    };
    let advert_addrs = i
        .virtual_ipaddress
        .iter()
        .map(|a| a.addr)
        .filter(|a| Family::of(*a) == family)
        .collect();
    let vips = i
        .virtual_ipaddress
        .iter()
        .chain(&i.virtual_ipaddress_excluded)
        .cloned()
        .collect();
    let unicast = !i.unicast_peer.is_empty();
    let mcast_dst = (!unicast).then(|| {
        i.mcast_dst_ip.unwrap_or(match family {
            Family::V4 => IpAddr::V4(g.vrrp_mcast_group4.unwrap_or(MCAST_V4)),
            Family::V6 => IpAddr::V6(g.vrrp_mcast_group6.unwrap_or(MCAST_V6)),
        })
    });
    let unicast_peers = i
        .unicast_peer
        .iter()
        .map(|p| UnicastPeer {
            addr: p.addr,
            min_ttl: p.min_ttl.unwrap_or(0),
            max_ttl: p.max_ttl.unwrap_or(255),
        })
        .collect();
    let auth = match &i.authentication {
        Some(a) => {
            let key = pad_key(a.auth_pass.as_deref().unwrap_or("").as_bytes());
            match a.auth_type {
                Some(AuthType::Pass) => AuthPlan::Pass(key),
                Some(AuthType::Ah) => AuthPlan::Ah(key),
                None => AuthPlan::None,
            }
        }
        None => AuthPlan::None,
    };
    let group = v.sync_groups.iter().find(|s| s.group.contains(&name));
    let sync_group = group.map(|s| s.name.clone());
    // keepalived applies a sync group's track_* to every member.
    let with_group = |own: &[Tracked], of_group: fn(&SyncGroup) -> &Vec<Tracked>| {
        let mut all = own.to_vec();
        if let Some(g) = group {
            all.extend(of_group(g).iter().cloned());
        }
        all
    };
    let unknown = |kind: &'static str, object: &str| PlanError::UnknownTracked {
        name: name.clone(),
        at: at.clone(),
        kind,
        object: object.to_owned(),
    };
    let track_scripts = with_group(&i.track_script, |g| &g.track_script)
        .iter()
        .map(|t| {
            let script = v
                .scripts
                .iter()
                .find(|s| s.name == t.name)
                .ok_or_else(|| unknown("track_script", &t.name))?;
            Ok(TrackedScript {
                script: script.clone(),
                weight: t.weight.unwrap_or(script.weight),
                reverse: t.reverse ^ script.weight_reverse,
            })
        })
        .collect::<Result<_, PlanError>>()?;
    let track_processes = with_group(&i.track_process, |g| &g.track_process)
        .iter()
        .map(|t| {
            let p = v
                .track_processes
                .iter()
                .find(|p| p.name == t.name)
                .ok_or_else(|| unknown("track_process", &t.name))?;
            Ok(TrackedProcess {
                process: p.clone(),
                weight: t.weight.unwrap_or(p.weight),
                reverse: t.reverse ^ p.weight_reverse,
            })
        })
        .collect::<Result<_, PlanError>>()?;
    let track_files = with_group(&i.track_file, |g| &g.track_file)
        .iter()
        .map(|t| {
            let f = v
                .track_files
                .iter()
                .find(|f| f.name == t.name)
                .ok_or_else(|| unknown("track_file", &t.name))?;
            Ok(TrackedFile {
                file: f.clone(),
                weight: t.weight.unwrap_or(f.weight),
                reverse: t.reverse ^ f.weight_reverse,
            })
        })
        .collect::<Result<_, PlanError>>()?;
    let track_interfaces = with_group(&i.track_interface, |g| &g.track_interface)
        .iter()
        .map(tracked_interface)
        .collect();
    let garp = garp(i, g);
    let garp_lanes = v
        .garp_groups
        .iter()
        .enumerate()
        .map(|(index, gg)| GarpLane {
            index,
            interfaces: gg.interfaces.clone(),
            aggregate: gg.aggregate,
            // keepalived: a gap the group does not set is none (not the global one).
            interval: gg.garp_interval.unwrap_or(Micros(0)),
            gna_interval: gg.gna_interval.unwrap_or(Micros(0)),
        })
        .collect();
    let vmac = match &i.use_vmac {
        None => None,
        Some(v) => {
            let mac = match &v.mac {
                Some(m) => parse_mac(m, i.vrid).ok_or_else(|| PlanError::VmacMac {
                    name: name.clone(),
                    at: at.clone(),
                    mac: m.clone(),
                })?,
                None => vrrp_mac(family, i.vrid),
            };
            Some(VmacPlan {
                name: v
                    .ifname
                    .clone()
                    .unwrap_or_else(|| format!("vrrp.{}", i.vrid)),
                mac,
            })
        }
    };
    Ok(InstancePlan {
        ifname,
        family,
        version,
        vrid: i.vrid,
        priority: i.priority,
        adver_int: i.advert_int,
        start,
        preempt: !i.nopreempt,
        preempt_delay: i.preempt_delay.unwrap_or(Micros(0)),
        // keepalived: accept mode is on unless strict mode turns it off.
        accept: i.accept.unwrap_or(!strict),
        lower_prio_no_advert: i
            .lower_prio_no_advert
            .or(g.vrrp_lower_prio_no_advert)
            .unwrap_or(strict),
        higher_prio_send_advert: i
            .higher_prio_send_advert
            .or(g.vrrp_higher_prio_send_advert)
            .unwrap_or(false),
        down_timer_adverts: i
            .down_timer_adverts
            .or(g.vrrp_down_timer_adverts.and_then(|n| u8::try_from(n).ok()))
            .unwrap_or(DEFAULT_DOWN_TIMER_ADVERTS),
        advert_addrs,
        vips,
        routes: i.virtual_routes.clone(),
        rules: i.virtual_rules.clone(),
        src_ip: i.src_ip,
        mcast_dst,
        unicast_peers,
        unicast_ttl: i.unicast_ttl.unwrap_or(255),
        old_unicast_checksum: i.old_unicast_checksum == Some(true),
        check_unicast_src: i.check_unicast_src || g.vrrp_check_unicast_src,
        skip_check_adv_addr: i.skip_check_adv_addr.unwrap_or(g.vrrp_skip_check_adv_addr),
        auth,
        garp,
        garp_lanes,
        notify: i.notify.clone(),
        notify_master_rx_lower_pri: i.notify_master_rx_lower_pri.clone(),
        track_interfaces,
        track_scripts,
        track_processes,
        track_files,
        dont_track_primary: i.dont_track_primary,
        sync_group,
        smtp_alert: i.smtp_alert.or(g.smtp_alert_vrrp).or(g.smtp_alert) == Some(true),
        vmac,
        vmac_xmit_base: i.vmac_xmit_base,
        name,
    })
}

fn tracked_interface(t: &Tracked) -> TrackedInterface {
    TrackedInterface {
        ifname: t.name.clone(),
        weight: t.weight.unwrap_or(0),
        reverse: t.reverse,
    }
}

fn garp(i: &VrrpInstance, g: &Global) -> GarpPlan {
    let secs = |s: u32| Micros(u64::from(s) * SECOND);
    let d = &g.garp;
    // `vrrp_min_garp`: one message, no second burst, unless set explicitly.
    let min = d.min_garp;
    let master_delay = i.garp_master_delay.unwrap_or_else(|| {
        secs(
            d.master_delay
                .unwrap_or(if min { 0 } else { GARP_MASTER_DELAY_S }),
        )
    });
    let master_repeat = i.garp_master_repeat.or(d.master_repeat).unwrap_or(if min {
        1
    } else {
        GARP_MASTER_REPEAT
    });
    GarpPlan {
        master_delay,
        master_repeat,
        master_refresh: i
            .garp_master_refresh
            .unwrap_or_else(|| secs(d.master_refresh.unwrap_or(0))),
        master_refresh_repeat: i
            .garp_master_refresh_repeat
            .or(d.master_refresh_repeat)
            .unwrap_or(GARP_MASTER_REFRESH_REPEAT),
        lower_prio_delay: i
            .garp_lower_prio_delay
            .or(d.lower_prio_delay.map(secs))
            .unwrap_or(master_delay),
        lower_prio_repeat: i
            .garp_lower_prio_repeat
            .or(d.lower_prio_repeat)
            .unwrap_or(master_repeat),
        interval: d.interval.unwrap_or(Micros(0)),
        gna_interval: d.gna_interval.unwrap_or(Micros(0)),
    }
}

/// keepalived's default router id and SMTP HELO name: the host name.
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The unspecified address of a family: the placeholder before the interface is known.
pub fn unspecified(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Family::V6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

#[cfg(test)]
mod tests;
