/* The etcd backend when etcd fails: killed (SIGKILL) under a watch and
 * restarted on the same ports and data, frozen, gone for good, or listed
 * behind a dead endpoint. What a user of the store sees: watches resume
 * without losing or repeating an event (or report -ESTALE when the gap was
 * compacted), writes made during a short outage go through once etcd is
 * back, and when it does not come back calls fail with -ENOTCONN (never
 * reached), -ETIMEDOUT (sent, unanswered) or, for a write lost in flight,
 * -ENOTCONN. Each test starts its own etcd (etcd_harness.h). */
#include <signal.h>
#include <stdio.h>

#include "base/base.h"
#include "etcd_harness.h"
#include "http/http.h"
#include "loop/loop.h"
#include "pki/pki.h"
#include "store/store.h"
#include "tap.h"

#define WAIT_MS 15000

/* --- a loop and a store on it --- */

struct client {
	struct loop *l;
	struct store *s;
};

static int client_open_cfg(struct client *c, const char *const *eps, size_t n, unsigned timeout_ms,
			   int64_t retention_s, SSL_CTX *tls)
{
	struct store_config cfg = {
		.backend = "etcd",
		.endpoints = eps,
		.nendpoints = n,
		.tls = tls,
		.timeout_ms = timeout_ms,
		.auto_compact_retention_s = retention_s,
	};
	*c = (struct client){0};
	int r = loop_new(&(struct loop_config){.buf_count = 64}, &c->l);
	if (r == 0)
		r = store_open(c->l, &cfg, &c->s);
	if (r < 0) {
		loop_free(c->l);
		c->l = NULL;
	}
	return r;
}

static int client_open(struct client *c, const char *const *eps, size_t n, unsigned timeout_ms)
{
	return client_open_cfg(c, eps, n, timeout_ms, -1, NULL);
}

static void client_close(struct client *c)
{
	store_close(c->s);
	loop_free(c->l);
	*c = (struct client){0};
}

/* Run c's loop until *flag or ms pass. */
static bool run_until(struct client *c, const bool *flag, unsigned ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000u;
	while (!*flag && now_mono_ns() < end)
		loop_run_once(c->l, 10 * 1000000u);
	return *flag;
}

static void run_for(struct client *c, unsigned ms)
{
	bool never = false;
	run_until(c, &never, ms);
}

/* --- puts --- */

struct put_res {
	bool done;
	int err;
	int64_t rev;
};

static void put_cb(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct put_res *p = ud;
	p->done = true;
	p->err = err;
	p->rev = rev;
}

static int put_start(struct client *c, const char *key, const char *val, struct put_res *p)
{
	*p = (struct put_res){0};
	return store_put(c->s, key, strlen(key), val, strlen(val), 0, put_cb, p);
}

/* A put, waited for: its error (or -EINPROGRESS if it never ended). */
static int put_wait(struct client *c, const char *key, const char *val, int64_t *ret_rev)
{
	struct put_res p;
	int r = put_start(c, key, val, &p);
	if (r < 0)
		return r;
	if (!run_until(c, &p.done, WAIT_MS))
		return -EINPROGRESS;
	if (ret_rev)
		*ret_rev = p.rev;
	return p.err;
}

struct get_res {
	bool done;
	int err;
	int64_t n;
	int64_t rev;
	/* mod_rev of each key "<prefix><i>" seen, by i */
	int64_t mods[256];
};

static void range_cb(void *ud, int err, int64_t rev, const struct store_range_res *res)
{
	struct get_res *g = ud;
	g->done = true;
	g->err = err;
	g->rev = rev;
	for (size_t i = 0; err == 0 && i < res->n; i++) {
		const char *slash = memrchr(res->kvs[i].key, '/', res->kvs[i].key_len);
		uint64_t k;
		if (slash &&
		    parse_u64(slash + 1,
			      res->kvs[i].key_len - (size_t)(slash + 1 - res->kvs[i].key),
			      &k) == 0 &&
		    k < ARRAY_SIZE(g->mods))
			g->mods[k] = res->kvs[i].mod_rev;
	}
	g->n = err ? 0 : (int64_t)res->n;
}

static int range_prefix(struct client *c, const char *prefix, struct get_res *g)
{
	char end[64];
	size_t n = store_prefix_end(prefix, strlen(prefix), end);
	*g = (struct get_res){0};
	int r = store_range(
		c->s,
		&(struct store_range_req){
			.key = prefix, .key_len = strlen(prefix), .end = end, .end_len = n},
		range_cb, g);
	if (r < 0)
		return r;
	return run_until(c, &g->done, WAIT_MS) ? g->err : -EINPROGRESS;
}

/* --- a watch that records what it sees --- */

struct seen {
	struct store_watch *w;
	int64_t revs[512];
	int keys[512]; /* the number after the last '/' */
	size_t n;
	bool out_of_order;
	bool closed;
	int close_err;
	int64_t compact_rev;
};

static void seen_events(void *ud, const struct store_event *ev, size_t n)
{
	struct seen *s = ud;
	for (size_t i = 0; i < n; i++) {
		if (s->n && ev[i].kv.mod_rev <= s->revs[s->n - 1])
			s->out_of_order = true;
		if (s->n < ARRAY_SIZE(s->revs)) {
			const char *slash = memrchr(ev[i].kv.key, '/', ev[i].kv.key_len);
			uint64_t k = 0;
			if (slash)
				parse_u64(slash + 1,
					  ev[i].kv.key_len - (size_t)(slash + 1 - ev[i].kv.key),
					  &k);
			s->keys[s->n] = (int)k;
			s->revs[s->n++] = ev[i].kv.mod_rev;
		}
	}
}

static void seen_closed(void *ud, int err, int64_t compact_rev)
{
	struct seen *s = ud;
	s->closed = true;
	s->close_err = err;
	s->compact_rev = compact_rev;
}

static const struct store_watch_ops seen_ops = {
	.events = seen_events,
	.closed = seen_closed,
};

static int watch_prefix(struct client *c, const char *prefix, int64_t start_rev, struct seen *s)
{
	char end[64];
	size_t n = store_prefix_end(prefix, strlen(prefix), end);
	memset(s, 0, sizeof(*s));
	return store_watch(c->s,
			   &(struct store_watch_req){.key = prefix,
						     .key_len = strlen(prefix),
						     .end = end,
						     .end_len = n,
						     .start_rev = start_rev},
			   &seen_ops, s, &s->w);
}

static void watch_end(struct client *c, struct seen *s)
{
	if (!s->closed) {
		store_watch_cancel(s->w);
		run_until(c, &s->closed, WAIT_MS);
	}
}

/* Every key 0..nkeys-1 whose put was acknowledged is in etcd; the watch
 * saw exactly the keys etcd has, each once, at the revision etcd has. */
static void check_watch_matches_store(struct client *c, const char *prefix, const struct seen *s,
				      const bool *acked, int nkeys)
{
	struct get_res g;
	CHECK_INT(range_prefix(c, prefix, &g), 0);
	int lost = 0, extra = 0, dup = 0, wrong_rev = 0;
	int count[256] = {0};
	for (size_t i = 0; i < s->n; i++) {
		int k = s->keys[i];
		if (k < 0 || k >= nkeys || !g.mods[k]) {
			extra++;
			continue;
		}
		if (count[k]++)
			dup++;
		if (s->revs[i] != g.mods[k])
			wrong_rev++;
	}
	for (int k = 0; k < nkeys; k++) {
		if (acked[k] && !g.mods[k])
			lost++; /* acknowledged but not in etcd */
		if (g.mods[k] && !count[k])
			lost++; /* in etcd, never seen by the watch */
	}
	if (lost || extra || dup || wrong_rev)
		printf("# lost %d, extra %d, duplicated %d, wrong revision %d\n", lost, extra, dup,
		       wrong_rev);
	CHECK_INT(lost, 0);
	CHECK_INT(extra, 0);
	CHECK_INT(dup, 0);
	CHECK_INT(wrong_rev, 0);
	CHECK(!s->out_of_order);
}

static bool start_etcd(struct etcd_harness *h, unsigned progress_ms)
{
	*h = (struct etcd_harness){.progress_interval_ms = progress_ms};
	int r = etcd_harness_start(h);
	if (r < 0)
		printf("# etcd did not start: %s\n", strerror(-r));
	return r == 0;
}

/* --- tests --- */

static void test_watch_resumes_after_sigkill_without_loss_or_duplicates(void)
{
	struct etcd_harness h;
	struct client c;
	struct seen s;
	enum { N = 120, KILL_AT = 40 };
	struct put_res puts[N];
	bool acked[N] = {0};
	char key[32];

	if (!start_etcd(&h, 0))
		SKIP("no etcd");
	const char *ep = h.url;
	CHECK_INT(client_open(&c, &ep, 1, 10000), 0);
	CHECK_INT(watch_prefix(&c, "/f1/", 0, &s), 0);
	run_for(&c, 300);

	/* Puts keep going out, 16 per loop iteration; etcd dies once
	 * KILL_AT of them are in ... */
	int started = 0, killed = 0, done = 0;
	while ((started < N || !killed) && done < N) {
		for (int k = 0; k < 16 && started < N; k++, started++) {
			snprintf(key, sizeof(key), "/f1/%d", started);
			CHECK_INT(put_start(&c, key, "v", &puts[started]), 0);
		}
		loop_run_once(c.l, 2 * 1000000);
		done = 0;
		for (int j = 0; j < started; j++)
			done += puts[j].done && puts[j].err == 0;
		/* ... with some puts still unanswered (or when the last is out). */
		if (!killed && done >= KILL_AT && (started - done >= 8 || started == N)) {
			etcd_harness_kill(&h, SIGKILL);
			killed = 1;
			/* Restarted before the loop runs again: the client finds
			 * out only through its broken connection. */
			CHECK_INT(etcd_harness_restart(&h), 0);
		}
	}
	CHECK(killed);
	bool all = false;
	uint64_t end = now_mono_ns() + WAIT_MS * 1000000ull;
	while (!all && now_mono_ns() < end) {
		loop_run_once(c.l, 10 * 1000000u);
		all = true;
		for (int i = 0; i < N; i++)
			all &= puts[i].done;
	}
	CHECK(all);
	int ok = 0, notconn = 0, other = 0;
	for (int i = 0; i < N; i++) {
		acked[i] = puts[i].done && puts[i].err == 0;
		ok += acked[i];
		notconn += puts[i].done && puts[i].err == -ENOTCONN;
		other += puts[i].done && puts[i].err != 0 && puts[i].err != -ENOTCONN;
	}
	bool lost_flags[256] = {0};
	for (int i = 0; i < N; i++)
		lost_flags[i] = puts[i].done && puts[i].err == -ENOTCONN;
	struct get_res g;
	CHECK_INT(range_prefix(&c, "/f1/", &g), 0);
	int applied = 0;
	for (int i = 0; i < N; i++)
		applied += lost_flags[i] && g.mods[i];
	printf("# %d puts acknowledged, %d lost in flight (-ENOTCONN; %d of them applied), "
	       "%d other errors\n",
	       ok, notconn, applied, other);
	CHECK_INT(other, 0);
	CHECK(ok >= KILL_AT);
	/* Keep writing after the restart. */
	CHECK_INT(put_wait(&c, "/f1/200", "after", NULL), 0);
	run_for(&c, 500);
	CHECK(!s.closed);
	bool acked_all[256] = {0};
	memcpy(acked_all, acked, sizeof(acked));
	acked_all[200] = true;
	check_watch_matches_store(&c, "/f1/", &s, acked_all, 256);
	watch_end(&c, &s);
	CHECK_INT(s.close_err, -ECANCELED);
	client_close(&c);
	etcd_harness_stop(&h);
}

/* Writes made by someone else while this client's watch is cut off are
 * delivered once it is back: the watch resumes from its next revision. */
static void test_watch_sees_writes_made_while_it_was_cut_off(void)
{
	struct etcd_harness h;
	struct client c, other;
	struct seen s;
	bool acked[256] = {0};
	char key[32];

	if (!start_etcd(&h, 0))
		SKIP("no etcd");
	const char *ep = h.url;
	CHECK_INT(client_open(&c, &ep, 1, 10000), 0);
	CHECK_INT(watch_prefix(&c, "/f2/", 0, &s), 0);
	run_for(&c, 300);
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "/f2/%d", i);
		acked[i] = put_wait(&c, key, "before", NULL) == 0;
	}
	etcd_harness_kill(&h, SIGKILL);
	CHECK_INT(etcd_harness_restart(&h), 0);
	/* Another client writes before c's loop runs again. */
	CHECK_INT(client_open(&other, &ep, 1, 10000), 0);
	for (int i = 10; i < 30; i++) {
		snprintf(key, sizeof(key), "/f2/%d", i);
		acked[i] = put_wait(&other, key, "meanwhile", NULL) == 0;
		CHECK(acked[i]);
	}
	client_close(&other);
	/* c's loop notices the old connection is gone (as a running server
	 * would at once); a write sent on it before that fails, see README. */
	run_for(&c, 100);
	for (int i = 30; i < 40; i++) {
		snprintf(key, sizeof(key), "/f2/%d", i);
		acked[i] = put_wait(&c, key, "after", NULL) == 0;
		CHECK(acked[i]);
	}
	run_for(&c, 500);
	CHECK(!s.closed);
	CHECK_INT(s.n, 40);
	check_watch_matches_store(&c, "/f2/", &s, acked, 256);
	watch_end(&c, &s);
	client_close(&c);
	etcd_harness_stop(&h);
}

struct rev_res {
	bool done;
	int err;
};

static void rev_cb(void *ud, int err, int64_t rev)
{
	struct rev_res *r = ud;
	r->done = true;
	r->err = err;
}

/* The revision the watch would resume from was compacted while it was cut
 * off: it closes with -ESTALE and the compacted revision (410 Gone). */
static void test_watch_resume_past_a_compaction_fails_with_estale(void)
{
	struct etcd_harness h;
	struct client c, other;
	struct seen s;
	int64_t rev = 0;

	/* No periodic progress: the quiet watch's resume revision stays old. */
	if (!start_etcd(&h, 600000))
		SKIP("no etcd");
	const char *ep = h.url;
	CHECK_INT(client_open(&c, &ep, 1, 10000), 0);
	CHECK_INT(watch_prefix(&c, "/f3/", 0, &s), 0);
	run_for(&c, 300);
	CHECK_INT(put_wait(&c, "/f3/0", "seen", NULL), 0);
	run_for(&c, 200);
	CHECK_INT(s.n, 1);
	etcd_harness_kill(&h, SIGKILL);
	CHECK_INT(etcd_harness_restart(&h), 0);
	CHECK_INT(client_open(&other, &ep, 1, 10000), 0);
	CHECK_INT(put_wait(&other, "/f3/1", "missed", NULL), 0);
	CHECK_INT(put_wait(&other, "/elsewhere", "x", &rev), 0);
	struct rev_res cr = {0};
	CHECK_INT(store_compact(other.s, rev, rev_cb, &cr), 0);
	CHECK(run_until(&other, &cr.done, WAIT_MS));
	CHECK_INT(cr.err, 0);
	client_close(&other);
	CHECK(run_until(&c, &s.closed, WAIT_MS));
	CHECK_INT(s.close_err, -ESTALE);
	CHECK_INT(s.compact_rev, rev);
	CHECK_INT(s.n, 1);
	client_close(&c);
	etcd_harness_stop(&h);
}

/* A put made while etcd is down waits for it (within timeout_ms) and
 * succeeds once it is back. */
static void test_write_during_a_short_outage_succeeds_after_restart(void)
{
	struct etcd_harness h;
	struct client c;
	struct put_res p;
	struct get_res g;

	if (!start_etcd(&h, 0))
		SKIP("no etcd");
	const char *ep = h.url;
	CHECK_INT(client_open(&c, &ep, 1, 10000), 0);
	CHECK_INT(put_wait(&c, "/f4/0", "up", NULL), 0);
	etcd_harness_kill(&h, SIGKILL);
	run_for(&c, 100); /* the client notices the connection is gone */
	CHECK_INT(put_start(&c, "/f4/1", "down", &p), 0);
	run_for(&c, 700); /* the put finds no etcd, and waits */
	CHECK(!p.done);
	CHECK_INT(etcd_harness_restart(&h), 0);
	CHECK(run_until(&c, &p.done, WAIT_MS));
	CHECK_INT(p.err, 0);
	CHECK_INT(range_prefix(&c, "/f4/", &g), 0);
	CHECK_INT(g.n, 2);
	CHECK(g.mods[1] == p.rev);
	client_close(&c);
	etcd_harness_stop(&h);
}

/* etcd gone for good: calls fail with -ENOTCONN when timeout_ms passes. */
static void test_calls_fail_with_enotconn_when_etcd_stays_down(void)
{
	struct etcd_harness h;
	struct client c;
	struct get_res g;

	if (!start_etcd(&h, 0))
		SKIP("no etcd");
	const char *ep = h.url;
	CHECK_INT(client_open(&c, &ep, 1, 600), 0);
	CHECK_INT(put_wait(&c, "/f5/0", "up", NULL), 0);
	etcd_harness_stop(&h);
	run_for(&c, 100);
	uint64_t t0 = now_mono_ns();
	CHECK_INT(put_wait(&c, "/f5/1", "down", NULL), -ENOTCONN);
	uint64_t took_ms = (now_mono_ns() - t0) / 1000000u;
	printf("# put failed after %llu ms\n", (unsigned long long)took_ms);
	CHECK(took_ms >= 500 && took_ms < 3000);
	CHECK_INT(range_prefix(&c, "/f5/", &g), -ENOTCONN);
	client_close(&c);
}

/* A frozen etcd accepts the request and never answers: -ETIMEDOUT. */
static void test_calls_to_a_frozen_etcd_fail_with_etimedout(void)
{
	struct etcd_harness h;
	struct client c;

	if (!start_etcd(&h, 0))
		SKIP("no etcd");
	const char *ep = h.url;
	CHECK_INT(client_open(&c, &ep, 1, 500), 0);
	CHECK_INT(put_wait(&c, "/f6/0", "up", NULL), 0);
	CHECK_INT(etcd_harness_pause(&h, true), 0);
	CHECK_INT(put_wait(&c, "/f6/1", "frozen", NULL), -ETIMEDOUT);
	CHECK_INT(etcd_harness_pause(&h, false), 0);
	CHECK_INT(put_wait(&c, "/f6/2", "thawed", NULL), 0);
	client_close(&c);
	etcd_harness_stop(&h);
}

/* A write sent to etcd and then cut off by its death is not sent again
 * (it may have been applied): it fails with -ENOTCONN. */
static void test_write_lost_in_flight_fails_with_enotconn(void)
{
	struct etcd_harness h;
	struct client c;
	struct put_res p;

	if (!start_etcd(&h, 0))
		SKIP("no etcd");
	const char *ep = h.url;
	CHECK_INT(client_open(&c, &ep, 1, 10000), 0);
	CHECK_INT(put_wait(&c, "/f7/0", "up", NULL), 0);
	CHECK_INT(etcd_harness_pause(&h, true), 0);
	CHECK_INT(put_start(&c, "/f7/1", "in flight", &p), 0);
	run_for(&c, 200); /* sent, unanswered */
	CHECK(!p.done);
	etcd_harness_kill(&h, SIGKILL);
	CHECK(run_until(&c, &p.done, WAIT_MS));
	CHECK_INT(p.err, -ENOTCONN);
	CHECK_INT(etcd_harness_restart(&h), 0);
	CHECK_INT(put_wait(&c, "/f7/2", "after", NULL), 0);
	client_close(&c);
	etcd_harness_stop(&h);
}

/* A read in flight when etcd dies is sent again once it is back. */
static void test_read_lost_in_flight_is_retried(void)
{
	struct etcd_harness h;
	struct client c;
	struct get_res g;

	if (!start_etcd(&h, 0))
		SKIP("no etcd");
	const char *ep = h.url;
	CHECK_INT(client_open(&c, &ep, 1, 10000), 0);
	CHECK_INT(put_wait(&c, "/f8/0", "up", NULL), 0);
	CHECK_INT(etcd_harness_pause(&h, true), 0);
	char end[8];
	size_t n = store_prefix_end("/f8/", 4, end);
	g = (struct get_res){0};
	CHECK_INT(store_range(c.s,
			      &(struct store_range_req){
				      .key = "/f8/", .key_len = 4, .end = end, .end_len = n},
			      range_cb, &g),
		  0);
	run_for(&c, 200);
	CHECK(!g.done);
	etcd_harness_kill(&h, SIGKILL);
	run_for(&c, 300);
	CHECK_INT(etcd_harness_restart(&h), 0);
	CHECK(run_until(&c, &g.done, WAIT_MS));
	CHECK_INT(g.err, 0);
	CHECK_INT(g.n, 1);
	client_close(&c);
	etcd_harness_stop(&h);
}

/* A dead entry in the endpoint list is skipped, first or last. */
static void test_dead_endpoint_in_the_list_is_skipped(void)
{
	struct etcd_harness h;
	struct client c;
	struct seen s;
	unsigned dead_port = 0;
	char dead[64];

	if (!start_etcd(&h, 0))
		SKIP("no etcd");
	CHECK_INT(etcd_harness_free_port_(&dead_port), 0);
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%u", dead_port);
	const char *orders[2][2] = {{dead, h.url}, {h.url, dead}};
	for (int o = 0; o < 2; o++) {
		CHECK_INT(client_open(&c, orders[o], 2, 5000), 0);
		char key[32];
		snprintf(key, sizeof(key), "/f9/%d", o);
		CHECK_INT(watch_prefix(&c, "/f9/", 0, &s), 0);
		run_for(&c, 300);
		uint64_t t0 = now_mono_ns();
		CHECK_INT(put_wait(&c, key, "v", NULL), 0);
		printf("# order %d: put took %llu ms\n", o,
		       (unsigned long long)((now_mono_ns() - t0) / 1000000u));
		run_for(&c, 300);
		CHECK_INT(s.n, 1);
		CHECK(!s.closed);
		watch_end(&c, &s);
		client_close(&c);
	}
	etcd_harness_stop(&h);
}

/* Of two endpoints, the one in use dies: calls and the watch move on to
 * the other (two etcds, each its own cluster, stand in for members). */
static void test_failover_moves_calls_to_the_next_endpoint(void)
{
	struct etcd_harness a, b;
	struct client c;

	if (!start_etcd(&a, 0))
		SKIP("no etcd");
	if (!start_etcd(&b, 0)) {
		etcd_harness_stop(&a);
		SKIP("no second etcd");
	}
	const char *eps[2] = {a.url, b.url};
	CHECK_INT(client_open(&c, eps, 2, 5000), 0);
	int64_t rev_a = 0, rev_b = 0;
	CHECK_INT(put_wait(&c, "/f10/a", "1", &rev_a), 0);
	CHECK_INT(put_wait(&c, "/f10/a2", "1", &rev_a), 0);
	etcd_harness_stop(&a);
	run_for(&c, 100);
	CHECK_INT(put_wait(&c, "/f10/b", "1", &rev_b), 0);
	struct get_res g;
	CHECK_INT(range_prefix(&c, "/f10/", &g), 0);
	/* Only b's key: the call went to the second etcd. */
	CHECK_INT(g.n, 1);
	client_close(&c);
	etcd_harness_stop(&b);
}

struct status_res {
	bool done;
	int err;
	struct store_status st;
};

static void status_cb(void *ud, int err, const struct store_status *st)
{
	struct status_res *r = ud;
	r->done = true;
	r->err = err;
	if (st)
		r->st = *st;
}

static int status_wait(struct client *c, struct store_status *ret)
{
	struct status_res r = {0};
	int e = store_status(c->s, status_cb, &r);
	if (e < 0)
		return e;
	if (!run_until(c, &r.done, WAIT_MS))
		return -EINPROGRESS;
	*ret = r.st;
	return r.err;
}

/* etcd runs without its own compaction: the backend compacts each
 * retention period to the revision it saw a period earlier, and any
 * client's store_status() reports where history now starts. */
static void test_periodic_compaction_keeps_one_period_of_history(void)
{
	struct etcd_harness h;
	struct client c, fresh;
	struct store_status st;
	struct get_res g;
	int64_t first = 0, last = 0;

	if (!start_etcd(&h, 0))
		SKIP("no etcd");
	const char *ep = h.url;
	CHECK_INT(client_open_cfg(&c, &ep, 1, 5000, 1, NULL), 0);
	CHECK_INT(put_wait(&c, "/f11/0", "old", &first), 0);
	run_for(&c, 2600); /* two periods: the second compacts */
	CHECK_INT(put_wait(&c, "/f11/1", "new", &last), 0);
	CHECK_INT(status_wait(&c, &st), 0);
	printf("# compacted to %lld of %lld\n", (long long)st.compact_rev, (long long)st.rev);
	CHECK(st.compact_rev > first);
	CHECK(st.compact_rev < last);
	/* A reader at the first write's revision is too late now. */
	char end[8];
	size_t n = store_prefix_end("/f11/", 5, end);
	g = (struct get_res){0};
	CHECK_INT(store_range(c.s,
			      &(struct store_range_req){.key = "/f11/",
							.key_len = 5,
							.end = end,
							.end_len = n,
							.rev = first},
			      range_cb, &g),
		  0);
	CHECK(run_until(&c, &g.done, WAIT_MS));
	CHECK_INT(g.err, -ESTALE);
	/* Both keys are still there. */
	CHECK_INT(range_prefix(&c, "/f11/", &g), 0);
	CHECK_INT(g.n, 2);
	/* A client that compacted nothing finds the same start of history. */
	CHECK_INT(client_open(&fresh, &ep, 1, 5000), 0);
	struct store_status st2;
	CHECK_INT(status_wait(&fresh, &st2), 0);
	CHECK_INT(st2.compact_rev, st.compact_rev);
	client_close(&fresh);
	client_close(&c);
	etcd_harness_stop(&h);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

/* An https:// endpoint: HTTP/2 chosen by ALPN over TLS, the server
 * certificate checked against the CA given in the SSL_CTX. */
static void test_https_endpoint_speaks_grpc_over_tls(void)
{
	char dir[] = "/tmp/kelp-etcd-tls-XXXXXX", crt[64], key[64];
	struct pki_cert *ca = NULL, *srv = NULL;
	char *ca_pem = NULL;
	SSL_CTX *tls = NULL;
	struct etcd_harness h = {0};
	struct client c;
	struct seen s;
	struct get_res g;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(crt, sizeof(crt), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	CHECK_INT(pki_ca_load_or_create(dir, &ca, NULL), 0);
	CHECK_INT(
		pki_issue_server(ca, "etcd", NULL, 0, (const char *const[]){"127.0.0.1"}, 1, &srv),
		0);
	CHECK_INT(pki_cert_write(srv, crt, key), 0);
	CHECK_INT(pki_cert_pem(ca, &ca_pem, NULL), 0);
	CHECK_INT(http_tls_client_ctx(ca_pem, NULL, NULL, true, &tls), 0);
	h.tls_cert_file = crt;
	h.tls_key_file = key;
	if (etcd_harness_start(&h) < 0) {
		tap_.skip = "no etcd";
		goto out;
	}
	const char *ep = h.tls_url;
	CHECK_INT(client_open_cfg(&c, &ep, 1, 5000, -1, tls), 0);
	CHECK_INT(watch_prefix(&c, "/f12/", 0, &s), 0);
	run_for(&c, 300);
	CHECK_INT(put_wait(&c, "/f12/1", "secret", NULL), 0);
	CHECK_INT(range_prefix(&c, "/f12/", &g), 0);
	CHECK_INT(g.n, 1);
	run_for(&c, 200);
	CHECK_INT(s.n, 1);
	watch_end(&c, &s);
	client_close(&c);

	/* Without the CA the server's certificate is refused: -ENOTCONN. */
	SSL_CTX *untrusting = NULL;
	CHECK_INT(http_tls_client_ctx(NULL, NULL, NULL, true, &untrusting), 0);
	CHECK_INT(client_open_cfg(&c, &ep, 1, 500, -1, untrusting), 0);
	CHECK_INT(put_wait(&c, "/f12/2", "x", NULL), -ENOTCONN);
	client_close(&c);
	SSL_CTX_free(untrusting);
out:
	etcd_harness_stop(&h);
	SSL_CTX_free(tls);
	free(ca_pem);
	pki_cert_free(srv);
	pki_cert_free(ca);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	RUN(test_watch_resumes_after_sigkill_without_loss_or_duplicates);
	RUN(test_watch_sees_writes_made_while_it_was_cut_off);
	RUN(test_watch_resume_past_a_compaction_fails_with_estale);
	RUN(test_write_during_a_short_outage_succeeds_after_restart);
	RUN(test_calls_fail_with_enotconn_when_etcd_stays_down);
	RUN(test_calls_to_a_frozen_etcd_fail_with_etimedout);
	RUN(test_write_lost_in_flight_fails_with_enotconn);
	RUN(test_read_lost_in_flight_is_retried);
	RUN(test_dead_endpoint_in_the_list_is_skipped);
	RUN(test_failover_moves_calls_to_the_next_endpoint);
	RUN(test_periodic_compaction_keeps_one_period_of_history);
	RUN(test_https_endpoint_speaks_grpc_over_tls);
	return tap_done();
}
