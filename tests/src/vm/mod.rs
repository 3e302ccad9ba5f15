//! A Debian-kernel VM for what this host's kernel cannot do: IPVS (FACTS.md, "IPVS in a
//! VM"). [`Vm::get`] fetches the kernel and qemu once into `target/vm` and builds the base
//! initramfs; [`Vm::run`] boots it with a scenario: a busybox shell script plus files,
//! under `/scenario`, started by `/init` (the `ha-vm-init` binary) once the IPVS modules
//! are loaded and `lo` is up. Output comes back from the serial console, cut into the
//! sections the script printed (`section NAME CMD…` in `/lib/ha-vm.sh`).

pub mod assets;
pub mod bench;
pub mod cpio;
pub mod diff;
pub mod initramfs;
pub mod ipvsadm;
pub mod qemu;
pub mod tools;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{bail, Context, Result};

pub use assets::Assets;
use initramfs::Program;

/// The scenario helpers, at `/lib/ha-vm.sh` in the guest.
const SCENARIO_LIB: &str = include_str!("scenario.sh");

pub struct Vm {
    pub assets: Assets,
    base: Vec<u8>,
}

/// A finished boot: the console, and the scenario's exit code.
pub struct Run {
    pub console: String,
    pub exit: Option<i32>,
}

impl Run {
    /// The lines the scenario printed as section `name`.
    pub fn section(&self, name: &str) -> Option<String> {
        let begin = format!("=== BEGIN {name} ===\n");
        let end = format!("=== END {name} ===");
        let from = self.console.find(&begin)? + begin.len();
        let len = self.console[from..].find(&end)?;
        Some(self.console[from..from + len].to_string())
    }

    /// Fails with the console unless the scenario exited 0.
    pub fn ok(self) -> Result<Run> {
        if self.exit != Some(0) {
            bail!(
                "VM scenario exit {:?}; console:\n{}",
                self.exit,
                self.console
            );
        }
        Ok(self)
    }
}

/// `target/vm`, or `HA_VM_CACHE`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HA_VM_CACHE") {
        return PathBuf::from(d);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/vm")
}

impl Vm {
    /// The VM of this process, prepared on first use. `init` is the `ha-vm-init` binary.
    pub fn get(init: &Path) -> Result<&'static Vm> {
        static VM: OnceLock<std::result::Result<Vm, String>> = OnceLock::new();
        VM.get_or_init(|| Vm::prepare(init).map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("preparing the test VM: {e}"))
    }

    fn prepare(init: &Path) -> Result<Vm> {
        let assets = Assets::prepare(&cache_dir())?;
        let ip = ["/usr/bin/ip", "/bin/ip", "/sbin/ip", "/usr/sbin/ip"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .context("no ip (iproute2) on the host")?;
        let programs = vec![
            Program {
                host: crate::ha_bin(),
                image: "/usr/sbin/ha".into(),
            },
            Program {
                host: "/usr/sbin/keepalived".into(),
                image: "/usr/sbin/keepalived".into(),
            },
            Program {
                host: assets.root.join("sbin/ipvsadm"),
                image: "/usr/sbin/ipvsadm".into(),
            },
            Program {
                host: ip,
                image: "/usr/sbin/ip".into(),
            },
        ];
        // nginx for the real servers of the XDP tunnel lab, where the host has it.
        let mut programs = programs;
        if Path::new("/usr/sbin/nginx").exists() {
            programs.push(Program {
                host: "/usr/sbin/nginx".into(),
                image: "/usr/sbin/nginx".into(),
            });
        }
        let mut base = initramfs::base(&assets, init, &programs)?;
        // The helpers go in /lib through a tiny archive of their own.
        let mut c = cpio::Cpio::new();
        c.file("/lib/ha-vm.sh", 0o644, SCENARIO_LIB.as_bytes());
        base.extend_from_slice(&c.finish());
        Ok(Vm { assets, base })
    }

    /// Boots with `files` under `/scenario`; `/scenario/run.sh` is the script.
    pub fn run(&self, files: &BTreeMap<String, Vec<u8>>, timeout: Duration) -> Result<Run> {
        self.run_on(files, timeout, 1)
    }

    /// [`Vm::run`] with `cpus` virtual CPUs (the benchmark gives the daemon and the
    /// measuring tool one each).
    pub fn run_on(
        &self,
        files: &BTreeMap<String, Vec<u8>>,
        timeout: Duration,
        cpus: u32,
    ) -> Result<Run> {
        if !files.contains_key("run.sh") {
            bail!("a VM scenario needs run.sh");
        }
        let mut initrd = self.base.clone();
        initrd.extend_from_slice(&initramfs::scenario(files));
        let path = std::env::temp_dir().join(format!(
            "ha-vm-{}-{}.cpio",
            std::process::id(),
            fastrand_u64()
        ));
        std::fs::write(&path, &initrd)?;
        let console = qemu::boot(&self.assets, &path, cpus, timeout);
        let _ = std::fs::remove_file(&path);
        let console = console?;
        Ok(Run {
            console: console.text,
            exit: console.exit,
        })
    }
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now())
}
