/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Constants of ha's kernel programs: wire values, so the parsers read like the RFCs they
 * implement, and the few timing tunables. Every magic number gets a name here.
 */
#ifndef HA_CONSTS_H
#define HA_CONSTS_H

/* Ethertypes (IEEE 802.3 / IANA). linux/if_ether.h has them too, but only this handful matters. */
#define HA_ETH_P_IPV4 0x0800
#define HA_ETH_P_ARP 0x0806
#define HA_ETH_P_IPV6 0x86DD
#define HA_ETH_P_8021Q 0x8100  /* customer VLAN tag (C-tag) */
#define HA_ETH_P_8021AD 0x88A8 /* service VLAN tag (S-tag, QinQ outer) */

/* IANA protocol numbers, in both the IPv4 protocol and the IPv6 next-header field. */
#define HA_IPPROTO_VRRP 112
#define HA_IPPROTO_ICMPV6 58
#define HA_IPPROTO_UDP 17

/* BFD control packets (RFC 5881 §4, RFC 5883 §5). */
#define HA_BFD_PORT 3784
#define HA_BFD_MULTIHOP_PORT 4784
#define HA_UDP_HDR_LEN 8

/* IPv4 flags + fragment offset (RFC 791 §3.1): MF and the 13-bit offset. */
#define HA_IP_MF_OFFSET 0x3fff

/*
 * RFC 5798 §5.1: the part of a VRRP packet before the address list —
 * version/type, VRID, priority, count, (rsvd | max adver int) or (auth type, adver int),
 * checksum. The same 8 bytes in VRRPv2 (RFC 3768 §5.1). A protocol-112 packet shorter than
 * this cannot be an advert at all.
 */
#define HA_VRRP_FIXED_HDR_LEN 8

/* IPv4 IHL is in 32-bit words; 5 words is the header without options (RFC 791 §3.1). */
#define HA_IPV4_MIN_IHL 5

/* ARP over Ethernet (RFC 826; linux/if_arp.h cannot be included under -target bpf). */
#define HA_ARPHRD_ETHER 1
#define HA_ARPOP_REQUEST 1
#define HA_ARPOP_REPLY 2

/* Neighbour discovery (RFC 4861 §4.3, §4.4, §4.6.1). */
#define HA_ND_NEIGHBOR_SOLICIT 135
#define HA_ND_NEIGHBOR_ADVERT 136
#define HA_ND_OPT_SOURCE_LL 1
#define HA_ND_OPT_TARGET_LL 2
/* NA flags, first byte of the reserved word. */
#define HA_NA_ROUTER 0x80
#define HA_NA_SOLICITED 0x40
#define HA_NA_OVERRIDE 0x20
/* An NS with exactly one Source Link-Layer Address option: 24 + 8 bytes, which is also the
 * size of the NA we answer with (one Target Link-Layer Address option). */
#define HA_ND_LEN 32
#define HA_ND_BASE_LEN 24

/* The clock of bpf_ktime_get_ns(), for bpf_timer_init (CLOCK_MONOTONIC, linux/time.h). */
#define HA_CLOCK_MONOTONIC 1
#define HA_NSEC_PER_SEC 1000000000ULL
/* Master-down with the ring buffer full: when to try again. */
#define HA_RETRY_NS 10000000ULL
/* How late a master-down timer may fire before it counts as dead (and is re-armed). */
#define HA_TIMER_SLACK_NS 50000000ULL

#endif /* HA_CONSTS_H */
