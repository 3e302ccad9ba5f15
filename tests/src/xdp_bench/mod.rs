//! `cargo xtask bench xdp`: what the fast path costs and saves.
//!
//! - **ns/packet** of the paths of `ha_xdp` (an advert absorbed, an advert sent as an
//!   event, an ARP request answered or looked up, unrelated traffic passed), timed by the
//!   kernel in two harnesses: `BPF_PROG_TEST_RUN` ([`test_run`], every path) and a real
//!   receive path, native XDP on a veth timed by the kernel's own statistics ([`wire`]: the
//!   absorbed advert, the ARP reply, pass-through). Each harness also times reference
//!   programs (`bpf/xdp_reference.bpf.c`): empty ones, its floor (what the harness itself
//!   costs per packet; a path's own cost is its time net of that floor), and `xdp_clock`,
//!   which only reads the clock the absorbed adverts are stamped with.
//! - **receive-side daemon CPU**: the BACKUP of a pair receiving 50 instances at
//!   `advert_int 0.01` and 255 at `0.1`, with the XDP path, with the raw-socket path
//!   (`--no-xdp`), and keepalived, in one run.

mod frames;
mod test_run;
mod wire;

use std::time::Duration;

use ha_common::XdpCounters;
use ha_ebpf::XDP_PASS;

use crate::bench::cpu_with;
use crate::daemon::Kind;

/// What timed a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Harness {
    /// `BPF_PROG_TEST_RUN` with many repetitions in one call.
    Batch,
    /// `BPF_PROG_TEST_RUN` one run per call (paths that rewrite the frame), averaged.
    Single,
    /// Native XDP on a veth, frames from the other node, `BPF_ENABLE_STATS`.
    Veth,
}

impl Harness {
    fn label(self) -> &'static str {
        match self {
            Harness::Batch => "test run, batch",
            Harness::Single => "test run, single runs",
            Harness::Veth => "veth, kernel stats",
        }
    }
}

/// What a row timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// A path of ha_xdp.
    Path,
    /// An empty program: the harness's floor.
    Floor,
    /// The reference program that only reads the clock.
    Clock,
}

/// One timed program and frame.
#[derive(Debug, Clone)]
pub struct Row {
    pub path: &'static str,
    pub harness: Harness,
    pub kind: RowKind,
    /// Average ns per packet as the harness reports it.
    pub ns: f64,
    pub verdict: u32,
}

impl Row {
    fn new(path: &'static str, harness: Harness, ns: f64, verdict: u32) -> Row {
        Row {
            path,
            harness,
            kind: RowKind::Path,
            ns,
            verdict,
        }
    }

    /// A reference program's row (`kind` Floor or Clock).
    fn reference(kind: RowKind, harness: Harness, ns: f64, verdict: u32) -> Row {
        let path = match (kind, verdict == XDP_PASS) {
            (RowKind::Clock, _) => "clock read only (xdp_clock: bpf_ktime_get_ns)",
            (_, true) => "empty program (xdp_pass): floor",
            (_, false) => "empty program (xdp_drop): floor",
        };
        Row {
            path,
            harness,
            kind,
            ns,
            verdict,
        }
    }
}

/// How far `counter` moved from `before` to `after`.
fn moved(after: &XdpCounters, before: &XdpCounters, counter: &str) -> u64 {
    after
        .delta_since(before)
        .iter()
        .find(|(n, _)| *n == counter)
        .map_or(0, |(_, v)| v)
}

/// The floor `row` is net of: an empty program of the same harness, the one with the same
/// kind of verdict (passed, or not) where the harness has both.
fn floor_of<'a>(rows: &'a [Row], row: &Row) -> Option<&'a Row> {
    let floors = || {
        rows.iter()
            .filter(|r| r.kind == RowKind::Floor && r.harness == row.harness)
    };
    floors()
        .find(|f| (f.verdict == XDP_PASS) == (row.verdict == XDP_PASS))
        .or_else(|| floors().next())
}

/// `row`'s ns net of its floor in `rows`.
fn net_of_floor(rows: &[Row], row: &Row) -> Option<f64> {
    floor_of(rows, row).map(|f| row.ns - f.ns)
}

fn verdict_name(v: u32) -> &'static str {
    match v {
        ha_ebpf::XDP_DROP => "DROP",
        XDP_PASS => "PASS",
        ha_ebpf::XDP_TX => "TX",
        _ => "?",
    }
}

/// Which parts of the benchmark to run.
#[derive(Debug, Clone, Copy)]
pub struct Parts {
    pub ns: bool,
    pub cpu: bool,
}

/// Prints the Markdown tables.
pub fn run(cpu_secs: u64, kinds: &[Kind], parts: Parts) -> Result<(), String> {
    if parts.ns {
        println!("\n### ha_xdp ns per packet (kernel-timed averages; net = minus the floor)\n");
        println!("| path | harness | verdict | ns/packet | net of the floor |");
        println!("|---|---|---|---|---|");
        // Each harness's rows as soon as it is done: a failure of the second one keeps
        // the first one's figures.
        print_rows(&test_run::ns_per_packet()?);
        print_rows(&wire::ns_per_packet()?);
    }
    if parts.cpu {
        print_cpu(cpu_secs, kinds)?;
    }
    Ok(())
}

fn print_rows(rows: &[Row]) {
    for r in rows {
        // BPF_PROG_TEST_RUN reports a batch's average in whole ns.
        let digits = if r.harness == Harness::Batch { 0 } else { 1 };
        let net = match net_of_floor(rows, r) {
            Some(n) if r.kind != RowKind::Floor => format!("{n:.digits$}"),
            _ => "—".into(),
        };
        let ns = format!("{:.digits$}", r.ns);
        println!(
            "| {} | {} | {} | {ns} | {net} |",
            r.path,
            r.harness.label(),
            verdict_name(r.verdict),
        );
    }
}

fn print_cpu(cpu_secs: u64, kinds: &[Kind]) -> Result<(), String> {
    println!("\n### BACKUP daemon CPU while receiving ({cpu_secs} s after the election)\n");
    println!(
        "| instances | advert_int | receive path | backup % of a core | µs per advert received |"
    );
    println!("|---|---|---|---|---|");
    for (n, int, per_s) in [(50usize, "0.01", 5000.0), (255, "0.1", 2550.0)] {
        let mut variants: Vec<(Kind, &[&str], &str)> = Vec::new();
        if kinds.contains(&Kind::Ha) {
            variants.push((Kind::Ha, &[], "ha, XDP"));
            variants.push((Kind::Ha, &["--no-xdp"], "ha, raw socket"));
        }
        if kinds.contains(&Kind::Keepalived) {
            variants.push((Kind::Keepalived, &[], "keepalived"));
        }
        for (kind, extra, label) in variants {
            let (_, b) = cpu_with(kind, extra, n, int, cpu_secs)?;
            println!(
                "| {n} | {int} s | {label} | {:.2} | {:.3} |",
                b * 100.0,
                b * 1e6 / per_s
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(())
}
