/* libFuzzer: the load balancer's packet path (dataplane/lbtable/lb_path.h)
 * on arbitrary frames, over a small fixed table in memory, fresh for every
 * input. Input: one mode byte, then the frame (Ethernet header first).
 *
 *   mode & 3      0 or 3 DNAT, 1 full-NAT, 2 DSR (lb_config flags)
 *   mode & 4      every service with ClientIP affinity
 *   mode & 8      a first frame before the frame: a big-endian u16 length
 *                 and that many bytes, forwarded first (the flow an ICMP
 *                 error or a reply belongs to, the first fragment of a
 *                 later one)
 *
 * The frame sits in a buffer of exactly its size (ASan sees any read past
 * its end) with room in front for DSR's outer header. What must hold:
 *  - a frame passed is untouched;
 *  - a frame forwarded still parses, as the flow the path said it becomes
 *    (DSR: the L2 header, an outer header to the backend, then the packet
 *    as it came); if its checksums were right, they still are;
 *  - the same frame forwarded again (now an established flow) comes out
 *    the same;
 *  - the reply to a NAT-forwarded packet (the output with its addresses
 *    and ports swapped) goes back through lb_reverse as the client's flow
 *    reversed, VIP as its source;
 *  - lb_reverse on the frame itself leaves it untouched or rewrites it into
 *    a frame that parses, with checksums kept. */
#define LB_PATH_FLAT_WRITES
#include "dataplane/lbtable/lb_path.h"

#include "base/base.h"
#include "tests/dataplane/lb_vectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- an executor on small arrays ------------------------------------------------- */

#define F_SVCS 8
#define F_BACKENDS 8
#define F_ARENA 32
#define F_STATE 32
#define HEADROOM 64

struct f_ct {
	struct lb_flow key;
	struct lb_ct_val val;
};

struct f_frag {
	struct lb_frag_key key;
	struct lb_frag_val val;
};

struct f_aff {
	struct lb_affinity_key key;
	struct lb_affinity_val val;
};

struct lb_exec {
	struct lb_service svcs[F_SVCS];
	unsigned n_svcs;
	struct lb_backend backends[F_BACKENDS];
	__u32 arena[F_ARENA];
	unsigned arena_used;
	struct lb_config cfg;
	struct f_ct ct[F_STATE];
	struct f_frag frag[F_STATE];
	struct f_aff aff[F_STATE];
	unsigned n_ct, n_frag, n_aff;
	struct lb_counters counters[F_SVCS + 1];
	__u64 now;
	__u8 *data, *end;
};

LB_PATH const struct lb_service *lb_env_service(struct lb_exec *x, const struct lb_vip_key *key)
{
	for (unsigned i = 0; i < x->n_svcs; i++)
		if (memcmp(&x->svcs[i].key, key, sizeof(*key)) == 0)
			return &x->svcs[i];
	return NULL;
}

LB_PATH int lb_env_ring_slot(struct lb_exec *x, __u32 slot, __u32 *ret_idx)
{
	if (slot >= x->arena_used)
		abort(); /* a service's ring is inside the arena: the path read past it */
	*ret_idx = x->arena[slot];
	return 0;
}

LB_PATH const struct lb_backend *lb_env_backend(struct lb_exec *x, __u32 idx)
{
	return idx < F_BACKENDS ? &x->backends[idx] : NULL;
}

LB_PATH const struct lb_config *lb_env_config(struct lb_exec *x)
{
	return &x->cfg;
}

/* Linear search over n used entries of a state array; -1 when absent. */
#define F_INDEX(tab, n, k)                                                        \
	({                                                                        \
		int i_ = -1;                                                      \
		for (unsigned j_ = 0; j_ < (n) && i_ < 0; j_++)                  \
			if (memcmp(&(tab)[j_].key, (k), sizeof(*(k))) == 0)      \
				i_ = (int)j_;                                     \
		i_;                                                               \
	})

/* Insert or replace; -ENOSPC when full (as a full BPF hash map refuses). */
#define F_PUT(tab, n, k, v)                                                       \
	({                                                                        \
		int i_ = F_INDEX(tab, n, k), r_ = 0;                              \
		if (i_ < 0 && (n) < F_STATE)                                      \
			i_ = (int)(n)++;                                          \
		if (i_ >= 0) {                                                    \
			(tab)[i_].key = *(k);                                     \
			(tab)[i_].val = *(v);                                     \
		} else {                                                          \
			r_ = -ENOSPC;                                             \
		}                                                                 \
		r_;                                                               \
	})

LB_PATH struct lb_ct_val *lb_env_ct_lookup(struct lb_exec *x, const struct lb_flow *key)
{
	int i = F_INDEX(x->ct, x->n_ct, key);
	return i < 0 ? NULL : &x->ct[i].val;
}

LB_PATH int lb_env_ct_update(struct lb_exec *x, const struct lb_flow *key,
			     const struct lb_ct_val *val, int only_new)
{
	if (only_new && F_INDEX(x->ct, x->n_ct, key) >= 0)
		return -EEXIST;
	return F_PUT(x->ct, x->n_ct, key, val);
}

LB_PATH struct lb_frag_val *lb_env_frag_lookup(struct lb_exec *x, const struct lb_frag_key *key)
{
	int i = F_INDEX(x->frag, x->n_frag, key);
	return i < 0 ? NULL : &x->frag[i].val;
}

LB_PATH void lb_env_frag_update(struct lb_exec *x, const struct lb_frag_key *key,
				const struct lb_frag_val *val)
{
	(void)F_PUT(x->frag, x->n_frag, key, val);
}

LB_PATH struct lb_affinity_val *lb_env_affinity_lookup(struct lb_exec *x,
							const struct lb_affinity_key *key)
{
	int i = F_INDEX(x->aff, x->n_aff, key);
	return i < 0 ? NULL : &x->aff[i].val;
}

LB_PATH void lb_env_affinity_update(struct lb_exec *x, const struct lb_affinity_key *key,
				    const struct lb_affinity_val *val)
{
	(void)F_PUT(x->aff, x->n_aff, key, val);
}

LB_PATH __u64 lb_env_now_ns(struct lb_exec *x)
{
	return x->now;
}

LB_PATH void lb_env_count(struct lb_exec *x, __u32 service_id, __u32 bytes, __u32 what)
{
	if (service_id > F_SVCS)
		abort(); /* only the table's ids are counted */
	struct lb_counters *c = &x->counters[service_id];
	if (what & LB_COUNT_NO_BACKEND) {
		c->no_backend++;
		return;
	}
	c->packets++;
	c->bytes += bytes;
	c->connections += !!(what & LB_COUNT_NEW);
}

LB_PATH void lb_env_frame(struct lb_exec *x, __u8 **ret_data, __u8 **ret_end)
{
	*ret_data = x->data;
	*ret_end = x->end;
}

/* ---- the table: the vectors' addresses, so their frames seed the corpus ------------ */

static void add_backend(struct lb_exec *x, __u32 idx, const char *addr, __u32 id)
{
	if (lbv_addr(addr, &x->backends[idx].addr) < 0)
		abort();
	x->backends[idx].port = htons(8080);
	x->backends[idx].id = id;
}

static void add_service(struct lb_exec *x, const char *vip, uint16_t port, __u8 proto,
			const char *ring, __u32 flags)
{
	struct lb_service *s = &x->svcs[x->n_svcs++];

	if (lbv_addr(vip, &s->key.addr) < 0)
		abort();
	s->key.port = htons(port);
	s->key.proto = proto;
	s->id = x->n_svcs;
	s->flags = flags;
	s->affinity_timeout = 60;
	s->ring_off = x->arena_used;
	for (const char *p = ring; *p; p++)
		if (*p >= '0' && *p <= '9')
			x->arena[x->arena_used + s->ring_size++] = (__u32)(*p - '0');
	x->arena_used += s->ring_size;
}

static struct lb_exec *table_new(uint8_t mode)
{
	struct lb_exec *x = xnew(struct lb_exec, 1);
	__u32 aff = (mode & 4) ? LB_SVC_AFFINITY : 0;

	x->now = 1000000000000ull;
	x->cfg.flags = (mode & 3) == 1 ? LB_CFG_FULLNAT : (mode & 3) == 2 ? LB_CFG_DSR : 0;
	if (lbv_addr("198.18.0.1", &x->cfg.snat_addr) < 0 || lbv_addr("2001:2:0:ff::1", &x->cfg.snat_addr6) < 0)
		abort();
	add_backend(x, 0, "198.18.1.2", 10);
	add_backend(x, 1, "198.18.2.2", 11);
	add_backend(x, 2, "198.18.3.2", 12);
	add_backend(x, 3, "2001:2:0:1::2", 20);
	add_backend(x, 4, "2001:2:0:2::2", 21);
	add_backend(x, 5, "2001:2:0:3::2", 22);
	add_service(x, "198.19.0.10", 80, LB_IPP_TCP, "0120120", aff);
	add_service(x, "198.19.0.10", 53, LB_IPP_UDP, "0120120", aff);
	add_service(x, "198.19.0.10", 80, LB_IPP_SCTP, "0", aff);
	add_service(x, "198.19.0.11", 80, LB_IPP_TCP, "", aff);   /* empty ring */
	add_service(x, "198.19.0.13", 80, LB_IPP_TCP, "3", aff);  /* an IPv6 backend */
	add_service(x, "2001:2:0:19::10", 80, LB_IPP_TCP, "345", aff);
	add_service(x, "2001:2:0:19::10", 53, LB_IPP_UDP, "345", aff);
	return x;
}

/* ---- the checks --------------------------------------------------------------------- */

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_lb_path: %s\n", what);
		abort();
	}
}

/* A frame in a buffer of exactly HEADROOM + its size. */
struct frame {
	uint8_t *buf, *data, *end;
};

static void frame_init(struct frame *f, const uint8_t *bytes, size_t n)
{
	f->buf = xmalloc(HEADROOM + n); /* ASan's bound: the frame's end */
	f->data = f->buf + HEADROOM;
	f->end = f->data + n;
	if (n)
		memcpy(f->data, bytes, n);
}

static void frame_clear(struct frame *f)
{
	free(f->buf);
	f->buf = f->data = f->end = NULL;
}

static size_t frame_len(const struct frame *f)
{
	return (size_t)(f->end - f->data);
}

static bool flow_is(const struct lb_flow *f, const struct lb_addr *s, const struct lb_addr *d,
		    __be16 sp, __be16 dp, bool ports)
{
	return lb_addr_eq(&f->saddr, s) && lb_addr_eq(&f->daddr, d) &&
	       (!ports || (f->sport == sp && f->dport == dp));
}

/* DSR: L2 as it was, the outer header to the backend, the packet as it came. */
static void check_encap(const uint8_t *in, size_t n, const struct frame *f, const struct lb_pkt *p,
			const struct lb_result *r)
{
	const uint8_t *o = f->data + p->l3_off;
	size_t l3 = p->l3_off, e = r->encap_len;

	check(frame_len(f) == n + e, "DSR: the frame grows by the outer header");
	check(memcmp(f->data, in, l3) == 0, "DSR: the L2 header kept");
	check(memcmp(o + e, in + l3, n - l3) == 0, "DSR: the inner packet untouched");
	if (p->family == 4) {
		check(e == 20 && o[0] == 0x45 && o[9] == LB_IPP_IPIP, "DSR: an IPIP header");
		check((size_t)(o[2] << 8 | o[3]) == p->l3_len + 20u, "DSR: outer total length");
		check(lbv_fold(lbv_sum(o, 20, 0)) == 0xffff, "DSR: outer header checksum");
		check(memcmp(o + 16, &r->daddr.a[3], 4) == 0, "DSR: to the backend");
	} else {
		check(e == 40 && (o[0] >> 4) == 6 && o[6] == LB_IPP_IPV6, "DSR: an IPv6-in-IPv6 header");
		check((size_t)(o[4] << 8 | o[5]) == p->l3_len, "DSR: outer payload length");
		check(memcmp(o + 24, r->daddr.a, 16) == 0, "DSR: to the backend");
	}
}

/* A NAT rewrite: same length, parses as the flow r->to, checksums kept. */
static void check_nat(const uint8_t *in, size_t n, const struct frame *f, const struct lb_pkt *p,
		      const struct lb_tuple *t)
{
	struct lb_pkt q;

	check(frame_len(f) == n, "NAT: same length");
	check(lb_parse(f->data, f->end, &q) == LB_P_OK, "NAT: the rewritten frame parses");
	check(q.flow.proto == p->flow.proto && q.flags == p->flags, "NAT: same kind of packet");
	check(flow_is(&q.flow, &t->saddr, &t->daddr, t->sport, t->dport, !(p->flags & LB_PKT_FRAG_LATER)),
	      "NAT: the flow it was rewritten to");
	if (lbv_verify_frame(in, n) == NULL)
		check(lbv_verify_frame(f->data, frame_len(f)) == NULL, "NAT: checksums kept");
}

/* lb_forward on a copy of in; the verdict, the result, the frame after it. */
static int forward(struct lb_exec *x, const uint8_t *in, size_t n, struct frame *f, struct lb_pkt *p,
		   struct lb_result *r)
{
	frame_init(f, in, n);
	x->data = f->data;
	x->end = f->end;
	memset(r, 0, sizeof(*r));
	int v = lb_forward(x, f->data, f->end, p, r);
	if (v == LB_PASS)
		check(memcmp(f->data, in, n) == 0, "a frame passed is untouched");
	if (v == LB_ENCAP) {
		check(r->mode == LB_MODE_DSR && (r->encap_len == 20 || r->encap_len == 40), "encap length");
		f->data -= r->encap_len;
		x->data = f->data;
		if (lb_encap(f->data, f->end, p, r) == 0)
			check_encap(in, n, f, p, r);
		else
			v = LB_DROP;
	} else if (v == LB_FWD) {
		check(r->mode != LB_MODE_DSR, "DSR never rewrites in place");
		check_nat(in, n, f, p, &r->to);
	}
	return v;
}

/* lb_reverse on a copy of in: untouched, or rewritten (then parsed, with
 * checksums kept); *ret_q the parse of what came out. */
static int reverse(struct lb_exec *x, const uint8_t *in, size_t n, struct lb_pkt *ret_q)
{
	struct frame f;
	struct lb_pkt p;

	frame_init(&f, in, n);
	x->data = f.data;
	x->end = f.end;
	int v = lb_reverse(x, f.data, f.end, &p);
	check(v == LB_PASS || v == LB_FWD || v == LB_DROP, "reverse verdict");
	if (v == LB_PASS)
		check(memcmp(f.data, in, n) == 0, "a reply passed is untouched");
	if (v == LB_FWD) {
		check(lb_parse(f.data, f.end, ret_q) == LB_P_OK, "reverse: the rewritten frame parses");
		if (lbv_verify_frame(in, n) == NULL)
			check(lbv_verify_frame(f.data, n) == NULL, "reverse: checksums kept");
	}
	frame_clear(&f);
	return v;
}

/* The backend's answer to the frame f: addresses and ports swapped (the
 * sums do not change). */
static void mirror(uint8_t *d, const struct lb_pkt *p)
{
	size_t a = p->l3_off + (p->family == 4 ? 12 : 8), len = p->family == 4 ? 4 : 16;
	uint8_t tmp[16];

	memcpy(tmp, d + a, len);
	memmove(d + a, d + a + len, len);
	memcpy(d + a + len, tmp, len);
	memcpy(tmp, d + p->l4_off, 2);
	memmove(d + p->l4_off, d + p->l4_off + 2, 2);
	memcpy(d + p->l4_off + 2, tmp, 2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct lb_exec *x = table_new(data[0]);
	const uint8_t *in = data + 1;
	size_t n = size - 1;
	struct frame f1, f2;
	struct lb_pkt p1, p2, q;
	struct lb_result r1, r2;

	if ((data[0] & 8) && n >= 2) {
		size_t first = MIN((size_t)(in[0] << 8 | in[1]), n - 2);
		(void)forward(x, in + 2, first, &f1, &p1, &r1);
		frame_clear(&f1);
		in += 2 + first;
		n -= 2 + first;
	}
	int v1 = forward(x, in, n, &f1, &p1, &r1);
	int v2 = forward(x, in, n, &f2, &p2, &r2);
	check(v1 == v2, "forwarded again: the same verdict");
	if (v1 == LB_FWD || v1 == LB_ENCAP)
		check(frame_len(&f1) == frame_len(&f2) && memcmp(f1.data, f2.data, frame_len(&f1)) == 0 &&
		      r1.backend_idx == r2.backend_idx, "forwarded again: the same frame, the same backend");

	/* The reply of a NAT-forwarded flow: back to the client, from the VIP. */
	if (v1 == LB_FWD && !(p1.flags & (LB_PKT_ICMP_ERR | LB_PKT_FRAG_LATER))) {
		mirror(f1.data, &p1);
		int v = reverse(x, f1.data, frame_len(&f1), &q);
		check(v == LB_FWD, "the reply of a forwarded flow is translated");
		check(flow_is(&q.flow, &p1.flow.daddr, &p1.flow.saddr, p1.flow.dport, p1.flow.sport, true),
		      "the reply comes from the VIP to the client");
	}
	(void)reverse(x, in, n, &q);

	frame_clear(&f1);
	frame_clear(&f2);
	free(x);
	return 0;
}
