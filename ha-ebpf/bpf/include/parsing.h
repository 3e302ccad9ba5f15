/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Bounds-checked header parsers. Each one checks that its header lies entirely before
 * data_end before reading it (the verifier rejects the program otherwise) and advances a
 * cursor past it, so the next parser starts where this one stopped.
 */
#ifndef HA_PARSING_H
#define HA_PARSING_H

#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "consts.h"

/* Where the next header starts, and where the frame ends. */
struct hdr_cursor {
	void *pos;
	void *end;
};

enum parse_result {
	PARSE_OK = 0,
	PARSE_TRUNCATED,  /* the frame ends inside the header it announces */
	PARSE_MALFORMED,  /* the header is complete but self-contradictory (e.g. IHL < 5) */
};

/* An 802.1Q/802.1ad tag as it follows the MAC addresses (linux/if_vlan.h is kernel-only). */
struct ha_vlan_hdr {
	__be16 tci;          /* PCP, DEI, VLAN id */
	__be16 encap_proto;  /* the ethertype of what follows the tag */
};

/*
 * A big-endian 16-bit field as a number that verifiers before Linux 6.6 know is at most
 * 65535: they lose the bounds of a byte swap's result (and of an OR of two bytes) and then
 * refuse packet pointer math with it, as Debian 12's 6.1 did on the VRRP length check. The
 * empty asm hides the value from the compiler so that it keeps the mask, which the
 * verifier understands.
 */
static __always_inline __u32 ha_be16(const void *field)
{
	__u32 v = bpf_ntohs(*(const __be16 *)field);

	asm volatile("" : "+r"(v));
	return v & 0xffff;
}

/* True when `len` bytes starting at c->pos are inside the frame. */
static __always_inline int cursor_has(const struct hdr_cursor *c, __u32 len)
{
	return c->pos + len <= c->end;
}

/*
 * Ethernet header plus at most one VLAN tag (a VRRP interface may sit on a trunk: the
 * advert then arrives tagged on the parent device when XDP runs there). Stacked tags (QinQ)
 * are not walked: the inner ethertype is then 0x8100 and the frame counts as not VRRP.
 * On PARSE_OK, *ethertype (network order) is the payload's ethertype.
 */
static __always_inline enum parse_result
parse_ethernet(struct hdr_cursor *c, __be16 *ethertype, int *vlan_tagged)
{
	struct ethhdr *eth = c->pos;

	*vlan_tagged = 0;
	if (!cursor_has(c, sizeof(*eth)))
		return PARSE_TRUNCATED;
	c->pos += sizeof(*eth);
	*ethertype = eth->h_proto;

	if (*ethertype == bpf_htons(HA_ETH_P_8021Q) || *ethertype == bpf_htons(HA_ETH_P_8021AD)) {
		struct ha_vlan_hdr *vlan = c->pos;

		if (!cursor_has(c, sizeof(*vlan)))
			return PARSE_TRUNCATED;
		c->pos += sizeof(*vlan);
		*ethertype = vlan->encap_proto;
		*vlan_tagged = 1;
	}
	return PARSE_OK;
}

/* IPv4 header including options (IHL words); *protocol is the payload's protocol number. */
static __always_inline enum parse_result parse_ipv4(struct hdr_cursor *c, __u8 *protocol)
{
	struct iphdr *ip = c->pos;
	__u32 hdr_len;

	if (!cursor_has(c, sizeof(*ip)))
		return PARSE_TRUNCATED;
	if (ip->ihl < HA_IPV4_MIN_IHL)
		return PARSE_MALFORMED;
	/* ihl is a 4-bit field, so hdr_len <= 60: a bounded offset the verifier accepts. */
	hdr_len = ip->ihl * 4;
	if (!cursor_has(c, hdr_len))
		return PARSE_TRUNCATED;
	c->pos += hdr_len;
	*protocol = ip->protocol;
	return PARSE_OK;
}

/*
 * IPv6 fixed header; *next_header is its next-header field. Extension headers are not walked:
 * RFC 5798 adverts are sent without them (§5.1.2), so a VRRP packet behind one is not ours.
 */
static __always_inline enum parse_result parse_ipv6(struct hdr_cursor *c, __u8 *next_header)
{
	struct ipv6hdr *ip6 = c->pos;

	if (!cursor_has(c, sizeof(*ip6)))
		return PARSE_TRUNCATED;
	c->pos += sizeof(*ip6);
	*next_header = ip6->nexthdr;
	return PARSE_OK;
}

#endif /* HA_PARSING_H */
