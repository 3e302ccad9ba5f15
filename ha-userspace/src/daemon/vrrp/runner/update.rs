//! A reload's new plan for a running instance whose identity did not change
//! (`reload_diff.rs`): the state machine keeps its state and timer, a MASTER swaps only the
//! VIPs, routes and rules that changed and announces new VIPs.

use tracing::error;

use super::{receive, send, Runner};
use crate::config::model::vrrp::IpAddress;
use crate::daemon::apply::{self, difference, Layer};
use crate::daemon::plan::InstancePlan;
use crate::daemon::vrrp::engine::Io;
use crate::daemon::watch::Objects;
use crate::time::MonoTime;
use crate::vrrp::fsm::State;

impl Runner {
    /// Applies `p` in place; `vip_ifindex` is its VIPs' interfaces (resolved on the main
    /// thread). `known` gives the state of objects the instance starts tracking.
    pub fn update(
        &mut self,
        now: MonoTime,
        p: InstancePlan,
        vip_ifindex: Vec<u32>,
        known: &Objects,
        io: &mut Io,
    ) {
        self.catch_up(now, io);
        if let Err(e) = self.fsm.reconfigure(p.fsm_config(self.place.src)) {
            // The main thread checked identity and settings before: not expected.
            error!(instance = %p.name, "reload not applied, the instance keeps its settings: {e}");
            return;
        }
        // The checks may have changed (password, interval, VIP list): the kernel must not
        // keep absorbing the old advert; the next one is checked afresh and followed again.
        self.last_sig = None;
        let master = self.fsm.state() == State::Master;
        if master {
            self.swap_layers(&p, &vip_ifindex, io);
        }
        let announce = master && p.vips != self.plan.vips;
        self.tracking.reconfigure(&p, |n| io.links.is_up(n), known);
        self.expect = receive::expectations(&p);
        self.advert = send::advert_of(&p);
        self.vip_ifindex = vip_ifindex;
        self.plan = p;
        if announce {
            self.announce(now, self.plan.garp.master_repeat, io);
        }
        self.run_actions(now, io);
        self.retrack(now, io);
    }

    /// As MASTER: removes what the new plan dropped and adds what it brings, in the usual
    /// order (addresses, routes, rules), and keeps the XDP answers in step.
    fn swap_layers(&mut self, p: &InstancePlan, vip_ifindex: &[u32], io: &mut Io) {
        let old: Vec<(u32, &IpAddress)> = self
            .vip_ifindex
            .iter()
            .copied()
            .zip(&self.plan.vips)
            .collect();
        let new: Vec<(u32, &IpAddress)> = vip_ifindex.iter().copied().zip(&p.vips).collect();
        let (gone, added) = difference(&old, &new);
        let (gone_routes, new_routes) = difference(&self.plan.routes, &p.routes);
        let (gone_rules, new_rules) = difference(&self.plan.rules, &p.rules);
        let released: Vec<_> = gone.iter().map(|(_, v)| v.addr).collect();
        io.announcer.forget(&released);
        self.own_in_xdp(&self.xdp_vips(&gone), false, io);
        self.own_in_xdp(&self.xdp_vips(&added), true, io);
        let name = p.name.as_str();
        let removed = Layer {
            addresses: &gone,
            routes: &gone_routes,
            rules: &gone_rules,
        };
        apply::set(&mut io.nl, false, removed, &io.links, name);
        let added = Layer {
            addresses: &added,
            routes: &new_routes,
            rules: &new_rules,
        };
        apply::set(&mut io.nl, true, added, &io.links, name);
    }
}
