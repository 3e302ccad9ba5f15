//! keepalived's `vrrp_sync_group`, pure: the members of a group move together.
//!
//! - When a member becomes MASTER, the others that are BACKUP take over too.
//! - When a member hands over from MASTER to BACKUP, the others that are MASTER hand over.
//! - While a member has a fault of its own, the others are held in FAULT.
//!
//! The engine applies these rules after every batch of inputs until nothing changes more.

use crate::daemon::plan::GroupPlan;
use crate::vrrp::fsm::State;

/// The members that must switch over (`Input::ForceFailover`) because `instance` went from
/// `from` to `to`; `state_of` gives each member's current state.
pub fn followers(
    groups: &[GroupPlan],
    instance: &str,
    from: State,
    to: State,
    state_of: impl Fn(&str) -> Option<State>,
) -> Vec<String> {
    let Some(g) = groups
        .iter()
        .find(|g| g.members.iter().any(|m| m == instance))
    else {
        return Vec::new();
    };
    g.members
        .iter()
        .filter(|m| *m != instance)
        .filter(|m| {
            matches!(
                (from, to, state_of(m)),
                (_, State::Master, Some(State::Backup))
                    | (State::Master, State::Backup, Some(State::Master))
            )
        })
        .cloned()
        .collect()
}

/// For every member of every group: the other member whose own fault holds it in FAULT
/// (`None`: nothing holds it). `own_fault` says which members have a fault of their own.
pub fn held(
    groups: &[GroupPlan],
    own_fault: impl Fn(&str) -> bool,
) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for g in groups {
        let faulty: Vec<&String> = g.members.iter().filter(|m| own_fault(m)).collect();
        for m in &g.members {
            let by = faulty.iter().find(|f| **f != m).map(|f| (*f).clone());
            out.push((m.clone(), by));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::vrrp::Notify;
    use crate::test_support::started_backup;
    use crate::time::MonoTime;
    use crate::units::{Centis, Priority};
    use crate::vrrp::fsm::{Input, Instance};

    fn group(members: &[&str]) -> Vec<GroupPlan> {
        vec![GroupPlan {
            name: "G".into(),
            members: members.iter().map(|m| m.to_string()).collect(),
            notify: Notify::default(),
            smtp_alert: false,
        }]
    }

    /// Two state machines of one group on a simulated clock, with the group rule applied
    /// after each input as the engine does.
    struct Pair {
        a: Instance,
        b: Instance,
        groups: Vec<GroupPlan>,
    }

    impl Pair {
        fn new() -> Pair {
            Pair {
                a: started_backup(1, Centis(100)),
                b: started_backup(2, Centis(100)),
                groups: group(&["A", "B"]),
            }
        }

        /// Feeds `input` to A at `now`, then forces B as the group rule says.
        fn feed_a(&mut self, now: MonoTime, input: Input) {
            let from = self.a.state();
            self.a.handle(now, input);
            let to = self.a.state();
            let b = self.b.state();
            for m in followers(&self.groups, "A", from, to, |_| Some(b)) {
                assert_eq!(m, "B");
                self.b.handle(now, Input::ForceFailover);
            }
        }
    }

    #[test]
    fn a_member_taking_over_pulls_the_backup_members_with_it() {
        let mut p = Pair::new();
        // A's Master_Down_Timer runs out (3 × 1 s + skew); B's has not yet.
        let t = p.a.poll_timeout().unwrap();
        p.feed_a(t, Input::Timeout);
        assert_eq!(p.a.state(), State::Master);
        assert_eq!(p.b.state(), State::Master, "B followed A at once");
    }

    #[test]
    fn a_master_member_yielding_makes_the_others_yield() {
        let mut p = Pair::new();
        let t = p.a.poll_timeout().unwrap();
        p.feed_a(t, Input::Timeout);
        // A hears a higher-priority master and steps down: B must hand over too.
        p.feed_a(
            t + crate::units::Micros(10),
            Input::Advert {
                src: "192.0.2.9".parse().unwrap(),
                priority: Priority(200),
                adver_int: Centis(100),
            },
        );
        assert_eq!(p.a.state(), State::Backup);
        assert_eq!(p.b.state(), State::Backup);
    }

    #[test]
    fn nobody_follows_into_fault_and_non_members_are_never_forced() {
        let groups = group(&["A", "B"]);
        let backup = |_: &str| Some(State::Backup);
        assert!(followers(&groups, "A", State::Backup, State::Fault, backup).is_empty());
        assert!(followers(&groups, "C", State::Backup, State::Master, backup).is_empty());
        assert!(
            followers(&groups, "A", State::Backup, State::Master, |_| Some(
                State::Fault
            ))
            .is_empty(),
            "a member in FAULT stays there"
        );
    }

    #[test]
    fn a_member_with_its_own_fault_holds_the_others_but_not_itself() {
        let groups = group(&["A", "B", "C"]);
        let held = held(&groups, |m| m == "B");
        assert_eq!(
            held,
            vec![
                ("A".into(), Some("B".into())),
                ("B".into(), None),
                ("C".into(), Some("B".into())),
            ]
        );
    }
}
