/* Conformance: single-key reads and writes, revisions, ranges, past
 * revisions, bad input. Part of conformance.c (one translation unit). */
#pragma once

#include "conformance.h"

static void test_fresh_store_is_at_revision_1(void)
{
	struct res r;

	/* etcd starts at revision 1 with no keys; the first write takes 2. */
	CHECK_INT(s_status(&r), 0);
	CHECK_INT(r.st.rev, 1);
	CHECK_INT(r.st.compact_rev, 0);
	CHECK_INT(s_get("/kv/fresh", 0, &r), 0);
	CHECK(!r.found);
	CHECK_INT(r.rev, 1);
	CHECK_INT(put("/kv/fresh", "x"), 2);
}

static void test_put_then_get_returns_the_value(void)
{
	struct res r;
	int64_t rev = put("/kv/a", "one");

	CHECK_INT(s_get("/kv/a", 0, &r), 0);
	CHECK(r.found);
	CHECK(kv_is(&r.kv, "/kv/a", "one"));
	CHECK_INT(r.kv.create_rev, rev);
	CHECK_INT(r.kv.mod_rev, rev);
	CHECK_INT(r.kv.version, 1);
	CHECK_INT(r.kv.lease, 0);
	CHECK_INT(r.rev, rev);
	res_free(&r);

	/* A missing key is no error: found is false, the header still set. */
	CHECK_INT(s_get("/kv/missing", 0, &r), 0);
	CHECK(!r.found);
	CHECK_INT(r.rev, rev);
	res_free(&r);

	/* An empty value is a value. */
	CHECK_INT(s_put("/kv/empty", "", 0, &r), 0);
	res_free(&r);
	CHECK_INT(s_get("/kv/empty", 0, &r), 0);
	CHECK(r.found && r.kv.value_len == 0);
	res_free(&r);
}

static void test_put_answers_with_the_new_kv(void)
{
	struct res r;
	int64_t r1 = put("/kv/p", "v1");

	CHECK_INT(s_put("/kv/p", "v2", 0, &r), 0);
	CHECK(r.ok && r.found);
	CHECK(kv_is(&r.kv, "/kv/p", "v2"));
	CHECK_INT(r.kv.create_rev, r1);
	CHECK_INT(r.kv.mod_rev, r.rev);
	CHECK_INT(r.kv.version, 2);
	CHECK_INT(r.rev, r1 + 1);
	res_free(&r);
}

struct rev_sink {
	int64_t *revs;
	int n;
	int errs;
};

static void on_rev_sink(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct rev_sink *s = ud;
	if (err || !ok)
		s->errs++;
	else
		s->revs[s->n] = rev;
	s->n++;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static void test_each_write_takes_the_next_revision(void)
{
	int64_t base = cur_rev();
	char key[64];

	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "/rev/seq/%d", i % 3);
		CHECK_INT(put(key, "x"), base + i + 1);
	}
	CHECK_INT(del("/rev/seq/0"), base + 11);
	CHECK_INT(cur_rev(), base + 11);

	/* 50 writes in flight at once still get 50 consecutive revisions. */
	enum { N = 50 };
	int64_t revs[N];
	struct rev_sink sink = {.revs = revs};
	bool done = false;
	base = cur_rev();
	for (int i = 0; i < N; i++) {
		snprintf(key, sizeof(key), "/rev/par/%d", i);
		CHECK_INT(store_put(C.store, key, strlen(key), "y", 1, 0, on_rev_sink, &sink), 0);
	}
	uint64_t end = now_mono_ns() + CALL_TIMEOUT_MS * 1000000ull;
	while (sink.n < N && now_mono_ns() < end)
		loop_run_once(C.loop, 10 * 1000000u);
	done = sink.n == N;
	CHECK(done);
	CHECK_INT(sink.errs, 0);
	if (!done || sink.errs)
		return;
	qsort(revs, N, sizeof(revs[0]), cmp_i64);
	for (int i = 0; i < N; i++)
		CHECK_INT(revs[i], base + i + 1);
}

static void test_version_restarts_after_delete_and_recreate(void)
{
	struct res r;
	int64_t r1 = put("/kv/ver", "a");
	put("/kv/ver", "b");
	int64_t r3 = put("/kv/ver", "c");

	CHECK_INT(s_get("/kv/ver", 0, &r), 0);
	CHECK_INT(r.kv.version, 3);
	CHECK_INT(r.kv.create_rev, r1);
	CHECK_INT(r.kv.mod_rev, r3);
	res_free(&r);

	int64_t rd = del("/kv/ver");
	CHECK_INT(rd, r3 + 1);
	CHECK_INT(s_get("/kv/ver", 0, &r), 0);
	CHECK(!r.found);
	res_free(&r);

	int64_t r5 = put("/kv/ver", "d");
	CHECK_INT(s_get("/kv/ver", 0, &r), 0);
	CHECK_INT(r.kv.version, 1);
	CHECK_INT(r.kv.create_rev, r5);
	CHECK_INT(r.kv.mod_rev, r5);
	res_free(&r);
}

static void test_create_refuses_an_existing_key_and_reports_it(void)
{
	struct res r;

	CHECK_INT(s_create("/kv/c", "first", &r), 0);
	CHECK(r.ok);
	CHECK(kv_is(&r.kv, "/kv/c", "first"));
	CHECK_INT(r.kv.version, 1);
	int64_t rev = r.rev;
	res_free(&r);

	/* The conflict answer carries the current kv; no revision is taken. */
	CHECK_INT(s_create("/kv/c", "second", &r), 0);
	CHECK(!r.ok);
	CHECK(r.found);
	CHECK(kv_is(&r.kv, "/kv/c", "first"));
	CHECK_INT(r.kv.mod_rev, rev);
	CHECK_INT(r.rev, rev);
	res_free(&r);
	CHECK_INT(cur_rev(), rev);
}

static void test_update_needs_the_current_mod_rev(void)
{
	struct res r;
	int64_t rev = put("/kv/u", "a");

	CHECK_INT(s_update("/kv/u", "b", rev - 1, &r), 0);
	CHECK(!r.ok);
	CHECK(r.found);
	CHECK(kv_is(&r.kv, "/kv/u", "a"));
	CHECK_INT(r.kv.mod_rev, rev);
	res_free(&r);
	CHECK_INT(cur_rev(), rev);

	CHECK_INT(s_update("/kv/u", "b", rev, &r), 0);
	CHECK(r.ok);
	CHECK(kv_is(&r.kv, "/kv/u", "b"));
	CHECK_INT(r.kv.version, 2);
	CHECK_INT(r.kv.mod_rev, rev + 1);
	CHECK_INT(r.rev, rev + 1);
	res_free(&r);

	/* A missing key cannot be updated: ok false, no current kv. */
	CHECK_INT(s_update("/kv/u-missing", "b", rev, &r), 0);
	CHECK(!r.ok);
	CHECK(!r.found);
	res_free(&r);

	CHECK_INT(s_update("/kv/u", "c", 0, &r), -EINVAL);
	CHECK(r.sync);
	res_free(&r);
}

static void test_delete_is_guarded_by_mod_rev(void)
{
	struct res r;
	int64_t rev = put("/kv/d", "gone soon");

	CHECK_INT(s_delete("/kv/d-missing", 0, &r), 0);
	CHECK(!r.ok);
	CHECK(!r.found);
	res_free(&r);

	CHECK_INT(s_delete("/kv/d", rev + 100, &r), 0);
	CHECK(!r.ok);
	CHECK(r.found);
	CHECK(kv_is(&r.kv, "/kv/d", "gone soon"));
	res_free(&r);
	CHECK_INT(cur_rev(), rev);

	/* Success answers with the deleted kv. */
	CHECK_INT(s_delete("/kv/d", rev, &r), 0);
	CHECK(r.ok);
	CHECK(r.found);
	CHECK(kv_is(&r.kv, "/kv/d", "gone soon"));
	CHECK_INT(r.kv.mod_rev, rev);
	CHECK_INT(r.rev, rev + 1);
	res_free(&r);

	CHECK_INT(s_get("/kv/d", 0, &r), 0);
	CHECK(!r.found);
	res_free(&r);

	/* Deleting what is not there takes no revision. */
	CHECK_INT(s_delete("/kv/d", 0, &r), 0);
	CHECK(!r.ok);
	res_free(&r);
	CHECK_INT(cur_rev(), rev + 1);
}

static bool keys_are(const struct res *r, const char *const *keys, size_t n)
{
	bool same = r->n == n;
	for (size_t i = 0; same && i < n; i++)
		same = r->kvs[i].key && streq(r->kvs[i].key, keys[i]);
	if (!same) {
		printf("#   got %zu keys:", r->n);
		for (size_t i = 0; i < r->n; i++)
			printf(" %s", r->kvs[i].key);
		printf("\n");
	}
	return same;
}

static void test_range_by_key_prefix_and_open_end(void)
{
	static const char *const all[] = {"/r/a", "/r/b", "/r/b/1", "/r/c"};
	struct res r;

	/* Written out of order; ranges answer in key order. */
	put("/r/c", "c");
	put("/r/a", "a");
	put("/r0", "outside");
	put("/r/b/1", "b1");
	put("/r/b", "b");

	CHECK_INT(s_range(&(struct store_range_req){.key = "/r/b", .key_len = 4}, &r), 0);
	CHECK(keys_are(&r, all + 1, 1));
	CHECK_INT(r.count, 1);
	res_free(&r);

	CHECK_INT(s_prefix("/r/", 0, 0, &r), 0);
	CHECK(keys_are(&r, all, 4));
	CHECK_INT(r.count, 4);
	CHECK(!r.more);
	CHECK(r.n == 4 && kv_is(&r.kvs[2], "/r/b/1", "b1"));
	res_free(&r);

	CHECK_INT(s_range(&(struct store_range_req){.key = "/r/a", .key_len = 4, .end = "/r/c",
						   .end_len = 4},
			  &r),
		  0);
	CHECK(keys_are(&r, all, 3));
	res_free(&r);

	/* end "\0": every key from /r/b on (later keys of other tests too). */
	CHECK_INT(s_range(&(struct store_range_req){.key = "/r/b", .key_len = 4, .end = "",
						   .end_len = 1, .limit = 4},
			  &r),
		  0);
	static const char *const open[] = {"/r/b", "/r/b/1", "/r/c", "/r0"};
	CHECK(keys_are(&r, open, 4));
	CHECK(r.count >= 4);
	CHECK(r.more == (r.count > 4));
	res_free(&r);

	/* key "\0" with end "\0": the whole keyspace. */
	CHECK_INT(s_range(&(struct store_range_req){.key = "", .key_len = 1, .end = "",
						   .end_len = 1, .count_only = true},
			  &r),
		  0);
	CHECK(r.count >= 5);
	res_free(&r);
}

static void test_range_limit_reports_more_and_count(void)
{
	struct res r;

	put("/lim/1", "1");
	put("/lim/2", "2");
	put("/lim/3", "3");
	put("/lim/4", "4");
	CHECK_INT(s_prefix("/lim/", 0, 2, &r), 0);
	CHECK_INT(r.n, 2);
	CHECK(r.more);
	CHECK_INT(r.count, 4);
	CHECK(r.n == 2 && kv_is(&r.kvs[0], "/lim/1", "1") && kv_is(&r.kvs[1], "/lim/2", "2"));
	res_free(&r);

	CHECK_INT(s_prefix("/lim/", 0, 4, &r), 0);
	CHECK_INT(r.n, 4);
	CHECK(!r.more);
	res_free(&r);

	CHECK_INT(s_prefix("/lim/", 0, 100, &r), 0);
	CHECK_INT(r.n, 4);
	CHECK(!r.more);
	CHECK_INT(r.count, 4);
	res_free(&r);
}

static void test_range_keys_only_and_count_only(void)
{
	struct res r;
	char end[16];
	size_t end_len = store_prefix_end("/lim/", 5, end);

	CHECK_INT(s_range(&(struct store_range_req){.key = "/lim/", .key_len = 5, .end = end,
						   .end_len = end_len, .keys_only = true},
			  &r),
		  0);
	CHECK_INT(r.n, 4);
	for (size_t i = 0; i < r.n; i++) {
		CHECK(!r.kvs[i].has_value || r.kvs[i].value_len == 0);
		CHECK(r.kvs[i].mod_rev > 0 && r.kvs[i].version == 1);
	}
	CHECK(r.n == 4 && streq(r.kvs[3].key, "/lim/4"));
	res_free(&r);

	CHECK_INT(s_range(&(struct store_range_req){.key = "/lim/", .key_len = 5, .end = end,
						   .end_len = end_len, .count_only = true},
			  &r),
		  0);
	CHECK_INT(r.n, 0);
	CHECK_INT(r.count, 4);
	res_free(&r);
}

static void test_range_pages_by_key_at_one_revision(void)
{
	char key[32], next[64];
	size_t next_len;
	int seen = 0;
	int64_t rev = 0;

	for (int i = 0; i < 25; i++) {
		snprintf(key, sizeof(key), "/page/%02d", i);
		put(key, key);
	}
	memcpy(next, "/page/", 6);
	next_len = 6;
	for (int page = 0; page < 10; page++) {
		struct res r;
		char end[8];
		size_t end_len = store_prefix_end("/page/", 6, end);
		CHECK_INT(s_range(&(struct store_range_req){.key = next, .key_len = next_len,
							   .end = end, .end_len = end_len,
							   .rev = rev, .limit = 7},
				  &r),
			  0);
		if (!rev)
			rev = r.rev;
		for (size_t i = 0; i < r.n; i++) {
			snprintf(key, sizeof(key), "/page/%02d", seen);
			CHECK(kv_is(&r.kvs[i], key, key));
			seen++;
		}
		bool more = r.more;
		if (r.n) {
			/* The next page starts just after the last key. */
			next_len = r.kvs[r.n - 1].key_len + 1;
			memcpy(next, r.kvs[r.n - 1].key, next_len - 1);
			next[next_len - 1] = '\0';
		}
		res_free(&r);
		/* Writes between pages do not show in pages read at rev. */
		put("/page/00-new", "x");
		if (!more)
			break;
	}
	CHECK_INT(seen, 25);
}

static void test_reads_at_past_revisions(void)
{
	struct res r;
	int64_t r1 = put("/past/k", "v1");
	int64_t r2 = put("/past/k", "v2");
	int64_t r3 = del("/past/k");
	int64_t r4 = put("/past/k", "v3");

	CHECK_INT(s_get("/past/k", r1, &r), 0);
	CHECK(r.found && kv_is(&r.kv, "/past/k", "v1") && r.kv.version == 1);
	res_free(&r);
	CHECK_INT(s_get("/past/k", r2, &r), 0);
	CHECK(r.found && kv_is(&r.kv, "/past/k", "v2") && r.kv.version == 2);
	CHECK_INT(r.kv.create_rev, r1);
	res_free(&r);
	CHECK_INT(s_get("/past/k", r3, &r), 0);
	CHECK(!r.found);
	res_free(&r);
	CHECK_INT(s_get("/past/k", r4, &r), 0);
	CHECK(r.found && kv_is(&r.kv, "/past/k", "v3") && r.kv.create_rev == r4);
	res_free(&r);
	CHECK_INT(s_get("/past/k", r1 - 1, &r), 0);
	CHECK(!r.found);
	res_free(&r);

	/* A range at a past revision counts what existed then. */
	put("/past/j", "j");
	CHECK_INT(s_prefix("/past/", r2, 0, &r), 0);
	CHECK_INT(r.count, 1);
	res_free(&r);
	CHECK_INT(s_prefix("/past/", 0, 0, &r), 0);
	CHECK_INT(r.count, 2);
	res_free(&r);

	CHECK_INT(s_get("/past/k", cur_rev() + 1000, &r), -ERANGE);
	res_free(&r);
}

static void test_binary_keys_and_values_round_trip(void)
{
	static const char key[] = "/bin/\x00\xff\x01k";
	static const char val[] = "a\x00b\xff\x00";
	static const char ff[] = "\xff\xff";
	struct res r;
	char end[4];

	CHECK_INT(s_putn(key, sizeof(key) - 1, val, sizeof(val) - 1, 0, &r), 0);
	res_free(&r);
	CHECK_INT(s_range(&(struct store_range_req){.key = key, .key_len = sizeof(key) - 1}, &r),
		  0);
	CHECK_INT(r.n, 1);
	CHECK(r.n == 1 && r.kvs[0].key_len == sizeof(key) - 1 &&
	      memcmp(r.kvs[0].key, key, sizeof(key) - 1) == 0);
	CHECK(r.n == 1 && r.kvs[0].value_len == sizeof(val) - 1 &&
	      memcmp(r.kvs[0].value, val, sizeof(val) - 1) == 0);
	res_free(&r);

	/* An all-0xff prefix ranges to the end of the keyspace. */
	CHECK_INT(s_putn(ff, 2, "z", 1, 0, &r), 0);
	res_free(&r);
	size_t end_len = store_prefix_end(ff, 2, end);
	CHECK(end_len == 1 && end[0] == '\0');
	CHECK_INT(s_range(&(struct store_range_req){.key = ff, .key_len = 2, .end = end,
						   .end_len = end_len},
			  &r),
		  0);
	CHECK_INT(r.n, 1);
	res_free(&r);
}

static void test_bad_requests_fail_with_clear_errors(void)
{
	struct res r;

	CHECK_INT(s_get("", 0, &r), -EINVAL);
	CHECK(r.sync);
	CHECK_INT(s_put("", "v", 0, &r), -EINVAL);
	CHECK_INT(s_get("/bad/k", -1, &r), -EINVAL);
	CHECK(r.sync);
	CHECK_INT(s_range(&(struct store_range_req){.key = "/bad/", .key_len = 5, .limit = -1},
			  &r),
		  -EINVAL);
	CHECK_STREQ(store_strerror(-EINVAL),
		    "etcdserver: key is not provided or the request is malformed");

	/* Values up to 1 MiB are fine; past etcd's 1.5 MiB request limit not. */
	size_t big = 1024 * 1024;
	char *v = xmalloc(STORE_MAX_REQUEST_BYTES + 1);
	for (size_t i = 0; i < STORE_MAX_REQUEST_BYTES + 1; i++)
		v[i] = (char)('a' + i % 23);
	CHECK_INT(s_putn("/bad/big", 8, v, big, 0, &r), 0);
	res_free(&r);
	CHECK_INT(s_range(&(struct store_range_req){.key = "/bad/big", .key_len = 8}, &r), 0);
	CHECK(r.n == 1 && r.kvs[0].value_len == big && memcmp(r.kvs[0].value, v, big) == 0);
	res_free(&r);
	CHECK_INT(s_putn("/bad/huge", 9, v, STORE_MAX_REQUEST_BYTES + 1, 0, &r), -E2BIG);
	CHECK(r.sync);
	CHECK_STREQ(store_strerror(-E2BIG), "etcdserver: request is too large");
	free(v);
	CHECK_INT(s_get("/bad/huge", 0, &r), 0);
	CHECK(!r.found);
	res_free(&r);
}
