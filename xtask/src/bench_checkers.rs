//! `cargo xtask bench checkers`: the health checkers under load. `ha run -C` (checkers
//! only) checks 10,000 real servers with TCP_CHECK and 2,000 with HTTP_GET, all at
//! `delay_loop 1`, against listeners in a throw-away namespace: one wildcard TCP listener
//! and one small HTTP responder answer for every real-server address (10.1.0.0/16 is local
//! there). Reported: the daemon's CPU (% of one core) and RSS while checking, the lateness
//! of probes against their schedule (p50/p99/max, as the daemon measures it), and how many
//! real servers were up. Then the daemon's RSS on the 40,000-real-server config of
//! `bench config` (probes to unreachable addresses fail at once there).
//!
//! keepalived's checker process cannot run on this kernel (no IPVS: it exits at start), so
//! there is no keepalived row; its figures come from the IPVS VM.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::config_gen::{self, Shape};
use crate::ha_bin;
use crate::netns::NetNs;

#[derive(clap::Args)]
pub struct Args {
    /// Real servers with TCP_CHECK.
    #[arg(long, default_value_t = 10_000)]
    tcp: usize,
    /// Real servers with HTTP_GET.
    #[arg(long, default_value_t = 2_000)]
    http: usize,
    /// Seconds of measurement, after the checkers have settled.
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// Skip the 40,000-real-server memory run.
    #[arg(long)]
    no_memory: bool,
    /// Measure this `ha` binary instead of building one (to compare two versions).
    #[arg(long)]
    ha: Option<PathBuf>,
}

const TCP_PORT: u16 = 80;
const HTTP_PORT: u16 = 8080;
const PER_VS: usize = 100;

fn rs_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 1, (i / 250) as u8, (i % 250 + 1) as u8)
}

fn write_config(args: &Args, path: &Path) -> Result<()> {
    let mut out = String::from("global_defs {\n    router_id ha_bench\n}\n");
    let mut vs = 0;
    let mut block = |out: &mut String, first: usize, n: usize, check: &str| {
        out.push_str(&format!(
            "virtual_server 192.0.2.{} {} {{\n    delay_loop 1\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n",
            vs % 200 + 1,
            1000 + vs / 200
        ));
        for i in first..first + n {
            out.push_str(&format!(
                "    real_server {} {} {{\n        {check}\n    }}\n",
                rs_addr(i),
                1000 + vs / 200
            ));
        }
        out.push_str("}\n");
        vs += 1;
    };
    let tcp = format!("TCP_CHECK {{\n            connect_port {TCP_PORT}\n            connect_timeout 3\n        }}");
    let http = format!(
        "HTTP_GET {{\n            url {{\n                path /\n                status_code 200\n            }}\n            \
         connect_port {HTTP_PORT}\n            connect_timeout 3\n        }}"
    );
    let mut i = 0;
    while i < args.tcp {
        let n = PER_VS.min(args.tcp - i);
        block(&mut out, i, n, &tcp);
        i += n;
    }
    let mut j = 0;
    while j < args.http {
        let n = PER_VS.min(args.http - j);
        // Other addresses than the TCP ones: distinct probes, none merged.
        block(&mut out, args.tcp + j, n, &http);
        j += n;
    }
    std::fs::write(path, out).with_context(|| path.display().to_string())
}

/// Enters namespace `name` (the calling thread only).
fn enter(name: &str) -> Result<()> {
    let f = std::fs::File::open(format!("/var/run/netns/{name}"))
        .with_context(|| format!("namespace {name}"))?;
    // SAFETY: setns on a valid namespace fd; affects only this thread.
    if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        bail!("setns {name}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}

/// The real servers: threads in the namespace accepting on the wildcard address. TCP
/// connections are accepted and closed; HTTP requests get a 200.
fn listeners(ns: &str, stop: Arc<AtomicBool>, served: Arc<AtomicU64>) -> Result<()> {
    for (port, http, threads) in [(TCP_PORT, false, 1), (HTTP_PORT, true, 2)] {
        let (tx, rx) = std::sync::mpsc::channel();
        let name = ns.to_string();
        let st = stop.clone();
        let n = served.clone();
        std::thread::spawn(move || {
            let l = enter(&name).and_then(|()| {
                TcpListener::bind(SocketAddr::from(([0, 0, 0, 0], port)))
                    .with_context(|| format!("listen :{port}"))
            });
            let l = match l {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(Ok(()));
            let l = Arc::new(l);
            let mut handles = Vec::new();
            for _ in 0..threads {
                let (l, st, n) = (l.clone(), st.clone(), n.clone());
                handles.push(std::thread::spawn(move || {
                    while !st.load(Ordering::Relaxed) {
                        let Ok((mut c, _)) = l.accept() else { continue };
                        n.fetch_add(1, Ordering::Relaxed);
                        if http {
                            let _ = c.set_read_timeout(Some(Duration::from_secs(2)));
                            let mut buf = [0u8; 1024];
                            let _ = c.read(&mut buf);
                            let _ = c.write_all(
                                b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
                            );
                        }
                    }
                }));
            }
            for h in handles {
                let _ = h.join();
            }
        });
        rx.recv().context("listener thread")??;
    }
    Ok(())
}

struct Daemon {
    child: Child,
    socket: PathBuf,
    ha: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn start(ns: &NetNs, ha: &Path, config: &Path, dir: &Path, tag: &str) -> Result<Daemon> {
        let socket = dir.join(format!("{tag}.sock"));
        let log = std::fs::File::create(dir.join(format!("{tag}.log")))?;
        let child = ns
            .command(ha)
            .args(["run", "-C", "-f"])
            .arg(config)
            .arg("-S")
            .arg(&socket)
            .env("HA_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting ha")?;
        let d = Daemon {
            child,
            socket,
            ha: ha.to_path_buf(),
        };
        let end = Instant::now() + Duration::from_secs(60);
        while d.status().is_err() {
            if Instant::now() > end {
                bail!(
                    "ha did not come up; see {}",
                    dir.join(format!("{tag}.log")).display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(d)
    }

    fn status(&self) -> Result<serde_json::Value> {
        let out = Command::new(&self.ha)
            .args(["status", "--json", "-S"])
            .arg(&self.socket)
            .output()?;
        if !out.status.success() {
            bail!("ha status failed");
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }

    /// The pid of `ha` itself (`ip netns exec` execs it, so it is the child).
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// (user, system) clock ticks of `pid`, all threads.
fn cpu_ticks(pid: u32) -> Result<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are fields 14 and 15; after the ")" they are the 12th and 13th.
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    Ok((field(11), field(12)))
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

fn up_count(status: &serde_json::Value) -> (usize, usize) {
    let mut up = 0;
    let mut all = 0;
    for vs in status["virtual_servers"].as_array().into_iter().flatten() {
        for rs in vs["real_servers"].as_array().into_iter().flatten() {
            all += 1;
            if rs["alive"].as_bool() == Some(true) {
                up += 1;
            }
        }
    }
    (up, all)
}

/// The kernel's own cost of the TCP probes: one thread in the namespace opens and resets
/// `rate` loopback connections a second, to the same addresses, for `secs`, and reports its
/// CPU (% of one core). On loopback both halves of every handshake (the listener's too) run
/// in the connecting thread, so this is the floor under the daemon's figure.
fn floor(ns: &str, rate: usize, n: usize, secs: u64) -> Result<f64> {
    let ns = ns.to_string();
    std::thread::spawn(move || -> Result<f64> {
        enter(&ns)?;
        let usage = || {
            // SAFETY: getrusage fills the struct we pass.
            let mut u: libc::rusage = unsafe { std::mem::zeroed() };
            unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
            let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
            t(u.ru_utime) + t(u.ru_stime)
        };
        let (start, c0) = (Instant::now(), usage());
        let mut i = 0usize;
        while start.elapsed() < Duration::from_secs(secs) {
            let tick = Instant::now();
            for _ in 0..rate / 100 {
                let dst = SocketAddr::from((rs_addr(i % n), TCP_PORT));
                if let Ok(s) = std::net::TcpStream::connect(dst) {
                    let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
                }
                i += 1;
            }
            std::thread::sleep(Duration::from_millis(10).saturating_sub(tick.elapsed()));
        }
        Ok((usage() - c0) / start.elapsed().as_secs_f64() * 100.0)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("floor thread panicked"))?
}

pub fn run(args: &Args) -> Result<u8> {
    let ha = match &args.ha {
        Some(p) => p.clone(),
        None => ha_bin::build_ha(true)?,
    };
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("ha-bench-checkers-{pid}"));
    std::fs::create_dir_all(&dir)?;
    let ns_name = format!("habenchchk{pid}");
    let ns = NetNs::create(&ns_name)?;
    let ip = |a: &[&str]| {
        Command::new("ip")
            .args(["-n", &ns_name])
            .args(a)
            .status()
            .map(|s| s.success())
    };
    if !ip(&["route", "add", "local", "10.1.0.0/16", "dev", "lo"])? {
        bail!("cannot make 10.1.0.0/16 local in {ns_name}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    listeners(&ns_name, stop.clone(), served.clone())?;

    let config = dir.join("checkers.conf");
    write_config(args, &config)?;
    let d = Daemon::start(&ns, &ha, &config, &dir, "load")?;
    // Warm-up: the first probes are spread over delay_loop; let every one run a few times.
    let settle = Instant::now() + Duration::from_secs(60);
    loop {
        let (up, all) = up_count(&d.status()?);
        if up == all && all > 0 {
            break;
        }
        if Instant::now() > settle {
            eprintln!("xtask: only {up} of {all} real servers up after 60 s");
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let (t0, c0, s0) = (
        Instant::now(),
        cpu_ticks(d.pid())?,
        served.load(Ordering::Relaxed),
    );
    std::thread::sleep(Duration::from_secs(args.secs));
    let (t1, c1, s1) = (
        Instant::now(),
        cpu_ticks(d.pid())?,
        served.load(Ordering::Relaxed),
    );
    let secs = (t1 - t0).as_secs_f64();
    let pct = |ticks: u64| ticks as f64 / hz / secs * 100.0;
    let (user, sys) = (pct(c1.0 - c0.0), pct(c1.1 - c0.1));
    let status = d.status()?;
    let stats = &status["checkers"];
    let (up, all) = up_count(&status);
    let rss = rss_kib(d.pid(), "VmRSS:");
    let hwm = rss_kib(d.pid(), "VmHWM:");
    let probes_per_s = (s1 - s0) as f64 / secs;
    drop(d);
    let floor = if args.tcp > 0 {
        Some(floor(&ns_name, args.tcp, args.tcp, 10)?)
    } else {
        None
    };
    stop.store(true, Ordering::Relaxed);

    println!(
        "checkers: {} TCP_CHECK + {} HTTP_GET real servers at delay_loop 1, {secs:.0} s",
        args.tcp, args.http
    );
    println!("  real servers up          {up} / {all}");
    println!("  connections served       {probes_per_s:.0}/s");
    println!(
        "  ha CPU                   {:.1} % of one core (user {user:.1} %, kernel {sys:.1} %)",
        user + sys
    );
    if let Some(f) = floor {
        println!(
            "  floor: {} bare connect+reset/s   {f:.1} % of one core (the kernel's share, both ends)",
            args.tcp
        );
    }
    println!(
        "  ha RSS                   {:.1} MiB (peak {:.1} MiB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!(
        "  probe lateness           p50 {} us, p99 {} us, max {} us",
        stats["lateness_p50_us"], stats["lateness_p99_us"], stats["lateness_max_us"]
    );

    if !args.no_memory {
        // The 40,000-real-server config of `bench config`, VRRP left out (-C).
        let shape = Shape {
            instances: 1000,
            interfaces: 4,
            virtual_servers: 2000,
            real_servers_per_vs: 20,
        };
        let big = dir.join("big.conf");
        let mut f = std::io::BufWriter::new(std::fs::File::create(&big)?);
        config_gen::write_config(&shape, &mut f)?;
        f.flush()?;
        drop(f);
        let d = Daemon::start(&ns, &ha, &big, &dir, "big")?;
        std::thread::sleep(Duration::from_secs(10));
        let rss = rss_kib(d.pid(), "VmRSS:");
        let hwm = rss_kib(d.pid(), "VmHWM:");
        println!(
            "  40,000 real servers (bench config): RSS {:.1} MiB, peak {:.1} MiB",
            rss as f64 / 1024.0,
            hwm as f64 / 1024.0
        );
    }
    drop(ns);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(0)
}
