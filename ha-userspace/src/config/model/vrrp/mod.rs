//! The VRRP part of keepalived.conf: `vrrp_instance`, `vrrp_sync_group`, `vrrp_script`,
//! `vrrp_track_process`, `track_file`, `static_ipaddress/routes/rules`, `track_group`,
//! `garp_group`, `linkbeat_interfaces`, `interface_up_down_delays`.
//!
//! keepalived 2.2.7 resolves track_script/track_process/track_file references while
//! parsing (so the tracked object must be defined first), and sync group members, VRIDs
//! and the per-instance rules after the whole file is read ([`finish`]).

pub mod address;
mod complete;
pub mod instance;
mod instance_keywords;
pub mod names;
pub mod route;
pub mod rule;
pub mod statics;
pub mod sync_group;
pub mod track;

#[cfg(test)]
mod tests;

use serde::Serialize;

use super::Config;
use crate::config::ctx::Ctx;
use crate::config::tree::Node;

pub use super::script::NotifyScript;
pub use address::IpAddress;
pub use instance::{InitialState, VrrpInstance};
pub use route::Route;
pub use rule::Rule;
pub use statics::{GarpGroup, LinkbeatInterface, TrackGroup, UpDownDelay};
pub use sync_group::SyncGroup;
pub use track::{TrackFile, TrackProcess, Tracked, VrrpScript};

#[derive(Debug, Default, Serialize)]
pub struct Vrrp {
    pub instances: Vec<VrrpInstance>,
    pub sync_groups: Vec<SyncGroup>,
    pub scripts: Vec<VrrpScript>,
    pub track_processes: Vec<TrackProcess>,
    pub track_files: Vec<TrackFile>,
    pub track_groups: Vec<TrackGroup>,
    pub static_addresses: Vec<IpAddress>,
    pub static_routes: Vec<Route>,
    pub static_rules: Vec<Rule>,
    pub garp_groups: Vec<GarpGroup>,
    pub linkbeat_interfaces: Vec<LinkbeatInterface>,
    pub up_down_delays: Vec<UpDownDelay>,
}

/// The `notify*` scripts of an instance or sync group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notify {
    pub master: Option<NotifyScript>,
    pub backup: Option<NotifyScript>,
    pub fault: Option<NotifyScript>,
    pub stop: Option<NotifyScript>,
    pub deleted: Option<NotifyScript>,
    /// `notify`: called for every transition with 4 extra arguments.
    pub any: Option<NotifyScript>,
}

pub fn top(n: &Node, cx: &mut Ctx, config: &mut Config) -> bool {
    let vrrp = &mut config.vrrp;
    match n.name() {
        "vrrp_instance" => instance::parse(n, cx, vrrp),
        "vrrp_sync_group" => sync_group::parse(n, cx, vrrp),
        "vrrp_script" => track::parse_script(n, cx, vrrp),
        "vrrp_track_process" => track::parse_process(n, cx, vrrp),
        "track_file" | "vrrp_track_file" => track::parse_file(n, cx, vrrp),
        "track_group" => statics::parse_track_group(n, cx, vrrp),
        "static_ipaddress" => {
            address::parse_block(n, address::AddrKind::Static, cx, &mut vrrp.static_addresses)
        }
        "static_routes" => route::parse_block(n, true, cx, &mut vrrp.static_routes),
        "static_rules" => rule::parse_block(n, true, cx, &mut vrrp.static_rules),
        "garp_group" => statics::parse_garp_group(n, cx, vrrp),
        "linkbeat_interfaces" => statics::parse_linkbeat(n, cx, vrrp),
        "interface_up_down_delays" => statics::parse_up_down_delays(n, cx, vrrp),
        _ => return false,
    }
    true
}

pub fn finish(config: &mut Config, cx: &mut Ctx) {
    let defaults = complete::Defaults {
        version: config.global.vrrp_version,
        strict: config.global.vrrp_strict,
    };
    complete::finish(&mut config.vrrp, defaults, cx);
}

/// Stores a `notify_master/backup/fault/stop/deleted` or `notify` script; keepalived keeps
/// the first one of each kind.
pub(crate) fn notify(n: &Node, owner: &str, cx: &mut Ctx, into: &mut Notify) {
    let slot = match n.name() {
        "notify_master" => &mut into.master,
        "notify_backup" => &mut into.backup,
        "notify_fault" => &mut into.fault,
        "notify_stop" => &mut into.stop,
        "notify_deleted" => &mut into.deleted,
        _ => &mut into.any,
    };
    if slot.is_some() {
        cx.warn(
            n.loc(),
            format!("{owner}: {} script already specified", n.name()),
        )
        .fallback("ignoring it");
        return;
    }
    *slot = crate::config::model::script::notify_script(cx, n);
}
