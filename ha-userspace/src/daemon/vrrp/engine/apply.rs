//! Applying a prepared start or reload on the engine thread: what the instances themselves
//! do (adverts, the VIPs a MASTER swaps or releases, kernel map writes), nothing of the
//! preparation (`prepare.rs`). Order, as keepalived's reload: instances changed in place
//! first, then those that stop (priority 0, VIPs removed), then the new ones start. The
//! running masters' due adverts are sent between items.

use tracing::debug;

use super::{Engine, Io, Reloaded, ADVERT_SWEEP_US};
use crate::daemon::clock::{mono_now, Stopwatch};
use crate::daemon::vrrp::prepare::Prepared;
use crate::daemon::vrrp::reload_diff::Fate;
use crate::daemon::vrrp::runner::Runner;
use crate::time::MonoTime;
use crate::vrrp::fsm::Input;

impl Engine {
    pub(super) fn apply(&mut self, now: MonoTime, p: Prepared) -> Reloaded {
        let Prepared {
            plan,
            diff,
            fresh,
            updates,
            rx_open,
            rx_keep,
            links,
            layout,
            known,
        } = p;
        let watch = Stopwatch::start();
        self.fence
            .replan(plan.instances.iter().map(|i| i.adver_int));
        self.beat_if_due(now);
        // The engine's own view of a link (kept current by its events since the main
        // thread's dump) wins; the dump adds what it does not know yet (new VMACs).
        for l in links.0 {
            if self.io.links.by_index(l.index).is_none() {
                self.io.links.update(&l);
            }
        }
        for (k, v) in known {
            self.objects.entry(k).or_insert(v);
        }
        let mut old: Vec<Option<Box<Runner>>> = std::mem::take(&mut self.runners)
            .into_iter()
            .map(Some)
            .collect();
        // Changed in place. The runners are out of `self.runners` meanwhile: their due
        // adverts are sent from here.
        let mut swept = Stopwatch::start();
        let mut updates = updates.into_iter();
        for (newp, fate) in plan.instances.iter().zip(&diff.fates) {
            if let Fate::InPlace { old: i } = *fate {
                let vips = updates.next().unwrap_or_default();
                if let Some(r) = old[i].as_mut() {
                    r.update(now, newp.clone(), vips, &self.objects, &mut self.io);
                }
                sweep_old(&mut old, &mut swept, &mut self.io);
            }
        }
        let updated = watch.elapsed_us();
        // Stopped, and restarted: priority 0 first, out of the kernel.
        let mut retired = Vec::new();
        for i in diff.stopping() {
            if let Some(mut r) = old[i].take() {
                r.input(now, Input::Shutdown, &mut self.io);
                r.detach_xdp(&mut self.io);
                retired.push(r);
            }
            sweep_old(&mut old, &mut swept, &mut self.io);
        }
        let stopped_at = watch.elapsed_us();
        // Receive paths and the XDP layout of the new set.
        self.rx.retain(|k, _| rx_keep.contains(k));
        self.rx.extend(rx_open);
        if let (Some(x), Some(l)) = (self.io.xdp.as_mut(), layout) {
            x.set_layout(l);
        }
        // The new set in config order; every instance rewrites its kernel entry (shared
        // VRIDs may have changed), then the new ones start.
        let mut fresh = fresh.into_iter();
        let mut started = Vec::new();
        for fate in &diff.fates {
            let r = match fate {
                Fate::Unchanged { old: i } | Fate::InPlace { old: i } => old[*i].take(),
                Fate::Start | Fate::Restart { .. } => {
                    started.push(self.runners.len());
                    fresh.next()
                }
            };
            self.runners.extend(r);
        }
        let mut slowest = 0;
        for i in 0..self.runners.len() {
            let one = Stopwatch::start();
            if started.contains(&i) {
                self.runners[i].start(now, &mut self.io);
            } else {
                self.runners[i].attach_xdp(&mut self.io);
            }
            slowest = slowest.max(one.elapsed_us());
            // Starting 200 instances takes milliseconds: the running masters' adverts
            // must not wait for it.
            self.sweep_adverts(&mut swept);
        }
        let started_at = watch.elapsed_us();
        self.plan = plan;
        self.rebuild_routes();
        self.rebuild_pollset();
        debug!(
            updated,
            stopped = stopped_at - updated,
            started = started_at - stopped_at,
            total = watch.elapsed_us(),
            slowest,
            "applied (µs)"
        );
        let (same, changed, stopped, new) = diff.counts();
        let summary = format!(
            "reloaded: {same} unchanged, {changed} changed in place, {stopped} stopped, {new} started"
        );
        // A long reload must not let the fence fire, nor look like a stall afterwards.
        self.beat_if_due(crate::daemon::clock::mono_now());
        Reloaded { summary, retired }
    }
}

/// [`Engine::sweep_adverts`] for the runners still held in the old list.
fn sweep_old(old: &mut [Option<Box<Runner>>], swept: &mut Stopwatch, io: &mut Io) {
    if swept.elapsed_us() <= ADVERT_SWEEP_US {
        return;
    }
    let now = mono_now();
    for r in old.iter_mut().flatten() {
        if r.advert_due(now) {
            r.on_timer(now, io);
        }
    }
    *swept = Stopwatch::start();
}
