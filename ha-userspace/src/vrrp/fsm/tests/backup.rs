//! RFC 5798 §6.4.2 Backup.

use super::*;

#[test]
fn rfc5798_6_4_2_backup_becomes_master_after_master_down_interval() {
    let mut i = started(cfg(100));
    assert_eq!(i.poll_timeout(), Some(t(MDI_100)));
    // One microsecond early: nothing.
    i.handle(t(MDI_100 - 1), Input::Timeout);
    assert_eq!(drain(&mut i), vec![]);
    assert_eq!(i.state(), State::Backup);
    // On the dot: send an advert, add VIPs, announce them, → Master.
    i.handle(t(MDI_100), Input::Timeout);
    assert_eq!(
        drain(&mut i),
        become_master(100, State::Backup, Reason::MasterDown)
    );
    // §6.4.2: Adver_Timer = Advertisement_Interval.
    assert_eq!(i.poll_timeout(), Some(t(MDI_100 + 1_000_000)));
}

#[test]
fn rfc5798_6_4_2_advert_resets_master_down_timer() {
    let mut i = started(cfg(100));
    for k in 1..=5u64 {
        let now = k * 1_000_000;
        i.handle(t(now), advert(HIGH_PEER, 200));
        assert_eq!(drain(&mut i), vec![]);
        assert_eq!(i.poll_timeout(), Some(t(now + MDI_100)));
    }
    assert_eq!(i.state(), State::Backup);
    let m = i.master().expect("master known");
    assert_eq!((m.addr, m.priority), (HIGH_PEER, Priority(200)));
    // The master goes silent: take over Master_Down_Interval after its last advert.
    i.handle(t(5_000_000 + MDI_100), Input::Timeout);
    assert_eq!(i.state(), State::Master);
}

// §6.4.2: Master_Adver_Interval = the advert's interval; Master_Down_Interval recomputed.
#[test]
fn rfc5798_6_4_2_v3_backup_learns_master_adver_interval() {
    let mut i = started(cfg(100));
    i.handle(
        t(1_000_000),
        advert_with_interval(HIGH_PEER, 200, Centis(50)),
    );
    assert_eq!(i.master_adver_int(), Centis(50));
    // 3 * 0.5 s + (156 * 50 cs) / 256 = 1.5 s + 304687 µs.
    assert_eq!(us(i.master_down_interval()), 1_804_687);
    assert_eq!(i.poll_timeout(), Some(t(2_804_687)));
}

// RFC 3768 has no Master_Adver_Interval: a v2 backup keeps its own interval (keepalived's
// receive path drops v2 adverts with another interval before they get here).
#[test]
fn rfc3768_6_4_2_v2_backup_keeps_its_advertisement_interval() {
    let mut c = cfg(100);
    c.version = Version::V2;
    let mut i = started(c);
    i.handle(
        t(1_000_000),
        advert_with_interval(HIGH_PEER, 200, Centis(300)),
    );
    assert_eq!(i.master_adver_int(), ONE_SEC);
    assert_eq!(i.poll_timeout(), Some(t(1_000_000 + MDI_100)));
}

// §6.4.2: priority 0 → Master_Down_Timer = Skew_Time: the best backup takes over first.
#[test]
fn rfc5798_6_4_2_priority_zero_sets_timer_to_skew_time() {
    let mut i = backup_hearing(100, 200);
    i.handle(t(1_000_000), advert(HIGH_PEER, 0));
    assert_eq!(drain(&mut i), vec![]);
    assert_eq!(i.poll_timeout(), Some(t(1_000_000 + SKEW_100)));
    i.handle(t(1_000_000 + SKEW_100), Input::Timeout);
    assert_eq!(
        drain(&mut i),
        become_master(100, State::Backup, Reason::MasterStopped)
    );
}

// The skew uses the learned Master_Adver_Interval: 10 ms adverts, priority 100 → 6093 µs.
#[test]
fn rfc5798_6_4_2_priority_zero_skew_follows_master_adver_interval() {
    let mut i = started(cfg(100));
    let fast = |priority| advert_with_interval(HIGH_PEER, priority, Centis(1));
    i.handle(t(100_000), fast(200));
    assert_eq!(i.poll_timeout(), Some(t(100_000 + 36_093)));
    i.handle(t(110_000), fast(0));
    assert_eq!(i.poll_timeout(), Some(t(110_000 + 6_093)));
}

// §6.4.2: Preempt_Mode and a lower priority → discard; the timer keeps running and we
// preempt when it fires, Master_Down_Interval after the last advert we obeyed.
#[test]
fn rfc5798_6_4_2_lower_priority_advert_is_discarded_when_preempting() {
    let mut i = started(cfg(200));
    let deadline = i.poll_timeout().unwrap();
    assert_eq!(deadline, t(MDI_200));
    for k in 1..=3u64 {
        i.handle(t(k * 1_000_000), advert(LOW_PEER, 100));
        assert_eq!(drain(&mut i), vec![]);
        assert_eq!(i.poll_timeout(), Some(deadline));
    }
    assert_eq!(i.master().map(|m| m.addr), Some(LOW_PEER));
    i.handle(deadline, Input::Timeout);
    assert_eq!(
        drain(&mut i),
        become_master(200, State::Backup, Reason::Preempted)
    );
}

// §6.4.2: Preempt_Mode false → any advert resets the timer: we never preempt.
#[test]
fn rfc5798_6_4_2_nopreempt_obeys_a_lower_priority_master() {
    let mut c = cfg(200);
    c.preempt = false;
    let mut i = started(c);
    for k in 1..=10u64 {
        i.handle(t(k * 1_000_000), advert(LOW_PEER, 100));
        assert_eq!(i.poll_timeout(), Some(t(k * 1_000_000 + MDI_200)));
    }
    assert_eq!(drain(&mut i), vec![]);
    assert_eq!(i.state(), State::Backup);
}

// §6.4.2: "greater than or equal to the local Priority" resets the timer. A backup never
// preempts an equal-priority master, whatever the addresses: the tie-break is §6.4.3's.
#[test]
fn rfc5798_6_4_2_equal_priority_master_is_obeyed_even_from_a_lower_address() {
    let mut i = started(cfg(100));
    i.handle(t(1_000_000), advert(LOW_PEER, 100));
    assert_eq!(i.poll_timeout(), Some(t(1_000_000 + MDI_100)));
    assert_eq!(i.state(), State::Backup);
}

// A master that was discarded, then comes back with a priority at least ours, is obeyed.
#[test]
fn rfc5798_6_4_2_discarded_master_raising_priority_is_obeyed_again() {
    let mut i = started(cfg(150));
    i.handle(t(1_000_000), advert(LOW_PEER, 100));
    let deadline = i.poll_timeout().unwrap();
    i.handle(t(2_000_000), advert(LOW_PEER, 150));
    assert!(i.poll_timeout().unwrap() > deadline);
    assert_eq!(
        i.poll_timeout(),
        Some(t(2_000_000) + i.master_down_interval())
    );
}

// Timeout without a deadline (or twice) changes nothing.
#[test]
fn rfc5798_6_4_2_spurious_timeouts_are_ignored() {
    let mut i = started(cfg(100));
    i.handle(t(10), Input::Timeout);
    i.handle(t(MDI_100 - 1), Input::Timeout);
    assert_eq!(drain(&mut i), vec![]);
    assert_eq!(i.poll_timeout(), Some(t(MDI_100)));
}
