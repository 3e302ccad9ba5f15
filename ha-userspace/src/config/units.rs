//! Units in types. Config files write decimal seconds; the model keeps integers in the unit
//! the protocol or the timer needs, converted once, here.

use serde::Serialize;

/// Centiseconds: the unit of VRRP intervals (RFC 5798 §5.2.7 Max Adver Interval).
/// Serialized as the integer number of centiseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Centis(pub u32);

impl Centis {
    pub const fn from_secs(s: u32) -> Self {
        Centis(s * 100)
    }
}

/// Microseconds: keepalived's timer resolution, used for checker and script timings.
/// Serialized as the integer number of microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct Micros(pub u64);

impl Micros {
    pub const fn from_secs(s: u64) -> Self {
        Micros(s * 1_000_000)
    }
}
