/* The next table's service array and VIP index, kept between builds. A
 * build moves only what the Services it recompiles own: a VIP that stays
 * keeps its position and its index slot, a new one is appended, and a gone
 * one's position is filled with the last. When two service ports name one
 * VIP, the Service whose key sorts first owns it (on a tie, its earlier
 * port), as a layout from scratch would decide. */
#include "dataplane/lbtable/internal.h"

/* The walks over every Service stall on memory, a load after a load (its
 * entry, the Service, its ports): those of Services a few steps ahead are
 * started early. */
#define AHEAD 4

static bool owner_before(const struct lb_svc *a, __u32 pa, const struct lb_svc *b, __u32 pb)
{
	int r = strcmp(a->key, b->key);

	return r ? r < 0 : (a == b && pa < pb);
}

static void reserve(struct lb_vips *v, __u32 n)
{
	if (n <= v->cap)
		return;
	v->cap = MAX(n, v->cap * 2);
	v->svc = xrealloc(v->svc, (size_t)v->cap * sizeof(*v->svc));
	v->own = xrealloc(v->own, (size_t)v->cap * sizeof(*v->own));
}

static __u32 *slot_of(struct lb_vips *v, const struct lb_vip_key *k, __u32 h)
{
	return lb_index_slot(v->index, v->n_index, v->svc, k, h);
}

static void set_slot(struct lb_compiler *c, __u32 *slot, __u32 val)
{
	*slot = val;
	lb_patch_note(&c->patch, LB_PATCH_INDEX, (__u32)(slot - c->vips.index));
}

/* Position pos (below n, or n: a new one) holds entry s from now on. */
static void set_service(struct lb_compiler *c, __u32 pos, const struct lb_service *s)
{
	struct lb_vips *v = &c->vips;

	if (pos < v->n && !memcmp(&v->svc[pos], s, sizeof(*s)))
		return;
	v->svc[pos] = *s;
	lb_patch_note(&c->patch, LB_PATCH_SERVICE, pos);
	/* Another owner of a VIP, or its port's order among the Service's
	 * ports, changes the table though no port's own VIPs changed. */
	c->changed = true;
	if (v->n_set == v->cap_set) {
		v->cap_set = v->cap_set ? v->cap_set * 2 : 64;
		v->set = xrealloc(v->set, (size_t)v->cap_set * sizeof(*v->set));
	}
	v->set[v->n_set++] = pos;
}

/* The rings the changed positions point at, as the table of generation
 * gen has them: those executors do not hold yet join the delta. */
static void show_rings(struct lb_compiler *c, bool all)
{
	struct lb_vips *v = &c->vips;
	__u32 n = all ? v->n : v->n_set;

	for (__u32 k = 0; k < n; k++) {
		__u32 pos = all ? k : v->set[k];
		if (pos >= v->n)
			continue; /* gone again */
		if (all && k + AHEAD < v->n)
			__builtin_prefetch(v->own[k + AHEAD].svc);
		if (all && k + AHEAD / 2 < v->n)
			__builtin_prefetch(v->own[k + AHEAD / 2].svc->ports);
		const struct lb_vip_owner *o = &v->own[pos];
		lb_ring_show(c, &o->svc->ports[o->port], &v->svc[pos], c->patch.gen);
	}
	v->n_set = 0;
}

/* An empty index of n_index slots: every entry of the table may move. */
static void index_reset(struct lb_compiler *c, __u32 n_index)
{
	struct lb_vips *v = &c->vips;

	lb_patch_reset(&c->patch);
	if (n_index != v->n_index) {
		free(v->index);
		v->index = xmalloc((size_t)n_index * sizeof(*v->index));
		v->n_index = n_index;
	}
	memset(v->index, 0, (size_t)n_index * sizeof(*v->index));
}

/* The index again, n_index slots over positions 0..n. */
static void index_rehash(struct lb_compiler *c, __u32 n_index)
{
	struct lb_vips *v = &c->vips;

	index_reset(c, n_index);
	for (__u32 pos = 0; pos < v->n; pos++)
		*slot_of(v, &v->svc[pos].key, lb_vip_hash(&v->svc[pos].key)) = pos + 1;
}

/* Empty an index slot by backward shift: later entries of its run move
 * into the hole unless their home slot lies between the hole and them. */
static void index_delete(struct lb_compiler *c, __u32 *slot)
{
	struct lb_vips *v = &c->vips;
	__u32 mask = v->n_index - 1, hole = (__u32)(slot - v->index);

	for (__u32 j = (hole + 1) & mask; v->index[j]; j = (j + 1) & mask) {
		__u32 home = lb_vip_hash(&v->svc[v->index[j] - 1].key) & mask;
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (stays)
			continue;
		set_slot(c, &v->index[hole], v->index[j]);
		hole = j;
	}
	set_slot(c, &v->index[hole], 0);
}

/* Service port s->ports[port] names its VIP i. */
static void claim(struct lb_compiler *c, struct lb_svc *s, __u32 port, __u32 i)
{
	struct lb_vips *v = &c->vips;
	const struct lb_svc_port *p = &s->ports[port];
	const struct lb_service *vip = &p->vips[i];
	__u32 *slot = slot_of(v, &vip->key, p->hashes[i]);

	if (!*slot) {
		/* Vacated positions stay in the index until the build ends:
		 * keep it at most half full meanwhile. */
		if ((uint64_t)(v->n + 1) * 2 > v->n_index) {
			index_rehash(c, v->n_index * 2);
			slot = slot_of(v, &vip->key, p->hashes[i]);
		}
		reserve(v, v->n + 1);
		set_service(c, v->n, vip);
		v->own[v->n] = (struct lb_vip_owner){.svc = s, .port = port, .claims = 1};
		set_slot(c, slot, ++v->n);
		return;
	}
	struct lb_vip_owner *o = &v->own[*slot - 1];
	o->claims++;
	if (o->vacated && v->vac[o->vacated - 1].prev == s)
		v->vac[o->vacated - 1].reclaimed = true;
	if (!o->svc || owner_before(s, port, o->svc, o->port)) {
		o->svc = s;
		o->port = port;
		set_service(c, *slot - 1, vip);
	}
}

/* Service port s->ports[port] no longer names its VIP i. */
static void unclaim(struct lb_vips *v, const struct lb_svc *s, __u32 port, __u32 i)
{
	const struct lb_svc_port *p = &s->ports[port];
	__u32 *slot = slot_of(v, &p->vips[i].key, p->hashes[i]);

	/* Every claim is in the index: anything else is a bug that would
	 * publish a wrong table. */
	if (!*slot)
		abort();
	struct lb_vip_owner *o = &v->own[*slot - 1];
	o->claims--;
	if (o->svc != s || o->port != port)
		return;
	if (v->n_vac == v->cap_vac) {
		v->cap_vac = v->cap_vac ? v->cap_vac * 2 : 16;
		v->vac = xrealloc(v->vac, (size_t)v->cap_vac * sizeof(*v->vac));
	}
	v->vac[v->n_vac++] = (struct lb_vip_vacated){.pos = *slot - 1, .prev = s};
	o->svc = NULL;
	o->vacated = v->n_vac;
}

/* Position pos goes: out of the index, and the last position into its place. */
static void remove_pos(struct lb_compiler *c, __u32 pos)
{
	struct lb_vips *v = &c->vips;
	const struct lb_vip_key *k = &v->svc[pos].key;
	__u32 last = v->n - 1;

	index_delete(c, slot_of(v, k, lb_vip_hash(k)));
	if (pos != last) {
		k = &v->svc[last].key;
		set_slot(c, slot_of(v, k, lb_vip_hash(k)), pos + 1);
		set_service(c, pos, &v->svc[last]);
		v->own[pos] = v->own[last];
	}
	v->n = last;
}

static int cmp_vac_desc(const void *pa, const void *pb)
{
	const struct lb_vip_vacated *a = pa, *b = pb;

	return (a->pos < b->pos) - (a->pos > b->pos);
}

void lb_vips_rebuild(struct lb_compiler *c)
{
	struct lb_vips *v = &c->vips;

	v->n = 0;
	v->n_vac = 0;
	reserve(v, c->n_vips);
	index_reset(c, lb_index_size(c->n_vips));
	lb_hmap_foreach(&c->svcs, it) {
		struct lb_svc *s = it->val;
		size_t left = (size_t)(c->svcs.e + c->svcs.cap - it);
		/* Here, not in a helper: GCC drops calls that only prefetch. */
		if (left > AHEAD && it[AHEAD].key)
			__builtin_prefetch(it[AHEAD].val);
		if (left > AHEAD / 2 && it[AHEAD / 2].key)
			__builtin_prefetch(((struct lb_svc *)it[AHEAD / 2].val)->ports);
		for (unsigned p = 0; p < s->n_ports; p++)
			for (unsigned i = 0; i < s->ports[p].n_vips; i++)
				claim(c, s, p, i);
	}
	show_rings(c, true);
}

void lb_vips_begin(struct lb_compiler *c)
{
	struct lb_vips *v = &c->vips;

	v->n_vac = 0;
	for (const struct lb_svc *s = c->dirty; s; s = s->next_dirty)
		for (unsigned p = 0; p < s->n_ports; p++)
			for (unsigned i = 0; i < s->ports[p].n_vips; i++)
				unclaim(v, s, p, i);
	/* What is left of a vacated VIP's claims once all have left. */
	for (__u32 k = 0; k < v->n_vac; k++)
		v->vac[k].residual = v->own[v->vac[k].pos].claims;
}

bool lb_vips_finish(struct lb_compiler *c)
{
	struct lb_vips *v = &c->vips;
	__u32 n_gone = 0;
	bool ok = true;

	for (struct lb_svc *s = c->dirty; s; s = s->next_dirty)
		for (unsigned p = 0; p < s->n_ports; p++)
			for (unsigned i = 0; i < s->ports[p].n_vips; i++)
				claim(c, s, p, i);
	/* The old owner sorted before every claim left over, so if it names
	 * the VIP again the claims just made settled it; if not, the new owner
	 * is among Services this build did not look at. */
	for (__u32 k = 0; k < v->n_vac; k++) {
		const struct lb_vip_vacated *x = &v->vac[k];
		v->own[x->pos].vacated = 0;
		if (x->residual && !x->reclaimed)
			ok = false;
		else if (!v->own[x->pos].svc)
			v->vac[n_gone++] = *x;
	}
	v->n_vac = 0;
	if (!ok) {
		v->n_set = 0;
		return false;
	}
	/* Highest first, so the last position is never one still to go. */
	if (n_gone > 1)
		qsort(v->vac, n_gone, sizeof(*v->vac), cmp_vac_desc);
	for (__u32 k = 0; k < n_gone; k++)
		remove_pos(c, v->vac[k].pos);
	if (lb_index_size(c->n_vips) != v->n_index)
		index_rehash(c, lb_index_size(c->n_vips));
	show_rings(c, false);
	return true;
}

void lb_vips_clear(struct lb_vips *v)
{
	free(v->svc);
	free(v->own);
	free(v->index);
	free(v->vac);
	free(v->set);
	*v = (struct lb_vips){0};
}
