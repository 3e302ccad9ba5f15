//! The per-interface configuration of the XDP dispatcher (C `struct ha_iface`, map
//! [`IFACES_MAP`]): where an interface's rows are and which features run there.

use bytemuck::{Pod, Zeroable};

pub const IFACES_MAP: &str = "ifaces";

/// Feature bits of an interface (C `HA_FEATURE_*`).
pub const FEATURE_VRRP: u32 = 1 << 0;

/// C `HA_IFACE_FENCED`: not a feature; the fence timer's mark on every configured interface
/// (cleared by a heartbeat). The daemon keeps it when it rewrites an entry.
pub const IFACE_FENCED: u32 = 1 << 31;

/// C `struct ha_iface`, indexed by ifindex; written by the daemon's attach manager.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct IfaceConfig {
    /// 1..=MAX_IFACES: its row in the per-interface arrays and counters; 0 = none.
    pub slot: u32,
    /// `FEATURE_*` enabled on it.
    pub features: u32,
}

#[cfg(feature = "user")]
// SAFETY: plain old data with no padding (checked by bytemuck's derive).
unsafe impl aya::Pod for IfaceConfig {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_c() {
        assert_eq!(core::mem::size_of::<IfaceConfig>(), 8);
        assert_eq!(core::mem::offset_of!(IfaceConfig, features), 4);
    }
}
