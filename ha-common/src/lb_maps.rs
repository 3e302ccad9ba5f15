//! The XDP load balancer's maps (DESIGN.md §7): Rust twins of `lb_common.h`. Addresses are
//! 16 bytes with IPv4 in the first 4; ports are in network order.

use bytemuck::{Pod, Zeroable};

pub const LB_CONFIG_MAP: &str = "lb_config";
pub const LB_SERVICES_MAP: &str = "lb_services";
pub const LB_VIPS_MAP: &str = "lb_vips";
pub const LB_REALS_MAP: &str = "lb_reals";
pub const LB_MAGLEV_MAP: &str = "lb_maglev";
pub const LB_CONNS_MAP: &str = "lb_conns";
pub const LB_PERSIST_MAP: &str = "lb_persist";
pub const LB_SERVICE_STATS_MAP: &str = "lb_service_stats";
pub const LB_REAL_STATS_MAP: &str = "lb_real_stats";
pub const LB_COUNTERS_MAP: &str = "lb_counters";

/// Feature bit of an interface (C `HA_FEATURE_LB`).
pub const FEATURE_LB: u32 = 1 << 1;

pub const LB_MAX_SERVICES: u32 = 1024;
pub const LB_MAX_REALS: u32 = 16384;
/// A Maglev slot nobody owns (C `HA_LB_EMPTY`).
pub const LB_EMPTY: u32 = u32::MAX;

/// `LbService::flags`.
pub const LB_SVC_VRRP: u32 = 1 << 0;
pub const LB_SVC_PERSIST: u32 = 1 << 1;

/// `LbReal::method`.
pub const LB_DR: u8 = 1;
pub const LB_IPIP: u8 = 2;
pub const LB_GUE: u8 = 3;

/// `LbReal::flags`.
pub const LB_REAL_LIVE: u32 = 1 << 0;

/// C `struct ha_lb_vip_key`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct LbVipKey {
    pub addr: [u8; 16],
    /// Network order.
    pub port: u16,
    pub proto: u8,
    pub family: u8,
}

/// C `struct ha_lb_service`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct LbService {
    pub id: u32,
    pub table: u32,
    pub flags: u32,
    pub persist_timeout: u32,
    pub persist_mask: [u8; 16],
    pub src4: [u8; 4],
    pub src6: [u8; 16],
}

/// C `struct ha_lb_vip_addr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Pod, Zeroable)]
pub struct LbVipAddr {
    pub addr: [u8; 16],
    pub family: u8,
    pub pad: [u8; 3],
}

/// C `struct ha_lb_real`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct LbReal {
    pub addr: [u8; 16],
    pub family: u8,
    pub method: u8,
    /// Network order.
    pub tun_port: u16,
    pub flags: u32,
    pub service: u32,
}

/// C `struct ha_lb_flow`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct LbFlow {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub family: u8,
    pub pad: [u8; 2],
}

/// C `struct ha_lb_conn`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct LbConn {
    pub real: u32,
    pub pad: u32,
    pub seen_ns: u64,
}

/// C `struct ha_lb_persist_key`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct LbPersistKey {
    pub service: u32,
    pub src: [u8; 16],
}

/// C `struct ha_lb_stats`: per CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct LbStats {
    pub packets: u64,
    pub bytes: u64,
}

impl LbStats {
    pub fn sum<'a>(per_cpu: impl IntoIterator<Item = &'a LbStats>) -> LbStats {
        per_cpu
            .into_iter()
            .fold(LbStats::default(), |a, c| LbStats {
                packets: a.packets.wrapping_add(c.packets),
                bytes: a.bytes.wrapping_add(c.bytes),
            })
    }
}

/// C `struct ha_lb_config`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct LbConfig {
    pub table_size: u32,
    pub tables: u32,
}

named_counters! {
    /// Mirror of C `struct ha_lb_counters`: the LB path's verdicts, per CPU.
    LbCounters;
    /// Frames to a virtual service.
    seen,
    /// VIP not owned (a BACKUP director): to the stack.
    pass_backup,
    forward_dr,
    forward_ipip,
    forward_gue,
    /// The flow's real server from the connection table.
    conn_hit,
    /// Chosen by Maglev and remembered.
    conn_miss,
    /// The client's real server from the persistence table.
    persist_hit,
    /// A remembered real server left its service: chosen again.
    conn_stale,
    /// No real server with a weight: dropped.
    no_real,
    /// IP fragments to a virtual address: dropped.
    fragment,
    /// Too big for the tunnel: ICMP sent back.
    icmp_too_big,
    /// Too big and may not be answered (IPv4 without DF): dropped.
    drop_too_big,
    /// No route to the real server: dropped.
    no_route,
    /// No neighbour entry for the next hop yet: dropped.
    no_neigh,
    /// Forwarding is off on the interface: dropped.
    fwd_disabled,
    /// Could not be rewritten: dropped.
    drop_other,
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: plain old data, no padding (bytemuck's derive checks it).
    unsafe impl aya::Pod for LbVipKey {}
    unsafe impl aya::Pod for LbService {}
    unsafe impl aya::Pod for LbVipAddr {}
    unsafe impl aya::Pod for LbReal {}
    unsafe impl aya::Pod for LbFlow {}
    unsafe impl aya::Pod for LbConn {}
    unsafe impl aya::Pod for LbPersistKey {}
    unsafe impl aya::Pod for LbStats {}
    unsafe impl aya::Pod for LbConfig {}
    unsafe impl aya::Pod for LbCounters {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    /// Same numbers as the `_Static_assert`s in `lb_common.h`.
    #[test]
    fn layouts_match_c_header() {
        assert_eq!(size_of::<LbVipKey>(), 20);
        assert_eq!(size_of::<LbService>(), 52);
        assert_eq!(size_of::<LbVipAddr>(), 20);
        assert_eq!(size_of::<LbReal>(), 28);
        assert_eq!(size_of::<LbFlow>(), 40);
        assert_eq!(size_of::<LbConn>(), 16);
        assert_eq!(size_of::<LbPersistKey>(), 20);
        assert_eq!(size_of::<LbStats>(), 16);
        assert_eq!(size_of::<LbConfig>(), 8);
        assert_eq!(size_of::<LbCounters>(), 17 * 8);
        assert_eq!(LbCounters::NAMES.len(), 17);
    }
}
