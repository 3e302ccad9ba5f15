//! keepalived's FAULT state, RFC 5798 Shutdown (§6.4.2, §6.4.3) and manual failover.

use super::*;

// keepalived `down_instance` on a master: priority-0 advert, VIPs out, FAULT, no timer.
#[test]
fn keepalived_master_interface_down_enters_fault() {
    let (mut i, at) = master(cfg(100));
    i.handle(at + Micros(10), Input::Fault);
    assert_eq!(
        drain(&mut i),
        vec![
            send(0),
            Action::RemoveVips,
            transition(State::Master, State::Fault, Reason::Fault),
        ]
    );
    assert_eq!(i.poll_timeout(), None);
    assert_eq!(i.master(), None);
}

#[test]
fn keepalived_backup_interface_down_enters_fault() {
    let mut i = backup_hearing(100, 200);
    i.handle(t(600_000), Input::Fault);
    assert_eq!(
        drain(&mut i),
        vec![transition(State::Backup, State::Fault, Reason::Fault)]
    );
    assert_eq!(i.poll_timeout(), None);
}

// keepalived ignores adverts in FAULT; no timer runs, so nothing can fire.
#[test]
fn keepalived_fault_ignores_adverts_timeouts_and_failover() {
    let mut i = started(cfg(100));
    i.handle(t(1), Input::Fault);
    drain(&mut i);
    i.handle(t(2), advert(HIGH_PEER, 0));
    i.handle(t(3), advert(LOW_PEER, 50));
    i.handle(t(100_000_000), Input::Timeout);
    i.handle(t(100_000_001), Input::ForceFailover);
    i.handle(t(100_000_002), Input::Fault);
    assert_eq!(drain(&mut i), vec![]);
    assert_eq!(i.state(), State::Fault);
}

// keepalived `vrrp_state_leave_fault`: back to BACKUP with a fresh Master_Down_Interval,
// Master_Adver_Interval reset to our own.
#[test]
fn keepalived_fault_recovery_returns_to_backup() {
    let mut i = started(cfg(100));
    i.handle(
        t(1_000_000),
        advert_with_interval(HIGH_PEER, 200, Centis(50)),
    );
    i.handle(t(1_100_000), Input::Fault);
    drain(&mut i);
    i.handle(t(9_000_000), Input::Recovered);
    assert_eq!(
        drain(&mut i),
        vec![transition(State::Fault, State::Backup, Reason::Recovered)]
    );
    assert_eq!(i.master_adver_int(), ONE_SEC);
    assert_eq!(i.poll_timeout(), Some(t(9_000_000 + MDI_100)));
    assert_eq!(i.master(), None);
}

// The owner comes back straight to Master (RFC 5798 §6.4.1's owner rule).
#[test]
fn keepalived_fault_recovery_owner_returns_to_master() {
    let mut i = started(cfg(255));
    i.handle(t(5), Input::Fault);
    drain(&mut i);
    i.handle(t(6), Input::Recovered);
    assert_eq!(
        drain(&mut i),
        become_master(255, State::Fault, Reason::Recovered)
    );
    assert_eq!(i.poll_timeout(), Some(t(1_000_006)));
}

// Recovered outside FAULT changes nothing.
#[test]
fn keepalived_interface_up_while_running_is_ignored() {
    let mut i = started(cfg(100));
    i.handle(t(5), Input::Recovered);
    assert_eq!(drain(&mut i), vec![]);
    assert_eq!(i.poll_timeout(), Some(t(MDI_100)));
}

// §6.4.3 Shutdown: cancel the Adver_Timer, send priority 0, → Initialize.
#[test]
fn rfc5798_6_4_3_shutdown_master_sends_priority_zero() {
    let (mut i, at) = master(cfg(100));
    i.handle(at + Micros(1), Input::Shutdown);
    assert_eq!(
        drain(&mut i),
        vec![
            send(0),
            Action::RemoveVips,
            transition(State::Master, State::Initialize, Reason::Shutdown),
        ]
    );
    assert_eq!(i.poll_timeout(), None);
}

// §6.4.2 Shutdown: cancel the Master_Down_Timer, → Initialize; nothing is sent.
#[test]
fn rfc5798_6_4_2_shutdown_backup_cancels_the_timer() {
    let mut i = started(cfg(100));
    i.handle(t(5), Input::Shutdown);
    assert_eq!(
        drain(&mut i),
        vec![transition(
            State::Backup,
            State::Initialize,
            Reason::Shutdown
        )]
    );
    assert_eq!(i.poll_timeout(), None);
}

#[test]
fn keepalived_shutdown_in_fault_sends_nothing() {
    let mut i = started(cfg(100));
    i.handle(t(1), Input::Fault);
    drain(&mut i);
    i.handle(t(2), Input::Shutdown);
    assert_eq!(
        drain(&mut i),
        vec![transition(
            State::Fault,
            State::Initialize,
            Reason::Shutdown
        )]
    );
}

// §6.4.1: Initialize waits for Startup; a stopped instance can start again (reload).
#[test]
fn rfc5798_6_4_1_restart_after_shutdown() {
    let (mut i, at) = master(cfg(100));
    i.handle(at, Input::Shutdown);
    drain(&mut i);
    let again = at + Micros(50);
    i.handle(again, Input::Startup);
    assert_eq!(
        drain(&mut i),
        vec![transition(
            State::Initialize,
            State::Backup,
            Reason::Startup
        )]
    );
    assert_eq!(i.poll_timeout(), Some(again + Micros(MDI_100)));
}

// `ha failover` on a master: hand over like a shutdown, but stay Backup.
#[test]
fn force_failover_master_hands_over_with_priority_zero() {
    let (mut i, at) = master(cfg(100));
    i.handle(at + Micros(1), Input::ForceFailover);
    assert_eq!(
        drain(&mut i),
        vec![
            send(0),
            Action::RemoveVips,
            transition(State::Master, State::Backup, Reason::ForceFailover),
        ]
    );
    assert_eq!(i.poll_timeout(), Some(at + Micros(1 + MDI_100)));
}

// `ha failover` on a backup: take over now.
#[test]
fn force_failover_backup_takes_over_now() {
    let mut i = backup_hearing(100, 200);
    i.handle(t(700_000), Input::ForceFailover);
    assert_eq!(
        drain(&mut i),
        become_master(100, State::Backup, Reason::ForceFailover)
    );
}

// `bfd_takeover`: the followed master's BFD session expired: take over now, as if the
// Master_Down_Timer had fired; a peer that is not the master changes nothing.
#[test]
fn peer_down_of_the_followed_master_takes_over_now() {
    let mut i = backup_hearing(100, 200);
    i.handle(t(600_000), Input::PeerDown { addr: HIGH_PEER });
    assert_eq!(drain(&mut i), vec![]);
    assert_eq!(i.state(), State::Backup);
    i.handle(t(700_000), Input::PeerDown { addr: LOW_PEER });
    assert_eq!(
        drain(&mut i),
        become_master(100, State::Backup, Reason::BfdDown)
    );
    // Once master, a second expiry is nothing.
    i.handle(t(800_000), Input::PeerDown { addr: LOW_PEER });
    assert_eq!(i.state(), State::Master);
}

// A master we discard under preemption (lower priority) is not the one we follow.
#[test]
fn peer_down_ignores_a_master_being_preempted() {
    let mut i = backup_hearing(100, 50);
    i.handle(t(600_000), Input::PeerDown { addr: LOW_PEER });
    assert_eq!(i.state(), State::Backup);
}
