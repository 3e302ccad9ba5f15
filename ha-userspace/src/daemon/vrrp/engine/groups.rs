//! Sync groups after each batch of inputs: the pure rules of `sync_group.rs` applied to
//! this batch's transitions until nothing changes more.

use super::Engine;
use crate::daemon::events::VrrpEvent;
use crate::daemon::vrrp::sync_group::{followers, held};
use crate::time::MonoTime;
use crate::vrrp::fsm::Input;

impl Engine {
    pub(super) fn sync_groups(&mut self, now: MonoTime) {
        let mut seen = 0;
        loop {
            while seen < self.io.events.len() {
                let e = self.io.events[seen].clone();
                seen += 1;
                let VrrpEvent::Transition {
                    instance, from, to, ..
                } = e
                else {
                    continue;
                };
                let states: Vec<_> = self
                    .runners
                    .iter()
                    .map(|r| (r.name().to_owned(), r.state()))
                    .collect();
                let state_of = |m: &str| states.iter().find(|(n, _)| n == m).map(|(_, s)| *s);
                for m in followers(&self.plan.groups, &instance, from, to, state_of) {
                    if let Some(r) = self.runners.iter_mut().find(|r| r.name() == m) {
                        r.input(now, Input::ForceFailover, &mut self.io);
                    }
                }
            }
            if !self.group_faults(now) {
                break;
            }
        }
    }

    /// Holds each member in FAULT while another member has a fault of its own. True if any
    /// member changed.
    fn group_faults(&mut self, now: MonoTime) -> bool {
        let faulty: Vec<String> = self
            .runners
            .iter()
            .filter(|r| r.own_fault())
            .map(|r| r.name().to_owned())
            .collect();
        let mut changed = false;
        for (member, by) in held(&self.plan.groups, |m| faulty.iter().any(|f| f == m)) {
            if let Some(r) = self.runners.iter_mut().find(|r| r.name() == member) {
                changed |= r.set_group_fault(by, now, &mut self.io);
            }
        }
        changed
    }
}
