//! Whether a test can run on this machine: one rule for every test crate of the workspace
//! (this file is also compiled into `ha-ebpf`'s and `ha-userspace`'s tests with `#[path]`).
//!
//! A test that needs root, BPF or a program the machine lacks says `SKIPPED` and passes on
//! a developer's machine. Under CI (the `CI` variable set), where `.ci/run` installs
//! everything and runs as root, the same test fails instead: a skip there would hide a
//! broken CI setup behind a green run.
#![allow(dead_code)]

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether `program` is on PATH.
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
}

/// Skips `test` for `reason`: prints `SKIPPED test: reason` and returns false, or, under
/// CI, fails the test.
pub fn skip(test: &str, reason: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {reason}, but CI is set: .ci/run must provide it");
    }
    eprintln!("SKIPPED {test}: {reason}");
    false
}

/// True when running as root (network namespaces, BPF); else [`skip`].
pub fn need_root(test: &str) -> bool {
    is_root() || skip(test, "needs root (network namespaces, BPF)")
}

/// True when `program` is installed; else [`skip`] naming the Debian `package`.
pub fn need_program(test: &str, program: &str, package: &str) -> bool {
    have(program)
        || skip(
            test,
            &format!("{program} is not installed (apt-get install {package})"),
        )
}
