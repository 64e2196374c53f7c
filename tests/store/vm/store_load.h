/* The write load and the durability check shared by the kill -9 test
 * (test_store_crash.c) and the power-loss VM test (store_vm.c).
 *
 * The load keeps many writes in flight on LOAD_KEYS keys (puts, creates,
 * guarded updates, deletes, multi-key txns) with a watcher running, and
 * reports each acknowledged write ("A ...") and each watch event
 * ("W ...") as a text line the moment its callback runs:
 *
 *   A <rev> <P|D> <key> <digest>    digest: the value's last field, or "-"
 *
 * A value is "<key>|<seq>|<payload>|<fnv64 of what precedes>", so a torn
 * or half-written value fails to verify.
 *
 * The check reopens nothing itself: with the store open in C (from
 * conformance.h), it replays the whole history with a watch and compares
 * it with the acknowledged writes, the watcher's lines and a range read. */
#pragma once

#include <inttypes.h>

#include "../conformance.h"

#define LOAD_PREFIX "/load/"
#define LOAD_KEYS 300

/* --- values --- */

static inline uint64_t load_fnv64(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static inline uint64_t load_rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline char *load_make_value(const char *key, uint64_t seq, uint64_t *rng,
				    size_t *ret_len)
{
	struct buf b = {0};
	size_t n = 8 + load_rnd(rng) % 400;

	buf_printf(&b, "%s|%" PRIu64 "|", key, seq);
	for (size_t i = 0; i < n; i++)
		buf_putc(&b, (char)('a' + load_rnd(rng) % 26));
	buf_printf(&b, "|%016" PRIx64, load_fnv64(b.data, b.len));
	*ret_len = b.len;
	return buf_steal(&b);
}

/* The value's digest (its last field) when it verifies for key, else "". */
static inline void load_value_digest(const char *key, size_t key_len, const char *v, size_t n,
				     char out[17])
{
	char want[17];

	out[0] = '\0';
	if (!v || n < key_len + 18 || memcmp(v, key, key_len) != 0 || v[key_len] != '|' ||
	    v[n - 17] != '|')
		return;
	snprintf(want, sizeof(want), "%016" PRIx64, load_fnv64(v, n - 17));
	if (memcmp(want, v + n - 16, 16) == 0)
		memcpy(out, want, 17);
}

/* The n of LOAD_PREFIX "k<n>", or -1. */
static inline int load_key_index(const char *key, size_t len)
{
	size_t pl = strlen(LOAD_PREFIX);
	int k = 0;

	if (len <= pl + 1 || len > pl + 4 || memcmp(key, LOAD_PREFIX "k", pl + 1) != 0)
		return -1;
	for (size_t i = pl + 1; i < len; i++) {
		if (key[i] < '0' || key[i] > '9')
			return -1;
		k = k * 10 + (key[i] - '0');
	}
	return k < LOAD_KEYS ? k : -1;
}

/* --- the load --- */

struct load {
	struct store *store;
	int depth;
	uint64_t rng;
	uint64_t seq;
	int inflight;
	/* Where the lines go; must not fail (the caller exits instead). */
	void (*say)(void *ud, const char *line, size_t n);
	void *say_ud;
	int64_t known_mod[LOAD_KEYS]; /* last mod_rev seen per key, for updates */
};

struct load_op {
	struct load *ld;
	int keys[3];
	int nkeys;
	char digest[3][17]; /* "" for a delete */
};

static inline _noreturn_ void load_die(struct load *ld, const char *what, int err)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "E %s: %s\n", what, store_strerror(err));
	ld->say(ld->say_ud, line, (size_t)n);
	_exit(4);
}

static inline void load_issue(struct load *ld);

static inline void load_op_done(struct load_op *op)
{
	struct load *ld = op->ld;
	free(op);
	ld->inflight--;
	load_issue(ld);
}

static inline void load_on_cas(void *ud, int err, int64_t rev, bool ok,
			       const struct store_kv *cur)
{
	struct load_op *op = ud;
	struct load *ld = op->ld;
	int k = op->keys[0];
	char line[128];

	if (err < 0)
		load_die(ld, "write", err);
	if (ok) {
		bool is_del = !op->digest[0][0];
		int n = snprintf(line, sizeof(line), "A %" PRId64 " %c " LOAD_PREFIX "k%03d %s\n",
				 rev, is_del ? 'D' : 'P', k, is_del ? "-" : op->digest[0]);
		ld->say(ld->say_ud, line, (size_t)n);
		ld->known_mod[k] = is_del ? 0 : rev;
	} else {
		ld->known_mod[k] = cur ? cur->mod_rev : 0;
	}
	load_op_done(op);
}

static inline void load_on_txn(void *ud, int err, int64_t rev, const struct store_txn_res *res)
{
	struct load_op *op = ud;
	struct load *ld = op->ld;
	struct buf b = {0};

	if (err < 0)
		load_die(ld, "txn", err);
	/* The txn's lines in one piece: they share a revision. */
	for (int i = 0; i < op->nkeys && i < (int)res->n; i++) {
		bool is_del = res->results[i].type == STORE_OP_DELETE;
		if (is_del && res->results[i].deleted == 0)
			continue;
		buf_printf(&b, "A %" PRId64 " %c " LOAD_PREFIX "k%03d %s\n", rev,
			   is_del ? 'D' : 'P', op->keys[i], is_del ? "-" : op->digest[i]);
		ld->known_mod[op->keys[i]] = is_del ? 0 : rev;
	}
	if (b.len)
		ld->say(ld->say_ud, b.data, b.len);
	buf_free(&b);
	load_op_done(op);
}

/* Two or three distinct keys at one revision; the third may be a delete. */
static inline int load_txn(struct load *ld, struct load_op *op)
{
	struct store_op ops[3];
	char keys[3][32];
	char *vals[3] = {0};
	int r;

	op->nkeys = 2 + (int)(load_rnd(&ld->rng) % 2);
	for (int i = 0; i < op->nkeys; i++) {
		op->keys[i] = (op->keys[0] + i * 101) % LOAD_KEYS;
		snprintf(keys[i], sizeof(keys[i]), LOAD_PREFIX "k%03d", op->keys[i]);
		ops[i] = (struct store_op){.type = STORE_OP_PUT, .key = keys[i],
					   .key_len = strlen(keys[i])};
		if (i == 2 && load_rnd(&ld->rng) % 2) {
			ops[i].type = STORE_OP_DELETE;
			continue;
		}
		size_t n;
		vals[i] = load_make_value(keys[i], ld->seq++, &ld->rng, &n);
		ops[i].value = vals[i];
		ops[i].value_len = n;
		memcpy(op->digest[i], vals[i] + n - 16, 17);
	}
	r = store_txn(ld->store,
		      &(struct store_txn_req){.success = ops, .nsuccess = (size_t)op->nkeys},
		      load_on_txn, op);
	for (int i = 0; i < 3; i++)
		free(vals[i]);
	return r;
}

/* One random write. */
static inline void load_write(struct load *ld)
{
	struct load_op *op = xnew(struct load_op, 1);
	int kind = (int)(load_rnd(&ld->rng) % 100);
	int k = (int)(load_rnd(&ld->rng) % LOAD_KEYS);
	char key[32];
	int r;

	op->ld = ld;
	op->keys[0] = k;
	op->nkeys = 1;
	snprintf(key, sizeof(key), LOAD_PREFIX "k%03d", k);
	if (kind < 82) {
		size_t n;
		_cleanup_free_ char *v = load_make_value(key, ld->seq++, &ld->rng, &n);
		memcpy(op->digest[0], v + n - 16, 17);
		if (kind < 55 && kind >= 35)
			r = store_create(ld->store, key, strlen(key), v, n, 0, load_on_cas, op);
		else if (kind >= 55 && ld->known_mod[k] > 0)
			r = store_update(ld->store, key, strlen(key), v, n, ld->known_mod[k], 0,
					 load_on_cas, op);
		else
			r = store_put(ld->store, key, strlen(key), v, n, 0, load_on_cas, op);
	} else if (kind < 92) {
		r = store_delete(ld->store, key, strlen(key), 0, load_on_cas, op);
	} else {
		r = load_txn(ld, op);
	}
	if (r < 0)
		load_die(ld, "issue", r);
	ld->inflight++;
}

static inline void load_issue(struct load *ld)
{
	while (ld->inflight < ld->depth)
		load_write(ld);
}

static inline void load_watch_events(void *ud, const struct store_event *ev, size_t n)
{
	struct load *ld = ud;
	struct buf b = {0};

	for (size_t i = 0; i < n; i++) {
		const struct store_kv *kv = &ev[i].kv;
		char d[17] = "-";
		int k = load_key_index(kv->key, kv->key_len);
		if (ev[i].type == STORE_EVENT_PUT)
			load_value_digest(kv->key, kv->key_len, kv->value, kv->value_len, d);
		buf_printf(&b, "W %" PRId64 " %c %.*s %s\n", kv->mod_rev,
			   ev[i].type == STORE_EVENT_PUT ? 'P' : 'D', (int)kv->key_len, kv->key,
			   d[0] ? d : "bad");
		if (k >= 0)
			ld->known_mod[k] = ev[i].type == STORE_EVENT_PUT ? kv->mod_rev : 0;
	}
	ld->say(ld->say_ud, b.data, b.len);
	buf_free(&b);
}

static inline void load_watch_closed(void *ud, int err, int64_t compact_rev)
{
	load_die(ud, "watch closed", err);
}

/* Watch LOAD_PREFIX from watch_from (reporting "W" lines) and put depth
 * writes in flight; each completion issues the next. */
static inline int load_start(struct load *ld, int64_t watch_from)
{
	static const struct store_watch_ops ops = {.events = load_watch_events,
						   .closed = load_watch_closed};
	struct store_watch *w;
	char end[16];
	size_t end_len = store_prefix_end(LOAD_PREFIX, strlen(LOAD_PREFIX), end);
	int r = store_watch(ld->store,
			    &(struct store_watch_req){.key = LOAD_PREFIX,
						      .key_len = strlen(LOAD_PREFIX), .end = end,
						      .end_len = end_len, .start_rev = watch_from},
			    &ops, ld, &w);
	if (r < 0)
		return r;
	load_issue(ld);
	return 0;
}

/* --- the lines, read back --- */

struct wr {
	int64_t rev;
	char type; /* 'P' or 'D' */
	char key[24];
	char digest[17];
};

struct wrs {
	struct wr *v;
	size_t n, cap;
};

static inline void wrs_add(struct wrs *a, const struct wr *w)
{
	if (a->n == a->cap) {
		a->cap = MAX(a->cap * 2, 1024);
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = *w;
}

/* "A ..." or "W ..." into w; false when the line is not one. */
static inline bool load_parse_line(const char *line, struct wr *w)
{
	char key[32], digest[32];
	if ((line[0] != 'A' && line[0] != 'W') || line[1] != ' ' ||
	    sscanf(line + 2, "%" SCNd64 " %c %31s %31s", &w->rev, &w->type, key, digest) != 4 ||
	    (w->type != 'P' && w->type != 'D') || strlen(key) >= sizeof(w->key) ||
	    strlen(digest) >= sizeof(w->digest) || load_key_index(key, strlen(key)) < 0)
		return false;
	strcpy(w->key, key);
	strcpy(w->digest, digest);
	return true;
}

/* --- the check --- */

struct load_check {
	int lost, gaps, dups, bad_values, state_diff, resume_fail, phantom, watch_fail;
	int64_t rev;   /* the store's revision */
	size_t events; /* in its history */
};

static inline bool load_check_ok(const struct load_check *k)
{
	return !k->lost && !k->gaps && !k->dups && !k->bad_values && !k->state_diff &&
	       !k->resume_fail && !k->phantom && !k->watch_fail;
}

/* Count a failure and say why, for the first few of each kind. */
#define LOAD_FAIL(counter, ...)              \
	do {                                 \
		if ((counter)++ < 5) {       \
			printf("# ");        \
			printf(__VA_ARGS__); \
			printf("\n");        \
		}                            \
	} while (0)

static inline void load_ev_to_wr(struct load_check *k, const struct store_event *e,
				 struct wr *w)
{
	*w = (struct wr){.rev = e->kv.mod_rev, .type = e->type == STORE_EVENT_PUT ? 'P' : 'D'};
	snprintf(w->key, sizeof(w->key), "%.*s", (int)e->kv.key_len, e->kv.key);
	strcpy(w->digest, "-");
	if (e->type == STORE_EVENT_PUT) {
		load_value_digest(e->kv.key, e->kv.key_len, e->kv.value, e->kv.value_len,
				  w->digest);
		if (!w->digest[0]) {
			LOAD_FAIL(k->bad_values, "value of %s at %" PRId64 " does not verify",
				  w->key, w->rev);
			strcpy(w->digest, "bad");
		}
	}
}

static inline bool wr_eq(const struct wr *a, const struct wr *b)
{
	return a->rev == b->rev && a->type == b->type && streq(a->key, b->key) &&
	       streq(a->digest, b->digest);
}

/* Is w in h (sorted by revision)? */
static inline bool wrs_has(const struct wrs *h, const struct wr *w)
{
	size_t lo = 0, hi = h->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (h->v[mid].rev < w->rev)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < h->n && h->v[i].rev == w->rev; i++)
		if (wr_eq(&h->v[i], w))
			return true;
	return false;
}

/* A replaying watch keeps only the lines (a history can be 500,000 events). */
struct load_replay {
	struct load_check *k;
	struct wrs *out;
	bool closed, abandoned;
	int err;
};

static inline void load_replay_events(void *ud, const struct store_event *ev, size_t n)
{
	struct load_replay *rp = ud;
	for (size_t i = 0; i < n && !rp->abandoned; i++) {
		struct wr x;
		load_ev_to_wr(rp->k, &ev[i], &x);
		wrs_add(rp->out, &x);
	}
}

static inline void load_replay_closed(void *ud, int err, int64_t compact_rev)
{
	struct load_replay *rp = ud;
	if (rp->abandoned) {
		free(rp);
		return;
	}
	rp->closed = true;
	rp->err = err;
}

/* Watch LOAD_PREFIX from start until it has caught up with rev (the
 * store's first write is revision 2), into out. */
static inline void load_replay(struct load_check *k, int64_t start, int64_t rev, struct wrs *out)
{
	static const struct store_watch_ops ops = {.events = load_replay_events,
						   .closed = load_replay_closed};
	struct load_replay *rp = xnew(struct load_replay, 1);
	struct store_watch *w;
	char end[16];
	size_t end_len = store_prefix_end(LOAD_PREFIX, strlen(LOAD_PREFIX), end);

	*rp = (struct load_replay){.k = k, .out = out};
	int r = store_watch(C.store,
			    &(struct store_watch_req){.key = LOAD_PREFIX,
						      .key_len = strlen(LOAD_PREFIX), .end = end,
						      .end_len = end_len, .start_rev = start},
			    &ops, rp, &w);
	if (r < 0) {
		LOAD_FAIL(k->resume_fail, "watch from %" PRId64 ": %s", start, store_strerror(r));
		free(rp);
		return;
	}
	uint64_t deadline = now_mono_ns() + 60000 * 1000000ull;
	while (rev >= MAX(start, 2) && !rp->closed && now_mono_ns() < deadline &&
	       (!out->n || out->v[out->n - 1].rev < rev))
		loop_run_once(C.loop, 10 * 1000000u);
	/* The rest of the last revision's events, and anything extra. */
	run_for(50);
	if (rp->closed) {
		LOAD_FAIL(k->resume_fail, "a watch from %" PRId64 " closed: %s", start,
			  store_strerror(rp->err));
		free(rp);
		return;
	}
	store_watch_cancel(w);
	wait_until(&rp->closed, CALL_TIMEOUT_MS);
	if (rp->closed)
		free(rp);
	else
		rp->abandoned = true;
}

static inline void load_check_history(struct load_check *k, const struct wrs *h)
{
	for (size_t i = 0; i < h->n; i++) {
		const struct wr *a = &h->v[i];
		if (i == 0) {
			if (a->rev != 2)
				LOAD_FAIL(k->gaps, "the first write has revision %" PRId64, a->rev);
			continue;
		}
		const struct wr *p = &h->v[i - 1];
		if (a->rev > p->rev + 1)
			LOAD_FAIL(k->gaps, "no write at revisions %" PRId64 "..%" PRId64,
				  p->rev + 1, a->rev - 1);
		if (a->rev < p->rev)
			LOAD_FAIL(k->gaps, "revision %" PRId64 " after %" PRId64, a->rev, p->rev);
		for (size_t j = i; j-- > 0 && h->v[j].rev == a->rev;)
			if (streq(h->v[j].key, a->key))
				LOAD_FAIL(k->dups, "%s twice at revision %" PRId64, a->key, a->rev);
	}
	if (h->n && h->v[h->n - 1].rev != k->rev)
		LOAD_FAIL(k->gaps, "history ends at %" PRId64 ", the store is at %" PRId64,
			  h->v[h->n - 1].rev, k->rev);
	if (!h->n && k->rev > 1)
		LOAD_FAIL(k->gaps, "no history, yet the store is at %" PRId64, k->rev);
}

/* The latest write of each key in the history vs a range read now. */
static inline void load_check_state(struct load_check *k, const struct wrs *h)
{
	struct wr *last = xnew(struct wr, LOAD_KEYS);
	struct res r;
	size_t live = 0;

	for (size_t i = 0; i < h->n; i++) {
		int x = load_key_index(h->v[i].key, strlen(h->v[i].key));
		if (x >= 0)
			last[x] = h->v[i];
	}
	for (int x = 0; x < LOAD_KEYS; x++)
		live += last[x].rev && last[x].type == 'P';
	if (s_prefix(LOAD_PREFIX, 0, 0, &r) < 0) {
		LOAD_FAIL(k->state_diff, "range: %s", store_strerror(r.err));
		free(last);
		return;
	}
	if (r.n != live)
		LOAD_FAIL(k->state_diff, "%zu keys in the store, %zu by its history", r.n, live);
	for (size_t i = 0; i < r.n; i++) {
		const struct kvc *kv = &r.kvs[i];
		int x = load_key_index(kv->key, kv->key_len);
		char d[17];
		load_value_digest(kv->key, kv->key_len, kv->value, kv->value_len, d);
		if (!d[0])
			LOAD_FAIL(k->bad_values, "value of %s does not verify", kv->key);
		if (x < 0 || last[x].type != 'P' || last[x].rev != kv->mod_rev ||
		    !streq(last[x].digest, d))
			LOAD_FAIL(k->state_diff, "%s at %" PRId64 " is not its last write",
				  kv->key, kv->mod_rev);
	}
	res_free(&r);
	free(last);
}

/* With the store open in C: every acknowledged write in the history, the
 * history contiguous, values whole, the range read consistent with it; the
 * watcher's lines (from watch_from on) exactly the history's; a watch
 * resuming after *last_watched gets exactly the rest (*last_watched then
 * moves to the watcher's last line). */
static inline void load_check(struct load_check *k, const struct wrs *acks,
			      const struct wrs *watched, int64_t watch_from, int64_t *last_watched)
{
	struct wrs hist = {0}, resumed = {0};
	struct res st;

	if (s_status(&st) < 0) {
		LOAD_FAIL(k->state_diff, "status: %s", store_strerror(st.err));
		return;
	}
	k->rev = st.st.rev;
	load_replay(k, 1, k->rev, &hist);
	k->events = hist.n;
	load_check_history(k, &hist);
	load_check_state(k, &hist);

	for (size_t i = 0; i < acks->n; i++)
		if (!wrs_has(&hist, &acks->v[i]))
			LOAD_FAIL(k->lost, "acknowledged %c %s at %" PRId64 " is missing",
				  acks->v[i].type, acks->v[i].key, acks->v[i].rev);

	size_t from = 0;
	while (from < hist.n && hist.v[from].rev < watch_from)
		from++;
	for (size_t i = 0; i < watched->n; i++) {
		const struct wr *w = &watched->v[i];
		if (!wrs_has(&hist, w))
			LOAD_FAIL(k->phantom, "a watcher saw %c %s at %" PRId64 ", now not there",
				  w->type, w->key, w->rev);
		else if (from + i >= hist.n || !wr_eq(&hist.v[from + i], w))
			LOAD_FAIL(k->watch_fail, "watch event %zu (%s at %" PRId64
						 ") out of order, repeated or after a gap",
				  i, w->key, w->rev);
	}
	if (watched->n)
		*last_watched = watched->v[watched->n - 1].rev;

	load_replay(k, *last_watched + 1, k->rev, &resumed);
	size_t first = 0;
	while (first < hist.n && hist.v[first].rev <= *last_watched)
		first++;
	if (resumed.n != hist.n - first)
		LOAD_FAIL(k->resume_fail, "resumed at %" PRId64 ": %zu events, want %zu",
			  *last_watched + 1, resumed.n, hist.n - first);
	for (size_t i = 0; i < resumed.n && first + i < hist.n; i++)
		if (!wr_eq(&resumed.v[i], &hist.v[first + i])) {
			LOAD_FAIL(k->resume_fail, "resumed event %zu differs", i);
			break;
		}
	free(hist.v);
	free(resumed.v);
}
