//! Captures of what a namespace sees on the wire, stamped by the kernel on arrival
//! (`SO_TIMESTAMPNS`), to check what the daemons send and when: gratuitous ARP timing and
//! ARP replies ([`ArpCapture`]), the gaps between one instance's adverts ([`VrrpCapture`]).

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::probe::enter_netns;

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IP: u16 = 0x0800;
const IPPROTO_VRRP: u8 = 112;

/// One frame as the kernel received it.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The kernel's receive time, on the monotonic clock of `Instant`.
    pub at: Instant,
    pub bytes: Vec<u8>,
}

/// Records every frame of one ethertype arriving in a namespace until dropped.
pub struct Capture {
    frames: Arc<Mutex<Vec<Frame>>>,
    stop: Arc<AtomicBool>,
}

impl Capture {
    /// Starts capturing `ethertype` frames in namespace `ns`, on all its interfaces; the
    /// first `keep` bytes of each are kept.
    pub fn start_in(ns: &str, ethertype: u16, keep: usize) -> std::io::Result<Capture> {
        let ns = ns.to_owned();
        let (tx, rx) = std::sync::mpsc::channel();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let frames = frames.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let fd = match enter_netns(&ns).and_then(|()| open(ethertype)) {
                    Ok(fd) => {
                        let _ = tx.send(Ok(()));
                        fd
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let mut buf = vec![0u8; keep];
                while !stop.load(Ordering::Relaxed) {
                    let Some((n, at)) = recv_stamped(&fd, &mut buf) else {
                        continue;
                    };
                    let f = Frame {
                        at,
                        bytes: buf[..n.min(keep)].to_vec(),
                    };
                    if let Ok(mut v) = frames.lock() {
                        v.push(f);
                    }
                }
            });
        }
        rx.recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("capture thread died")))?;
        Ok(Capture { frames, stop })
    }

    pub fn frames(&self) -> Vec<Frame> {
        self.frames.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One ARP frame as seen on the wire.
#[derive(Debug, Clone)]
pub struct ArpFrame {
    pub at: Instant,
    pub op: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_ip: Ipv4Addr,
}

impl ArpFrame {
    /// A gratuitous ARP: sender and target protocol addresses are the same.
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }
}

/// Records every ARP frame arriving in a namespace until dropped.
pub struct ArpCapture(Capture);

impl ArpCapture {
    pub fn start_in(ns: &str) -> std::io::Result<ArpCapture> {
        Capture::start_in(ns, ETH_P_ARP, 64).map(ArpCapture)
    }

    pub fn frames(&self) -> Vec<ArpFrame> {
        self.0.frames().iter().filter_map(arp_frame).collect()
    }
}

fn arp_frame(f: &Frame) -> Option<ArpFrame> {
    let b = f.bytes.get(14..42)?;
    let ip = |o: usize| Ipv4Addr::new(b[o], b[o + 1], b[o + 2], b[o + 3]);
    let mut sender_mac = [0u8; 6];
    sender_mac.copy_from_slice(&b[8..14]);
    Some(ArpFrame {
        at: f.at,
        op: u16::from_be_bytes([b[6], b[7]]),
        sender_mac,
        sender_ip: ip(14),
        target_ip: ip(24),
    })
}

/// One IPv4 VRRP advert as seen on the wire.
#[derive(Debug, Clone, Copy)]
pub struct AdvertFrame {
    pub at: Instant,
    pub src: Ipv4Addr,
    pub vrid: u8,
    pub priority: u8,
}

/// Records every IPv4 VRRP advert arriving in a namespace until dropped.
pub struct VrrpCapture(Capture);

impl VrrpCapture {
    pub fn start_in(ns: &str) -> std::io::Result<VrrpCapture> {
        Capture::start_in(ns, ETH_P_IP, 64).map(VrrpCapture)
    }

    pub fn adverts(&self) -> Vec<AdvertFrame> {
        self.0.frames().iter().filter_map(advert_frame).collect()
    }
}

fn advert_frame(f: &Frame) -> Option<AdvertFrame> {
    let ip = f.bytes.get(14..)?;
    let ihl = usize::from(*ip.first()? & 0x0f) * 4;
    if *ip.get(9)? != IPPROTO_VRRP {
        return None;
    }
    let msg = ip.get(ihl..ihl + 3)?;
    Some(AdvertFrame {
        at: f.at,
        src: Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        vrid: msg[1],
        priority: msg[2],
    })
}

/// The largest gap between consecutive adverts of `vrid` from `src` whose later advert
/// falls in `[from, to]`, and when it ended.
pub fn largest_gap(
    adverts: &[AdvertFrame],
    src: Ipv4Addr,
    vrid: u8,
    from: Instant,
    to: Instant,
) -> Option<(Duration, Instant)> {
    let mine: Vec<Instant> = adverts
        .iter()
        .filter(|a| a.src == src && a.vrid == vrid)
        .map(|a| a.at)
        .collect();
    mine.windows(2)
        .filter(|w| w[1] >= from && w[1] <= to)
        .map(|w| (w[1].saturating_duration_since(w[0]), w[1]))
        .max_by_key(|(gap, _)| *gap)
}

fn open(ethertype: u16) -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ethertype.to_be()),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is fresh and ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 50_000,
    };
    let on: libc::c_int = 1;
    // SAFETY: setsockopt with valid values of their sizes.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    Ok(fd)
}

/// One frame and the kernel's receive stamp, moved onto `Instant`'s clock (now, if the
/// stamp is missing).
fn recv_stamped(fd: &OwnedFd, buf: &mut [u8]) -> Option<(usize, Instant)> {
    let mut cmsg = [0u64; 16];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: a zeroed msghdr is valid; every pointer set below outlives the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cmsg);
    // SAFETY: recvmsg on our socket with a valid msghdr. MSG_TRUNC: the frame's real
    // length, which only matters for what we keep.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_TRUNC) };
    if n < 0 {
        return None;
    }
    let (now_i, now_r) = (Instant::now(), SystemTime::now());
    let mut at = now_i;
    // SAFETY: walking the control messages the kernel wrote into `cmsg`.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SO_TIMESTAMPNS {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                let stamp = UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
                let age = now_r.duration_since(stamp).unwrap_or_default();
                at = now_i.checked_sub(age).unwrap_or(now_i);
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Some((n as usize, at))
}
