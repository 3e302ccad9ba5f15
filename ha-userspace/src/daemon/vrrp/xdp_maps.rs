//! The VRRP feature's side of the XDP program, on the engine thread (DESIGN.md §3, §4): the
//! maps the engine writes ([`VrrpMaps`]: instances, peers, owned VIPs; [`super::xdp_sync`]
//! computes the values) and the event ring, which becomes the same receive inputs the raw
//! socket produces ([`XdpEvents`]). Attaching is the main thread's (`daemon::xdp`); it tells
//! the engine where the program runs with an [`XdpLayout`].

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, RawFd};

use aya::maps::{Array, HashMap, MapData, RingBuf};
use ha_common::{
    instance_index, PeerKey, PeerTtl, Vip4Slot, Vip6Key, VipValue, VrrpEvent, VrrpInstance,
    VrrpKey, VrrpState, EV_ADVERT, EV_INVALID, EV_MASTER_DOWN, FAMILY_V4, FAMILY_V6,
    OWNED_VIPS4_MAP, OWNED_VIPS6_MAP, VRRP_EVENTS_MAP, VRRP_INSTANCES_MAP, VRRP_PEERS_MAP,
    VRRP_STATE_MAP,
};
use tracing::{debug, warn};

use super::receive::{AdvertReceiver, Rx};
use super::vip_table::Vip4Table;
use crate::daemon::xdp::{XdpError, XdpProgram};
use crate::family::Family;
use crate::time::MonoTime;
use crate::units::Vrid;

/// Where the program runs for VRRP, as the main thread attached it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XdpLayout {
    /// ifindex → its slot in the instance arrays (1..=MAX_IFACES).
    pub slots: BTreeMap<u32, u32>,
    /// Kernel keys several instances share (unicast instances with one VRID on one
    /// interface): the kernel's per-VRID entry cannot serve them, they stay on the raw socket.
    pub shared: BTreeSet<VrrpKey>,
}

/// The maps the engine writes.
pub struct VrrpMaps {
    instances: Array<MapData, VrrpInstance>,
    state: Array<MapData, VrrpState>,
    peers: HashMap<MapData, PeerKey, PeerTtl>,
    vips4: Array<MapData, Vip4Slot>,
    vip4_table: Vip4Table,
    vips6: HashMap<MapData, Vip6Key, VipValue>,
    layout: XdpLayout,
    /// `ha_fence_beat`, run at every heartbeat (ha_common::Fence); `None` where the kernel
    /// refused it (no fence).
    beat: Option<aya::programs::ProgramFd>,
    /// What was last written, to skip unchanged writes (one syscall each).
    written: BTreeMap<VrrpKey, VrrpInstance>,
    written_peers: BTreeMap<VrrpKey, Vec<PeerKey>>,
}

impl VrrpMaps {
    /// Takes the VRRP maps and the event ring out of the loaded program.
    pub fn take(p: &mut XdpProgram) -> Result<(VrrpMaps, XdpEvents), XdpError> {
        Ok((
            VrrpMaps {
                instances: p.take_map(VRRP_INSTANCES_MAP)?,
                state: p.take_map(VRRP_STATE_MAP)?,
                peers: p.take_map(VRRP_PEERS_MAP)?,
                vips4: p.take_map(OWNED_VIPS4_MAP)?,
                vip4_table: Vip4Table::default(),
                vips6: p.take_map(OWNED_VIPS6_MAP)?,
                layout: XdpLayout::default(),
                beat: match p.program_fd(ha_ebpf::HA_FENCE_BEAT_PROGRAM) {
                    Ok(fd) => Some(fd),
                    Err(e) => {
                        warn!(
                            "XDP: no fence ({e}; it needs bpf_timer and bpf_loop, kernel \
                             5.17): a killed master's VIPs are not silenced"
                        );
                        None
                    }
                },
                written: BTreeMap::new(),
                written_peers: BTreeMap::new(),
            },
            XdpEvents {
                ring: p.take_map(VRRP_EVENTS_MAP)?,
            },
        ))
    }

    /// The main thread attached or detached interfaces.
    pub fn set_layout(&mut self, layout: XdpLayout) {
        self.layout = layout;
    }

    /// Whether the kernel serves this instance key: the program runs on its interface and
    /// no other instance shares the key.
    pub fn serves(&self, key: &VrrpKey) -> bool {
        self.layout.slots.contains_key(&key.ifindex) && !self.layout.shared.contains(key)
    }

    /// The engine's heartbeat: the program fences the VIPs if no other comes within
    /// `stale_ns` (0: never).
    pub fn beat(&mut self, stale_ns: u64) {
        use std::os::fd::AsFd;
        let Some(beat) = &self.beat else {
            return;
        };
        if let Err(e) = ha_ebpf::run_fence_beat(beat.as_fd(), stale_ns) {
            warn!("XDP: the fence's heartbeat: {e}");
        }
    }

    /// Whether the program runs on `ifindex` (it answers ARP / NS there).
    pub fn is_attached(&self, ifindex: u32) -> bool {
        self.layout.slots.contains_key(&ifindex)
    }

    fn index(&self, key: &VrrpKey) -> Option<u32> {
        let slot = self.layout.slots.get(&key.ifindex)?;
        Some(instance_index(*slot, key.family, key.vrid))
    }

    /// Writes an instance's entry when it changed.
    pub fn set_instance(&mut self, key: VrrpKey, value: VrrpInstance) {
        if self.written.get(&key) == Some(&value) {
            return;
        }
        let Some(index) = self.index(&key) else {
            return;
        };
        match self.instances.set(index, value, 0) {
            Ok(()) => {
                self.written.insert(key, value);
            }
            Err(e) => warn!(
                "XDP: writing instance vrid {} on ifindex {}: {e}",
                key.vrid, key.ifindex
            ),
        }
    }

    /// Replaces an instance's unicast peers.
    pub fn set_peers(&mut self, key: VrrpKey, peers: &[(PeerKey, PeerTtl)]) {
        for old in self.written_peers.remove(&key).unwrap_or_default() {
            let _ = self.peers.remove(&old);
        }
        for (k, v) in peers {
            if let Err(e) = self.peers.insert(*k, *v, 0) {
                warn!("XDP: writing a unicast peer: {e}");
            }
        }
        self.written_peers
            .insert(key, peers.iter().map(|(k, _)| *k).collect());
    }

    /// Forgets an instance (removed by a reload, or stopping).
    pub fn remove_instance(&mut self, key: VrrpKey) {
        if let Some(index) = self.index(&key) {
            // Zeroing the state also cancels its timer.
            let _ = self.instances.set(index, VrrpInstance::default(), 0);
            let _ = self.state.set(index, VrrpState::default(), 0);
        }
        self.written.remove(&key);
        self.set_peers(key, &[]);
        self.written_peers.remove(&key);
    }

    /// The kernel's view of an instance (last advert time, absorbed count, timer).
    pub fn state(&self, key: &VrrpKey) -> Option<VrrpState> {
        self.state.get(&self.index(key)?, 0).ok()
    }

    /// Answers ARP / NS for these addresses on `ifindex` with `mac` (while MASTER).
    pub fn own_vips(
        &mut self,
        ifindex: u32,
        addrs: &[IpAddr],
        mac: [u8; 6],
        router: bool,
        own: bool,
    ) {
        let value = VipValue {
            mac,
            router: u8::from(router),
            pad: 0,
        };
        for a in addrs {
            let r = match (a, own) {
                (IpAddr::V4(v), true) => match self.vip4_table.insert(ifindex, v.octets(), mac) {
                    Ok((at, slot)) => self.vips4.set(at, slot, 0),
                    Err(e) => {
                        warn!("XDP: {e}");
                        Ok(())
                    }
                },
                (IpAddr::V4(v), false) => match self.vip4_table.remove(ifindex, v.octets()) {
                    Some((at, slot)) => self.vips4.set(at, slot, 0),
                    None => Ok(()),
                },
                (IpAddr::V6(v), true) => self.vips6.insert(vip6_key(ifindex, *v), value, 0),
                (IpAddr::V6(v), false) => self.vips6.remove(&vip6_key(ifindex, *v)).or(Ok(())),
            };
            if let Err(e) = r {
                warn!(
                    "XDP: {} VIP {a}: {e}",
                    if own { "adding" } else { "removing" }
                );
            }
        }
    }
}

fn vip6_key(ifindex: u32, a: Ipv6Addr) -> Vip6Key {
    Vip6Key {
        ifindex,
        addr: a.octets(),
    }
}

/// The ring buffer as a receive path: adverts the kernel could not absorb, master-down
/// events, and (rate-limited) reasons for invalid adverts.
pub struct XdpEvents {
    ring: RingBuf<MapData>,
}

/// The family of an event's family code.
pub fn event_family(code: u8) -> Option<Family> {
    match code {
        FAMILY_V4 => Some(Family::V4),
        FAMILY_V6 => Some(Family::V6),
        _ => None,
    }
}

fn ip_of(family: Family, b: &[u8; 16]) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(*b)),
    }
}

/// Kernel `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) on the engine's clock.
pub fn mono_of_ns(ns: u64) -> MonoTime {
    MonoTime(ns / 1_000)
}

impl AdvertReceiver for XdpEvents {
    fn fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    fn drain(&mut self, f: &mut dyn FnMut(Rx<'_>)) -> io::Result<()> {
        while let Some(item) = self.ring.next() {
            if item.len() < std::mem::size_of::<VrrpEvent>() {
                continue;
            }
            let ev: VrrpEvent =
                bytemuck::pod_read_unaligned(&item[..std::mem::size_of::<VrrpEvent>()]);
            drop(item);
            let Some(family) = event_family(ev.family) else {
                continue;
            };
            match ev.kind {
                EV_ADVERT => f(Rx::Message {
                    ifindex: ev.ifindex,
                    family,
                    bytes: ev.message(),
                    src: ip_of(family, &ev.src),
                    dst: ip_of(family, &ev.dst),
                    hop_limit: ev.ttl,
                    at: mono_of_ns(ev.ts_ns),
                }),
                EV_MASTER_DOWN => f(Rx::MasterDown {
                    ifindex: ev.ifindex,
                    family,
                    vrid: Vrid(ev.vrid),
                    last_seen: mono_of_ns(ev.ts_ns),
                }),
                EV_INVALID => {
                    let reason = ha_common::BAD_REASONS
                        .iter()
                        .find(|(c, _)| *c == ev.reason)
                        .map_or("?", |(_, n)| n);
                    debug!(
                        "XDP dropped an advert from {} on ifindex {} (VRID {}): {reason}",
                        ip_of(family, &ev.src),
                        ev.ifindex,
                        ev.vrid
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }
}
