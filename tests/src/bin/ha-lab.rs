//! The demo lab behind `cargo xtask run`: two `ha` nodes with the bundled keepalived.conf
//! pair on a bridge, a web server on each, a client probing the VIP every millisecond. It
//! shows who is MASTER, cuts the master's link, prints the outage the client saw and the new
//! MASTER, brings the node back, stops it gracefully, and removes everything, also on Ctrl-C.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use ha::units::{Centis, Priority};
use ha::vrrp::timers::{master_down_interval, skew_time, Version};
use ha_tests::daemon::{Daemon, Kind};
use ha_tests::lab::{delete_stale, Lab, VIP4};
use ha_tests::probe::{self, longest_gap, Prober, ECHO_PORT, HTTP_PORT};
use ha_tests::{can_run, wait_until};

const NODE1: &str = include_str!("../../../ha-userspace/examples/lab/node1.conf");
const NODE2: &str = include_str!("../../../ha-userspace/examples/lab/node2.conf");
const INSTANCE: &str = "web";

#[derive(Parser)]
#[command(name = "ha-lab", about = "The ha demo lab (run by `cargo xtask run`)")]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the demo (the default).
    Demo {
        /// Use keepalived instead of ha on node 2 (a mixed pair).
        #[arg(long)]
        keepalived_peer: bool,
    },
    /// The failover benchmark (`cargo xtask bench failover`): ha and keepalived side by side.
    BenchFailover {
        /// Events per series.
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Only one part: outage, cpu, stability, handover, reload or bfd.
        #[arg(long)]
        only: Option<String>,
        /// Only one daemon: ha or keepalived.
        #[arg(long)]
        daemon: Option<String>,
        /// Seconds of the stability window.
        #[arg(long, default_value_t = 60)]
        stability_secs: u64,
        /// Seconds of the CPU window.
        #[arg(long, default_value_t = 20)]
        cpu_secs: u64,
    },
    /// The XDP benchmark (`cargo xtask bench xdp`): ns/packet per path, and the backup's
    /// CPU on the XDP path, the raw-socket path and keepalived.
    BenchXdp {
        /// Seconds of each CPU window.
        #[arg(long, default_value_t = 20)]
        cpu_secs: u64,
        /// Only one daemon: ha or keepalived.
        #[arg(long)]
        daemon: Option<String>,
        /// Only one part: ns (per packet) or cpu (the daemons receiving).
        #[arg(long)]
        only: Option<String>,
    },
    /// The load-balancer benchmark (`cargo xtask bench lb`): Mpps of the XDP forwarder,
    /// the kernel's nftables DNAT path and the XDP_TX ceiling on one core; ns/packet.
    BenchLb {
        /// Live frames per run.
        #[arg(long, default_value_t = 3_000_000)]
        frames: u32,
        /// Runs per row.
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The chaos harness (`cargo xtask chaos`): three nodes, a client sampling who
    /// answers for the VIP, a seeded run of faults; exits 1 on any violation.
    Chaos {
        /// Faults in the run.
        #[arg(long, default_value_t = 50)]
        faults: usize,
        /// The seed (default: from the clock, printed, so the run can be replayed).
        #[arg(long)]
        seed: Option<u64>,
        /// The third node runs keepalived 2.2.7.
        #[arg(long)]
        keepalived: bool,
        /// The test suite's loose time bounds instead of the issue's.
        #[arg(long)]
        loose: bool,
    },
    /// Serve UDP echo and HTTP as NAME (runs inside a node's namespace).
    #[command(hide = true)]
    Serve {
        name: String,
        /// Realtime priority (benchmark instruments).
        #[arg(long)]
        rt: bool,
    },
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

fn main() -> std::process::ExitCode {
    let r = match Cli::parse().cmd {
        Some(Cmd::Serve { name, rt }) => {
            probe::INSTRUMENT_RT.store(rt, Ordering::Relaxed);
            probe::serve(&name).map_err(anyhow::Error::from)
        }
        Some(Cmd::Demo { keepalived_peer }) => demo(keepalived_peer),
        Some(Cmd::Chaos {
            faults,
            seed,
            keepalived,
            loose,
        }) => chaos(faults, seed, keepalived, loose),
        Some(Cmd::BenchFailover {
            runs,
            only,
            daemon,
            stability_secs,
            cpu_secs,
        }) => bench_failover(runs, only, daemon, stability_secs, cpu_secs),
        Some(Cmd::BenchXdp {
            cpu_secs,
            daemon,
            only,
        }) => bench_xdp(cpu_secs, daemon, only),
        Some(Cmd::BenchLb { frames, runs }) => {
            if !can_run("the LB benchmark") {
                Err(anyhow::anyhow!(
                    "the benchmark needs root (BPF, network namespaces)"
                ))
            } else {
                ha_tests::lb_bench::run_bench(frames, runs).map_err(anyhow::Error::msg)
            }
        }
        None => demo(false),
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ha-lab: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `--daemon ha|keepalived`, or both.
fn kinds(daemon: Option<&str>) -> Result<Vec<Kind>> {
    Ok(match daemon {
        None => vec![Kind::Ha, Kind::Keepalived],
        Some("ha") => vec![Kind::Ha],
        Some("keepalived") => vec![Kind::Keepalived],
        Some(other) => bail!("--daemon {other}: expected ha or keepalived"),
    })
}

fn bench_xdp(cpu_secs: u64, daemon: Option<String>, only: Option<String>) -> Result<()> {
    if !can_run("the XDP benchmark") {
        bail!("the benchmark needs root (BPF, network namespaces)");
    }
    let (ns, cpu) = match only.as_deref() {
        None => (true, true),
        Some("ns") => (true, false),
        Some("cpu") => (false, true),
        Some(other) => bail!("--only {other}: expected ns or cpu"),
    };
    delete_stale("hab");
    let kinds = kinds(daemon.as_deref())?;
    ha_tests::xdp_bench::run(cpu_secs, &kinds, ha_tests::xdp_bench::Parts { ns, cpu })
        .map_err(anyhow::Error::msg)
}

fn bench_failover(
    runs: usize,
    only: Option<String>,
    daemon: Option<String>,
    stability_secs: u64,
    cpu_secs: u64,
) -> Result<()> {
    if !can_run("the failover benchmark") {
        bail!("the benchmark needs root (network namespaces)");
    }
    delete_stale("hab");
    let kinds = kinds(daemon.as_deref())?;
    if let Some(o) = only.as_deref() {
        if !["outage", "cpu", "stability", "handover", "reload", "bfd"].contains(&o) {
            bail!("--only {o}: expected outage, cpu, stability, handover, reload or bfd");
        }
    }
    let opts = ha_tests::bench::Options {
        runs,
        only,
        kinds,
        stability_secs,
        cpu_secs,
    };
    ha_tests::bench::run(&opts).map_err(anyhow::Error::msg)
}

fn interrupted() -> Result<()> {
    if STOP.load(Ordering::SeqCst) {
        bail!("interrupted: cleaning up the lab");
    }
    Ok(())
}

/// Sleeps in small steps so Ctrl-C is noticed.
fn pause(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        interrupted()?;
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

fn demo(keepalived_peer: bool) -> Result<()> {
    if !can_run("the lab") {
        bail!("the lab needs root (network namespaces)");
    }
    for s in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: installing an async-signal-safe handler (one atomic store).
        unsafe { libc::signal(s, on_signal as *const () as libc::sighandler_t) };
    }
    delete_stale("halab");
    println!("== building the lab: switch, node1, node2, client (network namespaces)");
    let lab = Lab::new("lab", 2, true).map_err(anyhow::Error::msg)?;
    let client = lab.client.clone().context("client node")?;
    let me = std::env::current_exe()?;
    let mut servers: Vec<Child> = Vec::new();
    for n in &lab.nodes {
        servers.push(
            n.command(&me)
                .args(["serve", &n.name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
    }
    let result = run_demo(&lab, &client.ns, keepalived_peer);
    for mut s in servers {
        let _ = s.kill();
        let _ = s.wait();
    }
    println!("== cleaning up: namespaces removed");
    drop(lab);
    result
}

fn run_demo(lab: &Lab, client_ns: &str, keepalived_peer: bool) -> Result<()> {
    let vip = IpAddr::V4(VIP4);
    println!("== starting ha on node1 (priority 150) and node2 (priority 100)");
    println!(
        "   config pair: ha-userspace/examples/lab/node{{1,2}}.conf (VRRPv3, advert_int 0.05)"
    );
    let mut n1 = Daemon::start(lab, &lab.nodes[0], Kind::Ha, NODE1);
    let peer = if keepalived_peer {
        Kind::Keepalived
    } else {
        Kind::Ha
    };
    let n2 = Daemon::start(lab, &lab.nodes[1], peer, NODE2);
    let elected = wait_until(Duration::from_secs(10), || {
        n1.state(INSTANCE).as_deref() == Some("MASTER") && lab.holders(vip) == ["n1"]
    });
    interrupted()?;
    if !elected {
        bail!("no master elected:\n{}", n1.log_text());
    }
    show(&n1, &n2);
    println!(
        "== client: GET http://{VIP4}:{HTTP_PORT}/ -> {}",
        http_get(client_ns)?
    );

    let target = SocketAddr::new(vip, ECHO_PORT);
    let prober = Prober::start_in(client_ns, target, Duration::from_millis(1))?;
    pause(Duration::from_millis(500))?;

    println!("== cutting node1's link (hard failure)");
    let t = Instant::now();
    lab.cut(&lab.nodes[0]).map_err(anyhow::Error::msg)?;
    await_server(&prober, "n2", t)?;
    pause(Duration::from_millis(300))?;
    report(&prober, t, "link cut");
    let (skew, down) = bounds();
    println!(
        "   RFC 5798 bound for node2: Master_Down_Interval = 3 x 50 ms + Skew_Time {skew:.1} ms = {down:.1} ms after node1's last advert"
    );
    show(&n1, &n2);
    println!(
        "== client: GET http://{VIP4}:{HTTP_PORT}/ -> {}",
        http_get(client_ns)?
    );

    println!("== bringing node1 back: it preempts (priority 150 > 100)");
    let t = Instant::now();
    lab.restore(&lab.nodes[0]).map_err(anyhow::Error::msg)?;
    await_server(&prober, "n1", t)?;
    pause(Duration::from_millis(300))?;
    report(&prober, t, "return and preemption");

    println!("== reloading node1 with a changed config (SIGHUP: priority 150 -> 160)");
    let t = Instant::now();
    std::fs::write(&n1.config, NODE1.replace("priority 150", "priority 160"))?;
    n1.signal(libc::SIGHUP);
    let reloaded = wait_until(Duration::from_secs(5), || {
        n1.instance(INSTANCE)
            .is_some_and(|i| i.effective_priority == Priority(160))
    });
    interrupted()?;
    if !reloaded {
        bail!("node1 did not apply the reload:\n{}", n1.log_text());
    }
    pause(Duration::from_millis(300))?;
    report(&prober, t, "reload");
    println!("   node1 stayed MASTER: the changed instance was updated in place");

    println!("== stopping ha on node1 gracefully (SIGTERM: priority-0 advert, VIP released)");
    let t = Instant::now();
    n1.stop();
    await_server(&prober, "n2", t)?;
    pause(Duration::from_millis(300))?;
    report(&prober, t, "graceful stop");
    println!(
        "   RFC 5798 bound for node2: Skew_Time {:.1} ms after the priority-0 advert",
        bounds().0
    );
    show(&n1, &n2);
    println!(
        "== probes sent: {}, answered: {}",
        prober.sent.load(Ordering::Relaxed),
        prober.snapshot().len()
    );
    Ok(())
}

/// Skew_Time and Master_Down_Interval of node2 (priority 100, advert_int 0.05, VRRPv3) in
/// ms, with keepalived's arithmetic.
fn bounds() -> (f64, f64) {
    let int = Centis(5);
    let skew = skew_time(Version::V3, Priority(100), int).0 as f64 / 1000.0;
    let down = master_down_interval(Version::V3, Priority(100), int, 3).0 as f64 / 1000.0;
    (skew, down)
}

/// Waits until the prober hears `node` answer after `since`.
fn await_server(prober: &Prober, node: &str, since: Instant) -> Result<()> {
    let ok = wait_until(Duration::from_secs(15), || {
        STOP.load(Ordering::SeqCst)
            || prober
                .snapshot()
                .iter()
                .any(|a| a.at > since && a.node == node)
    });
    interrupted()?;
    if !ok {
        bail!("{node} never answered on the VIP");
    }
    Ok(())
}

fn report(prober: &Prober, since: Instant, what: &str) {
    match longest_gap(&prober.snapshot(), since) {
        Some((gap, before, after)) if before == after => println!(
            "== {what}: no outage; the longest gap between answers was {:.1} ms (1 ms probes; both ends of it answered by {after})",
            gap.as_secs_f64() * 1000.0
        ),
        Some((gap, before, after)) => println!(
            "== {what}: client-visible outage {:.1} ms ({before} -> {after}), measured by a 1 ms prober",
            gap.as_secs_f64() * 1000.0
        ),
        None => println!("== {what}: no answers recorded"),
    }
}

fn show(n1: &Daemon, n2: &Daemon) {
    for d in [n1, n2] {
        let state = match d.kind {
            Kind::Ha => d.state(INSTANCE).unwrap_or_else(|| "stopped".into()),
            Kind::Keepalived => {
                if d.holds(IpAddr::V4(VIP4)) {
                    "MASTER (holds the VIP)".into()
                } else {
                    "not holding the VIP".into()
                }
            }
        };
        println!(
            "   {} ({}): {INSTANCE} is {state}",
            d.node.name,
            d.kind.name()
        );
    }
}

/// GET / on the VIP from the client namespace.
fn http_get(client_ns: &str) -> Result<String> {
    let ns = client_ns.to_owned();
    std::thread::spawn(move || -> Result<String> {
        probe::enter_netns(&ns)?;
        let mut s = TcpStream::connect_timeout(
            &SocketAddr::new(IpAddr::V4(VIP4), HTTP_PORT),
            Duration::from_secs(3),
        )?;
        s.set_read_timeout(Some(Duration::from_secs(3)))?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
        let mut body = String::new();
        s.read_to_string(&mut body)?;
        Ok(body
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .trim()
            .to_owned())
    })
    .join()
    .map_err(|_| anyhow::anyhow!("http thread panicked"))?
}

/// `ha-lab chaos`: one run, its report, and exit 1 on a violation.
fn chaos(faults: usize, seed: Option<u64>, keepalived: bool, loose: bool) -> Result<()> {
    use ha_tests::chaos::{run, Bounds, Options, PACE};
    if !can_run("the chaos harness") {
        anyhow::bail!("the chaos harness needs root (network namespaces, BPF)");
    }
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    println!("chaos: seed {seed} (replay with --seed {seed}), {faults} faults");
    let opts = Options {
        faults,
        seed,
        keepalived,
        server: std::env::current_exe()?,
        bounds: if loose { Bounds::LOOSE } else { Bounds::STRICT },
        pace: PACE,
    };
    let report = run(&opts).map_err(anyhow::Error::msg)?;
    print!("{}", report.render());
    if !report.violations.is_empty() {
        anyhow::bail!(
            "{} violation(s); replay with --seed {seed}",
            report.violations.len()
        );
    }
    Ok(())
}
