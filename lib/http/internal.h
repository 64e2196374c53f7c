/* lib/http internals shared by its files; not part of the public API. */
#pragma once

#include <nghttp2/nghttp2.h>
#include <sys/types.h>

#include "base/base.h"
#include "http/http.h"
#include "log/log.h"
#include "loop/loop.h"

/* --- HTTP/1.1 heads (h1parse.c) --- */

struct h1_head {
	/* request */
	char *method;
	char *target;
	const char *path;
	const char *query;
	/* response */
	int status;
	const char *reason;

	int version; /* 10 or 11 */
	struct http_header headers[HTTP_MAX_HEADERS];
	unsigned nheaders;
	int64_t content_length; /* -1: absent */
	bool chunked;
	bool keep_alive;
	bool conn_close, conn_keep_alive, conn_upgrade;
	bool expect_continue;
	const char *host;
	const char *upgrade;
};

/* Offset just past the blank line ending a head in buf, or 0 (and *scan
 * advanced so the next call resumes there). */
size_t h1_find_head_end(const char *buf, size_t len, size_t *scan);
/* Parse a complete head in place (NUL-terminating its parts). Returns its
 * length, or -status (-400, -431, -501, -505) with *err set. */
int h1_parse_request(char *buf, size_t len, struct h1_head *h, const char **err);
int h1_parse_response(char *buf, size_t len, struct h1_head *h, const char **err);

struct h1_chunked {
	int state;
	unsigned digits;
	unsigned ext_len;
	uint64_t left;
	size_t total;
	bool done;
};
/* Decode chunked framing from in, appending the data to out. Returns the
 * bytes consumed (all of in unless the body ended inside it), or -status. */
ssize_t h1_chunked_decode(struct h1_chunked *d, const char *in, size_t len, struct buf *out,
			  size_t max_total, const char **err);

/* --- transport: a socket with optional TLS (xport.c) --- */

struct xport;
struct xport_ops {
	/* Application bytes (decrypted). */
	void (*on_data)(struct xport *x, const char *p, size_t n);
	/* The peer finished sending (EOF or TLS close_notify); optional: the
	 * default closes gracefully. */
	void (*on_eof)(struct xport *x);
	/* TLS handshake finished (ALPN known); optional. */
	void (*on_handshake)(struct xport *x);
	/* Every queued byte has been handed to the kernel; optional. */
	void (*on_drain)(struct xport *x);
	/* Closed and idle: the owner may free it now. Runs from the loop,
	 * never from inside an xport call. */
	void (*on_close)(struct xport *x, int err);
};

enum xport_state {
	XPORT_OPEN,
	XPORT_CLOSING,
	XPORT_CLOSED,
};

struct xport {
	struct loop *loop;
	const struct xport_ops *ops;
	int fd;
	SSL *ssl;
	bool handshake_done;
	bool graceful;
	bool recv_paused;
	enum xport_state state;
	int err;
	struct loop_op recv_op, send_op;
	struct buf out;     /* queued, not yet handed to send */
	struct buf sending; /* in flight */
	size_t sending_off;
	struct loop_task flush_task;
	bool flush_queued;
	struct loop_task close_task;
	struct loop_timer linger;
	bool wr_shut;
	char *scratch; /* SSL_read target */
};

/* Takes ownership of fd and ssl (NULL for clear text). */
void xport_init(struct xport *x, struct loop *l, int fd, SSL *ssl, const struct xport_ops *ops);
/* Start reading (and, for a TLS client, the handshake). */
void xport_start(struct xport *x, bool tls_client);
void xport_write(struct xport *x, const void *p, size_t n);
size_t xport_pending(const struct xport *x);
/* Graceful: stop reading, send what is queued, then close. Otherwise
 * drop everything. on_close follows either way. */
void xport_close(struct xport *x, bool graceful, int err);
/* Stop or resume delivering input (back-pressure). */
void xport_pause(struct xport *x, bool pause);
/* Whether ALPN settled on proto. */
bool xport_alpn_is(const struct xport *x, const char *proto);
/* Free what the transport holds, after on_close. */
void xport_release(struct xport *x);

/* --- HTTP/2 body output shared by server and client (h2common.c) --- */

/* Bytes written by the application, waiting for nghttp2 to take them. */
struct h2_outq {
	struct buf b;
	size_t off;
	bool eof;      /* nothing more will be written */
	bool deferred; /* nghttp2 was told to wait: resume on more data */
};

static inline size_t h2_outq_len(const struct h2_outq *q) { return q->b.len - q->off; }
/* An nghttp2 read callback's body: copy out what is there, defer when
 * empty, flag the end. */
ssize_t h2_outq_pull(struct h2_outq *q, uint8_t *out, size_t length, uint32_t *flags);
void h2_outq_free(struct h2_outq *q);

/* --- server internals --- */

enum conn_proto {
	PROTO_DETECT,
	PROTO_H1,
	PROTO_H2,
	PROTO_UPGRADED,
};

enum h1_state {
	H1_IDLE,     /* waiting for a request */
	H1_HEAD,     /* part of a head has arrived */
	H1_BODY,     /* reading the body */
	H1_HANDLING, /* the handler has the exchange */
};

struct http_conn {
	struct http_server *srv;
	struct xport x;
	enum conn_proto proto;
	struct http_conn *prev, *next;
	struct loop_timer timer;
	char peer[64];
	X509 *peer_cert;

	/* HTTP/1.1 */
	enum h1_state h1;
	struct buf in;
	size_t scan;
	struct http_exchange *cur;
	int64_t body_left;
	bool body_chunked;
	struct h1_chunked chunk;
	struct loop_task resume_task;
	bool resume_queued;
	bool peer_eof;

	/* HTTP/2 */
	nghttp2_session *h2;
	struct loop_task h2_flush_task;
	bool h2_flush_queued;
	unsigned h2_streams;
	struct http_exchange *h2_list; /* exchanges on open streams */

	/* Upgraded */
	struct http_upgraded *up;
};

struct http_exchange {
	struct http_request req;
	struct http_header *hdrs;
	unsigned hdr_cap;
	struct buf strings; /* h2: header names and values */
	char *head_copy;    /* h1: the head bytes the request points into */
	struct buf body;

	struct loop *loop;
	struct http_server *srv;
	struct http_conn *conn; /* NULL once the connection is gone */
	int32_t stream_id;      /* h2 */
	struct http_exchange *h2_prev, *h2_next;
	bool h2_too_large;
	bool dispatched;
	char peer[64];

	/* response */
	int status;
	struct http_header *rh;
	unsigned nrh, rh_cap;
	bool started;
	bool handler_done; /* the handler has finished it */
	bool proto_done;   /* the connection no longer refers to it */
	bool head_only;
	bool chunked;
	bool close_after;
	struct h2_outq rbody; /* h2: DATA not yet taken by nghttp2 */

	size_t low_water;
	bool above_water;
	http_drain_fn drain_fn;
	void *drain_ud;
	http_abort_fn abort_fn;
	void *abort_ud;
	struct loop_task drain_task;
	bool drain_queued;
};

struct http_server {
	struct loop *loop;
	struct http_server_config cfg;
	int fd;
	char address[80];
	unsigned port;
	struct loop_op accept_op;
	struct http_conn *conns;
	struct http_server_stats stats;
	bool closing;
	time_t date_sec;
	char date[40];
};

struct http_exchange *exchange_new(struct http_conn *c);
/* Free when both the handler and the protocol are done with it. */
void exchange_release(struct http_exchange *ex);
/* The connection went away under the exchange. */
void exchange_abort(struct http_exchange *ex);
void exchange_add_header(struct http_exchange *ex, const char *name, const char *value);
void exchange_check_drain(struct http_exchange *ex);
const char *server_date(struct http_server *s);

/* h2 server (h2server.c) */
int h2_server_start(struct http_conn *c, const char *preread, size_t n);
void h2_server_input(struct http_conn *c, const char *p, size_t n);
void h2_server_flush(struct http_conn *c);
void h2_server_close(struct http_conn *c);
void h2_server_goaway(struct http_conn *c);
void h2_respond_start(struct http_exchange *ex, bool has_body, int64_t content_length);
void h2_body_more(struct http_exchange *ex);

/* h1 server (h1server.c) */
void h1_server_input(struct http_conn *c, const char *p, size_t n);
void h1_respond_start(struct http_exchange *ex, int64_t content_length);
void h1_body_write(struct http_exchange *ex, const void *p, size_t len);
void h1_finish(struct http_exchange *ex);
void h1_upgraded_input(struct http_conn *c, const char *p, size_t n);
void h1_upgraded_closed(struct http_conn *c);
void h1_upgraded_drain(struct http_conn *c);

void conn_close(struct http_conn *c, bool graceful);
/* Serve an already connected socket as if it had been accepted (the
 * fuzzer feeds the server through socketpairs this way). */
void http_server_adopt(struct http_server *s, int fd);

/* --- client internals (client.c, h2client.c) --- */

enum cconn_state {
	CC_CONNECTING,
	CC_HANDSHAKE,
	CC_READY,
	CC_CLOSED,
};

struct cconn {
	struct http_client *cl;
	struct xport x;
	bool x_live; /* x was initialised */
	int fd;
	struct loop_op connect_op;
	enum cconn_state state;
	bool was_ready;
	bool h2;
	struct cconn *prev, *next;
	struct loop_timer timer;
	int err;

	/* HTTP/1.1: one call at a time */
	struct http_call *cur;
	unsigned served;
	struct buf in;
	size_t scan;
	bool in_body;
	int64_t body_left; /* -1: until close */
	bool chunked;
	struct h1_chunked chunk;
	bool keep_alive;

	/* HTTP/2 */
	nghttp2_session *h2s;
	struct loop_task flush_task;
	bool flush_queued;
	unsigned streams;
	struct http_call *calls; /* on open streams */
};

struct http_call {
	struct http_client *cl;
	struct cconn *conn;
	struct http_call *next;          /* queue link */
	struct http_call *sprev, *snext; /* cconn->calls link */
	const struct http_call_ops *ops;
	void *ud;
	char *method;
	char *target;
	struct http_header *headers;
	unsigned nheaders;
	struct h2_outq body; /* request body not yet sent; .eof: no more will come */
	bool head_only;
	bool retried;
	bool got_bytes;
	bool done;
	int version;
	int32_t stream_id;
	int status;
	struct buf hstrings; /* h2: response header name\0value\0 pairs */
	unsigned nh;
	bool in_trailers;
};

struct http_client {
	struct loop *loop;
	struct http_client_config cfg;
	char *host;
	char *authority;
	bool https;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct cconn *conns;
	unsigned nconns;
	struct http_call *queue, *queue_tail;
	struct loop_task pump_task;
	bool pump_queued;
	bool freeing;
	unsigned zombies; /* closed while connecting, awaiting their op */
};

void call_finish(struct http_call *call, int err, const struct http_header *trailers, unsigned n);
void client_pump_soon(struct http_client *cl);
void cconn_close(struct cconn *cc, int err);
int h2c_start(struct cconn *cc);
void h2c_input(struct cconn *cc, const char *p, size_t n);
void h2c_submit(struct cconn *cc, struct http_call *call);
void h2c_flush(struct cconn *cc);
void h2c_body_more(struct http_call *call);
void h2c_cancel(struct http_call *call);
void h2c_closed(struct cconn *cc, int err);
