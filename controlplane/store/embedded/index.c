#include "index.h"

#include "base/base.h"

int kv_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, MIN(an, bn));
	if (c)
		return c;
	return (an > bn) - (an < bn);
}

void kv_index_init(struct kv_index *x)
{
	x->head = xcalloc(1, sizeof(struct kv_key) + KV_INDEX_LEVELS * sizeof(struct kv_key *));
	x->head->level = KV_INDEX_LEVELS;
	x->level = 1;
	x->n = 0;
	x->rng = 0x9e3779b97f4a7c15ull;
}

void kv_index_destroy(struct kv_index *x)
{
	if (!x->head)
		return;
	for (struct kv_key *k = x->head->next[0], *next; k; k = next) {
		next = k->next[0];
		free(k);
	}
	free(x->head);
	x->head = NULL;
	x->n = 0;
}

static inline int node_cmp(const struct kv_key *k, const char *key, size_t len)
{
	return kv_cmp(kv_key_bytes(k), k->key_len, key, len);
}

/* The last node < key at each level into upd (when given); returns the
 * node after the level-0 predecessor (the first >= key). */
static struct kv_key *descend(const struct kv_index *x, const char *key, size_t len,
			      struct kv_key **upd)
{
	struct kv_key *p = x->head;

	for (unsigned l = x->level; l-- > 0;) {
		while (p->next[l] && node_cmp(p->next[l], key, len) < 0)
			p = p->next[l];
		if (upd)
			upd[l] = p;
	}
	return p->next[0];
}

struct kv_key *kv_index_seek(const struct kv_index *x, const char *key, size_t len)
{
	return descend(x, key, len, NULL);
}

struct kv_key *kv_index_find(const struct kv_index *x, const char *key, size_t len)
{
	struct kv_key *k = descend(x, key, len, NULL);
	return k && node_cmp(k, key, len) == 0 ? k : NULL;
}

static unsigned random_level(struct kv_index *x)
{
	unsigned lvl = 1;

	/* xorshift64*: deterministic per index, no global state. */
	x->rng ^= x->rng >> 12;
	x->rng ^= x->rng << 25;
	x->rng ^= x->rng >> 27;
	for (uint64_t r = (x->rng * 0x2545f4914f6cdd1dull) >> 16; (r & 3) == 0 && lvl < KV_INDEX_LEVELS;
	     r >>= 2)
		lvl++;
	return lvl;
}

struct kv_key *kv_index_insert(struct kv_index *x, const char *key, size_t len, bool *ret_created)
{
	struct kv_key *upd[KV_INDEX_LEVELS];
	struct kv_key *k = descend(x, key, len, upd);

	if (k && node_cmp(k, key, len) == 0) {
		*ret_created = false;
		return k;
	}
	unsigned lvl = random_level(x);
	for (unsigned l = x->level; l < lvl; l++)
		upd[l] = x->head;
	if (lvl > x->level)
		x->level = lvl;
	k = xmalloc(sizeof(*k) + lvl * sizeof(struct kv_key *) + len);
	*k = (struct kv_key){.key_len = (uint32_t)len, .level = (uint8_t)lvl};
	memcpy((char *)&k->next[lvl], key, len);
	for (unsigned l = 0; l < lvl; l++) {
		k->next[l] = upd[l]->next[l];
		upd[l]->next[l] = k;
	}
	x->n++;
	*ret_created = true;
	return k;
}

void kv_index_remove(struct kv_index *x, struct kv_key *k)
{
	struct kv_key *upd[KV_INDEX_LEVELS];

	descend(x, kv_key_bytes(k), k->key_len, upd);
	for (unsigned l = 0; l < k->level; l++)
		if (upd[l]->next[l] == k)
			upd[l]->next[l] = k->next[l];
	while (x->level > 1 && !x->head->next[x->level - 1])
		x->level--;
	x->n--;
	free(k);
}
