//! `cargo xtask run`: the demo lab. Builds `ha` and the lab driver (`ha-lab`, in the `tests`
//! package), then runs it as root: network namespaces on a bridge, two `ha` nodes with the
//! bundled keepalived.conf pair, a web server on each, a client probing the VIP every
//! millisecond; the master's link is cut, the client-visible outage printed, the node brought
//! back, then stopped gracefully. Ctrl-C stops the demo and the lab is still removed.

use std::process::Stdio;

use anyhow::{bail, Context, Result};

use crate::{cargo, ha_bin};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Run keepalived 2.2.7 on node 2 instead of ha (a mixed pair on one virtual router).
    #[arg(long)]
    pub keepalived_peer: bool,
}

extern "C" fn ignore(_: libc::c_int) {}

pub fn run(args: &Args) -> Result<u8> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the lab creates network namespaces: run it as root");
    }
    // Debug builds: this is a demo and they build minutes faster on a fresh machine; the
    // engine's timing does not depend on optimisation (see `cargo xtask bench failover`).
    let ha = ha_bin::build_ha(false)?;
    let lab = cargo::build_bin("ha-tests", "ha-lab", false)?;
    // Ctrl-C reaches the whole foreground group: the lab cleans up on it, so xtask itself
    // only waits. A handler (not SIG_IGN) is reset by exec, so the children still see it.
    // SAFETY: installing a handler that does nothing.
    unsafe { libc::signal(libc::SIGINT, ignore as *const () as libc::sighandler_t) };
    let mut cmd = std::process::Command::new(&lab);
    cmd.arg("demo").env("HA_BIN", &ha).stdin(Stdio::null());
    if args.keepalived_peer {
        cmd.arg("--keepalived-peer");
    }
    let status = cmd
        .status()
        .with_context(|| format!("running {}", lab.display()))?;
    Ok(cargo::exit_code(status))
}

/// `cargo xtask bench failover`: release builds (timing is the point), then the lab driver's
/// benchmark with `args`.
pub fn bench_failover(args: &[String]) -> Result<u8> {
    bench_lab("bench-failover", args)
}

/// `cargo xtask bench xdp`: the same way, the lab driver's XDP benchmark.
pub fn bench_xdp(args: &[String]) -> Result<u8> {
    bench_lab("bench-xdp", args)
}

pub fn chaos(args: &[String]) -> Result<u8> {
    bench_lab("chaos", args)
}

pub fn bench_lb(args: &[String]) -> Result<u8> {
    bench_lab("bench-lb", args)
}

fn bench_lab(which: &str, args: &[String]) -> Result<u8> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the benchmark creates network namespaces: run it as root");
    }
    let ha = ha_bin::build_ha(true)?;
    let lab = cargo::build_bin("ha-tests", "ha-lab", true)?;
    // SAFETY: installing a handler that does nothing (see `run`).
    unsafe { libc::signal(libc::SIGINT, ignore as *const () as libc::sighandler_t) };
    let status = std::process::Command::new(&lab)
        .arg(which)
        .args(args)
        .env("HA_BIN", &ha)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("running {}", lab.display()))?;
    Ok(cargo::exit_code(status))
}
