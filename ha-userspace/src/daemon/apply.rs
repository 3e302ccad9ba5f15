//! Setting and clearing what an owner puts on the system: its addresses, then its routes,
//! then its rules (removed in the reverse order), for an instance's VIPs on MASTER and for
//! the `static_*` blocks while the daemon runs. Failures are logged with the owner's name
//! and do not stop the rest: one bad route must not keep a VIP away.

use tracing::error;

use super::netlink::{Links, Netlink};
use super::routes::{route_message, rule_message};
use crate::config::model::vrrp::{IpAddress, Route, Rule};

/// One owner's addresses (each with its interface), routes and rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Layer<'a> {
    pub addresses: &'a [(u32, &'a IpAddress)],
    pub routes: &'a [Route],
    pub rules: &'a [Rule],
}

/// Adds `layer` in order (addresses, routes, rules) or removes it in reverse.
pub fn set(nl: &mut Netlink, add: bool, layer: Layer<'_>, links: &Links, owner: &str) {
    if add {
        addresses(nl, true, layer.addresses, owner);
        routes(nl, true, layer.routes, links, owner);
        rules(nl, true, layer.rules, owner);
    } else {
        rules(nl, false, layer.rules, owner);
        routes(nl, false, layer.routes, links, owner);
        addresses(nl, false, layer.addresses, owner);
    }
}

/// What `new` no longer has and what it adds, compared with `old`, in their orders.
pub fn difference<T: PartialEq + Clone>(old: &[T], new: &[T]) -> (Vec<T>, Vec<T>) {
    let gone = old.iter().filter(|x| !new.contains(x)).cloned().collect();
    let added = new.iter().filter(|x| !old.contains(x)).cloned().collect();
    (gone, added)
}

fn addresses(nl: &mut Netlink, add: bool, items: &[(u32, &IpAddress)], owner: &str) {
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

fn routes(nl: &mut Netlink, add: bool, routes: &[Route], links: &Links, owner: &str) {
    for r in routes {
        let msg = match route_message(r, &|d| links.index_of(d)) {
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

fn rules(nl: &mut Netlink, add: bool, rules: &[Rule], owner: &str) {
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
pub fn static_addresses<'a>(items: &'a [IpAddress], links: &Links) -> Vec<(u32, &'a IpAddress)> {
    items
        .iter()
        .filter_map(|a| {
            let dev = a.dev.as_deref().unwrap_or("eth0");
            match links.index_of(dev) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difference_keeps_order_and_ignores_the_common_part() {
        let (gone, added) = difference(&[1, 2, 3, 4], &[4, 5, 2, 6]);
        assert_eq!(gone, vec![1, 3]);
        assert_eq!(added, vec![5, 6]);
        let (gone, added) = difference::<u8>(&[], &[]);
        assert!(gone.is_empty() && added.is_empty());
    }
}
