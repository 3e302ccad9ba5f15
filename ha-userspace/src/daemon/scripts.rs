//! `vrrp_script` checks: each script used by a `track_script` runs every `interval` with a
//! `timeout` (a hung script counts as failed and is killed), and its state flips after
//! `rise` successes or `fall` failures in a row (keepalived's vrrp_script semantics). Only
//! state changes reach the engine.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::engine::{Command, EngineHandle};
use super::notify::lookup_user;
use super::plan::Plan;
use super::tracking::ObjKind;
use crate::config::model::vrrp::VrrpScript;

/// The rise/fall counter of one script, pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiseFall {
    pub ok: bool,
    run: u32,
    rise: u32,
    fall: u32,
}

impl RiseFall {
    pub fn new(init_ok: bool, rise: u32, fall: u32) -> Self {
        RiseFall {
            ok: init_ok,
            run: 0,
            rise: rise.max(1),
            fall: fall.max(1),
        }
    }

    /// Records one result; returns the new state when it changed.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        if success == self.ok {
            self.run = 0;
            return None;
        }
        self.run += 1;
        let need = if success { self.rise } else { self.fall };
        if self.run >= need {
            self.ok = success;
            self.run = 0;
            Some(success)
        } else {
            None
        }
    }
}

/// The running checks; dropping it stops them.
pub struct Scripts {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Scripts {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Starts one task per script tracked by some instance.
pub fn start(plan: &Plan, engine: Arc<EngineHandle>, default_user: Option<&str>) -> Scripts {
    let mut used: BTreeMap<String, VrrpScript> = BTreeMap::new();
    for i in &plan.instances {
        for t in &i.track_scripts {
            used.insert(t.script.name.clone(), t.script.clone());
        }
    }
    let user = lookup_user(default_user.unwrap_or("keepalived_script"));
    let tasks = used
        .into_values()
        .map(|s| {
            let engine = engine.clone();
            tokio::spawn(run(s, engine, user))
        })
        .collect();
    Scripts { tasks }
}

async fn run(s: VrrpScript, engine: Arc<EngineHandle>, default_user: Option<(u32, u32)>) {
    let interval = Duration::from_micros(s.interval.0.max(1));
    let timeout = s
        .timeout
        .map(|t| Duration::from_micros(t.0))
        .unwrap_or(interval);
    let user = match &s.user {
        Some(u) => lookup_user(&u.user),
        None => default_user,
    };
    let mut rf = RiseFall::new(!s.init_fail, s.rise, s.fall);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let success = run_once(&s, timeout, user).await;
        if let Some(ok) = rf.record(success) {
            info!(
                script = %s.name,
                "VRRP_Script({}) {}",
                s.name,
                if ok { "succeeded" } else { "failed" }
            );
            if !engine.send(Command::Track {
                kind: ObjKind::Script,
                name: s.name.clone(),
                value: i64::from(ok),
            }) {
                return;
            }
        }
    }
}

async fn run_once(s: &VrrpScript, timeout: Duration, user: Option<(u32, u32)>) -> bool {
    let Some(program) = s.script.program() else {
        return false;
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(s.script.args.iter().skip(1))
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
            warn!(script = %s.name, "cannot run {program}: {e}");
            return false;
        }
    };
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => status.success(),
        Ok(Err(_)) => false,
        Err(_) => {
            warn!(script = %s.name, "timed out after {timeout:?}: killed");
            let _ = child.kill().await;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rise_and_fall_need_consecutive_results() {
        let mut rf = RiseFall::new(true, 2, 3);
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(true), None, "a success resets the fall count");
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(false), None);
        assert_eq!(rf.record(false), Some(false));
        assert_eq!(rf.record(true), None);
        assert_eq!(rf.record(true), Some(true));
    }

    #[test]
    fn init_fail_starts_failed() {
        let mut rf = RiseFall::new(false, 1, 1);
        assert!(!rf.ok);
        assert_eq!(rf.record(true), Some(true));
    }
}
