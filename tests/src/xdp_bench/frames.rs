//! The frames the XDP benchmark feeds `ha_xdp`, and the maps that make each one take the
//! path it is named for.

use std::net::{IpAddr, Ipv4Addr};

use aya::maps::Array;
use aya::Ebpf;
use ha::units::{Centis, Priority, Vrid};
use ha::vrrp::checksum::ipv4_header_checksum;
use ha::vrrp::ipv4::{encode_ipv4_packet, Ipv4Tx, IPV4_HEADER_LEN};
use ha::vrrp::packet::{Advert, Auth, Version, MCAST_V4};
use ha_common::*;

/// The receiving interface's MAC (the owner of the VIP), and the sender's.
pub const MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
pub const PEER: [u8; 6] = [2, 0, 0, 0, 0, 2];
pub const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
/// The VRID whose master's advert is followed (absorbed), and one that follows nothing.
pub const VRID_FOLLOWED: u8 = 51;
pub const VRID_EVENTS: u8 = 52;

/// A VRRPv3 advert from 192.0.2.2 to 224.0.0.18, priority 150, one VIP.
pub fn advert_frame(vrid: u8) -> Vec<u8> {
    let a = Advert {
        version: Version::V3,
        vrid: Vrid(vrid),
        priority: Priority(150),
        adver_int: Centis(1),
        addrs: vec![IpAddr::V4(VIP)],
        auth: Auth::None,
    };
    let ip = Ipv4Tx::new(Ipv4Addr::new(192, 0, 2, 2), MCAST_V4, 1);
    let mut f = vec![0x01, 0x00, 0x5e, 0, 0, 0x12];
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend(encode_ipv4_packet(&a, &ip).expect("encode"));
    f
}

/// A broadcast ARP request from 192.0.2.50 for `target`.
pub fn arp_request_for(target: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&[192, 0, 2, 50]);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target);
    f
}

/// A TCP SYN to the VIP: traffic the program passes. The IPv4 header checksum is right (a
/// bridge with netfilter drops the frame otherwise); the TCP checksum is not looked at.
pub fn tcp_frame() -> Vec<u8> {
    let mut f = MAC.to_vec();
    f.extend_from_slice(&PEER);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0x40, 0, 64, 6, 0, 0];
    ip.extend_from_slice(&[198, 51, 100, 7]);
    ip.extend_from_slice(&VIP.octets());
    let sum = ipv4_header_checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend(ip);
    f.extend_from_slice(&[
        0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 2, 0xff, 0xff, 0, 0, 0, 0,
    ]);
    f
}

/// Array map `name` of `bpf`, with errors that name it.
fn array<'a, V: aya::Pod>(
    bpf: &'a mut Ebpf,
    name: &str,
) -> Result<Array<&'a mut aya::maps::MapData, V>, String> {
    let map = bpf
        .map_mut(name)
        .ok_or_else(|| format!("map {name} missing"))?;
    Array::try_from(map).map_err(|e| format!("map {name}: {e}"))
}

fn err(e: impl std::fmt::Display) -> String {
    format!("writing a map: {e}")
}

/// Loads `ha_xdp` with the maps set as the engine would for interface `ifindex`:
/// VRID_FOLLOWED follows `advert_frame(VRID_FOLLOWED)` with a master-down timer,
/// VRID_EVENTS follows nothing (its adverts are events), VIP is owned with MAC.
pub fn load_ha_xdp(ifindex: u32) -> Result<Ebpf, String> {
    let mut bpf = ha_ebpf::load_ha_xdp().map_err(|e| e.to_string())?;
    let frame = advert_frame(VRID_FOLLOWED);
    let msg = &frame[14 + IPV4_HEADER_LEN..];
    let mut ifaces = array::<IfaceConfig>(&mut bpf, IFACES_MAP)?;
    let vrrp = IfaceConfig {
        slot: 1,
        features: FEATURE_VRRP,
    };
    ifaces.set(ifindex, vrrp, 0).map_err(err)?;
    let mut inst = array::<VrrpInstance>(&mut bpf, VRRP_INSTANCES_MAP)?;
    let mut master = [0u8; 16];
    master[..4].copy_from_slice(&[192, 0, 2, 2]);
    let mut master_dst = [0u8; 16];
    master_dst[..4].copy_from_slice(&MCAST_V4.octets());
    let mut master_msg = [0u8; FOLLOW_MSG_LEN];
    master_msg[..msg.len()].copy_from_slice(msg);
    let follow = VrrpInstance {
        version: 3,
        priority: 100,
        state: STATE_BACKUP,
        flags: F_FOLLOW | F_CHECK_COUNT,
        naddrs: 1,
        master,
        master_prio: 150,
        master_int: u16::from_ne_bytes([msg[4], msg[5]]),
        master_csum: u16::from_ne_bytes([msg[6], msg[7]]),
        master_len: msg.len() as u16,
        // Long enough that the timer never fires during a measurement.
        down_ns: 36_000_000_000,
        master_dst,
        master_msg,
        ..Default::default()
    };
    inst.set(instance_index(1, FAMILY_V4, VRID_FOLLOWED), follow, 0)
        .map_err(err)?;
    let events = VrrpInstance {
        flags: F_CHECK_COUNT,
        ..follow
    };
    inst.set(instance_index(1, FAMILY_V4, VRID_EVENTS), events, 0)
        .map_err(err)?;
    let mut vips = array::<Vip4Slot>(&mut bpf, OWNED_VIPS4_MAP)?;
    vips.set(
        vip4_hash(ifindex, VIP.octets()) & (VIP4_SLOTS - 1),
        Vip4Slot {
            ifindex,
            addr: VIP.octets(),
            mac: MAC,
            state: VIP_USED,
            pad: 0,
        },
        0,
    )
    .map_err(err)?;
    Ok(bpf)
}
