/* kelp's packet-level load balancer: the packet path of
 * dataplane/lbtable/lb_path.h on the eBPF maps of lb_maps.bpf.h.
 *
 *   xdp_lb       XDP on the client-facing interfaces: a VIP's packets are
 *                balanced (DNAT, full-NAT, or DSR by IPIP / IPv6-in-IPv6),
 *                then sent on by the FIB (bpf_fib_lookup + bpf_redirect, or
 *                XDP_TX back out of the same interface); whatever the FIB
 *                cannot answer, and everything that is not a VIP, passes
 *                to the kernel.
 *   tc_lb_reply  tc (clsact ingress) on the backend-facing interfaces: a
 *                reply of a balanced flow, or an ICMP error about one, gets
 *                the VIP back as its source (and the client as its
 *                destination under full-NAT) and goes out where the FIB
 *                says (bpf_redirect, or bpf_redirect_neigh).
 *                Writes go through the skb helpers so CHECKSUM_PARTIAL
 *                packets (local backends on veths) stay right.
 *   xdp_pass     XDP_PASS only: for the peer of a veth that receives
 *                redirected frames (veth runs its NAPI only when the peer
 *                has an XDP program).
 *
 * lb_ct and lb_frag are this program's own (pinned by name, so a restart
 * keeps established flows); the rest is shared with the socket LB. */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/lb_maps.bpf.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define AF_INET 2
#define AF_INET6 10
#define LB_TC_PULL 256 /* bytes made linear for the return path's headers */

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_flow);
	__type(value, struct lb_ct_val);
	__uint(max_entries, LB_MAX_FLOWS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_frag_key);
	__type(value, struct lb_frag_val);
	__uint(max_entries, LB_MAX_FRAGS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_frag SEC(".maps");

/* One program run: XDP (xdp set) or tc (skb set). */
struct lb_exec {
	struct xdp_md *xdp;
	struct __sk_buff *skb;
};

#include "dataplane/lbtable/lb_path.h"

/* The parse and the decision of one packet: in a per-CPU map rather than on
 * the stack, which the decision's own temporaries and the subprograms'
 * frames need (512 bytes for the whole call chain). */
struct lb_scratch {
	struct lb_pkt p;
	struct lb_result r;
	struct lb_tuple t;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct lb_scratch);
	__uint(max_entries, 1);
} lb_scratch SEC(".maps");

static __always_inline struct lb_scratch *lb_scratch_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&lb_scratch, &zero);
}

/* ---- the seam: lookups ------------------------------------------------------------- */

LB_PATH const struct lb_service *lb_env_service(struct lb_exec *env, const struct lb_vip_key *key)
{
	return bpf_map_lookup_elem(&lb_services, key);
}

LB_PATH int lb_env_ring_slot(struct lb_exec *env, __u32 slot, __u32 *ret_idx)
{
	__u32 *v = bpf_map_lookup_elem(&lb_rings, &slot);
	if (!v)
		return -1;
	*ret_idx = *v;
	return 0;
}

LB_PATH const struct lb_backend *lb_env_backend(struct lb_exec *env, __u32 idx)
{
	return bpf_map_lookup_elem(&lb_backends, &idx);
}

LB_PATH const struct lb_config *lb_env_config(struct lb_exec *env)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&lb_config, &zero);
}

LB_PATH struct lb_ct_val *lb_env_ct_lookup(struct lb_exec *env, const struct lb_flow *key)
{
	return bpf_map_lookup_elem(&lb_ct, key);
}

LB_PATH int lb_env_ct_update(struct lb_exec *env, const struct lb_flow *key,
			     const struct lb_ct_val *val, int only_new)
{
	return bpf_map_update_elem(&lb_ct, key, val, only_new ? BPF_NOEXIST : BPF_ANY);
}

LB_PATH struct lb_frag_val *lb_env_frag_lookup(struct lb_exec *env, const struct lb_frag_key *key)
{
	return bpf_map_lookup_elem(&lb_frag, key);
}

LB_PATH void lb_env_frag_update(struct lb_exec *env, const struct lb_frag_key *key,
				const struct lb_frag_val *val)
{
	bpf_map_update_elem(&lb_frag, key, val, BPF_ANY);
}

LB_PATH struct lb_affinity_val *lb_env_affinity_lookup(struct lb_exec *env,
							const struct lb_affinity_key *key)
{
	return bpf_map_lookup_elem(&lb_affinity, key);
}

LB_PATH void lb_env_affinity_update(struct lb_exec *env, const struct lb_affinity_key *key,
				    const struct lb_affinity_val *val)
{
	bpf_map_update_elem(&lb_affinity, key, val, BPF_ANY);
}

LB_PATH __u64 lb_env_now_ns(struct lb_exec *env)
{
	return bpf_ktime_get_coarse_ns(); /* a tick is fine for timeouts in seconds */
}

LB_PATH void lb_env_count(struct lb_exec *env, __u32 service_id, __u32 bytes, __u32 what)
{
	struct lb_counters *c = bpf_map_lookup_elem(&lb_counters, &service_id);
	if (!c)
		return;
	if (what & LB_COUNT_NO_BACKEND) {
		c->no_backend++;
		return;
	}
	c->packets++;
	c->bytes += bytes;
	if (what & LB_COUNT_NEW)
		c->connections++;
}

/* ---- the seam: writes (XDP on the frame, tc through the skb helpers) -------------- */

LB_PATH int lb_env_store(struct lb_exec *env, __u32 off, const void *src, __u32 len)
{
	if (env->skb)
		return bpf_skb_store_bytes(env->skb, off, src, len, 0);
	__u8 *d = (__u8 *)(long)env->xdp->data, *end = (__u8 *)(long)env->xdp->data_end;
	return lb_flat_store(d, end, off, src, len);
}

LB_PATH int lb_env_csum(struct lb_exec *env, __u32 off, __u32 from, __u32 to, __u32 flags)
{
	if (env->skb) {
		__u64 size = (flags & LB_CSUM_16) ? 2 : 4;
		if (flags & LB_CSUM_L3)
			return bpf_l3_csum_replace(env->skb, off, from, to, size);
		if (flags & LB_CSUM_PSEUDO)
			size |= BPF_F_PSEUDO_HDR;
		if (flags & LB_CSUM_UDP)
			size |= BPF_F_MARK_MANGLED_0;
		return bpf_l4_csum_replace(env->skb, off, from, to, size);
	}
	__u8 *d = (__u8 *)(long)env->xdp->data, *end = (__u8 *)(long)env->xdp->data_end;
	return lb_flat_csum(d, end, off, from, to, flags);
}

LB_PATH int lb_env_sctp_recsum(struct lb_exec *env, __u32 off, __u32 len)
{
	__u8 *d, *end;
	if (env->skb) {
		if (bpf_skb_pull_data(env->skb, env->skb->len))
			return -1;
		d = (__u8 *)(long)env->skb->data;
		end = (__u8 *)(long)env->skb->data_end;
	} else {
		d = (__u8 *)(long)env->xdp->data;
		end = (__u8 *)(long)env->xdp->data_end;
	}
	return lb_sctp_recsum(d, end, off, len);
}

/* ---- XDP ---------------------------------------------------------------------------- */

/* The FIB's question for the IP header at ip (after the rewrite): 0, or -1
 * when the header is not all there. */
static __always_inline int fib_params(struct bpf_fib_lookup *fib, const struct lb_pkt *p,
				      const __u8 *ip, const __u8 *end, __u32 ifindex)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->ifindex = ifindex;
	if (p->family == 4) {
		if (ip + 20 > end)
			return -1;
		fib->family = AF_INET;
		fib->tos = ip[1];
		fib->l4_protocol = ip[9];
		fib->tot_len = bpf_ntohs(lb_ld16(ip + 2));
		fib->ipv4_src = lb_ld32(ip + 12);
		fib->ipv4_dst = lb_ld32(ip + 16);
		return 0;
	}
	if (ip + 40 > end)
		return -1;
	fib->family = AF_INET6;
	fib->flowinfo = lb_ld32(ip) & bpf_htonl(0x0fffffff);
	fib->l4_protocol = ip[6];
	fib->tot_len = bpf_ntohs(lb_ld16(ip + 4)) + 40;
	__builtin_memcpy(fib->ipv6_src, ip + 8, 16);
	__builtin_memcpy(fib->ipv6_dst, ip + 24, 16);
	return 0;
}

/* Out of the interface the configured next hop or the FIB names; the
 * kernel's routing when the FIB has no complete answer (no neighbour yet,
 * MTU exceeded, no route). */
static __always_inline int xdp_send(struct xdp_md *ctx, const struct lb_pkt *p)
{
	__u8 *data = (__u8 *)(long)ctx->data, *end = (__u8 *)(long)ctx->data_end;
	const struct lb_config *cfg = lb_env_config(0);
	struct bpf_fib_lookup fib;
	__u32 l3 = p->l3_off;

	if (!cfg || l3 > LB_ETH_HLEN + 4 * LB_MAX_VLANS || data + LB_ETH_HLEN > end)
		return XDP_DROP;
	if (cfg->ifindex) {
		__builtin_memcpy(data, cfg->gw_mac, 6);
		__builtin_memcpy(data + 6, cfg->src_mac, 6);
		if (cfg->ifindex == ctx->ingress_ifindex)
			return XDP_TX;
		return bpf_redirect(cfg->ifindex, 0);
	}
	if (fib_params(&fib, p, data + l3, end, ctx->ingress_ifindex))
		return XDP_DROP;
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		return XDP_PASS;
	__builtin_memcpy(data, fib.dmac, 6);
	__builtin_memcpy(data + 6, fib.smac, 6);
	if (fib.ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(fib.ifindex, 0);
}

/* Parse and rewrite are global functions: the verifier checks each once,
 * on any packet, instead of once per path through the decision between
 * them (inlined, the program exceeds the verifier's 1M instructions). */
__noinline int xdp_lb_parse(struct xdp_md *ctx, struct lb_pkt *p)
{
	if (!p)
		return LB_P_MALFORMED;
	return lb_parse((__u8 *)(long)ctx->data, (__u8 *)(long)ctx->data_end, p);
}

__noinline int xdp_lb_translate(struct xdp_md *ctx, const struct lb_pkt *p,
				const struct lb_tuple *t)
{
	struct lb_exec env = {.xdp = ctx};
	if (!p || !t)
		return -1;
	return lb_translate(&env, p, t);
}

__noinline int xdp_lb_encap(struct xdp_md *ctx, const struct lb_pkt *p, const struct lb_result *r)
{
	if (!p || !r || bpf_xdp_adjust_head(ctx, -(int)r->encap_len))
		return -1;
	return lb_encap((__u8 *)(long)ctx->data, (__u8 *)(long)ctx->data_end, p, r);
}

SEC("xdp")
int xdp_lb(struct xdp_md *ctx)
{
	struct lb_exec env = {.xdp = ctx};
	struct lb_scratch *s = lb_scratch_get();

	if (!s || xdp_lb_parse(ctx, &s->p) != LB_P_OK)
		return XDP_PASS;
	int v = lb_forward_decide(&env, &s->p, &s->r);
	if (v == LB_PASS)
		return XDP_PASS;
	if (v == LB_DROP)
		return XDP_DROP;
	if (v == LB_ENCAP ? xdp_lb_encap(ctx, &s->p, &s->r) : xdp_lb_translate(ctx, &s->p, &s->r.to))
		return XDP_DROP;
	return xdp_send(ctx, &s->p);
}

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* ---- tc: the return path -------------------------------------------------------------- */

__noinline int tc_lb_parse(struct __sk_buff *skb, struct lb_pkt *p)
{
	__u32 len = skb->len < LB_TC_PULL ? skb->len : LB_TC_PULL;

	if (!p)
		return LB_P_MALFORMED;
	bpf_skb_pull_data(skb, len);
	return lb_parse((__u8 *)(long)skb->data, (__u8 *)(long)skb->data_end, p);
}

__noinline int tc_lb_translate(struct __sk_buff *skb, const struct lb_pkt *p,
			       const struct lb_tuple *t)
{
	struct lb_exec env = {.skb = skb};
	/* skb is never NULL; saying so lets clang drop the XDP writes here. */
	if (!skb || !p || !t)
		return -1;
	return lb_translate(&env, p, t);
}

/* A translated reply goes out where the FIB says, not through the kernel's
 * input path: its source is now the VIP, and for a NodePort, an external IP
 * the node holds or full-NAT's node address that is one of the node's own
 * addresses, which input routing drops as a martian (unless accept_local,
 * and then rp_filter still would). Without a neighbour yet, the kernel
 * resolves it (bpf_redirect_neigh); what the FIB cannot answer (no route,
 * too big: the kernel sends the ICMP error) and frames with VLAN tags in
 * the data go to the kernel as before. No TTL decrement: the node is not
 * a hop, as for the forward direction. */
static __always_inline int tc_send(struct __sk_buff *skb, const struct lb_pkt *p)
{
	struct bpf_fib_lookup fib;
	__u8 *data = (__u8 *)(long)skb->data, *end = (__u8 *)(long)skb->data_end;

	if (p->l3_off != LB_ETH_HLEN || fib_params(&fib, p, data + LB_ETH_HLEN, end, skb->ingress_ifindex))
		return TC_ACT_OK;
	int rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return bpf_redirect_neigh(fib.ifindex, 0, 0, 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return TC_ACT_OK;
	if (bpf_skb_store_bytes(skb, 0, fib.dmac, 6, 0) || bpf_skb_store_bytes(skb, 6, fib.smac, 6, 0))
		return TC_ACT_SHOT;
	return bpf_redirect(fib.ifindex, 0);
}

SEC("tc")
int tc_lb_reply(struct __sk_buff *skb)
{
	struct lb_exec env = {.skb = skb};
	struct lb_scratch *s = lb_scratch_get();

	if (!s || tc_lb_parse(skb, &s->p) != LB_P_OK || lb_reverse_decide(&env, &s->p, &s->t) != LB_FWD)
		return TC_ACT_OK;
	if (tc_lb_translate(skb, &s->p, &s->t))
		return TC_ACT_SHOT;
	return tc_send(skb, &s->p);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
