//! The XDP program every feature shares (DESIGN.md §12), on the main thread: loaded once,
//! attached to interfaces by the attach manager ([`attach::Table`] decides, this module does
//! the system calls), its per-interface counters read for `ha status`. A feature takes its
//! own maps out of the program ([`XdpProgram::take_map`]) and hands them to the thread that
//! uses them: the VRRP engine writes its instance maps itself.
//!
//! Pinning: with a pin folder (`ha run` gives one per daemon, under /sys/fs/bpf/ha), each
//! interface's XDP link is pinned there, so the program and its maps outlive a killed
//! daemon and go on fencing its VIPs (`vips.h`: fenced()). The next daemon adopts the link:
//! its own program replaces the old one in it atomically (BPF_LINK_UPDATE), with no moment
//! when the interface runs none. A clean stop unpins and detaches.
//!
//! Attach mode: native (driver) first, generic where native is refused or pointless, with a
//! log line saying why. On veth, native XDP_TX frames are only delivered when the peer runs
//! an XDP program too (a kernel rule we cannot meet from this namespace), so veth gets
//! generic mode and ARP replies work.

pub mod attach;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aya::maps::{Array, MapData};
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::xdp::{XdpLink, XdpLinkId};
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

/// How this program holds an interface.
enum Held {
    /// Attached by this process: detached when it exits.
    Owned(XdpLinkId),
    /// Pinned in bpffs: stays attached after the process.
    Pinned(PinnedLink),
}

/// The loaded program, where it runs, and its shared maps.
pub struct XdpProgram {
    bpf: Ebpf,
    /// ifindex → slot and features: what the dispatcher reads first.
    ifaces: Array<MapData, IfaceConfig>,
    table: Table,
    attached: BTreeMap<u32, (Attachment, Held)>,
    /// Where links are pinned, one file per interface (`xdp_IFINDEX`).
    pin_dir: Option<PathBuf>,
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
            pin_dir: None,
        })
    }

    /// Pins links in folder `name` of the bpffs from now on ([`bpffs_root`]). Links a
    /// previous daemon pinned there are adopted as interfaces are attached.
    pub fn pin_in(&mut self, name: &str) {
        let dir = bpffs_root().map(|root| root.join("ha").join(name));
        match dir.and_then(|d| std::fs::create_dir_all(&d).map(|()| d)) {
            Ok(d) => self.pin_dir = Some(d),
            Err(e) => warn!(
                "XDP links cannot be pinned ({e}): the program will not outlive the daemon, \
                 and a killed master's VIPs are not fenced"
            ),
        }
    }

    /// Pins the `fence` map too: a map's timers are cancelled when no file descriptor or pin
    /// holds it any more (the program's own reference does not count), so without this
    /// the fence timer would die with the daemon instead of firing. The previous run's pin
    /// is replaced only now, once its links are adopted or released: until then its timer
    /// goes on fencing its program.
    fn pin_fence(&mut self, dir: &Path) {
        let path = dir.join(FENCE_PIN);
        let _ = std::fs::remove_file(&path);
        match self.bpf.map(ha_common::FENCE_MAP) {
            Some(m) => {
                if let Err(e) = m.pin(&path) {
                    warn!("XDP: pinning the fence map: {e}: a killed daemon is not fenced");
                }
            }
            None => warn!("XDP: no fence map in the program"),
        }
    }

    fn pin_path(&self, ifindex: u32) -> Option<PathBuf> {
        self.pin_dir
            .as_ref()
            .map(|d| d.join(format!("xdp_{ifindex}")))
    }

    /// Detaches what a previous daemon pinned and this one did not adopt (interfaces its
    /// config no longer uses), and pins this program's fence map in place of the previous
    /// one. Call once the interfaces of the first plan are attached.
    pub fn settle_pins(&mut self) {
        let Some(dir) = self.pin_dir.clone() else {
            return;
        };
        self.release_unadopted(&dir);
        self.pin_fence(&dir);
    }

    fn release_unadopted(&mut self, dir: &Path) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let ours = name == FENCE_PIN
                || name
                    .strip_prefix("xdp_")
                    .and_then(|i| i.parse::<u32>().ok())
                    .is_some_and(|i| self.attached.contains_key(&i));
            if !ours {
                match PinnedLink::from_pin(e.path()).map(PinnedLink::unpin) {
                    Ok(_) => info!("XDP: a previous run's link {name} released"),
                    Err(err) => {
                        warn!("XDP: {}: {err}", e.path().display());
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
    }

    /// Takes a feature's map out of the program, for the thread that writes it.
    pub fn take_map<T>(&mut self, name: &'static str) -> Result<T, XdpError>
    where
        T: TryFrom<aya::maps::Map>,
        T::Error: std::fmt::Display,
    {
        take(&mut self.bpf, name)
    }

    /// The descriptor of another program of the object, for a thread that runs it.
    pub fn program_fd(&self, name: &str) -> Result<aya::programs::ProgramFd, XdpError> {
        let prog = ha_ebpf::xdp_ref(&self.bpf, name)?;
        let fd = prog.fd().map_err(|e| XdpError::Map {
            name: "program",
            detail: e.to_string(),
        })?;
        fd.try_clone().map_err(|e| XdpError::Map {
            name: "program",
            detail: e.to_string(),
        })
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
        // The fence timer's mark is the kernel's: written without it, an entry rewritten
        // while fenced answers again until the next expiry (a stalled engine whose main
        // thread attaches an interface); carrying it over could race a beat that clears it.
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
        let pin = self.pin_path(ifindex);
        if let Some(path) = pin.as_deref().filter(|p| p.exists()) {
            match self.adopt(path) {
                Ok(held) => {
                    info!("XDP on {name}: adopted the link a previous run left pinned");
                    let att = Attachment {
                        ifindex,
                        name: name.into(),
                        mode: "adopted",
                        why: None,
                    };
                    self.attached.insert(ifindex, (att, held));
                    return Ok(());
                }
                Err(e) => {
                    warn!(
                        "XDP on {name}: the pinned link {} cannot be adopted ({e}); attaching anew",
                        path.display()
                    );
                    let _ = std::fs::remove_file(path);
                }
            }
        }
        let prog = ha_ebpf::ha_xdp_mut(&mut self.bpf)?;
        let veth = driver_name(name).as_deref() == Some("veth");
        let native = if veth {
            Err("veth: native XDP_TX needs a program on the peer".to_string())
        } else {
            prog.attach_to_if_index(ifindex, XdpMode::Driver)
                .map_err(|e| format!("native mode refused: {e}"))
        };
        let (mode, why, link) = match native {
            Ok(link) => (XdpMode::Driver, None, link),
            Err(why) => {
                let link = prog
                    .attach_to_if_index(ifindex, XdpMode::Skb)
                    .map_err(|e| XdpError::Attach {
                        ifname: name.into(),
                        detail: e.to_string(),
                    })?;
                (XdpMode::Skb, Some(why), link)
            }
        };
        match &why {
            None => info!("XDP on {name}: native mode"),
            Some(why) => info!("XDP on {name}: generic mode ({why})"),
        }
        let att = Attachment {
            ifindex,
            name: name.into(),
            mode: if mode == XdpMode::Driver {
                "native"
            } else {
                "generic"
            },
            why,
        };
        let held = match pin {
            Some(path) => match pin_link(prog, link, &path) {
                Ok(p) => Held::Pinned(p),
                Err(e) => {
                    // A link that could not be pinned was closed, which detached it.
                    warn!("XDP on {name}: not pinned ({e}): the program ends with the daemon");
                    let id =
                        prog.attach_to_if_index(ifindex, mode)
                            .map_err(|e| XdpError::Attach {
                                ifname: name.into(),
                                detail: e.to_string(),
                            })?;
                    Held::Owned(id)
                }
            },
            None => Held::Owned(link),
        };
        self.attached.insert(ifindex, (att, held));
        Ok(())
    }

    /// Puts this program into the link pinned at `path`, and pins it again as ours.
    fn adopt(&mut self, path: &Path) -> Result<Held, String> {
        let old = PinnedLink::from_pin(path).map_err(|e| e.to_string())?;
        let fd: FdLink = old.unpin().map_err(|e| e.to_string())?;
        let link = XdpLink::try_from(fd).map_err(|e| e.to_string())?;
        let prog = ha_ebpf::ha_xdp_mut(&mut self.bpf).map_err(|e| e.to_string())?;
        let id = prog.attach_to_link(link).map_err(|e| e.to_string())?;
        pin_link(prog, id, path).map(Held::Pinned)
    }

    fn detach(&mut self, ifindex: u32) {
        let Some((att, link)) = self.attached.remove(&ifindex) else {
            return;
        };
        self.configure(ifindex, 0, 0);
        let r = match link {
            Held::Owned(id) => ha_ebpf::ha_xdp_mut(&mut self.bpf)
                .map_err(|e| e.to_string())
                .and_then(|p| p.detach(id).map_err(|e| e.to_string())),
            // Unpinned, the link's last descriptor closes here and the program detaches.
            Held::Pinned(p) => p.unpin().map(drop).map_err(|e| e.to_string()),
        };
        match r {
            Ok(()) => info!("XDP off {}: no feature runs there any more", att.name),
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

impl XdpProgram {
    /// The clean stop: unpins and detaches everything. Dropped otherwise (an error, a
    /// panic), the pins stay and go on fencing, as after a kill: the next start cleans up.
    pub fn close(mut self) {
        for (_, (att, held)) in std::mem::take(&mut self.attached) {
            match held {
                Held::Pinned(p) => {
                    let _ = p.unpin();
                }
                Held::Owned(id) => {
                    if let Ok(p) = ha_ebpf::ha_xdp_mut(&mut self.bpf) {
                        let _ = p.detach(id);
                    }
                }
            }
            debug!("XDP off {}", att.name);
        }
        if let Some(d) = &self.pin_dir {
            let _ = std::fs::remove_file(d.join(FENCE_PIN));
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// Detaches and removes what a previous run pinned in folder `name`, for a start that does
/// not adopt it (no XDP, fencing off, the program refused): its program would otherwise
/// stay on the interfaces and, fenced, drop this node's VIPs' traffic for good.
pub fn release_pins(name: &str) {
    let Some(root) = BPFFS.iter().find(|p| is_bpffs(p)) else {
        return;
    };
    let dir = Path::new(root).join("ha").join(name);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let path = e.path();
        if e.file_name().to_string_lossy().starts_with("xdp_")
            && PinnedLink::from_pin(&path).map(PinnedLink::unpin).is_ok()
        {
            info!("XDP: a previous run's link {} released", path.display());
            continue;
        }
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_dir(&dir);
}

/// The fence map's pin, beside the links' (`xdp_IFINDEX`).
const FENCE_PIN: &str = "fence";

/// Moves the link `id` out of the program and pins it at `path`. On failure the link is
/// gone (closed, so detached): a netlink-attached program (kernels before 5.9, without XDP
/// links) cannot be pinned.
fn pin_link(
    prog: &mut aya::programs::Xdp,
    id: XdpLinkId,
    path: &Path,
) -> Result<PinnedLink, String> {
    let link = prog.take_link(id).map_err(|e| e.to_string())?;
    let fd = FdLink::try_from(link).map_err(|e| e.to_string())?;
    fd.pin(path).map_err(|e| e.to_string())
}

/// BPF_FS_MAGIC (linux/magic.h).
const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

/// Where pins may live: /sys/fs/bpf (systemd mounts it at boot), else /run/ha/bpf.
const BPFFS: [&str; 2] = ["/sys/fs/bpf", "/run/ha/bpf"];

fn is_bpffs(path: &str) -> bool {
    let Ok(c) = std::ffi::CString::new(path) else {
        return false;
    };
    // SAFETY: statfs fills the struct we own.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    unsafe { libc::statfs(c.as_ptr(), &mut st) == 0 && st.f_type as i64 == BPF_FS_MAGIC }
}

/// Where to pin: the first of [`BPFFS`] that is a bpffs; when neither is, bpffs is mounted
/// at /sys/fs/bpf, or at /run/ha/bpf where /sys cannot take it (under `ip netns exec`,
/// /sys is a private, read-only sysfs). A pin lives as long as its bpffs mount: one made
/// in a private mount namespace (`ip netns exec`) ends with the process, so for daemons
/// started that way, mount bpffs at /run/ha/bpf on the host first (the tests do).
pub fn bpffs_root() -> std::io::Result<PathBuf> {
    if let Some(p) = BPFFS.iter().find(|p| is_bpffs(p)) {
        return Ok(PathBuf::from(p));
    }
    let mut last = None;
    for p in BPFFS {
        let _ = std::fs::create_dir_all(p);
        let c = std::ffi::CString::new(p).map_err(std::io::Error::other)?;
        // SAFETY: mount with NUL-terminated arguments we own.
        let rc = unsafe {
            libc::mount(
                c"bpf".as_ptr(),
                c.as_ptr(),
                c"bpf".as_ptr(),
                0,
                std::ptr::null(),
            )
        };
        if rc == 0 {
            info!("mounted bpffs at {p} (XDP links are pinned there)");
            return Ok(PathBuf::from(p));
        }
        last = Some(std::io::Error::last_os_error());
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no bpffs")))
}
