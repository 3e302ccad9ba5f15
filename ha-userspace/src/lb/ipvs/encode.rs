//! The requests for load-balancer changes, written straight into a buffer: the same bytes
//! as [`super::IpvsMessage`] built by [`super::wire`] and emitted (the tests compare them),
//! without the attribute vectors. Programming 40,000 destinations at start spends its
//! time here otherwise.

use std::net::{IpAddr, SocketAddr};

use super::consts::*;
use super::wire;
use crate::config::model::lvs::forwarding::{Csum, Forwarding, TunnelType};
use crate::family::Family;
use crate::lb::diff::Change;
use crate::lb::state::{Dest, ServiceKey, ServiceParams};

fn put(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    pad(out);
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn begin(out: &mut Vec<u8>, kind: u16) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&kind.to_ne_bytes());
    at
}

fn end(out: &mut [u8], at: usize) {
    let len = (out.len() - at) as u16;
    out[at..at + 2].copy_from_slice(&len.to_ne_bytes());
}

fn af(f: Family) -> u16 {
    match f {
        Family::V4 => libc::AF_INET as u16,
        Family::V6 => libc::AF_INET6 as u16,
    }
}

fn addr16(ip: IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match ip {
        IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => b = v6.octets(),
    }
    b
}

fn service_key(out: &mut Vec<u8>, key: &ServiceKey) {
    match key {
        ServiceKey::Addr { protocol, addr } => {
            put(out, SVC_ATTR_AF, &af(Family::of(addr.ip())).to_ne_bytes());
            let p = match protocol {
                crate::config::model::lvs::virtual_server::Protocol::Tcp => libc::IPPROTO_TCP,
                crate::config::model::lvs::virtual_server::Protocol::Udp => libc::IPPROTO_UDP,
                crate::config::model::lvs::virtual_server::Protocol::Sctp => libc::IPPROTO_SCTP,
            } as u16;
            put(out, SVC_ATTR_PROTOCOL, &p.to_ne_bytes());
            put(out, SVC_ATTR_ADDR, &addr16(addr.ip()));
            put(out, SVC_ATTR_PORT, &addr.port().to_be_bytes());
        }
        ServiceKey::Fwmark { mark, family } => {
            put(out, SVC_ATTR_AF, &af(*family).to_ne_bytes());
            put(out, SVC_ATTR_FWMARK, &mark.to_ne_bytes());
        }
    }
}

fn service(out: &mut Vec<u8>, key: &ServiceKey, p: &ServiceParams) {
    // The full set is rare (services are few); the attribute builder is the reference.
    for a in wire::service(key, p) {
        use netlink_packet_core::Emitable;
        let at = out.len();
        out.resize(at + a.buffer_len(), 0);
        a.emit(&mut out[at..]);
    }
}

fn dest_key(out: &mut Vec<u8>, addr: SocketAddr) {
    put(
        out,
        DEST_ATTR_ADDR_FAMILY,
        &af(Family::of(addr.ip())).to_ne_bytes(),
    );
    put(out, DEST_ATTR_ADDR, &addr16(addr.ip()));
    put(out, DEST_ATTR_PORT, &addr.port().to_be_bytes());
}

fn dest(out: &mut Vec<u8>, addr: SocketAddr, d: &Dest) {
    dest_key(out, addr);
    let method = match d.forwarding {
        Forwarding::Nat => FWD_MASQ,
        Forwarding::Dr => FWD_DROUTE,
        Forwarding::Tun(_) => FWD_TUNNEL,
    };
    put(out, DEST_ATTR_FWD_METHOD, &method.to_ne_bytes());
    put(
        out,
        DEST_ATTR_WEIGHT,
        &d.weight.min(i32::MAX as u32).to_ne_bytes(),
    );
    if let Forwarding::Tun(t) = d.forwarding {
        let (kind, port) = match t.kind {
            TunnelType::Ipip => (TUN_IPIP, None),
            TunnelType::Gue { port } => (TUN_GUE, Some(port)),
            TunnelType::Gre => (TUN_GRE, None),
        };
        put(out, DEST_ATTR_TUN_TYPE, &[kind]);
        if let Some(p) = port {
            put(out, DEST_ATTR_TUN_PORT, &p.to_be_bytes());
        }
        if kind != TUN_IPIP {
            let f = match t.csum {
                Csum::Nocsum => TUN_FLAG_NOCSUM,
                Csum::Csum => TUN_FLAG_CSUM,
                Csum::Remcsum => TUN_FLAG_REMCSUM,
            };
            put(out, DEST_ATTR_TUN_FLAGS, &f.to_ne_bytes());
        }
    }
    put(out, DEST_ATTR_U_THRESH, &d.uthreshold.to_ne_bytes());
    put(out, DEST_ATTR_L_THRESH, &d.lthreshold.to_ne_bytes());
}

/// Appends the attributes of `c`'s request to `out`; returns its command.
pub fn change(c: &Change, out: &mut Vec<u8>) -> u8 {
    let svc = |out: &mut Vec<u8>, key: &ServiceKey| {
        let at = begin(out, CMD_ATTR_SERVICE);
        service_key(out, key);
        end(out, at);
    };
    match c {
        Change::AddService { key, params } | Change::EditService { key, params } => {
            let at = begin(out, CMD_ATTR_SERVICE);
            service(out, key, params);
            end(out, at);
            if matches!(c, Change::AddService { .. }) {
                CMD_NEW_SERVICE
            } else {
                CMD_SET_SERVICE
            }
        }
        Change::DelService { key } => {
            svc(out, key);
            CMD_DEL_SERVICE
        }
        Change::AddDest {
            service: key,
            addr,
            dest: d,
        }
        | Change::EditDest {
            service: key,
            addr,
            dest: d,
        } => {
            svc(out, key);
            let at = begin(out, CMD_ATTR_DEST);
            dest(out, *addr, d);
            end(out, at);
            if matches!(c, Change::AddDest { .. }) {
                CMD_NEW_DEST
            } else {
                CMD_SET_DEST
            }
        }
        Change::DelDest { service: key, addr } => {
            svc(out, key);
            let at = begin(out, CMD_ATTR_DEST);
            dest_key(out, *addr);
            end(out, at);
            CMD_DEL_DEST
        }
    }
}
