//! The XDP fast path from the engine's side (DESIGN.md decisions 3 and 4): loads the
//! embedded `vrrp_rx` object with aya, attaches it to every VRRP interface, keeps its maps in
//! line with the instances ([`super::xdp_sync`] computes the values), and turns its ring
//! buffer into the same receive inputs the raw socket produces ([`XdpEvents`]).
//!
//! Attach mode: native (driver) first, generic where native is refused or pointless, with a
//! log line saying why. On veth, native XDP_TX frames are only delivered when the peer runs
//! an XDP program too (a kernel rule we cannot meet from this namespace), so veth gets
//! generic mode and ARP replies work.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, RawFd};

use aya::maps::{Array, HashMap, MapData, RingBuf};
use aya::programs::xdp::XdpLinkId;
use aya::programs::XdpMode;
use aya::Ebpf;
use ha_common::{
    instance_index, PeerKey, PeerTtl, Vip4Slot, Vip6Key, VipValue, VrrpEvent, VrrpInstance,
    VrrpKey, VrrpState, XdpCounters, EV_ADVERT, EV_INVALID, EV_MASTER_DOWN, FAMILY_V4, FAMILY_V6,
    IFACE_SLOTS_MAP, MAX_IFACES, MAX_IFINDEX, OWNED_VIPS4_MAP, OWNED_VIPS6_MAP, VRRP_EVENTS_MAP,
    VRRP_INSTANCES_MAP, VRRP_PEERS_MAP, VRRP_STATE_MAP, XDP_COUNTERS_KEY,
};
use tracing::{debug, info, warn};

use super::receive::{AdvertReceiver, Rx};
use super::vip_table::Vip4Table;
use crate::family::Family;
use crate::time::MonoTime;

#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    #[error("loading the XDP program: {0}")]
    Load(String),
    #[error("XDP map {0} missing or of the wrong type: {1}")]
    Map(&'static str, String),
}

/// How the program runs on one interface.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Attachment {
    pub ifindex: u32,
    pub name: String,
    /// "native" or "generic".
    pub mode: &'static str,
    /// Why not native, when generic.
    pub why: Option<String>,
}

/// The loaded program and the maps the engine writes.
pub struct XdpPath {
    bpf: Ebpf,
    slots: Array<MapData, u32>,
    instances: Array<MapData, VrrpInstance>,
    state: Array<MapData, VrrpState>,
    peers: HashMap<MapData, PeerKey, PeerTtl>,
    vips4: Array<MapData, Vip4Slot>,
    vip4_table: Vip4Table,
    vips6: HashMap<MapData, Vip6Key, VipValue>,
    attached: BTreeMap<u32, Attachment>,
    /// ifindex → its slot in the instance arrays (1..=MAX_IFACES).
    slot_of: BTreeMap<u32, u32>,
    links: BTreeMap<u32, XdpLinkId>,
    /// What was last written, to skip unchanged writes (one syscall each).
    written: BTreeMap<VrrpKey, VrrpInstance>,
    written_peers: BTreeMap<VrrpKey, Vec<PeerKey>>,
}

fn map<T>(bpf: &mut Ebpf, name: &'static str) -> Result<T, XdpError>
where
    T: TryFrom<aya::maps::Map>,
    T::Error: std::fmt::Display,
{
    let m = bpf
        .take_map(name)
        .ok_or_else(|| XdpError::Map(name, "not in the object".into()))?;
    T::try_from(m).map_err(|e| XdpError::Map(name, e.to_string()))
}

impl XdpPath {
    /// Loads and verifies the program; returns it with its event ring.
    pub fn load() -> Result<(XdpPath, XdpEvents), XdpError> {
        let mut bpf = ha_ebpf::load_vrrp_rx().map_err(XdpError::Load)?;
        let slots = map(&mut bpf, IFACE_SLOTS_MAP)?;
        let instances = map(&mut bpf, VRRP_INSTANCES_MAP)?;
        let state = map(&mut bpf, VRRP_STATE_MAP)?;
        let peers = map(&mut bpf, VRRP_PEERS_MAP)?;
        let vips4 = map(&mut bpf, OWNED_VIPS4_MAP)?;
        let vips6 = map(&mut bpf, OWNED_VIPS6_MAP)?;
        let ring: RingBuf<MapData> = map(&mut bpf, VRRP_EVENTS_MAP)?;
        Ok((
            XdpPath {
                bpf,
                slots,
                instances,
                state,
                peers,
                vips4,
                vip4_table: Vip4Table::default(),
                vips6,
                attached: BTreeMap::new(),
                slot_of: BTreeMap::new(),
                links: BTreeMap::new(),
                written: BTreeMap::new(),
                written_peers: BTreeMap::new(),
            },
            XdpEvents { ring },
        ))
    }

    /// Attaches to `name` unless already attached; native first, generic as the fallback.
    pub fn attach(&mut self, ifindex: u32, name: &str) -> Result<&Attachment, XdpError> {
        if self.attached.contains_key(&ifindex) {
            return Ok(&self.attached[&ifindex]);
        }
        // The program serves MAX_IFACES interfaces with ifindex below MAX_IFINDEX.
        let used: Vec<u32> = self.slot_of.values().copied().collect();
        let slot = (1..=MAX_IFACES)
            .find(|s| !used.contains(s))
            .filter(|_| ifindex < MAX_IFINDEX)
            .ok_or_else(|| {
                XdpError::Load(format!(
                    "{name}: the program serves {MAX_IFACES} interfaces with ifindex < {MAX_IFINDEX}"
                ))
            })?;
        let prog = ha_ebpf::vrrp_rx_mut(&mut self.bpf).map_err(XdpError::Load)?;
        let veth = driver_name(name).as_deref() == Some("veth");
        let native = if veth {
            Err("veth: native XDP_TX needs a program on the peer".to_string())
        } else {
            prog.attach_to_if_index(ifindex, XdpMode::Driver)
                .map_err(|e| format!("native mode refused: {e}"))
        };
        let (att, link) = match native {
            Ok(link) => (
                Attachment {
                    ifindex,
                    name: name.into(),
                    mode: "native",
                    why: None,
                },
                link,
            ),
            Err(why) => {
                let link = prog
                    .attach_to_if_index(ifindex, XdpMode::Skb)
                    .map_err(|e| XdpError::Load(format!("attaching to {name}: {e}")))?;
                info!("XDP on {name}: generic mode ({why})");
                (
                    Attachment {
                        ifindex,
                        name: name.into(),
                        mode: "generic",
                        why: Some(why),
                    },
                    link,
                )
            }
        };
        self.links.insert(ifindex, link);
        if att.mode == "native" {
            info!("XDP on {name}: native mode");
        }
        self.slots
            .set(ifindex, slot, 0)
            .map_err(|e| XdpError::Map("iface_slots", e.to_string()))?;
        self.slot_of.insert(ifindex, slot);
        self.attached.insert(ifindex, att);
        Ok(&self.attached[&ifindex])
    }

    /// Detaches from an interface no instance uses any more and frees its slot (its
    /// instances were removed first).
    pub fn detach(&mut self, ifindex: u32) {
        let Some(link) = self.links.remove(&ifindex) else {
            return;
        };
        if let Ok(p) = ha_ebpf::vrrp_rx_mut(&mut self.bpf) {
            if let Err(e) = p.detach(link) {
                warn!("XDP: detaching from ifindex {ifindex}: {e}");
            }
        }
        let _ = self.slots.set(ifindex, 0, 0);
        self.slot_of.remove(&ifindex);
        if let Some(a) = self.attached.remove(&ifindex) {
            info!("XDP off {}: no instance runs there any more", a.name);
        }
    }

    pub fn is_attached(&self, ifindex: u32) -> bool {
        self.attached.contains_key(&ifindex)
    }

    pub fn attachments(&self) -> Vec<Attachment> {
        self.attached.values().cloned().collect()
    }

    fn index(&self, key: &VrrpKey) -> Option<u32> {
        let slot = self.slot_of.get(&key.ifindex)?;
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

    /// Each attached interface's counters, summed over CPUs (and the frames seen on an
    /// interface without a slot, under "-", when there are any).
    pub fn counters(&self) -> Vec<(String, XdpCounters)> {
        let read = |slot: u32| {
            ha_ebpf::counters(&self.bpf, slot).unwrap_or_else(|e| {
                debug!("XDP counters: {e}");
                XdpCounters::default()
            })
        };
        let mut out: Vec<(String, XdpCounters)> = self
            .slot_of
            .iter()
            .map(|(ifindex, slot)| (self.attached[ifindex].name.clone(), read(*slot)))
            .collect();
        let orphan = read(XDP_COUNTERS_KEY);
        if orphan != XdpCounters::default() {
            out.push(("-".into(), orphan));
        }
        out
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

/// What an event means to the engine, with the interface and family it came on.
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
                    vrid: ev.vrid,
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

/// The driver behind an interface (`ETHTOOL_GDRVINFO`), to pick the attach mode.
fn driver_name(ifname: &str) -> Option<String> {
    #[repr(C)]
    struct DrvInfo {
        cmd: u32,
        driver: [u8; 32],
        version: [u8; 32],
        fw_version: [u8; 32],
        bus_info: [u8; 32],
        erom_version: [u8; 32],
        reserved2: [u8; 12],
        n_priv_flags: u32,
        n_stats: u32,
        testinfo_len: u32,
        eedump_len: u32,
        regdump_len: u32,
    }
    const ETHTOOL_GDRVINFO: u32 = 0x3;
    const SIOCETHTOOL: libc::c_ulong = 0x8946;
    // SAFETY: all-zero is a valid DrvInfo and ifreq.
    let mut info: DrvInfo = unsafe { std::mem::zeroed() };
    info.cmd = ETHTOOL_GDRVINFO;
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = ifname.as_bytes();
    if name.len() >= req.ifr_name.len() {
        return None;
    }
    for (d, s) in req.ifr_name.iter_mut().zip(name) {
        *d = *s as libc::c_char;
    }
    req.ifr_ifru.ifru_data = (&mut info as *mut DrvInfo).cast();
    // SAFETY: a datagram socket for the ioctl, closed below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: req points at a valid ifreq whose data points at a valid ethtool_drvinfo.
    let rc = unsafe { libc::ioctl(fd, SIOCETHTOOL, &mut req) };
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    if rc < 0 {
        return None;
    }
    let end = info.driver.iter().position(|b| *b == 0).unwrap_or(32);
    Some(String::from_utf8_lossy(&info.driver[..end]).into_owned())
}
