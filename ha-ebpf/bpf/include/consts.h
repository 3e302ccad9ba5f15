/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * Wire constants used by ha's kernel programs. Every magic number gets a name here, so the
 * parsers read like the RFCs they implement.
 */
#ifndef HA_CONSTS_H
#define HA_CONSTS_H

/* Ethertypes (IEEE 802.3 / IANA). linux/if_ether.h has them too, but only this handful matters. */
#define HA_ETH_P_IPV4 0x0800
#define HA_ETH_P_IPV6 0x86DD
#define HA_ETH_P_8021Q 0x8100  /* customer VLAN tag (C-tag) */
#define HA_ETH_P_8021AD 0x88A8 /* service VLAN tag (S-tag, QinQ outer) */

/* IANA protocol number of VRRP, in both the IPv4 protocol and the IPv6 next-header field. */
#define HA_IPPROTO_VRRP 112

/*
 * RFC 5798 §5.1: the part of a VRRP packet before the address list —
 * version/type, VRID, priority, count, (rsvd | max adver int) or (auth type, adver int),
 * checksum. The same 8 bytes in VRRPv2 (RFC 3768 §5.1). A protocol-112 packet shorter than
 * this cannot be an advert at all.
 */
#define HA_VRRP_FIXED_HDR_LEN 8

/* IPv4 IHL is in 32-bit words; 5 words is the header without options (RFC 791 §3.1). */
#define HA_IPV4_MIN_IHL 5

#endif /* HA_CONSTS_H */
