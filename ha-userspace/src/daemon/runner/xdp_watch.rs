//! The runner's side of the XDP fast path: what it tells the kernel about its instance,
//! and who runs the Master_Down_Timer while the kernel absorbs the master's adverts
//! (RFC 5798 §6.4.2), with the state machine kept in step with the kernel's clock.

use std::net::IpAddr;

use ha_common::VrrpState;
use tracing::debug;

use super::{Ctx, Runner};
use crate::daemon::clock::mono_now;
use crate::daemon::xdp::mono_of_ns;
use crate::daemon::xdp_sync;
use crate::vrrp::fsm::{Input, State};
use crate::time::MonoTime;

/// The Master_Down_Timer while BACKUP on the XDP path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Watch {
    /// Not following through the kernel: the state machine's timer as usual.
    Off,
    /// The kernel was just told to follow: the state machine's timer still runs; when it
    /// expires, the kernel's last-advert time says whether the master is alive.
    Pending,
    /// The kernel timer is armed: it sends a master-down event; no userspace timer.
    Kernel,
}

impl Runner {
    /// While the kernel absorbs the followed master's adverts, the state machine's own
    /// Master_Down_Timer only knows the last advert it saw itself. Before anything else
    /// reaches the state machine, this replays the kernel's last-advert time, so no input
    /// ever meets a stale timer. The kernel's state when the master is alive by its clock
    /// (the timer now runs from the last advert); `None` when not following through the
    /// kernel, or when the master has been silent for the Master_Down_Interval (the timeout
    /// stands).
    pub(super) fn catch_up(&mut self, now: MonoTime, ctx: &mut Ctx<'_>) -> Option<VrrpState> {
        if self.watch == Watch::Off || self.fsm.state() != State::Backup {
            return None;
        }
        let (Some(sig), Some(xdp)) = (self.followed_sig, ctx.xdp.as_deref_mut()) else {
            return None;
        };
        let st = xdp.state(&xdp_sync::key(self.base_ifindex, &self.plan))?;
        let last = mono_of_ns(st.last_seen_ns);
        if st.last_seen_ns == 0 || last + self.fsm.master_down_interval() <= now {
            return None;
        }
        if last > self.fed_at {
            let adver_int = self.fsm.master_adver_int();
            self.fsm.handle(
                last,
                Input::Advert {
                    src: sig.src,
                    priority: sig.priority,
                    adver_int,
                },
            );
            self.fed_at = last;
        }
        Some(st)
    }

    /// At the state machine's timeout while following through the kernel: true when the
    /// kernel saw the master since (the timer restarted from its last advert).
    pub(super) fn resync_from_kernel(&mut self, now: MonoTime, ctx: &mut Ctx<'_>) -> bool {
        let before = self.fsm.poll_timeout();
        let Some(st) = self.catch_up(now, ctx) else {
            return false;
        };
        if self.fsm.poll_timeout() == before && before.is_some_and(|t| t <= now) {
            return false;
        }
        self.watch = if st.armed != 0 {
            Watch::Kernel
        } else {
            Watch::Pending
        };
        true
    }

    /// The kernel's master-down event.
    pub(super) fn on_master_down(&mut self, last_seen: MonoTime, ctx: &mut Ctx<'_>) {
        let now = mono_now();
        if self.watch == Watch::Off || self.fsm.state() != State::Backup {
            return;
        }
        debug!(instance = %self.plan.name, "XDP: master silent since {} µs ago", now.saturating_since(last_seen).0);
        self.watch = Watch::Pending;
        if !self.resync_from_kernel(now, ctx) {
            self.fsm.handle(now, Input::Timeout);
        }
        self.run_actions(now, ctx);
    }

    /// Tells the XDP program what this instance is now: state, priority, checks and the
    /// advert it may absorb (xdp_sync.rs). A no-op without XDP on the interface, and when
    /// nothing changed.
    pub(super) fn sync_xdp(&mut self, ctx: &mut Ctx<'_>) {
        let Some(xdp) = ctx.xdp.as_deref_mut() else {
            return;
        };
        if !xdp.is_attached(self.base_ifindex) || self.xdp_shared {
            // The raw socket delivers everything: the state machine's own timer counts.
            self.watch = Watch::Off;
            return;
        }
        let view = xdp_sync::View {
            plan: &self.plan,
            state: self.fsm.state(),
            priority: self.fsm.priority(),
            own_src: self.src,
            master: self.fsm.master(),
            master_down: self.fsm.master_down_interval(),
            last: self.last_sig,
        };
        let value = xdp_sync::kernel_instance(&view);
        let following = xdp_sync::followed(&view);
        let key = xdp_sync::key(self.base_ifindex, &self.plan);
        xdp.set_instance(key, value);
        self.watch = match (following, self.watch) {
            (None, _) => Watch::Off,
            (Some(f), Watch::Off) => {
                self.followed_sig = Some(f);
                Watch::Pending
            }
            // Another advert to follow: the kernel timer restarts with it.
            (Some(f), _) if Some(f) != self.followed_sig => {
                self.followed_sig = Some(f);
                Watch::Pending
            }
            (Some(_), w) => w,
        };
        if self.watch == Watch::Off {
            self.followed_sig = None;
        }
    }

    /// Writes the static part of the kernel's view (unicast peers) and the first state.
    pub fn attach_xdp(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(xdp) = ctx.xdp.as_deref_mut() {
            let key = xdp_sync::key(self.base_ifindex, &self.plan);
            if self.xdp_shared {
                xdp.remove_instance(key);
            } else if xdp.is_attached(self.base_ifindex) {
                xdp.set_peers(key, &xdp_sync::peers(self.base_ifindex, &self.plan));
            }
        }
        self.sync_xdp(ctx);
    }

    /// Removes this instance from the kernel's maps (it stops, or a reload removed it).
    pub fn detach_xdp(&mut self, ctx: &mut Ctx<'_>) {
        if let Some(xdp) = ctx.xdp.as_deref_mut() {
            xdp.remove_instance(xdp_sync::key(self.base_ifindex, &self.plan));
            xdp.own_vips(self.base_ifindex, &self.vip_addrs(), self.mac, false, false);
        }
        self.watch = Watch::Off;
    }

    /// The VIPs the XDP program answers ARP / NS for: those on the instance's interface or
    /// its VMAC, where the program runs.
    pub(super) fn vip_addrs(&self) -> Vec<IpAddr> {
        let vmac = self.vmac.as_ref().map(|v| v.index);
        self.plan
            .vips
            .iter()
            .zip(&self.vip_ifindex)
            .filter(|(_, i)| **i == self.base_ifindex || Some(**i) == vmac)
            .map(|(v, _)| v.addr)
            .collect()
    }
}
