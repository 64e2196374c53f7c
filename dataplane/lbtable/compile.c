/* One Service compiled: for each of its ports, the VIPs it answers on and
 * the Maglev rings behind them, following kube-proxy's rules for which
 * endpoints a VIP may use. A ring is written anew only when its set of
 * backends (or its size) changes; otherwise the arena range stays. */
#include <arpa/inet.h>

#include "dataplane/lbtable/internal.h"

/* An endpoint of one service port, before it becomes a backend. */
struct cand {
	struct lb_addr addr;
	__u16 port;
	__u8 state;
	bool local;
};

static int cmp_cand(const void *pa, const void *pb)
{
	const struct cand *a = pa, *b = pb;
	int r = memcmp(&a->addr, &b->addr, sizeof(a->addr));

	return r ? r : (a->port > b->port) - (a->port < b->port);
}

static int cmp_ref(const void *pa, const void *pb)
{
	const struct lb_be_ref *a = pa, *b = pb;

	return (a->idx > b->idx) - (a->idx < b->idx);
}

/* The endpoints a ring of port ps in family f uses: those of every slice of
 * the family whose port of the same name and protocol has a number,
 * counted once per address and port (the best state and locality of its
 * copies), ready ones only, or, when none is ready, the serving and
 * terminating ones (kube-proxy's fallback). Canonical order. */
static unsigned gather(const struct lb_svc *s, const struct lb_port_spec *ps, int f,
		       bool local_only, struct cand **ret)
{
	size_t cap = 0, n = 0, out = 0;
	bool any_ready = false;

	for (unsigned i = 0; i < s->n_slices; i++)
		if (s->slices[i]->spec->family == f)
			cap += (size_t)s->slices[i]->spec->n_eps * s->slices[i]->spec->n_ports;
	struct cand *c = xnew(struct cand, cap);
	for (unsigned i = 0; i < s->n_slices; i++) {
		const struct lb_slice_spec *sl = s->slices[i]->spec;
		if (sl->family != f)
			continue;
		for (unsigned p = 0; p < sl->n_ports; p++) {
			if (sl->ports[p].proto != ps->proto || !streq(sl->ports[p].name, ps->name))
				continue;
			for (unsigned e = 0; e < sl->n_eps; e++) {
				if (local_only && !sl->eps[e].local)
					continue;
				c[n++] = (struct cand){sl->eps[e].addr, sl->ports[p].port,
						       sl->eps[e].state, sl->eps[e].local};
			}
		}
	}
	qsort(c, n, sizeof(*c), cmp_cand);
	for (size_t i = 0; i < n; i++) {
		if (out && cmp_cand(&c[out - 1], &c[i]) == 0) {
			struct cand *d = &c[out - 1];
			d->state = MIN(d->state, c[i].state);
			d->local |= c[i].local;
		} else
			c[out++] = c[i];
		any_ready |= c[i].state == LB_EP_READY;
	}
	n = 0;
	for (size_t i = 0; i < out; i++)
		if (c[i].state == (any_ready ? LB_EP_READY : LB_EP_TERMINATING))
			c[n++] = c[i];
	*ret = c;
	return (unsigned)n;
}

static void ring_release(struct lb_compiler *c, struct lb_ring *r, __u64 gen)
{
	for (__u32 i = 0; i < r->n; i++)
		lb_backend_release(c, &r->refs[i], gen);
	if (r->size)
		lb_arena_drop(&c->arena, r->off, r->size, gen);
	free(r->refs);
	*r = (struct lb_ring){0};
}

static void note_written(struct lb_compiler *c, __u32 off)
{
	if (c->n_written == c->cap_written) {
		c->cap_written = c->cap_written ? c->cap_written * 2 : 64;
		c->written = xrealloc(c->written, c->cap_written * sizeof(*c->written));
	}
	c->written[c->n_written++] = off;
}

/* Ring r into out[0..r->size): cand[i] is backend vals[i]. */
static void maglev_fill(const struct lb_ring *r, const struct cand *cand, const __u32 *vals,
			__u8 proto, __u32 *out)
{
	_cleanup_free_ struct lb_be_ident *ids = xnew(struct lb_be_ident, r->n);
	_cleanup_free_ struct lb_maglev_input *in = xnew(struct lb_maglev_input, r->n);

	for (__u32 i = 0; i < r->n; i++) {
		ids[i] = lb_be_ident(&cand[i].addr, cand[i].port, proto);
		in[i] = (struct lb_maglev_input){.id = ids[i].b, .id_len = sizeof(ids[i].b),
						 .weight = 1, .value = vals[i]};
	}
	/* Cannot fail: identities are distinct and the size is a prime above n. */
	if (lb_maglev_build(in, r->n, r->size, out) < 0)
		abort();
}

/* Bring ring r to the endpoints it must hold now. keys[0..n_keys) are the
 * VIPs that read it, while a previous process's table is being taken over
 * (lb_compiler_adopt): the ring one of them read is kept in place when it
 * comes out the same. */
static void ring_update(struct lb_compiler *c, const struct lb_svc *s,
			const struct lb_port_spec *ps, struct lb_ring *r, int f, int scope,
			__u64 gen, const struct lb_vip_key *const *keys, unsigned n_keys)
{
	_cleanup_free_ struct cand *cand = NULL;
	unsigned n = gather(s, ps, f, scope == LB_SCOPE_LOCAL, &cand);
	__u32 m = lb_ring_size_for(n, c->max_ring);

	/* More endpoints than the largest ring has slots: keep the first ones. */
	if (n && !m) {
		m = lb_ring_cap(c->max_ring);
		n = m - 1;
	}
	struct lb_be_ref *refs = xnew(struct lb_be_ref, n);
	_cleanup_free_ __u32 *vals = xnew(__u32, n);
	for (unsigned i = 0; i < n; i++) {
		vals[i] = lb_backend_acquire(c, &cand[i].addr, cand[i].port, ps->proto,
					     cand[i].state, cand[i].local);
		refs[i] = (struct lb_be_ref){vals[i], cand[i].state, cand[i].local};
	}
	qsort(refs, n, sizeof(*refs), cmp_ref);

	bool same = r->size == m && r->n == n;
	for (unsigned i = 0; same && i < n; i++)
		same = r->refs[i].idx == refs[i].idx;
	/* Holds are taken before the old ones go, so a backend in both
	 * keeps its index and id. */
	for (__u32 i = 0; i < r->n; i++)
		lb_backend_release(c, &r->refs[i], gen);
	free(r->refs);
	r->refs = refs;
	r->n = n;
	if (same)
		return;
	if (r->size)
		lb_arena_drop(&c->arena, r->off, r->size, gen);
	r->size = m;
	r->off = 0;
	c->changed = true;
	if (!m)
		return;
	_cleanup_free_ __u32 *ring = NULL;
	if (n_keys) {
		ring = xnew(__u32, m);
		maglev_fill(r, cand, vals, ps->proto, ring);
		/* The executor holds an adopted ring already. */
		for (unsigned i = 0; i < n_keys; i++)
			if (lb_adopt_ring(c, keys[i], ring, m, n, &r->off)) {
				r->shown = true;
				return;
			}
	}
	r->off = lb_arena_alloc(&c->arena, m, gen);
	if (ring)
		memcpy(c->arena.slots + r->off, ring, (size_t)m * sizeof(__u32));
	else
		maglev_fill(r, cand, vals, ps->proto, c->arena.slots + r->off);
	note_written(c, r->off);
	r->written = gen;
	r->shown = false;
}

void lb_ring_show(struct lb_compiler *c, struct lb_svc_port *p, const struct lb_service *vip,
		  __u64 gen)
{
	if (!vip->ring_size)
		return;
	for (int f = 0; f < LB_N_FAM; f++)
		for (int sc = 0; sc < LB_N_SCOPE; sc++) {
			struct lb_ring *r = &p->rings[f][sc];
			if (r->size != vip->ring_size || r->off != vip->ring_off)
				continue;
			/* Written while only VIPs another port owns could read it. */
			if (!r->shown && r->written != gen)
				note_written(c, r->off);
			r->shown = true;
			return;
		}
}

/* ---- VIPs ------------------------------------------------------------------------------- */

struct plan {
	struct lb_service v;
	int fam, scope;
};

static void plan_add(struct plan *pl, unsigned *n, const struct lb_addr *a, __u16 port,
		     __u8 proto, __u32 flags, int scope)
{
	struct lb_vip_key k = {.addr = *a, .port = htons(port), .proto = proto};

	for (unsigned i = 0; i < *n; i++)
		if (!memcmp(&pl[i].v.key, &k, sizeof(k)))
			return; /* the same VIP named twice: the first wins */
	pl[(*n)++] = (struct plan){.v = {.key = k, .flags = flags}, .fam = lb_addr_family(a),
				   .scope = scope};
}

/* The VIPs of port ps: its ClusterIPs (internalTrafficPolicy), then its
 * externalIPs and LoadBalancer ingress IPs, then a NodePort on each node
 * address (externalTrafficPolicy), in the Service's families only. */
static unsigned plan_vips(const struct lb_compiler *c, const struct lb_svc_spec *sp,
			  const struct lb_port_spec *ps, struct plan *pl)
{
	__u32 base = c->base_flags | (sp->affinity ? LB_SVC_AFFINITY : 0);
	__u32 in_flags = base | (sp->itp_local ? LB_SVC_LOCAL : 0);
	__u32 ex_flags = base | (sp->etp_local ? LB_SVC_LOCAL : 0);
	int in_scope = sp->itp_local ? LB_SCOPE_LOCAL : LB_SCOPE_CLUSTER;
	int ex_scope = sp->etp_local ? LB_SCOPE_LOCAL : LB_SCOPE_CLUSTER;
	unsigned n = 0;

	for (int f = 0; f < LB_N_FAM; f++)
		if (sp->has_cluster[f])
			plan_add(pl, &n, &sp->cluster[f], ps->port, ps->proto, in_flags, in_scope);
	for (unsigned i = 0; i < sp->n_external; i++)
		if (sp->has_cluster[lb_addr_family(&sp->external[i])])
			plan_add(pl, &n, &sp->external[i], ps->port, ps->proto,
				 ex_flags | LB_SVC_EXTERNAL, ex_scope);
	for (unsigned i = 0; sp->node_ports && ps->node_port && i < c->n_node_addrs; i++)
		if (sp->has_cluster[lb_addr_family(&c->node_addrs[i])])
			plan_add(pl, &n, &c->node_addrs[i], ps->node_port, ps->proto,
				 ex_flags | LB_SVC_NODEPORT, ex_scope);
	return n;
}

static void set_name(struct lb_compiler *c, __u32 id, const char *svc,
		     const struct lb_port_spec *ps)
{
	if (id >= c->n_id_names) {
		__u32 n = MAX(id + 1, c->n_id_names * 2);
		c->id_names = xrealloc(c->id_names, n * sizeof(*c->id_names));
		memset(c->id_names + c->n_id_names, 0, (n - c->n_id_names) * sizeof(char *));
		c->n_id_names = n;
	}
	free(c->id_names[id]);
	c->id_names[id] = *ps->name ? xasprintf("%s:%s", svc, ps->name)
				    : xasprintf("%s:%u", svc, ps->port);
}

static void compile_port(struct lb_compiler *c, const struct lb_svc *s,
			 const struct lb_port_spec *ps, struct lb_svc_port *p, __u64 gen)
{
	const struct lb_svc_spec *sp = s->spec;
	size_t cap = LB_N_FAM + sp->n_external + c->n_node_addrs;
	_cleanup_free_ struct plan *pl = xnew(struct plan, cap);
	unsigned n = plan_vips(c, sp, ps, pl);
	bool need[LB_N_FAM][LB_N_SCOPE] = {{false}};
	/* Taking over (lb_compiler_adopt): which VIPs read each ring. */
	_cleanup_free_ const struct lb_vip_key **keys =
		c->adopt ? xnew(const struct lb_vip_key *, n) : NULL;

	for (unsigned i = 0; i < n; i++)
		need[pl[i].fam][pl[i].scope] = true;
	for (int f = 0; f < LB_N_FAM; f++)
		for (int sc = 0; sc < LB_N_SCOPE; sc++) {
			unsigned nk = 0;
			for (unsigned i = 0; keys && i < n; i++)
				if (pl[i].fam == f && pl[i].scope == sc)
					keys[nk++] = &pl[i].v.key;
			if (need[f][sc])
				ring_update(c, s, ps, &p->rings[f][sc], f, sc, gen, keys, nk);
			else
				ring_release(c, &p->rings[f][sc], gen);
		}

	/* The id lives as long as the port has a VIP; taking over, a VIP's old one. */
	for (unsigned i = 0; c->adopt && p->id == LB_NO_ID && i < n; i++)
		p->id = lb_adopt_service_id(c, &pl[i].v.key);
	if (n && p->id == LB_NO_ID)
		p->id = lb_idpool_alloc(&c->ids);
	else if (!n && p->id != LB_NO_ID) {
		lb_idpool_release(&c->ids, p->id, gen);
		p->id = LB_NO_ID;
	}
	if (n)
		set_name(c, p->id, s->key, ps);

	struct lb_service *vips = xnew(struct lb_service, n);
	__u32 *hashes = xnew(__u32, n);
	for (unsigned i = 0; i < n; i++) {
		const struct lb_ring *r = &p->rings[pl[i].fam][pl[i].scope];
		vips[i] = pl[i].v;
		vips[i].id = p->id;
		vips[i].ring_off = r->off;
		vips[i].ring_size = r->size;
		vips[i].n_backends = r->size ? r->n : 0;
		vips[i].affinity_timeout = sp->affinity_timeout;
		hashes[i] = lb_vip_hash(&vips[i].key);
	}
	if (n != p->n_vips || (n && memcmp(vips, p->vips, n * sizeof(*vips))))
		c->changed = true;
	c->n_vips = c->n_vips - p->n_vips + n;
	free(p->vips);
	free(p->hashes);
	p->vips = vips;
	p->hashes = hashes;
	p->n_vips = n;
}

void lb_svc_port_release(struct lb_compiler *c, struct lb_svc_port *p, __u64 gen)
{
	for (int f = 0; f < LB_N_FAM; f++)
		for (int sc = 0; sc < LB_N_SCOPE; sc++)
			ring_release(c, &p->rings[f][sc], gen);
	if (p->id != LB_NO_ID)
		lb_idpool_release(&c->ids, p->id, gen);
	if (p->n_vips)
		c->changed = true;
	c->n_vips -= p->n_vips;
	free(p->vips);
	free(p->hashes);
	free(p->name);
	*p = (struct lb_svc_port){.id = LB_NO_ID};
}

void lb_svc_compile(struct lb_compiler *c, struct lb_svc *s, __u64 gen)
{
	unsigned n = s->spec && !s->spec->skip ? s->spec->n_ports : 0;
	struct lb_svc_port *np = xnew(struct lb_svc_port, n);
	_cleanup_free_ bool *taken = xnew(bool, s->n_ports);

	/* A port keeps its id and rings while its name and protocol stay. */
	for (unsigned i = 0; i < n; i++) {
		const struct lb_port_spec *ps = &s->spec->ports[i];
		unsigned j = 0;

		while (j < s->n_ports && (taken[j] || s->ports[j].proto != ps->proto ||
					  !streq(s->ports[j].name, ps->name)))
			j++;
		if (j < s->n_ports) {
			np[i] = s->ports[j];
			taken[j] = true;
		} else
			np[i] = (struct lb_svc_port){.name = xstrdup(ps->name), .proto = ps->proto,
						     .id = LB_NO_ID};
		compile_port(c, s, ps, &np[i], gen);
	}
	for (unsigned j = 0; j < s->n_ports; j++)
		if (!taken[j])
			lb_svc_port_release(c, &s->ports[j], gen);
	free(s->ports);
	s->ports = np;
	s->n_ports = n;
}
