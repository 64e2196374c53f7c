/* The byte hash the table is built with, and a small map on top of it. */
#include "dataplane/lbtable/internal.h"

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

/* MurmurHash3's 64-bit finalizer: every input bit reaches every output bit. */
static inline uint64_t fmix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

uint64_t lb_hash64(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ull);

	while (n > 0) {
		uint64_t k = 0;
		size_t take = n < 8 ? n : 8;

		for (size_t i = 0; i < take; i++)
			k |= (uint64_t)b[i] << (8 * i);
		h ^= fmix64(k + 0x9e3779b97f4a7c15ull);
		h = rotl64(h, 27) * 5 + 0x52dce729u;
		b += take;
		n -= take;
	}
	return fmix64(h);
}

/* ---- the map ---------------------------------------------------------------------------- */

static bool entry_is(const struct lb_hmap_entry *e, uint64_t h, const void *key, size_t klen)
{
	return e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0;
}

static struct lb_hmap_entry *find(const struct lb_hmap *m, const void *key, size_t klen,
				  uint64_t h)
{
	size_t mask = m->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct lb_hmap_entry *e = &m->e[i];
		if (!e->key || entry_is(e, h, key, klen))
			return e;
	}
}

static void grow(struct lb_hmap *m)
{
	struct lb_hmap old = *m;

	m->cap = old.cap ? old.cap * 2 : 16;
	m->e = xnew(struct lb_hmap_entry, m->cap);
	for (size_t i = 0; i < old.cap; i++)
		if (old.e[i].key)
			*find(m, old.e[i].key, old.e[i].klen, old.e[i].hash) = old.e[i];
	free(old.e);
}

void *lb_hmap_get(const struct lb_hmap *m, const void *key, size_t klen)
{
	if (!m->cap)
		return NULL;
	const struct lb_hmap_entry *e = find(m, key, klen, lb_hash64(key, klen, 0));
	return e->key ? e->val : NULL;
}

void *lb_hmap_put(struct lb_hmap *m, const void *key, size_t klen, void *val)
{
	uint64_t h = lb_hash64(key, klen, 0);

	/* At most 3/4 full, so probes stay short and always end. */
	if ((m->n + 1) * 4 > m->cap * 3)
		grow(m);
	struct lb_hmap_entry *e = find(m, key, klen, h);
	if (e->key) {
		void *old = e->val;
		e->val = val;
		return old;
	}
	e->hash = h;
	e->key = xmalloc(klen);
	memcpy(e->key, key, klen);
	e->klen = klen;
	e->val = val;
	m->n++;
	return NULL;
}

void *lb_hmap_del(struct lb_hmap *m, const void *key, size_t klen)
{
	if (!m->cap)
		return NULL;
	struct lb_hmap_entry *e = find(m, key, klen, lb_hash64(key, klen, 0));
	if (!e->key)
		return NULL;
	void *val = e->val;
	size_t mask = m->cap - 1, hole = (size_t)(e - m->e);

	free(e->key);
	m->n--;
	/* Backward shift: move later entries of the run into the hole when
	 * their home slot does not lie between the hole and where they are. */
	for (size_t j = (hole + 1) & mask; m->e[j].key; j = (j + 1) & mask) {
		size_t home = m->e[j].hash & mask;
		bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
		if (stays)
			continue;
		m->e[hole] = m->e[j];
		hole = j;
	}
	m->e[hole] = (struct lb_hmap_entry){0};
	return val;
}

void lb_hmap_clear(struct lb_hmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->e[i].key);
	free(m->e);
	*m = (struct lb_hmap){0};
}
