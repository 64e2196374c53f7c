/* Fuzz the whole server front: the input arrives on a connection as a
 * client would send it (HTTP/1.1, or h2c after the preface), through the
 * real loop, parsers, nghttp2 session, router and handlers. The server
 * must answer or close, never crash or leak. */
#include <sys/socket.h>

#include "http/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
	struct loop *l;
	struct http_server *srv;
	struct http_router *router;
};

static void h_hello(struct http_exchange *ex, void *ud)
{
	http_respond(ex, 200, "text/plain", "hello", 5);
}

static void h_echo(struct http_exchange *ex, void *ud)
{
	const struct http_request *r = http_exchange_request(ex);
	_cleanup_free_ char *q = http_query_get(r->query, "a");
	http_response_header(ex, "x-query", q ? q : "-");
	http_respond(ex, 200, "application/octet-stream", r->body, r->body_len);
}

static void h_stream(struct http_exchange *ex, void *ud)
{
	http_response_start(ex, 200, "text/plain");
	for (int i = 0; i < 3; i++)
		http_response_write(ex, "chunk\n", 6);
	http_response_end(ex);
}

static void up_data(struct http_upgraded *u, const char *p, size_t n, void *ud)
{
	http_upgraded_write(u, p, n);
}

static const struct http_upgrade_ops up_ops = {.on_data = up_data};

static void h_upgrade(struct http_exchange *ex, void *ud)
{
	struct http_upgraded *u;
	if (http_upgrade(ex, &up_ops, NULL, &u) < 0)
		http_respond_text(ex, 400, "no");
}

static struct fuzz_ctx *ctx(void)
{
	/* libFuzzer runs inputs one after another in one process: the server
	 * is set up once and lives for the run. */
	static struct fuzz_ctx c;
	if (c.l)
		return &c;
	if (loop_new(NULL, &c.l) < 0)
		abort();
	c.router = http_router_new();
	http_router_add(c.router, "GET", "/hello", h_hello, NULL);
	http_router_add(c.router, NULL, "/echo*", h_echo, NULL);
	http_router_add(c.router, "GET", "/stream", h_stream, NULL);
	http_router_add(c.router, "GET", "/upgrade", h_upgrade, NULL);
	struct http_server_config cfg = {
		.handler = http_router_dispatch,
		.handler_ud = c.router,
		.max_body_bytes = 4096,
		.max_header_bytes = 4096,
	};
	if (http_server_new(c.l, &cfg, &c.srv) < 0)
		abort();
	return &c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_ctx *c = ctx();
	int sv[2];
	char sink[65536];

	if (size > 60000)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	http_server_adopt(c->srv, sv[0]);
#ifdef FUZZ_H2_ONLY
	/* Every input is HTTP/2 frames after the preface. */
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	if (write_all(sv[1], preface, sizeof(preface) - 1) < 0)
		abort();
#endif
	if (write_all(sv[1], data, size) < 0)
		abort();
	shutdown(sv[1], SHUT_WR);
	struct http_server_stats st;
	for (int i = 0; i < 400; i++) {
		loop_run_once(c->l, 0);
		while (read(sv[1], sink, sizeof(sink)) > 0)
			;
		http_server_stats(c->srv, &st);
		if (!st.connections_open)
			break;
	}
	http_server_stats(c->srv, &st);
	if (st.connections_open) {
		/* Only a connection still lingering may be left: end it. */
		close(sv[1]);
		for (int i = 0; i < 400 && st.connections_open; i++) {
			loop_run_once(c->l, 1000000u);
			http_server_stats(c->srv, &st);
		}
		if (st.connections_open)
			abort();
		return 0;
	}
	close(sv[1]);
	return 0;
}
