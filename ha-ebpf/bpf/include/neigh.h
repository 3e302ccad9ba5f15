/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Answering ARP requests (RFC 826) and IPv6 neighbour solicitations (RFC 4861 §7.2.4) for
 * the VIPs this node owns, in place, for XDP_TX (DESIGN.md decision 4). Anything unusual
 * (gratuitous ARP, probes, DAD, solicitations without exactly one source link-layer option)
 * goes to the stack, which owns the same addresses and answers correctly if slower.
 */
#ifndef HA_NEIGH_H
#define HA_NEIGH_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "consts.h"
#include "csum.h"
#include "ha_common.h"
#include "maps.h"
#include "parsing.h"
#include "vips.h"

/* ARP for IPv4 over Ethernet (linux/if_arp.h cannot be included under -target bpf). */
struct ha_arp {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
	__u8 sha[6];
	__u8 spa[4];
	__u8 tha[6];
	__u8 tpa[4];
} __attribute__((packed));

struct ha_nd {
	__u8 type;
	__u8 code;
	__sum16 csum;
	__u8 flags;
	__u8 reserved[3];
	__u8 target[16];
	__u8 opt_type;
	__u8 opt_len; /* in units of 8 bytes */
	__u8 opt_mac[6];
} __attribute__((packed));

enum neigh_verdict {
	NEIGH_REPLY,     /* rewritten in place: XDP_TX */
	NEIGH_PASS,      /* not ours or unusual: to the stack */
	NEIGH_TRUNCATED, /* shorter than its header */
	NEIGH_OTHER,     /* ICMPv6 but not a solicitation */
	NEIGH_FENCED,    /* for an owned VIP while the daemon is fenced: XDP_DROP, so the
			  * stack (which still has the address) does not answer either */
};

static __always_inline void copy_mac(__u8 *dst, const __u8 *src)
{
	__builtin_memcpy(dst, src, 6);
}

/* c->pos is at the ARP header. */
static __always_inline enum neigh_verdict
arp_reply(struct hdr_cursor *c, struct ethhdr *eth, __u32 ifindex, int fence)
{
	struct ha_arp *arp = c->pos;
	struct ha_vip4_slot *vip;
	__u8 vip_addr[4];

	if (!cursor_has(c, sizeof(*arp)))
		return NEIGH_TRUNCATED;
	if (arp->htype != bpf_htons(HA_ARPHRD_ETHER) || arp->ptype != bpf_htons(HA_ETH_P_IPV4) ||
	    arp->hlen != 6 || arp->plen != 4 || arp->op != bpf_htons(HA_ARPOP_REQUEST))
		return NEIGH_PASS;
	vip = owned_vip4(ifindex, arp->tpa);
	/* Fenced: no request for the VIP reaches the stack, probes included (it would defend
	 * the address against the new master). */
	if (vip && fence)
		return NEIGH_FENCED;
	/* Gratuitous ARP (sender = target) and RFC 5227 probes (sender 0.0.0.0) are not
	 * questions to answer here. */
	if (__builtin_memcmp(arp->spa, arp->tpa, 4) == 0 ||
	    (arp->spa[0] | arp->spa[1] | arp->spa[2] | arp->spa[3]) == 0)
		return NEIGH_PASS;
	if (!vip)
		return NEIGH_PASS;

	__builtin_memcpy(vip_addr, arp->tpa, 4);
	copy_mac(eth->h_dest, arp->sha);
	copy_mac(eth->h_source, vip->mac);
	arp->op = bpf_htons(HA_ARPOP_REPLY);
	copy_mac(arp->tha, arp->sha);
	__builtin_memcpy(arp->tpa, arp->spa, 4);
	copy_mac(arp->sha, vip->mac);
	__builtin_memcpy(arp->spa, vip_addr, 4);
	return NEIGH_REPLY;
}

/* c->pos is at the ICMPv6 header; ip6 is its IPv6 header. */
static __always_inline enum neigh_verdict
ns_reply(struct hdr_cursor *c, struct ethhdr *eth, struct ipv6hdr *ip6, __u32 ifindex,
	 int fence)
{
	struct ha_nd *nd = c->pos;
	struct ha_vip_value *vip;
	__u64 sum;

	if (!cursor_has(c, 1))
		return NEIGH_TRUNCATED;
	if (nd->type != HA_ND_NEIGHBOR_SOLICIT)
		return NEIGH_OTHER;
	/* The solicitation itself (RFC 4861 §4.3), before any option. */
	if (!cursor_has(c, HA_ND_BASE_LEN))
		return NEIGH_TRUNCATED;
	/* Fenced: no solicitation for the VIP reaches the stack, DAD included (it would
	 * defend the address against the new master). */
	if (fence && owned_vip6(ifindex, nd->target))
		return NEIGH_FENCED;
	/* RFC 4861 §7.1.1 validity as far as we act on it: hop limit 255, code 0. */
	if (ip6->hop_limit != 255 || nd->code != 0 || ip6->payload_len != bpf_htons(HA_ND_LEN))
		return NEIGH_PASS;
	if (!cursor_has(c, sizeof(*nd)))
		return NEIGH_TRUNCATED;
	if (nd->opt_type != HA_ND_OPT_SOURCE_LL || nd->opt_len != 1)
		return NEIGH_PASS;
	/* DAD (unspecified source) is the stack's business. */
	if ((ip6->saddr.in6_u.u6_addr32[0] | ip6->saddr.in6_u.u6_addr32[1] |
	     ip6->saddr.in6_u.u6_addr32[2] | ip6->saddr.in6_u.u6_addr32[3]) == 0)
		return NEIGH_PASS;
	vip = owned_vip6(ifindex, nd->target);
	if (!vip)
		return NEIGH_PASS;

	/* RFC 4861 §7.2.4: to the solicitation's source, from the target, S and O set. */
	copy_mac(eth->h_dest, nd->opt_mac);
	copy_mac(eth->h_source, vip->mac);
	ip6->daddr = ip6->saddr;
	__builtin_memcpy(&ip6->saddr, nd->target, 16);
	ip6->hop_limit = 255;
	nd->type = HA_ND_NEIGHBOR_ADVERT;
	nd->code = 0;
	nd->csum = 0;
	nd->flags = HA_NA_SOLICITED | HA_NA_OVERRIDE | (vip->router ? HA_NA_ROUTER : 0);
	nd->reserved[0] = nd->reserved[1] = nd->reserved[2] = 0;
	nd->opt_type = HA_ND_OPT_TARGET_LL;
	nd->opt_len = 1;
	copy_mac(nd->opt_mac, vip->mac);
	/* RFC 4443 §2.3: pseudo-header (addresses, length, next header) + message. */
	sum = bpf_csum_diff(0, 0, (__be32 *)&ip6->saddr, 32, 0);
	sum = bpf_csum_diff(0, 0, (__be32 *)nd, HA_ND_LEN, sum);
	sum += pseudo_tail(HA_ND_LEN, HA_IPPROTO_ICMPV6);
	nd->csum = ~csum_fold(sum);
	return NEIGH_REPLY;
}

#endif /* HA_NEIGH_H */
