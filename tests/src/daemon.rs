//! A VRRP daemon running in a lab node: `ha run` or keepalived 2.2.7, with its log in the
//! lab directory. Dropping it kills it.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use ha::daemon::control::{self, Reply, Request};
use ha::daemon::status::{InstanceStatus, Status};

use crate::lab::{Lab, Node};
use crate::{ha_bin, wait_until};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ha,
    Keepalived,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ha => "ha",
            Kind::Keepalived => "keepalived",
        }
    }
}

pub struct Daemon {
    pub kind: Kind,
    pub node: Node,
    pub config: PathBuf,
    pub socket: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
    /// keepalived's pid files (`-p -r -b -c`), removed when it is killed.
    pid_files: Vec<PathBuf>,
}

impl Daemon {
    /// Starts `kind` on `node` with `config` (written to the lab directory). `ha` runs with
    /// the XDP fast path unless `HA_TEST_NO_XDP` is set (the raw-socket path then passes
    /// the same tests).
    pub fn start(lab: &Lab, node: &Node, kind: Kind, config: &str) -> Daemon {
        let no_xdp = std::env::var_os("HA_TEST_NO_XDP").is_some();
        Daemon::start_with(
            lab,
            node,
            kind,
            config,
            if no_xdp { &["--no-xdp"] } else { &[] },
        )
    }

    /// [`Daemon::start`] with extra `ha run` arguments.
    pub fn start_with(lab: &Lab, node: &Node, kind: Kind, config: &str, extra: &[&str]) -> Daemon {
        Daemon::start_wrapped(lab, node, kind, config, &[], extra)
    }

    /// [`Daemon::start_with`] run under `wrapper` (a command that execs the rest, e.g.
    /// `setpriv` with fewer capabilities).
    pub fn start_wrapped(
        lab: &Lab,
        node: &Node,
        kind: Kind,
        config: &str,
        wrapper: &[&str],
        extra: &[&str],
    ) -> Daemon {
        let tag = format!("{}-{}", node.name, kind.name());
        let conf = lab.write(&format!("{tag}.conf"), config);
        let socket = lab.path(&format!("{tag}.sock"));
        let log = lab.path(&format!("{tag}.log"));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let program = match wrapper.first() {
            Some(w) => std::path::PathBuf::from(w),
            None => ha_bin(),
        };
        let mut base = node.command(&program);
        if !wrapper.is_empty() {
            base.args(&wrapper[1..]).arg(ha_bin());
        }
        let pid_files: Vec<PathBuf> = match kind {
            Kind::Ha => Vec::new(),
            Kind::Keepalived => ["pid", "vrrp.pid", "bfd.pid", "check.pid"]
                .iter()
                .map(|ext| lab.path(&format!("{tag}.{ext}")))
                .collect(),
        };
        let child = match kind {
            Kind::Ha => base
                .arg("run")
                .arg("-f")
                .arg(&conf)
                .arg("-S")
                .arg(&socket)
                .arg("--dump-dir")
                .arg(lab.dir())
                .args(extra)
                .env("HA_LOG", "debug")
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn(),
            Kind::Keepalived => node
                .command(std::path::Path::new("keepalived"))
                // With BFD sessions: its BFD process too (`--vrrp` runs VRRP alone).
                .args(if config.contains("bfd_instance") {
                    &["-n", "-l", "-D", "-f"][..]
                } else {
                    &["-n", "-l", "-D", "--vrrp", "-f"][..]
                })
                .arg(&conf)
                .arg("-p")
                .arg(&pid_files[0])
                .arg("-r")
                .arg(&pid_files[1])
                .arg("-b")
                .arg(&pid_files[2])
                .arg("-c")
                .arg(&pid_files[3])
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn(),
        }
        .expect("start daemon");
        let d = Daemon {
            kind,
            node: node.clone(),
            config: conf,
            socket,
            log,
            child: Some(child),
            pid_files,
        };
        if kind == Kind::Ha {
            let up = wait_until(Duration::from_secs(10), || d.status().is_some());
            assert!(up, "ha did not come up on {}:\n{}", node.name, d.log_text());
        }
        d
    }

    /// Context switches of ha's VRRP engine thread so far (voluntary + involuntary): every
    /// time it woke up.
    pub fn engine_wakeups(&self) -> Option<u64> {
        let pid = self.pid()?;
        for t in std::fs::read_dir(format!("/proc/{pid}/task"))
            .ok()?
            .flatten()
        {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if comm.trim() != "vrrp-engine" {
                continue;
            }
            let status = std::fs::read_to_string(t.path().join("status")).ok()?;
            return Some(
                status
                    .lines()
                    .filter(|l| l.contains("ctxt_switches"))
                    .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                    .sum(),
            );
        }
        None
    }

    /// The daemon's pid (`ip netns exec` execs it, so the child's pid is the daemon's).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `ha status` over the control socket (ha only).
    pub fn status(&self) -> Option<Status> {
        if self.kind != Kind::Ha {
            return None;
        }
        match control::request(&self.socket, &Request::Status) {
            Ok(Reply {
                status: Some(s), ..
            }) => Some(s),
            _ => None,
        }
    }

    pub fn instance(&self, name: &str) -> Option<InstanceStatus> {
        self.status()?
            .instances
            .into_iter()
            .find(|i| i.name == name)
    }

    /// The instance's state as ha reports it (ha only).
    pub fn state(&self, name: &str) -> Option<String> {
        self.instance(name).map(|i| i.state)
    }

    /// Waits until `name` is BACKUP and has heard a master of `priority` (ha only), and
    /// returns it. `BACKUP` alone is the state an instance starts in: it says nothing of
    /// the election being over.
    pub fn wait_following(&self, name: &str, priority: u8) -> InstanceStatus {
        let mut last = None;
        let ok = wait_until(Duration::from_secs(10), || {
            last = self.instance(name);
            last.as_ref().is_some_and(|i| {
                i.state == "BACKUP"
                    && i.master.is_some()
                    && i.master_priority.map(|p| p.0) == Some(priority)
            })
        });
        assert!(
            ok,
            "{name} on {} never followed a master of priority {priority}: {last:?}\n{}",
            self.node.name,
            self.log_text()
        );
        last.expect("instance")
    }

    /// Waits until the daemon's log satisfies `f` (the log is written by its own thread, a
    /// little after the status changes), and returns the log.
    pub fn wait_log(&self, f: impl Fn(&str) -> bool) -> String {
        let mut text = String::new();
        wait_until(Duration::from_secs(10), || {
            text = self.log_text();
            f(&text)
        });
        text
    }

    pub fn request(&self, req: &Request) -> Result<Reply, String> {
        control::request(&self.socket, req).map_err(|e| e.to_string())
    }

    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // The child is `ip netns exec`, which execs the daemon: same pid.
            // SAFETY: kill(2) on our child's pid.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// SIGTERM and wait for the exit (graceful stop).
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        self.signal(libc::SIGTERM);
        let mut c = self.child.take()?;
        for _ in 0..1000 {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = c.kill();
        c.wait().ok()
    }

    /// The daemon's exit status, if it has exited (a crash, when nobody stopped it). The
    /// child is reaped then, and signals no longer go to its pid, which may be reused.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        let st = self.child.as_mut()?.try_wait().ok().flatten()?;
        self.child = None;
        Some(st)
    }

    /// `sig` to the daemon and every process it started: keepalived's VRRP, checker and
    /// BFD children too (a SIGSTOP of keepalived's parent alone freezes nothing that
    /// speaks VRRP).
    pub fn signal_tree(&self, sig: i32) {
        let Some(pid) = self.pid() else { return };
        for p in std::iter::once(pid).chain(descendants(pid)) {
            // SAFETY: kill(2) on our child or one of its descendants.
            unsafe { libc::kill(p as i32, sig) };
        }
    }

    /// SIGKILL: the node dies without a word, with all its processes, as in a crash. The
    /// daemon is stopped first (keepalived's parent restarts a child that dies), and its
    /// descendants are killed deepest first: each dies while its parent lives, so none is
    /// told of a parent's death (keepalived's VRRP child asks for a SIGTERM then, and would
    /// stop cleanly, sending priority 0).
    pub fn kill(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        // SAFETY: kill(2) on our child, not reaped (`exited` drops it when it reaps).
        unsafe { libc::kill(c.id() as i32, libc::SIGSTOP) };
        let rest = descendants(c.id());
        for p in rest.iter().rev() {
            // SAFETY: kill(2) on a descendant listed a moment ago. Its parent, alive until
            // after it, could only have reaped it (and freed the pid) had it exited on its
            // own in that moment.
            unsafe { libc::kill(*p as i32, libc::SIGKILL) };
        }
        let _ = c.kill();
        let _ = c.wait();
        let dead = crate::wait_until(Duration::from_secs(5), || rest.iter().all(|p| !alive(*p)));
        if !dead {
            eprintln!(
                "{}: processes of the killed {} still run",
                self.node.name,
                self.kind.name()
            );
        }
        // The orphans' zombies wait for init (seconds here), and keepalived takes a pid in
        // its pid files that answers kill(pid, 0) for a running daemon ("daemon is already
        // running"). A crashed machine's /run does not survive either.
        for f in &self.pid_files {
            let _ = std::fs::remove_file(f);
        }
    }

    pub fn holds(&self, addr: IpAddr) -> bool {
        self.node.has_addr(addr)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every process below `pid` (children, their children …), from /proc's parent links.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(pp) = ppid(p) {
                parent_of.push((p, pp));
            }
        }
    }
    let mut found = vec![pid];
    let mut k = 0;
    while k < found.len() {
        let of = found[k];
        found.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == of)
                .map(|(p, _)| *p),
        );
        k += 1;
    }
    found.remove(0);
    found
}

/// The parent pid from /proc/PID/stat (the field after the parenthesised name, which may
/// itself hold spaces and parentheses).
fn ppid(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `pid` still runs (a zombie waiting for its reaper does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

/// The parts of a keepalived.conf the tests vary.
#[derive(Debug, Clone)]
pub struct InstanceSpec {
    pub name: String,
    pub vrid: u8,
    pub priority: u8,
    /// `advert_int` as written.
    pub advert_int: String,
    pub version: u8,
    pub vips: Vec<String>,
    /// `unicast_src_ip` + `unicast_peer` when set.
    pub unicast: Option<(IpAddr, Vec<IpAddr>)>,
    pub auth_pass: Option<String>,
    pub extra: String,
}

impl InstanceSpec {
    pub fn new(name: &str, vrid: u8, priority: u8) -> Self {
        InstanceSpec {
            name: name.into(),
            vrid,
            priority,
            advert_int: "0.1".into(),
            version: 3,
            vips: vec![format!("{}/24", crate::lab::VIP4)],
            unicast: None,
            auth_pass: None,
            extra: String::new(),
        }
    }

    pub fn render(&self) -> String {
        let mut s = format!(
            "vrrp_instance {} {{\n    interface eth0\n    virtual_router_id {}\n    priority {}\n    \
             advert_int {}\n    version {}\n",
            self.name, self.vrid, self.priority, self.advert_int, self.version
        );
        if let Some((src, peers)) = &self.unicast {
            s.push_str(&format!("    unicast_src_ip {src}\n    unicast_peer {{\n"));
            for p in peers {
                s.push_str(&format!("        {p}\n"));
            }
            s.push_str("    }\n");
        }
        if let Some(p) = &self.auth_pass {
            s.push_str(&format!(
                "    authentication {{\n        auth_type PASS\n        auth_pass {p}\n    }}\n"
            ));
        }
        s.push_str(&self.extra);
        s.push_str("    virtual_ipaddress {\n");
        for v in &self.vips {
            s.push_str(&format!("        {v}\n"));
        }
        s.push_str("    }\n}\n");
        s
    }
}

/// A whole config: `global_defs` lines then instances.
pub fn config(global: &str, instances: &[InstanceSpec]) -> String {
    let mut s = format!("global_defs {{\n    router_id test\n{global}}}\n");
    for i in instances {
        s.push_str(&i.render());
    }
    s
}
