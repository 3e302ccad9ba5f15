//! Where each virtual address arrives on this host, for the `xdp` backend: the interface
//! of the VRRP instance that holds it (forwarded only while MASTER), else an interface the
//! address is configured on (always forwarded). Tunnels leave from the interface's own
//! first global address of each family that is not a VIP.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use tracing::warn;

use crate::daemon::netlink::{Links, Netlink};
use crate::daemon::plan::VrrpPlan;
use crate::lb::state::service_ip;
use crate::lb::xdp::LbSite;
use crate::lb::{expand, ServiceKey};

/// The addresses of every service of `lb` (fwmark services have none).
pub fn service_addrs(lb: &crate::daemon::plan::LbPlan) -> BTreeSet<IpAddr> {
    expand(&lb.virtual_servers, &lb.groups)
        .iter()
        .flat_map(|d| d.keys.iter())
        .filter_map(|k: &ServiceKey| service_ip(k))
        .collect()
}

/// The site of each address in `addrs` that has one, and why the others have none.
pub fn find(
    addrs: &BTreeSet<IpAddr>,
    vrrp: &VrrpPlan,
) -> (BTreeMap<IpAddr, LbSite>, BTreeMap<IpAddr, String>) {
    let mut out = BTreeMap::new();
    let mut why = BTreeMap::new();
    let mut nl = match Netlink::new() {
        Ok(n) => n,
        Err(e) => {
            warn!("XDP LB: netlink: {e}");
            return (out, why);
        }
    };
    let links = nl.links().unwrap_or_else(|e| {
        warn!("XDP LB: link dump: {e}");
        Links::default()
    });
    let vips: BTreeSet<IpAddr> = vrrp
        .instances
        .iter()
        .flat_map(|i| i.vips.iter().map(|v| v.addr))
        .collect();
    let mut addrs_of = BTreeMap::new();
    for l in &links.0 {
        addrs_of.insert(l.index, nl.addresses(l.index).unwrap_or_default());
    }
    for ip in addrs {
        let held = vrrp.instances.iter().find_map(|i| {
            let v = i.vips.iter().find(|v| v.addr == *ip)?;
            Some((i.ifname.clone(), v.dev.clone()))
        });
        let (link, vrrp_held) = match &held {
            // The MASTER's ownership is recorded for its own interface only (the XDP
            // responder's map): a VIP on another device could never be seen as owned.
            Some((ifname, Some(dev))) if dev != ifname => {
                why.insert(
                    *ip,
                    format!(
                        "it is held by a VRRP instance on {ifname} but configured on {dev} \
                         (put it on {ifname}, or use lb_backend ipvs)"
                    ),
                );
                continue;
            }
            Some((ifname, _)) => (links.by_name(ifname), true),
            None => (
                links.0.iter().find(|l| {
                    addrs_of
                        .get(&l.index)
                        .is_some_and(|a| a.iter().any(|x| x.addr == *ip))
                }),
                false,
            ),
        };
        let Some(link) = link else {
            why.insert(
                *ip,
                "it is in no VRRP instance and on no interface here".to_string(),
            );
            continue;
        };
        let own = addrs_of.get(&link.index).cloned().unwrap_or_default();
        let first = |v6: bool| {
            own.iter()
                .filter(|a| a.scope == 0 && !a.secondary && a.addr.is_ipv6() == v6)
                .map(|a| a.addr)
                .find(|a| !vips.contains(a) && !addrs.contains(a))
        };
        out.insert(
            *ip,
            LbSite {
                ifindex: link.index,
                ifname: link.name.clone(),
                vrrp: vrrp_held,
                src4: first(false).and_then(|a| match a {
                    IpAddr::V4(a) => Some(a),
                    IpAddr::V6(_) => None,
                }),
                src6: first(true).and_then(|a| match a {
                    IpAddr::V6(a) => Some(a),
                    IpAddr::V4(_) => None,
                }),
            },
        );
    }
    (out, why)
}
