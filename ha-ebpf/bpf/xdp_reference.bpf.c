// SPDX-License-Identifier: (GPL-2.0-only OR MIT)
/*
 * Reference programs for `cargo xtask bench xdp`, timed by the same harnesses as ha_xdp
 * (BPF_PROG_TEST_RUN, and the kernel's run-time statistics on a veth). Not used by the
 * daemon.
 * - xdp_pass passes every frame and does nothing else: what the harness itself costs per
 *   packet (the floor each path of ha_xdp is reported net of).
 * - xdp_drop drops every frame: the same floor for the paths that drop or bounce a frame,
 *   so that neither side of a difference is followed by the stack's work on the frame.
 * - xdp_clock reads the clock ha_xdp stamps adverts with into a map, and passes: what
 *   that helper call (plus one array lookup and store) costs on this machine.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Where xdp_clock puts the time, so that the call is not optimised away. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} clock_sink SEC(".maps");

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_DROP;
}

SEC("xdp")
int xdp_clock(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *sink = bpf_map_lookup_elem(&clock_sink, &zero);

	(void)ctx;
	if (sink)
		*sink = bpf_ktime_get_ns();
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
