/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The dispatcher's view of the interface a frame arrived on: its slot (the row of the
 * per-interface arrays and counters) and the features enabled there (DESIGN.md §12).
 */
#ifndef HA_IFACE_H
#define HA_IFACE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ha_common.h"
#include "maps.h"

/* The interface's configuration, or NULL for one the attach manager did not configure. */
static __always_inline const struct ha_iface *iface_of(__u32 ifindex)
{
	const struct ha_iface *i;

	if (ifindex >= HA_MAX_IFINDEX)
		return 0;
	i = bpf_map_lookup_elem(&ifaces, &ifindex);
	if (!i || i->slot > HA_MAX_IFACES)
		return 0;
	return i;
}

/* The interface's slot (0 = none). */
static __always_inline __u32 iface_slot(__u32 ifindex)
{
	const struct ha_iface *i = iface_of(ifindex);

	return i ? i->slot : 0;
}

static __always_inline struct ha_xdp_counters *counters(__u32 slot)
{
	return bpf_map_lookup_elem(&xdp_counters, &slot);
}

#endif /* HA_IFACE_H */
