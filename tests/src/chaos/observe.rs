//! The client's ARP prober: an ARP request for the VIP every `period` from the client's
//! eth0 (an AF_PACKET socket), and the replies, captured with the kernel's receive stamps.
//! Each request and the replies before the next is one round: who answers for the VIP.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::capture::ArpCapture;
use crate::probe::enter_netns;

pub struct ArpProber {
    sends: Arc<Mutex<Vec<Instant>>>,
    capture: ArpCapture,
    vip: Ipv4Addr,
    stop: Arc<AtomicBool>,
}

fn request(mac: [u8; 6], ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&mac);
    f.extend_from_slice(&0x0806u16.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

impl ArpProber {
    /// Starts probing from namespace `ns`, whose eth0 has `mac` and `ip`.
    pub fn start(
        ns: &str,
        mac: [u8; 6],
        ip: Ipv4Addr,
        vip: Ipv4Addr,
        period: Duration,
    ) -> std::io::Result<ArpProber> {
        let capture = ArpCapture::start_in(ns)?;
        let sends = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let (sends, stop, ns) = (sends.clone(), stop.clone(), ns.to_owned());
            std::thread::spawn(move || {
                let setup = || -> std::io::Result<(i32, libc::sockaddr_ll)> {
                    enter_netns(&ns)?;
                    // SAFETY: a plain socket(2); the fd is owned by this thread until it ends.
                    let fd = unsafe {
                        libc::socket(
                            libc::AF_PACKET,
                            libc::SOCK_RAW,
                            i32::from(0x0806u16.to_be()),
                        )
                    };
                    if fd < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    // SAFETY: a NUL-terminated name.
                    let ifindex = unsafe { libc::if_nametoindex(c"eth0".as_ptr()) };
                    // SAFETY: sockaddr_ll is plain data.
                    let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
                    to.sll_family = libc::AF_PACKET as u16;
                    to.sll_protocol = 0x0806u16.to_be();
                    to.sll_ifindex = ifindex as i32;
                    to.sll_halen = 6;
                    to.sll_addr[..6].copy_from_slice(&[0xff; 6]);
                    Ok((fd, to))
                };
                let (fd, to) = match setup() {
                    Ok(x) => {
                        let _ = tx.send(Ok(()));
                        x
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let frame = request(mac, ip, vip);
                crate::probe::paced(period, &stop, || {
                    let at = Instant::now();
                    // SAFETY: sending our buffer to a valid sockaddr_ll.
                    let rc = unsafe {
                        libc::sendto(
                            fd,
                            frame.as_ptr().cast(),
                            frame.len(),
                            0,
                            (&to as *const libc::sockaddr_ll).cast(),
                            std::mem::size_of::<libc::sockaddr_ll>() as u32,
                        )
                    };
                    if rc > 0 {
                        if let Ok(mut s) = sends.lock() {
                            s.push(at);
                        }
                    }
                });
                // SAFETY: closing the socket this thread opened.
                unsafe { libc::close(fd) };
            });
        }
        rx.recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("ARP prober thread died")))?;
        Ok(ArpProber {
            sends,
            capture,
            vip,
            stop,
        })
    }

    /// Each request's time and the MACs that replied for the VIP before the next request.
    pub fn rounds(&self) -> Vec<(Instant, Vec<[u8; 6]>)> {
        let sends = self.sends.lock().map(|s| s.clone()).unwrap_or_default();
        let replies: Vec<(Instant, [u8; 6])> = self
            .capture
            .frames()
            .into_iter()
            .filter(|f| f.op == 2 && f.sender_ip == self.vip && !f.is_gratuitous())
            .map(|f| (f.at, f.sender_mac))
            .collect();
        let mut out = Vec::with_capacity(sends.len());
        let mut r = 0;
        for (i, at) in sends.iter().enumerate() {
            let until = sends.get(i + 1).copied();
            while r < replies.len() && replies[r].0 < *at {
                r += 1;
            }
            let mut macs = Vec::new();
            let mut k = r;
            while k < replies.len() && until.is_none_or(|u| replies[k].0 < u) {
                macs.push(replies[k].1);
                k += 1;
            }
            out.push((*at, macs));
        }
        out
    }
}

impl Drop for ArpProber {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
