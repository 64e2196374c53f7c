/* lib/http: HTTP/1.1 and HTTP/2 server and client on lib/loop, with TLS.
 *
 * Server: a listener hands each complete request (head and body) to one
 * handler as a struct http_exchange. The handler answers at once or later
 * (the exchange is its own until it finishes it), in one piece
 * (http_respond) or as a stream (http_response_start / _write / _end) with
 * back-pressure (http_response_buffered + a drain callback). HTTP/1.1
 * connections may be handed over to another protocol (http_upgrade), which
 * is how WebSocket and SPDY sessions for exec/attach/port-forward start.
 * HTTP/2 is served over TLS (ALPN "h2") and in clear text with prior
 * knowledge (h2c), both through nghttp2.
 *
 * Client: one struct http_client per origin; calls stream their response
 * (and, with HTTP/2, their request body) and end with trailers.
 *
 * Everything runs on the loop's thread; nothing here is thread-safe. */
#pragma once

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct logger;
struct buf;

/* A header; names are lowercase (as HTTP/2 requires, and HTTP/1.1 names
 * are folded on receipt). Strings are NUL-terminated. */
struct http_header {
	const char *name;
	const char *value;
};

#define HTTP_MAX_HEADERS 100

struct http_request {
	const char *method;    /* "GET" */
	const char *path;      /* "/api/v1/pods", still percent-encoded */
	const char *query;     /* "watch=1" or "" */
	const char *authority; /* Host / :authority, or "" */
	const struct http_header *headers;
	unsigned nheaders;
	const char *body; /* NUL-terminated; body_len excludes the NUL */
	size_t body_len;
	int version; /* 10, 11 or 20 */
	bool tls;
};

/* Case-insensitive lookup of the first header with that name; NULL if
 * absent. */
const char *http_request_header(const struct http_request *req, const char *name);

/* --- query strings --- */

/* Percent-decode [s, s+n) into a new string ('+' means space when
 * form is set). Returns NULL for malformed escapes or an embedded NUL. */
char *http_unescape(const char *s, size_t n, bool form);
/* Walk "a=1&b=2": on each call, the name and value of the next pair are handed back, decoded
 * (both caller-freed). Returns 1 for a pair, 0 at the end, -EINVAL on a
 * malformed escape. *pos starts at 0. */
int http_query_next(const char *query, size_t *pos, char **ret_name, char **ret_value);
/* The decoded value of the first parameter `name`, or NULL. */
char *http_query_get(const char *query, const char *name);

/* --- server --- */

struct http_exchange;
struct http_server;

typedef void (*http_handler_fn)(struct http_exchange *ex, void *ud);
/* Build the answer to a request the server itself refuses after its head
 * was read (e.g. 413 for a body over the limit). The default answers
 * text/plain. */
typedef void (*http_error_fn)(struct http_exchange *ex, int status, const char *msg, void *ud);

struct http_server_config {
	const char *listen; /* "127.0.0.1:6443", "[::1]:80", ":8080"; or: */
	int listen_fd;      /* an already listening socket when > 0 */
	SSL_CTX *tls;       /* NULL: clear text (HTTP/1.1 and h2c) */
	size_t max_header_bytes;     /* default 64 KiB; 431 above it */
	size_t max_body_bytes;       /* default 3 MiB; 413 above it */
	unsigned header_timeout_ms;  /* whole head must arrive in it; default 30 s */
	unsigned idle_timeout_ms;    /* keep-alive idle; default 120 s */
	unsigned max_connections;    /* default 10000 */
	unsigned h2_max_streams;     /* SETTINGS_MAX_CONCURRENT_STREAMS; default 250 */
	http_handler_fn handler;
	void *handler_ud;
	http_error_fn error_fn;
	void *error_ud;
	const struct logger *log;
};

int http_server_new(struct loop *l, const struct http_server_config *cfg,
		    struct http_server **ret);
/* Stops accepting, closes every connection (aborting open exchanges).
 * Exchanges still held by handlers stay valid until they are finished. */
struct http_server *http_server_free(struct http_server *s);
/* The bound address, e.g. "127.0.0.1:40123". */
const char *http_server_address(const struct http_server *s);
unsigned http_server_port(const struct http_server *s);

/* Statistics for /metrics. */
struct http_server_stats {
	uint64_t connections_accepted;
	uint64_t connections_open;
	uint64_t requests;
	uint64_t h2_requests;
	uint64_t bad_requests;
};
void http_server_stats(const struct http_server *s, struct http_server_stats *ret);

/* --- exchanges --- */

const struct http_request *http_exchange_request(const struct http_exchange *ex);
/* The loop the exchange lives on. */
struct loop *http_exchange_loop(const struct http_exchange *ex);
/* The verified client certificate (TLS), or NULL; owned by the exchange. */
X509 *http_exchange_peer_cert(const struct http_exchange *ex);
/* "ip:port" of the client. */
const char *http_exchange_peer(const struct http_exchange *ex);
/* False once the client has gone away: what is written is dropped. */
bool http_exchange_alive(const struct http_exchange *ex);

/* Called once if the client goes away (or the server shuts down) before
 * the exchange is finished. The handler must still finish it. */
typedef void (*http_abort_fn)(struct http_exchange *ex, void *ud);
void http_exchange_on_abort(struct http_exchange *ex, http_abort_fn fn, void *ud);
/* Called when a streaming response's buffered bytes fall to at most
 * low_water after having been above it. */
typedef void (*http_drain_fn)(struct http_exchange *ex, void *ud);
void http_exchange_on_drain(struct http_exchange *ex, size_t low_water, http_drain_fn fn, void *ud);

/* Add a response header (before the response starts). */
void http_response_header(struct http_exchange *ex, const char *name, const char *value);
/* Answer in one piece and finish the exchange. */
void http_respond(struct http_exchange *ex, int status, const char *content_type,
		  const void *body, size_t len);
/* Answer with text/plain "msg\n" and finish. */
void http_respond_text(struct http_exchange *ex, int status, const char *msg);
/* Stream: head now, body in pieces (HTTP/1.1 chunked or h2 DATA). */
void http_response_start(struct http_exchange *ex, int status, const char *content_type);
void http_response_write(struct http_exchange *ex, const void *p, size_t len);
/* Finish the exchange (after http_response_start, or to drop it). */
void http_response_end(struct http_exchange *ex);
/* Response bytes accepted but not yet written to the socket. */
size_t http_response_buffered(const struct http_exchange *ex);

/* --- protocol upgrade (HTTP/1.1) --- */

struct http_upgraded;
struct http_upgrade_ops {
	/* Bytes from the client after the 101 (and any that came with the
	 * request). */
	void (*on_data)(struct http_upgraded *u, const char *p, size_t len, void *ud);
	/* Output below the low-water mark again (optional). */
	void (*on_drain)(struct http_upgraded *u, void *ud);
	/* The connection is gone; u is freed after this returns. */
	void (*on_close)(struct http_upgraded *u, void *ud);
};

/* Answer 101 Switching Protocols (with the headers added before) and hand
 * the connection to ops. Finishes the exchange. Returns -EPROTO on HTTP/2
 * (no upgrade there). */
int http_upgrade(struct http_exchange *ex, const struct http_upgrade_ops *ops, void *ud,
		 struct http_upgraded **ret);
void http_upgraded_write(struct http_upgraded *u, const void *p, size_t len);
size_t http_upgraded_buffered(const struct http_upgraded *u);
/* Close after the buffered output is sent; on_close follows. */
void http_upgraded_close(struct http_upgraded *u);

/* --- routing --- */

struct http_router;
struct http_router *http_router_new(void);
struct http_router *http_router_free(struct http_router *r);
/* A pattern such as "/healthz" matches that path exactly; one ending in
 * '*' matches every path with the part before the '*' as a prefix. Exact
 * beats prefix, a longer prefix beats a shorter one; method NULL matches
 * any method (and "GET" also serves HEAD). */
void http_router_add(struct http_router *r, const char *method, const char *pattern,
		     http_handler_fn fn, void *ud);
/* An http_handler_fn: ud is the router. 404 / 405 when nothing matches. */
void http_router_dispatch(struct http_exchange *ex, void *ud);

/* --- TLS --- */

/* A server context with cert/key (PEM files), ALPN h2 and http/1.1, TLS
 * >= 1.2. With client_ca, client certificates are requested and verified
 * against it (but not required). */
int http_tls_server_ctx(const char *cert_file, const char *key_file, const char *client_ca_file,
			SSL_CTX **ret);
/* A client context trusting ca_file (or nothing extra when NULL), with an
 * optional client certificate, offering ALPN h2 and/or http/1.1. PEM may
 * be given as files or as memory (the *_pem variants, e.g. kubeconfig data). */
int http_tls_client_ctx(const char *ca_pem, const char *cert_pem, const char *key_pem,
			bool offer_h2, SSL_CTX **ret);

/* --- status text --- */
const char *http_status_text(int status);

/* --- client --- */

struct http_client;
struct http_call;

struct http_client_config {
	const char *url;     /* "https://127.0.0.1:6443" or "http://..." (origin only) */
	SSL_CTX *tls;        /* required for https; NULL for http */
	bool h2;             /* http: h2c prior knowledge; https: offer h2 via ALPN */
	unsigned max_h1_connections; /* default 8 */
	unsigned connect_timeout_ms; /* default 10 s */
	const struct logger *log;
};

struct http_call_ops {
	void (*on_headers)(struct http_call *c, int status, const struct http_header *h,
			   unsigned n, void *ud);
	void (*on_data)(struct http_call *c, const char *p, size_t len, void *ud);
	/* Last callback: err 0 when the response ended normally. Trailers
	 * (HTTP/2) are passed here. The call is freed after it returns. */
	void (*on_done)(struct http_call *c, int err, const struct http_header *trailers,
			unsigned n, void *ud);
};

struct http_call_request {
	const char *method;
	const char *target; /* path and query */
	const struct http_header *headers;
	unsigned nheaders;
	const void *body;
	size_t body_len;
	bool stream_body; /* more body follows with http_call_write / _end_body */
};

int http_client_new(struct loop *l, const struct http_client_config *cfg,
		    struct http_client **ret);
/* Fails pending calls with -ECANCELED (their on_done runs). */
struct http_client *http_client_free(struct http_client *c);
int http_client_call(struct http_client *c, const struct http_call_request *req,
		     const struct http_call_ops *ops, void *ud, struct http_call **ret);
void http_call_write(struct http_call *call, const void *p, size_t len);
void http_call_end_body(struct http_call *call);
/* Abort: on_done(-ECANCELED) follows (possibly at once). */
void http_call_cancel(struct http_call *call);
/* The protocol the call went out on: 11 or 20 (0 before it is sent). */
int http_call_version(const struct http_call *call);

/* Blocking convenience for tools and tests: run a private loop until one
 * request completes. *ret_status and the body (caller frees) are set on
 * success. */
struct http_fetch {
	const char *url; /* full URL */
	const char *method;
	const struct http_header *headers;
	unsigned nheaders;
	const void *body;
	size_t body_len;
	SSL_CTX *tls;
	bool h2;
	unsigned timeout_ms; /* default 10 s */
};
int http_fetch(const struct http_fetch *f, int *ret_status, struct buf *ret_body);
