//! rtnetlink from the engine thread: links, addresses and link events. The messages are
//! `netlink-packet-route`'s (the crate under `rtnetlink`); the socket is a plain blocking
//! `netlink-sys` one, because the engine is a poll loop rather than an async runtime and an
//! address change takes tens of microseconds.

use std::io;
use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{
    AfSpecInet6, AfSpecUnspec, InfoData, InfoKind, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage, MacVlanMode,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket};
use thiserror::Error;

mod monitor;
mod next_hop;

pub use monitor::LinkMonitor;

use crate::config::model::vrrp::address::Broadcast;
use crate::config::model::vrrp::IpAddress;

#[derive(Debug, Error)]
pub enum NetlinkError {
    #[error("netlink socket: {0}")]
    Io(#[from] io::Error),
    #[error("netlink {what}: {err}")]
    Kernel { what: String, err: io::Error },
    #[error("netlink {what}: undecodable reply: {detail}")]
    Decode { what: String, detail: String },
}

/// An interface as the daemon needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// keepalived's test: administratively up and running (carrier).
    pub up: bool,
    pub mac: Option<[u8; 6]>,
    /// `net.ipv6.conf.IFACE.forwarding`: the Router flag of our neighbour advertisements
    /// (RFC 4861 §4.4), as keepalived sets it. Kept current by the link monitor.
    pub forwarding6: bool,
}

/// The interfaces of the namespace, as last dumped and kept current by link events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Links(pub Vec<Link>);

impl Links {
    pub fn by_index(&self, index: u32) -> Option<&Link> {
        self.0.iter().find(|l| l.index == index)
    }

    pub fn by_name(&self, name: &str) -> Option<&Link> {
        self.0.iter().find(|l| l.name == name)
    }

    pub fn index_of(&self, name: &str) -> Option<u32> {
        self.by_name(name).map(|l| l.index)
    }

    /// Whether `name` exists and is up (carrier).
    pub fn is_up(&self, name: &str) -> bool {
        self.by_name(name).is_some_and(|l| l.up)
    }

    /// Replaces (or adds) a link as an event reported it.
    pub fn update(&mut self, l: &Link) {
        match self.0.iter_mut().find(|x| x.index == l.index) {
            Some(x) => *x = l.clone(),
            None => self.0.push(l.clone()),
        }
    }
}

/// An address configured on an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfAddr {
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub scope: u8,
    pub secondary: bool,
}

/// A request/response rtnetlink connection.
pub struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Netlink {
    pub fn new() -> Result<Self, NetlinkError> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.set_ext_ack(true).ok();
        Ok(Netlink {
            sock,
            seq: 0,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Sends one request and collects the replies until the ACK or DONE.
    fn request(
        &mut self,
        what: &dyn Fn() -> String,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        nl.finalize();
        let mut out = vec![0; nl.buffer_len()];
        nl.serialize(&mut out);
        self.sock.send(&out, 0)?;
        let mut replies = Vec::new();
        loop {
            let n = self.sock.recv(&mut &mut self.buf[..], 0)?;
            let mut off = 0;
            while off < n {
                let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&self.buf[off..n])
                    .map_err(|e| NetlinkError::Decode {
                        what: what(),
                        detail: e.to_string(),
                    })?;
                let len = msg.header.length as usize;
                if msg.header.sequence_number != self.seq {
                    off += len.max(1);
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::Error(e) => {
                        return match e.code {
                            None => Ok(replies),
                            Some(code) => Err(NetlinkError::Kernel {
                                what: what(),
                                err: io::Error::from_raw_os_error(-code.get()),
                            }),
                        };
                    }
                    NetlinkPayload::InnerMessage(m) => replies.push(m),
                    _ => {}
                }
                if len == 0 {
                    break;
                }
                off += len;
            }
        }
    }

    /// Every interface.
    pub fn links(&mut self) -> Result<Links, NetlinkError> {
        let replies = self.request(
            &|| "link dump".into(),
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(Links(
            replies
                .into_iter()
                .filter_map(|m| match m {
                    RouteNetlinkMessage::NewLink(l) => Some(link_of(&l)),
                    _ => None,
                })
                .collect(),
        ))
    }

    pub fn link_by_name(&mut self, name: &str) -> Result<Option<Link>, NetlinkError> {
        Ok(self.links()?.0.into_iter().find(|l| l.name == name))
    }

    /// The addresses of one interface.
    pub fn addresses(&mut self, index: u32) -> Result<Vec<IfAddr>, NetlinkError> {
        let replies = self.request(
            &|| format!("address dump of ifindex {index}"),
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
        )?;
        let mut out = Vec::new();
        for m in replies {
            let RouteNetlinkMessage::NewAddress(a) = m else {
                continue;
            };
            if a.header.index != index {
                continue;
            }
            // IFA_LOCAL is the address itself on point-to-point links; IFA_ADDRESS otherwise.
            let local = a.attributes.iter().find_map(|at| match at {
                AddressAttribute::Local(ip) => Some(*ip),
                _ => None,
            });
            let addr = local.or_else(|| {
                a.attributes.iter().find_map(|at| match at {
                    AddressAttribute::Address(ip) => Some(*ip),
                    _ => None,
                })
            });
            if let Some(addr) = addr {
                out.push(IfAddr {
                    addr,
                    prefix_len: a.header.prefix_len,
                    scope: u8::from(a.header.scope),
                    secondary: a.header.flags.contains(AddressHeaderFlags::Secondary),
                });
            }
        }
        Ok(out)
    }

    /// `ip address add` with keepalived's options. An address already there is fine
    /// (keepalived too leaves it, and removes it on leaving MASTER).
    pub fn add_address(&mut self, index: u32, a: &IpAddress) -> Result<(), NetlinkError> {
        let msg = address_message(index, a);
        match self.request(
            &|| format!("add {}/{} on ifindex {index}", a.addr, a.prefix_len),
            RouteNetlinkMessage::NewAddress(msg),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        ) {
            Err(NetlinkError::Kernel { err, .. }) if err.raw_os_error() == Some(libc::EEXIST) => {
                Ok(())
            }
            r => r.map(drop),
        }
    }

    /// `ip address del`. An address already gone is fine.
    pub fn del_address(&mut self, index: u32, a: &IpAddress) -> Result<(), NetlinkError> {
        self.del_address_message(address_message(index, a))
    }

    /// `ip address del` of the address a message names (as a previous run recorded it).
    pub fn del_address_message(&mut self, msg: AddressMessage) -> Result<(), NetlinkError> {
        let index = msg.header.index;
        let what = msg
            .attributes
            .iter()
            .find_map(|a| match a {
                netlink_packet_route::address::AddressAttribute::Local(ip)
                | netlink_packet_route::address::AddressAttribute::Address(ip) => Some(*ip),
                _ => None,
            })
            .map_or_else(|| "?".to_string(), |ip| ip.to_string());
        let len = msg.header.prefix_len;
        let a = (what, len);
        match self.request(
            &|| format!("delete {}/{} on ifindex {index}", a.0, a.1),
            RouteNetlinkMessage::DelAddress(msg),
            NLM_F_ACK,
        ) {
            Err(NetlinkError::Kernel { err, .. })
                if err.raw_os_error() == Some(libc::EADDRNOTAVAIL) =>
            {
                Ok(())
            }
            r => r.map(drop),
        }
    }
}

impl Netlink {
    /// `ip route add|append|del`: an existing route on add, or a missing one on delete, is
    /// fine.
    pub fn route(
        &mut self,
        add: bool,
        append: bool,
        msg: netlink_packet_route::route::RouteMessage,
    ) -> Result<(), NetlinkError> {
        let (nl, flags) = if add {
            let how = if append {
                netlink_packet_core::NLM_F_APPEND
            } else {
                NLM_F_EXCL
            };
            (
                RouteNetlinkMessage::NewRoute(msg),
                NLM_F_ACK | NLM_F_CREATE | how,
            )
        } else {
            (RouteNetlinkMessage::DelRoute(msg), NLM_F_ACK)
        };
        self.tolerant(add, "route", nl, flags)
    }

    /// `ip rule add|del`, tolerant like [`Netlink::route`].
    pub fn rule(
        &mut self,
        add: bool,
        msg: netlink_packet_route::rule::RuleMessage,
    ) -> Result<(), NetlinkError> {
        let (nl, flags) = if add {
            (
                RouteNetlinkMessage::NewRule(msg),
                NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            )
        } else {
            (RouteNetlinkMessage::DelRule(msg), NLM_F_ACK)
        };
        self.tolerant(add, "rule", nl, flags)
    }

    fn tolerant(
        &mut self,
        add: bool,
        what: &str,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<(), NetlinkError> {
        let verb = if add { "add" } else { "delete" };
        let desc = format!("{verb} {what}: {msg:?}");
        match self.request(&|| desc.clone(), msg, flags) {
            Err(NetlinkError::Kernel { err, .. })
                if (add && err.raw_os_error() == Some(libc::EEXIST))
                    || (!add && matches!(err.raw_os_error(), Some(libc::ESRCH | libc::ENOENT))) =>
            {
                Ok(())
            }
            r => r.map(drop),
        }
    }
}

impl Netlink {
    /// `ip link add NAME link PARENT address MAC type macvlan mode private`, then up.
    /// Returns the new link's index.
    pub fn add_macvlan(
        &mut self,
        name: &str,
        parent: u32,
        mac: [u8; 6],
    ) -> Result<u32, NetlinkError> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_owned()));
        m.attributes.push(LinkAttribute::Link(parent));
        m.attributes.push(LinkAttribute::Address(mac.to_vec()));
        m.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::MacVlan),
            LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                MacVlanMode::Private,
            )])),
        ]));
        self.request(
            &|| format!("create macvlan {name}"),
            RouteNetlinkMessage::NewLink(m),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
        )?;
        let link = self
            .link_by_name(name)?
            .ok_or_else(|| NetlinkError::Kernel {
                what: format!("create macvlan {name}"),
                err: io::Error::from_raw_os_error(libc::ENODEV),
            })?;
        Ok(link.index)
    }

    /// `ip link set dev INDEX up|down`.
    pub fn set_up(&mut self, index: u32, up: bool) -> Result<(), NetlinkError> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = if up {
            LinkFlags::Up
        } else {
            LinkFlags::empty()
        };
        m.header.change_mask = LinkFlags::Up;
        self.request(
            &|| format!("set ifindex {index} {}", if up { "up" } else { "down" }),
            RouteNetlinkMessage::SetLink(m),
            NLM_F_ACK,
        )
        .map(drop)
    }

    /// `ip link del dev INDEX`; already gone is fine.
    pub fn del_link(&mut self, index: u32) -> Result<(), NetlinkError> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        match self.request(
            &|| format!("delete ifindex {index}"),
            RouteNetlinkMessage::DelLink(m),
            NLM_F_ACK,
        ) {
            Err(NetlinkError::Kernel { err, .. }) if err.raw_os_error() == Some(libc::ENODEV) => {
                Ok(())
            }
            r => r.map(drop),
        }
    }
}

pub(crate) fn link_of(l: &LinkMessage) -> Link {
    let name = l
        .attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap_or_default();
    let mac = l.attributes.iter().find_map(|a| match a {
        LinkAttribute::Address(m) => <[u8; 6]>::try_from(m.as_slice()).ok(),
        _ => None,
    });
    let forwarding6 = l.attributes.iter().any(|a| match a {
        LinkAttribute::AfSpecUnspec(specs) => specs.iter().any(|s| match s {
            AfSpecUnspec::Inet6(v6) => v6.iter().any(|x| match x {
                AfSpecInet6::DevConf(c) => c.forwarding != 0,
                _ => false,
            }),
            _ => false,
        }),
        _ => false,
    });
    let f = l.header.flags;
    Link {
        index: l.header.index,
        name,
        up: f.contains(LinkFlags::Up) && f.contains(LinkFlags::Running),
        mac,
        forwarding6,
    }
}

/// The RTM_NEWADDR / RTM_DELADDR body for one configured address.
pub fn address_message(index: u32, a: &IpAddress) -> AddressMessage {
    let mut m = AddressMessage::default();
    m.header.index = index;
    m.header.prefix_len = a.prefix_len;
    m.header.family = match a.addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    };
    m.header.scope = AddressScope::from(a.scope.unwrap_or(0));
    m.attributes.push(AddressAttribute::Local(a.addr));
    match a.peer {
        Some(peer) => m.attributes.push(AddressAttribute::Address(peer)),
        None => m.attributes.push(AddressAttribute::Address(a.addr)),
    }
    if let (IpAddr::V4(v4), Some(brd)) = (a.addr, &a.broadcast) {
        m.attributes.push(AddressAttribute::Broadcast(broadcast(
            v4,
            a.prefix_len,
            brd,
        )));
    }
    if let Some(label) = &a.label {
        m.attributes.push(AddressAttribute::Label(label.clone()));
    }
    let mut flags = AddressFlags::empty();
    for (on, f) in [
        (a.home, AddressFlags::Homeaddress),
        (a.nodad, AddressFlags::Nodad),
        (a.mngtmpaddr, AddressFlags::Managetempaddr),
        (a.noprefixroute, AddressFlags::Noprefixroute),
        (a.autojoin, AddressFlags::Mcautojoin),
    ] {
        if on {
            flags |= f;
        }
    }
    if !flags.is_empty() {
        m.attributes.push(AddressAttribute::Flags(flags));
    }
    m
}

/// `brd ADDR | + | -` as an address (RFC 919's directed broadcast for `+`).
pub fn broadcast(addr: Ipv4Addr, prefix_len: u8, brd: &Broadcast) -> Ipv4Addr {
    let host_mask = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
    let a = u32::from(addr);
    match brd {
        Broadcast::Address(b) => *b,
        Broadcast::SetHostBits => Ipv4Addr::from(a | host_mask),
        Broadcast::ClearHostBits => Ipv4Addr::from(a & !host_mask),
    }
}

/// The name of interface `ifindex` in this namespace.
pub fn ifname(ifindex: u32) -> Option<String> {
    let mut buf = [0u8; libc::IF_NAMESIZE];
    // SAFETY: if_indextoname writes at most IF_NAMESIZE bytes into buf.
    let p = unsafe { libc::if_indextoname(ifindex, buf.as_mut_ptr().cast()) };
    if p.is_null() {
        return None;
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_forms() {
        let a = Ipv4Addr::new(192, 0, 2, 10);
        assert_eq!(
            broadcast(a, 24, &Broadcast::SetHostBits),
            Ipv4Addr::new(192, 0, 2, 255)
        );
        assert_eq!(
            broadcast(a, 24, &Broadcast::ClearHostBits),
            Ipv4Addr::new(192, 0, 2, 0)
        );
        assert_eq!(broadcast(a, 32, &Broadcast::SetHostBits), a);
        assert_eq!(
            broadcast(a, 0, &Broadcast::SetHostBits),
            Ipv4Addr::BROADCAST
        );
    }
}
