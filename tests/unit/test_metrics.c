/* lib/metrics: values, labels, escaping, histograms, threads, and what promtool makes of it. */
#include "metrics/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>

#include "tap.h"

static char *expose(struct metrics_registry *r)
{
	struct buf b = {0};

	metrics_expose(r, &b);
	return buf_steal(&b);
}

static void test_counter_and_gauge_values_are_exposed(void)
{
	_cleanup_(metrics_registry_freep) struct metrics_registry *r = metrics_registry_new();
	struct metric_family *c, *g;

	CHECK_INT(metrics_counter_new(r, "jobs_done_total", "Jobs finished.", NULL, 0, &c), 0);
	CHECK_INT(metrics_gauge_new(r, "jobs_queued", "Jobs waiting.", NULL, 0, &g), 0);
	_cleanup_free_ char *zero = expose(r);
	CHECK_STREQ(zero, "# HELP jobs_done_total Jobs finished.\n"
			  "# TYPE jobs_done_total counter\n"
			  "jobs_done_total 0\n"
			  "# HELP jobs_queued Jobs waiting.\n"
			  "# TYPE jobs_queued gauge\n"
			  "jobs_queued 0\n");

	metric_inc(metric_solo(c));
	metric_add(metric_solo(c), 2.5);
	metric_add(metric_solo(c), -7); /* counters only go up */
	metric_set(metric_solo(c), 100); /* not a gauge: ignored */
	metric_set(metric_solo(g), 10);
	metric_dec(metric_solo(g));
	metric_sub(metric_solo(g), 0.25);
	metric_add(metric_solo(g), 1000000);
	metric_inc(NULL);
	CHECK(metric_value(metric_solo(c)) == 3.5);
	_cleanup_free_ char *text = expose(r);
	CHECK_STREQ(text, "# HELP jobs_done_total Jobs finished.\n"
			  "# TYPE jobs_done_total counter\n"
			  "jobs_done_total 3.5\n"
			  "# HELP jobs_queued Jobs waiting.\n"
			  "# TYPE jobs_queued gauge\n"
			  "jobs_queued 1000008.75\n");
}

static void test_labelled_children_are_reused_and_sorted(void)
{
	_cleanup_(metrics_registry_freep) struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f;

	CHECK_INT(metrics_counter_new(r, "http_requests_total", "Requests.",
				      (const char *const[]){"verb", "code"}, 2, &f), 0);
	_cleanup_free_ char *none = expose(r);
	CHECK_STREQ(none, "");

	struct metric *put = metric_with(f, "PUT", "201");
	struct metric *get = metric_with(f, "GET", "200");
	CHECK(put && get && put != get);
	CHECK(metric_with(f, "GET", "200") == get);
	CHECK(metric_with(f, "GET") == NULL);
	CHECK(metric_with(f, "GET", "200", "x") == NULL);
	CHECK(metric_solo(f) == NULL);
	metric_add(put, 2);
	metric_inc(get);
	metric_inc(metric_with(f, "GET", "404"));
	/* Enough children to grow the lookup index several times. */
	for (int i = 0; i < 300; i++) {
		char code[16];
		snprintf(code, sizeof(code), "%d", 600 + i);
		metric_inc(metric_with(f, "LIST", code));
	}
	for (int i = 0; i < 300; i++) {
		char code[16];
		snprintf(code, sizeof(code), "%d", 600 + i);
		CHECK(metric_value(metric_with(f, "LIST", code)) == 1);
	}
	_cleanup_free_ char *text = expose(r);
	CHECK(str_has_prefix(text, "# HELP http_requests_total Requests.\n"
				   "# TYPE http_requests_total counter\n"
				   "http_requests_total{verb=\"GET\",code=\"200\"} 1\n"
				   "http_requests_total{verb=\"GET\",code=\"404\"} 1\n"
				   "http_requests_total{verb=\"LIST\",code=\"600\"} 1\n"));
	CHECK(str_has_suffix(text, "http_requests_total{verb=\"LIST\",code=\"899\"} 1\n"
				   "http_requests_total{verb=\"PUT\",code=\"201\"} 2\n"));
}

static void test_help_and_label_values_are_escaped(void)
{
	_cleanup_(metrics_registry_freep) struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f;

	CHECK_INT(metrics_gauge_new(r, "odd_values", "A \"help\" with \\ and\nnewline.",
				    (const char *const[]){"path"}, 1, &f), 0);
	metric_set(metric_with(f, "C:\\dir \"x\"\nnext"), 1);
	metric_set(metric_with(f, ""), 2);
	metric_set(metric_with(f, "naïve ✓"), 3);
	_cleanup_free_ char *text = expose(r);
	CHECK_STREQ(text, "# HELP odd_values A \"help\" with \\\\ and\\nnewline.\n"
			  "# TYPE odd_values gauge\n"
			  "odd_values{path=\"\"} 2\n"
			  "odd_values{path=\"C:\\\\dir \\\"x\\\"\\nnext\"} 1\n"
			  "odd_values{path=\"naïve ✓\"} 3\n");
}

static void test_bad_names_are_rejected(void)
{
	_cleanup_(metrics_registry_freep) struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f = NULL;

	CHECK_INT(metrics_counter_new(r, "", "h", NULL, 0, &f), -EINVAL);
	CHECK_INT(metrics_counter_new(r, "1abc", "h", NULL, 0, &f), -EINVAL);
	CHECK_INT(metrics_counter_new(r, "a-b", "h", NULL, 0, &f), -EINVAL);
	CHECK_INT(metrics_counter_new(r, "a b", "h", NULL, 0, &f), -EINVAL);
	CHECK_INT(metrics_counter_new(NULL, "ok", "h", NULL, 0, &f), -EINVAL);
	CHECK_INT(metrics_gauge_new(r, "ok", "h", (const char *const[]){"a:b"}, 1, &f), -EINVAL);
	CHECK_INT(metrics_gauge_new(r, "ok", "h", (const char *const[]){"__x"}, 1, &f), -EINVAL);
	CHECK_INT(metrics_gauge_new(r, "ok", "h", (const char *const[]){"9x"}, 1, &f), -EINVAL);
	CHECK_INT(metrics_gauge_new(r, "ok", "h", (const char *const[]){"a", "a"}, 2, &f), -EINVAL);
	CHECK_INT(metrics_histogram_new(r, "ok", "h", (const char *const[]){"__x"}, 1, NULL, 0, &f),
		  -EINVAL);
	CHECK_INT(metrics_histogram_new(r, "ok", "h", NULL, 0, (const double[]){1, 1}, 2, &f),
		  -EINVAL);
	CHECK_INT(metrics_histogram_new(r, "ok", "h", NULL, 0, (const double[]){2, 1}, 2, &f),
		  -EINVAL);
	CHECK_INT(metrics_histogram_new(r, "ok", "h", NULL, 0, (const double[]){NAN}, 1, &f),
		  -EINVAL);
	CHECK(f == NULL);

	CHECK_INT(metrics_gauge_new(r, "ns:sub_ok", "h", (const char *const[]){"_x", "A9"}, 2, &f),
		  0);
	CHECK(f != NULL);
	CHECK_INT(metrics_counter_new(r, "ns:sub_ok", "h", NULL, 0, NULL), -EEXIST);
	CHECK_INT(metrics_histogram_new(r, "latency_seconds", "h", NULL, 0, NULL, 0, NULL), 0);
	CHECK_INT(metrics_counter_new(r, "latency_seconds_count", "h", NULL, 0, NULL), -EEXIST);
	CHECK_INT(metrics_gauge_new(r, "size_bytes_sum", "h", NULL, 0, NULL), 0);
	CHECK_INT(metrics_histogram_new(r, "size_bytes", "h", NULL, 0, NULL, 0, NULL), -EEXIST);
	CHECK_INT(metrics_gauge_func_new(r, "ns:sub_ok", "h", NULL, NULL), -EINVAL);
}

static void test_histogram_buckets_are_cumulative(void)
{
	_cleanup_(metrics_registry_freep) struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f;

	CHECK_INT(metrics_histogram_new(r, "req_duration_seconds", "Latency.",
					(const char *const[]){"verb"}, 1,
					(const double[]){0.1, 0.5, 1, INFINITY}, 4, &f), 0);
	struct metric *m = metric_with(f, "GET");
	metric_observe(m, 0.05);
	metric_observe(m, 0.1); /* le is inclusive */
	metric_observe(m, 0.3);
	metric_observe(m, 0.75);
	metric_observe(m, 7);
	metric_inc(m); /* not a counter: ignored */
	metric_observe(metric_with(f, "PUT"), 1);
	CHECK(metric_value(m) == 5);
	CHECK(fabs(metric_histogram_sum(m) - 8.2) < 1e-9);
	_cleanup_free_ char *text = expose(r);
	CHECK_STREQ(text, "# HELP req_duration_seconds Latency.\n"
			  "# TYPE req_duration_seconds histogram\n"
			  "req_duration_seconds_bucket{verb=\"GET\",le=\"0.1\"} 2\n"
			  "req_duration_seconds_bucket{verb=\"GET\",le=\"0.5\"} 3\n"
			  "req_duration_seconds_bucket{verb=\"GET\",le=\"1\"} 4\n"
			  "req_duration_seconds_bucket{verb=\"GET\",le=\"+Inf\"} 5\n"
			  "req_duration_seconds_sum{verb=\"GET\"} 8.2\n"
			  "req_duration_seconds_count{verb=\"GET\"} 5\n"
			  "req_duration_seconds_bucket{verb=\"PUT\",le=\"0.1\"} 0\n"
			  "req_duration_seconds_bucket{verb=\"PUT\",le=\"0.5\"} 0\n"
			  "req_duration_seconds_bucket{verb=\"PUT\",le=\"1\"} 1\n"
			  "req_duration_seconds_bucket{verb=\"PUT\",le=\"+Inf\"} 1\n"
			  "req_duration_seconds_sum{verb=\"PUT\"} 1\n"
			  "req_duration_seconds_count{verb=\"PUT\"} 1\n");
}

static void test_histogram_defaults_and_nan_go_to_inf(void)
{
	_cleanup_(metrics_registry_freep) struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f;

	CHECK_INT(metrics_histogram_new(r, "wait_seconds", "Wait.", NULL, 0, NULL, 0, &f), 0);
	metric_observe(metric_solo(f), NAN);
	metric_observe(metric_solo(f), 0.005);
	_cleanup_free_ char *text = expose(r);
	CHECK(strstr(text, "wait_seconds_bucket{le=\"0.005\"} 1\n"));
	CHECK(strstr(text, "wait_seconds_bucket{le=\"10\"} 1\nwait_seconds_bucket{le=\"+Inf\"} 2\n"
			   "wait_seconds_sum NaN\nwait_seconds_count 2\n"));
}

static void test_bucket_helpers(void)
{
	double b[4] = {0};

	CHECK_INT(metrics_buckets_linear(1, 0.5, 4, b), 0);
	CHECK(b[0] == 1 && b[1] == 1.5 && b[2] == 2 && b[3] == 2.5);
	CHECK_INT(metrics_buckets_exponential(0.001, 10, 4, b), 0);
	CHECK(b[0] == 0.001 && fabs(b[3] - 1) < 1e-12);
	CHECK_INT(metrics_buckets_linear(1, 0, 4, b), -EINVAL);
	CHECK_INT(metrics_buckets_linear(1, 1, 0, b), -EINVAL);
	CHECK_INT(metrics_buckets_exponential(0, 2, 4, b), -EINVAL);
	CHECK_INT(metrics_buckets_exponential(1, 1, 4, b), -EINVAL);
	CHECK(b[0] == 0.001); /* untouched on error */
}

static void check_format(double v, const char *want)
{
	char s[40];

	metrics_format_double(s, sizeof(s), v);
	CHECK_STREQ(s, want);
}

static void test_float_formatting_reads_back_exactly(void)
{
	check_format(0, "0");
	check_format(-0.0, "0");
	check_format(42, "42");
	check_format(-3, "-3");
	check_format(1e6, "1000000");
	check_format(1e15, "1000000000000000");
	check_format(0.1, "0.1");
	check_format(2.5e-7, "2.5e-07");
	check_format(1.0 / 3, "0.3333333333333333");
	check_format(1e300, "1e+300");
	check_format(INFINITY, "+Inf");
	check_format(-INFINITY, "-Inf");
	check_format(NAN, "NaN");
	check_format(18446744073709551616.0, "1.8446744073709552e+19");
	/* Shortest form that parses back to the same double. */
	for (double v = 0.001; v < 1e9; v *= 1.37) {
		char s[40];
		metrics_format_double(s, sizeof(s), v);
		CHECK(strtod(s, NULL) == v);
	}
}

struct worker_arg {
	struct metric_family *counter, *gauge, *hist;
	int id;
};

enum { THREADS = 8, ROUNDS = 50000 };

static void *worker(void *p)
{
	struct worker_arg *a = p;
	struct metric *c = metric_solo(a->counter);
	char id[8];

	snprintf(id, sizeof(id), "%d", a->id % 3);
	for (int i = 0; i < ROUNDS; i++) {
		metric_inc(c);
		metric_add(metric_solo(a->gauge), 0.5);
		metric_observe(metric_with(a->hist, id), (double)(i % 4));
	}
	return NULL;
}

static void test_concurrent_updates_give_exact_totals(void)
{
	_cleanup_(metrics_registry_freep) struct metrics_registry *r = metrics_registry_new();
	struct worker_arg args[THREADS];
	pthread_t t[THREADS];
	struct metric_family *c, *g, *h;

	CHECK_INT(metrics_counter_new(r, "ops_total", "Ops.", NULL, 0, &c), 0);
	CHECK_INT(metrics_gauge_new(r, "half_ops", "Half ops.", NULL, 0, &g), 0);
	CHECK_INT(metrics_histogram_new(r, "op_size", "Sizes.", (const char *const[]){"worker"}, 1,
					(const double[]){0, 1, 2}, 3, &h), 0);
	for (int i = 0; i < THREADS; i++) {
		args[i] = (struct worker_arg){.counter = c, .gauge = g, .hist = h, .id = i};
		CHECK_INT(pthread_create(&t[i], NULL, worker, &args[i]), 0);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(metric_value(metric_solo(c)) == THREADS * ROUNDS);
	CHECK(metric_value(metric_solo(g)) == THREADS * ROUNDS * 0.5);
	double n = 0, sum = 0;
	for (int i = 0; i < 3; i++) {
		char id[8];
		snprintf(id, sizeof(id), "%d", i);
		n += metric_value(metric_with(h, id));
		sum += metric_histogram_sum(metric_with(h, id));
	}
	CHECK(n == THREADS * ROUNDS);
	CHECK(sum == THREADS * (ROUNDS / 4) * (0 + 1 + 2 + 3));
	_cleanup_free_ char *text = expose(r);
	CHECK(strstr(text, "\nops_total 400000\n"));
	CHECK(strstr(text, "\nhalf_ops 200000\n"));
	/* Workers 0, 3, 6 share one child: 3 threads x 12500 observations of 0. */
	CHECK(strstr(text, "op_size_bucket{worker=\"0\",le=\"0\"} 37500\n"));
	CHECK(strstr(text, "op_size_bucket{worker=\"0\",le=\"+Inf\"} 150000\n"));
}

static double answer(void *userdata)
{
	return *(double *)userdata;
}

static double metric_line(const char *text, const char *name)
{
	_cleanup_free_ char *key = xasprintf("\n%s ", name);
	const char *p = strstr(text, key);
	return p ? strtod(p + strlen(key), NULL) : NAN;
}

struct flows {
	unsigned n;
};

static void collect_flows(struct metrics_collection *c, void *ud)
{
	const struct flows *f = ud;
	char svc[16];
	/* Out of order on purpose: the exposition sorts children. */
	for (unsigned i = f->n; i > 0; i--) {
		snprintf(svc, sizeof(svc), "s%u", i);
		metrics_collect(c, (const char *const[]){svc, "tcp"}, i * 10.0);
	}
}

static void test_collector_families_are_made_at_each_scrape(void)
{
	_cleanup_(metrics_registry_freep) struct metrics_registry *r = metrics_registry_new();
	struct flows f = {.n = 2};

	CHECK_INT(metrics_counter_collector_new(r, "flows_total", "Flows.",
						(const char *const[]){"service", "proto"}, 2,
						collect_flows, &f), 0);
	CHECK_INT(metrics_counter_collector_new(r, "flows_total", "Flows.", NULL, 0, collect_flows,
						&f), -EEXIST);
	CHECK_INT(metrics_gauge_collector_new(r, "bad", "x", (const char *const[]){"__x"}, 1,
					      collect_flows, &f), -EINVAL);
	_cleanup_free_ char *text = expose(r);
	CHECK_STREQ(text, "# HELP flows_total Flows.\n# TYPE flows_total counter\n"
			  "flows_total{service=\"s1\",proto=\"tcp\"} 10\n"
			  "flows_total{service=\"s2\",proto=\"tcp\"} 20\n");
	f.n = 1;
	_cleanup_free_ char *fewer = expose(r);
	CHECK(!strstr(fewer, "s2"));
	f.n = 0;
	_cleanup_free_ char *none = expose(r);
	CHECK_STREQ(none, "");
}

static void test_func_and_process_metrics_are_read_at_scrape(void)
{
	_cleanup_(metrics_registry_freep) struct metrics_registry *r = metrics_registry_new();
	double v = 42;

	CHECK_INT(metrics_gauge_func_new(r, "answer", "The answer.", answer, &v), 0);
	CHECK_INT(metrics_counter_func_new(r, "answer_total", "Answers.", answer, &v), 0);
	CHECK_INT(metrics_register_process(r), 0);
	CHECK_INT(metrics_register_process(r), -EEXIST);
	v = 43;
	_cleanup_free_ char *text = expose(r);
	CHECK(str_has_prefix(text, "# HELP answer The answer.\n# TYPE answer gauge\nanswer 43\n"
				   "# HELP answer_total Answers.\n# TYPE answer_total counter\n"
				   "answer_total 43\n"));
	CHECK(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
	CHECK(strstr(text, "# TYPE process_start_time_seconds gauge\n"));
	CHECK(metric_line(text, "process_cpu_seconds_total") >= 0);
	CHECK(metric_line(text, "process_resident_memory_bytes") > 1e5);
	CHECK(metric_line(text, "process_virtual_memory_bytes") >
	      metric_line(text, "process_resident_memory_bytes"));
	CHECK(metric_line(text, "process_open_fds") >= 3);
	CHECK(metric_line(text, "process_max_fds") >= metric_line(text, "process_open_fds"));
	double start = metric_line(text, "process_start_time_seconds");
	CHECK(fabs(start - (double)time(NULL)) < 600);
}

/* A registry with one of everything, as a daemon's /metrics would serve it. */
static char *full_exposition(void)
{
	_cleanup_(metrics_registry_freep) struct metrics_registry *r = metrics_registry_new();
	struct metric_family *f;
	double b[5];

	CHECK_INT(metrics_counter_new(r, "kelp_http_requests_total", "HTTP requests by \"verb\".",
				      (const char *const[]){"verb", "code"}, 2, &f), 0);
	metric_add(metric_with(f, "GET", "200"), 12);
	metric_inc(metric_with(f, "POST", "\"quoted\"\\\n"));
	CHECK_INT(metrics_gauge_new(r, "kelp_watchers", "Open watches.\nPer resource.",
				    (const char *const[]){"resource"}, 1, &f), 0);
	metric_set(metric_with(f, "pods"), 3.25);
	metric_set(metric_with(f, "nodes"), -1e-9);
	CHECK_INT(metrics_gauge_new(r, "kelp_up", "Always 1.", NULL, 0, &f), 0);
	metric_set(metric_solo(f), 1);
	CHECK_INT(metrics_gauge_new(r, "kelp_lag_seconds", "NaN and infinities.",
				    (const char *const[]){"k"}, 1, &f), 0);
	metric_set(metric_with(f, "nan"), NAN);
	metric_set(metric_with(f, "inf"), INFINITY);
	metric_set(metric_with(f, "ninf"), -INFINITY);
	CHECK_INT(metrics_buckets_exponential(0.001, 4, 5, b), 0);
	CHECK_INT(metrics_histogram_new(r, "kelp_request_duration_seconds", "Latency.",
					(const char *const[]){"verb"}, 1, b, 5, &f), 0);
	for (int i = 0; i < 100; i++)
		metric_observe(metric_with(f, i % 2 ? "GET" : "LIST"), i * 0.003);
	CHECK_INT(metrics_histogram_new(r, "kelp_object_size_bytes", "Sizes.", NULL, 0,
					(const double[]){1024, 1048576, 1e12}, 3, &f), 0);
	metric_observe(metric_solo(f), 5e6);
	CHECK_INT(metrics_register_process(r), 0);
	return expose(r);
}

static void test_promtool_accepts_full_exposition(void)
{
	char path[] = "/tmp/kelp-test-metrics-XXXXXX";
	_cleanup_free_ char *text = full_exposition();

	if (access("/usr/bin/promtool", X_OK) != 0)
		SKIP("promtool not installed (Debian package prometheus)");
	_cleanup_close_ int fd = mkstemp(path);
	CHECK(fd >= 0);
	CHECK_INT(write_all(fd, text, strlen(text)), 0);
	_cleanup_free_ char *cmd = xasprintf("/usr/bin/promtool check metrics < %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	char line[512];
	CHECK(p != NULL);
	while (p && fgets(line, sizeof(line), p))
		printf("# promtool: %s", line);
	int status = p ? pclose(p) : -1;
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unlink(path);
}

int main(void)
{
	RUN(test_counter_and_gauge_values_are_exposed);
	RUN(test_labelled_children_are_reused_and_sorted);
	RUN(test_help_and_label_values_are_escaped);
	RUN(test_bad_names_are_rejected);
	RUN(test_histogram_buckets_are_cumulative);
	RUN(test_histogram_defaults_and_nan_go_to_inf);
	RUN(test_bucket_helpers);
	RUN(test_float_formatting_reads_back_exactly);
	RUN(test_concurrent_updates_give_exact_totals);
	RUN(test_func_and_process_metrics_are_read_at_scrape);
	RUN(test_collector_families_are_made_at_each_scrape);
	RUN(test_promtool_accepts_full_exposition);
	return tap_done();
}
