//! Notifications on state changes, as keepalived gives them: `notify_master`, `notify_backup`,
//! `notify_fault`, `notify_stop` run without arguments; `notify` runs with
//! `INSTANCE|GROUP NAME STATE PRIORITY`; the notify FIFO gets `INSTANCE "NAME" STATE PRIORITY`
//! lines; a real server's `notify_up` / `notify_down` run when its checkers decide. Scripts
//! run as `script_user` (keepalived's default `keepalived_script` when that user exists,
//! else root), never on the engine thread, and are reaped in the background.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use tracing::{info, warn};

use super::events::{Event, QuorumEvent, RealServerEvent, VrrpEvent};
use super::plan::{GroupPlan, InstancePlan, LbPlan, Plan, SmtpPlan};
use super::smtp::{checker_message, message, spawn_alert};
use super::watch::scripts::{default_user, RunAs};
use crate::config::model::lvs::real_server::addr_text;
use crate::config::model::script::NotifyScript;
use crate::config::model::vrrp::Notify;
use crate::system::user_ids;
use crate::units::Priority;
use crate::vrrp::fsm::State;

/// The state names notify scripts and the FIFO use: leaving to Initialize is a stop.
pub fn notify_state(to: State) -> &'static str {
    match to {
        State::Initialize => "STOP",
        s => s.as_str(),
    }
}

/// The argument list of the generic `notify` script (keepalived's order).
pub fn notify_args(kind: &str, name: &str, state: &str, priority: Priority) -> Vec<String> {
    vec![
        kind.to_owned(),
        name.to_owned(),
        state.to_owned(),
        priority.to_string(),
    ]
}

/// One line of the notify FIFO.
pub fn fifo_line(kind: &str, name: &str, state: &str, priority: Priority) -> String {
    format!("{kind} \"{name}\" {state} {priority}\n")
}

pub struct Notifier {
    instances: BTreeMap<String, InstancePlan>,
    groups: Vec<GroupPlan>,
    lb: LbNotify,
    fifo: Option<String>,
    /// Held open read-write, as keepalived does: lines queue in the pipe until a reader
    /// comes, and a reader never sees EOF while the daemon runs.
    fifo_file: Option<std::fs::File>,
    user: RunAs,
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
            lb: LbNotify::default(),
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
            .vrrp
            .instances
            .iter()
            .map(|i| (i.name.clone(), i.clone()))
            .collect();
        self.groups = plan.vrrp.groups.clone();
        self.lb = LbNotify::of(&plan.lb);
        let g = &plan.global;
        self.smtp = g.smtp.clone();
        self.router_id = g.router_id.clone();
        if self.fifo != g.notify_fifo || self.fifo_file.is_none() {
            self.fifo = g.notify_fifo.clone();
            self.fifo_file = self.fifo.as_deref().and_then(open_fifo);
        }
        self.user = default_user(g.script_user.as_deref());
    }

    pub fn on_event(&mut self, e: &Event) {
        match e {
            Event::Vrrp(e) => self.on_vrrp(e),
            Event::RealServer(e) => self.on_real_server(e),
            Event::Quorum(e) => self.on_quorum(e),
        }
    }

    /// keepalived runs `quorum_up` / `quorum_down`, writes `VS name UP|DOWN` to the FIFO
    /// and mails when the virtual server's `smtp_alert` is on.
    fn on_quorum(&mut self, e: &QuorumEvent) {
        let state = if e.up { "UP" } else { "DOWN" };
        if let Some(f) = &mut self.fifo_file {
            let _ = f.write_all(format!("VS {} {state}\n", e.virtual_server).as_bytes());
        }
        let Some(vs) = self.lb.pools.get(&e.virtual_server) else {
            return;
        };
        let script = if e.up { &vs.up } else { &vs.down };
        if let Some(s) = script.clone() {
            self.spawn(&s, &[]);
        }
        if let (true, Some(smtp)) = (vs.mail, &self.smtp) {
            let what = format!(
                "Virtual server {} - {}",
                e.virtual_server,
                if e.up { "quorum UP" } else { "quorum DOWN" }
            );
            spawn_alert(
                smtp.clone(),
                format!("[{}] {what}", self.router_id),
                format!("=> {what} <=\r\n"),
            );
        }
    }

    /// keepalived runs a real server's `notify_up` / `notify_down` and mails when
    /// `smtp_alert` is on for it (or its virtual server).
    fn on_real_server(&mut self, e: &RealServerEvent) {
        if let Some(f) = &mut self.fifo_file {
            let state = if e.up { "UP" } else { "DOWN" };
            let line = format!("RS {} {} {state}\n", e.real_server, e.virtual_server);
            let _ = f.write_all(line.as_bytes());
        }
        let Some((script, mail)) = real_server_notify(&self.lb, e) else {
            return;
        };
        if let Some(s) = script {
            self.spawn(&s, &[]);
        }
        if let (true, Some(smtp)) = (mail, &self.smtp) {
            let (subject, body) = checker_message(&self.router_id, e);
            spawn_alert(smtp.clone(), subject, body);
        }
    }

    fn on_vrrp(&mut self, e: &VrrpEvent) {
        match e {
            VrrpEvent::Transition {
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
            VrrpEvent::LowerPriority { instance, src } => {
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
            self.fire(
                "GROUP",
                &g.name,
                notify_state(state),
                Priority(0),
                &g.notify,
            );
            if g.smtp_alert {
                self.mail("Group", &g.name, notify_state(state));
            }
        }
    }

    fn fire(&mut self, kind: &str, name: &str, state: &str, priority: Priority, notify: &Notify) {
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
            Some(u) => user_ids(u),
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

/// What a real server or a virtual server runs and whether it mails, when it changes.
#[derive(Debug, Clone, Default)]
struct OnChange {
    up: Option<NotifyScript>,
    down: Option<NotifyScript>,
    mail: bool,
}

/// The notify scripts and mail flags of the virtual and real servers, by keepalived's
/// names; only those that have something to do (a config with 40,000 real servers keeps
/// no copy of its blocks here).
#[derive(Debug, Default)]
pub struct LbNotify {
    pools: HashMap<String, OnChange>,
    servers: HashMap<(String, String), OnChange>,
}

impl LbNotify {
    pub fn of(lb: &LbPlan) -> LbNotify {
        let mut n = LbNotify::default();
        for vs in &lb.virtual_servers {
            let name = vs.display();
            let pool = OnChange {
                up: vs.quorum_up.clone(),
                down: vs.quorum_down.clone(),
                mail: vs.smtp_alert == Some(true),
            };
            for rs in &vs.real_servers {
                let on = OnChange {
                    up: rs.notify_up.clone(),
                    down: rs.notify_down.clone(),
                    mail: rs.smtp_alert.or(vs.smtp_alert) == Some(true),
                };
                if on.up.is_some() || on.down.is_some() || on.mail {
                    n.servers.insert((name.clone(), addr_text(rs.addr)), on);
                }
            }
            if pool.up.is_some() || pool.down.is_some() || pool.mail {
                n.pools.insert(name, pool);
            }
        }
        n
    }
}

/// The script to run and whether to mail, for a real server's change: `None` when the
/// real server has nothing to do (or is not configured).
fn real_server_notify(lb: &LbNotify, e: &RealServerEvent) -> Option<(Option<NotifyScript>, bool)> {
    let on = lb
        .servers
        .get(&(e.virtual_server.clone(), e.real_server.clone()))?;
    let script = if e.up { &on.up } else { &on.down };
    Some((script.clone(), on.mail))
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
            notify_args("INSTANCE", "VI_1", "MASTER", Priority(100)),
            ["INSTANCE", "VI_1", "MASTER", "100"]
        );
        assert_eq!(
            fifo_line("GROUP", "G1", "BACKUP", Priority(0)),
            "GROUP \"G1\" BACKUP 0\n"
        );
        assert_eq!(notify_state(State::Initialize), "STOP");
        assert_eq!(notify_state(State::Fault), "FAULT");
    }

    #[test]
    fn a_real_server_change_runs_its_own_notify_script() {
        let loaded = crate::test_support::load_text(
            "virtual_server 192.0.2.10 80 {\n lb_kind DR\n protocol TCP\n \
             real_server 198.51.100.1 80 {\n notify_up \"/bin/up.sh\"\n \
             notify_down \"/bin/down.sh\"\n smtp_alert\n TCP_CHECK {\n }\n }\n}\n",
        );
        let lb = LbNotify::of(
            &crate::daemon::plan::plan(&loaded.config, &loaded.map)
                .unwrap()
                .lb,
        );
        let vs = "[192.0.2.10]:80".to_string();
        let ev = |rs: &str, up| RealServerEvent {
            virtual_server: vs.clone(),
            real_server: rs.into(),
            up,
        };
        let (script, mail) = real_server_notify(&lb, &ev("[198.51.100.1]:80", false)).unwrap();
        assert_eq!(script.unwrap().script.args, ["/bin/down.sh"]);
        assert!(mail);
        let (up, _) = real_server_notify(&lb, &ev("[198.51.100.1]:80", true)).unwrap();
        assert_eq!(up.unwrap().script.args, ["/bin/up.sh"]);
        assert!(real_server_notify(&lb, &ev("[198.51.100.2]:80", true)).is_none());
    }
}
