/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The load balancer's feature of the dispatcher (DESIGN.md §7, §12): a frame to a virtual
 * service (VIP, port, protocol) is sent to one of its real servers, chosen by
 *   1. persistence (persistence_timeout): the client's last real server while it is live
 *      and the timeout has not run out since the client's last packet;
 *   2. else the connection table: the flow's real server while it is live, so an
 *      established flow keeps it when the Maglev table changes (weights, a real server
 *      added);
 *   3. else the service's Maglev table, indexed by the flow's hash (by the masked source
 *      under persistence). Both directors hash and build tables alike, so after a failover
 *      the other director picks the same real server with no state shared.
 * DR rewrites the MACs; TUN puts an IPIP or GUE header in front. The next hop (MACs,
 * interface, MTU) comes from the kernel's FIB (bpf_fib_lookup), which the daemon keeps
 * resolved with managed neighbour entries for the real servers; each CPU reuses a real
 * server's for up to a second (lb_next_hop).
 * A service held by a VRRP instance is forwarded only while this node owns the VIP: on a
 * BACKUP the frame goes to the stack, as it would without ha.
 */
#ifndef HA_LB_PATH_H
#define HA_LB_PATH_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "consts.h"
#include "lb_common.h"
#include "lb_encap.h"
#include "lb_maps.h"
#include "parsing.h"
#include "vips.h"

#define HA_AF_INET 2
#define HA_AF_INET6 10
#define HA_LB_NO_SERVICE (-1)
#define HA_IPV6_MIN_MTU 1280
/* How long a next hop from the FIB is reused: a neighbour's new MAC or a new route is
 * followed within this time. */
#define HA_LB_NEXTHOP_NS 1000000000ULL

/*
 * A real server's next hop as the FIB last gave it, per CPU (kernel-private: the daemon
 * never reads it). The FIB lookup is most of the forwarding cost, and every packet of a
 * real server goes the same way; it is looked up again when the entry is older than
 * HA_LB_NEXTHOP_NS, names another address (the real id was reused), or a packet is longer
 * than any that passed (the MTU check is the FIB's).
 */
struct lb_nexthop {
	__u8 addr[16];
	__u8 dmac[6];
	__u8 smac[6];
	__u32 ifindex;
	__u32 max_len; /* the longest outer packet the FIB let through */
	__u64 stamp_ns;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HA_LB_MAX_REALS);
	__type(key, __u32);
	__type(value, struct lb_nexthop);
} lb_nexthops SEC(".maps");

/* What the path needs of a packet, read once. */
struct lb_pkt {
	struct ha_lb_flow flow;
	__u32 len; /* the IP packet's length, as its header says */
	__u8 tos;  /* IPv4 TOS or IPv6 traffic class */
	__u8 df;   /* IPv4 DF (IPv6: always, routers never fragment) */
	__u8 v6;
	__u8 pad;
};

/* murmur3's 32-bit mixing: fixed constants and no seed, so both directors agree. */
static __always_inline __u32 lb_rotl(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static __always_inline __u32 lb_mix(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51;
	k = lb_rotl(k, 15);
	k *= 0x1b873593;
	h ^= k;
	h = lb_rotl(h, 13);
	return h * 5 + 0xe6546b64;
}

static __always_inline __u32 lb_fmix(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 lb_hash_addr(__u32 h, const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	h = lb_mix(h, w[0]);
	h = lb_mix(h, w[1]);
	h = lb_mix(h, w[2]);
	return lb_mix(h, w[3]);
}

static __always_inline __u32 lb_flow_hash(const struct ha_lb_flow *f)
{
	__u32 h = lb_hash_addr(0, f->src);

	h = lb_hash_addr(h, f->dst);
	h = lb_mix(h, ((__u32)f->sport << 16) | f->dport);
	return lb_fmix(lb_mix(h, f->proto));
}

/* The real server `id` when it is live in service `svc`, else NULL. */
static __always_inline struct ha_lb_real *lb_live_real(__u32 id, __u32 svc)
{
	struct ha_lb_real *r = bpf_map_lookup_elem(&lb_reals, &id);

	if (!r || !(r->flags & HA_LB_REAL_LIVE) || r->service != svc)
		return 0;
	return r;
}

/* The Maglev table's real server for `hash`, or HA_LB_EMPTY. */
static __always_inline __u32 lb_maglev_pick(const struct ha_lb_service *svc, __u32 hash)
{
	__u32 zero = 0, idx, *id;
	struct ha_lb_config *cfg = bpf_map_lookup_elem(&lb_config, &zero);

	if (!cfg || cfg->table_size == 0 || svc->table >= cfg->tables)
		return HA_LB_EMPTY;
	idx = svc->table * cfg->table_size + hash % cfg->table_size;
	id = bpf_map_lookup_elem(&lb_maglev, &idx);
	return id ? *id : HA_LB_EMPTY;
}

static __always_inline void lb_count(void *map, __u32 id, __u32 bytes)
{
	struct ha_lb_stats *s = bpf_map_lookup_elem(map, &id);

	if (s) {
		s->packets++;
		s->bytes += bytes;
	}
}

/* The client's persistence template key: the service and the masked source. */
static __always_inline void lb_persist_key(const struct ha_lb_service *svc,
					   const struct lb_pkt *p, struct ha_lb_persist_key *pk)
{
	const __u32 *src = (const __u32 *)p->flow.src;
	const __u32 *mask = (const __u32 *)svc->persist_mask;
	__u32 *k = (__u32 *)pk->src;

	pk->service = svc->id;
	k[0] = src[0] & mask[0];
	k[1] = src[1] & mask[1];
	k[2] = src[2] & mask[2];
	k[3] = src[3] & mask[3];
}

/*
 * A new flow of a persistent service: the client's real server while its template is
 * fresh and the server live, else Maglev on the masked source (so both directors agree).
 */
static __always_inline struct ha_lb_real *lb_persistent(const struct ha_lb_service *svc,
							const struct lb_pkt *p,
							struct ha_lb_counters *lc, __u32 *id,
							__u64 now)
{
	struct ha_lb_persist_key pk = {};
	struct ha_lb_conn fresh = {};
	struct ha_lb_conn *pc;
	struct ha_lb_real *real;

	lb_persist_key(svc, p, &pk);
	pc = bpf_map_lookup_elem(&lb_persist, &pk);
	if (pc && now - pc->seen_ns < (__u64)svc->persist_timeout * HA_NSEC_PER_SEC) {
		real = lb_live_real(pc->real, svc->id);
		if (real) {
			*id = pc->real;
			pc->seen_ns = now;
			lc->persist_hit++;
			return real;
		}
		lc->conn_stale++;
	}
	*id = lb_maglev_pick(svc, lb_fmix(lb_hash_addr(0, pk.src)));
	real = lb_live_real(*id, svc->id);
	if (!real)
		return 0;
	fresh.real = *id;
	fresh.seen_ns = now;
	bpf_map_update_elem(&lb_persist, &pk, &fresh, BPF_ANY);
	lc->conn_miss++;
	return real;
}

/* Chooses the real server (see the top of this file); its id goes to *id. */
static __always_inline struct ha_lb_real *lb_choose(const struct ha_lb_service *svc,
						    const struct lb_pkt *p,
						    struct ha_lb_counters *lc, __u32 *id)
{
	struct ha_lb_conn *c = bpf_map_lookup_elem(&lb_conns, &p->flow);
	struct ha_lb_conn fresh = {};
	struct ha_lb_real *real;
	__u64 now;

	/* An established flow keeps its server: a hit costs this lookup and nothing more
	 * (no hash, no clock) unless the service is persistent. */
	if (c) {
		real = lb_live_real(c->real, svc->id);
		if (real) {
			*id = c->real;
			lc->conn_hit++;
			if (svc->flags & HA_LB_SVC_PERSIST) {
				/* The client's template lives as long as its connections do. */
				struct ha_lb_persist_key pk = {};
				struct ha_lb_conn *pc;

				lb_persist_key(svc, p, &pk);
				pc = bpf_map_lookup_elem(&lb_persist, &pk);
				if (pc && pc->real == c->real)
					pc->seen_ns = bpf_ktime_get_ns();
			}
			return real;
		}
		lc->conn_stale++;
	}
	now = bpf_ktime_get_ns();
	if (svc->flags & HA_LB_SVC_PERSIST) {
		real = lb_persistent(svc, p, lc, id, now);
	} else {
		*id = lb_maglev_pick(svc, lb_flow_hash(&p->flow));
		real = lb_live_real(*id, svc->id);
		if (real)
			lc->conn_miss++;
	}
	if (!real)
		return 0;
	fresh.real = *id;
	fresh.seen_ns = now;
	bpf_map_update_elem(&lb_conns, &p->flow, &fresh, BPF_ANY);
	return real;
}

/* The packet too big for the path: answered when it may be, else dropped. */
static __always_inline int lb_too_big(struct xdp_md *ctx, const struct lb_pkt *p, __u32 mtu,
				      __u32 overhead, struct ha_lb_counters *lc)
{
	int r;

	if (mtu <= overhead) {
		lc->drop_too_big++;
		return XDP_DROP;
	}
	if (p->v6) {
		/* Hosts raise a smaller "packet too big" to 1280 (RFC 8200 §5): no use. */
		if (mtu - overhead < HA_IPV6_MIN_MTU) {
			lc->drop_too_big++;
			return XDP_DROP;
		}
		r = lb_icmp6_too_big(ctx, mtu - overhead);
	} else {
		if (!p->df) {
			lc->drop_too_big++;
			return XDP_DROP;
		}
		r = lb_icmp4_too_big(ctx, mtu - overhead);
	}
	if (r) {
		lc->drop_too_big++;
		return XDP_DROP;
	}
	lc->icmp_too_big++;
	return XDP_TX;
}

/*
 * The next hop to `real` for a packet of `len` + `overhead` bytes: from this CPU's cache
 * when it is fresh, else from the kernel's FIB (bpf_fib_lookup, whose result is cached).
 * Returns a BPF_FIB_LKUP_RET_*; on FRAG_NEEDED, hop->max_len is the path's MTU.
 */
static __always_inline int lb_next_hop(struct xdp_md *ctx, const struct ha_lb_service *svc,
				       const struct lb_pkt *p, const struct ha_lb_real *real,
				       __u32 id, __u32 ifindex, __u32 overhead,
				       struct lb_nexthop *hop)
{
	struct bpf_fib_lookup fib = {};
	struct lb_nexthop *c = bpf_map_lookup_elem(&lb_nexthops, &id);
	__u64 now = bpf_ktime_get_coarse_ns();
	__u32 len = p->len + overhead;
	int outer_v6 = real->family == HA_FAMILY_V6;
	int rc;

	if (c && now - c->stamp_ns < HA_LB_NEXTHOP_NS && len <= c->max_len &&
	    __builtin_memcmp(c->addr, real->addr, 16) == 0) {
		__builtin_memcpy(hop->dmac, c->dmac, ETH_ALEN);
		__builtin_memcpy(hop->smac, c->smac, ETH_ALEN);
		hop->ifindex = c->ifindex;
		return BPF_FIB_LKUP_RET_SUCCESS;
	}
	fib.family = outer_v6 ? HA_AF_INET6 : HA_AF_INET;
	fib.ifindex = ifindex;
	fib.tot_len = len;
	if (outer_v6) {
		const __u8 *src = real->method == HA_LB_DR ? p->flow.src : svc->src6;

		__builtin_memcpy(fib.ipv6_src, src, 16);
		__builtin_memcpy(fib.ipv6_dst, real->addr, 16);
	} else {
		const __u8 *src = real->method == HA_LB_DR ? p->flow.src : svc->src4;

		__builtin_memcpy(&fib.ipv4_src, src, 4);
		__builtin_memcpy(&fib.ipv4_dst, real->addr, 4);
	}
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		hop->max_len = fib.mtu_result;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return rc;
	/* The lookup leaves the next hop in the destination: a gateway when the real server
	 * is not on-link. DR only rewrites the MAC, so it must reach the server itself. */
	if (real->method == HA_LB_DR &&
	    (outer_v6 ? __builtin_memcmp(fib.ipv6_dst, real->addr, 16)
		      : __builtin_memcmp(&fib.ipv4_dst, real->addr, 4)))
		return BPF_FIB_LKUP_RET_NOT_FWDED;
	__builtin_memcpy(hop->addr, real->addr, 16);
	__builtin_memcpy(hop->dmac, fib.dmac, ETH_ALEN);
	__builtin_memcpy(hop->smac, fib.smac, ETH_ALEN);
	hop->ifindex = fib.ifindex;
	/* A longer packet than this one is checked against the MTU again. */
	hop->max_len = len;
	hop->stamp_ns = now;
	if (c)
		*c = *hop;
	return rc;
}

/* Sends the packet of service `svc` to its real server. */
static __always_inline int lb_forward(struct xdp_md *ctx, const struct ha_lb_service *svc,
				      const struct lb_pkt *p, __u32 ifindex,
				      struct ha_lb_counters *lc)
{
	struct lb_nexthop hop;
	struct ha_lb_real *real;
	struct ethhdr *eth;
	__u32 id = HA_LB_EMPTY, overhead;
	int outer_v6, rc;

	if (svc->flags & HA_LB_SVC_VRRP) {
		int owned = p->v6 ? owned_vip6(ifindex, p->flow.dst) != 0
				  : owned_vip4(ifindex, p->flow.dst) != 0;

		if (!owned) {
			lc->pass_backup++;
			return XDP_PASS;
		}
	}
	real = lb_choose(svc, p, lc, &id);
	if (!real) {
		lc->no_real++;
		return XDP_DROP;
	}
	outer_v6 = real->family == HA_FAMILY_V6;
	overhead = lb_overhead(real->method, outer_v6);

	rc = lb_next_hop(ctx, svc, p, real, id, ifindex, overhead, &hop);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		break;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		return lb_too_big(ctx, p, hop.max_len, overhead, lc);
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		lc->no_neigh++;
		return XDP_DROP;
	case BPF_FIB_LKUP_RET_FWD_DISABLED:
		lc->fwd_disabled++;
		return XDP_DROP;
	default:
		lc->no_route++;
		return XDP_DROP;
	}

	if (real->method == HA_LB_DR) {
		void *data = (void *)(long)ctx->data;

		if (data + HA_ETH_LEN > (void *)(long)ctx->data_end) {
			lc->drop_other++;
			return XDP_DROP;
		}
		eth = data;
		__builtin_memcpy(eth->h_dest, hop.dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, hop.smac, ETH_ALEN);
		lc->forward_dr++;
	} else {
		int gue = real->method == HA_LB_GUE;
		/* The flow's entropy for the outer header (GUE source port, flow label). */
		__u32 hash = lb_flow_hash(&p->flow);

		rc = outer_v6 ? lb_encap6(ctx, hop.dmac, hop.smac, svc->src6, real->addr, gue,
					  real->tun_port, p->len, p->v6, p->tos, hash)
			      : lb_encap4(ctx, hop.dmac, hop.smac, svc->src4, real->addr, gue,
					  real->tun_port, p->len, p->v6, p->tos, p->df, hash);
		if (rc) {
			lc->drop_other++;
			return XDP_DROP;
		}
		if (gue)
			lc->forward_gue++;
		else
			lc->forward_ipip++;
	}
	lb_count(&lb_service_stats, svc->id, p->len);
	lb_count(&lb_real_stats, id, p->len);
	if (hop.ifindex == ifindex)
		return XDP_TX;
	return bpf_redirect(hop.ifindex, 0);
}

static __always_inline struct ha_lb_counters *lb_counters_of(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&lb_counters, &zero);
}

/* Whether `addr` is any service's address (for fragments, which carry no ports). */
static __always_inline int lb_is_vip(const __u8 *addr, __u8 family)
{
	struct ha_lb_vip_addr k = {.family = family};

	__builtin_memcpy(k.addr, addr, 16);
	return bpf_map_lookup_elem(&lb_vips, &k) != 0;
}

/* Looks the service up and forwards; HA_LB_NO_SERVICE when the frame is not for one. */
static __always_inline int lb_service(struct xdp_md *ctx, struct hdr_cursor *c,
				      struct lb_pkt *p, __u32 ifindex)
{
	struct ha_lb_vip_key key = {};
	struct ha_lb_service *svc;
	struct ha_lb_counters *lc;
	__be16 *ports = c->pos;

	/* TCP, UDP and SCTP (lb_balanced) all start with the source and destination ports. */
	if (!cursor_has(c, 4))
		return HA_LB_NO_SERVICE;
	p->flow.sport = ports[0];
	p->flow.dport = ports[1];
	__builtin_memcpy(key.addr, p->flow.dst, 16);
	key.port = p->flow.dport;
	key.proto = p->flow.proto;
	key.family = p->flow.family;
	svc = bpf_map_lookup_elem(&lb_services, &key);
	if (!svc)
		return HA_LB_NO_SERVICE;
	lc = lb_counters_of();
	if (!lc)
		return HA_LB_NO_SERVICE;
	lc->seen++;
	return lb_forward(ctx, svc, p, ifindex, lc);
}

/* The protocols services are made of: anything else is not looked at. */
static __always_inline int lb_balanced(__u8 proto)
{
	return proto == HA_IPPROTO_TCP || proto == HA_IPPROTO_UDP || proto == HA_IPPROTO_SCTP;
}

/* Dropping a fragment to a virtual address: a non-first fragment carries no ports, so it
 * cannot be given its flow's real server (Katran drops them too). */
static __always_inline int lb_fragment(const __u8 *dst, __u8 family)
{
	struct ha_lb_counters *lc;

	if (!lb_is_vip(dst, family))
		return HA_LB_NO_SERVICE;
	lc = lb_counters_of();
	if (lc)
		lc->fragment++;
	return XDP_DROP;
}

/* c->pos is past the IPv4 header `ip` (checked by parse_ipv4). */
static __always_inline int lb_ipv4(struct xdp_md *ctx, struct hdr_cursor *c, struct iphdr *ip,
				   __u32 ifindex)
{
	struct lb_pkt p = {};

	if (!lb_balanced(ip->protocol))
		return HA_LB_NO_SERVICE;
	__builtin_memcpy(p.flow.src, &ip->saddr, 4);
	__builtin_memcpy(p.flow.dst, &ip->daddr, 4);
	p.flow.proto = ip->protocol;
	p.flow.family = HA_FAMILY_V4;
	if (ip->frag_off & bpf_htons(HA_IP_MF_OFFSET))
		return lb_fragment(p.flow.dst, HA_FAMILY_V4);
	p.len = ha_be16(&ip->tot_len);
	p.tos = ip->tos;
	p.df = (ip->frag_off & bpf_htons(HA_IP_DF)) != 0;
	return lb_service(ctx, c, &p, ifindex);
}

/* c->pos is past the IPv6 fixed header `ip6`. Extension headers other than a fragment
 * header are not walked: such packets go to the stack. */
static __always_inline int lb_ipv6(struct xdp_md *ctx, struct hdr_cursor *c,
				   struct ipv6hdr *ip6, __u32 ifindex)
{
	struct lb_pkt p = {};

	if (!lb_balanced(ip6->nexthdr) && ip6->nexthdr != HA_IPPROTO_FRAGMENT)
		return HA_LB_NO_SERVICE;
	__builtin_memcpy(p.flow.src, &ip6->saddr, 16);
	__builtin_memcpy(p.flow.dst, &ip6->daddr, 16);
	p.flow.proto = ip6->nexthdr;
	p.flow.family = HA_FAMILY_V6;
	if (ip6->nexthdr == HA_IPPROTO_FRAGMENT)
		return lb_fragment(p.flow.dst, HA_FAMILY_V6);
	p.len = HA_IPV6_LEN + ha_be16(&ip6->payload_len);
	p.tos = (bpf_ntohl(*(__be32 *)ip6) >> 20) & 0xff;
	p.df = 1;
	p.v6 = 1;
	return lb_service(ctx, c, &p, ifindex);
}

#endif /* HA_LB_PATH_H */
