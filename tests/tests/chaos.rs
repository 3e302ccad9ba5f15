//! The chaos harness's short run in the test suite: 50 faults of every kind on three ha
//! nodes (seed fixed, so a failure replays with `cargo xtask chaos --seed 15`), with the
//! test suite's loose time bounds: the invariants must hold (one answer after a heal, a
//! takeover when the master goes, silence from a killed or stopped node past the fence
//! time, no crash, flat memory); how fast is the long run's business (`cargo xtask chaos
//! --faults 1000`, BENCHMARKS.md "Chaos").

use ha_tests::can_run;
use ha_tests::chaos::{run, Bounds, Options, PACE};

#[test]
fn fifty_faults_keep_the_invariants() {
    // The fence needs the XDP path; the raw-socket rerun skips this suite.
    if !can_run("chaos") || std::env::var_os("HA_TEST_NO_XDP").is_some() {
        return;
    }
    let opts = Options {
        faults: 50,
        seed: 15,
        keepalived: false,
        server: env!("CARGO_BIN_EXE_ha-lab").into(),
        bounds: Bounds::LOOSE,
        pace: PACE,
    };
    let report = run(&opts).expect("chaos run");
    eprint!("{}", report.render());
    assert!(
        report.violations.is_empty(),
        "{} violation(s):\n{}",
        report.violations.len(),
        report.render()
    );
    assert!(report.figures.takeovers > 0, "no takeover was exercised");
}
