//! Who runs the Master_Down_Timer (RFC 5798 §6.4.2) of a BACKUP on the XDP path, pure.
//!
//! While the kernel absorbs the followed master's adverts, the state machine only knows the
//! last advert it saw itself, so its timer goes stale. [`Follow`] keeps it in step: before
//! any input reaches the state machine, the kernel's last-advert time is replayed as the
//! advert it stands for ([`Follow::catch_up`]), so no input ever meets a stale timer. Who
//! watches the master moves through three stages:
//!
//! - `Off`: not following through the kernel; the state machine's timer as usual.
//! - `Pending`: the kernel was just told to follow. The state machine's timer still runs;
//!   when it expires, the kernel's last-advert time says whether the master is alive.
//! - `Kernel`: the kernel timer is armed and sends a master-down event; no userspace timer.
//!
//! The I/O side reads the kernel's entry only when [`Follow::wants_kernel`] says so (one map
//! lookup) and passes it in as a [`KernelView`].

use super::xdp_sync::Signature;
use crate::time::MonoTime;
use crate::vrrp::fsm::{Input, Instance, State};

/// The Master_Down_Timer's owner while BACKUP on the XDP path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Watch {
    #[default]
    Off,
    Pending,
    Kernel,
}

/// What the kernel knows of a followed master.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelView {
    /// When the kernel last absorbed its advert (`None`: never).
    pub last_seen: Option<MonoTime>,
    /// The kernel's master-down timer is armed.
    pub armed: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Follow {
    watch: Watch,
    /// The advert the kernel absorbs. Compared as a whole: another advert to follow (even
    /// from the same master) means the kernel timer restarts with it.
    followed: Option<Signature>,
    /// When the state machine last heard an advert, real or replayed.
    fed_at: MonoTime,
}

impl Follow {
    #[cfg(test)]
    pub fn watch(&self) -> Watch {
        self.watch
    }

    /// Whether the state machine's own timer counts (it does unless the kernel's runs).
    pub fn fsm_timer_counts(&self) -> bool {
        self.watch != Watch::Kernel
    }

    /// Whether the next input needs the kernel's view first.
    pub fn wants_kernel(&self, fsm: &Instance) -> bool {
        self.watch != Watch::Off && fsm.state() == State::Backup && self.followed.is_some()
    }

    /// The state machine heard an advert itself at `at`.
    pub fn fed(&mut self, at: MonoTime) {
        self.fed_at = at;
    }

    /// Replays the kernel's last advert into `fsm` when it is newer than anything the state
    /// machine heard. Returns the kernel's view when the master is alive by its clock;
    /// `None` when not following, or when the master has been silent for the
    /// Master_Down_Interval (the timeout stands).
    pub fn catch_up(
        &mut self,
        now: MonoTime,
        fsm: &mut Instance,
        kernel: Option<KernelView>,
    ) -> Option<KernelView> {
        if !self.wants_kernel(fsm) {
            return None;
        }
        let f = self.followed?;
        let k = kernel?;
        let last = k.last_seen?;
        if last + fsm.master_down_interval() <= now {
            return None;
        }
        if last > self.fed_at {
            let adver_int = fsm.master_adver_int();
            fsm.handle(
                last,
                Input::Advert {
                    src: f.src,
                    priority: f.priority,
                    adver_int,
                },
            );
            self.fed_at = last;
        }
        Some(k)
    }

    /// The state machine's timer is due at `now`: true when the kernel saw the master since
    /// (the timer restarted from its last advert, and the kernel watches on if its timer is
    /// armed); false when the timeout stands and must be fed.
    pub fn resync(
        &mut self,
        now: MonoTime,
        fsm: &mut Instance,
        kernel: Option<KernelView>,
    ) -> bool {
        let before = fsm.poll_timeout();
        let Some(k) = self.catch_up(now, fsm, kernel) else {
            return false;
        };
        if fsm.poll_timeout() == before && before.is_some_and(|t| t <= now) {
            return false;
        }
        self.watch = if k.armed {
            Watch::Kernel
        } else {
            Watch::Pending
        };
        true
    }

    /// The kernel's master-down event: true when the state machine must time out now.
    pub fn on_master_down(
        &mut self,
        now: MonoTime,
        fsm: &mut Instance,
        kernel: Option<KernelView>,
    ) -> bool {
        if self.watch == Watch::Off || fsm.state() != State::Backup {
            return false;
        }
        self.watch = Watch::Pending;
        !self.resync(now, fsm, kernel)
    }

    /// After the state machine moved: `following` is the advert the kernel now absorbs
    /// (`None`: none, or no XDP for this instance).
    pub fn set_following(&mut self, following: Option<Signature>) {
        self.watch = match (following, self.watch) {
            (None, _) => Watch::Off,
            (Some(f), Watch::Off) => {
                self.followed = Some(f);
                Watch::Pending
            }
            (Some(f), _) if Some(f) != self.followed => {
                self.followed = Some(f);
                Watch::Pending
            }
            (Some(_), w) => w,
        };
        if self.watch == Watch::Off {
            self.followed = None;
        }
    }

    /// The instance leaves the kernel (stops, or a reload removed it).
    pub fn off(&mut self) {
        self.set_following(None);
    }
}

#[cfg(test)]
mod tests;
