/* bench/lb's packet source and sink, both XDP.
 *
 *   xdp_gen   run by BPF_PROG_TEST_RUN in live-frames mode: writes the
 *             UDP/IPv4 headers of the template (the frames come back from
 *             the page pool as the last hop left them, NAT included), picks
 *             the next of gen_flows source ports, and redirects the frame out
 *             of gen_ifindex. The veth peer receives it as an xdp_frame, as
 *             a NIC driver would hand it over.
 *   xdp_sink  XDP_DROP: the backend end of the topology, counted by veth's
 *             own per-queue xdp_drops.
 *   xdp_fwd   the least an XDP forwarder does: new MAC addresses, then
 *             redirect out of fwd_ifindex; the floor under any XDP load
 *             balancer on the same path. */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define GEN_HDR_LEN 42 /* Ethernet 14 + IPv4 20 + UDP 8 */
#define GEN_SPORT_OFF 34
#define GEN_UCSUM_OFF 40

/* Set by the loader before load. */
const volatile __u64 gen_hdr[5];        /* bytes 0..39 of every frame (all but the UDP checksum) */
const volatile __u32 gen_ifindex;
const volatile __u32 gen_flows = 1;
const volatile __u32 gen_sport_base;    /* host order */
const volatile __u32 gen_ucsum_partial; /* UDP checksum sum, source port left out */
const volatile __u32 fwd_ifindex;
const volatile __u8 fwd_macs[12];       /* destination, then source */
const volatile __u32 fwd_fib;           /* ask the FIB instead (IPv4) */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 1);
} gen_seq SEC(".maps");

SEC("xdp")
int xdp_gen(struct xdp_md *ctx)
{
	__u8 *d = (__u8 *)(long)ctx->data, *end = (__u8 *)(long)ctx->data_end;
	__u32 zero = 0;
	__u64 *seq = bpf_map_lookup_elem(&gen_seq, &zero);

	if (!seq || d + GEN_HDR_LEN > end)
		return XDP_ABORTED;
	for (int i = 0; i < 5; i++)
		((__u64 *)d)[i] = gen_hdr[i];

	__u32 port = gen_sport_base + (__u32)(*seq % gen_flows);
	*seq += 1;
	__u32 sum = gen_ucsum_partial + port;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	__u16 csum = (__u16)~sum;
	*(__u16 *)(d + GEN_SPORT_OFF) = bpf_htons((__u16)port);
	*(__u16 *)(d + GEN_UCSUM_OFF) = bpf_htons(csum ? csum : 0xffff);
	return bpf_redirect(gen_ifindex, 0);
}

SEC("xdp")
int xdp_sink(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int xdp_fwd(struct xdp_md *ctx)
{
	__u8 *d = (__u8 *)(long)ctx->data, *end = (__u8 *)(long)ctx->data_end;

	if (d + 34 > end)
		return XDP_PASS;
	if (fwd_fib) {
		struct bpf_fib_lookup fib = {};
		fib.family = 2; /* AF_INET */
		fib.ifindex = ctx->ingress_ifindex;
		fib.tos = d[15];
		fib.l4_protocol = d[23];
		fib.tot_len = bpf_ntohs(*(__u16 *)(d + 16));
		fib.ipv4_src = *(__u32 *)(d + 26);
		fib.ipv4_dst = *(__u32 *)(d + 30);
		if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
			return XDP_PASS;
		__builtin_memcpy(d, fib.dmac, 6);
		__builtin_memcpy(d + 6, fib.smac, 6);
		return bpf_redirect(fib.ifindex, 0);
	}
	for (int i = 0; i < 12; i++)
		d[i] = fwd_macs[i];
	return bpf_redirect(fwd_ifindex, 0);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
