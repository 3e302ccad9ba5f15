//! keepalived's gratuitous ARP / unsolicited NA timing, resolved per instance: the
//! `garp_master_*` and `garp_lower_prio_*` settings and the pacing lanes of `garp_group`.

use crate::config::model::global::Global;
use crate::config::model::vrrp::{Vrrp, VrrpInstance};
use crate::units::Micros;

/// keepalived's defaults (global_data.c): 5 s delay, 5 messages per burst, no refresh.
const GARP_MASTER_DELAY_S: u64 = 5;
const GARP_MASTER_REPEAT: u32 = 5;
const GARP_MASTER_REFRESH_REPEAT: u32 = 1;

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

/// The `garp_group` blocks, resolved.
pub fn lanes(v: &Vrrp) -> Vec<GarpLane> {
    v.garp_groups
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
        .collect()
}

pub fn garp(i: &VrrpInstance, g: &Global) -> GarpPlan {
    let secs = |s: u32| Micros::from_secs(u64::from(s));
    let d = &g.garp;
    // `vrrp_min_garp`: one message, no second burst, unless set explicitly.
    let min = d.min_garp;
    let master_delay = i.garp_master_delay.unwrap_or_else(|| {
        d.master_delay.map_or(
            Micros::from_secs(if min { 0 } else { GARP_MASTER_DELAY_S }),
            secs,
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
