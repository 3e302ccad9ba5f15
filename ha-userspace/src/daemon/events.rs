//! What the subsystems tell the rest of the daemon (notify scripts, the FIFO, mail, logs):
//! one event type with a variant per subsystem, so the notifier serves them all.

use std::net::IpAddr;

use crate::units::Priority;
use crate::vrrp::fsm::{Reason, State};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Vrrp(VrrpEvent),
    RealServer(RealServerEvent),
    Quorum(QuorumEvent),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VrrpEvent {
    Transition {
        instance: String,
        from: State,
        to: State,
        reason: Reason,
        /// What caused a FAULT, or what recovered from it, when something did: a tracked
        /// script, process, file or interface, or a sync group member.
        cause: Option<String>,
        priority: Priority,
    },
    /// As master we heard a lower-priority advert (`notify_master_rx_lower_pri`).
    LowerPriority { instance: String, src: IpAddr },
}

/// A real server of a `virtual_server` came up or went down (its checkers decided):
/// keepalived runs its `notify_up` / `notify_down` and mails when `smtp_alert` says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealServerEvent {
    /// keepalived's name of the service: `[ip]:port`, `FWM n` or `[group]`.
    pub virtual_server: String,
    /// `[ip]:port` of the real server.
    pub real_server: String,
    pub up: bool,
}

/// A virtual server gained or lost its quorum: keepalived runs `quorum_up` /
/// `quorum_down` and mails when the virtual server's `smtp_alert` says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumEvent {
    /// keepalived's name of the service: `[ip]:port`, `FWM n` or `[group]`.
    pub virtual_server: String,
    pub up: bool,
}

impl From<VrrpEvent> for Event {
    fn from(e: VrrpEvent) -> Event {
        Event::Vrrp(e)
    }
}
