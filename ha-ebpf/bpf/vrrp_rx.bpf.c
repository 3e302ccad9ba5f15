// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * vrrp_rx — XDP program for the interfaces that run VRRP instances.
 *
 * This first version only classifies and counts: Ethernet (+ one VLAN tag) → IPv4/IPv6 →
 * protocol 112, into per-CPU named counters. Every frame is passed to the stack (XDP_PASS);
 * advert validation, the per-VRID state map and ring-buffer events (DESIGN.md decision 3)
 * build on these parsers later.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "consts.h"
#include "ha_common.h"
#include "parsing.h"

/*
 * One ha_xdp_counters per CPU (slot HA_XDP_COUNTERS_KEY): per-CPU so that the increments need
 * no atomics; userspace adds the copies up (ha_common::XdpCounters::sum).
 */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ha_xdp_counters);
} xdp_counters SEC(".maps");

/* Which counter a frame lands in, decided by the parsers. */
enum verdict_counter {
	CNT_VRRP_V4,
	CNT_VRRP_V6,
	CNT_PASS_OTHER,
	CNT_TRUNCATED,
};

static __always_inline enum verdict_counter classify(struct hdr_cursor *c, int *vlan_tagged)
{
	enum parse_result res;
	__be16 ethertype;
	__u8 l4_proto;
	int is_v6;

	res = parse_ethernet(c, &ethertype, vlan_tagged);
	if (res != PARSE_OK)
		return CNT_TRUNCATED;

	if (ethertype == bpf_htons(HA_ETH_P_IPV4)) {
		res = parse_ipv4(c, &l4_proto);
		is_v6 = 0;
	} else if (ethertype == bpf_htons(HA_ETH_P_IPV6)) {
		res = parse_ipv6(c, &l4_proto);
		is_v6 = 1;
	} else {
		return CNT_PASS_OTHER;
	}
	if (res == PARSE_TRUNCATED)
		return CNT_TRUNCATED;
	/* A malformed IP header is the stack's to drop and count, not ours. */
	if (res != PARSE_OK || l4_proto != HA_IPPROTO_VRRP)
		return CNT_PASS_OTHER;

	if (!cursor_has(c, HA_VRRP_FIXED_HDR_LEN))
		return CNT_TRUNCATED;
	return is_v6 ? CNT_VRRP_V6 : CNT_VRRP_V4;
}

SEC("xdp")
int vrrp_rx(struct xdp_md *ctx)
{
	struct hdr_cursor cursor = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__u32 key = HA_XDP_COUNTERS_KEY;
	struct ha_xdp_counters *cnt;
	int vlan_tagged = 0;

	enum verdict_counter which = classify(&cursor, &vlan_tagged);

	cnt = bpf_map_lookup_elem(&xdp_counters, &key);
	if (!cnt)
		return XDP_PASS; /* cannot happen for slot 0 of an array; the verifier wants the check */

	/* Plain increments: XDP runs with migration disabled, and this copy is this CPU's alone. */
	switch (which) {
	case CNT_VRRP_V4:
		cnt->seen_vrrp_v4++;
		break;
	case CNT_VRRP_V6:
		cnt->seen_vrrp_v6++;
		break;
	case CNT_PASS_OTHER:
		cnt->pass_other++;
		break;
	case CNT_TRUNCATED:
		cnt->truncated++;
		break;
	}
	if (vlan_tagged)
		cnt->vlan_tagged++;

	return XDP_PASS;
}

/* "Dual MIT/GPL": GPL-compatible, so GPL-only helpers (bpf_timer_*, later) stay available. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
