/* Reads and transactions. Reads see the committed (acknowledged) state.
 * A transaction is evaluated at once against the latest state, pending
 * writes included, applied in memory, logged, and answered once its
 * record (or, for one that writes nothing, everything it could have seen)
 * is durable. Its answer is copied, so later compactions cannot touch it. */
#include "internal.h"

/* --- an arena for copied answers --- */

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	char data[];
};

static void *arena_alloc(struct arena_chunk **head, size_t n)
{
	struct arena_chunk *c = *head;

	n = (n + 7) & ~(size_t)7;
	if (!c || c->cap - c->used < n) {
		size_t cap = MAX(n, (size_t)4096);
		c = xmalloc(sizeof(*c) + cap);
		c->next = *head;
		c->used = 0;
		c->cap = cap;
		*head = c;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

static const char *arena_dup(struct arena_chunk **head, const char *p, size_t n)
{
	if (!n)
		return "";
	char *d = arena_alloc(head, n);
	memcpy(d, p, n);
	return d;
}

void emb_arena_free(struct arena_chunk *c)
{
	while (c) {
		struct arena_chunk *next = c->next;
		free(c);
		c = next;
	}
}

/* --- ranges --- */

struct span {
	const char *key, *end;
	size_t key_len, end_len;
	bool single, open_end;
};

static struct span span_of(const char *key, size_t key_len, const char *end, size_t end_len)
{
	return (struct span){
		.key = key,
		.key_len = key_len,
		.end = end,
		.end_len = end_len,
		.single = end_len == 0,
		.open_end = end_len == 1 && end[0] == '\0',
	};
}

/* The first key of the span, then the next one while in it. */
static struct kv_key *span_first(const struct mvcc *m, const struct span *sp)
{
	if (sp->single)
		return kv_index_find(&m->idx, sp->key, sp->key_len);
	return kv_index_seek(&m->idx, sp->key, sp->key_len);
}

static struct kv_key *span_next(const struct span *sp, struct kv_key *k)
{
	if (sp->single)
		return NULL;
	k = kv_index_next(k);
	if (!k || sp->open_end)
		return k;
	return kv_cmp(kv_key_bytes(k), k->key_len, sp->end, sp->end_len) < 0 ? k : NULL;
}

static bool span_nonempty(const struct span *sp, const struct kv_key *k)
{
	/* The first key may already lie past the end. */
	return sp->single || sp->open_end ||
	       kv_cmp(kv_key_bytes(k), k->key_len, sp->end, sp->end_len) < 0;
}

static void kv_from(struct store_kv *kv, const struct kv_ver *v, bool keys_only)
{
	*kv = (struct store_kv){
		.key = kv_key_bytes(v->key),
		.key_len = v->key->key_len,
		.value = keys_only ? NULL : v->value,
		.value_len = keys_only ? 0 : v->value_len,
		.create_rev = v->create_rev,
		.mod_rev = v->mod_rev,
		.version = v->version,
		.lease = v->lease,
	};
}

/* Collect a range at rev into *ret_kvs (xmalloc'd; the caller frees). */
static void range_eval(const struct mvcc *m, const struct span *sp, int64_t rev, int64_t limit,
		       bool keys_only, bool count_only, struct store_range_res *res,
		       struct store_kv **ret_kvs)
{
	struct store_kv *kvs = NULL;
	size_t n = 0, cap = 0;
	int64_t count = 0;
	struct kv_key *k = span_first(m, sp);

	if (k && !span_nonempty(sp, k))
		k = NULL;
	for (; k; k = span_next(sp, k)) {
		const struct kv_ver *v = mvcc_at(k, rev);
		if (!v)
			continue;
		count++;
		if (count_only || (limit && (int64_t)n >= limit))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			kvs = xrealloc(kvs, cap * sizeof(*kvs));
		}
		kv_from(&kvs[n++], v, keys_only);
	}
	*res = (struct store_range_res){
		.kvs = kvs,
		.n = n,
		.more = limit && count > limit,
		.count = count,
	};
	*ret_kvs = kvs;
}

int emb_range(struct store *st, const struct store_range_req *req, store_range_fn fn, void *ud)
{
	struct emb *s = emb_of(st);

	if (s->closing)
		return -ECANCELED;
	if (req->rev > s->committed_rev)
		return -ERANGE;
	if (req->rev && req->rev < s->m.compact_rev)
		return -ESTALE;
	struct emb_req *r = emb_req_new(s, REQ_RANGE, ud);
	r->fn.range = fn;
	r->range = *req;
	/* One allocation for the key and end copies. */
	char *copy = xmalloc(req->key_len + req->end_len + 1);
	memcpy(copy, req->key, req->key_len);
	if (req->end_len)
		memcpy(copy + req->key_len, req->end, req->end_len);
	r->range.key = copy;
	r->range.end = copy + req->key_len;
	emb_req_queue(s, r, 0);
	return 0;
}

void emb_range_answer(struct emb *s, struct emb_req *r)
{
	const struct store_range_req *q = &r->range;
	int64_t rev = q->rev ? q->rev : s->committed_rev;
	struct store_range_res res;
	struct store_kv *kvs = NULL;

	if (rev < s->m.compact_rev) {
		r->fn.range(r->ud, -ESTALE, s->committed_rev, NULL);
		return;
	}
	struct span sp = span_of(q->key, q->key_len, q->end, q->end_len);
	range_eval(&s->m, &sp, rev, q->limit, q->keys_only, q->count_only, &res, &kvs);
	r->fn.range(r->ud, 0, s->committed_rev, &res);
	free(kvs);
}

/* --- transactions --- */

static int cmp_num(int64_t a, int64_t b) { return (a > b) - (a < b); }

static bool compare_holds(const struct mvcc *m, const struct store_cmp *c)
{
	struct kv_key *k = kv_index_find(&m->idx, c->key, c->key_len);
	const struct kv_ver *v = k ? mvcc_latest(k) : NULL;
	int d;

	switch (c->target) {
	case STORE_CMP_VALUE:
		/* etcd: a value compare on a missing key never holds. */
		if (!v)
			return false;
		d = memcmp(v->value, c->value ? c->value : "", MIN(v->value_len, c->value_len));
		d = d ? (d > 0) - (d < 0) : cmp_num(v->value_len, (int64_t)c->value_len);
		break;
	case STORE_CMP_VERSION:
		d = cmp_num(v ? v->version : 0, c->num);
		break;
	case STORE_CMP_CREATE:
		d = cmp_num(v ? v->create_rev : 0, c->num);
		break;
	case STORE_CMP_MOD:
		d = cmp_num(v ? v->mod_rev : 0, c->num);
		break;
	case STORE_CMP_LEASE:
		d = cmp_num(v ? v->lease : 0, c->num);
		break;
	default:
		return false;
	}
	switch (c->op) {
	case STORE_CMP_EQ:
		return d == 0;
	case STORE_CMP_NE:
		return d != 0;
	case STORE_CMP_LT:
		return d < 0;
	case STORE_CMP_GT:
		return d > 0;
	}
	return false;
}

static void copy_kv(struct arena_chunk **a, struct store_kv *dst, const struct kv_ver *v,
		    bool keys_only)
{
	kv_from(dst, v, keys_only);
	dst->key = arena_dup(a, dst->key, dst->key_len);
	if (dst->value)
		dst->value = arena_dup(a, dst->value, dst->value_len);
}

struct txn_ctx {
	struct emb *s;
	struct emb_req *q;
	int64_t rev; /* of the changes, once there is one */
	uint32_t nev;
	size_t at, nev_at;
};

static void txn_change(struct txn_ctx *t)
{
	struct emb *s = t->s;
	if (t->rev)
		return;
	t->rev = s->m.rev + 1;
	buf_clear(&s->rec);
	rec_txn_begin(&s->rec, &t->at, &t->nev_at, t->rev, (int64_t)now_real_ns(), 0);
}

static void op_range(struct txn_ctx *t, const struct store_op *o, struct store_op_res *res)
{
	struct emb *s = t->s;
	struct span sp = span_of(o->key, o->key_len, o->end, o->end_len);
	struct store_kv *kvs;

	range_eval(&s->m, &sp, o->rev ? o->rev : s->m.rev, o->limit, o->keys_only, o->count_only,
		   &res->range, &kvs);
	struct store_kv *copy = arena_alloc(&t->q->arena, res->range.n * sizeof(*copy) + 1);
	for (size_t i = 0; i < res->range.n; i++) {
		copy[i] = kvs[i];
		copy[i].key = arena_dup(&t->q->arena, kvs[i].key, kvs[i].key_len);
		if (kvs[i].value)
			copy[i].value = arena_dup(&t->q->arena, kvs[i].value, kvs[i].value_len);
	}
	res->range.kvs = copy;
	free(kvs);
}

static void op_put(struct txn_ctx *t, const struct store_op *o, struct store_op_res *res)
{
	struct emb *s = t->s;
	struct kv_key *k = kv_index_find(&s->m.idx, o->key, o->key_len);
	const struct kv_ver *prev = k ? mvcc_latest(k) : NULL;

	if (o->prev_kv && prev) {
		struct store_kv *kv = arena_alloc(&t->q->arena, sizeof(*kv));
		copy_kv(&t->q->arena, kv, prev, false);
		res->prev = kv;
		res->nprev = 1;
	}
	txn_change(t);
	if (!prev)
		t->q->live++;
	emb_apply_put(s, t->rev, o->key, o->key_len, o->value, o->value_len, o->lease);
	rec_txn_put(&s->rec, o->key, o->key_len, o->value, o->value_len, o->lease);
	t->nev++;
}

static void op_delete(struct txn_ctx *t, const struct store_op *o, struct store_op_res *res)
{
	struct emb *s = t->s;
	struct span sp = span_of(o->key, o->key_len, o->end, o->end_len);
	struct kv_key *k = span_first(&s->m, &sp), *next;
	struct store_kv *prev = NULL;
	size_t cap = 0;

	if (k && !span_nonempty(&sp, k))
		k = NULL;
	for (; k; k = next) {
		next = span_next(&sp, k);
		const struct kv_ver *v = mvcc_latest(k);
		if (!v)
			continue;
		if (o->prev_kv) {
			if (res->nprev == cap) {
				cap = cap ? cap * 2 : 4;
				struct store_kv *n = arena_alloc(&t->q->arena, cap * sizeof(*n));
				if (res->nprev)
					memcpy(n, prev, res->nprev * sizeof(*n));
				prev = n;
			}
			copy_kv(&t->q->arena, &prev[res->nprev++], v, false);
		}
		txn_change(t);
		emb_apply_del(s, t->rev, k);
		rec_txn_del(&s->rec, kv_key_bytes(k), k->key_len);
		t->q->live--;
		t->nev++;
		res->deleted++;
	}
	res->prev = prev;
}

/* What would make the branch fail, before anything is applied. */
static int txn_check(const struct emb *s, const struct store_op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct store_op *o = &ops[i];
		if (o->type == STORE_OP_RANGE && o->rev > s->m.rev)
			return -ERANGE;
		if (o->type == STORE_OP_RANGE && o->rev && o->rev < s->m.compact_rev)
			return -ESTALE;
		if (o->type == STORE_OP_PUT && o->lease && !lease_find(&s->leases, o->lease))
			return -ENOENT;
	}
	return 0;
}

int emb_txn(struct store *st, const struct store_txn_req *req, store_txn_fn fn, void *ud)
{
	struct emb *s = emb_of(st);
	bool ok = true;

	if (s->closing)
		return -ECANCELED;
	if (s->failed)
		return -EIO;
	for (size_t i = 0; i < req->ncmps && ok; i++)
		ok = compare_holds(&s->m, &req->cmps[i]);
	const struct store_op *ops = ok ? req->success : req->failure;
	size_t n = ok ? req->nsuccess : req->nfailure;
	int r = txn_check(s, ops, n);
	if (r < 0)
		return r;

	struct emb_req *q = emb_req_new(s, REQ_TXN, ud);
	struct txn_ctx t = {.s = s, .q = q};
	struct store_op_res *res = arena_alloc(&q->arena, n * sizeof(*res) + 1);
	q->fn.txn = fn;
	q->res = (struct store_txn_res){.succeeded = ok, .results = res, .n = n};
	for (size_t i = 0; i < n; i++) {
		res[i] = (struct store_op_res){.type = ops[i].type};
		switch (ops[i].type) {
		case STORE_OP_RANGE:
			op_range(&t, &ops[i], &res[i]);
			break;
		case STORE_OP_PUT:
			op_put(&t, &ops[i], &res[i]);
			break;
		case STORE_OP_DELETE:
			op_delete(&t, &ops[i], &res[i]);
			break;
		}
	}
	uint64_t lsn = s->next_lsn - 1;
	q->arg = s->m.rev;
	if (t.rev) {
		set_le32(s->rec.data + t.nev_at, t.nev);
		rec_end(&s->rec, t.at);
		mvcc_note_time(&s->m, t.rev, (int64_t)now_real_ns());
		q->rev = t.rev;
		lsn = emb_log_record(s);
	}
	emb_req_queue(s, q, lsn);
	return 0;
}
