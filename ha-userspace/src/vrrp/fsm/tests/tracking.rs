//! Effective priority from tracking (keepalived `vrrp_set_effective_priority`).

use super::*;

// A master advertises its new priority from the next advert on; no extra advert.
#[test]
fn tracking_master_advertises_the_new_priority() {
    let (mut i, at) = master(cfg(200));
    i.handle(at + Micros(1), Input::PriorityChange(Priority(90)));
    assert_eq!(drain(&mut i), vec![]);
    assert_eq!(i.priority(), Priority(90));
    assert_eq!(i.state(), State::Master);
    i.handle(at + Micros(1_000_000), Input::Timeout);
    assert_eq!(drain(&mut i), vec![send(90)]);
}

// Effective priority is clamped to 1..=254: tracking can neither stop nor own.
#[test]
fn tracking_priority_is_clamped_to_1_through_254() {
    let mut i = started(cfg(100));
    i.handle(t(1), Input::PriorityChange(Priority(0)));
    assert_eq!(i.priority(), Priority(1));
    i.handle(t(2), Input::PriorityChange(Priority(255)));
    assert_eq!(i.priority(), Priority(254));
}

// The owner's priority never moves.
#[test]
fn tracking_never_changes_the_owner_priority() {
    let mut i = instance(cfg(255));
    i.handle(t(0), Input::Startup);
    i.handle(t(1), Input::PriorityChange(Priority(50)));
    assert_eq!(i.priority(), Priority(255));
}

// RFC 5798 §6.4.2 with a risen priority: the master's adverts are now lower, so they are
// discarded and we preempt when the Master_Down_Timer runs out. The running timer moves
// earlier by the change in Skew_Time (100 → 200: 609375 - 218750 = 390625 µs).
#[test]
fn tracking_backup_whose_priority_rises_preempts() {
    let mut i = backup_hearing(100, 150);
    assert_eq!(i.poll_timeout(), Some(t(500_000 + MDI_100)));
    i.handle(t(600_000), Input::PriorityChange(Priority(200)));
    assert_eq!(i.poll_timeout(), Some(t(500_000 + MDI_200)));
    i.handle(t(1_500_000), advert(LOW_PEER, 150));
    assert_eq!(i.poll_timeout(), Some(t(500_000 + MDI_200)));
    i.handle(t(500_000 + MDI_200), Input::Timeout);
    assert_eq!(
        drain(&mut i),
        become_master(200, State::Backup, Reason::Preempted)
    );
}

// With nopreempt a risen priority changes nothing but the skew.
#[test]
fn tracking_backup_with_nopreempt_keeps_obeying() {
    let mut c = cfg(100);
    c.preempt = false;
    let mut i = started(c);
    i.handle(t(500_000), advert(LOW_PEER, 150));
    i.handle(t(600_000), Input::PriorityChange(Priority(200)));
    i.handle(t(1_500_000), advert(LOW_PEER, 150));
    assert_eq!(i.poll_timeout(), Some(t(1_500_000 + MDI_200)));
}

// A falling priority does not move a running timer (keepalived only requeues on a rise);
// the next advert arms the longer interval.
#[test]
fn tracking_backup_whose_priority_falls_waits_longer_from_the_next_advert() {
    let mut i = backup_hearing(200, 250);
    i.handle(t(600_000), Input::PriorityChange(Priority(100)));
    assert_eq!(i.poll_timeout(), Some(t(500_000 + MDI_200)));
    i.handle(t(1_500_000), advert(LOW_PEER, 250));
    assert_eq!(i.poll_timeout(), Some(t(1_500_000 + MDI_100)));
}
