/* lib/http client: pooling, multiplexing, streaming both ways, cancel,
 * failures — against the kelp server on another thread. */
#include "http_harness.h"

#include "tap.h"

static struct ts srv;

struct result {
	int status;
	int err;
	bool done;
	int data_calls;
	struct buf body;
	char trailer[64];
	struct http_call *call;
	int *done_count;
};

static void r_headers(struct http_call *c, int status, const struct http_header *h, unsigned n,
		      void *ud)
{
	((struct result *)ud)->status = status;
}

static void r_data(struct http_call *c, const char *p, size_t len, void *ud)
{
	struct result *r = ud;
	r->data_calls++;
	buf_append(&r->body, p, len);
}

static void r_done(struct http_call *c, int err, const struct http_header *t, unsigned n, void *ud)
{
	struct result *r = ud;
	r->err = err;
	r->done = true;
	r->call = NULL;
	if (r->done_count)
		(*r->done_count)++;
}

static const struct http_call_ops r_ops = {r_headers, r_data, r_done};

static void run_until_count(struct loop *l, const int *count, int want, int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000u;
	while (*count < want && now_mono_ns() < end)
		loop_run_once(l, 10 * 1000000u);
}

static void run_until_done(struct loop *l, const struct result *r, int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000u;
	while (!r->done && now_mono_ns() < end)
		loop_run_once(l, 10 * 1000000u);
}

static struct http_client *client(struct loop *l, bool h2, unsigned max_conns)
{
	struct http_client *c = NULL;
	_cleanup_free_ char *url = xasprintf("http://%s", srv.address);
	CHECK_INT(http_client_new(l, &(struct http_client_config){.url = url, .h2 = h2,
								  .max_h1_connections = max_conns},
				  &c),
		  0);
	return c;
}

static void many_concurrent(bool h2)
{
	enum { N = 60 };
	struct loop *l = NULL;
	struct result r[N] = {0};
	int done = 0, ok = 0, version = 0;

	loop_new(NULL, &l);
	struct http_client *c = client(l, h2, 4);
	for (int i = 0; i < N; i++) {
		r[i].done_count = &done;
		char target[32];
		snprintf(target, sizeof(target), i % 2 ? "/slow" : "/echo?i=%d", i);
		CHECK_INT(http_client_call(c, &(struct http_call_request){.method = "GET", .target = target},
					   &r_ops, &r[i], &r[i].call),
			  0);
	}
	version = http_call_version(r[0].call);
	run_until_count(l, &done, N, 10000);
	for (int i = 0; i < N; i++) {
		ok += r[i].err == 0 && r[i].status == 200 &&
		      (i % 2 ? streq(r[i].body.data, "late") : r[i].body.len == 0);
		buf_free(&r[i].body);
	}
	CHECK_INT(ok, N);
	CHECK_INT(version, 0); /* not sent until the loop ran */
	http_client_free(c);
	loop_free(l);
}

static void test_h1_pool_serves_more_calls_than_connections(void) { many_concurrent(false); }
static void test_h2_multiplexes_calls_on_one_connection(void) { many_concurrent(true); }

static void streamed_request_body(bool h2)
{
	struct loop *l = NULL;
	struct result r = {0};

	loop_new(NULL, &l);
	struct http_client *c = client(l, h2, 2);
	CHECK_INT(http_client_call(c,
				   &(struct http_call_request){.method = "POST",
							       .target = "/echo",
							       .body = "first,",
							       .body_len = 6,
							       .stream_body = true},
				   &r_ops, &r, &r.call),
		  0);
	for (int i = 0; i < 5; i++)
		loop_run_once(l, 1000000u);
	http_call_write(r.call, "second,", 7);
	loop_run_once(l, 1000000u);
	http_call_write(r.call, "third", 5);
	http_call_end_body(r.call);
	run_until_done(l, &r, 3000);
	CHECK(r.done);
	CHECK_INT(r.err, 0);
	CHECK_INT(r.status, 200);
	CHECK_STREQ(r.body.data, "first,second,third");
	buf_free(&r.body);
	http_client_free(c);
	loop_free(l);
}

static void test_h1_streams_a_request_body_chunked(void) { streamed_request_body(false); }
static void test_h2_streams_a_request_body(void) { streamed_request_body(true); }

static void test_streaming_responses_arrive_in_pieces(void)
{
	struct loop *l = NULL;
	loop_new(NULL, &l);
	for (int h2 = 0; h2 < 2; h2++) {
		struct result r = {0};
		struct http_client *c = client(l, h2, 2);
		http_client_call(c, &(struct http_call_request){.method = "GET", .target = "/stream"},
				 &r_ops, &r, NULL);
		run_until_done(l, &r, 3000);
		CHECK_INT(r.err, 0);
		CHECK(r.data_calls >= 3);
		CHECK(r.body.data && str_has_prefix(r.body.data, "event 0\nevent 1\n"));
		CHECK(r.body.data && str_has_suffix(r.body.data, "event 4\n"));
		buf_free(&r.body);
		http_client_free(c);
	}
	loop_free(l);
}

static void test_cancel_stops_a_call_and_the_server_sees_it(void)
{
	struct loop *l = NULL;
	loop_new(NULL, &l);
	for (int h2 = 0; h2 < 2; h2++) {
		struct result r = {0};
		int before = atomic_load(&srv.aborts);
		struct http_client *c = client(l, h2, 2);
		http_client_call(c, &(struct http_call_request){.method = "GET", .target = "/forever"},
				 &r_ops, &r, &r.call);
		uint64_t end = now_mono_ns() + 3000000000u;
		while (r.body.len < 8 && now_mono_ns() < end)
			loop_run_once(l, 10 * 1000000u);
		CHECK_STREQ(r.body.data, "started\n");
		http_call_cancel(r.call);
		run_until_done(l, &r, 1000);
		CHECK(r.done);
		CHECK_INT(r.err, -ECANCELED);
		end = now_mono_ns() + 3000000000u;
		while (atomic_load(&srv.aborts) == before && now_mono_ns() < end)
			loop_run_once(l, 10 * 1000000u);
		CHECK_INT(atomic_load(&srv.aborts), before + 1);
		buf_free(&r.body);
		http_client_free(c);
	}
	loop_free(l);
}

static void test_refused_connections_fail_the_call(void)
{
	struct loop *l = NULL;
	struct http_client *c = NULL;
	struct result r = {0};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);

	/* A port that was bound, then freed: nothing listens there. */
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd);
	loop_new(NULL, &l);
	_cleanup_free_ char *url = xasprintf("http://127.0.0.1:%u", ntohs(sa.sin_port));
	CHECK_INT(http_client_new(l, &(struct http_client_config){.url = url}, &c), 0);
	http_client_call(c, &(struct http_call_request){.method = "GET", .target = "/"}, &r_ops, &r,
			 NULL);
	run_until_done(l, &r, 3000);
	CHECK(r.done);
	CHECK_INT(r.err, -ECONNREFUSED);
	http_client_free(c);
	loop_free(l);
	CHECK_INT(http_client_new(NULL, &(struct http_client_config){.url = "ftp://x"}, &c), -EINVAL);
	CHECK_INT(http_client_new(NULL, &(struct http_client_config){.url = "https://127.0.0.1"}, &c),
		  -EINVAL);
}

static void test_a_keep_alive_connection_closed_by_the_server_is_retried(void)
{
	struct ts quick;
	struct loop *l = NULL;
	struct http_client *c = NULL;

	ts_start(&quick, &(struct http_server_config){.idle_timeout_ms = 100}, NULL);
	loop_new(NULL, &l);
	_cleanup_free_ char *url = xasprintf("http://%s", quick.address);
	http_client_new(l, &(struct http_client_config){.url = url, .max_h1_connections = 1}, &c);
	for (int i = 0; i < 3; i++) {
		struct result r = {0};
		http_client_call(c, &(struct http_call_request){.method = "GET", .target = "/hello"},
				 &r_ops, &r, NULL);
		run_until_done(l, &r, 3000);
		CHECK_INT(r.err, 0);
		CHECK_STREQ(r.body.data, "hello");
		buf_free(&r.body);
		usleep(200000); /* the server closes the idle connection */
	}
	http_client_free(c);
	loop_free(l);
	ts_stop(&quick);
}

static void test_freeing_a_client_fails_pending_calls(void)
{
	struct loop *l = NULL;
	struct result r[3] = {0};
	int done = 0;

	loop_new(NULL, &l);
	struct http_client *c = client(l, false, 1);
	for (int i = 0; i < 3; i++) {
		r[i].done_count = &done;
		http_client_call(c, &(struct http_call_request){.method = "GET", .target = "/forever"},
				 &r_ops, &r[i], NULL);
	}
	loop_run_once(l, 5 * 1000000u);
	http_client_free(c);
	CHECK_INT(done, 3);
	for (int i = 0; i < 3; i++) {
		CHECK(r[i].err < 0);
		buf_free(&r[i].body);
	}
	loop_free(l);
}

int main(void)
{
	ts_start(&srv, NULL, NULL);
	RUN(test_h1_pool_serves_more_calls_than_connections);
	RUN(test_h2_multiplexes_calls_on_one_connection);
	RUN(test_h1_streams_a_request_body_chunked);
	RUN(test_h2_streams_a_request_body);
	RUN(test_streaming_responses_arrive_in_pieces);
	RUN(test_cancel_stops_a_call_and_the_server_sees_it);
	RUN(test_refused_connections_fail_the_call);
	RUN(test_a_keep_alive_connection_closed_by_the_server_is_retried);
	RUN(test_freeing_a_client_fails_pending_calls);
	ts_stop(&srv);
	return tap_done();
}
