/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The VRRP feature of the dispatcher (DESIGN.md decisions 3 and 4), for the VRRP packets of
 * an interface where it is enabled:
 *
 * - adverts for an instance the engine configured in vrrp_instances are checked (vrrp.h).
 *   One identical to the advert the engine follows only refreshes vrrp_state.last_seen_ns
 *   and is dropped: the daemon does not wake up. Any other valid advert becomes a
 *   ring-buffer event carrying the message and is dropped; an invalid one is counted,
 *   dropped, and logged through a rate-limited event. Adverts for VRIDs not configured here
 *   pass to the stack untouched.
 * - while following, a bpf_timer per instance watches last_seen_ns and sends a master-down
 *   event when the master has been silent for the Master_Down_Interval the engine set.
 *
 * ARP requests and neighbour solicitations for the VIPs are neigh.h's.
 */
#ifndef HA_VRRP_PATH_H
#define HA_VRRP_PATH_H

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
#include "vrrp.h"

/* Master-down: the followed master has been silent for down_ns (RFC 5798 §6.4.2). */
static int down_timer_fired(void *map, __u32 *index, struct ha_vrrp_state *st)
{
	struct ha_vrrp_instance *inst = bpf_map_lookup_elem(&vrrp_instances, index);
	struct ha_xdp_counters *cnt;
	struct ha_vrrp_event *ev;
	__u64 now = bpf_ktime_get_ns();
	__u64 deadline;

	(void)map;
	if (!inst || inst->state != HA_STATE_BACKUP || !(inst->flags & HA_F_FOLLOW) ||
	    !inst->down_ns) {
		st->armed = 0;
		return 0;
	}
	deadline = st->last_seen_ns + inst->down_ns;
	if (now < deadline) {
		st->due_ns = deadline;
		bpf_timer_start(&st->timer, deadline - now, 0);
		return 0;
	}
	ev = bpf_ringbuf_reserve(&vrrp_events, sizeof(*ev), 0);
	cnt = counters(iface_slot(st->key.ifindex));
	if (!ev) {
		/* The engine must hear it: try again shortly, still armed. */
		if (cnt)
			cnt->events_lost++;
		st->due_ns = now + HA_RETRY_NS;
		bpf_timer_start(&st->timer, HA_RETRY_NS, 0);
		return 0;
	}
	st->armed = 0;
	__builtin_memset(ev, 0, HA_OFF(ha_vrrp_event, data));
	ev->ts_ns = st->last_seen_ns;
	ev->ifindex = st->key.ifindex;
	ev->kind = HA_EV_MASTER_DOWN;
	ev->family = st->key.family;
	ev->vrid = st->key.vrid;
	bpf_ringbuf_submit(ev, 0);
	st->events++;
	if (cnt)
		cnt->master_down++;
	return 0;
}

/* The adverts of the followed master: refresh the timestamp, (re)arm the timer. */
static __always_inline void absorb(__u32 index, const struct ha_vrrp_instance *inst,
				   __u32 ifindex, __u8 family, __u8 vrid, __u64 now)
{
	struct ha_vrrp_state *st = bpf_map_lookup_elem(&vrrp_state, &index);

	if (!st)
		return;
	st->last_seen_ns = now;
	st->absorbed++;
	if (!inst->down_ns)
		return;
	/* Armed, due no later than this advert's deadline, and not overdue: nothing to do (the
	 * common case). A shorter interval than the armed one, or a timer past due (freed by a
	 * userspace rewrite of the entry), re-arms. */
	if (st->armed && st->due_ns <= now + inst->down_ns &&
	    now <= st->due_ns + HA_TIMER_SLACK_NS)
		return;
	st->key.ifindex = ifindex;
	st->key.family = family;
	st->key.vrid = vrid;
	if (bpf_timer_start(&st->timer, inst->down_ns, 0) != 0) {
		bpf_timer_init(&st->timer, &vrrp_state, HA_CLOCK_MONOTONIC);
		bpf_timer_set_callback(&st->timer, down_timer_fired);
		if (bpf_timer_start(&st->timer, inst->down_ns, 0) != 0)
			return;
	}
	st->due_ns = now + inst->down_ns;
	st->armed = 1;
}

static __always_inline void count_event(__u32 index)
{
	struct ha_vrrp_state *st = bpf_map_lookup_elem(&vrrp_state, &index);

	if (st)
		st->events++;
}

/* The instance of this interface slot, family and VRID, and its array index; NULL if none. */
static __always_inline struct ha_vrrp_instance *instance_of(__u32 slot, int v6, __u8 vrid,
							     __u32 *index)
{
	if (!slot)
		return 0;
	*index = HA_INSTANCE_INDEX(slot, v6 ? 1 : 0, vrid);
	return bpf_map_lookup_elem(&vrrp_instances, index);
}

/* At most one invalid-advert event per second per CPU. */
static __always_inline int invalid_log_due(__u64 now)
{
	__u32 zero = 0;
	__u64 *at = bpf_map_lookup_elem(&invalid_log_at, &zero);

	if (!at || (*at && now - *at < HA_NSEC_PER_SEC))
		return 0;
	*at = now;
	return 1;
}

static __always_inline void count_bad(struct ha_xdp_counters *cnt, __u8 reason)
{
	switch (reason) {
	case HA_BAD_TTL:
		cnt->drop_ttl++;
		break;
	case HA_BAD_VERSION:
		cnt->drop_version++;
		break;
	case HA_BAD_TYPE:
		cnt->drop_type++;
		break;
	case HA_BAD_LENGTH:
		cnt->drop_length++;
		break;
	case HA_BAD_CHECKSUM:
		cnt->drop_checksum++;
		break;
	case HA_BAD_AUTH_TYPE:
		cnt->drop_auth_type++;
		break;
	case HA_BAD_AUTH:
		cnt->drop_auth++;
		break;
	case HA_BAD_ADVER_INT:
		cnt->drop_adver_int++;
		break;
	case HA_BAD_ADDR_COUNT:
		cnt->drop_addr_count++;
		break;
	case HA_BAD_DESTINATION:
		cnt->drop_destination++;
		break;
	default:
		cnt->drop_unicast_peer++;
		break;
	}
}

static __always_inline struct ha_vrrp_event *scratch_event(struct xdp_md *ctx, __u8 family,
							   __u8 ttl)
{
	__u32 zero = 0;
	struct ha_vrrp_event *ev = bpf_map_lookup_elem(&vrrp_scratch, &zero);

	if (!ev)
		return 0;
	/* The header part only: data is overwritten by the copy of the message. */
	__builtin_memset(ev, 0, HA_OFF(ha_vrrp_event, data));
	ev->ts_ns = bpf_ktime_get_ns();
	ev->ifindex = ctx->ingress_ifindex;
	ev->family = family;
	ev->ttl = ttl;
	return ev;
}

/*
 * One VRRP packet: `msg` is its first byte in the frame, `src`/`dst` its IP addresses. The
 * absorb path first (no copy, no checksum), then the full checks.
 */
static __always_inline int handle_vrrp(struct xdp_md *ctx, struct ha_xdp_counters *cnt,
				       __u32 slot, const struct vrrp_pkt *p, struct hdr_cursor *c,
				       const __u8 *src, const __u8 *dst)
{
	const __u8 *msg = c->pos;
	const void *end = c->end;
	/* clang knows the IP length check implies this header check and drops it; the
	 * verifier does not follow that reasoning. The barrier keeps the check. */
	asm volatile("" : "+r"(msg));
	int v6 = p->family == HA_FAMILY_V6;
	struct ha_vrrp_instance *inst = 0;
	struct ha_vrrp_event *ev;
	enum vrrp_verdict v;
	__u32 index = 0;

	if (v6)
		cnt->seen_vrrp_v6++;
	else
		cnt->seen_vrrp_v4++;
	if ((const void *)(msg + HA_VRRP_FIXED_HDR_LEN) <= end &&
	    p->len >= HA_VRRP_FIXED_HDR_LEN) {
		inst = instance_of(slot, v6, msg[1], &index);
		if (inst && inst->version && is_followed(inst, msg, end, p, src, dst)) {
			absorb(index, inst, ctx->ingress_ifindex, p->family, msg[1],
			       bpf_ktime_get_ns());
			cnt->absorbed++;
			return XDP_DROP;
		}
	}

	ev = scratch_event(ctx, p->family, p->ttl);
	if (!ev)
		return XDP_PASS;
	__builtin_memcpy(ev->src, src, 4);
	__builtin_memcpy(ev->dst, dst, 4);
	if (v6) {
		__builtin_memcpy(ev->src, src, 16);
		__builtin_memcpy(ev->dst, dst, 16);
	}
	v = vrrp_check(ctx, ev, p, inst);
	switch (v) {
	case V_ABSORB:
		if (inst)
			absorb(index, inst, ev->ifindex, ev->family, ev->vrid, ev->ts_ns);
		cnt->absorbed++;
		return XDP_DROP;
	case V_EVENT:
		ev->kind = HA_EV_ADVERT;
		/* A full ring buffer must not lose the advert: the raw socket still gets it. The
		 * default (adaptive) notification wakes an engine that has drained the ring, which
		 * it always has when it waits; forcing a wake-up per record costs ~7 µs. */
		if (bpf_ringbuf_output(&vrrp_events, ev, sizeof(*ev), 0)) {
			cnt->events_lost++;
			return XDP_PASS;
		}
		count_event(index);
		cnt->advert_events++;
		return XDP_DROP;
	case V_NOT_OURS:
		cnt->pass_not_ours++;
		return XDP_PASS;
	case V_UNHANDLED:
		cnt->pass_unhandled++;
		return XDP_PASS;
	case V_TRUNCATED:
		cnt->truncated++;
		return XDP_PASS;
	case V_BAD:
	default:
		count_bad(cnt, ev->reason);
		if (invalid_log_due(ev->ts_ns)) {
			ev->kind = HA_EV_INVALID;
			if (bpf_ringbuf_output(&vrrp_events, ev, sizeof(*ev), 0))
				cnt->events_lost++;
		}
		return XDP_DROP;
	}
}

/* An IPv4 packet with protocol 112; `c` is past its header. */
static __always_inline int vrrp_ipv4(struct xdp_md *ctx, struct ha_xdp_counters *cnt, __u32 slot,
				     struct hdr_cursor *c, struct iphdr *ip)
{
	void *data = (void *)(long)ctx->data;
	struct vrrp_pkt p = {};
	__u32 tot = ha_be16(&ip->tot_len);
	__u32 hlen = ip->ihl * 4;

	if (tot < hlen || (void *)ip + tot > c->end) {
		cnt->truncated++;
		return XDP_PASS;
	}
	p.off = (__u32)((void *)c->pos - data);
	p.len = tot - hlen;
	p.ttl = ip->ttl;
	p.family = HA_FAMILY_V4;
	p.multicast = (ip->daddr & bpf_htonl(0xf0000000)) == bpf_htonl(0xe0000000);
	p.fragment = (ip->frag_off & bpf_htons(HA_IP_MF_OFFSET)) != 0;
	return handle_vrrp(ctx, cnt, slot, &p, c, (const __u8 *)&ip->saddr,
			   (const __u8 *)&ip->daddr);
}

/* An IPv6 packet with next header 112; `c` is past its header. */
static __always_inline int vrrp_ipv6(struct xdp_md *ctx, struct ha_xdp_counters *cnt, __u32 slot,
				     struct hdr_cursor *c, struct ipv6hdr *ip6)
{
	void *data = (void *)(long)ctx->data;
	struct vrrp_pkt p = {};
	__u32 plen = ha_be16(&ip6->payload_len);

	if (c->pos + plen > c->end) {
		cnt->truncated++;
		return XDP_PASS;
	}
	p.off = (__u32)(c->pos - data);
	p.len = plen;
	p.ttl = ip6->hop_limit;
	p.family = HA_FAMILY_V6;
	p.multicast = ip6->daddr.in6_u.u6_addr8[0] == 0xff;
	return handle_vrrp(ctx, cnt, slot, &p, c, (const __u8 *)&ip6->saddr,
			   (const __u8 *)&ip6->daddr);
}

#endif /* HA_VRRP_PATH_H */
