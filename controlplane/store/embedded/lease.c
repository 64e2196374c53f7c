/* The lease table: leases by id (open addressing, linear probing), a
 * min-heap by expiry, and for each lease the keys attached to it. */
#include "internal.h"

void lease_table_init(struct lease_table *t)
{
	*t = (struct lease_table){.cap = 16, .rng = (uint64_t)now_real_ns() | 1};
	t->slots = xnew(struct lease *, t->cap);
}

void lease_table_destroy(struct lease_table *t)
{
	for (size_t i = 0; i < t->cap; i++) {
		if (t->slots && t->slots[i]) {
			free(t->slots[i]->keys);
			free(t->slots[i]);
		}
	}
	free(t->slots);
	free(t->heap);
	*t = (struct lease_table){0};
}

static size_t slot_of(const struct lease_table *t, int64_t id)
{
	return (size_t)(((uint64_t)id * 0x9e3779b97f4a7c15ull) >> 20) & (t->cap - 1);
}

struct lease *lease_find(const struct lease_table *t, int64_t id)
{
	for (size_t i = slot_of(t, id);; i = (i + 1) & (t->cap - 1)) {
		struct lease *l = t->slots[i];
		if (!l || l->id == id)
			return l;
	}
}

static void slot_put(struct lease_table *t, struct lease *l)
{
	size_t i = slot_of(t, l->id);
	while (t->slots[i])
		i = (i + 1) & (t->cap - 1);
	t->slots[i] = l;
}

/* --- expiry heap --- */

static void heap_set(struct lease_table *t, size_t i, struct lease *l)
{
	t->heap[i] = l;
	l->heap_idx = (unsigned)i;
}

static void heap_up(struct lease_table *t, size_t i)
{
	struct lease *l = t->heap[i];
	while (i > 1 && t->heap[i / 2]->expiry_ns > l->expiry_ns) {
		heap_set(t, i, t->heap[i / 2]);
		i /= 2;
	}
	heap_set(t, i, l);
}

static void heap_down(struct lease_table *t, size_t i)
{
	struct lease *l = t->heap[i];
	for (;;) {
		size_t c = i * 2;
		if (c > t->nheap)
			break;
		if (c + 1 <= t->nheap && t->heap[c + 1]->expiry_ns < t->heap[c]->expiry_ns)
			c++;
		if (t->heap[c]->expiry_ns >= l->expiry_ns)
			break;
		heap_set(t, i, t->heap[c]);
		i = c;
	}
	heap_set(t, i, l);
}

static void heap_del(struct lease_table *t, struct lease *l)
{
	size_t i = l->heap_idx;
	struct lease *last = t->heap[t->nheap--];

	l->heap_idx = 0;
	if (last == l)
		return;
	heap_set(t, i, last);
	heap_up(t, i);
	heap_down(t, last->heap_idx);
}

void lease_set_expiry(struct lease_table *t, struct lease *l, uint64_t expiry_ns)
{
	l->expiry_ns = expiry_ns;
	if (!l->heap_idx) {
		if (t->nheap + 1 >= t->heap_cap) {
			t->heap_cap = t->heap_cap ? t->heap_cap * 2 : 16;
			t->heap = xrealloc(t->heap, t->heap_cap * sizeof(*t->heap));
		}
		heap_set(t, ++t->nheap, l);
		heap_up(t, l->heap_idx);
		return;
	}
	heap_up(t, l->heap_idx);
	heap_down(t, l->heap_idx);
}

struct lease *lease_earliest(const struct lease_table *t)
{
	return t->nheap ? t->heap[1] : NULL;
}

/* --- table --- */

struct lease *lease_add(struct lease_table *t, int64_t id, int64_t ttl, uint64_t expiry_ns)
{
	struct lease *l = xnew(struct lease, 1);

	if ((t->n + 1) * 2 > t->cap) {
		struct lease **old = t->slots;
		size_t old_cap = t->cap;
		t->cap *= 2;
		t->slots = xnew(struct lease *, t->cap);
		for (size_t i = 0; i < old_cap; i++)
			if (old[i])
				slot_put(t, old[i]);
		free(old);
	}
	l->id = id;
	l->ttl = ttl;
	slot_put(t, l);
	t->n++;
	lease_set_expiry(t, l, expiry_ns);
	return l;
}

void lease_remove(struct lease_table *t, struct lease *l)
{
	size_t i = slot_of(t, l->id);

	while (t->slots[i] != l)
		i = (i + 1) & (t->cap - 1);
	/* Backward-shift deletion keeps every probe chain unbroken. */
	for (size_t j = (i + 1) & (t->cap - 1); t->slots[j]; j = (j + 1) & (t->cap - 1)) {
		size_t home = slot_of(t, t->slots[j]->id);
		bool movable = i <= j ? (home <= i || home > j) : (home <= i && home > j);
		if (movable) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i] = NULL;
	t->n--;
	if (l->heap_idx)
		heap_del(t, l);
	free(l->keys);
	free(l);
}

int64_t lease_pick_id(struct lease_table *t)
{
	for (;;) {
		t->rng ^= t->rng << 13;
		t->rng ^= t->rng >> 7;
		t->rng ^= t->rng << 17;
		int64_t id = (int64_t)(t->rng >> 1);
		if (id > 0 && !lease_find(t, id))
			return id;
	}
}

void lease_attach(struct lease *l, struct kv_key *k)
{
	if (l->nkeys == l->keys_cap) {
		l->keys_cap = l->keys_cap ? l->keys_cap * 2 : 4;
		l->keys = xrealloc(l->keys, l->keys_cap * sizeof(*l->keys));
	}
	k->lease = l->id;
	k->lease_idx = l->nkeys;
	l->keys[l->nkeys++] = k;
}

void lease_detach(struct lease_table *t, struct kv_key *k)
{
	struct lease *l = k->lease ? lease_find(t, k->lease) : NULL;

	k->lease = 0;
	if (!l)
		return;
	struct kv_key *last = l->keys[--l->nkeys];
	l->keys[k->lease_idx] = last;
	last->lease_idx = k->lease_idx;
}
