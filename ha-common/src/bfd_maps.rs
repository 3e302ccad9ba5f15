//! The BFD feature's maps (C `bfd_path.h`, `maps.h`):
//!
//! - [`BFD_SESSIONS_MAP`]: slot → [`BfdSession`], written by the BFD thread;
//! - [`BFD_STATE_MAP`]: slot → [`BfdState`], the kernel's (timestamps, the detection timer);
//! - [`BFD_EVENTS_MAP`]: ring buffer of [`BfdEvent`], detection-time expiries.
//!
//! A session's slot is its local discriminator's low bits ([`bfd_slot`]).

use bytemuck::{Pod, Zeroable};

pub const BFD_SESSIONS_MAP: &str = "bfd_sessions";
pub const BFD_STATE_MAP: &str = "bfd_state";
pub const BFD_EVENTS_MAP: &str = "bfd_events";

/// Feature bit of an interface (C `HA_FEATURE_BFD`).
pub const FEATURE_BFD: u32 = 1 << 2;
/// C `HA_BFD_SLOTS`.
pub const BFD_SLOTS: u32 = 1024;
/// C `HA_BFD_F_ABSORB`: `expect` is the remote's steady packet; copies are dropped.
pub const BFD_F_ABSORB: u8 = 1;

/// C `HA_BFD_SLOT`.
pub const fn bfd_slot(local_disc: u32) -> u32 {
    local_disc & (BFD_SLOTS - 1)
}

/// C `struct ha_bfd_session`; `local_disc` 0 = a free slot.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct BfdSession {
    pub local_disc: u32,
    /// Bumped on every write; the kernel reports one expiry per epoch.
    pub epoch: u32,
    /// Detection Time in ns; 0 = the kernel does not watch the session.
    pub detect_ns: u64,
    /// The neighbour (IPv4 in the first 4 bytes).
    pub remote: [u8; 16],
    pub family: u8,
    /// Received TTL / hop limit must be at least this.
    pub min_ttl: u8,
    pub flags: u8,
    pub pad: [u8; 5],
    /// The remote's last accepted packet (24 bytes on the wire).
    pub expect: [u8; 24],
}

/// C `struct ha_bfd_state`; `timer` is the kernel's opaque `struct bpf_timer`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct BfdState {
    pub last_rx_ns: u64,
    pub absorbed: u64,
    pub passed: u64,
    pub detections: u64,
    pub due_ns: u64,
    pub armed: u32,
    pub tripped_epoch: u32,
    pub slot: u32,
    pub pad: u32,
    pub timer: [u64; 2],
}

/// C `struct ha_bfd_event`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct BfdEvent {
    pub last_rx_ns: u64,
    pub fired_ns: u64,
    pub local_disc: u32,
    pub epoch: u32,
    pub detect_ns: u64,
}

// SAFETY: repr(C), fixed-width fields and explicit padding only; every bit pattern is valid.
#[cfg(feature = "user")]
unsafe impl aya::Pod for BfdSession {}
// SAFETY: as above.
#[cfg(feature = "user")]
unsafe impl aya::Pod for BfdState {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    /// Same numbers as the `_Static_assert`s in `ha_common.h`.
    #[test]
    fn layout_matches_c_header() {
        assert_eq!(size_of::<BfdSession>(), 64);
        assert_eq!(offset_of!(BfdSession, remote), 16);
        assert_eq!(offset_of!(BfdSession, family), 32);
        assert_eq!(offset_of!(BfdSession, expect), 40);
        assert_eq!(size_of::<BfdState>(), 72);
        assert_eq!(offset_of!(BfdState, armed), 40);
        assert_eq!(offset_of!(BfdState, timer), 56);
        assert_eq!(size_of::<BfdEvent>(), 32);
        assert_eq!(bfd_slot(0x1234_5678), 0x278);
    }
}
