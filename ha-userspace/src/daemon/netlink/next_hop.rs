//! The next hop to a real server, for the XDP forwarder: the route the kernel takes to it
//! and a managed neighbour entry that keeps its MAC resolved.

use std::io;
use std::net::IpAddr;

use netlink_packet_core::{NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{Netlink, NetlinkError};

impl Netlink {
    /// `ip route get ADDR`: the interface the kernel sends to `addr` through, and the
    /// gateway when it is not on-link.
    pub fn route_to(&mut self, addr: IpAddr) -> Result<(u32, Option<IpAddr>), NetlinkError> {
        use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
        let mut m = RouteMessage::default();
        let (family, plen, dst) = match addr {
            IpAddr::V4(a) => (AddressFamily::Inet, 32, RouteAddress::Inet(a)),
            IpAddr::V6(a) => (AddressFamily::Inet6, 128, RouteAddress::Inet6(a)),
        };
        m.header.address_family = family;
        m.header.destination_prefix_length = plen;
        m.attributes.push(RouteAttribute::Destination(dst));
        let replies = self.request(
            &|| format!("route to {addr}"),
            RouteNetlinkMessage::GetRoute(m),
            // The route, then the ACK that ends the exchange.
            NLM_F_ACK,
        )?;
        for r in replies {
            let RouteNetlinkMessage::NewRoute(r) = r else {
                continue;
            };
            let oif = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Oif(i) => Some(*i),
                _ => None,
            });
            let gw = r.attributes.iter().find_map(|a| match a {
                RouteAttribute::Gateway(RouteAddress::Inet(g)) => Some(IpAddr::V4(*g)),
                RouteAttribute::Gateway(RouteAddress::Inet6(g)) => Some(IpAddr::V6(*g)),
                _ => None,
            });
            if let Some(oif) = oif {
                return Ok((oif, gw));
            }
        }
        Err(NetlinkError::Kernel {
            what: format!("route to {addr}"),
            err: io::Error::from_raw_os_error(libc::ENETUNREACH),
        })
    }

    /// `ip neigh add ADDR dev IFINDEX managed`: the kernel resolves the entry and keeps it
    /// resolved (Linux 5.16), so an XDP FIB lookup finds the MAC. An entry already there
    /// (learned from traffic) is left as it is. Whether this call added it.
    pub fn managed_neighbour(&mut self, ifindex: u32, addr: IpAddr) -> Result<bool, NetlinkError> {
        self.neighbour(true, ifindex, addr)
    }

    /// `ip neigh del ADDR dev IFINDEX`; one already gone is fine.
    pub fn del_neighbour(&mut self, ifindex: u32, addr: IpAddr) -> Result<(), NetlinkError> {
        self.neighbour(false, ifindex, addr).map(drop)
    }

    fn neighbour(&mut self, add: bool, ifindex: u32, addr: IpAddr) -> Result<bool, NetlinkError> {
        use netlink_packet_route::neighbour::{
            NeighbourAddress, NeighbourAttribute, NeighbourExtFlags, NeighbourMessage,
            NeighbourState,
        };
        let mut m = NeighbourMessage::default();
        m.header.ifindex = ifindex;
        m.header.state = NeighbourState::None;
        let dst = match addr {
            IpAddr::V4(a) => {
                m.header.family = AddressFamily::Inet;
                NeighbourAddress::Inet(a)
            }
            IpAddr::V6(a) => {
                m.header.family = AddressFamily::Inet6;
                NeighbourAddress::Inet6(a)
            }
        };
        m.attributes.push(NeighbourAttribute::Destination(dst));
        if !add {
            return match self.request(
                &|| format!("delete neighbour {addr} on ifindex {ifindex}"),
                RouteNetlinkMessage::DelNeighbour(m),
                NLM_F_ACK,
            ) {
                Err(NetlinkError::Kernel { err, .. })
                    if err.raw_os_error() == Some(libc::ENOENT) =>
                {
                    Ok(false)
                }
                r => r.map(|_| true),
            };
        }
        m.attributes
            .push(NeighbourAttribute::ExtFlags(NeighbourExtFlags::Managed));
        match self.request(
            &|| format!("managed neighbour {addr} on ifindex {ifindex}"),
            RouteNetlinkMessage::NewNeighbour(m),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(NetlinkError::Kernel { err, .. }) if err.raw_os_error() == Some(libc::EEXIST) => {
                Ok(false)
            }
            r => r.map(|_| true),
        }
    }
}
