//! The VRRP side of a config: one [`InstancePlan`] per `vrrp_instance`, with every default
//! keepalived applies already resolved (global `vrrp_*` and `garp_*` settings, strict mode),
//! the sync groups, the `static_*` blocks and the `no_accept` firewall settings.

use std::net::IpAddr;

use super::garp::{self, GarpLane, GarpPlan};
use super::tracked::{
    self, TrackedBfd, TrackedFile, TrackedInterface, TrackedProcess, TrackedScript,
};
use super::PlanError;
use crate::config::model::global::tuning::Setting;
use crate::config::model::global::Global;
use crate::config::model::script::NotifyScript;
use crate::config::model::vrrp::{
    instance::AuthType, InitialState, IpAddress, Notify, Route, Rule, SyncGroup, Vrrp, VrrpInstance,
};
use crate::config::source::SourceMap;
use crate::family::Family;
use crate::units::{Centis, Micros, Priority, Vrid};
use crate::vrrp::fsm::{InstanceConfig, StartState};
use crate::vrrp::packet::{pad_key, virtual_mac, Version, MCAST_V4, MCAST_V6};
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

/// Everything the engine needs to run one `vrrp_instance`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstancePlan {
    pub name: String,
    pub ifname: String,
    pub family: Family,
    pub version: Version,
    pub vrid: Vrid,
    pub priority: Priority,
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
    /// `track_bfd`: BFD sessions, up while Up.
    pub track_bfds: Vec<TrackedBfd>,
    /// `bfd_takeover`: take over at once when this BFD session to the master expires.
    pub bfd_takeover: Option<BfdTakeoverPlan>,
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

/// `bfd_takeover NAME [force]`, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BfdTakeoverPlan {
    pub bfd: String,
    /// The session's neighbour: the master it may declare dead.
    pub neighbor: IpAddr,
    /// Without `force`, the master's adverts must have stopped too: none arrived after
    /// the session's last packet.
    pub force: bool,
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

    /// Whether `other` can replace this plan in a running instance (a reload): the same
    /// router on the wire, the same sockets, the same interfaces.
    pub fn same_identity(&self, other: &InstancePlan) -> bool {
        let (a, p) = (self, other);
        a.name == p.name
            && a.ifname == p.ifname
            && a.family == p.family
            && a.version == p.version
            && a.vrid == p.vrid
            && a.vmac == p.vmac
            && a.vmac_xmit_base == p.vmac_xmit_base
            && a.src_ip == p.src_ip
            && a.mcast_dst == p.mcast_dst
            && matches!(a.auth, AuthPlan::Ah(_)) == matches!(p.auth, AuthPlan::Ah(_))
            && a.priority.is_owner() == p.priority.is_owner()
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

/// `static_ipaddress`, `static_routes`, `static_rules`: set while the daemon runs,
/// whatever the VRRP state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Statics {
    pub addresses: Vec<IpAddress>,
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
}

/// keepalived's default table name is `keepalived`; ours says who owns it and what for (a
/// plain `ha` could be an operator's own table, which a start would delete).
pub const DEFAULT_NFT_TABLE: &str = "ha_vrrp";
/// keepalived's default `nftables_priority`: just before the filter hooks.
pub const DEFAULT_NFT_PRIORITY: i32 = -1;

/// How the `no_accept` nftables tables are named and written (`nftables`,
/// `nftables_priority`, `nftables_counters`, `nftables_ifindex` in `global_defs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirewallPlan {
    pub table: String,
    /// Relative to the `filter` priority.
    pub priority: i32,
    pub counters: bool,
    /// Match link-local VIPs by interface index (`iif`) rather than name (`iifname`).
    pub ifindex: bool,
}

impl Default for FirewallPlan {
    fn default() -> Self {
        FirewallPlan {
            table: DEFAULT_NFT_TABLE.into(),
            priority: DEFAULT_NFT_PRIORITY,
            counters: false,
            ifindex: false,
        }
    }
}

/// The whole VRRP side of a config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpPlan {
    pub instances: Vec<InstancePlan>,
    pub groups: Vec<GroupPlan>,
    /// `vrrp_rt_priority`: the engine thread's SCHED_RR priority.
    pub rt_priority: Option<i32>,
    pub statics: Statics,
    /// The nftables tables that enforce `no_accept`.
    pub firewall: FirewallPlan,
}

pub fn vrrp(g: &Global, v: &Vrrp, map: &SourceMap) -> Result<VrrpPlan, PlanError> {
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
    Ok(VrrpPlan {
        instances,
        groups: v.sync_groups.iter().map(|s| group(s, g)).collect(),
        statics: Statics {
            addresses: v.static_addresses.clone(),
            routes: v.static_routes.clone(),
            rules: v.static_rules.clone(),
        },
        rt_priority: match g.tuning.get("vrrp_rt_priority") {
            Some(Setting::Int(p)) => i32::try_from(*p).ok().filter(|p| (1..=99).contains(p)),
            _ => None,
        },
        firewall: firewall(g),
    })
}

/// `nftables [NAME]`, `nftables_priority`, `nftables_counters`, `nftables_ifindex`.
fn firewall(g: &Global) -> FirewallPlan {
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
    let priority = Priority(i.priority);
    let start = if priority.is_owner() || i.state == InitialState::Master {
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
    let unknown = |kind: &'static str| {
        let (name, at) = (name.clone(), at.clone());
        move |object: String| PlanError::UnknownTracked {
            name,
            at,
            kind,
            object,
        }
    };
    let of_group = |entries: fn(&SyncGroup) -> &[_]| group.map_or(&[][..], entries);
    let track_scripts =
        tracked::resolve(&i.track_script, of_group(|g| &g.track_script), &v.scripts)
            .map_err(unknown("track_script"))?;
    let track_processes = tracked::resolve(
        &i.track_process,
        of_group(|g| &g.track_process),
        &v.track_processes,
    )
    .map_err(unknown("track_process"))?;
    let track_files = tracked::resolve(&i.track_file, of_group(|g| &g.track_file), &v.track_files)
        .map_err(unknown("track_file"))?;
    let track_bfds = tracked::resolve(&i.track_bfd, of_group(|g| &g.track_bfd), &g.bfd)
        .map_err(unknown("track_bfd"))?;
    let bfd_takeover = match &i.bfd_takeover {
        Some(t) => {
            let b = g
                .bfd
                .iter()
                .find(|b| b.name == t.bfd)
                .ok_or_else(|| unknown("bfd_takeover")(t.bfd.clone()))?;
            Some(BfdTakeoverPlan {
                bfd: b.name.clone(),
                neighbor: b.neighbor_ip,
                force: t.force,
            })
        }
        None => None,
    };
    let vmac = match &i.use_vmac {
        None => None,
        Some(vm) => {
            let mac = match &vm.mac {
                Some(m) => parse_mac(m, i.vrid).ok_or_else(|| PlanError::VmacMac {
                    name: name.clone(),
                    at: at.clone(),
                    mac: m.clone(),
                })?,
                None => virtual_mac(family, Vrid(i.vrid)),
            };
            Some(VmacPlan {
                name: vm
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
        vrid: Vrid(i.vrid),
        priority,
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
        garp: garp::garp(i, g),
        garp_lanes: garp::lanes(v),
        notify: i.notify.clone(),
        notify_master_rx_lower_pri: i.notify_master_rx_lower_pri.clone(),
        track_interfaces: tracked::interfaces(&i.track_interface, group),
        track_scripts,
        track_processes,
        track_files,
        track_bfds,
        bfd_takeover,
        dont_track_primary: i.dont_track_primary,
        sync_group: group.map(|s| s.name.clone()),
        smtp_alert: i.smtp_alert.or(g.smtp_alert_vrrp).or(g.smtp_alert) == Some(true),
        vmac,
        vmac_xmit_base: i.vmac_xmit_base,
        name,
    })
}

/// A configured `use_vmac` MAC: six octets, or five with the VRID as the sixth.
pub fn parse_mac(text: &str, vrid: u8) -> Option<[u8; 6]> {
    let bytes: Vec<u8> = text
        .split(':')
        .map(|h| u8::from_str_radix(h, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    match bytes.len() {
        6 => bytes.try_into().ok(),
        5 => {
            let mut m = [0u8; 6];
            m[..5].copy_from_slice(&bytes);
            m[5] = vrid;
            Some(m)
        }
        _ => None,
    }
}
