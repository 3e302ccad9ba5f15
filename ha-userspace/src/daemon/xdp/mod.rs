//! The XDP program every feature shares (DESIGN.md §12), on the main thread: loaded once,
//! attached to interfaces by the attach manager ([`attach::Table`] decides, this module does
//! the system calls), its per-interface counters read for `ha status`. A feature takes its
//! own maps out of the program ([`XdpProgram::take_map`]) and hands them to the thread that
//! uses them: the VRRP engine writes its instance maps itself.
//!
//! Attach mode: native (driver) first, generic where native is refused or pointless, with a
//! log line saying why. On veth, native XDP_TX frames are only delivered when the peer runs
//! an XDP program too (a kernel rule we cannot meet from this namespace), so veth gets
//! generic mode and ARP replies work.

pub mod attach;

use std::collections::BTreeMap;

use aya::maps::{Array, MapData};
use aya::programs::xdp::XdpLinkId;
use aya::programs::XdpMode;
use aya::Ebpf;
use ha_common::{IfaceConfig, XdpCounters, IFACES_MAP, XDP_COUNTERS_KEY};
use tracing::{debug, info, warn};

use self::attach::{Change, Feature, NoSlot, Table};
use super::status::{XdpInterface, XdpStatus};

#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    #[error(transparent)]
    Program(#[from] ha_ebpf::Error),
    #[error("XDP map {name} is not of the expected type: {detail}")]
    Map { name: &'static str, detail: String },
    #[error("XDP on {ifname}: {source}")]
    NoSlot { ifname: String, source: NoSlot },
    #[error("attaching XDP to {ifname}: {detail}")]
    Attach { ifname: String, detail: String },
}

/// How the program runs on one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub ifindex: u32,
    pub name: String,
    /// "native" or "generic".
    pub mode: &'static str,
    /// Why not native, when generic.
    pub why: Option<String>,
}

/// The loaded program, where it runs, and its shared maps.
pub struct XdpProgram {
    bpf: Ebpf,
    /// ifindex → slot and features: what the dispatcher reads first.
    ifaces: Array<MapData, IfaceConfig>,
    table: Table,
    attached: BTreeMap<u32, (Attachment, XdpLinkId)>,
}

impl XdpProgram {
    /// Loads and verifies the program (attached nowhere yet), the load balancer's maps
    /// sized by `lb`.
    pub fn load(lb: &ha_ebpf::LbSizes) -> Result<XdpProgram, XdpError> {
        let mut bpf = ha_ebpf::load_ha_xdp_with(lb)?;
        let ifaces = take(&mut bpf, IFACES_MAP)?;
        Ok(XdpProgram {
            bpf,
            ifaces,
            table: Table::default(),
            attached: BTreeMap::new(),
        })
    }

    /// Takes a feature's map out of the program, for the thread that writes it.
    pub fn take_map<T>(&mut self, name: &'static str) -> Result<T, XdpError>
    where
        T: TryFrom<aya::maps::Map>,
        T::Error: std::fmt::Display,
    {
        take(&mut self.bpf, name)
    }

    /// `feature` wants the program on `ifindex` (`ifname` for messages): attaches it unless
    /// it runs there already.
    pub fn want(&mut self, ifindex: u32, ifname: &str, feature: Feature) -> Result<(), XdpError> {
        let change = self
            .table
            .want(ifindex, feature)
            .map_err(|source| XdpError::NoSlot {
                ifname: ifname.into(),
                source,
            })?;
        match change {
            Change::Attach { slot, features } => {
                // The entry first: the program's first frame on the interface finds it.
                self.configure(ifindex, slot, features);
                if let Err(e) = self.attach(ifindex, ifname) {
                    self.configure(ifindex, 0, 0);
                    self.table.forget(ifindex);
                    return Err(e);
                }
            }
            Change::Features { slot, features } => self.configure(ifindex, slot, features),
            Change::Nothing | Change::Detach { .. } => {}
        }
        Ok(())
    }

    /// `feature` no longer needs `ifindex`: detaches when no feature does.
    pub fn release(&mut self, ifindex: u32, feature: Feature) {
        match self.table.release(ifindex, feature) {
            Change::Detach { .. } => self.detach(ifindex),
            Change::Features { slot, features } => self.configure(ifindex, slot, features),
            Change::Attach { .. } | Change::Nothing => {}
        }
    }

    /// Tells the dispatcher the interface's slot and features.
    fn configure(&mut self, ifindex: u32, slot: u32, features: u32) {
        if let Err(e) = self.ifaces.set(ifindex, IfaceConfig { slot, features }, 0) {
            warn!("XDP: {IFACES_MAP}[{ifindex}]: {e}");
        }
    }

    /// Releases every interface `feature` has that `keep` does not list.
    pub fn release_others(&mut self, feature: Feature, keep: &[u32]) {
        for ifindex in self.table.interfaces(feature) {
            if !keep.contains(&ifindex) {
                self.release(ifindex, feature);
            }
        }
    }

    /// The load balancer's verdict counters, summed over CPUs.
    pub fn lb_counters(&self) -> Option<ha_common::LbCounters> {
        let map = self.bpf.map(ha_common::LB_COUNTERS_MAP)?;
        let a = aya::maps::PerCpuArray::<_, ha_common::LbCounters>::try_from(map).ok()?;
        let v = a.get(&0, 0).ok()?;
        Some(ha_common::LbCounters::sum(v.iter()))
    }

    /// The interfaces `feature` runs on, with their slots.
    pub fn slots(&self, feature: Feature) -> BTreeMap<u32, u32> {
        self.table.slots(feature)
    }

    fn attach(&mut self, ifindex: u32, name: &str) -> Result<(), XdpError> {
        let prog = ha_ebpf::ha_xdp_mut(&mut self.bpf)?;
        let veth = driver_name(name).as_deref() == Some("veth");
        let native = if veth {
            Err("veth: native XDP_TX needs a program on the peer".to_string())
        } else {
            prog.attach_to_if_index(ifindex, XdpMode::Driver)
                .map_err(|e| format!("native mode refused: {e}"))
        };
        let (mode, why, link) = match native {
            Ok(link) => ("native", None, link),
            Err(why) => {
                let link = prog
                    .attach_to_if_index(ifindex, XdpMode::Skb)
                    .map_err(|e| XdpError::Attach {
                        ifname: name.into(),
                        detail: e.to_string(),
                    })?;
                ("generic", Some(why), link)
            }
        };
        match &why {
            None => info!("XDP on {name}: native mode"),
            Some(why) => info!("XDP on {name}: generic mode ({why})"),
        }
        let att = Attachment {
            ifindex,
            name: name.into(),
            mode,
            why,
        };
        self.attached.insert(ifindex, (att, link));
        Ok(())
    }

    fn detach(&mut self, ifindex: u32) {
        let Some((att, link)) = self.attached.remove(&ifindex) else {
            return;
        };
        self.configure(ifindex, 0, 0);
        match ha_ebpf::ha_xdp_mut(&mut self.bpf).map(|p| p.detach(link)) {
            Ok(Ok(())) => info!("XDP off {}: no feature runs there any more", att.name),
            Ok(Err(e)) => warn!("XDP: detaching from {}: {e}", att.name),
            Err(e) => warn!("XDP: detaching from {}: {e}", att.name),
        }
    }

    /// Where the program runs, in which mode, and its counters (`ha status`).
    pub fn status(&self) -> XdpStatus {
        let read = |slot: u32| {
            ha_ebpf::counters(&self.bpf, slot).unwrap_or_else(|e| {
                debug!("XDP counters: {e}");
                XdpCounters::default()
            })
        };
        let named = |c: &XdpCounters| -> BTreeMap<String, u64> {
            c.iter().map(|(k, v)| (k.to_string(), v)).collect()
        };
        let mut per_if: Vec<(u32, XdpCounters)> = self
            .attached
            .keys()
            .filter_map(|i| Some((*i, read(self.table.slot(*i)?))))
            .collect();
        let orphan = read(XDP_COUNTERS_KEY);
        let total = XdpCounters::sum(per_if.iter().map(|(_, c)| c).chain([&orphan]));
        let mut interfaces: Vec<XdpInterface> = per_if
            .drain(..)
            .filter_map(|(i, c)| {
                let (a, _) = self.attached.get(&i)?;
                Some(XdpInterface {
                    name: a.name.clone(),
                    mode: a.mode.into(),
                    why: a.why.clone(),
                    counters: named(&c),
                })
            })
            .collect();
        // Frames seen on an interface without a slot, when there are any.
        if orphan != XdpCounters::default() {
            interfaces.push(XdpInterface {
                name: "-".into(),
                mode: "-".into(),
                why: None,
                counters: named(&orphan),
            });
        }
        let lb = (!self.table.interfaces(Feature::Lb).is_empty())
            .then(|| self.lb_counters())
            .flatten()
            .map(|c| c.iter().map(|(k, v)| (k.to_string(), v)).collect());
        XdpStatus {
            interfaces,
            counters: named(&total),
            lb,
        }
    }
}

fn take<T>(bpf: &mut Ebpf, name: &'static str) -> Result<T, XdpError>
where
    T: TryFrom<aya::maps::Map>,
    T::Error: std::fmt::Display,
{
    let m = bpf
        .take_map(name)
        .ok_or(XdpError::Program(ha_ebpf::Error::MissingMap(name)))?;
    T::try_from(m).map_err(|e| XdpError::Map {
        name,
        detail: e.to_string(),
    })
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
