/* The ordered in-memory index of keys: a skip list (p = 1/4) of
 * struct kv_key, so a lookup or a seek is O(log n) and a range walks on
 * from there one key at a time. Keys compare as byte strings (memcmp, then
 * length). Single-threaded; a node's address is stable for its lifetime. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KV_INDEX_LEVELS 24

struct kv_ver;

struct kv_key {
	struct kv_ver *head;       /* newest version (mvcc.h) */
	struct kv_key *dirty_next; /* mvcc: keys with history to compact */
	int64_t lease;             /* lease of the live version; 0: none */
	uint32_t lease_idx;        /* position in that lease's key array */
	uint32_t key_len;
	uint8_t level;
	bool dirty;
	struct kv_key *next[]; /* level links, then the key bytes */
};

struct kv_index {
	struct kv_key *head; /* sentinel with KV_INDEX_LEVELS links */
	unsigned level;      /* levels in use */
	size_t n;
	uint64_t rng;
};

static inline const char *kv_key_bytes(const struct kv_key *k)
{
	return (const char *)&k->next[k->level];
}

/* Byte-string order: <0, 0, >0. */
int kv_cmp(const char *a, size_t an, const char *b, size_t bn);

void kv_index_init(struct kv_index *x);
/* Frees every node (not what their head points to: free that first). */
void kv_index_destroy(struct kv_index *x);

struct kv_key *kv_index_find(const struct kv_index *x, const char *key, size_t len);
/* The first key >= key, or NULL. */
struct kv_key *kv_index_seek(const struct kv_index *x, const char *key, size_t len);
/* The first key, or NULL. */
static inline struct kv_key *kv_index_first(const struct kv_index *x) { return x->head->next[0]; }
static inline struct kv_key *kv_index_next(const struct kv_key *k) { return k->next[0]; }
/* The key's node, created (head NULL) when missing; *ret_created says which. */
struct kv_key *kv_index_insert(struct kv_index *x, const char *key, size_t len, bool *ret_created);
/* Unlink and free k. */
void kv_index_remove(struct kv_index *x, struct kv_key *k);
