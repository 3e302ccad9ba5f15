//! From `virtual_server` blocks to the concrete services a load balancer holds: a
//! `virtual_server group NAME` becomes one service per address of each range entry and one
//! per fwmark entry, all sharing the block's real servers and their health (keepalived
//! programs each group entry as its own IPVS service the same way).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use serde::Serialize;
use tracing::warn;

use super::state::{Dest, LbState, Service, ServiceKey, ServiceParams};
use crate::config::model::lvs::forwarding::Forwarding;
use crate::config::model::lvs::group::GroupEntry;
use crate::config::model::lvs::virtual_server::{Protocol, VirtualServer, VsKey};
use crate::config::model::lvs::VirtualServerGroup;
use crate::family::Family;

/// Addresses one group entry may expand to; a larger range is cut there, with a warning
/// (a /8 would be 16 million services).
pub const MAX_RANGE: u128 = 65_536;

/// One `virtual_server` block as the load balancer sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceDef {
    /// keepalived's name of the block: `[ip]:port`, `FWM n` or `[group]`.
    pub name: String,
    pub keys: Vec<ServiceKey>,
    pub params: ServiceParams,
    /// Each real server's address and destination settings (its weight is the checkers').
    pub real_servers: Vec<(SocketAddr, Dest)>,
    pub sorry: Option<(SocketAddr, Dest)>,
    /// A `virtual_server group`: real servers forwarded by DR or TUN take each entry's
    /// port (0 for a fwmark entry), as keepalived's ipvs_group_cmd does.
    pub group: bool,
}

/// The weight each member has now, from the checkers: `None` means not in the table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Members {
    /// Parallel to [`ServiceDef::real_servers`].
    pub real_servers: Vec<Option<u32>>,
    pub sorry: Option<u32>,
}

/// The services of every block, groups expanded.
pub fn expand(vss: &[VirtualServer], groups: &[VirtualServerGroup]) -> Vec<ServiceDef> {
    vss.iter().map(|vs| def(vs, groups)).collect()
}

fn def(vs: &VirtualServer, groups: &[VirtualServerGroup]) -> ServiceDef {
    let protocol = vs.protocol.unwrap_or(Protocol::Tcp);
    let fallback_family = vs.family.unwrap_or(Family::V4);
    let keys = match &vs.key {
        VsKey::Addr(addr) => vec![ServiceKey::Addr {
            protocol,
            addr: *addr,
        }],
        VsKey::Fwmark(mark) => vec![ServiceKey::Fwmark {
            mark: *mark,
            family: fallback_family,
        }],
        VsKey::Group(name) => match groups.iter().find(|g| &g.name == name) {
            Some(g) => group_keys(g, protocol, vs.family),
            None => Vec::new(),
        },
    };
    let dest = |addr: SocketAddr, rs_fwd, uth: Option<u32>, lth: Option<u32>| {
        (
            addr,
            Dest {
                weight: 0,
                forwarding: rs_fwd,
                uthreshold: uth.unwrap_or(0),
                lthreshold: lth.unwrap_or(0),
            },
        )
    };
    ServiceDef {
        name: vs.display(),
        group: matches!(vs.key, VsKey::Group(_)),
        keys,
        params: ServiceParams {
            scheduler: vs.scheduler,
            flags: vs.flags,
            persistence_timeout: vs.persistence_timeout,
            persistence_granularity: vs.persistence_granularity,
            persistence_engine: vs.persistence_engine.clone(),
        },
        real_servers: vs
            .real_servers
            .iter()
            .map(|rs| dest(rs.addr, rs.forwarding, rs.uthreshold, rs.lthreshold))
            .collect(),
        sorry: vs
            .sorry_server
            .as_ref()
            .map(|s| dest(s.addr, s.forwarding, None, None)),
    }
}

fn group_keys(
    g: &VirtualServerGroup,
    protocol: Protocol,
    vs_family: Option<Family>,
) -> Vec<ServiceKey> {
    let mut keys = Vec::new();
    for e in &g.entries {
        match e {
            GroupEntry::Range { start, end, port } => {
                let port = port.unwrap_or(0);
                let (s, t) = (as_u128(*start), as_u128(*end));
                let last = if t - s >= MAX_RANGE {
                    warn!(
                        "virtual_server_group {}: range {start}-{end} cut at {MAX_RANGE} addresses",
                        g.name
                    );
                    s + MAX_RANGE - 1
                } else {
                    t
                };
                for n in s..=last {
                    keys.push(ServiceKey::Addr {
                        protocol,
                        addr: SocketAddr::new(from_u128(*start, n), port),
                    });
                }
            }
            GroupEntry::Fwmark { mark, family } => keys.push(ServiceKey::Fwmark {
                mark: *mark,
                family: family.or(vs_family).unwrap_or(Family::V4),
            }),
        }
    }
    keys
}

fn as_u128(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4).into(),
        IpAddr::V6(v6) => v6.into(),
    }
}

fn from_u128(like: IpAddr, n: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

/// The whole desired state: each block's members in each of its services.
pub fn build(defs: &[ServiceDef], members: &[Members]) -> LbState {
    let mut state = LbState::default();
    for (d, m) in defs.iter().zip(members) {
        let mut dests = std::collections::BTreeMap::new();
        for ((addr, dest), w) in d.real_servers.iter().zip(&m.real_servers) {
            if let Some(w) = w {
                dests.insert(
                    *addr,
                    Dest {
                        weight: *w,
                        ..*dest
                    },
                );
            }
        }
        if let (Some((addr, dest)), Some(w)) = (&d.sorry, m.sorry) {
            // A sorry server that is also a real server: the real server's entry wins
            // unless the sorry server is serving (keepalived's s_svr_duplicates_rs).
            let serving = w > 0;
            if serving || !dests.contains_key(addr) {
                dests.insert(*addr, Dest { weight: w, ..*dest });
            }
        }
        for key in &d.keys {
            // Two blocks naming the same service: the first one keeps it, as the kernel
            // would refuse the second.
            state.services.entry(*key).or_insert_with(|| Service {
                params: d.params.clone(),
                dests: if d.group {
                    entry_ports(&dests, key)
                } else {
                    dests.clone()
                },
            });
        }
    }
    state
}

/// A group entry's destinations: DR and TUN cannot change the port, so they take the
/// entry's (none for a fwmark entry); NAT keeps the real server's.
fn entry_ports(
    dests: &std::collections::BTreeMap<SocketAddr, Dest>,
    key: &ServiceKey,
) -> std::collections::BTreeMap<SocketAddr, Dest> {
    let port = match key {
        ServiceKey::Addr { addr, .. } => addr.port(),
        ServiceKey::Fwmark { .. } => 0,
    };
    dests
        .iter()
        .map(|(a, d)| match d.forwarding {
            Forwarding::Nat => (*a, *d),
            _ => (SocketAddr::new(a.ip(), port), *d),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::load_text;

    fn defs(text: &str) -> Vec<ServiceDef> {
        let loaded = load_text(text);
        expand(
            &loaded.config.lvs.virtual_servers,
            &loaded.config.lvs.groups,
        )
    }

    #[test]
    fn a_group_becomes_one_service_per_address_and_fwmark() {
        let d = defs(
            "virtual_server_group G {\n 192.0.2.10-12 80\n fwmark 7\n}\n\
             virtual_server group G {\n lb_kind DR\n protocol TCP\n \
             real_server 10.0.0.1 80 {\n TCP_CHECK {\n }\n }\n}\n",
        );
        let keys: Vec<String> = d[0].keys.iter().map(|k| k.to_string()).collect();
        assert_eq!(
            keys,
            [
                "TCP [192.0.2.10]:80",
                "TCP [192.0.2.11]:80",
                "TCP [192.0.2.12]:80",
                "FWM 7 inet"
            ]
        );
        let state = build(
            &d,
            &[Members {
                real_servers: vec![Some(1)],
                sorry: None,
            }],
        );
        assert_eq!(state.services.len(), 4);
        assert!(state.services.values().all(|s| s.dests.len() == 1));
    }

    #[test]
    fn members_not_in_the_table_are_left_out_and_weights_come_from_the_checkers() {
        let d = defs(
            "virtual_server 192.0.2.10 80 {\n lb_kind DR\n protocol TCP\n \
             sorry_server 10.0.0.9 80\n \
             real_server 10.0.0.1 80 {\n weight 3\n uthreshold 100\n TCP_CHECK {\n }\n }\n \
             real_server 10.0.0.2 80 {\n TCP_CHECK {\n }\n }\n}\n",
        );
        let state = build(
            &d,
            &[Members {
                real_servers: vec![Some(5), None],
                sorry: Some(0),
            }],
        );
        let svc = state.services.values().next().unwrap();
        let addrs: Vec<String> = svc.dests.keys().map(|a| a.to_string()).collect();
        assert_eq!(addrs, ["10.0.0.1:80", "10.0.0.9:80"]);
        let rs = svc.dests[&"10.0.0.1:80".parse().unwrap()];
        assert_eq!((rs.weight, rs.uthreshold), (5, 100));
        assert_eq!(svc.dests[&"10.0.0.9:80".parse().unwrap()].weight, 0);
    }
}
