//! `Instance::reconfigure`: a reload that changes settings keeps the state (DESIGN.md §10).

use super::*;
use crate::vrrp::fsm::ReconfigureError;

#[test]
fn a_master_keeps_its_state_timer_and_addresses_with_a_new_priority() {
    let (mut i, at) = master(cfg(100));
    let timer = i.poll_timeout();
    let mut c = cfg(150);
    c.preempt = false;
    i.reconfigure(c).unwrap();
    assert_eq!(
        drain(&mut i),
        vec![],
        "no transition, no advert, no VIP change"
    );
    assert_eq!(i.state(), State::Master);
    assert_eq!(i.priority(), Priority(150));
    assert_eq!(i.poll_timeout(), timer, "the Adver_Timer runs on");
    // The next advert carries the new priority.
    i.handle(at + Micros(1_000_000), Input::Timeout);
    assert_eq!(drain(&mut i), vec![send(150)]);
}

#[test]
fn a_backup_with_a_higher_priority_moves_its_master_down_timer_earlier() {
    let mut i = backup_hearing(100, 200);
    let before = i.poll_timeout().unwrap();
    i.reconfigure(cfg(150)).unwrap();
    let after = i.poll_timeout().unwrap();
    // Skew_Time shrinks from (256-100)/256 s to (256-150)/256 s.
    assert!(after < before);
    assert_eq!(i.state(), State::Backup);
    assert_eq!(drain(&mut i), vec![]);
}

#[test]
fn identity_changes_are_refused() {
    let (mut i, _) = master(cfg(100));
    let mut other_vrid = cfg(100);
    other_vrid.vrid = Vrid(99);
    assert_eq!(i.reconfigure(other_vrid), Err(ReconfigureError::Identity));
    assert_eq!(
        i.reconfigure(cfg(255)),
        Err(ReconfigureError::Identity),
        "becoming owner"
    );
    assert!(matches!(
        i.reconfigure(cfg(0)),
        Err(ReconfigureError::Config(_))
    ));
    assert_eq!(
        i.priority(),
        Priority(100),
        "a refused config changes nothing"
    );
}

/// An owner whose priority an owner conflict lowered to 254 is still configured as the
/// owner: a reload that keeps `priority 255` is no change of identity (and restores 255).
#[test]
fn an_owner_lowered_by_a_conflict_reloads_in_place() {
    let mut i = instance(cfg(255));
    i.handle(t(0), Input::Startup);
    i.handle(t(10), advert(LOW_PEER, 255));
    drain(&mut i);
    assert_eq!(i.priority(), Priority(254));
    assert_eq!(i.reconfigure(cfg(255)), Ok(()));
    assert_eq!(i.priority(), Priority(255));
    assert_eq!(
        i.reconfigure(cfg(200)),
        Err(ReconfigureError::Identity),
        "but it cannot stop owning"
    );
}
