/* The ring arena: one growable array of backend indexes that every
 * generation's rings live in. A range is written once, by the build that
 * allocates it, and never again while a generation that points at it may be
 * read; ranges come in the sizes of the prime ladder, so a freed range fits
 * the next ring of its size class exactly. */
#include "dataplane/lbtable/internal.h"

void lb_arena_init(struct lb_arena *a)
{
	*a = (struct lb_arena){0};
	a->free = xnew(struct lb_free_list, lb_n_ring_sizes);
}

static void grow(struct lb_arena *a, uint64_t need, __u64 gen)
{
	uint64_t cap = a->cap ? (uint64_t)a->cap * 2 : 1u << 16;

	while (cap < need)
		cap *= 2;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	if (need > cap)
		base_oom();
	__u32 *n = xmalloc(cap * sizeof(__u32));
	if (a->size)
		memcpy(n, a->slots, (size_t)a->size * sizeof(__u32));
	/* Executors of older generations may read the old buffer in place:
	 * keep it until they have all moved to gen. A buffer no generation was
	 * published with goes at once. */
	if (a->slots && a->slots == a->published) {
		if (a->n_old == a->cap_old) {
			a->cap_old = a->cap_old ? a->cap_old * 2 : 4;
			a->old = xrealloc(a->old, a->cap_old * sizeof(*a->old));
		}
		a->old[a->n_old++] = (struct lb_arena_old){.gen = gen, .buf = a->slots};
	} else
		free(a->slots);
	a->slots = n;
	a->cap = (__u32)cap;
}

__u32 lb_arena_alloc(struct lb_arena *a, __u32 m, __u64 gen)
{
	struct lb_free_list *fl = &a->free[lb_ring_class(m)];

	if (fl->n)
		return fl->off[--fl->n];
	if ((uint64_t)a->size + m > a->cap)
		grow(a, (uint64_t)a->size + m, gen);
	__u32 off = a->size;
	a->size += m;
	return off;
}

void lb_arena_drop(struct lb_arena *a, __u32 off, __u32 m, __u64 gen)
{
	if (a->n_pend == a->cap_pend) {
		a->cap_pend = a->cap_pend ? a->cap_pend * 2 : 64;
		a->pend = xrealloc(a->pend, a->cap_pend * sizeof(*a->pend));
	}
	a->pend[a->n_pend++] = (struct lb_arena_range){.gen = gen, .off = off, .size = m};
}

void lb_arena_publish(struct lb_arena *a)
{
	a->published = a->slots;
}

void lb_arena_retire(struct lb_arena *a, __u64 g)
{
	__u32 keep = 0;

	for (__u32 i = 0; i < a->n_pend; i++) {
		struct lb_arena_range *r = &a->pend[i];
		if (r->gen > g) {
			a->pend[keep++] = *r;
			continue;
		}
		struct lb_free_list *fl = &a->free[lb_ring_class(r->size)];
		if (fl->n == fl->cap) {
			fl->cap = fl->cap ? fl->cap * 2 : 16;
			fl->off = xrealloc(fl->off, fl->cap * sizeof(*fl->off));
		}
		fl->off[fl->n++] = r->off;
	}
	a->n_pend = keep;

	keep = 0;
	for (__u32 i = 0; i < a->n_old; i++) {
		if (a->old[i].gen <= g)
			free(a->old[i].buf);
		else
			a->old[keep++] = a->old[i];
	}
	a->n_old = keep;
}

void lb_arena_clear(struct lb_arena *a)
{
	for (unsigned i = 0; a->free && i < lb_n_ring_sizes; i++)
		free(a->free[i].off);
	for (__u32 i = 0; i < a->n_old; i++)
		free(a->old[i].buf);
	free(a->free);
	free(a->pend);
	free(a->old);
	free(a->slots);
	*a = (struct lb_arena){0};
}

void lb_arena_adopt(struct lb_arena *a, __u32 end)
{
	if (end <= a->size)
		return;
	if (end > a->cap)
		grow(a, end, 0);
	memset(a->slots + a->size, 0, (size_t)(end - a->size) * sizeof(__u32));
	a->size = end;
}

void lb_arena_drop_span(struct lb_arena *a, __u32 off, __u32 n, __u64 gen)
{
	for (int k = (int)lb_n_ring_sizes - 1; k >= 0; k--)
		while (n >= lb_ring_sizes[k]) {
			lb_arena_drop(a, off, lb_ring_sizes[k], gen);
			off += lb_ring_sizes[k];
			n -= lb_ring_sizes[k];
		}
}
