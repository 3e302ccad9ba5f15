//! The load-balancing side of a config: `virtual_server` blocks with their groups, the
//! `SSL` context of `SSL_GET`, and the track files `FILE_CHECK` reads. The checkers
//! (`daemon::check`) and the load-balancer backends (`daemon::lb`) take it.

use std::collections::BTreeMap;

use crate::config::model::global::Global;
use crate::config::model::lvs::checker::CheckerKind;
use crate::config::model::lvs::{Lvs, SslConfig, VirtualServer, VirtualServerGroup};
use crate::config::model::vrrp::TrackFile;
use crate::lb::LbSettings;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct LbPlan {
    pub virtual_servers: Vec<VirtualServer>,
    pub groups: Vec<VirtualServerGroup>,
    pub ssl: Option<SslConfig>,
    /// The `track_file` blocks some `FILE_CHECK` names, by name.
    pub track_files: BTreeMap<String, TrackFile>,
    /// `checker_log_all_failures`: log every failed probe, not only the changes.
    pub log_all_failures: bool,
    /// `lvs_flush`, `lvs_flush_on_stop`, `lvs_timeouts`, and an `lvs_sync_daemon` that no
    /// VRRP instance drives.
    pub settings: LbSettings,
}

pub fn lb(lvs: &Lvs, track_files: &[TrackFile], log_all_failures: bool, global: &Global) -> LbPlan {
    let used: Vec<&str> = lvs
        .virtual_servers
        .iter()
        .flat_map(|v| &v.real_servers)
        .flat_map(|r| &r.checkers)
        .filter_map(|c| match &c.kind {
            CheckerKind::FileCheck(f) => Some(f.track_file.as_str()),
            _ => None,
        })
        .collect();
    LbPlan {
        virtual_servers: lvs.virtual_servers.clone(),
        groups: lvs.groups.clone(),
        ssl: lvs.ssl.clone(),
        track_files: track_files
            .iter()
            .filter(|t| used.contains(&t.name.as_str()))
            .map(|t| (t.name.clone(), t.clone()))
            .collect(),
        log_all_failures,
        settings: LbSettings {
            flush: global.lvs_flush,
            flush_on_stop: global.lvs_flush_on_stop,
            timeouts: global.lvs_timeouts.clone(),
            // With an instance named, the VRRP side runs it (daemon::lb::ipvs::syncd).
            sync_daemon: global
                .lvs_sync_daemon
                .clone()
                .filter(|d| d.instance.is_none()),
            backend: global.lb_backend,
            // Sites are the system's: the daemon finds them (daemon::lb::xdp::sites).
            xdp: crate::lb::xdp::XdpSettings {
                table_size: global
                    .lb_xdp_table_size
                    .unwrap_or(crate::lb::maglev::DEFAULT_SIZE),
                sites: Default::default(),
            },
        },
    }
}

impl LbPlan {
    /// How many real servers all virtual servers hold.
    pub fn real_servers(&self) -> usize {
        self.virtual_servers
            .iter()
            .map(|v| v.real_servers.len())
            .sum()
    }
}
