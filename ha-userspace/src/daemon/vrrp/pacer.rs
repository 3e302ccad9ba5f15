//! Pacing of gratuitous ARP and unsolicited NA: keepalived's `vrrp_garp_interval` and
//! `vrrp_gna_interval` are the minimum gap between two such messages sent on one interface,
//! whichever instance sends them (a switch that rate-limits ARP drops a burst of 5 × 100
//! VIPs sent back to back). ARP and NA are paced separately, as keepalived keeps one timer
//! for each. Sans-I/O: the engine offers messages and sends what comes back.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

use crate::time::MonoTime;
use crate::units::Micros;

/// At most this many queued messages per address and lane: bursts asked for again and again
/// faster than the gap drains them cannot grow the queue without limit.
const MAX_PENDING_PER_ADDR: usize = 32;

/// One announcement: the address announced and the MAC it maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// The pacing queue it joins: its interface, or an aggregated `garp_group`
    /// (see [`crate::daemon::plan::garp_lane`]).
    pub lane: u64,
    pub ifindex: u32,
    pub mac: [u8; 6],
    pub addr: IpAddr,
    /// IPv6: set the NA Router flag (the interface forwards).
    pub router: bool,
}

#[derive(Debug, Default)]
struct Queue {
    /// The earliest time the next message may go out.
    next_at: MonoTime,
    interval: Micros,
    pending: VecDeque<Message>,
}

/// Per-(lane, family) queues of announcements waiting for their turn.
#[derive(Debug, Default)]
pub struct Pacer {
    queues: BTreeMap<(u64, bool), Queue>,
}

impl Pacer {
    /// Offers a message to send at `now` with at least `interval` since the previous one on
    /// its interface and family. Returns it when it may go out now; otherwise it is queued.
    pub fn offer(&mut self, now: MonoTime, msg: Message, interval: Micros) -> Option<Message> {
        if interval == Micros(0) && !self.queues.contains_key(&key(&msg)) {
            return Some(msg);
        }
        let q = self.queues.entry(key(&msg)).or_default();
        // A later offer with a different interval (a reload) takes effect from now on.
        q.interval = interval;
        if q.pending.is_empty() && q.next_at <= now {
            q.next_at = now + interval;
            return Some(msg);
        }
        // keepalived keeps one pending flag per address: a burst asked for while the last
        // one still waits merges into it, so refreshes faster than the gap cannot pile up.
        let waiting = q.pending.iter().filter(|m| m.addr == msg.addr).count();
        if waiting < MAX_PENDING_PER_ADDR {
            q.pending.push_back(msg);
        }
        None
    }

    /// When the next queued message is due.
    pub fn deadline(&self) -> Option<MonoTime> {
        self.queues
            .values()
            .filter(|q| !q.pending.is_empty())
            .map(|q| q.next_at)
            .min()
    }

    /// The queued messages due at `now`: at most one per queue, so the gap holds even when
    /// the engine wakes late.
    pub fn due(&mut self, now: MonoTime) -> Vec<Message> {
        let mut out = Vec::new();
        for q in self.queues.values_mut() {
            if q.next_at <= now {
                if let Some(m) = q.pending.pop_front() {
                    q.next_at = now + q.interval;
                    out.push(m);
                }
            }
        }
        // An idle queue with no gap left to enforce is forgotten.
        self.queues
            .retain(|_, q| !q.pending.is_empty() || (q.interval > Micros(0) && q.next_at > now));
        out
    }

    /// Drops queued messages for addresses no longer ours (the instance left MASTER): an
    /// announcement sent after that would steal the address back from the new master.
    pub fn forget(&mut self, addrs: &[IpAddr]) {
        for q in self.queues.values_mut() {
            q.pending.retain(|m| !addrs.contains(&m.addr));
        }
    }

    /// How many messages wait.
    pub fn pending(&self) -> usize {
        self.queues.values().map(|q| q.pending.len()).sum()
    }
}

fn key(m: &Message) -> (u64, bool) {
    (m.lane, m.addr.is_ipv6())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(ifindex: u32, addr: &str) -> Message {
        Message {
            lane: u64::from(ifindex),
            ifindex,
            mac: [2, 0, 0, 0, 0, 1],
            addr: addr.parse().unwrap(),
            router: false,
        }
    }

    fn t(ms: u64) -> MonoTime {
        MonoTime::from_micros(ms * 1000)
    }

    const MS10: Micros = Micros(10_000);

    #[test]
    fn no_interval_sends_everything_at_once() {
        let mut p = Pacer::default();
        for _ in 0..5 {
            assert!(p.offer(t(0), msg(2, "192.0.2.1"), Micros(0)).is_some());
        }
        assert_eq!(p.deadline(), None);
        assert_eq!(p.pending(), 0);
    }

    #[test]
    fn interval_spaces_messages_on_one_interface() {
        let mut p = Pacer::default();
        assert!(p.offer(t(0), msg(2, "192.0.2.1"), MS10).is_some());
        assert!(p.offer(t(0), msg(2, "192.0.2.2"), MS10).is_none());
        assert!(p.offer(t(0), msg(2, "192.0.2.3"), MS10).is_none());
        assert_eq!(p.deadline(), Some(t(10)));
        assert!(p.due(t(9)).is_empty());
        assert_eq!(p.due(t(10)), vec![msg(2, "192.0.2.2")]);
        assert_eq!(p.deadline(), Some(t(20)));
        // Woken late: still one message, and the next gap counts from now.
        assert_eq!(p.due(t(35)), vec![msg(2, "192.0.2.3")]);
        assert_eq!(p.deadline(), None);
        // The gap holds for a message offered right after the queue emptied.
        assert!(p.offer(t(40), msg(2, "192.0.2.4"), MS10).is_none());
        assert_eq!(p.deadline(), Some(t(45)));
    }

    #[test]
    fn interfaces_and_families_are_paced_separately() {
        let mut p = Pacer::default();
        assert!(p.offer(t(0), msg(2, "192.0.2.1"), MS10).is_some());
        assert!(p.offer(t(0), msg(3, "192.0.2.1"), MS10).is_some());
        assert!(p.offer(t(0), msg(2, "2001:db8::1"), MS10).is_some());
        assert!(p.offer(t(0), msg(2, "192.0.2.2"), MS10).is_none());
        assert_eq!(p.pending(), 1);
    }

    #[test]
    fn an_aggregate_lane_paces_across_interfaces() {
        let mut p = Pacer::default();
        let lane = 1 << 32;
        let on = |ifindex| Message {
            lane,
            ..msg(ifindex, "192.0.2.1")
        };
        assert!(p.offer(t(0), on(2), MS10).is_some());
        assert!(p.offer(t(0), on(3), MS10).is_none());
        assert_eq!(p.due(t(10)), vec![on(3)]);
    }

    #[test]
    fn repeated_bursts_do_not_pile_up() {
        let mut p = Pacer::default();
        p.offer(t(0), msg(2, "192.0.2.1"), MS10);
        for _ in 0..1000 {
            p.offer(t(0), msg(2, "192.0.2.1"), MS10);
        }
        assert_eq!(p.pending(), MAX_PENDING_PER_ADDR);
    }

    #[test]
    fn forget_drops_queued_messages_of_released_addresses() {
        let mut p = Pacer::default();
        p.offer(t(0), msg(2, "192.0.2.1"), MS10);
        p.offer(t(0), msg(2, "192.0.2.1"), MS10);
        p.offer(t(0), msg(2, "192.0.2.2"), MS10);
        p.forget(&["192.0.2.1".parse().unwrap()]);
        assert_eq!(p.due(t(10)), vec![msg(2, "192.0.2.2")]);
        assert_eq!(p.pending(), 0);
    }
}
