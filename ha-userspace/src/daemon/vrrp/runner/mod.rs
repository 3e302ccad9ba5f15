//! One running `vrrp_instance`: its state machine plus the I/O it owns (send socket, VIPs,
//! announcements, counters). The engine feeds it inputs with the time they happened; it
//! turns the state machine's actions into packets and netlink calls through the engine's
//! [`Io`]. A runner is built on the main thread ([`Runner::new`], which opens sockets and
//! creates the VMAC) and handed to the engine ready to start.
//!
//! - `receive.rs`: received adverts, checked and fed to the state machine;
//! - `send.rs`: our adverts;
//! - `vips.rs`: VIPs, routes and rules on MASTER, and their announcements;
//! - `track.rs`: priority and FAULT from tracked objects;
//! - `update.rs`: a reload's new plan, in place;
//! - `status.rs`: what `ha status` shows of it;
//! - `xdp.rs`: what the kernel is told, and its view of the followed master.

mod receive;
mod send;
mod status;
mod track;
mod update;
mod vips;
mod xdp;

use std::net::IpAddr;

use tracing::{debug, error, info};

use super::engine::Io;
use super::follow::Follow;
use super::route::Listener;
use super::socket::TxSocket;
use super::tracking::Tracking;
use super::vmac::Vmac;
use super::xdp_sync::Signature;
use crate::daemon::clock::{unix_secs, Stopwatch};
use crate::daemon::events::VrrpEvent;
use crate::daemon::netlink::{Links, Netlink, NetlinkError};
use crate::daemon::plan::{AuthPlan, InstancePlan};
use crate::daemon::status::{InstanceCounters, TakeoverSteps};
use crate::daemon::watch::Objects;
use crate::family::Family;
use crate::time::MonoTime;
use crate::units::Micros;
use crate::vrrp::fsm::{Action, ConfigError, Input, Instance, Reason, State};
use crate::vrrp::packet::{Advert, IPPROTO_AH, IPPROTO_VRRP};
use crate::vrrp::validate::{self, RxExpect};

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("vrrp_instance {name}: interface {ifname} does not exist")]
    NoInterface { name: String, ifname: String },
    #[error("vrrp_instance {name}: interface {ifname} has no {what} address to send adverts from")]
    NoSource {
        name: String,
        ifname: String,
        what: &'static str,
    },
    #[error("vrrp_instance {name}: {source}")]
    Socket {
        name: String,
        source: std::io::Error,
    },
    #[error("vrrp_instance {name}: {source}")]
    Netlink { name: String, source: NetlinkError },
    #[error("vrrp_instance {name}: {source}")]
    Config { name: String, source: ConfigError },
}

/// Where an instance runs on this host, resolved when it is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The interface adverts are sent and received on: the instance's interface, or its
    /// VMAC (`use_vmac` without `vmac_xmit_base`).
    pub io_ifindex: u32,
    pub io_ifname: String,
    /// The instance's own interface (the VMAC's parent): where the XDP program sees its
    /// adverts and ARP.
    pub base_ifindex: u32,
    /// The VMAC, when the instance has one.
    pub vmac_index: Option<u32>,
    /// The MAC VIPs are announced with.
    pub mac: [u8; 6],
    /// Our adverts' source: configured, or the interface's primary address.
    pub src: IpAddr,
}

impl Placement {
    /// The receive socket the instance needs: (interface, family, IP protocol).
    pub fn rx_key(&self, plan: &InstancePlan) -> (u32, Family, u8) {
        let proto = if matches!(plan.auth, AuthPlan::Ah(_)) {
            IPPROTO_AH
        } else {
            IPPROTO_VRRP
        };
        (self.io_ifindex, plan.family, proto)
    }
}

/// A takeover's steps being timed (`ha status` shows the last one).
pub(super) struct Timing {
    watch: Stopwatch,
    steps: TakeoverSteps,
}

/// A burst of gratuitous ARPs / NAs still to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Burst {
    at: MonoTime,
    count: u32,
}

pub struct Runner {
    plan: InstancePlan,
    place: Placement,
    fsm: Instance,
    tx: TxSocket,
    /// The `use_vmac` macvlan, held for its removal when the runner is dropped: on the
    /// main thread after a reload stopped it, on the engine thread as it exits.
    _vmac: Option<Vmac>,
    /// VIP i's interface, resolved when the instance starts or reloads.
    vip_ifindex: Vec<u32>,
    tracking: Tracking,
    /// Why the instance is in FAULT (what tracking said), while it is.
    fault: Option<String>,
    /// What the next Fault / Recovered transition says caused it.
    transition_cause: Option<String>,
    /// FAULT from its own tracked objects (what its sync group follows).
    own_fault: bool,
    /// The receive checks' expectations, built once; the per-packet parts are updated.
    expect: RxExpect,
    ah_last_rx: u32,
    drops: validate::Counters,
    /// The advert we send, built once; only the priority changes.
    advert: Advert,
    ip_id: u16,
    ah_seq: u32,
    /// Send VRRPv3 IPv4 unicast checksums over 224.0.0.18 (keepalived before 2.0.8).
    old_checksum: bool,
    counters: InstanceCounters,
    second_burst: Option<Burst>,
    refresh_at: Option<MonoTime>,
    last_transition: Option<(String, u64)>,
    /// The last advert accepted, as the kernel would recognise it again.
    last_sig: Option<Signature>,
    /// Who runs the Master_Down_Timer while the kernel follows the master.
    follow: Follow,
    /// The VIPs are set (between AddVips and RemoveVips).
    holding_vips: bool,
    /// When the last advert went out as MASTER.
    last_advert: Option<MonoTime>,
    /// When the last advert of another router arrived through the raw socket (the
    /// kernel's stamp covers the XDP path): `bfd_takeover` checks the master fell silent.
    last_master_advert: Option<MonoTime>,
}

impl Runner {
    /// Opens what the instance needs, on the main thread. Everything that can fail before
    /// the VMAC is created is checked first, so a reload that cannot start an instance
    /// leaves the running config alone (a VMAC of the same name as a running instance's is
    /// replaced, as keepalived does: README "Not yet").
    pub fn new(
        plan: InstancePlan,
        nl: &mut Netlink,
        links: &Links,
        known: &Objects,
    ) -> Result<Self, RunnerError> {
        let name = plan.name.clone();
        let base = links
            .by_name(&plan.ifname)
            .ok_or_else(|| RunnerError::NoInterface {
                name: name.clone(),
                ifname: plan.ifname.clone(),
            })?;
        let nl_err = |source| RunnerError::Netlink {
            name: name.clone(),
            source,
        };
        let base_src = primary_address(nl, base.index, plan.family).map_err(nl_err)?;
        let src = plan
            .src_ip
            .or(base_src)
            .ok_or_else(|| RunnerError::NoSource {
                name: name.clone(),
                ifname: plan.ifname.clone(),
                what: match plan.family {
                    Family::V4 => "IPv4",
                    Family::V6 => "IPv6 link-local",
                },
            })?;
        let fsm = Instance::new(plan.fsm_config(src)).map_err(|source| RunnerError::Config {
            name: name.clone(),
            source,
        })?;
        // The VIPs' interfaces, before anything is created.
        let vmac_name = plan.vmac.as_ref().map(|v| v.name.as_str());
        if let Some(dev) = plan
            .vips
            .iter()
            .filter_map(|v| v.dev.as_deref())
            .find(|d| links.by_name(d).is_none() && Some(*d) != vmac_name)
        {
            return Err(RunnerError::NoInterface {
                name: name.clone(),
                ifname: dev.into(),
            });
        }
        let vmac = match &plan.vmac {
            None => None,
            Some(v) => {
                let ll = match base_src {
                    Some(IpAddr::V6(a)) => Some(a),
                    _ => None,
                };
                let parent = (base.index, base.name.as_str());
                Some(Vmac::create(nl, &v.name, parent, v.mac, plan.family, ll).map_err(nl_err)?)
            }
        };
        // Where adverts go: the VMAC, unless `vmac_xmit_base` keeps them on the parent.
        let (io_ifindex, io_ifname) = match &vmac {
            Some(v) if !plan.vmac_xmit_base => (v.index, v.name.clone()),
            _ => (base.index, base.name.clone()),
        };
        let place = Placement {
            io_ifindex,
            io_ifname,
            base_ifindex: base.index,
            vmac_index: vmac.as_ref().map(|v| v.index),
            mac: vmac
                .as_ref()
                .map(|v| v.mac)
                .or(base.mac)
                .unwrap_or_default(),
            src,
        };
        let vip_ifindex = resolve_vips(&plan, &place, links)?;
        let tx = TxSocket::open(plan.family, &place.io_ifname, place.io_ifindex, src).map_err(
            |source| RunnerError::Socket {
                name: name.clone(),
                source,
            },
        )?;
        Ok(Runner {
            tracking: Tracking::new(&plan, |n| links.is_up(n), known),
            fault: None,
            transition_cause: None,
            own_fault: false,
            expect: receive::expectations(&plan),
            ah_last_rx: 0,
            drops: validate::Counters::default(),
            advert: send::advert_of(&plan),
            ip_id: 0,
            ah_seq: 0,
            old_checksum: plan.old_unicast_checksum,
            counters: InstanceCounters::default(),
            second_burst: None,
            refresh_at: None,
            last_transition: None,
            last_sig: None,
            follow: Follow::default(),
            holding_vips: false,
            last_advert: None,
            last_master_advert: None,
            vip_ifindex,
            _vmac: vmac,
            tx,
            fsm,
            place,
            plan,
        })
    }

    pub fn name(&self) -> &str {
        &self.plan.name
    }

    pub fn placement(&self) -> &Placement {
        &self.place
    }

    pub fn state(&self) -> State {
        self.fsm.state()
    }

    /// The configured advertisement interval.
    pub fn adver_int(&self) -> crate::units::Centis {
        self.plan.adver_int
    }

    /// Whether this instance's own tracked objects put it in FAULT.
    pub fn own_fault(&self) -> bool {
        self.own_fault
    }

    /// Where the raw-socket path sees its packets.
    pub fn raw_listener(&self) -> Listener {
        self.listener(self.place.io_ifindex)
    }

    /// Where the XDP program sees its packets: the instance's own interface.
    pub fn xdp_listener(&self) -> Listener {
        self.listener(self.place.base_ifindex)
    }

    fn listener(&self, ifindex: u32) -> Listener {
        Listener {
            ifindex,
            family: self.plan.family,
            vrid: self.plan.vrid,
            peers: self.plan.unicast_peers.iter().map(|p| p.addr).collect(),
        }
    }

    /// Starts the state machine, in FAULT if a tracked object is already down.
    pub fn start(&mut self, now: MonoTime, io: &mut Io) {
        // Links as the engine sees them now, not as the main thread's dump did.
        self.tracking.sync_links(&self.plan, |n| io.links.is_up(n));
        self.attach_xdp(io);
        self.fsm.handle(now, Input::Startup);
        self.run_actions(now, io);
        self.retrack(now, io);
    }

    /// Whether this instance is MASTER and its next advert is due (the Adver_Timer, RFC 5798
    /// §6.4.3): the cheap, time-critical part of the timers.
    pub fn advert_due(&self, now: MonoTime) -> bool {
        self.fsm.state() == State::Master && self.fsm.poll_timeout().is_some_and(|t| t <= now)
    }

    /// The earliest time something is due: the protocol timer or an announcement.
    pub fn deadline(&self) -> Option<MonoTime> {
        [
            // While the kernel timer watches the master, nothing to wake up for.
            self.fsm
                .poll_timeout()
                .filter(|_| self.follow.fsm_timer_counts()),
            self.second_burst.map(|b| b.at),
            self.refresh_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn on_timer(&mut self, now: MonoTime, io: &mut Io) {
        if self.follow.fsm_timer_counts() && self.fsm.poll_timeout().is_some_and(|t| t <= now) {
            // RFC 5798 §6.4.2 Master_Down_Timer: on the XDP path, first ask the kernel
            // whether adverts kept coming without waking us.
            let kernel = self.kernel_view(io);
            if !self.follow.resync(now, &mut self.fsm, kernel) {
                self.fsm.handle(now, Input::Timeout);
            }
            self.run_actions(now, io);
        }
        if let Some(b) = self.second_burst.filter(|b| b.at <= now) {
            self.second_burst = None;
            self.announce(now, b.count, io);
        }
        if let Some(at) = self.refresh_at.filter(|t| *t <= now) {
            let every = self.plan.garp.master_refresh;
            self.refresh_at = Some(at + every);
            self.announce(now, self.plan.garp.master_refresh_repeat, io);
        }
    }

    /// Feeds an operator or shutdown input.
    pub fn input(&mut self, now: MonoTime, input: Input, io: &mut Io) {
        self.catch_up(now, io);
        self.fsm.handle(now, input);
        self.run_actions(now, io);
    }

    fn run_actions(&mut self, now: MonoTime, io: &mut Io) {
        // A takeover is timed step by step: the state machine is MASTER and the VIPs are
        // not set yet, so this batch holds the advert, the VIPs and the announcements.
        let mut timing =
            (self.fsm.state() == State::Master && !self.holding_vips).then(|| Timing {
                watch: Stopwatch::start(),
                steps: TakeoverSteps::default(),
            });
        while let Some(a) = self.fsm.poll_action() {
            match a {
                Action::SendAdvert { priority } => {
                    self.send_advert(priority);
                    self.note_advert(now);
                    if let Some(t) = timing.as_mut().filter(|t| t.steps.advert_us == 0) {
                        t.steps.advert_us = t.watch.elapsed_us().max(1);
                    }
                }
                // Accept_Mode is enforced by the nftables tables (firewall.rs), loaded
                // before any instance starts.
                Action::AddVips { .. } => {
                    self.holding_vips = true;
                    self.set_vips(true, io, timing.as_mut());
                }
                Action::RemoveVips => {
                    self.holding_vips = false;
                    self.set_vips(false, io, None);
                }
                Action::SendGratuitous => {
                    let g = self.plan.garp;
                    self.announce(now, g.master_repeat, io);
                    if let Some(t) = timing.as_mut() {
                        t.steps.announced_us = t.watch.elapsed_us();
                    }
                    self.second_burst = (g.master_delay > Micros(0)).then_some(Burst {
                        at: now + g.master_delay,
                        count: g.master_repeat,
                    });
                    self.refresh_at =
                        (g.master_refresh > Micros(0)).then_some(now + g.master_refresh);
                }
                Action::Transition { from, to, reason } => self.on_transition(from, to, reason, io),
                Action::LowerPriorityAdvert { src, priority } => {
                    debug!(instance = %self.plan.name, %src, %priority, "lower-priority advert while MASTER");
                    let g = self.plan.garp;
                    if g.lower_prio_repeat > 0 {
                        self.announce(now, g.lower_prio_repeat, io);
                        if g.lower_prio_delay > Micros(0) {
                            self.second_burst = Some(Burst {
                                at: now + g.lower_prio_delay,
                                count: g.lower_prio_repeat,
                            });
                        }
                    }
                    io.events.push(VrrpEvent::LowerPriority {
                        instance: self.plan.name.clone(),
                        src,
                    });
                }
                Action::OwnerConflict { src } => error!(
                    instance = %self.plan.name,
                    %src,
                    "another router also claims to own the addresses (priority 255): lowering ours to 254"
                ),
            }
        }
        self.sync_xdp(io);
        if let Some(mut t) = timing.filter(|t| t.steps.announced_us > 0) {
            t.steps.xdp_sync_us = t.watch.elapsed_us();
            debug!(instance = %self.plan.name, steps = ?t.steps, "takeover timed (µs)");
            self.counters.last_takeover = Some(t.steps);
        }
    }

    /// An advert went out at `now`: the longest gap between two of a MASTER's is counted.
    fn note_advert(&mut self, now: MonoTime) {
        if self.fsm.state() != State::Master {
            self.last_advert = None;
            return;
        }
        if let Some(prev) = self.last_advert {
            let gap = now.saturating_since(prev).0;
            self.counters.max_advert_gap_us = self.counters.max_advert_gap_us.max(gap);
        }
        self.last_advert = Some(now);
    }

    fn on_transition(&mut self, from: State, to: State, reason: Reason, io: &mut Io) {
        // A FAULT names what caused it; leaving FAULT names what recovered.
        let cause = match reason {
            Reason::Fault | Reason::Recovered => self.transition_cause.take(),
            _ => None,
        };
        let why = cause.as_deref().unwrap_or("");
        info!(
            instance = %self.plan.name,
            from = %from,
            to = %to,
            reason = ?reason,
            cause = why,
            "({}) Entering {} STATE{}{}",
            self.plan.name,
            to,
            if why.is_empty() { "" } else { ": " },
            why
        );
        if to == State::Master {
            self.counters.became_master += 1;
            // keepalived restarts the AH sequence when becoming master.
            self.ah_seq = 0;
        }
        if from == State::Master {
            self.counters.released_master += 1;
            self.second_burst = None;
            self.refresh_at = None;
            self.last_advert = None;
        }
        let shown = match &cause {
            Some(c) => format!("{reason:?}: {c}"),
            None => format!("{reason:?}"),
        };
        self.last_transition = Some((shown, unix_secs()));
        io.events.push(VrrpEvent::Transition {
            instance: self.plan.name.clone(),
            from,
            to,
            reason,
            cause,
            priority: self.fsm.priority(),
        });
    }
}

/// The interface of each VIP of `plan`: its `dev`, else the VMAC or the instance's own.
pub fn resolve_vips(
    plan: &InstancePlan,
    place: &Placement,
    links: &Links,
) -> Result<Vec<u32>, RunnerError> {
    let default = place.vmac_index.unwrap_or(place.base_ifindex);
    let vmac_name = plan.vmac.as_ref().map(|v| v.name.as_str());
    plan.vips
        .iter()
        .map(|v| match &v.dev {
            None => Ok(default),
            // The instance's own VMAC, which a link dump taken before it existed lacks.
            Some(dev) if Some(dev.as_str()) == vmac_name && place.vmac_index.is_some() => {
                Ok(default)
            }
            Some(dev) => links.index_of(dev).ok_or_else(|| RunnerError::NoInterface {
                name: plan.name.clone(),
                ifname: dev.clone(),
            }),
        })
        .collect()
}

/// The address adverts come from when none is configured: the interface's first primary
/// IPv4 address, or its IPv6 link-local address (RFC 5798 §5.1.2.2).
fn primary_address(
    nl: &mut Netlink,
    ifindex: u32,
    family: Family,
) -> Result<Option<IpAddr>, NetlinkError> {
    let addrs = nl.addresses(ifindex)?;
    Ok(match family {
        Family::V4 => addrs
            .iter()
            .filter(|a| a.addr.is_ipv4() && !a.secondary)
            .map(|a| a.addr)
            .next(),
        Family::V6 => addrs
            .iter()
            .filter_map(|a| match a.addr {
                IpAddr::V6(v) if v.is_unicast_link_local() => Some(a.addr),
                _ => None,
            })
            .next(),
    })
}
