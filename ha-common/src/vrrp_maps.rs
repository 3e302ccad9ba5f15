//! The VRRP fast path's maps and events: Rust twins of the structs in `ha_common.h`.
//!
//! - [`VRRP_INSTANCES_MAP`]: [`VrrpKey`] → [`VrrpInstance`], written by the engine on every
//!   transition: what the kernel checks adverts against and which advert it may absorb.
//! - [`VRRP_STATE_MAP`]: [`VrrpKey`] → [`VrrpState`], written by the kernel only (it holds a
//!   `bpf_timer`, which a userspace update would cancel): last advert time and counts.
//! - [`VRRP_PEERS_MAP`]: [`PeerKey`] → [`PeerTtl`], the unicast peer allow-list.
//! - [`OWNED_VIPS_MAP`]: [`VipKey`] → [`VipValue`], the VIPs answered for while MASTER.
//! - [`VRRP_EVENTS_MAP`]: ring buffer of [`VrrpEvent`].
//! - [`FENCE_MAP`]: one [`Fence`], the engine's heartbeat and the fence time.

use bytemuck::{Pod, Zeroable};

pub const VRRP_INSTANCES_MAP: &str = "vrrp_instances";
pub const VRRP_STATE_MAP: &str = "vrrp_state";
pub const VRRP_PEERS_MAP: &str = "vrrp_peers";
pub const OWNED_VIPS4_MAP: &str = "owned_vips4";
pub const OWNED_VIPS6_MAP: &str = "owned_vips6";
pub const VRRP_EVENTS_MAP: &str = "vrrp_events";
pub const FENCE_MAP: &str = "fence";

/// C `struct ha_fence`: the fence's kernel-owned entry (it holds the timer; userspace only
/// reads it). The VRRP engine beats by running `ha_fence_beat`; when no beat comes for
/// `stale_ns`, the timer sets `fenced` and the program fences the VIPs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct Fence {
    pub beat_ns: u64,
    pub stale_ns: u64,
    pub fenced: u32,
    pub pad: u32,
    pub timer: [u64; 2],
}

/// Longest VRRP message the fast path handles: C `HA_VRRP_MAX_LEN`.
pub const VRRP_MAX_LEN: usize = 512;

/// C `HA_MAX_IFINDEX`: interface indexes the slot table covers.
pub const MAX_IFINDEX: u32 = 4096;
/// C `HA_MAX_IFACES`: interfaces the program can serve at once.
pub const MAX_IFACES: u32 = 16;
/// C `HA_FOLLOW_MSG_LEN`: the followed advert kept for the byte compare.
pub const FOLLOW_MSG_LEN: usize = 64;

/// C `HA_INSTANCE_INDEX`: the array index of (interface slot 1.., family, VRID).
pub fn instance_index(slot: u32, family: u8, vrid: u8) -> u32 {
    ((slot - 1) << 9) | (u32::from(family == FAMILY_V6) << 8) | u32::from(vrid)
}

pub const FAMILY_V4: u8 = 4;
pub const FAMILY_V6: u8 = 6;

pub const STATE_INIT: u8 = 0;
pub const STATE_BACKUP: u8 = 1;
pub const STATE_MASTER: u8 = 2;
pub const STATE_FAULT: u8 = 3;

pub const F_UNICAST: u8 = 1 << 0;
pub const F_CHECK_UNICAST_SRC: u8 = 1 << 1;
pub const F_FOLLOW: u8 = 1 << 2;
pub const F_CHECK_COUNT: u8 = 1 << 3;
pub const F_SKIP_FOLLOWED: u8 = 1 << 4;

pub const AUTH_NONE: u8 = 0;
pub const AUTH_PASS: u8 = 1;
pub const AUTH_AH: u8 = 2;

pub const EV_ADVERT: u8 = 1;
pub const EV_MASTER_DOWN: u8 = 2;
pub const EV_INVALID: u8 = 3;

pub const WHY_NOT_FOLLOWING: u8 = 1;
pub const WHY_CHANGED: u8 = 2;

/// `HA_BAD_*`: the drop reason of an [`EV_INVALID`] event, by name.
pub const BAD_REASONS: &[(u8, &str)] = &[
    (1, "ttl"),
    (2, "version"),
    (3, "type"),
    (4, "length"),
    (5, "checksum"),
    (6, "auth_type"),
    (7, "auth_failure"),
    (8, "adver_int"),
    (9, "addr_count"),
    (10, "wrong_destination"),
    (11, "unicast_peer_not_allowed"),
];

/// C `struct ha_vrrp_key`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Pod, Zeroable)]
pub struct VrrpKey {
    pub ifindex: u32,
    pub family: u8,
    pub vrid: u8,
    pub pad: [u8; 2],
}

/// C `struct ha_vrrp_instance`; `version` 0 = a free slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct VrrpInstance {
    pub version: u8,
    pub priority: u8,
    pub state: u8,
    pub flags: u8,
    pub auth_type: u8,
    pub naddrs: u8,
    /// v2: our Adver Int in seconds, as on the wire.
    pub adver_int: u16,
    pub auth_pass: [u8; 8],
    pub master: [u8; 16],
    pub master_prio: u8,
    pub pad1: u8,
    /// The followed advert's bytes 4..6, as read from the packet (network order in memory).
    pub master_int: u16,
    /// Its checksum field, as read from the packet.
    pub master_csum: u16,
    pub master_len: u16,
    pub down_ns: u64,
    pub master_dst: [u8; 16],
    /// The followed message when `master_len <= FOLLOW_MSG_LEN` (the absorb path compares it).
    pub master_msg: [u8; FOLLOW_MSG_LEN],
}

impl Default for VrrpInstance {
    fn default() -> Self {
        bytemuck::Zeroable::zeroed()
    }
}

/// C `struct ha_vrrp_state`; `timer` is the kernel's opaque `struct bpf_timer`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct VrrpState {
    pub last_seen_ns: u64,
    pub absorbed: u64,
    pub events: u64,
    /// When the armed timer fires (a timer past due is dead and re-armed by the next advert).
    pub due_ns: u64,
    /// Filled by the kernel when it arms the timer (array callbacks get only the index).
    pub key: VrrpKey,
    pub armed: u32,
    pub pad: u32,
    pub timer: [u64; 2],
}

/// C `struct ha_peer_key`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct PeerKey {
    pub vrrp: VrrpKey,
    pub addr: [u8; 16],
}

/// C `struct ha_peer_ttl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct PeerTtl {
    pub min_ttl: u8,
    pub max_ttl: u8,
    pub pad: [u8; 2],
}

/// C `HA_VIP4_SLOTS` / `HA_VIP4_PROBES`: the IPv4 VIP table (open addressing in an array).
pub const VIP4_SLOTS: u32 = 16384;
pub const VIP4_PROBES: u32 = 8;
pub const VIP_FREE: u8 = 0;
pub const VIP_USED: u8 = 1;
pub const VIP_DELETED: u8 = 2;

/// C `struct ha_vip4_slot`: one slot of [`OWNED_VIPS4_MAP`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct Vip4Slot {
    pub ifindex: u32,
    pub addr: [u8; 4],
    pub mac: [u8; 6],
    /// `VIP_FREE`, `VIP_USED` or `VIP_DELETED`.
    pub state: u8,
    pub pad: u8,
}

/// C `ha_vip4_hash`: where the search for (ifindex, addr) starts (masked by the caller).
pub fn vip4_hash(ifindex: u32, addr: [u8; 4]) -> u32 {
    let h =
        (u32::from_ne_bytes(addr) ^ ifindex.wrapping_mul(0x9e37_79b9)).wrapping_mul(0x85eb_ca6b);
    h ^ (h >> 16)
}

/// C `struct ha_vip6_key`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct Vip6Key {
    pub ifindex: u32,
    pub addr: [u8; 16],
}

/// C `struct ha_vip_value`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct VipValue {
    pub mac: [u8; 6],
    pub router: u8,
    pub pad: u8,
}

/// C `struct ha_vrrp_event`: one ring-buffer record.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct VrrpEvent {
    pub ts_ns: u64,
    pub ifindex: u32,
    pub kind: u8,
    pub family: u8,
    pub vrid: u8,
    pub ttl: u8,
    pub reason: u8,
    pub pad: u8,
    pub len: u16,
    pub pad1: u32,
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub data: [u8; VRRP_MAX_LEN],
}

impl VrrpEvent {
    /// The VRRP message it carries (empty for master-down).
    pub fn message(&self) -> &[u8] {
        &self.data[..usize::from(self.len).min(VRRP_MAX_LEN)]
    }
}

// SAFETY (all below): `#[repr(C)]`, integer fields and arrays only, explicit padding, every
// bit pattern valid — what aya requires to copy them to and from map memory.
#[cfg(feature = "user")]
mod pod {
    use super::*;
    unsafe impl aya::Pod for VrrpKey {}
    unsafe impl aya::Pod for VrrpInstance {}
    unsafe impl aya::Pod for VrrpState {}
    unsafe impl aya::Pod for PeerKey {}
    unsafe impl aya::Pod for PeerTtl {}
    unsafe impl aya::Pod for Vip4Slot {}
    unsafe impl aya::Pod for Vip6Key {}
    unsafe impl aya::Pod for VipValue {}
    unsafe impl aya::Pod for Fence {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    /// Same numbers as the `_Static_assert`s in `ha_common.h`.
    #[test]
    fn layouts_match_c_header() {
        assert_eq!(size_of::<VrrpKey>(), 8);
        assert_eq!(size_of::<VrrpInstance>(), 128);
        assert_eq!(offset_of!(VrrpInstance, master_dst), 48);
        assert_eq!(offset_of!(VrrpInstance, master_msg), 64);
        assert_eq!(offset_of!(VrrpInstance, adver_int), 6);
        assert_eq!(offset_of!(VrrpInstance, auth_pass), 8);
        assert_eq!(offset_of!(VrrpInstance, master), 16);
        assert_eq!(offset_of!(VrrpInstance, master_prio), 32);
        assert_eq!(offset_of!(VrrpInstance, master_int), 34);
        assert_eq!(offset_of!(VrrpInstance, master_csum), 36);
        assert_eq!(offset_of!(VrrpInstance, master_len), 38);
        assert_eq!(offset_of!(VrrpInstance, down_ns), 40);
        assert_eq!(size_of::<VrrpState>(), 64);
        assert_eq!(offset_of!(VrrpState, due_ns), 24);
        assert_eq!(offset_of!(VrrpState, key), 32);
        assert_eq!(offset_of!(VrrpState, armed), 40);
        assert_eq!(offset_of!(VrrpState, timer), 48);
        assert_eq!(size_of::<PeerKey>(), 24);
        assert_eq!(size_of::<PeerTtl>(), 4);
        assert_eq!(size_of::<Vip4Slot>(), 16);
        assert_eq!(size_of::<Vip6Key>(), 20);
        assert_eq!(instance_index(1, FAMILY_V4, 51), 51);
        assert_eq!(instance_index(2, FAMILY_V6, 1), 512 + 256 + 1);
        assert_eq!(size_of::<VipValue>(), 8);
        assert_eq!(size_of::<VrrpEvent>(), 568);
        assert_eq!(offset_of!(VrrpEvent, len), 18);
        assert_eq!(offset_of!(VrrpEvent, src), 24);
        assert_eq!(offset_of!(VrrpEvent, dst), 40);
        assert_eq!(offset_of!(VrrpEvent, data), 56);
    }
}
