//! A bridge lab: a "switch" namespace with a bridge, N node namespaces each with `eth0`
//! plugged into it (and optionally `eth1` on a second bridge), and optionally a client
//! namespace. Cutting a node's bridge port is a hard failure as the node sees it: carrier
//! loss, no packets either way.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use ha::daemon::control::default_socket;
use ha::daemon::run::pin_dir;

use crate::run;

/// One machine of the lab.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub ns: String,
    /// 192.0.2.(i+1)
    pub ip4: Ipv4Addr,
    /// 2001:db8::(i+1)
    pub ip6: Ipv6Addr,
    /// Its port on the switch bridge.
    port: String,
}

pub struct Lab {
    pub prefix: String,
    pub sw: String,
    pub nodes: Vec<Node>,
    pub client: Option<Node>,
    pub dir: PathBuf,
}

/// The VIPs the tests and the demo use.
pub const VIP4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
pub const VIP4_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 101);
pub const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x100);

impl Lab {
    /// `nodes` machines, plus a client if asked. `tag` makes names readable in `ip netns`.
    pub fn new(tag: &str, nodes: usize, client: bool) -> Result<Lab, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let prefix = format!(
            "ha{}{}{}",
            tag.chars().take(6).collect::<String>(),
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(&prefix);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let sw = format!("{prefix}-sw");
        let mut lab = Lab {
            prefix: prefix.clone(),
            sw: sw.clone(),
            nodes: Vec::new(),
            client: None,
            dir,
        };
        ensure_pin_fs();
        add_ns(&sw)?;
        ip(&sw, &["link", "add", "br0", "type", "bridge"])?;
        // Forward at once (no STP listening delay) and do not snoop multicast: VRRP uses
        // link-local multicast the bridge must flood.
        ip(
            &sw,
            &[
                "link",
                "set",
                "br0",
                "type",
                "bridge",
                "forward_delay",
                "0",
                "mcast_snooping",
                "0",
            ],
        )?;
        ip(&sw, &["link", "set", "br0", "up"])?;
        for i in 0..nodes {
            let n = lab.add_node(&format!("n{}", i + 1), i as u8 + 1)?;
            lab.nodes.push(n);
        }
        if client {
            lab.client = Some(lab.add_node("client", 200)?);
        }
        Ok(lab)
    }

    fn add_node(&self, name: &str, host: u8) -> Result<Node, String> {
        let ns = format!("{}-{name}", self.prefix);
        add_ns(&ns)?;
        for k in ["all", "default"] {
            sysctl(&ns, &format!("net.ipv6.conf.{k}.accept_dad"), "0")?;
        }
        let port = format!("p{name}");
        ip(
            &self.sw,
            &[
                "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ],
        )?;
        ip(&self.sw, &["link", "set", &port, "master", "br0", "up"])?;
        sysctl(&ns, "net.ipv6.conf.eth0.accept_dad", "0")?;
        let ip4 = Ipv4Addr::new(192, 0, 2, host);
        let ip6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(host));
        ip(&ns, &["addr", "add", &format!("{ip4}/24"), "dev", "eth0"])?;
        ip(
            &ns,
            &["addr", "add", &format!("{ip6}/64"), "dev", "eth0", "nodad"],
        )?;
        ip(&ns, &["link", "set", "eth0", "up"])?;
        ip(&ns, &["link", "set", "lo", "up"])?;
        Ok(Node {
            name: name.to_owned(),
            ns,
            ip4,
            ip6,
            port,
        })
    }

    /// Hard failure: the node's switch port goes down (the node loses carrier).
    pub fn cut(&self, node: &Node) -> Result<(), String> {
        ip(&self.sw, &["link", "set", &node.port, "down"])
    }

    pub fn restore(&self, node: &Node) -> Result<(), String> {
        ip(&self.sw, &["link", "set", &node.port, "up"])
    }

    /// Split brain: the node's port leaves the bridge but keeps its carrier, so the node
    /// hears nobody and nobody hears it.
    pub fn isolate(&self, node: &Node) -> Result<(), String> {
        ip(&self.sw, &["link", "set", &node.port, "nomaster"])
    }

    pub fn rejoin(&self, node: &Node) -> Result<(), String> {
        ip(&self.sw, &["link", "set", &node.port, "master", "br0"])
    }

    /// Bridge port isolation (`bridge link set ... isolated`): isolated ports do not hear
    /// each other, but still hear the others (the client's).
    pub fn set_isolated(&self, node: &Node, on: bool) -> Result<(), String> {
        run(
            "bridge",
            &[
                "-n",
                &self.sw,
                "link",
                "set",
                "dev",
                &node.port,
                "isolated",
                if on { "on" } else { "off" },
            ],
        )
        .map(drop)
    }

    /// A file in the lab's scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write lab file");
        p
    }

    /// The nodes holding `addr` right now.
    pub fn holders(&self, addr: IpAddr) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.has_addr(addr))
            .map(|n| n.name.clone())
            .collect()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Node {
    /// Whether `addr` is configured on any interface of the node.
    pub fn has_addr(&self, addr: IpAddr) -> bool {
        let out = run("ip", &["-n", &self.ns, "-o", "addr", "show"]).unwrap_or_default();
        let want = format!(" {addr}/");
        out.lines().any(|l| l.contains(&want))
    }

    /// A command run inside the node's namespace.
    pub fn command(&self, program: &Path) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).arg(program);
        c
    }

    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        ip(&self.ns, args)
    }

    /// The MAC address of the node's `eth0`.
    pub fn mac(&self) -> Result<[u8; 6], String> {
        let text = run(
            "ip",
            &[
                "netns",
                "exec",
                &self.ns,
                "cat",
                "/sys/class/net/eth0/address",
            ],
        )?;
        let parts: Vec<u8> = text
            .trim()
            .split(':')
            .map(|p| u8::from_str_radix(p, 16))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: eth0's MAC {text:?}: {e}", self.name))?;
        parts
            .try_into()
            .map_err(|_| format!("{}: eth0's MAC {text:?} is not 6 bytes", self.name))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let mut all: Vec<String> = self.nodes.iter().map(|n| n.ns.clone()).collect();
        all.extend(self.client.iter().map(|n| n.ns.clone()));
        all.push(self.sw.clone());
        for ns in &all {
            kill_all_in(ns);
        }
        for ns in &all {
            let _ = run("ip", &["netns", "del", ns]);
        }
        remove_pins(&self.dir, &all);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Daemons of a lab pin their XDP links (fencing, see README) in a bpffs under a folder
/// named after their control socket, which is in the lab folder. `ip netns exec` gives each
/// a private /sys, so the pins go to /run/ha/bpf: mounted here, in the host's mount
/// namespace, they outlive a killed daemon as on a real host.
fn ensure_pin_fs() {
    let _ = std::fs::create_dir_all("/run/ha/bpf");
    let mounted = std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split_whitespace().nth(1) == Some("/run/ha/bpf"));
    if !mounted {
        let _ = run("mount", &["-t", "bpf", "bpf", "/run/ha/bpf"]);
    }
}

/// Unpins what the lab's daemons left pinned (every test ends by killing them): removing a
/// pin releases the link and the program it held. The folders are named after the control
/// sockets (the daemon's `pin_dir`): those in the lab folder, and the default ones of
/// daemons started without `-S` in the lab's namespaces (`/run/ha/ha_NS.sock`, e.g. as
/// `keepalived`).
fn remove_pins(lab_dir: &Path, namespaces: &[String]) {
    let in_lab = format!("{}_", pin_dir(lab_dir));
    let defaults: Vec<String> = namespaces
        .iter()
        .map(|ns| pin_dir(&default_socket(None, Some(ns))))
        .collect();
    for root in ["/run/ha/bpf/ha", "/sys/fs/bpf/ha"] {
        let Ok(entries) = std::fs::read_dir(root) else {
            continue;
        };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(&in_lab) || defaults.contains(&name) {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// SIGKILLs whatever still runs in a namespace.
pub fn kill_all_in(ns: &str) {
    if let Ok(pids) = run("ip", &["netns", "pids", ns]) {
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            // SAFETY: kill(2) on a pid listed in the namespace.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

/// Deletes namespaces left behind by an earlier run killed before it could clean up.
pub fn delete_stale(prefix: &str) {
    if let Ok(list) = run("ip", &["netns", "list"]) {
        for ns in list
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|n| n.starts_with(prefix))
        {
            kill_all_in(ns);
            let _ = run("ip", &["netns", "del", ns]);
        }
    }
}

fn add_ns(ns: &str) -> Result<(), String> {
    run("ip", &["netns", "add", ns])?;
    ip(ns, &["link", "set", "lo", "up"])
}

pub fn ip(ns: &str, args: &[&str]) -> Result<(), String> {
    let mut full = vec!["-n", ns];
    full.extend_from_slice(args);
    run("ip", &full).map(drop)
}

fn sysctl(ns: &str, key: &str, value: &str) -> Result<(), String> {
    let path = format!("/proc/sys/{}", key.replace('.', "/"));
    run(
        "ip",
        &[
            "netns",
            "exec",
            ns,
            "sh",
            "-c",
            &format!("echo {value} > {path}"),
        ],
    )
    .map(drop)
}
