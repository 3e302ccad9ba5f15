//! `vrrp_script` checks: each script some instance tracks runs every `interval` with a
//! `timeout` (a hung script counts as failed and is killed), and its state flips after
//! `rise` successes or `fall` failures in a row (keepalived's vrrp_script semantics). Only
//! state changes reach the sink. [`run_once`] is the script runner itself, for any check
//! that runs a program.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::rise_fall::RiseFall;
use super::{ObjKind, Objects, Sink};
use crate::config::model::script::Script;
use crate::config::model::vrrp::VrrpScript;
use crate::daemon::plan::VrrpPlan;
use crate::daemon::task::Task;
use crate::system::user_ids;

/// Who a script runs as (uid, gid); `None`: as the daemon.
pub type RunAs = Option<(u32, u32)>;

/// keepalived's default `script_user`.
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// How one run of a script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    /// Killed by a signal (not ours).
    Signaled,
    /// Still running at the timeout: killed.
    TimedOut,
    /// Could not be started (missing, not executable).
    NotStarted,
}

impl Outcome {
    pub fn success(self) -> bool {
        self == Outcome::Exited(0)
    }
}

/// The user scripts run as when they name none: `script_user`, else keepalived's
/// `keepalived_script` when that user exists, else the daemon's own.
pub fn default_user(script_user: Option<&str>) -> RunAs {
    user_ids(script_user.unwrap_or(DEFAULT_SCRIPT_USER))
}

/// Runs `script` once, waiting at most `timeout`. Only root can change user, so `user` is
/// ignored otherwise.
pub async fn run_once(name: &str, script: &Script, timeout: Duration, user: RunAs) -> Outcome {
    let Some(program) = script.program() else {
        return Outcome::NotStarted;
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(script.args.iter().skip(1))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    // SAFETY: geteuid has no preconditions.
    if let (Some((uid, gid)), 0) = (user, unsafe { libc::geteuid() }) {
        cmd.uid(uid).gid(gid);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            warn!(script = %name, "cannot run {program}: {e}");
            return Outcome::NotStarted;
        }
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => status.code().map_or(Outcome::Signaled, Outcome::Exited),
        Ok(Err(_)) => Outcome::NotStarted,
        Err(_) => {
            warn!(script = %name, "timed out after {timeout:?}: killed");
            let _ = child.kill().await;
            Outcome::TimedOut
        }
    }
}

/// The scripts some instance tracks, by name.
fn used(plan: &VrrpPlan) -> BTreeMap<String, VrrpScript> {
    plan.instances
        .iter()
        .flat_map(|i| &i.track_scripts)
        .map(|t| (t.def.name.clone(), t.def.clone()))
        .collect()
}

/// Starts one task per tracked script. A script whose state is in `known` (a reload)
/// starts from it rather than from `init_fail`, and says so to the sink at once, so a new
/// definition (another interval or weight) takes over the running state.
pub fn start(
    plan: &VrrpPlan,
    script_user: Option<&str>,
    sink: Arc<dyn Sink>,
    known: &Objects,
) -> Vec<Task> {
    let user = default_user(script_user);
    used(plan)
        .into_values()
        .map(|s| {
            let last = known.get(&(ObjKind::Script, s.name.clone())).copied();
            Task::spawn(run(s, sink.clone(), user, last))
        })
        .collect()
}

async fn run(s: VrrpScript, sink: Arc<dyn Sink>, default_user: RunAs, last: Option<i64>) {
    let interval = Duration::from_micros(s.interval.0.max(1));
    let timeout = s
        .timeout
        .map(|t| Duration::from_micros(t.0))
        .unwrap_or(interval);
    let user = match &s.user {
        Some(u) => user_ids(&u.user),
        None => default_user,
    };
    let init_ok = last.map_or(!s.init_fail, |v| v != 0);
    if last.is_some() && !sink.report(ObjKind::Script, &s.name, i64::from(init_ok)) {
        return;
    }
    let mut rf = RiseFall::new(init_ok, s.rise, s.fall);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let success = run_once(&s.name, &s.script, timeout, user).await.success();
        if let Some(ok) = rf.record(success) {
            info!(
                script = %s.name,
                "VRRP_Script({}) {}",
                s.name,
                if ok { "succeeded" } else { "failed" }
            );
            if !sink.report(ObjKind::Script, &s.name, i64::from(ok)) {
                return;
            }
        }
    }
}
