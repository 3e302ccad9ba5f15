//! One datagram with the ancillary data the daemon's receive sockets ask for, by
//! `recvmsg`: the VRRP raw sockets (receive stamp, IPv6 destination and hop limit) and the
//! BFD UDP sockets (destination and TTL / hop limit of both families); and [`set_int`], the
//! integer socket option that asks for each.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::RawFd;

/// One datagram; each field is `None` unless the socket asked for it.
#[derive(Debug, Clone, Copy)]
pub struct Received {
    pub len: usize,
    /// The sender (an IPv4-mapped IPv6 address as IPv4).
    pub src: IpAddr,
    /// `IP_PKTINFO` / `IPV6_PKTINFO`.
    pub dst: Option<IpAddr>,
    /// `IP_RECVTTL` / `IPV6_RECVHOPLIMIT`.
    pub hop_limit: Option<u8>,
    /// `SO_TIMESTAMPNS`: when the kernel received it, on the realtime clock, in ns.
    pub stamp_realtime_ns: Option<u64>,
}

/// An integer socket option (the `IP_RECVTTL`-style switches socket2 does not wrap).
pub fn set_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
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

/// The next queued datagram of `fd`, `None` when the queue is empty.
pub fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<Option<Received>> {
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
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
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
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                    let pi: libc::in_pktinfo = std::ptr::read_unaligned(data.cast());
                    got.dst = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(pi.ipi_addr.s_addr))));
                }
                (libc::IPPROTO_IP, libc::IP_TTL) => {
                    let t: i32 = std::ptr::read_unaligned(data.cast());
                    got.hop_limit = u8::try_from(t).ok();
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
                {
                    let a = Ipv6Addr::from(s.sin6_addr.s6_addr);
                    Some(a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4))
                }
            }
            _ => None,
        }
    }
}
