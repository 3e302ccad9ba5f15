//! The checker core against keepalived 2.2.7's rules, on a simulated clock. Each test
//! name states the rule.

use std::collections::BTreeMap;

use super::core::BOOTSTRAP_DELAY;
use super::*;
use crate::time::MonoTime;
use crate::units::Micros;

const S: u64 = 1_000_000;

fn timing(retry: u32) -> Timing {
    Timing {
        delay_loop: Micros(10 * S),
        delay_before_retry: Micros(2 * S),
        retry,
        warmup: Micros(0),
    }
}

fn probe(key: &str, retry: u32, alpha: bool) -> CheckDef {
    CheckDef::Probe(ProbeDef {
        key: ProbeKey::of(key.as_bytes()),
        target: ProbeKey::of(key.as_bytes()),
        kind: "TCP_CHECK",
        timing: timing(retry),
        alpha,
        dynamic: false,
    })
}

fn server(name: &str, weight: u32, checks: Vec<CheckDef>) -> ServerDef {
    ServerDef {
        name: name.into(),
        weight,
        inhibit: false,
        checks,
    }
}

fn pool(name: &str, servers: Vec<ServerDef>) -> PoolDef {
    PoolDef {
        settings: PoolSettings {
            name: name.into(),
            id: name.into(),
            quorum: 1,
            hysteresis: 0,
            has_sorry: false,
            sorry_inhibit: false,
            omega: false,
        },
        servers,
    }
}

fn t(secs: u64) -> MonoTime {
    MonoTime(secs * S)
}

fn ok() -> ProbeResult {
    ProbeResult {
        ok: true,
        code: Some(0),
        reason: "ok".into(),
        took: Micros(1),
    }
}

fn fail() -> ProbeResult {
    ProbeResult {
        ok: false,
        code: Some(1),
        reason: "refused".into(),
        took: Micros(1),
    }
}

fn exit(code: u32, dynamic: bool) -> ProbeResult {
    ProbeResult {
        ok: code == 0 || (dynamic && (2..=255).contains(&code)),
        code: Some(code),
        reason: format!("exit {code}"),
        took: Micros(1),
    }
}

fn events(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Event(CheckEvent::Server { server, up, .. }) => {
                Some(format!("{server} {}", if *up { "UP" } else { "DOWN" }))
            }
            Action::Event(CheckEvent::Quorum { pool, up, .. }) => {
                Some(format!("quorum {pool} {}", if *up { "UP" } else { "DOWN" }))
            }
            Action::Probe { .. } => None,
        })
        .collect()
}

fn next_probe(actions: &[Action]) -> Option<MonoTime> {
    actions.iter().find_map(|a| match a {
        Action::Probe { at, .. } => Some(*at),
        _ => None,
    })
}

fn start(pools: Vec<PoolDef>) -> (Core, Vec<Action>) {
    Core::new(pools, BTreeMap::new(), t(0), 7)
}

fn weights(core: &Core, p: usize) -> Vec<Option<u32>> {
    core.members(p).real_servers
}

#[test]
fn the_first_probe_runs_a_bootstrap_second_plus_a_random_part_of_warmup() {
    let mut d = probe("a", 1, false);
    if let CheckDef::Probe(ProbeDef { timing, .. }) = &mut d {
        timing.warmup = Micros(5 * S);
    }
    let (_, actions) = start(vec![pool("vs", vec![server("rs", 1, vec![d])])]);
    let at = next_probe(&actions).unwrap();
    assert!(at >= t(0) + BOOTSTRAP_DELAY && at <= t(6), "{at:?}");
}

#[test]
fn a_failing_checker_is_retried_retry_times_delay_before_retry_apart_then_the_server_goes_down() {
    let (mut core, _) = start(vec![pool(
        "vs",
        vec![server("rs", 1, vec![probe("a", 2, false)])],
    )]);
    assert_eq!(
        weights(&core, 0),
        [Some(1)],
        "up from the start without alpha"
    );
    let a = core.probe_result(0, ok(), t(1));
    assert_eq!(next_probe(&a), Some(t(11)));
    let a = core.probe_result(0, fail(), t(11));
    assert_eq!(
        next_probe(&a),
        Some(t(13)),
        "retry after delay_before_retry"
    );
    assert!(events(&a).is_empty());
    let a = core.probe_result(0, fail(), t(13));
    assert_eq!(next_probe(&a), Some(t(15)));
    assert!(events(&a).is_empty(), "second retry");
    let a = core.probe_result(0, fail(), t(15));
    assert_eq!(events(&a), ["rs DOWN", "quorum vs DOWN"]);
    assert_eq!(next_probe(&a), Some(t(25)), "then every delay_loop");
    assert_eq!(weights(&core, 0), [None], "removed from the pool");
}

#[test]
fn the_first_failure_after_start_is_final_whatever_retry_says() {
    // keepalived's validate_check_config: retry_it = retry ("one failure is enough
    // initially").
    let (mut core, _) = start(vec![pool(
        "vs",
        vec![server("rs", 1, vec![probe("a", 3, false)])],
    )]);
    let a = core.probe_result(0, fail(), t(1));
    assert_eq!(events(&a), ["rs DOWN", "quorum vs DOWN"]);
    assert_eq!(next_probe(&a), Some(t(11)));
}

#[test]
fn a_success_between_failures_resets_the_retry_count() {
    let (mut core, _) = start(vec![pool(
        "vs",
        vec![server("rs", 1, vec![probe("a", 1, false)])],
    )]);
    core.probe_result(0, fail(), t(1));
    core.probe_result(0, ok(), t(3));
    let a = core.probe_result(0, fail(), t(13));
    assert!(events(&a).is_empty(), "one failure again, one retry left");
    assert_eq!(next_probe(&a), Some(t(15)));
}

#[test]
fn a_failed_checker_is_probed_every_delay_loop_and_comes_back_on_the_first_success() {
    let (mut core, _) = start(vec![pool(
        "vs",
        vec![server("rs", 1, vec![probe("a", 0, false)])],
    )]);
    let a = core.probe_result(0, fail(), t(1));
    assert_eq!(
        events(&a),
        ["rs DOWN", "quorum vs DOWN"],
        "retry 0: at once"
    );
    let a = core.probe_result(0, fail(), t(11));
    assert!(events(&a).is_empty());
    assert_eq!(next_probe(&a), Some(t(21)), "no retries while down");
    let a = core.probe_result(0, ok(), t(21));
    assert_eq!(events(&a), ["rs UP", "quorum vs UP"]);
    assert_eq!(weights(&core, 0), [Some(1)]);
}

#[test]
fn alpha_starts_the_server_failed_until_its_first_success() {
    let (mut core, _) = start(vec![pool(
        "vs",
        vec![server("rs", 1, vec![probe("a", 1, true)])],
    )]);
    assert_eq!(weights(&core, 0), [None], "not in the pool at start");
    let a = core.probe_result(0, ok(), t(1));
    assert_eq!(events(&a), ["rs UP", "quorum vs UP"]);
}

#[test]
fn alpha_with_retry_0_notifies_down_on_the_first_failure_although_nothing_changed() {
    let (mut core, _) = start(vec![pool(
        "vs",
        vec![server("rs", 1, vec![probe("a", 0, true)])],
    )]);
    let a = core.probe_result(0, fail(), t(1));
    assert_eq!(events(&a), ["rs DOWN"]);
    let a = core.probe_result(0, fail(), t(11));
    assert!(events(&a).is_empty(), "only the first time");
}

#[test]
fn a_server_with_several_checkers_is_up_only_while_all_pass() {
    let (mut core, _) = start(vec![pool(
        "vs",
        vec![server(
            "rs",
            1,
            vec![probe("a", 0, false), probe("b", 0, false)],
        )],
    )]);
    let a = core.probe_result(1, fail(), t(1));
    assert_eq!(events(&a), ["rs DOWN", "quorum vs DOWN"]);
    let a = core.probe_result(0, fail(), t(2));
    assert!(events(&a).is_empty(), "already down");
    let a = core.probe_result(1, ok(), t(11));
    assert!(events(&a).is_empty(), "one checker still failing");
    let a = core.probe_result(0, ok(), t(12));
    assert_eq!(events(&a), ["rs UP", "quorum vs UP"]);
}

#[test]
fn inhibit_on_failure_keeps_a_failed_server_in_the_pool_at_weight_0() {
    let mut rs = server("rs", 3, vec![probe("a", 0, false)]);
    rs.inhibit = true;
    let (mut core, _) = start(vec![pool("vs", vec![rs])]);
    assert_eq!(weights(&core, 0), [Some(3)]);
    core.probe_result(0, fail(), t(1));
    assert_eq!(weights(&core, 0), [Some(0)]);
    core.probe_result(0, ok(), t(11));
    assert_eq!(weights(&core, 0), [Some(3)]);
}

#[test]
fn misc_dynamic_exit_code_n_sets_the_weight_to_n_minus_2_and_a_final_failure_restores_it() {
    let d = CheckDef::Probe(ProbeDef {
        key: ProbeKey::of(b"m"),
        target: ProbeKey::of(b"m"),
        kind: "MISC_CHECK",
        timing: timing(1),
        alpha: false,
        dynamic: true,
    });
    let (mut core, _) = start(vec![pool("vs", vec![server("rs", 5, vec![d])])]);
    core.probe_result(0, exit(12, true), t(1));
    assert_eq!(weights(&core, 0), [Some(10)]);
    core.probe_result(0, exit(2, true), t(11));
    assert_eq!(weights(&core, 0), [Some(0)], "exit 2: weight 0, still up");
    assert!(core.pools()[0].servers[0].alive);
    core.probe_result(0, exit(0, true), t(21));
    assert_eq!(
        weights(&core, 0),
        [Some(5)],
        "exit 0: the configured weight"
    );
    core.probe_result(0, exit(30, true), t(31));
    let a = core.probe_result(0, exit(1, true), t(41));
    assert!(events(&a).is_empty(), "retrying");
    assert_eq!(weights(&core, 0), [Some(28)], "kept while retrying");
    core.probe_result(0, exit(1, true), t(43));
    core.probe_result(0, exit(0, true), t(53));
    assert_eq!(weights(&core, 0), [Some(5)]);
}

#[test]
fn misc_without_dynamic_fails_on_any_non_zero_exit() {
    let d = CheckDef::Probe(ProbeDef {
        key: ProbeKey::of(b"m"),
        target: ProbeKey::of(b"m"),
        kind: "MISC_CHECK",
        timing: timing(0),
        alpha: false,
        dynamic: false,
    });
    let (mut core, _) = start(vec![pool("vs", vec![server("rs", 5, vec![d])])]);
    let a = core.probe_result(0, exit(12, false), t(1));
    assert_eq!(events(&a), ["rs DOWN", "quorum vs DOWN"]);
}

#[test]
fn file_check_adds_value_times_weight_and_the_lowest_value_fails_the_server() {
    let d = CheckDef::File {
        name: "f".into(),
        weight: 2,
        reverse: false,
    };
    let (mut core, _) = start(vec![pool("vs", vec![server("rs", 10, vec![d])])]);
    assert_eq!(weights(&core, 0), [Some(10)], "a missing file reads 0");
    core.file_value("f", 3);
    assert_eq!(weights(&core, 0), [Some(16)]);
    let a = core.file_value("f", -8);
    assert_eq!(weights(&core, 0), [Some(0)], "clamped at 0, still up");
    assert_eq!(
        events(&a),
        ["quorum vs DOWN"],
        "a live weight of 0 has no quorum"
    );
    let a = core.file_value("f", i64::from(i32::MIN));
    assert_eq!(events(&a), ["rs DOWN"]);
    let a = core.file_value("f", 0);
    assert_eq!(events(&a), ["rs UP", "quorum vs UP"]);
}

#[test]
fn file_check_with_weight_0_fails_on_a_non_zero_value_or_on_zero_when_reversed() {
    let plain = CheckDef::File {
        name: "f".into(),
        weight: 0,
        reverse: false,
    };
    let reversed = CheckDef::File {
        name: "g".into(),
        weight: 0,
        reverse: true,
    };
    let (mut core, _) = Core::new(
        vec![pool(
            "vs",
            vec![server("a", 1, vec![plain]), server("b", 1, vec![reversed])],
        )],
        BTreeMap::from([("g".to_string(), 1)]),
        t(0),
        1,
    );
    assert_eq!(weights(&core, 0), [Some(1), Some(1)]);
    let a = core.file_value("f", 1);
    assert_eq!(events(&a), ["a DOWN"]);
    let a = core.file_value("g", 0);
    assert_eq!(events(&a), ["b DOWN", "quorum vs DOWN"]);
}

fn three(quorum: u32, hysteresis: u32) -> PoolDef {
    let mut p = pool(
        "vs",
        (0..3)
            .map(|i| {
                server(
                    &format!("rs{i}"),
                    1,
                    vec![probe(&format!("p{i}"), 0, false)],
                )
            })
            .collect(),
    );
    p.settings.quorum = quorum;
    p.settings.hysteresis = hysteresis;
    p
}

#[test]
fn quorum_is_lost_below_quorum_minus_hysteresis_and_regained_at_quorum_plus_hysteresis() {
    let (mut core, a) = start(vec![three(2, 1)]);
    assert_eq!(
        events(&a),
        ["quorum vs UP"],
        "keepalived starts down and gains it"
    );
    assert!(core.pools()[0].quorum_up, "3 >= 2 + 1");
    let a = core.probe_result(0, fail(), t(1));
    assert_eq!(events(&a), ["rs0 DOWN"], "2 is not below 2 - 1");
    let a = core.probe_result(1, fail(), t(1));
    assert_eq!(events(&a), ["rs1 DOWN"], "1 is not below 1");
    let a = core.probe_result(2, fail(), t(1));
    assert_eq!(events(&a), ["rs2 DOWN", "quorum vs DOWN"], "0 always loses");
    let a = core.probe_result(0, ok(), t(11));
    assert_eq!(events(&a), ["rs0 UP"]);
    let a = core.probe_result(1, ok(), t(11));
    assert_eq!(events(&a), ["rs1 UP"], "2 is below 2 + 1");
    let a = core.probe_result(2, ok(), t(11));
    assert_eq!(events(&a), ["rs2 UP", "quorum vs UP"]);
}

#[test]
fn a_sorry_server_replaces_the_live_servers_without_quorum_and_leaves_when_it_is_back() {
    let mut p = three(3, 0);
    p.settings.has_sorry = true;
    let (mut core, _) = start(vec![p]);
    assert_eq!(core.members(0).sorry, None);
    let a = core.probe_result(0, fail(), t(1));
    assert_eq!(events(&a), ["rs0 DOWN", "quorum vs DOWN"]);
    let m = core.members(0);
    assert_eq!(m.sorry, Some(1), "the sorry server serves");
    assert_eq!(m.real_servers, [None, None, None], "the live ones leave");
    core.probe_result(0, ok(), t(11));
    let m = core.members(0);
    assert_eq!((m.sorry, m.real_servers), (None, vec![Some(1); 3]));
}

#[test]
fn sorry_server_inhibit_keeps_the_idle_sorry_server_at_weight_0() {
    let mut p = three(1, 0);
    p.settings.has_sorry = true;
    p.settings.sorry_inhibit = true;
    let (core, _) = start(vec![p]);
    assert_eq!(core.members(0).sorry, Some(0));
}

#[test]
fn starting_without_quorum_with_a_sorry_server_says_quorum_down() {
    let mut p = three(3, 0);
    for s in &mut p.servers {
        s.checks = vec![probe(&s.name, 0, true)];
    }
    p.settings.has_sorry = true;
    let (core, a) = start(vec![p]);
    assert_eq!(events(&a), ["quorum vs DOWN"]);
    assert_eq!(core.members(0).sorry, Some(1));
}

#[test]
fn identical_checkers_under_several_virtual_servers_share_one_probe() {
    let (mut core, a) = start(vec![
        pool("vs1", vec![server("rs", 1, vec![probe("same", 0, false)])]),
        pool("vs2", vec![server("rs", 1, vec![probe("same", 0, false)])]),
    ]);
    assert_eq!(core.probes().len(), 1);
    assert_eq!(
        a.iter()
            .filter(|a| matches!(a, Action::Probe { .. }))
            .count(),
        1
    );
    let a = core.probe_result(0, fail(), t(1));
    assert_eq!(
        events(&a),
        ["rs DOWN", "quorum vs1 DOWN", "rs DOWN", "quorum vs2 DOWN"]
    );
}

#[test]
fn a_reload_keeps_unchanged_servers_as_they_are_and_new_ones_start_per_alpha() {
    let before = vec![pool(
        "vs",
        vec![
            server("a", 1, vec![probe("pa", 0, false)]),
            server("b", 1, vec![probe("pb", 0, false)]),
        ],
    )];
    let (mut core, _) = start(before);
    core.probe_result(1, fail(), t(1));
    assert_eq!(weights(&core, 0), [Some(1), None]);
    let after = vec![pool(
        "vs",
        vec![
            server("a", 1, vec![probe("pa", 0, false)]),
            server("b", 1, vec![probe("pb", 0, false)]),
            server("c", 1, vec![probe("pc", 0, true)]),
            server("d", 1, vec![probe("pd", 0, false)]),
        ],
    )];
    let a = core.reload(after, BTreeMap::new(), t(5));
    assert!(events(&a).is_empty(), "no flap: {:?}", events(&a));
    assert_eq!(weights(&core, 0), [Some(1), None, None, Some(1)]);
    let due: Vec<MonoTime> = a
        .iter()
        .filter_map(|a| match a {
            Action::Probe { at, .. } => Some(*at),
            _ => None,
        })
        .collect();
    assert_eq!(due[1], t(11), "b keeps its schedule");
    assert_eq!(due[2], t(5) + BOOTSTRAP_DELAY, "c is new");
}

#[test]
fn a_reload_that_adds_an_alpha_checker_keeps_live_servers_up_and_failed_ones_down() {
    // keepalived's migrate_checkers: a new alpha checker starts failed only if its server
    // is not up.
    let (mut core, _) = start(vec![pool(
        "vs",
        vec![
            server("a", 1, vec![probe("pa", 0, false)]),
            server("b", 1, vec![probe("pb", 0, false)]),
        ],
    )]);
    core.probe_result(1, fail(), t(1));
    let a = core.reload(
        vec![pool(
            "vs",
            vec![
                server("a", 1, vec![probe("pa", 0, false), probe("na", 0, true)]),
                server("b", 1, vec![probe("pb", 0, false), probe("nb", 0, true)]),
            ],
        )],
        BTreeMap::new(),
        t(5),
    );
    assert!(events(&a).is_empty(), "{:?}", events(&a));
    assert_eq!(weights(&core, 0), [Some(1), None]);
    assert!(
        core.probes()[1].fsm.is_up,
        "a's new alpha checker starts up"
    );
    assert!(!core.probes()[3].fsm.is_up, "b's starts failed");
}

#[test]
fn a_reload_that_only_changes_the_timing_keeps_the_checkers_state() {
    let (mut core, _) = start(vec![pool(
        "vs",
        vec![server("a", 1, vec![probe("pa", 0, false)])],
    )]);
    core.probe_result(0, fail(), t(1));
    let mut slower = probe("pa-slow", 0, false);
    if let CheckDef::Probe(ProbeDef { target, .. }) = &mut slower {
        *target = ProbeKey::of(b"pa");
    }
    let a = core.reload(
        vec![pool("vs", vec![server("a", 1, vec![slower])])],
        BTreeMap::new(),
        t(5),
    );
    assert!(events(&a).is_empty(), "{:?}", events(&a));
    assert_eq!(weights(&core, 0), [None], "still down");
}

#[test]
fn a_virtual_server_added_by_a_reload_starts_from_the_probes_it_shares() {
    let (mut core, _) = start(vec![pool(
        "vs1",
        vec![server("rs", 1, vec![probe("p", 0, false)])],
    )]);
    core.probe_result(0, fail(), t(1));
    let a = core.reload(
        vec![
            pool("vs1", vec![server("rs", 1, vec![probe("p", 0, false)])]),
            pool("vs2", vec![server("rs", 1, vec![probe("p", 0, false)])]),
        ],
        BTreeMap::new(),
        t(5),
    );
    assert!(events(&a).is_empty(), "{:?}", events(&a));
    assert_eq!(weights(&core, 1), [None], "the shared probe is down");
    let a = core.probe_result(0, ok(), t(11));
    assert_eq!(
        events(&a),
        ["rs UP", "quorum vs1 UP", "rs UP", "quorum vs2 UP"]
    );
}

#[test]
fn omega_runs_the_down_notifications_of_live_servers_and_quorum_down_at_stop() {
    let mut p = three(1, 0);
    p.settings.omega = true;
    let (mut core, _) = start(vec![p, three(1, 0)]);
    core.probe_result(0, fail(), t(1));
    let names: Vec<String> = core
        .stop()
        .into_iter()
        .map(|e| match e {
            CheckEvent::Server { server, up, .. } => format!("{server} {up}"),
            CheckEvent::Quorum { pool, up, .. } => format!("quorum {pool} {up}"),
        })
        .collect();
    assert_eq!(names, ["rs1 false", "rs2 false", "quorum vs false"]);
}

#[test]
fn the_live_weight_kept_as_servers_change_equals_the_sum_counted_afresh() {
    let mut p = three(2, 0);
    p.servers[1].checks.push(CheckDef::File {
        name: "f".into(),
        weight: 3,
        reverse: false,
    });
    let (mut core, _) = start(vec![p]);
    let fresh = |core: &Core| -> i64 {
        core.pools()[0]
            .servers
            .iter()
            .filter(|s| s.alive)
            .map(|s| i64::from(super::quorum::real_weight(s.effective)))
            .sum()
    };
    let mut rng = fastrand::Rng::with_seed(3);
    for step in 0..500u64 {
        match rng.u8(0..3) {
            0 => {
                let r = if rng.bool() { ok() } else { fail() };
                core.probe_result(rng.usize(0..3), r, t(step));
            }
            1 => {
                core.file_value("f", rng.i64(-2..4));
            }
            _ => {
                core.file_value("f", i64::from(i32::MIN));
            }
        }
        assert_eq!(core.pools()[0].live_weight(), fresh(&core), "step {step}");
    }
}

#[test]
fn a_change_marks_its_pool_dirty_once_and_the_start_marks_all() {
    use crate::check::core::Dirty;
    let f = |name: &str| CheckDef::File {
        name: name.into(),
        weight: 0,
        reverse: false,
    };
    let (mut core, _) = start(vec![
        pool("a", vec![server("a1", 1, vec![f("fa")])]),
        pool(
            "b",
            vec![
                server("b1", 1, vec![f("fb")]),
                server("b2", 1, vec![f("fb")]),
            ],
        ),
        pool("c", vec![server("c1", 1, vec![])]),
    ]);
    assert_eq!(core.take_dirty(), Dirty::All);
    assert_eq!(core.take_dirty(), Dirty::Nothing);
    // Two servers of pool b fail on one file: b once; a and c untouched.
    core.file_value("fb", 1);
    assert_eq!(core.take_dirty(), Dirty::Pools(vec![1]));
    core.file_value("fa", 1);
    core.file_value("fb", 0);
    assert_eq!(core.take_dirty(), Dirty::Pools(vec![0, 1]));
    // A value that changes nothing marks nothing.
    core.file_value("fa", 2);
    assert_eq!(core.take_dirty(), Dirty::Nothing);
}
