//! A capture of the ARP frames a namespace sees, to check what the daemons announce on the
//! wire (gratuitous ARP timing, ARP replies).

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::probe::enter_netns;

const ETH_P_ARP: u16 = 0x0806;

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
pub struct ArpCapture {
    frames: Arc<Mutex<Vec<ArpFrame>>>,
    stop: Arc<AtomicBool>,
}

impl ArpCapture {
    /// Starts capturing in namespace `ns`, on all its interfaces.
    pub fn start_in(ns: &str) -> std::io::Result<ArpCapture> {
        let ns = ns.to_owned();
        let (tx, rx) = std::sync::mpsc::channel();
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let frames = frames.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let fd = match enter_netns(&ns).and_then(|()| open()) {
                    Ok(fd) => {
                        let _ = tx.send(Ok(()));
                        fd
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let mut buf = [0u8; 128];
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: reading into a valid buffer of its length.
                    let n = unsafe {
                        libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0)
                    };
                    if n < 42 {
                        continue;
                    }
                    let b = &buf[14..];
                    let ip = |o: usize| Ipv4Addr::new(b[o], b[o + 1], b[o + 2], b[o + 3]);
                    let mut sender_mac = [0u8; 6];
                    sender_mac.copy_from_slice(&b[8..14]);
                    let f = ArpFrame {
                        at: Instant::now(),
                        op: u16::from_be_bytes([b[6], b[7]]),
                        sender_mac,
                        sender_ip: ip(14),
                        target_ip: ip(24),
                    };
                    if let Ok(mut v) = frames.lock() {
                        v.push(f);
                    }
                }
            });
        }
        rx.recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("capture thread died")))?;
        Ok(ArpCapture { frames, stop })
    }

    pub fn frames(&self) -> Vec<ArpFrame> {
        self.frames.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Drop for ArpCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn open() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            i32::from(ETH_P_ARP.to_be()),
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
    // SAFETY: setsockopt with a valid timeval of its size.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    Ok(fd)
}
