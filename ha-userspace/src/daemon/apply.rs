//! Setting and clearing addresses, routes and rules, for an instance's VIPs (on MASTER) and
//! for the `static_*` blocks (while the daemon runs). Failures are logged with the owner's
//! name and do not stop the rest: one bad route must not keep a VIP away.

use tracing::error;

use super::netlink::{Link, Netlink};
use super::routes::{route_message, rule_message};
use crate::config::model::vrrp::{IpAddress, Route, Rule};

fn index_of(links: &[Link], name: &str) -> Option<u32> {
    links.iter().find(|l| l.name == name).map(|l| l.index)
}

/// Adds or removes addresses; `ifindex` gives each one's interface.
pub fn addresses(nl: &mut Netlink, add: bool, items: &[(u32, &IpAddress)], owner: &str) {
    for (ifindex, a) in items {
        let r = if add {
            nl.add_address(*ifindex, a)
        } else {
            nl.del_address(*ifindex, a)
        };
        if let Err(e) = r {
            error!("({owner}) {e}");
        }
    }
}

pub fn routes(nl: &mut Netlink, add: bool, routes: &[Route], links: &[Link], owner: &str) {
    for r in routes {
        let msg = match route_message(r, &|d| index_of(links, d)) {
            Ok(m) => m,
            Err(e) => {
                error!("({owner}) route to {:?}/{}: {e}", r.dst.addr, r.dst.len);
                continue;
            }
        };
        if let Err(e) = nl.route(add, r.append, msg) {
            error!("({owner}) {e}");
        }
    }
}

pub fn rules(nl: &mut Netlink, add: bool, rules: &[Rule], owner: &str) {
    for r in rules {
        let msg = match rule_message(r) {
            Ok(m) => m,
            Err(e) => {
                error!("({owner}) rule: {e}");
                continue;
            }
        };
        if let Err(e) = nl.rule(add, msg) {
            error!("({owner}) {e}");
        }
    }
}

/// The static addresses with their interfaces (keepalived's default device is eth0).
pub fn static_addresses<'a>(items: &'a [IpAddress], links: &[Link]) -> Vec<(u32, &'a IpAddress)> {
    items
        .iter()
        .filter_map(|a| {
            let dev = a.dev.as_deref().unwrap_or("eth0");
            match index_of(links, dev) {
                Some(i) => Some((i, a)),
                None => {
                    error!(
                        "(static) address {}: interface {dev} does not exist",
                        a.addr
                    );
                    None
                }
            }
        })
        .collect()
}
