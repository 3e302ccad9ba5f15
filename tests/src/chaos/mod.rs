//! The chaos harness (`cargo xtask chaos [--faults N] [--seed S] [--keepalived]`): three
//! nodes on a bridge (ha, or two ha and one keepalived 2.2.7), a client that sends a UDP
//! echo to the VIP every millisecond and an ARP request for it every 20 ms, and a seeded
//! run of faults, one at a time, each held a while, healed, and left to settle. Afterwards
//! the invariants are checked over what the client saw (`check.rs`), the daemons are
//! checked alive and their memory compared with the start.
//!
//! The same seed gives the same faults (`faults.rs`), so a violation can be replayed; the
//! run's timing is the machine's.

pub mod check;
pub mod faults;
mod observe;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use self::check::{ArpRound, Figures, Params, Span, Timeline, Violation};
use self::faults::{Fault, FaultKind, Pace};
use crate::daemon::{Daemon, Kind};
use crate::lab::{Lab, Node, VIP4};
use crate::probe::{Prober, ECHO_PORT};

/// What a run does.
#[derive(Debug, Clone)]
pub struct Options {
    pub faults: usize,
    pub seed: u64,
    /// The third node runs keepalived 2.2.7.
    pub keepalived: bool,
    /// The program that serves the echo (`ha-lab`, run as `ha-lab serve NAME`).
    pub server: PathBuf,
    /// The bounds of the invariants (see [`Bounds`]).
    pub bounds: Bounds,
    pub pace: Pace,
}

/// What the invariants allow beyond the protocol's own times.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Added to one advert interval for two answers to end, after a heal or a preemption,
    /// and to the fence time for a dead node to fall silent.
    pub settle: Duration,
    /// Added to the Master_Down_Interval for a healthy node to own the VIP.
    pub takeover: Duration,
}

impl Bounds {
    /// The issue's: Master_Down_Interval + 10 ms, one advert interval + 20 ms.
    pub const STRICT: Bounds = Bounds {
        settle: Duration::from_millis(20),
        takeover: Duration::from_millis(10),
    };
    /// For the short run in `cargo xtask test`: debug builds, tests in parallel on two
    /// cores. It checks that the invariants hold, not how fast (that is the long run's).
    pub const LOOSE: Bounds = Bounds {
        settle: Duration::from_millis(400),
        takeover: Duration::from_millis(600),
    };
}

pub const PACE: Pace = Pace {
    hold_ms: (150, 1200),
    settle_ms: (1200, 2000),
};

/// The advert interval of the run's virtual router, and the nodes' base priorities.
const ADVERT_CS: u32 = 10;
const PRIORITIES: [u8; 3] = [120, 110, 100];
const VRID: u8 = 51;

#[derive(Debug, Clone)]
pub struct Report {
    pub seed: u64,
    pub faults: Vec<Fault>,
    pub violations: Vec<String>,
    pub figures: Figures,
    /// (node, RSS at the start in KiB, at the end) of ha daemons that ran the whole run.
    pub rss: Vec<(String, u64, u64)>,
    pub took: Duration,
}

impl Report {
    pub fn render(&self) -> String {
        let mut s = format!(
            "chaos run: seed {}, {} faults in {:.0} s\n",
            self.seed,
            self.faults.len(),
            self.took.as_secs_f64()
        );
        let mut counts = std::collections::BTreeMap::new();
        for f in &self.faults {
            *counts.entry(f.kind.name()).or_insert(0) += 1;
        }
        for (k, n) in counts {
            s += &format!("  {n:4} × {k}\n");
        }
        let f = &self.figures;
        let ms = |d: Option<Duration>| {
            d.map_or("—".into(), |d| format!("{:.1} ms", d.as_secs_f64() * 1e3))
        };
        let heal_of = f
            .worst_heal_fault
            .and_then(|k| Some((k, self.faults.get(k)?)))
            .map_or(String::new(), |(k, x)| {
                format!(" (fault {k}: {} on n{})", x.kind.name(), x.node + 1)
            });
        s += &format!(
            "takeovers after the master went away: {} (worst {})\n\
             worst time from a heal to one answer: {}{heal_of}\n\
             ARP rounds answered twice: {} outside partitions, {} within them\n",
            f.takeovers,
            ms(f.worst_takeover),
            ms(f.worst_heal),
            f.two_answer_rounds,
            f.two_answer_rounds_in_partitions,
        );
        if f.keepalived_answered_dead > 0 {
            s += &format!(
                "keepalived, killed or stopped, answered {} times after the fence time \
                 (it has no fence)\n",
                f.keepalived_answered_dead
            );
        }
        for (n, a, b) in &self.rss {
            s += &format!("RSS {n}: {a} KiB at the start, {b} KiB at the end\n");
        }
        s += &format!("violations: {}\n", self.violations.len());
        for v in &self.violations {
            s += &format!("  {v}\n");
        }
        s
    }
}

/// One node's daemon and the files its faults act on.
struct NodeRun {
    index: usize,
    kind: Kind,
    config: String,
    daemon: Option<Daemon>,
    prio_file: PathBuf,
    down_file: PathBuf,
    /// RSS after the first settle, when the daemon has run since.
    rss_start: Option<u64>,
    restarts: usize,
}

impl NodeRun {
    /// (Re)starts the node's daemon, the old one killed first; its memory is measured
    /// afresh from the next settle.
    fn start(&mut self, lab: &Lab) {
        self.daemon = None;
        self.daemon = Some(Daemon::start(
            lab,
            &lab.nodes[self.index],
            self.kind,
            &self.config,
        ));
        self.rss_start = None;
    }
}

fn config(lab: &Lab, i: usize, priority: u8) -> String {
    let prio = lab.path(&format!("n{i}.prio"));
    let down = lab.path(&format!("n{i}.down"));
    format!(
        "global_defs {{\n    router_id n{i}\n    enable_script_security\n    script_user root\n}}\n\
         vrrp_track_file prio {{\n    file {}\n    weight 1\n}}\n\
         vrrp_script chk {{\n    script \"/usr/bin/test ! -e {}\"\n    interval 1\n    fall 1\n    rise 1\n    weight -30\n}}\n\
         vrrp_instance VI_1 {{\n    state BACKUP\n    interface eth0\n    virtual_router_id {VRID}\n    \
         priority {priority}\n    advert_int 0.{ADVERT_CS}\n    version 3\n    \
         track_file {{\n        prio\n    }}\n    track_script {{\n        chk\n    }}\n    \
         virtual_ipaddress {{\n        {VIP4}/24\n    }}\n}}\n",
        prio.display(),
        down.display()
    )
}

fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// The echo servers, killed when dropped.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn run(opts: &Options) -> Result<Report, String> {
    let started = Instant::now();
    let lab = Lab::new("chaos", 3, true)?;
    let client = lab.client.clone().ok_or("no client")?;
    let mut servers = Servers(Vec::new());
    for n in &lab.nodes {
        let c = n
            .command(&opts.server)
            .args(["serve", &n.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("echo server on {}: {e}", n.name))?;
        servers.0.push(c);
    }
    let mut nodes: Vec<NodeRun> = (0..3)
        .map(|i| NodeRun {
            index: i,
            kind: if opts.keepalived && i == 2 {
                Kind::Keepalived
            } else {
                Kind::Ha
            },
            config: config(&lab, i, PRIORITIES[i]),
            daemon: None,
            prio_file: lab.path(&format!("n{i}.prio")),
            down_file: lab.path(&format!("n{i}.down")),
            rss_start: None,
            restarts: 0,
        })
        .collect();
    for n in &mut nodes {
        std::fs::write(&n.prio_file, "0\n").map_err(|e| e.to_string())?;
        n.start(&lab);
    }
    let macs = lab
        .nodes
        .iter()
        .map(Node::mac)
        .collect::<Result<Vec<_>, _>>()?;
    let vip = SocketAddr::new(IpAddr::V4(VIP4), ECHO_PORT);
    let prober = Prober::start_in(&client.ns, vip, Duration::from_millis(1))
        .map_err(|e| format!("prober: {e}"))?;
    let client_mac = client.mac()?;
    let arp = observe::ArpProber::start(
        &client.ns,
        client_mac,
        client.ip4,
        VIP4,
        Duration::from_millis(20),
    )
    .map_err(|e| format!("ARP prober: {e}"))?;
    let t0 = Instant::now();
    // The first election, then the memory baseline.
    std::thread::sleep(Duration::from_secs(2));
    for n in &mut nodes {
        if n.kind == Kind::Ha {
            n.rss_start = n.daemon.as_ref().and_then(Daemon::pid).and_then(rss_kib);
        }
    }
    let kinds: Vec<FaultKind> = FaultKind::ALL.to_vec();
    let plan = faults::schedule(opts.seed, opts.faults, 3, &kinds, opts.pace);
    let mut spans = Vec::new();
    let mut problems = Vec::new();
    for (k, f) in plan.iter().enumerate() {
        let from = t0.elapsed();
        inject(&lab, &mut nodes, f, true)?;
        std::thread::sleep(f.hold);
        let to = t0.elapsed();
        inject(&lab, &mut nodes, f, false)?;
        spans.push(Span {
            kind: f.kind,
            node: f.node,
            from,
            to,
        });
        std::thread::sleep(f.settle);
        for n in &mut nodes {
            // A restarted daemon's memory is measured from its first settle.
            if n.kind == Kind::Ha && n.rss_start.is_none() {
                n.rss_start = n.daemon.as_ref().and_then(Daemon::pid).and_then(rss_kib);
            }
            if let Some(d) = n.daemon.as_mut() {
                if let Some(st) = d.exited() {
                    problems.push(format!(
                        "fault {k} ({}): the daemon of n{} exited ({st}); its log:\n{}",
                        f.kind.name(),
                        n.index + 1,
                        tail(&d.log_text(), 20)
                    ));
                    n.start(&lab);
                }
            }
        }
    }
    // The timeline, as offsets from t0.
    let node_of = |name: &str| lab.nodes.iter().position(|n| n.name == name);
    let echo: Vec<(Duration, usize)> = prober
        .snapshot()
        .into_iter()
        .filter(|a| a.at >= t0)
        .filter_map(|a| Some((a.at - t0, node_of(&a.node)?)))
        .collect();
    let arp: Vec<ArpRound> = arp
        .rounds()
        .into_iter()
        .filter(|(at, _)| *at >= t0)
        .map(|(at, replies)| ArpRound {
            at: at - t0,
            nodes: replies
                .iter()
                .filter_map(|m| macs.iter().position(|x| x == m))
                .collect(),
        })
        .collect();
    let timeline = Timeline { spans, echo, arp };
    let advert = Duration::from_millis(u64::from(ADVERT_CS) * 10);
    let lowest = *PRIORITIES.iter().min().unwrap_or(&1);
    // RFC 5798 §6.1: Master_Down_Interval = 3 × interval + Skew_Time, the lowest priority's.
    let skew = advert * (256 - u32::from(lowest)) / 256;
    let params = Params {
        advert,
        bound: opts.bounds.settle,
        takeover: advert * 3 + skew + opts.bounds.takeover,
        fence: advert * ha::daemon::vrrp::engine::DEFAULT_FENCE_ADVERTS,
        fences: nodes.iter().map(|n| n.kind == Kind::Ha).collect(),
    };
    let (violations, figures) = check::check(&timeline, &params);
    let mut report_violations: Vec<String> = violations
        .iter()
        .map(|v| describe(v, &plan, &lab))
        .collect();
    report_violations.extend(problems);
    let mut rss = Vec::new();
    for n in &nodes {
        let Some(d) = &n.daemon else { continue };
        if n.kind != Kind::Ha {
            continue;
        }
        if d.log_text().contains("panicked") {
            report_violations.push(format!("n{}: a panic in the log", n.index + 1));
        }
        if let (Some(a), Some(b)) = (n.rss_start, d.pid().and_then(rss_kib)) {
            rss.push((
                format!(
                    "n{} (restarted {} times; since the last start)",
                    n.index + 1,
                    n.restarts
                ),
                a,
                b,
            ));
            // Flat: a run of faults must not grow the daemon (allocator noise aside).
            if b > a + a / 4 + 4096 {
                report_violations.push(format!(
                    "n{}: RSS grew from {a} KiB to {b} KiB over the run",
                    n.index + 1
                ));
            }
        }
    }
    drop(servers);
    Ok(Report {
        seed: opts.seed,
        faults: plan,
        violations: report_violations,
        figures,
        rss,
        took: started.elapsed(),
    })
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn describe(v: &Violation, plan: &[Fault], lab: &Lab) -> String {
    let at = |d: &Duration| format!("{:.3} s", d.as_secs_f64());
    let name = |i: usize| lab.nodes.get(i).map_or("?".into(), |n| n.name.clone());
    match v {
        Violation::TwoAnswer { from, to, nodes } => format!(
            "{} answered ARP for the VIP together from {} to {}",
            nodes
                .iter()
                .map(|&n| name(n))
                .collect::<Vec<_>>()
                .join(" and "),
            at(from),
            at(to)
        ),
        Violation::SlowTakeover { fault, took } => format!(
            "fault {fault} ({} on {}): no other node answered {}",
            plan[*fault].kind.name(),
            name(plan[*fault].node),
            took.map_or("before the heal".into(), |t| format!(
                "until {:.1} ms",
                t.as_secs_f64() * 1e3
            ))
        ),
        Violation::AnsweredWhenFenced { fault, node, at: t } => format!(
            "fault {fault} ({}): {} answered at {} past the fence time",
            plan[*fault].kind.name(),
            name(*node),
            at(t)
        ),
    }
}

/// Starts (`on`) or heals a fault.
fn inject(lab: &Lab, nodes: &mut [NodeRun], f: &Fault, on: bool) -> Result<(), String> {
    let node = &lab.nodes[f.node];
    let n = &mut nodes[f.node];
    match f.kind {
        FaultKind::LinkCut => {
            if on {
                lab.cut(node)
            } else {
                lab.restore(node)
            }
        }
        FaultKind::Partition => {
            for x in &lab.nodes {
                lab.set_isolated(x, on)?;
            }
            Ok(())
        }
        FaultKind::Kill => {
            if on {
                if let Some(d) = n.daemon.as_mut() {
                    d.kill();
                }
            } else {
                n.start(lab);
                n.restarts += 1;
            }
            Ok(())
        }
        FaultKind::Stop => {
            if let Some(d) = &n.daemon {
                d.signal_tree(if on { libc::SIGSTOP } else { libc::SIGCONT });
            }
            Ok(())
        }
        FaultKind::PriorityFlip => {
            std::fs::write(&n.prio_file, if on { "60\n" } else { "0\n" }).map_err(|e| e.to_string())
        }
        FaultKind::Reload => {
            let base = PRIORITIES[f.node];
            let text = if on {
                config(lab, f.node, if base >= 110 { 60 } else { 180 })
            } else {
                n.config.clone()
            };
            if let Some(d) = &n.daemon {
                std::fs::write(&d.config, text).map_err(|e| e.to_string())?;
                d.signal(libc::SIGHUP);
            }
            Ok(())
        }
        FaultKind::InterfaceFlap => {
            node.ip(&["link", "set", "eth0", if on { "down" } else { "up" }])
        }
        FaultKind::ScriptFlap => {
            if on {
                std::fs::write(&n.down_file, "").map_err(|e| e.to_string())
            } else {
                let _ = std::fs::remove_file(&n.down_file);
                Ok(())
            }
        }
    }
}
