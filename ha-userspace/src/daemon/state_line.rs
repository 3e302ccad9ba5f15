//! The one line of state systemd shows (`STATUS=` in `systemctl status`): the VRRP
//! instances and their states, named while there are few, counted when there are many.

use std::collections::BTreeMap;

use super::events::{Event, VrrpEvent};
use super::plan::Plan;
use crate::vrrp::fsm::State;

/// Above this many instances the line counts them by state instead of naming them.
const NAMED: usize = 4;

#[derive(Debug, Default)]
pub struct StateLine {
    states: BTreeMap<String, State>,
}

impl StateLine {
    /// Follows the instances of `plan`: new ones start in INIT until they say otherwise,
    /// removed ones go; the others keep their state.
    pub fn replan(&mut self, plan: &Plan) {
        let mut next = BTreeMap::new();
        for i in &plan.vrrp.instances {
            let s = self
                .states
                .get(&i.name)
                .copied()
                .unwrap_or(State::Initialize);
            next.insert(i.name.clone(), s);
        }
        self.states = next;
    }

    /// Takes a transition; true when the line changed.
    pub fn on_event(&mut self, e: &Event) -> bool {
        let Event::Vrrp(VrrpEvent::Transition { instance, to, .. }) = e else {
            return false;
        };
        self.states.insert(instance.clone(), *to) != Some(*to)
    }

    pub fn render(&self) -> String {
        if self.states.is_empty() {
            return "running; no VRRP instance".into();
        }
        if self.states.len() <= NAMED {
            let named: Vec<String> = self
                .states
                .iter()
                .map(|(n, s)| format!("{n} {}", s.as_str()))
                .collect();
            return named.join(", ");
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for s in self.states.values() {
            *counts.entry(s.as_str()).or_default() += 1;
        }
        let counted: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        format!("{} instances: {}", self.states.len(), counted.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vrrp::fsm::Reason;

    fn transition(instance: &str, to: State) -> Event {
        Event::Vrrp(VrrpEvent::Transition {
            instance: instance.into(),
            from: State::Backup,
            to,
            reason: Reason::Startup,
            cause: None,
            priority: crate::units::Priority(100),
        })
    }

    #[test]
    fn names_few_instances_and_counts_many() {
        let mut l = StateLine::default();
        assert_eq!(l.render(), "running; no VRRP instance");
        assert!(l.on_event(&transition("VI_1", State::Master)));
        assert!(!l.on_event(&transition("VI_1", State::Master)));
        assert!(l.on_event(&transition("VI_2", State::Backup)));
        assert_eq!(l.render(), "VI_1 MASTER, VI_2 BACKUP");
        for i in 3..=6 {
            l.on_event(&transition(&format!("VI_{i}"), State::Backup));
        }
        l.on_event(&transition("VI_6", State::Fault));
        assert_eq!(l.render(), "6 instances: 4 BACKUP, 1 FAULT, 1 MASTER");
    }
}
