//! Our adverts: built once per instance, the priority filled in per send, to the multicast
//! group or to each unicast peer (RFC 5798 §5, RFC 3768 §5 with keepalived's AH).

use std::net::IpAddr;

use tracing::{debug, error};

use super::Runner;
use crate::daemon::plan::{AuthPlan, InstancePlan};
use crate::units::Priority;
use crate::vrrp::auth::encode_ipv4_ah;
use crate::vrrp::ipv4::{encode_ipv4_packet, Ipv4Tx, IPV4_HEADER_LEN};
use crate::vrrp::packet::{encode, Advert, Auth, EncodeError, Version, IPPROTO_VRRP, MCAST_V4};

impl Runner {
    pub(super) fn send_advert(&mut self, priority: Priority) {
        self.advert.priority = priority;
        let n = match self.plan.mcast_dst {
            Some(_) => 1,
            None => self.plan.unicast_peers.len(),
        };
        if matches!(self.plan.auth, AuthPlan::Ah(_)) {
            self.ah_seq = self.ah_seq.wrapping_add(1);
        }
        for k in 0..n {
            let dst = match self.plan.mcast_dst {
                Some(g) => g,
                None => self.plan.unicast_peers[k].addr,
            };
            let bytes = match self.encode(dst) {
                Ok(b) => b,
                Err(e) => {
                    error!(instance = %self.plan.name, "cannot encode an advert: {e}");
                    self.counters.send_errors += 1;
                    continue;
                }
            };
            match self.tx.send(&bytes, dst) {
                Ok(()) => {
                    self.counters.adverts_sent += 1;
                    if priority == Priority::STOP {
                        self.counters.priority_zero_sent += 1;
                    }
                }
                Err(e) => {
                    self.counters.send_errors += 1;
                    debug!(instance = %self.plan.name, %dst, "advert not sent: {e}");
                }
            }
        }
    }

    /// The advert to `dst`: IPv4 with its header (and AH), IPv6 as the VRRP message.
    fn encode(&mut self, dst: IpAddr) -> Result<Vec<u8>, EncodeError> {
        let advert = &self.advert;
        match (self.place.src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                self.ip_id = self.ip_id.wrapping_add(1).max(1);
                let mut ip = Ipv4Tx::new(s, d, self.ip_id);
                if self.plan.is_unicast() {
                    ip.ttl = self.plan.unicast_ttl;
                }
                match self.plan.auth {
                    AuthPlan::Ah(key) => {
                        encode_ipv4_ah(advert, &ip, &key, self.ah_seq, self.plan.is_unicast())
                    }
                    _ if self.old_checksum && self.plan.version == Version::V3 => {
                        encode_old_checksum(advert, &ip)
                    }
                    _ => encode_ipv4_packet(advert, &ip),
                }
            }
            (s, d) => encode(advert, s, d),
        }
    }
}

/// The advert an instance sends (priority filled in per send).
pub(super) fn advert_of(plan: &InstancePlan) -> Advert {
    Advert {
        version: plan.version,
        vrid: plan.vrid,
        priority: plan.priority,
        adver_int: plan.adver_int,
        addrs: plan.advert_addrs.clone(),
        auth: match plan.auth {
            AuthPlan::None => Auth::None,
            AuthPlan::Pass(k) => Auth::Pass(k),
            AuthPlan::Ah(_) => Auth::Ah,
        },
    }
}

/// A VRRPv3 IPv4 unicast advert with its checksum computed over 224.0.0.18 instead of the
/// peer's address, as keepalived did before 2.0.8 (`unicast_chksum_compat`).
fn encode_old_checksum(advert: &Advert, ip: &Ipv4Tx) -> Result<Vec<u8>, EncodeError> {
    let msg = encode(advert, ip.src.into(), MCAST_V4.into())?;
    let mut out = Vec::with_capacity(IPV4_HEADER_LEN + msg.len());
    out.extend_from_slice(&ip.header(IPPROTO_VRRP, msg.len()));
    out.extend_from_slice(&msg);
    Ok(out)
}
