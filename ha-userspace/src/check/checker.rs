//! One checker's decision after each probe: keepalived's checker epilogue (check_tcp.c
//! `tcp_epilog`, the same in every network checker). A checker that is up and fails is
//! retried `retry` times, `delay_before_retry` apart, before it is declared failed; a
//! checker that is down is probed every `delay_loop` and comes back on the first success.
//! The first probe decides at once, whatever the start state (`alpha`): keepalived starts
//! every checker with its retries used up ("one failure is enough initially",
//! check_data.c `validate_check_config`).

use super::model::Timing;
use crate::units::Micros;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckerFsm {
    pub is_up: bool,
    /// A probe result was seen (keepalived's `has_run`).
    pub has_run: bool,
    retry_it: u32,
}

/// What to do after a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The checker's state is now decided: `Some(up)`. It may equal the previous state
    /// (the first probe confirms the start state).
    pub report: Option<bool>,
    /// When to probe next, from now.
    pub next: Micros,
    /// This was the first result.
    pub first: bool,
}

impl CheckerFsm {
    /// `alpha`: start failed. `retry`: the checker's, used up from the start.
    pub fn new(alpha: bool, retry: u32) -> Self {
        CheckerFsm {
            is_up: !alpha,
            has_run: false,
            retry_it: retry,
        }
    }

    /// The state of a checker from the previous config, for one with `retry` now
    /// (keepalived's `migrate_checkers` caps the retries used at the new count).
    pub fn carried(self, retry: u32) -> Self {
        CheckerFsm {
            retry_it: self.retry_it.min(retry),
            ..self
        }
    }

    /// Failed probes in a row not yet counted as a failure.
    pub fn retrying(&self) -> u32 {
        self.retry_it
    }

    /// Feeds one probe result. The caller sets `is_up` from the report (it may have to
    /// tell its real servers first).
    pub fn result(&mut self, ok: bool, t: &Timing) -> Verdict {
        let first = !self.has_run;
        let mut v = Verdict {
            report: None,
            next: t.delay_loop,
            first,
        };
        if ok || ((self.is_up || first) && self.retry_it >= t.retry) {
            self.retry_it = 0;
            if ok && (!self.is_up || first) {
                v.report = Some(true);
            } else if !ok && (self.is_up || first) {
                v.report = Some(false);
            }
        } else if self.is_up {
            v.next = t.delay_before_retry;
            self.retry_it += 1;
        }
        self.has_run = true;
        v
    }
}
