/* The multi-version state in memory: for each key (index.h) its versions,
 * newest first; the revision log (every version since the compacted
 * revision, in revision order) that watches replay; revision timestamps
 * for automatic compaction. No I/O: the log and snapshots feed it.
 *
 * Compaction at C keeps what reads at revisions >= C and watches from C
 * need: for each key its newest version at or below C - 1 (unless it is a
 * deletion) and everything newer. Keeping C - 1 rather than C lets a watch
 * from C report the previous value of the changes made at C. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index.h"

struct kv_ver {
	struct kv_ver *older; /* NULL when there is none or it was compacted */
	struct kv_key *key;
	int64_t mod_rev;
	int64_t create_rev; /* 0: a deletion (tombstone) */
	int64_t version;
	int64_t lease;
	uint32_t sub; /* order of the change within its revision */
	uint32_t value_len;
	char value[];
};

static inline bool kv_ver_live(const struct kv_ver *v) { return v && v->create_rev != 0; }

struct mvcc_sample {
	int64_t rev;
	int64_t wall_ns;
};

struct mvcc {
	struct kv_index idx;
	/* Revision log: log[log_off .. log_off + log_len) */
	struct kv_ver **log;
	size_t log_off, log_len, log_cap;
	int64_t rev;         /* the newest revision applied */
	int64_t compact_rev; /* 0: never compacted */
	uint32_t next_sub;
	int64_t live;        /* keys whose newest version is not a deletion */
	struct kv_key *dirty; /* keys with more than one version or a tombstone */
	struct mvcc_sample *samples;
	size_t nsamples, samples_cap;
};

void mvcc_init(struct mvcc *m);
void mvcc_destroy(struct mvcc *m);

/* The version of k visible at rev (NULL: absent then). */
const struct kv_ver *mvcc_at(const struct kv_key *k, int64_t rev);
/* The live newest version (NULL: absent now). */
static inline const struct kv_ver *mvcc_latest(const struct kv_key *k)
{
	return kv_ver_live(k->head) ? k->head : NULL;
}

/* Changes at rev, which is m->rev (a further change in the same revision)
 * or m->rev + 1 (the first). */
struct kv_ver *mvcc_put(struct mvcc *m, int64_t rev, const char *key, size_t key_len,
			const char *value, size_t value_len, int64_t lease);
/* k must be live. */
struct kv_ver *mvcc_del(struct mvcc *m, int64_t rev, struct kv_key *k);

/* Remember that rev became current at wall_ns (one sample per ~100 ms). */
void mvcc_note_time(struct mvcc *m, int64_t rev, int64_t wall_ns);
/* The newest revision current at or before wall_ns, 0 if none is known. */
int64_t mvcc_rev_at_time(const struct mvcc *m, int64_t wall_ns);

/* Compact at rev (> compact_rev, <= m->rev). */
void mvcc_compact(struct mvcc *m, int64_t rev);

/* Index into the log (relative to log_off) of the first change with
 * mod_rev >= rev; log_len if none. */
size_t mvcc_log_find(const struct mvcc *m, int64_t rev);
static inline struct kv_ver *mvcc_log_at(const struct mvcc *m, size_t i)
{
	return m->log[m->log_off + i];
}

/* Rebuilding from a snapshot: versions of a key arrive newest first, then
 * mvcc_restore_done() rebuilds the log, the live count and the dirty list. */
struct kv_key *mvcc_restore_key(struct mvcc *m, const char *key, size_t key_len);
struct kv_ver *mvcc_restore_ver(struct mvcc *m, struct kv_key *k, int64_t mod_rev,
				int64_t create_rev, int64_t version, int64_t lease, uint32_t sub,
				const char *value, size_t value_len);
void mvcc_restore_done(struct mvcc *m);
