//! RFC 5798 §6.4.3 Master, and keepalived's answers to other routers' adverts.

use super::*;

#[test]
fn rfc5798_6_4_3_adver_timer_sends_an_advert_every_interval() {
    let (mut i, at) = master(cfg(100));
    for k in 1..=5u64 {
        let due = at + Micros(k * 1_000_000);
        assert_eq!(i.poll_timeout(), Some(due));
        i.handle(due.saturating_sub(Micros(1)), Input::Timeout);
        assert_eq!(drain(&mut i), vec![]);
        i.handle(due, Input::Timeout);
        assert_eq!(drain(&mut i), vec![send(100)]);
    }
    assert_eq!(i.state(), State::Master);
    assert_eq!(i.master().map(|m| m.addr), Some(ME));
}

// §6.4.3: priority 0 → send an advert at once and reset the Adver_Timer.
#[test]
fn rfc5798_6_4_3_priority_zero_advert_is_answered_and_timer_reset() {
    let (mut i, at) = master(cfg(100));
    let now = at + Micros(300_000);
    i.handle(now, advert(HIGH_PEER, 0));
    assert_eq!(drain(&mut i), vec![send(100)]);
    assert_eq!(i.poll_timeout(), Some(now + Micros(1_000_000)));
    assert_eq!(i.state(), State::Master);
}

// §6.4.3: a higher priority → cancel the Adver_Timer, arm Master_Down_Timer, → Backup,
// VIPs removed (no priority-0 advert: we are not leaving, we lost).
#[test]
fn rfc5798_6_4_3_higher_priority_advert_makes_master_backup() {
    let (mut i, at) = master(cfg(100));
    let now = at + Micros(200_000);
    i.handle(now, advert_with_interval(LOW_PEER, 101, Centis(50)));
    assert_eq!(
        drain(&mut i),
        vec![
            Action::RemoveVips,
            transition(State::Master, State::Backup, Reason::HigherPriorityAdvert),
        ]
    );
    // v3: Master_Adver_Interval from the advert: 1.5 s + 304687 µs.
    assert_eq!(i.master_adver_int(), Centis(50));
    assert_eq!(i.poll_timeout(), Some(now + Micros(1_804_687)));
    assert_eq!(
        i.master().map(|m| (m.addr, m.priority)),
        Some((LOW_PEER, Priority(101)))
    );
}

// §6.4.3: equal priority and a higher primary address → Backup.
#[test]
fn rfc5798_6_4_3_equal_priority_higher_address_wins_the_tie() {
    let (mut i, at) = master(cfg(100));
    i.handle(at + Micros(1), advert(HIGH_PEER, 100));
    assert_eq!(
        drain(&mut i),
        vec![
            Action::RemoveVips,
            transition(State::Master, State::Backup, Reason::HigherPriorityAdvert),
        ]
    );
    assert_eq!(i.poll_timeout(), Some(at + Micros(1 + MDI_100)));
}

// Equal priority from a lower address: we stay master and (keepalived) answer.
#[test]
fn rfc5798_6_4_3_equal_priority_lower_address_loses_the_tie() {
    let (mut i, at) = master(cfg(100));
    i.handle(at + Micros(5), advert(LOW_PEER, 100));
    assert_eq!(
        drain(&mut i),
        vec![
            send(100),
            Action::LowerPriorityAdvert {
                src: LOW_PEER,
                priority: Priority(100)
            }
        ]
    );
    assert_eq!(i.state(), State::Master);
}

// The tie-break compares IPv6 addresses too.
#[test]
fn rfc5798_6_4_3_equal_priority_tie_on_ipv6_addresses() {
    let me: IpAddr = "fe80::20".parse().unwrap();
    let higher: IpAddr = "fe80::30".parse().unwrap();
    let (mut i, at) = master(InstanceConfig::new(
        Vrid(1),
        Priority(100),
        ONE_SEC,
        Version::V3,
        me,
    ));
    i.handle(at + Micros(1), advert(higher, 100));
    assert_eq!(i.state(), State::Backup);
}

// §6.4.3 says discard a lower priority; keepalived (lower_prio_no_advert off, its default)
// answers with an advert at once so the other router stops believing it is master, resets
// the Adver_Timer, and reports it (notify_master_rx_lower_pri, garp_lower_prio_repeat).
#[test]
fn keepalived_master_answers_a_lower_priority_advert() {
    let (mut i, at) = master(cfg(200));
    let now = at + Micros(400_000);
    i.handle(now, advert(LOW_PEER, 100));
    assert_eq!(
        drain(&mut i),
        vec![
            send(200),
            Action::LowerPriorityAdvert {
                src: LOW_PEER,
                priority: Priority(100)
            }
        ]
    );
    assert_eq!(i.poll_timeout(), Some(now + Micros(1_000_000)));
}

// lower_prio_no_advert (strict mode): the RFC's discard; the Adver_Timer is untouched.
#[test]
fn rfc5798_6_4_3_lower_prio_no_advert_discards_silently() {
    let mut c = cfg(200);
    c.lower_prio_no_advert = true;
    let (mut i, at) = master(c);
    i.handle(at + Micros(400_000), advert(LOW_PEER, 100));
    assert_eq!(
        drain(&mut i),
        vec![Action::LowerPriorityAdvert {
            src: LOW_PEER,
            priority: Priority(100)
        }]
    );
    assert_eq!(i.poll_timeout(), Some(at + Micros(1_000_000)));
}

// keepalived higher_prio_send_advert: one advert with our (lower) priority, then yield.
#[test]
fn keepalived_higher_prio_send_advert_sends_before_yielding() {
    let mut c = cfg(100);
    c.higher_prio_send_advert = true;
    let (mut i, at) = master(c);
    i.handle(at + Micros(1), advert(HIGH_PEER, 200));
    assert_eq!(
        drain(&mut i),
        vec![
            send(100),
            Action::RemoveVips,
            transition(State::Master, State::Backup, Reason::HigherPriorityAdvert),
        ]
    );
}

// keepalived: two owners → configuration error; ours drops to 254 and the other wins.
#[test]
fn keepalived_owner_conflict_lowers_our_priority() {
    let mut i = instance(cfg(255));
    i.handle(t(0), Input::Startup);
    drain(&mut i);
    i.handle(t(10), advert(LOW_PEER, 255));
    assert_eq!(
        drain(&mut i),
        vec![
            Action::OwnerConflict { src: LOW_PEER },
            Action::RemoveVips,
            transition(State::Master, State::Backup, Reason::HigherPriorityAdvert),
        ]
    );
    assert_eq!(i.priority(), Priority(254));
    assert!(!i.is_owner());
}

// Our own advert looped back (same address, same priority) changes nothing.
#[test]
fn rfc5798_6_4_3_own_advert_looped_back_is_ignored() {
    let (mut i, at) = master(cfg(100));
    i.handle(at + Micros(3), advert(ME, 100));
    assert_eq!(drain(&mut i), vec![]);
    assert_eq!(i.state(), State::Master);
}

// After losing, a master that wins again advertises its own interval, not the learned one.
#[test]
fn rfc5798_6_4_3_new_master_uses_its_own_advertisement_interval() {
    let (mut i, at) = master(cfg(100));
    let slow = advert_with_interval(HIGH_PEER, 200, Centis(300));
    i.handle(at + Micros(1), slow);
    assert_eq!(i.master_adver_int(), Centis(300));
    let down = i.poll_timeout().unwrap();
    i.handle(down, Input::Timeout);
    assert_eq!(i.state(), State::Master);
    assert_eq!(i.master_adver_int(), ONE_SEC);
    assert_eq!(i.poll_timeout(), Some(down + Micros(1_000_000)));
}
