/* The store frontend: request validation shared by both backends, and the
 * API server's guarded writes expressed as transactions. */
#include "store/store.h"

#include "base/base.h"
#include "store/backend.h"

/* etcd's default --max-txn-ops. */
#define MAX_TXN_OPS 128

int store_open(struct loop *l, const struct store_config *cfg, struct store **ret)
{
	const char *b = cfg->backend ? cfg->backend : "embedded";

	if (streq(b, "embedded"))
		return store_embedded_open(l, cfg, ret);
	if (streq(b, "etcd"))
		return store_etcd_open(l, cfg, ret);
	return -EINVAL;
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

/* --- validation --- */

static int check_key(const char *key, size_t len)
{
	return key && len ? 0 : -EINVAL;
}

static int check_range(const char *key, size_t key_len, const char *end, size_t end_len,
		       int64_t rev, int64_t limit)
{
	if (check_key(key, key_len) < 0 || (end_len && !end) || rev < 0 || limit < 0)
		return -EINVAL;
	if (key_len + end_len > STORE_MAX_REQUEST_BYTES)
		return -E2BIG;
	return 0;
}

int store_range(struct store *s, const struct store_range_req *req, store_range_fn fn, void *ud)
{
	int r = check_range(req->key, req->key_len, req->end, req->end_len, req->rev, req->limit);
	return r < 0 ? r : s->ops->range(s, req, fn, ud);
}

static bool ranges_overlap(const struct store_op *a, const struct store_op *b)
{
	/* [key, end) intervals; end_len 0: the key alone; "\0": to the end. */
	const struct store_op *o[2] = {a, b};
	const char *lo[2], *hi[2];
	size_t lo_n[2], hi_n[2];
	bool open_end[2];

	for (int i = 0; i < 2; i++) {
		lo[i] = o[i]->key;
		lo_n[i] = o[i]->key_len;
		open_end[i] = o[i]->end_len == 1 && o[i]->end[0] == '\0';
		hi[i] = o[i]->end;
		hi_n[i] = o[i]->end_len;
	}
	/* x < y for byte strings */
#define LESS(x, xn, y, yn) \
	(memcmp(x, y, MIN(xn, yn)) < 0 || (memcmp(x, y, MIN(xn, yn)) == 0 && (xn) < (yn)))
	for (int i = 0; i < 2; i++) {
		int j = 1 - i;
		/* Does interval i contain lo[j]? */
		bool single = !hi_n[i];
		if (single) {
			if (lo_n[i] == lo_n[j] && memcmp(lo[i], lo[j], lo_n[i]) == 0)
				return true;
			continue;
		}
		if (!LESS(lo[j], lo_n[j], lo[i], lo_n[i]) &&
		    (open_end[i] || LESS(lo[j], lo_n[j], hi[i], hi_n[i])))
			return true;
	}
#undef LESS
	return false;
}

static int check_ops(const struct store_op *ops, size_t n, size_t *bytes)
{
	for (size_t i = 0; i < n; i++) {
		const struct store_op *o = &ops[i];
		int r = check_range(o->key, o->key_len, o->end, o->end_len, o->rev, o->limit);
		if (r < 0)
			return r;
		if (o->type == STORE_OP_PUT && (o->end_len || (o->value_len && !o->value)))
			return -EINVAL;
		if (o->lease < 0)
			return -EINVAL;
		*bytes += o->key_len + o->end_len + o->value_len;
		if (o->type == STORE_OP_RANGE)
			continue;
		/* etcd refuses two writes to one key in a branch. */
		for (size_t j = 0; j < i; j++)
			if (ops[j].type != STORE_OP_RANGE && ranges_overlap(o, &ops[j]))
				return -ENOTUNIQ;
	}
	return 0;
}

int store_txn(struct store *s, const struct store_txn_req *req, store_txn_fn fn, void *ud)
{
	size_t bytes = 0;
	int r;

	if (req->nsuccess > MAX_TXN_OPS || req->nfailure > MAX_TXN_OPS || req->ncmps > MAX_TXN_OPS)
		return -EOVERFLOW;
	for (size_t i = 0; i < req->ncmps; i++) {
		const struct store_cmp *c = &req->cmps[i];
		if (check_key(c->key, c->key_len) < 0 || (c->value_len && !c->value))
			return -EINVAL;
		bytes += c->key_len + c->value_len;
	}
	r = check_ops(req->success, req->nsuccess, &bytes);
	if (r < 0)
		return r;
	r = check_ops(req->failure, req->nfailure, &bytes);
	if (r < 0)
		return r;
	if (bytes > STORE_MAX_REQUEST_BYTES)
		return -E2BIG;
	return s->ops->txn(s, req, fn, ud);
}

/* --- guarded writes --- */

enum cas_kind {
	CAS_PUT,
	CAS_CREATE,
	CAS_UPDATE,
	CAS_DELETE,
};

/* The request's key and value are kept to describe the new kv to the
 * caller: a put answers with the previous kv, not the new one. */
struct cas {
	enum cas_kind kind;
	store_cas_fn fn;
	void *ud;
	char *key;
	size_t key_len;
	char *value;
	size_t value_len;
	int64_t lease;
};

static void cas_done(void *ud, int err, int64_t rev, const struct store_txn_res *res)
{
	struct cas *c = ud;
	struct store_kv kv;
	const struct store_kv *cur = NULL;
	bool ok = false;

	if (err == 0 && res->succeeded) {
		ok = true;
		const struct store_op_res *op = &res->results[0];
		if (c->kind == CAS_DELETE) {
			cur = op->nprev ? &op->prev[0] : NULL;
			ok = op->deleted > 0;
		} else {
			const struct store_kv *prev = op->nprev ? &op->prev[0] : NULL;
			kv = (struct store_kv){
				.key = c->key,
				.key_len = c->key_len,
				.value = c->value,
				.value_len = c->value_len,
				.create_rev = prev ? prev->create_rev : rev,
				.mod_rev = rev,
				.version = prev ? prev->version + 1 : 1,
				.lease = c->lease,
			};
			cur = &kv;
		}
	} else if (err == 0) {
		const struct store_range_res *rr = &res->results[0].range;
		cur = rr->n ? &rr->kvs[0] : NULL;
	}
	c->fn(c->ud, err, rev, ok, cur);
	free(c->key);
	free(c->value);
	free(c);
}

static int cas(struct store *s, enum cas_kind kind, const char *key, size_t key_len,
	       const char *value, size_t value_len, int64_t expect_mod_rev, int64_t lease,
	       store_cas_fn fn, void *ud)
{
	struct store_cmp cmp = {.key = key, .key_len = key_len};
	struct store_op op = {.key = key, .key_len = key_len, .prev_kv = true};
	struct store_op get = {.type = STORE_OP_RANGE, .key = key, .key_len = key_len};
	struct store_txn_req req = {.success = &op, .nsuccess = 1};

	if (check_key(key, key_len) < 0 || expect_mod_rev < 0)
		return -EINVAL;
	switch (kind) {
	case CAS_PUT:
		break;
	case CAS_CREATE:
		cmp.target = STORE_CMP_MOD;
		cmp.op = STORE_CMP_EQ;
		cmp.num = 0;
		break;
	case CAS_UPDATE:
		cmp.target = STORE_CMP_MOD;
		cmp.op = STORE_CMP_EQ;
		cmp.num = expect_mod_rev;
		break;
	case CAS_DELETE:
		cmp.target = STORE_CMP_MOD;
		cmp.op = expect_mod_rev ? STORE_CMP_EQ : STORE_CMP_GT;
		cmp.num = expect_mod_rev;
		break;
	}
	if (kind != CAS_PUT) {
		req.cmps = &cmp;
		req.ncmps = 1;
		req.failure = &get;
		req.nfailure = 1;
	}
	if (kind == CAS_DELETE) {
		op.type = STORE_OP_DELETE;
	} else {
		op.type = STORE_OP_PUT;
		op.value = value ? value : "";
		op.value_len = value_len;
		op.lease = lease;
	}
	struct cas *c = xnew(struct cas, 1);
	c->kind = kind;
	c->fn = fn;
	c->ud = ud;
	c->key = xstrndup(key, key_len);
	c->key_len = key_len;
	c->value = value ? xstrndup(value, value_len) : NULL;
	c->value_len = value_len;
	c->lease = lease;
	int r = store_txn(s, &req, cas_done, c);
	if (r < 0) {
		free(c->key);
		free(c->value);
		free(c);
	}
	return r;
}

int store_put(struct store *s, const char *key, size_t key_len, const char *value,
	      size_t value_len, int64_t lease, store_cas_fn fn, void *ud)
{
	return cas(s, CAS_PUT, key, key_len, value, value_len, 0, lease, fn, ud);
}

int store_create(struct store *s, const char *key, size_t key_len, const char *value,
		 size_t value_len, int64_t lease, store_cas_fn fn, void *ud)
{
	return cas(s, CAS_CREATE, key, key_len, value, value_len, 0, lease, fn, ud);
}

int store_update(struct store *s, const char *key, size_t key_len, const char *value,
		 size_t value_len, int64_t expect_mod_rev, int64_t lease, store_cas_fn fn, void *ud)
{
	if (expect_mod_rev <= 0)
		return -EINVAL;
	return cas(s, CAS_UPDATE, key, key_len, value, value_len, expect_mod_rev, lease, fn, ud);
}

int store_delete(struct store *s, const char *key, size_t key_len, int64_t expect_mod_rev,
		 store_cas_fn fn, void *ud)
{
	return cas(s, CAS_DELETE, key, key_len, NULL, 0, expect_mod_rev, 0, fn, ud);
}

/* --- get --- */

struct get {
	store_kv_fn fn;
	void *ud;
};

static void get_done(void *ud, int err, int64_t rev, const struct store_range_res *res)
{
	struct get *g = ud;
	g->fn(g->ud, err, rev, err == 0 && res->n ? &res->kvs[0] : NULL);
	free(g);
}

int store_get(struct store *s, const char *key, size_t key_len, int64_t rev, store_kv_fn fn,
	      void *ud)
{
	struct get *g = xnew(struct get, 1);
	g->fn = fn;
	g->ud = ud;
	int r = store_range(s, &(struct store_range_req){.key = key, .key_len = key_len, .rev = rev},
			    get_done, g);
	if (r < 0)
		free(g);
	return r;
}

/* --- watch and the rest --- */

int store_watch(struct store *s, const struct store_watch_req *req,
		const struct store_watch_ops *ops, void *ud, struct store_watch **ret)
{
	int r = check_range(req->key, req->key_len, req->end, req->end_len, req->start_rev, 0);
	if (r < 0)
		return r;
	if (!ops->events || !ops->closed)
		return -EINVAL;
	return s->ops->watch(s, req, ops, ud, ret);
}

void store_watch_cancel(struct store_watch *w)
{
	w->store->ops->watch_cancel(w);
}

void store_watch_request_progress(struct store_watch *w)
{
	w->store->ops->watch_request_progress(w);
}

int store_compact(struct store *s, int64_t rev, store_rev_fn fn, void *ud)
{
	return rev <= 0 ? -EINVAL : s->ops->compact(s, rev, fn, ud);
}

int store_status(struct store *s, store_status_fn fn, void *ud)
{
	return s->ops->status(s, fn, ud);
}

int store_lease_grant(struct store *s, int64_t ttl_s, int64_t id, store_lease_fn fn, void *ud)
{
	return ttl_s <= 0 || id < 0 ? -EINVAL : s->ops->lease_grant(s, ttl_s, id, fn, ud);
}

int store_lease_revoke(struct store *s, int64_t id, store_rev_fn fn, void *ud)
{
	return id <= 0 ? -ENOENT : s->ops->lease_revoke(s, id, fn, ud);
}

int store_lease_keepalive(struct store *s, int64_t id, store_lease_fn fn, void *ud)
{
	return id <= 0 ? -ENOENT : s->ops->lease_keepalive(s, id, fn, ud);
}

/* --- helpers --- */

size_t store_prefix_end(const char *prefix, size_t prefix_len, char *out)
{
	size_t n = prefix_len;
	while (n > 0 && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	if (!n) {
		out[0] = '\0';
		return 1;
	}
	memcpy(out, prefix, n);
	out[n - 1] = (char)((unsigned char)out[n - 1] + 1);
	return n;
}

const char *store_strerror(int err)
{
	switch (err) {
	case 0:
		return "ok";
	case -EINVAL:
		return "etcdserver: key is not provided or the request is malformed";
	case -E2BIG:
		return "etcdserver: request is too large";
	case -EOVERFLOW:
		return "etcdserver: too many operations in txn request";
	case -ENOTUNIQ:
		return "etcdserver: duplicate key given in txn request";
	case -ESTALE:
		return "mvcc: required revision has been compacted";
	case -ERANGE:
		return "mvcc: required revision is a future revision";
	case -ENOENT:
		return "etcdserver: requested lease not found";
	case -EEXIST:
		return "etcdserver: lease already exists";
	case -EUCLEAN:
		return "store: the data directory is damaged (see the log for where)";
	case -EBUSY:
		return "store: the data directory is in use by another process";
	case -ECANCELED:
		return "context canceled";
	case -EIO:
		return "store: a write could not be made durable; the store refuses writes";
	case -ENOTCONN:
		return "etcdserver: no endpoint is reachable";
	case -ETIMEDOUT:
		return "context deadline exceeded";
	default:
		return strerror(-err);
	}
}
