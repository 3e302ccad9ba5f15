//! Elections between state machines over a simulated wire ([`super::sim`]).

use super::sim::{Change, Sim};
use super::*;
use crate::vrrp::fsm::StartState;

const DELAY: u64 = 100;
const A: usize = 0;
const B: usize = 1;

fn at(us: u64) -> MonoTime {
    t(us)
}

/// Router A (192.0.2.10, priority `pa`) and B (192.0.2.30, priority `pb`), 1 s adverts.
fn pair(pa: u8, pb: u8) -> Sim {
    let a = InstanceConfig::new(Vrid(7), Priority(pa), ONE_SEC, Version::V3, LOW_PEER);
    let b = InstanceConfig::new(Vrid(7), Priority(pb), ONE_SEC, Version::V3, HIGH_PEER);
    Sim::new(Micros(DELAY), vec![a, b])
}

/// Exactly one master, and it alone holds the VIPs.
fn assert_one_master(sim: &Sim, who: usize) {
    assert_eq!(sim.masters(), vec![who], "masters at {:?}", sim.now);
    assert_eq!(sim.vip_holders(), vec![who], "VIP holders at {:?}", sim.now);
}

fn change(at: u64, router: usize, from: State, to: State, reason: Reason) -> Change {
    Change {
        at: t(at),
        router,
        from,
        to,
        reason,
    }
}

// RFC 5798 §6.4.2: the higher priority's shorter Master_Down_Interval elects it; the other
// hears its first advert DELAY later and never leaves Backup.
#[test]
fn sim_rfc5798_6_4_2_election_converges_to_exactly_one_master() {
    let mut sim = pair(100, 200);
    sim.start_all();
    sim.run_until(at(60_000_000));
    assert_one_master(&sim, B);
    assert_eq!(
        sim.changes_of(B),
        vec![
            change(0, B, State::Initialize, State::Backup, Reason::Startup),
            change(MDI_200, B, State::Backup, State::Master, Reason::MasterDown),
        ]
    );
    assert_eq!(
        sim.changes_of(A),
        vec![change(
            0,
            A,
            State::Initialize,
            State::Backup,
            Reason::Startup
        )]
    );
}

// RFC 5798 §6.4.3: equal priorities started together both time out, both send, and the
// higher address wins when the adverts cross, DELAY later.
#[test]
fn sim_rfc5798_6_4_3_simultaneous_masters_resolve_by_higher_address() {
    let mut sim = pair(100, 100);
    sim.start_all();
    sim.run_until(at(MDI_100));
    assert_eq!(sim.masters(), vec![A, B]);
    sim.run_until(at(MDI_100 + DELAY));
    assert_one_master(&sim, B);
    sim.run_until(at(60_000_000));
    assert_one_master(&sim, B);
    let a = sim.changes_of(A);
    assert_eq!(
        a.last(),
        Some(&change(
            MDI_100 + DELAY,
            A,
            State::Master,
            State::Backup,
            Reason::HigherPriorityAdvert
        ))
    );
}

// §6.4.2: a backup never preempts an equal-priority master, so whoever comes up first
// keeps the role even with the lower address.
#[test]
fn sim_rfc5798_6_4_2_equal_priority_first_up_keeps_mastership() {
    let mut sim = pair(100, 100);
    sim.input(A, Input::Startup);
    sim.run_until(at(5_000_000));
    sim.input(B, Input::Startup);
    sim.run_until(at(60_000_000));
    assert_one_master(&sim, A);
}

// Hard failure: the master falls silent; the backup takes over exactly Master_Down_Interval
// after the last advert reached it.
#[test]
fn sim_rfc5798_6_4_2_master_silence_fails_over_at_master_down_interval() {
    let mut sim = pair(100, 200);
    sim.start_all();
    sim.run_until(at(10_500_000));
    let last = sim.last_advert_of(B).expect("B advertised");
    sim.routers[B].plugged = false;
    sim.run_until(at(30_000_000));
    assert_eq!(
        sim.became_master_at(A),
        Some(last + Micros(DELAY + MDI_100))
    );
    assert_eq!(
        sim.changes_of(A).last().map(|c| c.reason),
        Some(Reason::MasterDown)
    );
    // B, cut off, still believes it is master: the split brain lasts until the cable returns.
    assert_eq!(sim.masters(), vec![A, B]);
    sim.routers[B].plugged = true;
    sim.run_for(Micros(2_000_000));
    // B's next advert (priority 200) sends A back to Backup: preemption on return.
    assert_one_master(&sim, B);
}

// Graceful stop: priority 0, and the backup takes over Skew_Time after hearing it.
#[test]
fn sim_rfc5798_6_4_2_graceful_shutdown_hands_over_after_skew_time() {
    let mut sim = pair(100, 200);
    sim.start_all();
    sim.run_until(at(10_000_000));
    sim.input(B, Input::Shutdown);
    sim.run_until(at(20_000_000));
    assert_eq!(
        sim.became_master_at(A),
        Some(at(10_000_000 + DELAY + SKEW_100))
    );
    assert_eq!(
        sim.changes_of(A).last().map(|c| c.reason),
        Some(Reason::MasterStopped)
    );
    assert_one_master(&sim, A);
    assert_eq!(sim.routers[B].inst.state(), State::Initialize);
}

// A higher-priority router that returns preempts: it discards the lower master's adverts
// and takes over when its own Master_Down_Timer fires.
#[test]
fn sim_rfc5798_6_4_2_preemption_on_return() {
    let mut sim = pair(100, 200);
    sim.start_all();
    sim.run_until(at(10_000_000));
    sim.input(B, Input::Shutdown);
    sim.run_until(at(20_000_000));
    sim.input(B, Input::Startup);
    sim.run_until(at(40_000_000));
    assert_one_master(&sim, B);
    assert_eq!(sim.became_master_at(B), Some(at(20_000_000 + MDI_200)));
    assert_eq!(
        sim.changes_of(B).last().map(|c| c.reason),
        Some(Reason::Preempted)
    );
}

// nopreempt: the returning higher-priority router stays Backup.
#[test]
fn sim_rfc5798_6_4_2_nopreempt_leaves_the_current_master() {
    let mut sim = pair(100, 200);
    sim.routers[B].inst = Instance::new({
        let mut c = InstanceConfig::new(Vrid(7), Priority(200), ONE_SEC, Version::V3, HIGH_PEER);
        c.preempt = false;
        c
    })
    .expect("valid");
    sim.start_all();
    sim.run_until(at(10_000_000));
    sim.input(B, Input::Shutdown);
    sim.run_until(at(20_000_000));
    sim.input(B, Input::Startup);
    sim.run_until(at(60_000_000));
    assert_one_master(&sim, A);
}

// Tracking lowers the master's priority below the backup's: the backup discards the
// lower adverts and takes over Master_Down_Interval after the last one it obeyed; the old
// master yields to the first advert of the new one.
#[test]
fn sim_tracking_priority_drop_moves_mastership() {
    let mut sim = pair(100, 200);
    sim.start_all();
    sim.run_until(at(10_500_000));
    let last_obeyed = sim.last_advert_of(B).expect("B advertised");
    sim.input(B, Input::PriorityChange(Priority(50)));
    sim.run_until(at(30_000_000));
    assert_eq!(
        sim.became_master_at(A),
        Some(last_obeyed + Micros(DELAY + MDI_100))
    );
    assert_one_master(&sim, A);
}

// keepalived `state MASTER` on the lower priority: it grabs mastership after ~1 advert
// interval, then the higher priority preempts when its own timer fires.
#[test]
fn sim_keepalived_state_master_hint_yields_to_higher_priority() {
    let mut a = InstanceConfig::new(Vrid(7), Priority(100), ONE_SEC, Version::V3, LOW_PEER);
    a.start = Some(StartState::Master);
    let b = InstanceConfig::new(Vrid(7), Priority(200), ONE_SEC, Version::V3, HIGH_PEER);
    let mut sim = Sim::new(Micros(DELAY), vec![a, b]);
    sim.start_all();
    sim.run_until(at(2_000_000));
    assert_one_master(&sim, A);
    sim.run_until(at(10_000_000));
    assert_one_master(&sim, B);
    assert_eq!(sim.became_master_at(B), Some(at(MDI_200)));
}

// Three routers at advert_int 0.01 with a 3 ms wire: one master; when it dies the next
// best takes over at its Master_Down_Interval (30 ms + skew) after the last advert.
#[test]
fn sim_three_routers_fast_adverts_fail_over_to_the_next_best() {
    let ten_ms = Centis(1);
    let cfgs = [(100u8, 10u8), (150, 20), (200, 30)]
        .iter()
        .map(|&(p, host)| {
            let ip = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, host));
            InstanceConfig::new(Vrid(9), Priority(p), ten_ms, Version::V3, ip)
        })
        .collect();
    let mut sim = Sim::new(Micros(3_000), cfgs);
    sim.start_all();
    sim.run_until(at(1_000_000));
    assert_one_master(&sim, 2);
    let last = sim.last_advert_of(2).expect("advertised");
    sim.routers[2].plugged = false;
    sim.run_until(at(2_000_000));
    // Priority 150 at 10 ms: 30 ms + (106 * 1 cs) / 256 = 30000 + 4140 µs.
    assert_eq!(sim.became_master_at(1), Some(last + Micros(3_000 + 34_140)));
    assert_eq!(sim.in_state(State::Master), vec![1, 2]);
    assert_eq!(sim.routers[0].inst.state(), State::Backup);
}

// RFC 3768 (VRRPv2): the same election with whole-second intervals.
#[test]
fn sim_rfc3768_v2_failover_at_master_down_interval() {
    let a = InstanceConfig::new(Vrid(7), Priority(100), ONE_SEC, Version::V2, LOW_PEER);
    let b = InstanceConfig::new(Vrid(7), Priority(200), ONE_SEC, Version::V2, HIGH_PEER);
    let mut sim = Sim::new(Micros(DELAY), vec![a, b]);
    sim.start_all();
    sim.run_until(at(10_500_000));
    assert_one_master(&sim, B);
    let last = sim.last_advert_of(B).expect("advertised");
    sim.routers[B].plugged = false;
    sim.run_until(at(20_000_000));
    assert_eq!(
        sim.became_master_at(A),
        Some(last + Micros(DELAY + MDI_100))
    );
}

// Stability: ten simulated minutes at advert_int 0.01 with a 5 ms wire (half an interval).
// The wire is slower than the two skews differ (36093 - 32187 µs), so A also times out
// before B's first advert arrives and yields when it does; after that, nothing moves.
#[test]
fn sim_no_spurious_transitions_at_fast_adverts() {
    let a = InstanceConfig::new(Vrid(7), Priority(100), Centis(1), Version::V3, LOW_PEER);
    let b = InstanceConfig::new(Vrid(7), Priority(200), Centis(1), Version::V3, HIGH_PEER);
    let mut sim = Sim::new(Micros(5_000), vec![a, b]);
    sim.start_all();
    sim.run_until(at(600_000_000));
    assert_one_master(&sim, B);
    let after_first_advert: Vec<_> = sim
        .changes
        .iter()
        .filter(|c| c.at > at(32_187 + 5_000))
        .collect();
    assert_eq!(after_first_advert, Vec::<&Change>::new());
    assert_eq!(
        sim.changes_of(A)[1..],
        [
            change(36_093, A, State::Backup, State::Master, Reason::MasterDown),
            change(
                37_187,
                A,
                State::Master,
                State::Backup,
                Reason::HigherPriorityAdvert
            ),
        ]
    );
    assert!(sim.sent.len() > 59_000);
}
