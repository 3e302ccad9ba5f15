//! System packages the build, the tests and the benchmarks need, and installing them.
//!
//! A fresh machine has only the Rust toolchain. Rather than have `ha-ebpf`'s build script fail
//! on a missing clang, xtask checks first and, as root on Debian/Ubuntu, installs what is
//! missing (DESIGN.md decision 1). Names are Debian's packages.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// One thing the project needs from the system, and the Debian package that provides it.
struct Requirement {
    /// What is missing, in words a person recognises.
    what: &'static str,
    package: &'static str,
    /// Optional tools are installed along with required ones but never fail the check.
    required: bool,
    present: fn() -> bool,
}

const REQUIREMENTS: &[Requirement] = &[
    Requirement {
        what: "clang (clang-19 or clang), compiles the BPF programs",
        package: "clang-19",
        required: true,
        present: || find_program("clang-19").is_some() || find_program("clang").is_some(),
    },
    Requirement {
        what: "/usr/include/bpf/bpf_helpers.h (libbpf headers)",
        package: "libbpf-dev",
        required: true,
        present: || Path::new("/usr/include/bpf/bpf_helpers.h").is_file(),
    },
    Requirement {
        what: "asm/types.h (kernel UAPI headers)",
        package: "linux-libc-dev",
        required: true,
        present: uapi_headers_present,
    },
    Requirement {
        what: "keepalived (reference for tests and benchmarks)",
        package: "keepalived",
        required: true,
        present: || find_program("keepalived").is_some(),
    },
    Requirement {
        what: "aiosmtpd (a real SMTP server for the smtp_alert tests)",
        package: "python3-aiosmtpd",
        required: true,
        present: || {
            std::process::Command::new("/usr/bin/python3")
                .args(["-c", "import aiosmtpd"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        },
    },
    Requirement {
        what: "prometheus_client (the OpenMetrics parser the metrics test checks /metrics with)",
        package: "python3-prometheus-client",
        required: true,
        present: || {
            std::process::Command::new("/usr/bin/python3")
                .args(["-c", "import prometheus_client.openmetrics.parser"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        },
    },
    Requirement {
        what: "nft (nftables: the no_accept drop rules, as keepalived installs them)",
        package: "nftables",
        required: true,
        present: || find_program("nft").is_some(),
    },
    Requirement {
        what: "nginx (the HTTP and HTTPS real servers of the checker tests)",
        package: "nginx",
        required: true,
        present: || find_program("nginx").is_some(),
    },
    Requirement {
        what:
            "systemd-nspawn (boots a copy of the host under systemd for the package's unit tests)",
        package: "systemd-container",
        required: true,
        present: || find_program("systemd-nspawn").is_some(),
    },
    Requirement {
        what: "killall (the seeds' check scripts stop keepalived with it)",
        package: "psmisc",
        required: true,
        present: || find_program("killall").is_some(),
    },
    Requirement {
        what: "curl (the long downloads through the XDP load balancer's director failover)",
        package: "curl",
        required: true,
        present: || find_program("curl").is_some(),
    },
    Requirement {
        what: "openssl (self-signed certificates for the SSL_GET tests)",
        package: "openssl",
        required: true,
        present: || find_program("openssl").is_some(),
    },
    Requirement {
        what: "dnsmasq (the DNS real server of the DNS_CHECK tests)",
        package: "dnsmasq-base",
        required: true,
        present: || find_program("dnsmasq").is_some(),
    },
    Requirement {
        what: "xz (unpacks the kernel of the IPVS test VM; the VM's packages themselves are \
               fetched with apt-get download into target/vm, not installed)",
        package: "xz-utils",
        required: true,
        present: || find_program("xz").is_some(),
    },
    Requirement {
        what: "ip (iproute2, network namespaces)",
        package: "iproute2",
        required: true,
        present: || find_program("ip").is_some(),
    },
    Requirement {
        what: "llvm tools (llvm-objdump, to inspect BPF objects)",
        package: "llvm-19",
        required: false,
        present: || {
            find_program("llvm-objdump-19").is_some() || find_program("llvm-objdump").is_some()
        },
    },
];

/// What to do about the missing requirements.
#[derive(Debug, PartialEq, Eq)]
enum Plan {
    NothingToDo,
    Install(Vec<&'static str>),
    Fail(String),
}

/// Checks every requirement; installs what is missing when root on Debian/Ubuntu, else fails
/// with the command to run. Prints nothing when all is present.
pub fn ensure_system_packages() -> Result<()> {
    let missing: Vec<&Requirement> = REQUIREMENTS.iter().filter(|r| !(r.present)()).collect();
    match plan(&missing, is_root(), find_program("apt-get").is_some()) {
        Plan::NothingToDo => Ok(()),
        Plan::Fail(msg) => bail!(msg),
        Plan::Install(packages) => {
            install(&packages)?;
            let still: Vec<&str> = REQUIREMENTS
                .iter()
                .filter(|r| r.required && !(r.present)())
                .map(|r| r.what)
                .collect();
            if !still.is_empty() {
                bail!("still missing after apt-get install: {}", still.join("; "));
            }
            Ok(())
        }
    }
}

fn plan(missing: &[&Requirement], root: bool, has_apt: bool) -> Plan {
    if !missing.iter().any(|r| r.required) {
        return Plan::NothingToDo; // optional tools alone are not worth an apt-get update
    }
    let mut packages: Vec<&'static str> = Vec::new();
    for r in missing {
        if !packages.contains(&r.package) {
            packages.push(r.package);
        }
    }
    let what: Vec<&str> = missing
        .iter()
        .filter(|r| r.required)
        .map(|r| r.what)
        .collect();
    let list = packages.join(" ");
    if !root {
        return Plan::Fail(format!(
            "missing: {}.\nInstall them with `sudo apt-get install -y --no-install-recommends {list}`, \
             or run `cargo xtask` as root, which installs them",
            what.join("; ")
        ));
    }
    if !has_apt {
        return Plan::Fail(format!(
            "missing: {}.\nNo apt-get here: install your distribution's equivalents of the Debian \
             packages {list}",
            what.join("; ")
        ));
    }
    Plan::Install(packages)
}

fn install(packages: &[&str]) -> Result<()> {
    let list = packages.join(" ");
    println!("xtask: installing {list}: apt-get install -y --no-install-recommends {list}");
    apt_get(&["update"])?;
    let mut args = vec!["install", "-y", "--no-install-recommends"];
    args.extend_from_slice(packages);
    apt_get(&args)
}

fn apt_get(args: &[&str]) -> Result<()> {
    let status = Command::new("apt-get")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .context("running apt-get")?;
    if !status.success() {
        bail!("`apt-get {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Finds an executable on `$PATH`, and in the sbin directories, which a non-root `$PATH` often
/// lacks but where `ip` and `keepalived` live.
pub fn find_program(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// `asm/types.h` is in `/usr/include/<multiarch triple>` on Debian (e.g. x86_64-linux-gnu).
fn uapi_headers_present() -> bool {
    let triple = match std::env::consts::ARCH {
        "x86" => "i386-linux-gnu".to_owned(),
        "arm" => "arm-linux-gnueabihf".to_owned(),
        "powerpc64" if cfg!(target_endian = "little") => "powerpc64le-linux-gnu".to_owned(),
        arch => format!("{arch}-linux-gnu"),
    };
    Path::new("/usr/include")
        .join(triple)
        .join("asm/types.h")
        .is_file()
        || Path::new("/usr/include/asm/types.h").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(package: &'static str, required: bool) -> Requirement {
        Requirement {
            what: package,
            package,
            required,
            present: || false,
        }
    }

    #[test]
    fn nothing_missing_means_nothing_to_do() {
        assert_eq!(plan(&[], false, false), Plan::NothingToDo);
    }

    #[test]
    fn optional_alone_never_triggers_an_install() {
        let llvm = req("llvm-19", false);
        assert_eq!(plan(&[&llvm], true, true), Plan::NothingToDo);
    }

    #[test]
    fn root_with_apt_installs_required_and_optional_once() {
        let (clang, bpf, llvm) = (
            req("clang-19", true),
            req("libbpf-dev", true),
            req("llvm-19", false),
        );
        let clang_again = req("clang-19", true);
        assert_eq!(
            plan(&[&clang, &bpf, &llvm, &clang_again], true, true),
            Plan::Install(vec!["clang-19", "libbpf-dev", "llvm-19"])
        );
    }

    #[test]
    fn non_root_fails_with_the_install_command() {
        let clang = req("clang-19", true);
        match plan(&[&clang], false, true) {
            Plan::Fail(msg) => {
                assert!(
                    msg.contains("apt-get install -y --no-install-recommends clang-19"),
                    "{msg}"
                );
            }
            other => panic!("expected Fail, got {other:?}"),
        }
    }

    #[test]
    fn root_without_apt_fails_naming_the_packages() {
        let ka = req("keepalived", true);
        assert!(matches!(plan(&[&ka], true, false), Plan::Fail(m) if m.contains("keepalived")));
    }

    #[test]
    fn finds_sh_and_not_nonsense() {
        assert!(find_program("sh").is_some());
        assert!(find_program("definitely-not-a-program-xtask").is_none());
    }
}
