/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * C mirror of the Rust crate `ha-common`: every struct that crosses the kernel/userspace
 * boundary through a map. One definition per language; the _Static_asserts below and the Rust
 * tests (ha-common's layout test and ha-ebpf's BTF layout test) pin both to the same numbers.
 * Only fixed-width fields, explicit padding, no implicit holes.
 */
#ifndef HA_COMMON_H
#define HA_COMMON_H

#include <linux/types.h>

/* The only slot of the single-entry per-CPU counters map; Rust: XDP_COUNTERS_KEY. */
#define HA_XDP_COUNTERS_KEY 0

/*
 * Per-CPU packet counters of vrrp_rx; Rust: ha_common::XdpCounters.
 * A frame increments exactly one of seen_vrrp_v4, seen_vrrp_v6, pass_other, truncated;
 * vlan_tagged is counted on top of that one.
 */
struct ha_xdp_counters {
	__u64 seen_vrrp_v4; /* IPv4 protocol 112 with a complete VRRP fixed header */
	__u64 seen_vrrp_v6; /* IPv6 next header 112 with a complete VRRP fixed header */
	__u64 vlan_tagged;  /* frames that carried one complete 802.1Q/802.1ad tag */
	__u64 pass_other;   /* complete frames that are not VRRP, passed to the stack */
	__u64 truncated;    /* frames shorter than the headers they announce */
};

_Static_assert(sizeof(struct ha_xdp_counters) == 40, "ha_xdp_counters: size drifted from ha_common::XdpCounters");
_Static_assert(__builtin_offsetof(struct ha_xdp_counters, seen_vrrp_v4) == 0, "seen_vrrp_v4 offset");
_Static_assert(__builtin_offsetof(struct ha_xdp_counters, seen_vrrp_v6) == 8, "seen_vrrp_v6 offset");
_Static_assert(__builtin_offsetof(struct ha_xdp_counters, vlan_tagged) == 16, "vlan_tagged offset");
_Static_assert(__builtin_offsetof(struct ha_xdp_counters, pass_other) == 24, "pass_other offset");
_Static_assert(__builtin_offsetof(struct ha_xdp_counters, truncated) == 32, "truncated offset");

#endif /* HA_COMMON_H */
