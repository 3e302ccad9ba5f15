//! The `xdp` load-balancer backend (DESIGN.md §7): the changes the checkers produce,
//! written into the XDP program's LB maps. Each service owns a Maglev table (a slot of the
//! memory-mapped table area); a change to its real servers or weights builds the table
//! anew into a spare slot and points the service at it, so packets see the old table or
//! the new one, never a mix. A removed real server is marked not live: its flows in the
//! connection table are given a new real server by the kernel on their next packet.
//!
//! The backend runs on the checkers' thread; the main thread attaches the program to the
//! VIPs' interfaces (`sites`) and reads the LB counters for `ha status`.

pub mod forwarding;
pub mod maps;
pub mod sites;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::{IpAddr, SocketAddr};

use bytemuck::Zeroable;
use ha_common::{LbReal, LbVipKey, LB_EMPTY, LB_MAX_REALS, LB_MAX_SERVICES, LB_REAL_LIVE};
use tracing::{debug, warn};

use self::maps::LbMaps;
use crate::config::model::lvs::forwarding::Forwarding;
use crate::daemon::netlink::Netlink;
use crate::lb::backend::{KernelView, Refused};
use crate::lb::xdp::{real_value, service_value, vip_addr, vip_key, XdpSettings};
use crate::lb::{maglev, Change, Dest, LbBackend, LbError, LbSettings, LbState, Service};
use crate::lb::{ServiceKey, ServiceParams};

struct Svc {
    id: u32,
    table: u32,
    key: LbVipKey,
    vip: SocketAddr,
    params: ServiceParams,
    dests: BTreeMap<SocketAddr, (u32, Dest)>,
}

pub struct XdpBackend {
    maps: LbMaps,
    settings: XdpSettings,
    services: BTreeMap<ServiceKey, Svc>,
    /// Ids and tables are reused oldest-freed first, so a packet still reading a table
    /// that was just swapped out never sees it rewritten.
    free_tables: VecDeque<u32>,
    free_services: VecDeque<u32>,
    free_reals: VecDeque<u32>,
    netlink: Option<Netlink>,
    /// Next hops (interface, address) with the real servers that use them, and the
    /// managed neighbour entries this backend added (only those are removed).
    users: HashMap<(u32, IpAddr), usize>,
    created: HashSet<(u32, IpAddr)>,
}

impl XdpBackend {
    pub fn new(maps: LbMaps, settings: &LbSettings) -> XdpBackend {
        let tables = maps.maglev.count;
        XdpBackend {
            maps,
            settings: settings.xdp.clone(),
            services: BTreeMap::new(),
            free_tables: (0..tables).collect(),
            free_services: (0..LB_MAX_SERVICES).collect(),
            free_reals: (0..LB_MAX_REALS).collect(),
            netlink: Netlink::new()
                .map_err(|e| warn!("XDP LB: no netlink for neighbour entries: {e}"))
                .ok(),
            users: HashMap::new(),
            created: HashSet::new(),
        }
    }

    fn add_service(&mut self, key: &ServiceKey, params: &ServiceParams) -> Result<(), String> {
        if self.services.contains_key(key) {
            return self.edit_service(key, params);
        }
        let (vk, vip) = vip_key(key)?;
        let site = self.settings.sites.get(&vip.ip()).ok_or_else(|| {
            format!(
                "{} is in no VRRP instance and on no interface here, so XDP never sees \
                 its traffic",
                vip.ip()
            )
        })?;
        // One table stays spare for rebuilds.
        if self.free_tables.len() < 2 {
            return Err(
                "the XDP Maglev table area is full (sized at start): restart ha to \
                        grow it"
                    .into(),
            );
        }
        let id = self
            .free_services
            .pop_front()
            .ok_or("more services than the XDP forwarder holds (1024)")?;
        let table = self.free_tables.pop_front().expect("checked above");
        self.maps
            .maglev
            .write(table, &vec![LB_EMPTY; self.maps.maglev.size as usize]);
        LbMaps::reset_stats(&mut self.maps.service_stats, id);
        let value = service_value(id, table, params, vip.ip(), site);
        if let Err(e) = self.maps.services.insert(vk, value, 0) {
            self.free_services.push_back(id);
            self.free_tables.push_back(table);
            return Err(format!("lb_services: {e}"));
        }
        let va = vip_addr(vip.ip());
        let n = self.maps.vips.get(&va, 0).unwrap_or(0);
        let _ = self.maps.vips.insert(va, n + 1, 0);
        self.services.insert(
            *key,
            Svc {
                id,
                table,
                key: vk,
                vip,
                params: params.clone(),
                dests: BTreeMap::new(),
            },
        );
        Ok(())
    }

    fn edit_service(&mut self, key: &ServiceKey, params: &ServiceParams) -> Result<(), String> {
        let svc = self.services.get_mut(key).ok_or("not in the XDP table")?;
        let old = std::mem::replace(&mut svc.params, params.clone());
        let r = write_service(&mut self.maps.services, &self.settings, svc);
        if r.is_err() {
            svc.params = old;
        }
        r
    }

    fn del_service(&mut self, key: &ServiceKey) -> Result<(), String> {
        let Some(svc) = self.services.remove(key) else {
            return Ok(());
        };
        let _ = self.maps.services.remove(&svc.key);
        let va = vip_addr(svc.vip.ip());
        match self.maps.vips.get(&va, 0).unwrap_or(1) {
            0 | 1 => {
                let _ = self.maps.vips.remove(&va);
            }
            n => {
                let _ = self.maps.vips.insert(va, n - 1, 0);
            }
        }
        for (addr, (id, _)) in &svc.dests {
            let _ = self.maps.reals.set(*id, LbReal::zeroed(), 0);
            self.free_reals.push_back(*id);
            self.unresolve(addr.ip());
        }
        self.free_tables.push_back(svc.table);
        self.free_services.push_back(svc.id);
        Ok(())
    }

    fn set_dest(&mut self, key: &ServiceKey, addr: SocketAddr, dest: &Dest) -> Result<(), String> {
        let site = {
            let svc = self
                .services
                .get(key)
                .ok_or("its service is not in the XDP table")?;
            self.settings
                .sites
                .get(&svc.vip.ip())
                .cloned()
                .unwrap_or_default()
        };
        let svc = self.services.get_mut(key).expect("checked above");
        let fresh = !svc.dests.contains_key(&addr);
        let id = match svc.dests.get(&addr) {
            Some((id, _)) => *id,
            None => *self
                .free_reals
                .front()
                .ok_or("more real servers than the XDP forwarder holds (16384)")?,
        };
        let value = real_value(svc.id, svc.vip.ip(), addr, dest, &site)?;
        if fresh {
            LbMaps::reset_stats(&mut self.maps.real_stats, id);
        }
        self.maps
            .reals
            .set(id, value, 0)
            .map_err(|e| format!("lb_reals: {e}"))?;
        if fresh {
            self.free_reals.pop_front();
        }
        svc.dests.insert(addr, (id, *dest));
        self.resolve(addr.ip(), dest.forwarding == Forwarding::Dr, fresh);
        Ok(())
    }

    /// Keeps the next hop to a real server resolved, so the XDP FIB lookup finds its MAC:
    /// a managed neighbour entry (the kernel re-resolves it), added when none is there and
    /// removed with the last real server that needed it. Tried again at every change of the
    /// real server, so one failure does not last.
    fn resolve(&mut self, ip: IpAddr, dr: bool, fresh: bool) {
        let Some(nl) = self.netlink.as_mut() else {
            return;
        };
        let hop = match nl.route_to(ip) {
            Ok((oif, gw)) => {
                if let (true, Some(gw)) = (dr, gw) {
                    warn!(
                        "XDP LB: DR real server {ip} is behind the router {gw}: DR needs it \
                         on the director's link (the packets are dropped as no_route)"
                    );
                }
                (oif, gw.unwrap_or(ip))
            }
            Err(e) => {
                warn!("XDP LB: real server {ip}: {e}");
                return;
            }
        };
        if fresh {
            *self.users.entry(hop).or_default() += 1;
        }
        if self.created.contains(&hop) {
            return;
        }
        match nl.managed_neighbour(hop.0, hop.1) {
            Ok(true) => {
                self.created.insert(hop);
            }
            Ok(false) => {}
            Err(e) => warn!("XDP LB: real server {ip}: neighbour {}: {e}", hop.1),
        }
    }

    /// A real server at `ip` left a service: its managed neighbour goes with the last one.
    fn unresolve(&mut self, ip: IpAddr) {
        let Some(nl) = self.netlink.as_mut() else {
            return;
        };
        let Ok((oif, gw)) = nl.route_to(ip) else {
            return;
        };
        let hop = (oif, gw.unwrap_or(ip));
        let Some(n) = self.users.get_mut(&hop) else {
            return;
        };
        *n -= 1;
        if *n > 0 {
            return;
        }
        self.users.remove(&hop);
        if self.created.remove(&hop) {
            if let Err(e) = nl.del_neighbour(hop.0, hop.1) {
                debug!("XDP LB: removing the neighbour {}: {e}", hop.1);
            }
        }
    }

    fn del_dest(&mut self, key: &ServiceKey, addr: SocketAddr) -> Result<(), String> {
        let Some(svc) = self.services.get_mut(key) else {
            return Ok(());
        };
        if let Some((id, _)) = svc.dests.remove(&addr) {
            let _ = self.maps.reals.set(id, LbReal::zeroed(), 0);
            self.free_reals.push_back(id);
            self.unresolve(addr.ip());
        }
        Ok(())
    }

    /// Builds the service's Maglev table into a spare slot and swaps it in.
    fn rebuild(&mut self, key: &ServiceKey) -> Result<(), String> {
        let size = self.maps.maglev.size;
        let Some(svc) = self.services.get(key) else {
            return Ok(());
        };
        let backends: Vec<(SocketAddr, u32)> =
            svc.dests.iter().map(|(a, (_, d))| (*a, d.weight)).collect();
        let ids: Vec<u32> = svc.dests.values().map(|(id, _)| *id).collect();
        let slots = maglev::build(&backends, size).map_err(|e| e.to_string())?;
        let table: Vec<u32> = slots
            .iter()
            .map(|s| ids.get(*s as usize).copied().unwrap_or(LB_EMPTY))
            .collect();
        let spare = self
            .free_tables
            .pop_front()
            .ok_or("no spare Maglev table")?;
        self.maps.maglev.write(spare, &table);
        let svc = self.services.get_mut(key).expect("checked above");
        let old = std::mem::replace(&mut svc.table, spare);
        if let Err(e) = write_service(&mut self.maps.services, &self.settings, svc) {
            svc.table = old;
            self.free_tables.push_back(spare);
            return Err(e);
        }
        self.free_tables.push_back(old);
        debug!("XDP LB: {key}: Maglev table {spare} live");
        Ok(())
    }

    fn one(&mut self, c: &Change, dirty: &mut BTreeSet<ServiceKey>) -> Result<(), String> {
        match c {
            Change::AddService { key, params } => self.add_service(key, params),
            Change::EditService { key, params } => self.edit_service(key, params),
            Change::DelService { key } => self.del_service(key),
            Change::AddDest {
                service,
                addr,
                dest,
            }
            | Change::EditDest {
                service,
                addr,
                dest,
            } => {
                dirty.insert(*service);
                self.set_dest(service, *addr, dest)
            }
            Change::DelDest { service, addr } => {
                dirty.insert(*service);
                self.del_dest(service, *addr)
            }
        }
    }
}

/// Writes a service's entry as its site wants it.
fn write_service(
    map: &mut aya::maps::HashMap<aya::maps::MapData, LbVipKey, ha_common::LbService>,
    settings: &XdpSettings,
    svc: &Svc,
) -> Result<(), String> {
    // Without its site (a reload took the VIP off this host) the entry stays as it was:
    // saying so keeps the caller from freeing the table the entry still points at.
    let Some(site) = settings.sites.get(&svc.vip.ip()) else {
        return Err(format!("{} no longer arrives on this host", svc.vip.ip()));
    };
    let value = service_value(svc.id, svc.table, &svc.params, svc.vip.ip(), site);
    map.insert(svc.key, value, 0)
        .map_err(|e| format!("lb_services: {e}"))
}

impl LbBackend for XdpBackend {
    fn name(&self) -> &'static str {
        "xdp"
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), Refused> {
        let mut dirty = BTreeSet::new();
        let mut failed = Vec::new();
        let mut first: Option<LbError> = None;
        for (i, c) in changes.iter().enumerate() {
            if let Err(reason) = self.one(c, &mut dirty) {
                failed.push(i);
                first.get_or_insert(LbError {
                    backend: "xdp",
                    change: c.to_string(),
                    reason,
                });
            }
        }
        for key in dirty {
            if let Err(reason) = self.rebuild(&key) {
                // The service's real servers are in the maps but its table is the old one:
                // its changes count as refused, so the retry builds it again.
                for (i, c) in changes.iter().enumerate() {
                    if c.service() == &key && !failed.contains(&i) {
                        failed.push(i);
                        first.get_or_insert(LbError {
                            backend: "xdp",
                            change: c.to_string(),
                            reason: format!("its Maglev table: {reason}"),
                        });
                    }
                }
            }
        }
        failed.sort_unstable();
        match first {
            None => Ok(()),
            Some(e) => Err((failed, e)),
        }
    }

    /// What the maps hold of the services in `wanted`, as this backend wrote them (a retry
    /// starts from there rather than from what was believed applied).
    fn adopt(&mut self, wanted: &LbState) -> LbState {
        let mut out = LbState::default();
        for key in wanted.services.keys() {
            if let Some(svc) = self.services.get(key) {
                let dests = svc.dests.iter().map(|(a, (_, d))| (*a, *d)).collect();
                out.services.insert(
                    *key,
                    Service {
                        params: svc.params.clone(),
                        dests,
                    },
                );
            }
        }
        out
    }

    fn reconfigure(&mut self, settings: &LbSettings) {
        self.settings = settings.xdp.clone();
        for svc in self.services.values() {
            if let Err(e) = write_service(&mut self.maps.services, &self.settings, svc) {
                warn!("XDP LB: {}: {e}", svc.vip);
            }
        }
    }

    /// What the maps hold: each service whose entry is there, with the real servers live
    /// in it, their share of its Maglev table and their traffic.
    fn kernel_view(&mut self) -> Option<KernelView> {
        let mut view = KernelView {
            maglev_size: Some(self.maps.maglev.size),
            ..KernelView::default()
        };
        for (key, svc) in &self.services {
            let Ok(entry) = self.maps.services.get(&svc.key, 0) else {
                continue;
            };
            let table = self.maps.maglev.read(entry.table);
            let mut share: HashMap<u32, u32> = HashMap::new();
            for id in &table {
                *share.entry(*id).or_default() += 1;
            }
            let mut dests = BTreeMap::new();
            for (addr, (id, d)) in &svc.dests {
                let live = self
                    .maps
                    .reals
                    .get(id, 0)
                    .is_ok_and(|r| r.flags & LB_REAL_LIVE != 0 && r.service == entry.id);
                if !live {
                    continue;
                }
                dests.insert(*addr, *d);
                let s = LbMaps::stats(&self.maps.real_stats, *id);
                view.traffic.insert((*key, *addr), (s.packets, s.bytes));
                view.slots
                    .insert((*key, *addr), share.get(id).copied().unwrap_or(0));
            }
            let params = crate::lb::ipvs::wire::canonical(&svc.params, LbState::family(key));
            view.table.services.insert(*key, Service { params, dests });
        }
        Some(view)
    }
}
