//! Link notifications and IPv6 `forwarding` changes, read without blocking by the engine.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

use super::{link_of, Link, Links, NetlinkError};

/// Link notifications (RTNLGRP_LINK) and IPv6 `forwarding` changes (RTNLGRP_IPV6_NETCONF),
/// read without blocking from the engine loop.
pub struct LinkMonitor {
    sock: Socket,
    buf: Vec<u8>,
}

/// RTNLGRP_IPV6_NETCONF as a legacy group bit (groups 1..=32 are `1 << (group - 1)`).
const RTMGRP_IPV6_NETCONF: u32 = 1 << (25 - 1);

impl LinkMonitor {
    pub fn new() -> Result<Self, NetlinkError> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind(&SocketAddr::new(
            0,
            libc::RTMGRP_LINK as u32 | RTMGRP_IPV6_NETCONF,
        ))?;
        sock.set_non_blocking(true)?;
        Ok(LinkMonitor {
            sock,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Applies every change queued so far to `links` and returns the links whose state
    /// changed (a removed link comes back down). An overflowed queue (ENOBUFS) is reported
    /// as `Err`: the caller must re-read the links.
    pub fn drain(&mut self, links: &mut Links) -> Result<Vec<Link>, NetlinkError> {
        let mut out = Vec::new();
        loop {
            let n = match self.sock.recv(&mut &mut self.buf[..], 0) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(out),
                Err(e) => return Err(e.into()),
            };
            let mut off = 0;
            while off + NLMSG_HDRLEN <= n {
                let len = u32::from_ne_bytes(self.buf[off..off + 4].try_into().unwrap_or_default())
                    as usize;
                if len < NLMSG_HDRLEN || off + len > n {
                    break;
                }
                let msg = &self.buf[off..off + len];
                if u16::from_ne_bytes([msg[4], msg[5]]) == RTM_NEWNETCONF {
                    if let Some((ifindex, on)) = netconf_forwarding6(msg) {
                        if let Some(l) = links.0.iter_mut().find(|l| l.index == ifindex) {
                            l.forwarding6 = on;
                        }
                    }
                } else if let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(msg) {
                    match &m.payload {
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                            let l = link_of(l);
                            links.update(&l);
                            out.push(l);
                        }
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                            let mut gone = link_of(l);
                            gone.up = false;
                            links.update(&gone);
                            out.push(gone);
                        }
                        _ => {}
                    }
                }
                off += (len + 3) & !3;
            }
        }
    }
}

impl AsRawFd for LinkMonitor {
    fn as_raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

const NLMSG_HDRLEN: usize = 16;
/// `RTM_NEWNETCONF` (linux/rtnetlink.h); netlink-packet-route has no netconf messages.
const RTM_NEWNETCONF: u16 = 80;
/// `struct netconfmsg { __u8 ncm_family; }`, padded to 4 bytes.
const NETCONFMSG_LEN: usize = 4;
const NETCONFA_IFINDEX: u16 = 1;
const NETCONFA_FORWARDING: u16 = 2;

/// An RTM_NEWNETCONF message's interface and IPv6 `forwarding` value, when it carries both
/// (the kernel sends one per interface when `forwarding` changes: addrconf.c
/// `inet6_netconf_notify_devconf`). The "all"/"default" pseudo-interfaces (negative
/// indexes) are skipped: a change of `all` comes per interface too.
pub fn netconf_forwarding6(msg: &[u8]) -> Option<(u32, bool)> {
    let family = *msg.get(NLMSG_HDRLEN)?;
    if i32::from(family) != libc::AF_INET6 {
        return None;
    }
    let (mut ifindex, mut forwarding) = (None, None);
    let mut off = NLMSG_HDRLEN + NETCONFMSG_LEN;
    while off + 4 <= msg.len() {
        let len = usize::from(u16::from_ne_bytes([msg[off], msg[off + 1]]));
        let kind = u16::from_ne_bytes([msg[off + 2], msg[off + 3]]);
        if len < 4 || off + len > msg.len() {
            break;
        }
        let value = msg
            .get(off + 4..off + 8)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        match kind {
            NETCONFA_IFINDEX => ifindex = value.and_then(|v| u32::try_from(v).ok()),
            NETCONFA_FORWARDING => forwarding = value.map(|v| v != 0),
            _ => {}
        }
        off += (len + 3) & !3;
    }
    Some((ifindex?, forwarding?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RTM_NEWNETCONF as the kernel sends it for `sysctl net.ipv6.conf.eth0.forwarding=1`
    /// on ifindex 2: netconfmsg (AF_INET6), then IFINDEX, FORWARDING and other attributes.
    fn netconf(family: u8, ifindex: i32, forwarding: i32) -> Vec<u8> {
        let mut m = vec![0u8; 16];
        m.extend_from_slice(&[family, 0, 0, 0]);
        for (kind, v) in [
            (NETCONFA_IFINDEX, ifindex),
            (NETCONFA_FORWARDING, forwarding),
            (3, 0),
        ] {
            m.extend_from_slice(&8u16.to_ne_bytes());
            m.extend_from_slice(&kind.to_ne_bytes());
            m.extend_from_slice(&v.to_ne_bytes());
        }
        let len = m.len() as u32;
        m[0..4].copy_from_slice(&len.to_ne_bytes());
        m[4..6].copy_from_slice(&RTM_NEWNETCONF.to_ne_bytes());
        m
    }

    #[test]
    fn netconf_forwarding_of_one_interface() {
        assert_eq!(netconf_forwarding6(&netconf(10, 2, 1)), Some((2, true)));
        assert_eq!(netconf_forwarding6(&netconf(10, 2, 0)), Some((2, false)));
        assert_eq!(netconf_forwarding6(&netconf(2, 2, 1)), None, "IPv4's");
        assert_eq!(netconf_forwarding6(&netconf(10, -1, 1)), None, "`all`");
        assert_eq!(
            netconf_forwarding6(&netconf(10, 2, 1)[..28]),
            None,
            "truncated"
        );
    }
}
