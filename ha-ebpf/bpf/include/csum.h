/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * RFC 1071 Internet checksum for VRRP (RFC 5798 §5.2.8: v3 covers an IPv4/IPv6
 * pseudo-header; RFC 3768 §5.3.8: v2 covers the message only) and ICMPv6 (RFC 4443 §2.3).
 * Sums come from bpf_csum_diff (32-bit partial sums, lengths multiple of 4, at most 512
 * bytes); fold() turns one into the 16-bit result.
 */
#ifndef HA_CSUM_H
#define HA_CSUM_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* The pseudo-header's length and protocol words, as a partial sum (network order). */
static __always_inline __u64 pseudo_tail(__u32 len, __u8 proto)
{
	return (__u64)bpf_htonl(len) + (__u64)bpf_htonl((__u32)proto);
}

#endif /* HA_CSUM_H */
