//! `cargo xtask bench ipvs`: keepalived and ha program the same large config (services ×
//! real servers, no checkers but one FILE_CHECK) from start, then the FILE_CHECK's track
//! file is flipped back and forth and the time until the kernel's table changes is taken
//! each way. Each daemon gets a fresh boot of the same VM: a kernel that has just removed
//! 40,000 destinations keeps them in IPVS's destination trash for a while, and re-adding
//! the same ones walks that list, which would handicap whichever daemon went second.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use anyhow::{Context, Result};

use super::Vm;

pub struct Figures {
    pub daemon: &'static str,
    pub start: Duration,
    /// One look at the service's destinations (the flips' resolution), median.
    pub poll: Duration,
    /// Track file written → real server out of / back in the kernel's table.
    pub flips: Vec<Duration>,
}

/// The config: `services` virtual servers of `dests` real servers each, and one more
/// whose single real server has a FILE_CHECK on /tmp/flip: the flip is watched on a
/// service of one destination, the cheapest to read, so the reading adds little.
pub fn config(services: usize, dests: usize) -> String {
    let mut c = String::from(
        "track_file FLIP {\n    file /tmp/flip\n}\n\
         virtual_server 10.99.0.1 80 {\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n\
         \x20   real_server 10.2.0.1 80 {\n        FILE_CHECK {\n            track_file FLIP\n\
         \x20           weight 0\n        }\n    }\n}\n",
    );
    for s in 0..services {
        let _ = write!(
            c,
            "virtual_server 10.100.{}.{} 80 {{\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n",
            s / 250,
            s % 250 + 1
        );
        for d in 0..dests {
            let _ = write!(
                c,
                "    real_server 10.2.{}.{} 80 {{\n        weight 1\n    }}\n",
                d / 250,
                d % 250 + 1
            );
        }
        c.push_str("}\n");
    }
    c
}

/// The figures of each daemon, and their last log lines.
pub fn run(vm: &Vm, services: usize, dests: usize, flips: usize) -> Result<(Vec<Figures>, String)> {
    let daemons = [
        (
            "keepalived",
            "keepalived -n -l --check -f /scenario/bench.conf -p /run/kp.pid -c /run/kc.pid",
        ),
        (
            "ha",
            "ha run -C --no-xdp --no-realtime -f /scenario/bench.conf -S /run/ha.sock",
        ),
    ];
    let mut runs = Vec::new();
    for (name, cmd) in daemons {
        let mut script = String::new();
        let _ = writeln!(script, "echo 0 >/tmp/flip");
        let _ = writeln!(
            script,
            "section {name}-start /init bench-start {services} {dests} /run/d.pid /tmp/{name}.log {cmd}"
        );
        // Let the start settle (keepalived logs every add) before timing flips.
        let _ = writeln!(script, "sleep 3");
        for i in 0..flips {
            let _ = writeln!(
                script,
                "section {name}-down-{i} /init flip /tmp/flip 1 10.99.0.1:80 10.2.0.1:80 gone"
            );
            let _ = writeln!(script, "sleep 0.5");
            let _ = writeln!(
                script,
                "section {name}-up-{i} /init flip /tmp/flip 0 10.99.0.1:80 10.2.0.1:80 present"
            );
            let _ = writeln!(script, "sleep 0.5");
        }
        let _ = writeln!(
            script,
            "section {name}-log tail -n 3 /tmp/{name}.log\nstop_pid /run/d.pid"
        );
        let mut files = BTreeMap::new();
        files.insert("run.sh".to_string(), script.into_bytes());
        files.insert(
            "bench.conf".to_string(),
            config(services, dests).into_bytes(),
        );
        runs.push(vm.run_on(&files, Duration::from_secs(1800), 2)?);
    }
    let console: String = runs.iter().map(|r| r.console.as_str()).collect();
    let run = super::Run {
        console,
        exit: Some(0),
    };
    let us = |name: &str| -> Result<Duration> {
        let s = run
            .section(name)
            .with_context(|| format!("no section {name}; console:\n{}", run.console))?;
        let v = s
            .lines()
            .find_map(|l| l.strip_prefix("elapsed_us "))
            .with_context(|| format!("{name}: {s}"))?;
        Ok(Duration::from_micros(v.trim().parse()?))
    };
    let mut out = Vec::new();
    let mut logs = String::new();
    for (name, _) in daemons {
        let _ = writeln!(
            logs,
            "--- {name}\n{}",
            run.section(&format!("{name}-log")).unwrap_or_default()
        );
        let mut polls: Vec<Duration> = run
            .console
            .lines()
            .filter(|l| l.starts_with("poll_us "))
            .filter_map(|l| l[8..].trim().parse().ok())
            .map(Duration::from_micros)
            .collect();
        polls.sort();
        let mut f = Figures {
            daemon: name,
            start: us(&format!("{name}-start"))?,
            poll: polls.get(polls.len() / 2).copied().unwrap_or_default(),
            flips: Vec::new(),
        };
        for i in 0..flips {
            f.flips.push(us(&format!("{name}-down-{i}"))?);
            f.flips.push(us(&format!("{name}-up-{i}"))?);
        }
        out.push(f);
    }
    Ok((out, logs))
}

/// The median and the largest of `d`.
pub fn median_max(d: &[Duration]) -> (Duration, Duration) {
    let mut v = d.to_vec();
    v.sort();
    (
        v.get(v.len() / 2).copied().unwrap_or_default(),
        v.last().copied().unwrap_or_default(),
    )
}
