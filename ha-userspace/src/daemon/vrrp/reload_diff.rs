//! A reload as a difference (DESIGN.md §10), pure: which running instances stay untouched,
//! which take their new settings in place, and which stop, start or restart.
//!
//! An instance is changed *in place* when its new plan has the same identity on the wire
//! (name, interface, family, version, VRID, VMAC, source, multicast group, AH or not,
//! owner or not: [`InstancePlan::same_identity`]): its state machine keeps its state and
//! timer, so a MASTER advertises on without a gap. Anything else restarts it: priority 0
//! first, then a new instance.

use crate::daemon::plan::InstancePlan;

/// What happens to one instance of the new config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Its plan is the running one's (index in the old list): nothing to do.
    Unchanged { old: usize },
    /// The running one takes the new plan in place.
    InPlace { old: usize },
    /// The running one of that name stops and a new one starts.
    Restart { old: usize },
    /// New: it starts.
    Start,
}

/// The reload: a fate per new instance (in the new config's order), and the running
/// instances that stop without a successor (in the old order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub fates: Vec<Fate>,
    pub stop: Vec<usize>,
}

impl Diff {
    /// `(unchanged, changed in place, stopped, started)` for the log line; a restart
    /// counts as one stopped and one started, as the operator sees it.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let mut c = (0, 0, self.stop.len(), 0);
        for f in &self.fates {
            match f {
                Fate::Unchanged { .. } => c.0 += 1,
                Fate::InPlace { .. } => c.1 += 1,
                Fate::Restart { .. } => {
                    c.2 += 1;
                    c.3 += 1
                }
                Fate::Start => c.3 += 1,
            }
        }
        c
    }

    /// The old instances that stop: without successor, and those restarted.
    pub fn stopping(&self) -> Vec<usize> {
        let mut v: Vec<usize> = self
            .fates
            .iter()
            .filter_map(|f| match f {
                Fate::Restart { old } => Some(*old),
                _ => None,
            })
            .chain(self.stop.iter().copied())
            .collect();
        v.sort_unstable();
        v
    }
}

/// Classifies `new` against the running `old` instances (names are unique in each list).
pub fn diff(old: &[InstancePlan], new: &[InstancePlan]) -> Diff {
    let mut claimed = vec![false; old.len()];
    let fates = new
        .iter()
        .map(|p| {
            let Some(i) = old.iter().position(|o| o.name == p.name) else {
                return Fate::Start;
            };
            claimed[i] = true;
            if old[i] == *p {
                Fate::Unchanged { old: i }
            } else if old[i].same_identity(p) {
                Fate::InPlace { old: i }
            } else {
                Fate::Restart { old: i }
            }
        })
        .collect();
    let stop = (0..old.len()).filter(|i| !claimed[*i]).collect();
    Diff { fates, stop }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::plan::plan;
    use crate::test_support::load_text;
    use crate::units::Priority;

    fn instances(text: &str) -> Vec<InstancePlan> {
        let loaded = load_text(text);
        plan(&loaded.config, &loaded.map).unwrap().vrrp.instances
    }

    fn inst(name: &str, vrid: u8, prio: u8, extra: &str) -> String {
        format!(
            "vrrp_instance {name} {{\n interface eth0\n virtual_router_id {vrid}\n \
             priority {prio}\n{extra}\n virtual_ipaddress {{\n 192.0.2.{vrid}/24\n }}\n}}\n"
        )
    }

    #[test]
    fn an_identical_instance_is_left_alone() {
        let a = instances(&inst("VI_1", 1, 100, ""));
        let d = diff(&a, &a);
        assert_eq!(d.fates, vec![Fate::Unchanged { old: 0 }]);
        assert!(d.stop.is_empty());
        assert_eq!(d.counts(), (1, 0, 0, 0));
    }

    /// keepalived reloads a changed priority or VIP list without leaving MASTER when the
    /// router's identity is the same; so do we.
    #[test]
    fn priority_and_vip_changes_are_in_place() {
        let old = instances(&inst("VI_1", 1, 100, ""));
        let new = instances(&inst("VI_1", 1, 150, " advert_int 2"));
        assert_eq!(new[0].priority, Priority(150));
        assert_eq!(diff(&old, &new).fates, vec![Fate::InPlace { old: 0 }]);
    }

    #[test]
    fn a_new_vrid_or_owner_change_restarts() {
        let old = instances(&inst("VI_1", 1, 100, ""));
        let new = instances(&inst("VI_1", 2, 100, ""));
        let d = diff(&old, &new);
        assert_eq!(d.fates, vec![Fate::Restart { old: 0 }]);
        assert_eq!(d.stopping(), vec![0]);
        assert_eq!(d.counts(), (0, 0, 1, 1));
        let owner = instances(&inst("VI_1", 1, 255, ""));
        assert_eq!(diff(&old, &owner).fates, vec![Fate::Restart { old: 0 }]);
    }

    #[test]
    fn removed_instances_stop_and_added_ones_start_in_config_order() {
        let old = instances(&(inst("A", 1, 100, "") + &inst("B", 2, 100, "")));
        let new = instances(&(inst("C", 3, 100, "") + &inst("A", 1, 100, "")));
        let d = diff(&old, &new);
        assert_eq!(d.fates, vec![Fate::Start, Fate::Unchanged { old: 0 }]);
        assert_eq!(d.stop, vec![1]);
        assert_eq!(d.stopping(), vec![1]);
        assert_eq!(d.counts(), (1, 0, 1, 1));
    }
}
