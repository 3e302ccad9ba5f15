//! keepalived's tracking arithmetic, pure: how tracked interfaces and scripts move an
//! instance's priority or put it in FAULT (`vrrp_set_effective_priority`, vrrp_track.c).
//!
//! - weight 0: the object being down means FAULT;
//! - weight > 0: added while the object is up;
//! - weight < 0: added while the object is down;
//! - `reverse` swaps up and down first.
//!
//! The result is clamped to 1..=254 (the owner, 255, is never changed).

use crate::vrrp::fsm::PRIORITY_OWNER;

/// The tracked objects whose state comes from outside the engine (the main thread watches
/// them and sends changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjKind {
    /// `vrrp_script`: 1 while succeeding, 0 while failing.
    Script,
    /// `vrrp_track_process`: 1 while the quorum is met.
    Process,
    /// `track_file`: the number in the file.
    File,
}

/// Known states of tracked objects, by kind and name.
pub type Objects = std::collections::BTreeMap<(ObjKind, String), i64>;

/// What one tracked object does to its instance right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Fault,
    Delta(i32),
}

pub fn effect(up: bool, weight: i32, reverse: bool) -> Effect {
    let up = up ^ reverse;
    match weight {
        0 if !up => Effect::Fault,
        w if w > 0 && up => Effect::Delta(w),
        w if w < 0 && !up => Effect::Delta(w),
        _ => Effect::Delta(0),
    }
}

/// keepalived's `track_file`: with weight 0 a non-zero value is a failure; otherwise
/// value × weight (negated by `reverse`) is added, and below -253 it is a failure.
pub fn file_effect(value: i64, weight: i32, reverse: bool) -> Effect {
    if weight == 0 {
        return if (value != 0) ^ reverse {
            Effect::Fault
        } else {
            Effect::Delta(0)
        };
    }
    let sign = if reverse { -1 } else { 1 };
    let r = value.saturating_mul(i64::from(weight)).saturating_mul(sign);
    if r < -253 {
        Effect::Fault
    } else {
        Effect::Delta(r.min(253) as i32)
    }
}

/// The effective priority and whether the instance must be in FAULT.
pub fn effective(base: u8, effects: impl IntoIterator<Item = Effect>) -> (u8, bool) {
    let mut sum = 0i32;
    let mut fault = false;
    for e in effects {
        match e {
            Effect::Fault => fault = true,
            Effect::Delta(d) => sum += d,
        }
    }
    if base == PRIORITY_OWNER {
        return (base, fault);
    }
    let p = (i32::from(base) + sum).clamp(1, i32::from(PRIORITY_OWNER) - 1);
    (p as u8, fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_keepalived() {
        assert_eq!(effect(false, 0, false), Effect::Fault);
        assert_eq!(effect(true, 0, false), Effect::Delta(0));
        assert_eq!(
            effect(true, 0, true),
            Effect::Fault,
            "reverse: up means fault"
        );
        assert_eq!(effect(true, 10, false), Effect::Delta(10));
        assert_eq!(effect(false, 10, false), Effect::Delta(0));
        assert_eq!(effect(false, -20, false), Effect::Delta(-20));
        assert_eq!(effect(true, -20, false), Effect::Delta(0));
        assert_eq!(effect(true, -20, true), Effect::Delta(-20));
    }

    #[test]
    fn track_file_values() {
        assert_eq!(file_effect(0, 0, false), Effect::Delta(0));
        assert_eq!(file_effect(3, 0, false), Effect::Fault);
        assert_eq!(file_effect(0, 0, true), Effect::Fault);
        assert_eq!(file_effect(-10, 5, false), Effect::Delta(-50));
        assert_eq!(file_effect(10, 5, true), Effect::Delta(-50));
        assert_eq!(file_effect(-100, 5, false), Effect::Fault, "below -253");
        assert_eq!(file_effect(100, 5, false), Effect::Delta(253));
    }

    #[test]
    fn clamped_to_1_254_and_owner_fixed() {
        assert_eq!(effective(100, [Effect::Delta(-20)]), (80, false));
        assert_eq!(effective(100, [Effect::Delta(-200)]), (1, false));
        assert_eq!(effective(250, [Effect::Delta(10)]), (254, false));
        assert_eq!(effective(255, [Effect::Delta(-50)]), (255, false));
        assert_eq!(
            effective(100, [Effect::Delta(5), Effect::Fault]),
            (105, true)
        );
    }
}
