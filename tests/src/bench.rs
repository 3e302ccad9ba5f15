//! `cargo xtask bench failover`: ha and keepalived side by side in one run, in the lab.
//!
//! - **outage**: a client probes the VIP every 250 µs; the master's link is cut (or it is
//!   stopped gracefully) and the longest silence the client sees is the outage. VRRPv3
//!   `advert_int 0.01` and VRRPv2 `advert_int 1`, idle and with both cores saturated by
//!   spinning processes.
//! - **cpu**: 50 instances at `advert_int 0.01` (5,000 adverts/s each way): the daemon CPU of
//!   the master and of the backup, from /proc, and per advert.
//! - **stability**: 255 instances at `advert_int 0.1` and `0.01` for a minute: every state
//!   transition after the election counts as spurious.
//! - **handover**: graceful stops of a v3 0.01 s master, timed on the wire from the new
//!   master's first advert to its first gratuitous ARP, with the new master's own timing
//!   of each takeover step (`last_takeover` in its status).
//! - **bfd**: the same link cut with a BFD session and `bfd_takeover`, and BFD's CPU per
//!   session next to keepalived's BFD process (`bfd_bench.rs`).
//! - **reload**: 50 instances at `advert_int 0.01` advertise while a reload adds 200
//!   instances and an nftables set (`no_accept`); the largest gap between two adverts of a
//!   running instance, timed on the wire by another node (ha only: DESIGN.md §6 says the
//!   engine thread never waits on a reload's slow work).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::capture::{largest_gap, ArpCapture, VrrpCapture};
use crate::daemon::{config, Daemon, InstanceSpec, Kind};
use crate::lab::{Lab, VIP4};
use crate::probe::{Prober, ECHO_PORT};
use crate::wait_until;
use ha::daemon::control::Request;
use ha::daemon::status::TakeoverSteps;

#[derive(Debug, Clone)]
pub struct Options {
    pub runs: usize,
    pub only: Option<String>,
    pub kinds: Vec<Kind>,
    pub stability_secs: u64,
    pub cpu_secs: u64,
}

/// Summary statistics of one series, in ms.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    pub n: usize,
    pub median: f64,
    pub p95: f64,
    pub max: f64,
    pub min: f64,
}

pub fn stats(mut v: Vec<f64>) -> Option<Stats> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Some(Stats {
        n: v.len(),
        median: at(0.5),
        p95: at(0.95),
        max: v[v.len() - 1],
        min: v[0],
    })
}

/// Spinning processes that keep every core busy while they live.
struct Load(Vec<Child>);

impl Load {
    fn start(cores: usize) -> Load {
        Load(
            (0..cores)
                .filter_map(|_| {
                    Command::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .stdin(Stdio::null())
                        .spawn()
                        .ok()
                })
                .collect(),
        )
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    LinkCut,
    GracefulStop,
}

fn pair_config(version: u8, advert_int: &str, prio: u8) -> String {
    let mut s = InstanceSpec::new("VI_1", 51, prio);
    s.version = version;
    s.advert_int = advert_int.into();
    config("    vrrp_garp_master_delay 1\n", &[s])
}

/// One outage series: `runs` events on a pair of `kind`, `version`/`advert_int`.
pub fn outage_series(
    kind: Kind,
    event: Event,
    version: u8,
    advert_int: &str,
    loaded: bool,
    runs: usize,
) -> Result<Vec<f64>, String> {
    let lab = Lab::new("bfo", 2, true)?;
    let client = lab.client.clone().ok_or("no client")?;
    let _servers = EchoServers::start(&lab, true)?;
    let c1 = pair_config(version, advert_int, 150);
    let c2 = pair_config(version, advert_int, 100);
    let mut n1 = Some(Daemon::start(&lab, &lab.nodes[0], kind, &c1));
    let _n2 = Daemon::start(&lab, &lab.nodes[1], kind, &c2);
    let vip = IpAddr::V4(VIP4);
    let settle = Duration::from_secs(30);
    let prober = Prober::start_in(
        &client.ns,
        SocketAddr::new(vip, ECHO_PORT),
        Duration::from_micros(250),
    )
    .map_err(|e| e.to_string())?;
    let _load = loaded.then(|| Load::start(cores()));
    let mut out = Vec::new();
    for _ in 0..runs {
        // The master is node1 and the client hears it.
        let t = Instant::now();
        let ok = wait_until(settle, || {
            lab.holders(vip) == ["n1"]
                && prober
                    .snapshot()
                    .iter()
                    .rev()
                    .take(20)
                    .all(|a| a.node == "n1" && a.at > t)
        });
        if !ok {
            return Err(format!("{kind:?}: node1 never became the stable master"));
        }
        std::thread::sleep(Duration::from_millis(300));
        let t0 = Instant::now();
        match event {
            Event::LinkCut => lab.cut(&lab.nodes[0])?,
            Event::GracefulStop => {
                if let Some(mut d) = n1.take() {
                    d.stop();
                }
            }
        }
        let ok = wait_until(settle, || {
            prober
                .snapshot()
                .iter()
                .any(|a| a.at > t0 && a.node == "n2")
        });
        if !ok {
            return Err(format!(
                "{kind:?}: node2 never answered after the {event:?}"
            ));
        }
        let answers = prober.snapshot();
        let first_new = answers
            .iter()
            .position(|a| a.at > t0 && a.node == "n2")
            .ok_or("lost answer")?;
        let last_old = answers[..first_new]
            .iter()
            .rposition(|a| a.node == "n1")
            .ok_or("no answer from node1")?;
        let gap = answers[first_new].at - answers[last_old].at;
        out.push(gap.as_secs_f64() * 1000.0);
        match event {
            Event::LinkCut => lab.restore(&lab.nodes[0])?,
            Event::GracefulStop => {
                n1 = Some(Daemon::start(&lab, &lab.nodes[0], kind, &c1));
            }
        }
    }
    Ok(out)
}

/// The UDP echo servers (`ha-lab serve NAME`) in every node of a lab, answering with the
/// node's name; killed when dropped, an error path included.
pub struct EchoServers(Vec<Child>);

impl EchoServers {
    /// `rt`: the servers run SCHED_FIFO 50 (`--rt`), so the load of a series does not
    /// delay the instrument.
    pub fn start(lab: &Lab, rt: bool) -> Result<EchoServers, String> {
        let me = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut servers = EchoServers(Vec::new());
        for n in &lab.nodes {
            let mut c = n.command(&me);
            c.args(["serve", &n.name]);
            if rt {
                c.arg("--rt");
            }
            let child = c
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("echo server on {}: {e}", n.name))?;
            servers.0.push(child);
        }
        Ok(servers)
    }
}

impl Drop for EchoServers {
    fn drop(&mut self) {
        for s in &mut self.0 {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

/// One graceful handover as the wire and the new master saw it.
#[derive(Debug, Clone, Copy)]
pub struct Handover {
    /// The new master's first advert → its first gratuitous ARP, on the wire, µs.
    pub wire_us: f64,
    /// The new master's own timing of the steps.
    pub steps: Option<TakeoverSteps>,
}

/// `runs` graceful stops of node1 (v3, 0.01 s, priority 150) with node2 (100) taking over;
/// node1 comes back and preempts between runs. The client captures adverts and ARP.
pub fn handover_series(extra: &[&str], runs: usize) -> Result<Vec<Handover>, String> {
    let lab = Lab::new("bho", 2, true)?;
    let client = lab.client.clone().ok_or("no client")?;
    let c1 = pair_config(3, "0.01", 150);
    let c2 = pair_config(3, "0.01", 100);
    let start = |i: usize, c: &str| Daemon::start_with(&lab, &lab.nodes[i], Kind::Ha, c, extra);
    let mut n1 = start(0, &c1);
    let n2 = start(1, &c2);
    let adverts = VrrpCapture::start_in(&client.ns).map_err(|e| e.to_string())?;
    let arps = ArpCapture::start_in(&client.ns).map_err(|e| e.to_string())?;
    let settle = Duration::from_secs(30);
    let mut out = Vec::new();
    for _ in 0..runs {
        let stable = wait_until(settle, || {
            n1.state("VI_1").as_deref() == Some("MASTER")
                && n2.state("VI_1").as_deref() == Some("BACKUP")
        });
        if !stable {
            return Err("node1 never became MASTER again".into());
        }
        std::thread::sleep(Duration::from_millis(300));
        let t0 = Instant::now();
        n1.stop();
        if !wait_until(settle, || n2.state("VI_1").as_deref() == Some("MASTER")) {
            return Err("node2 never took over".into());
        }
        std::thread::sleep(Duration::from_millis(200));
        let first_advert = adverts
            .adverts()
            .into_iter()
            .find(|a| a.at > t0 && a.src == lab.nodes[1].ip4 && a.priority > 0)
            .ok_or("no advert from node2 on the wire")?;
        let first_garp = arps
            .frames()
            .into_iter()
            .find(|f| f.at > t0 && f.is_gratuitous() && f.sender_ip == VIP4)
            .ok_or("no gratuitous ARP on the wire")?;
        let wire = first_garp.at.saturating_duration_since(first_advert.at);
        out.push(Handover {
            wire_us: wire.as_secs_f64() * 1e6,
            steps: n2.instance("VI_1").and_then(|i| i.counters.last_takeover),
        });
        n1 = start(0, &c1);
    }
    Ok(out)
}

/// The VIP of instance `i` of a large config (documentation ranges only).
fn vip_of(i: usize) -> Ipv4Addr {
    if i < 200 {
        Ipv4Addr::new(198, 51, 100, (i + 1) as u8)
    } else {
        Ipv4Addr::new(203, 0, 113, (i - 199) as u8)
    }
}

fn many_config(n: usize, advert_int: &str, prio: u8) -> String {
    config(
        "    vrrp_garp_master_delay 0\n",
        &many_specs(0..n, advert_int, prio),
    )
}

/// Instances `range` (VRID i + 1, VIP [`vip_of`] i) at `advert_int` and priority `prio`.
fn many_specs(range: std::ops::Range<usize>, advert_int: &str, prio: u8) -> Vec<InstanceSpec> {
    range
        .map(|i| {
            let mut s = InstanceSpec::new(&format!("VI_{}", i + 1), (i + 1) as u8, prio);
            s.advert_int = advert_int.into();
            s.vips = vec![format!("{}/32", vip_of(i))];
            s
        })
        .collect()
}

/// What a big reload did to the adverts of the instances that kept running.
#[derive(Debug, Clone, Copy)]
pub struct ReloadGap {
    /// The largest gap between two adverts of any running instance, ms.
    pub worst_ms: f64,
    /// The median over the running instances of each one's largest gap, ms.
    pub median_ms: f64,
    /// How long `ha reload` took to answer, ms.
    pub reload_ms: f64,
    /// When the largest gap ended, ms after the reload was asked for.
    pub worst_at_ms: f64,
    /// The largest gap the daemon itself saw between two adverts it sent (the send times),
    /// over its whole run, ms: what the engine did, apart from delivery on the wire.
    pub sent_worst_ms: f64,
}

/// 50 instances at `advert_int 0.01` on node1 (alone: they are all MASTER); a reload adds
/// 200 instances at 0.1 s in `no_accept` mode (so nftables loads a set of 200 VIPs). Node2
/// captures the adverts; the gaps of the 50 are read from 1 s before the reload to 1 s after
/// its answer. `extra`: `ha run` arguments (`--no-xdp`).
pub fn reload_gap(extra: &[&str]) -> Result<ReloadGap, String> {
    const RUNNING: usize = 50;
    const ADDED: usize = 200;
    let lab = Lab::new("brl", 2, false)?;
    let global = "    vrrp_garp_master_delay 0\n";
    let before = many_specs(0..RUNNING, "0.01", 150);
    let mut after = before.clone();
    after.extend(
        many_specs(RUNNING..RUNNING + ADDED, "0.1", 150)
            .into_iter()
            .map(|mut s| {
                s.extra = "    no_accept\n".into();
                s
            }),
    );
    let d = Daemon::start_with(
        &lab,
        &lab.nodes[0],
        Kind::Ha,
        &config(global, &before),
        extra,
    );
    let all = |n: usize| (0..n).all(|i| lab.nodes[0].has_addr(IpAddr::V4(vip_of(i))));
    if !wait_until(Duration::from_secs(60), || all(RUNNING)) {
        return Err("the 50 instances never became MASTER".into());
    }
    let cap = VrrpCapture::start_in(&lab.nodes[1].ns).map_err(|e| e.to_string())?;
    std::thread::sleep(Duration::from_secs(2));
    std::fs::write(&d.config, config(global, &after)).map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let reply = d.request(&Request::Reload)?;
    let t1 = Instant::now();
    if !reply.ok {
        return Err(format!("reload refused: {:?}", reply.message));
    }
    std::thread::sleep(Duration::from_secs(1));
    if !wait_until(Duration::from_secs(30), || all(RUNNING + ADDED)) {
        return Err("the 200 added instances never became MASTER".into());
    }
    for l in d
        .log_text()
        .lines()
        .filter(|l| l.contains("VRRP engine busy") || l.contains("VRRP engine woke"))
    {
        eprintln!("reload_gap: {l}");
    }
    let adverts = cap.adverts();
    let from = t0 - Duration::from_secs(1);
    let to = t1 + Duration::from_secs(1);
    let gaps: Vec<(f64, Instant)> = (0..RUNNING)
        .map(|i| {
            largest_gap(&adverts, lab.nodes[0].ip4, (i + 1) as u8, from, to)
                .map(|(g, at)| (g.as_secs_f64() * 1000.0, at))
                .ok_or_else(|| format!("no adverts of VRID {} on the wire", i + 1))
        })
        .collect::<Result<_, _>>()?;
    let worst = gaps
        .iter()
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .ok_or("no gaps")?;
    let ms_after = |at: Instant| {
        let after = at.saturating_duration_since(t0).as_secs_f64();
        let before = t0.saturating_duration_since(at).as_secs_f64();
        (after - before) * 1000.0
    };
    let s = stats(gaps.iter().map(|g| g.0).collect()).ok_or("no gaps")?;
    let status = d.status().ok_or("no status")?;
    let sent_worst_us = status
        .instances
        .iter()
        .take(RUNNING)
        .map(|i| i.counters.max_advert_gap_us)
        .max()
        .unwrap_or(0);
    Ok(ReloadGap {
        sent_worst_ms: sent_worst_us as f64 / 1000.0,
        worst_ms: s.max,
        median_ms: s.median,
        reload_ms: (t1 - t0).as_secs_f64() * 1000.0,
        worst_at_ms: ms_after(worst.1),
    })
}

/// CPU seconds (user + system) a process and all its threads have used.
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) / hz)
}

/// The processes doing VRRP for a daemon: ha's one process; keepalived's parent and its VRRP
/// child (from the -r pid file).
fn pids(d: &Daemon, lab: &Lab) -> Vec<u32> {
    pids_of(d, lab, "vrrp.pid")
}

/// ha's one process; keepalived's parent and the child whose pid file ends in `child`
/// (`vrrp.pid`, `bfd.pid`).
pub fn pids_of(d: &Daemon, lab: &Lab, child: &str) -> Vec<u32> {
    match d.kind {
        Kind::Ha => d.pid().into_iter().collect(),
        Kind::Keepalived => {
            let tag = format!("{}-keepalived", d.node.name);
            ["pid", child]
                .iter()
                .filter_map(|ext| {
                    std::fs::read_to_string(lab.path(&format!("{tag}.{ext}")))
                        .ok()?
                        .trim()
                        .parse()
                        .ok()
                })
                .collect()
        }
    }
}

fn total_cpu(pids: &[u32]) -> f64 {
    pids.iter().filter_map(|p| cpu_secs(*p)).sum()
}

/// Master and backup CPU (fraction of one core) with `n` instances at `advert_int`.
pub fn cpu(kind: Kind, n: usize, advert_int: &str, secs: u64) -> Result<(f64, f64), String> {
    cpu_with(kind, &[], n, advert_int, secs)
}

/// [`cpu`] with extra `ha run` arguments on both nodes (`--no-xdp`).
pub fn cpu_with(
    kind: Kind,
    extra: &[&str],
    n: usize,
    advert_int: &str,
    secs: u64,
) -> Result<(f64, f64), String> {
    let lab = Lab::new("bcpu", 2, false)?;
    let m = Daemon::start_with(
        &lab,
        &lab.nodes[0],
        kind,
        &many_config(n, advert_int, 150),
        extra,
    );
    let b = Daemon::start_with(
        &lab,
        &lab.nodes[1],
        kind,
        &many_config(n, advert_int, 100),
        extra,
    );
    let all = |node: usize| lab.nodes[node].has_addr(IpAddr::V4(vip_of(n - 1)));
    // keepalived takes over a minute to settle 255 instances here.
    if !wait_until(Duration::from_secs(180), || all(0) && !all(1)) {
        return Err(format!("{kind:?}: no stable election with {n} instances"));
    }
    std::thread::sleep(Duration::from_secs(3));
    let (pm, pb) = (pids(&m, &lab), pids(&b, &lab));
    let (m0, b0, t0) = (total_cpu(&pm), total_cpu(&pb), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (m1, b1) = (total_cpu(&pm), total_cpu(&pb));
    let dt = t0.elapsed().as_secs_f64();
    Ok(((m1 - m0) / dt, (b1 - b0) / dt))
}

/// Transitions after the election, over `secs`, with `n` instances at `advert_int`.
pub fn stability(
    kind: Kind,
    n: usize,
    advert_int: &str,
    secs: u64,
    loaded: bool,
) -> Result<u64, String> {
    let lab = Lab::new("bst", 2, false)?;
    let m = Daemon::start(&lab, &lab.nodes[0], kind, &many_config(n, advert_int, 150));
    let b = Daemon::start(&lab, &lab.nodes[1], kind, &many_config(n, advert_int, 100));
    let settled = wait_until(Duration::from_secs(120), || {
        (0..n).all(|i| lab.nodes[0].has_addr(IpAddr::V4(vip_of(i))))
            && (0..n).all(|i| !lab.nodes[1].has_addr(IpAddr::V4(vip_of(i))))
    });
    if !settled {
        return Err(format!("{kind:?}: {n} instances never settled"));
    }
    std::thread::sleep(Duration::from_secs(2));
    let _load = loaded.then(|| Load::start(cores()));
    let before = transitions(&m) + transitions(&b);
    std::thread::sleep(Duration::from_secs(secs));
    let after = transitions(&m) + transitions(&b);
    Ok(after - before)
}

/// Every state change a daemon has made: ha's counters, keepalived's log lines.
fn transitions(d: &Daemon) -> u64 {
    match d.kind {
        Kind::Ha => d.status().map_or(0, |s| {
            s.instances
                .iter()
                .map(|i| i.counters.became_master + i.counters.released_master)
                .sum()
        }),
        Kind::Keepalived => d
            .log_text()
            .lines()
            .filter(|l| l.contains("Entering MASTER STATE") || l.contains("Entering BACKUP STATE"))
            .count() as u64,
    }
}

fn want(opts: &Options, what: &str) -> bool {
    opts.only.as_deref().is_none_or(|o| o == what)
}

/// Runs the selected measurements and prints Markdown tables.
pub fn run(opts: &Options) -> Result<(), String> {
    crate::probe::INSTRUMENT_RT.store(true, std::sync::atomic::Ordering::Relaxed);
    if want(opts, "outage") {
        println!(
            "\n### Outage seen by a client probing every 250 µs ({} runs each)\n",
            opts.runs
        );
        println!("| event | VRRP | load | daemon | median ms | p95 ms | max ms | min ms |");
        println!("|---|---|---|---|---|---|---|---|");
        for (event, version, int) in [
            (Event::LinkCut, 3, "0.01"),
            (Event::GracefulStop, 3, "0.01"),
            (Event::LinkCut, 2, "1"),
            (Event::GracefulStop, 2, "1"),
        ] {
            for loaded in [false, true] {
                for &kind in &opts.kinds {
                    let r = outage_series(kind, event, version, int, loaded, opts.runs)?;
                    let s = stats(r).ok_or("no samples")?;
                    println!(
                        "| {} | v{version} {int} s | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                        match event {
                            Event::LinkCut => "link cut",
                            Event::GracefulStop => "graceful stop",
                        },
                        if loaded { "2 cores busy" } else { "idle" },
                        kind.name(),
                        s.median,
                        s.p95,
                        s.max,
                        s.min
                    );
                }
            }
        }
    }
    if want(opts, "cpu") {
        println!(
            "\n### Daemon CPU, 50 instances at advert_int 0.01 ({} s)\n",
            opts.cpu_secs
        );
        println!("| daemon | master % of a core | backup % of a core | µs per advert sent | µs per advert received |");
        println!("|---|---|---|---|---|");
        for &kind in &opts.kinds {
            let (m, b) = cpu(kind, 50, "0.01", opts.cpu_secs)?;
            let per_s = 50.0 * 100.0;
            println!(
                "| {} | {:.1} | {:.1} | {:.2} | {:.2} |",
                kind.name(),
                m * 100.0,
                b * 100.0,
                m * 1e6 / per_s,
                b * 1e6 / per_s
            );
        }
    }
    if want(opts, "stability") {
        println!(
            "\n### Spurious transitions, 255 instances, {} s after the election\n",
            opts.stability_secs
        );
        println!("| advert_int | load | daemon | transitions |");
        println!("|---|---|---|---|");
        for int in ["0.1", "0.01"] {
            for loaded in [false, true] {
                for &kind in &opts.kinds {
                    let n = stability(kind, 255, int, opts.stability_secs, loaded)?;
                    println!(
                        "| {int} s | {} | {} | {n} |",
                        if loaded { "2 cores busy" } else { "idle" },
                        kind.name()
                    );
                }
            }
        }
    }
    if want(opts, "handover") {
        println!(
            "\n### Graceful handover, v3 0.01 s: first advert → first gratuitous ARP ({} runs)\n",
            opts.runs
        );
        println!("| receive path | median µs | p95 µs | max µs | runs over 1 ms | slowest run's steps (µs after the decision: advert, XDP VIPs, addresses, GARP, XDP entry) |");
        println!("|---|---|---|---|---|---|");
        for (path, extra) in [("XDP", &[][..]), ("raw socket", &["--no-xdp"][..])] {
            let h = handover_series(extra, opts.runs)?;
            let slowest = h
                .iter()
                .max_by(|a, b| a.wire_us.total_cmp(&b.wire_us))
                .and_then(|h| h.steps);
            let over = h.iter().filter(|h| h.wire_us > 1000.0).count();
            let s = stats(h.iter().map(|h| h.wire_us).collect()).ok_or("no runs")?;
            let steps = slowest.map_or("-".into(), |t| {
                format!(
                    "{} / {} / {} / {} / {}",
                    t.advert_us, t.xdp_vips_us, t.addresses_us, t.announced_us, t.xdp_sync_us
                )
            });
            println!(
                "| {path} | {:.0} | {:.0} | {:.0} | {over} | {steps} |",
                s.median, s.p95, s.max
            );
        }
    }
    if want(opts, "bfd") {
        crate::bfd_bench::run(opts.runs, opts.cpu_secs, &opts.kinds)?;
    }
    if want(opts, "reload") {
        println!("\n### Advert gaps of 50 instances at 0.01 s while a reload adds 200 (ha)\n");
        println!("| receive path | run | largest gap on the wire ms | median of per-instance largest ms | largest gap between sends ms | reload answered in ms | largest wire gap ended, ms after the reload |");
        println!("|---|---|---|---|---|---|---|");
        for (path, extra) in [("XDP", &[][..]), ("raw socket", &["--no-xdp"][..])] {
            for run in 1..=opts.runs {
                let g = reload_gap(extra)?;
                println!(
                    "| {path} | {run} | {:.1} | {:.1} | {:.1} | {:.0} | {:.0} |",
                    g.worst_ms, g.median_ms, g.sent_worst_ms, g.reload_ms, g.worst_at_ms
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_a_series() {
        let s = stats((1..=20).map(f64::from).collect()).unwrap();
        assert_eq!((s.n, s.min, s.max), (20, 1.0, 20.0));
        assert_eq!(s.median, 11.0);
        assert_eq!(s.p95, 19.0);
        assert!(stats(vec![]).is_none());
    }
}
