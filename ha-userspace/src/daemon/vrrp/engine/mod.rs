//! The VRRP engine: every instance's state machine on one dedicated thread (DESIGN.md §6),
//! woken only by a packet, a link event, a command or the next protocol deadline. The loop
//! is `ppoll` on the raw sockets, the XDP event ring, a netlink link-event socket and an
//! eventfd for commands, with the thread's timer slack at 1 µs. Nothing slow runs here:
//! a start or reload arrives prepared (`prepare.rs`), and scripts, notifications, the
//! control socket and signals live on the main thread's runtime.
//!
//! - `commands.rs`: the commands and the main thread's handle;
//! - `io.rs`: what runners borrow;
//! - `receive.rs`: draining the receive paths into the runners;
//! - `apply.rs`: applying a prepared start or reload;
//! - `groups.rs`: sync groups after each batch.

mod apply;
mod commands;
mod fence;
mod groups;
mod io;
mod receive;

use std::collections::BTreeMap;
use std::io as stdio;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;
use tracing::{error, info, warn};

pub use commands::{Command, CommandError, EngineHandle, Reloaded, VrrpStatus};
pub use fence::{DEFAULT_FENCE_ADVERTS, MAX_FENCE_ADVERTS};
pub use io::Io;

use super::garp::Announcer;
use super::prepare::{Prepared, RxKey};
use super::receive::AdvertReceiver;
use super::route::Routes;
use super::runner::Runner;
use super::xdp_maps::{VrrpMaps, XdpEvents};
use crate::daemon::clock::{mono_now, Stopwatch};
use crate::daemon::events::Event;
use crate::daemon::netlink::{LinkMonitor, Netlink, NetlinkError};
use crate::daemon::plan::VrrpPlan;
use crate::daemon::sd_notify::SdNotify;
use crate::daemon::watch::Objects;
use crate::time::MonoTime;
use crate::units::Micros;
use crate::vrrp::fsm::Input;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error("{what}: {source}")]
    Io {
        what: &'static str,
        source: stdio::Error,
    },
}

/// What the engine thread starts with besides its first prepared plan.
pub struct EngineParts {
    /// Opened before the first plan was prepared, so no link change after its link dump
    /// is missed.
    pub linkmon: LinkMonitor,
    pub realtime: bool,
    /// The XDP maps and event ring, when the fast path runs.
    pub xdp: Option<(VrrpMaps, XdpEvents)>,
    pub events: UnboundedSender<Event>,
    /// systemd's watchdog: the socket, and how often to ping it (`WatchdogSec=` / 2).
    pub watchdog: Option<(Arc<SdNotify>, std::time::Duration)>,
    /// `--fence-adverts`: advert intervals without a heartbeat before the kernel fences
    /// the VIPs (0: never).
    pub fence_adverts: u32,
}

/// The watchdog pings, sent from this thread: they stop when it stops running, and systemd
/// restarts the daemon (DESIGN.md "Operator surface").
struct Watchdog {
    notify: Arc<SdNotify>,
    every: Micros,
    next: MonoTime,
}

pub(super) struct Engine {
    plan: VrrpPlan,
    /// Boxed: a reload moves pointers, not the 2 KB runners, so it touches no fresh memory
    /// here (BENCHMARKS.md "Reload": first-touch page faults cost milliseconds on a VM).
    #[allow(clippy::vec_box)]
    runners: Vec<Box<Runner>>,
    io: Io,
    rx: BTreeMap<RxKey, Box<dyn AdvertReceiver>>,
    xdp_events: Option<XdpEvents>,
    /// Which runner a packet is for, per receive path.
    raw_routes: Routes,
    xdp_routes: Routes,
    linkmon: LinkMonitor,
    objects: Objects,
    cmds: mpsc::Receiver<Command>,
    wake: Arc<OwnedFd>,
    events: UnboundedSender<Event>,
    unknown_vrid: u64,
    /// The ppoll set: eventfd, link monitor, XDP ring, then one entry per `pollkeys` socket.
    pollset: Vec<libc::pollfd>,
    pollkeys: Vec<RxKey>,
    watchdog: Option<Watchdog>,
    fence: fence::FenceClock,
}

/// One wake-up longer than this is logged with where the time went (a warning: the adverts
/// of instances at 0.01 s are due every 10 ms).
const ENGINE_BUSY_US: u64 = 3_000;

/// How long a batch of due timers may run before the masters' due adverts are sent.
const ADVERT_SWEEP_US: u64 = 500;

/// Fixed poll slots: the command eventfd, the link monitor, the XDP ring (or a placeholder
/// that never fires); the receive sockets follow.
const SLOT_WAKE: usize = 0;
const SLOT_LINKS: usize = 1;
const SLOT_XDP: usize = 2;
const SLOT_RX: usize = 3;

/// Starts the engine thread on a prepared first plan. Errors (no netlink, no eventfd)
/// come before any instance starts.
pub fn spawn(first: Prepared, parts: EngineParts) -> Result<EngineHandle, EngineError> {
    let io_err = |what| move |source| EngineError::Io { what, source };
    let announcer = Announcer::new().map_err(io_err("announcement sockets"))?;
    // SAFETY: plain eventfd(2); the fd is owned right away.
    let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if efd < 0 {
        return Err(io_err("eventfd")(stdio::Error::last_os_error()));
    }
    // SAFETY: efd is a fresh descriptor nobody else owns.
    let wake_fd = Arc::new(unsafe { OwnedFd::from_raw_fd(efd) });
    let (tx, cmds) = mpsc::channel();
    let (maps, xdp_events) = match parts.xdp {
        Some((m, e)) => (Some(m), Some(e)),
        None => (None, None),
    };
    let mut engine = Engine {
        plan: first.plan.clone(),
        runners: Vec::new(),
        io: Io {
            nl: Netlink::new()?,
            xdp: maps,
            announcer,
            links: first.links.clone(),
            events: Vec::new(),
        },
        rx: BTreeMap::new(),
        xdp_events,
        raw_routes: Routes::default(),
        xdp_routes: Routes::default(),
        linkmon: parts.linkmon,
        objects: first.known.clone(),
        cmds,
        wake: wake_fd.clone(),
        events: parts.events,
        unknown_vrid: 0,
        pollset: Vec::new(),
        pollkeys: Vec::new(),
        watchdog: parts.watchdog.map(|(notify, every)| Watchdog {
            notify,
            every: Micros(every.as_micros().min(u64::MAX as u128) as u64),
            next: mono_now(),
        }),
        fence: fence::FenceClock::new(parts.fence_adverts),
    };
    let realtime = parts.realtime;
    let thread = std::thread::Builder::new()
        .name("vrrp-engine".into())
        .spawn(move || {
            if realtime {
                crate::system::realtime_priority(
                    "VRRP engine",
                    engine.plan.rt_priority.unwrap_or(DEFAULT_RT_PRIORITY),
                );
            }
            engine.run(first)
        })
        .map_err(io_err("starting the engine thread"))?;
    Ok(EngineHandle {
        tx,
        wake: wake_fd,
        thread: std::sync::Mutex::new(Some(thread)),
    })
}

/// The engine thread's default SCHED_RR priority: the lowest realtime one, above every
/// normal process, so adverts and the master-down timer keep their timing when the CPUs are
/// saturated (keepalived's `vrrp_rt_priority` sets it; `ha run --no-realtime` disables it).
const DEFAULT_RT_PRIORITY: i32 = 1;

impl Engine {
    fn run(&mut self, first: Prepared) {
        // SAFETY: prctl with an integer argument.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1u64) };
        let n = first.plan.instances.len();
        self.apply(mono_now(), first);
        info!("VRRP engine running {n} instance(s)");
        self.flush();
        while self.poll_once() {}
        info!("VRRP engine stopped");
    }

    /// One wait and everything that woke it. False once stopped.
    fn poll_once(&mut self) -> bool {
        let deadline = self
            .runners
            .iter()
            .filter_map(|r| r.deadline())
            .chain(self.io.announcer.deadline())
            .chain(self.watchdog.as_ref().map(|w| w.next))
            .chain(self.fence_deadline())
            .min();
        for p in &mut self.pollset {
            p.revents = 0;
        }
        let waited_from = mono_now();
        let rc = ppoll(&mut self.pollset, deadline);
        let woke = |s: &Self, i: usize| rc > 0 && s.pollset[i].revents != 0;
        let now = mono_now();
        self.keep_fence(now);
        let busy = Stopwatch::start();
        // Late only when the deadline was ahead when the wait began (one that passed during
        // a busy wake-up is that wake-up's, reported below).
        if let Some(late) = deadline.map(|d| now.saturating_since(d.max(waited_from)).0) {
            if late > ENGINE_BUSY_US {
                warn!("VRRP engine woke {late} µs after its deadline (the thread did not run)");
            }
        }
        if rc > 0 {
            for i in 0..self.pollkeys.len() {
                if woke(self, i + SLOT_RX) {
                    self.drain_rx(now, self.pollkeys[i]);
                }
            }
            if woke(self, SLOT_XDP) {
                self.drain_xdp(now);
            }
            if woke(self, SLOT_LINKS) {
                self.on_links(now);
            }
        }
        let received = busy.elapsed_us();
        self.run_timers(now);
        if self.io.announcer.deadline().is_some_and(|d| d <= now) {
            self.io.announcer.on_timer(now);
        }
        if let Some(w) = self.watchdog.as_mut().filter(|w| w.next <= now) {
            let _ = w.notify.watchdog();
            w.next = now + w.every;
        }
        let timed = busy.elapsed_us();
        let mut running = true;
        if woke(self, SLOT_WAKE) {
            let mut buf = [0u8; 8];
            // SAFETY: reading 8 bytes into a valid buffer resets the eventfd counter.
            unsafe { libc::read(self.wake.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
            while let Ok(c) = self.cmds.try_recv() {
                running &= self.command(mono_now(), c);
            }
        }
        self.flush();
        let total = busy.elapsed_us();
        if total > ENGINE_BUSY_US {
            warn!(
                "VRRP engine busy for {total} µs in one wake-up (receive {received}, timers {}, \
                 commands and events {}): adverts due meanwhile went out late",
                timed - received,
                total - timed
            );
        }
        running
    }

    /// The heartbeat first, before anything this wake-up does (a takeover must not find its
    /// VIPs fenced); and a master that was away past the fence time, long enough for a
    /// backup to take over, hands over (`fence.rs`).
    fn keep_fence(&mut self, now: MonoTime) {
        if self.io.xdp.is_none() {
            return;
        }
        if let Some(away) = self.fence.overslept(now) {
            let masters: Vec<usize> = (0..self.runners.len())
                .filter(|&i| {
                    let r = &self.runners[i];
                    // Three of its intervals: the least Master_Down_Interval of its backups.
                    r.state() == crate::vrrp::fsm::State::Master
                        && away.0 > u64::from(r.adver_int().0) * 30_000
                })
                .collect();
            if !masters.is_empty() {
                warn!(
                    "VRRP engine did not run for {} ms (stopped or starved), past the fence \
                     time of {} ms: the kernel fenced the VIPs and a backup may hold them; \
                     {} master(s) hand over",
                    away.0 / 1000,
                    self.fence.stale().0 / 1000,
                    masters.len()
                );
                for i in masters {
                    self.runners[i].input(now, Input::ForceFailover, &mut self.io);
                }
            }
        }
        self.beat_if_due(now);
    }

    /// A heartbeat, when one is due (also between the slow items of a wake-up).
    fn beat_if_due(&mut self, now: MonoTime) {
        if self.fence.due(now) {
            let stale = self.fence.beat(now);
            if let Some(x) = self.io.xdp.as_mut() {
                x.beat(stale);
            }
        }
    }

    /// While an instance is MASTER, the engine wakes for its beats even when no advert is
    /// due that soon (an instance of a longer interval, another one's shorter fence time).
    fn fence_deadline(&self) -> Option<MonoTime> {
        self.io.xdp.as_ref()?;
        self.runners
            .iter()
            .any(|r| r.state() == crate::vrrp::fsm::State::Master)
            .then(|| self.fence.next_beat())
            .flatten()
    }

    /// Every runner whose deadline has come. Adverts of running masters go first and are
    /// sent again between slow items (a takeover sets addresses through netlink): after a
    /// reload that starts 200 instances at once, their takeovers must not hold back the
    /// adverts that keep the other virtual routers alive.
    fn run_timers(&mut self, now: MonoTime) {
        let mut due: Vec<usize> = (0..self.runners.len())
            .filter(|&i| self.runners[i].deadline().is_some_and(|d| d <= now))
            .collect();
        due.sort_by_key(|&i| !self.runners[i].advert_due(now));
        let mut swept = Stopwatch::start();
        for i in due {
            self.runners[i].on_timer(mono_now(), &mut self.io);
            self.sweep_adverts(&mut swept);
        }
    }

    /// Between slow items: when `swept` has run longer than [`ADVERT_SWEEP_US`], sends the
    /// adverts of masters that came due, and restarts it.
    fn sweep_adverts(&mut self, swept: &mut Stopwatch) {
        if swept.elapsed_us() <= ADVERT_SWEEP_US {
            return;
        }
        let now = mono_now();
        self.beat_if_due(now);
        for r in &mut self.runners {
            if r.advert_due(now) {
                r.on_timer(now, &mut self.io);
            }
        }
        *swept = Stopwatch::start();
    }

    fn rebuild_pollset(&mut self) {
        self.pollkeys = self.rx.keys().copied().collect();
        // A negative fd is ignored by ppoll: the XDP slot stays in place without XDP.
        let xdp_fd = self.xdp_events.as_ref().map_or(-1, |e| e.fd());
        self.pollset = [self.wake.as_raw_fd(), self.linkmon.as_raw_fd(), xdp_fd]
            .into_iter()
            .chain(self.pollkeys.iter().map(|k| self.rx[k].fd()))
            .map(pollfd)
            .collect();
    }

    fn rebuild_routes(&mut self) {
        self.raw_routes = Routes::new(self.runners.iter().map(|r| r.raw_listener()));
        self.xdp_routes = Routes::new(self.runners.iter().map(|r| r.xdp_listener()));
    }

    fn on_links(&mut self, now: MonoTime) {
        let changed = match self.linkmon.drain(&mut self.io.links) {
            Ok(c) => c,
            Err(e) => {
                // Rare (the kernel dropped events): re-reading every link is the only way
                // to know where things stand, even on this thread.
                warn!("link events lost ({e}): re-reading every link");
                match self.io.nl.links() {
                    Ok(all) => {
                        self.io.links = all;
                        self.io.links.0.clone()
                    }
                    Err(e) => {
                        error!("{e}");
                        return;
                    }
                }
            }
        };
        for l in &changed {
            for r in &mut self.runners {
                r.on_link(now, l, &mut self.io);
            }
        }
    }

    /// False when the engine must stop.
    fn command(&mut self, now: MonoTime, c: Command) -> bool {
        match c {
            Command::Stop => {
                for r in &mut self.runners {
                    r.input(now, Input::Shutdown, &mut self.io);
                }
                return false;
            }
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Command::Failover { instance, reply } => {
                let _ = reply.send(self.failover(now, &instance));
            }
            Command::Reload { prepared, reply } => {
                let done = self.apply(now, *prepared);
                info!("{}", done.summary);
                let _ = reply.send(done);
            }
            Command::PeerDown {
                bfd,
                neighbor,
                last_rx,
            } => {
                for r in &mut self.runners {
                    r.on_peer_down(now, &bfd, neighbor, last_rx, &mut self.io);
                }
            }
            Command::Track { kind, name, value } => {
                self.objects.insert((kind, name.clone()), value);
                for r in &mut self.runners {
                    r.on_object(now, kind, &name, value, &mut self.io);
                }
            }
        }
        true
    }

    fn failover(&mut self, now: MonoTime, instance: &str) -> Result<String, CommandError> {
        let r = self
            .runners
            .iter_mut()
            .find(|r| r.name() == instance)
            .ok_or_else(|| CommandError::NoInstance(instance.into()))?;
        let before = r.state();
        r.input(now, Input::ForceFailover, &mut self.io);
        let after = r.state();
        if before == after {
            return Err(CommandError::NothingToSwitch {
                instance: instance.into(),
                state: before,
            });
        }
        Ok(format!("{instance}: {before} -> {after}"))
    }

    /// Applies the sync group rules to this batch's transitions, then hands the events
    /// to the main thread.
    fn flush(&mut self) {
        if !self.plan.groups.is_empty() {
            self.sync_groups(mono_now());
        }
        for e in self.io.events.drain(..) {
            let _ = self.events.send(e.into());
        }
    }

    fn status(&self) -> VrrpStatus {
        VrrpStatus {
            unknown_vrid: self.unknown_vrid,
            instances: self
                .runners
                .iter()
                .map(|r| {
                    let mut st = r.status();
                    if let Some(k) = self.io.xdp.as_ref().and_then(|x| x.state(&r.xdp_key())) {
                        st.counters.xdp_absorbed = k.absorbed;
                        st.counters.xdp_events = k.events;
                        st.counters.xdp_timer_armed = k.armed != 0;
                    }
                    st
                })
                .collect(),
        }
    }
}

/// Waits for the poll set until `deadline`; the number of ready descriptors (0 on
/// timeout, < 0 on a signal or error).
fn ppoll(set: &mut [libc::pollfd], deadline: Option<MonoTime>) -> i32 {
    let ts;
    let tsp = match deadline {
        Some(d) => {
            let wait = d.0.saturating_sub(mono_now().0);
            ts = libc::timespec {
                tv_sec: (wait / 1_000_000) as libc::time_t,
                tv_nsec: ((wait % 1_000_000) * 1_000) as libc::c_long,
            };
            &ts as *const libc::timespec
        }
        None => std::ptr::null(),
    };
    // SAFETY: the poll set is a valid array of its length; tsp is null or points to `ts`.
    let rc = unsafe {
        libc::ppoll(
            set.as_mut_ptr(),
            set.len() as libc::nfds_t,
            tsp,
            std::ptr::null(),
        )
    };
    if rc < 0 {
        let e = stdio::Error::last_os_error();
        if e.kind() != stdio::ErrorKind::Interrupted {
            error!("ppoll: {e}");
        }
    }
    rc
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}
