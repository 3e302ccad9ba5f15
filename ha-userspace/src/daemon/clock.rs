//! The engine's clocks. The state machine runs on CLOCK_MONOTONIC in microseconds; kernel
//! receive stamps (`SO_TIMESTAMPNS`) come on CLOCK_REALTIME and are moved onto it here.

use crate::time::MonoTime;

fn now_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer; both clocks always exist on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn mono_now() -> MonoTime {
    MonoTime(now_ns(libc::CLOCK_MONOTONIC) / 1_000)
}

/// When a packet stamped `stamp_realtime_ns` arrived, on the monotonic clock. The stamp is
/// never put in the future or more than a second in the past (a clock step in between).
pub fn rx_time(stamp_realtime_ns: Option<u64>) -> MonoTime {
    let mono = mono_now();
    let Some(stamp) = stamp_realtime_ns else {
        return mono;
    };
    let age_us = now_ns(libc::CLOCK_REALTIME).saturating_sub(stamp) / 1_000;
    if age_us > 1_000_000 {
        return mono;
    }
    MonoTime(mono.0.saturating_sub(age_us))
}

/// Seconds since the Unix epoch, for status output.
pub fn unix_secs() -> u64 {
    now_ns(libc::CLOCK_REALTIME) / 1_000_000_000
}

/// Elapsed time since it started, for the step timings `ha status` shows (instrumentation
/// only: the state machines never see it).
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(MonoTime);

impl Stopwatch {
    pub fn start() -> Stopwatch {
        Stopwatch(mono_now())
    }

    pub fn elapsed_us(&self) -> u64 {
        mono_now().saturating_since(self.0).0
    }
}
