//! The checkers' I/O: a thread of its own with a tokio runtime runs the probes the core
//! (`crate::check`) schedules, feeds their results back, and applies what changed in the
//! load balancer through an [`LbBackend`] as a diff. The VRRP engine never waits on it; the
//! main thread talks to it over a channel (reload, status, stop) and gets its events
//! (real servers up or down, quorums) for the notify scripts and mail.

mod execute;
pub mod model;
pub mod probe;
mod schedule;
mod setup;
pub mod status;

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info};

use self::execute::execute;
use self::model::{Exec, Model};
use self::probe::TlsClient;
use self::schedule::Schedule;
use self::setup::{execs_of, loud_of, read_files, tls_client, watch_files};
use self::status::{CheckerStats, VsStatus};
use super::clock::mono_now;
use super::events::{Event, QuorumEvent, RealServerEvent};
use super::plan::LbPlan;
use super::task::Task;
use super::watch::scripts::RunAs;
use crate::check::core::Dirty;
use crate::check::{Action, CheckEvent, Core, ProbeId, ProbeKey, ProbeResult};
use crate::lb::services::{build, Members, ServiceDef};
use crate::lb::{diff, Change, LbBackend, LbState, ServiceKey};
use crate::time::MonoTime;
use crate::units::Micros;

/// How long after a refused change the whole table is synced again; doubled at each
/// refusal in a row, up to [`LB_RETRY_MAX`].
const LB_RETRY: Duration = Duration::from_secs(5);
const LB_RETRY_MAX: Duration = Duration::from_secs(60);

/// Sleeps until `at`; forever without one.
async fn sleep_until_some(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Lateness samples kept for the percentiles.
const LATENESS_SAMPLES: usize = 16_384;

enum Cmd {
    Reload(Box<Model>),
    /// A BFD session went Up (true) or Down (`BFD_CHECK`).
    Bfd(String, bool),
    Status(oneshot::Sender<(Vec<VsStatus>, CheckerStats)>),
    Stop(oneshot::Sender<()>),
}

/// The running checkers; dropping it does not stop them, [`Checkers::stop`] does.
pub struct Checkers {
    tx: mpsc::UnboundedSender<Cmd>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkers {
    /// Starts checking `plan` on a thread of its own, changes going to `backend`; scripts
    /// run as `user` unless they name one.
    pub fn spawn(
        plan: LbPlan,
        user: RunAs,
        events: mpsc::UnboundedSender<Event>,
        backend: Box<dyn LbBackend>,
    ) -> std::io::Result<Checkers> {
        let (tx, rx) = mpsc::unbounded_channel();
        let model = model::build(plan, user);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("ha-check".into())
            .spawn(move || rt.block_on(run(model, events, backend, rx)))?;
        Ok(Checkers {
            tx,
            thread: Some(thread),
        })
    }

    pub fn reload(&self, plan: LbPlan, user: RunAs) {
        let _ = self
            .tx
            .send(Cmd::Reload(Box::new(model::build(plan, user))));
    }

    /// A BFD session went Up or Down (`BFD_CHECK`).
    pub fn bfd(&self, name: String, up: bool) {
        let _ = self.tx.send(Cmd::Bfd(name, up));
    }

    pub async fn status(&self) -> Option<(Vec<VsStatus>, CheckerStats)> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Cmd::Status(tx)).ok()?;
        rx.await.ok()
    }

    /// Stops probing; `omega` notifications are sent before it returns.
    pub async fn stop(mut self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Cmd::Stop(tx)).is_ok() {
            let _ = rx.await;
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

/// A probe's result, by id and key: ids change at a reload, and a probe kept across it
/// must not be run twice or lose its result.
type Done = (ProbeId, ProbeKey, ProbeResult, MonoTime);

struct Engine {
    core: Core,
    /// What each probe runs, by id: one table a running probe holds, rather than one
    /// reference count per probe (10,000 cold counters a second cost more than the rest of
    /// starting a probe).
    execs: Arc<Vec<Exec>>,
    /// Parallel to `execs`: log every failure of this probe.
    loud: Vec<bool>,
    defs: Vec<ServiceDef>,
    applied: LbState,
    backend: Box<dyn LbBackend>,
    lb_changes: u64,
    /// The probe id of each key, in the running config.
    ids: HashMap<ProbeKey, ProbeId>,
    /// Probes started and not finished, by id.
    running: Vec<bool>,
    /// The backend refused a change: the whole table is read and synced again at
    /// `lb_retry_at`.
    lb_retry: bool,
    lb_retry_at: Option<tokio::time::Instant>,
    lb_retry_delay: Duration,
    /// What the backend held of our services at start was read (once, before the first
    /// change).
    adopted: bool,
    /// Parallel to `defs`: the services each block owns.
    owned: Vec<std::collections::HashSet<ServiceKey>>,
    due: Schedule,
    tls: Option<TlsClient>,
    done: mpsc::UnboundedSender<Done>,
    events: mpsc::UnboundedSender<Event>,
    probes_run: u64,
    lateness: Vec<u32>,
    lateness_at: usize,
    _files: Task,
}

async fn run(
    m: Model,
    events: mpsc::UnboundedSender<Event>,
    backend: Box<dyn LbBackend>,
    mut rx: mpsc::UnboundedReceiver<Cmd>,
) {
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let (file_tx, mut file_rx) = mpsc::unbounded_channel();
    let now = mono_now();
    let files = read_files(&m);
    let (core, actions) = Core::new(m.pools, files.clone(), now, now.0);
    let mut e = Engine {
        execs: execs_of(&core, m.execs),
        loud: loud_of(&core, &m.loud),
        core,
        defs: m.services,
        applied: LbState::default(),
        backend,
        lb_changes: 0,
        ids: HashMap::new(),
        running: Vec::new(),
        lb_retry: false,
        lb_retry_at: None,
        lb_retry_delay: LB_RETRY,
        adopted: false,
        owned: Vec::new(),
        due: Schedule::default(),
        tls: tls_client(m.ssl.as_ref()),
        done: done_tx,
        events,
        probes_run: 0,
        lateness: Vec::new(),
        lateness_at: 0,
        _files: watch_files(&m.track_files, &files, file_tx.clone()),
    };
    info!(
        "checkers: {} virtual server(s), {} real server(s), {} probe(s) on the {} backend",
        e.defs.len(),
        m.real_servers,
        e.execs.len(),
        e.backend.name()
    );
    crate::system::release_freed_memory();
    e.index();
    e.index_owners();
    e.act(actions, None);
    e.sync_lb();
    // One timer, moved to the next due probe: a new one per turn of the loop would cost a
    // timer-wheel insert and remove per probe.
    let mut collect = tokio::time::interval(Duration::from_secs(60));
    collect.tick().await;
    let timer = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(timer);
    let mut armed: Option<MonoTime> = None;
    let mut actions = Vec::new();
    loop {
        let next = e.due.next();
        if next != armed {
            if let Some(at) = next {
                let wait = at.saturating_since(mono_now());
                timer
                    .as_mut()
                    .reset(tokio::time::Instant::now() + Duration::from_micros(wait.0));
            }
            armed = next;
        }
        let retry_at = e.lb_retry_at;
        tokio::select! {
            _ = &mut timer, if armed.is_some() => {
                armed = None;
                e.start_due();
            }
            _ = sleep_until_some(retry_at) => {
                e.lb_retry_at = None;
                if e.lb_retry {
                    e.sync_all();
                }
            }
            Some(first) = done_rx.recv() => {
                // Every result that is in, then the load balancer once, then the logs
                // and notifications: the kernel's table does not wait for them.
                let mut next = Some(first);
                let mut later = Vec::new();
                while let Some((id, key, r, at)) = next {
                    // The same id unless a reload came in between; a probe the reload
                    // removed has nowhere to go.
                    let id = match e.core.probes().get(id) {
                        Some(slot) if slot.def.key == key => Some(id),
                        _ => e.ids.get(&key).copied(),
                    };
                    if let Some(id) = id {
                        e.running[id] = false;
                        if !r.ok && e.loud.get(id) == Some(&true) {
                            let kind = e.core.probes()[id].def.kind;
                            let target = e.execs[id].target();
                            info!("{kind} of {target} failed: {}", r.reason);
                        }
                        e.core.probe_result_into(id, r, at, &mut actions);
                        // Rescheduling now; the events once the table is synced.
                        for a in actions.drain(..) {
                            match a {
                                Action::Probe { .. } => e.act([a], Some((id, at))),
                                Action::Event(_) => later.push((a, id, at)),
                            }
                        }
                    }
                    next = done_rx.try_recv().ok();
                }
                e.sync_lb();
                for (a, id, at) in later {
                    e.act([a], Some((id, at)));
                }
            }
            // See `release_freed_memory`: results and events are freed on other threads.
            _ = collect.tick() => crate::system::release_freed_memory(),
            Some((name, value)) = file_rx.recv() => {
                let actions = e.core.file_value(&name, value);
                e.sync_lb();
                e.act(actions, None);
            }
            cmd = rx.recv() => match cmd {
                Some(Cmd::Reload(m)) => {
                    let m = *m;
                    let files = read_files(&m);
                    let was_running: HashSet<ProbeKey> = e
                        .core
                        .probes()
                        .iter()
                        .zip(&e.running)
                        .filter(|(_, r)| **r)
                        .map(|(s, _)| s.def.key)
                        .collect();
                    let actions = e.core.reload(m.pools, files.clone(), mono_now());
                    e.execs = execs_of(&e.core, m.execs);
                    e.loud = loud_of(&e.core, &m.loud);
                    e.defs = m.services;
                    e.index_owners();
                    e.backend.reconfigure(&m.settings);
                    e.tls = tls_client(m.ssl.as_ref());
                    e._files = watch_files(&m.track_files, &files, file_tx.clone());
                    e.index();
                    e.running = e
                        .core
                        .probes()
                        .iter()
                        .map(|s| was_running.contains(&s.def.key))
                        .collect();
                    e.due.clear();
                    // A probe kept and still running is scheduled by its result.
                    let running = &e.running;
                    let actions: Vec<Action> = actions
                        .into_iter()
                        .filter(|a| match a {
                            Action::Probe { id, .. } => !running[*id],
                            Action::Event(_) => true,
                        })
                        .collect();
                    e.act(actions, None);
                    e.sync_lb();
                    crate::system::release_freed_memory();
                }
                Some(Cmd::Status(reply)) => {
                    let _ = reply.send(e.status());
                }
                Some(Cmd::Bfd(name, up)) => {
                    let actions = e.core.bfd_state(&name, up);
                    e.sync_lb();
                    e.act(actions, None);
                }
                Some(Cmd::Stop(reply)) => {
                    for ev in e.core.stop() {
                        e.emit(ev);
                    }
                    // keepalived's clear_services: what it put in the table goes
                    // (or the whole table, with lvs_flush_on_stop).
                    if let Err(err) = e.backend.stop(&e.applied) {
                        error!("load balancer at stop: {err}");
                    }
                    let _ = reply.send(());
                    return;
                }
                None => return,
            },
        }
    }
}

impl Engine {
    /// Schedules and tells what the core decided; `cause` is the probe whose result it was,
    /// and when the result came.
    fn act(
        &mut self,
        actions: impl IntoIterator<Item = Action>,
        cause: Option<(ProbeId, MonoTime)>,
    ) {
        for a in actions {
            match a {
                Action::Probe { id, at } => self.due.push(id, at, cause.map(|(_, t)| t)),
                Action::Event(ev) => {
                    if let (CheckEvent::Server { pool, server, up }, Some((id, _))) = (&ev, cause) {
                        let slot = &self.core.probes()[id];
                        let reason = slot.last.as_ref().map_or("", |(r, _)| r.reason.as_str());
                        info!(
                            "{} of {server} (VS {pool}): {} - {reason}",
                            slot.def.kind,
                            if *up { "UP" } else { "DOWN" }
                        );
                    }
                    self.emit(ev);
                }
            }
        }
    }

    fn emit(&self, ev: CheckEvent) {
        let e = match ev {
            CheckEvent::Server { pool, server, up } => {
                info!(
                    "real server {server} of VS {pool} is {}",
                    if up { "UP" } else { "DOWN" }
                );
                Event::RealServer(RealServerEvent {
                    virtual_server: pool,
                    real_server: server,
                    up,
                })
            }
            CheckEvent::Quorum {
                pool,
                up,
                init,
                threshold,
                sum,
            } => {
                info!(
                    "{} for VS {pool}: threshold {threshold}, live weight {sum}",
                    match (up, init) {
                        (true, _) => "Gained quorum",
                        (false, true) => "Starting with quorum down",
                        (false, false) => "Lost quorum",
                    }
                );
                Event::Quorum(QuorumEvent {
                    virtual_server: pool,
                    up,
                })
            }
        };
        let _ = self.events.send(e);
    }

    /// Rebuilds the key → id index after a (re)load.
    fn index(&mut self) {
        self.ids = self
            .core
            .probes()
            .iter()
            .enumerate()
            .map(|(id, s)| (s.def.key, id))
            .collect();
        self.running.resize(self.ids.len(), false);
    }

    /// Starts every probe that is due.
    fn start_due(&mut self) {
        let now = mono_now();
        while let Some((at, id)) = self.due.pop_due(now) {
            let Some(slot) = self.core.probes().get(id) else {
                continue;
            };
            let key = slot.def.key;
            if id >= self.execs.len() || std::mem::replace(&mut self.running[id], true) {
                continue;
            }
            self.record_lateness(now.saturating_since(at));
            self.probes_run += 1;
            let (table, tls, tx) = (self.execs.clone(), self.tls.clone(), self.done.clone());
            tokio::spawn(async move {
                // A probe that panicked still reports, as a failure: otherwise it would
                // never be scheduled again.
                let r = AssertUnwindSafe(execute(&table[id], tls.as_ref()))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| ProbeResult {
                        ok: false,
                        code: None,
                        reason: "the probe failed unexpectedly (a bug: please report it)".into(),
                        took: Micros(0),
                    });
                let _ = tx.send((id, key, r, mono_now()));
            });
        }
    }

    fn record_lateness(&mut self, late: Micros) {
        let v = u32::try_from(late.0).unwrap_or(u32::MAX);
        if self.lateness.len() < LATENESS_SAMPLES {
            self.lateness.push(v);
        } else {
            self.lateness[self.lateness_at] = v;
            self.lateness_at = (self.lateness_at + 1) % LATENESS_SAMPLES;
        }
    }

    /// Sends the load balancer what changed since the last time: the whole table at start
    /// and after a reload, else only the services of the pools that changed (one real
    /// server's flip must not rebuild 40,000 destinations). After a refused change the
    /// whole table is synced again by the retry timer.
    fn sync_lb(&mut self) {
        let dirty = self.core.take_dirty();
        let pools = match dirty {
            Dirty::Nothing => return,
            Dirty::Pools(p) if self.adopted => p,
            _ => return self.sync_all(),
        };
        let mut before = LbState::default();
        let mut after = LbState::default();
        for p in pools {
            let (Some(def), Some(owned)) = (self.defs.get(p), self.owned.get(p)) else {
                continue;
            };
            let part = build(std::slice::from_ref(def), &[self.core.members(p)]);
            // Only the services this block owns (a service two blocks name is the first's).
            for (key, svc) in part.services {
                if !owned.contains(&key) {
                    continue;
                }
                if let Some(old) = self.applied.services.get(&key) {
                    before.services.insert(key, old.clone());
                }
                after.services.insert(key, svc);
            }
        }
        let changes = diff(&before, &after);
        self.send(changes, |applied| {
            for (key, svc) in after.services {
                applied.services.insert(key, svc);
            }
        });
    }

    fn sync_all(&mut self) {
        let retry = std::mem::take(&mut self.lb_retry);
        let members: Vec<Members> = (0..self.core.pools().len())
            .map(|p| self.core.members(p))
            .collect();
        let wanted = build(&self.defs, &members);
        if !self.adopted || retry {
            // At start, and after a refused change: what the engine holds of our services
            // (those wanted, and those applied that are to go) is read again, so the
            // changes start from the table as it is, whatever else touched it.
            self.adopted = true;
            let mut scope = wanted.clone();
            for (k, svc) in &self.applied.services {
                scope.services.entry(*k).or_insert_with(|| svc.clone());
            }
            self.applied = self.backend.adopt(&scope);
        }
        let changes = diff(&self.applied, &wanted);
        let (n, t0) = (changes.len(), std::time::Instant::now());
        self.send(changes, |applied| *applied = wanted);
        if n >= 100 {
            info!(
                "load balancer: {n} change(s) sent to the {} backend in {} ms",
                self.backend.name(),
                t0.elapsed().as_millis()
            );
        }
    }

    /// Applies `changes`; `done` records them as applied when all went through. When some
    /// are refused, the others are recorded, and the retry timer syncs the whole table.
    fn send(&mut self, changes: Vec<Change>, done: impl FnOnce(&mut LbState)) {
        if changes.is_empty() {
            return;
        }
        match self.backend.apply(&changes) {
            Ok(()) => {
                self.lb_changes += changes.len() as u64;
                done(&mut self.applied);
                if !self.lb_retry {
                    self.lb_retry_delay = LB_RETRY;
                }
            }
            Err((failed, e)) => {
                // Backing off: a change the kernel keeps refusing (a scheduler it lacks)
                // is retried, and logged, at most once a minute.
                let delay = self.lb_retry_delay;
                error!("load balancer: {e}; retrying in {} s", delay.as_secs());
                let went: Vec<Change> = changes
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| failed.binary_search(i).is_err())
                    .map(|(_, c)| c.clone())
                    .collect();
                self.lb_changes += went.len() as u64;
                crate::lb::diff::apply(&mut self.applied, &went);
                self.lb_retry = true;
                self.lb_retry_at = Some(tokio::time::Instant::now() + delay);
                self.lb_retry_delay = (delay * 2).min(LB_RETRY_MAX);
            }
        }
    }

    /// Which services each block owns: the first block naming a service owns it.
    fn index_owners(&mut self) {
        let mut seen = std::collections::HashSet::new();
        self.owned = self
            .defs
            .iter()
            .map(|d| {
                d.keys
                    .iter()
                    .filter(|k| seen.insert(**k))
                    .copied()
                    .collect()
            })
            .collect();
    }

    /// The backend's table, and how it differs from what was applied.
    fn kernel(
        &mut self,
    ) -> (
        Option<Vec<crate::daemon::lb::ipvs::show::KernelService>>,
        Vec<String>,
    ) {
        let Some(view) = self.backend.kernel_view() else {
            return (None, Vec::new());
        };
        let mut have = LbState::default();
        let mut want = LbState::default();
        for (key, svc) in &self.applied.services {
            let mut w = svc.clone();
            w.params = crate::lb::ipvs::wire::canonical(&svc.params, LbState::family(key));
            want.services.insert(*key, w);
            if let Some(k) = view.table.services.get(key) {
                have.services.insert(*key, k.clone());
            }
        }
        let differences = diff(&have, &want).iter().map(|c| c.to_string()).collect();
        (
            Some(crate::daemon::lb::ipvs::show::rows(&view)),
            differences,
        )
    }

    fn status(&mut self) -> (Vec<VsStatus>, CheckerStats) {
        let (kernel, kernel_differences) = self.kernel();
        let mut sorted = self.lateness.clone();
        sorted.sort_unstable();
        let pct = |q: f64| -> u64 {
            if sorted.is_empty() {
                return 0;
            }
            let i = ((sorted.len() - 1) as f64 * q).round() as usize;
            u64::from(sorted[i])
        };
        let checkers = self
            .core
            .pools()
            .iter()
            .flat_map(|p| &p.servers)
            .map(|s| s.checks.len())
            .sum();
        (
            status::snapshot(&self.core, &self.execs, mono_now()),
            CheckerStats {
                probes: self.execs.len(),
                checkers,
                probes_run: self.probes_run,
                lateness_p50_us: pct(0.5),
                lateness_p99_us: pct(0.99),
                lateness_max_us: sorted.last().copied().map_or(0, u64::from),
                backend: self.backend.name().to_string(),
                lb_changes: self.lb_changes,
                kernel,
                kernel_differences,
            },
        )
    }
}
