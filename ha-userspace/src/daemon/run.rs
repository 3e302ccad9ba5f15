//! `ha run`: load the config, prepare and start the VRRP engine thread, then serve signals,
//! the control socket, notifications and the watchers on a single-threaded tokio runtime
//! until SIGTERM/SIGINT. keepalived's signals: HUP reloads, USR1 writes a data dump, USR2 a
//! stats dump. Everything slow a reload needs happens here, never on the engine thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use super::bfd::{self as bfd_thread, kernel::BfdMaps, BfdHandle, Listeners};
use super::check::Checkers;
use super::clock::unix_secs;
use super::control::{self, Incoming, Reply, Request};
use super::lb::ipvs::syncd::{Role as SyncRole, SyncDaemon};
use super::lb::{IpvsBackend, LogBackend, XdpBackend};
use super::leftovers;
use super::netlink::{LinkMonitor, Netlink};
use super::notify::Notifier;
use super::pid_files::{self, PidFiles};
use super::plan::bfd::BfdPlan;
use super::plan::{plan, LbPlan, Plan, VrrpPlan};
use super::sd_notify;
use super::state_line::StateLine;
use super::status::Status;
use super::vrrp::engine::{self, Command, EngineHandle, EngineParts};
use super::vrrp::prepare::{PrepareError, VrrpSide};
use super::vrrp::xdp_maps::VrrpMaps;
use super::watch::scripts::default_user;
use super::watch::{track_file, track_process, Objects, Recorder, Sink, Watchers};
use super::xdp::attach::Feature;
use super::xdp::XdpProgram;
use crate::config::model::global::lvs::LbBackendChoice;
use crate::config::{self, LoadOptions, Severity, SystemEnv};
use crate::lb::LbBackend;
use crate::units::Priority;
use crate::vrrp::timers;

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub config: PathBuf,
    pub config_id: Option<String>,
    /// `-S`; `None`: [`control::default_socket`] for the config and namespace.
    pub control_socket: Option<PathBuf>,
    /// Where SIGUSR1 / SIGUSR2 write `keepalived.data` / `keepalived.stats`.
    pub dump_dir: PathBuf,
    /// The pid files named on the command line (`-p`, `-r`, `-c`, `-b`).
    pub pid_files: PidFiles,
    /// Started as `keepalived`: the files not named take keepalived's default names.
    pub keepalived_pid_files: bool,
    /// keepalived's `-s NAME`: the network namespace to run in, over the config's
    /// `net_namespace`.
    pub netns: Option<String>,
    /// Run the engine thread at a realtime priority (default on).
    pub realtime: bool,
    /// Use the XDP fast path where the kernel allows it (default on; `--no-xdp`).
    pub xdp: bool,
    /// Run the VRRP instances (off with keepalived's `-C` / `--check`).
    pub vrrp: bool,
    /// Run the checkers of the virtual servers (off with `-P` / `--vrrp`).
    pub checkers: bool,
    /// `--metrics ADDR:PORT`: serve Prometheus metrics there.
    pub metrics: Option<std::net::SocketAddr>,
    /// `--fence-adverts N`: advert intervals without the engine's heartbeat before the XDP
    /// program fences the VIPs (0: never).
    pub fence_adverts: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Config(String),
    /// keepalived's check at start: another daemon holds the main pid file.
    #[error("daemon is already running (pid {pid} in {})", file.display())]
    AlreadyRunning { pid: u32, file: PathBuf },
    #[error("network namespace {name}: {source}")]
    Netns {
        name: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Prepare(#[from] PrepareError),
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    #[error(transparent)]
    Control(#[from] control::ControlError),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
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
    let mut plan =
        plan(&loaded.config, &loaded.map).map_err(|e| RunError::Config(e.to_string()))?;
    // keepalived's -C / -P: one half of the daemon only.
    if !opts.vrrp {
        // Static addresses, routes and rules belong to keepalived's VRRP process too.
        plan.vrrp.instances.clear();
        plan.vrrp.groups.clear();
        plan.vrrp.statics = Default::default();
    }
    if !opts.checkers {
        plan.lb = LbPlan::default();
    }
    Ok(plan)
}

pub fn run(opts: RunOptions) -> Result<(), RunError> {
    // The namespace first, so the config is checked against its interfaces; every thread
    // started from here on is in it too (setns(2) is per thread, and threads inherit it).
    let enter = |name: &str| {
        crate::system::enter_netns(name).map_err(|source| RunError::Netns {
            name: name.into(),
            source,
        })
    };
    if let Some(name) = &opts.netns {
        enter(name)?;
    }
    let mut plan = load_plan(&opts)?;
    let netns = match (&opts.netns, plan.global.net_namespace.clone()) {
        (Some(n), _) => Some(n.clone()),
        // The config names it: read again from inside, as keepalived's children do.
        (None, Some(n)) => {
            enter(&n)?;
            plan = load_plan(&opts)?;
            Some(n)
        }
        (None, None) => None,
    };
    let files = pid_files_for(&opts, &plan, netns.as_deref());
    if let Some(pid) = files.running_elsewhere() {
        return Err(RunError::AlreadyRunning {
            pid,
            file: files.main.clone().unwrap_or_default(),
        });
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|source| RunError::Io {
            what: "tokio runtime",
            source,
        })?;
    rt.block_on(serve(opts, plan, files))
}

/// The pid files for this run: those named on the command line, and keepalived's default
/// names for the others when started as `keepalived`.
fn pid_files_for(opts: &RunOptions, plan: &Plan, netns: Option<&str>) -> PidFiles {
    if opts.keepalived_pid_files {
        PidFiles::keepalived_defaults(
            plan.global.instance.as_deref(),
            netns,
            plan.global.use_pid_dir,
        )
        .overridden_by(&opts.pid_files)
    } else {
        opts.pid_files.clone()
    }
}

/// The main thread's state.
struct Daemon {
    opts: RunOptions,
    plan: Plan,
    vrrp: VrrpSide,
    xdp: Option<XdpProgram>,
    engine: Arc<EngineHandle>,
    /// The health checkers, once a config has virtual servers.
    checkers: Option<Checkers>,
    events: mpsc::UnboundedSender<super::events::Event>,
    /// The watchers report through it; it remembers what they last said.
    sink: Arc<Recorder>,
    watchers: Watchers,
    notifier: Notifier,
    loaded_at: u64,
    reloads: u64,
    /// When to detach XDP from interfaces a reload left unused.
    release_xdp_at: Option<tokio::time::Instant>,
    /// The IPVS sync daemon following a VRRP instance (`lvs_sync_daemon IF INSTANCE`).
    syncd: Option<InstanceSyncd>,
    /// The load balancer's map sizes the program was loaded with.
    lb_sizes: ha_ebpf::LbSizes,
    /// The checkers' backend is `xdp`: the program runs on the VIPs' interfaces.
    lb_xdp: bool,
    /// `lb_backend` and the Maglev table size the load balancer started with.
    lb_started: Option<(LbBackendChoice, u32)>,
    /// The forwarding switches the XDP forwarder turned on, put back at stop.
    lb_forwarding: super::lb::xdp::forwarding::Forwarding,
    /// The BFD thread, once a config has `bfd_instance`s; its maps until then.
    bfd: Option<BfdHandle>,
    bfd_maps: Option<BfdMaps>,
    /// BFD sessions' Up/Down for `BFD_CHECK`, as last heard (replayed to new checkers).
    bfd_states: std::collections::BTreeMap<String, bool>,
    bfd_to_checkers: mpsc::UnboundedSender<(String, bool)>,
    /// systemd's notify socket, when a unit started us.
    sd: Option<Arc<sd_notify::SdNotify>>,
    /// The instances' states, for systemd's STATUS line.
    states: StateLine,
    /// The file of what the instances add (`leftovers.rs`).
    added: PathBuf,
}

/// `lvs_sync_daemon` tied to an instance: backup at start, master while the instance is
/// MASTER (keepalived runs this in its VRRP process: ipvs_syncd_master/_backup).
struct InstanceSyncd {
    instance: String,
    vrid: u8,
    daemon: SyncDaemon,
    /// The instance is MASTER (from its transitions).
    master: bool,
}

impl InstanceSyncd {
    /// The sync daemon of `plan`, in the backup role, or master when `master` (a reload
    /// restarting it under a MASTER instance: no transition will say so again).
    fn start(plan: &Plan, master: bool) -> Option<InstanceSyncd> {
        let conf = plan.global.sync_daemon.clone()?;
        let instance = conf.instance.clone()?;
        let Some(vrid) = plan
            .vrrp
            .instances
            .iter()
            .find(|i| i.name == instance)
            .map(|i| i.vrid.0)
        else {
            warn!("lvs_sync_daemon: no vrrp_instance {instance}; the sync daemon is not started");
            return None;
        };
        let mut daemon = SyncDaemon::new(conf, Some(vrid))?;
        daemon.set_role(if master {
            SyncRole::Master
        } else {
            SyncRole::Backup
        });
        Some(InstanceSyncd {
            instance,
            vrid,
            daemon,
            master,
        })
    }

    /// Whether `plan` asks for this same daemon (settings and the instance's VRID, which
    /// the sync id defaults to).
    fn same_as(&self, plan: &Plan) -> bool {
        let vrid = plan
            .vrrp
            .instances
            .iter()
            .find(|i| i.name == self.instance)
            .map(|i| i.vrid.0);
        plan.global
            .sync_daemon
            .as_ref()
            .and_then(|c| c.instance.as_deref())
            == Some(self.instance.as_str())
            && vrid == Some(self.vrid)
    }

    fn on_event(&mut self, e: &super::events::Event) {
        use super::events::{Event, VrrpEvent};
        use crate::vrrp::fsm::State;
        if let Event::Vrrp(VrrpEvent::Transition {
            instance, from, to, ..
        }) = e
        {
            if *instance != self.instance {
                return;
            }
            if *to == State::Master {
                self.master = true;
                self.daemon.set_role(SyncRole::Master);
            } else if *from == State::Master {
                self.master = false;
                self.daemon.set_role(SyncRole::Backup);
            }
        }
    }
}

/// Tracked files and processes as they are now.
fn read_objects(plan: &Plan) -> Objects {
    let mut objects = track_file::read_all(&plan.vrrp);
    objects.extend(track_process::initial(&plan.vrrp));
    objects
}

async fn serve(opts: RunOptions, plan: Plan, files: PidFiles) -> Result<(), RunError> {
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<Incoming>(16);
    // Signals first, so a TERM during startup is not lost.
    let sig = |k| {
        signal(k).map_err(|source| RunError::Io {
            what: "signal handler",
            source,
        })
    };
    let mut term = sig(SignalKind::terminate())?;
    let mut int = sig(SignalKind::interrupt())?;
    let mut hup = sig(SignalKind::hangup())?;
    let mut usr1 = sig(SignalKind::user_defined1())?;
    let mut usr2 = sig(SignalKind::user_defined2())?;
    // keepalived's JSON and STATS_CLEAR signals (`keepalived --signum=JSON`): unhandled,
    // a real-time signal's default action would end the daemon.
    let mut json_sig = sig(SignalKind::from_raw(libc::SIGRTMIN() + 2))?;
    let mut clear_sig = sig(SignalKind::from_raw(libc::SIGRTMIN() + 29))?;
    let manager = sd_notify::manager();
    let socket = opts.control_socket.clone().unwrap_or_else(|| {
        let g = &plan.global;
        let netns = g.net_namespace.clone().or_else(control::current_netns);
        control::default_socket(g.instance.as_deref(), netns.as_deref())
    });
    control::serve(&socket, ctl_tx)?;
    // What a killed run with this socket left on the interfaces goes before anything is
    // elected (and before its pinned XDP links, which keep fencing it, are adopted).
    let added = leftovers::path_for(&socket);
    leftovers::clean_after_previous_run(&added);
    let (scrape_tx, mut scrape_rx) = mpsc::channel::<super::metrics::Scrape>(16);
    if let Some(addr) = opts.metrics {
        super::metrics::serve(addr, scrape_tx)
            .await
            .map_err(|source| RunError::Io {
                what: "the metrics listener (--metrics)",
                source,
            })?;
    }
    track_file::init_files(&plan.vrrp);
    let objects = read_objects(&plan);
    // A start that will not adopt a previous run's pinned links releases them: attached,
    // they would keep this interface from taking a program, and once fenced drop the
    // traffic of the VIPs this node may hold again.
    if !opts.xdp || opts.fence_adverts == 0 {
        super::xdp::release_pins(&pin_dir(&socket));
    }
    let mut xdp: Option<XdpProgram> = None;
    let mut maps = None;
    let mut sizes = lb_sizes(&plan.lb, wants_xdp_lb(&plan.lb, &plan.vrrp));
    if opts.xdp {
        let load = |sizes: &ha_ebpf::LbSizes| {
            XdpProgram::load(sizes).and_then(|mut p| Ok((VrrpMaps::take(&mut p)?, p)))
        };
        let mut loaded = load(&sizes);
        if let (Err(e), false) = (&loaded, sizes == ha_ebpf::LbSizes::NONE) {
            // The load balancer's maps are the large ones: VRRP keeps its fast path.
            warn!("XDP with the load balancer's maps refused ({e}): loading without them");
            sizes = ha_ebpf::LbSizes::NONE;
            loaded = load(&sizes);
        }
        match loaded {
            Ok((m, mut p)) => {
                if opts.fence_adverts > 0 {
                    p.pin_in(&pin_dir(&socket));
                }
                maps = Some(m);
                xdp = Some(p);
            }
            Err(e) => {
                warn!("XDP fast path not available ({e}): adverts go through raw sockets");
                super::xdp::release_pins(&pin_dir(&socket));
            }
        }
    }
    let bfd_maps = xdp.as_mut().and_then(|p| match BfdMaps::take(p) {
        Ok(m) => Some(m),
        Err(e) => {
            warn!("XDP BFD maps not available ({e}): BFD detection stays in userspace");
            None
        }
    });
    let linkmon = LinkMonitor::new().map_err(engine::EngineError::from)?;
    let mut vrrp = VrrpSide::new()?;
    let first = vrrp.prepare(plan.vrrp.clone(), &objects, xdp.as_mut())?;
    let spawned = engine::spawn(
        first,
        EngineParts {
            linkmon,
            realtime: opts.realtime,
            xdp: maps,
            events: ev_tx.clone(),
            watchdog: manager
                .notify
                .clone()
                .zip(manager.watchdog.map(sd_notify::ping_every)),
            fence_adverts: opts.fence_adverts,
        },
    );
    let engine = match spawned {
        Ok(e) => Arc::new(e),
        Err(e) => {
            // The firewall, static addresses and XDP attachments are in place already.
            vrrp.stop();
            return Err(e.into());
        }
    };
    info!(
        "ha {} running {} VRRP instance(s) from {}",
        env!("CARGO_PKG_VERSION"),
        plan.vrrp.instances.len(),
        opts.config.display()
    );
    let sink = Recorder::new(engine.clone(), objects.clone());
    let (bfd_tx, mut bfd_rx) = mpsc::unbounded_channel();
    let mut d = Daemon {
        checkers: None,
        events: ev_tx,
        watchers: Watchers::start(&plan, sink.clone(), &objects),
        notifier: Notifier::new(&plan),
        opts,
        plan,
        vrrp,
        xdp,
        engine,
        sink,
        loaded_at: unix_secs(),
        reloads: 0,
        release_xdp_at: None,
        syncd: None,
        lb_sizes: sizes,
        lb_xdp: false,
        lb_started: None,
        lb_forwarding: Default::default(),
        bfd: None,
        bfd_maps,
        bfd_states: Default::default(),
        bfd_to_checkers: bfd_tx,
        sd: manager.notify.clone(),
        states: StateLine::default(),
        added: added.clone(),
    };
    d.states.replan(&d.plan);
    d.sync_bfd();
    d.syncd = InstanceSyncd::start(&d.plan, false);
    d.start_checkers();
    if let Some(x) = d.xdp.as_mut() {
        x.settle_pins();
    }
    record_leftovers(&d.plan, &added);
    let written = files.for_running(
        !d.plan.vrrp.instances.is_empty(),
        !d.plan.lb.virtual_servers.is_empty(),
        !d.plan.bfd.sessions.is_empty(),
    );
    for (p, e) in pid_files::write_all(&written) {
        warn!("pid file {}: {e}", p.display());
    }
    if let Some(n) = &d.sd {
        let _ = n.ready(&d.states.render());
    }
    super::detach::ready();
    crate::system::release_freed_memory();
    // Memory this thread allocated and others freed (the checkers' model, built here) is
    // only given back when this thread collects; once a minute is plenty.
    let mut collect = tokio::time::interval(Duration::from_secs(60));
    collect.tick().await;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => { let _ = d.reload().await; }
            _ = usr1.recv() => d.dump(false).await,
            _ = usr2.recv() => d.dump(true).await,
            _ = json_sig.recv() => d.dump_json().await,
            _ = clear_sig.recv() => {
                info!("STATS_CLEAR: ha keeps its counters (they are monotonic for the metrics)");
            }
            Some(e) = ev_rx.recv() => {
                if let Some(s) = &mut d.syncd {
                    s.on_event(&e);
                }
                d.notifier.on_event(&e);
                if d.states.on_event(&e) {
                    if let Some(n) = &d.sd {
                        let _ = n.status(&d.states.render());
                    }
                }
            }
            Some((name, up)) = bfd_rx.recv() => {
                d.bfd_states.insert(name.clone(), up);
                if let Some(c) = &d.checkers {
                    c.bfd(name, up);
                }
            }
            _ = collect.tick() => crate::system::release_freed_memory(),
            _ = sleep_until_or_never(d.release_xdp_at) => {
                d.release_xdp_at = None;
                d.vrrp.release_unused(d.xdp.as_mut());
            }
            Some(scrape) = scrape_rx.recv() => {
                let body = match d.status().await {
                    Some(s) => super::metrics::render(&s),
                    None => String::from("# the VRRP engine has stopped\n"),
                };
                let _ = scrape.reply.send(body);
            }
            Some(inc) = ctl_rx.recv() => {
                let reply = d.control(inc.request).await;
                let _ = inc.reply.send(reply);
            }
        }
    }
    info!("stopping: masters send priority 0 and release their addresses");
    if let Some(n) = &d.sd {
        let _ = n.stopping();
    }
    let Daemon {
        opts: _,
        plan,
        mut vrrp,
        xdp,
        engine,
        watchers,
        mut notifier,
        checkers,
        syncd,
        mut lb_forwarding,
        bfd,
        ..
    } = d;
    drop(watchers);
    // With `omega`, the checkers' down notifications go out with the VRRP ones.
    if let Some(c) = checkers {
        c.stop().await;
    }
    lb_forwarding.restore();
    engine.send(Command::Stop);
    let joining = engine.clone();
    tokio::task::spawn_blocking(move || joining.join())
        .await
        .ok();
    // After the VRRP engine: its priority-0 adverts hand over first; then the sessions
    // say AdminDown, which takes no peer over (only an expiry does).
    if let Some(b) = bfd {
        b.stop();
    }
    vrrp.stop();
    if let Some(s) = syncd {
        s.daemon.stop();
    }
    // The stop transitions: notify_stop and the FIFO.
    while let Ok(e) = ev_rx.try_recv() {
        notifier.on_event(&e);
    }
    let _ = std::fs::remove_file(&socket);
    // Stopped cleanly: the instances released what they added.
    let _ = std::fs::remove_file(&added);
    pid_files::remove_ours(&written);
    // Let notify_stop scripts start before the runtime goes away; with XDP, wait until the
    // backups have taken over before detaching it (see `handover_window`).
    let linger = match xdp {
        Some(_) => handover_window(&plan.vrrp),
        None => Duration::ZERO,
    };
    tokio::time::sleep(linger.max(Duration::from_millis(50))).await;
    if let Some(x) = xdp {
        x.close();
    }
    Ok(())
}

/// How long after our priority-0 adverts every backup has taken over: the longest
/// Skew_Time a backup can have (priority 1: 255/256 of the interval in VRRPv3, of a second
/// in VRRPv2; RFC 5798 §6.4.2), at most a second. The XDP program is detached only then:
/// detaching holds the kernel's RTNL lock across an RCU grace period, and a router on the
/// same kernel (another namespace, a container) that takes over meanwhile waits that long
/// to add its VIPs, and so to send its gratuitous ARP (BENCHMARKS.md "Graceful handover":
/// 4 runs in 60 with a 14–23 ms gap when the program went at once).
fn handover_window(plan: &VrrpPlan) -> Duration {
    let longest = plan
        .instances
        .iter()
        .map(|i| timers::skew_time(i.version, Priority(1), i.adver_int))
        .max()
        .unwrap_or_default();
    Duration::from_micros(longest.0).min(Duration::from_secs(1)) + Duration::from_millis(10)
}

/// Sleeps until `at`, or forever.
async fn sleep_until_or_never(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Daemon {
    /// The backend `lb_backend` asks for, with what this host can do: IPVS where the
    /// kernel has it, the XDP forwarder where the program loaded, else the `log` backend
    /// (keepalived's checker process exits where the kernel has no IPVS; ha checks anyway
    /// and says where the changes go).
    fn lb_backend(&mut self, lb: &mut LbPlan) -> Box<dyn LbBackend> {
        let n = (lb.virtual_servers.len(), lb.real_servers());
        self.lb_started = Some((lb.settings.backend, lb.settings.xdp.table_size));
        let why = if wants_xdp_lb(lb, &self.plan.vrrp) {
            match self.xdp_backend(lb) {
                Ok(b) => return b,
                Err(e) => format!("XDP: {e}"),
            }
        } else {
            match IpvsBackend::open(lb.settings.clone()) {
                Ok(b) => return Box::new(b),
                Err(e) if lb.settings.backend == LbBackendChoice::Auto => format!(
                    "IPVS: {e}; XDP: no virtual address is on an interface here or held by a \
                     VRRP instance here"
                ),
                Err(e) => format!("IPVS: {e}"),
            }
        };
        warn!(
            "{} virtual_server block(s) with {} real server(s): health-checked; the load \
             balancer is the `log` backend, which logs each change and forwards nothing ({why})",
            n.0, n.1
        );
        Box::new(LogBackend::default())
    }

    fn xdp_backend(&mut self, lb: &mut LbPlan) -> Result<Box<dyn LbBackend>, String> {
        if self.lb_sizes == ha_ebpf::LbSizes::NONE && self.xdp.is_some() {
            return Err(
                "the forwarder's maps were sized at start for no XDP services (or \
                        refused): restart ha to forward with XDP"
                    .into(),
            );
        }
        if self.xdp.is_none() {
            return Err(
                "the XDP program is not loaded (--no-xdp, or the kernel refused it)".into(),
            );
        }
        self.xdp_sites(lb);
        let sizes = self.lb_sizes;
        let x = self.xdp.as_mut().expect("checked above");
        let maps = super::lb::xdp::maps::LbMaps::take(x, sizes).map_err(|e| e.to_string())?;
        self.lb_xdp = true;
        info!(
            "load balancer: XDP forwarder (Maglev {} × {} tables) on {}",
            sizes.table_size,
            sizes.tables,
            lb.settings
                .xdp
                .sites
                .values()
                .map(|s| s.ifname.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(Box::new(XdpBackend::new(maps, &lb.settings)))
    }

    /// Finds where each VIP arrives, runs the program's LB feature on those interfaces
    /// (and no others), and hands the sites to the backend with the plan.
    fn xdp_sites(&mut self, lb: &mut LbPlan) {
        let addrs = super::lb::xdp::sites::service_addrs(lb);
        let (mut sites, why) = super::lb::xdp::sites::find(&addrs, &self.plan.vrrp);
        for (ip, why) in &why {
            warn!("XDP LB: {ip} is not forwarded: {why}");
        }
        if let Some(x) = self.xdp.as_mut() {
            let mut keep = Vec::new();
            for s in sites.values() {
                if keep.contains(&s.ifindex) {
                    continue;
                }
                match x.want(s.ifindex, &s.ifname, Feature::Lb) {
                    Ok(()) => keep.push(s.ifindex),
                    Err(e) => warn!("XDP LB: {e}"),
                }
            }
            x.release_others(Feature::Lb, &keep);
            // No program there: their services are refused, with the reason.
            sites.retain(|_, s| keep.contains(&s.ifindex));
            for (ip, s) in &sites {
                self.lb_forwarding.ensure(&s.ifname, ip.is_ipv6());
            }
        }
        lb.settings.xdp.sites = sites;
    }

    /// Starts the checkers the first time a config has virtual servers; later reloads go
    /// to the running ones.
    ///
    /// The virtual servers move to the checkers: nothing else keeps them (the notifier
    /// keeps only their scripts), so a config with 40,000 real servers is held once.
    fn start_checkers(&mut self) {
        let mut lb = std::mem::take(&mut self.plan.lb);
        let user = default_user(self.plan.global.script_user.as_deref());
        if let (Some((backend, size)), true) = (self.lb_started, self.checkers.is_some()) {
            if (backend, size) != (lb.settings.backend, lb.settings.xdp.table_size) {
                warn!(
                    "lb_backend and lb_xdp_table_size take effect at a restart: the load \
                     balancer goes on as it started"
                );
            }
        }
        if self.checkers.is_some() && self.lb_xdp {
            self.xdp_sites(&mut lb);
        }
        if let Some(c) = &self.checkers {
            c.reload(lb, user);
            return;
        }
        if lb.virtual_servers.is_empty() {
            return;
        }
        let backend = self.lb_backend(&mut lb);
        match Checkers::spawn(lb, user, self.events.clone(), backend) {
            Ok(c) => {
                for (name, up) in &self.bfd_states {
                    c.bfd(name.clone(), *up);
                }
                self.checkers = Some(c);
            }
            Err(e) => error!("cannot start the checkers: {e}"),
        }
    }

    /// Starts the BFD thread when the config first has sessions, or gives it the new ones;
    /// puts the XDP program's BFD feature on the sessions' interfaces.
    fn sync_bfd(&mut self) {
        let plan = self.plan.bfd.clone();
        if plan.sessions.is_empty() && self.bfd.is_none() {
            return;
        }
        let kernel = bfd_sites(&plan, self.xdp.as_mut());
        if let Some(b) = &self.bfd {
            b.send(bfd_thread::Command::Reload { plan, kernel });
            return;
        }
        let listeners = Listeners {
            track: self.sink.clone(),
            vrrp: self.engine.clone(),
            checker: self.bfd_to_checkers.clone(),
        };
        let rt = self.opts.realtime.then_some(DEFAULT_BFD_RT_PRIORITY);
        match bfd_thread::spawn(plan, kernel, self.bfd_maps.take(), listeners, rt) {
            Ok(h) => self.bfd = Some(h),
            Err(e) => error!("cannot start BFD: {e}"),
        }
    }

    async fn control(&mut self, request: Request) -> Reply {
        match request {
            Request::Status => match self.status().await {
                Some(s) => Reply {
                    ok: true,
                    message: None,
                    status: Some(s),
                },
                None => Reply::error("the engine stopped"),
            },
            Request::Failover { instance } => {
                let (tx, rx) = oneshot::channel();
                self.engine.send(Command::Failover {
                    instance,
                    reply: tx,
                });
                match rx.await {
                    Ok(Ok(m)) => Reply::message(m),
                    Ok(Err(e)) => Reply::error(e.to_string()),
                    Err(_) => Reply::error("the engine stopped"),
                }
            }
            Request::Reload => match self.reload().await {
                Ok(summary) => Reply::message(summary),
                Err(e) => Reply::error(format!("reload refused, the running config is kept: {e}")),
            },
        }
    }

    /// Parses the file again; a config with errors, or one that cannot start (a missing
    /// interface, a socket refused), leaves the running config untouched (DESIGN.md §10).
    async fn reload(&mut self) -> Result<String, RunError> {
        info!("reloading {}", self.opts.config.display());
        if let Some(n) = &self.sd {
            let _ = n.reloading();
        }
        let r = self.try_reload().await;
        if let Err(e) = &r {
            error!("reload refused, the running config is kept:\n{e}");
        }
        self.states.replan(&self.plan);
        if let Some(n) = &self.sd {
            let _ = n.ready(&self.states.render());
        }
        r
    }

    async fn try_reload(&mut self) -> Result<String, RunError> {
        let plan = load_plan(&self.opts)?;
        // Tracked files and processes as they are now, told first (as a watcher would), so
        // running instances and the new ones both start from them.
        let before = self.sink.known();
        for ((kind, name), value) in read_objects(&plan) {
            if before.get(&(kind, name.clone())) != Some(&value) {
                self.sink.report(kind, &name, value);
            }
        }
        let known = self.sink.known();
        let prepared = self
            .vrrp
            .prepare(plan.vrrp.clone(), &known, self.xdp.as_mut())?;
        let (tx, rx) = oneshot::channel();
        self.engine.send(Command::Reload {
            prepared: Box::new(prepared),
            reply: tx,
        });
        let done = rx.await.map_err(|_| RunError::Io {
            what: "reload",
            source: std::io::Error::other("the VRRP engine has stopped"),
        })?;
        // Stopped instances' VMACs are removed here, off the engine thread.
        drop(done.retired);
        // Interfaces no instance runs on any more lose the XDP program once the backups of
        // the stopped instances have taken over (see `handover_window`).
        self.release_xdp_at = Some(tokio::time::Instant::now() + handover_window(&self.plan.vrrp));
        self.notifier.update(&plan);
        // What the watchers last said, now: a script may have changed during the reload.
        let known = self.sink.known();
        self.watchers = Watchers::start(&plan, self.sink.clone(), &known);
        let same = self.plan.global.sync_daemon == plan.global.sync_daemon
            && self.syncd.as_ref().is_none_or(|s| s.same_as(&plan));
        if !same {
            let master = self.syncd.as_ref().is_some_and(|s| s.master);
            if let Some(s) = self.syncd.take() {
                s.daemon.stop();
            }
            self.syncd = InstanceSyncd::start(&plan, master);
        }
        self.plan = plan;
        record_leftovers(&self.plan, &self.added);
        self.sync_bfd();
        self.start_checkers();
        crate::system::release_freed_memory();
        self.reloads += 1;
        self.loaded_at = unix_secs();
        Ok(done.summary)
    }

    async fn status(&self) -> Option<Status> {
        let (tx, rx) = oneshot::channel();
        self.engine.send(Command::Status(tx));
        let v = rx.await.ok()?;
        let (virtual_servers, checkers) = match &self.checkers {
            Some(c) => match c.status().await {
                Some((vss, stats)) => (vss, Some(stats)),
                None => (Vec::new(), None),
            },
            None => (Vec::new(), None),
        };
        Some(Status {
            virtual_servers,
            checkers,
            pid: std::process::id(),
            config: self.opts.config.display().to_string(),
            loaded_at: self.loaded_at,
            reloads: self.reloads,
            unknown_vrid: v.unknown_vrid,
            instances: v.instances,
            xdp: self.xdp.as_ref().map(XdpProgram::status),
            bfd: match &self.bfd {
                Some(b) => b.status().await,
                None => None,
            },
        })
    }

    /// SIGUSR1 → `keepalived.data` (state), SIGUSR2 → `keepalived.stats` (counters), JSON
    /// after a readable summary.
    async fn dump(&self, stats: bool) {
        let Some(s) = self.status().await else {
            return;
        };
        let (name, body) = if stats {
            let mut counters: Vec<_> = s
                .instances
                .iter()
                .map(|i| serde_json::json!({"name": i.name, "counters": i.counters}))
                .collect();
            if let Some(c) = &s.checkers {
                counters.push(serde_json::json!({"checkers": c}));
            }
            if let Some(lb) = s.xdp.as_ref().and_then(|x| x.lb.as_ref()) {
                counters.push(serde_json::json!({"xdp_load_balancer": lb}));
            }
            if let Some(b) = &s.bfd {
                counters.push(serde_json::json!({"bfd": b}));
            }
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
        write_dump(&self.opts.dump_dir, name, &body);
    }

    /// keepalived's JSON signal: the state as JSON in `keepalived.json` (ha's status
    /// document, the one `ha status --json` prints, not keepalived's layout).
    async fn dump_json(&self) {
        if let Some(s) = self.status().await {
            let body = serde_json::to_string_pretty(&s).unwrap_or_default();
            write_dump(&self.opts.dump_dir, "keepalived.json", &body);
        }
    }
}

/// The BFD thread's SCHED_RR priority: as the VRRP engine's, above every normal process.
const DEFAULT_BFD_RT_PRIORITY: i32 = 1;

/// Puts the BFD feature of the XDP program on the interface each session's neighbour is
/// reached through; the sessions served so (the kernel detects), by name. Interfaces no
/// session uses any more lose the feature.
fn bfd_sites(plan: &BfdPlan, xdp: Option<&mut XdpProgram>) -> std::collections::BTreeSet<String> {
    let mut served = std::collections::BTreeSet::new();
    let Some(x) = xdp else {
        return served;
    };
    let mut nl = match Netlink::new() {
        Ok(n) => n,
        Err(e) => {
            warn!("BFD: {e}: detection stays in userspace");
            return served;
        }
    };
    let mut keep = Vec::new();
    for s in &plan.sessions {
        let ifindex = match nl.route_to(s.neighbor) {
            Ok((i, _)) => i,
            Err(e) => {
                warn!(
                    "({}) BFD: no route to {} ({e}): detection in userspace",
                    s.name, s.neighbor
                );
                continue;
            }
        };
        let ifname = super::netlink::ifname(ifindex).unwrap_or_else(|| ifindex.to_string());
        match x.want(ifindex, &ifname, Feature::Bfd) {
            Ok(()) => {
                keep.push(ifindex);
                served.insert(s.name.clone());
            }
            Err(e) => warn!("({}) BFD: {e}: detection in userspace", s.name),
        }
    }
    x.release_others(Feature::Bfd, &keep);
    served
}

/// The folder (in the bpffs, under `ha/`) where this daemon pins its XDP links: one per
/// control socket, as several daemons (one per network namespace) share a machine's bpffs.
/// bpffs takes no `.` in names.
pub fn pin_dir(socket: &Path) -> String {
    socket
        .to_string_lossy()
        .trim_start_matches('/')
        .chars()
        .map(|c| if c == '/' || c == '.' { '_' } else { c })
        .collect()
}

/// Writes what the running config's instances add on MASTER (`leftovers.rs`).
fn record_leftovers(plan: &Plan, path: &Path) {
    let links = match Netlink::new().and_then(|mut nl| nl.links()) {
        Ok(l) => l,
        Err(e) => {
            warn!("{}: {e}", path.display());
            return;
        }
    };
    if let Err(e) = leftovers::Leftovers::of(&plan.vrrp, &links).write(path) {
        warn!(
            "{}: {e} (a restart after a kill cannot clean up)",
            path.display()
        );
    }
}

fn write_dump(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    match std::fs::write(&path, format!("{body}\n")) {
        Ok(()) => info!("wrote {}", path.display()),
        Err(e) => error!("{}: {e}", path.display()),
    }
}

/// Whether the load balancer will be the XDP forwarder: `lb_backend xdp`, or `auto` on a
/// kernel without IPVS when some virtual address arrives here (on an interface, or held by
/// a VRRP instance). A host that only checks servers whose addresses are elsewhere gets
/// the `log` backend.
fn wants_xdp_lb(lb: &LbPlan, vrrp: &VrrpPlan) -> bool {
    if lb.virtual_servers.is_empty() {
        return false;
    }
    match lb.settings.backend {
        LbBackendChoice::Xdp => true,
        LbBackendChoice::Ipvs => false,
        LbBackendChoice::Auto => {
            !super::lb::ipvs::available() && {
                let addrs = super::lb::xdp::sites::service_addrs(lb);
                !super::lb::xdp::sites::find(&addrs, vrrp).0.is_empty()
            }
        }
    }
}

/// The XDP load balancer's map sizes: a Maglev table per service plus spares for the
/// swaps and for services a reload adds; the smallest maps when XDP does not forward.
fn lb_sizes(lb: &LbPlan, xdp: bool) -> ha_ebpf::LbSizes {
    if !xdp {
        return ha_ebpf::LbSizes::NONE;
    }
    let services = super::lb::xdp::sites::service_addrs(lb).len().max(
        crate::lb::expand(&lb.virtual_servers, &lb.groups)
            .iter()
            .map(|d| d.keys.len())
            .sum(),
    ) as u32;
    let size = lb.settings.xdp.table_size;
    // At most 1 GiB of tables (the kernel spaces array elements 8 bytes apart).
    let cap = (1u32 << 27) / size;
    ha_ebpf::LbSizes {
        table_size: size,
        tables: (services + 9).min(cap).max(2),
        conns: 1 << 18,
        persist: 1 << 16,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::load_text;

    fn window(version: u8, advert_int: &str) -> Duration {
        let text = format!(
            "vrrp_instance VI {{\n interface eth0\n virtual_router_id 7\n priority 100\n \
             version {version}\n advert_int {advert_int}\n virtual_ipaddress {{\n 192.0.2.10\n }}\n}}\n"
        );
        let loaded = load_text(&text);
        handover_window(&plan(&loaded.config, &loaded.map).unwrap().vrrp)
    }

    /// RFC 5798 §6.4.2: a backup of priority 1 takes over 255/256 of an interval (v3) or of
    /// a second (v2) after the priority-0 advert; XDP is detached after that.
    #[test]
    fn xdp_lingers_for_the_longest_backup_skew() {
        assert_eq!(window(3, "0.01"), Duration::from_micros(9_960 + 10_000));
        assert_eq!(window(2, "1"), Duration::from_micros(996_093 + 10_000));
        assert_eq!(
            window(3, "5"),
            Duration::from_secs(1) + Duration::from_millis(10),
            "at most a second"
        );
    }
}
