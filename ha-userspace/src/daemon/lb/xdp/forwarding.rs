//! IPv4 forwarding on the interfaces the XDP forwarder runs on. The kernel's FIB lookup
//! from XDP (`bpf_fib_lookup`) refuses on an interface that does not forward, while an
//! IPVS director in DR or TUN mode needs no forwarding: keepalived's LVS recipes never set
//! it. So that they run as written, ha turns `net.ipv4.conf.IF.forwarding` on for those
//! interfaces only (not `ip_forward`, not other interfaces), says so, and puts the old
//! value back at stop. IPv6 has no per-interface switch the lookup reads (it reads
//! `net.ipv6.conf.all.forwarding`, which also changes how every interface takes router
//! adverts), so there ha only warns.

use std::path::PathBuf;

use tracing::{info, warn};

#[derive(Debug, Default)]
pub struct Forwarding {
    /// The switches ha turned on, with what they held.
    changed: Vec<(PathBuf, String)>,
    warned_v6: bool,
}

impl Forwarding {
    /// Forwarding on `ifname` for IPv4 (turned on if off); a warning once when IPv6
    /// services are there and the host does not forward IPv6.
    pub fn ensure(&mut self, ifname: &str, v6: bool) {
        let path = PathBuf::from(format!("/proc/sys/net/ipv4/conf/{ifname}/forwarding"));
        if !self.changed.iter().any(|(p, _)| *p == path) {
            match std::fs::read_to_string(&path) {
                Ok(old) if old.trim() == "0" => match std::fs::write(&path, "1") {
                    Ok(()) => {
                        info!(
                            "XDP LB: turned on net.ipv4.conf.{ifname}.forwarding (the XDP \
                             forwarder's FIB lookup needs it); it is put back at stop"
                        );
                        self.changed.push((path, old));
                    }
                    Err(e) => warn!(
                        "XDP LB: net.ipv4.conf.{ifname}.forwarding is off and cannot be \
                         turned on ({e}): IPv4 services there are dropped as fwd_disabled"
                    ),
                },
                Ok(_) => {}
                Err(e) => warn!("XDP LB: {}: {e}", path.display()),
            }
        }
        if v6 && !self.warned_v6 {
            let all = std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/forwarding");
            if all.is_ok_and(|v| v.trim() == "0") {
                self.warned_v6 = true;
                warn!(
                    "XDP LB: IPv6 services need net.ipv6.conf.all.forwarding=1 (ha does not \
                     set it: it changes how every interface takes router adverts); until then \
                     they are dropped as fwd_disabled"
                );
            }
        }
    }

    /// Puts back what [`Forwarding::ensure`] changed.
    pub fn restore(&mut self) {
        for (path, old) in self.changed.drain(..) {
            if let Err(e) = std::fs::write(&path, old.trim()) {
                warn!("XDP LB: restoring {}: {e}", path.display());
            }
        }
    }
}
