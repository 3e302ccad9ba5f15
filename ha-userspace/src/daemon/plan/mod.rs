//! From the config model to what the daemon runs, split the way the daemon is:
//! [`GlobalPlan`] (what every subsystem shares), [`VrrpPlan`] (the VRRP engine) and
//! [`LbPlan`] (the load-balancing side). Every default keepalived applies is resolved here.
//! Pure: no interface is looked up. Reload compares plans, so an instance whose plan is
//! equal keeps running untouched (DESIGN.md §10).

pub mod bfd;
mod garp;
mod global;
mod lb;
mod tracked;
mod vrrp;

use thiserror::Error;

pub use garp::{garp_lane, GarpLane, GarpPlan};
pub use global::{GlobalPlan, SmtpPlan};
pub use lb::LbPlan;
pub use tracked::{
    Tracked, TrackedBfd, TrackedFile, TrackedInterface, TrackedProcess, TrackedScript,
};
pub use vrrp::{
    parse_mac, AuthPlan, FirewallPlan, GroupPlan, InstancePlan, Statics, VmacPlan, VrrpPlan,
    DEFAULT_NFT_PRIORITY, DEFAULT_NFT_TABLE,
};

use crate::config::model::Config;
use crate::config::source::SourceMap;
use crate::family::Family;
use crate::units::Vrid;

/// Everything a config asks the daemon to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub global: GlobalPlan,
    pub vrrp: VrrpPlan,
    pub lb: LbPlan,
    pub bfd: bfd::BfdPlan,
}

/// A config the daemon cannot run, although the config checker let it through.
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
        "vrrp_instance {a} and {b} both run VRID {vrid} for {family} on {ifname}: \
         one virtual router per VRID, family and interface (RFC 5798 §5.2.3)"
    )]
    DuplicateVrid {
        a: String,
        b: String,
        vrid: Vrid,
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

/// Builds the plan of `config`; `map` names files in errors.
pub fn plan(config: &Config, map: &SourceMap) -> Result<Plan, PlanError> {
    Ok(Plan {
        global: global::global(&config.global),
        vrrp: vrrp::vrrp(&config.global, &config.vrrp, map)?,
        lb: lb::lb(
            &config.lvs,
            &config.vrrp.track_files,
            config.global.checker_log_all_failures == Some(true),
            &config.global,
        ),
        bfd: bfd::bfd(&config.global.bfd),
    })
}

#[cfg(test)]
mod tests;
