//! The BFD sessions to run, from the `bfd_instance` blocks (keepalived.conf(5) "BFD
//! CONFIGURATION"), with keepalived's defaults already applied by the config reader.

use std::net::IpAddr;

use crate::bfd::session::Config;
use crate::config::model::global::bfd::BfdInstance;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BfdPlan {
    pub sessions: Vec<SessionPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionPlan {
    pub name: String,
    pub neighbor: IpAddr,
    pub source: Option<IpAddr>,
    pub timers: Config,
    /// TTL / hop limit sent.
    pub ttl: u8,
    /// Received TTLs down to `ttl - max_hops` are accepted (keepalived's rule; 255: none
    /// checked).
    pub min_ttl: u8,
    /// Sent to port 4784 (RFC 5883) rather than 3784. keepalived 2.2.7 sends every session
    /// to 3784, so ha does too: both ports are received.
    pub multihop: bool,
    /// VRRP (`track_bfd`, `bfd_takeover`) hears of it.
    pub to_vrrp: bool,
    /// Checkers (`BFD_CHECK`) hear of it.
    pub to_checker: bool,
}

impl SessionPlan {
    /// Whether a packet's source and destination are this session's (used while Your
    /// Discriminator is 0: RFC 5881 §3).
    pub fn matches(&self, src: IpAddr, dst: Option<IpAddr>) -> bool {
        src == self.neighbor && (self.source.is_none() || dst.is_none() || dst == self.source)
    }
}

pub fn bfd(instances: &[BfdInstance]) -> BfdPlan {
    BfdPlan {
        sessions: instances
            .iter()
            .map(|b| SessionPlan {
                name: b.name.clone(),
                neighbor: b.neighbor_ip,
                source: b.source_ip,
                timers: Config {
                    min_tx: b.min_tx,
                    min_rx: b.min_rx,
                    idle_tx: b.idle_tx,
                    multiplier: b.multiplier,
                    passive: b.passive,
                },
                ttl: b.ttl,
                min_ttl: if b.max_hops == u8::MAX {
                    0
                } else {
                    b.ttl.saturating_sub(b.max_hops)
                },
                multihop: false,
                to_vrrp: b.vrrp,
                to_checker: b.checker,
            })
            .collect(),
    }
}
