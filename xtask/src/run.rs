//! `cargo xtask run`: until the VRRP daemon exists, "running ha" means showing what it does
//! today — checking a good example config (with a dump of the parsed model) and a broken one
//! (to show the error reporting), inside a throw-away network namespace that has the
//! interfaces the examples name (ha checks that they exist, as keepalived does).

use std::path::Path;
use std::process::Stdio;

use anyhow::{bail, Context, Result};

use crate::netns::NetNs;
use crate::{cargo, ha_bin};

const GOOD_EXAMPLE: &str = "ha-userspace/examples/keepalived.conf";
const BROKEN_EXAMPLE: &str = "ha-userspace/examples/broken.conf";
/// The interfaces the examples use.
const INTERFACES: [&str; 2] = ["eth0", "eth1"];

pub fn run() -> Result<u8> {
    let root = cargo::workspace_root();
    for example in [GOOD_EXAMPLE, BROKEN_EXAMPLE] {
        if !root.join(example).is_file() {
            bail!(
                "{example} not found (looked for {})",
                root.join(example).display()
            );
        }
    }
    // Debug: this is a demo, and a debug build is minutes faster than a release one.
    let ha = ha_bin::build_ha(false)?;

    let ns = NetNs::create(&format!("ha-demo-{}", std::process::id()))?;
    for dev in INTERFACES {
        ns.add_interface(dev)?;
    }
    let good = check_config(&ns, &ha, root, GOOD_EXAMPLE, &["--dump"])?;
    let broken = check_config(&ns, &ha, root, BROKEN_EXAMPLE, &[])?;
    if broken == 0 {
        eprintln!("xtask: warning: {BROKEN_EXAMPLE} was accepted; it is meant to show errors");
    }
    if good != 0 {
        eprintln!("xtask: {GOOD_EXAMPLE} failed the check (exit {good})");
        return Ok(1);
    }
    Ok(0)
}

/// Runs `ha check-config -f EXAMPLE EXTRA` with its output going straight to the terminal.
fn check_config(ns: &NetNs, ha: &Path, root: &Path, example: &str, extra: &[&str]) -> Result<u8> {
    let shown = format!("ha check-config -f {example} {}", extra.join(" "));
    eprintln!("\nxtask: {}", shown.trim_end());
    let status = ns
        .command(ha)
        .current_dir(root)
        .args(["check-config", "-f", example])
        .args(extra)
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("running {}", ha.display()))?;
    let code = cargo::exit_code(status);
    eprintln!("xtask: `{}` exited {code}", shown.trim_end());
    Ok(code)
}
