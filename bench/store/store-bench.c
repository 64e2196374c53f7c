/* bench/store: one store workload, run against whichever backend the
 * arguments name, printing one JSON object of figures.
 *
 *   store-bench embedded DIR [fdatasync|none]
 *   store-bench etcd http://127.0.0.1:2379[,http://...]
 *
 * Phases: sequential 1 KiB puts; 64 writers keeping one put each in
 * flight; a range over 10,000 keys; 1,000 watchers on one prefix while
 * puts go on, timing each event from the write's acknowledgement to its
 * delivery. The same client code serves both backends: the etcd one is
 * kelp's etcd backend. */
#include <math.h>
#include <stdio.h>

#include "base/base.h"
#include "common/samples.h"
#include "log/log.h"
#include "loop/loop.h"
#include "store/store.h"

#define VALUE_BYTES 1024

struct bench {
	struct loop *l;
	struct store *s;
	char value[VALUE_BYTES];
	int outstanding;
	int errors;
	struct samples lat;
};

static void run_until(struct bench *b, const int *counter, int target, double max_s)
{
	uint64_t end = now_mono_ns() + (uint64_t)(max_s * 1e9);
	while (*counter != target && now_mono_ns() < end)
		loop_run_once(b->l, 10 * 1000000u);
}

/* --- puts --- */

struct put {
	struct bench *b;
	uint64_t t0;
	int *done;
};

static void put_done(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct put *p = ud;
	struct bench *b = p->b;
	if (err)
		b->errors++;
	samples_add(&b->lat, (double)(now_mono_ns() - p->t0) / 1e6);
	b->outstanding--;
	(*p->done)++;
	free(p);
}

static void put_one(struct bench *b, const char *prefix, long i, int *done)
{
	char key[96];
	int n = snprintf(key, sizeof(key), "%s%08ld", prefix, i);
	struct put *p = xnew(struct put, 1);
	p->b = b;
	p->t0 = now_mono_ns();
	p->done = done;
	b->outstanding++;
	if (store_put(b->s, key, (size_t)n, b->value, VALUE_BYTES, 0, put_done, p) < 0) {
		b->errors++;
		b->outstanding--;
		(*done)++;
		free(p);
	}
}

/* Keep `clients` puts in flight until `total` have completed. */
static void run_puts(struct bench *b, const char *prefix, int clients, int total, double *ret_rate,
		 double *ret_p50, double *ret_p99)
{
	int done = 0, issued = 0;
	uint64_t t0 = now_mono_ns();

	samples_reset(&b->lat);
	while (done < total) {
		while (b->outstanding < clients && issued < total)
			put_one(b, prefix, issued++, &done);
		loop_run_once(b->l, 10 * 1000000u);
		if (now_mono_ns() - t0 > 120ull * 1000000000u)
			break;
	}
	double secs = (double)(now_mono_ns() - t0) / 1e9;
	*ret_rate = done / secs;
	*ret_p50 = samples_pct(&b->lat, 0.50);
	*ret_p99 = samples_pct(&b->lat, 0.99);
}

/* --- range --- */

struct range_wait {
	int done;
	int64_t count;
};

static void range_done(void *ud, int err, int64_t rev, const struct store_range_res *res)
{
	struct range_wait *w = ud;
	w->count = err ? -1 : (int64_t)res->n;
	w->done = 1;
}

static double range_10k(struct bench *b)
{
	const char prefix[] = "/bench/range/";
	char end[sizeof(prefix)];
	double best = INFINITY;

	size_t end_len = store_prefix_end(prefix, sizeof(prefix) - 1, end);
	for (int i = 0; i < 5; i++) {
		struct range_wait w = {0};
		uint64_t t0 = now_mono_ns();
		store_range(b->s,
			    &(struct store_range_req){.key = prefix,
						      .key_len = sizeof(prefix) - 1,
						      .end = end,
						      .end_len = end_len},
			    range_done, &w);
		run_until(b, &w.done, 1, 30);
		double ms = (double)(now_mono_ns() - t0) / 1e6;
		if (w.count != 10000)
			b->errors++;
		best = MIN(best, ms);
	}
	return best;
}

/* --- watch latency --- */

#define WATCHERS 1000
#define WATCH_WRITES 200

struct watch_bench {
	struct bench *b;
	uint64_t ack_ns[WATCH_WRITES]; /* 0 until acknowledged */
	uint64_t *pending;             /* delivery times before the ack, per write and watcher */
	int delivered;
	int closed;
};

struct watcher {
	struct watch_bench *wb;
	int id;
	struct store_watch *w;
};

static void on_events(void *ud, const struct store_event *ev, size_t n)
{
	struct watcher *wt = ud;
	struct watch_bench *wb = wt->wb;
	uint64_t now = now_mono_ns();

	for (size_t i = 0; i < n; i++) {
		/* key: /bench/watch/NNNNNNNN */
		long idx = strtol(ev[i].kv.key + ev[i].kv.key_len - 8, NULL, 10);
		if (idx < 0 || idx >= WATCH_WRITES)
			continue;
		if (wb->ack_ns[idx])
			samples_add(&wb->b->lat,
				    now > wb->ack_ns[idx] ? (double)(now - wb->ack_ns[idx]) / 1e6 : 0);
		else
			wb->pending[(size_t)idx * WATCHERS + (size_t)wt->id] = now;
		wb->delivered++;
	}
}

static void on_closed(void *ud, int err, int64_t compact_rev)
{
	((struct watcher *)ud)->wb->closed++;
}

static const struct store_watch_ops watch_ops = {.events = on_events, .closed = on_closed};

struct wput {
	struct watch_bench *wb;
	int idx;
	int *done;
};

static void wput_done(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct wput *p = ud;
	struct watch_bench *wb = p->wb;
	uint64_t now = now_mono_ns();

	wb->ack_ns[p->idx] = now;
	/* Events that beat the acknowledgement count as zero latency. */
	for (int w = 0; w < WATCHERS; w++)
		if (wb->pending[(size_t)p->idx * WATCHERS + (size_t)w])
			samples_add(&wb->b->lat, 0);
	if (err)
		wb->b->errors++;
	(*p->done)++;
	free(p);
}

static double watch_latency(struct bench *b, double *ret_p50)
{
	const char prefix[] = "/bench/watch/";
	char end[sizeof(prefix)];
	size_t end_len = store_prefix_end(prefix, sizeof(prefix) - 1, end);
	struct watch_bench *wb = xnew(struct watch_bench, 1);
	struct watcher *ws = xnew(struct watcher, WATCHERS);
	int done = 0;

	wb->b = b;
	wb->pending = xnew(uint64_t, (size_t)WATCHERS * WATCH_WRITES);
	samples_reset(&b->lat);
	for (int i = 0; i < WATCHERS; i++) {
		ws[i] = (struct watcher){.wb = wb, .id = i};
		if (store_watch(b->s,
				&(struct store_watch_req){.key = prefix,
							  .key_len = sizeof(prefix) - 1,
							  .end = end,
							  .end_len = end_len},
				&watch_ops, &ws[i], &ws[i].w) < 0)
			b->errors++;
	}
	/* Let every watch get established. */
	uint64_t settle = now_mono_ns() + 2000000000u;
	while (now_mono_ns() < settle)
		loop_run_once(b->l, 10 * 1000000u);
	/* One write every 5 ms, like a busy cluster's event rate. */
	for (int i = 0; i < WATCH_WRITES; i++) {
		char key[64];
		int n = snprintf(key, sizeof(key), "%s%08d", prefix, i);
		struct wput *p = xnew(struct wput, 1);
		*p = (struct wput){.wb = wb, .idx = i, .done = &done};
		if (store_put(b->s, key, (size_t)n, b->value, 256, 0, wput_done, p) < 0) {
			free(p);
			done++;
		}
		uint64_t next = now_mono_ns() + 5000000u;
		while (now_mono_ns() < next)
			loop_run_once(b->l, next - now_mono_ns());
	}
	run_until(b, &done, WATCH_WRITES, 30);
	uint64_t end_t = now_mono_ns() + 10000000000ull;
	while (wb->delivered < WATCHERS * WATCH_WRITES && now_mono_ns() < end_t)
		loop_run_once(b->l, 10 * 1000000u);
	if (wb->delivered != WATCHERS * WATCH_WRITES) {
		fprintf(stderr, "store-bench: %d of %d events delivered\n", wb->delivered,
			WATCHERS * WATCH_WRITES);
		b->errors++;
	}
	for (int i = 0; i < WATCHERS; i++)
		if (ws[i].w)
			store_watch_cancel(ws[i].w);
	run_until(b, &wb->closed, WATCHERS, 10);
	*ret_p50 = samples_pct(&b->lat, 0.50);
	double p99 = samples_pct(&b->lat, 0.99);
	free(wb->pending);
	free(wb);
	free(ws);
	return p99;
}

static int usage(void)
{
	fprintf(stderr, "usage: store-bench embedded DIR [fdatasync|none]\n"
			"       store-bench etcd URL[,URL...]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct logger lg = log_default("store-bench");
	struct bench b = {0};
	struct store_config cfg = {.log = &lg, .auto_compact_retention_s = -1};
	const char *eps[8];
	size_t neps = 0;
	_cleanup_free_ char *list = NULL;

	lg.level = LOG_WARN;
	if (argc < 3)
		return usage();
	if (streq(argv[1], "embedded")) {
		cfg.backend = "embedded";
		cfg.data_dir = argv[2];
		cfg.sync = argc > 3 && streq(argv[3], "none") ? STORE_SYNC_NONE : STORE_SYNC_FDATASYNC;
	} else if (streq(argv[1], "etcd")) {
		cfg.backend = "etcd";
		list = xstrdup(argv[2]);
		for (char *t = strtok(list, ","); t && neps < ARRAY_SIZE(eps); t = strtok(NULL, ","))
			eps[neps++] = t;
		cfg.endpoints = eps;
		cfg.nendpoints = neps;
	} else {
		return usage();
	}
	memset(b.value, 'v', sizeof(b.value));
	if (loop_new(NULL, &b.l) < 0 || store_open(b.l, &cfg, &b.s) < 0) {
		fprintf(stderr, "store-bench: cannot open the %s store\n", argv[1]);
		return 1;
	}

	double seq_rate, seq_p50, seq_p99, par_rate, par_p50, par_p99, fill_rate, p50, p99;
	run_puts(&b, "/bench/seq/", 1, 2000, &seq_rate, &seq_p50, &seq_p99);
	run_puts(&b, "/bench/par/", 64, 20000, &par_rate, &par_p50, &par_p99);
	run_puts(&b, "/bench/range/", 64, 10000, &fill_rate, &p50, &p99);
	double range_ms = range_10k(&b);
	double watch_p50, watch_p99 = watch_latency(&b, &watch_p50);

	printf("{\"backend\":\"%s\",\"sync\":\"%s\",\"value_bytes\":%d,"
	       "\"seq_puts_per_s\":%.0f,\"seq_put_p99_ms\":%.2f,"
	       "\"clients\":64,\"puts_per_s\":%.0f,\"put_p50_ms\":%.2f,\"put_p99_ms\":%.2f,"
	       "\"range_10k_ms\":%.2f,\"watchers\":%d,\"watch_p50_ms\":%.2f,\"watch_p99_ms\":%.2f,"
	       "\"errors\":%d}\n",
	       argv[1],
	       streq(argv[1], "etcd") ? "etcd-default" : cfg.sync == STORE_SYNC_NONE ? "none" : "fdatasync",
	       VALUE_BYTES, seq_rate, seq_p99, par_rate, par_p50, par_p99, range_ms, WATCHERS,
	       watch_p50, watch_p99, b.errors);
	store_close(b.s);
	loop_free(b.l);
	samples_free(&b.lat);
	return b.errors ? 1 : 0;
}
