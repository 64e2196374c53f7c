/* Range, Txn, Compact and Status: store.h requests as etcdserverpb
 * messages and back. */
#include "etcd-internal.h"

static int64_t header_rev(const Etcdserverpb__ResponseHeader *h) { return h ? h->revision : 0; }

void etcd_kv_from_pb(const Mvccpb__KeyValue *pb, bool keys_only, struct store_kv *ret)
{
	*ret = (struct store_kv){
		.key = (const char *)pb->key.data,
		.key_len = pb->key.len,
		.value = keys_only        ? NULL
			 : pb->value.data ? (const char *)pb->value.data
					  : "",
		.value_len = keys_only ? 0 : pb->value.len,
		.create_rev = pb->create_revision,
		.mod_rev = pb->mod_revision,
		.version = pb->version,
		.lease = pb->lease,
	};
	if (!ret->key)
		ret->key = "";
}

static ProtobufCBinaryData bytes(const char *p, size_t n)
{
	return (ProtobufCBinaryData){.len = n, .data = (uint8_t *)(uintptr_t)p};
}

/* --- range --- */

struct range_ctx {
	store_range_fn fn;
	void *ud;
	bool keys_only;
};

static struct store_kv *kvs_from_pb(Mvccpb__KeyValue *const *pb, size_t n, bool keys_only)
{
	struct store_kv *kvs = xnew(struct store_kv, n);
	for (size_t i = 0; i < n; i++)
		etcd_kv_from_pb(pb[i], keys_only, &kvs[i]);
	return kvs;
}

static struct store_range_res range_res_from_pb(const Etcdserverpb__RangeResponse *r,
						bool keys_only)
{
	return (struct store_range_res){
		.kvs = kvs_from_pb(r->kvs, r->n_kvs, keys_only),
		.n = r->n_kvs,
		.more = r->more,
		.count = r->count,
	};
}

static void range_done(void *ctx, int err, const ProtobufCMessage *msg)
{
	struct range_ctx *c = ctx;

	if (err < 0) {
		c->fn(c->ud, err, 0, NULL);
	} else {
		const Etcdserverpb__RangeResponse *r = (const void *)msg;
		struct store_range_res res = range_res_from_pb(r, c->keys_only);
		c->fn(c->ud, 0, header_rev(r->header), &res);
		free((void *)res.kvs);
	}
	free(c);
}

static void range_to_pb(Etcdserverpb__RangeRequest *pb, const char *key, size_t key_len,
			const char *end, size_t end_len, int64_t rev, int64_t limit, bool keys_only,
			bool count_only)
{
	etcdserverpb__range_request__init(pb);
	pb->key = bytes(key, key_len);
	pb->range_end = bytes(end, end_len);
	pb->revision = rev;
	pb->limit = limit;
	pb->keys_only = keys_only;
	pb->count_only = count_only;
}

int etcd_range(struct store *s, const struct store_range_req *req, store_range_fn fn, void *ud)
{
	struct etcd *e = etcd_of(s);
	Etcdserverpb__RangeRequest pb;

	range_to_pb(&pb, req->key, req->key_len, req->end, req->end_len, req->rev, req->limit,
		    req->keys_only, req->count_only);
	struct range_ctx *c = xnew(struct range_ctx, 1);
	*c = (struct range_ctx){fn, ud, req->keys_only};
	int r = etcd_rpc_start(e, "/etcdserverpb.KV/Range", &pb.base,
			       &etcdserverpb__range_response__descriptor, true, range_done, c);
	if (r < 0)
		free(c);
	return r;
}

/* --- txn --- */

struct txn_ctx {
	store_txn_fn fn;
	void *ud;
	/* per op of each branch: keys_only for ranges */
	bool *keys_only[2];
};

static const Etcdserverpb__Compare__CompareResult cmp_result[] = {
	[STORE_CMP_EQ] = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL,
	[STORE_CMP_NE] = ETCDSERVERPB__COMPARE__COMPARE_RESULT__NOT_EQUAL,
	[STORE_CMP_LT] = ETCDSERVERPB__COMPARE__COMPARE_RESULT__LESS,
	[STORE_CMP_GT] = ETCDSERVERPB__COMPARE__COMPARE_RESULT__GREATER,
};

static void cmp_to_pb(Etcdserverpb__Compare *pb, const struct store_cmp *c)
{
	etcdserverpb__compare__init(pb);
	pb->key = bytes(c->key, c->key_len);
	pb->result = cmp_result[c->op];
	switch (c->target) {
	case STORE_CMP_VERSION:
		pb->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
		pb->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
		pb->version = c->num;
		break;
	case STORE_CMP_CREATE:
		pb->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
		pb->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
		pb->create_revision = c->num;
		break;
	case STORE_CMP_MOD:
		pb->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD;
		pb->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
		pb->mod_revision = c->num;
		break;
	case STORE_CMP_VALUE:
		pb->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE;
		pb->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
		pb->value = bytes(c->value ? c->value : "", c->value_len);
		break;
	case STORE_CMP_LEASE:
		pb->target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__LEASE;
		pb->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE;
		pb->lease = c->num;
		break;
	}
}

/* The messages of one branch, in arrays freed together. */
struct branch_pb {
	Etcdserverpb__RequestOp *ops;
	Etcdserverpb__RequestOp **ptrs;
	Etcdserverpb__RangeRequest *ranges;
	Etcdserverpb__PutRequest *puts;
	Etcdserverpb__DeleteRangeRequest *dels;
};

static void branch_to_pb(struct branch_pb *b, const struct store_op *ops, size_t n)
{
	b->ops = xnew(Etcdserverpb__RequestOp, n);
	b->ptrs = xnew(Etcdserverpb__RequestOp *, n);
	b->ranges = xnew(Etcdserverpb__RangeRequest, n);
	b->puts = xnew(Etcdserverpb__PutRequest, n);
	b->dels = xnew(Etcdserverpb__DeleteRangeRequest, n);
	for (size_t i = 0; i < n; i++) {
		const struct store_op *o = &ops[i];
		Etcdserverpb__RequestOp *pb = &b->ops[i];
		etcdserverpb__request_op__init(pb);
		b->ptrs[i] = pb;
		switch (o->type) {
		case STORE_OP_RANGE:
			range_to_pb(&b->ranges[i], o->key, o->key_len, o->end, o->end_len, o->rev,
				    o->limit, o->keys_only, o->count_only);
			pb->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
			pb->request_range = &b->ranges[i];
			break;
		case STORE_OP_PUT:
			etcdserverpb__put_request__init(&b->puts[i]);
			b->puts[i].key = bytes(o->key, o->key_len);
			b->puts[i].value = bytes(o->value, o->value_len);
			b->puts[i].lease = o->lease;
			b->puts[i].prev_kv = o->prev_kv;
			pb->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
			pb->request_put = &b->puts[i];
			break;
		case STORE_OP_DELETE:
			etcdserverpb__delete_range_request__init(&b->dels[i]);
			b->dels[i].key = bytes(o->key, o->key_len);
			b->dels[i].range_end = bytes(o->end, o->end_len);
			b->dels[i].prev_kv = o->prev_kv;
			pb->request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
			pb->request_delete_range = &b->dels[i];
			break;
		}
	}
}

static void branch_free(struct branch_pb *b)
{
	free(b->ops);
	free(b->ptrs);
	free(b->ranges);
	free(b->puts);
	free(b->dels);
}

static void txn_ctx_free(struct txn_ctx *c)
{
	free(c->keys_only[0]);
	free(c->keys_only[1]);
	free(c);
}

static void op_res_from_pb(const Etcdserverpb__ResponseOp *pb, bool keys_only,
			   struct store_op_res *ret)
{
	*ret = (struct store_op_res){0};
	switch (pb->response_case) {
	case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE:
		ret->type = STORE_OP_RANGE;
		ret->range = range_res_from_pb(pb->response_range, keys_only);
		break;
	case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_PUT:
		ret->type = STORE_OP_PUT;
		if (pb->response_put->prev_kv) {
			ret->prev = kvs_from_pb(&pb->response_put->prev_kv, 1, false);
			ret->nprev = 1;
		}
		break;
	case ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE:
		ret->type = STORE_OP_DELETE;
		ret->deleted = pb->response_delete_range->deleted;
		ret->prev = kvs_from_pb(pb->response_delete_range->prev_kvs,
					pb->response_delete_range->n_prev_kvs, false);
		ret->nprev = pb->response_delete_range->n_prev_kvs;
		break;
	default:
		break;
	}
}

static void txn_done(void *ctx, int err, const ProtobufCMessage *msg)
{
	struct txn_ctx *c = ctx;

	if (err < 0) {
		c->fn(c->ud, err, 0, NULL);
		txn_ctx_free(c);
		return;
	}
	const Etcdserverpb__TxnResponse *t = (const void *)msg;
	bool *keys_only = c->keys_only[t->succeeded ? 0 : 1];
	struct store_op_res *res = xnew(struct store_op_res, t->n_responses);
	for (size_t i = 0; i < t->n_responses; i++)
		op_res_from_pb(t->responses[i], keys_only && keys_only[i], &res[i]);
	struct store_txn_res tr = {.succeeded = t->succeeded, .results = res, .n = t->n_responses};
	c->fn(c->ud, 0, header_rev(t->header), &tr);
	for (size_t i = 0; i < t->n_responses; i++) {
		free((void *)res[i].range.kvs);
		free((void *)res[i].prev);
	}
	free(res);
	txn_ctx_free(c);
}

static bool *keys_only_flags(const struct store_op *ops, size_t n, bool *reads_only)
{
	bool *k = xnew(bool, n);
	for (size_t i = 0; i < n; i++) {
		k[i] = ops[i].type == STORE_OP_RANGE && ops[i].keys_only;
		*reads_only &= ops[i].type == STORE_OP_RANGE;
	}
	return k;
}

int etcd_txn(struct store *s, const struct store_txn_req *req, store_txn_fn fn, void *ud)
{
	struct etcd *e = etcd_of(s);
	Etcdserverpb__TxnRequest pb;
	struct branch_pb ok, fail;
	bool reads_only = true;

	etcdserverpb__txn_request__init(&pb);
	Etcdserverpb__Compare *cmps = xnew(Etcdserverpb__Compare, req->ncmps);
	Etcdserverpb__Compare **cmp_ptrs = xnew(Etcdserverpb__Compare *, req->ncmps);
	for (size_t i = 0; i < req->ncmps; i++) {
		cmp_to_pb(&cmps[i], &req->cmps[i]);
		cmp_ptrs[i] = &cmps[i];
	}
	branch_to_pb(&ok, req->success, req->nsuccess);
	branch_to_pb(&fail, req->failure, req->nfailure);
	pb.n_compare = req->ncmps;
	pb.compare = cmp_ptrs;
	pb.n_success = req->nsuccess;
	pb.success = ok.ptrs;
	pb.n_failure = req->nfailure;
	pb.failure = fail.ptrs;

	struct txn_ctx *c = xnew(struct txn_ctx, 1);
	c->fn = fn;
	c->ud = ud;
	c->keys_only[0] = keys_only_flags(req->success, req->nsuccess, &reads_only);
	c->keys_only[1] = keys_only_flags(req->failure, req->nfailure, &reads_only);
	/* A txn that only reads may be sent again after a lost connection. */
	int r = etcd_rpc_start(e, "/etcdserverpb.KV/Txn", &pb.base,
			       &etcdserverpb__txn_response__descriptor, reads_only, txn_done, c);
	if (r < 0)
		txn_ctx_free(c);
	free(cmps);
	free(cmp_ptrs);
	branch_free(&ok);
	branch_free(&fail);
	return r;
}

/* --- compact --- */

struct rev_ctx {
	struct etcd *e;
	store_rev_fn fn;
	void *ud;
	int64_t rev;
};

static void compact_done(void *ctx, int err, const ProtobufCMessage *msg)
{
	struct rev_ctx *c = ctx;
	const Etcdserverpb__CompactionResponse *resp = (const void *)msg;

	if (err == 0)
		etcd_note_compacted(c->e, c->rev);
	c->fn(c->ud, err, err < 0 ? 0 : header_rev(resp->header));
	free(c);
}

int etcd_compact(struct store *s, int64_t rev, store_rev_fn fn, void *ud)
{
	struct etcd *e = etcd_of(s);
	Etcdserverpb__CompactionRequest pb;

	etcdserverpb__compaction_request__init(&pb);
	pb.revision = rev;
	struct rev_ctx *c = xnew(struct rev_ctx, 1);
	*c = (struct rev_ctx){e, fn, ud, rev};
	int r = etcd_rpc_start(e, "/etcdserverpb.KV/Compact", &pb.base,
			       &etcdserverpb__compaction_response__descriptor, false, compact_done,
			       c);
	if (r < 0)
		free(c);
	return r;
}

/* --- status --- */

/* etcd 3.4's Status does not say the compacted revision, but a read at a
 * revision below it fails: search for the lowest readable revision,
 * starting from the highest compaction seen here (usually the answer). */
struct status_ctx {
	struct etcd *e;
	store_status_fn fn;
	void *ud;
	struct store_status st;
	int64_t lo, hi, probe; /* lo: compacted (or the guess); hi: readable */
	bool first;
};

static int status_probe(struct status_ctx *c);

static void status_finish(struct status_ctx *c, int err)
{
	c->fn(c->ud, err, err < 0 ? NULL : &c->st);
	free(c);
}

static void probe_done(void *ctx, int err, const ProtobufCMessage *msg)
{
	struct status_ctx *c = ctx;
	int r;

	if (err < 0 && err != -ESTALE) {
		status_finish(c, err);
		return;
	}
	if (c->first) {
		c->first = false;
		if (err == 0) {
			/* Readable at the highest compaction known: that is it. */
			c->st.compact_rev = c->lo > 1 ? c->lo : 0;
			etcd_note_compacted(c->e, c->st.compact_rev);
			status_finish(c, 0);
			return;
		}
	} else if (err == 0) {
		c->hi = c->probe;
	} else {
		c->lo = c->probe;
	}
	if (c->hi - c->lo <= 1) {
		c->st.compact_rev = c->hi > 1 ? c->hi : 0;
		etcd_note_compacted(c->e, c->st.compact_rev);
		status_finish(c, 0);
		return;
	}
	r = status_probe(c);
	if (r < 0)
		status_finish(c, r);
}

static int status_probe(struct status_ctx *c)
{
	Etcdserverpb__RangeRequest pb;

	c->probe = c->first ? c->lo : c->lo + (c->hi - c->lo) / 2;
	range_to_pb(&pb, "\0", 1, NULL, 0, c->probe, 1, true, true);
	return etcd_rpc_start(c->e, "/etcdserverpb.KV/Range", &pb.base,
			      &etcdserverpb__range_response__descriptor, true, probe_done, c);
}

static void status_done(void *ctx, int err, const ProtobufCMessage *msg)
{
	struct status_ctx *c = ctx;

	if (err < 0) {
		status_finish(c, err);
		return;
	}
	const Etcdserverpb__StatusResponse *st = (const void *)msg;
	c->st = (struct store_status){
		.rev = header_rev(st->header),
		.keys = -1,
		.db_bytes = st->dbsize,
	};
	c->lo = MAX(c->e->compact_rev_seen, 1);
	c->hi = c->st.rev;
	c->first = true;
	if (c->lo >= c->hi) {
		c->st.compact_rev = c->e->compact_rev_seen;
		status_finish(c, 0);
		return;
	}
	int r = status_probe(c);
	if (r < 0)
		status_finish(c, r);
}

int etcd_status(struct store *s, store_status_fn fn, void *ud)
{
	struct etcd *e = etcd_of(s);
	Etcdserverpb__StatusRequest pb;

	etcdserverpb__status_request__init(&pb);
	struct status_ctx *c = xnew(struct status_ctx, 1);
	c->e = e;
	c->fn = fn;
	c->ud = ud;
	int r = etcd_rpc_start(e, "/etcdserverpb.Maintenance/Status", &pb.base,
			       &etcdserverpb__status_response__descriptor, true, status_done, c);
	if (r < 0)
		free(c);
	return r;
}
