/* The conformance suite's synchronous layer over the async store API:
 * each call runs the loop until its callback fires (or a deadline passes,
 * so a bug fails a check instead of hanging) and hands back an owned copy
 * of the answer. Included by conformance.c (the suite is one translation
 * unit) and by test_store_crash.c, so everything here is static inline. */
#pragma once

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"
#include "loop/loop.h"
#include "store/store.h"
#include "../unit/tap.h"

/* How long one call may take before the test gives up on it. */
#define CALL_TIMEOUT_MS 10000

/* The suite's one store and loop; the store may be swapped by a test. */
struct conf {
	const char *backend;
	bool etcd;
	struct loop *loop;
	struct store *store;
	struct store_config cfg;
};

static struct conf C;

static inline int rm_entry(const char *path, const struct stat *st, int flag,
			   struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* rm -rf dir */
static inline void rm_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* --- owned copies of what callbacks receive --- */

struct kvc {
	char *key; /* NUL-terminated copies */
	size_t key_len;
	char *value;
	size_t value_len;
	bool has_value;
	int64_t create_rev, mod_rev, version, lease;
};

/* Binary-safe copy, NUL-terminated for printing. */
static inline char *dup_bytes(const char *p, size_t n)
{
	char *d = xmalloc(n + 1);
	if (n)
		memcpy(d, p, n);
	d[n] = '\0';
	return d;
}

static inline void kvc_copy(struct kvc *d, const struct store_kv *s)
{
	*d = (struct kvc){
		.key = dup_bytes(s->key, s->key_len),
		.key_len = s->key_len,
		.value = s->value ? dup_bytes(s->value, s->value_len) : NULL,
		.value_len = s->value_len,
		.has_value = s->value != NULL,
		.create_rev = s->create_rev,
		.mod_rev = s->mod_rev,
		.version = s->version,
		.lease = s->lease,
	};
}

static inline void kvc_free(struct kvc *k)
{
	free(k->key);
	free(k->value);
	*k = (struct kvc){0};
}

static inline struct kvc *kvcs_copy(const struct store_kv *kvs, size_t n)
{
	struct kvc *d = xnew(struct kvc, n);
	for (size_t i = 0; i < n; i++)
		kvc_copy(&d[i], &kvs[i]);
	return d;
}

static inline void kvcs_free(struct kvc *kvs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kvc_free(&kvs[i]);
	free(kvs);
}

struct opres {
	enum store_op_type type;
	struct kvc *kvs; /* RANGE */
	size_t n;
	bool more;
	int64_t count;
	struct kvc *prev; /* PUT, DELETE */
	size_t nprev;
	int64_t deleted;
};

/* One answer of any call; fields not meant for the call stay zero. */
struct res {
	int err;
	bool sync;     /* err came from the call itself, not the callback */
	bool nested;   /* the callback ran inside the call (a broken promise) */
	int64_t rev;
	/* get, create/update/delete */
	bool found, ok;
	struct kvc kv;
	/* range */
	struct kvc *kvs;
	size_t n;
	bool more;
	int64_t count;
	/* txn */
	bool succeeded;
	struct opres *ops;
	size_t nops;
	/* lease */
	int64_t id, ttl;
	/* status */
	struct store_status st;
};

static inline void res_free(struct res *r)
{
	kvc_free(&r->kv);
	kvcs_free(r->kvs, r->n);
	for (size_t i = 0; i < r->nops; i++) {
		kvcs_free(r->ops[i].kvs, r->ops[i].n);
		kvcs_free(r->ops[i].prev, r->ops[i].nprev);
	}
	free(r->ops);
	*r = (struct res){0};
}

/* --- running the loop --- */

static inline bool wait_until(const bool *flag, int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000u;
	while (!*flag && now_mono_ns() < end)
		loop_run_once(C.loop, 10 * 1000000u);
	return *flag;
}

/* Run the loop for ms, whatever happens. */
static inline void run_for(int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000u;
	uint64_t now;
	while ((now = now_mono_ns()) < end)
		loop_run_once(C.loop, MIN(end - now, 10 * 1000000u));
}

/* A call in flight. Heap-allocated so that a callback arriving after the
 * test gave up on it finds something to free instead of a dead stack. */
struct call {
	struct res r;
	bool in_call;
	bool done;
	bool abandoned;
};

static inline struct call *call_new(void)
{
	struct call *c = xnew(struct call, 1);
	c->in_call = true;
	return c;
}

/* Called first by every callback: false when nobody waits any more. */
static inline bool call_arrived(struct call *c, int err, int64_t rev)
{
	if (c->abandoned) {
		res_free(&c->r);
		free(c);
		return false;
	}
	c->r.err = err;
	c->r.rev = rev;
	c->r.nested = c->in_call;
	return true;
}

/* Finish a call: r (the call's return value) < 0 means the callback never
 * runs. Moves the answer into out and returns its err. */
static inline int call_finish(struct call *c, int r, const char *what, struct res *out)
{
	struct res tmp;

	c->in_call = false;
	if (r < 0) {
		c->r.err = r;
		c->r.sync = true;
		c->done = true;
	} else if (!wait_until(&c->done, CALL_TIMEOUT_MS)) {
		printf("# %s: no answer within %d ms\n", what, CALL_TIMEOUT_MS);
		tap_fail_(__FILE__, __LINE__, what);
		c->abandoned = true;
		if (out)
			*out = (struct res){.err = -ETIMEDOUT};
		return -ETIMEDOUT;
	}
	if (c->r.nested)
		tap_fail_(__FILE__, __LINE__, "callback ran inside the call");
	tmp = c->r;
	free(c);
	r = tmp.err;
	if (out)
		*out = tmp;
	else
		res_free(&tmp);
	return r;
}

/* --- kv calls --- */

static inline void on_kv(void *ud, int err, int64_t rev, const struct store_kv *kv)
{
	struct call *c = ud;
	if (!call_arrived(c, err, rev))
		return;
	if (kv) {
		c->r.found = true;
		kvc_copy(&c->r.kv, kv);
	}
	c->done = true;
}

static inline void on_cas(void *ud, int err, int64_t rev, bool ok,
			  const struct store_kv *cur)
{
	struct call *c = ud;
	if (!call_arrived(c, err, rev))
		return;
	c->r.ok = ok;
	if (cur) {
		c->r.found = true;
		kvc_copy(&c->r.kv, cur);
	}
	c->done = true;
}

static inline int s_get(const char *key, int64_t rev, struct res *out)
{
	struct call *c = call_new();
	int r = store_get(C.store, key, key ? strlen(key) : 0, rev, on_kv, c);
	return call_finish(c, r, "store_get", out);
}

static inline int s_putn(const char *key, size_t key_len, const char *val, size_t val_len,
		  int64_t lease, struct res *out)
{
	struct call *c = call_new();
	int r = store_put(C.store, key, key_len, val, val_len, lease, on_cas, c);
	return call_finish(c, r, "store_put", out);
}

static inline int s_put(const char *key, const char *val, int64_t lease, struct res *out)
{
	return s_putn(key, key ? strlen(key) : 0, val, val ? strlen(val) : 0, lease, out);
}

static inline int s_create(const char *key, const char *val, struct res *out)
{
	struct call *c = call_new();
	int r = store_create(C.store, key, strlen(key), val, strlen(val), 0, on_cas, c);
	return call_finish(c, r, "store_create", out);
}

static inline int s_update(const char *key, const char *val, int64_t expect, struct res *out)
{
	struct call *c = call_new();
	int r = store_update(C.store, key, strlen(key), val, strlen(val), expect, 0, on_cas, c);
	return call_finish(c, r, "store_update", out);
}

static inline int s_delete(const char *key, int64_t expect, struct res *out)
{
	struct call *c = call_new();
	int r = store_delete(C.store, key, strlen(key), expect, on_cas, c);
	return call_finish(c, r, "store_delete", out);
}

/* A put that must work: its revision. */
static inline int64_t put(const char *key, const char *val)
{
	struct res r;
	if (s_put(key, val, 0, &r) < 0 || !r.ok) {
		printf("# put %s: %s\n", key, store_strerror(r.err));
		tap_fail_(__FILE__, __LINE__, "put");
		res_free(&r);
		return -1;
	}
	int64_t rev = r.rev;
	res_free(&r);
	return rev;
}

/* A delete that must remove the key: its revision. */
static inline int64_t del(const char *key)
{
	struct res r;
	if (s_delete(key, 0, &r) < 0 || !r.ok) {
		printf("# delete %s: %s ok=%d\n", key, store_strerror(r.err), r.ok);
		tap_fail_(__FILE__, __LINE__, "delete");
		res_free(&r);
		return -1;
	}
	int64_t rev = r.rev;
	res_free(&r);
	return rev;
}

static inline void on_range(void *ud, int err, int64_t rev,
			    const struct store_range_res *res)
{
	struct call *c = ud;
	if (!call_arrived(c, err, rev))
		return;
	if (err == 0) {
		c->r.kvs = kvcs_copy(res->kvs, res->n);
		c->r.n = res->n;
		c->r.more = res->more;
		c->r.count = res->count;
	}
	c->done = true;
}

static inline int s_range(const struct store_range_req *req, struct res *out)
{
	struct call *c = call_new();
	int r = store_range(C.store, req, on_range, c);
	return call_finish(c, r, "store_range", out);
}

/* Every key starting with prefix (C string), at rev. */
static inline int s_prefix(const char *prefix, int64_t rev, int64_t limit, struct res *out)
{
	char end[256];
	size_t n = strlen(prefix);
	size_t end_len = store_prefix_end(prefix, n, end);
	return s_range(&(struct store_range_req){.key = prefix, .key_len = n, .end = end,
						  .end_len = end_len, .rev = rev, .limit = limit},
		       out);
}

static inline void on_txn(void *ud, int err, int64_t rev, const struct store_txn_res *res)
{
	struct call *c = ud;
	if (!call_arrived(c, err, rev))
		return;
	if (err == 0) {
		c->r.succeeded = res->succeeded;
		c->r.ops = xnew(struct opres, res->n);
		c->r.nops = res->n;
		for (size_t i = 0; i < res->n; i++) {
			const struct store_op_res *o = &res->results[i];
			struct opres *d = &c->r.ops[i];
			d->type = o->type;
			if (o->type == STORE_OP_RANGE) {
				d->kvs = kvcs_copy(o->range.kvs, o->range.n);
				d->n = o->range.n;
				d->more = o->range.more;
				d->count = o->range.count;
			}
			d->prev = kvcs_copy(o->prev, o->nprev);
			d->nprev = o->nprev;
			d->deleted = o->deleted;
		}
	}
	c->done = true;
}

static inline int s_txn(const struct store_txn_req *req, struct res *out)
{
	struct call *c = call_new();
	int r = store_txn(C.store, req, on_txn, c);
	return call_finish(c, r, "store_txn", out);
}

/* --- maintenance and leases --- */

static inline void on_rev(void *ud, int err, int64_t rev)
{
	struct call *c = ud;
	if (!call_arrived(c, err, rev))
		return;
	c->done = true;
}

static inline int s_compact(int64_t rev, struct res *out)
{
	struct call *c = call_new();
	int r = store_compact(C.store, rev, on_rev, c);
	return call_finish(c, r, "store_compact", out);
}

static inline void on_status(void *ud, int err, const struct store_status *st)
{
	struct call *c = ud;
	if (!call_arrived(c, err, st ? st->rev : 0))
		return;
	if (err == 0)
		c->r.st = *st;
	c->done = true;
}

static inline int s_status(struct res *out)
{
	struct call *c = call_new();
	int r = store_status(C.store, on_status, c);
	return call_finish(c, r, "store_status", out);
}

/* The store's current revision. */
static inline int64_t cur_rev(void)
{
	struct res r;
	if (s_status(&r) < 0) {
		tap_fail_(__FILE__, __LINE__, "status");
		return -1;
	}
	return r.st.rev;
}

static inline void on_lease(void *ud, int err, int64_t id, int64_t ttl)
{
	struct call *c = ud;
	if (!call_arrived(c, err, 0))
		return;
	c->r.id = id;
	c->r.ttl = ttl;
	c->done = true;
}

static inline int s_lease_grant(int64_t ttl, int64_t id, struct res *out)
{
	struct call *c = call_new();
	int r = store_lease_grant(C.store, ttl, id, on_lease, c);
	return call_finish(c, r, "store_lease_grant", out);
}

static inline int s_lease_keepalive(int64_t id, struct res *out)
{
	struct call *c = call_new();
	int r = store_lease_keepalive(C.store, id, on_lease, c);
	return call_finish(c, r, "store_lease_keepalive", out);
}

static inline int s_lease_revoke(int64_t id, struct res *out)
{
	struct call *c = call_new();
	int r = store_lease_revoke(C.store, id, on_rev, c);
	return call_finish(c, r, "store_lease_revoke", out);
}

/* --- watches: a recorder keeps every event and how the watch ended --- */

struct ev {
	enum store_event_type type;
	struct kvc kv, prev;
	bool has_prev;
	unsigned batch; /* which events() call delivered it */
};

struct rec {
	struct store_watch *w;
	struct ev *ev;
	size_t n, cap;
	unsigned batches;
	int64_t *progress;
	size_t nprogress;
	bool closed;
	int close_err;
	int64_t compact_rev;
	bool in_call;
	bool nested;   /* a callback ran inside store_watch() or cancel */
	bool late;     /* a callback after closed() */
	bool abandoned;
};

static inline void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++) {
		kvc_free(&r->ev[i].kv);
		kvc_free(&r->ev[i].prev);
	}
	free(r->ev);
	free(r->progress);
	free(r);
}

static inline void rec_events(void *ud, const struct store_event *ev, size_t n)
{
	struct rec *r = ud;
	if (r->abandoned)
		return;
	r->nested |= r->in_call;
	r->late |= r->closed;
	r->batches++;
	if (r->n + n > r->cap) {
		r->cap = MAX(r->cap * 2, r->n + n + 16);
		r->ev = xrealloc(r->ev, r->cap * sizeof(*r->ev));
	}
	for (size_t i = 0; i < n; i++) {
		struct ev *e = &r->ev[r->n++];
		*e = (struct ev){.type = ev[i].type, .has_prev = ev[i].has_prev,
				 .batch = r->batches};
		kvc_copy(&e->kv, &ev[i].kv);
		if (ev[i].has_prev)
			kvc_copy(&e->prev, &ev[i].prev);
	}
}

static inline void rec_progress(void *ud, int64_t rev)
{
	struct rec *r = ud;
	if (r->abandoned)
		return;
	r->nested |= r->in_call;
	r->late |= r->closed;
	r->progress = xrealloc(r->progress, (r->nprogress + 1) * sizeof(int64_t));
	r->progress[r->nprogress++] = rev;
}

static inline void rec_closed(void *ud, int err, int64_t compact_rev)
{
	struct rec *r = ud;
	if (r->abandoned) {
		rec_free(r);
		return;
	}
	r->nested |= r->in_call;
	r->late |= r->closed;
	r->closed = true;
	r->close_err = err;
	r->compact_rev = compact_rev;
}

static const struct store_watch_ops rec_ops = {
	.events = rec_events,
	.progress = rec_progress,
	.closed = rec_closed,
};

/* Watch [key, end) from start_rev; end NULL: the key alone, "" : the
 * key as a prefix. NULL when store_watch() refused (its error in *err). */
static inline struct rec *watch_opts(const char *key, const char *end, int64_t start_rev,
				     bool prev_kv, bool progress, int *ret_err)
{
	struct rec *r = xnew(struct rec, 1);
	char pend[256];
	struct store_watch_req req = {
		.key = key,
		.key_len = strlen(key),
		.start_rev = start_rev,
		.prev_kv = prev_kv,
		.progress_notify = progress,
	};

	if (end && !*end) {
		req.end = pend;
		req.end_len = store_prefix_end(key, req.key_len, pend);
	} else if (end) {
		req.end = end;
		req.end_len = strlen(end);
	}
	r->in_call = true;
	int e = store_watch(C.store, &req, &rec_ops, r, &r->w);
	r->in_call = false;
	if (ret_err)
		*ret_err = e;
	if (e < 0) {
		free(r);
		return NULL;
	}
	return r;
}

static inline struct rec *watch_prefix(const char *prefix, int64_t start_rev, bool prev_kv)
{
	int e;
	struct rec *r = watch_opts(prefix, "", start_rev, prev_kv, false, &e);
	if (!r) {
		printf("# store_watch %s: %s\n", prefix, store_strerror(e));
		tap_fail_(__FILE__, __LINE__, "store_watch");
	}
	return r;
}

static inline bool rec_wait(struct rec *r, size_t n, int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000u;
	while (r->n < n && !r->closed && now_mono_ns() < end)
		loop_run_once(C.loop, 10 * 1000000u);
	if (r->n < n)
		printf("#   watch has %zu events, want %zu (closed %d: %s)\n", r->n, n, r->closed,
		       r->closed ? store_strerror(r->close_err) : "no");
	return r->n >= n;
}

static inline bool rec_wait_closed(struct rec *r, int ms)
{
	wait_until(&r->closed, ms);
	return r->closed;
}

/* Give a fresh watch from "now" time to be in place on the server. */
static inline void watch_settle(void)
{
	run_for(C.etcd ? 300 : 50);
}

/* Cancel (unless over), wait for closed(), free. */
static inline void rec_end(struct rec *r)
{
	if (!r)
		return;
	if (!r->closed) {
		r->in_call = true;
		store_watch_cancel(r->w);
		r->in_call = false;
		if (!rec_wait_closed(r, CALL_TIMEOUT_MS)) {
			tap_fail_(__FILE__, __LINE__, "watch closed after cancel");
			r->abandoned = true;
			return;
		}
	}
	CHECK(!r->nested);
	CHECK(!r->late);
	rec_free(r);
}

/* kv has this key and (unless val is NULL) this value. */
static inline bool kv_is(const struct kvc *kv, const char *key, const char *val)
{
	return kv->key && streq(kv->key, key) && (!val || (kv->value && streq(kv->value, val)));
}
