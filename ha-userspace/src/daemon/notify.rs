//! Notifications on state changes, as keepalived gives them: `notify_master`, `notify_backup`,
//! `notify_fault`, `notify_stop` run without arguments; `notify` runs with
//! `INSTANCE|GROUP NAME STATE PRIORITY`; the notify FIFO gets `INSTANCE "NAME" STATE PRIORITY`
//! lines. Scripts run as `script_user` (keepalived's default `keepalived_script` when that
//! user exists, else root), never on the engine thread, and are reaped in the background.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use tracing::{info, warn};

use super::plan::{GroupPlan, InstancePlan, Plan, SmtpPlan};
use super::runner::Event;
use super::smtp::{message, spawn_alert};
use crate::config::model::script::NotifyScript;
use crate::config::model::vrrp::Notify;
use crate::vrrp::fsm::State;

/// The state names notify scripts and the FIFO use: leaving to Initialize is a stop.
pub fn notify_state(to: State) -> &'static str {
    match to {
        State::Initialize => "STOP",
        s => s.as_str(),
    }
}

/// The argument list of the generic `notify` script (keepalived's order).
pub fn notify_args(kind: &str, name: &str, state: &str, priority: u8) -> Vec<String> {
    vec![
        kind.to_owned(),
        name.to_owned(),
        state.to_owned(),
        priority.to_string(),
    ]
}

/// One line of the notify FIFO.
pub fn fifo_line(kind: &str, name: &str, state: &str, priority: u8) -> String {
    format!("{kind} \"{name}\" {state} {priority}\n")
}

pub struct Notifier {
    instances: BTreeMap<String, InstancePlan>,
    groups: Vec<GroupPlan>,
    fifo: Option<String>,
    /// Held open read-write, as keepalived does: lines queue in the pipe until a reader
    /// comes, and a reader never sees EOF while the daemon runs.
    fifo_file: Option<std::fs::File>,
    user: Option<(u32, u32)>,
    /// The last state of each instance, to derive group states.
    states: BTreeMap<String, State>,
    group_states: BTreeMap<String, State>,
    smtp: Option<SmtpPlan>,
    router_id: String,
}

impl Notifier {
    pub fn new(plan: &Plan) -> Self {
        let mut n = Notifier {
            instances: BTreeMap::new(),
            groups: Vec::new(),
            fifo: None,
            fifo_file: None,
            user: None,
            states: BTreeMap::new(),
            group_states: BTreeMap::new(),
            smtp: None,
            router_id: String::new(),
        };
        n.update(plan);
        n
    }

    /// A reload changed the config.
    pub fn update(&mut self, plan: &Plan) {
        self.instances = plan
            .instances
            .iter()
            .map(|i| (i.name.clone(), i.clone()))
            .collect();
        self.groups = plan.groups.clone();
        self.smtp = plan.smtp.clone();
        self.router_id = plan.router_id.clone();
        if self.fifo != plan.notify_fifo || self.fifo_file.is_none() {
            self.fifo = plan.notify_fifo.clone();
            self.fifo_file = self.fifo.as_deref().and_then(open_fifo);
        }
        let name = plan.script_user.as_deref().unwrap_or("keepalived_script");
        self.user = lookup_user(name);
    }

    pub fn on_event(&mut self, e: &Event) {
        match e {
            Event::Transition {
                instance,
                to,
                priority,
                ..
            } => {
                self.states.insert(instance.clone(), *to);
                let Some(plan) = self.instances.get(instance) else {
                    return;
                };
                let state = notify_state(*to);
                let notify = plan.notify.clone();
                let mail = plan.smtp_alert;
                self.fire("INSTANCE", instance, state, *priority, &notify);
                if mail {
                    self.mail("Instance", instance, state);
                }
                self.groups_after(instance);
            }
            Event::LowerPriority { instance, src } => {
                let script = self
                    .instances
                    .get(instance)
                    .and_then(|p| p.notify_master_rx_lower_pri.clone());
                if let Some(s) = script {
                    info!(instance = %instance, %src, "running notify_master_rx_lower_pri");
                    self.spawn(&s, &[]);
                }
            }
        }
    }

    /// A group changes state when all its members share the new state (FAULT: as soon as
    /// one member is in FAULT).
    fn groups_after(&mut self, instance: &str) {
        let groups: Vec<GroupPlan> = self
            .groups
            .iter()
            .filter(|g| g.members.iter().any(|m| m == instance))
            .cloned()
            .collect();
        for g in groups {
            let states: Vec<Option<State>> = g
                .members
                .iter()
                .map(|m| self.states.get(m).copied())
                .collect();
            let state = if states.contains(&Some(State::Fault)) {
                Some(State::Fault)
            } else if states.iter().all(|s| *s == states[0]) {
                states[0]
            } else {
                None
            };
            let Some(state) = state else { continue };
            if self.group_states.get(&g.name) == Some(&state) {
                continue;
            }
            self.group_states.insert(g.name.clone(), state);
            self.fire("GROUP", &g.name, notify_state(state), 0, &g.notify);
            if g.smtp_alert {
                self.mail("Group", &g.name, notify_state(state));
            }
        }
    }

    fn fire(&mut self, kind: &str, name: &str, state: &str, priority: u8, notify: &Notify) {
        let specific = match state {
            "MASTER" => notify.master.as_ref(),
            "BACKUP" => notify.backup.as_ref(),
            "FAULT" => notify.fault.as_ref(),
            "STOP" => notify.stop.as_ref(),
            _ => None,
        };
        if let Some(s) = specific {
            self.spawn(s, &[]);
        }
        if let Some(s) = &notify.any {
            self.spawn(s, &notify_args(kind, name, state, priority));
        }
        if let Some(f) = &mut self.fifo_file {
            let _ = f.write_all(fifo_line(kind, name, state, priority).as_bytes());
        }
    }

    /// keepalived mails MASTER, BACKUP and FAULT transitions (not the stop at shutdown,
    /// when there is no time left to deliver it).
    fn mail(&self, kind: &str, name: &str, state: &str) {
        let Some(smtp) = &self.smtp else { return };
        if state == "STOP" {
            return;
        }
        let (subject, body) = message(&self.router_id, kind, name, state);
        spawn_alert(smtp.clone(), subject, body);
    }

    fn spawn(&self, s: &NotifyScript, extra: &[String]) {
        let Some(program) = s.script.program() else {
            return;
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(s.script.args.iter().skip(1)).args(extra);
        let user = match &s.user {
            Some(u) => lookup_user(u),
            None => self.user,
        };
        // SAFETY: geteuid has no preconditions.
        if let (Some((uid, gid)), 0) = (user, unsafe { libc::geteuid() }) {
            cmd.uid(uid).gid(gid);
        }
        cmd.stdin(std::process::Stdio::null());
        match cmd.spawn() {
            Ok(mut child) => {
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
            }
            Err(e) => warn!("cannot run {program}: {e}"),
        }
    }
}

/// uid and gid of a user, if it exists.
pub fn lookup_user(name: &str) -> Option<(u32, u32)> {
    let c = std::ffi::CString::new(name).ok()?;
    // SAFETY: getpwnam with a valid C string; the result is read at once (single thread
    // of the runtime; the engine thread never calls it).
    unsafe {
        let pw = libc::getpwnam(c.as_ptr());
        if pw.is_null() {
            None
        } else {
            Some(((*pw).pw_uid, (*pw).pw_gid))
        }
    }
}

/// Opens (creating it if needed, as keepalived does) the notify FIFO read-write and
/// non-blocking: a full pipe drops lines instead of stalling the daemon.
fn open_fifo(path: &str) -> Option<std::fs::File> {
    if !std::path::Path::new(path).exists() {
        let c = std::ffi::CString::new(path).ok()?;
        // SAFETY: mkfifo with a valid C string.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
            warn!(
                "cannot create notify FIFO {path}: {}",
                std::io::Error::last_os_error()
            );
            return None;
        }
    }
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => Some(f),
        Err(e) => {
            warn!("notify FIFO {path}: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_argument_and_fifo_formats() {
        assert_eq!(
            notify_args("INSTANCE", "VI_1", "MASTER", 100),
            ["INSTANCE", "VI_1", "MASTER", "100"]
        );
        assert_eq!(
            fifo_line("GROUP", "G1", "BACKUP", 0),
            "GROUP \"G1\" BACKUP 0\n"
        );
        assert_eq!(notify_state(State::Initialize), "STOP");
        assert_eq!(notify_state(State::Fault), "FAULT");
    }
}
