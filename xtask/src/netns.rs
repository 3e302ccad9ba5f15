//! A network namespace that deletes itself: benchmarks run keepalived and ha where the
//! interfaces their configs name exist, without touching the host's network.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::deps::find_program;

/// `ip netns add NAME` on creation, `ip netns del NAME` on drop — also when a benchmark fails
/// half-way, so no namespace (and no veth in it) is left behind.
pub struct NetNs {
    name: String,
    ip: PathBuf,
}

impl NetNs {
    /// Creates namespace `name` with its loopback up.
    pub fn create(name: &str) -> Result<NetNs> {
        let ip = find_program("ip").context("`ip` (iproute2) not found")?;
        run(&ip, &["netns", "add", name])
            .with_context(|| format!("creating network namespace {name}"))?;
        // From here on, Drop cleans up.
        let ns = NetNs {
            name: name.to_owned(),
            ip,
        };
        ns.ip_in(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Adds an up interface `dev` (a veth whose peer `<dev>p` stays down in the same namespace).
    /// veth rather than dummy: this kernel has no dummy driver ("Unknown device type").
    pub fn add_interface(&self, dev: &str) -> Result<()> {
        let peer = format!("{dev}p");
        self.ip_in(&["link", "add", dev, "type", "veth", "peer", "name", &peer])
            .with_context(|| format!("adding veth {dev} in namespace {}", self.name))?;
        self.ip_in(&["link", "set", dev, "up"])
    }

    /// `ip netns exec NAME program`: the program runs in the namespace, with /sys remounted for
    /// it, as a person would run it.
    pub fn command(&self, program: &std::path::Path) -> Command {
        let mut cmd = Command::new(&self.ip);
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }

    /// `ip -n NAME ARGS`.
    fn ip_in(&self, args: &[&str]) -> Result<()> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run(&self.ip, &full)
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if let Err(e) = run(&self.ip, &["netns", "del", &self.name]) {
            eprintln!(
                "xtask: warning: could not delete network namespace {}: {e:#} (run `ip netns del {}`)",
                self.name, self.name
            );
        }
    }
}

/// Runs `ip ARGS`, failing with ip's own message.
fn run(ip: &std::path::Path, args: &[&str]) -> Result<()> {
    let out = Command::new(ip)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running ip")?;
    if !out.status.success() {
        bail!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}
