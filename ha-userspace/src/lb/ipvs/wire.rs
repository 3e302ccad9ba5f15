//! The load balancer's model as IPVS attributes and back: what keepalived's
//! `ipvs_set_srule` / `ipvs_set_drule` put in a request, and what the kernel's dump
//! replies say. Pure; the socket is in `daemon::lb::ipvs`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::attrs::{Attr, Attrs, Level, Value};
use super::consts::*;
use super::IpvsMessage;
use crate::config::model::lvs::forwarding::{Csum, Forwarding, Tunnel, TunnelType};
use crate::config::model::lvs::virtual_server::{Granularity, Protocol, SchedFlags, Scheduler};
use crate::family::Family;
use crate::lb::diff::Change;
use crate::lb::state::{Dest, ServiceKey, ServiceParams};

const AF_INET: u16 = libc::AF_INET as u16;
const AF_INET6: u16 = libc::AF_INET6 as u16;

fn af(f: Family) -> u16 {
    match f {
        Family::V4 => AF_INET,
        Family::V6 => AF_INET6,
    }
}

/// An address as the kernel's `union nf_inet_addr`: 16 bytes, IPv4 in the first four.
fn inet_addr(ip: IpAddr) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    match ip {
        IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => b.copy_from_slice(&v6.octets()),
    }
    b
}

fn ip_of(af: u16, b: &[u8]) -> Result<IpAddr, String> {
    match (af, b.len()) {
        (AF_INET, n) if n >= 4 => Ok(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
        (AF_INET6, 16) => {
            let o: [u8; 16] = b.try_into().map_err(|_| "bad IPv6 address")?;
            Ok(IpAddr::V6(Ipv6Addr::from(o)))
        }
        _ => Err(format!(
            "address family {af} with a {}-byte address",
            b.len()
        )),
    }
}

fn protocol_number(p: Protocol) -> u16 {
    match p {
        Protocol::Tcp => libc::IPPROTO_TCP as u16,
        Protocol::Udp => libc::IPPROTO_UDP as u16,
        Protocol::Sctp => libc::IPPROTO_SCTP as u16,
    }
}

fn protocol_of(n: u16) -> Result<Protocol, String> {
    match i32::from(n) {
        libc::IPPROTO_TCP => Ok(Protocol::Tcp),
        libc::IPPROTO_UDP => Ok(Protocol::Udp),
        libc::IPPROTO_SCTP => Ok(Protocol::Sctp),
        _ => Err(format!("protocol {n}")),
    }
}

/// The attributes that name a service: all a dest or delete command needs.
pub fn service_key(key: &ServiceKey) -> Vec<Attr> {
    match key {
        ServiceKey::Addr { protocol, addr } => vec![
            Attr::new(SVC_ATTR_AF, Value::U16(af(Family::of(addr.ip())))),
            Attr::new(SVC_ATTR_PROTOCOL, Value::U16(protocol_number(*protocol))),
            Attr::new(SVC_ATTR_ADDR, Value::Bytes(inet_addr(addr.ip()))),
            Attr::new(SVC_ATTR_PORT, Value::Be16(addr.port())),
        ],
        ServiceKey::Fwmark { mark, family } => vec![
            Attr::new(SVC_ATTR_AF, Value::U16(af(*family))),
            Attr::new(SVC_ATTR_FWMARK, Value::U32(*mark)),
        ],
    }
}

/// The scheduler flag bits: `sh-*` / `mh-*` are the scheduler's names for flag-1 and
/// flag-2 (IP_VS_SVC_F_SCHED_SH_FALLBACK = SCHED1, _SH_PORT = SCHED2, the same for mh).
pub fn flag_bits(f: &SchedFlags) -> u32 {
    let mut b = 0;
    if f.ops {
        b |= SVC_F_ONEPACKET;
    }
    if f.flag_1 || f.sh_fallback || f.mh_fallback {
        b |= SVC_F_SCHED1;
    }
    if f.flag_2 || f.sh_port || f.mh_port {
        b |= SVC_F_SCHED2;
    }
    if f.flag_3 {
        b |= SVC_F_SCHED3;
    }
    b
}

/// The flags named as the scheduler names them, so equal bits give equal params.
pub fn flags_of(bits: u32, s: Scheduler) -> SchedFlags {
    let one = bits & SVC_F_SCHED1 != 0;
    let two = bits & SVC_F_SCHED2 != 0;
    SchedFlags {
        ops: bits & SVC_F_ONEPACKET != 0,
        flag_1: one && !matches!(s, Scheduler::Sh | Scheduler::Mh),
        flag_2: two && !matches!(s, Scheduler::Sh | Scheduler::Mh),
        flag_3: bits & SVC_F_SCHED3 != 0,
        sh_fallback: one && s == Scheduler::Sh,
        sh_port: two && s == Scheduler::Sh,
        mh_fallback: one && s == Scheduler::Mh,
        mh_port: two && s == Scheduler::Mh,
    }
}

/// The params as the kernel will report them back: flags named by the scheduler, and a
/// granularity equal to the default written as none. Desired and dumped params compare
/// equal exactly when the kernel holds what was asked.
pub fn canonical(p: &ServiceParams, family: Family) -> ServiceParams {
    let mut c = p.clone();
    c.flags = flags_of(flag_bits(&p.flags), p.scheduler);
    if c.persistence_timeout.is_none() {
        c.persistence_granularity = None;
        c.persistence_engine = None;
    }
    if c.persistence_granularity == Some(default_granularity(family)) {
        c.persistence_granularity = None;
    }
    c
}

fn default_granularity(f: Family) -> Granularity {
    match f {
        Family::V4 => Granularity::V4(Ipv4Addr::BROADCAST),
        Family::V6 => Granularity::V6(128),
    }
}

fn netmask(g: Granularity) -> u32 {
    match g {
        // ipvsadm and keepalived put the mask's bytes, in network order, in the u32.
        Granularity::V4(m) => u32::from_ne_bytes(m.octets()),
        Granularity::V6(len) => u32::from(len),
    }
}

/// A service's full attributes, for NEW_SERVICE and SET_SERVICE.
pub fn service(key: &ServiceKey, p: &ServiceParams) -> Vec<Attr> {
    let family = crate::lb::LbState::family(key);
    let mut a = service_key(key);
    a.push(Attr::new(
        SVC_ATTR_SCHED_NAME,
        Value::Str(p.scheduler.name().to_string()),
    ));
    let mut flags = flag_bits(&p.flags);
    let mut timeout = 0;
    let mut mask = netmask(default_granularity(family));
    if let Some(t) = p.persistence_timeout {
        flags |= SVC_F_PERSISTENT;
        timeout = t;
        if let Some(g) = p.persistence_granularity {
            mask = netmask(g);
        }
        if let Some(pe) = p.persistence_engine.as_ref().filter(|s| !s.is_empty()) {
            a.push(Attr::new(SVC_ATTR_PE_NAME, Value::Str(pe.clone())));
        }
    }
    let mut fl = Vec::with_capacity(8);
    fl.extend_from_slice(&flags.to_ne_bytes());
    fl.extend_from_slice(&u32::MAX.to_ne_bytes());
    a.push(Attr::new(SVC_ATTR_FLAGS, Value::Bytes(fl)));
    a.push(Attr::new(SVC_ATTR_TIMEOUT, Value::U32(timeout)));
    a.push(Attr::new(SVC_ATTR_NETMASK, Value::U32(mask)));
    a
}

/// A service as a dump reports it.
pub fn service_of(a: &[Attr]) -> Result<(ServiceKey, ServiceParams), String> {
    let af = a
        .u16(SVC_ATTR_AF)
        .ok_or("service without an address family")?;
    let family = match af {
        AF_INET => Family::V4,
        AF_INET6 => Family::V6,
        _ => return Err(format!("service address family {af}")),
    };
    let key = match a.u32(SVC_ATTR_FWMARK).filter(|m| *m != 0) {
        Some(mark) => ServiceKey::Fwmark { mark, family },
        None => {
            let protocol = protocol_of(a.u16(SVC_ATTR_PROTOCOL).ok_or("no protocol")?)?;
            let ip = ip_of(af, a.bytes(SVC_ATTR_ADDR).ok_or("no address")?)?;
            let port = a.u16(SVC_ATTR_PORT).ok_or("no port")?;
            ServiceKey::Addr {
                protocol,
                addr: SocketAddr::new(ip, port),
            }
        }
    };
    let name = a.str(SVC_ATTR_SCHED_NAME).unwrap_or("");
    let scheduler =
        Scheduler::from_name(name).ok_or_else(|| format!("scheduler '{name}' unknown"))?;
    let flags = match a.bytes(SVC_ATTR_FLAGS) {
        Some(b) if b.len() >= 4 => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
        _ => 0,
    };
    let persistent = flags & SVC_F_PERSISTENT != 0;
    let mask = a.u32(SVC_ATTR_NETMASK);
    let granularity = mask.map(|m| match family {
        Family::V4 => Granularity::V4(Ipv4Addr::from(m.to_ne_bytes())),
        Family::V6 => Granularity::V6(m as u8),
    });
    let mut params = ServiceParams {
        scheduler,
        flags: flags_of(flags, scheduler),
        persistence_timeout: persistent.then(|| a.u32(SVC_ATTR_TIMEOUT).unwrap_or(0)),
        persistence_granularity: granularity,
        persistence_engine: a.str(SVC_ATTR_PE_NAME).map(str::to_string),
    };
    params = canonical(&params, family);
    Ok((key, params))
}

/// The attributes that name a destination.
pub fn dest_key(addr: SocketAddr) -> Vec<Attr> {
    vec![
        Attr::new(DEST_ATTR_ADDR_FAMILY, Value::U16(af(Family::of(addr.ip())))),
        Attr::new(DEST_ATTR_ADDR, Value::Bytes(inet_addr(addr.ip()))),
        Attr::new(DEST_ATTR_PORT, Value::Be16(addr.port())),
    ]
}

/// A destination's full attributes, for NEW_DEST and SET_DEST.
pub fn dest(addr: SocketAddr, d: &Dest) -> Vec<Attr> {
    let mut a = dest_key(addr);
    let method = match d.forwarding {
        Forwarding::Nat => FWD_MASQ,
        Forwarding::Dr => FWD_DROUTE,
        Forwarding::Tun(_) => FWD_TUNNEL,
    };
    a.push(Attr::new(DEST_ATTR_FWD_METHOD, Value::U32(method)));
    a.push(Attr::new(
        DEST_ATTR_WEIGHT,
        Value::U32(d.weight.min(i32::MAX as u32)),
    ));
    if let Forwarding::Tun(t) = d.forwarding {
        let (kind, port) = match t.kind {
            TunnelType::Ipip => (TUN_IPIP, None),
            TunnelType::Gue { port } => (TUN_GUE, Some(port)),
            TunnelType::Gre => (TUN_GRE, None),
        };
        a.push(Attr::new(DEST_ATTR_TUN_TYPE, Value::U8(kind)));
        if let Some(p) = port {
            a.push(Attr::new(DEST_ATTR_TUN_PORT, Value::Be16(p)));
        }
        if kind != TUN_IPIP {
            let flags = match t.csum {
                Csum::Nocsum => TUN_FLAG_NOCSUM,
                Csum::Csum => TUN_FLAG_CSUM,
                Csum::Remcsum => TUN_FLAG_REMCSUM,
            };
            a.push(Attr::new(DEST_ATTR_TUN_FLAGS, Value::U16(flags)));
        }
    }
    a.push(Attr::new(DEST_ATTR_U_THRESH, Value::U32(d.uthreshold)));
    a.push(Attr::new(DEST_ATTR_L_THRESH, Value::U32(d.lthreshold)));
    a
}

/// Connection counts of a destination, from a dump.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Conns {
    pub active: u32,
    pub inactive: u32,
    pub persistent: u32,
}

/// A destination as a dump reports it; `family` is the service's, for kernels that do
/// not send the destination's own.
pub fn dest_of(a: &[Attr], family: Family) -> Result<(SocketAddr, Dest, Conns), String> {
    let af = a.u16(DEST_ATTR_ADDR_FAMILY).unwrap_or(self::af(family));
    let ip = ip_of(
        af,
        a.bytes(DEST_ATTR_ADDR)
            .ok_or("destination without an address")?,
    )?;
    let port = a.u16(DEST_ATTR_PORT).unwrap_or(0);
    let forwarding = match a.u32(DEST_ATTR_FWD_METHOD).unwrap_or(0) & 7 {
        FWD_MASQ => Forwarding::Nat,
        FWD_DROUTE => Forwarding::Dr,
        FWD_TUNNEL => {
            let kind = match a.u8(DEST_ATTR_TUN_TYPE).unwrap_or(TUN_IPIP) {
                TUN_GUE => TunnelType::Gue {
                    port: a.u16(DEST_ATTR_TUN_PORT).unwrap_or(0),
                },
                TUN_GRE => TunnelType::Gre,
                _ => TunnelType::Ipip,
            };
            let csum = match a.u16(DEST_ATTR_TUN_FLAGS).unwrap_or(0) {
                f if f & TUN_FLAG_REMCSUM != 0 => Csum::Remcsum,
                f if f & TUN_FLAG_CSUM != 0 => Csum::Csum,
                _ => Csum::Nocsum,
            };
            Forwarding::Tun(Tunnel { kind, csum })
        }
        m => return Err(format!("forwarding method {m}")),
    };
    let dest = Dest {
        weight: a.u32(DEST_ATTR_WEIGHT).unwrap_or(0),
        forwarding,
        uthreshold: a.u32(DEST_ATTR_U_THRESH).unwrap_or(0),
        lthreshold: a.u32(DEST_ATTR_L_THRESH).unwrap_or(0),
    };
    let conns = Conns {
        active: a.u32(DEST_ATTR_ACTIVE_CONNS).unwrap_or(0),
        inactive: a.u32(DEST_ATTR_INACT_CONNS).unwrap_or(0),
        persistent: a.u32(DEST_ATTR_PERSIST_CONNS).unwrap_or(0),
    };
    Ok((SocketAddr::new(ip, port), dest, conns))
}

/// A message attribute nesting `attrs` at `level`.
pub fn nested(kind: u16, level: Level, attrs: Vec<Attr>) -> Attr {
    Attr::new(kind, Value::Nested(level, attrs))
}

/// The request for one change.
pub fn request(c: &Change) -> IpvsMessage {
    let svc = |key| nested(CMD_ATTR_SERVICE, Level::Service, service_key(key));
    match c {
        Change::AddService { key, params } => IpvsMessage::new(
            CMD_NEW_SERVICE,
            vec![nested(
                CMD_ATTR_SERVICE,
                Level::Service,
                service(key, params),
            )],
        ),
        Change::EditService { key, params } => IpvsMessage::new(
            CMD_SET_SERVICE,
            vec![nested(
                CMD_ATTR_SERVICE,
                Level::Service,
                service(key, params),
            )],
        ),
        Change::DelService { key } => IpvsMessage::new(CMD_DEL_SERVICE, vec![svc(key)]),
        Change::AddDest {
            service,
            addr,
            dest: d,
        } => IpvsMessage::new(
            CMD_NEW_DEST,
            vec![
                svc(service),
                nested(CMD_ATTR_DEST, Level::Dest, self::dest(*addr, d)),
            ],
        ),
        Change::EditDest {
            service,
            addr,
            dest: d,
        } => IpvsMessage::new(
            CMD_SET_DEST,
            vec![
                svc(service),
                nested(CMD_ATTR_DEST, Level::Dest, self::dest(*addr, d)),
            ],
        ),
        Change::DelDest { service, addr } => IpvsMessage::new(
            CMD_DEL_DEST,
            vec![
                svc(service),
                nested(CMD_ATTR_DEST, Level::Dest, dest_key(*addr)),
            ],
        ),
    }
}
