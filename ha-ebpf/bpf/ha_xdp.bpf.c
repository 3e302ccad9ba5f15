// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * ha_xdp — the one XDP program of every interface ha uses (DESIGN.md §12). An interface
 * takes a single XDP program and several features want the same interfaces, so this entry
 * program parses the frame once and hands it to the feature functions enabled on the
 * interface (ifaces[ifindex].features, written by the daemon's attach manager):
 *
 * - HA_FEATURE_VRRP: VRRP adverts (vrrp_path.h), ARP requests and neighbour solicitations
 *   for owned VIPs (neigh.h), and the fence: once the daemon's heartbeat stops, no
 *   answer for its VIPs and no traffic to them (the HA_IFACE_FENCED mark the fence timer
 *   puts on the interfaces, vips.h; ha_fence_beat below);
 * - HA_FEATURE_LB: frames to a virtual service, forwarded to a real server (lb_path.h);
 * - HA_FEATURE_BFD: BFD control packets stamped, absorbed, watched by a timer (bfd_path.h).
 *
 * The features are inlined functions switched by a bit of the interface's entry, which the
 * dispatcher reads anyway for the slot: a frame pays nothing for features it does not use
 * (a tail call per feature was measured against it: BENCHMARKS.md "XDP dispatcher").
 * Everything not for an enabled feature passes to the stack untouched. Every frame lands
 * in one named per-CPU counter of the interface's slot.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bfd_path.h"
#include "consts.h"
#include "ha_common.h"
#include "iface.h"
#include "lb_path.h"
#include "maps.h"
#include "neigh.h"
#include "parsing.h"
#include "vrrp_path.h"

/* ARP for an enabled VRRP feature: a request for an owned VIP is answered in place. */
static __always_inline int arp(struct hdr_cursor *c, struct ethhdr *eth, __u32 ifindex,
			       int fence, struct ha_xdp_counters *cnt)
{
	switch (arp_reply(c, eth, ifindex, fence)) {
	case NEIGH_REPLY:
		cnt->arp_reply++;
		return XDP_TX;
	case NEIGH_FENCED:
		cnt->fenced++;
		return XDP_DROP;
	case NEIGH_TRUNCATED:
		cnt->truncated++;
		return XDP_PASS;
	default:
		cnt->arp_pass++;
		return XDP_PASS;
	}
}

/* ICMPv6 for an enabled VRRP feature: a solicitation for an owned VIP is answered. */
static __always_inline int ns(struct hdr_cursor *c, struct ethhdr *eth, struct ipv6hdr *ip6,
			      __u32 ifindex, int fence, struct ha_xdp_counters *cnt)
{
	switch (ns_reply(c, eth, ip6, ifindex, fence)) {
	case NEIGH_REPLY:
		cnt->na_reply++;
		return XDP_TX;
	case NEIGH_FENCED:
		cnt->fenced++;
		return XDP_DROP;
	case NEIGH_TRUNCATED:
		cnt->truncated++;
		return XDP_PASS;
	case NEIGH_OTHER:
		cnt->pass_other++;
		return XDP_PASS;
	default:
		cnt->ns_pass++;
		return XDP_PASS;
	}
}

SEC("xdp")
int ha_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	struct hdr_cursor c = {
		.pos = data,
		.end = (void *)(long)ctx->data_end,
	};
	const struct ha_iface *iface = iface_of(ctx->ingress_ifindex);
	__u32 slot = iface ? iface->slot : 0;
	/* One word, set on every path: older verifiers (6.1) refuse a stack slot that only
	 * some paths wrote, which short-circuit tests on `iface` made clang spill. */
	__u32 features = iface ? iface->features : 0;
	int vrrp = features & HA_FEATURE_VRRP;
	int lb = features & HA_FEATURE_LB;
	int bfd = features & HA_FEATURE_BFD;
	int fence = (features & (HA_FEATURE_VRRP | HA_IFACE_FENCED)) ==
		    (HA_FEATURE_VRRP | HA_IFACE_FENCED);
	struct ha_xdp_counters *cnt = counters(slot);
	struct ethhdr *eth = data;
	__be16 ethertype = 0;
	int vlan_tagged = 0;
	__u8 l4 = 0; /* set on every path: see `features` */

	if (!cnt)
		return XDP_PASS; /* slot 0 of an array always exists; the verifier wants the check */
	if (parse_ethernet(&c, &ethertype, &vlan_tagged) != PARSE_OK) {
		cnt->truncated++;
		return XDP_PASS;
	}
	if (vlan_tagged) {
		/* A tagged frame belongs to the VLAN device, which has its own program. */
		cnt->vlan_tagged++;
		cnt->pass_other++;
		return XDP_PASS;
	}

	if (ethertype == bpf_htons(HA_ETH_P_IPV4)) {
		struct iphdr *ip = c.pos;
		enum parse_result r = parse_ipv4(&c, &l4);

		if (r == PARSE_TRUNCATED) {
			cnt->truncated++;
			return XDP_PASS;
		}
		if (r == PARSE_OK && l4 == HA_IPPROTO_VRRP && vrrp)
			return vrrp_ipv4(ctx, cnt, slot, &c, ip);
		/* A fenced daemon's VIPs take no traffic (the stack still has them). Adverts,
		 * never addressed to a VIP, are past already. */
		if (fence && owned_vip4(ctx->ingress_ifindex, (const __u8 *)&ip->daddr)) {
			cnt->fenced++;
			return XDP_DROP;
		}
		if (r == PARSE_OK && l4 == HA_IPPROTO_UDP && bfd) {
			int v = bfd_ipv4(&c, ip, cnt);

			if (v >= 0)
				return v;
		}
		if (r == PARSE_OK && lb) {
			int v = lb_ipv4(ctx, &c, ip, ctx->ingress_ifindex);

			if (v != HA_LB_NO_SERVICE) {
				cnt->lb++;
				return v;
			}
		}
	}

	if (ethertype == bpf_htons(HA_ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = c.pos;

		if (parse_ipv6(&c, &l4) != PARSE_OK) {
			cnt->truncated++;
			return XDP_PASS;
		}
		if (l4 == HA_IPPROTO_VRRP && vrrp)
			return vrrp_ipv6(ctx, cnt, slot, &c, ip6);
		if (fence && owned_vip6(ctx->ingress_ifindex, ip6->daddr.in6_u.u6_addr8)) {
			cnt->fenced++;
			return XDP_DROP;
		}
		if (l4 == HA_IPPROTO_ICMPV6 && vrrp)
			return ns(&c, eth, ip6, ctx->ingress_ifindex, fence, cnt);
		if (l4 == HA_IPPROTO_UDP && bfd) {
			int v = bfd_ipv6(&c, ip6, cnt);

			if (v >= 0)
				return v;
		}
		if (lb) {
			int v = lb_ipv6(ctx, &c, ip6, ctx->ingress_ifindex);

			if (v != HA_LB_NO_SERVICE) {
				cnt->lb++;
				return v;
			}
		}
	}

	if (ethertype == bpf_htons(HA_ETH_P_ARP) && vrrp)
		return arp(&c, eth, ctx->ingress_ifindex, fence, cnt);

	cnt->pass_other++;
	return XDP_PASS;
}

/*
 * The VRRP engine's heartbeat, run by the daemon with BPF_PROG_TEST_RUN (never attached):
 * the frame's first 8 bytes are the fence time in ns (native order; 0 turns fencing off).
 * See ha_common.h: struct ha_fence.
 */
SEC("xdp")
int ha_fence_beat(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 stale_ns;

	if (data + sizeof(stale_ns) > end)
		return XDP_ABORTED;
	__builtin_memcpy(&stale_ns, data, sizeof(stale_ns));
	return fence_beat(stale_ns) == 0 ? XDP_PASS : XDP_ABORTED;
}

/* "Dual MIT/GPL": GPL-compatible, so the GPL-only bpf_timer helpers are available. */
char LICENSE[] SEC("license") = "Dual MIT/GPL";
