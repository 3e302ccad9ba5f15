//! Measurements taken inside the VM by `/init` (`ha-vm-init bench-start` / `flip`), for
//! `cargo xtask bench ipvs`: reading the kernel's table over netlink every millisecond or
//! so, far finer than a shell loop of ipvsadm under TCG.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ha::config::model::lvs::virtual_server::Protocol;
use ha::daemon::lb::ipvs::IpvsBackend;
use ha::lb::{LbSettings, ServiceKey};

fn ipvs() -> Result<IpvsBackend> {
    IpvsBackend::open(LbSettings::default()).context("opening IPVS")
}

/// Starts `cmd` (output to `log`, pid to `pidfile`) and returns how long until the kernel
/// holds `services` services with `dests` destinations each.
pub fn start_and_wait(
    services: usize,
    dests: usize,
    pidfile: &str,
    log: &str,
    cmd: &[String],
) -> Result<Duration> {
    let mut ipvs = ipvs()?;
    let out = std::fs::File::create(log)?;
    let t0 = Instant::now();
    let child = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdout(Stdio::from(out.try_clone()?))
        .stderr(Stdio::from(out))
        .spawn()
        .with_context(|| format!("starting {}", cmd[0]))?;
    std::fs::write(pidfile, child.id().to_string())?;
    // Destinations only arrive during start: a service once complete is not read again.
    let mut complete: BTreeSet<ServiceKey> = BTreeSet::new();
    while t0.elapsed() < Duration::from_secs(600) {
        let keys = ipvs.services()?;
        for (k, _) in &keys {
            if !complete.contains(k) && ipvs.dests(k)?.len() >= dests {
                complete.insert(*k);
            }
        }
        if complete.len() >= services {
            return Ok(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    bail!(
        "{} of {services} services complete after 600 s",
        complete.len()
    )
}

/// Writes `value` to `file` (a FILE_CHECK's track file) and returns how long until
/// `dest` is gone from (`present` false) or back in `service`.
pub fn flip(
    file: &str,
    value: &str,
    service: SocketAddr,
    dest: SocketAddr,
    present: bool,
) -> Result<Duration> {
    let mut ipvs = ipvs()?;
    let key = ServiceKey::Addr {
        protocol: Protocol::Tcp,
        addr: service,
    };
    // The cost of one look at the table: the measurement's resolution.
    let p0 = Instant::now();
    for _ in 0..10 {
        ipvs.dests(&key)?;
    }
    eprintln!("poll_us {}", p0.elapsed().as_micros() / 10);
    let t0 = Instant::now();
    std::fs::write(file, format!("{value}\n"))?;
    while t0.elapsed() < Duration::from_secs(60) {
        let there = ipvs
            .dests(&key)?
            .iter()
            .any(|(a, d, _)| *a == dest && d.weight > 0);
        if there == present {
            return Ok(t0.elapsed());
        }
    }
    bail!(
        "{dest} never {} in {service}",
        if present { "came back" } else { "left" }
    )
}
