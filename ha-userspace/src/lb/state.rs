//! What the load balancer should hold: services keyed like IPVS keys them (protocol,
//! address and port, or firewall mark and family), each with its scheduling parameters and
//! its destinations.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

use crate::config::model::lvs::forwarding::Forwarding;
use crate::config::model::lvs::virtual_server::{Granularity, Protocol, SchedFlags, Scheduler};
use crate::family::Family;

/// How the kernel tells services apart (`ip_vs_service_user`: protocol + address + port,
/// or fwmark + address family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceKey {
    Addr {
        protocol: Protocol,
        addr: SocketAddr,
    },
    Fwmark {
        mark: u32,
        family: Family,
    },
}

impl fmt::Display for ServiceKey {
    /// As ipvsadm lists services: `TCP [192.0.2.10]:80`, `FWM 7 inet`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr { protocol, addr } => {
                let p = match protocol {
                    Protocol::Tcp => "TCP",
                    Protocol::Udp => "UDP",
                    Protocol::Sctp => "SCTP",
                };
                write!(f, "{p} {}", bracketed(*addr))
            }
            ServiceKey::Fwmark { mark, family } => write!(f, "FWM {mark} {}", family.keyword()),
        }
    }
}

/// `[ip]:port`, keepalived's way of writing a server.
pub fn bracketed(a: SocketAddr) -> String {
    format!("[{}]:{}", a.ip(), a.port())
}

/// The service's own settings: a change here edits the service, not its destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceParams {
    pub scheduler: Scheduler,
    pub flags: SchedFlags,
    /// Seconds; `None`: not persistent.
    pub persistence_timeout: Option<u32>,
    pub persistence_granularity: Option<Granularity>,
    pub persistence_engine: Option<String>,
}

/// One destination of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Dest {
    /// 0: in the table but given no new connections (`inhibit_on_failure`).
    pub weight: u32,
    pub forwarding: Forwarding,
    /// Connection limits; 0: none.
    pub uthreshold: u32,
    pub lthreshold: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Service {
    pub params: ServiceParams,
    #[serde(serialize_with = "dests_as_list")]
    pub dests: BTreeMap<SocketAddr, Dest>,
}

fn dests_as_list<S: serde::Serializer>(
    d: &BTreeMap<SocketAddr, Dest>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Entry<'a> {
        addr: String,
        #[serde(flatten)]
        dest: &'a Dest,
    }
    s.collect_seq(d.iter().map(|(a, dest)| Entry {
        addr: bracketed(*a),
        dest,
    }))
}

/// Every service the load balancer should hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LbState {
    #[serde(serialize_with = "services_as_list")]
    pub services: BTreeMap<ServiceKey, Service>,
}

fn services_as_list<S: serde::Serializer>(
    m: &BTreeMap<ServiceKey, Service>,
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Entry<'a> {
        service: String,
        #[serde(flatten)]
        svc: &'a Service,
    }
    s.collect_seq(m.iter().map(|(k, svc)| Entry {
        service: k.to_string(),
        svc,
    }))
}

impl LbState {
    pub fn dest(&self, key: &ServiceKey, addr: SocketAddr) -> Option<&Dest> {
        self.services.get(key)?.dests.get(&addr)
    }

    /// The address family of the service's virtual address or mark.
    pub fn family(key: &ServiceKey) -> Family {
        match key {
            ServiceKey::Addr { addr, .. } => Family::of(addr.ip()),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

/// The address a service key holds, if it has one.
pub fn service_ip(key: &ServiceKey) -> Option<IpAddr> {
    match key {
        ServiceKey::Addr { addr, .. } => Some(addr.ip()),
        ServiceKey::Fwmark { .. } => None,
    }
}
