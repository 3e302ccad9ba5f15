//! The BFD thread's sockets (RFC 5881 §4, RFC 5883 §5): a receive socket per family and
//! port (3784 single hop, 4784 multihop) reporting each packet's TTL / hop limit and
//! destination, and one send socket per family from a port in 49152–65535, shared by every
//! session (the RFC asks one source port per session; one for all is allowed) so a tick's
//! packets leave in one `sendmmsg`, each with its own TTL and source address as ancillary
//! data.

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::bfd::packet::{LEN, PORT_MULTIHOP, PORT_SINGLE_HOP, SOURCE_PORT_MIN};
use crate::daemon::recvmsg::{self, set_int};

fn ctx(what: String) -> impl FnOnce(io::Error) -> io::Error {
    move |e| io::Error::new(e.kind(), format!("{what}: {e}"))
}

pub use crate::daemon::recvmsg::Received;

pub struct RxSocket {
    sock: Socket,
    pub port: u16,
}

impl RxSocket {
    pub fn open(v6: bool, port: u16) -> io::Result<RxSocket> {
        let what = format!(
            "BFD receive socket {}:{port}",
            if v6 { "[::]" } else { "0.0.0.0" }
        );
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let sock =
            Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(ctx(what.clone()))?;
        let fd = sock.as_raw_fd();
        if v6 {
            sock.set_only_v6(true).map_err(ctx(what.clone()))?;
            set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)
                .map_err(ctx(what.clone()))?;
            set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO, 1)
                .map_err(ctx(what.clone()))?;
        } else {
            set_int(fd, libc::IPPROTO_IP, libc::IP_RECVTTL, 1).map_err(ctx(what.clone()))?;
            set_int(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1).map_err(ctx(what.clone()))?;
        }
        let any: SocketAddr = if v6 {
            (Ipv6Addr::UNSPECIFIED, port).into()
        } else {
            (Ipv4Addr::UNSPECIFIED, port).into()
        };
        sock.bind(&any.into()).map_err(ctx(what.clone()))?;
        sock.set_nonblocking(true).map_err(ctx(what))?;
        Ok(RxSocket { sock, port })
    }

    /// The next queued datagram, `None` when the queue is empty.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Received>> {
        recvmsg::recv(self.sock.as_raw_fd(), buf)
    }
}

impl AsRawFd for RxSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// Both receive ports of one family.
pub fn open_rx(v6: bool) -> io::Result<Vec<RxSocket>> {
    [PORT_SINGLE_HOP, PORT_MULTIHOP]
        .into_iter()
        .map(|p| RxSocket::open(v6, p))
        .collect()
}

/// One packet to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing {
    pub bytes: [u8; LEN],
    pub dst: IpAddr,
    pub src: Option<IpAddr>,
    pub ttl: u8,
    /// 3784 or 4784.
    pub port: u16,
}

pub struct TxSocket {
    sock: Socket,
    v6: bool,
    pub port: u16,
}

impl TxSocket {
    /// A send socket on the first free port from a random start in 49152–65535.
    pub fn open(v6: bool, start: u16) -> io::Result<TxSocket> {
        let what = || format!("BFD send socket ({})", if v6 { "IPv6" } else { "IPv4" });
        let domain = if v6 { Domain::IPV6 } else { Domain::IPV4 };
        let sock = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP)).map_err(ctx(what()))?;
        if v6 {
            sock.set_only_v6(true).map_err(ctx(what()))?;
        }
        // Source addresses that are not (yet) ours, like a VIP: IP_FREEBIND.
        let _ = if v6 {
            sock.set_freebind_v6(true)
        } else {
            sock.set_freebind_v4(true)
        };
        let span = 65536 - u32::from(SOURCE_PORT_MIN);
        let mut last = None;
        for i in 0..span {
            let port = (SOURCE_PORT_MIN as u32 + (u32::from(start) + i) % span) as u16;
            let any: SocketAddr = if v6 {
                (Ipv6Addr::UNSPECIFIED, port).into()
            } else {
                (Ipv4Addr::UNSPECIFIED, port).into()
            };
            match sock.bind(&any.into()) {
                Ok(()) => {
                    sock.set_nonblocking(true).map_err(ctx(what()))?;
                    return Ok(TxSocket { sock, v6, port });
                }
                Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => last = Some(e),
                Err(e) => return Err(ctx(what())(e)),
            }
        }
        Err(ctx(what())(last.unwrap_or_else(|| {
            io::Error::from(io::ErrorKind::AddrInUse)
        })))
    }

    /// Sends a batch with one `sendmmsg` (repeated if the kernel takes part of it); the
    /// number of packets that failed.
    pub fn send_batch(&self, batch: &[Outgoing]) -> usize {
        const CMSG_WORDS: usize = 8;
        let n = batch.len();
        if n == 0 {
            return 0;
        }
        let names: Vec<SockAddr> = batch
            .iter()
            .map(|o| SockAddr::from(SocketAddr::new(o.dst, o.port)))
            .collect();
        let mut bytes: Vec<[u8; LEN]> = batch.iter().map(|o| o.bytes).collect();
        let mut iovs: Vec<libc::iovec> = bytes
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: LEN,
            })
            .collect();
        let mut cmsgs = vec![[0u64; CMSG_WORDS]; n];
        let mut msgs: Vec<libc::mmsghdr> = Vec::with_capacity(n);
        for i in 0..n {
            // SAFETY: zeroed mmsghdr is valid; the pointers below live until sendmmsg returns.
            let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
            m.msg_hdr.msg_name = names[i].as_ptr() as *mut libc::c_void;
            m.msg_hdr.msg_namelen = names[i].len();
            m.msg_hdr.msg_iov = &mut iovs[i];
            m.msg_hdr.msg_iovlen = 1;
            m.msg_hdr.msg_control = cmsgs[i].as_mut_ptr().cast();
            m.msg_hdr.msg_controllen = size_of::<[u64; CMSG_WORDS]>();
            // SAFETY: filling the control buffer through the CMSG_* macros, within its size.
            let used = unsafe { self.fill_cmsg(&mut m.msg_hdr, &batch[i]) };
            m.msg_hdr.msg_controllen = used;
            msgs.push(m);
        }
        let mut sent = 0usize;
        let mut failed = 0usize;
        while sent < n {
            // SAFETY: msgs[sent..] are valid mmsghdrs whose buffers outlive the call.
            let rc = unsafe {
                libc::sendmmsg(
                    self.sock.as_raw_fd(),
                    msgs[sent..].as_mut_ptr(),
                    (n - sent) as u32,
                    libc::MSG_DONTWAIT,
                )
            };
            if rc <= 0 {
                // The first packet of the rest failed (no route, a full queue): skip it.
                failed += 1;
                sent += 1;
            } else {
                sent += rc as usize;
            }
        }
        failed
    }

    /// TTL / hop limit and, when set, the source address.
    ///
    /// SAFETY: `m.msg_control` points to a zeroed buffer of `m.msg_controllen` bytes.
    unsafe fn fill_cmsg(&self, m: &mut libc::msghdr, o: &Outgoing) -> usize {
        // SAFETY: per the contract; CMSG_* stay within the buffer (it fits both headers).
        unsafe {
            let mut used = 0usize;
            let mut c = libc::CMSG_FIRSTHDR(m);
            let ttl = i32::from(o.ttl);
            if self.v6 {
                (*c).cmsg_level = libc::IPPROTO_IPV6;
                (*c).cmsg_type = libc::IPV6_HOPLIMIT;
                (*c).cmsg_len = libc::CMSG_LEN(size_of::<i32>() as u32) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast(), ttl);
                used += libc::CMSG_SPACE(size_of::<i32>() as u32) as usize;
                if let Some(IpAddr::V6(src)) = o.src {
                    c = libc::CMSG_NXTHDR(m, c);
                    (*c).cmsg_level = libc::IPPROTO_IPV6;
                    (*c).cmsg_type = libc::IPV6_PKTINFO;
                    (*c).cmsg_len = libc::CMSG_LEN(size_of::<libc::in6_pktinfo>() as u32) as _;
                    let pi = libc::in6_pktinfo {
                        ipi6_addr: libc::in6_addr {
                            s6_addr: src.octets(),
                        },
                        ipi6_ifindex: 0,
                    };
                    std::ptr::write_unaligned(libc::CMSG_DATA(c).cast(), pi);
                    used += libc::CMSG_SPACE(size_of::<libc::in6_pktinfo>() as u32) as usize;
                }
            } else {
                (*c).cmsg_level = libc::IPPROTO_IP;
                (*c).cmsg_type = libc::IP_TTL;
                (*c).cmsg_len = libc::CMSG_LEN(size_of::<i32>() as u32) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(c).cast(), ttl);
                used += libc::CMSG_SPACE(size_of::<i32>() as u32) as usize;
                if let Some(IpAddr::V4(src)) = o.src {
                    c = libc::CMSG_NXTHDR(m, c);
                    (*c).cmsg_level = libc::IPPROTO_IP;
                    (*c).cmsg_type = libc::IP_PKTINFO;
                    (*c).cmsg_len = libc::CMSG_LEN(size_of::<libc::in_pktinfo>() as u32) as _;
                    let pi = libc::in_pktinfo {
                        ipi_ifindex: 0,
                        ipi_spec_dst: libc::in_addr {
                            s_addr: u32::from(src).to_be(),
                        },
                        ipi_addr: libc::in_addr { s_addr: 0 },
                    };
                    std::ptr::write_unaligned(libc::CMSG_DATA(c).cast(), pi);
                    used += libc::CMSG_SPACE(size_of::<libc::in_pktinfo>() as u32) as usize;
                }
            }
            used
        }
    }
}
