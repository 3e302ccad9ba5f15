//! The test VM's initramfs, written in Rust: `/init` (the `ha-vm-init` binary), the programs
//! a scenario runs with the host libraries they link against, the kernel modules IPVS needs
//! in load order, and busybox for the scenario scripts. A scenario's own files go into a
//! second, small archive appended to this one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use super::assets::Assets;
use super::cpio::Cpio;

/// Modules a scenario may need, by module name; their dependencies are added.
/// `crc32c_generic` is only a soft dependency of libcrc32c (`softdep=pre: crc32c`), so it
/// is named and loaded first.
const MODULES: &[&str] = &[
    "crc32c_generic",
    "ip_vs",
    "ip_vs_rr",
    "ip_vs_wrr",
    "ip_vs_lc",
    "ip_vs_wlc",
    "ip_vs_lblc",
    "ip_vs_lblcr",
    "ip_vs_dh",
    "ip_vs_sh",
    "ip_vs_mh",
    "ip_vs_fo",
    "ip_vs_ovf",
    "ip_vs_sed",
    "ip_vs_nq",
    "ip_vs_pe_sip",
    "veth",
    "bridge",
    "ipip",
    // The XDP forwarder's tunnels, decapsulated by the real servers: GUE and ip6ip6.
    "fou",
    "ip6_tunnel",
];

/// Where libraries go in the image; the scenario's environment points the loader here.
pub const LIB_DIR: &str = "/lib/x86_64-linux-gnu";

/// A program to put in the image: where it is on the host, where it goes.
pub struct Program {
    pub host: PathBuf,
    pub image: String,
}

/// Builds the base archive: `/init`, `programs` and their libraries, modules, busybox.
pub fn base(assets: &Assets, init: &Path, programs: &[Program]) -> Result<Vec<u8>> {
    let mut c = Cpio::new();
    for d in [
        "/proc", "/sys", "/dev", "/tmp", "/run", "/var/run", "/etc", "/root", LIB_DIR,
    ] {
        c.dir(d);
    }
    c.symlink(
        "/lib64/ld-linux-x86-64.so.2",
        &format!("{LIB_DIR}/ld-linux-x86-64.so.2"),
    );
    c.file(
        "/etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    );
    c.file("/etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n");
    c.file("/etc/hosts", 0o644, b"127.0.0.1 localhost\n");
    c.file(
        "/bin/busybox",
        0o755,
        &read(&assets.root.join("bin/busybox"))?,
    );
    let mut libs = BTreeSet::new();
    let mut add = |c: &mut Cpio, host: &Path, image: &str| -> Result<()> {
        c.file(image, 0o755, &without_debug_info(host)?);
        for (name, lib) in linked_libraries(host, &assets.lib_dir())? {
            if libs.insert(name.clone()) {
                c.file(&format!("{LIB_DIR}/{name}"), 0o755, &read(&lib)?);
            }
        }
        Ok(())
    };
    add(&mut c, init, "/init")?;
    for p in programs {
        add(&mut c, &p.host, &p.image)?;
    }
    let order = module_order(&assets.modules())?;
    let mut list = String::new();
    for (i, path) in order.iter().enumerate() {
        let name = path.file_name().context("module name")?.to_string_lossy();
        let image = format!("/modules/{i:02}-{name}");
        c.file(&image, 0o644, &read(path)?);
        list.push_str(&image);
        list.push('\n');
    }
    c.file("/modules/order", 0o644, list.as_bytes());
    Ok(c.finish())
}

/// A scenario's files under `/scenario`, as an archive to append to the base.
pub fn scenario(files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut c = Cpio::new();
    c.dir("/scenario");
    for (name, data) in files {
        let mode = if name.ends_with(".sh") { 0o755 } else { 0o644 };
        c.file(&format!("/scenario/{name}"), mode, data);
    }
    c.finish()
}

fn read(p: &Path) -> Result<Vec<u8>> {
    fs::read(p).with_context(|| format!("reading {}", p.display()))
}

/// A program without its debug sections (`strip --strip-debug`): the test builds carry
/// ~170 MB of DWARF, and the image unpacks into the VM's RAM (a 1 GiB guest's rootfs takes
/// half of it). The file as it is when `strip` is missing or refuses it.
fn without_debug_info(p: &Path) -> Result<Vec<u8>> {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = p
        .file_name()
        .map_or_else(|| "bin".into(), |n| n.to_string_lossy());
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("ha-vm-{}-{n}-{name}", std::process::id()));
    let stripped = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&out)
        .arg(p)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let data = if stripped { fs::read(&out).ok() } else { None };
    let _ = fs::remove_file(&out);
    match data {
        Some(d) => Ok(d),
        None => read(p),
    }
}

/// The shared libraries `bin` loads, as (the name it is linked as, the host file),
/// resolved by the host's loader with `extra` first (for programs unpacked from packages).
fn linked_libraries(bin: &Path, extra: &Path) -> Result<Vec<(String, PathBuf)>> {
    let out = Command::new("ldd")
        .arg(bin)
        .env("LD_LIBRARY_PATH", extra)
        .output()
        .context("running ldd")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("not a dynamic executable") || text.contains("statically linked") {
        return Ok(Vec::new());
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        if line.contains("not found") {
            bail!("{}: {}", bin.display(), line.trim());
        }
        // `libx.so.1 => /path (0x…)` or `/lib64/ld-linux-x86-64.so.2 (0x…)`.
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            let p = PathBuf::from(p);
            let name = p
                .file_name()
                .context("library name")?
                .to_string_lossy()
                .into_owned();
            libs.push((name, p));
        }
    }
    Ok(libs)
}

/// The `.ko` files of [`MODULES`] and what they depend on, dependencies first. The
/// package has no modules.dep and the host may have no depmod: each module's `.modinfo`
/// section lists its dependencies (`depends=a,b`).
pub fn module_order(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut index = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Some(stem) = p.file_name().and_then(|n| n.to_str()) {
                if let Some(name) = stem.strip_suffix(".ko") {
                    index.insert(name.replace('-', "_"), p.clone());
                }
            }
        }
    }
    let mut order = Vec::new();
    let mut seen = BTreeSet::new();
    fn visit(
        name: &str,
        index: &BTreeMap<String, PathBuf>,
        seen: &mut BTreeSet<String>,
        order: &mut Vec<PathBuf>,
    ) -> Result<()> {
        if !seen.insert(name.to_string()) {
            return Ok(());
        }
        let path = index
            .get(name)
            .with_context(|| format!("kernel module {name} not in the package"))?;
        let data = fs::read(path)?;
        for dep in depends(&data) {
            visit(&dep, index, seen, order)?;
        }
        order.push(path.clone());
        Ok(())
    }
    for m in MODULES {
        visit(m, &index, &mut seen, &mut order)?;
    }
    Ok(order)
}

fn depends(ko: &[u8]) -> Vec<String> {
    ko.split(|b| *b == 0)
        .filter_map(|s| s.strip_prefix(b"depends="))
        .flat_map(|s| {
            String::from_utf8_lossy(s)
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|s| !s.is_empty())
        .map(|s| s.replace('-', "_"))
        .collect()
}
