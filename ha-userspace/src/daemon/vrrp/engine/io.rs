//! What a runner borrows from the engine while it handles an input: one struct, so the
//! engine lends it whole (`runner.on_x(now, &mut engine.io)`) beside its runners.

use crate::daemon::events::VrrpEvent;
use crate::daemon::netlink::{Links, Netlink};
use crate::daemon::vrrp::garp::Announcer;
use crate::daemon::vrrp::xdp_maps::VrrpMaps;

pub struct Io {
    /// VIPs, routes and rules.
    pub nl: Netlink,
    /// The XDP maps, when the fast path runs.
    pub xdp: Option<VrrpMaps>,
    pub announcer: Announcer,
    /// The interfaces, kept current by the link monitor.
    pub links: Links,
    /// What the runners report; sent to the main thread after each batch.
    pub events: Vec<VrrpEvent>,
}
