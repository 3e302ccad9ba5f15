//! A simulated LAN for several VRRP state machines: one shared clock in microseconds, a wire
//! that delivers every advert to every other plugged-in router after a fixed delay, and a
//! log of what each router did. Deterministic: events at the same instant run in the order
//! they were scheduled (wire first, then timers in router order).

use std::net::IpAddr;

use super::super::{Action, Input, Instance, InstanceConfig, Reason, State};
use crate::time::MonoTime;
use crate::units::{Centis, Micros, Priority};

pub struct Router {
    pub inst: Instance,
    /// Plugged into the wire: sends and receives. Unplugging is a hard failure the
    /// instance is not told about (a dead box, a cut cable on the far side).
    pub plugged: bool,
    pub holds_vips: bool,
}

/// One state change, as the router reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub at: MonoTime,
    pub router: usize,
    pub from: State,
    pub to: State,
    pub reason: Reason,
}

struct InFlight {
    at: MonoTime,
    seq: u64,
    from: usize,
    src: IpAddr,
    priority: Priority,
    adver_int: Centis,
}

pub struct Sim {
    pub now: MonoTime,
    pub routers: Vec<Router>,
    pub changes: Vec<Change>,
    /// Every advert put on the wire: (time, sender, priority).
    pub sent: Vec<(MonoTime, usize, Priority)>,
    delay: Micros,
    wire: Vec<InFlight>,
    seq: u64,
}

impl Sim {
    pub fn new(delay: Micros, cfgs: Vec<InstanceConfig>) -> Sim {
        let routers = cfgs
            .into_iter()
            .map(|c| Router {
                inst: Instance::new(c).expect("valid config"),
                plugged: true,
                holds_vips: false,
            })
            .collect();
        Sim {
            now: MonoTime::ZERO,
            routers,
            changes: Vec::new(),
            sent: Vec::new(),
            delay,
            wire: Vec::new(),
            seq: 0,
        }
    }

    /// Feeds `input` to router `r` now.
    pub fn input(&mut self, r: usize, input: Input) {
        let now = self.now;
        self.routers[r].inst.handle(now, input);
        self.perform(r);
    }

    pub fn start_all(&mut self) {
        for r in 0..self.routers.len() {
            self.input(r, Input::Startup);
        }
    }

    /// Runs every event up to and including `end`, then sets the clock to `end`.
    pub fn run_until(&mut self, end: MonoTime) {
        while let Some(at) = self.next_event().filter(|&at| at <= end) {
            self.now = at;
            if let Some(k) = self.due_delivery() {
                let m = self.wire.remove(k);
                self.deliver(m);
                continue;
            }
            for r in 0..self.routers.len() {
                if self.routers[r].inst.poll_timeout() == Some(at) {
                    self.input(r, Input::Timeout);
                    let next = self.routers[r].inst.poll_timeout();
                    assert_ne!(next, Some(at), "router {r}: the timer did not move on");
                }
            }
        }
        self.now = end;
    }

    pub fn run_for(&mut self, d: Micros) {
        let end = self.now + d;
        self.run_until(end);
    }

    pub fn masters(&self) -> Vec<usize> {
        self.in_state(State::Master)
    }

    pub fn in_state(&self, s: State) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&r| self.routers[r].inst.state() == s)
            .collect()
    }

    pub fn vip_holders(&self) -> Vec<usize> {
        (0..self.routers.len())
            .filter(|&r| self.routers[r].holds_vips)
            .collect()
    }

    pub fn changes_of(&self, r: usize) -> Vec<Change> {
        self.changes
            .iter()
            .copied()
            .filter(|c| c.router == r)
            .collect()
    }

    /// When router `r` last entered Master.
    pub fn became_master_at(&self, r: usize) -> Option<MonoTime> {
        self.changes
            .iter()
            .rev()
            .find(|c| c.router == r && c.to == State::Master)
            .map(|c| c.at)
    }

    /// The last advert router `r` put on the wire with a non-zero priority.
    pub fn last_advert_of(&self, r: usize) -> Option<MonoTime> {
        self.sent
            .iter()
            .rev()
            .find(|&&(_, from, p)| from == r && p != Priority::STOP)
            .map(|&(at, _, _)| at)
    }

    fn next_event(&self) -> Option<MonoTime> {
        let wire = self.wire.iter().map(|m| m.at);
        let timers = self.routers.iter().filter_map(|r| r.inst.poll_timeout());
        wire.chain(timers).min()
    }

    /// The earliest-scheduled advert due now.
    fn due_delivery(&self) -> Option<usize> {
        (0..self.wire.len())
            .filter(|&k| self.wire[k].at <= self.now)
            .min_by_key(|&k| (self.wire[k].at, self.wire[k].seq))
    }

    fn deliver(&mut self, m: InFlight) {
        for r in 0..self.routers.len() {
            if r != m.from && self.routers[r].plugged {
                let input = Input::Advert {
                    src: m.src,
                    priority: m.priority,
                    adver_int: m.adver_int,
                };
                self.input(r, input);
            }
        }
    }

    fn perform(&mut self, r: usize) {
        let now = self.now;
        let actions: Vec<Action> = self.routers[r].inst.drain_actions().collect();
        for a in actions {
            match a {
                Action::SendAdvert { priority } if self.routers[r].plugged => {
                    let cfg = self.routers[r].inst.config();
                    let (src, adver_int) = (cfg.primary_ip, cfg.adver_int);
                    self.sent.push((now, r, priority));
                    self.seq += 1;
                    self.wire.push(InFlight {
                        at: now + self.delay,
                        seq: self.seq,
                        from: r,
                        src,
                        priority,
                        adver_int,
                    });
                }
                Action::AddVips { .. } => self.routers[r].holds_vips = true,
                Action::RemoveVips => self.routers[r].holds_vips = false,
                Action::Transition { from, to, reason } => self.changes.push(Change {
                    at: now,
                    router: r,
                    from,
                    to,
                    reason,
                }),
                _ => {}
            }
        }
    }
}
