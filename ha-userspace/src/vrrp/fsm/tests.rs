//! Scenario tests for the VRRP state machine on a simulated clock (microseconds). Each test
//! names the RFC section or the keepalived behaviour it checks; deadlines are asserted to
//! the microsecond.

mod backup;
mod fault;
mod master;
mod preempt_delay;
mod reconfigure;
mod sim;
mod sim_tests;
mod startup;
mod tracking;

use std::net::{IpAddr, Ipv4Addr};

use super::{Action, Input, Instance, InstanceConfig, Reason, State};
use crate::time::MonoTime;
use crate::units::{Centis, Micros, Priority, Vrid};
use crate::vrrp::timers::Version;

/// Our address, between a lower and a higher peer.
const ME: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 20));
const LOW_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
const HIGH_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 30));

const ONE_SEC: Centis = Centis(100);

/// Master_Down_Interval at 1 s (VRRPv3 and v2 agree at 1 s): 3 s + (256 - p) / 256 s.
const MDI_100: u64 = 3_609_375;
const MDI_200: u64 = 3_218_750;
/// Skew_Time at 1 s for priority 100 and 200.
const SKEW_100: u64 = 609_375;

fn t(us: u64) -> MonoTime {
    MonoTime::from_micros(us)
}

fn cfg(priority: u8) -> InstanceConfig {
    InstanceConfig::new(Vrid(1), Priority(priority), ONE_SEC, Version::V3, ME)
}

fn instance(cfg: InstanceConfig) -> Instance {
    Instance::new(cfg).expect("valid config")
}

fn drain(i: &mut Instance) -> Vec<Action> {
    i.drain_actions().collect()
}

/// An instance that has handled Startup at time 0, its startup actions drained.
fn started(cfg: InstanceConfig) -> Instance {
    let mut i = instance(cfg);
    i.handle(t(0), Input::Startup);
    drain(&mut i);
    i
}

/// A backup (priority `p`, started at 0) that has heard `master_prio` from LOW_PEER at 0.5 s.
fn backup_hearing(p: u8, master_prio: u8) -> Instance {
    let mut i = started(cfg(p));
    i.handle(t(500_000), advert(LOW_PEER, master_prio));
    drain(&mut i);
    i
}

/// An instance that became master by timing out from Backup; returns it and the time.
fn master(cfg: InstanceConfig) -> (Instance, MonoTime) {
    let mut i = started(cfg);
    let at = i.poll_timeout().expect("backup timer");
    i.handle(at, Input::Timeout);
    assert_eq!(i.state(), State::Master);
    drain(&mut i);
    (i, at)
}

fn advert(src: IpAddr, priority: u8) -> Input {
    advert_with_interval(src, priority, ONE_SEC)
}

fn advert_with_interval(src: IpAddr, priority: u8, adver_int: Centis) -> Input {
    Input::Advert {
        src,
        priority: Priority(priority),
        adver_int,
    }
}

fn transition(from: State, to: State, reason: Reason) -> Action {
    Action::Transition { from, to, reason }
}

fn send(priority: u8) -> Action {
    Action::SendAdvert {
        priority: Priority(priority),
    }
}

/// The actions of becoming master, in keepalived's order.
fn become_master(priority: u8, from: State, reason: Reason) -> Vec<Action> {
    vec![
        send(priority),
        Action::AddVips { accept: true },
        Action::SendGratuitous,
        transition(from, State::Master, reason),
    ]
}

fn us(d: Micros) -> u64 {
    d.0
}
