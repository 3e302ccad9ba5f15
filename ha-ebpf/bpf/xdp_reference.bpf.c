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
 * For `cargo xtask bench lb`:
 * - xdp_tx sends every frame back where it came from: run with BPF_F_TEST_XDP_LIVE_FRAMES
 *   it is the packet generator (the frames leave through the interface of the run).
 * - xdp_count counts frames per CPU (map rx_count) and drops them: the receiving end.
 * - xdp_reflect swaps the MAC addresses and sends the frame back: the most an XDP
 *   forwarder can do on the path (the XDP_TX ceiling the load balancer is measured
 *   against).
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

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} rx_count SEC(".maps");

SEC("xdp")
int xdp_tx(struct xdp_md *ctx)
{
	(void)ctx;
	return XDP_TX;
}

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&rx_count, &zero);

	(void)ctx;
	if (n)
		(*n)++;
	return XDP_DROP;
}

SEC("xdp")
int xdp_reflect(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	unsigned char *eth = data;
	unsigned char tmp[6];

	if (data + 14 > end)
		return XDP_DROP;
	__builtin_memcpy(tmp, eth, 6);
	__builtin_memcpy(eth, eth + 6, 6);
	__builtin_memcpy(eth + 6, tmp, 6);
	return XDP_TX;
}

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
