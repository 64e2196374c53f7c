/* Conformance: compaction, status, leases, closing with work pending.
 * Part of conformance.c (one translation unit). */
#pragma once

#include "conformance.h"

static void test_status_reports_the_store(void)
{
	struct res r;
	int64_t rev = put("/st/k", "v");

	CHECK_INT(s_status(&r), 0);
	CHECK_INT(r.st.rev, rev);
	CHECK(r.st.db_bytes > 0);
	if (C.etcd) {
		CHECK_INT(r.st.keys, -1);
	} else {
		struct res all;
		CHECK_INT(s_range(&(struct store_range_req){.key = "", .key_len = 1, .end = "",
							   .end_len = 1, .count_only = true},
				  &all),
			  0);
		CHECK_INT(r.st.keys, all.count);
		res_free(&all);
	}
}

static void test_compaction_keeps_the_latest_version_of_each_key(void)
{
	struct res r;
	int64_t k1 = put("/cp/k", "v1");
	put("/cp/k", "v2");
	int64_t k3 = put("/cp/k", "v3");
	put("/cp/gone", "g1");
	put("/cp/gone", "g2");
	del("/cp/gone");
	int64_t at = put("/cp/at", "a");
	int64_t after = put("/cp/k", "v4");

	CHECK_INT(s_compact(at, &r), 0);
	res_free(&r);
	CHECK_INT(s_status(&r), 0);
	CHECK_INT(r.st.compact_rev, at);

	/* Below the compaction: gone. At it and after: as before. */
	CHECK_INT(s_get("/cp/k", at - 1, &r), -ESTALE);
	CHECK_STREQ(store_strerror(-ESTALE), "mvcc: required revision has been compacted");
	CHECK_INT(s_get("/cp/k", k1, &r), -ESTALE);
	CHECK_INT(s_prefix("/cp/", k3, 0, &r), -ESTALE);
	CHECK_INT(s_get("/cp/k", at, &r), 0);
	CHECK(r.found && kv_is(&r.kv, "/cp/k", "v3"));
	CHECK_INT(r.kv.create_rev, k1);
	CHECK_INT(r.kv.mod_rev, k3);
	CHECK_INT(r.kv.version, 3);
	res_free(&r);
	CHECK_INT(s_prefix("/cp/", at, 0, &r), 0);
	CHECK_INT(r.count, 2); /* /cp/at and /cp/k; /cp/gone's history went */
	res_free(&r);
	CHECK_INT(s_get("/cp/k", after, &r), 0);
	CHECK(r.found && kv_is(&r.kv, "/cp/k", "v4") && r.kv.version == 4);
	res_free(&r);

	/* The key's counters carry on. */
	CHECK_INT(s_put("/cp/k", "v5", 0, &r), 0);
	CHECK_INT(r.kv.version, 5);
	CHECK_INT(r.kv.create_rev, k1);
	res_free(&r);

	/* A watch from the compaction revision replays from there. */
	struct rec *w = watch_prefix("/cp/", at, false);
	if (!w)
		return;
	CHECK(rec_wait(w, 3, CALL_TIMEOUT_MS));
	if (w->n >= 3) {
		CHECK_INT(w->ev[0].kv.mod_rev, at);
		CHECK(kv_is(&w->ev[1].kv, "/cp/k", "v4"));
	}
	CHECK(!w->closed);
	rec_end(w);
}

static void test_watch_from_a_compacted_revision_fails_with_estale(void)
{
	struct res st;
	CHECK_INT(s_status(&st), 0);
	int64_t compacted = st.st.compact_rev;
	CHECK(compacted > 1);

	struct rec *w = watch_prefix("/cp/", compacted - 1, true);
	if (!w)
		return;
	CHECK(rec_wait_closed(w, CALL_TIMEOUT_MS));
	CHECK_INT(w->close_err, -ESTALE);
	CHECK_INT(w->compact_rev, compacted);
	CHECK_INT(w->n, 0);
	rec_end(w);

	w = watch_prefix("/cp/", 1, false);
	if (!w)
		return;
	CHECK(rec_wait_closed(w, CALL_TIMEOUT_MS));
	CHECK_INT(w->close_err, -ESTALE);
	CHECK_INT(w->compact_rev, compacted);
	rec_end(w);
}

static void test_compact_refuses_old_and_future_revisions(void)
{
	struct res r;
	CHECK_INT(s_status(&r), 0);
	int64_t compacted = r.st.compact_rev, now = r.st.rev;

	CHECK_INT(s_compact(compacted, &r), -ESTALE);
	CHECK_INT(s_compact(compacted - 1, &r), -ESTALE);
	CHECK_INT(s_compact(now + 1, &r), -ERANGE);
	CHECK_STREQ(store_strerror(-ERANGE), "mvcc: required revision is a future revision");
	CHECK_INT(s_compact(0, &r), -EINVAL);
	CHECK(r.sync);

	/* Compacting up to the current revision is allowed; the data stays. */
	CHECK_INT(s_compact(now, &r), 0);
	CHECK_INT(s_get("/cp/k", 0, &r), 0);
	CHECK(r.found && kv_is(&r.kv, "/cp/k", "v5"));
	res_free(&r);
	CHECK_INT(s_status(&r), 0);
	CHECK_INT(r.st.compact_rev, now);
	CHECK_INT(r.st.rev, now);
}

/* Wait until a watch has seen n DELETE events (leases expire on their own). */
static size_t deletes(const struct rec *w)
{
	size_t n = 0;
	for (size_t i = 0; i < w->n; i++)
		n += w->ev[i].type == STORE_EVENT_DELETE;
	return n;
}

static bool wait_deletes(struct rec *w, size_t n, int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000u;
	while (deletes(w) < n && now_mono_ns() < end)
		loop_run_once(C.loop, 10 * 1000000u);
	return deletes(w) >= n;
}

static void test_lease_expiry_deletes_its_keys_in_one_revision(void)
{
	struct res r;

	CHECK_INT(s_lease_grant(1, 0, &r), 0);
	int64_t id = r.id;
	/* etcd rounds a TTL up to its minimum (2 s here). */
	CHECK(id > 0 && r.ttl >= 1 && r.ttl <= 3);
	CHECK_INT(s_put("/ls/x/a", "a", id, &r), 0);
	res_free(&r);
	CHECK_INT(s_put("/ls/x/b", "b", id, &r), 0);
	res_free(&r);
	CHECK_INT(s_get("/ls/x/a", 0, &r), 0);
	CHECK(r.found && r.kv.lease == id);
	res_free(&r);

	struct rec *w = watch_prefix("/ls/x/", cur_rev(), false);
	if (!w)
		return;
	uint64_t t0 = now_mono_ns();
	CHECK(wait_deletes(w, 2, 8000));
	uint64_t took_ms = (now_mono_ns() - t0) / 1000000u;
	printf("# keys went %" PRIu64 " ms after the grant\n", took_ms);
	CHECK(took_ms >= 500);
	if (w->n == 4)
		CHECK_INT(w->ev[2].kv.mod_rev, w->ev[3].kv.mod_rev);
	rec_end(w);
	CHECK_INT(s_prefix("/ls/x/", 0, 0, &r), 0);
	CHECK_INT(r.count, 0);
	res_free(&r);
	/* An expired lease is gone. */
	CHECK_INT(s_lease_keepalive(id, &r), -ENOENT);
}

static void test_lease_revoke_deletes_its_keys_in_one_revision(void)
{
	struct res r;

	CHECK_INT(s_lease_grant(60, 0, &r), 0);
	int64_t id = r.id;
	put("/ls/r/keep", "k");
	for (int i = 0; i < 3; i++) {
		char key[32];
		snprintf(key, sizeof(key), "/ls/r/%d", i);
		CHECK_INT(s_put(key, "v", id, &r), 0);
		res_free(&r);
	}
	int64_t before = cur_rev();
	struct rec *w = watch_prefix("/ls/r/", before + 1, false);
	if (!w)
		return;
	CHECK_INT(s_lease_revoke(id, &r), 0);
	CHECK_INT(r.rev, before + 1);
	CHECK(wait_deletes(w, 3, CALL_TIMEOUT_MS));
	CHECK_INT(w->n, 3);
	for (size_t i = 0; i < w->n; i++)
		CHECK_INT(w->ev[i].kv.mod_rev, before + 1);
	rec_end(w);
	CHECK_INT(s_prefix("/ls/r/", 0, 0, &r), 0);
	CHECK(r.n == 1 && kv_is(&r.kvs[0], "/ls/r/keep", "k"));
	res_free(&r);
	CHECK_INT(s_lease_revoke(id, &r), -ENOENT);
}

static void test_lease_keepalive_extends_it(void)
{
	struct res r;

	CHECK_INT(s_lease_grant(2, 0, &r), 0);
	int64_t id = r.id, ttl = r.ttl;
	CHECK_INT(s_put("/ls/k/a", "a", id, &r), 0);
	res_free(&r);

	/* Twice the TTL, renewed every half second: still there. */
	uint64_t end = now_mono_ns() + (uint64_t)ttl * 2 * 1000000000u;
	while (now_mono_ns() < end) {
		CHECK_INT(s_lease_keepalive(id, &r), 0);
		CHECK_INT(r.id, id);
		CHECK_INT(r.ttl, ttl);
		run_for(500);
	}
	CHECK_INT(s_get("/ls/k/a", 0, &r), 0);
	CHECK(r.found);
	res_free(&r);

	/* Left alone, it expires. */
	struct rec *w = watch_prefix("/ls/k/", cur_rev(), false);
	if (!w)
		return;
	CHECK(wait_deletes(w, 1, 8000));
	rec_end(w);
}

static void test_unknown_leases_fail_with_enoent(void)
{
	struct res r;
	int64_t before = cur_rev();

	CHECK_INT(s_put("/ls/u/a", "a", 0x7eadbeef, &r), -ENOENT);
	CHECK_STREQ(store_strerror(-ENOENT), "etcdserver: requested lease not found");
	CHECK_INT(s_get("/ls/u/a", 0, &r), 0);
	CHECK(!r.found);
	CHECK_INT(s_lease_keepalive(0x7eadbeef, &r), -ENOENT);
	CHECK_INT(s_lease_revoke(0x7eadbeef, &r), -ENOENT);
	/* None of that wrote anything. (The store's revision itself may move:
	 * with etcd, a lease from an earlier test can expire meanwhile.) */
	struct rec *w = watch_prefix("/ls/u/", before + 1, false);
	if (w) {
		run_for(300);
		CHECK_INT(w->n, 0);
		rec_end(w);
	}

	/* A lease id of one's own choosing. */
	CHECK_INT(s_lease_grant(60, 0x5eed, &r), 0);
	CHECK_INT(r.id, 0x5eed);
	/* store.h names no error for this; etcd says "lease already exists". */
	CHECK(s_lease_grant(60, 0x5eed, &r) < 0);
	CHECK_INT(s_lease_revoke(0x5eed, &r), 0);
}

/* --- closing --- */

struct pending {
	int ran, canceled, ok, other;
};

static void count_result(struct pending *p, int err)
{
	p->ran++;
	if (err == -ECANCELED)
		p->canceled++;
	else if (err == 0)
		p->ok++;
	else
		p->other++;
}

static void on_pending_cas(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	count_result(ud, err);
}

static void on_pending_kv(void *ud, int err, int64_t rev, const struct store_kv *kv)
{
	count_result(ud, err);
}

static void on_pending_lease(void *ud, int err, int64_t id, int64_t ttl)
{
	count_result(ud, err);
}

static void test_close_fails_pending_work_with_ecanceled(void)
{
	struct store *s = NULL;
	struct pending writes = {0}, reads = {0}, leases = {0};
	struct store_config cfg = C.cfg;
	char dir[64] = "";

	/* A second store: its own directory when embedded. */
	if (!C.etcd) {
		snprintf(dir, sizeof(dir), "/tmp/kelp-store-close-XXXXXX");
		CHECK(mkdtemp(dir));
		cfg.data_dir = dir;
	}
	int r = store_open(C.loop, &cfg, &s);
	CHECK_INT(r, 0);
	if (r < 0)
		return;

	/* Swap it in so the helpers use it, then queue work without running
	 * the loop: nothing can have completed when store_close() runs. */
	struct store *main_store = C.store;
	C.store = s;
	struct rec *w = watch_prefix("/close/", 0, false);
	C.store = main_store;
	for (int i = 0; i < 20; i++) {
		char key[32];
		snprintf(key, sizeof(key), "/close/%d", i);
		CHECK_INT(store_put(s, key, strlen(key), "v", 1, 0, on_pending_cas, &writes), 0);
	}
	CHECK_INT(store_get(s, "/close/0", 8, 0, on_pending_kv, &reads), 0);
	CHECK_INT(store_lease_grant(s, 30, 0, on_pending_lease, &leases), 0);
	store_close(s);

	/* Every callback ran before store_close() returned. */
	CHECK_INT(writes.ran, 20);
	CHECK_INT(reads.ran, 1);
	CHECK_INT(leases.ran, 1);
	CHECK_INT(writes.other + reads.other + leases.other, 0);
	CHECK_INT(reads.canceled, 1);
	printf("# writes at close: %d cancelled, %d done\n", writes.canceled, writes.ok);
	if (w) {
		CHECK(w->closed);
		CHECK_INT(w->close_err, -ECANCELED);
	}
	/* And none runs again. */
	run_for(200);
	CHECK_INT(writes.ran + reads.ran + leases.ran, 22);
	if (w && w->closed) {
		CHECK(!w->nested && !w->late);
		rec_free(w);
	}
	if (dir[0])
		rm_tree(dir);
}
