//! keepalived's `use_vmac`: the instance runs on a macvlan of its interface whose MAC is the
//! RFC 5798 §7.3 virtual router MAC, 00-00-5E-00-01-{VRID} (IPv6: 00-00-5E-00-02-{VRID}), so
//! a takeover needs no ARP cache update anywhere. As keepalived does (vrrp_vmac.c,
//! vrrp_if_config.c): macvlan mode private (it must hear the other router's adverts sent
//! from the same MAC), and these interface settings:
//!
//! - on the macvlan: `arp_ignore=1` (answer ARP only for its own addresses), `accept_local=1`
//!   (hear the peer's adverts), `rp_filter=0` (receive with no address), and for an IPv4
//!   instance IPv6 disabled (no link-local address or DAD from a MAC two routers share);
//! - on the parent: `arp_ignore=1` and `arp_filter=1` (never answer for the VIPs), restored
//!   when the last macvlan on it goes away.
//!
//! For IPv6 the macvlan gets no generated address (`addr_gen_mode` none) and carries a copy
//! of the parent's link-local address as the adverts' source.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Mutex;

use tracing::{info, warn};

use crate::config::model::vrrp::IpAddress;
use crate::daemon::netlink::{Netlink, NetlinkError};
use crate::family::Family;

/// A macvlan this daemon created; removed (and the parent's settings restored) on drop.
#[derive(Debug)]
pub struct Vmac {
    pub index: u32,
    pub name: String,
    pub mac: [u8; 6],
    parent_name: String,
}

/// Per parent interface: how many of our macvlans use it, and its `arp_ignore` /
/// `arp_filter` before the first one changed them.
type ParentRefs = BTreeMap<String, (usize, Option<(String, String)>)>;
static PARENTS: Mutex<ParentRefs> = Mutex::new(BTreeMap::new());

fn sysctl_path(family: &str, ifname: &str, key: &str) -> String {
    format!("/proc/sys/net/{family}/conf/{ifname}/{key}")
}

fn write_sysctl(family: &str, ifname: &str, key: &str, value: &str) {
    let p = sysctl_path(family, ifname, key);
    if let Err(e) = std::fs::write(&p, value) {
        warn!("{p}: {e}");
    }
}

fn read_sysctl(family: &str, ifname: &str, key: &str) -> Option<String> {
    std::fs::read_to_string(sysctl_path(family, ifname, key))
        .ok()
        .map(|s| s.trim().to_owned())
}

impl Vmac {
    /// Creates the macvlan `name` on `parent` (replacing a leftover one of that name) and
    /// configures it. For IPv6, `link_local` is the parent's address to copy.
    pub fn create(
        nl: &mut Netlink,
        name: &str,
        parent: (u32, &str),
        mac: [u8; 6],
        family: Family,
        link_local: Option<Ipv6Addr>,
    ) -> Result<Vmac, NetlinkError> {
        if let Some(old) = nl.link_by_name(name)? {
            nl.del_link(old.index)?;
        }
        let index = nl.add_macvlan(name, parent.0, mac)?;
        let v = Vmac {
            index,
            name: name.to_owned(),
            mac,
            parent_name: parent.1.to_owned(),
        };
        write_sysctl("ipv4", name, "arp_ignore", "1");
        write_sysctl("ipv4", name, "accept_local", "1");
        write_sysctl("ipv4", name, "rp_filter", "0");
        write_sysctl("ipv4", name, "promote_secondaries", "1");
        match family {
            Family::V4 => write_sysctl("ipv6", name, "disable_ipv6", "1"),
            Family::V6 => write_sysctl("ipv6", name, "addr_gen_mode", "1"),
        }
        if let Ok(mut refs) = PARENTS.lock() {
            let entry = refs.entry(parent.1.to_owned()).or_insert((0, None));
            if entry.0 == 0 {
                let ignore = read_sysctl("ipv4", parent.1, "arp_ignore");
                let filter = read_sysctl("ipv4", parent.1, "arp_filter");
                if let (Some(i), Some(f)) = (ignore, filter) {
                    if i != "1" || f != "1" {
                        write_sysctl("ipv4", parent.1, "arp_ignore", "1");
                        write_sysctl("ipv4", parent.1, "arp_filter", "1");
                        entry.1 = Some((i, f));
                    }
                }
            }
            entry.0 += 1;
        }
        nl.set_up(index, true)?;
        if let (Family::V6, Some(ll)) = (family, link_local) {
            let mut a = link_local_copy(ll);
            a.dev = Some(name.to_owned());
            nl.add_address(index, &a)?;
        }
        info!(
            "created VMAC {name} ({}) on {}",
            mac.map(|b| format!("{b:02x}")).join(":"),
            parent.1
        );
        Ok(v)
    }
}

/// The parent's link-local address, copied onto the VMAC: `/64`, scope link, no DAD.
fn link_local_copy(ll: Ipv6Addr) -> IpAddress {
    let mut a = IpAddress::new(IpAddr::V6(ll), 64);
    a.scope = Some(253);
    a.nodad = true;
    a
}

impl Drop for Vmac {
    fn drop(&mut self) {
        if let Ok(mut refs) = PARENTS.lock() {
            if let Some(entry) = refs.get_mut(&self.parent_name) {
                entry.0 = entry.0.saturating_sub(1);
                if entry.0 == 0 {
                    if let Some((i, f)) = entry.1.take() {
                        write_sysctl("ipv4", &self.parent_name, "arp_ignore", &i);
                        write_sysctl("ipv4", &self.parent_name, "arp_filter", &f);
                    }
                    refs.remove(&self.parent_name);
                }
            }
        }
        match Netlink::new().and_then(|mut nl| nl.del_link(self.index)) {
            Ok(()) => info!("removed VMAC {}", self.name),
            Err(e) => warn!("removing VMAC {}: {e}", self.name),
        }
    }
}
