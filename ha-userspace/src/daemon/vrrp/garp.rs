//! Announcing the VIPs after a takeover: gratuitous ARP for IPv4 (RFC 5798 §6.4.2 "broadcast
//! a gratuitous ARP request"), unsolicited Neighbor Advertisements for IPv6 (RFC 5798 §8.2,
//! RFC 4861 §7.2.6). Frames are built by pure functions; sending is an `AF_PACKET` socket for
//! ARP and an ICMPv6 raw socket (the kernel fills in the checksum) for NA.

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tracing::debug;

use super::pacer::{Message, Pacer};
use crate::time::MonoTime;
use crate::units::Micros;

const ETH_P_ARP: u16 = 0x0806;
const ARPOP_REQUEST: u16 = 1;
pub const ARP_FRAME_LEN: usize = 42;
const ICMPV6_NEIGHBOR_ADVERT: u8 = 136;
/// RFC 4861 §4.4: the Override flag; the Router flag is set when we forward, as keepalived
/// does from the interface's `forwarding` sysctl.
const NA_FLAG_ROUTER: u32 = 0x8000_0000;
const NA_FLAG_OVERRIDE: u32 = 0x2000_0000;
/// RFC 4861 §4.6.1: Target Link-Layer Address option.
const ND_OPT_TARGET_LL_ADDR: u8 = 2;
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// A gratuitous ARP request for `ip` from `mac`: Ethernet broadcast, sender and target
/// protocol addresses both `ip` (RFC 5227 §3's ARP Announcement, as keepalived sends it).
pub fn arp_announcement(mac: [u8; 6], ip: Ipv4Addr) -> [u8; ARP_FRAME_LEN] {
    let mut f = [0u8; ARP_FRAME_LEN];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol: IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&ARPOP_REQUEST.to_be_bytes());
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    f[32..38].copy_from_slice(&[0xff; 6]);
    f[38..42].copy_from_slice(&ip.octets());
    f
}

/// The ICMPv6 body of an unsolicited Neighbor Advertisement for `target` (checksum left 0
/// for the kernel).
pub fn unsolicited_na(mac: [u8; 6], target: Ipv6Addr, router: bool) -> [u8; 32] {
    let mut m = [0u8; 32];
    m[0] = ICMPV6_NEIGHBOR_ADVERT;
    let flags = NA_FLAG_OVERRIDE | if router { NA_FLAG_ROUTER } else { 0 };
    m[4..8].copy_from_slice(&flags.to_be_bytes());
    m[8..24].copy_from_slice(&target.octets());
    m[24] = ND_OPT_TARGET_LL_ADDR;
    m[25] = 1; // length in units of 8 bytes
    m[26..32].copy_from_slice(&mac);
    m
}

/// Sends announcements on any interface, paced by [`Pacer`].
pub struct Announcer {
    packet: OwnedFd,
    icmp6: Socket,
    pacer: Pacer,
}

impl Announcer {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ARP.to_be()),
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fd is a fresh, valid descriptor nobody else owns.
        let packet = unsafe { OwnedFd::from_raw_fd(fd) };
        let icmp6 = Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::ICMPV6))?;
        // RFC 4861 §7.1.2: a node MUST discard an NA whose hop limit is not 255.
        icmp6.set_multicast_hops_v6(255)?;
        icmp6.set_unicast_hops_v6(255)?;
        icmp6.set_multicast_loop_v6(false).ok();
        Ok(Announcer {
            packet,
            icmp6,
            pacer: Pacer::default(),
        })
    }

    /// Sends `msg` now, or queues it until `interval` has passed since the previous
    /// message of its kind on its interface.
    pub fn announce(&mut self, now: MonoTime, msg: Message, interval: Micros) -> io::Result<()> {
        match self.pacer.offer(now, msg, interval) {
            Some(m) => self.send(&m),
            None => Ok(()),
        }
    }

    /// When a queued announcement is due.
    pub fn deadline(&self) -> Option<MonoTime> {
        self.pacer.deadline()
    }

    /// Sends the queued announcements due at `now`.
    pub fn on_timer(&mut self, now: MonoTime) {
        for m in self.pacer.due(now) {
            if let Err(e) = self.send(&m) {
                debug!(addr = %m.addr, "announcement not sent: {e}");
            }
        }
    }

    /// Forgets queued announcements of addresses we released.
    pub fn forget(&mut self, addrs: &[IpAddr]) {
        self.pacer.forget(addrs);
    }

    fn send(&self, m: &Message) -> io::Result<()> {
        match m.addr {
            IpAddr::V4(a) => self.send_arp(m.ifindex, m.mac, a),
            IpAddr::V6(a) => self.send_na(m.ifindex, m.mac, a, m.router),
        }
    }

    pub fn send_arp(&self, ifindex: u32, mac: [u8; 6], ip: Ipv4Addr) -> io::Result<()> {
        let frame = arp_announcement(mac, ip);
        // SAFETY: a zeroed sockaddr_ll is valid; fields set below.
        let mut ll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        ll.sll_family = libc::AF_PACKET as u16;
        ll.sll_protocol = ETH_P_ARP.to_be();
        ll.sll_ifindex = ifindex as i32;
        ll.sll_halen = 6;
        ll.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        // SAFETY: frame and ll are valid for the lengths passed.
        let rc = unsafe {
            libc::sendto(
                self.packet.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&ll as *const libc::sockaddr_ll).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    pub fn send_na(
        &self,
        ifindex: u32,
        mac: [u8; 6],
        ip: Ipv6Addr,
        router: bool,
    ) -> io::Result<()> {
        let msg = unsolicited_na(mac, ip, router);
        self.icmp6.set_multicast_if_v6(ifindex)?;
        let to = SockAddr::from(SocketAddrV6::new(ALL_NODES, 0, 0, ifindex));
        self.icmp6.send_to(&msg, &to)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

    #[test]
    fn arp_announcement_layout() {
        let f = arp_announcement(MAC, Ipv4Addr::new(192, 0, 2, 10));
        let want: [u8; ARP_FRAME_LEN] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x01, 0x08,
            0x06, // ethernet
            0, 1, 0x08, 0, 6, 4, 0, 1, // htype, ptype, hlen, plen, op = request
            0x02, 0, 0, 0, 0, 0x01, 192, 0, 2, 10, // sender
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 192, 0, 2, 10, // target
        ];
        assert_eq!(f, want);
    }

    #[test]
    fn unsolicited_na_layout() {
        let ip: Ipv6Addr = "2001:db8::10".parse().unwrap();
        let m = unsolicited_na(MAC, ip, false);
        assert_eq!(m[0], 136);
        assert_eq!(&m[4..8], &[0x20, 0, 0, 0], "override only");
        assert_eq!(&m[8..24], &ip.octets());
        assert_eq!(&m[24..32], &[2, 1, 0x02, 0, 0, 0, 0, 0x01]);
        assert_eq!(unsolicited_na(MAC, ip, true)[4], 0xa0, "router + override");
    }
}
