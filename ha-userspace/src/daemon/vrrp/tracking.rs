//! keepalived's tracking, pure: how an instance's own interface, its `track_interface`s and
//! the scripts, processes, files and BFD sessions it tracks move its priority or put it in FAULT
//! (`vrrp_set_effective_priority`, vrrp_track.c), and what to say about it.
//!
//! - weight 0: the object being down means FAULT;
//! - weight > 0: added while the object is up;
//! - weight < 0: added while the object is down;
//! - `reverse` swaps up and down first.
//!
//! The result is clamped to 1..=254 (the owner, 255, is never changed).

use std::collections::BTreeMap;

use crate::daemon::plan::InstancePlan;
use crate::daemon::watch::{ObjKind, Objects};
use crate::units::{Priority, Weight};

/// What one tracked object does to its instance right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Fault,
    Delta(i32),
}

pub fn effect(up: bool, weight: Weight, reverse: bool) -> Effect {
    let up = up ^ reverse;
    match weight.0 {
        0 if !up => Effect::Fault,
        w if w > 0 && up => Effect::Delta(w),
        w if w < 0 && !up => Effect::Delta(w),
        _ => Effect::Delta(0),
    }
}

/// keepalived's `track_file`: with weight 0 a non-zero value is a failure; otherwise
/// value × weight (negated by `reverse`) is added, and below -253 it is a failure.
pub fn file_effect(value: i64, weight: Weight, reverse: bool) -> Effect {
    if weight.0 == 0 {
        return if (value != 0) ^ reverse {
            Effect::Fault
        } else {
            Effect::Delta(0)
        };
    }
    let sign = if reverse { -1 } else { 1 };
    let r = value
        .saturating_mul(i64::from(weight.0))
        .saturating_mul(sign);
    if r < -253 {
        Effect::Fault
    } else {
        Effect::Delta(r.min(253) as i32)
    }
}

/// The effective priority and whether the instance must be in FAULT.
pub fn effective(base: Priority, effects: impl IntoIterator<Item = Effect>) -> (Priority, bool) {
    let mut sum = 0i32;
    let mut fault = false;
    for e in effects {
        match e {
            Effect::Fault => fault = true,
            Effect::Delta(d) => sum += d,
        }
    }
    if base.is_owner() {
        return (base, fault);
    }
    let p = (i32::from(base.0) + sum).clamp(1, i32::from(Priority::OWNER.0) - 1);
    (Priority(p as u8), fault)
}

/// An instance's tracked state right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub priority: Priority,
    /// Why the instance must be in FAULT, if it must: its own objects, else its sync group.
    pub fault: Option<String>,
    /// FAULT from the instance's own objects (what its sync group peers follow).
    pub own_fault: bool,
}

/// What one instance tracks, as last heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    /// The instance's own interface (a VMAC follows its parent's carrier).
    link_up: bool,
    /// `track_interface` names → up.
    interfaces: BTreeMap<String, bool>,
    /// Scripts, processes and files this instance tracks, as the watchers last said.
    objects: Objects,
    /// Another sync group member with a fault of its own.
    group_fault: Option<String>,
}

impl Tracking {
    /// The state when the instance starts: links as `link_up` says, objects as `known`
    /// says or, for those nobody reported yet, their initial state.
    pub fn new(plan: &InstancePlan, link_up: impl Fn(&str) -> bool, known: &Objects) -> Self {
        let mut t = Tracking {
            link_up: link_up(&plan.ifname),
            interfaces: BTreeMap::new(),
            objects: Objects::new(),
            group_fault: None,
        };
        t.reconfigure(plan, link_up, known);
        t
    }

    /// A reload changed what the instance tracks: known states are kept (its own first,
    /// then `known`), new objects start in their initial state.
    pub fn reconfigure(
        &mut self,
        plan: &InstancePlan,
        link_up: impl Fn(&str) -> bool,
        known: &Objects,
    ) {
        self.interfaces = plan
            .track_interfaces
            .iter()
            .map(|t| (t.ifname.clone(), link_up(&t.ifname)))
            .collect();
        self.objects = tracked_keys(plan)
            .into_iter()
            .map(|key| {
                let v = self
                    .objects
                    .get(&key)
                    .or_else(|| known.get(&key))
                    .copied()
                    .unwrap_or_else(|| initial_value(plan, &key));
                (key, v)
            })
            .collect();
    }

    /// Takes every tracked link's state from `link_up` (the engine's current view, when an
    /// instance starts).
    pub fn sync_links(&mut self, plan: &InstancePlan, link_up: impl Fn(&str) -> bool) {
        self.link_up = link_up(&plan.ifname);
        for (name, up) in &mut self.interfaces {
            *up = link_up(name);
        }
    }

    /// A link changed; true if this instance cares.
    pub fn set_link(&mut self, plan: &InstancePlan, name: &str, up: bool) -> bool {
        let mut changed = false;
        if name == plan.ifname && up != self.link_up {
            self.link_up = up;
            changed = true;
        }
        if let Some(u) = self.interfaces.get_mut(name) {
            changed |= *u != up;
            *u = up;
        }
        changed
    }

    /// A watcher reported `value`; true if this instance tracks it and it changed.
    pub fn set_object(&mut self, kind: ObjKind, name: &str, value: i64) -> bool {
        match self.objects.get_mut(&(kind, name.to_owned())) {
            Some(v) if *v != value => {
                *v = value;
                true
            }
            _ => false,
        }
    }

    /// Another sync group member has (`Some(its name)`) or no longer has a fault of its own;
    /// true if that changed.
    pub fn set_group_fault(&mut self, member: Option<String>) -> bool {
        if self.group_fault == member {
            return false;
        }
        self.group_fault = member;
        true
    }

    pub fn link_up(&self) -> bool {
        self.link_up
    }

    /// The effective priority and FAULT, from every tracked object, with the causes named.
    pub fn evaluate(&self, plan: &InstancePlan) -> Verdict {
        let mut effects = Vec::new();
        let mut causes = Vec::new();
        let mut push = |effect: Effect, cause: String| {
            if effect == Effect::Fault {
                causes.push(cause);
            }
            effects.push(effect);
        };
        if !plan.dont_track_primary && !self.link_up {
            push(Effect::Fault, format!("interface {} down", plan.ifname));
        }
        for t in &plan.track_interfaces {
            let up = self.interfaces.get(&t.ifname).copied().unwrap_or(false);
            let state = if up { "up" } else { "down" };
            push(
                effect(up, t.weight, t.reverse),
                format!("track_interface {} {state}", t.ifname),
            );
        }
        let get = |kind, name: &str| self.objects.get(&(kind, name.to_owned())).copied();
        for t in &plan.track_scripts {
            let ok = get(ObjKind::Script, &t.def.name).unwrap_or(1) != 0;
            let state = if ok { "succeeding" } else { "failed" };
            push(
                effect(ok, t.weight, t.reverse),
                format!("track_script {} {state}", t.def.name),
            );
        }
        for t in &plan.track_processes {
            let ok = get(ObjKind::Process, &t.def.name).unwrap_or(0) != 0;
            let state = if ok { "running" } else { "quorum lost" };
            push(
                effect(ok, t.weight, t.reverse),
                format!("track_process {} {state}", t.def.name),
            );
        }
        for t in &plan.track_files {
            let v = get(ObjKind::File, &t.def.name).unwrap_or(0);
            push(
                file_effect(v, t.weight, t.reverse),
                format!("track_file {} value {v}", t.def.name),
            );
        }
        for t in &plan.track_bfds {
            let up = get(ObjKind::Bfd, &t.def.name).unwrap_or(0) != 0;
            let state = if up { "up" } else { "down" };
            push(
                effect(up, t.weight, t.reverse),
                format!("track_bfd {} {state}", t.def.name),
            );
        }
        let (priority, own_fault) = effective(plan.priority, effects);
        let fault = if own_fault {
            Some(causes.join(", "))
        } else {
            self.group_fault
                .as_ref()
                .map(|m| format!("sync group member {m} in fault"))
        };
        Verdict {
            priority,
            fault,
            own_fault,
        }
    }
}

/// Every script, process and file an instance tracks.
fn tracked_keys(p: &InstancePlan) -> Vec<(ObjKind, String)> {
    let scripts = p
        .track_scripts
        .iter()
        .map(|t| (ObjKind::Script, t.def.name.clone()));
    let processes = p
        .track_processes
        .iter()
        .map(|t| (ObjKind::Process, t.def.name.clone()));
    let files = p
        .track_files
        .iter()
        .map(|t| (ObjKind::File, t.def.name.clone()));
    let bfds = p
        .track_bfds
        .iter()
        .map(|t| (ObjKind::Bfd, t.def.name.clone()));
    scripts.chain(processes).chain(files).chain(bfds).collect()
}

/// A tracked object's state before anything was heard: a script is up unless `init_fail`;
/// a process is down until seen; a file reads 0; a BFD session is down until Up (keepalived:
/// `bfd_up = false`).
fn initial_value(p: &InstancePlan, key: &(ObjKind, String)) -> i64 {
    match key.0 {
        ObjKind::Script => p
            .track_scripts
            .iter()
            .find(|t| t.def.name == key.1)
            .map_or(1, |t| i64::from(!t.def.init_fail)),
        ObjKind::Process | ObjKind::File | ObjKind::Bfd => 0,
    }
}

#[cfg(test)]
mod tests;
