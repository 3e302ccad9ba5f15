//! VRRP timer arithmetic in one place: Skew_Time and Master_Down_Interval (RFC 5798 §6.1,
//! RFC 3768 §6.1), and the clock type the state machine is driven with.
//!
//! Units. Intervals that travel on the wire or come from the config are [`Centis`] (the
//! 12-bit Max Adver Int field of RFC 5798 §5.2.7 counts centiseconds). Timer *durations*
//! derived from them, and the clock itself, are microseconds ([`Micros`], [`crate::time::MonoTime`]):
//! keepalived 2.2.7 computes Skew_Time in microseconds (`VRRP_TIMER_SKEW` in `vrrp.h`), and
//! its fractional centiseconds matter. At `advert_int 0.01`, priority 100, keepalived's skew
//! is 6.093 ms where RFC 5798's integer-centisecond formula gives 0 ms; a 6 ms difference in
//! who times out first is exactly what decides a mixed `ha`/keepalived election, and the
//! issue's failover targets (within 1 ms of a 36.1 ms bound) need sub-centisecond deadlines.
//! So the timers the FSM arms use [`skew_time`] / [`master_down_interval`] (keepalived's
//! arithmetic); the RFC's literal centisecond formulas are kept beside them
//! ([`rfc5798_skew_time`], [`rfc5798_master_down_interval`]) with tests showing where the two
//! differ.

use crate::units::{Centis, Micros, Priority};

/// The VRRP protocol version (one type for the wire and the timers).
pub use super::packet::Version;

/// Microseconds per centisecond.
const US_PER_CENTI: u64 = 10_000;
/// Microseconds per second: RFC 3768's Skew_Time is a fraction of one second.
const US_PER_SEC: u64 = 1_000_000;
/// RFC 5798 §6.1 / RFC 3768 §6.1: the priority in Skew_Time is subtracted from 256.
const SKEW_BASE: u64 = 256;

/// The RFC's Master_Down_Interval counts this many advert intervals (keepalived's
/// `down_timer_adverts` default).
pub const DEFAULT_DOWN_TIMER_ADVERTS: u8 = 3;

pub const fn centis_to_micros(c: Centis) -> Micros {
    Micros(c.0 as u64 * US_PER_CENTI)
}

/// Skew_Time as the timers use it, in microseconds, computed exactly as keepalived 2.2.7
/// does (`VRRP_TIMER_SKEW`, with `effective_priority` and `master_adver_int`):
///
/// - VRRPv3 (RFC 5798 §6.1): `((256 - Priority) * Master_Adver_Interval) / 256`.
///   keepalived evaluates it in µs as `((256 - p) * centis * 625) / 16` (625/16 = 10000/256),
///   truncating once at the end; the RFC truncates to whole centiseconds. We follow keepalived.
/// - VRRPv2 (RFC 3768 §6.1): `(256 - Priority) / 256` seconds, independent of the advert
///   interval; keepalived: `(256 - p) * 1000000 / 256` µs, truncated.
pub const fn skew_time(version: Version, priority: Priority, master_adver_int: Centis) -> Micros {
    skew_for_weight(version, SKEW_BASE - priority.0 as u64, master_adver_int)
}

/// The smallest skew, `(256 - 255)`'s: keepalived arms `Master_Adver_Interval + this` for an
/// instance configured `state MASTER` without being the address owner (`VRRP_TIMER_SKEW_MIN`,
/// `vrrp_init_state`), so it claims mastership after about one advert interval if no one
/// speaks.
pub const fn skew_time_min(version: Version, master_adver_int: Centis) -> Micros {
    skew_for_weight(version, 1, master_adver_int)
}

const fn skew_for_weight(version: Version, weight: u64, master_adver_int: Centis) -> Micros {
    match version {
        Version::V3 => Micros(weight * master_adver_int.0 as u64 * US_PER_CENTI / SKEW_BASE),
        Version::V2 => Micros(weight * US_PER_SEC / SKEW_BASE),
    }
}

/// Master_Down_Interval as the timers use it (RFC 5798 §6.1 / RFC 3768 §6.1):
/// `down_timer_adverts * Master_Adver_Interval + Skew_Time`, in microseconds.
///
/// `down_timer_adverts` is 3 in the RFCs; keepalived lets it be configured 1..=100
/// (`VRRP_MS_DOWN_TIMER`). For VRRPv2 pass the configured advert interval: RFC 3768 has no
/// Master_Adver_Interval, the interval is fixed per virtual router.
pub const fn master_down_interval(
    version: Version,
    priority: Priority,
    master_adver_int: Centis,
    down_timer_adverts: u8,
) -> Micros {
    let adverts = down_timer_adverts as u64 * centis_to_micros(master_adver_int).0;
    Micros(adverts + skew_time(version, priority, master_adver_int).0)
}

/// RFC 5798 §6.1 Skew_Time exactly as written, in whole centiseconds (truncated).
/// Not used for timers (see the module comment); kept to document the difference.
pub const fn rfc5798_skew_time(priority: Priority, master_adver_int: Centis) -> Centis {
    Centis(((SKEW_BASE - priority.0 as u64) * master_adver_int.0 as u64 / SKEW_BASE) as u32)
}

/// RFC 5798 §6.1 Master_Down_Interval exactly as written, in whole centiseconds.
pub const fn rfc5798_master_down_interval(priority: Priority, master_adver_int: Centis) -> Centis {
    Centis(3 * master_adver_int.0 + rfc5798_skew_time(priority, master_adver_int).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE_SEC: Centis = Centis(100);
    const TEN_MS: Centis = Centis(1);

    // RFC 5798 §6.1: priority 100 at 1 s: (156 * 100) / 256 = 60.9375 cs.
    #[test]
    fn rfc5798_6_1_skew_priority_100_at_1s() {
        assert_eq!(
            skew_time(Version::V3, Priority(100), ONE_SEC),
            Micros(609_375)
        );
        assert_eq!(rfc5798_skew_time(Priority(100), ONE_SEC), Centis(60));
        assert_eq!(
            master_down_interval(Version::V3, Priority(100), ONE_SEC, 3),
            Micros(3_609_375)
        );
        assert_eq!(
            rfc5798_master_down_interval(Priority(100), ONE_SEC),
            Centis(360)
        );
    }

    // The bounds: advert_int 0.01, priority 100 -> skew 6.09 ms, MDI 36.09 ms.
    // The RFC's integer-centisecond skew would be 0 here; keepalived's is 6093 µs.
    #[test]
    fn rfc5798_6_1_skew_priority_100_at_10ms_matches_keepalived_not_integer_centis() {
        assert_eq!(skew_time(Version::V3, Priority(100), TEN_MS), Micros(6_093));
        assert_eq!(rfc5798_skew_time(Priority(100), TEN_MS), Centis(0));
        assert_eq!(
            master_down_interval(Version::V3, Priority(100), TEN_MS, 3),
            Micros(36_093)
        );
        assert_eq!(
            rfc5798_master_down_interval(Priority(100), TEN_MS),
            Centis(3)
        );
    }

    // Priority 254 at 0.01 s: (2 * 1) / 256 cs = 78.125 µs -> 78 µs.
    #[test]
    fn rfc5798_6_1_skew_priority_254_at_10ms() {
        assert_eq!(skew_time(Version::V3, Priority(254), TEN_MS), Micros(78));
        assert_eq!(
            master_down_interval(Version::V3, Priority(254), TEN_MS, 3),
            Micros(30_078)
        );
        assert_eq!(
            rfc5798_master_down_interval(Priority(254), TEN_MS),
            Centis(3)
        );
    }

    // The owner's skew is the smallest: (1 * 4095 cs) / 256 = 159960.9 µs at the largest
    // VRRPv3 interval (40.95 s), and the largest product still fits keepalived's u32.
    #[test]
    fn rfc5798_6_1_skew_priority_255_at_max_interval() {
        assert_eq!(
            skew_time(Version::V3, Priority(255), Centis(4095)),
            Micros(159_960)
        );
        assert_eq!(rfc5798_skew_time(Priority(255), Centis(4095)), Centis(15));
        assert_eq!(
            skew_time(Version::V3, Priority(1), Centis(4095)),
            Micros(40_790_039)
        );
    }

    // The skew falls as priority rises, so the best backup times out first.
    #[test]
    fn rfc5798_6_1_higher_priority_backup_times_out_first() {
        let mdi = |p| master_down_interval(Version::V3, Priority(p), ONE_SEC, 3);
        assert!(mdi(200) < mdi(150));
        assert!(mdi(150) < mdi(100));
        assert!(mdi(254) < mdi(200));
    }

    // RFC 3768 §6.1: Skew_Time = (256 - Priority) / 256 seconds, whatever the interval.
    #[test]
    fn rfc3768_6_1_skew_is_a_fraction_of_a_second() {
        assert_eq!(
            skew_time(Version::V2, Priority(100), ONE_SEC),
            Micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, Priority(100), Centis(500)),
            Micros(609_375)
        );
        assert_eq!(
            skew_time(Version::V2, Priority(1), ONE_SEC),
            Micros(996_093)
        );
        assert_eq!(
            skew_time(Version::V2, Priority(255), ONE_SEC),
            Micros(3_906)
        );
        // Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time: 5 s, priority 100.
        assert_eq!(
            master_down_interval(Version::V2, Priority(100), Centis(500), 3),
            Micros(15_609_375)
        );
    }

    // keepalived's VRRP_TIMER_SKEW_MIN: the skew of priority 255, used after `state MASTER`.
    #[test]
    fn keepalived_skew_min_is_the_owner_skew() {
        assert_eq!(skew_time_min(Version::V3, ONE_SEC), Micros(3_906));
        assert_eq!(
            skew_time_min(Version::V3, ONE_SEC),
            skew_time(Version::V3, Priority(255), ONE_SEC)
        );
        assert_eq!(skew_time_min(Version::V2, ONE_SEC), Micros(3_906));
    }

    // keepalived's down_timer_adverts replaces the RFC's 3.
    #[test]
    fn keepalived_down_timer_adverts_scales_the_interval_not_the_skew() {
        assert_eq!(
            master_down_interval(Version::V3, Priority(100), ONE_SEC, 1),
            Micros(1_609_375)
        );
        assert_eq!(
            master_down_interval(
                Version::V3,
                Priority(100),
                ONE_SEC,
                DEFAULT_DOWN_TIMER_ADVERTS
            ),
            Micros(3_609_375)
        );
    }

    #[test]
    fn centiseconds_in_microseconds() {
        assert_eq!(centis_to_micros(Centis(3)), Micros(30_000));
    }
}
