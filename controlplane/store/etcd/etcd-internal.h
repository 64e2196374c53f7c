/* The etcd backend's internals, shared by its files (not a public API).
 *
 *   etcd.c   open/close, endpoints and failover, periodic compaction
 *   rpc.c    unary calls: deadline, retries, status and errors
 *   kv.c     Range, Txn, Compact, Status: store.h <-> etcdserverpb
 *   lease.c  LeaseGrant, LeaseRevoke, LeaseKeepAlive
 *   watch.c  one Watch stream carrying every watch, resumed after a
 *            reconnect
 *   grpc.c   framing and status (no I/O) */
#pragma once

#include "grpc.h"
#include "http/http.h"
#include "kv.pb-c.h"
#include "log/log.h"
#include "loop/loop.h"
#include "rpc.pb-c.h"
#include "store/backend.h"

/* Responses bigger than this are refused (a range over many big keys
 * can be large; etcd's own client allows up to 2 GiB). */
#define ETCD_MAX_RESPONSE (512u << 20)
#define ETCD_BACKOFF_MIN_MS 50
#define ETCD_BACKOFF_MAX_MS 1000

struct etcd_ep {
	char *url;
	struct http_client *cl; /* NULL: the address did not resolve */
};

struct etcd_rpc;
struct etcd_wstream;
struct etcd_watch;
struct metric;

struct etcd {
	struct store base;
	struct etcd_ep *eps;
	size_t neps;
	/* Failover: calls go to eps[cur]; an endpoint that cannot be dialed
	 * moves cur on. After a whole round of failures, calls park until
	 * retry_timer starts the next round (backoff_ms, doubling). */
	size_t cur;
	size_t dead;
	unsigned backoff_ms;
	struct loop_timer retry_timer;
	unsigned timeout_ms;

	struct etcd_rpc *rpcs; /* every call not yet freed */

	/* watches */
	struct etcd_watch *watches;
	struct etcd_wstream *ws; /* NULL: none open */
	struct loop_timer ws_timer;
	unsigned ws_backoff_ms;
	bool ws_wait;   /* a reconnect is waiting for ws_timer or retry_timer */
	bool ws_opened; /* a stream was opened before: the next one resumes */

	/* periodic compaction (kube-apiserver's scheme) */
	int64_t retention_s;
	struct loop_timer compact_timer;
	int64_t compact_key_version;
	int64_t compact_next_rev; /* compact to this at the next tick */
	bool compacting;
	int64_t compact_rev_seen; /* the highest compaction known here */

	/* deferred work: watch close callbacks, reconnects, teardown */
	struct loop_task task;
	bool task_queued;
	unsigned depth; /* inside a callback to the user */
	bool closing;
	bool tearing_down;
	bool *freed; /* set when the deferred teardown is done */

	struct metric *m_failovers;
	struct metric *m_resumes;
};

static inline struct etcd *etcd_of(struct store *s) { return (struct etcd *)s; }

/* Run a callback into the user, who may call store_close() in it. */
#define ETCD_CALLBACK(e, expr) \
	do {                   \
		(e)->depth++;  \
		expr;          \
		(e)->depth--;  \
	} while (0)

/* etcd.c */
void etcd_kick(struct etcd *e);
/* An attempt on endpoint ep could not connect / got an answer. */
void etcd_endpoint_failed(struct etcd *e, size_t ep);
void etcd_endpoint_ok(struct etcd *e, size_t ep);
/* Whether every endpoint failed in this round (calls wait). */
static inline bool etcd_all_dead(const struct etcd *e) { return e->dead >= e->neps; }
/* The endpoint to use now, skipping unresolvable ones; -1 when all are
 * down. */
int etcd_pick_endpoint(struct etcd *e);
/* Request headers for a gRPC call on path (timeout_ms 0: none). */
void etcd_call_request(const char *path, unsigned timeout_ms, struct http_header *h,
		       char *timeout_buf, struct http_call_request *ret);
void etcd_note_compacted(struct etcd *e, int64_t rev);

/* rpc.c: one unary call. fn runs once, from the loop: msg is the
 * unpacked response (freed after fn), or NULL with err < 0. */
typedef void (*etcd_rpc_fn)(void *ctx, int err, const ProtobufCMessage *msg);
int etcd_rpc_start(struct etcd *e, const char *path, const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *resp, bool idempotent, etcd_rpc_fn fn,
		   void *ctx);
/* Resend what waited for a connection. */
void etcd_rpc_resume(struct etcd *e);
/* Fail every call with -ECANCELED (callbacks run now). */
void etcd_rpc_cancel_all(struct etcd *e);
/* Free what is left once the HTTP clients are gone. */
void etcd_rpc_free_all(struct etcd *e);

/* kv.c */
int etcd_range(struct store *s, const struct store_range_req *req, store_range_fn fn, void *ud);
int etcd_txn(struct store *s, const struct store_txn_req *req, store_txn_fn fn, void *ud);
int etcd_compact(struct store *s, int64_t rev, store_rev_fn fn, void *ud);
int etcd_status(struct store *s, store_status_fn fn, void *ud);
/* A store_kv viewing a protobuf KeyValue (valid while it is). */
void etcd_kv_from_pb(const Mvccpb__KeyValue *pb, bool keys_only, struct store_kv *ret);

/* lease.c */
int etcd_lease_grant(struct store *s, int64_t ttl_s, int64_t id, store_lease_fn fn, void *ud);
int etcd_lease_revoke(struct store *s, int64_t id, store_rev_fn fn, void *ud);
int etcd_lease_keepalive(struct store *s, int64_t id, store_lease_fn fn, void *ud);

/* watch.c */
int etcd_watch(struct store *s, const struct store_watch_req *req,
	       const struct store_watch_ops *ops, void *ud, struct store_watch **ret);
void etcd_watch_cancel(struct store_watch *w);
void etcd_watch_request_progress(struct store_watch *w);
/* From the deferred task: run queued closed() callbacks, (re)open the
 * stream when watches need one. */
void etcd_watch_work(struct etcd *e);
/* Close every watch with -ECANCELED (callbacks run now). */
void etcd_watch_cancel_all(struct etcd *e);
/* Drop the stream and free the watches (teardown). */
void etcd_watch_free_all(struct etcd *e);
