//! What `ha status` shows of one instance.

use super::Runner;
use crate::daemon::status::InstanceStatus;
use crate::vrrp::fsm::State;

impl Runner {
    pub fn status(&self) -> InstanceStatus {
        let mut counters = self.counters.clone();
        counters.rx_dropped = self
            .drops
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.to_owned(), n))
            .collect();
        let state = self.fsm.state();
        let (master, master_priority) = match (state, self.fsm.master()) {
            (State::Master, _) => (Some(self.place.src.to_string()), Some(self.fsm.priority())),
            (_, Some(m)) => (Some(m.addr.to_string()), Some(m.priority)),
            _ => (None, None),
        };
        InstanceStatus {
            name: self.plan.name.clone(),
            interface: self.plan.ifname.clone(),
            family: self.plan.family.keyword().into(),
            vrid: self.plan.vrid,
            version: self.plan.version.number(),
            state: state.as_str().into(),
            priority: self.plan.priority,
            effective_priority: self.fsm.priority(),
            source: self.place.src.to_string(),
            master,
            master_priority,
            vips: self
                .plan
                .vips
                .iter()
                .map(|v| format!("{}/{}", v.addr, v.prefix_len))
                .collect(),
            last_transition: self.last_transition.as_ref().map(|t| t.0.clone()),
            last_transition_at: self.last_transition.as_ref().map(|t| t.1),
            fault: self.fault.clone(),
            sync_group: self.plan.sync_group.clone(),
            counters,
        }
    }
}
