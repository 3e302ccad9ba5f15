//! The per-interface configuration of the XDP dispatcher: which features run there.

/// Feature bits of an interface (C `HA_FEATURE_*`).
pub const FEATURE_VRRP: u32 = 1 << 0;
