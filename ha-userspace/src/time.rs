//! The one clock type every subsystem's state machine is driven with.
//!
//! No core reads a clock: the daemon passes `now` with every input (from `CLOCK_MONOTONIC`,
//! or a kernel receive timestamp moved onto it by `daemon::clock`), and tests pass a
//! simulated value.

use std::ops::Add;

use crate::units::Micros;

/// A reading of the daemon's monotonic clock, in microseconds since an arbitrary origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MonoTime(pub u64);

impl MonoTime {
    pub const ZERO: MonoTime = MonoTime(0);

    pub const fn from_micros(us: u64) -> Self {
        MonoTime(us)
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// The time elapsed since `earlier`, zero if `earlier` is later.
    pub const fn saturating_since(self, earlier: MonoTime) -> Micros {
        Micros(self.0.saturating_sub(earlier.0))
    }

    /// `self - d`, clamped at the origin.
    pub const fn saturating_sub(self, d: Micros) -> MonoTime {
        MonoTime(self.0.saturating_sub(d.0))
    }
}

impl Add<Micros> for MonoTime {
    type Output = MonoTime;

    fn add(self, d: Micros) -> MonoTime {
        MonoTime(self.0.saturating_add(d.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(MonoTime(5) + Micros(7), MonoTime(12));
        assert_eq!(MonoTime(u64::MAX) + Micros(1), MonoTime(u64::MAX));
        assert_eq!(MonoTime(5).saturating_since(MonoTime(9)), Micros(0));
        assert_eq!(MonoTime(9).saturating_since(MonoTime(5)), Micros(4));
        assert_eq!(MonoTime(3).saturating_sub(Micros(5)), MonoTime::ZERO);
    }
}
