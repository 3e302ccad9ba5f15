//! Driving cargo as a subprocess: xtask must not link the crates it builds (it has to run
//! before their system dependencies exist).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use anyhow::{bail, Context, Result};

/// The workspace root: xtask lives in `<root>/xtask`.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
}

/// The cargo that runs us (`cargo xtask` sets `$CARGO`), so toolchain overrides carry over.
fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

/// An exit status as a process exit code: the code itself, or 128 + signal like a shell.
pub fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => u8::try_from(code).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(1),
        (None, None) => 1,
    }
}

/// Runs `cargo ARGS` with inherited stdio, so output streams as it comes; returns its exit code.
pub fn run_streaming(args: &[&str]) -> Result<u8> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = cargo().args(args).status().context("running cargo")?;
    Ok(exit_code(status))
}

/// Builds binary `bin` of `package` and returns the path cargo reports for it (this respects
/// `CARGO_TARGET_DIR`, profiles and whatever the target dir layout is).
pub fn build_bin(package: &str, bin: &str, release: bool) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args(["build", "--package", package, "--bin", bin]);
    cmd.arg("--message-format=json-render-diagnostics");
    if release {
        cmd.arg("--release");
    }
    eprintln!(
        "xtask: cargo build --package {package} --bin {bin}{}",
        if release { " --release" } else { "" }
    );
    // stdout carries the JSON messages; stderr (progress, rendered errors) goes to the user.
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("running cargo build")?;
    let stdout = child.stdout.take().context("cargo build stdout")?;
    let mut executable = None;
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading cargo's JSON messages")?;
        if let Some(path) = executable_in(&line, bin) {
            executable = Some(path);
        }
    }
    let status = child.wait().context("waiting for cargo build")?;
    if !status.success() {
        bail!("`cargo build --package {package}` failed ({status})");
    }
    executable.with_context(|| format!("cargo built {package} but reported no executable `{bin}`"))
}

/// The executable path in a `compiler-artifact` message for binary `bin`, if this is one.
fn executable_in(line: &str, bin: &str) -> Option<PathBuf> {
    let msg: serde_json::Value = serde_json::from_str(line).ok()?;
    if msg.get("reason")?.as_str()? != "compiler-artifact" {
        return None;
    }
    let target = msg.get("target")?;
    let is_bin = target
        .get("kind")?
        .as_array()?
        .iter()
        .any(|k| k.as_str() == Some("bin"));
    if !is_bin || target.get("name")?.as_str()? != bin {
        return None;
    }
    msg.get("executable")?.as_str().map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_executable_of_the_named_binary_only() {
        let ha = r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"ha"},"executable":"/t/release/ha"}"#;
        let lib = r#"{"reason":"compiler-artifact","target":{"kind":["lib"],"name":"ha"},"executable":null}"#;
        let other = r#"{"reason":"compiler-artifact","target":{"kind":["bin"],"name":"xtask"},"executable":"/t/xtask"}"#;
        assert_eq!(
            executable_in(ha, "ha"),
            Some(PathBuf::from("/t/release/ha"))
        );
        assert_eq!(executable_in(lib, "ha"), None);
        assert_eq!(executable_in(other, "ha"), None);
        assert_eq!(
            executable_in(r#"{"reason":"build-finished","success":true}"#, "ha"),
            None
        );
        assert_eq!(executable_in("not json", "ha"), None);
    }

    #[test]
    fn signals_map_to_128_plus_signal() {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(exit_code(ExitStatus::from_raw(9)), 137);
    }
}
