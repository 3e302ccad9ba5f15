//! The fence's clock (ha_common::Fence): the engine beats as it runs, and the XDP program
//! stops answering for the VIPs once no beat has come for the fence time: a killed or frozen
//! daemon's VIPs fall silent before a backup takes over.
//!
//! Why 2 advert intervals by default: while a master runs, the engine beats at least every
//! quarter of the fence time, so the last beat comes at the latest when the daemon dies,
//! which is at most one interval after its last advert. The fence then fires at most
//! (N + 1) intervals after that advert, and a backup takes over 3 intervals + Skew_Time
//! after it (Master_Down_Interval, RFC 5798 §6.1): N ≤ 2 fences first, by Skew_Time at
//! least. A larger N tolerates longer stalls before fencing, at the price of a window where
//! both answer.
//!
//! A master that finds, on waking, that it has not run for longer than the fence time was
//! stopped (SIGSTOP) or starved: its VIPs were fenced meanwhile. If it was away longer than
//! 3 of its intervals, a backup has taken over or is about to: it hands over (priority 0,
//! VIPs released) instead of answering again beside the new master; the election then runs
//! as after any restart.

use crate::time::MonoTime;
use crate::units::{Centis, Micros};

/// `--fence-adverts` when not given (see the module comment).
pub const DEFAULT_FENCE_ADVERTS: u32 = 2;

/// `--fence-adverts` at most: a longer fence only widens the window where both answer.
pub const MAX_FENCE_ADVERTS: u32 = 10;

#[derive(Debug, Clone)]
pub struct FenceClock {
    adverts: u32,
    /// 0: off (no instance, or `--fence-adverts 0`).
    stale: Micros,
    last_beat: Option<MonoTime>,
}

impl FenceClock {
    pub fn new(adverts: u32) -> FenceClock {
        FenceClock {
            adverts,
            stale: Micros(0),
            last_beat: None,
        }
    }

    /// The fence time for instances of these advert intervals; a new plan beats at once.
    pub fn replan(&mut self, intervals: impl Iterator<Item = Centis>) {
        let shortest = intervals.map(|c| c.0).min();
        self.stale = match shortest {
            Some(cs) if self.adverts > 0 => {
                Micros(u64::from(cs) * 10_000 * u64::from(self.adverts.min(MAX_FENCE_ADVERTS)))
            }
            _ => Micros(0),
        };
        self.last_beat = None;
    }

    pub fn stale(&self) -> Micros {
        self.stale
    }

    /// Whether a heartbeat is due: at most every quarter of the fence time, so the kernel
    /// never sees it older than that while the engine runs.
    pub fn due(&self, now: MonoTime) -> bool {
        self.stale.0 > 0
            && self
                .last_beat
                .is_none_or(|b| now.saturating_since(b).0 * 4 >= self.stale.0)
    }

    /// When the next beat is due while a master must stay unfenced (a backup owns no VIP
    /// and sleeps: the kernel follows its master).
    pub fn next_beat(&self) -> Option<MonoTime> {
        let last = self.last_beat?;
        (self.stale.0 > 0).then(|| last + Micros(self.stale.0 / 4))
    }

    /// Records a heartbeat sent at `now`; the fence time in ns, for the program.
    pub fn beat(&mut self, now: MonoTime) -> u64 {
        self.last_beat = Some(now);
        self.stale.0 * 1_000
    }

    /// How long past the fence time the engine has been away, when it has: no heartbeat for
    /// longer than the fence time means the kernel has fenced the VIPs meanwhile.
    pub fn overslept(&self, now: MonoTime) -> Option<Micros> {
        let since = now.saturating_since(self.last_beat?);
        (self.stale.0 > 0 && since.0 > self.stale.0).then_some(since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(ints: &[u32]) -> impl Iterator<Item = Centis> + '_ {
        ints.iter().map(|&c| Centis(c))
    }

    #[test]
    fn the_fence_time_is_adverts_times_the_shortest_interval() {
        let mut f = FenceClock::new(3);
        f.replan(plan(&[100, 5, 20]));
        assert_eq!(f.stale(), Micros(150_000));
        let mut two = FenceClock::new(DEFAULT_FENCE_ADVERTS);
        two.replan(plan(&[100]));
        assert_eq!(two.stale(), Micros(2_000_000));
        f.replan(plan(&[]));
        assert_eq!(f.stale(), Micros(0));
        assert!(!f.due(MonoTime(0)), "off: nothing to write");
        let mut off = FenceClock::new(0);
        off.replan(plan(&[100]));
        assert_eq!(off.stale(), Micros(0));
    }

    #[test]
    fn beats_every_quarter_and_oversleeping_is_seen() {
        let mut f = FenceClock::new(3);
        f.replan(plan(&[100]));
        let t0 = MonoTime(10_000_000);
        assert!(f.due(t0));
        assert_eq!(f.beat(t0), 3_000_000_000);
        assert!(!f.due(t0 + Micros(700_000)));
        assert!(f.due(t0 + Micros(750_000)));
        assert_eq!(f.next_beat(), Some(t0 + Micros(750_000)));
        assert_eq!(f.overslept(t0 + Micros(3_000_000)), None);
        assert_eq!(f.overslept(t0 + Micros(3_000_001)), Some(Micros(3_000_001)));
    }
}
