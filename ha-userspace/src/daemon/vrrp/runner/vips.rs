//! The VIPs, `virtual_routes` and `virtual_rules` of a MASTER, the XDP program's ARP / NS
//! answers for them, and their announcements (gratuitous ARP, unsolicited NA) paced per
//! interface or `garp_group`.

use std::net::IpAddr;

use tracing::debug;

use super::{Runner, Timing};
use crate::config::model::vrrp::IpAddress;
use crate::daemon::apply::{self, Layer};
use crate::daemon::plan::garp_lane;
use crate::daemon::vrrp::engine::Io;
use crate::daemon::vrrp::pacer::Message;
use crate::family::Family;
use crate::time::MonoTime;
use crate::vrrp::fsm::State;

impl Runner {
    /// VIPs, then `virtual_routes`, then `virtual_rules` on MASTER; the reverse on leaving.
    /// A takeover's timing records when the XDP answers and the addresses were set.
    pub(super) fn set_vips(&mut self, add: bool, io: &mut Io, mut timing: Option<&mut Timing>) {
        let addrs: Vec<(u32, &IpAddress)> = self
            .vip_ifindex
            .iter()
            .copied()
            .zip(self.plan.vips.iter())
            .collect();
        self.own_in_xdp(&self.xdp_vips(&addrs), add, io);
        if let Some(t) = timing.as_deref_mut() {
            t.steps.xdp_vips_us = t.watch.elapsed_us();
        }
        if !add {
            let released: Vec<IpAddr> = self.plan.vips.iter().map(|v| v.addr).collect();
            io.announcer.forget(&released);
        }
        let layer = Layer {
            addresses: &addrs,
            routes: &self.plan.routes,
            rules: &self.plan.rules,
        };
        apply::set(&mut io.nl, add, layer, &io.links, &self.plan.name);
        if let Some(t) = timing {
            t.steps.addresses_us = t.watch.elapsed_us();
        }
    }

    /// The VIPs the XDP program answers ARP / NS for, of `addrs`: those on the instance's
    /// interface or its VMAC, where the program runs.
    pub(super) fn xdp_vips(&self, addrs: &[(u32, &IpAddress)]) -> Vec<IpAddr> {
        addrs
            .iter()
            .filter(|(i, _)| *i == self.place.base_ifindex || Some(*i) == self.place.vmac_index)
            .map(|(_, v)| v.addr)
            .collect()
    }

    /// Tells the XDP program to answer (or stop answering) for `addrs`.
    pub(super) fn own_in_xdp(&self, addrs: &[IpAddr], own: bool, io: &mut Io) {
        let router = self.forwarding6(io);
        if let Some(xdp) = io.xdp.as_mut() {
            if xdp.is_attached(self.place.base_ifindex) {
                xdp.own_vips(self.place.base_ifindex, addrs, self.place.mac, router, own);
            }
        }
    }

    /// Whether the instance's interface forwards IPv6 (the Router flag of our NAs).
    fn forwarding6(&self, io: &Io) -> bool {
        io.links
            .by_name(&self.plan.ifname)
            .is_some_and(|l| l.forwarding6)
    }

    /// Announces every VIP `count` times, through the pacer.
    pub(super) fn announce(&mut self, now: MonoTime, count: u32, io: &mut Io) {
        if self.fsm.state() != State::Master {
            return;
        }
        let router = self.plan.family == Family::V6 && self.forwarding6(io);
        for _ in 0..count {
            for (v, &ifindex) in self.plan.vips.iter().zip(&self.vip_ifindex) {
                let link = io.links.by_index(ifindex);
                let mac = link.and_then(|l| l.mac).unwrap_or(self.place.mac);
                // keepalived paces a VMAC's announcements on its parent interface.
                let (pace_name, pace_index) = if self.place.vmac_index == Some(ifindex) {
                    (self.plan.ifname.as_str(), self.place.base_ifindex)
                } else {
                    (link.map_or("", |l| l.name.as_str()), ifindex)
                };
                let (lane, arp_gap, na_gap) = garp_lane(
                    &self.plan.garp_lanes,
                    &self.plan.garp,
                    pace_name,
                    pace_index,
                );
                let interval = match v.addr {
                    IpAddr::V4(_) => arp_gap,
                    IpAddr::V6(_) => na_gap,
                };
                let msg = Message {
                    lane,
                    ifindex,
                    mac,
                    addr: v.addr,
                    router: v.addr.is_ipv6() && router,
                };
                match io.announcer.announce(now, msg, interval) {
                    Ok(()) => self.counters.gratuitous_sent += 1,
                    Err(e) => debug!(instance = %self.plan.name, "announcement not sent: {e}"),
                }
            }
        }
    }
}
