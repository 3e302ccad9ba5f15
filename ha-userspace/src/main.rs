//! The `ha` command line. keepalived's own spellings work too: `ha -t -f FILE` is
//! `ha check-config -f FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use ha::config::{self, diag::exit, LoadOptions, Severity, SystemEnv};
use ha::daemon::control;
use ha::daemon::run::{RunError, RunOptions};

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
struct Cli {
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
}

/// The config file and the id its `@ID` lines are read for: the same two flags for every
/// command, as keepalived spells them.
#[derive(Args, Clone)]
struct ConfigArgs {
    /// The configuration file.
    #[arg(
        short = 'f',
        long = "use-file",
        default_value = "/etc/keepalived/keepalived.conf"
    )]
    file: PathBuf,
    /// Config id for `@ID` lines (default: host name up to the first dot).
    #[arg(short = 'i', long = "config-id")]
    config_id: Option<String>,
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
struct CheckArgs {
    #[command(flatten)]
    config: ConfigArgs,
    /// Treat every warning as an error (nothing falls back to a default).
    #[arg(long)]
    strict: bool,
    /// Print the understood configuration as JSON on stdout.
    #[arg(long)]
    dump: bool,
}

fn main() -> ExitCode {
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
        None if cli.config_test => check_config(&cli.check),
        None => {
            eprintln!("ha: nothing to do; try `ha check-config -f FILE` or `ha --help`");
            2
        }
    };
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

fn check_config(args: &CheckArgs) -> i32 {
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
    ha::system::tune_allocator_for_daemon();
    let filter = tracing_subscriber::EnvFilter::try_from_env("HA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Lines go to stderr from a thread of their own: a log line written by the VRRP engine
    // thread (a transition, a busy wake-up) never waits for the terminal or the journal.
    // 65,536 lines of backlog (2 MiB, allocated up front; the default 128,000 is 4 MiB): a
    // 40,000-real-server config logs 42,000 lines at start.
    let (writer, _flush_at_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(65_536)
        .finish(std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let opts = RunOptions {
        config: args.config.file,
        config_id: args.config.config_id,
        control_socket: args.sock.control_socket,
        dump_dir: args.dump_dir,
        pid_file: args.pid.or(args.vrrp_pid),
        realtime: !args.no_realtime,
        xdp: !args.no_xdp,
        vrrp: !args.check_only,
        checkers: !args.vrrp_only,
        metrics: args.metrics,
    };
    match ha::daemon::run::run(opts) {
        Ok(()) => 0,
        Err(RunError::Config(e)) => {
            eprintln!("{e}\nha: configuration errors, not starting");
            exit::ERRORS
        }
        Err(e) => {
            eprintln!("ha: {e}");
            1
        }
    }
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
