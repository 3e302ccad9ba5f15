//! What a run may have added to the system, kept in a small file next to the control socket
//! so that a daemon started after a kill removes exactly that before it elects. A master
//! killed with SIGKILL leaves its VIPs, virtual routes and rules behind (keepalived's too);
//! the kernel's fence keeps them silent meanwhile (the XDP program outlives the daemon), but
//! the next run must not start with them on the interface: as a BACKUP, the stack would
//! answer for addresses another node now holds.
//!
//! The file holds the netlink messages that add them, in hex, so removal is exact and needs
//! no config: the next run may have another config. It is rewritten at start and after each
//! reload (from the main thread: never on the engine's path), and removed at a clean stop.

use std::path::{Path, PathBuf};

use netlink_packet_core::{Emitable, Parseable};
use netlink_packet_route::address::AddressMessage;
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::netlink::{address_message, Links, Netlink};
use super::plan::VrrpPlan;
use super::routes::{route_message, rule_message};

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leftovers {
    /// The run that wrote the file.
    pub pid: u32,
    /// RTM_NEWADDR bodies: the VIPs (`virtual_ipaddress`, `_excluded`).
    pub addresses: Vec<String>,
    /// RTM_NEWROUTE bodies: `virtual_routes`.
    pub routes: Vec<String>,
    /// RTM_NEWRULE bodies: `virtual_rules`.
    pub rules: Vec<String>,
}

/// The file for a control socket: `/run/ha/ha.sock` → `/run/ha/ha.added`.
pub fn path_for(socket: &Path) -> PathBuf {
    socket.with_extension("added")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn emit<T: Emitable>(m: &T) -> String {
    let mut buf = vec![0u8; m.buffer_len()];
    m.emit(&mut buf);
    hex(&buf)
}

impl Leftovers {
    /// Everything the instances of `plan` add on MASTER, on the interfaces as they are now.
    pub fn of(plan: &VrrpPlan, links: &Links) -> Leftovers {
        let mut l = Leftovers {
            pid: std::process::id(),
            ..Leftovers::default()
        };
        for i in &plan.instances {
            let default = i
                .vmac
                .as_ref()
                .and_then(|v| links.index_of(&v.name))
                .or_else(|| links.index_of(&i.ifname));
            for v in &i.vips {
                let index = match &v.dev {
                    Some(dev) => links.index_of(dev),
                    None => default,
                };
                if let Some(index) = index {
                    l.addresses.push(emit(&address_message(index, v)));
                }
            }
            for r in &i.routes {
                if let Ok(m) = route_message(r, &|d| links.index_of(d)) {
                    l.routes.push(emit(&m));
                }
            }
            for r in &i.rules {
                if let Ok(m) = rule_message(r) {
                    l.rules.push(emit(&m));
                }
            }
        }
        l
    }

    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.routes.is_empty() && self.rules.is_empty()
    }

    /// Writes the file (atomically: a kill mid-write leaves the previous one).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension("added.tmp");
        let body = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, path)
    }

    pub fn read(path: &Path) -> Option<Leftovers> {
        let text = std::fs::read(path).ok()?;
        match serde_json::from_slice(&text) {
            Ok(l) => Some(l),
            Err(e) => {
                warn!("{}: unreadable ({e}); nothing removed", path.display());
                None
            }
        }
    }

    /// Removes rules, routes, then addresses (the reverse of adding them); what is already
    /// gone is fine. Returns how many items were asked to go.
    pub fn remove(&self, nl: &mut Netlink) -> usize {
        let mut n = 0;
        for r in self.rules.iter().filter_map(|h| unhex(h)) {
            if let Ok(m) = RuleMessage::parse(&r[..]) {
                n += 1;
                if let Err(e) = nl.rule(false, m) {
                    warn!("left behind: {e}");
                }
            }
        }
        for r in self.routes.iter().filter_map(|h| unhex(h)) {
            if let Ok(m) = RouteMessage::parse(&r[..]) {
                n += 1;
                if let Err(e) = nl.route(false, false, m) {
                    warn!("left behind: {e}");
                }
            }
        }
        for a in self.addresses.iter().filter_map(|h| unhex(h)) {
            if let Ok(m) = AddressMessage::parse(&a[..]) {
                n += 1;
                if let Err(e) = nl.del_address_message(m) {
                    warn!("left behind: {e}");
                }
            }
        }
        n
    }
}

/// At start: if the file of a previous run is there and that run is gone (killed, crashed),
/// removes what it added. A clean stop removes its file, so this acts only after a kill.
pub fn clean_after_previous_run(path: &Path) {
    let Some(old) = Leftovers::read(path) else {
        return;
    };
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive =
        old.pid != std::process::id() && unsafe { libc::kill(old.pid as libc::pid_t, 0) } == 0;
    if alive {
        warn!(
            "{}: run {} still exists; its addresses are left alone",
            path.display(),
            old.pid
        );
        return;
    }
    if old.is_empty() {
        let _ = std::fs::remove_file(path);
        return;
    }
    match Netlink::new() {
        Ok(mut nl) => {
            let n = old.remove(&mut nl);
            info!(
                "a previous run (pid {}) stopped without cleaning up: removed the {n} VIPs, \
                 routes and rules it may have left ({})",
                old.pid,
                path.display()
            );
            let _ = std::fs::remove_file(path);
        }
        Err(e) => warn!("{}: {e}; nothing removed", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_garbage() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])),
            Some(vec![0, 1, 0xab, 0xff])
        );
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(
            path_for(Path::new("/run/ha/ha_x.sock")),
            Path::new("/run/ha/ha_x.added")
        );
    }

    #[test]
    fn an_address_message_survives_the_file() {
        use crate::config::model::vrrp::IpAddress;
        let a = IpAddress::new("192.0.2.100".parse().unwrap(), 24);
        let m = address_message(3, &a);
        let l = Leftovers {
            pid: 1,
            addresses: vec![emit(&m)],
            ..Leftovers::default()
        };
        let json = serde_json::to_string(&l).unwrap();
        let back: Leftovers = serde_json::from_str(&json).unwrap();
        let bytes = unhex(&back.addresses[0]).unwrap();
        let parsed = AddressMessage::parse(&bytes[..]).unwrap();
        assert_eq!(parsed, m);
    }
}
