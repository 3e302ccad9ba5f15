//! Boots the test VM and reads its serial console. TCG unless the host CPU shows vmx or
//! svm: `/dev/kvm` here can be a paravirtual "pvm" far slower than TCG for a stock guest
//! (FACTS.md).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::assets::Assets;

/// What `/init` prints last, with the scenario's exit code.
pub const EXIT_MARKER: &str = "HA-VM-EXIT ";

pub struct Console {
    pub text: String,
    /// The scenario script's exit code; `None`: the VM never got there (timeout, panic).
    pub exit: Option<i32>,
}

pub fn hardware_virt() -> bool {
    let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Path::new("/dev/kvm").exists()
        && flags
            .lines()
            .filter(|l| l.starts_with("flags"))
            .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"))
}

/// Boots `initrd` with `cpus` virtual CPUs and returns the console once the scenario
/// exits or `timeout` passes.
pub fn boot(a: &Assets, initrd: &Path, cpus: u32, timeout: Duration) -> Result<Console> {
    let append = "console=ttyS0 quiet panic=-1 mitigations=off tsc=reliable";
    let share = a.root.join("usr/share");
    let mut c = Command::new(a.qemu());
    c.env("QEMU_MODULE_DIR", a.lib_dir().join("qemu"))
        .env("LD_LIBRARY_PATH", a.lib_dir())
        .arg("-L")
        .arg(share.join("qemu"))
        .arg("-L")
        .arg(share.join("seabios"))
        .arg("-L")
        .arg(a.root.join("usr/lib/ipxe/qemu"));
    if hardware_virt() {
        c.args(["-accel", "kvm", "-cpu", "host"]);
    } else {
        c.args(["-accel", "tcg", "-cpu", "max"]);
    }
    c.args([
        "-M",
        "pc",
        "-m",
        "1024",
        "-nographic",
        "-no-reboot",
        "-nic",
        "none",
    ])
    .arg("-smp")
    .arg(cpus.to_string())
    .arg("-kernel")
    .arg(&a.vmlinux)
    .arg("-initrd")
    .arg(initrd)
    .arg("-append")
    .arg(append)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().context("starting qemu")?;
    let stdout = child.stdout.take().context("qemu stdout")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            let text = String::from_utf8_lossy(&line)
                .trim_end_matches('\r')
                .to_string();
            if tx.send(text).is_err() {
                break;
            }
        }
    });
    let end = Instant::now() + timeout;
    let mut text = String::new();
    let mut exit = None;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(code) = line.strip_prefix(EXIT_MARKER) {
                    exit = code.trim().parse().ok();
                    break;
                }
                text.push_str(&line);
                text.push('\n');
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let out = child.wait_with_output();
    if exit.is_none() {
        if let Ok(o) = out {
            text.push_str(&String::from_utf8_lossy(&o.stderr));
        }
    }
    Ok(Console { text, exit })
}
