/* Taking over from a previous process. The executor's maps outlive a proxy;
 * a new compiler seeded with the table they still hold compiles the same
 * objects to the same backend indexes and ids (so connection tracking keeps
 * every established flow on its backend), gives each VIP its service-port id
 * back (so counters keep their meaning), and writes no ring of its first
 * build where a service of the old table still reads one. A ring that would
 * come out the same as the one its VIP read is kept where it is. Whatever
 * the first build does not take again is dropped as of that build, like
 * anything else a build drops, and reused only after it is retired. */
#include <arpa/inet.h>

#include "dataplane/lbtable/internal.h"

/* Far above what kelp's maps hold (bpf/lb_maps.h); beyond it, the input is
 * not a table kelp wrote. */
#define ADOPT_MAX_INDEX (1u << 24) /* backend indexes and service-port ids */
#define ADOPT_MAX_SLOTS (1u << 28) /* the end of the arena: 1 GiB of rings */
#define NO_RANGE UINT32_MAX

/* A part of the arena the old services read. */
struct adopt_range {
	__u32 off, size;
	bool exact; /* one ring's range that overlaps no other: it can be kept */
	bool known; /* lb_compiler_adopt_rings() gave what it holds */
	bool taken; /* a ring of the first build keeps it */
};

/* What one old VIP had. */
struct adopt_vip {
	__u32 id;    /* its service-port id */
	__u32 range; /* its ring's place in ranges[], NO_RANGE when it cannot be kept */
	__u32 n_backends;
};

struct lb_adoption {
	struct lb_hmap vips;          /* struct lb_vip_key -> struct adopt_vip */
	struct adopt_vip *vip;
	__u32 *ids;                   /* service-port ids: sorted, distinct */
	bool *id_taken;
	__u32 n_ids;
	struct adopt_range *ranges;   /* sorted by offset, disjoint */
	__u32 n_ranges;
	__u32 *be;                    /* backend indexes taken over, ascending */
	__u32 n_be;
};

static bool proto_ok(__u8 p)
{
	return p == LB_PROTO_TCP || p == LB_PROTO_UDP || p == LB_PROTO_SCTP;
}

/* All or nothing: refuse what kelp cannot have written before taking any of it. */
static int validate(const struct lb_backend *be, __u32 n_be, const struct lb_service *svcs,
		    __u32 n_svcs)
{
	if (n_be > ADOPT_MAX_INDEX)
		return -EINVAL;
	for (__u32 i = 0; i < n_be; i++)
		if (be[i].id && (!proto_ok(be[i].proto) || be[i].id == UINT32_MAX))
			return -EINVAL;
	for (__u32 i = 0; i < n_svcs; i++) {
		const struct lb_service *s = &svcs[i];
		if (!proto_ok(s->key.proto) || s->id >= ADOPT_MAX_INDEX)
			return -EINVAL;
		if (s->ring_size && (lb_ring_class(s->ring_size) < 0 ||
				     (uint64_t)s->ring_off + s->ring_size > ADOPT_MAX_SLOTS))
			return -EINVAL;
	}
	return 0;
}

static int cmp_u64(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return (a > b) - (a < b);
}

static int cmp_u32(const void *pa, const void *pb)
{
	__u32 a = *(const __u32 *)pa, b = *(const __u32 *)pb;
	return (a > b) - (a < b);
}

/* Each backend at its index with its id. Of two with one identity or one id
 * (a map caught half-way through a write), the lower index is kept; the
 * other index is emptied by the first build. */
static void adopt_backends(struct lb_compiler *c, struct lb_adoption *a,
			   const struct lb_backend *be, __u32 n_be, __u64 gen)
{
	_cleanup_free_ uint64_t *by_id = xnew(uint64_t, n_be);
	_cleanup_free_ bool *dup = xnew(bool, n_be);
	__u32 n = 0, max_id = 0;

	for (__u32 i = 0; i < n_be; i++)
		if (be[i].id) {
			by_id[n++] = (uint64_t)be[i].id << 32 | i;
			max_id = MAX(max_id, be[i].id);
		}
	qsort(by_id, n, sizeof(*by_id), cmp_u64);
	for (__u32 i = 1; i < n; i++)
		if (by_id[i] >> 32 == by_id[i - 1] >> 32)
			dup[(__u32)by_id[i]] = true;

	a->be = xnew(__u32, n);
	for (__u32 i = 0; i < n_be; i++) {
		struct lb_be_ident id = lb_be_ident(&be[i].addr, ntohs(be[i].port), be[i].proto);
		if (!be[i].id || dup[i] || lb_hmap_get(&c->be_map, id.b, sizeof(id.b)))
			continue;
		lb_backend_adopt(c, i, &be[i]);
		a->be[a->n_be++] = i;
	}
	lb_idpool_adopt(&c->be_idx, a->be, a->n_be, n_be, gen);
	/* Above every id the maps hold, kept or not: none can come back. */
	if (n && c->next_be_id <= max_id)
		c->next_be_id = max_id + 1;
}

static void adopt_ids(struct lb_compiler *c, struct lb_adoption *a,
		      const struct lb_service *svcs, __u32 n_svcs, __u64 gen)
{
	a->ids = xnew(__u32, n_svcs);
	for (__u32 i = 0; i < n_svcs; i++)
		a->ids[i] = svcs[i].id;
	qsort(a->ids, n_svcs, sizeof(*a->ids), cmp_u32);
	for (__u32 i = 0; i < n_svcs; i++)
		if (!a->n_ids || a->ids[a->n_ids - 1] != a->ids[i])
			a->ids[a->n_ids++] = a->ids[i];
	a->id_taken = xnew(bool, a->n_ids);
	lb_idpool_adopt(&c->ids, a->ids, a->n_ids, a->n_ids ? a->ids[a->n_ids - 1] + 1 : 0, gen);
}

/* The arena up to the end of the last old ring. What lies between the old
 * rings is read by no service and free at once; the rings themselves are
 * reserved until the first build says which it keeps. */
static void adopt_ranges(struct lb_compiler *c, struct lb_adoption *a,
			 const struct lb_service *svcs, __u32 n_svcs)
{
	_cleanup_free_ uint64_t *r = xnew(uint64_t, n_svcs);
	__u32 n = 0, end = 0;

	for (__u32 i = 0; i < n_svcs; i++)
		if (svcs[i].ring_size)
			r[n++] = (uint64_t)svcs[i].ring_off << 32 | svcs[i].ring_size;
	qsort(r, n, sizeof(*r), cmp_u64);
	a->ranges = xnew(struct adopt_range, n);
	for (__u32 i = 0; i < n; i++) {
		__u32 off = (__u32)(r[i] >> 32), size = (__u32)r[i];
		struct adopt_range *last = a->n_ranges ? &a->ranges[a->n_ranges - 1] : NULL;
		if (last && last->off == off && last->size == size)
			continue; /* VIPs of one port share their ring */
		if (last && off < last->off + last->size) {
			/* Overlapping rings (not a table kelp wrote whole): one span, kept by none. */
			last->size = MAX(last->off + last->size, off + size) - last->off;
			last->exact = false;
			continue;
		}
		a->ranges[a->n_ranges++] = (struct adopt_range){off, size, .exact = true};
	}
	for (__u32 i = 0; i < a->n_ranges; i++)
		end = MAX(end, a->ranges[i].off + a->ranges[i].size);
	lb_arena_adopt(&c->arena, end);
	__u32 at = 0;
	for (__u32 i = 0; i < a->n_ranges; i++) {
		if (a->ranges[i].off > at)
			lb_arena_drop_span(&c->arena, at, a->ranges[i].off - at, 0);
		at = a->ranges[i].off + a->ranges[i].size;
	}
	lb_arena_retire(&c->arena, 0);
}

/* The range that holds off exactly as one ring, or NO_RANGE. */
static __u32 range_of(const struct lb_adoption *a, __u32 off, __u32 size)
{
	__u32 lo = 0, hi = a->n_ranges;

	while (lo < hi) {
		__u32 mid = lo + (hi - lo) / 2;
		if (a->ranges[mid].off < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < a->n_ranges && a->ranges[lo].off == off && a->ranges[lo].size == size &&
	    a->ranges[lo].exact)
		return lo;
	return NO_RANGE;
}

int lb_compiler_adopt(struct lb_compiler *c, const struct lb_backend *be, __u32 n_be,
		      const struct lb_service *svcs, __u32 n_svcs)
{
	__u64 gen = c->generation + 1;
	int r;

	if (c->built || c->adopt)
		return -EBUSY;
	r = validate(be, n_be, svcs, n_svcs);
	if (r < 0)
		return r;
	struct lb_adoption *a = xnew(struct lb_adoption, 1);
	adopt_backends(c, a, be, n_be, gen);
	adopt_ids(c, a, svcs, n_svcs, gen);
	adopt_ranges(c, a, svcs, n_svcs);
	a->vip = xnew(struct adopt_vip, n_svcs);
	for (__u32 i = 0; i < n_svcs; i++) {
		const struct lb_service *s = &svcs[i];
		a->vip[i] = (struct adopt_vip){
			.id = s->id,
			.range = s->ring_size ? range_of(a, s->ring_off, s->ring_size) : NO_RANGE,
			.n_backends = s->n_backends,
		};
		lb_hmap_put(&a->vips, &s->key, sizeof(s->key), &a->vip[i]);
	}
	c->adopt = a;
	return 0;
}

int lb_compiler_adopt_rings(struct lb_compiler *c, const __u32 *slots, __u32 n_slots)
{
	struct lb_adoption *a = c->adopt;

	if (!a || c->built)
		return -EBUSY;
	for (__u32 i = 0; i < a->n_ranges; i++) {
		struct adopt_range *r = &a->ranges[i];
		if (!r->exact || (uint64_t)r->off + r->size > n_slots)
			continue;
		memcpy(c->arena.slots + r->off, slots + r->off, (size_t)r->size * sizeof(__u32));
		r->known = true;
	}
	return 0;
}

__u32 lb_adopt_service_id(struct lb_compiler *c, const struct lb_vip_key *k)
{
	struct lb_adoption *a = c->adopt;
	const struct adopt_vip *v = a ? lb_hmap_get(&a->vips, k, sizeof(*k)) : NULL;

	if (!v)
		return LB_NO_ID;
	__u32 *at = bsearch(&v->id, a->ids, a->n_ids, sizeof(*a->ids), cmp_u32);
	bool *taken = &a->id_taken[at - a->ids];
	if (*taken)
		return LB_NO_ID;
	*taken = true;
	return v->id;
}

bool lb_adopt_ring(struct lb_compiler *c, const struct lb_vip_key *k, const __u32 *ring,
		   __u32 m, __u32 n, __u32 *ret_off)
{
	struct lb_adoption *a = c->adopt;
	const struct adopt_vip *v = a ? lb_hmap_get(&a->vips, k, sizeof(*k)) : NULL;

	if (!v || v->range == NO_RANGE || v->n_backends != n)
		return false;
	struct adopt_range *r = &a->ranges[v->range];
	if (!r->known || r->taken || r->size != m ||
	    memcmp(c->arena.slots + r->off, ring, (size_t)m * sizeof(__u32)) != 0)
		return false;
	r->taken = true;
	*ret_off = r->off;
	return true;
}

void lb_adopt_finish(struct lb_compiler *c, __u64 gen)
{
	struct lb_adoption *a = c->adopt;

	if (!a)
		return;
	/* An index emptied since (by lb_backend_release) is already dropped. */
	for (__u32 i = 0; i < a->n_be; i++)
		if (c->be[a->be[i]].id && !c->be_meta[a->be[i]].refs)
			lb_backend_forget(c, a->be[i], gen);
	for (__u32 i = 0; i < a->n_ids; i++)
		if (!a->id_taken[i])
			lb_idpool_release(&c->ids, a->ids[i], gen);
	for (__u32 i = 0; i < a->n_ranges; i++)
		if (!a->ranges[i].taken)
			lb_arena_drop_span(&c->arena, a->ranges[i].off, a->ranges[i].size, gen);
	c->adopt = lb_adoption_free(a);
}

struct lb_adoption *lb_adoption_free(struct lb_adoption *a)
{
	if (!a)
		return NULL;
	lb_hmap_clear(&a->vips);
	free(a->vip);
	free(a->ids);
	free(a->id_taken);
	free(a->ranges);
	free(a->be);
	free(a);
	return NULL;
}
