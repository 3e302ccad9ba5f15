//! The IPVS test VM from the command line (tests/src/vm):
//! - `ha-vm diff FILE…`: each config under keepalived and under `ha`, in one boot; prints
//!   `identical` or the differing rows per file (`cargo xtask ipvs-diff`);
//! - `ha-vm script RUN.SH [FILE…]`: boots with the script and files under /scenario and
//!   prints the console.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use ha_tests::vm::{diff, Vm};

#[derive(Parser)]
#[command(
    name = "ha-vm",
    about = "Boot Debian's kernel in qemu to test the IPVS backend"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Program each config with keepalived and with ha; compare the kernel's tables.
    Diff {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Time to program services × real servers from start, and from a checker flip to the
    /// kernel's table changing: keepalived and ha in the same VM.
    Bench {
        #[arg(long, default_value_t = 2000)]
        services: usize,
        #[arg(long, default_value_t = 20)]
        dests: usize,
        /// Flips each way.
        #[arg(long, default_value_t = 10)]
        flips: usize,
    },
    /// Run a scenario script (busybox sh, with /lib/ha-vm.sh) and print the console.
    Script {
        script: PathBuf,
        files: Vec<PathBuf>,
        /// Seconds before the VM is killed.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
        /// Virtual CPUs.
        #[arg(long, default_value_t = 1)]
        cpus: u32,
    },
}

fn init() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.with_file_name("ha-vm-init")
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ha-vm: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool> {
    let cli = Cli::parse();
    let vm = Vm::get(&init())?;
    match cli.cmd {
        Cmd::Diff { files } => {
            let mut configs = Vec::new();
            for f in &files {
                let text = std::fs::read(f).with_context(|| format!("reading {}", f.display()))?;
                configs.push((f.display().to_string(), text));
            }
            let outcomes = diff::compare(vm, &configs)?;
            let mut all = true;
            for o in &outcomes {
                if let Some(why) = &o.skipped {
                    println!(
                        "{}: skipped, keepalived's checker exits: {}",
                        o.name,
                        why.trim()
                    );
                } else if o.identical() {
                    println!("{}: identical", o.name);
                } else {
                    all = false;
                    println!("{}: differs (- keepalived, + ha)", o.name);
                    for r in &o.rows {
                        println!("  {r}");
                    }
                }
            }
            let same = outcomes.iter().filter(|o| o.identical()).count();
            let compared = outcomes.iter().filter(|o| o.skipped.is_none()).count();
            println!("IPVS tables identical to keepalived's: {same}/{compared}");
            Ok(all)
        }
        Cmd::Bench {
            services,
            dests,
            flips,
        } => {
            use ha_tests::vm::bench;
            println!(
                "IPVS in the VM ({}): {services} services x {dests} real servers, {flips} flips each way",
                if ha_tests::vm::qemu::hardware_virt() { "KVM" } else { "TCG" }
            );
            let (figures, logs) = bench::run(vm, services, dests, flips)?;
            print!("{logs}");
            for f in &figures {
                let (med, max) = bench::median_max(&f.flips);
                println!(
                    "{:<10} start to full table {:>8.2} s   checker flip to kernel: median {:>7.2} ms, max {:>7.2} ms (one look at the table: {:.2} ms)",
                    f.daemon,
                    f.start.as_secs_f64(),
                    med.as_secs_f64() * 1e3,
                    max.as_secs_f64() * 1e3,
                    f.poll.as_secs_f64() * 1e3
                );
            }
            if let [k, h] = &figures[..] {
                let (km, _) = bench::median_max(&k.flips);
                let (hm, _) = bench::median_max(&h.flips);
                println!(
                    "ha vs keepalived: start {:.1}x faster, flip {:.1}x faster (target: 2x on both)",
                    k.start.as_secs_f64() / h.start.as_secs_f64().max(1e-9),
                    km.as_secs_f64() / hm.as_secs_f64().max(1e-9)
                );
            }
            Ok(true)
        }
        Cmd::Script {
            script,
            files,
            timeout,
            cpus,
        } => {
            let mut map = BTreeMap::new();
            map.insert("run.sh".to_string(), std::fs::read(&script)?);
            for f in &files {
                let name = Path::new(f)
                    .file_name()
                    .context("file name")?
                    .to_string_lossy()
                    .into_owned();
                map.insert(name, std::fs::read(f)?);
            }
            let run = vm.run_on(&map, Duration::from_secs(timeout), cpus)?;
            print!("{}", run.console);
            println!("exit: {:?}", run.exit);
            Ok(run.exit == Some(0))
        }
    }
}
