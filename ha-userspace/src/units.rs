//! Units in types, shared by every subsystem. Config files write decimal seconds and bare
//! numbers; the model keeps integers in the unit the protocol or the timer needs, converted
//! once at the edge (the config reader, the packet codec), never in the middle.

use serde::{Deserialize, Serialize};

/// Centiseconds: the unit of VRRP intervals (RFC 5798 §5.2.7 Max Adver Interval).
/// Serialized as the integer number of centiseconds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Centis(pub u32);

impl Centis {
    pub const fn from_secs(s: u32) -> Self {
        Centis(s * 100)
    }
}

/// Microseconds: keepalived's timer resolution, used for checker and script timings.
/// Serialized as the integer number of microseconds.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Micros(pub u64);

impl Micros {
    pub const fn from_secs(s: u64) -> Self {
        Micros(s * 1_000_000)
    }
}

/// A VRRP priority (RFC 5798 §5.2.4): 1..=254 for backups, 255 for the address owner, 0
/// only in the advert of a master that is leaving. Serialized as the bare number.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Priority(pub u8);

impl Priority {
    /// RFC 5798 §5.2.4: the router owns the virtual addresses.
    pub const OWNER: Priority = Priority(255);
    /// RFC 5798 §5.2.4: the master is leaving (sent on shutdown).
    pub const STOP: Priority = Priority(0);

    pub const fn is_owner(self) -> bool {
        self.0 == Self::OWNER.0
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A virtual router identifier (RFC 5798 §5.2.3), 1..=255. Serialized as the bare number.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Vrid(pub u8);

impl std::fmt::Display for Vrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// keepalived's tracking weight (`weight -20`, `weight 10 reverse`): what a tracked object
/// adds to its instance's priority, or, when 0, that the instance goes to FAULT while the
/// object is down. The same signed number weights real servers in the load balancer.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Weight(pub i32);

impl std::fmt::Display for Weight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}
