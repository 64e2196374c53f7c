/* The load balancer's packet path: match, pick, rewrite. Header-only plain
 * C (with lb_packet.h, the parse), no allocation, no libc: compiled into the XDP and tc programs
 * (clang -target bpf), the tests, and later the DPDK executor and the kernel
 * module. Every packet read is bounds-checked against the frame's end, every
 * loop is bounded, every function is inlined (what the verifier needs).
 *
 * The seam. What differs per executor is reached through functions the
 * includer defines (static; __always_inline in BPF) before or after including
 * this header, on its own `struct lb_exec`:
 *
 *   table   lb_env_service(env, key)          the service of a VIP:port/proto, or NULL
 *           lb_env_ring_slot(env, slot, &idx) one slot of the ring arena; <0: none
 *           lb_env_backend(env, idx)          a backend, or NULL
 *           lb_env_config(env)                struct lb_config (may be NULL: all zero)
 *   state   lb_env_ct_lookup / lb_env_ct_update(env, key, val, only_new)
 *           lb_env_frag_lookup / lb_env_frag_update
 *           lb_env_affinity_lookup / lb_env_affinity_update
 *           lb_env_now_ns(env), lb_env_count(env, service_id, bytes, what)
 *   writes  lb_env_store(env, off, src, len)   len 2, 4 or 16
 *           lb_env_csum(env, off, from, to, flags)  fix the checksum at off for
 *                                    a 2- or 4-byte change (LB_CSUM_*), as
 *                                    bpf_l3/l4_csum_replace do: a tc program
 *                                    maps them onto those helpers, so a
 *                                    CHECKSUM_PARTIAL skb stays right.
 *
 * A flat-buffer executor (XDP, DPDK, tests) defines LB_PATH_FLAT_WRITES and
 * lb_env_frame(env, &data, &end) instead of the two writes; they are then
 * defined here on the frame. Lookups return pointers the caller may update
 * in place (BPF map values, the test's hash tables).
 *
 * Offsets, never pointers, cross the seam: a write may move the packet
 * (bpf_skb_store_bytes), so everything is read first (lb_parse fills struct
 * lb_pkt) and then written by offset (lb_translate).
 *
 * What the path does with a frame (lb_forward, the client side):
 *  - not IPv4/IPv6 (after up to two VLAN tags), or malformed (truncated
 *    headers, IHL < 5, lengths past the frame, UDP length < 8, a bad IPv6
 *    extension chain, zero IPv6 payload length): LB_PASS, untouched — the
 *    kernel's own checks answer them;
 *  - a flow conntrack knows, whose backend is still there (same index and
 *    id): on to that backend, with the service id and mode it started with
 *    (a TCP SYN only when its VIP is still that Service's);
 *  - otherwise, not a VIP:port of the table: LB_PASS;
 *  - a VIP: ClientIP affinity, then ring[hash % ring_size]; an empty ring:
 *    LB_DROP and no_backend counted;
 *  - DNAT (and SNAT to the node for full-NAT): LB_FWD, rewritten in place with
 *    incremental checksums (RFC 1624; an IPv4 UDP checksum of 0 stays 0);
 *  - DSR: LB_ENCAP, the caller makes r->encap_len bytes of room in front and
 *    calls lb_encap() (IPIP for IPv4, IPv6-in-IPv6 for IPv6);
 *  - IPv4/IPv6 fragments: the first is balanced by its ports and remembered
 *    (lb_frag, keyed by source, destination, id, protocol); later ones follow
 *    it, or pass when unknown;
 *  - ICMP errors (unreachable, frag needed, packet too big, time exceeded)
 *    quoting a balanced flow are translated with it (PMTU discovery works).
 * lb_reverse does the return side (a tc program on the backend side): a
 * reply, or an ICMP error about a forwarded packet, of a flow in conntrack
 * gets the VIP back as its source (and the client as its destination for
 * full-NAT). */
#pragma once

#include "dataplane/lbtable/lb_packet.h"

/* ---- the seam ------------------------------------------------------------------ */

struct lb_exec;

enum lb_count_what {
	LB_COUNT_NEW = 1u << 0,        /* a new flow */
	LB_COUNT_NO_BACKEND = 1u << 1, /* dropped: the ring is empty */
};

LB_PATH const struct lb_service *lb_env_service(struct lb_exec *env, const struct lb_vip_key *key);
LB_PATH int lb_env_ring_slot(struct lb_exec *env, __u32 slot, __u32 *ret_idx);
LB_PATH const struct lb_backend *lb_env_backend(struct lb_exec *env, __u32 idx);
LB_PATH const struct lb_config *lb_env_config(struct lb_exec *env);
LB_PATH struct lb_ct_val *lb_env_ct_lookup(struct lb_exec *env, const struct lb_flow *key);
LB_PATH int lb_env_ct_update(struct lb_exec *env, const struct lb_flow *key,
			     const struct lb_ct_val *val, int only_new);
LB_PATH struct lb_frag_val *lb_env_frag_lookup(struct lb_exec *env, const struct lb_frag_key *key);
LB_PATH void lb_env_frag_update(struct lb_exec *env, const struct lb_frag_key *key,
				const struct lb_frag_val *val);
LB_PATH struct lb_affinity_val *lb_env_affinity_lookup(struct lb_exec *env,
							const struct lb_affinity_key *key);
LB_PATH void lb_env_affinity_update(struct lb_exec *env, const struct lb_affinity_key *key,
				    const struct lb_affinity_val *val);
LB_PATH __u64 lb_env_now_ns(struct lb_exec *env);
LB_PATH void lb_env_count(struct lb_exec *env, __u32 service_id, __u32 bytes, __u32 what);

/* The writes on a flat frame [d, end), for XDP, DPDK and tests. */
LB_PATH int lb_flat_store(__u8 *d, __u8 *end, __u32 off, const void *src, __u32 len)
{
	if (off > LB_MAX_WRITE_OFF)
		return -1;
	LB_BOUND(off, 0x3ff);
	d += off;
	if (len == 2) {
		if (d + 2 > end)
			return -1;
		lb_st16(d, *(const __u16 *)src);
	} else if (len == 4) {
		if (d + 4 > end)
			return -1;
		lb_st32(d, *(const __u32 *)src);
	} else {
		if (d + 16 > end)
			return -1;
		const __u32 *s = (const __u32 *)src;
		lb_st32(d, s[0]);
		lb_st32(d + 4, s[1]);
		lb_st32(d + 8, s[2]);
		lb_st32(d + 12, s[3]);
	}
	return 0;
}

LB_PATH int lb_flat_csum(__u8 *d, __u8 *end, __u32 off, __u32 from, __u32 to, __u32 flags)
{
	if (off > LB_MAX_WRITE_OFF)
		return -1;
	LB_BOUND(off, 0x3ff);
	d += off;
	if (d + 2 > end)
		return -1;
	__u16 c = lb_ld16(d);
	if ((flags & LB_CSUM_UDP) && c == 0)
		return 0;
	c = lb_csum_replace(c, from, to, flags);
	if ((flags & LB_CSUM_UDP) && c == 0)
		c = 0xffff;
	lb_st16(d, c);
	return 0;
}

LB_PATH int lb_env_sctp_recsum(struct lb_exec *env, __u32 off, __u32 len);

#ifdef LB_PATH_FLAT_WRITES
LB_PATH void lb_env_frame(struct lb_exec *env, __u8 **ret_data, __u8 **ret_end);

LB_PATH int lb_env_store(struct lb_exec *env, __u32 off, const void *src, __u32 len)
{
	__u8 *d, *end;
	lb_env_frame(env, &d, &end);
	return lb_flat_store(d, end, off, src, len);
}

LB_PATH int lb_env_csum(struct lb_exec *env, __u32 off, __u32 from, __u32 to, __u32 flags)
{
	__u8 *d, *end;
	lb_env_frame(env, &d, &end);
	return lb_flat_csum(d, end, off, from, to, flags);
}

LB_PATH int lb_env_sctp_recsum(struct lb_exec *env, __u32 off, __u32 len)
{
	__u8 *d, *end;
	lb_env_frame(env, &d, &end);
	return lb_sctp_recsum(d, end, off, len);
}
#else
LB_PATH int lb_env_store(struct lb_exec *env, __u32 off, const void *src, __u32 len);
LB_PATH int lb_env_csum(struct lb_exec *env, __u32 off, __u32 from, __u32 to, __u32 flags);
#endif

/* A live backend: still there under the id the state remembered. */
LB_PATH const struct lb_backend *lb_backend_live(struct lb_exec *env, __u32 idx, __u32 id)
{
	const struct lb_backend *be = lb_env_backend(env, idx);
	if (!be || be->id == 0 || be->id != id)
		return 0;
	return be;
}

/* ring[hash % ring_size], or -1 when the ring is empty. */
LB_PATH int lb_ring_pick(struct lb_exec *env, const struct lb_service *svc, __u32 hash,
			 __u32 *ret_idx)
{
	if (svc->ring_size == 0)
		return -1;
	return lb_env_ring_slot(env, svc->ring_off + hash % svc->ring_size, ret_idx);
}

/* ---- rewrite ------------------------------------------------------------------- */

/* What the packet's flow becomes. */
struct lb_tuple {
	struct lb_addr saddr, daddr;
	__be16 sport, dport;
};


LB_PATH __u16 lb_csum_addr(__u16 c, const struct lb_addr *from, const struct lb_addr *to, int v4)
{
	if (v4)
		return lb_csum_replace(c, from->a[3], to->a[3], 0);
LB_UNROLL
	for (int i = 0; i < 4; i++)
		c = lb_csum_replace(c, from->a[i], to->a[i], 0);
	return c;
}

/* The address at off goes from old to new; l3c is the IPv4 header checksum
 * that covers it, l4c the L4 checksum (flags l4f), 0 for none. */
LB_PATH int lb_set_addr(struct lb_exec *env, int v4, __u32 off, const struct lb_addr *old,
			const struct lb_addr *new, __u32 l3c, __u32 l4c, __u32 l4f)
{
	if (lb_addr_eq(old, new))
		return 0;
	if (v4) {
		if (lb_env_store(env, off, &new->a[3], 4) ||
		    (l3c && lb_env_csum(env, l3c, old->a[3], new->a[3], LB_CSUM_L3)) ||
		    (l4c && lb_env_csum(env, l4c, old->a[3], new->a[3], l4f)))
			return -1;
		return 0;
	}
	if (lb_env_store(env, off, new->a, 16))
		return -1;
LB_UNROLL
	for (int i = 0; i < 4; i++)
		if (l4c && lb_env_csum(env, l4c, old->a[i], new->a[i], l4f))
			return -1;
	return 0;
}

LB_PATH int lb_set_port(struct lb_exec *env, __u32 off, __be16 old, __be16 new, __u32 l4c,
			__u32 l4f)
{
	if (old == new)
		return 0;
	if (lb_env_store(env, off, &new, 2) ||
	    (l4c && lb_env_csum(env, l4c, old, new, l4f | LB_CSUM_16)))
		return -1;
	return 0;
}

/* An ICMP error: the quoted packet went the other way (its source is
 * flow.daddr); the error goes to where that packet now comes from. The
 * quoted IPv4 header's checksum absorbs its address changes, so the ICMP
 * checksum sees only the ports and the quoted L4 checksum; ICMPv6 covers
 * the quoted IPv6 addresses and the outer ones (pseudo-header) too. */
LB_PATH int lb_translate_icmp(struct lb_exec *env, const struct lb_pkt *p, const struct lb_tuple *t)
{
	int v4 = p->family == 4;
	const struct lb_flow *f = &p->flow;
	__u32 ic = p->csum_off, q = p->in_l3_off, ql4 = p->in_l4_off;
	__u32 qpay = v4 ? 0 : ic;

	if (p->in_csum_off) {
		__u16 c = p->in_csum, n = c;
		int udp = f->proto == LB_IPP_UDP;
		if (!(udp && c == 0)) {
			n = lb_csum_addr(n, &f->daddr, &t->daddr, v4);
			n = lb_csum_addr(n, &f->saddr, &t->saddr, v4);
			n = lb_csum_replace(n, f->dport, t->dport, LB_CSUM_16);
			n = lb_csum_replace(n, f->sport, t->sport, LB_CSUM_16);
			if (udp && n == 0)
				n = 0xffff;
		}
		if (n != c && (lb_env_store(env, p->in_csum_off, &n, 2) ||
			       lb_env_csum(env, ic, c, n, LB_CSUM_16)))
			return -1;
	}
	if (lb_set_addr(env, v4, q + (v4 ? 12 : 8), &f->daddr, &t->daddr, v4 ? q + 10 : 0, qpay, 0) ||
	    lb_set_addr(env, v4, q + (v4 ? 16 : 24), &f->saddr, &t->saddr, v4 ? q + 10 : 0, qpay, 0) ||
	    lb_set_port(env, ql4, f->dport, t->dport, ic, 0) ||
	    lb_set_port(env, ql4 + 2, f->sport, t->sport, ic, 0))
		return -1;

	__u32 l3 = p->l3_off, l3c = v4 ? l3 + 10 : 0, oc = v4 ? 0 : ic;
	if (lb_set_addr(env, v4, l3 + (v4 ? 16 : 24), &f->daddr, &t->daddr, l3c, oc, LB_CSUM_PSEUDO))
		return -1;
	if (lb_addr_eq(&p->icmp_saddr, &f->saddr) &&
	    lb_set_addr(env, v4, l3 + (v4 ? 12 : 8), &f->saddr, &t->saddr, l3c, oc, LB_CSUM_PSEUDO))
		return -1;
	return 0;
}

/* Rewrite the packet parsed into p so that its flow becomes t. Nothing is
 * read from the packet: p holds the old values. */
LB_PATH int lb_translate(struct lb_exec *env, const struct lb_pkt *p, const struct lb_tuple *t)
{
	if (p->flags & LB_PKT_ICMP_ERR)
		return lb_translate_icmp(env, p, t);

	int v4 = p->family == 4;
	__u32 l3 = p->l3_off, l3c = v4 ? l3 + 10 : 0;
	__u32 l4c = (p->flags & LB_PKT_L4_CSUM) ? p->csum_off : 0;
	__u32 l4f = (p->l4_proto == LB_IPP_UDP ? LB_CSUM_UDP : 0);

	if (lb_set_addr(env, v4, l3 + (v4 ? 12 : 8), &p->flow.saddr, &t->saddr, l3c, l4c,
			l4f | LB_CSUM_PSEUDO) ||
	    lb_set_addr(env, v4, l3 + (v4 ? 16 : 24), &p->flow.daddr, &t->daddr, l3c, l4c,
			l4f | LB_CSUM_PSEUDO))
		return -1;
	if (p->flags & LB_PKT_FRAG_LATER)
		return 0;
	if (lb_set_port(env, p->l4_off, p->flow.sport, t->sport, l4c, l4f) ||
	    lb_set_port(env, p->l4_off + 2, p->flow.dport, t->dport, l4c, l4f))
		return -1;
	if (p->l4_proto == LB_IPP_SCTP && (p->flow.sport != t->sport || p->flow.dport != t->dport)) {
		/* CRC32c covers no pseudo-header but the ports: recompute it whole. */
		if (p->flags & LB_PKT_FRAG)
			return -1;
		return lb_env_sctp_recsum(env, p->l4_off, p->l3_off + p->l3_len - p->l4_off);
	}
	return 0;
}

/* ---- decide --------------------------------------------------------------------- */

enum lb_verdict {
	LB_PASS = 0,  /* not ours, or not understood: to the stack untouched */
	LB_DROP = 1,  /* ours but undeliverable (empty ring) */
	LB_FWD = 2,   /* rewritten in place: forward it */
	LB_ENCAP = 3, /* DSR: make r->encap_len bytes of room in front, lb_encap(), forward */
};

enum lb_mode {
	LB_MODE_DNAT = 0,
	LB_MODE_FULLNAT = 1,
	LB_MODE_DSR = 2,
};

struct lb_result {
	struct lb_tuple to;         /* LB_FWD: what lb_translate makes of the flow */
	struct lb_addr daddr;       /* where the packet goes now: the backend */
	struct lb_addr encap_saddr; /* DSR: the outer source */
	__u32 service_id;
	__u32 backend_idx;
	__u32 hash;                 /* DSR: the flow hash (IPv6 flow label) */
	__u16 encap_len;            /* LB_ENCAP: 20 (IPIP) or 40 (IPv6 in IPv6) */
	__u8 mode;                  /* enum lb_mode */
	__u8 new_flow;
};

#define LB_SNAT_PORT_MIN 1024u
#define LB_CT_TOUCH_NS 1000000000ull /* how stale a flow's last_ns may get */
#define LB_AFFINITY_DEFAULT_S 10800u /* sessionAffinityConfig's default */

LB_PATH __u8 lb_mode_of(const struct lb_service *svc, const struct lb_config *cfg)
{
	__u32 f = cfg ? cfg->flags : 0;
	if ((svc->flags & LB_SVC_DSR) || (f & LB_CFG_DSR))
		return LB_MODE_DSR;
	if ((svc->flags & LB_SVC_FULLNAT) || (f & LB_CFG_FULLNAT))
		return LB_MODE_FULLNAT;
	return LB_MODE_DNAT;
}

LB_PATH int lb_addr_zero(const struct lb_addr *a)
{
	return !(a->a[0] | a->a[1] | a->a[2] | a->a[3]);
}

/* The node's address for full-NAT in the packet's family; -1 when unset
 * (the flow is then DNATed only). Copies, not pointers: clang may load
 * through a pointer chosen by a condition before testing it. */
LB_PATH int lb_snat_addr(const struct lb_config *cfg, int family, struct lb_addr *ret)
{
	*ret = family == 4 ? cfg->snat_addr : cfg->snat_addr6;
	return lb_addr_zero(ret) ? -1 : 0;
}

/* The source port of a full-NAT flow: the client's own when the reply
 * 5-tuple (backend -> node:port) is free, else one derived from the hash;
 * the reply entry claims it. */
LB_PATH int lb_snat_claim(struct lb_exec *env, const struct lb_pkt *p, const struct lb_backend *be,
			  const struct lb_addr *snat, struct lb_ct_val *rv, __u32 hash)
{
	struct lb_flow rk;
	__builtin_memset(&rk, 0, sizeof(rk));
	rk.saddr = be->addr;
	rk.daddr = *snat;
	rk.sport = be->port;
	rk.proto = p->flow.proto;
	rv->flags = LB_CT_REPLY;
	rv->orig = p->flow;
	for (__u32 i = 0; i < LB_SNAT_TRIES; i++) {
		__u16 port = i == 0 ? p->flow.sport
				    : LB_BE16(LB_SNAT_PORT_MIN + ((hash >> 8) + i * 7919u) % 64512u);
		rk.dport = port;
		rv->snat_port = port;
		struct lb_ct_val *cur = lb_env_ct_lookup(env, &rk);
		if (cur && !((cur->flags & LB_CT_REPLY) && lb_flow_eq(&cur->orig, &p->flow)))
			continue;
		if (lb_env_ct_update(env, &rk, rv, !cur) == 0)
			return 0;
	}
	return -1;
}

/* A new flow (or one whose backend is gone): affinity, else the ring; the
 * conntrack entries. NULL when no backend can take it. */
LB_PATH const struct lb_backend *lb_new_flow(struct lb_exec *env, const struct lb_pkt *p,
					     const struct lb_service *svc, const struct lb_config *cfg,
					     struct lb_result *r, __u64 now, __be16 *ret_sport)
{
	const struct lb_backend *be = 0;
	struct lb_affinity_key ak;
	__u32 idx = 0;

	r->hash = lb_flow_hash(&p->flow);
	__builtin_memset(&ak, 0, sizeof(ak));
	ak.service_id = svc->id;
	ak.client = p->flow.saddr;
	if (svc->flags & LB_SVC_AFFINITY) {
		struct lb_affinity_val *av = lb_env_affinity_lookup(env, &ak);
		__u64 tmo = svc->affinity_timeout ? svc->affinity_timeout : LB_AFFINITY_DEFAULT_S;
		if (av && now - av->last_ns <= tmo * 1000000000ull) {
			idx = av->backend_idx;
			be = lb_backend_live(env, idx, av->backend_id);
		}
	}
	if (!be) {
		if (lb_ring_pick(env, svc, r->hash, &idx))
			return 0;
		be = lb_env_backend(env, idx);
		if (!be || be->id == 0)
			return 0;
	}
	if (lb_addr_is4(&be->addr) != (p->family == 4))
		return 0;
	if (svc->flags & LB_SVC_AFFINITY) {
		struct lb_affinity_val av = {.backend_idx = idx, .backend_id = be->id, .last_ns = now};
		lb_env_affinity_update(env, &ak, &av);
	}

	struct lb_ct_val cv;
	__builtin_memset(&cv, 0, sizeof(cv));
	cv.backend_idx = idx;
	cv.backend_id = be->id;
	cv.service_id = svc->id;
	cv.last_ns = now;
	cv.flags = (__u16)((__u32)r->mode << LB_CT_MODE_SHIFT);
	cv.snat_port = p->flow.sport;
	struct lb_addr snat;
	if (r->mode == LB_MODE_FULLNAT && lb_snat_addr(cfg, p->family, &snat) == 0) {
		struct lb_ct_val rv = cv;
		if (lb_snat_claim(env, p, be, &snat, &rv, r->hash))
			return 0;
		cv.snat_port = rv.snat_port;
	} else if (r->mode != LB_MODE_DSR) {
		struct lb_flow rk;
		struct lb_ct_val rv = cv;
		__builtin_memset(&rk, 0, sizeof(rk));
		rk.saddr = be->addr;
		rk.daddr = p->flow.saddr;
		rk.sport = be->port;
		rk.dport = p->flow.sport;
		rk.proto = p->flow.proto;
		rv.flags = LB_CT_REPLY;
		rv.orig = p->flow;
		lb_env_ct_update(env, &rk, &rv, 0);
	}
	lb_env_ct_update(env, &p->flow, &cv, 0);
	r->backend_idx = idx;
	r->new_flow = 1;
	*ret_sport = cv.snat_port;
	return be;
}

/* Send the packet of p to be: DSR asks the caller for room, NAT says what
 * the flow becomes (r->to). */
LB_PATH int lb_apply(const struct lb_pkt *p, const struct lb_config *cfg,
		     const struct lb_backend *be, __be16 snat_port, struct lb_result *r)
{
	r->daddr = be->addr;
	if (r->mode == LB_MODE_DSR) {
		r->encap_saddr = p->family == 4 ? cfg->encap_src : cfg->encap_src6;
		if (lb_addr_zero(&r->encap_saddr))
			lb_snat_addr(cfg, p->family, &r->encap_saddr);
		r->encap_len = p->family == 4 ? 20 : 40;
		r->hash = lb_flow_hash(&p->flow);
		return p->l3_len > 0xffff - r->encap_len ? LB_DROP : LB_ENCAP;
	}
	struct lb_tuple *t = &r->to;
	t->daddr = be->addr;
	t->dport = be->port;
	t->sport = p->flow.sport;
	if (r->mode == LB_MODE_FULLNAT && lb_snat_addr(cfg, p->family, &t->saddr) == 0)
		t->sport = snat_port;
	else
		t->saddr = p->flow.saddr;
	return LB_FWD;
}

/* A later fragment follows the first one's backend, or passes. */
LB_PATH int lb_forward_later(struct lb_exec *env, const struct lb_pkt *p,
			     const struct lb_config *cfg, struct lb_result *r)
{
	struct lb_frag_key k;
	__builtin_memset(&k, 0, sizeof(k));
	k.saddr = p->flow.saddr;
	k.daddr = p->flow.daddr;
	k.id = p->frag_id;
	k.proto = p->flow.proto;
	struct lb_frag_val *fv = lb_env_frag_lookup(env, &k);
	if (!fv)
		return LB_PASS;
	const struct lb_backend *be = lb_backend_live(env, fv->backend_idx, fv->backend_id);
	if (!be)
		return LB_PASS;
	r->service_id = fv->service_id;
	r->backend_idx = fv->backend_idx;
	r->mode = fv->mode;
	lb_env_count(env, fv->service_id, p->l3_len, 0);
	return lb_apply(p, cfg, be, 0, r);
}

/* Remember a first fragment's decision for the later ones (lb_frag). */
LB_PATH void lb_frag_remember(struct lb_exec *env, const struct lb_pkt *p, const struct lb_result *r,
			      __u32 backend_id)
{
	struct lb_frag_key k;
	struct lb_frag_val fv;
	__builtin_memset(&k, 0, sizeof(k));
	__builtin_memset(&fv, 0, sizeof(fv));
	k.saddr = p->flow.saddr;
	k.daddr = p->flow.daddr;
	k.id = p->frag_id;
	k.proto = p->flow.proto;
	fv.backend_idx = r->backend_idx;
	fv.backend_id = backend_id;
	fv.service_id = r->service_id;
	fv.mode = r->mode;
	lb_env_frag_update(env, &k, &fv);
}

/* The VIP:port/proto packet p is sent to, or NULL. */
LB_PATH const struct lb_service *lb_vip_of(struct lb_exec *env, const struct lb_pkt *p)
{
	struct lb_vip_key key;
	__builtin_memset(&key, 0, sizeof(key));
	key.addr = p->flow.daddr;
	key.port = p->flow.dport;
	key.proto = p->flow.proto;
	return lb_env_service(env, &key);
}

/* The client side: what to do with a packet lb_parse accepted.
 *
 * Conntrack comes first: a flow it knows, whose backend is still there,
 * goes on with the service id and mode the entry recorded, with no service
 * lookup (one hash lookup instead of two per packet). So an established
 * flow outlives a change of its Service as it does under the kernel's
 * conntrack: it keeps its backend until that backend is gone (then it is
 * balanced again, over the VIP's current ring), or until its entry is
 * evicted. A TCP SYN starts a connection, whatever an old entry of the
 * same 5-tuple says: it needs its VIP to be one now, and the entry to be
 * that Service's. New flows and flows whose backend went look the VIP up. */
LB_PATH int lb_forward_decide(struct lb_exec *env, const struct lb_pkt *p, struct lb_result *r)
{
	__builtin_memset(r, 0, sizeof(*r));
	const struct lb_config *cfg = lb_env_config(env);
	if (!cfg)
		return LB_PASS;
	if (p->flags & LB_PKT_FRAG_LATER)
		return lb_forward_later(env, p, cfg, r);

	const struct lb_service *svc = 0;
	const struct lb_backend *be = 0;
	__be16 sport = p->flow.sport;
	__u64 now = lb_env_now_ns(env);
	struct lb_ct_val *ct = lb_env_ct_lookup(env, &p->flow);
	if (p->flags & LB_PKT_SYN) {
		svc = lb_vip_of(env, p);
		if (!svc)
			return LB_PASS;
		if (ct && ct->service_id != svc->id)
			ct = 0;
	}
	if (ct && !(ct->flags & LB_CT_REPLY))
		be = lb_backend_live(env, ct->backend_idx, ct->backend_id);
	if (be) {
		r->service_id = ct->service_id;
		r->backend_idx = ct->backend_idx;
		r->mode = (__u8)((ct->flags & LB_CT_MODE_MASK) >> LB_CT_MODE_SHIFT);
		sport = ct->snat_port;
		/* At most once a second: most packets leave the entry clean. */
		if (now - ct->last_ns > LB_CT_TOUCH_NS)
			ct->last_ns = now;
	} else {
		/* Errors about a flow we balance follow it; they never start one. */
		if (p->flags & LB_PKT_ICMP_ERR)
			return LB_PASS;
		if (!svc)
			svc = lb_vip_of(env, p);
		if (!svc)
			return LB_PASS;
		r->service_id = svc->id;
		r->mode = lb_mode_of(svc, cfg);
		be = lb_new_flow(env, p, svc, cfg, r, now, &sport);
		if (!be) {
			lb_env_count(env, svc->id, 0, LB_COUNT_NO_BACKEND);
			return LB_DROP;
		}
	}
	if ((p->flags & (LB_PKT_FRAG | LB_PKT_ICMP_ERR)) == LB_PKT_FRAG)
		lb_frag_remember(env, p, r, be->id);
	lb_env_count(env, r->service_id, p->l3_len, r->new_flow ? LB_COUNT_NEW : 0);
	return lb_apply(p, cfg, be, sport, r);
}

/* The return side: a reply (or an ICMP error about a forwarded packet) of a
 * flow in conntrack gets the client's view back: the VIP as its source, the
 * client as its destination. LB_FWD with *t what the flow becomes, or LB_PASS. */
LB_PATH int lb_reverse_decide(struct lb_exec *env, const struct lb_pkt *p, struct lb_tuple *t)
{
	if (p->flags & LB_PKT_FRAG_LATER)
		return LB_PASS;
	struct lb_ct_val *ct = lb_env_ct_lookup(env, &p->flow);
	if (!ct || !(ct->flags & LB_CT_REPLY))
		return LB_PASS;
	t->saddr = ct->orig.daddr;
	t->sport = ct->orig.dport;
	t->daddr = ct->orig.saddr;
	t->dport = ct->orig.sport;
	return LB_FWD;
}

/* The three steps in one, for executors that need no split (the BPF
 * programs run parse and translate as separate subprograms, so that the
 * verifier checks each once rather than once per path through the rest). */
LB_PATH int lb_forward(struct lb_exec *env, const __u8 *data, const __u8 *end, struct lb_pkt *p,
		       struct lb_result *r)
{
	if (lb_parse(data, end, p) != LB_P_OK)
		return LB_PASS;
	int v = lb_forward_decide(env, p, r);
	if (v == LB_FWD && lb_translate(env, p, &r->to))
		return LB_DROP;
	return v;
}

LB_PATH int lb_reverse(struct lb_exec *env, const __u8 *data, const __u8 *end, struct lb_pkt *p)
{
	struct lb_tuple t;
	if (lb_parse(data, end, p) != LB_P_OK || lb_reverse_decide(env, p, &t) != LB_FWD)
		return LB_PASS;
	return lb_translate(env, p, &t) ? LB_DROP : LB_FWD;
}

/* ---- DSR encapsulation ------------------------------------------------------------ */

LB_PATH int lb_encap_n(__u8 *data, __u8 *end, const struct lb_pkt *p, const struct lb_result *r,
		       const __u32 n)
{
	__u32 l2 = p->l3_off;
	if (l2 > LB_ETH_HLEN + 4 * LB_MAX_VLANS || data + LB_ETH_HLEN + 4 * LB_MAX_VLANS + n > end)
		return -1;
	/* The L2 header moves to the new start; the outer header goes after it. */
LB_UNROLL
	for (__u32 i = 0; i < LB_ETH_HLEN + 4 * LB_MAX_VLANS; i++)
		if (i < l2)
			data[i] = data[i + n];
	__u8 *o = data + l2;
	if (o + n > end)
		return -1;
	if (n == 20) {
		o[0] = 0x45;
		o[1] = p->tos;
		lb_st16(o + 2, LB_BE16(p->l3_len + 20));
		lb_st16(o + 4, 0);
		lb_st16(o + 6, p->df ? LB_BE16(0x4000) : 0);
		o[8] = LB_ENCAP_TTL;
		o[9] = LB_IPP_IPIP;
		lb_st16(o + 10, 0);
		lb_st32(o + 12, r->encap_saddr.a[3]);
		lb_st32(o + 16, r->daddr.a[3]);
		__u32 s = 0;
LB_UNROLL
		for (int i = 0; i < 20; i += 2)
			s += lb_ld16(o + i);
		lb_st16(o + 10, (__u16)~lb_csum_fold(s));
		return 0;
	}
	lb_st32(o, LB_BE32(0x60000000u | ((__u32)p->tos << 20) | (r->hash & 0xfffff)));
	lb_st16(o + 4, LB_BE16(p->l3_len));
	o[6] = LB_IPP_IPV6;
	o[7] = LB_ENCAP_TTL;
LB_UNROLL
	for (int i = 0; i < 4; i++) {
		lb_st32(o + 8 + 4 * i, r->encap_saddr.a[i]);
		lb_st32(o + 24 + 4 * i, r->daddr.a[i]);
	}
	return 0;
}

/* DSR: the caller moved the frame's start r->encap_len bytes earlier (data
 * is the new start); put the L2 header there and the outer IP header
 * (source r->encap_saddr, destination the backend) after it. */
LB_PATH int lb_encap(__u8 *data, __u8 *end, const struct lb_pkt *p, const struct lb_result *r)
{
	if (r->encap_len == 20)
		return lb_encap_n(data, end, p, r, 20);
	if (r->encap_len == 40)
		return lb_encap_n(data, end, p, r, 40);
	return -1;
}
