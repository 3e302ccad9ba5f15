/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The maps of ha_xdp (names are part of the contract: ha_common's *_MAP constants). The
 * dispatcher's own (ifaces, xdp_counters) and the VRRP feature's (vrrp_*, owned_vips*).
 * Sizes bound what one node runs: 255 VRIDs × 2 families on up to 16 interfaces, and the
 * VIPs and peers that go with them.
 */
#ifndef HA_MAPS_H
#define HA_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "ha_common.h"

#define HA_MAX_VIPS 16384
#define HA_MAX_PEERS 16384

/* Attach manager → dispatcher: interface index → its slot and enabled features. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HA_MAX_IFINDEX);
	__type(key, __u32);
	__type(value, struct ha_iface);
} ifaces SEC(".maps");

/* Engine → kernel: one per instance (HA_INSTANCE_INDEX), rewritten on transitions. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HA_INSTANCE_SLOTS);
	__type(key, __u32);
	__type(value, struct ha_vrrp_instance);
} vrrp_instances SEC(".maps");

/* Kernel-owned: last advert time, counts and the master-down timer (the engine only zeroes
 * an entry when its instance goes, which also cancels the timer). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HA_INSTANCE_SLOTS);
	__type(key, __u32);
	__type(value, struct ha_vrrp_state);
} vrrp_state SEC(".maps");

/* unicast_peer allow-list with each peer's TTL window. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HA_MAX_PEERS);
	__type(key, struct ha_peer_key);
	__type(value, struct ha_peer_ttl);
} vrrp_peers SEC(".maps");

/* VIPs answered for in XDP: filled on MASTER, cleared on leaving it (DESIGN.md §4). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HA_VIP4_SLOTS);
	__type(key, __u32);
	__type(value, struct ha_vip4_slot);
} owned_vips4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HA_MAX_VIPS);
	__type(key, struct ha_vip6_key);
	__type(value, struct ha_vip_value);
} owned_vips6 SEC(".maps");

/* The daemon's heartbeat and the fence time (ha_common.h: struct ha_fence). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ha_fence);
} fence SEC(".maps");

/* Events for the engine: 256 KiB, ~460 adverts of the largest size. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} vrrp_events SEC(".maps");

/* Per-CPU named counters, one set per interface slot (0: no slot); userspace adds the
 * per-CPU copies up. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HA_MAX_IFACES + 1);
	__type(key, __u32);
	__type(value, struct ha_xdp_counters);
} xdp_counters SEC(".maps");

/* The buffer the VRRP checks work in (one per CPU, so no locking): the packet is copied
 * into an event, checked there, and sent as it is when the engine must see it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ha_vrrp_event);
} vrrp_scratch SEC(".maps");

/* Per-CPU time of the last HA_EV_INVALID event: at most one per second per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} invalid_log_at SEC(".maps");

/* The BFD feature's: sessions (engine-written), their kernel state with the detection
 * timer, and the expiries for the BFD thread. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HA_BFD_SLOTS);
	__type(key, __u32);
	__type(value, struct ha_bfd_session);
} bfd_sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HA_BFD_SLOTS);
	__type(key, __u32);
	__type(value, struct ha_bfd_state);
} bfd_state SEC(".maps");

/* 16 KiB: 512 expiries; the BFD thread drains it as it wakes. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024);
} bfd_events SEC(".maps");

#endif /* HA_MAPS_H */
