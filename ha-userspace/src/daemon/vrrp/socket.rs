//! VRRP raw sockets (`socket2` plus the few options it does not wrap). One receive socket per
//! (interface, family, IP protocol), bound to the interface, joined to the multicast group
//! and stamping packets with the kernel's receive time; one send socket per instance.
//!
//! IPv4 adverts are sent with `IP_HDRINCL`, as keepalived does, so the packet (and for AH the
//! ICV over it) is exactly what `vrrp::ipv4` built. IPv6 leaves the header to the kernel: the
//! hop limit is set to 255 (RFC 5798 §5.1.2.3) and the source is the bound link-local address.

use std::io;
use std::net::{IpAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::daemon::recvmsg::{self, set_int};
use crate::family::Family;
use crate::vrrp::packet::IPPROTO_VRRP;

/// One packet as the receive socket saw it (IPv4: its destination and TTL are in the
/// packet itself).
pub use crate::daemon::recvmsg::Received;

/// A receive socket for one interface, family and IP protocol (112, or 51 for AH).
pub struct RxSocket {
    sock: Socket,
    pub family: Family,
    pub ifindex: u32,
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
        recvmsg::recv(self.sock.as_raw_fd(), buf)
    }
}

impl AsRawFd for RxSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
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
