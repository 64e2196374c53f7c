/* controlplane/store: a revisioned key-value store with watch, the
 * Kubernetes API server's only state. Two backends behind one interface:
 * "embedded" (the default: kelp's own, on local disk) and "etcd" (a real
 * etcd v3 cluster over gRPC).
 *
 * The semantics are etcd v3's, because Kubernetes is built on them:
 *
 *  - Keys and values are byte strings. Every write (a put, a delete, or a
 *    transaction that writes) takes the next cluster revision; a revision
 *    is Kubernetes' resourceVersion. Each key has create_rev, mod_rev and
 *    version (the number of puts since its creation; deletion resets it).
 *  - A range names [key, end): end of length 0 means the key alone; end
 *    "\0" (one zero byte) means every key >= key; store_prefix_end() makes
 *    the end of a prefix.
 *  - Reads see every acknowledged write and nothing that is not yet
 *    acknowledged. Writes are acknowledged once durable (embedded: on disk;
 *    etcd: committed by the cluster).
 *  - Watches deliver every event with mod_rev >= start_rev, in revision
 *    order, none lost or repeated; a start_rev below the compacted
 *    revision fails with -ESTALE (the API server's 410 Gone).
 *
 * Everything runs on one loop thread: a store is opened, used and closed
 * there. A call either returns a negative errno (and its callback never
 * runs) or returns 0 and its callback runs exactly once, later, from the
 * loop, never inside the call. The store copies what it needs from a
 * request before the call returns; what a callback receives is valid
 * during the callback only.
 *
 * Errors (negative errno; store_strerror() gives etcd's wording):
 *   -EINVAL    bad request: empty key, negative revision or limit, bad range
 *   -E2BIG     request over STORE_MAX_REQUEST_BYTES
 *   -EOVERFLOW a txn with more than 128 compares or ops in a branch
 *   -ENOTUNIQ  a txn branch writing one key twice
 *   -ESTALE    the revision asked for has been compacted
 *   -ERANGE    the revision asked for is in the future
 *   -ENOENT    lease not found (lease calls, and puts naming one)
 *   -EEXIST    lease grant with an id already in use
 *   -ECANCELED the store is closing, or the watch was cancelled
 *   -EIO       the store can no longer write safely (a failed sync): every
 *              later write fails too
 *   -ENOTCONN, -ETIMEDOUT  etcd unreachable (after failover was tried)
 *   -EUCLEAN   (store_open, embedded) the data directory is damaged; nothing
 *              was changed: the log names file, offset and problem
 *   -EBUSY     (store_open, embedded) another process has the directory */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct logger;
struct metrics_registry;
typedef struct ssl_ctx_st SSL_CTX;

/* etcd's default --max-request-bytes: key, value and the rest of a
 * request together. */
#define STORE_MAX_REQUEST_BYTES (1536 * 1024)

struct store;
struct store_watch;

/* --- opening --- */

enum store_sync {
	STORE_SYNC_FDATASYNC = 0, /* acknowledge after fdatasync (the default) */
	STORE_SYNC_NONE,          /* no sync: tests and benchmarks that say so */
};

struct store_config {
	const char *backend; /* "embedded" (NULL means it) or "etcd" */

	/* embedded */
	const char *data_dir;     /* created if missing */
	enum store_sync sync;
	int64_t snapshot_bytes;   /* write a snapshot when the log grows past it; 0: 64 MiB */

	/* etcd */
	const char *const *endpoints; /* "http://127.0.0.1:2379", "https://..." */
	size_t nendpoints;
	SSL_CTX *tls;                 /* for https endpoints; may be NULL */
	unsigned timeout_ms;          /* per request; 0: 10 s */

	/* both */
	int64_t auto_compact_retention_s; /* keep this much history; 0: 300 s; < 0: never */
	const struct logger *log;
	struct metrics_registry *metrics; /* may be NULL */
};

/* Open (embedded: recover from disk before returning; etcd: connect
 * lazily). */
int store_open(struct loop *l, const struct store_config *cfg, struct store **ret);
/* Fail what is pending with -ECANCELED (their callbacks run before this
 * returns), end every watch, wait for in-flight disk work, free. */
void store_close(struct store *s);

/* --- data --- */

struct store_kv {
	const char *key;
	size_t key_len;
	const char *value; /* NULL with keys_only */
	size_t value_len;
	int64_t create_rev;
	int64_t mod_rev;
	int64_t version;
	int64_t lease; /* 0: none */
};

/* --- reads --- */

struct store_range_req {
	const char *key;
	size_t key_len;
	const char *end;
	size_t end_len;
	int64_t rev;   /* 0: the latest */
	int64_t limit; /* 0: no limit */
	bool keys_only;
	bool count_only;
};

struct store_range_res {
	const struct store_kv *kvs; /* in key order */
	size_t n;
	bool more;     /* the limit cut the answer short */
	int64_t count; /* keys in the whole range */
};

/* rev is the store's revision the answer reflects (etcd's header). */
typedef void (*store_range_fn)(void *ud, int err, int64_t rev, const struct store_range_res *res);
int store_range(struct store *s, const struct store_range_req *req, store_range_fn fn, void *ud);

/* --- transactions (and every write) --- */

enum store_cmp_target {
	STORE_CMP_VERSION,
	STORE_CMP_CREATE,
	STORE_CMP_MOD,
	STORE_CMP_VALUE,
	STORE_CMP_LEASE,
};

enum store_cmp_op {
	STORE_CMP_EQ,
	STORE_CMP_NE,
	STORE_CMP_LT,
	STORE_CMP_GT,
};

/* A missing key has version, create and mod revision 0 and lease 0. */
struct store_cmp {
	const char *key;
	size_t key_len;
	enum store_cmp_target target;
	enum store_cmp_op op;
	int64_t num;       /* VERSION, CREATE, MOD, LEASE */
	const char *value; /* VALUE */
	size_t value_len;
};

enum store_op_type {
	STORE_OP_RANGE,
	STORE_OP_PUT,
	STORE_OP_DELETE,
};

struct store_op {
	enum store_op_type type;
	const char *key;
	size_t key_len;
	const char *end; /* RANGE, DELETE */
	size_t end_len;
	const char *value; /* PUT */
	size_t value_len;
	int64_t lease;     /* PUT */
	bool prev_kv;      /* PUT, DELETE: report what was there */
	int64_t rev;       /* RANGE */
	int64_t limit;     /* RANGE */
	bool keys_only;    /* RANGE */
	bool count_only;   /* RANGE */
};

struct store_op_res {
	enum store_op_type type;
	struct store_range_res range; /* RANGE */
	const struct store_kv *prev;  /* PUT: 0 or 1 kv; DELETE: the deleted kvs (prev_kv) */
	size_t nprev;
	int64_t deleted; /* DELETE: how many keys went */
};

struct store_txn_req {
	const struct store_cmp *cmps;
	size_t ncmps;
	const struct store_op *success;
	size_t nsuccess;
	const struct store_op *failure;
	size_t nfailure;
};

struct store_txn_res {
	bool succeeded;
	const struct store_op_res *results; /* one per op of the branch taken */
	size_t n;
};

/* All compares hold: the success ops run, else the failure ops; all at
 * one revision, atomically. A txn that writes nothing takes no revision.
 * rev: the revision after the txn. */
typedef void (*store_txn_fn)(void *ud, int err, int64_t rev, const struct store_txn_res *res);
int store_txn(struct store *s, const struct store_txn_req *req, store_txn_fn fn, void *ud);

/* --- the writes the API server makes, as transactions --- */

/* kv: the key's current value, or NULL when absent. */
typedef void (*store_kv_fn)(void *ud, int err, int64_t rev, const struct store_kv *kv);
/* ok: the guarded write happened; cur: on success the new (put) or the
 * deleted (delete) kv, on failure the key's current kv (NULL: absent). */
typedef void (*store_cas_fn)(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur);

int store_get(struct store *s, const char *key, size_t key_len, int64_t rev, store_kv_fn fn,
	      void *ud);
int store_put(struct store *s, const char *key, size_t key_len, const char *value,
	      size_t value_len, int64_t lease, store_cas_fn fn, void *ud);
/* Put only if the key does not exist. */
int store_create(struct store *s, const char *key, size_t key_len, const char *value,
		 size_t value_len, int64_t lease, store_cas_fn fn, void *ud);
/* Put only if the key's mod_rev is expect_mod_rev (optimistic concurrency). */
int store_update(struct store *s, const char *key, size_t key_len, const char *value,
		 size_t value_len, int64_t expect_mod_rev, int64_t lease, store_cas_fn fn, void *ud);
/* Delete only if the key exists and, when expect_mod_rev > 0, has that
 * mod_rev. */
int store_delete(struct store *s, const char *key, size_t key_len, int64_t expect_mod_rev,
		 store_cas_fn fn, void *ud);

/* --- watch --- */

enum store_event_type {
	STORE_EVENT_PUT,
	STORE_EVENT_DELETE,
};

struct store_event {
	enum store_event_type type;
	/* PUT: the new kv. DELETE: key, and mod_rev = the deleting revision. */
	struct store_kv kv;
	/* With prev_kv: the kv before this event (for DELETE, the deleted
	 * value); has_prev false when there was none. */
	struct store_kv prev;
	bool has_prev;
};

struct store_watch_req {
	const char *key;
	size_t key_len;
	const char *end;
	size_t end_len;
	int64_t start_rev; /* 0: only what happens from now on */
	bool prev_kv;
	/* Call progress() when the store has no event for the watch for a
	 * while (embedded: 1 s; etcd: as the server sends them). */
	bool progress_notify;
};

struct store_watch_ops {
	/* Events in revision order (within one revision, in the order the
	 * txn made them). */
	void (*events)(void *ud, const struct store_event *ev, size_t n);
	/* Every event up to rev has been delivered. Optional. */
	void (*progress)(void *ud, int64_t rev);
	/* The watch is over, and ops will not be called again: -ECANCELED
	 * after store_watch_cancel() or store_close(); -ESTALE when start_rev
	 * is below the compacted revision, which compact_rev gives (etcd's
	 * compact_revision); -EIO or a connection error otherwise. */
	void (*closed)(void *ud, int err, int64_t compact_rev);
};

int store_watch(struct store *s, const struct store_watch_req *req,
		const struct store_watch_ops *ops, void *ud, struct store_watch **ret);
/* closed(-ECANCELED) follows from the loop. The watch handle is freed
 * once closed() has returned: do not cancel it after that. */
void store_watch_cancel(struct store_watch *w);
/* Ask for a progress notification as soon as the watch is up to date. */
void store_watch_request_progress(struct store_watch *w);

/* --- maintenance --- */

/* Drop history older than rev: for each key the newest version at or
 * below rev stays (unless it is a deletion), everything newer stays; reads
 * at and watches from a revision below rev fail with -ESTALE afterwards.
 * -ESTALE also when rev is at or below an earlier compaction, -ERANGE when
 * it is in the future. */
typedef void (*store_rev_fn)(void *ud, int err, int64_t rev);
int store_compact(struct store *s, int64_t rev, store_rev_fn fn, void *ud);

struct store_status {
	int64_t rev;         /* the current revision */
	int64_t compact_rev; /* the latest compaction, 0: none */
	int64_t keys;        /* live keys (embedded; etcd: -1) */
	int64_t db_bytes;    /* on-disk size */
};
typedef void (*store_status_fn)(void *ud, int err, const struct store_status *st);
int store_status(struct store *s, store_status_fn fn, void *ud);

/* --- leases --- */

/* Keys attached to a lease are deleted (one revision) when it expires or
 * is revoked. id 0: the store picks one. ttl: granted seconds. */
typedef void (*store_lease_fn)(void *ud, int err, int64_t id, int64_t ttl);
int store_lease_grant(struct store *s, int64_t ttl_s, int64_t id, store_lease_fn fn, void *ud);
int store_lease_revoke(struct store *s, int64_t id, store_rev_fn fn, void *ud);
/* Renew: ttl is the lease's full TTL again. */
int store_lease_keepalive(struct store *s, int64_t id, store_lease_fn fn, void *ud);

/* --- helpers --- */

/* The range end covering every key that starts with prefix, into out
 * (which must hold MAX(prefix_len, 1) bytes); returns its length. An all-0xff
 * prefix gives "\0", as etcd does. */
size_t store_prefix_end(const char *prefix, size_t prefix_len, char *out);
/* etcd's message for an error this interface returns. */
const char *store_strerror(int err);
