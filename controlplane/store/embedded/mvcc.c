#include "mvcc.h"

#include "base/base.h"

#define SAMPLE_NS (100 * 1000000ll)

void mvcc_init(struct mvcc *m)
{
	/* etcd's first revision: an empty store is at 1. */
	*m = (struct mvcc){.rev = 1};
	kv_index_init(&m->idx);
}

static void free_chain(struct kv_ver *v)
{
	while (v) {
		struct kv_ver *older = v->older;
		free(v);
		v = older;
	}
}

void mvcc_destroy(struct mvcc *m)
{
	if (!m->idx.head)
		return;
	for (struct kv_key *k = kv_index_first(&m->idx); k; k = kv_index_next(k))
		free_chain(k->head);
	kv_index_destroy(&m->idx);
	free(m->log);
	free(m->samples);
	*m = (struct mvcc){0};
}

const struct kv_ver *mvcc_at(const struct kv_key *k, int64_t rev)
{
	const struct kv_ver *v = k->head;
	while (v && v->mod_rev > rev)
		v = v->older;
	return kv_ver_live(v) ? v : NULL;
}

static void log_append(struct mvcc *m, struct kv_ver *v)
{
	if (m->log_off + m->log_len == m->log_cap) {
		if (m->log_off >= m->log_cap / 2 && m->log_off) {
			memmove(m->log, m->log + m->log_off, m->log_len * sizeof(*m->log));
			m->log_off = 0;
		} else {
			m->log_cap = m->log_cap ? m->log_cap * 2 : 1024;
			m->log = xrealloc(m->log, m->log_cap * sizeof(*m->log));
		}
	}
	m->log[m->log_off + m->log_len++] = v;
}

static void mark_dirty(struct mvcc *m, struct kv_key *k)
{
	if (k->dirty)
		return;
	k->dirty = true;
	k->dirty_next = m->dirty;
	m->dirty = k;
}

static struct kv_ver *new_ver(struct mvcc *m, int64_t rev, struct kv_key *k, size_t value_len)
{
	struct kv_ver *v = xmalloc(sizeof(*v) + value_len);

	if (rev != m->rev) {
		m->rev = rev;
		m->next_sub = 0;
	}
	*v = (struct kv_ver){
		.older = k->head,
		.key = k,
		.mod_rev = rev,
		.sub = m->next_sub++,
		.value_len = (uint32_t)value_len,
	};
	if (k->head)
		mark_dirty(m, k);
	k->head = v;
	log_append(m, v);
	return v;
}

struct kv_ver *mvcc_put(struct mvcc *m, int64_t rev, const char *key, size_t key_len,
			const char *value, size_t value_len, int64_t lease)
{
	bool created;
	struct kv_key *k = kv_index_insert(&m->idx, key, key_len, &created);
	const struct kv_ver *prev = mvcc_latest(k);
	struct kv_ver *v = new_ver(m, rev, k, value_len);

	v->create_rev = prev ? prev->create_rev : rev;
	v->version = prev ? prev->version + 1 : 1;
	v->lease = lease;
	if (value_len)
		memcpy(v->value, value, value_len);
	if (!prev)
		m->live++;
	return v;
}

struct kv_ver *mvcc_del(struct mvcc *m, int64_t rev, struct kv_key *k)
{
	struct kv_ver *v = new_ver(m, rev, k, 0);
	m->live--;
	return v;
}

void mvcc_note_time(struct mvcc *m, int64_t rev, int64_t wall_ns)
{
	size_t n = m->nsamples;

	if (n && rev <= m->samples[n - 1].rev)
		return;
	/* The newest sample moves forward until it is SAMPLE_NS past the one
	 * before it: samples stay exact (rev was current at wall_ns), about
	 * one per SAMPLE_NS. */
	if (n >= 2 && wall_ns < m->samples[n - 2].wall_ns + SAMPLE_NS) {
		m->samples[n - 1] = (struct mvcc_sample){rev, wall_ns};
		return;
	}
	if (n == m->samples_cap) {
		m->samples_cap = m->samples_cap ? m->samples_cap * 2 : 64;
		m->samples = xrealloc(m->samples, m->samples_cap * sizeof(*m->samples));
	}
	m->samples[m->nsamples++] = (struct mvcc_sample){rev, wall_ns};
}

int64_t mvcc_rev_at_time(const struct mvcc *m, int64_t wall_ns)
{
	size_t lo = 0, hi = m->nsamples;

	/* The last sample with wall_ns <= the time asked. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->samples[mid].wall_ns <= wall_ns)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? m->samples[lo - 1].rev : 0;
}

/* Drop what no read at or after keep + 1 needs; true if k still has history. */
static bool compact_key(struct mvcc *m, struct kv_key *k, int64_t keep)
{
	struct kv_ver **link = &k->head;

	while (*link && (*link)->mod_rev > keep)
		link = &(*link)->older;
	struct kv_ver *v = *link;
	if (v) {
		free_chain(v->older);
		v->older = NULL;
		if (!kv_ver_live(v)) {
			*link = NULL;
			free(v);
		}
	}
	return k->head && (k->head->older || !kv_ver_live(k->head));
}

void mvcc_compact(struct mvcc *m, int64_t rev)
{
	struct kv_key *k = m->dirty, *still = NULL;

	/* The log first: it points at versions about to be freed. */
	size_t drop = mvcc_log_find(m, rev);
	m->log_off += drop;
	m->log_len -= drop;
	if (!m->log_len)
		m->log_off = 0;

	m->compact_rev = rev;
	while (k) {
		struct kv_key *next = k->dirty_next;
		if (compact_key(m, k, rev - 1)) {
			k->dirty_next = still;
			still = k;
		} else if (!k->head) {
			kv_index_remove(&m->idx, k);
		} else {
			k->dirty = false;
			k->dirty_next = NULL;
		}
		k = next;
	}
	m->dirty = still;

	size_t s = 0;
	while (s < m->nsamples && m->samples[s].rev < rev)
		s++;
	if (s) {
		memmove(m->samples, m->samples + s, (m->nsamples - s) * sizeof(*m->samples));
		m->nsamples -= s;
	}
}

size_t mvcc_log_find(const struct mvcc *m, int64_t rev)
{
	size_t lo = 0, hi = m->log_len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mvcc_log_at(m, mid)->mod_rev < rev)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct kv_key *mvcc_restore_key(struct mvcc *m, const char *key, size_t key_len)
{
	bool created;
	return kv_index_insert(&m->idx, key, key_len, &created);
}

struct kv_ver *mvcc_restore_ver(struct mvcc *m, struct kv_key *k, int64_t mod_rev,
				int64_t create_rev, int64_t version, int64_t lease, uint32_t sub,
				const char *value, size_t value_len)
{
	struct kv_ver *v = xmalloc(sizeof(*v) + value_len), **link = &k->head;

	*v = (struct kv_ver){
		.key = k,
		.mod_rev = mod_rev,
		.create_rev = create_rev,
		.version = version,
		.lease = lease,
		.sub = sub,
		.value_len = (uint32_t)value_len,
	};
	if (value_len)
		memcpy(v->value, value, value_len);
	while (*link)
		link = &(*link)->older;
	*link = v;
	return v;
}

static int log_order(const void *a, const void *b)
{
	const struct kv_ver *x = *(struct kv_ver *const *)a, *y = *(struct kv_ver *const *)b;
	if (x->mod_rev != y->mod_rev)
		return x->mod_rev < y->mod_rev ? -1 : 1;
	return (x->sub > y->sub) - (x->sub < y->sub);
}

void mvcc_restore_done(struct mvcc *m)
{
	m->live = 0;
	m->dirty = NULL;
	m->log_off = m->log_len = 0;
	for (struct kv_key *k = kv_index_first(&m->idx); k; k = kv_index_next(k)) {
		k->dirty = false;
		if (kv_ver_live(k->head))
			m->live++;
		if (k->head && (k->head->older || !kv_ver_live(k->head)))
			mark_dirty(m, k);
		for (struct kv_ver *v = k->head; v && v->mod_rev >= m->compact_rev; v = v->older)
			log_append(m, v);
	}
	if (m->log_len)
		qsort(m->log, m->log_len, sizeof(*m->log), log_order);
}
