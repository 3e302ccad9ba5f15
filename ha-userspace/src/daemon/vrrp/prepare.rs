//! The main thread's side of the VRRP engine (DESIGN.md §6): everything slow that a start
//! or a reload needs — link and address dumps, VMACs, sockets, nftables, the `static_*`
//! blocks, attaching XDP — is done here, and the engine thread gets one ready [`Prepared`]
//! bundle that it applies without waiting on anything.
//!
//! Everything that can fail happens before anything running is touched: a reload that
//! cannot open a socket or find an interface is refused and the old config runs on.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use tracing::{error, info, warn};

use super::firewall::{DropSet, Firewall};
use super::receive::{AdvertReceiver, RawReceiver};
use super::reload_diff::{diff, Diff, Fate};
use super::runner::{resolve_vips, Placement, Runner, RunnerError};
use super::socket::RxSocket;
use super::xdp_maps::XdpLayout;
use super::xdp_sync;
use crate::daemon::apply::{self, difference, Layer};
use crate::daemon::netlink::{Links, Netlink, NetlinkError};
use crate::daemon::plan::{InstancePlan, Statics, VrrpPlan};
use crate::daemon::watch::Objects;
use crate::daemon::xdp::attach::Feature;
use crate::daemon::xdp::XdpProgram;
use crate::family::Family;
use crate::vrrp::fsm::ConfigError;

/// A receive socket: (interface, family, IP protocol).
pub type RxKey = (u32, Family, u8);

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Runner(#[from] RunnerError),
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error("VRRP receive socket: {0}")]
    Socket(std::io::Error),
    #[error("vrrp_instance {name}: {source}")]
    Config { name: String, source: ConfigError },
}

/// A start or reload, ready for the engine.
pub struct Prepared {
    pub plan: VrrpPlan,
    /// What happens to each instance of `plan` (all start, at the first start).
    pub diff: Diff,
    /// A runner per `Start` and `Restart` fate, in their order. Boxed, here: the engine
    /// moves pointers, and every page of a runner was touched on this thread (a first touch
    /// of fresh memory is a page fault, milliseconds for a few hundred runners on a VM).
    #[allow(clippy::vec_box)]
    pub fresh: Vec<Box<Runner>>,
    /// Each `InPlace` fate's VIP interfaces, in their order.
    pub updates: Vec<Vec<u32>>,
    /// Receive sockets to add, and the ones to keep (the others close).
    pub rx_open: Vec<(RxKey, Box<dyn AdvertReceiver>)>,
    pub rx_keep: BTreeSet<RxKey>,
    pub links: Links,
    /// Where XDP runs for VRRP now, when it runs.
    pub layout: Option<XdpLayout>,
    /// Tracked objects' states, for instances that start tracking something.
    pub known: Objects,
}

/// What the main thread keeps of the VRRP side between reloads.
pub struct VrrpSide {
    nl: Netlink,
    plan: VrrpPlan,
    /// Where each instance of `plan` runs.
    placements: Vec<Placement>,
    /// The receive sockets open, with the multicast groups each joined.
    rx_open: BTreeMap<RxKey, BTreeSet<IpAddr>>,
    firewall: Firewall,
    /// Whether the firewall was loaded once (the first load also clears leftovers).
    firewall_started: bool,
    /// Kernel keys several instances share, as last told.
    shared: BTreeSet<ha_common::VrrpKey>,
}

impl VrrpSide {
    pub fn new() -> Result<VrrpSide, PrepareError> {
        Ok(VrrpSide {
            nl: Netlink::new()?,
            plan: VrrpPlan {
                instances: Vec::new(),
                groups: Vec::new(),
                rt_priority: None,
                statics: Statics::default(),
                firewall: Default::default(),
            },
            placements: Vec::new(),
            rx_open: BTreeMap::new(),
            firewall: Firewall::default(),
            firewall_started: false,
            shared: BTreeSet::new(),
        })
    }

    /// Prepares `plan` to replace what runs (at the first start, nothing runs). On success
    /// the firewall, the static addresses and the XDP attachments are already in place for
    /// the new plan, and the engine must apply the result.
    pub fn prepare(
        &mut self,
        plan: VrrpPlan,
        known: &Objects,
        xdp: Option<&mut XdpProgram>,
    ) -> Result<Prepared, PrepareError> {
        let links = self.nl.links()?;
        let d = diff(&self.plan.instances, &plan.instances);
        let mut fresh = Vec::new();
        let mut updates = Vec::new();
        let mut placements = Vec::with_capacity(plan.instances.len());
        for (p, fate) in plan.instances.iter().zip(&d.fates) {
            match *fate {
                Fate::Unchanged { old } => placements.push(self.placements[old].clone()),
                Fate::InPlace { old } => {
                    let place = self.placements[old].clone();
                    p.fsm_config(place.src)
                        .check()
                        .map_err(|source| PrepareError::Config {
                            name: p.name.clone(),
                            source,
                        })?;
                    updates.push(resolve_vips(p, &place, &links)?);
                    placements.push(place);
                }
                Fate::Restart { .. } | Fate::Start => {
                    let r = Runner::new(p.clone(), &mut self.nl, &links, known)?;
                    placements.push(r.placement().clone());
                    fresh.push(Box::new(r));
                }
            }
        }
        // Again, now that the new VMACs exist (their routes and links need them).
        let links = if fresh.iter().any(|r| r.placement().vmac_index.is_some()) {
            self.nl.links()?
        } else {
            links
        };
        let wanted = rx_wanted(&plan.instances, &placements);
        let mut rx_open: Vec<(RxKey, Box<dyn AdvertReceiver>)> = Vec::new();
        for (key, groups) in &wanted {
            // Open, and joined to every group it needs (a new instance may bring another
            // multicast group): kept. Otherwise a new socket replaces it.
            if self.rx_open.get(key) == Some(groups) {
                continue;
            }
            let ifname = placements
                .iter()
                .find(|pl| pl.io_ifindex == key.0)
                .map(|pl| pl.io_ifname.clone())
                .unwrap_or_default();
            let groups: Vec<IpAddr> = groups.iter().copied().collect();
            let s = RxSocket::open(key.1, &ifname, key.0, key.2, &groups)
                .map_err(PrepareError::Socket)?;
            rx_open.push((*key, Box::new(RawReceiver::new(s))));
        }
        // Nothing below fails the reload.
        self.set_firewall(&plan);
        self.set_statics(&plan.statics, &links);
        let layout = xdp.map(|x| {
            let layout = attach_xdp(x, &plan.instances, &placements, &links);
            for (p, pl) in plan.instances.iter().zip(&placements) {
                let key = xdp_sync::key(pl.base_ifindex, p);
                if layout.shared.contains(&key) && !self.shared.contains(&key) {
                    info!(
                        instance = %p.name,
                        "another instance uses VRID {} on {} too: adverts for both go through \
                         the raw socket",
                        p.vrid,
                        p.ifname
                    );
                }
            }
            self.shared = layout.shared.clone();
            layout
        });
        let rx_keep: BTreeSet<RxKey> = wanted.keys().copied().collect();
        self.rx_open = wanted;
        self.placements = placements;
        self.plan = plan.clone();
        Ok(Prepared {
            plan,
            diff: d,
            fresh,
            updates,
            rx_open,
            rx_keep,
            links,
            layout,
            known: known.clone(),
        })
    }

    /// After the engine applied a reload and the backups took over: the program leaves the
    /// interfaces no instance runs on any more (their instances are out of the maps).
    pub fn release_unused(&mut self, xdp: Option<&mut XdpProgram>) {
        if let Some(x) = xdp {
            let keep: Vec<u32> = self.placements.iter().map(|p| p.base_ifindex).collect();
            x.release_others(Feature::Vrrp, &keep);
        }
    }

    /// At exit, after the engine stopped: the static addresses and the firewall go.
    pub fn stop(&mut self) {
        let links = self.nl.links().unwrap_or_default();
        let statics = std::mem::take(&mut self.plan.statics);
        self.apply_statics(false, &statics, &links);
        if let Err(e) = self.firewall.clear() {
            error!("{e}");
        }
    }

    /// Loads the no_accept tables for `plan` (before its VIPs can be added, so there is
    /// no window where they accept traffic). A failure is logged; the VIPs still move.
    fn set_firewall(&mut self, plan: &VrrpPlan) {
        let set = DropSet::of(plan);
        let r = if self.firewall_started {
            self.firewall.update(&plan.firewall, set)
        } else {
            self.firewall_started = true;
            self.firewall.start(&plan.firewall, set)
        };
        if let Err(e) = r {
            error!("{e}");
        }
    }

    /// `static_ipaddress`, `static_routes`, `static_rules`: what the new plan dropped goes,
    /// what it brings comes.
    fn set_statics(&mut self, new: &Statics, links: &Links) {
        let old = self.plan.statics.clone();
        if old == *new {
            return;
        }
        let gone = Statics {
            addresses: difference(&old.addresses, &new.addresses).0,
            routes: difference(&old.routes, &new.routes).0,
            rules: difference(&old.rules, &new.rules).0,
        };
        self.apply_statics(false, &gone, links);
        self.apply_statics(true, new, links);
    }

    fn apply_statics(&mut self, add: bool, s: &Statics, links: &Links) {
        let addresses = apply::static_addresses(&s.addresses, links);
        let layer = Layer {
            addresses: &addresses,
            routes: &s.routes,
            rules: &s.rules,
        };
        apply::set(&mut self.nl, add, layer, links, "static");
    }
}

/// The receive sockets the instances need, with the multicast groups to join on each.
fn rx_wanted(
    instances: &[InstancePlan],
    placements: &[Placement],
) -> BTreeMap<RxKey, BTreeSet<IpAddr>> {
    let mut want: BTreeMap<RxKey, BTreeSet<IpAddr>> = BTreeMap::new();
    for (p, pl) in instances.iter().zip(placements) {
        want.entry(pl.rx_key(p)).or_default().extend(p.mcast_dst);
    }
    want
}

/// Attaches the program to every interface an instance runs on, and finds the kernel keys
/// several instances share (they stay on the raw socket).
fn attach_xdp(
    x: &mut XdpProgram,
    instances: &[InstancePlan],
    placements: &[Placement],
    links: &Links,
) -> XdpLayout {
    let mut count: BTreeMap<ha_common::VrrpKey, usize> = BTreeMap::new();
    for (p, pl) in instances.iter().zip(placements) {
        *count.entry(xdp_sync::key(pl.base_ifindex, p)).or_default() += 1;
    }
    let shared: BTreeSet<_> = count
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, _)| k)
        .collect();
    for (p, pl) in instances.iter().zip(placements) {
        let name = links
            .by_index(pl.base_ifindex)
            .map_or(p.ifname.as_str(), |l| l.name.as_str());
        if let Err(e) = x.want(pl.base_ifindex, name, Feature::Vrrp) {
            warn!("XDP not on {name}: {e}; its instances use the raw socket");
        }
    }
    XdpLayout {
        slots: x.slots(Feature::Vrrp),
        shared,
    }
}
