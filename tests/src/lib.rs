//! Network-namespace test support for `ha`: a bridge lab of nodes ([`lab`]), the daemons
//! running in them ([`daemon`]: `ha` or keepalived), and a 1 ms UDP prober with its echo
//! server ([`probe`]). The integration tests in `tests/` and the `ha-lab` demo share it.
//!
//! Everything runs inside namespaces created here with unique names and deleted on drop;
//! addresses are from the documentation ranges (192.0.2.0/24, 2001:db8::/64).

pub mod bench;
pub mod bfd_bench;
pub mod capture;
pub mod chaos;
pub mod container;
pub mod daemon;
pub mod gate;
pub mod lab;
pub mod lb_bench;
pub mod probe;
pub mod servers;
pub mod vm;
pub mod xdp_bench;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use gate::{have, is_root, need_program, need_root, skip};

/// Whether this machine can run namespace tests.
pub fn can_run(test: &str) -> bool {
    need_root(test)
}

/// Like [`can_run`], and keepalived must be installed.
pub fn can_run_with_keepalived(test: &str) -> bool {
    can_run(test) && need_program(test, "keepalived", "keepalived")
}

/// The `ha` binary of this build: `HA_BIN`, else next to the running test executable,
/// built on first use if missing.
pub fn ha_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os("HA_BIN") {
            return PathBuf::from(p);
        }
        let exe = std::env::current_exe().expect("current exe");
        // target/<profile>/deps/<test> or target/<profile>/<bin>
        let mut dir = exe.parent().expect("exe dir").to_path_buf();
        if dir.ends_with("deps") {
            dir.pop();
        }
        let bin = dir.join("ha");
        let release = dir.ends_with("release");
        // `cargo test -p ha-tests` builds the ha library, not its binary: make sure the
        // binary is current (a no-op when it is).
        let mut c = Command::new(env!("CARGO"));
        c.args(["build", "--quiet", "-p", "ha-userspace", "--bin", "ha"]);
        // cargo runs tests with the test crate's CARGO_MANIFEST_DIR and CARGO_PKG_* set.
        // Build scripts that watch them (ring's watches CARGO_MANIFEST_DIR) would see a
        // change and rebuild the TLS stack every time: ~10 s that every test of the binary
        // waits for, and then a stampede of daemons starting at once.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("CARGO_PKG_") || k.starts_with("CARGO_MANIFEST_") {
                c.env_remove(k.as_ref());
            }
        }
        if release {
            c.arg("--release");
        }
        let ok = c.status().is_ok_and(|s| s.success());
        assert!(ok, "cannot build the ha binary");
        bin
    })
    .clone()
}

/// Polls `f` every 5 ms until it is true or `timeout` passes. Waiting has an upper bound
/// only; no test asserts on how fast anything happened (that is `cargo xtask bench`).
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs a command, returning stdout or an error with stderr.
pub fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
