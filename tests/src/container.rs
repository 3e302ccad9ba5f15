//! A throwaway copy of this machine booted under systemd: the root filesystem seen through
//! an overlay whose upper layer is a tmpfs (so nothing it installs touches the host), booted
//! by `systemd-nspawn -b` inside a lab node's network namespace. The drop-in tests install
//! the ha package there and drive it with systemctl, as on a real host.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::{run, wait_until};

pub struct Container {
    /// The overlay's merged view: the container's `/`.
    pub root: PathBuf,
    /// The tmpfs holding the overlay's upper and work folders.
    base: PathBuf,
    nspawn: Option<Child>,
    /// PID of the container's systemd, as the host sees it.
    init: u32,
    pub log: PathBuf,
}

impl Container {
    /// Boots a copy of `/` in network namespace `netns` (a name `ip netns` knows); `dir`
    /// holds its files. Waits until systemd has finished starting up.
    pub fn boot(dir: &Path, netns: &str, name: &str) -> Result<Container, String> {
        let base = dir.join("overlay");
        let root = base.join("merged");
        std::fs::create_dir_all(&base).map_err(|e| e.to_string())?;
        run("mount", &["-t", "tmpfs", "tmpfs", s(&base)])?;
        for d in ["upper", "work", "merged"] {
            std::fs::create_dir_all(base.join(d)).map_err(|e| e.to_string())?;
        }
        let opts = format!(
            "lowerdir=/,upperdir={},workdir={}",
            base.join("upper").display(),
            base.join("work").display()
        );
        let mut c = Container {
            root: root.clone(),
            base: base.clone(),
            nspawn: None,
            init: 0,
            log: dir.join(format!("{name}-nspawn.log")),
        };
        run(
            "mount",
            &["-t", "overlay", "overlay", "-o", &opts, s(&root)],
        )?;
        // A machine of its own: systemd makes a new id at boot when there is none.
        let _ = std::fs::remove_file(root.join("etc/machine-id"));
        // Not this test's business: networkd would wait two minutes for an online network
        // (and could touch the lab's interfaces), and the host's nginx has no lab to serve.
        for unit in [
            "systemd-networkd-wait-online.service",
            "systemd-networkd.service",
            "nginx.service",
        ] {
            let mask = root.join("etc/systemd/system").join(unit);
            let _ = std::fs::remove_file(&mask);
            std::os::unix::fs::symlink("/dev/null", &mask).map_err(|e| e.to_string())?;
        }
        let out = std::fs::File::create(&c.log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new("systemd-nspawn")
            .arg("-D")
            .arg(&root)
            .args(["--register=no", "--keep-unit", "--link-journal=no"])
            // A host's root keeps every capability (nspawn drops NET_ADMIN, BPF and
            // others by default), and may call bpf(2), which nspawn's filter refuses.
            .args([
                "--capability=all",
                "--system-call-filter=bpf perf_event_open",
            ])
            .arg(format!("--network-namespace-path=/run/netns/{netns}"))
            .args(["-M", name, "-b", "--console=pipe"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("systemd-nspawn: {e}"))?;
        let nspawn_pid = child.id();
        c.nspawn = Some(child);
        // The container's init is the child of nspawn that runs systemd (nspawn forks an
        // intermediate process first, which exits).
        let found = wait_until(Duration::from_secs(30), || {
            let kids =
                std::fs::read_to_string(format!("/proc/{nspawn_pid}/task/{nspawn_pid}/children"))
                    .unwrap_or_default();
            let init = kids.split_whitespace().find_map(|p| {
                let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).ok()?;
                (comm.trim() == "systemd").then(|| p.parse().ok()).flatten()
            });
            init.map(|p| c.init = p).is_some()
        });
        if !found {
            return Err(format!("the container did not start: {}", c.log_text()));
        }
        let booted = wait_until(Duration::from_secs(60), || {
            let state = c.exec(&["systemctl", "is-system-running"]);
            let out = String::from_utf8_lossy(&state.stdout);
            out.contains("running") || out.contains("degraded")
        });
        if !booted {
            return Err(format!("systemd did not finish booting: {}", c.log_text()));
        }
        Ok(c)
    }

    /// Runs a command in the container (all its namespaces).
    pub fn exec(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .args(["-t", &self.init.to_string(), "-a"])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("nsenter {args:?}: {e}"))
    }

    /// Runs a command in the container; its stdout, or an error with everything it said.
    pub fn ok(&self, args: &[&str]) -> Result<String, String> {
        let o = self.exec(args);
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.status.success() {
            Ok(out)
        } else {
            Err(format!(
                "{args:?}: {}\n{out}{}",
                o.status,
                String::from_utf8_lossy(&o.stderr)
            ))
        }
    }

    /// One property of a unit (`systemctl show -p NAME --value`).
    pub fn unit_property(&self, unit: &str, prop: &str) -> String {
        let o = self.exec(&["systemctl", "show", unit, "-p", prop, "--value"]);
        String::from_utf8_lossy(&o.stdout).trim().to_owned()
    }

    /// The unit's journal, for failure messages.
    pub fn journal(&self, unit: &str) -> String {
        let o = self.exec(&["journalctl", "-u", unit, "--no-pager", "-n", "80"]);
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A file of the container, as a host path.
    pub fn path(&self, inside: &str) -> PathBuf {
        self.root.join(inside.trim_start_matches('/'))
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

impl Drop for Container {
    fn drop(&mut self) {
        if let Some(mut child) = self.nspawn.take() {
            // nspawn asks the container's systemd to power off on TERM.
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
            let done = wait_until(Duration::from_secs(20), || {
                child.try_wait().ok().flatten().is_some()
            });
            if !done {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
        let _ = run("umount", &["-l", s(&self.root)]);
        let _ = run("umount", &["-l", s(&self.base)]);
    }
}
