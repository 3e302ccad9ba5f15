//! The BFD thread's loop: `ppoll` on the command eventfd, a timerfd armed at the next
//! deadline of any session, the kernel's expiry ring and the receive sockets. Each wake-up
//! takes the kernel's expiries first (they are the news a takeover waits for), then the
//! received packets, then the timers, sends what is due in one batch per family, and
//! tells the kernel what changed.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{mpsc, Arc};

use ha_common::{bfd_slot, BFD_SLOTS};
use tracing::{debug, info, warn};

use super::kernel::{BfdMaps, Watch};
use super::socket::{open_rx, Outgoing, RxSocket, TxSocket};
use super::status::{BfdStatus, Lateness, SessionStatus};
use super::{Command, Listeners};
use crate::bfd::packet::{Control, Diag, State, PORT_MULTIHOP, PORT_SINGLE_HOP};
use crate::bfd::session::{Event, Session};
use crate::daemon::clock::mono_now;
use crate::daemon::plan::bfd::{BfdPlan, SessionPlan};
use crate::daemon::vrrp::engine::Command as VrrpCommand;
use crate::daemon::vrrp::xdp_maps::mono_of_ns;
use crate::daemon::watch::ObjKind;
use crate::time::MonoTime;
use crate::units::Micros;

/// One running session.
struct Running {
    plan: SessionPlan,
    session: Session,
    /// The kernel watches it (its interface runs the BFD feature).
    kernel: bool,
    /// The remote's last accepted packet, as received.
    last_bytes: Option<[u8; 24]>,
    /// What the kernel was last told, and its epoch.
    written: Option<Watch>,
    epoch: u32,
    last_detection_late_ns: Option<u64>,
}

pub(super) struct BfdThread {
    cmds: mpsc::Receiver<Command>,
    wake: Arc<OwnedFd>,
    timer: OwnedFd,
    maps: Option<BfdMaps>,
    listeners: Listeners,
    rx: Vec<RxSocket>,
    tx4: Option<TxSocket>,
    tx6: Option<TxSocket>,
    sessions: Vec<Running>,
    /// local discriminator → index in `sessions`.
    by_disc: BTreeMap<u32, usize>,
    lateness: Lateness,
    discarded: u64,
    seed: u64,
}

fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom into a valid 8-byte buffer.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, 0) };
    if n == 8 {
        u64::from_ne_bytes(b)
    } else {
        mono_now().0 ^ u64::from(std::process::id()) << 32
    }
}

impl BfdThread {
    pub fn new(
        cmds: mpsc::Receiver<Command>,
        wake: Arc<OwnedFd>,
        maps: Option<BfdMaps>,
        listeners: Listeners,
    ) -> io::Result<BfdThread> {
        // SAFETY: plain timerfd_create; the fd is owned right away.
        let tfd = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if tfd < 0 {
            return Err(io::Error::last_os_error());
        }
        let seed = random_u64();
        let mut rx = open_rx(false)?;
        // IPv6 may be disabled: then IPv4 only, as keepalived does.
        match open_rx(true) {
            Ok(s) => rx.extend(s),
            Err(e) => debug!("BFD: no IPv6 receive sockets ({e})"),
        }
        Ok(BfdThread {
            cmds,
            wake,
            // SAFETY: a fresh descriptor nobody else owns.
            timer: unsafe { OwnedFd::from_raw_fd(tfd) },
            maps,
            listeners,
            rx,
            tx4: None,
            tx6: None,
            sessions: Vec::new(),
            by_disc: BTreeMap::new(),
            lateness: Lateness::default(),
            discarded: 0,
            seed,
        })
    }

    pub fn run(&mut self) {
        // SAFETY: prctl with an integer argument.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1u64) };
        // Each wake-up: what woke it (expiries, packets, commands) is taken in, then `tick`
        // at the top of the loop sends, tells and re-arms.
        info!("BFD thread running {} session(s)", self.sessions.len());
        let mut buf = [0u8; 128];
        let mut armed = None;
        let mut fds: Vec<libc::pollfd> = Vec::new();
        loop {
            let now = mono_now();
            self.tick(now);
            let deadline = self
                .sessions
                .iter()
                .filter_map(|r| r.session.poll_timeout())
                .min();
            if deadline != armed {
                self.arm(deadline);
                armed = deadline;
            }
            if fds.len() != 3 + self.rx.len() {
                fds = [
                    self.wake.as_raw_fd(),
                    self.timer.as_raw_fd(),
                    self.maps.as_ref().map_or(-1, |m| m.fd()),
                ]
                .into_iter()
                .chain(self.rx.iter().map(|s| s.as_raw_fd()))
                .map(|fd| libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            }
            for f in &mut fds {
                f.revents = 0;
            }
            // SAFETY: a valid pollfd array of its length; no timeout (the timerfd is one).
            let rc = unsafe {
                libc::ppoll(
                    fds.as_mut_ptr(),
                    fds.len() as libc::nfds_t,
                    std::ptr::null(),
                    std::ptr::null(),
                )
            };
            if rc < 0 {
                continue;
            }
            let now = mono_now();
            if fds[2].revents != 0 {
                self.kernel_expiries(now);
            }
            for i in 0..self.rx.len() {
                if fds[3 + i].revents != 0 {
                    self.receive(i, now, &mut buf);
                }
            }
            if fds[1].revents != 0 {
                let mut b = [0u8; 8];
                // SAFETY: reading the expiry count resets the timerfd.
                unsafe { libc::read(self.timer.as_raw_fd(), b.as_mut_ptr().cast(), 8) };
                // An expired absolute timer stays expired: arm it again next time round.
                armed = None;
            }
            if fds[0].revents != 0 {
                let mut b = [0u8; 8];
                // SAFETY: reading 8 bytes resets the eventfd counter.
                unsafe { libc::read(self.wake.as_raw_fd(), b.as_mut_ptr().cast(), 8) };
                let mut stop = false;
                while let Ok(c) = self.cmds.try_recv() {
                    match c {
                        Command::Reload { plan, kernel } => self.reload(plan, kernel),
                        Command::Status(reply) => {
                            let _ = reply.send(self.status());
                        }
                        Command::Stop => stop = true,
                    }
                }
                if stop {
                    self.stop();
                    info!("BFD thread stopped");
                    return;
                }
            }
        }
    }

    fn arm(&self, deadline: Option<MonoTime>) {
        let us = deadline.map_or(0, |d| d.0.max(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: (us / 1_000_000) as libc::time_t,
                tv_nsec: ((us % 1_000_000) * 1_000) as libc::c_long,
            },
        };
        // SAFETY: a valid itimerspec; absolute time on the timer's clock (0 disarms).
        unsafe {
            libc::timerfd_settime(
                self.timer.as_raw_fd(),
                libc::TFD_TIMER_ABSTIME,
                &spec,
                std::ptr::null_mut(),
            )
        };
    }

    /// Timers, transmissions, events and the kernel's entries, at `now`.
    fn tick(&mut self, now: MonoTime) {
        for r in &mut self.sessions {
            if !r.session.detect_due(now) {
                continue;
            }
            // The kernel absorbed packets meanwhile: their time first (one map read, only
            // when the backstop comes due).
            if r.kernel {
                if let Some(st) = self
                    .maps
                    .as_ref()
                    .and_then(|m| m.state(r.session.local_disc()))
                {
                    if st.last_rx_ns != 0 {
                        r.session.refresh(mono_of_ns(st.last_rx_ns));
                    }
                }
            }
            r.session.on_timeout(now);
        }
        // Anything due goes now, and with it every periodic packet already in its window:
        // one sendmmsg per family instead of a wake-up per session.
        let any_due = self
            .sessions
            .iter()
            .any(|r| r.session.poll_timeout().is_some_and(|t| t <= now));
        let mut out4 = Vec::new();
        let mut out6 = Vec::new();
        if any_due {
            for r in &mut self.sessions {
                let scheduled = r.session.next_tx();
                while let Some(c) = r.session.poll_transmit_early(now) {
                    if let Some(s) = scheduled.filter(|s| *s <= now && !c.fin) {
                        self.lateness.add(now.saturating_since(s).0);
                    }
                    let o = outgoing(&r.plan, &c);
                    if r.plan.neighbor.is_ipv4() {
                        out4.push(o);
                    } else {
                        out6.push(o);
                    }
                }
            }
        }
        self.send(false, &out4);
        self.send(true, &out6);
        for i in 0..self.sessions.len() {
            while let Some(e) = self.sessions[i].session.poll_event() {
                self.on_event(i, e);
            }
            self.sync_kernel(i);
        }
    }

    fn send(&mut self, v6: bool, batch: &[Outgoing]) {
        if batch.is_empty() {
            return;
        }
        let slot = if v6 { &mut self.tx6 } else { &mut self.tx4 };
        if slot.is_none() {
            match TxSocket::open(v6, (self.seed >> 16) as u16) {
                Ok(s) => *slot = Some(s),
                Err(e) => {
                    warn!("{e}");
                    return;
                }
            }
        }
        let Some(sock) = slot.as_ref() else { return };
        let failed = sock.send_batch(batch);
        if failed > 0 {
            debug!("BFD: {failed} control packet(s) not sent");
        }
    }

    fn kernel_expiries(&mut self, now: MonoTime) {
        let mut evs = Vec::new();
        if let Some(m) = self.maps.as_mut() {
            m.drain(|e| evs.push(e));
        }
        for e in evs {
            let Some(&i) = self.by_disc.get(&e.local_disc) else {
                continue;
            };
            let r = &mut self.sessions[i];
            if !r.kernel || e.epoch != r.epoch {
                continue;
            }
            let late = e.fired_ns.saturating_sub(e.last_rx_ns + e.detect_ns);
            r.last_detection_late_ns = Some(late);
            debug!(
                "({}) kernel detection: {} ns after the Detection Time ({} µs)",
                r.plan.name,
                late,
                e.detect_ns / 1_000
            );
            r.session.refresh(mono_of_ns(e.last_rx_ns));
            r.session.expire(now);
        }
    }

    fn receive(&mut self, sock: usize, now: MonoTime, buf: &mut [u8]) {
        loop {
            let got = match self.rx[sock].recv(buf) {
                Ok(Some(g)) => g,
                Ok(None) => break,
                Err(e) => {
                    debug!("BFD receive: {e}");
                    break;
                }
            };
            let bytes = &buf[..got.len.min(buf.len())];
            let c = match Control::decode(bytes) {
                Ok(c) => c,
                Err(e) => {
                    self.discarded += 1;
                    debug!("BFD packet from {} discarded: {e}", got.src);
                    continue;
                }
            };
            let found = if c.your_disc != 0 {
                self.by_disc.get(&c.your_disc).copied()
            } else {
                self.sessions
                    .iter()
                    .position(|r| r.plan.matches(got.src, got.dst))
            };
            let Some(i) = found else {
                self.discarded += 1;
                debug!(
                    "BFD packet from {} for no session (your discriminator {})",
                    got.src, c.your_disc
                );
                continue;
            };
            let r = &mut self.sessions[i];
            if got.src != r.plan.neighbor {
                self.discarded += 1;
                continue;
            }
            // keepalived's rule (bfd_check_packet_ttl): TTL ≥ ttl − max_hops.
            if got.hop_limit.is_some_and(|t| t < r.plan.min_ttl) {
                self.discarded += 1;
                debug!(
                    "({}) packet with TTL {:?} < {} discarded",
                    r.plan.name, got.hop_limit, r.plan.min_ttl
                );
                continue;
            }
            let mut raw = [0u8; 24];
            raw.copy_from_slice(&bytes[..24]);
            r.last_bytes = Some(raw);
            r.session.on_packet(now, &c);
        }
    }

    fn on_event(&mut self, i: usize, e: Event) {
        let r = &self.sessions[i];
        let name = r.plan.name.clone();
        let Event::State { from, to, diag } = e;
        let remote = r.session.remote();
        match to {
            State::Up => info!("({name}) Entering Up state"),
            State::Down if from == State::Up => info!(
                "({name}) Entering Down state (Local diagnostic - {}, Remote diagnostic - {})",
                diag_text(diag),
                diag_text(Diag::None)
            ),
            other => debug!("({name}) Entering {other} state"),
        }
        let up = to == State::Up;
        let went_down = from == State::Up && to != State::Up;
        // keepalived tells VRRP and the checkers of every Up and of Up → Down, except when
        // the remote said AdminDown (bfd_state_fall).
        let tell = up || (went_down && remote.state != State::AdminDown);
        if tell && r.plan.to_vrrp {
            self.listeners
                .track
                .report(ObjKind::Bfd, &name, i64::from(up));
        }
        if tell && r.plan.to_checker {
            let _ = self.listeners.checker.send((name.clone(), up));
        }
        // The path went silent (not a neighbour saying Down): a backup following the
        // neighbour takes over now.
        if went_down && diag == Diag::Expired && r.plan.to_vrrp {
            let last_rx = r.session.last_rx().unwrap_or(MonoTime::ZERO);
            self.listeners.vrrp.send(VrrpCommand::PeerDown {
                bfd: name,
                neighbor: r.plan.neighbor,
                last_rx,
            });
        }
    }

    /// Tells the kernel what changed for session `i`.
    fn sync_kernel(&mut self, i: usize) {
        let r = &mut self.sessions[i];
        let Some(maps) = self.maps.as_mut().filter(|_| r.kernel) else {
            return;
        };
        let s = &r.session;
        let watched = matches!(s.state(), State::Up | State::Init);
        let detect_ns = match (watched, s.detection_time()) {
            (true, Some(d)) => d.0 * 1_000,
            _ => 0,
        };
        // Copies of a steady Up packet without P or F may be dropped: they change nothing.
        let absorb = r.last_bytes.filter(|b| {
            s.state() == State::Up && !s.polling() && b[1] & 0x30 == 0 && b[1] >> 6 == 3
        });
        let w = Watch {
            local_disc: s.local_disc(),
            remote: r.plan.neighbor,
            min_ttl: r.plan.min_ttl,
            detect_ns,
            absorb,
        };
        if r.written.as_ref() != Some(&w) {
            r.epoch = r.epoch.wrapping_add(1).max(1);
            maps.write(&w, r.epoch);
            r.written = Some(w);
        }
    }

    /// Applies a plan: sessions with the same name, neighbour and source keep running
    /// (new timers by a Poll Sequence), others start or stop.
    pub fn reload(&mut self, plan: BfdPlan, kernel: BTreeSet<String>) {
        let now = mono_now();
        let mut old: Vec<Running> = std::mem::take(&mut self.sessions);
        let mut next = Vec::new();
        for p in plan.sessions {
            let kept = old.iter().position(|r| {
                r.plan.name == p.name && r.plan.neighbor == p.neighbor && r.plan.source == p.source
            });
            let mut r = match kept {
                Some(k) => {
                    let mut r = old.swap_remove(k);
                    r.session.reconfigure(p.timers, now);
                    r.plan = p;
                    r
                }
                None => {
                    let Some(disc) = self.new_disc(&old, &next) else {
                        warn!(
                            "({}) no free BFD slot ({BFD_SLOTS} sessions at most)",
                            p.name
                        );
                        continue;
                    };
                    if let Some(m) = self.maps.as_mut() {
                        m.reset_state(disc);
                    }
                    self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    Running {
                        session: Session::new(p.timers, disc, self.seed, now),
                        plan: p,
                        kernel: false,
                        last_bytes: None,
                        written: None,
                        epoch: 0,
                        last_detection_late_ns: None,
                    }
                }
            };
            let was_kernel = r.kernel;
            r.kernel = self.maps.is_some() && kernel.contains(&r.plan.name);
            if was_kernel && !r.kernel {
                // Its interface no longer runs the BFD feature: the kernel forgets it.
                if let Some(m) = self.maps.as_mut() {
                    m.clear(r.session.local_disc());
                }
                r.written = None;
            }
            // The kernel's timer detects; the session's own waits one more Detection
            // Time as a backstop.
            let backstop = if r.kernel {
                r.session
                    .detection_time()
                    .unwrap_or(Micros(0))
                    .max(Micros(10_000))
            } else {
                Micros(0)
            };
            r.session.set_backstop(backstop);
            next.push(r);
        }
        for mut r in old {
            r.session.shutdown(now);
            self.flush_one(&mut r, now);
            if let Some(m) = self.maps.as_mut() {
                m.clear(r.session.local_disc());
            }
            info!("({}) BFD session removed", r.plan.name);
        }
        self.sessions = next;
        self.by_disc = self
            .sessions
            .iter()
            .enumerate()
            .map(|(i, r)| (r.session.local_disc(), i))
            .collect();
        for r in &self.sessions {
            // keepalived tells VRRP the state at start and reload: Down until Up.
            if r.plan.to_vrrp && r.session.state() != State::Up {
                self.listeners.track.report(ObjKind::Bfd, &r.plan.name, 0);
            }
        }
    }

    /// A random nonzero discriminator whose slot no session uses.
    fn new_disc(&mut self, a: &[Running], b: &[Running]) -> Option<u32> {
        let used: BTreeSet<u32> = a
            .iter()
            .chain(b)
            .map(|r| bfd_slot(r.session.local_disc()))
            .collect();
        for _ in 0..4 * BFD_SLOTS {
            self.seed = self
                .seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let d = (self.seed >> 32) as u32;
            if d != 0 && !used.contains(&bfd_slot(d)) {
                return Some(d);
            }
        }
        None
    }

    /// Sends what one session has to say now (its AdminDown on removal).
    fn flush_one(&mut self, r: &mut Running, now: MonoTime) {
        let mut batch = Vec::new();
        while let Some(c) = r.session.poll_transmit(now) {
            batch.push(outgoing(&r.plan, &c));
        }
        self.send(r.plan.neighbor.is_ipv6(), &batch);
    }

    fn stop(&mut self) {
        let now = mono_now();
        let mut sessions = std::mem::take(&mut self.sessions);
        for r in &mut sessions {
            r.session.shutdown(now);
            self.flush_one(r, now);
            if let Some(m) = self.maps.as_mut() {
                m.clear(r.session.local_disc());
            }
        }
    }

    fn status(&self) -> BfdStatus {
        BfdStatus {
            sessions: self
                .sessions
                .iter()
                .map(|r| {
                    let s = &r.session;
                    let k = self
                        .maps
                        .as_ref()
                        .filter(|_| r.kernel)
                        .and_then(|m| m.state(s.local_disc()))
                        .unwrap_or_default();
                    SessionStatus {
                        name: r.plan.name.clone(),
                        neighbor: r.plan.neighbor,
                        state: s.state().name().into(),
                        diag: diag_text(s.diag()).into(),
                        remote_state: s.remote().state.name().into(),
                        local_disc: s.local_disc(),
                        remote_disc: s.remote().disc,
                        tx_interval_us: s.tx_interval().0,
                        detection_time_us: s.detection_time().map(|d| d.0),
                        kernel: r.kernel,
                        stats: s.stats,
                        kernel_absorbed: k.absorbed,
                        kernel_passed: k.passed,
                        kernel_detections: k.detections,
                        last_detection_late_ns: r.last_detection_late_ns,
                    }
                })
                .collect(),
            tx_lateness: self.lateness.clone(),
            discarded: self.discarded,
        }
    }
}

fn outgoing(p: &SessionPlan, c: &Control) -> Outgoing {
    Outgoing {
        bytes: c.encode(),
        dst: p.neighbor,
        src: p.source,
        ttl: p.ttl,
        port: if p.multihop {
            PORT_MULTIHOP
        } else {
            PORT_SINGLE_HOP
        },
    }
}

/// keepalived's wording of the diagnostics (bfd.c).
fn diag_text(d: Diag) -> &'static str {
    match d {
        Diag::None => "No Diagnostic",
        Diag::Expired => "Control Detection Time Expired",
        Diag::EchoFailed => "Echo Function Failed",
        Diag::NeighborDown => "Neighbor Signaled Session Down",
        Diag::ForwardingReset => "Forwarding Plane Reset",
        Diag::PathDown => "Path Down",
        Diag::ConcatenatedPathDown => "Concatenated Path Down",
        Diag::AdminDown => "Administratively Down",
        Diag::ReverseConcatenatedPathDown => "Reverse Concatenated Path Down",
        Diag::Other => "Reserved",
    }
}
