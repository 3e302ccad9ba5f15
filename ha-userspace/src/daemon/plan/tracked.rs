//! `track_script`, `track_process` and `track_file` entries of an instance (and of its sync
//! group) resolved against the definitions they name: one rule for the three kinds.

use crate::config::model::global::bfd::BfdInstance;
use crate::config::model::vrrp::{self as model, SyncGroup, TrackFile, TrackProcess, VrrpScript};
use crate::units::Weight;

/// A `track_*` entry resolved against its definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked<T> {
    pub def: T,
    /// The weight this instance applies: the entry's, else the definition's.
    pub weight: Weight,
    /// The entry's `reverse` combined with the definition's `weight ... reverse`.
    pub reverse: bool,
}

pub type TrackedScript = Tracked<VrrpScript>;
pub type TrackedProcess = Tracked<TrackProcess>;
pub type TrackedFile = Tracked<TrackFile>;
pub type TrackedBfd = Tracked<BfdInstance>;

/// A `track_interface` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedInterface {
    pub ifname: String,
    /// 0: the instance goes to FAULT when the interface is down.
    pub weight: Weight,
    pub reverse: bool,
}

/// What the three kinds of definition have in common.
pub trait Definition: Clone {
    fn name(&self) -> &str;
    fn weight(&self) -> i32;
    fn weight_reverse(&self) -> bool;
}

macro_rules! definition {
    ($t:ty) => {
        impl Definition for $t {
            fn name(&self) -> &str {
                &self.name
            }
            fn weight(&self) -> i32 {
                self.weight
            }
            fn weight_reverse(&self) -> bool {
                self.weight_reverse
            }
        }
    };
}

definition!(VrrpScript);
definition!(TrackProcess);
definition!(TrackFile);
definition!(BfdInstance);

/// The entries `own` plus `from_group`, those of the instance's sync group (keepalived
/// applies a group's `track_*` to every member), each resolved in `defs`. `Err(name)` names
/// the first entry whose definition does not exist.
pub fn resolve<T: Definition>(
    own: &[model::Tracked],
    from_group: &[model::Tracked],
    defs: &[T],
) -> Result<Vec<Tracked<T>>, String> {
    own.iter()
        .chain(from_group)
        .map(|t| {
            let def = defs
                .iter()
                .find(|d| d.name() == t.name)
                .ok_or_else(|| t.name.clone())?;
            Ok(Tracked {
                def: def.clone(),
                weight: Weight(t.weight.unwrap_or(def.weight())),
                reverse: t.reverse ^ def.weight_reverse(),
            })
        })
        .collect()
}

/// `track_interface` entries, own and the group's.
pub fn interfaces(own: &[model::Tracked], group: Option<&SyncGroup>) -> Vec<TrackedInterface> {
    let from_group = group.map(|g| g.track_interface.as_slice());
    own.iter()
        .chain(from_group.unwrap_or_default())
        .map(|t| TrackedInterface {
            ifname: t.name.clone(),
            weight: Weight(t.weight.unwrap_or(0)),
            reverse: t.reverse,
        })
        .collect()
}
