//! IPVS, on Debian's stock kernel booted in qemu (tests/src/vm): this host's kernel has no
//! IPVS. keepalived 2.2.7 is the oracle: for each config, the table `ha` programs must be
//! the one keepalived programs.

use std::path::Path;

use ha_tests::vm::{diff, Vm};

fn vm() -> Option<&'static Vm> {
    if !ha_tests::can_run_with_keepalived("ipvs") {
        return None;
    }
    Some(Vm::get(Path::new(env!("CARGO_BIN_EXE_ha-vm-init"))).expect("the test VM"))
}

/// keepalived's LVS samples (its package documentation).
const SAMPLES: &str = "/usr/share/doc/keepalived/samples";

fn configs(dir: &Path, filter: impl Fn(&str) -> bool) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&filter))
        .filter_map(|p| {
            let text = std::fs::read(&p).ok()?;
            String::from_utf8_lossy(&text)
                .contains("virtual_server")
                .then(|| (p.display().to_string(), text))
        })
        .collect();
    out.sort();
    out
}

fn differential(name: &str, configs: Vec<(String, Vec<u8>)>) {
    let Some(vm) = vm() else { return };
    assert!(!configs.is_empty(), "no configs for {name}");
    let outcomes = diff::compare(vm, &configs).expect("the VM run");
    let same = outcomes.iter().filter(|o| o.identical()).count();
    let compared = outcomes.iter().filter(|o| o.skipped.is_none()).count();
    println!("{name}: IPVS tables identical to keepalived's: {same}/{compared}");
    let mut report = String::new();
    for o in &outcomes {
        if let Some(why) = &o.skipped {
            println!(
                "  skipped    {} (keepalived's checker exits: {})",
                o.name,
                why.trim()
            );
        } else if o.identical() {
            println!("  identical  {}", o.name);
        } else {
            report.push_str(&format!(
                "{}:\n{}\n--- keepalived\n{}--- ha\n{}{}\n",
                o.name,
                o.rows.join("\n"),
                o.keepalived,
                o.ha,
                o.logs
            ));
        }
    }
    assert!(report.is_empty(), "tables differ:\n{report}");
}

#[test]
fn tables_match_keepalived_on_its_lvs_samples() {
    differential("keepalived samples", configs(Path::new(SAMPLES), |_| true));
}

#[test]
fn tables_match_keepalived_on_the_project_corpus() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ha-userspace/tests/corpus/valid");
    let mut c = configs(&corpus, |n| n.starts_with("lvs-") && n.ends_with(".conf"));
    c.extend(configs(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("vm/configs"),
        |n| n.ends_with(".conf"),
    ));
    differential("project corpus", c);
}

/// Requests through the VIP reach both real servers as rr says, and a real server whose
/// HTTP server dies is taken out by its checker: the table shows it and the requests
/// after it all go to the other one.
fn real_traffic(mode: &str) {
    let Some(vm) = vm() else { return };
    let mut files = std::collections::BTreeMap::new();
    files.insert(
        "traffic.sh".to_string(),
        include_bytes!("../vm/traffic.sh").to_vec(),
    );
    files.insert(
        "run.sh".to_string(),
        format!("MODE={mode}\n. /scenario/traffic.sh\n").into_bytes(),
    );
    let run = vm
        .run(&files, std::time::Duration::from_secs(240))
        .expect("the VM run");
    let console = run.console.clone();
    let section = |name: &str| {
        run.section(name)
            .unwrap_or_else(|| panic!("no section {name}; console:\n{console}"))
    };
    let table = section("table");
    let method = if mode == "NAT" { "Masq" } else { "Route" };
    for rs in ["[10.0.4.2]:80", "[10.0.4.3]:80"] {
        assert!(
            table.contains(&format!("-> {rs} {method} weight 1")),
            "{rs} not in the table:\n{table}\n{console}"
        );
    }
    let spread = section("spread");
    let count = |text: &str, who: &str| text.lines().filter(|l| l.trim() == who).count();
    // Round robin over two equal servers: every other request.
    assert_eq!(
        (count(&spread, "rs1"), count(&spread, "rs2")),
        (5, 5),
        "{mode}: rr should alternate:\n{spread}\n{console}"
    );
    let after = section("after-kill");
    assert!(
        !after.contains("[10.0.4.3]:80") && after.contains("[10.0.4.2]:80"),
        "{mode}: rs2 should be out of the table:\n{after}\n{console}"
    );
    let spread = section("spread-after");
    assert_eq!(
        count(&spread, "rs1"),
        6,
        "{mode}: every request should reach rs1:\n{spread}\n{console}"
    );
    let status = section("status");
    assert!(
        status.contains("KERNEL TABLE (ipvs): matches what ha applied"),
        "ha status should show the kernel's table:\n{status}"
    );
}

#[test]
fn real_traffic_is_balanced_with_nat() {
    real_traffic("NAT");
}

#[test]
fn real_traffic_is_balanced_with_dr() {
    real_traffic("DR");
}

/// Each phase's section under ha (`h-PHASE`) equals keepalived's (`k-PHASE`); with
/// `tables`, once the rules are put in one order.
fn same_as_keepalived(run: &ha_tests::vm::Run, phases: &[&str], tables: bool) {
    let c = &run.console;
    for phase in phases {
        let section = |who: &str| {
            let s = run
                .section(&format!("{who}-{phase}"))
                .unwrap_or_else(|| panic!("{c}"));
            if tables {
                ha_tests::vm::ipvsadm::normalize(&s)
            } else {
                s
            }
        };
        let (k, h) = (section("k"), section("h"));
        assert_eq!(h, k, "{phase}: ha differs from keepalived\n{c}");
    }
}

fn scenario(script: &[u8]) -> ha_tests::vm::Run {
    let vm = vm().expect("checked by the caller");
    let mut files = std::collections::BTreeMap::new();
    files.insert("run.sh".to_string(), script.to_vec());
    vm.run(&files, std::time::Duration::from_secs(240))
        .expect("the VM run")
}

/// `lvs_sync_daemon IF inst VI_1`: the backup daemon at start, master once the instance is
/// MASTER, none after stop; the kernel shows the same daemons under ha as under keepalived.
#[test]
fn the_sync_daemon_follows_the_instance_as_under_keepalived() {
    if vm().is_none() {
        return;
    }
    let run = scenario(include_bytes!("../vm/sync.sh"));
    let c = &run.console;
    same_as_keepalived(&run, &["start", "master", "stopped"], false);
    let start = run.section("h-start").unwrap();
    assert!(
        start.contains("backup sync daemon (mcast=sync0, syncid=51"),
        "{start}\n{c}"
    );
    let master = run.section("h-master").unwrap();
    assert!(
        master.contains("master sync daemon (mcast=sync0, syncid=51") && !master.contains("backup"),
        "{master}\n{c}"
    );
    assert_eq!(run.section("h-stopped").unwrap().trim(), "", "{c}");
}

/// What an earlier run left of a configured service is taken over and put right; a service
/// ha does not manage is left alone; a reload edits in place and a bad one changes
/// nothing; stop removes only ha's. A service the kernel refuses does not hold up the
/// others.
#[test]
fn start_adopts_reload_edits_and_stop_removes_only_its_own() {
    if vm().is_none() {
        return;
    }
    let run = scenario(include_bytes!("../vm/adopt.sh"));
    let c = &run.console;
    let sec = |n: &str| run.section(n).unwrap_or_else(|| panic!("no {n}:\n{c}"));
    let foreign = "-A -t 10.0.9.200:80 -s rr\n-a -t 10.0.9.200:80 -r 10.0.9.60:80 -g -w 1\n";
    let started = ha_tests::vm::ipvsadm::normalize(&sec("started"));
    assert_eq!(
        started,
        ha_tests::vm::ipvsadm::normalize(&format!(
            "-A -t 10.0.9.100:80 -s rr\n-a -t 10.0.9.100:80 -r 10.0.9.2:80 -g -w 1\n{foreign}"
        )),
        "{c}"
    );
    let reloaded = ha_tests::vm::ipvsadm::normalize(&format!(
        "-A -t 10.0.9.100:80 -s rr\n-a -t 10.0.9.100:80 -r 10.0.9.2:80 -g -w 5\n\
         -a -t 10.0.9.100:80 -r 10.0.9.3:80 -g -w 1\n{foreign}"
    ));
    assert_eq!(
        ha_tests::vm::ipvsadm::normalize(&sec("reloaded")),
        reloaded,
        "{c}"
    );
    assert!(
        sec("bad-reload-answer").contains("virtual_router_id"),
        "{c}"
    );
    assert_eq!(
        ha_tests::vm::ipvsadm::normalize(&sec("bad-reload")),
        reloaded,
        "{c}"
    );
    assert_eq!(
        ha_tests::vm::ipvsadm::normalize(&sec("stopped")),
        ha_tests::vm::ipvsadm::normalize(foreign),
        "{c}"
    );
    // A refused service does not hold up the one after it.
    let both = "-A -t 10.0.9.100:80 -s rr\n-a -t 10.0.9.100:80 -r 10.0.9.2:80 -g -w 1\n\
                -a -t 10.0.9.100:80 -r 10.0.9.3:80 -g -w 1\n";
    assert_eq!(
        ha_tests::vm::ipvsadm::normalize(&sec("refused-start")),
        ha_tests::vm::ipvsadm::normalize(both),
        "{c}"
    );
    assert_eq!(
        ha_tests::vm::ipvsadm::normalize(&sec("refused-flip")),
        ha_tests::vm::ipvsadm::normalize(
            "-A -t 10.0.9.100:80 -s rr\n-a -t 10.0.9.100:80 -r 10.0.9.3:80 -g -w 1\n"
        ),
        "{c}"
    );
    assert!(
        sec("refused-log").contains("scheduler or persistence engine not found"),
        "{c}"
    );
}

/// The same life under both daemons, compared phase by phase: a real server's port closed
/// inside the VM (one removed, one inhibited to weight 0), `lvs_flush` at start (a service
/// already there goes), `lvs_timeouts`, and `lvs_flush_on_stop VS` (only the daemon's
/// services go), and an `lvs_sync_daemon` without an instance (both daemons, for the
/// daemon's life).
#[test]
fn a_closed_port_and_the_flushes_end_as_under_keepalived() {
    if vm().is_none() {
        return;
    }
    let run = scenario(include_bytes!("../vm/oracle.sh"));
    same_as_keepalived(&run, &["up", "port-closed", "stopped"], true);
    let up = run.section("h-up").unwrap();
    assert!(!up.contains("10.0.8.200"), "lvs_flush at start:\n{up}");
    assert!(up.contains("-r 10.0.8.2:8081 -m -w 2"), "{up}");
    assert!(up.contains("1000 120 100"), "lvs_timeouts:\n{up}");
    assert!(
        up.contains("master sync daemon (mcast=sy0, syncid=7")
            && up.contains("backup sync daemon (mcast=sy0, syncid=7"),
        "lvs_sync_daemon without an instance:\n{up}"
    );
    let closed = run.section("h-port-closed").unwrap();
    assert!(!closed.contains("-r 10.0.8.2:8081"), "{closed}");
    assert!(closed.contains("-r 10.0.8.3:8081 -m -w 0"), "{closed}");
    let stopped = run.section("h-stopped").unwrap();
    assert!(
        stopped.contains("10.0.8.201") && !stopped.contains("10.0.8.100"),
        "{stopped}"
    );
}
