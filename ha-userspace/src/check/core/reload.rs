//! A reload: the new configuration's probes, servers and pools take over the state of the
//! ones they continue (keepalived's `migrate_checkers` and the reloaded flags of
//! ipwrapper.c), and what is new starts as at startup.

use std::collections::{BTreeMap, HashMap};

use super::{Action, Core, PoolState, ProbeSlot, ServerState};
use crate::check::model::{PoolDef, ProbeKey};
use crate::time::MonoTime;

impl Core {
    /// A new configuration. A probe whose key is unchanged keeps its state and schedule;
    /// one whose target is unchanged but timing not keeps its state. Real servers keep
    /// their state (a server whose checks are unchanged does not flap), virtual servers
    /// their quorum; new ones start as at startup, from the state of the probes they share.
    /// A new `alpha` checker of servers that are all up starts up (keepalived's
    /// `migrate_checkers`). Probe ids change: the caller drops its schedule and follows the
    /// returned one.
    pub fn reload(
        &mut self,
        pools: Vec<PoolDef>,
        files: BTreeMap<String, i64>,
        now: MonoTime,
    ) -> Vec<Action> {
        let seed = self.rng.u64(..);
        let mut new = Core::build(pools, files, seed);
        new.bfds = std::mem::take(&mut self.bfds);
        let by_key: HashMap<ProbeKey, &ProbeSlot> =
            self.probes.iter().map(|s| (s.def.key, s)).collect();
        let by_target: HashMap<ProbeKey, &ProbeSlot> =
            self.probes.iter().map(|s| (s.def.target, s)).collect();
        let mut out = Vec::new();
        let mut kept = vec![false; new.probes.len()];
        let mut migrated = vec![false; new.probes.len()];
        for (id, slot) in new.probes.iter_mut().enumerate() {
            let old = match by_key.get(&slot.def.key) {
                Some(old) => {
                    slot.due = old.due.max(now);
                    kept[id] = true;
                    old
                }
                None => match by_target.get(&slot.def.target) {
                    Some(old) => old,
                    None => continue,
                },
            };
            slot.fsm = old.fsm.carried(slot.def.timing.retry);
            slot.dyn_code = old.dyn_code;
            slot.last = old.last.clone();
            migrated[id] = true;
        }
        let old_pools: HashMap<&str, &PoolState> =
            self.pools.iter().map(|p| (p.def.id.as_str(), p)).collect();
        // What each new server was, if it was.
        let mut was: Vec<Vec<Option<(bool, i64)>>> = Vec::with_capacity(new.pools.len());
        let mut is_new_pool = vec![false; new.pools.len()];
        for (p, pool) in new.pools.iter_mut().enumerate() {
            let Some(old) = old_pools.get(pool.def.id.as_str()) else {
                is_new_pool[p] = true;
                was.push(vec![None; pool.servers.len()]);
                continue;
            };
            pool.quorum_up = old.quorum_up;
            // By name: a virtual server may have thousands of real servers.
            let before: HashMap<&str, &ServerState> =
                old.servers.iter().map(|o| (o.name.as_str(), o)).collect();
            was.push(
                pool.servers
                    .iter()
                    .map(|st| before.get(st.name.as_str()).map(|o| (o.alive, o.effective)))
                    .collect(),
            );
        }
        // A new alpha checker starts up when every server that has it is up.
        for (id, slot) in new.probes.iter_mut().enumerate() {
            if !migrated[id] && slot.def.alpha {
                let all_up = slot
                    .users
                    .iter()
                    .all(|&(p, s)| was[p as usize][s as usize].is_some_and(|(alive, _)| alive));
                slot.fsm.is_up = all_up;
            }
        }
        for (p, servers) in was.iter().enumerate() {
            for (s, before) in servers.iter().enumerate() {
                // New servers start as their probes say now, silently; known ones from
                // what they were, and `refresh` below tells what changed.
                let state = match before {
                    Some(old) => *old,
                    None => new.evaluate(p, s),
                };
                let st = &mut new.pools[p].servers[s];
                (st.alive, st.effective) = state;
            }
            new.pools[p].recount();
        }
        for (p, fresh) in is_new_pool.into_iter().enumerate() {
            if fresh {
                new.init_pool(p, &mut out);
                continue;
            }
            for s in 0..new.pools[p].servers.len() {
                new.refresh(p, s, &mut out);
            }
            new.update_quorum(p, &mut out);
        }
        for (id, kept) in kept.into_iter().enumerate() {
            if kept {
                out.push(Action::Probe {
                    id,
                    at: new.probes[id].due,
                });
            } else {
                new.schedule_first(id, now, &mut out);
            }
        }
        new.dirty = true;
        *self = new;
        out
    }
}
