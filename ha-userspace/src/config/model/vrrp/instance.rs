//! `vrrp_instance NAME { ... }` (keepalived.conf(5) "VRRP instance(s)"; keepalived
//! `vrrp_parser.c`). Checks that need the whole instance (family, version, advert interval,
//! strict mode ...) are in [`super::complete`].

use std::net::IpAddr;

use serde::Serialize;

use super::address::IpAddress;
use super::instance_keywords::keyword;
use super::route::Route;
use super::rule::Rule;
use super::track::Tracked;
use super::{Notify, Vrrp};
use crate::config::ctx::Ctx;
use crate::config::tree::Node;
use crate::units::{Centis, Micros};

/// `state`: the state an instance starts in (RFC 5798 §6.4.1 Initialize).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InitialState {
    Master,
    #[default]
    Backup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    Pass,
    Ah,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authentication {
    pub auth_type: Option<AuthType>,
    /// At most 8 bytes (keepalived truncates).
    pub auth_pass: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Vmac {
    /// The macvlan's name; default `vrrp.VRID`.
    pub ifname: Option<String>,
    /// A configured MAC (5 octets = the VRID is the sixth).
    pub mac: Option<String>,
}

/// `bfd_takeover NAME [force]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BfdTakeover {
    pub bfd: String,
    /// Take over on the BFD expiry alone, even if the master's adverts still arrive.
    pub force: bool,
}

/// One VRRP instance, ready for the daemon.
#[derive(Debug, Clone, Serialize)]
pub struct VrrpInstance {
    pub name: String,
    /// Where the block starts, for messages.
    #[serde(skip)]
    pub line: crate::config::source::Loc,
    pub state: InitialState,
    pub interface: Option<String>,
    /// `virtual_router_id` 1..=255 (required: an instance without one is dropped).
    pub vrid: u8,
    /// 1..=255, default 100; 255 = address owner.
    pub priority: u8,
    /// Default 1 s; VRRPv2 whole seconds, VRRPv3 multiples of 10 ms up to 40.95 s.
    pub advert_int: Centis,
    /// 2 or 3; `None` in the config = the global vrrp_version (2), 3 for IPv6.
    pub version: Option<u8>,
    /// true when the instance runs over IPv6 (from the VIPs, `native_ipv6`, addresses).
    pub ipv6: bool,
    pub use_vmac: Option<Vmac>,
    pub use_vmac_addr: bool,
    pub vmac_xmit_base: bool,
    pub use_ipvlan: Option<Vec<String>>,
    pub native_ipv6: bool,
    pub dont_track_primary: bool,
    pub track_interface: Vec<Tracked>,
    pub track_script: Vec<Tracked>,
    pub track_process: Vec<Tracked>,
    pub track_file: Vec<Tracked>,
    pub track_bfd: Vec<Tracked>,
    /// `bfd_takeover NAME [force]` (an ha extension): the `bfd_instance` whose expiry
    /// means the master is dead, and whether its adverts need not have stopped too. Left
    /// out of the dump when unset, so keepalived configs dump as before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bfd_takeover: Option<BfdTakeover>,
    /// `mcast_src_ip` / `unicast_src_ip`.
    pub src_ip: Option<IpAddr>,
    pub mcast_dst_ip: Option<IpAddr>,
    pub track_src_ip: bool,
    pub unicast_peer: Vec<UnicastPeer>,
    /// A unicast keyword was given (unicast_src_ip, unicast_peer, check_unicast_src ...).
    pub unicast_configured: bool,
    pub unicast_fault_no_peer: bool,
    pub check_unicast_src: bool,
    pub unicast_ttl: Option<u8>,
    pub old_unicast_checksum: Option<bool>,
    pub virtual_ipaddress: Vec<IpAddress>,
    pub virtual_ipaddress_excluded: Vec<IpAddress>,
    pub virtual_routes: Vec<Route>,
    pub virtual_rules: Vec<Rule>,
    pub authentication: Option<Authentication>,
    pub nopreempt: bool,
    pub preempt_delay: Option<Micros>,
    /// `None` = accept unless strict mode.
    pub accept: Option<bool>,
    pub skip_check_adv_addr: Option<bool>,
    /// `None` = global vrrp_strict.
    pub strict_mode: Option<bool>,
    pub promote_secondaries: bool,
    pub linkbeat_use_polling: bool,
    pub debug: u8,
    pub garp_master_delay: Option<Micros>,
    pub garp_master_repeat: Option<u32>,
    pub garp_master_refresh: Option<Micros>,
    pub garp_master_refresh_repeat: Option<u32>,
    pub garp_lower_prio_delay: Option<Micros>,
    pub garp_lower_prio_repeat: Option<u32>,
    pub garp_extra_if: Option<(bool, u32)>,
    pub down_timer_adverts: Option<u8>,
    pub lower_prio_no_advert: Option<bool>,
    pub higher_prio_send_advert: Option<bool>,
    pub kernel_rx_buf_size: Option<u32>,
    pub notify: Notify,
    pub notify_master_rx_lower_pri: Option<super::NotifyScript>,
    pub notify_deleted: bool,
    pub notify_priority_changes: Option<bool>,
    pub smtp_alert: Option<bool>,
    /// The configured advert interval in µs, checked against the version in `complete`.
    #[serde(skip)]
    pub(super) advert_raw: Option<u64>,
    #[serde(skip)]
    pub(super) vrid_set: bool,
    #[serde(skip)]
    pub(super) state_set: bool,
}

impl VrrpInstance {
    fn new(name: String, n: &Node) -> Self {
        VrrpInstance {
            name,
            line: n.loc(),
            state: InitialState::Backup,
            interface: None,
            vrid: 0,
            priority: 100,
            advert_int: Centis::from_secs(1),
            version: None,
            ipv6: false,
            use_vmac: None,
            use_vmac_addr: false,
            vmac_xmit_base: false,
            use_ipvlan: None,
            native_ipv6: false,
            dont_track_primary: false,
            track_interface: Vec::new(),
            track_script: Vec::new(),
            track_process: Vec::new(),
            track_file: Vec::new(),
            track_bfd: Vec::new(),
            bfd_takeover: None,
            src_ip: None,
            mcast_dst_ip: None,
            track_src_ip: false,
            unicast_peer: Vec::new(),
            unicast_configured: false,
            unicast_fault_no_peer: false,
            check_unicast_src: false,
            unicast_ttl: None,
            old_unicast_checksum: None,
            virtual_ipaddress: Vec::new(),
            virtual_ipaddress_excluded: Vec::new(),
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            authentication: None,
            nopreempt: false,
            preempt_delay: None,
            accept: None,
            skip_check_adv_addr: None,
            strict_mode: None,
            promote_secondaries: false,
            linkbeat_use_polling: false,
            debug: 0,
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            garp_master_refresh_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            garp_extra_if: None,
            down_timer_adverts: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            kernel_rx_buf_size: None,
            notify: Notify::default(),
            notify_master_rx_lower_pri: None,
            notify_deleted: false,
            notify_priority_changes: None,
            smtp_alert: None,
            advert_raw: None,
            vrid_set: false,
            state_set: false,
        }
    }

    /// The family is fixed by the first address that gives one (keepalived: `vrrp->family`).
    pub(super) fn family_v6(&self) -> Option<bool> {
        if self.native_ipv6 {
            return Some(true);
        }
        self.src_ip
            .map(|a| a.is_ipv6())
            .or_else(|| self.virtual_ipaddress.first().map(|a| a.is_ipv6()))
            .or_else(|| self.unicast_peer.first().map(|p| p.addr.is_ipv6()))
    }
}

pub fn parse(n: &Node, cx: &mut Ctx, vrrp: &mut Vrrp) {
    if n.args.len() != 1 {
        cx.warn(n.loc(), "vrrp_instance must have a name")
            .expected("vrrp_instance NAME { ... }")
            .fallback("skipping the block");
        return;
    }
    let name = n.args[0].text.clone();
    if vrrp.instances.iter().any(|i| i.name == name) {
        cx.warn(n.loc(), format!("vrrp instance {name} already defined"))
            .fallback("skipping the block");
        return;
    }
    let mut v = VrrpInstance::new(name.clone(), n);
    for c in cx.block(n) {
        keyword(c, &mut v, cx, vrrp);
    }
    // keepalived's vrrp_end_handler.
    let vmac_like = v.use_vmac.is_some() || v.use_ipvlan.is_some();
    if v.unicast_configured && vmac_like {
        if v.interface.is_none() {
            cx.warn(
                n.loc(),
                format!("({name}): Cannot use VMAC/ipvlan with unicast and no interface"),
            )
            .fallback("clearing use_vmac");
            v.use_vmac = None;
            v.use_ipvlan = None;
        } else if !v.vmac_xmit_base {
            cx.warn(
                n.loc(),
                format!("({name}) unicast with use_vmac requires vmac_xmit_base"),
            )
            .fallback("setting vmac_xmit_base");
            v.vmac_xmit_base = true;
        }
    }
    if v.unicast_peer.is_empty() && v.unicast_ttl.is_some() {
        cx.warn(
            n.loc(),
            format!("({name}): Cannot use unicast_ttl without unicast peers"),
        )
        .fallback("resetting it");
        v.unicast_ttl = None;
    }
    if v.interface.is_none() {
        v.linkbeat_use_polling = false;
    }
    vrrp.instances.push(v);
}
