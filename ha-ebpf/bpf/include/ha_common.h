/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * C mirror of the Rust crate `ha-common`: every struct that crosses the kernel/userspace
 * boundary through a map or the ring buffer. One definition per language; the
 * _Static_asserts below and the Rust tests (ha-common's layout tests and ha-ebpf's BTF layout
 * test) pin both to the same numbers. Only fixed-width fields, explicit padding, no implicit
 * holes.
 */
#ifndef HA_COMMON_H
#define HA_COMMON_H

#include <linux/types.h>
#include <linux/bpf.h>

#define HA_OFF(type, field) __builtin_offsetof(struct type, field)

/* The counters map has one entry per interface slot (1..HA_MAX_IFACES); entry 0 counts
 * frames on an interface the engine gave no slot. Rust: XDP_COUNTERS_KEY is that entry 0. */
#define HA_XDP_COUNTERS_KEY 0

/* Longest VRRP message the fast path handles (and copies into an event): bpf_csum_diff's
 * limit. 8 + 4 × 126 IPv4 or 8 + 16 × 31 IPv6 addresses; longer adverts go to the stack. */
#define HA_VRRP_MAX_LEN 512

/* Features of an interface (ha_iface.features). Rust: ha_common::FEATURE_*. */
#define HA_FEATURE_VRRP (1 << 0)
/* HA_FEATURE_LB (1 << 1) is lb_common.h's. */
#define HA_FEATURE_BFD (1 << 2)
/* Not a feature: set on every configured interface by the fence timer, cleared by a beat
 * (struct ha_fence below), so the dispatcher learns it from the word it reads anyway. */
#define HA_IFACE_FENCED (1u << 31)

/*
 * What the dispatcher knows of an interface (map ifaces, indexed by ifindex), written by the
 * attach manager. Rust: ha_common::IfaceConfig.
 */
struct ha_iface {
	__u32 slot;     /* 1..HA_MAX_IFACES: its row in the per-interface arrays; 0 = none */
	__u32 features; /* HA_FEATURE_* enabled on it */
};

/*
 * Instances live in arrays (inlined lookups on the hot path), indexed by the interface's
 * slot (1..HA_MAX_IFACES, from ifaces[ifindex].slot, 0 = none), the family and the VRID:
 * HA_INSTANCE_INDEX(slot, v6, vrid).
 */
#define HA_MAX_IFINDEX 4096
#define HA_MAX_IFACES 16
#define HA_INSTANCE_SLOTS (HA_MAX_IFACES * 512)
#define HA_INSTANCE_INDEX(slot, v6, vrid) ((((slot) - 1) << 9) | ((v6) << 8) | (vrid))

/* The followed advert's message kept for a byte compare on the absorb path; longer adverts
 * take the full checks every time. */
#define HA_FOLLOW_MSG_LEN 64

/* ha_vrrp_key.family */
#define HA_FAMILY_V4 4
#define HA_FAMILY_V6 6

/* ha_vrrp_instance.state: the engine's view, written on every transition. */
#define HA_STATE_INIT 0
#define HA_STATE_BACKUP 1
#define HA_STATE_MASTER 2
#define HA_STATE_FAULT 3

/* ha_vrrp_instance.flags */
#define HA_F_UNICAST (1 << 0)           /* unicast_peer: TTL window per peer, unicast dst */
#define HA_F_CHECK_UNICAST_SRC (1 << 1) /* the source must be a configured peer */
#define HA_F_FOLLOW (1 << 2)            /* master_* is the advert the engine follows */
#define HA_F_CHECK_COUNT (1 << 3)       /* the address count must equal naddrs */
#define HA_F_SKIP_FOLLOWED (1 << 4)     /* skip_check_adv_addr: the followed master's adverts
					 * skip the count and unicast source checks */

/* ha_vrrp_instance.auth_type (VRRPv2 only, RFC 2338 §5.3.6; AH travels as IP protocol 51
 * and is never seen here). */
#define HA_AUTH_NONE 0
#define HA_AUTH_PASS 1
#define HA_AUTH_AH 2

/* ha_vrrp_event.kind */
#define HA_EV_ADVERT 1      /* a valid advert the engine must see; data holds it */
#define HA_EV_MASTER_DOWN 2 /* the followed master fell silent for down_ns */
#define HA_EV_INVALID 3     /* a dropped advert worth logging (rate-limited); reason says why */

/* ha_vrrp_event.reason for HA_EV_ADVERT: why it is not absorbed. */
#define HA_WHY_NOT_FOLLOWING 1 /* no followed master (new master, or engine not BACKUP) */
#define HA_WHY_CHANGED 2       /* differs from the followed advert (source, priority, ...) */

/* ha_vrrp_event.reason for HA_EV_INVALID: the drop counter it was charged to. */
#define HA_BAD_TTL 1
#define HA_BAD_VERSION 2
#define HA_BAD_TYPE 3
#define HA_BAD_LENGTH 4
#define HA_BAD_CHECKSUM 5
#define HA_BAD_AUTH_TYPE 6
#define HA_BAD_AUTH 7
#define HA_BAD_ADVER_INT 8
#define HA_BAD_ADDR_COUNT 9
#define HA_BAD_DESTINATION 10
#define HA_BAD_UNICAST_PEER 11

/*
 * Which VRRP instance a packet belongs to: the interface the XDP program runs on, the IP
 * family and the VRID. Rust: ha_common::VrrpKey.
 */
struct ha_vrrp_key {
	__u32 ifindex;
	__u8 family; /* HA_FAMILY_V4 / HA_FAMILY_V6 */
	__u8 vrid;
	__u8 pad[2];
};

/*
 * What the engine tells the kernel about one instance (map vrrp_instances), rewritten on every
 * transition and priority change. version 0 = no instance. Rust: ha_common::VrrpInstance.
 */
struct ha_vrrp_instance {
	__u8 version;   /* 2 or 3; 0 = this slot is free */
	__u8 priority;  /* effective priority */
	__u8 state;     /* HA_STATE_* */
	__u8 flags;     /* HA_F_* */
	__u8 auth_type; /* HA_AUTH_* (v2) */
	__u8 naddrs;    /* expected address count when HA_F_CHECK_COUNT */
	__u16 adver_int; /* v2: our Adver Int in seconds, as on the wire (must match) */
	__u8 auth_pass[8]; /* v2 PASS: the NUL-padded password */
	/* The advert the engine follows while BACKUP (HA_F_FOLLOW): an identical one from the
	 * same source only refreshes last_seen_ns and is dropped. */
	__u8 master[16]; /* source address (IPv4 in the first 4 bytes) */
	__u8 master_prio;
	__u8 pad1;
	__u16 master_int; /* the advert's bytes 4..6 as on the wire (network order) */
	__u16 master_csum; /* its checksum field as on the wire */
	__u16 master_len; /* its VRRP length */
	__u64 down_ns;    /* Master_Down_Interval; 0 = no kernel timer */
	__u8 master_dst[16]; /* the followed advert's destination */
	/* The followed advert's message when master_len <= HA_FOLLOW_MSG_LEN: an advert whose IP
	 * fields and bytes all equal the checked original is that advert again, so the absorb
	 * path compares instead of re-checking. */
	__u8 master_msg[HA_FOLLOW_MSG_LEN];
};

/*
 * What the kernel keeps per instance (map vrrp_state): written by XDP and the timer only;
 * userspace creates the entry once and then only reads it. Rust: ha_common::VrrpState.
 */
struct ha_vrrp_state {
	__u64 last_seen_ns; /* bpf_ktime_get_ns() of the last advert from the followed master */
	__u64 absorbed;     /* adverts consumed without waking userspace */
	__u64 events;       /* advert and master-down events sent */
	__u64 due_ns;       /* when the armed timer fires; a timer past due is dead and re-armed */
	struct ha_vrrp_key key; /* for the timer callback (array maps pass only the index) */
	__u32 armed;        /* the master-down timer runs */
	__u32 pad;
	struct bpf_timer timer;
};

/* A configured unicast peer (map vrrp_peers). Rust: ha_common::PeerKey / PeerTtl. */
struct ha_peer_key {
	struct ha_vrrp_key vrrp;
	__u8 addr[16];
};

struct ha_peer_ttl {
	__u8 min_ttl;
	__u8 max_ttl;
	__u8 pad[2];
};

/*
 * IPv4 VIPs this node answers ARP for while MASTER: an open-addressing table in an array
 * (map owned_vips4), so the lookup is inlined instead of a hash-map call. Slot
 * ha_vip4_hash(ifindex, addr) & (HA_VIP4_SLOTS - 1), then the next ones, at most
 * HA_VIP4_PROBES; a free slot ends the search, a deleted one does not.
 * Rust: ha_common::Vip4Slot, vip4_hash.
 */
#define HA_VIP4_SLOTS 16384
#define HA_VIP4_PROBES 8
#define HA_VIP_FREE 0
#define HA_VIP_USED 1
#define HA_VIP_DELETED 2

struct ha_vip4_slot {
	__u32 ifindex;
	__u8 addr[4];
	__u8 mac[6]; /* the answer's MAC */
	__u8 state;  /* HA_VIP_* */
	__u8 pad;
};

/* `addr` is the address's 4 bytes read as one native-endian word. */
static inline __u32 ha_vip4_hash(__u32 ifindex, __u32 addr)
{
	__u32 h = (addr ^ (ifindex * 0x9e3779b9u)) * 0x85ebca6bu;

	return h ^ (h >> 16);
}

/* IPv6 VIPs answered for (map owned_vips6, a hash). Rust: ha_common::Vip6Key / VipValue. */
struct ha_vip6_key {
	__u32 ifindex;
	__u8 addr[16];
};

struct ha_vip_value {
	__u8 mac[6]; /* the answer's MAC: the VMAC under use_vmac, else the interface's */
	__u8 router; /* IPv6: set the NA Router flag */
	__u8 pad;
};

/* One ring-buffer record. Rust: ha_common::VrrpEvent. */
struct ha_vrrp_event {
	__u64 ts_ns; /* bpf_ktime_get_ns(): receive time, or last_seen_ns for MASTER_DOWN */
	__u32 ifindex;
	__u8 kind;   /* HA_EV_* */
	__u8 family;
	__u8 vrid;
	__u8 ttl;    /* IPv4 TTL / IPv6 hop limit */
	__u8 reason; /* HA_WHY_* or HA_BAD_* */
	__u8 pad;
	__u16 len;   /* bytes of data used (the VRRP message) */
	__u32 pad1;
	__u8 src[16];
	__u8 dst[16];
	__u8 data[HA_VRRP_MAX_LEN];
};

/*
 * Per-CPU counters of ha_xdp (map xdp_counters). Rust: ha_common::XdpCounters. A frame
 * lands in exactly one verdict counter; vlan_tagged counts on top.
 */
struct ha_xdp_counters {
	__u64 seen_vrrp_v4;     /* IPv4 protocol 112 with a complete fixed header */
	__u64 seen_vrrp_v6;     /* IPv6 next header 112 with a complete fixed header */
	__u64 vlan_tagged;      /* frames with one 802.1Q/802.1ad tag */
	__u64 pass_other;       /* not VRRP/ARP/NS for us: to the stack untouched */
	__u64 truncated;        /* shorter than the headers they announce: to the stack */
	__u64 absorbed;         /* valid adverts from the followed master, dropped */
	__u64 advert_events;    /* valid adverts sent to userspace, dropped */
	__u64 pass_not_ours;    /* VRRP for a VRID/family not configured here */
	__u64 pass_unhandled;   /* ours but beyond the fast path (fragment, > 512 bytes,
				 * v3 IPv4 unicast with keepalived's old checksum): to the
				 * raw socket */
	__u64 drop_ttl;
	__u64 drop_version;
	__u64 drop_type;
	__u64 drop_length;
	__u64 drop_checksum;
	__u64 drop_auth_type;
	__u64 drop_auth;
	__u64 drop_adver_int;
	__u64 drop_addr_count;
	__u64 drop_destination;
	__u64 drop_unicast_peer;
	__u64 events_lost;      /* ring buffer full */
	__u64 arp_reply;        /* ARP requests for an owned VIP answered (XDP_TX) */
	__u64 arp_pass;         /* other ARP: to the stack */
	__u64 na_reply;         /* neighbour solicitations for an owned VIP answered */
	__u64 ns_pass;          /* other NS (DAD, unusual options): to the stack */
	__u64 master_down;      /* master-down events from the timer */
	__u64 lb;               /* frames the load balancer took (lb_counters: what it did) */
	__u64 bfd_absorbed;     /* BFD control packets identical to the last one: dropped */
	__u64 bfd_passed;       /* BFD control packets for a session, stamped, to the socket */
	__u64 fenced;           /* ARP/NS for and traffic to owned VIPs dropped while fenced */
};

#define HA_XDP_COUNTERS_N 30

/*
 * Fencing a dead or frozen daemon (the `fence` map, one entry, kernel-owned: it holds a
 * timer, which a userspace write would cancel). The VRRP engine beats by running the
 * program ha_fence_beat (BPF_PROG_TEST_RUN) with the fence time in its frame: it clears
 * `fenced` and restarts the timer. When the timer fires (no beat for `stale_ns`), it sets
 * `fenced`, and ha_xdp answers no ARP/NS for the VIPs it holds and drops the traffic
 * addressed to them, so neither it nor the stack (which still has the addresses) answers
 * for a master that no longer sends adverts. The data path reads one flag: no clock. The
 * program outlives the daemon: its XDP link is pinned in bpffs. Rust: ha_common::Fence.
 */
struct ha_fence {
	__u64 beat_ns;  /* bpf_ktime_get_ns() of the last beat */
	__u64 stale_ns; /* the fence time of the last beat; 0: fencing off */
	__u32 fenced;   /* the timer fired */
	__u32 pad;
	struct bpf_timer timer;
};

/*
 * BFD (RFC 5880) sessions the kernel watches (DESIGN.md §13). A session's entry sits at
 * its local discriminator's low bits (HA_BFD_SLOT), so a packet finds it by its Your
 * Discriminator with one inlined array lookup; the entry holds the whole discriminator to
 * confirm. Rust: ha_common::BfdSession / BfdState / BfdEvent.
 */
#define HA_BFD_SLOTS 1024
#define HA_BFD_SLOT(disc) ((disc) & (HA_BFD_SLOTS - 1))
#define HA_BFD_LEN 24

/* ha_bfd_session.flags */
#define HA_BFD_F_ABSORB (1 << 0) /* expect[] is the remote's steady packet: drop copies */

/* Engine → kernel, rewritten whenever the session's state or the remote's packet changes. */
struct ha_bfd_session {
	__u32 local_disc; /* 0 = free slot */
	__u32 epoch;      /* bumped on every write: a detection belongs to one epoch */
	__u64 detect_ns;  /* Detection Time (RFC 5880 §6.8.4); 0 = not watched (not Up/Init) */
	__u8 remote[16];  /* the neighbour (IPv4 in the first 4 bytes) */
	__u8 family;      /* HA_FAMILY_V4 / HA_FAMILY_V6 */
	__u8 min_ttl;     /* received TTL / hop limit must be >= this (ttl - max_hops) */
	__u8 flags;       /* HA_BFD_F_* */
	__u8 pad[5];
	__u8 expect[HA_BFD_LEN]; /* the remote's last packet the engine accepted */
};

/* Kernel-owned (XDP and the timer): userspace zeroes an entry when it gives the slot to a
 * new session, and otherwise only reads it. */
struct ha_bfd_state {
	__u64 last_rx_ns;   /* bpf_ktime_get_ns() of the last valid packet of the session */
	__u64 absorbed;     /* packets dropped as copies of expect[] */
	__u64 passed;       /* packets stamped and passed to the socket */
	__u64 detections;   /* expiries reported */
	__u64 due_ns;       /* when the armed timer fires */
	__u32 armed;
	__u32 tripped_epoch; /* the session epoch whose expiry was reported: no more absorbing */
	__u32 slot;          /* for the timer callback */
	__u32 pad;
	struct bpf_timer timer;
};

/* Kernel → engine through bfd_events: the Detection Time passed without a packet. Only a
 * ring-buffer record (no map value), so BTF does not carry it: the _Static_asserts and
 * ha-common's layout test pin it. */
struct ha_bfd_event {
	__u64 last_rx_ns; /* the last packet */
	__u64 fired_ns;   /* when the timer saw the expiry */
	__u32 local_disc;
	__u32 epoch;
	__u64 detect_ns;  /* the Detection Time it applied */
};

_Static_assert(sizeof(struct ha_iface) == 8, "ha_iface size");
_Static_assert(HA_OFF(ha_iface, features) == 4, "iface features offset");
_Static_assert(sizeof(struct ha_vrrp_key) == 8, "ha_vrrp_key size");
_Static_assert(sizeof(struct ha_vrrp_instance) == 128, "ha_vrrp_instance size");
_Static_assert(HA_OFF(ha_vrrp_instance, master_dst) == 48, "master_dst offset");
_Static_assert(HA_OFF(ha_vrrp_instance, master_msg) == 64, "master_msg offset");
_Static_assert(HA_OFF(ha_vrrp_instance, adver_int) == 6, "adver_int offset");
_Static_assert(HA_OFF(ha_vrrp_instance, auth_pass) == 8, "auth_pass offset");
_Static_assert(HA_OFF(ha_vrrp_instance, master) == 16, "master offset");
_Static_assert(HA_OFF(ha_vrrp_instance, master_prio) == 32, "master_prio offset");
_Static_assert(HA_OFF(ha_vrrp_instance, master_int) == 34, "master_int offset");
_Static_assert(HA_OFF(ha_vrrp_instance, master_csum) == 36, "master_csum offset");
_Static_assert(HA_OFF(ha_vrrp_instance, master_len) == 38, "master_len offset");
_Static_assert(HA_OFF(ha_vrrp_instance, down_ns) == 40, "down_ns offset");
_Static_assert(sizeof(struct ha_vrrp_state) == 64, "ha_vrrp_state size");
_Static_assert(HA_OFF(ha_vrrp_state, due_ns) == 24, "state due_ns offset");
_Static_assert(HA_OFF(ha_vrrp_state, key) == 32, "state key offset");
_Static_assert(HA_OFF(ha_vrrp_state, armed) == 40, "state armed offset");
_Static_assert(HA_OFF(ha_vrrp_state, timer) == 48, "state timer offset");
_Static_assert(sizeof(struct ha_peer_key) == 24, "ha_peer_key size");
_Static_assert(sizeof(struct ha_peer_ttl) == 4, "ha_peer_ttl size");
_Static_assert(sizeof(struct ha_vip4_slot) == 16, "ha_vip4_slot size");
_Static_assert(sizeof(struct ha_vip6_key) == 20, "ha_vip6_key size");
_Static_assert(sizeof(struct ha_vip_value) == 8, "ha_vip_value size");
_Static_assert(sizeof(struct ha_vrrp_event) == 568, "ha_vrrp_event size");
_Static_assert(HA_OFF(ha_vrrp_event, len) == 18, "event len offset");
_Static_assert(HA_OFF(ha_vrrp_event, src) == 24, "event src offset");
_Static_assert(HA_OFF(ha_vrrp_event, dst) == 40, "event dst offset");
_Static_assert(HA_OFF(ha_vrrp_event, data) == 56, "event data offset");
_Static_assert(sizeof(struct ha_xdp_counters) == HA_XDP_COUNTERS_N * 8, "ha_xdp_counters size");
_Static_assert(sizeof(struct ha_fence) == 40, "ha_fence size");
_Static_assert(sizeof(struct ha_bfd_session) == 64, "ha_bfd_session size");
_Static_assert(HA_OFF(ha_bfd_session, remote) == 16, "bfd remote offset");
_Static_assert(HA_OFF(ha_bfd_session, family) == 32, "bfd family offset");
_Static_assert(HA_OFF(ha_bfd_session, expect) == 40, "bfd expect offset");
_Static_assert(sizeof(struct ha_bfd_state) == 72, "ha_bfd_state size");
_Static_assert(HA_OFF(ha_bfd_state, armed) == 40, "bfd state armed offset");
_Static_assert(HA_OFF(ha_bfd_state, timer) == 56, "bfd state timer offset");
_Static_assert(sizeof(struct ha_bfd_event) == 32, "ha_bfd_event size");

#endif /* HA_COMMON_H */
