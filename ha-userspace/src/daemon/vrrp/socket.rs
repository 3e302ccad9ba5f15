//! VRRP raw sockets (`socket2` plus the few options it does not wrap). One receive socket per
//! (interface, family, IP protocol), bound to the interface, joined to the multicast group
//! and stamping packets with the kernel's receive time; one send socket per instance.
//!
//! IPv4 adverts are sent with `IP_HDRINCL`, as keepalived does, so the packet (and for AH the
//! ICV over it) is exactly what `vrrp::ipv4` built. IPv6 leaves the header to the kernel: the
//! hop limit is set to 255 (RFC 5798 §5.1.2.3) and the source is the bound link-local address.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::family::Family;
use crate::vrrp::packet::IPPROTO_VRRP;

/// One packet as the receive socket saw it.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub len: usize,
    pub src: IpAddr,
    /// IPv6: from `IPV6_PKTINFO`. IPv4: in the packet itself.
    pub dst: Option<IpAddr>,
    /// IPv6: from `IPV6_HOPLIMIT`. IPv4: in the packet itself.
    pub hop_limit: Option<u8>,
    /// `SO_TIMESTAMPNS`: when the kernel received it, on the realtime clock, in ns.
    pub stamp_realtime_ns: Option<u64>,
}

/// A receive socket for one interface, family and IP protocol (112, or 51 for AH).
pub struct RxSocket {
    sock: Socket,
    pub family: Family,
    pub ifindex: u32,
}

fn set_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: `value` lives across the call and its size is passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn with_context(e: io::Error, what: &str, ifname: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what} on {ifname}: {e}"))
}

impl RxSocket {
    pub fn open(
        family: Family,
        ifname: &str,
        ifindex: u32,
        protocol: u8,
        groups: &[IpAddr],
    ) -> io::Result<Self> {
        let ctx = |what: &'static str| move |e| with_context(e, what, ifname);
        let domain = match family {
            Family::V4 => Domain::IPV4,
            Family::V6 => Domain::IPV6,
        };
        let sock = Socket::new(domain, Type::RAW, Some(Protocol::from(i32::from(protocol))))
            .map_err(ctx("raw socket (needs CAP_NET_RAW)"))?;
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(ctx("SO_BINDTODEVICE"))?;
        let fd = sock.as_raw_fd();
        set_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1).map_err(ctx("SO_TIMESTAMPNS"))?;
        match family {
            Family::V4 => {
                sock.set_multicast_all_v4(false).ok();
                for g in groups {
                    if let IpAddr::V4(g) = g {
                        sock.join_multicast_v4_n(
                            g,
                            &socket2::InterfaceIndexOrAddress::Index(ifindex),
                        )
                        .map_err(ctx("joining the VRRP multicast group"))?;
                    }
                }
            }
            Family::V6 => {
                sock.set_multicast_all_v6(false).ok();
                set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)
                    .map_err(ctx("IPV6_RECVPKTINFO"))?;
                set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)
                    .map_err(ctx("IPV6_RECVHOPLIMIT"))?;
                for g in groups {
                    if let IpAddr::V6(g) = g {
                        sock.join_multicast_v6(g, ifindex)
                            .map_err(ctx("joining the VRRP multicast group"))?;
                    }
                }
            }
        }
        sock.set_nonblocking(true)?;
        Ok(RxSocket {
            sock,
            family,
            ifindex,
        })
    }

    /// The next queued packet, `None` when the queue is empty.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        let mut from: MaybeUninit<libc::sockaddr_in6> = MaybeUninit::zeroed();
        let mut cmsg = [0u64; 64];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: a zeroed msghdr is valid; every pointer set below outlives the call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = from.as_mut_ptr().cast();
        msg.msg_namelen = size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cmsg.as_mut_ptr().cast();
        msg.msg_controllen = size_of::<[u64; 64]>();
        // SAFETY: msg describes valid buffers.
        let n = unsafe { libc::recvmsg(self.sock.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        // SAFETY: the kernel filled `from` up to msg_namelen, within its size.
        let src = unsafe { sockaddr_ip(from.as_ptr().cast(), msg.msg_namelen) };
        let Some(src) = src else {
            return Ok(None);
        };
        let mut got = Received {
            len: n as usize,
            src,
            dst: None,
            hop_limit: None,
            stamp_realtime_ns: None,
        };
        // SAFETY: walking the control buffer the kernel filled, with the CMSG_* macros.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                let data = libc::CMSG_DATA(c);
                match ((*c).cmsg_level, (*c).cmsg_type) {
                    (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS) => {
                        let ts: libc::timespec = std::ptr::read_unaligned(data.cast());
                        got.stamp_realtime_ns =
                            Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
                    }
                    (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                        let pi: libc::in6_pktinfo = std::ptr::read_unaligned(data.cast());
                        got.dst = Some(IpAddr::V6(Ipv6Addr::from(pi.ipi6_addr.s6_addr)));
                    }
                    (libc::IPPROTO_IPV6, libc::IPV6_HOPLIMIT) => {
                        let h: i32 = std::ptr::read_unaligned(data.cast());
                        got.hop_limit = u8::try_from(h).ok();
                    }
                    _ => {}
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok(Some(got))
    }
}

impl AsRawFd for RxSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// SAFETY: `sa` points to `len` initialized bytes of a sockaddr.
unsafe fn sockaddr_ip(sa: *const libc::sockaddr, len: libc::socklen_t) -> Option<IpAddr> {
    // SAFETY: per the contract, the family field is readable when len covers it.
    unsafe {
        if (len as usize) < size_of::<libc::sa_family_t>() {
            return None;
        }
        match i32::from((*sa).sa_family) {
            libc::AF_INET if len as usize >= size_of::<libc::sockaddr_in>() => {
                let s: libc::sockaddr_in = std::ptr::read_unaligned(sa.cast());
                Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(s.sin_addr.s_addr))))
            }
            libc::AF_INET6 if len as usize >= size_of::<libc::sockaddr_in6>() => {
                let s: libc::sockaddr_in6 = std::ptr::read_unaligned(sa.cast());
                Some(IpAddr::V6(Ipv6Addr::from(s.sin6_addr.s6_addr)))
            }
            _ => None,
        }
    }
}

/// A send socket for one instance.
pub struct TxSocket {
    sock: Socket,
    family: Family,
    ifindex: u32,
}

impl TxSocket {
    /// IPv4: packets carry their own header (`IP_HDRINCL`). IPv6: bound to `src` (the
    /// link-local address) on `ifindex`, hop limit 255 both ways.
    pub fn open(family: Family, ifname: &str, ifindex: u32, src: IpAddr) -> io::Result<Self> {
        let ctx = |what: &'static str| move |e| with_context(e, what, ifname);
        let sock = match family {
            Family::V4 => {
                let s = Socket::new(
                    Domain::IPV4,
                    Type::RAW,
                    Some(Protocol::from(i32::from(IPPROTO_VRRP))),
                )
                .map_err(ctx("raw socket (needs CAP_NET_RAW)"))?;
                s.set_header_included_v4(true).map_err(ctx("IP_HDRINCL"))?;
                s.set_multicast_loop_v4(false).ok();
                s
            }
            Family::V6 => {
                let s = Socket::new(
                    Domain::IPV6,
                    Type::RAW,
                    Some(Protocol::from(i32::from(IPPROTO_VRRP))),
                )
                .map_err(ctx("raw socket (needs CAP_NET_RAW)"))?;
                s.set_multicast_hops_v6(255)
                    .map_err(ctx("IPV6_MULTICAST_HOPS"))?;
                s.set_unicast_hops_v6(255)
                    .map_err(ctx("IPV6_UNICAST_HOPS"))?;
                s.set_multicast_if_v6(ifindex)
                    .map_err(ctx("IPV6_MULTICAST_IF"))?;
                s.set_multicast_loop_v6(false).ok();
                if let IpAddr::V6(a) = src {
                    let scope = if a.is_unicast_link_local() {
                        ifindex
                    } else {
                        0
                    };
                    s.bind(&SockAddr::from(SocketAddrV6::new(a, 0, 0, scope)))
                        .map_err(ctx("binding the advert source address"))?;
                }
                s
            }
        };
        sock.bind_device(Some(ifname.as_bytes()))
            .map_err(ctx("SO_BINDTODEVICE"))?;
        sock.set_nonblocking(true)?;
        Ok(TxSocket {
            sock,
            family,
            ifindex,
        })
    }

    /// Sends one advert: for IPv4 the whole packet, for IPv6 the VRRP message.
    pub fn send(&self, bytes: &[u8], dst: IpAddr) -> io::Result<()> {
        let to = match (self.family, dst) {
            (Family::V4, IpAddr::V4(a)) => SockAddr::from(SocketAddrV4::new(a, 0)),
            (Family::V6, IpAddr::V6(a)) => {
                let scope = if a.is_multicast() || a.is_unicast_link_local() {
                    self.ifindex
                } else {
                    0
                };
                SockAddr::from(SocketAddrV6::new(a, 0, 0, scope))
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("advert destination {dst} is not of the socket's family"),
                ))
            }
        };
        self.sock.send_to(bytes, &to)?;
        Ok(())
    }
}
