//! Building the `ha` binary and making sure it can do what xtask is about to ask of it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::cargo;

/// Builds `ha` (package `ha-userspace`) and checks that it has `check-config`.
pub fn build_ha(release: bool) -> Result<PathBuf> {
    let ha = cargo::build_bin("ha-userspace", "ha", release)?;
    ensure_check_config(&ha)?;
    Ok(ha)
}

/// `ha check-config --help` exits 0 once the subcommand exists; anything else means this `ha`
/// predates it, which is worth saying plainly instead of timing an error message.
fn ensure_check_config(ha: &Path) -> Result<()> {
    let out = Command::new(ha)
        .args(["check-config", "--help"])
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", ha.display()))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        bail!(
            "{} does not support `check-config` yet (`ha check-config --help` exited {}: {})",
            ha.display(),
            out.status,
            said.lines().next().unwrap_or("no message").trim()
        );
    }
    Ok(())
}
