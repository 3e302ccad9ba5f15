//! Received adverts: the RFC 5798 §7.1 checks (raw-socket path: here, against the
//! instance's expectations; XDP path: the kernel checked what it absorbed and hands the rest
//! over as messages), then the state machine.

use std::net::{IpAddr, Ipv6Addr};

use tracing::{debug, info};

use super::Runner;
use crate::daemon::plan::InstancePlan;
use crate::daemon::vrrp::engine::Io;
use crate::daemon::vrrp::receive::Rx;
use crate::daemon::vrrp::xdp_sync::Signature;
use crate::time::MonoTime;
use crate::units::{Centis, Priority};
use crate::vrrp::fsm::{Input, State};
use crate::vrrp::ipv4::parse_ipv4_packet;
use crate::vrrp::validate::{self, Accepted, Dropped, RxExpect};

impl Runner {
    /// What the receive path delivered for this instance; `now` is when the engine woke.
    pub fn on_rx(&mut self, now: MonoTime, rx: Rx<'_>, io: &mut Io) {
        match rx {
            Rx::MasterDown { last_seen, .. } => self.on_master_down(now, last_seen, io),
            Rx::Packet { bytes, v6, at, .. } => {
                self.catch_up(now, io);
                self.on_packet(at, bytes, v6, io)
            }
            Rx::Message {
                bytes,
                src,
                dst,
                hop_limit,
                at,
                ..
            } => {
                if src == self.place.src {
                    return;
                }
                self.catch_up(now, io);
                self.update_expect(src);
                let r = validate::receive_message(bytes, src, dst, Some(hop_limit), &self.expect);
                self.on_checked(at, src, dst, bytes, r, io);
            }
        }
    }

    /// Updates the per-packet part of the receive checks: keepalived's `check_addr` (skip
    /// the address list for the master we follow, with `skip_check_adv_addr`) and the AH
    /// anti-replay counter.
    fn update_expect(&mut self, src: IpAddr) {
        let following =
            self.fsm.state() == State::Backup && self.fsm.master().is_some_and(|m| m.addr == src);
        self.expect.check_adv_addr = !(self.plan.skip_check_adv_addr && following);
        if let validate::ExpectAuth::Ah { last_seq, .. } = &mut self.expect.auth {
            *last_seq = self.ah_last_rx;
        }
    }

    /// A validated advert: into the state machine.
    fn on_advert(
        &mut self,
        at: MonoTime,
        src: IpAddr,
        priority: Priority,
        adver_int: Centis,
        io: &mut Io,
    ) {
        self.counters.adverts_received += 1;
        if priority == Priority::STOP {
            self.counters.priority_zero_received += 1;
        }
        self.follow.fed(at);
        if priority != Priority::STOP {
            self.last_master_advert = Some(at);
        }
        self.fsm.handle(
            at,
            Input::Advert {
                src,
                priority,
                adver_int,
            },
        );
        self.run_actions(at, io);
    }

    /// One received packet for this VRID: IPv4 as read from the raw socket (header
    /// included), IPv6 as the VRRP message with its ancillary data.
    fn on_packet(
        &mut self,
        at: MonoTime,
        pkt: &[u8],
        v6: Option<(Ipv6Addr, Ipv6Addr, Option<u8>)>,
        io: &mut Io,
    ) {
        let (src, dst, msg) = match v6 {
            Some((s, d, _)) => (IpAddr::V6(s), IpAddr::V6(d), pkt),
            None => match parse_ipv4_packet(pkt) {
                Ok((ip, m)) => (ip.src_ip(), ip.dst_ip(), m),
                Err(e) => {
                    self.drops.inc(validate::Reason::of_decode_error(&e));
                    return;
                }
            },
        };
        if src == self.place.src {
            // Our own advert looped back (another socket on this host).
            return;
        }
        self.update_expect(src);
        let result = match v6 {
            None => validate::receive_ipv4(pkt, &self.expect),
            Some((s, d, hops)) => validate::receive_ipv6(pkt, s, d, hops, &self.expect),
        };
        self.on_checked(at, src, dst, msg, result, io);
    }

    /// The outcome of the receive checks, from either path.
    fn on_checked(
        &mut self,
        at: MonoTime,
        src: IpAddr,
        dst: IpAddr,
        msg: &[u8],
        result: Result<Accepted, Dropped>,
        io: &mut Io,
    ) {
        match result {
            Ok(Accepted {
                advert,
                ah_seq,
                old_unicast_checksum,
            }) => {
                if let Some(seq) = ah_seq {
                    self.ah_last_rx = seq;
                }
                if old_unicast_checksum && !self.old_checksum {
                    // keepalived's `unicast_chksum_compat` auto mode: answer in kind.
                    info!(
                        instance = %self.plan.name,
                        "peer {src} uses the pre-2.0.8 unicast checksum: sending it too"
                    );
                    self.old_checksum = true;
                }
                self.last_sig = Signature::of(msg, src, dst);
                self.on_advert(at, src, advert.priority, advert.adver_int, io);
            }
            Err(Dropped(reason)) => {
                self.drops.inc(reason);
                if reason.is_error() {
                    debug!(
                        instance = %self.plan.name,
                        reason = reason.name(),
                        "advert dropped"
                    );
                }
            }
        }
    }
}

/// The receive checks' fixed expectations for an instance.
pub(super) fn expectations(plan: &InstancePlan) -> RxExpect {
    RxExpect {
        vrid: plan.vrid,
        version: plan.version,
        family: plan.family,
        adver_int: plan.adver_int,
        vips: plan.advert_addrs.clone(),
        check_adv_addr: true,
        auth: plan.auth.expect(),
        unicast_peers: (!plan.unicast_peers.is_empty()).then(|| plan.unicast_peers.clone()),
        check_unicast_src: plan.check_unicast_src,
    }
}
