//! One BFD session's state machine (RFC 5880 §6.2, §6.8), sans I/O in the style of
//! quinn-proto: the daemon feeds it received packets ([`Session::on_packet`]) and the time,
//! and asks it what to send ([`Session::poll_transmit`]), when to wake it next
//! ([`Session::poll_timeout`]) and what changed ([`Session::poll_event`]).
//!
//! ```text
//!                              +--+
//!                              |  | UP, ADMIN DOWN, TIMER
//!                              |  V
//!                      DOWN  +------+  INIT
//!               +------------|      |------------+
//!               |            | DOWN |            |
//!               |  +-------->|      |<--------+  |
//!               |  |         +------+         |  |
//!               |  |                          |  |
//!               |  |               ADMIN DOWN,|  |
//!               |  |ADMIN DOWN,          DOWN,|  |
//!               |  |TIMER                TIMER|  |
//!               V  |                          |  V
//!             +------+                      +------+
//!        +----|      |                      |      |----+
//!    DOWN|    | INIT |--------------------->|  UP  |    |INIT, UP
//!        +--->|      | INIT, UP             |      |<---+
//!             +------+                      +------+
//! ```
//!
//! Asynchronous mode only (no Demand mode, no Echo), no authentication: what keepalived runs.
//! Detection may also come from outside ([`Session::expire`]): the XDP program's timer sees
//! the silence first, and [`Session::refresh`] hands over the time of packets the kernel
//! absorbed, so the session's own detection timer stays a backstop.

use std::collections::VecDeque;

use super::packet::{Control, Diag, State};
use super::timers::{self, Jitter, SLOW_TX};
use crate::time::MonoTime;
use crate::units::Micros;

/// A session's configured timers and role (keepalived's `bfd_instance`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// bfd.DesiredMinTxInterval once Up.
    pub min_tx: Micros,
    /// bfd.RequiredMinRxInterval.
    pub min_rx: Micros,
    /// bfd.DesiredMinTxInterval while not Up (RFC 5880 §6.8.3: at least 1 s).
    pub idle_tx: Micros,
    /// bfd.DetectMult.
    pub multiplier: u8,
    /// RFC 5880 §6.1 Passive role: silent until the remote speaks.
    pub passive: bool,
}

/// What the daemon hears from a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// bfd.SessionState changed; `diag` is bfd.LocalDiag, why it left Up.
    State { from: State, to: State, diag: Diag },
}

/// The remote end as last heard (RFC 5880 §6.8.1 bfd.Remote*).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    pub state: State,
    pub disc: u32,
    pub min_rx: Micros,
    pub desired_min_tx: Micros,
    pub mult: u8,
}

#[derive(Debug, Clone)]
pub struct Session {
    cfg: Config,
    local_disc: u32,
    state: State,
    diag: Diag,
    remote: Remote,
    /// What we advertise now (bfd.DesiredMinTxInterval, bfd.RequiredMinRxInterval).
    desired_min_tx: Micros,
    required_min_rx: Micros,
    /// RFC 5880 §6.8.3: an increased DesiredMinTx applies only once its Poll Sequence ends;
    /// until then the old one paces the transmissions.
    held_tx: Option<Micros>,
    /// A Poll Sequence is running: our packets carry P until a Final arrives (§6.5).
    polling: bool,
    /// A Poll arrived: the next packet goes out now with F (§6.8.7).
    owe_final: bool,
    /// The Detection Time before the remote's Poll Sequence lowered it: kept until the
    /// remote sends without P. keepalived advertises its faster rate in its Poll packets
    /// but keeps sending at the slow one until our Final has reached it and its pending
    /// timer fires, so the new Detection Time would expire in between.
    held_detect: Option<Micros>,
    /// A state change: the next packet goes out now (faster three-way handshake).
    send_now: bool,
    last_rx: Option<MonoTime>,
    last_tx: Option<MonoTime>,
    next_tx: Option<MonoTime>,
    jitter: Jitter,
    /// Added to the Detection Time of the session's own detection: zero when it is the
    /// detector, more when the kernel's timer is and this one is only the backstop.
    backstop: Micros,
    events: VecDeque<Event>,
    /// Counters for status.
    pub stats: Stats,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    pub rx: u64,
    pub tx: u64,
    pub up_transitions: u64,
    pub down_transitions: u64,
}

impl Session {
    /// A session starting in Down. It sends at once unless it is passive.
    pub fn new(cfg: Config, local_disc: u32, seed: u64, now: MonoTime) -> Session {
        Session {
            cfg,
            local_disc,
            state: State::Down,
            diag: Diag::None,
            remote: Remote {
                state: State::Down,
                disc: 0,
                // RFC 5880 §6.8.1: initialised to 1.
                min_rx: Micros(1),
                desired_min_tx: Micros(0),
                mult: 0,
            },
            desired_min_tx: idle(&cfg),
            required_min_rx: cfg.min_rx,
            held_tx: None,
            polling: false,
            owe_final: false,
            held_detect: None,
            send_now: false,
            last_rx: None,
            last_tx: None,
            next_tx: Some(now),
            jitter: Jitter::new(seed ^ u64::from(local_disc)),
            backstop: Micros(0),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn diag(&self) -> Diag {
        self.diag
    }

    pub fn local_disc(&self) -> u32 {
        self.local_disc
    }

    pub fn remote(&self) -> Remote {
        self.remote
    }

    pub fn config(&self) -> Config {
        self.cfg
    }

    pub fn last_rx(&self) -> Option<MonoTime> {
        self.last_rx
    }

    /// The Detection Time now (RFC 5880 §6.8.4); none before the remote was heard. While
    /// the remote polls to a faster rate, the slower one's still applies.
    pub fn detection_time(&self) -> Option<Micros> {
        (self.remote.mult != 0).then(|| {
            let d = timers::detection_time(
                self.remote.mult,
                self.required_min_rx,
                self.remote.desired_min_tx,
            );
            self.held_detect.map_or(d, |h| h.max(d))
        })
    }

    /// When the session's own detection fires, if it watches for silence at all.
    fn detect_deadline(&self) -> Option<MonoTime> {
        if self.state == State::Down && self.remote.disc == 0 {
            return None;
        }
        Some(self.last_rx? + self.detection_time()? + self.backstop)
    }

    /// The kernel detects (its timer fires at the Detection Time): this session's own
    /// detection waits `extra` longer, as a backstop.
    pub fn set_backstop(&mut self, extra: Micros) {
        self.backstop = extra;
    }

    /// When the next periodic packet is due.
    pub fn next_tx(&self) -> Option<MonoTime> {
        self.next_tx
    }

    /// Transmission interval in use (RFC 5880 §6.8.7).
    pub fn tx_interval(&self) -> Micros {
        let desired = self.held_tx.unwrap_or(self.desired_min_tx);
        timers::tx_interval(desired, self.remote.min_rx)
    }

    /// Is a Poll Sequence running?
    pub fn polling(&self) -> bool {
        self.polling
    }

    /// A control packet for this session (the daemon matched it by Your Discriminator, or
    /// by addresses while that is 0, and checked TTL), received at `now`: RFC 5880 §6.8.6
    /// from "If the Your Discriminator field is nonzero…" on.
    pub fn on_packet(&mut self, now: MonoTime, p: &Control) {
        if p.your_disc != 0 && p.your_disc != self.local_disc {
            return;
        }
        if self.state == State::AdminDown {
            return;
        }
        self.stats.rx += 1;
        self.last_rx = Some(now);
        let before = self.detection_time();
        self.held_detect = if p.poll { before } else { None };
        self.remote.disc = p.my_disc;
        self.remote.state = p.state;
        self.remote.desired_min_tx = p.desired_min_tx;
        self.remote.mult = p.detect_mult;
        let old_min_rx = self.remote.min_rx;
        self.remote.min_rx = p.required_min_rx;
        if p.fin && self.polling {
            // §6.5: the Poll Sequence ends; a held slower rate applies now.
            self.polling = false;
            self.held_tx = None;
        }
        if p.poll {
            self.owe_final = true;
        }
        if self.remote.min_rx > old_min_rx && self.next_tx.is_some() {
            // §6.8.7: a slower remote receiver takes effect at once.
            self.reschedule(now);
        }
        if p.state == State::AdminDown {
            if self.state != State::Down {
                self.go(State::Down, Diag::NeighborDown, now);
            }
            return;
        }
        match (self.state, p.state) {
            (State::Down, State::Down) => self.go(State::Init, Diag::None, now),
            (State::Down, State::Init) => self.go(State::Up, Diag::None, now),
            (State::Init, State::Init | State::Up) => self.go(State::Up, Diag::None, now),
            (State::Up, State::Down) => self.go(State::Down, Diag::NeighborDown, now),
            _ => {}
        }
        if self.next_tx.is_none() && self.may_send() {
            // A passive session's first packet, or a remote that stopped asking for none.
            self.next_tx = Some(now);
        }
    }

    /// Packets identical to the last one arrived meanwhile, the latest at `at` (the XDP
    /// program absorbed them): the remote is alive until `at` + Detection Time.
    pub fn refresh(&mut self, at: MonoTime) {
        if self.state != State::AdminDown && self.last_rx.is_some_and(|l| at > l) {
            self.last_rx = Some(at);
        }
    }

    /// The Detection Time passed with nothing received (RFC 5880 §6.8.4, §6.8.1), seen by
    /// the kernel's timer or our own deadline.
    pub fn expire(&mut self, now: MonoTime) {
        if self.state == State::AdminDown {
            return;
        }
        self.remote.disc = 0;
        self.remote.state = State::Down;
        if matches!(self.state, State::Init | State::Up) {
            self.go(State::Down, Diag::Expired, now);
        }
    }

    /// Timers due by `now`: detection (the session's own backstop).
    pub fn on_timeout(&mut self, now: MonoTime) {
        if self.detect_deadline().is_some_and(|d| d <= now) {
            self.expire(now);
        }
    }

    /// The next packet to send at `now`, if one is due; schedules the one after.
    pub fn poll_transmit(&mut self, now: MonoTime) -> Option<Control> {
        self.transmit(now, false)
    }

    /// [`Session::poll_transmit`], and also a periodic packet not yet due but already 75 %
    /// of the interval after the last one: still within RFC 5880 §6.8.7's window (75–100 %),
    /// so a daemon sending another session's packet sends this one in the same batch.
    pub fn poll_transmit_early(&mut self, now: MonoTime) -> Option<Control> {
        self.transmit(now, true)
    }

    /// Whether the session's own detection is due by `now`.
    pub fn detect_due(&self, now: MonoTime) -> bool {
        self.detect_deadline().is_some_and(|d| d <= now)
    }

    fn transmit(&mut self, now: MonoTime, early: bool) -> Option<Control> {
        let window = self.tx_interval().0 * 3 / 4;
        let due = self.owe_final
            || self.send_now
            || self.next_tx.is_some_and(|t| t <= now)
            || (early
                && self.next_tx.is_some()
                && self
                    .last_tx
                    .is_some_and(|l| now.saturating_since(l).0 >= window));
        if !due || !self.may_send() {
            return None;
        }
        let fin = std::mem::take(&mut self.owe_final);
        self.send_now = false;
        self.stats.tx += 1;
        let c = Control {
            diag: self.diag,
            state: self.state,
            // §6.5: P and F are never both set.
            poll: self.polling && !fin,
            fin,
            cpi: false,
            demand: false,
            detect_mult: self.cfg.multiplier,
            my_disc: self.local_disc,
            your_disc: self.remote.disc,
            desired_min_tx: self.desired_min_tx,
            required_min_rx: self.required_min_rx,
            required_min_echo_rx: Micros(0),
        };
        self.last_tx = Some(now);
        self.reschedule(now);
        Some(c)
    }

    /// The next instant the session needs the daemon: a packet to send or its detection.
    pub fn poll_timeout(&self) -> Option<MonoTime> {
        let tx = if !self.may_send() {
            None
        } else if self.owe_final || self.send_now {
            Some(MonoTime::ZERO)
        } else {
            self.next_tx
        };
        [tx, self.detect_deadline()].into_iter().flatten().min()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// New timers from a reload (RFC 5880 §6.8.3): while Up, a change of what we advertise
    /// starts a Poll Sequence, and a slower transmission rate waits for its end.
    pub fn reconfigure(&mut self, cfg: Config, now: MonoTime) {
        if cfg == self.cfg {
            return;
        }
        let was_passive = self.cfg.passive;
        self.cfg = cfg;
        self.required_min_rx = cfg.min_rx;
        self.set_desired(if self.state == State::Up {
            cfg.min_tx
        } else {
            idle(&cfg)
        });
        if self.state == State::Up {
            self.polling = true;
            self.send_now = true;
        }
        if was_passive && !cfg.passive && self.next_tx.is_none() {
            self.next_tx = Some(now);
        }
    }

    /// The daemon stops the session (RFC 5880 §6.8.16): AdminDown, one packet saying so.
    pub fn shutdown(&mut self, now: MonoTime) {
        if self.state != State::AdminDown {
            self.go(State::AdminDown, Diag::AdminDown, now);
        }
    }

    fn may_send(&self) -> bool {
        // §6.8.7: nothing while passive and unheard; nothing periodic while the remote
        // asks for no packets (a Final is still owed).
        !(self.cfg.passive && self.remote.disc == 0)
            && (self.remote.min_rx.0 != 0 || self.owe_final)
    }

    fn reschedule(&mut self, now: MonoTime) {
        let r = self.jitter.draw();
        self.next_tx = Some(now + timers::jittered(self.tx_interval(), self.cfg.multiplier, r));
    }

    fn set_desired(&mut self, new: Micros) {
        if new == self.desired_min_tx {
            return;
        }
        if self.state == State::Up && new > self.desired_min_tx && self.held_tx.is_none() {
            self.held_tx = Some(self.desired_min_tx);
        }
        self.desired_min_tx = new;
    }

    fn go(&mut self, to: State, diag: Diag, now: MonoTime) {
        let from = self.state;
        if from == to {
            return;
        }
        self.state = to;
        if diag != Diag::None || to == State::AdminDown {
            self.diag = diag;
        }
        match to {
            State::Up => {
                self.stats.up_transitions += 1;
                // §6.8.3: from the slow rate to the configured one, by a Poll Sequence.
                self.desired_min_tx = self.cfg.min_tx;
                self.held_tx = None;
                self.polling = true;
            }
            _ => {
                if from == State::Up {
                    self.stats.down_transitions += 1;
                }
                self.desired_min_tx = idle(&self.cfg);
                self.held_tx = None;
                self.polling = false;
            }
        }
        self.send_now = true;
        if self.next_tx.is_none() {
            self.next_tx = Some(now);
        }
        self.events.push_back(Event::State {
            from,
            to,
            diag: self.diag,
        });
    }
}

/// The rate while not Up: `idle_tx`, never under RFC 5880 §6.8.3's second.
fn idle(cfg: &Config) -> Micros {
    Micros(cfg.idle_tx.0.max(SLOW_TX.0))
}

#[cfg(test)]
mod tests;
