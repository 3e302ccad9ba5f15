//! The pieces of the IPVS test VM, fetched without changing the host (FACTS.md, "IPVS in a
//! VM"): Debian's stock kernel (IPVS as modules), qemu and its firmware, busybox for the
//! scenario scripts and ipvsadm, as `.deb`s from `apt-get download`, unpacked with
//! `dpkg-deb -x` into a cache directory. The kernel is decompressed once to the ELF vmlinux
//! that qemu boots through PVH: XZ-decompressing a bzImage costs seconds per boot under TCG.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// Packages unpacked into the cache besides the kernel. `qemu-system-x86` is not
/// installed because it conflicts with a newer host `qemu-utils`; the libraries after the
/// firmware are what the unpacked qemu links against and a minimal host lacks.
const PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "qemu-system-common",
    "qemu-system-data",
    "seabios",
    "ipxe-qemu",
    "busybox-static",
    "ipvsadm",
    "libcapstone4",
    "libfdt1",
    "libslirp0",
    "libibverbs1",
    "libpmem1",
    "librdmacm1",
    "libvdeplug2",
    "libdaxctl1",
    "libndctl6",
    "libnl-route-3-200",
    "libpopt0",
];

/// Where everything lives once fetched.
pub struct Assets {
    /// The unpacked packages.
    pub root: PathBuf,
    pub vmlinux: PathBuf,
    /// `uname -r` of the guest kernel.
    pub kernel_release: String,
}

impl Assets {
    pub fn qemu(&self) -> PathBuf {
        self.root.join("usr/bin/qemu-system-x86_64")
    }

    pub fn lib_dir(&self) -> PathBuf {
        self.root.join("usr/lib/x86_64-linux-gnu")
    }

    pub fn modules(&self) -> PathBuf {
        self.root.join("lib/modules").join(&self.kernel_release)
    }

    /// Fetches what is missing into `cache` (idempotent; a lock file serialises test
    /// processes that start at once).
    pub fn prepare(cache: &Path) -> Result<Assets> {
        fs::create_dir_all(cache).with_context(|| format!("creating {}", cache.display()))?;
        let _lock = Lock::take(&cache.join("lock"))?;
        let ready = cache.join("ready");
        let root = cache.join("root");
        if let Ok(release) = fs::read_to_string(&ready) {
            let release = release.trim().to_string();
            return Ok(Assets {
                vmlinux: cache.join("vmlinux"),
                root,
                kernel_release: release,
            });
        }
        let debs = cache.join("debs");
        fs::create_dir_all(&debs)?;
        let kernel = kernel_package()?;
        let mut wanted: Vec<String> = PACKAGES.iter().map(|p| p.to_string()).collect();
        wanted.push(kernel.clone());
        download(&debs, &wanted)?;
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root)?;
        for entry in fs::read_dir(&debs)? {
            let p = entry?.path();
            if p.extension().is_some_and(|e| e == "deb") {
                let ok = Command::new("dpkg-deb")
                    .arg("-x")
                    .arg(&p)
                    .arg(&root)
                    .status()
                    .context("running dpkg-deb")?
                    .success();
                if !ok {
                    bail!("dpkg-deb -x {} failed", p.display());
                }
            }
        }
        let release = kernel
            .strip_prefix("linux-image-")
            .context("kernel package name")?
            .to_string();
        let vmlinuz = root.join(format!("boot/vmlinuz-{release}"));
        let vmlinux = cache.join("vmlinux");
        extract_vmlinux(&vmlinuz, &vmlinux)?;
        let assets = Assets {
            root,
            vmlinux,
            kernel_release: release.clone(),
        };
        check_qemu_links(&assets)?;
        fs::write(&ready, &release)?;
        Ok(assets)
    }
}

/// `linux-image-amd64` is a metapackage: the image it depends on is the real kernel.
fn kernel_package() -> Result<String> {
    let out = Command::new("apt-cache")
        .args(["depends", "--important", "linux-image-amd64"])
        .output()
        .context("running apt-cache")?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-") && p.ends_with("-amd64"))
        .map(str::to_string)
        .context("apt-cache knows no linux-image-amd64 (run apt-get update)")
}

fn download(dir: &Path, packages: &[String]) -> Result<()> {
    let fetch = || {
        Command::new("apt-get")
            .arg("download")
            .args(packages)
            .current_dir(dir)
            .output()
    };
    let out = fetch().context("running apt-get download")?;
    if out.status.success() {
        return Ok(());
    }
    // A fresh machine may have stale package lists.
    let _ = Command::new("apt-get").args(["update", "-qq"]).status();
    let out = fetch().context("running apt-get download")?;
    if !out.status.success() {
        bail!(
            "apt-get download {}: {}",
            packages.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The bzImage carries the kernel as an XZ stream after its setup code.
fn extract_vmlinux(vmlinuz: &Path, out: &Path) -> Result<()> {
    let image = fs::read(vmlinuz).with_context(|| format!("reading {}", vmlinuz.display()))?;
    let magic = [0xfd, b'7', b'z', b'X', b'Z', 0];
    let at = image
        .windows(magic.len())
        .position(|w| w == magic)
        .context("no XZ stream in the kernel image")?;
    let tmp = out.with_extension("tmp");
    let file = fs::File::create(&tmp)?;
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(std::process::Stdio::piped())
        .stdout(file)
        .spawn()
        .context("running xz")?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().context("xz stdin")?;
        // xz stops reading at the end of the stream: what follows it is not needed.
        let _ = stdin.write_all(&image[at..]);
    }
    let status = child.wait()?;
    let head = fs::read(&tmp).map(|d| d.get(..4) == Some(b"\x7fELF"))?;
    if !status.success() || !head {
        bail!("decompressing {} gave no ELF kernel", vmlinuz.display());
    }
    fs::rename(&tmp, out)?;
    Ok(())
}

/// Names the libraries the unpacked qemu still misses, rather than failing at first boot.
fn check_qemu_links(a: &Assets) -> Result<()> {
    let out = Command::new("ldd")
        .arg(a.qemu())
        .env("LD_LIBRARY_PATH", a.lib_dir())
        .output()
        .context("running ldd")?;
    let missing: Vec<&str> = std::str::from_utf8(&out.stdout)
        .unwrap_or("")
        .lines()
        .filter(|l| l.contains("not found"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    if !missing.is_empty() {
        bail!("the unpacked qemu misses {}", missing.join(", "));
    }
    Ok(())
}

/// An exclusive `flock` held while it lives.
struct Lock(#[allow(dead_code)] fs::File);

impl Lock {
    fn take(path: &Path) -> Result<Lock> {
        use std::os::fd::AsRawFd;
        let f = fs::File::create(path)?;
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            bail!("locking {}", path.display());
        }
        Ok(Lock(f))
    }
}
