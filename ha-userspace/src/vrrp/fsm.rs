//! One VRRP instance as a deterministic state machine (DESIGN.md §5), in the style of
//! quinn-proto: no sockets, no clock. The daemon feeds [`Input`]s with the time they
//! happened ([`Instance::handle`]), performs the [`Action`]s it drains
//! ([`Instance::poll_action`]), and calls `handle(now, Input::Timeout)` once
//! [`Instance::poll_timeout`] has passed. There is one timer: the Adver_Timer while Master,
//! the Master_Down_Timer while Backup, none in Initialize and Fault.
//!
//! States are RFC 5798 §6.4's Initialize, Backup and Master plus keepalived's Fault (an
//! interface or tracked object is down). Where RFC 5798 leaves room, or keepalived 2.2.7
//! (`vrrp.c`, `vrrp_scheduler.c`) does something observable on the wire, we do what
//! keepalived does, so the two can share a virtual router; each such place says so.
//!
//! Time is a [`MonoTime`] in microseconds; intervals are configured in [`Centis`] and turned
//! into microsecond timers by `vrrp::timers` (keepalived's arithmetic, see there for why).
//!
//! Adverts reach the FSM already validated (RFC 5798 §7.1, `vrrp::validate`): right VRID,
//! TTL 255, checksum, version, authentication. The FSM sees only source, priority and interval.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::net::IpAddr;

use super::timers::{self, Version};
use crate::time::MonoTime;
use crate::units::{Centis, Micros, Priority};

pub use super::instance_config::{ConfigError, InstanceConfig, StartState};

/// The highest priority tracking can give a router that does not own the addresses
/// (keepalived clamps to 1..=254, so tracking can neither stop nor own).
const PRIORITY_MAX_TRACKED: Priority = Priority(254);

/// RFC 5798 §6.4 states, plus keepalived's FAULT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Initialize,
    Backup,
    Master,
    /// keepalived's FAULT: the interface (or a tracked object) is down; no adverts are sent
    /// or heard and the VIPs are not held.
    Fault,
}

impl State {
    /// The names keepalived uses in logs, notify scripts and the notify FIFO.
    pub const fn as_str(self) -> &'static str {
        match self {
            State::Initialize => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a transition happened: for logs, notify scripts and `ha status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The Startup event (RFC 5798 §6.4.1).
    Startup,
    /// The Master_Down_Timer fired: no advert for Master_Down_Interval (RFC 5798 §6.4.2).
    MasterDown,
    /// The Master_Down_Timer fired Skew_Time after the master sent priority 0.
    MasterStopped,
    /// We discarded a lower-priority master's adverts until the timer fired (preemption).
    Preempted,
    /// A higher-priority advert, or an equal one from a higher address (RFC 5798 §6.4.3).
    HigherPriorityAdvert,
    /// The interface or a tracked object went down (the daemon names which).
    Fault,
    /// Whatever put the instance in FAULT came back.
    Recovered,
    /// The Shutdown event (RFC 5798 §6.4.2, §6.4.3).
    Shutdown,
    /// An operator's `ha failover`.
    ForceFailover,
    /// The BFD session to the master expired (`bfd_takeover`): taken for the
    /// Master_Down_Timer firing, without waiting for it.
    BfdDown,
}

/// What happened to the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// RFC 5798 §6.4.1: leave Initialize.
    Startup,
    /// A valid advert for this virtual router (RFC 5798 §7.1 checks already passed).
    /// `adver_int` is the packet's Max Adver Int (VRRPv2: its seconds, converted).
    Advert {
        src: IpAddr,
        priority: Priority,
        adver_int: Centis,
    },
    /// The deadline from [`Instance::poll_timeout`] has passed. Early calls are ignored.
    Timeout,
    /// The effective priority from tracking (base priority plus weights, as keepalived's
    /// `vrrp_set_effective_priority` sums them). Clamped to 1..=254; ignored for the owner.
    PriorityChange(Priority),
    /// The interface, or an unweighted tracked object, went down: enter Fault.
    Fault,
    /// Nothing holds the instance in Fault any more: leave it.
    Recovered,
    /// RFC 5798 §6.4.2 / §6.4.3 Shutdown: a master sends priority 0; back to Initialize.
    Shutdown,
    /// Manual switchover (`ha failover`): a master hands over as on shutdown (priority 0)
    /// but stays Backup; a backup takes over as if the Master_Down_Timer had fired. Whether
    /// it sticks is the election's business: a higher-priority preempting router takes the
    /// role back, so pair it with `nopreempt` or a priority change for a lasting move.
    ForceFailover,
    /// `bfd_takeover`: the router at `addr` is dead (its BFD session expired and its adverts
    /// stopped too). A Backup following that master acts as if the Master_Down_Timer had
    /// fired (RFC 5798 §6.4.2), now; anything else ignores it.
    PeerDown { addr: IpAddr },
}

/// What the daemon must do, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send one advert with this priority (0 = we are leaving).
    SendAdvert { priority: Priority },
    /// Add the virtual addresses (and routes, rules). `accept` is RFC 5798 Accept_Mode as
    /// applied: always true for the address owner; when false the daemon drops traffic to
    /// the VIPs (keepalived's `no_accept` firewall rules).
    AddVips { accept: bool },
    /// Remove the virtual addresses (and routes, rules).
    RemoveVips,
    /// Announce the VIPs: gratuitous ARP (IPv4), unsolicited NA (IPv6, RFC 5798 §8.2), with
    /// keepalived's `garp_master_*` timing applied by the daemon.
    SendGratuitous,
    /// The state changed (notify scripts, logs). Emitted after the actions it caused.
    Transition {
        from: State,
        to: State,
        reason: Reason,
    },
    /// As master we heard a lower-priority advert: keepalived runs
    /// `notify_master_rx_lower_pri` and repeats GARPs (`garp_lower_prio_repeat`).
    LowerPriorityAdvert { src: IpAddr, priority: Priority },
    /// Another router claims to own the addresses too (both priority 255). keepalived logs a
    /// configuration error and lowers its own priority to 254; so do we.
    OwnerConflict { src: IpAddr },
}

/// Why [`Instance::reconfigure`] refused a new config.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconfigureError {
    #[error(transparent)]
    Config(ConfigError),
    #[error("the VRID, version, primary address or address ownership changed")]
    Identity,
}

/// keepalived's `vrrp_complete_instance` rules: no `state` means MASTER for the owner and
/// BACKUP otherwise; the owner always preempts; `state MASTER` clears `nopreempt` and
/// `preempt_delay`; `nopreempt` clears `preempt_delay`.
fn normalize(mut cfg: InstanceConfig) -> Result<InstanceConfig, ConfigError> {
    cfg.check()?;
    let start = *cfg.start.get_or_insert(if cfg.priority == Priority::OWNER {
        StartState::Master
    } else {
        StartState::Backup
    });
    if cfg.priority == Priority::OWNER || start == StartState::Master {
        cfg.preempt = true;
    }
    if start == StartState::Master || !cfg.preempt {
        cfg.preempt_delay = Micros(0);
    }
    Ok(cfg)
}

/// The router we believe is master, as last heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MasterInfo {
    pub addr: IpAddr,
    pub priority: Priority,
}

/// One VRRP instance.
#[derive(Debug, Clone)]
pub struct Instance {
    cfg: InstanceConfig,
    state: State,
    /// Configured priority; keepalived lowers it from 255 on an owner conflict.
    base_priority: Priority,
    /// The priority we advertise and compare with (base plus tracking).
    priority: Priority,
    /// RFC 5798 §6.1 Master_Adver_Interval: learned from the master's adverts (VRRPv3).
    master_adver_int: Centis,
    /// The single timer: Adver_Timer (Master) or Master_Down_Timer (Backup).
    timer: Option<MonoTime>,
    /// keepalived's `preempt_time`: until then lower-priority adverts are obeyed.
    /// `None` = not running; the next lower-priority advert starts it.
    preempt_until: Option<MonoTime>,
    vips_set: bool,
    link_up: bool,
    master: Option<MasterInfo>,
    /// Why we would become master if the Master_Down_Timer fired now.
    next_master_reason: Reason,
    actions: VecDeque<Action>,
}

impl Instance {
    /// Checks and normalizes the config the way keepalived's `vrrp_complete_instance` does:
    /// no `state` means MASTER for the owner and BACKUP otherwise; the owner always preempts;
    /// `state MASTER` clears `nopreempt` and `preempt_delay`; `nopreempt` clears
    /// `preempt_delay`. [`Instance::config`] shows the result.
    pub fn new(cfg: InstanceConfig) -> Result<Self, ConfigError> {
        let cfg = normalize(cfg)?;
        Ok(Instance {
            state: State::Initialize,
            base_priority: cfg.priority,
            priority: cfg.priority,
            master_adver_int: cfg.adver_int,
            timer: None,
            preempt_until: None,
            vips_set: false,
            link_up: true,
            master: None,
            next_master_reason: Reason::MasterDown,
            actions: VecDeque::new(),
            cfg,
        })
    }

    pub fn config(&self) -> &InstanceConfig {
        &self.cfg
    }

    /// A reload changed the settings but not what identifies the router on the wire (VRID,
    /// version, primary address, address owner or not): the state, its timer and the
    /// master we follow are kept, so a MASTER goes on advertising without a gap
    /// (DESIGN.md §10). The new base priority applies at once, as a priority change would
    /// (the daemon then re-applies its tracking weights); a new interval from the next timer.
    /// `Err` when the identity changed: the daemon must restart the instance instead.
    pub fn reconfigure(&mut self, cfg: InstanceConfig) -> Result<(), ReconfigureError> {
        let cfg = normalize(cfg).map_err(ReconfigureError::Config)?;
        let old = &self.cfg;
        if cfg.vrid != old.vrid
            || cfg.version != old.version
            || cfg.primary_ip != old.primary_ip
            // The configured ownership: an owner conflict lowers the running priority to
            // 254 but the router was configured as the owner, and a reload may keep it so.
            || cfg.priority.is_owner() != old.priority.is_owner()
        {
            return Err(ReconfigureError::Identity);
        }
        let priority = cfg.priority;
        self.cfg = cfg;
        self.base_priority = priority;
        if !self.cfg.preempt {
            self.preempt_until = None;
        }
        if self.state == State::Master {
            // A master advertises its own interval (RFC 5798 §6.4.3).
            self.master_adver_int = self.cfg.adver_int;
        }
        if self.is_owner() {
            // The owner's priority never moves with tracking; a reload restores it after
            // an owner conflict lowered it.
            self.priority = priority;
        } else {
            self.on_priority_change(priority);
        }
        Ok(())
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// The priority we advertise (effective priority).
    pub fn priority(&self) -> Priority {
        self.priority
    }

    pub fn is_owner(&self) -> bool {
        self.base_priority == Priority::OWNER
    }

    pub fn master_adver_int(&self) -> Centis {
        self.master_adver_int
    }

    /// Who is master: ourselves when Master, else the last advertiser we heard in Backup.
    pub fn master(&self) -> Option<MasterInfo> {
        match self.state {
            State::Master => Some(MasterInfo {
                addr: self.cfg.primary_ip,
                priority: self.priority,
            }),
            State::Backup => self.master,
            State::Initialize | State::Fault => None,
        }
    }

    /// Skew_Time for our current priority and Master_Adver_Interval.
    pub fn skew_time(&self) -> Micros {
        timers::skew_time(self.cfg.version, self.priority, self.master_adver_int)
    }

    /// Master_Down_Interval for our current priority and Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Micros {
        timers::master_down_interval(
            self.cfg.version,
            self.priority,
            self.master_adver_int,
            self.cfg.down_timer_adverts,
        )
    }

    /// When the daemon must call `handle(now, Input::Timeout)`; `None` = no timer.
    pub fn poll_timeout(&self) -> Option<MonoTime> {
        self.timer
    }

    /// The next action to perform, oldest first.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// All pending actions, oldest first.
    pub fn drain_actions(&mut self) -> impl Iterator<Item = Action> + '_ {
        self.actions.drain(..)
    }

    pub fn handle(&mut self, now: MonoTime, input: Input) {
        match input {
            Input::Startup => self.on_startup(now),
            Input::Advert {
                src,
                priority,
                adver_int,
            } => match self.state {
                State::Backup => self.backup_rx(now, src, priority, adver_int),
                State::Master => self.master_rx(now, src, priority, adver_int),
                // keepalived drops adverts in FAULT and INIT (vrrp_dispatcher_read).
                State::Initialize | State::Fault => {}
            },
            Input::Timeout => self.on_timeout(now),
            Input::PriorityChange(p) => self.on_priority_change(p),
            Input::Fault => self.on_fault(now),
            Input::Recovered => self.on_recovered(now),
            Input::Shutdown => self.on_shutdown(now),
            Input::ForceFailover => match self.state {
                State::Master => self.leave_master(now, State::Backup, Reason::ForceFailover, true),
                State::Backup => self.become_master(now, Reason::ForceFailover),
                State::Initialize | State::Fault => {}
            },
            Input::PeerDown { addr } => {
                // Only the master we follow (not one we discard under preemption).
                let following = self.next_master_reason == Reason::MasterDown;
                if self.state == State::Backup
                    && following
                    && self.master.is_some_and(|m| m.addr == addr)
                {
                    self.become_master(now, Reason::BfdDown);
                }
            }
        }
    }

    /// RFC 5798 §6.4.1.
    fn on_startup(&mut self, now: MonoTime) {
        if self.state != State::Initialize {
            return;
        }
        self.master_adver_int = self.cfg.adver_int;
        self.master = None;
        if !self.link_up {
            // keepalived `vrrp_init_state`: "Entering FAULT STATE (init)".
            self.enter(State::Fault, None, Reason::Fault);
            return;
        }
        let master_hint = self.cfg.start == Some(StartState::Master);
        if master_hint && self.is_owner() {
            // §6.4.1: the owner sends an advert, announces the VIPs and becomes Master.
            self.become_master(now, Reason::Startup);
            return;
        }
        // §6.4.1: Master_Down_Timer = Master_Down_Interval, → Backup. keepalived: with
        // `state MASTER` but not owner, wait only Master_Adver_Interval + the minimal skew,
        // so it takes over quickly if no one is there, and yields to anyone who speaks.
        let wait = if master_hint {
            let skew = timers::skew_time_min(self.cfg.version, self.master_adver_int);
            Micros(timers::centis_to_micros(self.master_adver_int).0 + skew.0)
        } else {
            self.master_down_interval()
        };
        // keepalived arms preempt_delay at startup (`vrrp_preempt_delay_handler`).
        self.preempt_until = (self.cfg.preempt_delay.0 > 0).then(|| now + self.cfg.preempt_delay);
        self.next_master_reason = Reason::MasterDown;
        self.enter(State::Backup, Some(now + wait), Reason::Startup);
    }

    fn on_timeout(&mut self, now: MonoTime) {
        let Some(deadline) = self.timer else { return };
        if now < deadline {
            return;
        }
        match self.state {
            // §6.4.2: Master_Down_Timer fired → send an advert, announce, → Master.
            State::Backup => self.become_master(now, self.next_master_reason),
            // §6.4.3: Adver_Timer fired → send an advert, reset the Adver_Timer.
            State::Master => self.send_advert_and_rearm(now),
            State::Initialize | State::Fault => self.timer = None,
        }
    }

    /// RFC 5798 §6.4.2, Backup receiving an advert.
    fn backup_rx(&mut self, now: MonoTime, src: IpAddr, priority: Priority, adver_int: Centis) {
        if priority == Priority::STOP {
            // The master is leaving: Master_Down_Timer = Skew_Time, so the best backup wins.
            self.timer = Some(now + self.skew_time());
            self.next_master_reason = Reason::MasterStopped;
            return;
        }
        let obey = !self.cfg.preempt || priority >= self.priority || self.preempt_delay_holds(now);
        self.master = Some(MasterInfo {
            addr: src,
            priority,
        });
        if !obey {
            // Preempt_Mode and a lower priority: discard, let the timer run out.
            self.next_master_reason = Reason::Preempted;
            return;
        }
        self.learn_master_adver_int(adver_int);
        self.timer = Some(now + self.master_down_interval());
        self.next_master_reason = Reason::MasterDown;
        if self.cfg.preempt_delay.0 > 0 {
            // keepalived: a higher or equal master stops the delay; the first lower one
            // after that starts it.
            if priority >= self.priority {
                self.preempt_until = None;
            } else if self.preempt_until.is_none() {
                self.preempt_until = Some(now + self.cfg.preempt_delay);
            }
        }
    }

    fn preempt_delay_holds(&self, now: MonoTime) -> bool {
        self.cfg.preempt_delay.0 > 0 && self.preempt_until.is_none_or(|until| until > now)
    }

    /// RFC 5798 §6.4.3, Master receiving an advert.
    fn master_rx(&mut self, now: MonoTime, src: IpAddr, priority: Priority, adver_int: Centis) {
        if priority == Priority::STOP {
            // Another master is leaving: answer at once so backups keep us.
            self.send_advert_and_rearm(now);
            return;
        }
        let addr = compare_addr(src, self.cfg.primary_ip);
        let beats_us = priority > self.priority || (priority == self.priority && addr.is_gt());
        if beats_us && self.cfg.higher_prio_send_advert {
            self.send_advert_and_rearm(now);
        }
        if priority == self.priority && addr.is_ne() && self.priority == Priority::OWNER {
            self.actions.push_back(Action::OwnerConflict { src });
            self.base_priority = PRIORITY_MAX_TRACKED;
            self.priority = PRIORITY_MAX_TRACKED;
        }
        if priority < self.priority || (priority == self.priority && addr.is_lt()) {
            // §6.4.3 says discard. keepalived by default answers ("forcing new election")
            // so a lower-priority router that thinks it is master steps down at once;
            // `lower_prio_no_advert` restores the RFC behaviour.
            if !self.cfg.lower_prio_no_advert {
                self.send_advert_and_rearm(now);
            }
            self.actions
                .push_back(Action::LowerPriorityAdvert { src, priority });
            return;
        }
        if priority > self.priority || (priority == self.priority && addr.is_gt()) {
            // Higher priority, or equal priority and a higher primary address: step down.
            self.learn_master_adver_int(adver_int);
            self.master = Some(MasterInfo {
                addr: src,
                priority,
            });
            self.next_master_reason = Reason::MasterDown;
            self.leave_master(now, State::Backup, Reason::HigherPriorityAdvert, false);
        }
        // Equal priority from our own address: a loop or a clash; keepalived only warns.
    }

    /// RFC 5798 §6.4.2 (v3 only): Master_Adver_Interval = the advert's interval.
    fn learn_master_adver_int(&mut self, adver_int: Centis) {
        if self.cfg.version == Version::V3 && adver_int.0 > 0 {
            self.master_adver_int = adver_int;
        }
    }

    fn on_priority_change(&mut self, total: Priority) {
        // keepalived `vrrp_set_effective_priority`: the owner's priority never moves;
        // others are clamped to 1..=254 so tracking can neither stop nor own.
        if self.is_owner() {
            return;
        }
        let new = total.clamp(Priority(1), PRIORITY_MAX_TRACKED);
        if new == self.priority {
            return;
        }
        let old_skew = self.skew_time();
        self.priority = new;
        // A backup whose priority rises would have armed a shorter Master_Down_Interval:
        // move the running timer earlier by the difference (keepalived requeues it too).
        // A master just advertises the new priority from its next advert on.
        if self.state == State::Backup {
            if let Some(t) = self.timer {
                let shorter = old_skew.0.saturating_sub(self.skew_time().0);
                self.timer = Some(t.saturating_sub(Micros(shorter)));
            }
        }
    }

    fn on_fault(&mut self, now: MonoTime) {
        self.link_up = false;
        match self.state {
            // keepalived `down_instance` → `vrrp_state_leave_master`: priority 0, VIPs out.
            State::Master => self.leave_master(now, State::Fault, Reason::Fault, true),
            State::Backup => self.enter(State::Fault, None, Reason::Fault),
            State::Initialize | State::Fault => {}
        }
    }

    fn on_recovered(&mut self, now: MonoTime) {
        self.link_up = true;
        if self.state != State::Fault {
            return;
        }
        // keepalived `try_up_instance` / `vrrp_state_leave_fault`.
        self.master_adver_int = self.cfg.adver_int;
        self.master = None;
        if self.is_owner() {
            self.become_master(now, Reason::Recovered);
            return;
        }
        self.preempt_until = None;
        self.next_master_reason = Reason::MasterDown;
        let deadline = now + self.master_down_interval();
        self.enter(State::Backup, Some(deadline), Reason::Recovered);
    }

    fn on_shutdown(&mut self, now: MonoTime) {
        match self.state {
            // §6.4.3: cancel the Adver_Timer, send priority 0, → Initialize.
            State::Master => self.leave_master(now, State::Initialize, Reason::Shutdown, true),
            // §6.4.2: cancel the Master_Down_Timer, → Initialize.
            State::Backup | State::Fault => self.enter(State::Initialize, None, Reason::Shutdown),
            State::Initialize => {}
        }
    }

    /// RFC 5798 §6.4.1 / §6.4.2 "transition to Master": advert first (so the old master
    /// drops the VIPs before our GARPs, as keepalived orders it), then VIPs and GARP.
    fn become_master(&mut self, now: MonoTime, reason: Reason) {
        self.master_adver_int = self.cfg.adver_int;
        self.actions.push_back(Action::SendAdvert {
            priority: self.priority,
        });
        self.actions.push_back(Action::AddVips {
            accept: self.cfg.accept || self.is_owner(),
        });
        self.actions.push_back(Action::SendGratuitous);
        self.vips_set = true;
        self.master = None;
        let deadline = now + timers::centis_to_micros(self.cfg.adver_int);
        self.enter(State::Master, Some(deadline), reason);
    }

    fn leave_master(&mut self, now: MonoTime, to: State, reason: Reason, send_stop: bool) {
        if send_stop {
            self.actions.push_back(Action::SendAdvert {
                priority: Priority::STOP,
            });
        }
        if self.vips_set {
            self.actions.push_back(Action::RemoveVips);
            self.vips_set = false;
        }
        let timer = match to {
            State::Backup => {
                self.preempt_until = None;
                Some(now + self.master_down_interval())
            }
            State::Initialize | State::Master | State::Fault => None,
        };
        self.enter(to, timer, reason);
    }

    fn send_advert_and_rearm(&mut self, now: MonoTime) {
        self.actions.push_back(Action::SendAdvert {
            priority: self.priority,
        });
        self.timer = Some(now + timers::centis_to_micros(self.cfg.adver_int));
    }

    fn enter(&mut self, to: State, timer: Option<MonoTime>, reason: Reason) {
        let from = self.state;
        self.state = to;
        self.timer = timer;
        self.actions
            .push_back(Action::Transition { from, to, reason });
    }
}

/// RFC 5798 §6.4.3 tie-break: the higher primary address wins. Different families never
/// meet in one virtual router; keepalived treats them as equal, and so do we.
fn compare_addr(a: IpAddr, b: IpAddr) -> Ordering {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => a.cmp(&b),
        (IpAddr::V6(a), IpAddr::V6(b)) => a.cmp(&b),
        _ => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests;
