/* SPDX-License-Identifier: (GPL-2.0-only OR MIT) */
/*
 * The load balancer's maps (names are the contract: ha_common's LB_*_MAP). The daemon sizes
 * lb_maglev, lb_conns and lb_persist when it loads the program (the sizes here are what a
 * test run gets); the rest are fixed.
 */
#ifndef HA_LB_MAPS_H
#define HA_LB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lb_common.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ha_lb_config);
} lb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HA_LB_MAX_SERVICES);
	__type(key, struct ha_lb_vip_key);
	__type(value, struct ha_lb_service);
} lb_services SEC(".maps");

/* Every address some service listens on, with how many services do. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HA_LB_MAX_SERVICES);
	__type(key, struct ha_lb_vip_addr);
	__type(value, __u32);
} lb_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HA_LB_MAX_REALS);
	__type(key, __u32);
	__type(value, struct ha_lb_real);
} lb_reals SEC(".maps");

/* lb_config.tables Maglev tables of lb_config.table_size real ids each. Memory-mapped by the
 * daemon, which writes a spare table whole and then points the service at it: the swap is
 * one map update, atomic for the packets. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4 * 65537);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
} lb_maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ha_lb_flow);
	__type(value, struct ha_lb_conn);
} lb_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct ha_lb_persist_key);
	__type(value, struct ha_lb_conn);
} lb_persist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HA_LB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct ha_lb_stats);
} lb_service_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HA_LB_MAX_REALS);
	__type(key, __u32);
	__type(value, struct ha_lb_stats);
} lb_real_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ha_lb_counters);
} lb_counters SEC(".maps");

#endif /* HA_LB_MAPS_H */
