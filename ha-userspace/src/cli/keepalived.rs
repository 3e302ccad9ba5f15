//! `ha` started as `keepalived` (a link named so, as the package installs it): keepalived
//! 2.2.7's command line, so init scripts, units and the seeds' check scripts work as they
//! are. `keepalived -t -f FILE` checks like `ha check-config`; `keepalived -n -l -D` runs in
//! the foreground; without `-n` the daemon goes to the background and writes keepalived's
//! pid files. The process is then named `keepalived`, so `killall keepalived` and
//! `pkill keepalived` reach it.
//!
//! Flags about keepalived's separate child processes, syslog, SNMP and core dumps are
//! accepted and, where they change nothing here, named in a warning.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use clap::Parser;

use ha::daemon::pid_files::PidFiles;
use ha::daemon::run::RunOptions;

use crate::{CheckArgs, ConfigArgs, Logs};

/// The version keepalived scripts see: the release whose config language and command line
/// ha follows.
pub const KEEPALIVED_VERSION: &str = "2.2.7";

/// Whether the program was started under the name `keepalived`.
pub fn invoked_as_keepalived() -> bool {
    std::env::args_os()
        .next()
        .is_some_and(|a| Path::new(&a).file_name() == Some(OsStr::new("keepalived")))
}

#[derive(Parser, Debug)]
#[command(
    name = "keepalived",
    disable_version_flag = true,
    about = "ha, started as keepalived: keepalived 2.2.7's command line",
    long_about = "ha, started as keepalived: keepalived 2.2.7's command line. The daemon is ha; \
                  the configuration language, the signals, the pid files and the process name \
                  are keepalived's."
)]
pub struct KeepalivedCli {
    /// Use the specified configuration file.
    #[arg(
        short = 'f',
        long = "use-file",
        value_name = "FILE",
        default_value = "/etc/keepalived/keepalived.conf"
    )]
    file: PathBuf,
    /// Only run with VRRP subsystem.
    #[arg(short = 'P', long = "vrrp")]
    vrrp: bool,
    /// Only run with Health-checker subsystem.
    #[arg(short = 'C', long = "check")]
    check: bool,
    /// Don't run BFD subsystem (ignored: BFD runs inside the one process).
    #[arg(short = 'B', long = "no_bfd")]
    no_bfd: bool,
    /// Force all child processes to run, even if have no configuration (ignored).
    #[arg(long = "all")]
    all: bool,
    /// Log messages to local console (in the foreground, logs go to standard error).
    #[arg(short = 'l', long = "log-console")]
    log_console: bool,
    /// Detailed log messages.
    #[arg(short = 'D', long = "log-detail")]
    log_detail: bool,
    /// Set syslog facility (ignored: the facility is daemon).
    #[arg(short = 'S', long = "log-facility", value_name = "FACILITY")]
    log_facility: Option<String>,
    /// Don't log via syslog (in the background, logs go to syslog).
    #[arg(short = 'G', long = "no-syslog")]
    no_syslog: bool,
    /// umask for file creation (in numeric form).
    #[arg(short = 'u', long = "umask", value_name = "MASK")]
    umask: Option<String>,
    /// Drop VIP on transition from signal (ignored).
    #[arg(short = 'X', long = "release-vips")]
    release_vips: bool,
    /// Don't remove VRRP VIPs and VROUTEs on daemon stop (ignored: they are removed).
    #[arg(short = 'V', long = "dont-release-vrrp")]
    dont_release_vrrp: bool,
    /// Don't remove IPVS topology on daemon stop (ignored).
    #[arg(short = 'I', long = "dont-release-ipvs")]
    dont_release_ipvs: bool,
    /// Don't respawn child processes (there are none).
    #[arg(short = 'R', long = "dont-respawn")]
    dont_respawn: bool,
    /// Don't fork the daemon process.
    #[arg(short = 'n', long = "dont-fork")]
    dont_fork: bool,
    /// Dump the configuration data (ignored; see `ha check-config --dump`).
    #[arg(short = 'd', long = "dump-conf")]
    dump_conf: bool,
    /// Use specified pidfile for parent process.
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pid: Option<PathBuf>,
    /// Use specified pidfile for VRRP child process (the same process here).
    #[arg(short = 'r', long = "vrrp_pid", value_name = "FILE")]
    vrrp_pid: Option<PathBuf>,
    /// Use specified pidfile for checkers child process (the same process here).
    #[arg(short = 'c', long = "checkers_pid", value_name = "FILE")]
    checkers_pid: Option<PathBuf>,
    /// Report all address additions/deletions notified via netlink (ignored).
    #[arg(short = 'a', long = "address-monitoring")]
    address_monitoring: bool,
    /// Use specified pidfile for BFD child process (the same process here).
    #[arg(short = 'b', long = "bfd_pid", value_name = "FILE")]
    bfd_pid: Option<PathBuf>,
    /// Enable SNMP subsystem (ignored: use --metrics).
    #[arg(short = 'x', long = "snmp")]
    snmp: bool,
    /// Use the specified socket for master agent (ignored).
    #[arg(short = 'A', long = "snmp-agent-socket", value_name = "FILE")]
    snmp_agent_socket: Option<String>,
    /// Run in network namespace NAME (overrides config).
    #[arg(short = 's', long = "namespace", value_name = "NAME")]
    namespace: Option<String>,
    /// Produce core dump if terminate abnormally (ignored).
    #[arg(short = 'm', long = "core-dump")]
    core_dump: bool,
    /// Also set /proc/sys/kernel/core_pattern to PATN (ignored).
    #[arg(short = 'M', long = "core-dump-pattern", value_name = "PATN",
          num_args = 0..=1, require_equals = true)]
    core_dump_pattern: Option<Option<String>>,
    /// Error if any configuration file missing (same as includet) (ignored).
    #[arg(short = 'e', long = "all-config")]
    all_config: bool,
    /// Skip any configuration lines beginning '@' that don't match id.
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    config_id: Option<String>,
    /// Return signal number for STOP, RELOAD, DATA, STATS, STATS_CLEAR, JSON.
    #[arg(long = "signum", value_name = "SIGFUNC")]
    signum: Option<String>,
    /// Check the configuration for obvious errors, output to stderr by default.
    #[arg(short = 't', long = "config-test", value_name = "LOG_FILE",
          num_args = 0..=1, require_equals = true)]
    config_test: Option<Option<PathBuf>>,
    /// Display the version number.
    #[arg(short = 'v', long = "version")]
    version: bool,
    /// ha: serve Prometheus metrics at http://ADDR:PORT/metrics.
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<std::net::SocketAddr>,
    /// ha: no XDP fast path (raw sockets only).
    #[arg(long)]
    no_xdp: bool,
    /// ha: keep the VRRP and BFD threads at normal priority.
    #[arg(long)]
    no_realtime: bool,
    /// ha: advert intervals without the engine's heartbeat before the kernel fences the
    /// VIPs (0: off).
    #[arg(long, value_name = "N", default_value_t = ha::daemon::vrrp::engine::DEFAULT_FENCE_ADVERTS,
          value_parser = clap::value_parser!(u32).range(0..=10))]
    fence_adverts: u32,
}

/// keepalived's `--signum` table (2.2.7 on Linux: JSON is SIGRTMIN+2, STATS_CLEAR
/// SIGRTMIN+29).
pub fn signum(func: &str) -> Option<i32> {
    Some(match func {
        "STOP" => libc::SIGTERM,
        "RELOAD" => libc::SIGHUP,
        "DATA" => libc::SIGUSR1,
        "STATS" => libc::SIGUSR2,
        "STATS_CLEAR" => libc::SIGRTMIN() + 29,
        "JSON" => libc::SIGRTMIN() + 2,
        _ => return None,
    })
}

/// A numeric umask (keepalived reads it with strtoul base 0: `022`, `0x12`, `18`).
fn parse_umask(s: &str) -> Option<u32> {
    let v = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()?
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8).ok()?
    } else {
        s.parse().ok()?
    };
    (v <= 0o777).then_some(v)
}

impl KeepalivedCli {
    /// The flags given that change nothing here, for one warning.
    fn ignored(&self) -> Vec<&'static str> {
        [
            (self.no_bfd, "-B"),
            (self.all, "--all"),
            (self.log_facility.is_some(), "-S"),
            (self.release_vips, "-X"),
            (self.dont_release_vrrp, "-V"),
            (self.dont_release_ipvs, "-I"),
            (self.dump_conf, "-d"),
            (self.address_monitoring, "-a"),
            (self.snmp, "-x"),
            (self.snmp_agent_socket.is_some(), "-A"),
            (self.core_dump, "-m"),
            (self.core_dump_pattern.is_some(), "-M"),
            (self.all_config, "-e"),
        ]
        .into_iter()
        .filter_map(|(on, f)| on.then_some(f))
        .collect()
    }
}

pub fn main() -> i32 {
    let args = KeepalivedCli::parse();
    if let Some(func) = &args.signum {
        return match signum(func) {
            Some(n) => {
                println!("{n}");
                0
            }
            None => {
                eprintln!("Unknown sigfunc {func}");
                1
            }
        };
    }
    if args.version {
        eprintln!(
            "Keepalived v{KEEPALIVED_VERSION} (ha {}: keepalived's configuration, protocol and \
             command line, with an XDP fast path)",
            env!("CARGO_PKG_VERSION")
        );
        return 0;
    }
    let config = ConfigArgs {
        file: args.file.clone(),
        config_id: args.config_id.clone(),
    };
    if let Some(log_file) = &args.config_test {
        if let Some(path) = log_file {
            if let Err(e) = redirect_stderr(path) {
                eprintln!("keepalived: {}: {e}", path.display());
                return 1;
            }
        }
        return crate::check_config(&CheckArgs {
            config,
            strict: false,
            dump: false,
        });
    }
    if let Some(mask) = &args.umask {
        match parse_umask(mask) {
            // SAFETY: umask has no preconditions.
            Some(m) => unsafe {
                libc::umask(m as libc::mode_t);
            },
            None => {
                eprintln!("keepalived: invalid umask {mask}");
                return 1;
            }
        }
    }
    if !args.dont_fork {
        if let Err(e) = ha::daemon::detach::detach() {
            eprintln!("keepalived: cannot go to the background: {e}");
            return 1;
        }
    }
    let logs = if args.dont_fork {
        Logs::Stderr
    } else {
        Logs::Syslog("Keepalived")
    };
    let _flush_at_exit = crate::start_logging(&logs);
    let ignored = args.ignored();
    if !ignored.is_empty() {
        tracing::warn!(
            "keepalived options ignored by ha (they concern keepalived's child processes, \
             syslog, SNMP or core dumps): {}",
            ignored.join(" ")
        );
    }
    let opts = RunOptions {
        config: config.file,
        config_id: config.config_id,
        control_socket: None,
        dump_dir: PathBuf::from("/tmp"),
        pid_files: PidFiles {
            main: args.pid,
            vrrp: args.vrrp_pid,
            checkers: args.checkers_pid,
            bfd: args.bfd_pid,
        },
        keepalived_pid_files: true,
        netns: args.namespace,
        realtime: !args.no_realtime,
        xdp: !args.no_xdp,
        vrrp: !args.check,
        checkers: !args.vrrp,
        metrics: args.metrics,
        fence_adverts: args.fence_adverts,
    };
    crate::run_daemon(opts, &logs)
}

/// `-t=LOG_FILE`: the check's report goes to that file.
fn redirect_stderr(path: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::create(path)?;
    // SAFETY: dup2 onto standard error, which this process owns.
    if unsafe { libc::dup2(f.as_raw_fd(), 2) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> KeepalivedCli {
        KeepalivedCli::try_parse_from(std::iter::once("keepalived").chain(args.iter().copied()))
            .unwrap()
    }

    #[test]
    fn keepalived_command_lines_parse() {
        let a = parse(&[
            "-n", "-l", "-D", "--vrrp", "-f", "/x.conf", "-p", "/p", "-r", "/r",
        ]);
        assert!(a.dont_fork && a.log_console && a.log_detail && a.vrrp && !a.check);
        assert_eq!(a.file, PathBuf::from("/x.conf"));
        assert_eq!(a.pid, Some("/p".into()));
        assert_eq!(a.vrrp_pid, Some("/r".into()));
        assert_eq!(parse(&["-t"]).config_test, Some(None));
        assert_eq!(
            parse(&["--config-test=/tmp/log"]).config_test,
            Some(Some("/tmp/log".into()))
        );
        assert_eq!(parse(&["-t", "-f", "/k"]).file, PathBuf::from("/k"));
        assert_eq!(
            parse(&["--dont-fork", "--use-file=/k", "-DlS", "0"]).file,
            PathBuf::from("/k")
        );
        let a = parse(&["-x", "-B", "-a", "-m"]);
        assert_eq!(a.ignored(), vec!["-B", "-a", "-x", "-m"]);
        assert!(KeepalivedCli::try_parse_from(["keepalived", "--frobnicate"]).is_err());
    }

    #[test]
    fn signums_are_keepalived_227s() {
        assert_eq!(signum("STOP"), Some(15));
        assert_eq!(signum("RELOAD"), Some(1));
        assert_eq!(signum("DATA"), Some(10));
        assert_eq!(signum("STATS"), Some(12));
        assert_eq!(signum("STATS_CLEAR"), Some(63));
        assert_eq!(signum("JSON"), Some(36));
        assert_eq!(signum("FOO"), None);
    }

    #[test]
    fn umask_reads_like_strtoul() {
        assert_eq!(parse_umask("022"), Some(0o22));
        assert_eq!(parse_umask("0x12"), Some(0x12));
        assert_eq!(parse_umask("18"), Some(18));
        assert_eq!(parse_umask("0"), Some(0));
        assert_eq!(parse_umask("abc"), None);
        assert_eq!(parse_umask("01000"), None);
    }
}
