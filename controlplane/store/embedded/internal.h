/* The embedded backend's internals, shared by its files (not a public
 * header). One loop thread owns the in-memory state (struct emb); a sync
 * thread writes and syncs log frames (group commit); a background thread
 * prepares log segments and publishes snapshots. The threads share only
 * struct wal, under its mutex. */
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include "base/base.h"
#include "loop/loop.h"
#include "store/backend.h"

#include "codec.h"
#include "mvcc.h"

struct metric;

/* --- leases (lease.c) --- */

struct lease {
	int64_t id;
	int64_t ttl;
	uint64_t expiry_ns; /* CLOCK_MONOTONIC */
	unsigned heap_idx;  /* 1-based in the expiry heap */
	struct kv_key **keys;
	uint32_t nkeys, keys_cap;
};

struct lease_table {
	struct lease **slots; /* open addressing by id, cap a power of two */
	size_t cap, n;
	struct lease **heap; /* min-heap by expiry, 1-based */
	size_t nheap, heap_cap;
	uint64_t rng;
};

void lease_table_init(struct lease_table *t);
void lease_table_destroy(struct lease_table *t);
struct lease *lease_find(const struct lease_table *t, int64_t id);
struct lease *lease_add(struct lease_table *t, int64_t id, int64_t ttl, uint64_t expiry_ns);
/* Keys must have been detached. */
void lease_remove(struct lease_table *t, struct lease *l);
int64_t lease_pick_id(struct lease_table *t);
void lease_set_expiry(struct lease_table *t, struct lease *l, uint64_t expiry_ns);
struct lease *lease_earliest(const struct lease_table *t);
void lease_attach(struct lease *l, struct kv_key *k);
void lease_detach(struct lease_table *t, struct kv_key *k);

/* --- the log (wal.c): shared with the disk threads, under mu --- */

struct seg_info {
	uint64_t seq;
	uint64_t first_lsn; /* 0: no frame yet */
	uint64_t bytes;     /* file size */
};

struct wal {
	pthread_mutex_t mu;
	pthread_cond_t work;    /* to the sync thread: records queued, or closing */
	pthread_cond_t bg_work; /* to the background thread */
	pthread_cond_t changed; /* synced_lsn, the spare or a failure changed */

	int dir_fd;
	char *dir;
	enum store_sync sync;
	uint64_t seg_bytes;
	const struct logger *log;
	struct metric *sync_seconds, *batch_records;

	/* Records waiting for the sync thread, from queue_first_lsn on. */
	struct buf queue;
	uint64_t queue_first_lsn;
	uint32_t queue_count;

	/* The segment being written (sync thread only, after open). */
	int seg_fd;
	uint64_t seg_seq, seg_salt, seg_off, seg_size;
	/* Every segment on disk, oldest first; the last is being written. */
	struct seg_info *segs;
	size_t nsegs;
	/* The next segment, prepared by the background thread. */
	int spare_fd;
	uint64_t spare_seq, spare_salt, spare_size;
	int spare_err;

	uint64_t synced_lsn;
	int err; /* the first write or sync failure: sticky */
	bool closing; /* the sync thread writes what is queued, then ends */
	bool bg_stop;  /* the sync thread has ended: so does the background one */

	/* Snapshot: a child writes snap-<lsn>.tmp, the background thread
	 * waits for it, then publishes it once the log is synced to lsn. */
	pid_t snap_pid;
	uint64_t snap_lsn;
	uint64_t snap_published; /* lsn of the newest published snapshot */
	uint64_t snap_bytes;
	bool snap_done;
	int snap_result;

	/* Posting news to the loop (emb_link). */
	struct emb_link *link;
	struct loop *loop;

	pthread_t sync_thread, bg_thread;
	bool threads;
};

/* The loop task the disk threads post; outlives the store if a post is
 * still queued in the loop when the store closes. */
struct emb_link {
	struct loop_task task;
	struct emb *s; /* NULL once the store is gone */
	bool pending;  /* posted and not run yet (under wal.mu) */
};

int wal_start(struct wal *w);
/* Stop the threads after they wrote what is queued. */
void wal_stop(struct wal *w);
void wal_destroy(struct wal *w);
/* Queue one record; returns its lsn. */
void wal_append(struct wal *w, const char *rec, size_t n, uint64_t lsn);
/* Create and pre-zero a segment file, named wal-<seq>.log when done. */
int wal_segment_create(struct wal *w, uint64_t seq, int *ret_fd, uint64_t *ret_salt,
		       uint64_t *ret_size);
uint64_t wal_db_bytes(struct wal *w);
char *wal_seg_name(uint64_t seq);
char *wal_snap_name(uint64_t lsn, const char *suffix);

/* --- requests waiting for their callback --- */

enum req_kind {
	REQ_RANGE,
	REQ_TXN,
	REQ_STATUS,
	REQ_COMPACT,
	REQ_LEASE,  /* grant and keepalive */
	REQ_REVOKE, /* revoke and expiry */
};

struct arena_chunk;

struct emb_req {
	struct emb_req *next;
	enum req_kind kind;
	uint64_t lsn;   /* answer once the log is synced up to here */
	int64_t rev;    /* the revision of its change (0: none) */
	int64_t live;   /* REQ_TXN: change of live keys */
	void *ud;
	union {
		store_range_fn range;
		store_txn_fn txn;
		store_status_fn status;
		store_rev_fn rev;
		store_lease_fn lease;
	} fn;
	int64_t arg, arg2; /* COMPACT: rev; LEASE: id, ttl */
	struct store_range_req range;
	struct store_txn_res res;
	struct arena_chunk *arena;
};

struct req_list {
	struct emb_req *head, **tail;
};

/* --- the store --- */

struct emb_watch;

struct emb {
	struct store base;
	struct loop *loop;
	const struct logger *log;
	char *dir;
	int lock_fd;
	int64_t snapshot_bytes;
	int64_t retention_s;

	struct mvcc m;
	struct lease_table leases;
	int64_t committed_rev;
	int64_t committed_live;
	uint64_t next_lsn;      /* the next record's */
	uint64_t committed_lsn; /* synced and answered */
	struct wal wal;
	struct buf rec;         /* the record being built */

	struct req_list ready;   /* answered at the next kick */
	struct req_list waiting; /* answered when the log is synced to their lsn */
	unsigned pending_compactions;
	int64_t compact_pending_rev; /* the newest compaction asked for */

	struct emb_watch *watches; /* doubly linked */
	size_t nwatches, nprogress;
	struct store_event *evs;
	size_t evs_cap;

	struct loop_timer kick;         /* at once: answers, watch deliveries */
	struct loop_timer lease_timer;  /* the earliest lease expiry */
	struct loop_timer progress_timer;
	struct loop_timer compact_timer;

	/* Snapshots. */
	int64_t log_bytes;  /* written to the log since the last snapshot */
	int64_t snap_limit; /* log_bytes that start the next snapshot */
	bool snap_running;

	bool failed;  /* a sync failed: writes refused */
	bool closing;
	bool dead;    /* closed inside a callback: free when unwinding */
	unsigned busy;
};

static inline struct emb *emb_of(struct store *st) { return (struct emb *)st; }

/* embedded.c */
void emb_kick(struct emb *s);
bool emb_enter(struct emb *s);
void emb_leave(struct emb *s);
struct emb_req *emb_req_new(struct emb *s, enum req_kind kind, void *ud);
/* A request answered when everything it may have seen is durable. */
void emb_req_queue(struct emb *s, struct emb_req *r, uint64_t lsn);
uint64_t emb_log_record(struct emb *s); /* s->rec to the log; returns its lsn */
void emb_commit(struct emb *s, uint64_t lsn);
void emb_fail(struct emb *s, int err);
void emb_req_free(struct emb_req *r);

/* apply.c: the effect of records, shared by live writes and recovery */
struct kv_ver *emb_apply_put(struct emb *s, int64_t rev, const char *key, size_t key_len,
			     const char *value, size_t value_len, int64_t lease);
struct kv_ver *emb_apply_del(struct emb *s, int64_t rev, struct kv_key *k);
int emb_apply_record(struct emb *s, const struct rec *r, uint64_t now_ns);
/* Revoke: delete the lease's keys in one revision, drop the lease; logs
 * it and returns its lsn. */
uint64_t emb_revoke(struct emb *s, struct lease *l, int64_t *ret_rev);
void emb_compact_apply(struct emb *s, int64_t rev);

/* txn.c */
int emb_range(struct store *st, const struct store_range_req *req, store_range_fn fn, void *ud);
int emb_txn(struct store *st, const struct store_txn_req *req, store_txn_fn fn, void *ud);
void emb_range_answer(struct emb *s, struct emb_req *r);
void emb_arena_free(struct arena_chunk *c);

/* watch.c */
int emb_watch(struct store *st, const struct store_watch_req *req,
	      const struct store_watch_ops *ops, void *ud, struct store_watch **ret);
void emb_watch_cancel(struct store_watch *w);
void emb_watch_request_progress(struct store_watch *w);
/* Deliver what is committed; false if the store closed meanwhile. */
bool emb_watch_pump(struct emb *s);
void emb_watch_progress_tick(struct emb *s);
void emb_watch_compacted(struct emb *s, int64_t rev);
void emb_watch_close_all(struct emb *s);

/* lease ops (lease_ops in apply.c) */
int emb_lease_grant(struct store *st, int64_t ttl_s, int64_t id, store_lease_fn fn, void *ud);
int emb_lease_revoke(struct store *st, int64_t id, store_rev_fn fn, void *ud);
int emb_lease_keepalive(struct store *st, int64_t id, store_lease_fn fn, void *ud);
void emb_lease_rearm(struct emb *s);

/* recover.c */
int emb_recover(struct emb *s);

/* snapshot.c */
/* In a forked child: write the state to path; no malloc, no locks. */
int snapshot_write(const struct emb *s, const char *path, uint64_t lsn, char *blk, size_t blk_cap);
/* Load path into s (empty); ret_lsn: the log position it covers. */
int snapshot_load(struct emb *s, const char *path, uint64_t *ret_lsn);
/* Fork a child writing the snapshot at the current log position. */
int emb_snapshot_start(struct emb *s);
