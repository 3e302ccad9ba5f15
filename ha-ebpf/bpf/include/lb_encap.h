/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Rewrites of the load balancer's forwarding: tunnel encapsulation (IPIP: RFC 2003 /
 * RFC 2473; GUE variant 0 over UDP, draft-ietf-intarea-gue §3, as IPVS's `tun_type gue`
 * sends it) and the "too big" answers for a packet the tunnel cannot carry (RFC 792
 * fragmentation needed, RFC 1191 §4; RFC 4443 §3.2 packet too big). Every function starts
 * from a frame whose Ethernet header is at data and whose IP header follows it, untagged.
 * They return 0 when done, -1 when the frame could not be rewritten.
 */
#ifndef HA_LB_ENCAP_H
#define HA_LB_ENCAP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "consts.h"
#include "csum.h"
#include "lb_common.h"

#define HA_ETH_LEN 14
#define HA_IPV4_LEN 20
#define HA_IPV6_LEN 40
#define HA_UDP_LEN 8
#define HA_GUE_LEN 4
#define HA_IPPROTO_ICMP 1
#define HA_IPPROTO_IPIP 4
#define HA_IPPROTO_TCP 6
#define HA_IPPROTO_IPV6 41
#define HA_IPPROTO_FRAGMENT 44
#define HA_IPPROTO_SCTP 132
#define HA_IP_DF 0x4000
#define HA_TTL 64
/* GUE's UDP source port carries the flow's entropy (draft-ietf-intarea-gue §5.11), in the
 * dynamic range like other UDP encapsulations (RFC 7510 §3). */
#define HA_GUE_SPORT_BASE 0xc000
#define HA_GUE_SPORT_MASK 0x3fff
/* ICMP type/code for "fragmentation needed and DF set" and ICMPv6 "packet too big". */
#define HA_ICMP_UNREACH 3
#define HA_ICMP_FRAG_NEEDED 4
#define HA_ICMPV6_TOO_BIG 2
/* What a too-big answer quotes: the IPv4 header and 64 bits of data (RFC 792); the same for
 * IPv6 (the least RFC 4443 asks, enough for the sender to find its socket). */
#define HA_QUOTE 8

/* Bytes a tunnel adds for an outer header of family `v6`. */
static __always_inline __u32 lb_overhead(__u8 method, int v6)
{
	if (method == HA_LB_DR)
		return 0;
	return (v6 ? HA_IPV6_LEN : HA_IPV4_LEN) +
	       (method == HA_LB_GUE ? HA_UDP_LEN + HA_GUE_LEN : 0);
}

static __always_inline void lb_eth(struct ethhdr *eth, const __u8 *dmac, const __u8 *smac,
				   __u16 proto)
{
	__builtin_memcpy(eth->h_dest, dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, smac, ETH_ALEN);
	eth->h_proto = bpf_htons(proto);
}

/* `id` matters only without DF (RFC 6864 §4.1), when a router may fragment the packet:
 * the flow's hash then, rather than one id for every packet. */
static __always_inline void lb_ip4(struct iphdr *o, __u8 tos, __u16 len, int df, __u8 proto,
				   const __u8 *src, const __u8 *dst, __u16 id)
{
	o->version = 4;
	o->ihl = 5;
	o->tos = tos;
	o->tot_len = bpf_htons(len);
	o->id = df ? 0 : bpf_htons(id);
	o->frag_off = df ? bpf_htons(HA_IP_DF) : 0;
	o->ttl = HA_TTL;
	o->protocol = proto;
	o->check = 0;
	__builtin_memcpy(&o->saddr, src, 4);
	__builtin_memcpy(&o->daddr, dst, 4);
	o->check = ~csum_fold(bpf_csum_diff(0, 0, (__be32 *)o, HA_IPV4_LEN, 0));
}

static __always_inline void lb_ip6(struct ipv6hdr *o, __u8 tclass, __u32 label, __u16 plen,
				   __u8 next, const __u8 *src, const __u8 *dst)
{
	__u32 w = (6u << 28) | ((__u32)tclass << 20) | (label & 0xfffff);

	*(__be32 *)o = bpf_htonl(w);
	o->payload_len = bpf_htons(plen);
	o->nexthdr = next;
	o->hop_limit = HA_TTL;
	__builtin_memcpy(&o->saddr, src, 16);
	__builtin_memcpy(&o->daddr, dst, 16);
}

/* UDP and the GUE header after it. */
struct udphdr_min {
	__be16 source;
	__be16 dest;
	__be16 len;
	__be16 check;
	__u8 gue_flags;  /* version 0, C 0, Hlen 0 */
	__u8 gue_proto;  /* the inner packet's IP protocol number */
	__be16 gue_more; /* no flags */
};

/* For an inner packet of `inner_len` bytes, with a zero UDP checksum (RFC 768 for IPv4,
 * RFC 6936 for IPv6, which Linux's fou/gue receiver accepts). */
static __always_inline void lb_gue(struct udphdr_min *u, __u16 sport, __be16 dport,
				   __u32 inner_len, int inner_v6)
{
	u->source = bpf_htons(sport);
	u->dest = dport;
	u->len = bpf_htons(HA_UDP_LEN + HA_GUE_LEN + inner_len);
	u->check = 0;
	u->gue_flags = 0;
	u->gue_proto = inner_v6 ? HA_IPPROTO_IPV6 : HA_IPPROTO_IPIP;
	u->gue_more = 0;
}

/*
 * Puts an outer IPv4 header (and UDP + GUE) in front of the packet. `inner_len` is the
 * inner IP packet's length, `tos` and `df` are copied from it.
 */
static __always_inline int lb_encap4(struct xdp_md *ctx, const __u8 *dmac, const __u8 *smac,
				     const __u8 *src, const __u8 *dst, int gue, __be16 port,
				     __u32 inner_len, int inner_v6, __u8 tos, int df, __u32 hash)
{
	__u8 inner_proto = inner_v6 ? HA_IPPROTO_IPV6 : HA_IPPROTO_IPIP;
	void *data, *end;

	if (bpf_xdp_adjust_head(ctx, -(int)lb_overhead(gue ? HA_LB_GUE : HA_LB_IPIP, 0)))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + HA_ETH_LEN + HA_IPV4_LEN + HA_UDP_LEN + HA_GUE_LEN > end)
		return -1;
	lb_eth(data, dmac, smac, HA_ETH_P_IPV4);
	if (gue) {
		lb_ip4(data + HA_ETH_LEN, tos, HA_IPV4_LEN + HA_UDP_LEN + HA_GUE_LEN + inner_len,
		       df, HA_IPPROTO_UDP, src, dst, hash);
		lb_gue(data + HA_ETH_LEN + HA_IPV4_LEN,
		       HA_GUE_SPORT_BASE | (hash & HA_GUE_SPORT_MASK), port, inner_len, inner_v6);
	} else {
		lb_ip4(data + HA_ETH_LEN, tos, HA_IPV4_LEN + inner_len, df, inner_proto, src, dst,
		       hash);
	}
	return 0;
}

/* The same with an outer IPv6 header; the flow's hash goes into the flow label. */
static __always_inline int lb_encap6(struct xdp_md *ctx, const __u8 *dmac, const __u8 *smac,
				     const __u8 *src, const __u8 *dst, int gue, __be16 port,
				     __u32 inner_len, int inner_v6, __u8 tclass, __u32 hash)
{
	__u8 inner_proto = inner_v6 ? HA_IPPROTO_IPV6 : HA_IPPROTO_IPIP;
	void *data, *end;

	if (bpf_xdp_adjust_head(ctx, -(int)lb_overhead(gue ? HA_LB_GUE : HA_LB_IPIP, 1)))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + HA_ETH_LEN + HA_IPV6_LEN + HA_UDP_LEN + HA_GUE_LEN > end)
		return -1;
	lb_eth(data, dmac, smac, HA_ETH_P_IPV6);
	if (gue) {
		lb_ip6(data + HA_ETH_LEN, tclass, hash, HA_UDP_LEN + HA_GUE_LEN + inner_len,
		       HA_IPPROTO_UDP, src, dst);
		lb_gue(data + HA_ETH_LEN + HA_IPV6_LEN,
		       HA_GUE_SPORT_BASE | (hash & HA_GUE_SPORT_MASK), port, inner_len, inner_v6);
	} else {
		lb_ip6(data + HA_ETH_LEN, tclass, hash, inner_len, inner_proto, src, dst);
	}
	return 0;
}

struct lb_icmp_hdr {
	__u8 type;
	__u8 code;
	__sum16 csum;
	__be16 unused;
	__be16 mtu;
};

/*
 * Turns an IPv4 packet (no options) into ICMP "fragmentation needed" with next-hop MTU
 * `mtu`, from the VIP it was sent to back to its sender, quoting its header and 8 bytes.
 */
static __always_inline int lb_icmp4_too_big(struct xdp_md *ctx, __u16 mtu)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	const __u32 keep = HA_ETH_LEN + HA_IPV4_LEN + HA_QUOTE;
	const int add = HA_IPV4_LEN + sizeof(struct lb_icmp_hdr);
	struct ethhdr *eth = data;
	struct iphdr *ip = data + HA_ETH_LEN;
	struct lb_icmp_hdr *icmp;
	__u8 dmac[ETH_ALEN], smac[ETH_ALEN], client[4], vip[4];

	if (data + keep > end || ip->ihl != HA_IPV4_MIN_IHL)
		return -1;
	__builtin_memcpy(dmac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(smac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(client, &ip->saddr, 4);
	__builtin_memcpy(vip, &ip->daddr, 4);
	if (bpf_xdp_adjust_tail(ctx, (int)keep - (int)(end - data)))
		return -1;
	if (bpf_xdp_adjust_head(ctx, -add))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + HA_ETH_LEN + add + HA_IPV4_LEN + HA_QUOTE > end)
		return -1;
	lb_eth(data, dmac, smac, HA_ETH_P_IPV4);
	lb_ip4(data + HA_ETH_LEN, 0, add + HA_IPV4_LEN + HA_QUOTE, 1, HA_IPPROTO_ICMP, vip,
	       client, 0);
	icmp = data + HA_ETH_LEN + HA_IPV4_LEN;
	icmp->type = HA_ICMP_UNREACH;
	icmp->code = HA_ICMP_FRAG_NEEDED;
	icmp->csum = 0;
	icmp->unused = 0;
	icmp->mtu = bpf_htons(mtu);
	icmp->csum = ~csum_fold(bpf_csum_diff(0, 0, (__be32 *)icmp,
					      sizeof(*icmp) + HA_IPV4_LEN + HA_QUOTE, 0));
	return 0;
}

/* ICMPv6 "packet too big" for an IPv6 packet, quoting its header and 8 bytes. */
static __always_inline int lb_icmp6_too_big(struct xdp_md *ctx, __u32 mtu)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	const __u32 keep = HA_ETH_LEN + HA_IPV6_LEN + HA_QUOTE;
	const int add = HA_IPV6_LEN + sizeof(struct lb_icmp_hdr);
	const __u32 icmp_len = sizeof(struct lb_icmp_hdr) + HA_IPV6_LEN + HA_QUOTE;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = data + HA_ETH_LEN;
	struct ipv6hdr *o;
	struct lb_icmp_hdr *icmp;
	__u8 dmac[ETH_ALEN], smac[ETH_ALEN], client[16], vip[16];
	__u64 sum;

	if (data + keep > end)
		return -1;
	__builtin_memcpy(dmac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(smac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(client, &ip6->saddr, 16);
	__builtin_memcpy(vip, &ip6->daddr, 16);
	if (bpf_xdp_adjust_tail(ctx, (int)keep - (int)(end - data)))
		return -1;
	if (bpf_xdp_adjust_head(ctx, -add))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + HA_ETH_LEN + add + HA_IPV6_LEN + HA_QUOTE > end)
		return -1;
	lb_eth(data, dmac, smac, HA_ETH_P_IPV6);
	o = data + HA_ETH_LEN;
	lb_ip6(o, 0, 0, icmp_len, HA_IPPROTO_ICMPV6, vip, client);
	o->hop_limit = 255;
	icmp = data + HA_ETH_LEN + HA_IPV6_LEN;
	icmp->type = HA_ICMPV6_TOO_BIG;
	icmp->code = 0;
	icmp->csum = 0;
	/* The MTU is the 32-bit word after the checksum. */
	icmp->unused = bpf_htons(mtu >> 16);
	icmp->mtu = bpf_htons(mtu & 0xffff);
	sum = bpf_csum_diff(0, 0, (__be32 *)&o->saddr, 32, 0);
	sum = bpf_csum_diff(0, 0, (__be32 *)icmp, icmp_len, sum);
	sum += pseudo_tail(icmp_len, HA_IPPROTO_ICMPV6);
	icmp->csum = ~csum_fold(sum);
	return 0;
}

#endif /* HA_LB_ENCAP_H */
