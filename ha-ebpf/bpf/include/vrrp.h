/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The VRRP receive checks the fast path applies (RFC 5798 §7.1; RFC 3768 §7.1 for v2), in
 * the spirit of the daemon's validate.rs: the packet is copied into a per-CPU scratch event
 * (so that checksum and comparisons work on a bounded buffer the verifier accepts), checked
 * against the instance the engine configured, and then either absorbed (identical to the
 * advert the engine follows) or handed to the engine as an event.
 */
#ifndef HA_VRRP_H
#define HA_VRRP_H

#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "consts.h"
#include "csum.h"
#include "ha_common.h"
#include "maps.h"

#define HA_VRRP_TYPE_ADVERT 1
#define HA_VRRP_TTL 255
#define HA_V2_AUTH_LEN 8
#define HA_V3_MAX_ADVER_INT_MASK 0x0fff

/* What the checks decided. */
enum vrrp_verdict {
	V_ABSORB = 0,   /* valid, identical to the followed advert: drop, refresh the timestamp */
	V_EVENT,        /* valid, the engine must see it: event, drop */
	V_NOT_OURS,     /* no instance for this interface/family/VRID: to the stack */
	V_UNHANDLED,    /* ours, but beyond the fast path: to the raw socket */
	V_TRUNCATED,    /* the frame is shorter than the IP header says: to the stack */
	V_BAD,          /* invalid: drop, counted under ev->reason */
};

/* What the IP layer told us about one VRRP packet. */
struct vrrp_pkt {
	__u32 off;      /* offset of the VRRP message from the frame start */
	__u32 len;      /* VRRP length from the IP header (total/payload length) */
	__u8 ttl;
	__u8 family;    /* HA_FAMILY_V4 / HA_FAMILY_V6 */
	__u8 multicast; /* the destination is a multicast address */
	__u8 fragment;  /* IPv4 MF set or offset non-zero */
};

static __always_inline int addr_eq(const __u8 *a, const __u8 *b, int v6)
{
	if (!v6)
		return __builtin_memcmp(a, b, 4) == 0;
	return __builtin_memcmp(a, b, 16) == 0;
}

static __always_inline enum vrrp_verdict bad(struct ha_vrrp_event *ev, __u8 reason)
{
	ev->reason = reason;
	return V_BAD;
}

/*
 * The absorb path (DESIGN.md decision 3): an advert whose IP fields and bytes equal the
 * advert the engine follows — which passed every check when the engine saw it — is that
 * advert again. Comparing costs less than checking, and nothing is copied. Unicast with a
 * peer TTL window, and messages longer than HA_FOLLOW_MSG_LEN, take the full checks.
 */
static __always_inline int is_followed(const struct ha_vrrp_instance *inst, const __u8 *msg,
				       const void *end, const struct vrrp_pkt *p, const __u8 *src,
				       const __u8 *dst)
{
	int v6 = p->family == HA_FAMILY_V6;
	__u32 len = p->len;
	int i;

	if (inst->state != HA_STATE_BACKUP || !(inst->flags & HA_F_FOLLOW) ||
	    (inst->flags & HA_F_CHECK_UNICAST_SRC) || p->fragment)
		return 0;
	if (len != inst->master_len || len > HA_FOLLOW_MSG_LEN)
		return 0;
	if (!(inst->flags & HA_F_UNICAST) && p->ttl != HA_VRRP_TTL)
		return 0;
	if (!addr_eq(src, inst->master, v6) || !addr_eq(dst, inst->master_dst, v6))
		return 0;
	/* VRRP lengths are multiples of 4 (RFC 5798 §5.1): compare word by word. */
#pragma unroll
	for (i = 0; i < HA_FOLLOW_MSG_LEN / 4; i++) {
		if ((__u32)i * 4 >= len)
			break;
		if ((const void *)(msg + i * 4 + 4) > end)
			return 0;
		if (*(const __u32 *)(msg + i * 4) != *(const __u32 *)&inst->master_msg[i * 4])
			return 0;
	}
	return 1;
}

/*
 * The full checks. ev->src/dst/family/ttl/ifindex are filled; `inst` is the instance of this
 * interface/family/VRID or NULL. On return, ev->data holds the message (when it got that
 * far) and ev->reason the event or drop reason.
 */
static __always_inline enum vrrp_verdict vrrp_check(struct xdp_md *ctx, struct ha_vrrp_event *ev,
						    const struct vrrp_pkt *p,
						    const struct ha_vrrp_instance *inst)
{
	struct ha_vrrp_key key = {};
	struct ha_peer_key pk = {};
	struct ha_peer_ttl *peer;
	int v6 = p->family == HA_FAMILY_V6;
	__u32 len = p->len;
	__u32 want, i;
	__u8 version, count, auth_type;
	int check_addr;
	__u64 sum;

	if (len < HA_VRRP_FIXED_HDR_LEN)
		return bad(ev, HA_BAD_LENGTH);
	if (len > HA_VRRP_MAX_LEN)
		len = HA_VRRP_MAX_LEN; /* enough to read the header; refused below */
	/* Bounded for the verifier: 8..512. */
	len &= 0x3ff;
	if (len < HA_VRRP_FIXED_HDR_LEN || len > HA_VRRP_MAX_LEN)
		return V_TRUNCATED;
	if (bpf_xdp_load_bytes(ctx, p->off, ev->data, len))
		return V_TRUNCATED;
	ev->vrid = ev->data[1];
	ev->len = len;

	key.ifindex = ev->ifindex;
	key.family = p->family;
	key.vrid = ev->vrid;
	if (!inst || !inst->version)
		return V_NOT_OURS;
	if (p->fragment)
		return V_UNHANDLED;

	/* RFC 5798 §7.1: TTL / hop limit 255 — unicast adverts may be routed (keepalived's
	 * min_ttl/max_ttl window applies to the peer instead, below). */
	if (!(inst->flags & HA_F_UNICAST) && p->ttl != HA_VRRP_TTL)
		return bad(ev, HA_BAD_TTL);
	version = ev->data[0] >> 4;
	if (version != inst->version)
		return bad(ev, HA_BAD_VERSION);
	if ((ev->data[0] & 0x0f) != HA_VRRP_TYPE_ADVERT)
		return bad(ev, HA_BAD_TYPE);
	count = ev->data[3];
	want = HA_VRRP_FIXED_HDR_LEN + (__u32)count * (v6 ? 16 : 4);
	if (version == 2 && !v6)
		want += HA_V2_AUTH_LEN;
	if (want > HA_VRRP_MAX_LEN)
		return p->len == want ? V_UNHANDLED : bad(ev, HA_BAD_LENGTH);
	if (p->len != want)
		return bad(ev, HA_BAD_LENGTH);

	if (version == 2) {
		/* RFC 2338 §5.3.6 authentication (keepalived keeps it for v2 over IPv4). */
		auth_type = ev->data[4];
		if (v6)
			auth_type = HA_AUTH_NONE;
		if (auth_type > HA_AUTH_AH || auth_type != inst->auth_type)
			return bad(ev, HA_BAD_AUTH_TYPE);
		if (auth_type == HA_AUTH_PASS) {
			/* The password follows the address list. The compiler can prove the
			 * bound below and drop it; the verifier cannot, hence the barrier. */
			i = want - HA_V2_AUTH_LEN;
			asm volatile("" : "+r"(i)); /* keep the check below in the object */
			if (i > HA_VRRP_MAX_LEN - HA_V2_AUTH_LEN)
				return bad(ev, HA_BAD_LENGTH);
			if (__builtin_memcmp(&ev->data[i], inst->auth_pass, HA_V2_AUTH_LEN) != 0)
				return bad(ev, HA_BAD_AUTH);
		}
		/* RFC 3768 §7.1: MUST discard a different Adver Int. */
		if (ev->data[5] == 0 || ev->data[5] != inst->adver_int)
			return bad(ev, HA_BAD_ADVER_INT);
	} else if ((bpf_ntohs(*(__u16 *)&ev->data[4]) & HA_V3_MAX_ADVER_INT_MASK) == 0) {
		return bad(ev, HA_BAD_ADVER_INT);
	}

	/* RFC 5798 §5.2.8: v3 sums the pseudo-header; RFC 3768 §5.3.8: v2 the message only. */
	sum = bpf_csum_diff(0, 0, (__be32 *)ev->data, len, 0);
	if (version == 3) {
		sum = bpf_csum_diff(0, 0, (__be32 *)ev->src, v6 ? 16 : 4, sum);
		sum = bpf_csum_diff(0, 0, (__be32 *)ev->dst, v6 ? 16 : 4, sum);
		sum += pseudo_tail(len, HA_IPPROTO_VRRP);
	}
	if (csum_fold(sum) != 0xffff) {
		/* keepalived before 2.0.8 summed v3 IPv4 unicast with 224.0.0.18 as the
		 * destination; the daemon detects and answers that form. */
		if (version == 3 && !v6 && (inst->flags & HA_F_UNICAST))
			return V_UNHANDLED;
		return bad(ev, HA_BAD_CHECKSUM);
	}

	/* keepalived's check_addr: off for the master a BACKUP follows under
	 * skip_check_adv_addr (the daemon's validate.rs does the same). */
	check_addr = !((inst->flags & HA_F_SKIP_FOLLOWED) && inst->state == HA_STATE_BACKUP &&
		       (inst->flags & HA_F_FOLLOW) && addr_eq(ev->src, inst->master, v6));
	if (check_addr && (inst->flags & HA_F_CHECK_COUNT) && count != inst->naddrs)
		return bad(ev, HA_BAD_ADDR_COUNT);
	if (p->multicast == !!(inst->flags & HA_F_UNICAST))
		return bad(ev, HA_BAD_DESTINATION);
	if (check_addr && (inst->flags & HA_F_UNICAST) && (inst->flags & HA_F_CHECK_UNICAST_SRC)) {
		pk.vrrp = key;
		__builtin_memcpy(pk.addr, ev->src, 16);
		peer = bpf_map_lookup_elem(&vrrp_peers, &pk);
		if (!peer)
			return bad(ev, HA_BAD_UNICAST_PEER);
		if (p->ttl < peer->min_ttl || p->ttl > peer->max_ttl)
			return bad(ev, HA_BAD_TTL);
	}

	/* Valid. Absorb only what changes nothing for the engine: BACKUP, following, and the
	 * same source, priority, interval, checksum and length as the followed advert. */
	if (inst->state != HA_STATE_BACKUP || !(inst->flags & HA_F_FOLLOW)) {
		ev->reason = HA_WHY_NOT_FOLLOWING;
		return V_EVENT;
	}
	if (!addr_eq(ev->src, inst->master, v6) || ev->data[2] != inst->master_prio ||
	    *(__u16 *)&ev->data[4] != inst->master_int ||
	    *(__u16 *)&ev->data[6] != inst->master_csum || len != inst->master_len) {
		ev->reason = HA_WHY_CHANGED;
		return V_EVENT;
	}
	return V_ABSORB;
}

#endif /* HA_VRRP_H */
