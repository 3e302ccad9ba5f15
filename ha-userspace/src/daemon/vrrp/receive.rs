//! The receive path, as the engine sees it: something with a file descriptor to wait on
//! that, once readable, hands over what arrived. Two implementations: the raw socket here
//! (every packet, validated in userspace against RFC 5798 §7.1, stamped by the kernel) and
//! the XDP program of the fast path (adverts validated in the kernel; only changes reach
//! userspace).

use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::os::fd::{AsRawFd, RawFd};

use super::socket::RxSocket;
use crate::daemon::clock::rx_time;
use crate::family::Family;
use crate::time::MonoTime;
use crate::units::Vrid;

/// One thing a receive path delivers.
#[derive(Debug, Clone, Copy)]
pub enum Rx<'a> {
    /// A packet still to be checked: IPv4 as read with its header, IPv6 as the VRRP message
    /// with `(src, dst, hop limit)` from the ancillary data.
    Packet {
        bytes: &'a [u8],
        src: IpAddr,
        v6: Option<(Ipv6Addr, Ipv6Addr, Option<u8>)>,
        at: MonoTime,
    },
    /// A VRRP message the XDP program handed over (it differs from the advert the engine
    /// follows): still to be checked, with what the kernel saw of its IP header. It names its
    /// own interface and family: one ring buffer serves them all.
    Message {
        ifindex: u32,
        family: Family,
        bytes: &'a [u8],
        src: IpAddr,
        dst: IpAddr,
        hop_limit: u8,
        at: MonoTime,
    },
    /// The kernel's master-down timer fired: the followed master has been silent since
    /// `last_seen`.
    MasterDown {
        ifindex: u32,
        family: Family,
        vrid: Vrid,
        last_seen: MonoTime,
    },
}

pub trait AdvertReceiver: Send {
    /// The descriptor that becomes readable when something arrived.
    fn fd(&self) -> RawFd;
    /// Hands everything queued to `f`, then returns.
    fn drain(&mut self, f: &mut dyn FnMut(Rx<'_>)) -> io::Result<()>;
}

/// The raw-socket receive path.
pub struct RawReceiver {
    sock: RxSocket,
    buf: Vec<u8>,
}

impl RawReceiver {
    pub fn new(sock: RxSocket) -> Self {
        RawReceiver {
            sock,
            buf: vec![0; 65536],
        }
    }
}

impl AdvertReceiver for RawReceiver {
    fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    fn drain(&mut self, f: &mut dyn FnMut(Rx<'_>)) -> io::Result<()> {
        while let Some(got) = self.sock.recv(&mut self.buf)? {
            let at = rx_time(got.stamp_realtime_ns);
            let v6 = match (self.sock.family, got.src, got.dst) {
                (Family::V4, _, _) => None,
                (Family::V6, IpAddr::V6(s), Some(IpAddr::V6(d))) => Some((s, d, got.hop_limit)),
                // An IPv6 packet without its destination: nothing to check it against.
                (Family::V6, _, _) => continue,
            };
            f(Rx::Packet {
                bytes: &self.buf[..got.len],
                src: got.src,
                v6,
                at,
            });
        }
        Ok(())
    }
}
