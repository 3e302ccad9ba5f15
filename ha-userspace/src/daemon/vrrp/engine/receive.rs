//! Draining the receive paths: each packet or kernel event goes to the runner its
//! interface, family and VRID name (`route.rs`).

use tracing::warn;

use super::Engine;
use crate::daemon::vrrp::prepare::RxKey;
use crate::daemon::vrrp::receive::{AdvertReceiver, Rx};
use crate::time::MonoTime;
use crate::units::Vrid;
use crate::vrrp::auth::parse_ah;
use crate::vrrp::ipv4::parse_ipv4_packet;
use crate::vrrp::packet::{peek_vrid, IPPROTO_AH};

impl Engine {
    /// A raw socket: every packet, still to be checked.
    pub(super) fn drain_rx(&mut self, now: MonoTime, key: RxKey) {
        let (ifindex, family, _) = key;
        let Engine {
            rx,
            runners,
            io,
            raw_routes,
            unknown_vrid,
            ..
        } = self;
        let Some(receiver) = rx.get_mut(&key) else {
            return;
        };
        let r = receiver.drain(&mut |got| {
            let Rx::Packet { bytes, src, v6, .. } = got else {
                return;
            };
            let vrid = match v6 {
                None => vrid_v4(bytes),
                Some(_) => peek_vrid(bytes).map(|(_, v)| v),
            };
            match vrid.and_then(|v| raw_routes.route(ifindex, family, v, Some(src))) {
                Some(i) => runners[i].on_rx(now, got, io),
                None => *unknown_vrid += 1,
            }
        });
        if let Err(e) = r {
            warn!("receive on ifindex {ifindex}: {e}");
        }
    }

    /// The XDP ring: each event names its interface (where the program runs: the
    /// instance's own interface), family and VRID.
    pub(super) fn drain_xdp(&mut self, now: MonoTime) {
        let Engine {
            xdp_events,
            runners,
            io,
            xdp_routes,
            unknown_vrid,
            ..
        } = self;
        let Some(ring) = xdp_events.as_mut() else {
            return;
        };
        let r = ring.drain(&mut |got| {
            let (ifindex, family, vrid, src) = match got {
                Rx::Message {
                    ifindex,
                    family,
                    bytes,
                    src,
                    ..
                } => match peek_vrid(bytes) {
                    Some((_, vrid)) => (ifindex, family, vrid, Some(src)),
                    None => return,
                },
                Rx::MasterDown {
                    ifindex,
                    family,
                    vrid,
                    ..
                } => (ifindex, family, vrid, None),
                Rx::Packet { .. } => return,
            };
            match xdp_routes.route(ifindex, family, vrid, src) {
                Some(i) => runners[i].on_rx(now, got, io),
                None => *unknown_vrid += 1,
            }
        });
        if let Err(e) = r {
            warn!("XDP events: {e}");
        }
    }
}

/// The VRID of an IPv4 VRRP packet (behind AH if present), if it has one.
fn vrid_v4(pkt: &[u8]) -> Option<Vrid> {
    let (ip, payload) = parse_ipv4_packet(pkt).ok()?;
    let msg = if ip.protocol == IPPROTO_AH {
        parse_ah(payload).ok()?.1
    } else {
        payload
    };
    peek_vrid(msg).map(|(_, v)| v)
}
