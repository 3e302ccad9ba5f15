//! The `ha` command line. keepalived's own spellings work too: `ha -t -f FILE` is
//! `ha check-config -f FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use ha::config::{self, diag::exit, LoadOptions, Severity, SystemEnv};
use ha::daemon::control;
use ha::daemon::pid_files::PidFiles;
use ha::daemon::run::{RunError, RunOptions};

mod cli;

/// A config is hundreds of thousands of small strings built and dropped at once; mimalloc
/// does that several times faster than glibc's allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ha",
    version,
    about = "keepalived-compatible HA daemon with an XDP fast path"
)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Cli {
    /// Test the configuration and exit (keepalived's -t), same as `ha check-config`.
    #[arg(short = 't', long = "config-test")]
    config_test: bool,

    #[command(flatten)]
    check: CheckArgs,

    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Check a keepalived.conf and report every problem; exits like `keepalived -t`:
    /// 0 clean, 4 errors, 5 warnings only, 6 scripts without enable_script_security.
    CheckConfig(CheckArgs),
    /// Run the VRRP daemon in the foreground (like `keepalived -n`).
    Run(RunArgs),
    /// Show every VRRP instance: state, priorities, master, counters.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        to: ClientArgs,
    },
    /// Manual switchover: a MASTER hands over (priority 0), a BACKUP takes over.
    Failover {
        /// The vrrp_instance name.
        instance: String,
        #[command(flatten)]
        to: ClientArgs,
    },
    /// Reload the config file of the running daemon (like SIGHUP, but reports the result).
    Reload {
        #[command(flatten)]
        to: ClientArgs,
    },
    /// Show the kernel's IPVS table (like `ipvsadm -Ln`), read over generic netlink; no
    /// daemon needs to run.
    Ipvs {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Print every message the kernel sent, in hex (the codec's test vectors).
        #[arg(long)]
        capture: bool,
    },
    /// Write the man pages or a shell's completions (for packaging).
    #[command(subcommand, hide = true)]
    Generate(cli::generate::What),
}

/// The config file and the id its `@ID` lines are read for: the same two flags for every
/// command, as keepalived spells them.
#[derive(Args, Clone)]
pub(crate) struct ConfigArgs {
    /// The configuration file.
    #[arg(
        short = 'f',
        long = "use-file",
        default_value = "/etc/keepalived/keepalived.conf"
    )]
    pub(crate) file: PathBuf,
    /// Config id for `@ID` lines (default: host name up to the first dot).
    #[arg(short = 'i', long = "config-id")]
    pub(crate) config_id: Option<String>,
}

#[derive(Args, Clone)]
struct SocketArg {
    /// The control socket. Default: /run/ha/ha.sock, or ha_INSTANCE_NETNS.sock there when
    /// the config sets `instance` / `net_namespace` or ha runs in a named network namespace
    /// (`ip netns exec`), as keepalived names its pid files.
    #[arg(short = 'S', long = "control-socket")]
    control_socket: Option<PathBuf>,
}

/// How a client command finds the daemon: `-S`, else the default socket of the daemon
/// running `-f FILE` in this network namespace.
#[derive(Args, Clone)]
struct ClientArgs {
    #[command(flatten)]
    sock: SocketArg,
    /// The daemon's config, read only for its `instance` and `net_namespace`.
    #[command(flatten)]
    config: ConfigArgs,
}

impl ClientArgs {
    fn socket(&self) -> PathBuf {
        if let Some(s) = &self.sock.control_socket {
            return s.clone();
        }
        let opts = LoadOptions {
            config_id: self.config.config_id.clone(),
            ..LoadOptions::default()
        };
        let loaded = config::load(&self.config.file, &opts, &SystemEnv);
        let d = &loaded.config.global.daemon;
        let netns = d.net_namespace.clone().or_else(control::current_netns);
        control::default_socket(d.instance.as_deref(), netns.as_deref())
    }
}

/// keepalived's flags are accepted where they mean something here: `-n` (foreground: always),
/// `-l`/`-D` (log to the console, detailed: always), `-p`/`-r`
/// (pid files), `-f`, `-i`.
#[derive(Args, Clone)]
struct RunArgs {
    #[command(flatten)]
    config: ConfigArgs,
    #[command(flatten)]
    sock: SocketArg,
    /// Directory for the SIGUSR1 / SIGUSR2 dumps (keepalived.data, keepalived.stats).
    #[arg(long, default_value = "/tmp")]
    dump_dir: PathBuf,
    /// keepalived's main pid file.
    #[arg(short = 'p', long = "pid")]
    pid: Option<PathBuf>,
    /// keepalived's VRRP child pid file (the same process here).
    #[arg(short = 'r', long = "vrrp_pid")]
    vrrp_pid: Option<PathBuf>,
    /// keepalived's checkers child pid file (the same process here).
    #[arg(short = 'c', long = "checkers_pid")]
    checkers_pid: Option<PathBuf>,
    /// keepalived's BFD child pid file (the same process here).
    #[arg(short = 'b', long = "bfd_pid")]
    bfd_pid: Option<PathBuf>,
    /// Run in the network namespace `ip netns` calls NAME (over the config's
    /// `net_namespace`), as keepalived's -s.
    #[arg(short = 's', long = "namespace", value_name = "NAME")]
    namespace: Option<String>,
    /// Keep the VRRP engine thread at normal priority (by default it runs SCHED_RR, priority
    /// `vrrp_rt_priority` or 1, so a busy machine does not delay adverts).
    #[arg(long)]
    no_realtime: bool,
    /// Receive adverts through raw sockets only: no XDP program (the fast path is also left
    /// out, with a log line, when the kernel refuses BPF).
    #[arg(long)]
    no_xdp: bool,
    /// Serve Prometheus metrics at http://ADDR:PORT/metrics (OpenMetrics text; names
    /// begin with `ha_`).
    #[arg(long, value_name = "ADDR:PORT")]
    metrics: Option<std::net::SocketAddr>,
    /// Advert intervals (the shortest of the instances') without the VRRP engine's heartbeat
    /// before the XDP program, which outlives a killed daemon, stops answering for its VIPs
    /// and drops their traffic; 0 turns fencing off.
    #[arg(long, value_name = "N", default_value_t = ha::daemon::vrrp::engine::DEFAULT_FENCE_ADVERTS,
          value_parser = clap::value_parser!(u32).range(0..=10))]
    fence_adverts: u32,
    #[arg(short = 'n', long = "dont-fork", hide = true)]
    dont_fork: bool,
    #[arg(short = 'l', long = "log-console", hide = true)]
    log_console: bool,
    #[arg(short = 'D', long = "log-detail", hide = true)]
    log_detail: bool,
    /// Run only the VRRP instances, not the checkers (keepalived's -P).
    #[arg(short = 'P', long = "vrrp", conflicts_with = "check_only")]
    vrrp_only: bool,
    /// Run only the health checkers of the virtual servers, not VRRP (keepalived's -C).
    #[arg(short = 'C', long = "check")]
    check_only: bool,
}

#[derive(Args, Clone)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArgs,
    /// Treat every warning as an error (nothing falls back to a default).
    #[arg(long)]
    pub(crate) strict: bool,
    /// Print the understood configuration as JSON on stdout.
    #[arg(long)]
    pub(crate) dump: bool,
}

fn main() -> ExitCode {
    // systemd's variables are read, and taken out of the environment, while the process has
    // one thread.
    ha::daemon::sd_notify::init_from_env();
    if cli::keepalived::invoked_as_keepalived() {
        return exit_code(cli::keepalived::main());
    }
    let cli = Cli::parse();
    let code = match cli.cmd {
        Some(Cmd::CheckConfig(args)) => check_config(&args),
        Some(Cmd::Run(args)) => run(args),
        Some(Cmd::Status { json, to }) => status(&to.socket(), json),
        Some(Cmd::Failover { instance, to }) => {
            simple(&to.socket(), &control::Request::Failover { instance })
        }
        Some(Cmd::Reload { to }) => simple(&to.socket(), &control::Request::Reload),
        Some(Cmd::Ipvs { json, capture }) => ipvs_show(json, capture),
        Some(Cmd::Generate(what)) => cli::generate::run(&what),
        None if cli.config_test => check_config(&cli.check),
        None => {
            eprintln!("ha: nothing to do; try `ha check-config -f FILE` or `ha --help`");
            2
        }
    };
    exit_code(code)
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn ipvs_show(json: bool, capture: bool) -> i32 {
    use ha::daemon::lb::ipvs::{show, IpvsBackend};
    use ha::lb::LbSettings;
    let mut b = match IpvsBackend::open(LbSettings::default()) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("ha ipvs: {e}");
            return 1;
        }
    };
    if capture {
        b.capture(true);
    }
    let view = match b.dump() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("ha ipvs: reading the table: {e}");
            return 1;
        }
    };
    let timeouts = b.timeouts().ok();
    if capture {
        for m in b.captured() {
            let hex: String = m.iter().map(|b| format!("{b:02x}")).collect();
            println!("{hex}");
        }
        return 0;
    }
    if json {
        let v = serde_json::json!({ "timeouts": timeouts, "services": show::rows(&view) });
        match serde_json::to_string_pretty(&v) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("ha ipvs: {e}");
                return 1;
            }
        }
    } else {
        print!("{}", show::render(&show::rows(&view), timeouts));
    }
    0
}

pub(crate) fn check_config(args: &CheckArgs) -> i32 {
    let opts = LoadOptions {
        strict: args.strict,
        config_id: args.config.config_id.clone(),
        ..LoadOptions::default()
    };
    let loaded = config::load(&args.config.file, &opts, &SystemEnv);
    eprint!("{}", loaded.report());
    if args.dump {
        match serde_json::to_string_pretty(&loaded.config) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("ha: cannot serialize the configuration: {e}");
                return exit::ERRORS;
            }
        }
    }
    let errors = loaded.diags.count(Severity::Error);
    let warnings = loaded.diags.count(Severity::Warning);
    let code = loaded.diags.exit_code();
    if code == exit::OK {
        eprintln!("{}: configuration OK", args.config.file.display());
    } else {
        eprintln!(
            "{}: {errors} error(s), {warnings} warning(s)",
            args.config.file.display()
        );
    }
    code
}

fn run(args: RunArgs) -> i32 {
    let _flush_at_exit = start_logging(&Logs::Stderr);
    let opts = RunOptions {
        config: args.config.file,
        config_id: args.config.config_id,
        control_socket: args.sock.control_socket,
        dump_dir: args.dump_dir,
        pid_files: PidFiles {
            main: args.pid,
            vrrp: args.vrrp_pid,
            checkers: args.checkers_pid,
            bfd: args.bfd_pid,
        },
        keepalived_pid_files: false,
        netns: args.namespace,
        realtime: !args.no_realtime,
        xdp: !args.no_xdp,
        vrrp: !args.check_only,
        checkers: !args.vrrp_only,
        metrics: args.metrics,
        fence_adverts: args.fence_adverts,
    };
    run_daemon(opts, &Logs::Stderr)
}

/// Where the daemon's log lines go.
pub(crate) enum Logs {
    /// Standard error: a terminal, or the journal under systemd.
    Stderr,
    /// syslog, with this ident: a daemon in the background.
    Syslog(&'static str),
}

/// Starts the log thread; the guard it returns flushes the last lines when dropped.
pub(crate) fn start_logging(to: &Logs) -> tracing_appender::non_blocking::WorkerGuard {
    ha::system::tune_allocator_for_daemon();
    let filter = tracing_subscriber::EnvFilter::try_from_env("HA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Lines go out from a thread of their own: a log line written by the VRRP engine
    // thread (a transition, a busy wake-up) never waits for the terminal, the journal or
    // syslog. 65,536 lines of backlog (2 MiB, allocated up front; the default 128,000 is
    // 4 MiB): a 40,000-real-server config logs 42,000 lines at start.
    let builder =
        tracing_appender::non_blocking::NonBlockingBuilder::default().buffered_lines_limit(65_536);
    let (writer, guard) = match to {
        Logs::Stderr => {
            builder.finish(Box::new(std::io::stderr()) as Box<dyn std::io::Write + Send>)
        }
        &Logs::Syslog(ident) => {
            let sys = ha::daemon::syslog::Syslog::new(ident);
            if !sys.connected() {
                eprintln!("{ident}: no syslog at /dev/log: the daemon's log lines are lost");
            }
            builder.finish(Box::new(sys) as Box<dyn std::io::Write + Send>)
        }
    };
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false);
    match to {
        // The journal stamps the time itself (systemd sets JOURNAL_STREAM for a service
        // whose output goes there).
        Logs::Stderr if std::env::var_os("JOURNAL_STREAM").is_some() => {
            fmt.with_ansi(false).without_time().init()
        }
        Logs::Stderr => fmt
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        // syslog stamps the time itself.
        Logs::Syslog(_) => fmt.with_ansi(false).without_time().init(),
    }
    guard
}

/// Runs the daemon until it stops; the process's exit code. Why it could not start goes to
/// standard error (the terminal, the journal, or the command that started a daemon going to
/// the background), and to syslog too when that is where the logs go.
pub(crate) fn run_daemon(opts: RunOptions, logs: &Logs) -> i32 {
    let (code, text) = match ha::daemon::run::run(opts) {
        Ok(()) => return 0,
        Err(RunError::Config(e)) => (
            exit::ERRORS,
            format!("{e}\nha: configuration errors, not starting"),
        ),
        // keepalived logs this and exits 0: the daemon the caller wanted is running.
        Err(e @ RunError::AlreadyRunning { .. }) => (0, format!("ha: {e}")),
        Err(e) => (1, format!("ha: {e}")),
    };
    eprintln!("{text}");
    if let Logs::Syslog(_) = logs {
        tracing::error!("{text}");
    }
    code
}

fn status(sock: &std::path::Path, json: bool) -> i32 {
    match control::request(sock, &control::Request::Status) {
        Ok(control::Reply {
            ok: true,
            status: Some(s),
            ..
        }) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
            } else {
                print!("{}", s.render());
            }
            0
        }
        Ok(r) => {
            eprintln!("ha: {}", r.message.unwrap_or_else(|| "no status".into()));
            1
        }
        Err(e) => {
            eprintln!("ha: {e}");
            1
        }
    }
}

fn simple(sock: &std::path::Path, req: &control::Request) -> i32 {
    match control::request(sock, req) {
        Ok(r) => {
            let m = r.message.unwrap_or_default();
            if r.ok {
                println!("{m}");
                0
            } else {
                eprintln!("ha: {m}");
                1
            }
        }
        Err(e) => {
            eprintln!("ha: {e}");
            1
        }
    }
}
