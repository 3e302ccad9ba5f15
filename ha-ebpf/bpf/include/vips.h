/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Whether this node owns a VIP on an interface now: the engine fills owned_vips4/6 on
 * MASTER and clears them on leaving it (DESIGN.md §4). The neighbour responder answers for
 * these; the load balancer forwards a VRRP-held service only while its VIP is here.
 */
#ifndef HA_VIPS_H
#define HA_VIPS_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#include "ha_common.h"
#include "maps.h"

/* The slot of IPv4 `addr` (4 bytes, network order) on `ifindex`, or NULL. */
static __always_inline struct ha_vip4_slot *owned_vip4(__u32 ifindex, const __u8 *addr)
{
	__u32 a, h;
	int i;

	__builtin_memcpy(&a, addr, 4);
	h = ha_vip4_hash(ifindex, a);
#pragma unroll
	for (i = 0; i < HA_VIP4_PROBES; i++) {
		__u32 idx = (h + i) & (HA_VIP4_SLOTS - 1);
		struct ha_vip4_slot *s = bpf_map_lookup_elem(&owned_vips4, &idx);

		if (!s || s->state == HA_VIP_FREE)
			return 0;
		if (s->state == HA_VIP_USED && s->ifindex == ifindex &&
		    __builtin_memcmp(s->addr, addr, 4) == 0)
			return s;
	}
	return 0;
}

/* The entry of IPv6 `addr` (16 bytes) on `ifindex`, or NULL. */
static __always_inline struct ha_vip_value *owned_vip6(__u32 ifindex, const __u8 *addr)
{
	struct ha_vip6_key key;

	key.ifindex = ifindex;
	__builtin_memcpy(key.addr, addr, 16);
	return bpf_map_lookup_elem(&owned_vips6, &key);
}

/* Whether the daemon's heartbeat is stale (ha_common.h: struct ha_fence). The coarse
 * clock costs a few ns where the precise one costs tens; it lags the daemon's precise
 * stamps by up to a tick, hence the signed difference. */
static __always_inline int fenced(void)
{
	__u32 k = 0;
	const struct ha_fence *f = bpf_map_lookup_elem(&fence, &k);

	if (!f || !f->stale_ns)
		return 0;
	return (__s64)(bpf_ktime_get_coarse_ns() - f->beat_ns) > (__s64)f->stale_ns;
}

#endif /* HA_VIPS_H */
