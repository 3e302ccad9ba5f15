//! One running `vrrp_instance`: its state machine plus the I/O it owns (send socket, VIPs,
//! announcements, counters). The engine feeds it; it turns the state machine's actions into
//! packets and netlink calls.

use std::collections::BTreeMap;
use std::io;
use std::net::IpAddr;

use tracing::{debug, error, info};

use super::apply;
use super::clock::unix_secs;
use super::garp::Announcer;
use super::netlink::{Link, Netlink, NetlinkError};
use super::pacer::Message;
use super::plan::{garp_lane, AuthPlan, InstancePlan};
use super::receive::Rx;
use super::socket::TxSocket;
use super::status::{InstanceCounters, InstanceStatus};
use super::tracking::{effect, effective, file_effect, Effect, ObjKind, Objects};
use super::vmac::Vmac;
use super::xdp::XdpPath;
use super::xdp_sync::Signature;
use crate::config::model::vrrp::{IpAddress, Route, Rule};
use crate::units::Micros;
use crate::family::Family;
use crate::vrrp::auth::encode_ipv4_ah;
use crate::vrrp::fsm::{Action, ConfigError, Input, Instance, Reason, State};
use crate::vrrp::ipv4::IPV4_HEADER_LEN;
use crate::vrrp::ipv4::{encode_ipv4_packet, Ipv4Tx};
use crate::vrrp::packet::{
    encode, Advert, Auth, EncodeError, Version, IPPROTO_VRRP, MCAST_V4,
};
use crate::time::MonoTime;
use crate::vrrp::validate::{self, Accepted, Dropped, RxExpect};
use xdp_watch::Watch;

mod xdp_watch;

/// Something the rest of the daemon must hear about (notify scripts, FIFO, mail, logs).
#[derive(Debug, Clone)]
pub enum Event {
    Transition {
        instance: String,
        from: State,
        to: State,
        reason: Reason,
        priority: u8,
    },
    /// As master we heard a lower-priority advert (`notify_master_rx_lower_pri`).
    LowerPriority { instance: String, src: IpAddr },
}

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
    Socket { name: String, source: io::Error },
    #[error("vrrp_instance {name}: {source}")]
    Netlink { name: String, source: NetlinkError },
    #[error("vrrp_instance {name}: {source}")]
    Config { name: String, source: ConfigError },
}

/// A burst of gratuitous ARPs / NAs still to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Burst {
    at: MonoTime,
    count: u32,
}

pub struct Runner {
    pub plan: InstancePlan,
    /// The interface adverts are sent and received on: the instance's interface, or its
    /// VMAC (`usevmac` without `vmac_xmit_base`).
    pub ifindex: u32,
    pub io_ifname: String,
    pub mac: [u8; 6],
    pub src: IpAddr,
    pub fsm: Instance,
    tx: TxSocket,
    ip_id: u16,
    ah_seq: u32,
    ah_last_rx: u32,
    counters: InstanceCounters,
    drops: validate::Counters,
    second_burst: Option<Burst>,
    refresh_at: Option<MonoTime>,
    last_transition: Option<(String, u64)>,
    /// Up/down of each tracked object: own interface, `track_interface`s, `track_script`s.
    link_up: bool,
    tracked_ifs: BTreeMap<String, bool>,
    /// Scripts, processes and files, as last reported.
    objects: Objects,
    faulted: bool,
    /// FAULT from this instance's own tracked objects (not from its sync group).
    own_fault: bool,
    /// Another member of the sync group has its own fault.
    group_fault: bool,
    /// VIP device name → ifindex, resolved when the instance starts.
    vip_ifindex: Vec<u32>,
    /// The receive checks' expectations, built once; the per-packet parts are updated.
    expect: RxExpect,
    /// The advert we send, built once; only the priority changes.
    advert: Advert,
    /// The `usevmac` macvlan, removed when the runner goes.
    vmac: Option<Vmac>,
    /// Send VRRPv3 IPv4 unicast checksums over 224.0.0.18 (keepalived before 2.0.8).
    old_checksum: bool,
    /// The instance's own interface (the VMAC's parent): where the XDP program sees its
    /// adverts and ARP.
    pub base_ifindex: u32,
    /// The last advert accepted, as the kernel would recognise it again.
    last_sig: Option<Signature>,
    /// Who runs the Master_Down_Timer while following (XDP path).
    watch: Watch,
    /// The advert the kernel was told to absorb (kept apart from `last_sig`, which the next
    /// accepted advert overwrites).
    followed_sig: Option<Signature>,
    /// When the state machine last heard an advert (real or replayed from the kernel).
    fed_at: MonoTime,
    /// Another instance has the same interface, family and VRID (unicast instances told
    /// apart by peer): the kernel's per-VRID entry cannot serve both, so both stay on the
    /// raw socket.
    pub xdp_shared: bool,
}

impl Runner {
    /// Opens what the instance needs. Fails without side effects, so a reload that cannot
    /// start an instance leaves the running config alone.
    pub fn new(
        plan: InstancePlan,
        nl: &mut Netlink,
        links: &[Link],
        known: &Objects,
    ) -> Result<Self, RunnerError> {
        let name = plan.name.clone();
        let find = |ifname: &str| links.iter().find(|l| l.name == ifname);
        let base = find(&plan.ifname).ok_or_else(|| RunnerError::NoInterface {
            name: name.clone(),
            ifname: plan.ifname.clone(),
        })?;
        let nl_err = |source| RunnerError::Netlink {
            name: name.clone(),
            source,
        };
        let base_src = primary_address(nl, base.index, plan.family).map_err(nl_err)?;
        let src = match plan.src_ip.or(base_src) {
            Some(a) => a,
            None => {
                return Err(RunnerError::NoSource {
                    name: name.clone(),
                    ifname: plan.ifname.clone(),
                    what: match plan.family {
                        Family::V4 => "IPv4",
                        Family::V6 => "IPv6 link-local",
                    },
                })
            }
        };
        let vmac = match &plan.vmac {
            None => None,
            Some(v) => {
                let ll = match base_src {
                    Some(IpAddr::V6(a)) => Some(a),
                    _ => None,
                };
                Some(
                    Vmac::create(
                        nl,
                        &v.name,
                        (base.index, &base.name),
                        v.mac,
                        plan.family,
                        ll,
                    )
                    .map_err(nl_err)?,
                )
            }
        };
        // Where adverts go: the VMAC, unless `vmac_xmit_base` keeps them on the parent.
        let (io_index, io_name) = match &vmac {
            Some(v) if !plan.vmac_xmit_base => (v.index, v.name.clone()),
            _ => (base.index, base.name.clone()),
        };
        // VIPs without `dev` go on the VMAC when there is one.
        let default_vip_dev = vmac.as_ref().map_or(base.index, |v| v.index);
        let mut vip_ifindex = Vec::with_capacity(plan.vips.len());
        for v in &plan.vips {
            let index = match &v.dev {
                None => default_vip_dev,
                Some(dev) => {
                    find(dev)
                        .ok_or_else(|| RunnerError::NoInterface {
                            name: name.clone(),
                            ifname: dev.to_owned(),
                        })?
                        .index
                }
            };
            vip_ifindex.push(index);
        }
        let link = base;
        let mut tracked_ifs = BTreeMap::new();
        for t in &plan.track_interfaces {
            let up = find(&t.ifname).is_some_and(|l| l.up);
            tracked_ifs.insert(t.ifname.clone(), up);
        }
        let objects: Objects = tracked_keys(&plan)
            .into_iter()
            .map(|key| {
                let v = known
                    .get(&key)
                    .copied()
                    .unwrap_or_else(|| initial_value(&plan, &key));
                (key, v)
            })
            .collect();
        let tx = TxSocket::open(plan.family, &io_name, io_index, src).map_err(|source| {
            RunnerError::Socket {
                name: name.clone(),
                source,
            }
        })?;
        let fsm = Instance::new(plan.fsm_config(src)).map_err(|source| RunnerError::Config {
            name: name.clone(),
            source,
        })?;
        Ok(Runner {
            ifindex: io_index,
            io_ifname: io_name,
            mac: vmac
                .as_ref()
                .map(|v| v.mac)
                .or(link.mac)
                .unwrap_or_default(),
            src,
            fsm,
            tx,
            ip_id: 0,
            ah_seq: 0,
            ah_last_rx: 0,
            counters: InstanceCounters::default(),
            drops: validate::Counters::default(),
            second_burst: None,
            refresh_at: None,
            last_transition: None,
            link_up: link.up,
            tracked_ifs,
            objects,
            faulted: false,
            own_fault: false,
            group_fault: false,
            vip_ifindex,
            expect: expectations(&plan),
            advert: advert_of(&plan),
            vmac,
            old_checksum: plan.old_unicast_checksum,
            base_ifindex: base.index,
            last_sig: None,
            watch: Watch::Off,
            followed_sig: None,
            fed_at: MonoTime::ZERO,
            xdp_shared: false,
            plan,
        })
    }

    /// Whether `p` can replace this instance's plan in place (a reload): the same router on
    /// the wire, the same sockets, the same interfaces.
    pub fn same_identity(&self, p: &InstancePlan) -> bool {
        let a = &self.plan;
        a.name == p.name
            && a.ifname == p.ifname
            && a.family == p.family
            && a.version == p.version
            && a.vrid == p.vrid
            && a.vmac == p.vmac
            && a.vmac_xmit_base == p.vmac_xmit_base
            && a.src_ip == p.src_ip
            && a.mcast_dst == p.mcast_dst
            && matches!(a.auth, AuthPlan::Ah(_)) == matches!(p.auth, AuthPlan::Ah(_))
            && (a.priority == 255) == (p.priority == 255)
    }

    /// The interface of each VIP of `p` (`dev`, else the VMAC or the instance's interface).
    pub fn resolve_vips(&self, p: &InstancePlan, links: &[Link]) -> Result<Vec<u32>, RunnerError> {
        let default = match &self.vmac {
            Some(v) => v.index,
            None => links
                .iter()
                .find(|l| l.name == p.ifname)
                .map(|l| l.index)
                .ok_or_else(|| RunnerError::NoInterface {
                    name: p.name.clone(),
                    ifname: p.ifname.clone(),
                })?,
        };
        p.vips
            .iter()
            .map(|v| match &v.dev {
                None => Ok(default),
                Some(dev) => links
                    .iter()
                    .find(|l| &l.name == dev)
                    .map(|l| l.index)
                    .ok_or_else(|| RunnerError::NoInterface {
                        name: p.name.clone(),
                        ifname: dev.clone(),
                    }),
            })
            .collect()
    }

    /// Applies a changed plan in place, keeping the state (see `Instance::reconfigure`). A
    /// MASTER swaps only the VIPs, routes and rules that changed and announces the new VIPs.
    /// `Err` (nothing changed) when the state machine refuses: restart the instance instead.
    pub fn update(
        &mut self,
        now: MonoTime,
        p: InstancePlan,
        vip_ifindex: Vec<u32>,
        known: &Objects,
        ctx: &mut Ctx<'_>,
    ) -> Result<(), Box<InstancePlan>> {
        self.catch_up(now, ctx);
        if self.fsm.reconfigure(p.fsm_config(self.src)).is_err() {
            return Err(Box::new(p));
        }
        // The checks may have changed (password, interval, VIP list): the kernel must not
        // keep absorbing the old advert; the next one is checked afresh and followed again.
        self.last_sig = None;
        let master = self.fsm.state() == State::Master;
        if master {
            let old: Vec<(u32, &IpAddress)> = self
                .vip_ifindex
                .iter()
                .copied()
                .zip(&self.plan.vips)
                .collect();
            let new: Vec<(u32, &IpAddress)> = vip_ifindex.iter().copied().zip(&p.vips).collect();
            let gone: Vec<_> = old.iter().filter(|a| !new.contains(a)).copied().collect();
            let added: Vec<_> = new.iter().filter(|a| !old.contains(a)).copied().collect();
            let gone_routes: Vec<Route> = self
                .plan
                .routes
                .iter()
                .filter(|r| !p.routes.contains(r))
                .cloned()
                .collect();
            let new_routes: Vec<Route> = p
                .routes
                .iter()
                .filter(|r| !self.plan.routes.contains(r))
                .cloned()
                .collect();
            let gone_rules: Vec<Rule> = self
                .plan
                .rules
                .iter()
                .filter(|r| !p.rules.contains(r))
                .cloned()
                .collect();
            let new_rules: Vec<Rule> = p
                .rules
                .iter()
                .filter(|r| !self.plan.rules.contains(r))
                .cloned()
                .collect();
            let owner = p.name.clone();
            apply::rules(ctx.nl, false, &gone_rules, &owner);
            apply::routes(ctx.nl, false, &gone_routes, ctx.links, &owner);
            let released: Vec<IpAddr> = gone.iter().map(|(_, v)| v.addr).collect();
            ctx.announcer.forget(&released);
            // The XDP program answers ARP / NS for VIPs on the instance's interface or VMAC.
            let vmac = self.vmac.as_ref().map(|v| v.index);
            let on_xdp = |list: &[(u32, &IpAddress)]| -> Vec<IpAddr> {
                list.iter()
                    .filter(|(i, _)| *i == self.base_ifindex || Some(*i) == vmac)
                    .map(|(_, v)| v.addr)
                    .collect()
            };
            let (xdp_gone, xdp_added) = (on_xdp(&gone), on_xdp(&added));
            if let Some(xdp) = ctx.xdp.as_deref_mut() {
                if xdp.is_attached(self.base_ifindex) {
                    let router = ipv6_forwarding(&self.plan.ifname);
                    xdp.own_vips(self.base_ifindex, &xdp_gone, self.mac, router, false);
                    xdp.own_vips(self.base_ifindex, &xdp_added, self.mac, router, true);
                }
            }
            apply::addresses(ctx.nl, false, &gone, &owner);
            apply::addresses(ctx.nl, true, &added, &owner);
            apply::routes(ctx.nl, true, &new_routes, ctx.links, &owner);
            apply::rules(ctx.nl, true, &new_rules, &owner);
        }
        let announce = master && p.vips != self.plan.vips;
        // Tracked objects: keep known states, take new ones.
        let mut objects = Objects::new();
        for key in tracked_keys(&p) {
            let v = self
                .objects
                .get(&key)
                .or_else(|| known.get(&key))
                .copied()
                .unwrap_or_else(|| initial_value(&p, &key));
            objects.insert(key, v);
        }
        self.objects = objects;
        let mut tracked_ifs = BTreeMap::new();
        for t in &p.track_interfaces {
            let up = ctx.links.iter().any(|l| l.name == t.ifname && l.up);
            tracked_ifs.insert(t.ifname.clone(), up);
        }
        self.tracked_ifs = tracked_ifs;
        self.expect = expectations(&p);
        self.advert = advert_of(&p);
        self.vip_ifindex = vip_ifindex;
        self.plan = p;
        if announce {
            let g = self.plan.garp;
            self.announce(now, g.master_repeat, ctx);
        }
        self.run_actions(now, ctx);
        self.retrack(now, ctx);
        Ok(())
    }

    /// Starts the state machine, in FAULT if a tracked object is already down.
    pub fn start(&mut self, now: MonoTime, ctx: &mut Ctx<'_>) {
        self.fsm.handle(now, Input::Startup);
        self.run_actions(now, ctx);
        self.retrack(now, ctx);
    }

    /// The earliest time something is due: the protocol timer or an announcement.
    pub fn deadline(&self) -> Option<MonoTime> {
        [
            // While the kernel timer watches the master, nothing to wake up for.
            self.fsm
                .poll_timeout()
                .filter(|_| self.watch != Watch::Kernel),
            self.second_burst.map(|b| b.at),
            self.refresh_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    pub fn on_timer(&mut self, now: MonoTime, ctx: &mut Ctx<'_>) {
        if self.watch != Watch::Kernel && self.fsm.poll_timeout().is_some_and(|t| t <= now) {
            // RFC 5798 §6.4.2 Master_Down_Timer: on the XDP path, first ask the kernel
            // whether adverts kept coming without waking us.
            if !self.resync_from_kernel(now, ctx) {
                self.fsm.handle(now, Input::Timeout);
            }
            self.run_actions(now, ctx);
        }
        if let Some(b) = self.second_burst.filter(|b| b.at <= now) {
            self.second_burst = None;
            self.announce(now, b.count, ctx);
        }
        if let Some(at) = self.refresh_at.filter(|t| *t <= now) {
            let every = self.plan.garp.master_refresh;
            self.refresh_at = Some(at + every);
            self.announce(now, self.plan.garp.master_refresh_repeat, ctx);
        }
    }

    /// Updates the per-packet part of the receive checks: keepalived's `check_addr` (skip
    /// the address list for the master we follow, with `skip_check_adv_addr`) and the AH
    /// anti-replay counter.
    fn update_expect(&mut self, src: IpAddr) {
        let following =
            self.fsm.state() == State::Backup && self.fsm.master().is_some_and(|m| m.addr == src);
        self.expect.check_adv_addr = !(self.plan.skip_check_adv_addr && following);
        if let validate::ExpectAuth::Ah { last_seq, .. } = &mut self.expect.auth {
            *last_seq = self.ah_last_rx;
        }
    }

    /// What the receive path delivered for this VRID.
    pub fn on_rx(&mut self, rx: Rx<'_>, ctx: &mut Ctx<'_>) {
        if !matches!(rx, Rx::MasterDown { .. }) {
            self.catch_up(super::clock::mono_now(), ctx);
        }
        match rx {
            Rx::Packet { bytes, v6, at, .. } => self.on_packet(at, bytes, v6, ctx),
            Rx::Message {
                bytes,
                src,
                dst,
                hop_limit,
                at,
                ..
            } => {
                if src == self.src {
                    return;
                }
                self.update_expect(src);
                let r = validate::receive_message(bytes, src, dst, Some(hop_limit), &self.expect);
                self.on_checked(at, src, dst, bytes, r, ctx);
            }
            Rx::MasterDown { last_seen, .. } => self.on_master_down(last_seen, ctx),
            Rx::Advert {
                src,
                priority,
                adver_int,
                at,
                ..
            } => self.on_advert(at, src, priority, adver_int, ctx),
        }
    }

    /// A validated advert: into the state machine.
    fn on_advert(
        &mut self,
        now: MonoTime,
        src: IpAddr,
        priority: u8,
        adver_int: crate::units::Centis,
        ctx: &mut Ctx<'_>,
    ) {
        self.counters.adverts_received += 1;
        if priority == 0 {
            self.counters.priority_zero_received += 1;
        }
        self.fed_at = now;
        self.fsm.handle(
            now,
            Input::Advert {
                src,
                priority,
                adver_int,
            },
        );
        self.run_actions(now, ctx);
    }

    /// One received packet for this VRID: IPv4 as read from the raw socket (header
    /// included), IPv6 as the VRRP message with its ancillary data.
    fn on_packet(
        &mut self,
        now: MonoTime,
        pkt: &[u8],
        v6: Option<(std::net::Ipv6Addr, std::net::Ipv6Addr, Option<u8>)>,
        ctx: &mut Ctx<'_>,
    ) {
        let src = match v6 {
            Some((s, _, _)) => IpAddr::V6(s),
            None => match crate::vrrp::ipv4::parse_ipv4_packet(pkt) {
                Ok((ip, _)) => ip.src_ip(),
                Err(e) => {
                    self.drops.inc(validate::Reason::of_decode_error(&e));
                    return;
                }
            },
        };
        if src == self.src {
            // Our own advert looped back (another socket on this host).
            return;
        }
        self.update_expect(src);
        let result = match v6 {
            None => validate::receive_ipv4(pkt, &self.expect),
            Some((s, dst, hops)) => validate::receive_ipv6(pkt, s, dst, hops, &self.expect),
        };
        let (msg, dst) = match v6 {
            Some((_, d, _)) => (pkt, IpAddr::V6(d)),
            None => match crate::vrrp::ipv4::parse_ipv4_packet(pkt) {
                Ok((ip, m)) => (m, ip.dst_ip()),
                Err(_) => (pkt, src),
            },
        };
        self.on_checked(now, src, dst, msg, result, ctx);
    }

    /// The outcome of the receive checks, from either path.
    fn on_checked(
        &mut self,
        now: MonoTime,
        src: IpAddr,
        dst: IpAddr,
        msg: &[u8],
        result: Result<Accepted, Dropped>,
        ctx: &mut Ctx<'_>,
    ) {
        match result {
            Ok(Accepted {
                advert,
                ah_seq,
                old_unicast_checksum,
            }) => {
                if let Some(seq) = ah_seq {
                    self.ah_last_rx = seq;
                }
                if old_unicast_checksum && !self.old_checksum {
                    // keepalived's `unicast_chksum_compat` auto mode: answer in kind.
                    info!(
                        instance = %self.plan.name,
                        "peer {src} uses the pre-2.0.8 unicast checksum: sending it too"
                    );
                    self.old_checksum = true;
                }
                self.last_sig = Signature::of(msg, src, dst);
                self.on_advert(now, src, advert.priority, advert.adver_int, ctx);
            }
            Err(Dropped(reason)) => {
                self.drops.inc(reason);
                if reason.is_error() {
                    debug!(
                        instance = %self.plan.name,
                        reason = reason.name(),
                        "advert dropped"
                    );
                }
            }
        }
    }

    pub fn on_link(&mut self, now: MonoTime, link: &Link, ctx: &mut Ctx<'_>) {
        self.catch_up(now, ctx);
        let mut changed = false;
        // The instance's own interface (a VMAC follows its parent's carrier).
        if link.name == self.plan.ifname && link.up != self.link_up {
            info!(
                instance = %self.plan.name,
                "interface {} is {}",
                self.plan.ifname,
                if link.up { "up" } else { "down" }
            );
            self.link_up = link.up;
            changed = true;
        }
        if let Some(up) = self.tracked_ifs.get_mut(&link.name) {
            if *up != link.up {
                *up = link.up;
                changed = true;
            }
        }
        if changed {
            self.retrack(now, ctx);
        }
    }

    /// A script, process or file changed state.
    pub fn on_object(
        &mut self,
        now: MonoTime,
        kind: ObjKind,
        name: &str,
        value: i64,
        ctx: &mut Ctx<'_>,
    ) {
        self.catch_up(now, ctx);
        let key = (kind, name.to_owned());
        if let Some(v) = self.objects.get_mut(&key) {
            if *v != value {
                debug!(instance = %self.plan.name, ?kind, name, value, "tracked object");
                *v = value;
                self.retrack(now, ctx);
            }
        }
    }

    /// Whether this instance's own tracked objects put it in FAULT.
    pub fn own_fault(&self) -> bool {
        self.own_fault
    }

    /// Another sync group member has (or no longer has) its own fault. Returns whether
    /// anything changed.
    pub fn set_group_fault(&mut self, fault: bool, now: MonoTime, ctx: &mut Ctx<'_>) -> bool {
        if self.group_fault == fault {
            return false;
        }
        self.group_fault = fault;
        self.retrack(now, ctx);
        true
    }

    /// Recomputes the effective priority and FAULT from every tracked object.
    fn retrack(&mut self, now: MonoTime, ctx: &mut Ctx<'_>) {
        let own = if self.plan.dont_track_primary || self.link_up {
            Effect::Delta(0)
        } else {
            Effect::Fault
        };
        let ifs = self.plan.track_interfaces.iter().map(|t| {
            let up = self.tracked_ifs.get(&t.ifname).copied().unwrap_or(false);
            effect(up, t.weight, t.reverse)
        });
        let get = |kind, name: &str| self.objects.get(&(kind, name.to_owned())).copied();
        let scripts = self.plan.track_scripts.iter().map(|t| {
            let ok = get(ObjKind::Script, &t.script.name).unwrap_or(1) != 0;
            effect(ok, t.weight, t.reverse)
        });
        let processes = self.plan.track_processes.iter().map(|t| {
            let ok = get(ObjKind::Process, &t.process.name).unwrap_or(0) != 0;
            effect(ok, t.weight, t.reverse)
        });
        let files = self.plan.track_files.iter().map(|t| {
            let v = get(ObjKind::File, &t.file.name).unwrap_or(0);
            file_effect(v, t.weight, t.reverse)
        });
        let (prio, fault) = effective(
            self.plan.priority,
            std::iter::once(own)
                .chain(ifs)
                .chain(scripts)
                .chain(processes)
                .chain(files),
        );
        self.own_fault = fault;
        let fault = fault || self.group_fault;
        debug!(
            instance = %self.plan.name,
            prio,
            own_fault = self.own_fault,
            group_fault = self.group_fault,
            "tracking"
        );
        if prio != self.fsm.priority() && self.plan.priority != 255 {
            info!(
                instance = %self.plan.name,
                "effective priority {} -> {prio}",
                self.fsm.priority()
            );
            self.fsm.handle(now, Input::PriorityChange(prio));
            self.run_actions(now, ctx);
        }
        if fault != self.faulted {
            self.faulted = fault;
            let input = if fault {
                Input::InterfaceDown
            } else {
                Input::InterfaceUp
            };
            self.fsm.handle(now, input);
            self.run_actions(now, ctx);
        }
    }

    /// Feeds an operator or shutdown input.
    pub fn input(&mut self, now: MonoTime, input: Input, ctx: &mut Ctx<'_>) {
        self.catch_up(now, ctx);
        self.fsm.handle(now, input);
        self.run_actions(now, ctx);
    }

    fn run_actions(&mut self, now: MonoTime, ctx: &mut Ctx<'_>) {
        while let Some(a) = self.fsm.poll_action() {
            match a {
                Action::SendAdvert { priority } => self.send_advert(priority),
                // Accept_Mode is enforced by the engine's nftables tables (firewall.rs),
                // loaded before any instance starts.
                Action::AddVips { .. } => self.set_vips(true, ctx),
                Action::RemoveVips => self.set_vips(false, ctx),
                Action::SendGratuitous => {
                    let g = self.plan.garp;
                    self.announce(now, g.master_repeat, ctx);
                    self.second_burst = (g.master_delay > Micros(0)).then_some(Burst {
                        at: now + g.master_delay,
                        count: g.master_repeat,
                    });
                    self.refresh_at =
                        (g.master_refresh > Micros(0)).then_some(now + g.master_refresh);
                }
                Action::Transition { from, to, reason } => {
                    self.on_transition(from, to, reason, ctx)
                }
                Action::LowerPriorityAdvert { src, priority } => {
                    debug!(instance = %self.plan.name, %src, priority, "lower-priority advert while MASTER");
                    let g = self.plan.garp;
                    if g.lower_prio_repeat > 0 {
                        self.announce(now, g.lower_prio_repeat, ctx);
                        if g.lower_prio_delay > Micros(0) {
                            self.second_burst = Some(Burst {
                                at: now + g.lower_prio_delay,
                                count: g.lower_prio_repeat,
                            });
                        }
                    }
                    ctx.events.push(Event::LowerPriority {
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
        self.sync_xdp(ctx);
    }

    fn on_transition(&mut self, from: State, to: State, reason: Reason, ctx: &mut Ctx<'_>) {
        info!(
            instance = %self.plan.name,
            from = %from,
            to = %to,
            reason = ?reason,
            "({}) Entering {} STATE",
            self.plan.name,
            to
        );
        if to == State::Master {
            self.counters.became_master += 1;
        }
        if from == State::Master {
            self.counters.released_master += 1;
            self.second_burst = None;
            self.refresh_at = None;
        }
        if to == State::Master {
            // keepalived restarts the AH sequence when becoming master.
            self.ah_seq = 0;
        }
        self.last_transition = Some((format!("{reason:?}"), unix_secs()));
        ctx.events.push(Event::Transition {
            instance: self.plan.name.clone(),
            from,
            to,
            reason,
            priority: self.fsm.priority(),
        });
    }

    fn send_advert(&mut self, priority: u8) {
        self.advert.priority = priority;
        let advert = &self.advert;
        let n = if self.plan.mcast_dst.is_some() {
            1
        } else {
            self.plan.unicast_peers.len()
        };
        if self.plan.auth != AuthPlan::None && matches!(self.plan.auth, AuthPlan::Ah(_)) {
            self.ah_seq = self.ah_seq.wrapping_add(1);
        }
        for k in 0..n {
            let dst = match self.plan.mcast_dst {
                Some(g) => g,
                None => self.plan.unicast_peers[k].addr,
            };
            let bytes = match (self.src, dst) {
                (IpAddr::V4(s), IpAddr::V4(d)) => {
                    self.ip_id = self.ip_id.wrapping_add(1).max(1);
                    let mut ip = Ipv4Tx::new(s, d, self.ip_id);
                    if self.plan.is_unicast() {
                        ip.ttl = self.plan.unicast_ttl;
                    }
                    match self.plan.auth {
                        AuthPlan::Ah(key) => {
                            encode_ipv4_ah(advert, &ip, &key, self.ah_seq, self.plan.is_unicast())
                        }
                        _ if self.old_checksum && self.plan.version == Version::V3 => {
                            encode_old_checksum(advert, &ip)
                        }
                        _ => encode_ipv4_packet(advert, &ip),
                    }
                }
                (s, d) => encode(advert, s, d),
            };
            let bytes = match bytes {
                Ok(b) => b,
                Err(e) => {
                    error!(instance = %self.plan.name, "cannot encode an advert: {e}");
                    self.counters.send_errors += 1;
                    continue;
                }
            };
            match self.tx.send(&bytes, dst) {
                Ok(()) => {
                    self.counters.adverts_sent += 1;
                    if priority == 0 {
                        self.counters.priority_zero_sent += 1;
                    }
                }
                Err(e) => {
                    self.counters.send_errors += 1;
                    debug!(instance = %self.plan.name, %dst, "advert not sent: {e}");
                }
            }
        }
    }

    /// VIPs, then `virtual_routes`, then `virtual_rules` on MASTER; the reverse on leaving.
    fn set_vips(&mut self, add: bool, ctx: &mut Ctx<'_>) {
        let addrs: Vec<(u32, &crate::config::model::vrrp::IpAddress)> = self
            .vip_ifindex
            .iter()
            .copied()
            .zip(self.plan.vips.iter())
            .collect();
        let owner = &self.plan.name;
        let xdp_vips = self.vip_addrs();
        if let Some(xdp) = ctx.xdp.as_deref_mut() {
            if xdp.is_attached(self.base_ifindex) {
                let router = ipv6_forwarding(&self.plan.ifname);
                xdp.own_vips(self.base_ifindex, &xdp_vips, self.mac, router, add);
            }
        }
        if add {
            apply::addresses(ctx.nl, true, &addrs, owner);
            apply::routes(ctx.nl, true, &self.plan.routes, ctx.links, owner);
            apply::rules(ctx.nl, true, &self.plan.rules, owner);
        } else {
            let released: Vec<IpAddr> = self.plan.vips.iter().map(|v| v.addr).collect();
            ctx.announcer.forget(&released);
            apply::rules(ctx.nl, false, &self.plan.rules, owner);
            apply::routes(ctx.nl, false, &self.plan.routes, ctx.links, owner);
            apply::addresses(ctx.nl, false, &addrs, owner);
        }
    }

    fn announce(&mut self, now: MonoTime, count: u32, ctx: &mut Ctx<'_>) {
        if self.fsm.state() != State::Master {
            return;
        }
        let router = self.plan.family == Family::V6 && ipv6_forwarding(&self.plan.ifname);
        for _ in 0..count {
            for (v, &ifindex) in self.plan.vips.iter().zip(&self.vip_ifindex) {
                let mac = ctx.mac_of(ifindex).unwrap_or(self.mac);
                // keepalived paces a VMAC's announcements on its parent interface.
                let on_vmac = self.vmac.as_ref().is_some_and(|v| v.index == ifindex);
                let (pace_name, pace_index) = if on_vmac {
                    (self.plan.ifname.as_str(), self.base_ifindex)
                } else {
                    let name = ctx
                        .links
                        .iter()
                        .find(|l| l.index == ifindex)
                        .map_or("", |l| l.name.as_str());
                    (name, ifindex)
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
                match ctx.announcer.announce(now, msg, interval) {
                    Ok(()) => self.counters.gratuitous_sent += 1,
                    Err(e) => debug!(instance = %self.plan.name, "announcement not sent: {e}"),
                }
            }
        }
    }

    pub fn status(&self) -> InstanceStatus {
        let mut counters = self.counters.clone();
        counters.rx_dropped = self
            .drops
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.to_owned(), n))
            .collect();
        let state = self.fsm.state();
        let (master, master_priority) = match (state, self.fsm.master()) {
            (State::Master, _) => (Some(self.src.to_string()), Some(self.fsm.priority())),
            (_, Some(m)) => (Some(m.addr.to_string()), Some(m.priority)),
            _ => (None, None),
        };
        InstanceStatus {
            name: self.plan.name.clone(),
            interface: self.plan.ifname.clone(),
            family: match self.plan.family {
                Family::V4 => "inet".into(),
                Family::V6 => "inet6".into(),
            },
            vrid: self.plan.vrid,
            version: self.plan.version.number(),
            state: state.as_str().into(),
            priority: self.plan.priority,
            effective_priority: self.fsm.priority(),
            source: self.src.to_string(),
            master,
            master_priority,
            vips: self
                .plan
                .vips
                .iter()
                .map(|v| format!("{}/{}", v.addr, v.prefix_len))
                .collect(),
            last_transition: self.last_transition.as_ref().map(|t| t.0.clone()),
            last_transition_at: self.last_transition.as_ref().map(|t| t.1),
            sync_group: self.plan.sync_group.clone(),
            counters,
        }
    }
}

/// What a runner borrows from the engine while handling an input.
pub struct Ctx<'a> {
    pub nl: &'a mut Netlink,
    /// The XDP fast path, when it runs.
    pub xdp: Option<&'a mut XdpPath>,
    pub announcer: &'a mut Announcer,
    pub links: &'a [Link],
    pub events: &'a mut Vec<Event>,
}

impl Ctx<'_> {
    fn mac_of(&self, ifindex: u32) -> Option<[u8; 6]> {
        self.links
            .iter()
            .find(|l| l.index == ifindex)
            .and_then(|l| l.mac)
    }
}

/// Whether the interface forwards IPv6: the Router flag of our neighbour advertisements
/// (RFC 4861 §4.4), as keepalived sets it.
fn ipv6_forwarding(ifname: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{ifname}/forwarding"))
        .is_ok_and(|v| v.trim() == "1")
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

/// The receive checks' fixed expectations for an instance.
fn expectations(plan: &InstancePlan) -> RxExpect {
    RxExpect {
        vrid: plan.vrid,
        version: plan.version,
        family: plan.family,
        adver_int: plan.adver_int,
        vips: plan.advert_addrs.clone(),
        check_adv_addr: true,
        auth: plan.auth.expect(),
        unicast_peers: (!plan.unicast_peers.is_empty()).then(|| plan.unicast_peers.clone()),
        check_unicast_src: plan.check_unicast_src,
    }
}

/// The advert an instance sends (priority filled in per send).
fn advert_of(plan: &InstancePlan) -> Advert {
    Advert {
        version: plan.version,
        vrid: plan.vrid,
        priority: plan.priority,
        adver_int: plan.adver_int,
        addrs: plan.advert_addrs.clone(),
        auth: match plan.auth {
            AuthPlan::None => Auth::None,
            AuthPlan::Pass(k) => Auth::Pass(k),
            AuthPlan::Ah(_) => Auth::Ah,
        },
    }
}

/// A VRRPv3 IPv4 unicast advert with its checksum computed over 224.0.0.18 instead of the
/// peer's address, as keepalived did before 2.0.8 (`unicast_chksum_compat`).
fn encode_old_checksum(advert: &Advert, ip: &Ipv4Tx) -> Result<Vec<u8>, EncodeError> {
    let msg = encode(advert, ip.src.into(), MCAST_V4.into())?;
    let mut out = Vec::with_capacity(IPV4_HEADER_LEN + msg.len());
    out.extend_from_slice(&ip.header(IPPROTO_VRRP, msg.len()));
    out.extend_from_slice(&msg);
    Ok(out)
}

/// Every script, process and file an instance tracks.
fn tracked_keys(p: &InstancePlan) -> Vec<(ObjKind, String)> {
    let scripts = p
        .track_scripts
        .iter()
        .map(|t| (ObjKind::Script, t.script.name.clone()));
    let processes = p
        .track_processes
        .iter()
        .map(|t| (ObjKind::Process, t.process.name.clone()));
    let files = p
        .track_files
        .iter()
        .map(|t| (ObjKind::File, t.file.name.clone()));
    scripts.chain(processes).chain(files).collect()
}

/// A tracked object's state before anything was heard: a script is up unless `init_fail`;
/// a process is down until seen; a file reads 0.
fn initial_value(p: &InstancePlan, key: &(ObjKind, String)) -> i64 {
    match key.0 {
        ObjKind::Script => p
            .track_scripts
            .iter()
            .find(|t| t.script.name == key.1)
            .map_or(1, |t| i64::from(!t.script.init_fail)),
        ObjKind::Process | ObjKind::File => 0,
    }
}
