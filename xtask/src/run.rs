//! `cargo xtask run`: until the VRRP daemon exists, "running ha" means showing what it does
//! today — checking a good example config (with a dump of the parsed model) and a broken one
//! (to show the error reporting).

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::{cargo, ha_bin};

const GOOD_EXAMPLE: &str = "examples/keepalived.conf";
const BROKEN_EXAMPLE: &str = "examples/broken.conf";

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

    let good = check_config(&ha, root, GOOD_EXAMPLE, &["--dump"])?;
    let broken = check_config(&ha, root, BROKEN_EXAMPLE, &[])?;
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
fn check_config(ha: &Path, root: &Path, example: &str, extra: &[&str]) -> Result<u8> {
    let shown = format!("ha check-config -f {example} {}", extra.join(" "));
    eprintln!("\nxtask: {}", shown.trim_end());
    let status = Command::new(ha)
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
