//! Priority and FAULT from what the instance tracks: links from the engine's link monitor,
//! scripts, processes and files from the watchers, FAULT of sync group peers. The
//! arithmetic is `tracking.rs`'s; here its verdict reaches the state machine.

use tracing::{debug, info};

use super::Runner;
use crate::daemon::netlink::Link;
use crate::daemon::vrrp::engine::Io;
use crate::daemon::watch::ObjKind;
use crate::time::MonoTime;
use crate::vrrp::fsm::Input;

impl Runner {
    pub fn on_link(&mut self, now: MonoTime, link: &Link, io: &mut Io) {
        let was_up = self.tracking.link_up();
        if !self.tracking.set_link(&self.plan, &link.name, link.up) {
            return;
        }
        if self.tracking.link_up() != was_up {
            info!(
                instance = %self.plan.name,
                "interface {} is {}",
                self.plan.ifname,
                if link.up { "up" } else { "down" }
            );
        }
        self.catch_up(now, io);
        self.retrack(now, io);
    }

    /// A script, process or file changed state.
    pub fn on_object(&mut self, now: MonoTime, kind: ObjKind, name: &str, value: i64, io: &mut Io) {
        if self.tracking.set_object(kind, name, value) {
            debug!(instance = %self.plan.name, ?kind, name, value, "tracked object");
            self.catch_up(now, io);
            self.retrack(now, io);
        }
    }

    /// Another sync group member has (`Some(name)`) or no longer has a fault of its own.
    /// Returns whether anything changed.
    pub fn set_group_fault(&mut self, member: Option<String>, now: MonoTime, io: &mut Io) -> bool {
        if !self.tracking.set_group_fault(member) {
            return false;
        }
        self.catch_up(now, io);
        self.retrack(now, io);
        true
    }

    /// Recomputes the effective priority and FAULT from every tracked object.
    pub(super) fn retrack(&mut self, now: MonoTime, io: &mut Io) {
        let v = self.tracking.evaluate(&self.plan);
        self.own_fault = v.own_fault;
        debug!(
            instance = %self.plan.name,
            priority = %v.priority,
            fault = v.fault.as_deref().unwrap_or("-"),
            "tracking"
        );
        if v.priority != self.fsm.priority() && !self.plan.priority.is_owner() {
            info!(
                instance = %self.plan.name,
                "effective priority {} -> {}",
                self.fsm.priority(),
                v.priority
            );
            self.fsm.handle(now, Input::PriorityChange(v.priority));
            self.run_actions(now, io);
        }
        match (&self.fault, v.fault) {
            (None, Some(cause)) => {
                self.transition_cause = Some(cause.clone());
                self.fault = Some(cause);
                self.fsm.handle(now, Input::Fault);
                self.run_actions(now, io);
                self.transition_cause = None;
            }
            (Some(prev), None) => {
                self.transition_cause = Some(format!("recovered from {prev}"));
                self.fault = None;
                self.fsm.handle(now, Input::Recovered);
                self.run_actions(now, io);
                self.transition_cause = None;
            }
            // Still in FAULT, perhaps for another reason now: say the current one.
            (Some(_), Some(cause)) => self.fault = Some(cause),
            (None, None) => {}
        }
    }

    /// `bfd_takeover`: the BFD session `bfd` to `neighbor` expired, its last packet at
    /// `last_rx`. A backup following that master takes over now, unless one of the
    /// master's adverts arrived after that packet (then the master is alive and only BFD
    /// failed: the Master_Down_Timer decides, as without BFD) and `force` is not set.
    pub fn on_peer_down(
        &mut self,
        now: MonoTime,
        bfd: &str,
        neighbor: std::net::IpAddr,
        last_rx: MonoTime,
        io: &mut Io,
    ) {
        let Some(t) = self.plan.bfd_takeover.as_ref().filter(|t| t.bfd == bfd) else {
            return;
        };
        if t.neighbor != neighbor || self.fsm.state() != crate::vrrp::fsm::State::Backup {
            return;
        }
        let force = t.force;
        self.catch_up(now, io);
        let kernel = self.kernel_view(io).and_then(|k| k.last_seen);
        let last_advert = self.last_master_advert.max(kernel);
        let silent = last_advert.is_none_or(|a| a <= last_rx);
        if !silent && !force {
            info!(
                instance = %self.plan.name,
                "BFD {bfd} to {neighbor} expired but the master's adverts still arrive \
                 ({} µs after its last BFD packet): no takeover",
                last_advert.map_or(0, |a| a.saturating_since(last_rx).0)
            );
            return;
        }
        info!(
            instance = %self.plan.name,
            "BFD {bfd} to {neighbor} expired: the master is dead, taking over now"
        );
        self.fsm.handle(now, Input::PeerDown { addr: neighbor });
        self.run_actions(now, io);
    }
}
