//! The VRRP engine: every instance's state machine on one dedicated thread (DESIGN.md §6),
//! woken only by a packet, a link event, a command or the next protocol deadline. The loop is
//! `ppoll` on raw sockets, a netlink link-event socket and an eventfd for commands, with the
//! thread's timer slack at 1 µs: nothing slow runs here, so nothing delays an advert.
//! Scripts, notifications, the control socket and signals live on the main thread's tokio
//! runtime and talk to the engine through [`EngineHandle`] and the [`Event`] channel.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc::UnboundedSender, oneshot};
use tracing::{error, info, warn};

use super::apply;
use super::clock::{mono_now, unix_secs};
use super::firewall::{DropSet, Firewall};
use super::garp::Announcer;
use super::netlink::{Link, LinkMonitor, Netlink, NetlinkError};
use super::plan::{AuthPlan, InstancePlan, Plan};
use super::receive::{AdvertReceiver, RawReceiver, Rx};
use super::runner::{Ctx, Event, Runner, RunnerError};
use super::socket::RxSocket;
use super::status::Status;
use super::status::{XdpInterface, XdpStatus};
use super::tracking::{ObjKind, Objects};
use super::xdp::{XdpEvents, XdpPath};
use crate::vrrp::auth::parse_ah;
use crate::vrrp::fsm::{Input, State};
use crate::vrrp::ipv4::parse_ipv4_packet;
use crate::family::Family;
use crate::vrrp::packet::{peek_vrid, IPPROTO_AH, IPPROTO_VRRP};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Runner(#[from] RunnerError),
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> EngineError {
    let what = what.into();
    move |source| EngineError::Io { what, source }
}

/// What the rest of the daemon asks of the engine.
pub enum Command {
    /// Graceful stop: every master sends priority 0 and removes its VIPs (RFC 5798 §6.4.3).
    Stop,
    Status(oneshot::Sender<Status>),
    /// `ha failover INSTANCE`.
    Failover {
        instance: String,
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// SIGHUP with a new valid config: apply the difference.
    Reload {
        plan: Box<Plan>,
        reply: oneshot::Sender<Result<String, String>>,
    },
    /// A tracked script (after its rise/fall counts), process (quorum) or file (value)
    /// changed.
    Track {
        kind: ObjKind,
        name: String,
        value: i64,
    },
}

/// The main thread's end of the engine.
pub struct EngineHandle {
    tx: mpsc::Sender<Command>,
    wake: Arc<OwnedFd>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl EngineHandle {
    /// Queues a command; false if the engine has stopped.
    pub fn send(&self, c: Command) -> bool {
        if self.tx.send(c).is_err() {
            return false;
        }
        wake(self.wake.as_raw_fd());
        true
    }

    /// Waits for the engine thread to finish (after [`Command::Stop`]).
    pub fn join(&self) {
        let t = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(t) = t {
            let _ = t.join();
        }
    }
}

fn wake(fd: RawFd) {
    let one: u64 = 1;
    // SAFETY: writing 8 bytes from a valid u64 to an eventfd.
    unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
}

type RxKey = (u32, Family, u8);

struct Engine {
    plan: Plan,
    runners: Vec<Runner>,
    rx: BTreeMap<RxKey, Box<dyn AdvertReceiver>>,
    nl: Netlink,
    linkmon: LinkMonitor,
    announcer: Announcer,
    links: Vec<Link>,
    objects: Objects,
    cmds: mpsc::Receiver<Command>,
    wake: Arc<OwnedFd>,
    events: UnboundedSender<Event>,
    unknown_vrid: u64,
    config: String,
    loaded_at: u64,
    reloads: u64,
    /// The ppoll set: eventfd, link monitor, then one entry per `pollkeys` receive socket.
    pollset: Vec<libc::pollfd>,
    pollkeys: Vec<RxKey>,
    firewall: Firewall,
    /// The XDP fast path and its event ring, when enabled and permitted.
    xdp: Option<XdpPath>,
    xdp_events: Option<XdpEvents>,
}

/// Fixed poll slots: the command eventfd, the link monitor, the XDP ring (or a placeholder
/// that never fires); the receive sockets follow.
const SLOT_WAKE: usize = 0;
const SLOT_LINKS: usize = 1;
const SLOT_XDP: usize = 2;
const SLOT_RX: usize = 3;

/// Opens everything the plan needs and starts the engine thread. Errors (a missing
/// interface, no source address, no permission for raw sockets) are returned before any
/// instance starts, naming the instance.
pub fn spawn(
    plan: Plan,
    config: String,
    events: UnboundedSender<Event>,
    realtime: bool,
    objects: Objects,
    use_xdp: bool,
) -> Result<EngineHandle, EngineError> {
    let mut nl = Netlink::new()?;
    let linkmon = LinkMonitor::new()?;
    let links = nl.links()?;
    let announcer = Announcer::new().map_err(io_err("announcement sockets"))?;
    let mut runners = Vec::with_capacity(plan.instances.len());
    for p in &plan.instances {
        runners.push(Runner::new(p.clone(), &mut nl, &links, &objects)?);
    }
    set_statics(&mut nl, true, &plan.statics, &links);
    let mut rx = BTreeMap::new();
    open_rx(&runners.iter().collect::<Vec<_>>(), &links, &mut rx)?;
    // SAFETY: plain eventfd(2); the fd is owned right away.
    let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if efd < 0 {
        return Err(io_err("eventfd")(io::Error::last_os_error()));
    }
    // SAFETY: efd is a fresh descriptor nobody else owns.
    let wake_fd = Arc::new(unsafe { OwnedFd::from_raw_fd(efd) });
    let (tx, cmds) = mpsc::channel();
    let mut engine = Engine {
        plan,
        runners,
        rx,
        nl,
        linkmon,
        announcer,
        links,
        objects,
        cmds,
        wake: wake_fd.clone(),
        events,
        unknown_vrid: 0,
        config,
        loaded_at: unix_secs(),
        reloads: 0,
        pollset: Vec::new(),
        pollkeys: Vec::new(),
        firewall: Firewall::default(),
        xdp: None,
        xdp_events: None,
    };
    if use_xdp {
        match XdpPath::load() {
            Ok((path, events)) => {
                engine.xdp = Some(path);
                engine.xdp_events = Some(events);
                engine.attach_xdp_interfaces();
            }
            Err(e) => warn!("XDP fast path not available ({e}): adverts go through raw sockets"),
        }
    }
    engine.rebuild_pollset();
    if let Err(e) = engine
        .firewall
        .start(&engine.plan.firewall, DropSet::of(&engine.plan))
    {
        error!("{e}");
    }
    let thread = std::thread::Builder::new()
        .name("vrrp-engine".into())
        .spawn(move || {
            if realtime {
                realtime_priority(engine.plan.rt_priority.unwrap_or(DEFAULT_RT_PRIORITY));
            }
            engine.run()
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

fn realtime_priority(prio: i32) {
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: setting our own thread's policy with a valid sched_param.
    let rc = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_RR, &param) };
    if rc == 0 {
        info!("VRRP engine thread runs SCHED_RR priority {prio}");
    } else {
        warn!(
            "VRRP engine thread stays at normal priority (SCHED_RR {prio}: {})",
            io::Error::from_raw_os_error(rc)
        );
    }
}

impl Engine {
    fn run(&mut self) {
        // SAFETY: prctl with an integer argument.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1u64) };
        let now = mono_now();
        let mut events = Vec::new();
        for r in &mut self.runners {
            let mut ctx = Ctx {
                nl: &mut self.nl,
                xdp: self.xdp.as_mut(),
                announcer: &mut self.announcer,
                links: &self.links,
                events: &mut events,
            };
            r.attach_xdp(&mut ctx);
            r.start(now, &mut ctx);
        }
        self.flush(events);
        loop {
            if !self.poll_once() {
                break;
            }
        }
        info!("VRRP engine stopped");
    }

    /// One wait and everything that woke it. False once stopped.
    fn poll_once(&mut self) -> bool {
        let deadline = self
            .runners
            .iter()
            .filter_map(Runner::deadline)
            .chain(self.announcer.deadline())
            .min();
        for p in &mut self.pollset {
            p.revents = 0;
        }
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
                self.pollset.as_mut_ptr(),
                self.pollset.len() as libc::nfds_t,
                tsp,
                std::ptr::null(),
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                error!("ppoll: {e}");
            }
        }
        let mut events = Vec::new();
        let woke = |s: &Self, i: usize| rc > 0 && s.pollset[i].revents != 0;
        if rc > 0 {
            for i in 0..self.pollkeys.len() {
                if woke(self, i + SLOT_RX) {
                    self.drain_rx(self.pollkeys[i], &mut events);
                }
            }
            if woke(self, SLOT_XDP) {
                self.drain_xdp(&mut events);
            }
            if woke(self, SLOT_LINKS) {
                self.on_links(&mut events);
            }
        }
        let now = mono_now();
        for r in &mut self.runners {
            if r.deadline().is_some_and(|d| d <= now) {
                let mut ctx = Ctx {
                    nl: &mut self.nl,
                    xdp: self.xdp.as_mut(),
                    announcer: &mut self.announcer,
                    links: &self.links,
                    events: &mut events,
                };
                r.on_timer(now, &mut ctx);
            }
        }
        if self.announcer.deadline().is_some_and(|d| d <= now) {
            self.announcer.on_timer(now);
        }
        let mut running = true;
        if woke(self, SLOT_WAKE) {
            let mut buf = [0u8; 8];
            // SAFETY: reading 8 bytes into a valid buffer resets the eventfd counter.
            unsafe { libc::read(self.wake.as_raw_fd(), buf.as_mut_ptr().cast(), 8) };
            while let Ok(c) = self.cmds.try_recv() {
                if !self.command(c, &mut events) {
                    running = false;
                }
            }
        }
        self.flush(events);
        running
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

    /// Attaches the program to every interface an instance runs on (not yet attached), and
    /// marks the instances that share a kernel key (they stay on the raw socket).
    fn attach_xdp_interfaces(&mut self) {
        let Some(xdp) = self.xdp.as_mut() else {
            return;
        };
        let mut seen: BTreeMap<ha_common::VrrpKey, usize> = BTreeMap::new();
        for r in &self.runners {
            *seen
                .entry(super::xdp_sync::key(r.base_ifindex, &r.plan))
                .or_default() += 1;
        }
        for r in &mut self.runners {
            let shared = seen[&super::xdp_sync::key(r.base_ifindex, &r.plan)] > 1;
            if shared && !r.xdp_shared {
                info!(
                    instance = %r.plan.name,
                    "another instance uses VRID {} on {} too: adverts for both go through the raw socket",
                    r.plan.vrid,
                    r.plan.ifname
                );
            }
            r.xdp_shared = shared;
        }
        let mut wanted: Vec<u32> = self.runners.iter().map(|r| r.base_ifindex).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let unused: Vec<u32> = xdp
            .attachments()
            .iter()
            .map(|a| a.ifindex)
            .filter(|i| !wanted.contains(i))
            .collect();
        for ifindex in unused {
            xdp.detach(ifindex);
        }
        for ifindex in wanted {
            let Some(link) = self.links.iter().find(|l| l.index == ifindex) else {
                continue;
            };
            if let Err(e) = xdp.attach(ifindex, &link.name) {
                warn!(
                    "XDP not on {}: {e}; its instances use the raw socket",
                    link.name
                );
            }
        }
    }

    fn ctx<'a>(
        nl: &'a mut Netlink,
        xdp: &'a mut Option<XdpPath>,
        announcer: &'a mut Announcer,
        links: &'a [Link],
        events: &'a mut Vec<Event>,
    ) -> Ctx<'a> {
        Ctx {
            nl,
            xdp: xdp.as_mut(),
            announcer,
            links,
            events,
        }
    }

    fn drain_rx(&mut self, key: RxKey, events: &mut Vec<Event>) {
        let (ifindex, family, _) = key;
        let Engine {
            rx,
            runners,
            nl,
            xdp,
            announcer,
            links,
            unknown_vrid,
            ..
        } = self;
        let Some(receiver) = rx.get_mut(&key) else {
            return;
        };
        let r = receiver.drain(&mut |got| {
            let (vrid, src) = match got {
                Rx::Packet { bytes, src, v6, .. } => {
                    let vrid = match v6 {
                        None => vrid_v4(bytes),
                        Some(_) => peek_vrid(bytes).map(|(_, v)| v),
                    };
                    (vrid, src)
                }
                Rx::Advert { vrid, src, .. } => (Some(vrid), src),
                // Only the XDP ring delivers these (drain_xdp).
                Rx::Message { .. } | Rx::MasterDown { .. } => return,
            };
            let Some(vrid) = vrid else {
                *unknown_vrid += 1;
                return;
            };
            let Some(i) = route(runners, |r| r.ifindex, (ifindex, family, vrid), Some(src)) else {
                *unknown_vrid += 1;
                return;
            };
            let mut ctx = Self::ctx(nl, xdp, announcer, links, events);
            runners[i].on_rx(got, &mut ctx);
        });
        if let Err(e) = r {
            warn!("receive on ifindex {ifindex}: {e}");
        }
    }

    /// The XDP ring: each event names its interface (where the program runs: the
    /// instance's own interface), family and VRID.
    fn drain_xdp(&mut self, events: &mut Vec<Event>) {
        let Engine {
            xdp_events,
            runners,
            nl,
            xdp,
            announcer,
            links,
            unknown_vrid,
            ..
        } = self;
        let Some(ring) = xdp_events.as_mut() else {
            return;
        };
        let r = ring.drain(&mut |got| {
            let (ifindex, family, vrid, src) = match got {
                Rx::Message {
                    ifindex,
                    family,
                    bytes,
                    src,
                    ..
                } => match peek_vrid(bytes) {
                    Some((_, vrid)) => (ifindex, family, vrid, Some(src)),
                    None => return,
                },
                Rx::MasterDown {
                    ifindex,
                    family,
                    vrid,
                    ..
                } => (ifindex, family, vrid, None),
                _ => return,
            };
            // The program runs on the instance's own interface (a VMAC's parent).
            let Some(i) = route(runners, |r| r.base_ifindex, (ifindex, family, vrid), src) else {
                *unknown_vrid += 1;
                return;
            };
            let mut ctx = Self::ctx(nl, xdp, announcer, links, events);
            runners[i].on_rx(got, &mut ctx);
        });
        if let Err(e) = r {
            warn!("XDP events: {e}");
        }
    }

    fn on_links(&mut self, events: &mut Vec<Event>) {
        let changed = match self.linkmon.drain() {
            Ok(c) => c,
            Err(e) => {
                warn!("link events lost ({e}): re-reading every link");
                match self.nl.links() {
                    Ok(all) => all,
                    Err(e) => {
                        error!("{e}");
                        return;
                    }
                }
            }
        };
        let now = mono_now();
        for l in changed {
            match self.links.iter_mut().find(|x| x.index == l.index) {
                Some(x) => *x = l.clone(),
                None => self.links.push(l.clone()),
            }
            for r in &mut self.runners {
                let mut ctx = Self::ctx(
                    &mut self.nl,
                    &mut self.xdp,
                    &mut self.announcer,
                    &self.links,
                    events,
                );
                r.on_link(now, &l, &mut ctx);
            }
        }
    }

    /// Loads the no_accept tables for `plan` (before its VIPs are added, so there is no
    /// window where they accept traffic). A failure is logged; the VIPs still move.
    fn set_firewall(&mut self, plan: &Plan) {
        if let Err(e) = self.firewall.update(&plan.firewall, DropSet::of(plan)) {
            error!("{e}");
        }
    }

    /// False when the engine must stop.
    fn command(&mut self, c: Command, events: &mut Vec<Event>) -> bool {
        let now = mono_now();
        match c {
            Command::Stop => {
                for r in &mut self.runners {
                    let mut ctx = Self::ctx(
                        &mut self.nl,
                        &mut self.xdp,
                        &mut self.announcer,
                        &self.links,
                        events,
                    );
                    r.input(now, Input::Shutdown, &mut ctx);
                }
                set_statics(&mut self.nl, false, &self.plan.statics, &self.links);
                if let Err(e) = self.firewall.clear() {
                    error!("{e}");
                }
                return false;
            }
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Command::Failover { instance, reply } => {
                let result = match self.runners.iter_mut().find(|r| r.plan.name == instance) {
                    None => Err(format!("no vrrp_instance named {instance}")),
                    Some(r) => {
                        let before = r.fsm.state();
                        let mut ctx = Self::ctx(
                            &mut self.nl,
                            &mut self.xdp,
                            &mut self.announcer,
                            &self.links,
                            events,
                        );
                        r.input(now, Input::ForceFailover, &mut ctx);
                        let after = r.fsm.state();
                        if before == after {
                            Err(format!("{instance} is {before}: nothing to switch over"))
                        } else {
                            Ok(format!("{instance}: {before} -> {after}"))
                        }
                    }
                };
                let _ = reply.send(result);
            }
            Command::Reload { plan, reply } => {
                let r = self.reload(*plan, events);
                if let Err(e) = &r {
                    error!("reload refused, the running config is kept: {e}");
                }
                let _ = reply.send(r);
            }
            Command::Track { kind, name, value } => {
                self.objects.insert((kind, name.clone()), value);
                for r in &mut self.runners {
                    let mut ctx = Self::ctx(
                        &mut self.nl,
                        &mut self.xdp,
                        &mut self.announcer,
                        &self.links,
                        events,
                    );
                    r.on_object(now, kind, &name, value, &mut ctx);
                }
            }
        }
        true
    }

    /// Applies a new plan as a difference (DESIGN.md §10): unchanged instances keep running
    /// untouched; changed and removed ones stop (priority 0, VIPs removed); new and changed
    /// ones start. Everything that can fail is opened before anything is stopped.
    fn reload(&mut self, plan: Plan, events: &mut Vec<Event>) -> Result<String, String> {
        let links = self.nl.links().map_err(|e| e.to_string())?;
        // Sort every new instance into: unchanged, changed in place, or (re)started.
        // Everything that can fail happens before anything running is touched.
        let mut updates: Vec<(usize, InstancePlan, Vec<u32>)> = Vec::new();
        let mut fresh = Vec::new();
        for p in &plan.instances {
            if self.runners.iter().any(|r| r.plan == *p) {
                continue;
            }
            let same = self.runners.iter().position(|r| r.same_identity(p));
            match same {
                Some(i) => {
                    let vips = self.runners[i]
                        .resolve_vips(p, &links)
                        .map_err(|e| e.to_string())?;
                    updates.push((i, p.clone(), vips));
                }
                None => fresh.push(
                    Runner::new(p.clone(), &mut self.nl, &links, &self.objects)
                        .map_err(|e| e.to_string())?,
                ),
            }
        }
        let kept = |r: &Runner| {
            plan.instances.contains(&r.plan) || plan.instances.iter().any(|p| r.same_identity(p))
        };
        let mut all: Vec<&Runner> = self.runners.iter().filter(|r| kept(r)).collect();
        all.extend(fresh.iter());
        let mut rx = std::mem::take(&mut self.rx);
        let opened = open_rx(&all, &links, &mut rx);
        self.rx = rx;
        opened.map_err(|e| e.to_string())?;
        self.rebuild_pollset();
        self.links = links;
        self.set_firewall(&plan);
        let now = mono_now();
        // Changed in place; one the state machine refuses is restarted instead.
        let mut n_changed = 0;
        for (i, p, vips) in updates {
            let mut ctx = Self::ctx(
                &mut self.nl,
                &mut self.xdp,
                &mut self.announcer,
                &self.links,
                events,
            );
            match self.runners[i].update(now, p, vips, &self.objects, &mut ctx) {
                Ok(()) => n_changed += 1,
                Err(p) => match Runner::new(*p, &mut self.nl, &self.links, &self.objects) {
                    Ok(r) => fresh.push(r),
                    Err(e) => error!("reload: {e}"),
                },
            }
        }
        let (keep, stop): (Vec<Runner>, Vec<Runner>) = std::mem::take(&mut self.runners)
            .into_iter()
            .partition(|r| plan.instances.contains(&r.plan));
        let (n_stop, n_new) = (stop.len(), fresh.len());
        let n_same = keep.len() - n_changed;
        for mut r in stop {
            let mut ctx = Self::ctx(
                &mut self.nl,
                &mut self.xdp,
                &mut self.announcer,
                &self.links,
                events,
            );
            r.input(now, Input::Shutdown, &mut ctx);
            r.detach_xdp(&mut ctx);
        }
        if plan.statics != self.plan.statics {
            let old = &self.plan.statics;
            let new = &plan.statics;
            let gone = super::plan::Statics {
                addresses: old
                    .addresses
                    .iter()
                    .filter(|a| !new.addresses.contains(a))
                    .cloned()
                    .collect(),
                routes: old
                    .routes
                    .iter()
                    .filter(|r| !new.routes.contains(r))
                    .cloned()
                    .collect(),
                rules: old
                    .rules
                    .iter()
                    .filter(|r| !new.rules.contains(r))
                    .cloned()
                    .collect(),
            };
            set_statics(&mut self.nl, false, &gone, &self.links);
            set_statics(&mut self.nl, true, new, &self.links);
        }
        // New instances may bring new interfaces for the XDP program, and shared VRIDs;
        // every running instance rewrites its kernel entry, then the new ones start.
        let n_keep = keep.len();
        self.runners = keep.into_iter().chain(fresh).collect();
        self.attach_xdp_interfaces();
        for (i, r) in self.runners.iter_mut().enumerate() {
            let mut ctx = Self::ctx(
                &mut self.nl,
                &mut self.xdp,
                &mut self.announcer,
                &self.links,
                events,
            );
            r.attach_xdp(&mut ctx);
            if i >= n_keep {
                r.start(now, &mut ctx);
            }
        }
        // Keep the config's order.
        let mut pool: Vec<Runner> = std::mem::take(&mut self.runners);
        let mut ordered = Vec::with_capacity(pool.len());
        for p in &plan.instances {
            if let Some(i) = pool.iter().position(|r| r.plan == *p) {
                ordered.push(pool.swap_remove(i));
            }
        }
        self.runners = ordered;
        self.plan = plan;
        self.reloads += 1;
        self.loaded_at = unix_secs();
        let summary = format!(
            "reloaded: {n_same} unchanged, {n_changed} changed in place, {n_stop} stopped, {n_new} started"
        );
        info!("{summary}");
        Ok(summary)
    }

    /// Sync groups (keepalived's `vrrp_sync_group`): when a member becomes MASTER the
    /// others take over too; when one leaves MASTER for BACKUP the others hand over; while
    /// one member has a fault of its own the others are held in FAULT. Followed until
    /// nothing more changes.
    fn sync_groups(&mut self, events: &mut Vec<Event>) {
        let mut i = 0;
        loop {
            while i < events.len() {
                let Event::Transition {
                    instance, from, to, ..
                } = events[i].clone()
                else {
                    i += 1;
                    continue;
                };
                i += 1;
                let Some(members) = self.group_of(&instance) else {
                    continue;
                };
                let now = mono_now();
                for r in &mut self.runners {
                    if r.plan.name == instance || !members.contains(&r.plan.name) {
                        continue;
                    }
                    let follow = matches!(
                        (from, to, r.fsm.state()),
                        (_, State::Master, State::Backup)
                            | (State::Master, State::Backup, State::Master)
                    );
                    if follow {
                        let mut ctx = Self::ctx(
                            &mut self.nl,
                            &mut self.xdp,
                            &mut self.announcer,
                            &self.links,
                            events,
                        );
                        r.input(now, Input::ForceFailover, &mut ctx);
                    }
                }
            }
            if !self.group_faults(events) {
                break;
            }
        }
    }

    fn group_of(&self, instance: &str) -> Option<Vec<String>> {
        self.plan
            .groups
            .iter()
            .find(|g| g.members.iter().any(|m| m == instance))
            .map(|g| g.members.clone())
    }

    /// Sets each member's group fault from the other members' own faults. True if any
    /// changed.
    fn group_faults(&mut self, events: &mut Vec<Event>) -> bool {
        let now = mono_now();
        let mut changed = false;
        for g in self.plan.groups.clone() {
            let faulty: Vec<String> = self
                .runners
                .iter()
                .filter(|r| g.members.contains(&r.plan.name) && r.own_fault())
                .map(|r| r.plan.name.clone())
                .collect();
            for r in &mut self.runners {
                if !g.members.contains(&r.plan.name) {
                    continue;
                }
                let want = faulty.iter().any(|f| *f != r.plan.name);
                let mut ctx = Self::ctx(
                    &mut self.nl,
                    &mut self.xdp,
                    &mut self.announcer,
                    &self.links,
                    events,
                );
                changed |= r.set_group_fault(want, now, &mut ctx);
            }
        }
        changed
    }

    fn flush(&mut self, mut events: Vec<Event>) {
        if !self.plan.groups.is_empty() {
            self.sync_groups(&mut events);
        }
        for e in events {
            let _ = self.events.send(e);
        }
    }

    fn status(&self) -> Status {
        Status {
            pid: std::process::id(),
            config: self.config.clone(),
            loaded_at: self.loaded_at,
            reloads: self.reloads,
            unknown_vrid: self.unknown_vrid,
            instances: self
                .runners
                .iter()
                .map(|r| {
                    let mut st = r.status();
                    if let Some(k) = self
                        .xdp
                        .as_ref()
                        .and_then(|x| x.state(&super::xdp_sync::key(r.base_ifindex, &r.plan)))
                    {
                        st.counters.xdp_absorbed = k.absorbed;
                        st.counters.xdp_events = k.events;
                        st.counters.xdp_timer_armed = k.armed != 0;
                    }
                    st
                })
                .collect(),
            xdp: self.xdp.as_ref().map(|x| {
                let per_if = x.counters();
                let named = |c: &ha_common::XdpCounters| -> BTreeMap<String, u64> {
                    c.iter().map(|(k, v)| (k.to_string(), v)).collect()
                };
                let total = ha_common::XdpCounters::sum(per_if.iter().map(|(_, c)| c));
                XdpStatus {
                    interfaces: x
                        .attachments()
                        .into_iter()
                        .map(|a| XdpInterface {
                            counters: per_if
                                .iter()
                                .find(|(n, _)| *n == a.name)
                                .map(|(_, c)| named(c))
                                .unwrap_or_default(),
                            name: a.name,
                            mode: a.mode.into(),
                            why: a.why,
                        })
                        .collect(),
                    counters: named(&total),
                }
            }),
        }
    }
}

/// The runner a packet for `(ifindex, family, vrid)` belongs to, `ifindex_of` saying which
/// interface of a runner the receive path sees. Unicast instances sharing a VRID on one
/// interface are told apart by peer.
fn route(
    runners: &[Runner],
    ifindex_of: fn(&Runner) -> u32,
    (ifindex, family, vrid): (u32, Family, u8),
    src: Option<IpAddr>,
) -> Option<usize> {
    let ours =
        |r: &Runner| ifindex_of(r) == ifindex && r.plan.family == family && r.plan.vrid == vrid;
    runners
        .iter()
        .position(|r| {
            ours(r) && src.is_some_and(|s| r.plan.unicast_peers.iter().any(|p| p.addr == s))
        })
        .or_else(|| runners.iter().position(ours))
}

/// Opens the receive sockets the runners need that `rx` lacks; closes the others.
fn open_rx(
    runners: &[&Runner],
    links: &[Link],
    rx: &mut BTreeMap<RxKey, Box<dyn AdvertReceiver>>,
) -> Result<(), EngineError> {
    let mut want: BTreeMap<RxKey, BTreeSet<IpAddr>> = BTreeMap::new();
    for r in runners {
        let proto = if matches!(r.plan.auth, AuthPlan::Ah(_)) {
            IPPROTO_AH
        } else {
            IPPROTO_VRRP
        };
        want.entry((r.ifindex, r.plan.family, proto))
            .or_default()
            .extend(r.plan.mcast_dst);
    }
    let mut opened = BTreeMap::new();
    for (key, groups) in &want {
        if rx.contains_key(key) {
            continue;
        }
        let _ = links;
        let ifname = runners
            .iter()
            .find(|r| r.ifindex == key.0)
            .map(|r| r.io_ifname.clone())
            .unwrap_or_default();
        let groups: Vec<IpAddr> = groups.iter().copied().collect();
        let s = RxSocket::open(key.1, &ifname, key.0, key.2, &groups)
            .map_err(io_err("VRRP receive socket"))?;
        let r: Box<dyn AdvertReceiver> = Box::new(RawReceiver::new(s));
        opened.insert(*key, r);
    }
    rx.retain(|k, _| want.contains_key(k));
    rx.extend(opened);
    Ok(())
}

/// `static_ipaddress`, `static_routes`, `static_rules`: addresses first, rules last, and
/// the reverse when removing.
fn set_statics(nl: &mut Netlink, add: bool, s: &super::plan::Statics, links: &[Link]) {
    let addrs = apply::static_addresses(&s.addresses, links);
    if add {
        apply::addresses(nl, true, &addrs, "static");
        apply::routes(nl, true, &s.routes, links, "static");
        apply::rules(nl, true, &s.rules, "static");
    } else {
        apply::rules(nl, false, &s.rules, "static");
        apply::routes(nl, false, &s.routes, links, "static");
        apply::addresses(nl, false, &addrs, "static");
    }
}

fn pollfd(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// The VRID of an IPv4 VRRP packet (behind AH if present), if it has one.
fn vrid_v4(pkt: &[u8]) -> Option<u8> {
    let (ip, payload) = parse_ipv4_packet(pkt).ok()?;
    let msg = if ip.protocol == IPPROTO_AH {
        parse_ah(payload).ok()?.1
    } else {
        payload
    };
    peek_vrid(msg).map(|(_, v)| v)
}
