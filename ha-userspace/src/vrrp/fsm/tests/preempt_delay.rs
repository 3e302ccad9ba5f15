//! keepalived's `preempt_delay` (vrrp.c `vrrp_state_backup`): while the delay runs, a
//! backup obeys a lower-priority master as if it had `nopreempt`; once it has passed, the
//! next lower-priority advert is discarded and the Master_Down_Timer runs out.
//! The delay starts at startup, and again at the first lower-priority advert after it was
//! stopped (by a higher or equal master, by leaving Master or Fault).

use super::*;

const DELAY: u64 = 5_000_000;

fn delayed(priority: u8) -> InstanceConfig {
    let mut c = cfg(priority);
    c.preempt_delay = Micros(DELAY);
    c
}

#[test]
fn keepalived_preempt_delay_holds_off_preemption_after_startup() {
    let mut i = started(delayed(200));
    // Adverts from a lower-priority master every second: obeyed until 5 s after startup.
    for k in 1..=4u64 {
        i.handle(t(k * 1_000_000), advert(LOW_PEER, 100));
        assert_eq!(i.poll_timeout(), Some(t(k * 1_000_000 + MDI_200)));
    }
    // At 5 s the delay has passed (keepalived: preempt_time > now is false): discarded.
    i.handle(t(5_000_000), advert(LOW_PEER, 100));
    i.handle(t(6_000_000), advert(LOW_PEER, 100));
    assert_eq!(i.poll_timeout(), Some(t(4_000_000 + MDI_200)));
    i.handle(t(4_000_000 + MDI_200), Input::Timeout);
    assert_eq!(
        drain(&mut i),
        become_master(200, State::Backup, Reason::Preempted)
    );
}

// No master at all: the delay does not slow the ordinary timeout.
#[test]
fn keepalived_preempt_delay_does_not_delay_master_down() {
    let mut i = started(delayed(200));
    assert_eq!(i.poll_timeout(), Some(t(MDI_200)));
    i.handle(t(MDI_200), Input::Timeout);
    assert_eq!(i.state(), State::Master);
}

// A higher-priority master stops the delay; the first lower-priority advert after it
// starts a fresh one.
#[test]
fn keepalived_preempt_delay_restarts_after_a_higher_priority_master() {
    let mut i = started(delayed(200));
    for k in 1..=7u64 {
        i.handle(t(k * 1_000_000), advert(HIGH_PEER, 250));
    }
    // The higher master leaves; a lower one takes over at 8 s. Its adverts are obeyed
    // until 8 s + 5 s.
    for k in 8..=12u64 {
        i.handle(t(k * 1_000_000), advert(LOW_PEER, 100));
        assert_eq!(i.poll_timeout(), Some(t(k * 1_000_000 + MDI_200)));
    }
    i.handle(t(13_000_000), advert(LOW_PEER, 100));
    assert_eq!(i.poll_timeout(), Some(t(12_000_000 + MDI_200)));
}

// keepalived `vrrp_state_leave_fault`: back from FAULT the delay is stopped, so it starts
// at the first lower-priority advert heard.
#[test]
fn keepalived_preempt_delay_starts_at_first_lower_advert_after_fault() {
    let mut i = started(delayed(200));
    i.handle(t(10_000_000), Input::Fault);
    i.handle(t(20_000_000), Input::Recovered);
    assert_eq!(i.state(), State::Backup);
    // Long after startup + delay, yet the first lower advert is obeyed and starts the delay.
    for k in 21..=25u64 {
        i.handle(t(k * 1_000_000), advert(LOW_PEER, 100));
        assert_eq!(i.poll_timeout(), Some(t(k * 1_000_000 + MDI_200)));
    }
    i.handle(t(26_000_000), advert(LOW_PEER, 100));
    assert_eq!(i.poll_timeout(), Some(t(25_000_000 + MDI_200)));
}
