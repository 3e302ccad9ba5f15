//! Running one probe: a network probe through `probe`, a `MISC_CHECK` through the daemon's
//! script runner; either way a [`ProbeResult`] with how long it took.

use super::model::Exec;
use super::probe::{self, TlsClient};
use crate::check::ProbeResult;
use crate::daemon::watch::scripts::{run_once, Outcome};
use crate::units::Micros;

pub async fn execute(exec: &Exec, tls: Option<&TlsClient>) -> ProbeResult {
    let started = std::time::Instant::now();
    let (ok, code, reason) = match (exec, tls) {
        (Exec::Net(spec), Some(tls)) => {
            let o = probe::run(spec, tls).await;
            (o.ok, None, o.reason)
        }
        (Exec::Net(_), None) => (false, None, "no TLS client context".to_string()),
        (
            Exec::Misc {
                script,
                timeout,
                user,
                dynamic,
            },
            _,
        ) => {
            let name = script.program().unwrap_or("MISC_CHECK");
            // Boxed, like the network probes: a child process's future is large.
            match Box::pin(run_once(name, script, *timeout, *user)).await {
                Outcome::Exited(c) => {
                    let c = c as u32;
                    let ok = c == 0 || (*dynamic && (2..=255).contains(&c));
                    (ok, Some(c), format!("exited with status {c}"))
                }
                Outcome::Signaled => (false, None, "killed by a signal".into()),
                Outcome::TimedOut => (false, None, format!("timed out after {timeout:?}")),
                Outcome::NotStarted => (false, None, "could not be started".into()),
            }
        }
    };
    ProbeResult {
        ok,
        code,
        reason,
        took: Micros(started.elapsed().as_micros() as u64),
    }
}
