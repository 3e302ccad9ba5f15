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

#include "consts.h"
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

/* One interface's entry marked fenced (`*on`) or not: a bpf_loop callback. */
static long fence_mark(__u32 index, void *on)
{
	struct ha_iface *i = bpf_map_lookup_elem(&ifaces, &index);

	if (i && i->slot) {
		if (*(int *)on)
			i->features |= HA_IFACE_FENCED;
		else
			i->features &= ~HA_IFACE_FENCED;
	}
	return 0;
}

/* Marks every configured interface: the dispatcher reads the mark with the features, so
 * the fence costs the data path no extra memory access. */
static __always_inline void fence_all(int on)
{
	bpf_loop(HA_MAX_IFINDEX, fence_mark, &on, 0);
}

/* The fence timer fired: no beat for the fence time. */
static int fence_expired(void *map __attribute__((unused)), __u32 *key __attribute__((unused)),
			 struct ha_fence *f)
{
	f->fenced = 1;
	fence_all(1);
	return 0;
}

/* A beat with fence time `stale_ns` (0: off): unfenced, the timer restarted. */
static __always_inline int fence_beat(__u64 stale_ns)
{
	__u32 k = 0;
	struct ha_fence *f = bpf_map_lookup_elem(&fence, &k);

	if (!f)
		return -1;
	f->beat_ns = bpf_ktime_get_ns();
	f->stale_ns = stale_ns;
	if (f->fenced) {
		f->fenced = 0;
		fence_all(0);
	}
	if (!stale_ns) {
		bpf_timer_cancel(&f->timer);
		return 0;
	}
	if (bpf_timer_start(&f->timer, stale_ns, 0) != 0) {
		/* First beat: the timer is set up once. */
		bpf_timer_init(&f->timer, &fence, HA_CLOCK_MONOTONIC);
		bpf_timer_set_callback(&f->timer, fence_expired);
		if (bpf_timer_start(&f->timer, stale_ns, 0) != 0)
			return -1;
	}
	return 0;
}

#endif /* HA_VIPS_H */
