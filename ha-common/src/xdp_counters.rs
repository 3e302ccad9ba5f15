//! Per-CPU packet counters of the `ha_xdp` XDP program.
//!
//! The kernel keeps one [`XdpCounters`] per CPU in a single-slot `BPF_MAP_TYPE_PERCPU_ARRAY`
//! (slot [`XDP_COUNTERS_KEY`]): per-CPU, so the hot path increments without atomics; named
//! fields rather than numbered slots, so a reader never has to guess what "counter 3" meant.
//! Userspace sums the per-CPU copies with [`XdpCounters::sum`].

/// Name of the BTF-defined map holding the counters in `ha_xdp.bpf.c` (`xdp_counters`).
pub const XDP_COUNTERS_MAP: &str = "xdp_counters";

/// The only slot of [`XDP_COUNTERS_MAP`]; C: `HA_XDP_COUNTERS_KEY`.
pub const XDP_COUNTERS_KEY: u32 = 0;

named_counters! {
    /// Mirror of C `struct ha_xdp_counters` (`ha_common.h`): `u64`s only, no padding. A
    /// frame lands in exactly one verdict counter; `vlan_tagged` counts on top.
    XdpCounters;
    /// IPv4 protocol 112 with a complete IP header.
    seen_vrrp_v4,
    /// IPv6 next header 112 with a complete IP header.
    seen_vrrp_v6,
    /// Frames with one 802.1Q/802.1ad tag (passed: the VLAN device has its own program).
    vlan_tagged,
    /// Not VRRP, not ARP/NS: to the stack untouched.
    pass_other,
    /// Shorter than the headers they announce: to the stack.
    truncated,
    /// Valid adverts identical to the followed one: dropped, daemon not woken.
    absorbed,
    /// Valid adverts handed to the daemon through the ring buffer, dropped.
    advert_events,
    /// VRRP for an interface/family/VRID no instance runs: to the stack.
    pass_not_ours,
    /// Ours but beyond the fast path (fragment, longer than 512 bytes, v3 IPv4 unicast
    /// with keepalived's pre-2.0.8 checksum): to the raw socket.
    pass_unhandled,
    /// RFC 5798 §7.1 drops, one per reason (see the daemon's receive counters).
    drop_ttl,
    drop_version,
    drop_type,
    drop_length,
    drop_checksum,
    drop_auth_type,
    drop_auth,
    drop_adver_int,
    drop_addr_count,
    drop_destination,
    drop_unicast_peer,
    /// Events the ring buffer had no room for (adverts then pass to the raw socket).
    events_lost,
    /// ARP requests for owned VIPs answered with XDP_TX.
    arp_reply,
    /// Other ARP: to the stack.
    arp_pass,
    /// Neighbour solicitations for owned VIPs answered with XDP_TX.
    na_reply,
    /// Other solicitations (DAD, unusual options, not owned): to the stack.
    ns_pass,
    /// Master-down events sent by the kernel timer.
    master_down,
    /// Frames the load balancer took (its own counters, `LbCounters`, say what it did).
    lb,
    /// BFD control packets identical to the session's last one: dropped, thread not woken.
    bfd_absorbed,
    /// BFD control packets of a known session, stamped and passed to the BFD socket.
    bfd_passed,
    /// ARP/NS for owned VIPs and traffic to them, dropped while the daemon is fenced (its
    /// heartbeat stale).
    fenced,
}

// SAFETY: `XdpCounters` is `#[repr(C)]`, made of `u64`s only (no padding, no pointers), and
// every bit pattern is valid — the conditions aya requires to copy it to and from a map value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for XdpCounters {}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::size_of;

    /// Same numbers as the `_Static_assert`s in `ha_common.h` (`HA_XDP_COUNTERS_N`).
    #[test]
    fn layout_matches_c_header() {
        assert_eq!(size_of::<XdpCounters>(), 30 * 8);
        assert_eq!(XdpCounters::NAMES.len(), 30);
        assert_eq!(core::mem::offset_of!(XdpCounters, master_down), 25 * 8);
    }

    #[test]
    fn sum_adds_every_field_of_every_cpu() {
        let cpu0 = XdpCounters {
            seen_vrrp_v4: 1,
            absorbed: 2,
            master_down: 3,
            ..Default::default()
        };
        let cpu1 = XdpCounters {
            seen_vrrp_v4: 10,
            absorbed: 20,
            master_down: 30,
            ..Default::default()
        };
        let total = XdpCounters::sum(&[cpu0, cpu1]);
        assert_eq!(
            (total.seen_vrrp_v4, total.absorbed, total.master_down),
            (11, 22, 33)
        );
        assert_eq!(total.delta_since(&cpu1), cpu0);
        assert_eq!(total.iter().count(), 30);
    }

    #[test]
    fn decodes_from_map_value_bytes() {
        let mut raw = [0u8; 30 * 8];
        raw[8..16].copy_from_slice(&7u64.to_ne_bytes());
        raw[25 * 8..26 * 8].copy_from_slice(&9u64.to_ne_bytes());
        let c: XdpCounters = bytemuck::pod_read_unaligned(&raw);
        assert_eq!(c.seen_vrrp_v6, 7);
        assert_eq!(c.master_down, 9);
    }
}
