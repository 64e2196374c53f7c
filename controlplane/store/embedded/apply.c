/* The effect of each log record on the in-memory state, shared by live
 * writes and recovery, and the lease operations built on it. */
#include "internal.h"

#include "log/log.h"

struct kv_ver *emb_apply_put(struct emb *s, int64_t rev, const char *key, size_t key_len,
			     const char *value, size_t value_len, int64_t lease)
{
	struct kv_ver *v = mvcc_put(&s->m, rev, key, key_len, value, value_len, lease);
	struct kv_key *k = v->key;

	if (k->lease != lease) {
		if (k->lease)
			lease_detach(&s->leases, k);
		struct lease *l = lease ? lease_find(&s->leases, lease) : NULL;
		if (l)
			lease_attach(l, k);
	}
	return v;
}

struct kv_ver *emb_apply_del(struct emb *s, int64_t rev, struct kv_key *k)
{
	if (k->lease)
		lease_detach(&s->leases, k);
	return mvcc_del(&s->m, rev, k);
}

static int apply_txn(struct emb *s, const struct rec *r)
{
	struct cursor c = r->events;
	struct rec_ev ev;

	if (r->nevents && r->rev != s->m.rev + 1)
		return -EBADMSG;
	for (uint32_t i = 0; i < r->nevents; i++) {
		if (rec_next_event(&c, &ev) < 0)
			return -EBADMSG;
		if (ev.kind == REC_EV_PUT) {
			if (ev.lease && !lease_find(&s->leases, ev.lease))
				return -EBADMSG;
			emb_apply_put(s, r->rev, ev.key, ev.key_len, ev.value, ev.value_len, ev.lease);
		} else {
			struct kv_key *k = kv_index_find(&s->m.idx, ev.key, ev.key_len);
			if (!k || !mvcc_latest(k))
				return -EBADMSG;
			emb_apply_del(s, r->rev, k);
		}
	}
	if (c.p != c.end)
		return -EBADMSG;
	if (r->revoke_lease) {
		struct lease *l = lease_find(&s->leases, r->revoke_lease);
		if (l) {
			while (l->nkeys)
				lease_detach(&s->leases, l->keys[0]);
			lease_remove(&s->leases, l);
		}
	}
	if (r->nevents)
		mvcc_note_time(&s->m, r->rev, r->wall_ns);
	return 0;
}

int emb_apply_record(struct emb *s, const struct rec *r, uint64_t now_ns)
{
	switch (r->type) {
	case REC_TXN:
		return apply_txn(s, r);
	case REC_LEASE_GRANT: {
		struct lease *l = lease_find(&s->leases, r->lease_id);
		uint64_t expiry = now_ns + (uint64_t)r->lease_ttl * 1000000000ull;
		if (l)
			l->ttl = r->lease_ttl;
		else
			lease_add(&s->leases, r->lease_id, r->lease_ttl, expiry);
		return 0;
	}
	case REC_COMPACT:
		if (r->compact_rev > s->m.rev)
			return -EBADMSG;
		if (r->compact_rev > s->m.compact_rev)
			mvcc_compact(&s->m, r->compact_rev);
		return 0;
	}
	return -EBADMSG;
}

static int key_order(const void *a, const void *b)
{
	const struct kv_key *x = *(struct kv_key *const *)a, *y = *(struct kv_key *const *)b;
	return kv_cmp(kv_key_bytes(x), x->key_len, kv_key_bytes(y), y->key_len);
}

uint64_t emb_revoke(struct emb *s, struct lease *l, int64_t *ret_rev)
{
	size_t at, nev_at;
	int64_t rev = l->nkeys ? s->m.rev + 1 : 0;

	buf_clear(&s->rec);
	rec_txn_begin(&s->rec, &at, &nev_at, rev, (int64_t)now_real_ns(), l->id);
	if (l->nkeys) {
		/* Key order: the same events, in the same order, on replay. */
		uint32_t n = l->nkeys;
		struct kv_key **keys = xmalloc(n * sizeof(*keys));
		memcpy(keys, l->keys, n * sizeof(*keys));
		qsort(keys, n, sizeof(*keys), key_order);
		for (uint32_t i = 0; i < n; i++) {
			rec_txn_del(&s->rec, kv_key_bytes(keys[i]), keys[i]->key_len);
			emb_apply_del(s, rev, keys[i]);
		}
		free(keys);
		set_le32(s->rec.data + nev_at, n);
		mvcc_note_time(&s->m, rev, (int64_t)now_real_ns());
	}
	rec_end(&s->rec, at);
	lease_remove(&s->leases, l);
	*ret_rev = rev;
	return emb_log_record(s);
}

void emb_compact_apply(struct emb *s, int64_t rev)
{
	if (rev <= s->m.compact_rev)
		return;
	mvcc_compact(&s->m, rev);
	emb_watch_compacted(s, rev);
}

/* --- lease operations --- */

static int check_writable(const struct emb *s)
{
	if (s->closing)
		return -ECANCELED;
	return s->failed ? -EIO : 0;
}

/* etcd's MaxLeaseTTL. */
#define MAX_LEASE_TTL 9000000000ll

int emb_lease_grant(struct store *st, int64_t ttl_s, int64_t id, store_lease_fn fn, void *ud)
{
	struct emb *s = emb_of(st);
	int r = check_writable(s);

	if (r < 0)
		return r;
	if (ttl_s > MAX_LEASE_TTL)
		return -EINVAL;
	if (!id)
		id = lease_pick_id(&s->leases);
	else if (lease_find(&s->leases, id))
		return -EEXIST;
	lease_add(&s->leases, id, ttl_s, now_mono_ns() + (uint64_t)ttl_s * 1000000000ull);
	buf_clear(&s->rec);
	rec_lease_grant(&s->rec, id, ttl_s);
	uint64_t lsn = emb_log_record(s);
	struct emb_req *q = emb_req_new(s, REQ_LEASE, ud);
	q->fn.lease = fn;
	q->arg = id;
	q->arg2 = ttl_s;
	emb_req_queue(s, q, lsn);
	emb_lease_rearm(s);
	return 0;
}

int emb_lease_revoke(struct store *st, int64_t id, store_rev_fn fn, void *ud)
{
	struct emb *s = emb_of(st);
	int r = check_writable(s);

	if (r < 0)
		return r;
	struct lease *l = lease_find(&s->leases, id);
	if (!l)
		return -ENOENT;
	struct emb_req *q = emb_req_new(s, REQ_REVOKE, ud);
	q->fn.rev = fn;
	q->live = -(int64_t)l->nkeys;
	uint64_t lsn = emb_revoke(s, l, &q->rev);
	emb_req_queue(s, q, lsn);
	emb_lease_rearm(s);
	return 0;
}

int emb_lease_keepalive(struct store *st, int64_t id, store_lease_fn fn, void *ud)
{
	struct emb *s = emb_of(st);
	int r = check_writable(s);

	if (r < 0)
		return r;
	struct lease *l = lease_find(&s->leases, id);
	if (!l)
		return -ENOENT;
	lease_set_expiry(&s->leases, l, now_mono_ns() + (uint64_t)l->ttl * 1000000000ull);
	struct emb_req *q = emb_req_new(s, REQ_LEASE, ud);
	q->fn.lease = fn;
	q->arg = id;
	q->arg2 = l->ttl;
	/* Answer once the grant (maybe still in flight) is durable. */
	emb_req_queue(s, q, s->next_lsn - 1);
	emb_lease_rearm(s);
	return 0;
}

static void lease_expired(struct loop_timer *t)
{
	struct emb *s = container_of(t, struct emb, lease_timer);
	uint64_t now = now_mono_ns();
	struct lease *l;

	if (!emb_enter(s))
		return;
	while (!s->failed && (l = lease_earliest(&s->leases)) && l->expiry_ns <= now) {
		struct emb_req *q = emb_req_new(s, REQ_REVOKE, NULL);
		log_debug(s->log, "lease expired", LOG_I("lease", l->id), LOG_U("keys", l->nkeys));
		q->live = -(int64_t)l->nkeys;
		uint64_t lsn = emb_revoke(s, l, &q->rev);
		emb_req_queue(s, q, lsn);
	}
	/* A store that cannot write keeps its leases until it is reopened. */
	if (!s->failed)
		emb_lease_rearm(s);
	emb_leave(s);
}

void emb_lease_rearm(struct emb *s)
{
	struct lease *l = lease_earliest(&s->leases);
	uint64_t now = now_mono_ns();

	s->lease_timer.fn = lease_expired;
	if (!l || s->closing) {
		loop_timer_disarm(s->loop, &s->lease_timer);
		return;
	}
	loop_timer_arm(s->loop, &s->lease_timer, l->expiry_ns > now ? l->expiry_ns - now : 0);
}
