//! keepalived's rise/fall counting, pure: a check's state flips only after `rise`
//! successes or `fall` failures in a row (`vrrp_script`; the checkers use it too).

/// The rise/fall counter of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiseFall {
    pub ok: bool,
    run: u32,
    rise: u32,
    fall: u32,
}

impl RiseFall {
    pub fn new(init_ok: bool, rise: u32, fall: u32) -> Self {
        RiseFall {
            ok: init_ok,
            run: 0,
            rise: rise.max(1),
            fall: fall.max(1),
        }
    }

    /// Records one result; returns the new state when it changed.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        if success == self.ok {
            self.run = 0;
            return None;
        }
        self.run += 1;
        let need = if success { self.rise } else { self.fall };
        if self.run >= need {
            self.ok = success;
            self.run = 0;
            Some(success)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_and_fall_need_consecutive_results() {
        let mut rf = RiseFall::new(true, 2, 3);
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(true), None, "a success resets the fall count");
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(false), Some(false));
        assert_eq!(rf.record(true), None);
        assert_eq!(rf.record(true), Some(true));
    }

    #[test]
    fn init_fail_starts_failed() {
        let mut rf = RiseFall::new(false, 1, 1);
        assert!(!rf.ok);
        assert_eq!(rf.record(true), Some(true));
    }
}
