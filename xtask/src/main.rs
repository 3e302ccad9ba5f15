//! `cargo xtask <cmd>`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! Every command first makes sure the system packages the build and the tests need are there
//! (installing them when run as root on Debian/Ubuntu), then drives cargo as a subprocess.

mod bench_checkers;
mod bench_config;
mod cargo;
mod config_gen;
mod deps;
mod ha_bin;
mod measure;
mod netns;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "ha project automation")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install missing system packages, then `cargo test --workspace --all-targets [ARGS]`.
    Test {
        /// Extra arguments for `cargo test` (after `--`; use `-- -- ARGS` for the test binaries).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_args: Vec<String>,
    },
    /// The demo lab: two ha nodes, a client and a web server in network namespaces; cut the
    /// master, print the client-visible outage and the new master; clean up (also on Ctrl-C).
    Run(run::Args),
    /// Benchmarks, side by side with keepalived.
    Bench {
        #[command(subcommand)]
        what: Bench,
    },
    /// Boot Debian's kernel in qemu and program each keepalived.conf with keepalived and
    /// with ha; print, per file, `identical` or the IPVS table rows that differ.
    IpvsDiff {
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// The chaos harness: three nodes (one keepalived with --keepalived), a client sampling
    /// who answers for the VIP every millisecond, a seeded run of faults (link cuts,
    /// partitions, SIGKILL, SIGSTOP, priority flips, reloads, interface flaps, failing
    /// scripts); exits non-zero on any violated invariant.
    Chaos {
        #[arg(long, default_value_t = 50)]
        faults: usize,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        keepalived: bool,
    },
    /// Only check (and as root, install) the system packages.
    Deps,
    /// Build the Debian package (release build): target/debian/ha_VERSION_ARCH.deb, with
    /// /usr/sbin/ha, /usr/sbin/keepalived (ha under keepalived's name), ha.service (also
    /// keepalived.service), the init script, man pages and completions.
    Deb {
        /// Package the debug build instead (what the tests install).
        #[arg(long)]
        debug: bool,
    },
}

#[derive(Subcommand)]
enum Bench {
    /// Config check time and peak RSS on a large generated keepalived.conf: `ha check-config`
    /// against `keepalived -t`.
    Config(bench_config::Args),
    /// The health checkers under load: 10,000 TCP_CHECK and 2,000 HTTP_GET real servers at
    /// delay_loop 1 against local listeners (CPU, RSS, probe lateness), and the RSS of
    /// `ha run -C` on the 40,000-real-server config of `bench config`.
    Checkers(bench_checkers::Args),
    /// Failover outage (link cut, graceful stop; idle and loaded), daemon CPU with 50
    /// instances, stability with 255: `ha` and keepalived in the same lab, same run; and
    /// the graceful handover's steps and the advert gaps of 50 instances while a reload adds
    /// 200 (ha). Options after `--`:
    /// --runs N, --only outage|cpu|stability|handover|reload, --daemon ha|keepalived,
    /// --stability-secs S, --cpu-secs S.
    Failover {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The XDP fast path: ns/packet of each path of the program, and the BACKUP's CPU
    /// receiving 50 instances at 0.01 s and 255 at 0.1 s on the XDP path, the raw-socket
    /// path and keepalived. Options after `--`: --cpu-secs S, --daemon ha|keepalived,
    /// --only ns|cpu.
    Xdp {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The XDP load balancer on one core: Mpps of its DR forwarding, of the kernel's
    /// nftables DNAT + routing and of the XDP_TX ceiling (a reflector); ns/packet of the
    /// LB paths. Options after `--`: --frames N, --runs N.
    Lb {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// IPVS in the VM, keepalived and ha each on a fresh boot: time to program 2,000
    /// services x 20 real servers from start, and from a checker flip to the kernel's
    /// table changing. Options after `--`: --services N, --dests N, --flips N.
    Ipvs {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(strip_passthrough_separator(std::env::args().collect()));
    let result = match cli.cmd {
        Cmd::Test { cargo_args } => deps::ensure_system_packages().and_then(|()| {
            let mut args = vec!["test", "--workspace", "--all-targets"];
            args.extend(cargo_args.iter().map(String::as_str));
            let code = cargo::run_streaming(&args)?;
            if code != 0 || !cargo_args.is_empty() {
                return Ok(code);
            }
            // The same namespace suites again on the raw-socket receive path (`--no-xdp`):
            // both paths must pass them.
            std::env::set_var("HA_TEST_NO_XDP", "1");
            eprintln!("xtask: the namespace suites again with HA_TEST_NO_XDP=1 (raw sockets)");
            cargo::run_streaming(&[
                "test", "-p", "ha-tests", "--test", "vrrp", "--test", "interop", "--test",
                "hostile", "--test", "bfd",
            ])
        }),
        Cmd::Run(args) => deps::ensure_system_packages().and_then(|()| run::run(&args)),
        Cmd::Bench {
            what: Bench::Config(args),
        } => deps::ensure_system_packages().and_then(|()| bench_config::run(&args)),
        Cmd::Bench {
            what: Bench::Checkers(args),
        } => deps::ensure_system_packages().and_then(|()| bench_checkers::run(&args)),
        Cmd::Bench {
            what: Bench::Failover { args },
        } => deps::ensure_system_packages().and_then(|()| run::bench_failover(&args)),
        Cmd::Bench {
            what: Bench::Xdp { args },
        } => deps::ensure_system_packages().and_then(|()| run::bench_xdp(&args)),
        Cmd::Bench {
            what: Bench::Lb { args },
        } => deps::ensure_system_packages().and_then(|()| run::bench_lb(&args)),
        Cmd::Bench {
            what: Bench::Ipvs { args },
        } => deps::ensure_system_packages().and_then(|()| ha_vm(true, "bench", &args)),
        Cmd::IpvsDiff { files } => deps::ensure_system_packages().and_then(|()| {
            let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            ha_vm(false, "diff", &files)
        }),
        Cmd::Deps => deps::ensure_system_packages().map(|()| 0),
        Cmd::Deb { debug } => deps::ensure_system_packages().and_then(|()| deb(!debug)),
        Cmd::Chaos {
            faults,
            seed,
            keepalived,
        } => deps::ensure_system_packages().and_then(|()| {
            let mut args = vec!["--faults".to_string(), faults.to_string()];
            if let Some(s) = seed {
                args.extend(["--seed".to_string(), s.to_string()]);
            }
            if keepalived {
                args.push("--keepalived".into());
            }
            run::chaos(&args)
        }),
    };
    // Commands that ran to the end return the exit status to hand back (e.g. `cargo test`'s).
    match result {
        Ok(code) => code.into(),
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `ha-vm CMD ARGS` (tests/src/bin/ha-vm.rs) with its VM init next to it; files are
/// taken relative to where xtask was started.
fn ha_vm(release: bool, cmd: &str, args: &[String]) -> anyhow::Result<u8> {
    cargo::build_bin("ha-tests", "ha-vm-init", release)?;
    let bin = cargo::build_bin("ha-tests", "ha-vm", release)?;
    let status = std::process::Command::new(bin)
        .arg(cmd)
        .args(args)
        .status()?;
    Ok(cargo::exit_code(status))
}

/// `cargo xtask bench config -- --runs 5` reads naturally (options for the benchmark after
/// `--`), but clap would take everything after `--` as positionals: drop that one separator.
/// `test` keeps its `--`, where it separates xtask's arguments from cargo's.
fn strip_passthrough_separator(mut argv: Vec<String>) -> Vec<String> {
    if argv.get(1).map(String::as_str) == Some("bench")
        && argv.get(3).map(String::as_str) == Some("--")
    {
        argv.remove(3);
    }
    argv
}

/// `cargo xtask deb`: builds ha, then `ha-userspace/packaging/build-deb` lays the package out.
fn deb(release: bool) -> anyhow::Result<u8> {
    let bin = cargo::build_bin("ha-userspace", "ha", release)?;
    let root = cargo::workspace_root();
    let out = root.join("target/debian");
    let status = std::process::Command::new(root.join("ha-userspace/packaging/build-deb"))
        .arg(&bin)
        .arg(&out)
        .status()?;
    Ok(cargo::exit_code(status))
}
