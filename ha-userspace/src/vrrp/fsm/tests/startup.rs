//! RFC 5798 §6.4.1 Initialize, keepalived's `state` hint and config normalization.

use super::*;
use crate::vrrp::fsm::{ConfigError, StartState};

#[test]
fn rfc5798_6_4_1_backup_startup_arms_master_down_interval() {
    let mut i = instance(cfg(100));
    assert_eq!(i.state(), State::Initialize);
    assert_eq!(i.poll_timeout(), None);
    i.handle(t(1_000), Input::Startup);
    assert_eq!(
        drain(&mut i),
        vec![transition(
            State::Initialize,
            State::Backup,
            Reason::Startup
        )]
    );
    assert_eq!(i.state(), State::Backup);
    assert_eq!(i.poll_timeout(), Some(t(1_000 + MDI_100)));
    assert_eq!(us(i.master_down_interval()), MDI_100);
    assert_eq!(us(i.skew_time()), SKEW_100);
}

#[test]
fn rfc5798_6_4_1_owner_startup_goes_straight_to_master() {
    let mut i = instance(cfg(255));
    i.handle(t(7), Input::Startup);
    assert_eq!(
        drain(&mut i),
        become_master(255, State::Initialize, Reason::Startup)
    );
    assert_eq!(i.state(), State::Master);
    // §6.4.1: Adver_Timer = Advertisement_Interval.
    assert_eq!(i.poll_timeout(), Some(t(1_000_007)));
    assert!(i.is_owner());
}

#[test]
fn rfc5798_6_4_1_owner_always_accepts() {
    let mut c = cfg(255);
    c.accept = false;
    let mut i = instance(c);
    i.handle(t(0), Input::Startup);
    assert!(drain(&mut i).contains(&Action::AddVips { accept: true }));

    let mut c = cfg(100);
    c.accept = false;
    let mut i = started(c);
    let at = i.poll_timeout().unwrap();
    i.handle(at, Input::Timeout);
    assert!(drain(&mut i).contains(&Action::AddVips { accept: false }));
}

// keepalived `vrrp_init_state`: `state MASTER` without being the owner starts BACKUP with a
// Master_Down_Timer of Master_Adver_Interval + the minimal skew: 1 s + 3906 µs here.
#[test]
fn keepalived_state_master_hint_without_ownership_starts_backup_with_short_timer() {
    let mut c = cfg(100);
    c.start = Some(StartState::Master);
    let mut i = instance(c);
    i.handle(t(0), Input::Startup);
    assert_eq!(
        drain(&mut i),
        vec![transition(
            State::Initialize,
            State::Backup,
            Reason::Startup
        )]
    );
    assert_eq!(i.poll_timeout(), Some(t(1_003_906)));
    i.handle(t(1_003_906), Input::Timeout);
    assert_eq!(
        drain(&mut i),
        become_master(100, State::Backup, Reason::MasterDown)
    );
}

// The hint yields to a live master like any backup: its advert re-arms the full interval.
#[test]
fn keepalived_state_master_hint_yields_to_a_higher_priority_master() {
    let mut c = cfg(100);
    c.start = Some(StartState::Master);
    let mut i = started(c);
    i.handle(t(500_000), advert(HIGH_PEER, 200));
    assert_eq!(i.poll_timeout(), Some(t(500_000 + MDI_100)));
    assert_eq!(i.state(), State::Backup);
}

// keepalived: an owner configured `state BACKUP` does not take the fast path; it waits a
// full Master_Down_Interval (priority 255: 3 s + 3906 µs).
#[test]
fn keepalived_owner_with_state_backup_waits_master_down_interval() {
    let mut c = cfg(255);
    c.start = Some(StartState::Backup);
    let mut i = instance(c);
    i.handle(t(0), Input::Startup);
    assert_eq!(i.state(), State::Backup);
    assert_eq!(i.poll_timeout(), Some(t(3_003_906)));
}

// keepalived `vrrp_complete_instance`.
#[test]
fn keepalived_config_normalization() {
    // No `state`: MASTER for the owner, BACKUP otherwise.
    assert_eq!(instance(cfg(255)).config().start, Some(StartState::Master));
    assert_eq!(instance(cfg(254)).config().start, Some(StartState::Backup));
    // The owner always preempts.
    let mut c = cfg(255);
    c.preempt = false;
    assert!(instance(c).config().preempt);
    // `state MASTER` clears nopreempt and preempt_delay.
    let mut c = cfg(100);
    c.start = Some(StartState::Master);
    c.preempt = false;
    c.preempt_delay = Micros(5_000_000);
    let i = instance(c);
    assert!(i.config().preempt);
    assert_eq!(i.config().preempt_delay, Micros(0));
    // nopreempt clears preempt_delay.
    let mut c = cfg(100);
    c.preempt = false;
    c.preempt_delay = Micros(5_000_000);
    assert_eq!(instance(c).config().preempt_delay, Micros(0));
}

#[test]
fn new_rejects_configs_the_machine_cannot_run() {
    let err = |c: InstanceConfig| Instance::new(c).err();
    let mut c = cfg(100);
    c.vrid = Vrid(0);
    assert_eq!(err(c), Some(ConfigError::Vrid));
    assert_eq!(err(cfg(0)), Some(ConfigError::Priority { vrid: 1 }));
    let mut c = cfg(100);
    c.adver_int = Centis(0);
    assert!(matches!(err(c), Some(ConfigError::AdverIntV3 { .. })));
    let mut c = cfg(100);
    c.adver_int = Centis(4096);
    assert!(matches!(err(c), Some(ConfigError::AdverIntV3 { .. })));
    let mut c = cfg(100);
    c.version = Version::V2;
    c.adver_int = Centis(150);
    assert!(matches!(err(c), Some(ConfigError::AdverIntV2 { .. })));
    let mut c = cfg(100);
    c.version = Version::V2;
    c.adver_int = Centis(25_600);
    assert!(matches!(err(c), Some(ConfigError::AdverIntV2 { .. })));
    let mut c = cfg(100);
    c.down_timer_adverts = 0;
    assert!(matches!(err(c), Some(ConfigError::DownTimerAdverts { .. })));
    let mut c = cfg(100);
    c.down_timer_adverts = 101;
    assert!(err(c)
        .unwrap()
        .to_string()
        .contains("down_timer_adverts 101"));
    // The extremes are fine.
    let mut c = cfg(255);
    c.adver_int = Centis(4095);
    assert!(Instance::new(c).is_ok());
    let mut c = cfg(1);
    c.version = Version::V2;
    c.adver_int = Centis(25_500);
    assert!(Instance::new(c).is_ok());
}

// keepalived drops adverts in INIT; a timer never runs there.
#[test]
fn rfc5798_6_4_1_initialize_ignores_everything_but_startup() {
    let mut i = instance(cfg(100));
    i.handle(t(1), advert(HIGH_PEER, 200));
    i.handle(t(2), Input::Timeout);
    i.handle(t(3), Input::Shutdown);
    i.handle(t(4), Input::ForceFailover);
    i.handle(t(5), Input::PriorityChange(Priority(150)));
    assert_eq!(drain(&mut i), vec![]);
    assert_eq!(i.state(), State::Initialize);
    assert_eq!(i.poll_timeout(), None);
    assert_eq!(i.priority(), Priority(150));
    assert_eq!(i.master(), None);
}

#[test]
fn rfc5798_6_4_1_startup_twice_is_ignored() {
    let mut i = started(cfg(100));
    i.handle(t(2_000_000), Input::Startup);
    assert_eq!(drain(&mut i), vec![]);
    assert_eq!(i.poll_timeout(), Some(t(MDI_100)));
}

// keepalived `vrrp_init_state`: an instance whose interface is down starts in FAULT.
#[test]
fn keepalived_startup_with_interface_down_enters_fault() {
    let mut i = instance(cfg(255));
    i.handle(t(0), Input::Fault);
    assert_eq!(drain(&mut i), vec![]);
    i.handle(t(1), Input::Startup);
    assert_eq!(
        drain(&mut i),
        vec![transition(State::Initialize, State::Fault, Reason::Fault)]
    );
    assert_eq!(i.poll_timeout(), None);
    i.handle(t(2), Input::Recovered);
    assert_eq!(
        drain(&mut i),
        become_master(255, State::Fault, Reason::Recovered)
    );
}

// RFC 3768 §6.4.1 for VRRPv2: the same transitions, intervals in whole seconds.
#[test]
fn rfc3768_6_4_1_v2_backup_startup() {
    let mut c = cfg(100);
    c.version = Version::V2;
    c.adver_int = Centis(200);
    let mut i = instance(c);
    i.handle(t(0), Input::Startup);
    // 3 * 2 s + (156 / 256) s.
    assert_eq!(i.poll_timeout(), Some(t(6_609_375)));
}
