//! `cargo xtask bench config`: how long checking a large keepalived.conf takes, and how much
//! memory it needs, for `ha check-config` and for `keepalived -t`, in one run on one machine.
//!
//! Both run in a throw-away network namespace that has the interfaces the config names
//! (keepalived warns — exit 5 — about missing ones), through `ip netns exec`. A floor row
//! (`ip netns exec NS true`) shows what that wrapper alone costs: its wall time, and its peak
//! RSS, which is a floor under every row because `ru_maxrss` is a high-water mark that a
//! child keeps across exec (and that a vfork-started child takes from xtask itself — hence the
//! config is streamed to disk, never held in memory).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::config_gen::{self, Shape};
use crate::deps::find_program;
use crate::ha_bin;
use crate::measure::{self, Sample, Summary};
use crate::netns::NetNs;

#[derive(clap::Args)]
pub struct Args {
    /// Measured runs per tool (each tool also gets one unmeasured warm-up run).
    #[arg(long, default_value_t = 10)]
    runs: usize,
    /// Measure only this tool (e.g. `keepalived` while `ha` cannot check configs yet).
    #[arg(long, value_enum)]
    only: Option<Tool>,
    /// Number of `vrrp_instance` blocks.
    #[arg(long, default_value_t = 1000)]
    instances: usize,
    /// Interfaces the instances are spread over (at most 255 VRIDs each).
    #[arg(long, default_value_t = 4)]
    interfaces: usize,
    /// Number of `virtual_server` blocks.
    #[arg(long, default_value_t = 2000)]
    virtual_servers: usize,
    /// `real_server` blocks per virtual server.
    #[arg(long, default_value_t = 20)]
    real_servers: usize,
    /// Keep the generated config and the tools' output (the directory is printed).
    #[arg(long)]
    keep: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Tool {
    Ha,
    Keepalived,
}

/// A temporary directory, removed on drop unless kept.
struct WorkDir {
    path: PathBuf,
    keep: bool,
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.keep {
            eprintln!("xtask: kept {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// One row of the result table.
struct Row {
    label: String,
    summary: Option<Summary>,
    /// Where the last run's output is, to show when it failed.
    log: PathBuf,
}

/// A command to measure, and how to make it explain itself when it fails.
struct Subject<'a> {
    label: &'a str,
    program: &'a Path,
    args: Vec<&'a str>,
    /// Arguments for one extra, unmeasured run when it fails (`keepalived -t` logs to syslog
    /// only, unless `-l` sends its reasons to the console).
    explain_args: Option<Vec<&'a str>>,
}

pub fn run(args: &Args) -> Result<u8> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    let shape = Shape {
        instances: args.instances,
        interfaces: args.interfaces,
        virtual_servers: args.virtual_servers,
        real_servers_per_vs: args.real_servers,
    };
    shape.validate()?;
    let want = |tool: Tool| args.only.is_none_or(|only| only == tool);

    // Build before generating anything: a build failure should not cost a config generation.
    let ha = if want(Tool::Ha) {
        Some(ha_bin::build_ha(true)?)
    } else {
        None
    };
    let keepalived = if want(Tool::Keepalived) {
        Some(
            find_program("keepalived")
                .context("keepalived not found (apt-get install keepalived)")?,
        )
    } else {
        None
    };

    let pid = std::process::id();
    let dir = WorkDir {
        path: std::env::temp_dir().join(format!("ha-bench-config-{pid}")),
        keep: args.keep,
    };
    std::fs::create_dir_all(&dir.path)
        .with_context(|| format!("creating {}", dir.path.display()))?;
    let conf_path = dir.path.join("keepalived.conf");
    write_config_file(&shape, &conf_path)?;
    eprintln!(
        "xtask: generated {}: {} vrrp_instance on {} interfaces, {} virtual_server, {} real_server",
        conf_path.display(),
        shape.instances,
        shape.interfaces,
        shape.virtual_servers,
        shape.virtual_servers * shape.real_servers_per_vs,
    );

    let ns = NetNs::create(&format!("ha-bench-{pid}"))?;
    for iface in shape.interface_names() {
        ns.add_interface(&iface)?;
    }

    let conf_arg = conf_path.to_string_lossy().into_owned();
    let mut subjects = Vec::new();
    if let Some(ha) = &ha {
        subjects.push(Subject {
            label: "ha check-config",
            program: ha,
            args: vec!["check-config", "-f", &conf_arg],
            explain_args: None,
        });
    }
    if let Some(keepalived) = &keepalived {
        subjects.push(Subject {
            label: "keepalived -t",
            program: keepalived,
            args: vec!["-t", "-f", &conf_arg],
            explain_args: Some(vec!["-t", "-l", "-f", &conf_arg]),
        });
    }
    subjects.push(Subject {
        label: "floor: ip netns exec true",
        program: Path::new("true"),
        args: vec![],
        explain_args: None,
    });

    let mut rows = Vec::new();
    for subject in &subjects {
        rows.push(bench(&ns, &dir.path, subject, args.runs)?);
    }
    print_table(&rows);

    let mut failed = false;
    for (subject, row) in subjects.iter().zip(&rows) {
        let Some(code) = row
            .summary
            .as_ref()
            .and_then(|s| s.exit_codes.iter().copied().find(|&c| c != 0))
        else {
            continue;
        };
        failed = true;
        eprintln!(
            "\nxtask: `{}` exited {code} on the generated config; it said:",
            row.label
        );
        show_tail(&row.log, 30);
        if let Some(explain) = &subject.explain_args {
            let log = dir.path.join("explain.log");
            let mut cmd = ns.command(subject.program);
            cmd.args(explain);
            measure::run_once(&mut cmd, &log)?;
            eprintln!("xtask: with {}:", explain.join(" "));
            show_tail(&log, 30);
        }
    }
    Ok(u8::from(failed))
}

fn write_config_file(shape: &Shape, path: &Path) -> Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    config_gen::write_config(shape, &mut out)
        .and_then(|()| out.flush())
        .with_context(|| format!("writing {}", path.display()))
}

/// One warm-up run (page cache, dynamic loader), then `runs` measured ones.
fn bench(ns: &NetNs, dir: &Path, subject: &Subject, runs: usize) -> Result<Row> {
    let log = dir.join(format!("{}.log", subject.label.replace([' ', ':'], "_")));
    let cmd = || {
        let mut c: Command = ns.command(subject.program);
        c.args(&subject.args);
        c
    };
    measure::run_once(&mut cmd(), &log)?;
    let mut samples: Vec<Sample> = Vec::with_capacity(runs);
    for _ in 0..runs {
        samples.push(measure::run_once(&mut cmd(), &log)?);
    }
    Ok(Row {
        label: subject.label.to_owned(),
        summary: measure::summarize(&samples),
        log,
    })
}

fn print_table(rows: &[Row]) {
    println!(
        "\n{:<28} {:>5} {:>11} {:>15} {:>14} {:>5}",
        "tool", "runs", "median ms", "p95 / max ms", "peak RSS MiB", "exit"
    );
    for row in rows {
        let Some(s) = &row.summary else { continue };
        let codes: Vec<String> = s.exit_codes.iter().map(i32::to_string).collect();
        println!(
            "{:<28} {:>5} {:>11.1} {:>15} {:>14.1} {:>5}",
            row.label,
            s.runs,
            s.median_ms,
            format!("{:.1} / {:.1}", s.p95_ms, s.max_ms),
            s.peak_rss_mib,
            codes.join(",")
        );
    }
}

/// Prints the last `n` lines of a tool's output.
fn show_tail(log: &Path, n: usize) {
    match std::fs::read_to_string(log) {
        Ok(text) if text.trim().is_empty() => eprintln!("  (no output)"),
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            for line in &lines[lines.len().saturating_sub(n)..] {
                eprintln!("  {line}");
            }
        }
        Err(e) => eprintln!("  (cannot read {}: {e})", log.display()),
    }
}
