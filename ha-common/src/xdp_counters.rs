//! Per-CPU packet counters of the `vrrp_rx` XDP program.
//!
//! The kernel keeps one [`XdpCounters`] per CPU in a single-slot `BPF_MAP_TYPE_PERCPU_ARRAY`
//! (slot [`XDP_COUNTERS_KEY`]): per-CPU, so the hot path increments without atomics; named
//! fields rather than numbered slots, so a reader never has to guess what "counter 3" meant.
//! Userspace sums the per-CPU copies with [`XdpCounters::sum`].

use bytemuck::{Pod, Zeroable};

/// Name of the BTF-defined map holding the counters in `vrrp_rx.bpf.c` (`xdp_counters`).
pub const XDP_COUNTERS_MAP: &str = "xdp_counters";

/// The only slot of [`XDP_COUNTERS_MAP`]; C: `HA_XDP_COUNTERS_KEY`.
pub const XDP_COUNTERS_KEY: u32 = 0;

/// Mirror of C `struct ha_xdp_counters` (`ha_common.h`): 5 × `__u64`, 40 bytes, no padding.
///
/// A frame increments exactly one of `seen_vrrp_v4`, `seen_vrrp_v6`, `pass_other` and
/// `truncated`; `vlan_tagged` is counted in addition to that one.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct XdpCounters {
    /// C `__u64 seen_vrrp_v4` @0: IPv4 frames with protocol 112 whose VRRP fixed header
    /// (8 bytes, RFC 5798 §5.1) is inside the frame.
    pub seen_vrrp_v4: u64,
    /// C `__u64 seen_vrrp_v6` @8: IPv6 frames with next header 112 and a complete VRRP fixed
    /// header.
    pub seen_vrrp_v6: u64,
    /// C `__u64 vlan_tagged` @16: frames that carried one 802.1Q/802.1ad tag (counted on top of
    /// the verdict counter above or below).
    pub vlan_tagged: u64,
    /// C `__u64 pass_other` @24: complete frames that are not VRRP (other protocols, other
    /// ethertypes); handed to the stack untouched.
    pub pass_other: u64,
    /// C `__u64 truncated` @32: frames shorter than the headers they announce (Ethernet, VLAN
    /// tag, IP header, or the VRRP fixed header of a protocol-112 packet).
    pub truncated: u64,
}

// SAFETY: `XdpCounters` is `#[repr(C)]`, made of `u64`s only (no padding, no pointers), and
// every bit pattern is valid — the conditions aya requires to copy it to and from a map value.
#[cfg(feature = "user")]
unsafe impl aya::Pod for XdpCounters {}

impl XdpCounters {
    /// Adds up the per-CPU copies read from the map (aya's `PerCpuValues` derefs to a slice).
    /// Wrapping, like the kernel's own `+= 1`: a counter that wraps must not panic the daemon.
    pub fn sum<'a>(per_cpu: impl IntoIterator<Item = &'a XdpCounters>) -> XdpCounters {
        per_cpu
            .into_iter()
            .fold(XdpCounters::default(), |acc, c| XdpCounters {
                seen_vrrp_v4: acc.seen_vrrp_v4.wrapping_add(c.seen_vrrp_v4),
                seen_vrrp_v6: acc.seen_vrrp_v6.wrapping_add(c.seen_vrrp_v6),
                vlan_tagged: acc.vlan_tagged.wrapping_add(c.vlan_tagged),
                pass_other: acc.pass_other.wrapping_add(c.pass_other),
                truncated: acc.truncated.wrapping_add(c.truncated),
            })
    }

    /// Field-wise `self - earlier`, for "which counters moved" checks across a test run or a
    /// scrape interval.
    pub fn delta_since(&self, earlier: &XdpCounters) -> XdpCounters {
        XdpCounters {
            seen_vrrp_v4: self.seen_vrrp_v4.wrapping_sub(earlier.seen_vrrp_v4),
            seen_vrrp_v6: self.seen_vrrp_v6.wrapping_sub(earlier.seen_vrrp_v6),
            vlan_tagged: self.vlan_tagged.wrapping_sub(earlier.vlan_tagged),
            pass_other: self.pass_other.wrapping_sub(earlier.pass_other),
            truncated: self.truncated.wrapping_sub(earlier.truncated),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};

    /// Same numbers as the `_Static_assert`s in `ha_common.h`; change both or neither.
    #[test]
    fn layout_matches_c_header() {
        assert_eq!(size_of::<XdpCounters>(), 40);
        assert_eq!(offset_of!(XdpCounters, seen_vrrp_v4), 0);
        assert_eq!(offset_of!(XdpCounters, seen_vrrp_v6), 8);
        assert_eq!(offset_of!(XdpCounters, vlan_tagged), 16);
        assert_eq!(offset_of!(XdpCounters, pass_other), 24);
        assert_eq!(offset_of!(XdpCounters, truncated), 32);
    }

    #[test]
    fn sum_adds_every_field_of_every_cpu() {
        let cpu0 = XdpCounters {
            seen_vrrp_v4: 1,
            seen_vrrp_v6: 2,
            vlan_tagged: 3,
            pass_other: 4,
            truncated: 5,
        };
        let cpu1 = XdpCounters {
            seen_vrrp_v4: 10,
            seen_vrrp_v6: 20,
            vlan_tagged: 30,
            pass_other: 40,
            truncated: 50,
        };
        let total = XdpCounters::sum(&[cpu0, cpu1]);
        assert_eq!(
            total,
            XdpCounters {
                seen_vrrp_v4: 11,
                seen_vrrp_v6: 22,
                vlan_tagged: 33,
                pass_other: 44,
                truncated: 55,
            }
        );
        assert_eq!(total.delta_since(&cpu1), cpu0);
    }

    #[test]
    fn decodes_from_map_value_bytes() {
        // What a map lookup hands back: 40 little/native-endian bytes.
        let mut raw = [0u8; 40];
        raw[8..16].copy_from_slice(&7u64.to_ne_bytes());
        raw[32..40].copy_from_slice(&9u64.to_ne_bytes());
        let c: XdpCounters = bytemuck::pod_read_unaligned(&raw);
        assert_eq!(c.seen_vrrp_v6, 7);
        assert_eq!(c.truncated, 9);
        assert_eq!(c.seen_vrrp_v4 + c.vlan_tagged + c.pass_other, 0);
    }
}
