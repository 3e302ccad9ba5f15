/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The load balancer's shared structs (DESIGN.md §7): C mirror of ha-common's `lb_maps.rs`,
 * pinned like ha_common.h by _Static_asserts here, layout tests there and the BTF test.
 * Addresses are 16 bytes, IPv4 in the first 4; ports in network order.
 */
#ifndef HA_LB_COMMON_H
#define HA_LB_COMMON_H

#include <linux/types.h>

#define HA_FEATURE_LB (1 << 1)

/* Service ids index the per-service counters; real ids the per-real ones and lb_reals. */
#define HA_LB_MAX_SERVICES 1024
#define HA_LB_MAX_REALS 16384
/* A Maglev slot no real server owns (every weight 0). Rust: maglev::EMPTY. */
#define HA_LB_EMPTY 0xffffffffu

/* ha_lb_service.flags */
#define HA_LB_SVC_VRRP (1 << 0)    /* forward only while owned_vips* holds the VIP (MASTER) */
#define HA_LB_SVC_PERSIST (1 << 1) /* persistence_timeout: by source address */

/* ha_lb_real.method */
#define HA_LB_DR 1   /* same L2: the destination MAC rewritten */
#define HA_LB_IPIP 2 /* IP-in-IP (RFC 2003) or IPv6 encapsulation (RFC 2473) */
#define HA_LB_GUE 3  /* GUE (draft-ietf-intarea-gue) variant 0 over UDP, as IPVS sends */

/* ha_lb_real.flags */
#define HA_LB_REAL_LIVE (1 << 0) /* in its service: its established flows keep going */

/* A virtual service as the XDP path looks it up: destination address, port, protocol. */
struct ha_lb_vip_key {
	__u8 addr[16];
	__be16 port;
	__u8 proto;  /* IPPROTO_TCP / UDP / SCTP */
	__u8 family; /* HA_FAMILY_V4 / V6 */
};

struct ha_lb_service {
	__u32 id;    /* 0..HA_LB_MAX_SERVICES: counters row */
	__u32 table; /* the live Maglev table: lb_maglev[table * size + hash % size] */
	__u32 flags; /* HA_LB_SVC_* */
	__u32 persist_timeout; /* seconds */
	__u8 persist_mask[16]; /* persistence_granularity applied to the source */
	__u8 src4[4];          /* tunnels' outer source for IPv4 real servers */
	__u8 src6[16];         /* and for IPv6 ones */
};

/* Any address of a service (map lb_vips): fragments to it are dropped, not passed. */
struct ha_lb_vip_addr {
	__u8 addr[16];
	__u8 family;
	__u8 pad[3];
};

struct ha_lb_real {
	__u8 addr[16];
	__u8 family;  /* of addr, the outer header's for tunnels */
	__u8 method;  /* HA_LB_DR / IPIP / GUE */
	__be16 tun_port; /* GUE: the destination UDP port */
	__u32 flags;  /* HA_LB_REAL_* */
	__u32 service; /* the service id it belongs to */
};

/* A flow (map lb_conns, LRU): its real server stays while the table changes. */
struct ha_lb_flow {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

struct ha_lb_conn {
	__u32 real;
	__u32 pad;
	__u64 seen_ns; /* bpf_ktime_get_ns() of its last packet (persistence timeout) */
};

/* Persistence (map lb_persist, LRU): a service's client, masked by its granularity. */
struct ha_lb_persist_key {
	__u32 service;
	__u8 src[16];
};

struct ha_lb_stats {
	__u64 packets;
	__u64 bytes;
};

/* Written by the daemon when it loads the program. */
struct ha_lb_config {
	__u32 table_size; /* M, a prime */
	__u32 tables;     /* how many tables lb_maglev holds */
};

/* Per-CPU verdicts of the LB path (map lb_counters, one entry). Rust: LbCounters. */
struct ha_lb_counters {
	__u64 seen;         /* frames to a virtual service */
	__u64 pass_backup;  /* VIP not owned (BACKUP director): to the stack */
	__u64 forward_dr;
	__u64 forward_ipip;
	__u64 forward_gue;
	__u64 conn_hit;     /* the flow's real server from the connection table */
	__u64 conn_miss;    /* chosen by Maglev and remembered */
	__u64 persist_hit;  /* the client's real server from the persistence table */
	__u64 conn_stale;   /* a remembered real server left its service: chosen again */
	__u64 no_real;      /* no real server with a weight: dropped */
	__u64 fragment;     /* IP fragments to a virtual address: dropped */
	__u64 icmp_too_big; /* too big for the tunnel: ICMP sent back (XDP_TX) */
	__u64 drop_too_big; /* too big and may not be answered (IPv4 without DF): dropped */
	__u64 no_route;     /* the kernel's FIB has no route to the real server: dropped */
	__u64 no_neigh;     /* no neighbour entry for the next hop yet: dropped */
	__u64 fwd_disabled; /* forwarding is off on the interface (sysctl): dropped */
	__u64 drop_other;   /* a frame the path could not rewrite (room, bounds): dropped */
};

#define HA_LB_COUNTERS_N 17

_Static_assert(sizeof(struct ha_lb_vip_key) == 20, "ha_lb_vip_key size");
_Static_assert(sizeof(struct ha_lb_service) == 52, "ha_lb_service size");
_Static_assert(sizeof(struct ha_lb_vip_addr) == 20, "ha_lb_vip_addr size");
_Static_assert(sizeof(struct ha_lb_real) == 28, "ha_lb_real size");
_Static_assert(sizeof(struct ha_lb_flow) == 40, "ha_lb_flow size");
_Static_assert(sizeof(struct ha_lb_conn) == 16, "ha_lb_conn size");
_Static_assert(sizeof(struct ha_lb_persist_key) == 20, "ha_lb_persist_key size");
_Static_assert(sizeof(struct ha_lb_stats) == 16, "ha_lb_stats size");
_Static_assert(sizeof(struct ha_lb_config) == 8, "ha_lb_config size");
_Static_assert(sizeof(struct ha_lb_counters) == HA_LB_COUNTERS_N * 8, "ha_lb_counters size");

#endif /* HA_LB_COMMON_H */
