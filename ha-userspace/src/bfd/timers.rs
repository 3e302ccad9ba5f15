//! The RFC 5880 timer formulas in one place, in microseconds.

use crate::units::Micros;

/// RFC 5880 §6.8.3: while the session is not Up, bfd.DesiredMinTxInterval MUST be at least
/// one second.
pub const SLOW_TX: Micros = Micros(1_000_000);

/// RFC 5880 §6.8.4, Asynchronous mode: the remote's Detect Mult times the larger of our
/// bfd.RequiredMinRxInterval and the remote's last Desired Min TX Interval.
pub fn detection_time(remote_mult: u8, local_min_rx: Micros, remote_desired_tx: Micros) -> Micros {
    Micros(u64::from(remote_mult) * local_min_rx.0.max(remote_desired_tx.0))
}

/// RFC 5880 §6.8.7: the larger of our bfd.DesiredMinTxInterval and the remote's
/// bfd.RemoteMinRxInterval.
pub fn tx_interval(desired_min_tx: Micros, remote_min_rx: Micros) -> Micros {
    Micros(desired_min_tx.0.max(remote_min_rx.0))
}

/// RFC 5880 §6.8.7: each interval is reduced by a random 0–25 %, or to 75–90 % when the
/// local Detect Mult is 1, so sessions do not synchronise. `r` is uniform in `0..=u32::MAX`.
pub fn jittered(interval: Micros, detect_mult: u8, r: u32) -> Micros {
    let (lo, hi): (u64, u64) = if detect_mult == 1 {
        (75, 90)
    } else {
        (75, 100)
    };
    // lo % + r/2^32 × (hi - lo) %, in parts per 10,000 to keep µs precision.
    let span = (hi - lo) * 100;
    let per_10k = lo * 100 + ((u64::from(r) * span) >> 32);
    Micros(interval.0 * per_10k / 10_000)
}

/// A small deterministic generator for the jitter (xorshift64*): the session core stays
/// free of I/O and its tests reproducible; the daemon seeds it from the OS.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Jitter {
        Jitter(seed | 1)
    }

    pub fn draw(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_uses_the_larger_interval() {
        assert_eq!(detection_time(3, Micros(300), Micros(1_000)), Micros(3_000));
        assert_eq!(detection_time(3, Micros(1_000), Micros(300)), Micros(3_000));
        assert_eq!(
            detection_time(5, Micros(10_000), SLOW_TX),
            Micros(5_000_000)
        );
    }

    #[test]
    fn jitter_stays_in_the_rfc_window() {
        let mut j = Jitter::new(42);
        for _ in 0..10_000 {
            let v = jittered(Micros(1_000), 3, j.draw()).0;
            assert!((750..=1_000).contains(&v), "{v}");
            let v = jittered(Micros(1_000), 1, j.draw()).0;
            assert!((750..=900).contains(&v), "{v}");
        }
        assert_eq!(jittered(Micros(1_000), 3, 0), Micros(750));
        assert_eq!(jittered(Micros(1_000), 3, u32::MAX), Micros(999));
    }

    #[test]
    fn tx_interval_is_the_slower_of_both_ends() {
        assert_eq!(tx_interval(Micros(300), Micros(1_000)), Micros(1_000));
        assert_eq!(tx_interval(SLOW_TX, Micros(1)), SLOW_TX);
    }
}
