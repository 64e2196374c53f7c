/* Fuzz the API server's request path: an HTTP request made from the input
 * (method, content type, path, body) goes through the real server front,
 * request parsing, body decoding (JSON, protobuf, patches), validation,
 * admission and the embedded store (without syncs). It must be answered,
 * with no crash, leak or hang. */
#include <ftw.h>
#include <stdio.h>
#include <sys/socket.h>

#include "apiserver/apiserver.h"
#include "http/internal.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	struct loop *l;
	struct store *store;
	struct apiserver *api;
	struct http_router *router;
	struct http_server *srv;
	bool ready;
};

static void ready(void *ud, int err)
{
	((struct ctx *)ud)->ready = true;
}

/* The store's directory, removed when libFuzzer exits (at the end of its
 * run time; a crash leaves it for the post-mortem). */
static char store_dir[] = "/tmp/kelp-fuzz-api-XXXXXX";

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void store_dir_remove(void)
{
	nftw(store_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static struct ctx *ctx(void)
{
	/* One server for the whole run, as libFuzzer runs inputs in one process. */
	static struct ctx c;
	const char *dir = store_dir;

	if (c.l)
		return &c;
	if (loop_new(NULL, &c.l) < 0 || !mkdtemp(store_dir))
		abort();
	atexit(store_dir_remove);
	struct store_config sc = {.data_dir = dir, .sync = STORE_SYNC_NONE, .auto_compact_retention_s = -1};
	if (store_open(c.l, &sc, &c.store) < 0)
		abort();
	struct apiserver_config ac = {.loop = c.l, .store = c.store, .anonymous_admin = true};
	if (apiserver_new(&ac, ready, &c, &c.api) < 0)
		abort();
	c.router = http_router_new();
	apiserver_route(c.api, c.router);
	struct http_server_config hc = {.handler = http_router_dispatch, .handler_ud = c.router};
	if (http_server_new(c.l, &hc, &c.srv) < 0)
		abort();
	while (!c.ready)
		loop_run_once(c.l, 10 * 1000000u);
	return &c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	static const char *const types[] = {
		"application/json", "application/merge-patch+json", "application/strategic-merge-patch+json",
		"application/json-patch+json", "application/apply-patch+yaml",
		"application/vnd.kubernetes.protobuf", "text/plain"};
	struct ctx *c = ctx();
	int sv[2];
	char sink[65536];

	if (size < 3 || size > 20000)
		return 0;
	const char *method = methods[data[0] % ARRAY_SIZE(methods)];
	const char *ctype = types[data[1] % ARRAY_SIZE(types)];
	const char *path = (const char *)data + 2;
	const char *nul = memchr(path, '\n', size - 2);
	if (!nul)
		return 0;
	size_t plen = (size_t)(nul - path);
	const char *body = nul + 1;
	size_t blen = size - 2 - plen - 1;
	/* Watches never end by themselves; they are not for this target. */
	if (!plen || path[0] != '/' || memmem(path, plen, "watch", 5) || memchr(path, ' ', plen) ||
	    memchr(path, '\r', plen) || memchr(path, '\0', plen))
		return 0;

	struct buf req = {0};
	buf_printf(&req, "%s %.*s HTTP/1.1\r\nHost: fuzz\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n\r\n", method, (int)plen, path, ctype, blen);
	buf_append(&req, body, blen);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	http_server_adopt(c->srv, sv[0]);
	if (write_all(sv[1], req.data, req.len) < 0)
		abort();
	buf_free(&req);
	/* Done sending: the server answers, then closes without lingering. */
	shutdown(sv[1], SHUT_WR);
	struct http_server_stats st;
	for (int i = 0; i < 20000; i++) {
		loop_run_once(c->l, 1000000u);
		while (read(sv[1], sink, sizeof(sink)) > 0)
			;
		http_server_stats(c->srv, &st);
		if (!st.connections_open)
			break;
	}
	http_server_stats(c->srv, &st);
	if (st.connections_open)
		abort(); /* a request that is never answered */
	close(sv[1]);
	return 0;
}
