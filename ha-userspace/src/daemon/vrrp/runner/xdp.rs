//! The runner's side of the XDP fast path: what it tells the kernel about its instance, and
//! the kernel's view of the followed master, handed to the pure [`Follow`] machine
//! (`follow.rs`), which keeps the state machine's Master_Down_Timer in step with it.

use ha_common::VrrpKey;
use tracing::debug;

use super::Runner;
use crate::daemon::vrrp::engine::Io;
use crate::daemon::vrrp::follow::KernelView;
use crate::daemon::vrrp::xdp_maps::mono_of_ns;
use crate::daemon::vrrp::xdp_sync;
use crate::time::MonoTime;
use crate::vrrp::fsm::Input;

impl Runner {
    /// The instance's key in the kernel maps.
    pub fn xdp_key(&self) -> VrrpKey {
        xdp_sync::key(self.place.base_ifindex, &self.plan)
    }

    /// The kernel's view of the followed master, read only when the follow machine needs
    /// it (one map lookup).
    pub(super) fn kernel_view(&self, io: &Io) -> Option<KernelView> {
        if !self.follow.wants_kernel(&self.fsm) {
            return None;
        }
        let st = io.xdp.as_ref()?.state(&self.xdp_key())?;
        Some(KernelView {
            last_seen: (st.last_seen_ns != 0).then(|| mono_of_ns(st.last_seen_ns)),
            armed: st.armed != 0,
        })
    }

    /// Before any input: replays the kernel's last advert of the followed master.
    pub(super) fn catch_up(&mut self, now: MonoTime, io: &Io) {
        let kernel = self.kernel_view(io);
        self.follow.catch_up(now, &mut self.fsm, kernel);
    }

    /// The kernel's master-down event.
    pub(super) fn on_master_down(&mut self, now: MonoTime, last_seen: MonoTime, io: &mut Io) {
        let kernel = self.kernel_view(io);
        debug!(
            instance = %self.plan.name,
            "XDP: master silent since {} µs ago",
            now.saturating_since(last_seen).0
        );
        if self.follow.on_master_down(now, &mut self.fsm, kernel) {
            self.fsm.handle(now, Input::Timeout);
        }
        self.run_actions(now, io);
    }

    /// Tells the XDP program what this instance is now: state, priority, checks and the
    /// advert it may absorb (xdp_sync.rs). A no-op without XDP for this instance, and when
    /// nothing changed.
    pub(super) fn sync_xdp(&mut self, io: &mut Io) {
        let key = self.xdp_key();
        let Some(xdp) = io.xdp.as_mut().filter(|x| x.serves(&key)) else {
            // The raw socket delivers everything: the state machine's own timer counts.
            self.follow.off();
            return;
        };
        let view = xdp_sync::View {
            plan: &self.plan,
            state: self.fsm.state(),
            priority: self.fsm.priority(),
            own_src: self.place.src,
            master: self.fsm.master(),
            master_down: self.fsm.master_down_interval(),
            last: self.last_sig,
        };
        xdp.set_instance(key, xdp_sync::kernel_instance(&view));
        self.follow.set_following(xdp_sync::followed(&view));
    }

    /// Writes the static part of the kernel's view (unicast peers) and the current state;
    /// an instance whose key another instance shares is taken out of the kernel.
    pub fn attach_xdp(&mut self, io: &mut Io) {
        let key = self.xdp_key();
        if let Some(xdp) = io.xdp.as_mut() {
            if xdp.serves(&key) {
                xdp.set_peers(key, &xdp_sync::peers(self.place.base_ifindex, &self.plan));
            } else if xdp.is_attached(key.ifindex) {
                xdp.remove_instance(key);
            }
        }
        self.sync_xdp(io);
    }

    /// Removes this instance from the kernel's maps (it stops, or a reload removed it).
    pub fn detach_xdp(&mut self, io: &mut Io) {
        let addrs: Vec<_> = self
            .plan
            .vips
            .iter()
            .zip(&self.vip_ifindex)
            .map(|(v, i)| (*i, v))
            .collect();
        let vips = self.xdp_vips(&addrs);
        if let Some(xdp) = io.xdp.as_mut() {
            xdp.remove_instance(self.xdp_key());
            xdp.own_vips(self.place.base_ifindex, &vips, self.place.mac, false, false);
        }
        self.follow.off();
    }
}
