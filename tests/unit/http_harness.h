/* A kelp HTTP server on its own thread for tests, with handlers that
 * exercise each response style, and blocking socket helpers for the test
 * thread. Included by test_http_server.c and test_http_client.c. */
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "base/base.h"
#include "http/http.h"
#include "loop/loop.h"
#include "pki/pki.h"

struct ts {
	pthread_t th;
	struct http_server_config cfg;
	char cert_file[128], key_file[128], ca_pem_file[128];
	bool tls;
	char address[80];
	unsigned port;
	atomic_bool ready;
	struct loop *l;
	struct loop_task stop_task;
	struct http_router *router;
	/* observations from the server thread */
	atomic_int aborts;
	atomic_size_t max_buffered;
	atomic_int drains;
	atomic_int upgraded_closed;
};

/* --- handlers (server thread) --- */

static void h_hello(struct http_exchange *ex, void *ud)
{
	http_response_header(ex, "X-Test", "yes");
	http_respond(ex, 200, "text/plain", "hello", 5);
}

static void h_echo(struct http_exchange *ex, void *ud)
{
	const struct http_request *r = http_exchange_request(ex);
	const char *ct = http_request_header(r, "content-type");
	http_response_header(ex, "x-method", r->method);
	http_response_header(ex, "x-query", r->query);
	http_response_header(ex, "x-version", r->version == 20 ? "2" : r->version == 11 ? "1.1" : "1.0");
	http_respond(ex, 200, ct ? ct : "application/octet-stream", r->body, r->body_len);
}

static void h_big(struct http_exchange *ex, void *ud)
{
	size_t n = 1 << 20;
	char *b = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		b[i] = (char)('a' + i % 26);
	http_respond(ex, 200, "application/octet-stream", b, n);
	free(b);
}

/* Later answers: a timer completes the exchange. */
struct later {
	struct loop_timer t;
	struct http_exchange *ex;
	int step;
	struct ts *ts;
};

static void later_fire(struct loop_timer *t)
{
	struct later *lt = container_of(t, struct later, t);
	http_respond(lt->ex, 200, "text/plain", "late", 4);
	free(lt);
}

static void h_slow(struct http_exchange *ex, void *ud)
{
	struct later *lt = xnew(struct later, 1);
	lt->t.fn = later_fire;
	lt->ex = ex;
	loop_timer_arm(http_exchange_loop(ex), &lt->t, 50 * 1000000u);
}

static void stream_fire(struct loop_timer *t)
{
	struct later *lt = container_of(t, struct later, t);
	char line[32];
	int n = snprintf(line, sizeof(line), "event %d\n", lt->step);
	http_response_write(lt->ex, line, (size_t)n);
	if (++lt->step == 5) {
		http_response_end(lt->ex);
		free(lt);
		return;
	}
	loop_timer_arm(http_exchange_loop(lt->ex), &lt->t, 5 * 1000000u);
}

static void h_stream(struct http_exchange *ex, void *ud)
{
	struct later *lt = xnew(struct later, 1);
	lt->t.fn = stream_fire;
	lt->ex = ex;
	http_response_start(ex, 200, "application/json");
	loop_timer_arm(http_exchange_loop(ex), &lt->t, 1000000u);
}

/* Never ends by itself; counts the abort when the client goes. */
static void forever_abort(struct http_exchange *ex, void *ud)
{
	struct ts *ts = ud;
	atomic_fetch_add(&ts->aborts, 1);
	http_response_end(ex);
}

static void h_forever(struct http_exchange *ex, void *ud)
{
	http_exchange_on_abort(ex, forever_abort, ud);
	http_response_start(ex, 200, "text/plain");
	http_response_write(ex, "started\n", 8);
}

/* A producer that respects back-pressure: 8 MiB in 16 KiB pieces, writing
 * only while less than 64 KiB is buffered. */
struct producer {
	struct ts *ts;
	size_t sent;
	char piece[16384];
};

static void produce(struct http_exchange *ex, void *ud)
{
	struct producer *p = ud;
	const size_t total = 8u << 20;

	while (p->sent < total && http_response_buffered(ex) <= 65536) {
		http_response_write(ex, p->piece, sizeof(p->piece));
		p->sent += sizeof(p->piece);
		size_t b = http_response_buffered(ex);
		if (b > atomic_load(&p->ts->max_buffered))
			atomic_store(&p->ts->max_buffered, b);
	}
	if (p->sent >= total) {
		http_response_end(ex);
		free(p);
		return;
	}
	atomic_fetch_add(&p->ts->drains, 1);
}

static void producer_abort(struct http_exchange *ex, void *ud)
{
	http_response_end(ex);
	free(ud);
}

static void h_flood(struct http_exchange *ex, void *ud)
{
	struct producer *p = xnew(struct producer, 1);
	p->ts = ud;
	memset(p->piece, 'f', sizeof(p->piece));
	http_exchange_on_drain(ex, 16384, produce, p);
	http_exchange_on_abort(ex, producer_abort, p);
	http_response_start(ex, 200, "application/octet-stream");
	produce(ex, p);
}

static void h_drop(struct http_exchange *ex, void *ud)
{
	http_response_end(ex);
}

/* Upgrade to a toy protocol that echoes bytes back upper-cased. */
static void up_data(struct http_upgraded *u, const char *p, size_t n, void *ud)
{
	if (!n)
		return;
	char *o = xmalloc(n);
	for (size_t i = 0; i < n; i++)
		o[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 32 : p[i]);
	http_upgraded_write(u, o, n);
	free(o);
	if (memchr(p, 'Q', n) || memchr(p, 'q', n))
		http_upgraded_close(u);
}

static void up_close(struct http_upgraded *u, void *ud)
{
	atomic_fetch_add(&((struct ts *)ud)->upgraded_closed, 1);
}

static const struct http_upgrade_ops up_ops = {.on_data = up_data, .on_close = up_close};

static void h_upgrade(struct http_exchange *ex, void *ud)
{
	struct http_upgraded *u;
	const char *up = http_request_header(http_exchange_request(ex), "upgrade");
	if (!up || !streq(up, "shout")) {
		http_respond_text(ex, 400, "want Upgrade: shout");
		return;
	}
	http_response_header(ex, "Connection", "Upgrade");
	http_response_header(ex, "Upgrade", "shout");
	if (http_upgrade(ex, &up_ops, ud, &u) < 0)
		http_respond_text(ex, 400, "no upgrade on this protocol");
}

/* --- the server thread --- */

static void ts_stop_run(struct loop_task *t)
{
	struct ts *ts = container_of(t, struct ts, stop_task);
	loop_stop(ts->l);
}

static void *ts_main(void *arg)
{
	struct ts *ts = arg;
	struct http_server *srv = NULL;
	SSL_CTX *ctx = NULL;

	if (loop_new(NULL, &ts->l) < 0)
		abort();
	ts->router = http_router_new();
	http_router_add(ts->router, "GET", "/hello", h_hello, ts);
	http_router_add(ts->router, NULL, "/echo*", h_echo, ts);
	http_router_add(ts->router, "GET", "/big", h_big, ts);
	http_router_add(ts->router, "GET", "/slow", h_slow, ts);
	http_router_add(ts->router, "GET", "/stream", h_stream, ts);
	http_router_add(ts->router, "GET", "/forever", h_forever, ts);
	http_router_add(ts->router, "GET", "/flood", h_flood, ts);
	http_router_add(ts->router, "GET", "/drop", h_drop, ts);
	http_router_add(ts->router, "GET", "/upgrade", h_upgrade, ts);
	ts->cfg.handler = http_router_dispatch;
	ts->cfg.handler_ud = ts->router;
	if (ts->tls) {
		if (http_tls_server_ctx(ts->cert_file, ts->key_file, NULL, &ctx) < 0)
			abort();
		ts->cfg.tls = ctx;
	}
	if (http_server_new(ts->l, &ts->cfg, &srv) < 0)
		abort();
	if (ctx)
		SSL_CTX_free(ctx);
	snprintf(ts->address, sizeof(ts->address), "%s", http_server_address(srv));
	ts->port = http_server_port(srv);
	atomic_store(&ts->ready, true);
	loop_run(ts->l);
	http_server_free(srv);
	http_router_free(ts->router);
	loop_free(ts->l);
	return NULL;
}

/* Start with cfg (listen defaults to 127.0.0.1:0); tls makes a CA and a
 * serving certificate for 127.0.0.1 under dir. */
static void ts_start(struct ts *ts, const struct http_server_config *cfg, const char *tls_dir)
{
	memset(ts, 0, sizeof(*ts));
	if (cfg)
		ts->cfg = *cfg;
	if (tls_dir) {
		struct pki_cert *ca = NULL, *srv = NULL;
		char *pem = NULL;
		if (pki_ca_load_or_create(tls_dir, &ca, NULL) < 0 ||
		    pki_issue_server(ca, "test", (const char *const[]){"localhost"}, 1,
				     (const char *const[]){"127.0.0.1"}, 1, &srv) < 0)
			abort();
		snprintf(ts->cert_file, sizeof(ts->cert_file), "%s/srv.crt", tls_dir);
		snprintf(ts->key_file, sizeof(ts->key_file), "%s/srv.key", tls_dir);
		snprintf(ts->ca_pem_file, sizeof(ts->ca_pem_file), "%s/ca.crt", tls_dir);
		if (pki_cert_write(srv, ts->cert_file, ts->key_file) < 0)
			abort();
		(void)pem;
		pki_cert_free(srv);
		pki_cert_free(ca);
		ts->tls = true;
	}
	pthread_create(&ts->th, NULL, ts_main, ts);
	while (!atomic_load(&ts->ready))
		usleep(1000);
}

static void ts_stop(struct ts *ts)
{
	ts->stop_task.fn = ts_stop_run;
	loop_post(ts->l, &ts->stop_task);
	pthread_join(ts->th, NULL);
}

/* --- blocking socket helpers (test thread) --- */

_unused_ static int ts_connect(const struct ts *ts)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ts->port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

_unused_ static void send_str(int fd, const char *s)
{
	(void)write_all(fd, s, strlen(s));
}

/* Read until `want` bytes, EOF, or timeout; returns bytes read, the data
 * appended to out. */
_unused_ static size_t read_some(int fd, struct buf *out, size_t want, int timeout_ms)
{
	size_t got = 0;
	uint64_t end = now_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	while (got < want) {
		int64_t left = (int64_t)(end - now_mono_ns()) / 1000000;
		if (left <= 0)
			break;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			break;
		buf_reserve(out, 65536);
		ssize_t r = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (r <= 0)
			break;
		out->len += (size_t)r;
		out->data[out->len] = '\0';
		got += (size_t)r;
	}
	return got;
}

/* Read until EOF (or timeout); true when EOF was seen. */
_unused_ static bool read_to_eof(int fd, struct buf *out, int timeout_ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		int64_t left = (int64_t)(end - now_mono_ns()) / 1000000;
		if (left <= 0)
			return false;
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, (int)left) <= 0)
			return false;
		buf_reserve(out, 65536);
		ssize_t r = read(fd, out->data + out->len, out->cap - out->len - 1);
		if (r < 0)
			return errno == ECONNRESET;
		if (r == 0)
			return true;
		out->len += (size_t)r;
		out->data[out->len] = '\0';
	}
}

/* Read until the text contains `needle` (or timeout). */
_unused_ static bool read_until(int fd, struct buf *out, const char *needle, int timeout_ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)timeout_ms * 1000000u;
	while (!out->data || !strstr(out->data, needle)) {
		int64_t left = (int64_t)(end - now_mono_ns()) / 1000000;
		if (left <= 0)
			return false;
		if (!read_some(fd, out, 1, (int)left))
			return false;
	}
	return true;
}
