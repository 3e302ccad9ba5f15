//! Wall time and peak RSS of one child process, and summaries over repeated runs.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// One run of one command.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub wall: Duration,
    /// The child's `ru_maxrss` (KiB on Linux) from `wait4`.
    pub max_rss_kib: u64,
    /// Exit code, or 128 + signal number like a shell.
    pub exit_code: i32,
}

/// Runs `cmd` to completion with its output in `log` (a file: a pipe nobody drains could
/// block a chatty child and distort the timing) and measures it. `wait4` rather than
/// `getrusage(RUSAGE_CHILDREN)`: the latter is a high-water mark over all children ever
/// waited for, so one big run would hide every later one.
pub fn run_once(cmd: &mut Command, log: &Path) -> Result<Sample> {
    let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone().context("duplicating log file handle")?;
    let start = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let pid = libc::pid_t::try_from(child.id()).context("pid out of range")?;

    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for the kernel to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `pid` is our own unreaped child (std's `Child` does not reap on drop);
        // status and usage point to live locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).with_context(|| format!("waiting for {cmd:?}"));
        }
    }
    let wall = start.elapsed();

    let exit_code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    };
    Ok(Sample {
        wall,
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        exit_code,
    })
}

/// What the table shows for one command over its runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub runs: usize,
    pub median_ms: f64,
    /// Nearest-rank 95th percentile (with 10 runs, that is the maximum).
    pub p95_ms: f64,
    pub max_ms: f64,
    pub peak_rss_mib: f64,
    /// Distinct exit codes seen, in order of first appearance.
    pub exit_codes: Vec<i32>,
}

pub fn summarize(samples: &[Sample]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut ms: Vec<f64> = samples.iter().map(|s| s.wall.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let n = ms.len();
    let median_ms = if n % 2 == 1 {
        ms[n / 2]
    } else {
        (ms[n / 2 - 1] + ms[n / 2]) / 2.0
    };
    // Nearest rank: the smallest value with at least 95% of the samples at or below it.
    let rank = (n * 95).div_ceil(100).max(1);
    let mut exit_codes = Vec::new();
    for s in samples {
        if !exit_codes.contains(&s.exit_code) {
            exit_codes.push(s.exit_code);
        }
    }
    Some(Summary {
        runs: n,
        median_ms,
        p95_ms: ms[rank - 1],
        max_ms: ms[n - 1],
        peak_rss_mib: samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0) as f64 / 1024.0,
        exit_codes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(ms: u64, rss: u64, code: i32) -> Sample {
        Sample {
            wall: Duration::from_millis(ms),
            max_rss_kib: rss,
            exit_code: code,
        }
    }

    #[test]
    fn summary_of_ten_runs() {
        let samples: Vec<Sample> = [5, 1, 9, 3, 7, 2, 8, 4, 10, 6]
            .iter()
            .map(|&ms| sample(ms, ms * 1024, 0))
            .collect();
        let s = summarize(&samples).expect("non-empty");
        assert_eq!(s.runs, 10);
        assert_eq!(s.median_ms, 5.5);
        assert_eq!(s.p95_ms, 10.0);
        assert_eq!(s.max_ms, 10.0);
        assert_eq!(s.peak_rss_mib, 10.0);
        assert_eq!(s.exit_codes, vec![0]);
    }

    #[test]
    fn p95_below_max_with_enough_runs() {
        let samples: Vec<Sample> = (1..=40)
            .map(|ms| sample(ms, 1, if ms == 40 { 4 } else { 0 }))
            .collect();
        let s = summarize(&samples).expect("non-empty");
        assert_eq!(s.p95_ms, 38.0);
        assert_eq!(s.max_ms, 40.0);
        assert_eq!(s.exit_codes, vec![0, 4]);
    }

    #[test]
    fn empty_has_no_summary() {
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn measures_a_real_child() {
        let log = std::env::temp_dir().join(format!("xtask-measure-{}.log", std::process::id()));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo hi; sleep 0.05; exit 3"]);
        let s = run_once(&mut cmd, &log).expect("run sh");
        let out = std::fs::read_to_string(&log).unwrap_or_default();
        let _ = std::fs::remove_file(&log);
        assert_eq!(s.exit_code, 3);
        assert!(s.wall >= Duration::from_millis(50), "{:?}", s.wall);
        assert!(s.max_rss_kib > 0);
        assert_eq!(out, "hi\n");
    }
}
