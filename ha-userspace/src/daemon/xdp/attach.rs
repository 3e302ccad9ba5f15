//! The attach manager's bookkeeping, pure (DESIGN.md §12): an interface takes one XDP
//! program, and several features (VRRP today, the load balancer next) may want the same
//! interface. Each interface the program runs on has a slot (its row in the per-interface
//! maps) and the set of features enabled on it; the program attaches with the first
//! feature that wants the interface and detaches when the last one lets it go.

use std::collections::BTreeMap;

use ha_common::{MAX_IFACES, MAX_IFINDEX};

/// A feature of the XDP program, as a bit of the interface's feature set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// VRRP adverts checked and absorbed, the master-down timer, ARP/NS for owned VIPs.
    Vrrp,
    /// Frames to a virtual service forwarded to a real server (the `xdp` LB backend).
    Lb,
    /// BFD control packets stamped and absorbed, the detection timer.
    Bfd,
}

impl Feature {
    pub fn bit(self) -> u32 {
        match self {
            Feature::Vrrp => ha_common::FEATURE_VRRP,
            Feature::Lb => ha_common::FEATURE_LB,
            Feature::Bfd => ha_common::FEATURE_BFD,
        }
    }
}

/// What the I/O side must do after a [`Table`] change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Attach the program to the interface, in this slot, with these features.
    Attach {
        slot: u32,
        features: u32,
    },
    /// Already attached: the feature set is now this.
    Features {
        slot: u32,
        features: u32,
    },
    /// No feature wants the interface any more: detach and free the slot.
    Detach {
        slot: u32,
    },
    Nothing,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the XDP program serves {max} interfaces with ifindex below {max_ifindex}: \
     ifindex {ifindex} does not fit",
    max = MAX_IFACES,
    max_ifindex = MAX_IFINDEX
)]
pub struct NoSlot {
    pub ifindex: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    slot: u32,
    features: u32,
}

/// Which features want which interface, and each interface's slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    entries: BTreeMap<u32, Entry>,
}

impl Table {
    /// `feature` wants `ifindex`.
    pub fn want(&mut self, ifindex: u32, feature: Feature) -> Result<Change, NoSlot> {
        if let Some(e) = self.entries.get_mut(&ifindex) {
            if e.features & feature.bit() != 0 {
                return Ok(Change::Nothing);
            }
            e.features |= feature.bit();
            return Ok(Change::Features {
                slot: e.slot,
                features: e.features,
            });
        }
        let used: Vec<u32> = self.entries.values().map(|e| e.slot).collect();
        let slot = (1..=MAX_IFACES)
            .find(|s| !used.contains(s))
            .filter(|_| ifindex < MAX_IFINDEX)
            .ok_or(NoSlot { ifindex })?;
        let features = feature.bit();
        self.entries.insert(ifindex, Entry { slot, features });
        Ok(Change::Attach { slot, features })
    }

    /// `feature` no longer wants `ifindex`.
    pub fn release(&mut self, ifindex: u32, feature: Feature) -> Change {
        let Some(e) = self.entries.get_mut(&ifindex) else {
            return Change::Nothing;
        };
        if e.features & feature.bit() == 0 {
            return Change::Nothing;
        }
        e.features &= !feature.bit();
        let (slot, features) = (e.slot, e.features);
        if features == 0 {
            self.entries.remove(&ifindex);
            return Change::Detach { slot };
        }
        Change::Features { slot, features }
    }

    /// A failed attach: forget the interface.
    pub fn forget(&mut self, ifindex: u32) {
        self.entries.remove(&ifindex);
    }

    /// The interfaces `feature` has, with their slots.
    pub fn slots(&self, feature: Feature) -> BTreeMap<u32, u32> {
        self.entries
            .iter()
            .filter(|(_, e)| e.features & feature.bit() != 0)
            .map(|(i, e)| (*i, e.slot))
            .collect()
    }

    pub fn slot(&self, ifindex: u32) -> Option<u32> {
        self.entries.get(&ifindex).map(|e| e.slot)
    }

    /// The interfaces `feature` has.
    pub fn interfaces(&self, feature: Feature) -> Vec<u32> {
        self.slots(feature).into_keys().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Feature = Feature::Vrrp;

    #[test]
    fn first_want_attaches_in_the_lowest_free_slot_and_last_release_detaches() {
        let mut t = Table::default();
        let vrrp = V.bit();
        assert_eq!(
            t.want(4, V),
            Ok(Change::Attach {
                slot: 1,
                features: vrrp
            })
        );
        assert_eq!(
            t.want(7, V),
            Ok(Change::Attach {
                slot: 2,
                features: vrrp
            })
        );
        assert_eq!(t.want(4, V), Ok(Change::Nothing), "wanted twice");
        assert_eq!(t.release(4, V), Change::Detach { slot: 1 });
        assert_eq!(t.release(4, V), Change::Nothing);
        assert_eq!(
            t.want(9, V),
            Ok(Change::Attach {
                slot: 1,
                features: vrrp
            }),
            "slot 1 is free again"
        );
        assert_eq!(
            t.slots(V).into_iter().collect::<Vec<_>>(),
            vec![(7, 2), (9, 1)]
        );
    }

    #[test]
    fn slots_and_ifindexes_are_bounded() {
        let mut t = Table::default();
        assert_eq!(
            t.want(MAX_IFINDEX, V),
            Err(NoSlot {
                ifindex: MAX_IFINDEX
            })
        );
        for i in 1..=MAX_IFACES {
            assert!(matches!(t.want(i, V), Ok(Change::Attach { .. })));
        }
        assert_eq!(
            t.want(MAX_IFACES + 1, V),
            Err(NoSlot {
                ifindex: MAX_IFACES + 1
            })
        );
    }
}
