//! The `ha` command line. keepalived's own spellings work too: `ha -t -f FILE` is
//! `ha check-config -f FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use ha::config::{self, diag::exit, LoadOptions, Severity, SystemEnv};

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
}

#[derive(Args, Clone)]
struct CheckArgs {
    /// The configuration file.
    #[arg(
        short = 'f',
        long = "use-file",
        default_value = "/etc/keepalived/keepalived.conf"
    )]
    file: PathBuf,
    /// Treat every warning as an error (nothing falls back to a default).
    #[arg(long)]
    strict: bool,
    /// Config id for `@ID` lines (default: host name up to the first dot).
    #[arg(short = 'i', long = "config-id")]
    config_id: Option<String>,
    /// Print the understood configuration as JSON on stdout.
    #[arg(long)]
    dump: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.cmd {
        Some(Cmd::CheckConfig(args)) => check_config(&args),
        None if cli.config_test => check_config(&cli.check),
        None => {
            eprintln!("ha: nothing to do; try `ha check-config -f FILE` or `ha --help`");
            2
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn check_config(args: &CheckArgs) -> i32 {
    let opts = LoadOptions {
        strict: args.strict,
        config_id: args.config_id.clone(),
        ..LoadOptions::default()
    };
    let loaded = config::load(&args.file, &opts, &SystemEnv);
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
        eprintln!("{}: configuration OK", args.file.display());
    } else {
        eprintln!(
            "{}: {errors} error(s), {warnings} warning(s)",
            args.file.display()
        );
    }
    code
}
