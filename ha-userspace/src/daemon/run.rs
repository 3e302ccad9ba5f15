//! `ha run`: load the config, start the engine thread, then serve signals, the control
//! socket, notifications and script checks on a single-threaded tokio runtime until
//! SIGTERM/SIGINT. keepalived's signals: HUP reloads, USR1 writes a data dump, USR2 a stats
//! dump.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use super::control::{self, Incoming, Reply, Request};
use super::engine::{self, Command, EngineHandle};
use super::notify::Notifier;
use super::plan::{plan, Plan};
use super::scripts;
use super::status::Status;
use super::{track_file, track_process};
use crate::config::{self, LoadOptions, Severity, SystemEnv};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: PathBuf,
    pub config_id: Option<String>,
    pub control_socket: PathBuf,
    /// Where SIGUSR1 / SIGUSR2 write `keepalived.data` / `keepalived.stats`.
    pub dump_dir: PathBuf,
    pub pid_file: Option<PathBuf>,
    /// Run the engine thread at a realtime priority (default on).
    pub realtime: bool,
    /// Use the XDP fast path where the kernel allows it (default on; `--no-xdp`).
    pub xdp: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    #[error(transparent)]
    Control(#[from] control::ControlError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// Loads and plans the config; errors are rendered with file:line:col. Warnings are logged.
pub fn load_plan(opts: &RunOptions) -> Result<Plan, RunError> {
    let lo = LoadOptions {
        config_id: opts.config_id.clone(),
        ..LoadOptions::default()
    };
    let loaded = config::load(&opts.config, &lo, &SystemEnv);
    let mut errors = Vec::new();
    for d in loaded.diags.list() {
        let line = d.render(&loaded.map);
        match d.severity {
            Severity::Error => errors.push(line),
            Severity::Warning => warn!("{line}"),
        }
    }
    if !errors.is_empty() {
        return Err(RunError::Config(errors.join("\n")));
    }
    plan(&loaded.config, &loaded.map).map_err(|e| RunError::Config(e.to_string()))
}

pub fn run(opts: RunOptions) -> Result<(), RunError> {
    let plan = load_plan(&opts)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| RunError::Io {
            what: "tokio runtime".into(),
            source,
        })?;
    rt.block_on(serve(opts, plan))
}

async fn serve(opts: RunOptions, plan: Plan) -> Result<(), RunError> {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<Incoming>(16);
    // Signals first, so a TERM during startup is not lost.
    let sig = |k| {
        signal(k).map_err(|source| RunError::Io {
            what: "signal handler".into(),
            source,
        })
    };
    let mut term = sig(SignalKind::terminate())?;
    let mut int = sig(SignalKind::interrupt())?;
    let mut hup = sig(SignalKind::hangup())?;
    let mut usr1 = sig(SignalKind::user_defined1())?;
    let mut usr2 = sig(SignalKind::user_defined2())?;
    control::serve(&opts.control_socket, ctl_tx)?;
    track_file::init_files(&plan);
    let mut objects = track_file::read_all(&plan);
    objects.extend(track_process::initial(&plan));
    let engine = Arc::new(engine::spawn(
        plan.clone(),
        opts.config.display().to_string(),
        ev_tx,
        opts.realtime,
        objects.clone(),
        opts.xdp,
    )?);
    if let Some(p) = &opts.pid_file {
        if let Err(e) = std::fs::write(p, format!("{}\n", std::process::id())) {
            warn!("pid file {}: {e}", p.display());
        }
    }
    info!(
        "ha {} running {} VRRP instance(s) from {}",
        env!("CARGO_PKG_VERSION"),
        plan.instances.len(),
        opts.config.display()
    );
    let mut notifier = Notifier::new(&plan);
    let mut watchers = Watchers::start(&plan, &engine, objects);
    let mut current = plan;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                if let Some(p) = reload(&opts, &engine).await {
                    notifier.update(&p);
                    drop(watchers);
                    watchers = Watchers::start(&p, &engine, track_file::read_all(&p));
                    current = p;
                }
            }
            _ = usr1.recv() => dump(&engine, &opts.dump_dir, false).await,
            _ = usr2.recv() => dump(&engine, &opts.dump_dir, true).await,
            Some(e) = ev_rx.recv() => notifier.on_event(&e),
            Some(inc) = ctl_rx.recv() => {
                let reply = match inc.request {
                    Request::Status => match status(&engine).await {
                        Some(s) => Reply { ok: true, message: None, status: Some(s) },
                        None => Reply::error("the engine stopped"),
                    },
                    Request::Failover { instance } => {
                        let (tx, rx) = oneshot::channel();
                        engine.send(Command::Failover { instance, reply: tx });
                        match rx.await {
                            Ok(Ok(m)) => Reply::message(m),
                            Ok(Err(e)) => Reply::error(e),
                            Err(_) => Reply::error("the engine stopped"),
                        }
                    }
                    Request::Reload => match reload(&opts, &engine).await {
                        Some(p) => {
                            notifier.update(&p);
                            drop(watchers);
                            watchers = Watchers::start(&p, &engine, track_file::read_all(&p));
                            current = p;
                            Reply::message("reloaded")
                        }
                        None => Reply::error("reload refused: see the daemon's log"),
                    },
                };
                let _ = inc.reply.send(reply);
            }
        }
    }
    info!("stopping: masters send priority 0 and release their addresses");
    drop(watchers);
    engine.send(Command::Stop);
    let joining = engine.clone();
    tokio::task::spawn_blocking(move || joining.join())
        .await
        .ok();
    // The stop transitions: notify_stop and the FIFO.
    while let Ok(e) = ev_rx.try_recv() {
        notifier.on_event(&e);
    }
    let _ = current;
    let _ = std::fs::remove_file(&opts.control_socket);
    if let Some(p) = &opts.pid_file {
        let _ = std::fs::remove_file(p);
    }
    // Let notify_stop scripts start before the runtime goes away.
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    Ok(())
}

/// Everything watched on the main thread for the engine: scripts, files, processes.
struct Watchers {
    _scripts: scripts::Scripts,
    _files: track_file::Watcher,
    _processes: track_process::Watcher,
}

impl Watchers {
    fn start(
        plan: &Plan,
        engine: &Arc<EngineHandle>,
        files: crate::daemon::tracking::Objects,
    ) -> Self {
        Watchers {
            _scripts: scripts::start(plan, engine.clone(), plan.script_user.as_deref()),
            _files: track_file::start(plan, engine.clone(), files),
            _processes: track_process::start(plan, engine.clone()),
        }
    }
}

async fn status(engine: &EngineHandle) -> Option<Status> {
    let (tx, rx) = oneshot::channel();
    engine.send(Command::Status(tx));
    rx.await.ok()
}

/// Parses the file again; a config with errors, or one the engine cannot start, leaves the
/// running config untouched (DESIGN.md §10).
async fn reload(opts: &RunOptions, engine: &EngineHandle) -> Option<Plan> {
    info!("reloading {}", opts.config.display());
    let plan = match load_plan(opts) {
        Ok(p) => p,
        Err(e) => {
            error!("reload refused, the running config is kept:\n{e}");
            return None;
        }
    };
    // New tracked files and processes: their state first, so new instances start with it.
    let mut objects = track_file::read_all(&plan);
    objects.extend(track_process::initial(&plan));
    for ((kind, name), value) in objects {
        engine.send(Command::Track { kind, name, value });
    }
    let (tx, rx) = oneshot::channel();
    engine.send(Command::Reload {
        plan: Box::new(plan.clone()),
        reply: tx,
    });
    match rx.await {
        Ok(Ok(_)) => Some(plan),
        _ => None,
    }
}

/// SIGUSR1 → `keepalived.data` (state), SIGUSR2 → `keepalived.stats` (counters), JSON after a
/// readable summary.
async fn dump(engine: &EngineHandle, dir: &Path, stats: bool) {
    let Some(s) = status(engine).await else {
        return;
    };
    let (name, body) = if stats {
        let counters: Vec<_> = s
            .instances
            .iter()
            .map(|i| serde_json::json!({"name": i.name, "counters": i.counters}))
            .collect();
        (
            "keepalived.stats",
            serde_json::to_string_pretty(&counters).unwrap_or_default(),
        )
    } else {
        (
            "keepalived.data",
            format!(
                "{}\n{}",
                s.render(),
                serde_json::to_string_pretty(&s).unwrap_or_default()
            ),
        )
    };
    let path = dir.join(name);
    match std::fs::write(&path, body + "\n") {
        Ok(()) => info!("wrote {}", path.display()),
        Err(e) => error!("{}: {e}", path.display()),
    }
}
