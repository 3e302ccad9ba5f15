/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The BFD feature of the dispatcher (DESIGN.md §13): detection in the kernel, transmission
 * in userspace. For UDP to port 3784 (single hop, RFC 5881) or 4784 (multihop, RFC 5883) on
 * an interface where it is enabled:
 *
 * - a control packet that passes RFC 5880 §6.8.6's packet checks (version, length, no
 *   authentication, detect multiplier, no multipoint, discriminators) and belongs to a
 *   session the engine put in bfd_sessions (Your Discriminator, neighbour address, TTL) is
 *   stamped in bfd_state;
 * - one identical to the remote's last packet the engine accepted (same state, flags,
 *   discriminators and timers: expect[]) is dropped: the BFD thread does not wake up;
 *   anything else goes on to the thread's socket;
 * - while the engine watches the session (detect_ns), a bpf_timer fires at the last
 *   packet + Detection Time and reports the expiry through bfd_events, with no userspace in
 *   the loop. The BFD thread takes the session Down and a VRRP backup with `bfd_takeover`
 *   takes over.
 *
 * Packets it cannot place (Your Discriminator 0 while a session comes up, unknown sessions,
 * failed checks) pass to the stack untouched: the thread applies the same checks and logs.
 */
#ifndef HA_BFD_PATH_H
#define HA_BFD_PATH_H

#include <linux/bpf.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "consts.h"
#include "ha_common.h"
#include "iface.h"
#include "maps.h"
#include "parsing.h"

/* The Detection Time passed: report it unless a packet came meanwhile (re-arm then). */
static int bfd_timer_fired(void *map, __u32 *index, struct ha_bfd_state *st)
{
	struct ha_bfd_session *s = bpf_map_lookup_elem(&bfd_sessions, index);
	struct ha_bfd_event *ev;
	__u64 now = bpf_ktime_get_ns();
	__u64 deadline;

	(void)map;
	if (!s || !s->detect_ns || st->tripped_epoch == s->epoch) {
		st->armed = 0;
		return 0;
	}
	deadline = st->last_rx_ns + s->detect_ns;
	if (now < deadline) {
		st->due_ns = deadline;
		bpf_timer_start(&st->timer, deadline - now, 0);
		return 0;
	}
	ev = bpf_ringbuf_reserve(&bfd_events, sizeof(*ev), 0);
	if (!ev) {
		st->due_ns = now + HA_RETRY_NS;
		bpf_timer_start(&st->timer, HA_RETRY_NS, 0);
		return 0;
	}
	st->armed = 0;
	st->tripped_epoch = s->epoch;
	st->detections++;
	ev->last_rx_ns = st->last_rx_ns;
	ev->fired_ns = now;
	ev->local_disc = s->local_disc;
	ev->epoch = s->epoch;
	ev->detect_ns = s->detect_ns;
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* A packet of a watched session arrived at `now`: the timer must fire no later than
 * now + detect_ns. */
static __always_inline void bfd_arm(struct ha_bfd_state *st, __u32 slot, __u64 detect_ns,
				    __u64 now)
{
	/* Armed, due no later than this packet's deadline and not overdue: the callback
	 * re-arms from last_rx_ns when it fires (the common case costs nothing here). */
	if (st->armed && st->due_ns <= now + detect_ns && now <= st->due_ns + HA_TIMER_SLACK_NS)
		return;
	st->slot = slot;
	if (bpf_timer_start(&st->timer, detect_ns, 0) != 0) {
		bpf_timer_init(&st->timer, &bfd_state, HA_CLOCK_MONOTONIC);
		bpf_timer_set_callback(&st->timer, bfd_timer_fired);
		if (bpf_timer_start(&st->timer, detect_ns, 0) != 0)
			return;
	}
	st->due_ns = now + detect_ns;
	st->armed = 1;
}

/* The 24 bytes equal the session's expect[] (three 8-byte words). */
static __always_inline int bfd_same(const __u8 *p, const struct ha_bfd_session *s)
{
	const __u64 *a = (const __u64 *)p;
	const __u64 *b = (const __u64 *)s->expect;

	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
}

/*
 * c->pos is at the UDP header; src points to the IP source address (4 or 16 bytes).
 * Returns XDP_DROP for an absorbed packet, XDP_PASS for everything else; -1 when the frame
 * is not BFD (the dispatcher goes on).
 */
static __always_inline int bfd_rx(struct hdr_cursor *c, const __u8 *src, __u8 family, __u8 ttl,
				  struct ha_xdp_counters *cnt)
{
	__u8 *udp = c->pos;
	__u8 *p = udp + HA_UDP_HDR_LEN;
	struct ha_bfd_session *s;
	struct ha_bfd_state *st;
	__u32 dport, ulen, your, slot, i;
	__u64 now;

	if (!cursor_has(c, HA_UDP_HDR_LEN + HA_BFD_LEN))
		return -1;
	dport = ha_be16(udp + 2);
	if (dport != HA_BFD_PORT && dport != HA_BFD_MULTIHOP_PORT)
		return -1;
	ulen = ha_be16(udp + 4);
	/* Version 1; Length at least 24 and within the datagram; no A (0x04) or M (0x01) bit;
	 * Detect Mult and My Discriminator nonzero (RFC 5880 §6.8.6). */
	if ((p[0] >> 5) != 1 || p[3] < HA_BFD_LEN || p[3] + HA_UDP_HDR_LEN > ulen ||
	    (p[1] & 0x05) || p[2] == 0 || (p[4] | p[5] | p[6] | p[7]) == 0)
		return XDP_PASS;
	your = ((__u32)p[8] << 24) | ((__u32)p[9] << 16) | ((__u32)p[10] << 8) | p[11];
	if (your == 0)
		return XDP_PASS; /* coming up: the thread matches it by address */
	slot = HA_BFD_SLOT(your);
	s = bpf_map_lookup_elem(&bfd_sessions, &slot);
	if (!s || s->local_disc != your || s->family != family || ttl < s->min_ttl)
		return XDP_PASS;
	for (i = 0; i < 16; i++) {
		if (i >= 4 && family == HA_FAMILY_V4)
			break;
		if (src[i] != s->remote[i])
			return XDP_PASS;
	}
	st = bpf_map_lookup_elem(&bfd_state, &slot);
	if (!st)
		return XDP_PASS;
	now = bpf_ktime_get_ns();
	st->last_rx_ns = now;
	if (s->detect_ns && st->tripped_epoch != s->epoch)
		bfd_arm(st, slot, s->detect_ns, now);
	if ((s->flags & HA_BFD_F_ABSORB) && st->tripped_epoch != s->epoch && bfd_same(p, s)) {
		st->absorbed++;
		cnt->bfd_absorbed++;
		return XDP_DROP;
	}
	st->passed++;
	cnt->bfd_passed++;
	return XDP_PASS;
}

static __always_inline int bfd_ipv4(struct hdr_cursor *c, struct iphdr *ip,
				    struct ha_xdp_counters *cnt)
{
	/* A fragment's payload is not a UDP header. */
	if (ip->frag_off & bpf_htons(HA_IP_MF_OFFSET))
		return -1;
	return bfd_rx(c, (const __u8 *)&ip->saddr, HA_FAMILY_V4, ip->ttl, cnt);
}

static __always_inline int bfd_ipv6(struct hdr_cursor *c, struct ipv6hdr *ip6,
				    struct ha_xdp_counters *cnt)
{
	return bfd_rx(c, (const __u8 *)&ip6->saddr, HA_FAMILY_V6, ip6->hop_limit, cnt);
}

#endif /* HA_BFD_PATH_H */
