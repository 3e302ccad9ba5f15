//! A network namespace owned by a test: created with a unique name, deleted on drop (also
//! when the test panics), so tests never touch the host's network.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A namespace with `lo` up and, for each name, one end of a veth pair (the other end
    /// also stays inside the namespace), up.
    pub fn new(tag: &str, interfaces: &[&str]) -> Result<Self, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "ha-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        for (i, ifname) in interfaces.iter().enumerate() {
            let peer = format!("hapeer{i}");
            ns.ip(&["link", "add", ifname, "type", "veth", "peer", "name", &peer])?;
            ns.ip(&["link", "set", ifname, "up"])?;
            ns.ip(&["link", "set", &peer, "up"])?;
        }
        Ok(ns)
    }

    /// `ip -n NS args...`
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A namespace for running keepalived next to ha, or `None` with a visible SKIPPED line when
/// this machine cannot (not root, no keepalived); under CI that is a failure.
pub fn for_keepalived(tag: &str, interfaces: &[&str]) -> Option<Netns> {
    use super::gate::{need_program, need_root};
    if !need_root(tag) || !need_program(tag, "keepalived", "keepalived") {
        return None;
    }
    match Netns::new(tag, interfaces) {
        Ok(ns) => Some(ns),
        Err(e) => panic!("cannot create a network namespace: {e}"),
    }
}
