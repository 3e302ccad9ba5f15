//! From the state applied last to the state wanted now, as the changes a backend applies
//! one by one (IPVS's NEW/SET/DEL of services and destinations). Services come first,
//! destinations after their service exists, removed services last, so every change is
//! valid against the table the previous ones left.

use std::fmt;
use std::net::SocketAddr;

use serde::Serialize;

use super::state::{bracketed, Dest, LbState, ServiceKey, ServiceParams};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Change {
    AddService {
        key: ServiceKey,
        params: ServiceParams,
    },
    EditService {
        key: ServiceKey,
        params: ServiceParams,
    },
    DelService {
        key: ServiceKey,
    },
    AddDest {
        service: ServiceKey,
        addr: SocketAddr,
        dest: Dest,
    },
    EditDest {
        service: ServiceKey,
        addr: SocketAddr,
        dest: Dest,
    },
    DelDest {
        service: ServiceKey,
        addr: SocketAddr,
    },
}

impl Change {
    /// The service the change is about.
    pub fn service(&self) -> &ServiceKey {
        match self {
            Change::AddService { key, .. }
            | Change::EditService { key, .. }
            | Change::DelService { key } => key,
            Change::AddDest { service, .. }
            | Change::EditDest { service, .. }
            | Change::DelDest { service, .. } => service,
        }
    }
}

impl fmt::Display for Change {
    /// One line per change, the form the `log` backend writes and tests read.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::AddService { key, params } => {
                write!(f, "add service {key} scheduler {:?}", params.scheduler)
            }
            Change::EditService { key, params } => {
                write!(f, "edit service {key} scheduler {:?}", params.scheduler)
            }
            Change::DelService { key } => write!(f, "remove service {key}"),
            Change::AddDest {
                service,
                addr,
                dest,
            } => write!(
                f,
                "add real server {} to {service} weight {}",
                bracketed(*addr),
                dest.weight
            ),
            Change::EditDest {
                service,
                addr,
                dest,
            } => write!(
                f,
                "set real server {} of {service} weight {}",
                bracketed(*addr),
                dest.weight
            ),
            Change::DelDest { service, addr } => {
                write!(f, "remove real server {} from {service}", bracketed(*addr))
            }
        }
    }
}

/// The changes that turn `old` into `new`.
pub fn diff(old: &LbState, new: &LbState) -> Vec<Change> {
    let mut out = Vec::new();
    for (key, svc) in &new.services {
        match old.services.get(key) {
            None => {
                out.push(Change::AddService {
                    key: *key,
                    params: svc.params.clone(),
                });
                for (addr, dest) in &svc.dests {
                    out.push(Change::AddDest {
                        service: *key,
                        addr: *addr,
                        dest: *dest,
                    });
                }
            }
            Some(before) => {
                if before.params != svc.params {
                    out.push(Change::EditService {
                        key: *key,
                        params: svc.params.clone(),
                    });
                }
                for addr in before.dests.keys() {
                    if !svc.dests.contains_key(addr) {
                        out.push(Change::DelDest {
                            service: *key,
                            addr: *addr,
                        });
                    }
                }
                for (addr, dest) in &svc.dests {
                    match before.dests.get(addr) {
                        None => out.push(Change::AddDest {
                            service: *key,
                            addr: *addr,
                            dest: *dest,
                        }),
                        Some(d) if d != dest => out.push(Change::EditDest {
                            service: *key,
                            addr: *addr,
                            dest: *dest,
                        }),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    for key in old.services.keys() {
        if !new.services.contains_key(key) {
            out.push(Change::DelService { key: *key });
        }
    }
    out
}

/// Applies `changes` to `state`, as a backend that succeeded leaves its table: applying
/// `diff(a, b)` to `a` gives `b`.
pub fn apply(state: &mut LbState, changes: &[Change]) {
    use super::state::Service;
    for c in changes {
        match c {
            Change::AddService { key, params } | Change::EditService { key, params } => {
                state
                    .services
                    .entry(*key)
                    .and_modify(|s| s.params = params.clone())
                    .or_insert_with(|| Service {
                        params: params.clone(),
                        dests: Default::default(),
                    });
            }
            Change::DelService { key } => {
                state.services.remove(key);
            }
            Change::AddDest {
                service,
                addr,
                dest,
            }
            | Change::EditDest {
                service,
                addr,
                dest,
            } => {
                if let Some(s) = state.services.get_mut(service) {
                    s.dests.insert(*addr, *dest);
                }
            }
            Change::DelDest { service, addr } => {
                if let Some(s) = state.services.get_mut(service) {
                    s.dests.remove(addr);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::lvs::forwarding::Forwarding;
    use crate::config::model::lvs::virtual_server::{Protocol, SchedFlags, Scheduler};
    use crate::lb::state::Service;

    fn key(port: u16) -> ServiceKey {
        ServiceKey::Addr {
            protocol: Protocol::Tcp,
            addr: SocketAddr::from(([192, 0, 2, 10], port)),
        }
    }

    fn params(s: Scheduler) -> ServiceParams {
        ServiceParams {
            scheduler: s,
            flags: SchedFlags::default(),
            persistence_timeout: None,
            persistence_granularity: None,
            persistence_engine: None,
        }
    }

    fn dest(weight: u32) -> Dest {
        Dest {
            weight,
            forwarding: Forwarding::Dr,
            uthreshold: 0,
            lthreshold: 0,
        }
    }

    /// (port, scheduler, [(last octet of a real server, weight)]).
    type Entry<'a> = (u16, Scheduler, &'a [(u8, u32)]);

    fn state(entries: &[Entry]) -> LbState {
        let mut s = LbState::default();
        for (port, sched, dests) in entries {
            s.services.insert(
                key(*port),
                Service {
                    params: params(*sched),
                    dests: dests
                        .iter()
                        .map(|(h, w)| (SocketAddr::from(([10, 0, 0, *h], 80)), dest(*w)))
                        .collect(),
                },
            );
        }
        s
    }

    #[test]
    fn a_new_service_comes_before_its_real_servers_and_a_gone_one_goes_last() {
        let old = state(&[(81, Scheduler::Wlc, &[(1, 1)])]);
        let new = state(&[(80, Scheduler::Rr, &[(1, 1), (2, 3)])]);
        let changes = diff(&old, &new);
        let text: Vec<String> = changes.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            text,
            [
                "add service TCP [192.0.2.10]:80 scheduler Rr",
                "add real server [10.0.0.1]:80 to TCP [192.0.2.10]:80 weight 1",
                "add real server [10.0.0.2]:80 to TCP [192.0.2.10]:80 weight 3",
                "remove service TCP [192.0.2.10]:81",
            ]
        );
    }

    #[test]
    fn only_what_changed_is_sent() {
        let old = state(&[(80, Scheduler::Wlc, &[(1, 1), (2, 1), (3, 1)])]);
        let new = state(&[(80, Scheduler::Wlc, &[(1, 1), (2, 0), (4, 1)])]);
        let text: Vec<String> = diff(&old, &new).iter().map(|c| c.to_string()).collect();
        assert_eq!(
            text,
            [
                "remove real server [10.0.0.3]:80 from TCP [192.0.2.10]:80",
                "set real server [10.0.0.2]:80 of TCP [192.0.2.10]:80 weight 0",
                "add real server [10.0.0.4]:80 to TCP [192.0.2.10]:80 weight 1",
            ]
        );
        assert!(diff(&new, &new).is_empty());
        let sched = state(&[(80, Scheduler::Rr, &[(1, 1), (2, 0), (4, 1)])]);
        assert!(matches!(
            diff(&new, &sched)[..],
            [Change::EditService { .. }]
        ));
    }

    #[test]
    fn applying_the_diff_gives_the_new_state() {
        let cases = [
            state(&[]),
            state(&[(80, Scheduler::Wlc, &[(1, 1), (2, 1)])]),
            state(&[
                (80, Scheduler::Rr, &[(2, 5)]),
                (443, Scheduler::Sh, &[(9, 1)]),
            ]),
            state(&[(443, Scheduler::Sh, &[])]),
        ];
        for a in &cases {
            for b in &cases {
                let mut s = a.clone();
                apply(&mut s, &diff(a, b));
                assert_eq!(&s, b);
            }
        }
    }
}
