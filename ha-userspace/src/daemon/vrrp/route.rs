//! Which running instance a received packet belongs to, pure. A packet is known by the
//! interface it arrived on, its family and its VRID; unicast instances sharing a VRID on one
//! interface (keepalived allows it) are told apart by the packet's source among their peers.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::family::Family;
use crate::units::Vrid;

/// Where an instance listens: the interface a receive path sees its packets on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub ifindex: u32,
    pub family: Family,
    pub vrid: Vrid,
    /// `unicast_peer` addresses (empty for multicast).
    pub peers: Vec<IpAddr>,
}

/// What a packet is known by: interface, family, VRID.
type Key = (u32, Family, Vrid);
/// The instances listening on one key, with their unicast peers.
type Candidates = Vec<(usize, Vec<IpAddr>)>;

/// The routing table of one receive path, rebuilt when the instances change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes {
    by_key: BTreeMap<Key, Candidates>,
}

impl Routes {
    /// `listeners[i]` is instance `i`'s.
    pub fn new(listeners: impl IntoIterator<Item = Listener>) -> Routes {
        let mut by_key: BTreeMap<_, Vec<_>> = BTreeMap::new();
        for (i, l) in listeners.into_iter().enumerate() {
            by_key
                .entry((l.ifindex, l.family, l.vrid))
                .or_default()
                .push((i, l.peers));
        }
        Routes { by_key }
    }

    /// The instance for a packet from `src` (`None`: a kernel event that names no sender);
    /// the first listener of the key unless a later one lists `src` as a peer.
    pub fn route(
        &self,
        ifindex: u32,
        family: Family,
        vrid: Vrid,
        src: Option<IpAddr>,
    ) -> Option<usize> {
        let list = self.by_key.get(&(ifindex, family, vrid))?;
        list.iter()
            .find(|(_, peers)| src.is_some_and(|s| peers.contains(&s)))
            .or_else(|| list.first())
            .map(|(i, _)| *i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(ifindex: u32, vrid: u8, peers: &[&str]) -> Listener {
        Listener {
            ifindex,
            family: Family::V4,
            vrid: Vrid(vrid),
            peers: peers.iter().map(|p| p.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn by_interface_family_and_vrid() {
        let r = Routes::new([l(2, 51, &[]), l(3, 51, &[]), l(2, 52, &[])]);
        assert_eq!(r.route(2, Family::V4, Vrid(51), None), Some(0));
        assert_eq!(r.route(3, Family::V4, Vrid(51), None), Some(1));
        assert_eq!(r.route(2, Family::V4, Vrid(52), None), Some(2));
        assert_eq!(r.route(2, Family::V6, Vrid(51), None), None);
        assert_eq!(
            r.route(2, Family::V4, Vrid(53), None),
            None,
            "a VRID we don't run"
        );
    }

    /// keepalived lets unicast instances share a VRID on an interface: the sender decides.
    #[test]
    fn shared_vrid_goes_to_the_instance_that_lists_the_sender() {
        let r = Routes::new([l(2, 51, &["192.0.2.1"]), l(2, 51, &["192.0.2.2"])]);
        let from = |a: &str| Some(a.parse().unwrap());
        assert_eq!(r.route(2, Family::V4, Vrid(51), from("192.0.2.2")), Some(1));
        assert_eq!(r.route(2, Family::V4, Vrid(51), from("192.0.2.1")), Some(0));
        assert_eq!(
            r.route(2, Family::V4, Vrid(51), from("192.0.2.9")),
            Some(0),
            "an unknown sender goes to the first; its checks drop it"
        );
    }
}
