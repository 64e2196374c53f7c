/* Conformance: watches. Part of conformance.c (one translation unit). */
#pragma once

#include "conformance.h"

static bool ev_is(const struct ev *e, enum store_event_type type, const char *key,
		  const char *val, int64_t rev)
{
	bool ok = e->type == type && kv_is(&e->kv, key, type == STORE_EVENT_PUT ? val : NULL) &&
		  e->kv.mod_rev == rev;
	if (!ok)
		printf("#   event %s %s=%s rev %" PRId64 ", want %s %s=%s rev %" PRId64 "\n",
		       e->type == STORE_EVENT_PUT ? "PUT" : "DELETE", e->kv.key,
		       e->kv.value ? e->kv.value : "", e->kv.mod_rev,
		       type == STORE_EVENT_PUT ? "PUT" : "DELETE", key, val ? val : "", rev);
	return ok;
}

/* Revisions never go down, and no (revision, key) comes twice. */
static bool events_ordered(const struct rec *r)
{
	for (size_t i = 1; i < r->n; i++) {
		const struct kvc *a = &r->ev[i - 1].kv, *b = &r->ev[i].kv;
		if (b->mod_rev < a->mod_rev ||
		    (b->mod_rev == a->mod_rev && a->key_len == b->key_len &&
		     memcmp(a->key, b->key, a->key_len) == 0)) {
			printf("#   event %zu (%s @%" PRId64 ") after %s @%" PRId64 "\n", i, b->key,
			       b->mod_rev, a->key, a->mod_rev);
			return false;
		}
	}
	return true;
}

static void test_watch_from_now_sees_only_later_writes(void)
{
	put("/w1/before", "b");
	struct rec *w = watch_prefix("/w1/", 0, false);
	if (!w)
		return;
	watch_settle();
	int64_t r1 = put("/w1/a", "1");
	int64_t r2 = del("/w1/before");
	CHECK(rec_wait(w, 2, CALL_TIMEOUT_MS));
	CHECK_INT(w->n, 2);
	if (w->n == 2) {
		CHECK(ev_is(&w->ev[0], STORE_EVENT_PUT, "/w1/a", "1", r1));
		CHECK(ev_is(&w->ev[1], STORE_EVENT_DELETE, "/w1/before", NULL, r2));
		CHECK(w->ev[0].kv.version == 1 && w->ev[0].kv.create_rev == r1);
		CHECK(!w->ev[0].has_prev && !w->ev[1].has_prev);
	}
	CHECK(!w->closed);
	rec_end(w);
}

static void test_watch_replays_from_a_past_revision_then_goes_live(void)
{
	int64_t r1 = put("/w2/a", "1");
	int64_t r2 = put("/w2/b", "2");
	int64_t r3 = put("/w2/a", "3");
	put("/w2-outside", "x");

	struct rec *w = watch_prefix("/w2/", r2, false);
	if (!w)
		return;
	CHECK(rec_wait(w, 2, CALL_TIMEOUT_MS));
	int64_t r4 = del("/w2/b");
	CHECK(rec_wait(w, 3, CALL_TIMEOUT_MS));
	run_for(100);
	CHECK_INT(w->n, 3);
	if (w->n == 3) {
		CHECK(ev_is(&w->ev[0], STORE_EVENT_PUT, "/w2/b", "2", r2));
		CHECK(ev_is(&w->ev[1], STORE_EVENT_PUT, "/w2/a", "3", r3));
		CHECK(ev_is(&w->ev[2], STORE_EVENT_DELETE, "/w2/b", NULL, r4));
		CHECK_INT(w->ev[1].kv.version, 2);
		CHECK_INT(w->ev[1].kv.create_rev, r1);
	}
	rec_end(w);
}

static void test_watch_on_one_key_ignores_its_neighbours(void)
{
	int e;
	struct rec *w = watch_opts("/w3/k", NULL, 0, false, false, &e);
	CHECK_INT(e, 0);
	if (!w)
		return;
	watch_settle();
	put("/w3/j", "x");
	put("/w3/k2", "x");
	put("/w3/k/sub", "x");
	int64_t rk = put("/w3/k", "mine");
	CHECK(rec_wait(w, 1, CALL_TIMEOUT_MS));
	run_for(100);
	CHECK_INT(w->n, 1);
	if (w->n)
		CHECK(ev_is(&w->ev[0], STORE_EVENT_PUT, "/w3/k", "mine", rk));
	rec_end(w);

	/* An explicit [key, end) range. */
	w = watch_opts("/w3/b", "/w3/d", 0, false, false, &e);
	if (!w)
		return;
	watch_settle();
	put("/w3/a", "x");
	put("/w3/d", "x");
	int64_t rc = put("/w3/c", "in");
	CHECK(rec_wait(w, 1, CALL_TIMEOUT_MS));
	run_for(100);
	CHECK_INT(w->n, 1);
	if (w->n)
		CHECK(ev_is(&w->ev[0], STORE_EVENT_PUT, "/w3/c", "in", rc));
	rec_end(w);
}

static void test_watch_prev_kv_on_put_and_delete(void)
{
	int64_t r1 = put("/w4/k", "v1");
	struct rec *w = watch_prefix("/w4/", r1, true);
	if (!w)
		return;
	int64_t r2 = put("/w4/k", "v2");
	int64_t r3 = del("/w4/k");
	CHECK(rec_wait(w, 3, CALL_TIMEOUT_MS));
	if (w->n >= 3) {
		/* The first put created the key: nothing before it. */
		CHECK(ev_is(&w->ev[0], STORE_EVENT_PUT, "/w4/k", "v1", r1));
		CHECK(!w->ev[0].has_prev);
		CHECK(ev_is(&w->ev[1], STORE_EVENT_PUT, "/w4/k", "v2", r2));
		CHECK(w->ev[1].has_prev && kv_is(&w->ev[1].prev, "/w4/k", "v1"));
		CHECK_INT(w->ev[1].prev.mod_rev, r1);
		/* A delete carries the deleted value and its revisions. */
		CHECK(ev_is(&w->ev[2], STORE_EVENT_DELETE, "/w4/k", NULL, r3));
		CHECK(w->ev[2].has_prev && kv_is(&w->ev[2].prev, "/w4/k", "v2"));
		CHECK_INT(w->ev[2].prev.mod_rev, r2);
		CHECK_INT(w->ev[2].prev.version, 2);
	}
	rec_end(w);
}

static void test_watch_delivers_a_txns_events_together_in_order(void)
{
	put("/w5/z", "z");
	struct rec *w = watch_prefix("/w5/", 0, false);
	if (!w)
		return;
	watch_settle();
	int64_t r0 = put("/w5/first", "f");
	const struct store_op ops[] = {
		{.type = STORE_OP_PUT, .key = "/w5/y", .key_len = 5, .value = "1", .value_len = 1},
		{.type = STORE_OP_PUT, .key = "/w5/x", .key_len = 5, .value = "2", .value_len = 1},
		{.type = STORE_OP_DELETE, .key = "/w5/z", .key_len = 5},
	};
	struct res r;
	CHECK_INT(s_txn(&(struct store_txn_req){.success = ops, .nsuccess = 3}, &r), 0);
	int64_t rt = r.rev;
	res_free(&r);
	int64_t rl = put("/w5/last", "l");
	CHECK(rec_wait(w, 5, CALL_TIMEOUT_MS));
	CHECK_INT(w->n, 5);
	if (w->n == 5) {
		CHECK(ev_is(&w->ev[0], STORE_EVENT_PUT, "/w5/first", "f", r0));
		/* In the txn's own order, not key order. */
		CHECK(ev_is(&w->ev[1], STORE_EVENT_PUT, "/w5/y", "1", rt));
		CHECK(ev_is(&w->ev[2], STORE_EVENT_PUT, "/w5/x", "2", rt));
		CHECK(ev_is(&w->ev[3], STORE_EVENT_DELETE, "/w5/z", NULL, rt));
		CHECK(ev_is(&w->ev[4], STORE_EVENT_PUT, "/w5/last", "l", rl));
	}
	rec_end(w);
}

struct burst {
	int issued, acked, errs;
};

static void on_burst(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct burst *b = ud;
	b->acked++;
	if (err || !ok)
		b->errs++;
}

/* n puts to keys prefix%d, at most depth in flight. */
static bool put_burst(const char *prefix, int n, int nkeys, int depth)
{
	struct burst b = {0};
	char key[64], val[32];
	uint64_t end = now_mono_ns() + 30000 * 1000000ull;

	while (b.acked < n && now_mono_ns() < end) {
		while (b.issued < n && b.issued - b.acked < depth) {
			snprintf(key, sizeof(key), "%s%d", prefix, b.issued % nkeys);
			snprintf(val, sizeof(val), "%d", b.issued);
			int r = store_put(C.store, key, strlen(key), val, strlen(val), 0, on_burst,
					  &b);
			CHECK_INT(r, 0);
			b.issued++;
			if (r < 0)
				b.acked++;
		}
		loop_run_once(C.loop, 10 * 1000000u);
	}
	CHECK_INT(b.acked, n);
	CHECK_INT(b.errs, 0);
	/* A stack-held counter: leave only once nothing is in flight. */
	if (b.acked < b.issued) {
		printf("# burst timed out with %d in flight\n", b.issued - b.acked);
		abort();
	}
	return b.acked == n && !b.errs;
}

/* Every revision in (from, to] exactly once, each event one revision. */
static bool events_cover(const struct rec *w, int64_t from, int64_t to)
{
	if (!events_ordered(w))
		return false;
	if ((int64_t)w->n != to - from) {
		printf("#   %zu events for revisions %" PRId64 "..%" PRId64 "\n", w->n, from + 1,
		       to);
		return false;
	}
	for (size_t i = 0; i < w->n; i++)
		if (w->ev[i].kv.mod_rev != from + 1 + (int64_t)i) {
			printf("#   event %zu has revision %" PRId64 "\n", i, w->ev[i].kv.mod_rev);
			return false;
		}
	return true;
}

static void test_watch_delivers_a_burst_exactly_once(void)
{
	enum { N = 3000 };
	int64_t base = cur_rev();
	struct rec *w = watch_prefix("/w6/", base + 1, false);
	if (!w)
		return;
	put_burst("/w6/k", N, 97, 64);
	int64_t top = cur_rev();
	CHECK_INT(top, base + N);
	CHECK(rec_wait(w, N, CALL_TIMEOUT_MS));
	run_for(200);
	CHECK(events_cover(w, base, top));
	rec_end(w);
}

static void test_many_watchers_each_see_every_event(void)
{
	enum { W = 120, N = 200 };
	struct rec *ws[W];
	int64_t base = cur_rev();

	put_burst("/w7/pre", 20, 5, 8);
	/* A third replay from before the first writes; the rest start live
	 * partway through. */
	for (int i = 0; i < W; i++) {
		if (i % 3 == 0)
			ws[i] = watch_prefix("/w7/", base + 1, i % 2);
		else
			ws[i] = watch_prefix("/w7/", base + 21, i % 2);
		if (!ws[i])
			return;
	}
	put_burst("/w7/k", N, 13, 32);
	int64_t top = cur_rev();
	for (int i = 0; i < W; i++) {
		size_t want = (size_t)(i % 3 == 0 ? N + 20 : N);
		if (!rec_wait(ws[i], want, CALL_TIMEOUT_MS))
			printf("#   watcher %d\n", i);
	}
	run_for(200);
	int bad = 0;
	for (int i = 0; i < W; i++) {
		if (!events_cover(ws[i], i % 3 == 0 ? base : base + 20, top))
			bad++;
		rec_end(ws[i]);
	}
	CHECK_INT(bad, 0);
}

static void test_watch_cancel_closes_it_with_ecanceled(void)
{
	struct rec *w = watch_prefix("/w8/", 0, false);
	if (!w)
		return;
	watch_settle();
	put("/w8/a", "1");
	CHECK(rec_wait(w, 1, CALL_TIMEOUT_MS));
	w->in_call = true;
	store_watch_cancel(w->w);
	w->in_call = false;
	/* closed() follows from the loop, not from inside the cancel. */
	CHECK(!w->closed);
	CHECK(rec_wait_closed(w, CALL_TIMEOUT_MS));
	CHECK_INT(w->close_err, -ECANCELED);
	put("/w8/b", "2");
	run_for(200);
	CHECK_INT(w->n, 1);
	rec_end(w);
}

static void test_watch_reports_progress(void)
{
	int64_t rev = put("/w9/quiet", "q");
	int e;
	struct rec *w = watch_opts("/w9/", "", rev + 1, false, true, &e);
	CHECK_INT(e, 0);
	if (!w)
		return;

	/* Asked for: soon, at a revision covering every write so far. */
	watch_settle();
	put("/w9-elsewhere", "x");
	int64_t now = cur_rev();
	/* A periodic notification may have come in meanwhile: wait for one
	 * more than there were when asking, and judge the newest. */
	size_t before = w->nprogress;
	store_watch_request_progress(w->w);
	uint64_t end = now_mono_ns() + 5000 * 1000000ull;
	while (w->nprogress == before && now_mono_ns() < end)
		loop_run_once(C.loop, 10 * 1000000u);
	CHECK(w->nprogress > before);
	if (w->nprogress > before)
		CHECK(w->progress[w->nprogress - 1] >= now);

	/* Unasked, on a quiet watch with progress_notify (embedded: each 1 s;
	 * etcd: at the server's --experimental-watch-progress-notify-interval). */
	size_t had = w->nprogress;
	end = now_mono_ns() + 4000 * 1000000ull;
	while (w->nprogress == had && now_mono_ns() < end)
		loop_run_once(C.loop, 10 * 1000000u);
	CHECK(w->nprogress > had);
	CHECK_INT(w->n, 0);
	for (size_t i = 1; i < w->nprogress; i++)
		CHECK(w->progress[i] >= w->progress[i - 1]);
	rec_end(w);
}

static void test_watch_refuses_bad_requests(void)
{
	int e;
	CHECK(!watch_opts("", NULL, 0, false, false, &e));
	CHECK_INT(e, -EINVAL);
	CHECK(!watch_opts("/w10/", "", -1, false, false, &e));
	CHECK_INT(e, -EINVAL);
}
