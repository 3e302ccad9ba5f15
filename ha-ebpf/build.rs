//! Compiles every `bpf/*.bpf.c` into `$OUT_DIR/<name>.o` with clang (`-target bpf`), so that
//! `src/lib.rs` can embed the objects. Kernel programs are C rather than Rust eBPF because Rust
//! eBPF needs rust-src (DESIGN.md decision 1).

use std::env;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

/// Shown when no clang is usable; `cargo xtask` installs the packages itself when run as root.
const CLANG_MISSING: &str =
    "clang not found: install it with `apt-get install clang-19 libbpf-dev` \
     or run `cargo xtask` as root which installs it";

fn main() {
    let manifest_dir = PathBuf::from(env_or_die("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env_or_die("OUT_DIR"));
    let bpf_dir = manifest_dir.join("bpf");
    let include_dir = bpf_dir.join("include");

    // Directories first (catches added/removed files), then every file (catches edits).
    println!("cargo:rerun-if-changed={}", bpf_dir.display());
    println!("cargo:rerun-if-changed={}", include_dir.display());
    println!("cargo:rerun-if-env-changed=CLANG");
    for header in files_with_suffix(&include_dir, ".h") {
        println!("cargo:rerun-if-changed={}", header.display());
    }

    let sources = files_with_suffix(&bpf_dir, ".bpf.c");
    if sources.is_empty() {
        die(&format!("no bpf/*.bpf.c found in {}", bpf_dir.display()));
    }

    let clang = find_clang().unwrap_or_else(|| die(CLANG_MISSING));
    let target = bpf_target();
    let multiarch_include = multiarch_include_dir();

    for src in &sources {
        println!("cargo:rerun-if-changed={}", src.display());
        let name = src
            .file_name()
            .and_then(OsStr::to_str)
            .and_then(|n| n.strip_suffix(".bpf.c"))
            .unwrap_or_else(|| die(&format!("unexpected source name {}", src.display())));
        let object = out_dir.join(format!("{name}.o"));

        let mut cmd = Command::new(&clang);
        // -g is not optional: aya needs the BTF it produces to load BTF-defined maps.
        cmd.args([
            "-O2", "-g", "-Wall", "-Wextra", "-Werror", "-target", target,
        ]);
        if let Some(dir) = &multiarch_include {
            cmd.arg(format!("-I{}", dir.display()));
        }
        cmd.arg(format!("-I{}", include_dir.display()))
            .arg("-c")
            .arg(src)
            .arg("-o")
            .arg(&object);

        let output = cmd
            .output()
            .unwrap_or_else(|e| die(&format!("running {}: {e}", clang.display())));
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            die(&format!(
                "{} failed to compile {} ({}):\n{stderr}{}",
                clang.display(),
                src.display(),
                output.status,
                hint_for(&stderr)
            ));
        }
    }
}

/// `$CLANG` if set, else `clang-19` (the version CI installs), else plain `clang`.
fn find_clang() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = match env::var_os("CLANG") {
        Some(c) => vec![PathBuf::from(c)],
        None => vec!["clang-19".into(), "clang".into()],
    };
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// BPF has a little- and a big-endian flavour; the object must match the kernel it loads into,
/// i.e. the target's byte order (plain `-target bpf` would take the build host's).
fn bpf_target() -> &'static str {
    match env::var("CARGO_CFG_TARGET_ENDIAN").as_deref() {
        Ok("big") => "bpfeb",
        _ => "bpfel",
    }
}

/// Debian puts `asm/types.h` (needed by every UAPI header) under `/usr/include/<multiarch>`,
/// which `-target bpf` does not search by itself. The triple is the target's, not the host's.
fn multiarch_include_dir() -> Option<PathBuf> {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let env_abi = env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    let endian = env::var("CARGO_CFG_TARGET_ENDIAN").unwrap_or_default();
    let triple = match (arch.as_str(), endian.as_str()) {
        ("x86_64", _) => "x86_64-linux-gnu",
        ("x86", _) => "i386-linux-gnu",
        ("aarch64", _) => "aarch64-linux-gnu",
        ("arm", _) => "arm-linux-gnueabihf",
        ("riscv64", _) => "riscv64-linux-gnu",
        ("powerpc64", "little") => "powerpc64le-linux-gnu",
        ("powerpc64", _) => "powerpc64-linux-gnu",
        ("s390x", _) => "s390x-linux-gnu",
        ("loongarch64", _) => "loongarch64-linux-gnu",
        _ => {
            println!(
                "cargo:warning=no multiarch include dir known for arch `{arch}` (env `{env_abi}`); \
                 relying on clang's default include path for asm/types.h"
            );
            return None;
        }
    };
    let dir = Path::new("/usr/include").join(triple);
    if !dir.is_dir() {
        println!(
            "cargo:warning={} does not exist; install linux-libc-dev for {triple} if asm/types.h is not found",
            dir.display()
        );
    }
    Some(dir)
}

/// Turns the usual missing-header errors into the package that provides the header.
fn hint_for(stderr: &str) -> &'static str {
    if stderr.contains("bpf/bpf_helpers.h") || stderr.contains("bpf/bpf_endian.h") {
        "\nhint: libbpf's headers are missing: `apt-get install libbpf-dev` (or run `cargo xtask` as root)"
    } else if stderr.contains("asm/types.h") || stderr.contains("linux/types.h") {
        "\nhint: kernel UAPI headers are missing: `apt-get install linux-libc-dev`"
    } else {
        ""
    }
}

/// Regular files in `dir` whose name ends in `suffix`, sorted so the build is reproducible.
fn files_with_suffix(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| die(&format!("reading {}: {e}", dir.display())));
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .and_then(OsStr::to_str)
                    .is_some_and(|n| n.ends_with(suffix))
        })
        .collect();
    files.sort();
    files
}

fn env_or_die(name: &str) -> String {
    env::var(name).unwrap_or_else(|_| die(&format!("{name} is not set (is this run by cargo?)")))
}

/// A build-script failure whose message stands out from cargo's own output.
fn die(msg: &str) -> ! {
    eprintln!("error: {msg}");
    println!("cargo:warning={}", msg.lines().next().unwrap_or(msg));
    exit(1);
}
