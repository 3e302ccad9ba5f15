//! A virtual server's quorum (keepalived's `update_quorum_state`): the sum of the weights
//! of the live real servers against `quorum`, with `hysteresis` as a dampener. Quorum is
//! gained at `quorum + hysteresis` and lost below `quorum - hysteresis` (or at a sum of
//! 0). Without quorum a `sorry_server` takes the traffic and the live real servers leave
//! the pool.

/// What changed, with the figures keepalived's messages show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuorumChange {
    pub up: bool,
    pub threshold: i64,
    pub sum: i64,
}

/// The state at start: up when the sum reaches `quorum + hysteresis`.
pub fn initial(sum: i64, quorum: u32, hysteresis: u32) -> bool {
    sum >= i64::from(quorum) + i64::from(hysteresis)
}

/// The new state after the sum changed, if it changes.
pub fn update(up: bool, sum: i64, quorum: u32, hysteresis: u32) -> Option<QuorumChange> {
    let h = i64::from(hysteresis);
    let threshold = i64::from(quorum) + if up { -h } else { h };
    if !up && sum >= threshold {
        Some(QuorumChange {
            up: true,
            threshold,
            sum,
        })
    } else if up && (sum == 0 || sum < threshold) {
        Some(QuorumChange {
            up: false,
            threshold,
            sum,
        })
    } else {
        None
    }
}

/// keepalived's `real_weight`: what the kernel gets from an effective weight that
/// `misc_dynamic` or a track file moved out of range.
pub fn real_weight(effective: i64) -> u32 {
    effective.clamp(0, i64::from(i32::MAX)) as u32
}
