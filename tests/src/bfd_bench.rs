//! `cargo xtask bench failover --only bfd`: BFD's part of the failover benchmark.
//!
//! - **outage**: two ha nodes, VRRPv3 `advert_int 0.01`, a BFD session between them at
//!   1 ms × 3 (keepalived's floor) and 0.3 ms × 3 (ha's extension), the backup with
//!   `bfd_takeover`. A client probes the VIP every 100 µs; the master's link is cut; the
//!   longest silence the client sees is the outage. Detection latency is the backup's
//!   kernel stamp of the expiry − (last packet + Detection Time), from its status.
//! - **cpu**: N sessions between two nodes, both ends of ha and of keepalived's BFD process
//!   at the same intervals, CPU from /proc over a window; and the BFD thread's transmit
//!   lateness (its jitter).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::bench::{cpu_secs, pids_of, stats, EchoServers};
use crate::daemon::{config, Daemon, InstanceSpec, Kind};
use crate::lab::{Lab, Node, VIP4};
use crate::probe::{Prober, ECHO_PORT};
use crate::wait_until;

fn bfd_block(name: &str, src: IpAddr, dst: IpAddr, min: &str) -> String {
    format!(
        "bfd_instance {name} {{\n    neighbor_ip {dst}\n    source_ip {src}\n    \
         min_rx {min}\n    min_tx {min}\n    multiplier 3\n}}\n"
    )
}

fn pair(a: &Node, b: &Node, prio: u8, min: &str) -> String {
    let mut s = InstanceSpec::new("VI_1", 51, prio);
    s.advert_int = "0.01".into();
    s.extra = "    bfd_takeover PEER\n".into();
    format!(
        "{}{}",
        bfd_block("PEER", a.ip4.into(), b.ip4.into(), min),
        config("    vrrp_garp_master_delay 1\n", &[s])
    )
}

/// One outage run's figures.
#[derive(Debug, Clone, Copy)]
pub struct BfdOutage {
    pub outage_ms: f64,
    /// Kernel detection − (last packet + Detection Time), µs.
    pub late_us: Option<f64>,
}

fn session_up(d: &Daemon) -> bool {
    d.status()
        .and_then(|s| s.bfd)
        .is_some_and(|b| b.sessions.iter().all(|s| s.state == "Up"))
}

fn last_late(d: &Daemon) -> Option<u64> {
    d.status()?.bfd?.sessions.first()?.last_detection_late_ns
}

/// `runs` link cuts of the master with BFD at `min` ms × 3 and `bfd_takeover`.
pub fn outage_series(min: &str, runs: usize) -> Result<Vec<BfdOutage>, String> {
    let lab = Lab::new("bbfd", 2, true)?;
    let client = lab.client.clone().ok_or("no client")?;
    // Not real-time: at 10,000 probes a second, real-time echo servers and a real-time
    // prober on this machine's 2 cores would preempt the daemons' threads they measure (on
    // a real network they are other machines).
    let _servers = EchoServers::start(&lab, false)?;
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    let _n1 = Daemon::start(&lab, a, Kind::Ha, &pair(a, b, 150, min));
    let n2 = Daemon::start(&lab, b, Kind::Ha, &pair(b, a, 100, min));
    let vip = IpAddr::V4(VIP4);
    crate::probe::INSTRUMENT_RT.store(false, std::sync::atomic::Ordering::Relaxed);
    let prober = Prober::start_in(
        &client.ns,
        SocketAddr::new(vip, ECHO_PORT),
        Duration::from_micros(100),
    )
    .map_err(|e| e.to_string())?;
    let settle = Duration::from_secs(30);
    let mut out = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let ok = wait_until(settle, || {
            lab.holders(vip) == ["n1"] && session_up(&n2) && prober.last_from(50, t, "n1")
        });
        if !ok {
            return Err("node1 never became the stable master with BFD Up".into());
        }
        std::thread::sleep(Duration::from_millis(300));
        let before = last_late(&n2);
        let t0 = Instant::now();
        lab.cut(a)?;
        let ok = wait_until(settle, || prober.answered_since(t0, "n2"));
        if !ok {
            return Err("node2 never answered after the cut".into());
        }
        let answers = prober.since(t0.checked_sub(Duration::from_millis(50)).unwrap_or(t0));
        let first_new = answers
            .iter()
            .position(|x| x.at > t0 && x.node == "n2")
            .ok_or("lost answer")?;
        let last_old = answers[..first_new]
            .iter()
            .rposition(|x| x.node == "n1")
            .ok_or("no answer from node1")?;
        let gap = answers[first_new].at - answers[last_old].at;
        wait_until(Duration::from_secs(2), || last_late(&n2) != before);
        let late = last_late(&n2).filter(|_| last_late(&n2) != before);
        out.push(BfdOutage {
            outage_ms: gap.as_secs_f64() * 1000.0,
            late_us: late.map(|n| n as f64 / 1000.0),
        });
        lab.restore(a)?;
        // node1's gratuitous ARPs when it preempts: a client ignores another within its
        // neighbour `locktime` (1 s), so the next cut waits that out (else node2's ARPs
        // are ignored and its second burst, a second later, is the outage).
        std::thread::sleep(Duration::from_millis(1500));
    }
    Ok(out)
}

/// One CPU window: both ends' CPU (fraction of a core), and ha's BFD thread transmit
/// lateness on the first node (mean, p99 bound, max µs).
pub struct BfdCpu {
    pub ends: (f64, f64),
    pub lateness: Option<(u64, u64, u64)>,
}

/// CPU with `n` sessions at `min` ms × 3.
pub fn cpu(kind: Kind, n: usize, min: &str, secs: u64) -> Result<BfdCpu, String> {
    let lab = Lab::new("bbcpu", 2, false)?;
    let (a, b) = (&lab.nodes[0], &lab.nodes[1]);
    let addr = |node: usize, i: usize| -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(
            192,
            0,
            2,
            (110 + 20 * node + i) as u8,
        ))
    };
    for i in 0..n {
        a.ip(&["addr", "add", &format!("{}/24", addr(0, i)), "dev", "eth0"])?;
        b.ip(&["addr", "add", &format!("{}/24", addr(1, i)), "dev", "eth0"])?;
    }
    let conf = |me: usize| {
        let mut s = String::from("global_defs {\n    router_id bench\n}\n");
        for i in 0..n {
            s.push_str(&bfd_block(
                &format!("S{i}"),
                addr(me, i),
                addr(1 - me, i),
                min,
            ));
        }
        s
    };
    let da = Daemon::start(&lab, a, kind, &conf(0));
    let db = Daemon::start(&lab, b, kind, &conf(1));
    let up = |d: &Daemon| match kind {
        Kind::Ha => d
            .status()
            .and_then(|s| s.bfd)
            .is_some_and(|b| b.sessions.len() == n && b.sessions.iter().all(|s| s.state == "Up")),
        Kind::Keepalived => d.log_text().matches("Entering Up state").count() >= n,
    };
    if !wait_until(Duration::from_secs(60), || up(&da) && up(&db)) {
        return Err(format!("{kind:?}: {n} sessions never all came Up"));
    }
    std::thread::sleep(Duration::from_secs(2));
    let pids = |d: &Daemon| pids_of(d, &lab, "bfd.pid");
    let total = |p: &[u32]| p.iter().filter_map(|p| cpu_secs(*p)).sum::<f64>();
    let (pa, pb) = (pids(&da), pids(&db));
    let (a0, b0, t0) = (total(&pa), total(&pb), Instant::now());
    std::thread::sleep(Duration::from_secs(secs));
    let (a1, b1) = (total(&pa), total(&pb));
    let dt = t0.elapsed().as_secs_f64();
    let lateness = da.status().and_then(|s| s.bfd).and_then(|b| {
        let l = b.tx_lateness;
        let mean = l.sum_us.checked_div(l.count)?;
        Some((mean, l.quantile_bound(0.99), l.max_us))
    });
    Ok(BfdCpu {
        ends: ((a1 - a0) / dt, (b1 - b0) / dt),
        lateness,
    })
}

/// Prints the BFD tables.
pub fn run(runs: usize, cpu_secs: u64, kinds: &[Kind]) -> Result<(), String> {
    println!(
        "\n### Failover with BFD and `bfd_takeover` (link cut, VRRPv3 0.01 s, {runs} runs each)\n"
    );
    println!("| BFD | Detection Time | outage median ms | p95 ms | max ms | min ms | detection late median µs | max µs |");
    println!("|---|---|---|---|---|---|---|---|");
    for (min, detect) in [("1", "3 ms"), ("0.3", "0.9 ms")] {
        let r = outage_series(min, runs)?;
        let s = stats(r.iter().map(|x| x.outage_ms).collect()).ok_or("no samples")?;
        let late: Vec<f64> = r.iter().filter_map(|x| x.late_us).collect();
        let l = stats(late.iter().map(|x| x / 1000.0).collect());
        println!(
            "| {min} ms × 3 | {detect} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
            s.median,
            s.p95,
            s.max,
            s.min,
            l.map_or("-".into(), |l| format!("{:.0}", l.median * 1000.0)),
            l.map_or("-".into(), |l| format!("{:.0}", l.max * 1000.0)),
        );
    }
    let n = 10;
    println!("\n### BFD CPU, {n} sessions, both ends ({cpu_secs} s)\n");
    println!("| daemon | interval | end A % of a core | end B % of a core | µs of CPU per session per second (mean of ends) | transmit lateness mean / p99 < / max µs |");
    println!("|---|---|---|---|---|---|");
    for &kind in kinds {
        for min in ["1", "0.3"] {
            if kind == Kind::Keepalived && min == "0.3" {
                // keepalived 2.2.7 refuses intervals under 1 ms (and keeps 10 ms).
                continue;
            }
            let BfdCpu {
                ends: (ca, cb),
                lateness: lat,
            } = cpu(kind, n, min, cpu_secs)?;
            println!(
                "| {} | {min} ms × 3 | {:.1} | {:.1} | {:.0} | {} |",
                kind.name(),
                ca * 100.0,
                cb * 100.0,
                (ca + cb) / 2.0 * 1e6 / n as f64,
                lat.map_or("-".into(), |(m, p, x)| format!("{m} / {p} / {x}"))
            );
        }
    }
    Ok(())
}
