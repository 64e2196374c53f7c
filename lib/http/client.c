/* The HTTP client: a pool of HTTP/1.1 connections or one multiplexed
 * HTTP/2 connection per origin, with calls queued until a connection can
 * take them. */
#include "http/internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/x509v3.h>

static void cconn_on_data(struct xport *x, const char *p, size_t n);
static void cconn_on_handshake(struct xport *x);
static void cconn_on_close(struct xport *x, int err);
static void h1_send(struct cconn *cc, struct http_call *call);
static void cconn_destroy(struct cconn *cc, int err);
static struct http_call *queue_pop(struct http_client *cl);

static const struct xport_ops cconn_ops = {
	.on_data = cconn_on_data,
	.on_handshake = cconn_on_handshake,
	.on_close = cconn_on_close,
};

/* --- URLs --- */

struct url {
	bool https;
	char *host; /* without brackets */
	unsigned port;
	char *authority;
	const char *rest; /* path and query, or "" */
};

static void url_free(struct url *u)
{
	free(u->host);
	free(u->authority);
}

static int url_parse(const char *s, struct url *ret)
{
	struct url u = {0};
	const char *p;

	if (str_has_prefix(s, "https://")) {
		u.https = true;
		p = s + 8;
	} else if (str_has_prefix(s, "http://")) {
		p = s + 7;
	} else {
		return -EINVAL;
	}
	size_t alen = strcspn(p, "/?#");
	u.rest = p + alen;
	u.authority = xstrndup(p, alen);
	const char *port = NULL;
	if (p[0] == '[') {
		const char *e = memchr(p, ']', alen);
		if (!e) {
			url_free(&u);
			return -EINVAL;
		}
		u.host = xstrndup(p + 1, (size_t)(e - p - 1));
		if (e[1] == ':')
			port = e + 2;
	} else {
		const char *c = memchr(p, ':', alen);
		u.host = xstrndup(p, c ? (size_t)(c - p) : alen);
		if (c)
			port = c + 1;
	}
	u.port = u.https ? 443 : 80;
	if (port) {
		uint64_t v;
		size_t n = (size_t)(p + alen - port);
		if (parse_u64(port, n, &v) < 0 || v == 0 || v > 65535) {
			url_free(&u);
			return -EINVAL;
		}
		u.port = (unsigned)v;
	}
	if (!u.host[0]) {
		url_free(&u);
		return -EINVAL;
	}
	*ret = u;
	return 0;
}

static int resolve(const char *host, unsigned port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	char ports[8];

	snprintf(ports, sizeof(ports), "%u", port);
	int r = getaddrinfo(host, ports, &hints, &res);
	if (r != 0 || !res)
		return -EHOSTUNREACH;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* --- calls --- */

static void call_free(struct http_call *call)
{
	free(call->method);
	free(call->target);
	for (unsigned i = 0; i < call->nheaders; i++) {
		free((char *)call->headers[i].name);
		free((char *)call->headers[i].value);
	}
	free(call->headers);
	h2_outq_free(&call->body);
	buf_free(&call->hstrings);
	free(call);
}

void call_finish(struct http_call *call, int err, const struct http_header *trailers, unsigned n)
{
	if (call->done)
		return;
	call->done = true;
	call->conn = NULL;
	call->ops->on_done(call, err, trailers, n, call->ud);
	call_free(call);
}

static void queue_push_front(struct http_client *cl, struct http_call *call)
{
	call->next = cl->queue;
	cl->queue = call;
	if (!cl->queue_tail)
		cl->queue_tail = call;
}

static struct http_call *queue_pop(struct http_client *cl)
{
	struct http_call *call = cl->queue;
	if (call) {
		cl->queue = call->next;
		if (!cl->queue)
			cl->queue_tail = NULL;
		call->next = NULL;
	}
	return call;
}

/* --- connections --- */

static void cconn_timeout(struct loop_timer *t)
{
	struct cconn *cc = container_of(t, struct cconn, timer);
	if (cc->state == CC_READY && !cc->cur && !cc->streams)
		cconn_close(cc, 0); /* idle */
	else if (cc->state != CC_READY) {
		struct http_client *cl = cc->cl;
		cconn_close(cc, -ETIMEDOUT);
		while (cl->queue)
			call_finish(queue_pop(cl), -ETIMEDOUT, NULL, 0);
	}
}

static void cconn_ready(struct cconn *cc)
{
	struct http_client *cl = cc->cl;

	cc->state = CC_READY;
	cc->was_ready = true;
	loop_timer_disarm(cl->loop, &cc->timer);
	if (cc->h2 && h2c_start(cc) < 0) {
		cconn_close(cc, -EPROTO);
		return;
	}
	client_pump_soon(cl);
}

static void connect_done(struct loop_op *op, const struct loop_cqe *c)
{
	struct cconn *cc = container_of(op, struct cconn, connect_op);
	struct http_client *cl = cc->cl;
	SSL *ssl = NULL;
	int one = 1;

	if (cc->state == CC_CLOSED) {
		/* Closed while connecting: now the op is done, it can go. */
		cl->zombies--;
		free(cc);
		return;
	}
	if (c->res < 0) {
		/* Dial errors fail the calls waiting for a connection, as
		 * nothing suggests the next attempt would fare better. */
		cc->state = CC_CLOSED;
		cconn_destroy(cc, c->res);
		free(cc);
		while (cl->queue)
			call_finish(queue_pop(cl), c->res, NULL, 0);
		return;
	}
	setsockopt(cc->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (cl->https) {
		ssl = SSL_new(cl->cfg.tls);
		struct in6_addr a6;
		struct in_addr a4;
		if (inet_pton(AF_INET, cl->host, &a4) == 1 || inet_pton(AF_INET6, cl->host, &a6) == 1) {
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), cl->host);
		} else {
			SSL_set_tlsext_host_name(ssl, cl->host);
			SSL_set1_host(ssl, cl->host);
		}
	}
	xport_init(&cc->x, cl->loop, cc->fd, ssl, &cconn_ops);
	cc->x_live = true;
	cc->fd = -1;
	if (ssl) {
		cc->state = CC_HANDSHAKE;
		xport_start(&cc->x, true);
		return;
	}
	cc->h2 = cl->cfg.h2;
	xport_start(&cc->x, false);
	cconn_ready(cc);
}

static struct cconn *cconn_open(struct http_client *cl)
{
	struct cconn *cc = xnew(struct cconn, 1);

	cc->cl = cl;
	cc->timer.fn = cconn_timeout;
	cc->connect_op.fn = connect_done;
	cc->fd = socket(cl->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cc->next = cl->conns;
	if (cl->conns)
		cl->conns->prev = cc;
	cl->conns = cc;
	cl->nconns++;
	if (cc->fd < 0) {
		cc->state = CC_CLOSED;
		cc->err = -errno;
		return cc;
	}
	loop_connect(cl->loop, &cc->connect_op, cc->fd, (struct sockaddr *)&cl->addr, cl->addrlen);
	loop_timer_arm(cl->loop, &cc->timer, (uint64_t)cl->cfg.connect_timeout_ms * 1000000u);
	return cc;
}

static void cconn_unlink(struct cconn *cc)
{
	struct http_client *cl = cc->cl;
	if (cc->prev)
		cc->prev->next = cc->next;
	else
		cl->conns = cc->next;
	if (cc->next)
		cc->next->prev = cc->prev;
	cl->nconns--;
}

/* Everything about a connection is over: fail or requeue its calls. */
static void cconn_destroy(struct cconn *cc, int err)
{
	struct http_client *cl = cc->cl;

	loop_timer_disarm(cl->loop, &cc->timer);
	cconn_unlink(cc);
	if (cc->cur) {
		struct http_call *call = cc->cur;
		cc->cur = NULL;
		/* A reused keep-alive connection may have been closed by the
		 * server just as we wrote: try such a call once more. */
		if (!call->got_bytes && !call->retried && cc->served > 0 && !cl->freeing &&
		    call->body.eof && !err) {
			call->retried = true;
			call->conn = NULL;
			queue_push_front(cl, call);
		} else if (cc->in_body && cc->body_left < 0 && !cc->chunked && !err) {
			call_finish(call, 0, NULL, 0); /* body delimited by the close */
		} else {
			call_finish(call, err ? err : -ECONNRESET, NULL, 0);
		}
	}
	if (cc->h2s)
		h2c_closed(cc, err ? err : -ECONNRESET);
	buf_free(&cc->in);
	if (cc->x_live)
		xport_release(&cc->x);
	if (cc->fd >= 0)
		close(cc->fd);
	/* A connection that failed before it could carry a request (TLS
	 * refused, connection reset during the handshake) fails the calls
	 * waiting for it rather than dialing again and again. */
	if (!cc->was_ready && !cl->freeing)
		while (cl->queue)
			call_finish(queue_pop(cl), err ? err : -ECONNRESET, NULL, 0);
	if (!cl->freeing)
		client_pump_soon(cl);
}

void cconn_close(struct cconn *cc, int err)
{
	if (!cc->err)
		cc->err = err;
	if (cc->x_live) {
		xport_close(&cc->x, false, err);
		return;
	}
	if (cc->state == CC_CLOSED && !cc->connect_op.busy) {
		cconn_destroy(cc, cc->err);
		free(cc);
		return;
	}
	/* Still connecting: cancel; connect_done frees it. */
	if (cc->state != CC_CLOSED && cc->connect_op.busy) {
		cc->state = CC_CLOSED;
		cc->cl->zombies++;
		loop_cancel(cc->cl->loop, &cc->connect_op);
		cconn_destroy(cc, cc->err);
	}
}

static void cconn_on_close(struct xport *x, int err)
{
	struct cconn *cc = container_of(x, struct cconn, x);
	cc->state = CC_CLOSED;
	cconn_destroy(cc, cc->err ? cc->err : err);
	free(cc);
}

static void cconn_on_handshake(struct xport *x)
{
	struct cconn *cc = container_of(x, struct cconn, x);
	cc->h2 = xport_alpn_is(x, "h2");
	cconn_ready(cc);
}

/* --- HTTP/1.1 requests and responses --- */

static void h1_send(struct cconn *cc, struct http_call *call)
{
	struct http_client *cl = cc->cl;
	struct buf b = {0};

	cc->cur = call;
	call->conn = cc;
	call->version = 11;
	cc->in_body = false;
	cc->scan = 0;
	buf_printf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", call->method, call->target, cl->authority);
	for (unsigned i = 0; i < call->nheaders; i++)
		buf_printf(&b, "%s: %s\r\n", call->headers[i].name, call->headers[i].value);
	if (!call->body.eof)
		buf_puts(&b, "Transfer-Encoding: chunked\r\n");
	else if (call->body.b.len || !streq(call->method, "GET"))
		buf_printf(&b, "Content-Length: %zu\r\n", call->body.b.len);
	buf_puts(&b, "\r\n");
	xport_write(&cc->x, b.data, b.len);
	buf_free(&b);
	struct buf *body = &call->body.b;
	if (call->body.eof) {
		xport_write(&cc->x, body->data, body->len);
	} else if (body->len) {
		char hdr[24];
		int n = snprintf(hdr, sizeof(hdr), "%zx\r\n", body->len);
		xport_write(&cc->x, hdr, (size_t)n);
		xport_write(&cc->x, body->data, body->len);
		xport_write(&cc->x, "\r\n", 2);
	}
	buf_clear(body);
}

static void h1_call_done(struct cconn *cc)
{
	struct http_call *call = cc->cur;

	cc->cur = NULL;
	cc->served++;
	call_finish(call, 0, NULL, 0);
	if (!cc->keep_alive) {
		cconn_close(cc, 0);
		return;
	}
	loop_timer_arm(cc->cl->loop, &cc->timer, 90ull * 1000000000u);
	client_pump_soon(cc->cl);
}

static void h1_response_input(struct cconn *cc)
{
	while (cc->cur && cc->in.len) {
		struct http_call *call = cc->cur;
		if (!cc->in_body) {
			size_t end = h1_find_head_end(cc->in.data, cc->in.len, &cc->scan);
			if (!end) {
				if (cc->in.len > 1024 * 1024)
					cconn_close(cc, -EMSGSIZE);
				return;
			}
			struct h1_head h;
			const char *err;
			_cleanup_free_ char *head = xstrndup(cc->in.data, end);
			buf_consume(&cc->in, end);
			cc->scan = 0;
			if (h1_parse_response(head, end, &h, &err) < 0) {
				cconn_close(cc, -EPROTO);
				return;
			}
			if (h.status < 200 && h.status != 101)
				continue; /* 100 Continue and friends */
			cc->keep_alive = h.keep_alive;
			cc->in_body = true;
			cc->chunked = h.chunked;
			cc->chunk = (struct h1_chunked){0};
			call->status = h.status;
			if (call->head_only || h.status == 204 || h.status == 304 || h.status == 101)
				cc->body_left = 0;
			else if (h.chunked)
				cc->body_left = 0;
			else if (h.content_length >= 0)
				cc->body_left = h.content_length;
			else {
				cc->body_left = -1;
				cc->keep_alive = false;
			}
			call->ops->on_headers(call, h.status, h.headers, h.nheaders, call->ud);
			if (cc->cur != call)
				return; /* cancelled from the callback */
			if (!cc->chunked && cc->body_left == 0) {
				h1_call_done(cc);
				continue;
			}
			continue;
		}
		if (cc->chunked) {
			struct buf out = {0};
			const char *err;
			ssize_t r = h1_chunked_decode(&cc->chunk, cc->in.data, cc->in.len, &out,
						      SIZE_MAX / 2, &err);
			if (r < 0) {
				buf_free(&out);
				cconn_close(cc, -EPROTO);
				return;
			}
			buf_consume(&cc->in, (size_t)r);
			if (out.len)
				call->ops->on_data(call, out.data, out.len, call->ud);
			buf_free(&out);
			if (cc->cur != call)
				return;
			if (cc->chunk.done)
				h1_call_done(cc);
			continue;
		}
		size_t take = cc->body_left < 0 ? cc->in.len
						 : (size_t)MIN((int64_t)cc->in.len, cc->body_left);
		call->ops->on_data(call, cc->in.data, take, call->ud);
		if (cc->cur != call)
			return;
		buf_consume(&cc->in, take);
		if (cc->body_left > 0) {
			cc->body_left -= (int64_t)take;
			if (!cc->body_left)
				h1_call_done(cc);
		}
	}
}

static void cconn_on_data(struct xport *x, const char *p, size_t n)
{
	struct cconn *cc = container_of(x, struct cconn, x);

	if (cc->h2) {
		h2c_input(cc, p, n);
		return;
	}
	if (!cc->cur) {
		cconn_close(cc, -EPROTO); /* bytes nobody asked for */
		return;
	}
	cc->cur->got_bytes = true;
	buf_append(&cc->in, p, n);
	h1_response_input(cc);
}

/* --- dispatching queued calls --- */

static void pump(struct loop_task *t)
{
	struct http_client *cl = container_of(t, struct http_client, pump_task);
	bool pending_proto = false;

	cl->pump_queued = false;
	while (cl->queue) {
		struct cconn *h2 = NULL, *idle = NULL;
		for (struct cconn *cc = cl->conns; cc; cc = cc->next) {
			if (cc->state != CC_READY) {
				/* https with h2 offered: ALPN decides the rest. */
				pending_proto |= cc->state != CC_CLOSED && cl->https && cl->cfg.h2;
				continue;
			}
			if (cc->h2)
				h2 = cc;
			else if (!cc->cur && !idle)
				idle = cc;
		}
		if (h2) {
			h2c_submit(h2, queue_pop(cl));
			continue;
		}
		if (idle) {
			loop_timer_disarm(cl->loop, &idle->timer);
			h1_send(idle, queue_pop(cl));
			continue;
		}
		unsigned opening = 0;
		for (struct cconn *cc = cl->conns; cc; cc = cc->next)
			opening += cc->state == CC_CONNECTING || cc->state == CC_HANDSHAKE;
		if (pending_proto || opening >= 1 + (cl->queue != cl->queue_tail) ||
		    cl->nconns >= (cl->cfg.h2 ? 1 : cl->cfg.max_h1_connections))
			return;
		struct cconn *cc = cconn_open(cl);
		if (cc->state == CC_CLOSED) {
			int err = cc->err;
			cconn_destroy(cc, err);
			free(cc);
			while (cl->queue)
				call_finish(queue_pop(cl), err, NULL, 0);
			return;
		}
	}
}

void client_pump_soon(struct http_client *cl)
{
	if (cl->pump_queued || cl->freeing)
		return;
	cl->pump_queued = true;
	cl->pump_task.fn = pump;
	loop_defer(cl->loop, &cl->pump_task);
}

/* --- public API --- */

int http_client_new(struct loop *l, const struct http_client_config *cfg,
		    struct http_client **ret)
{
	struct url u;
	int r = url_parse(cfg->url, &u);

	if (r < 0)
		return r;
	if (u.https && !cfg->tls) {
		url_free(&u);
		return -EINVAL;
	}
	struct http_client *cl = xnew(struct http_client, 1);
	cl->loop = l;
	cl->cfg = *cfg;
	cl->cfg.url = NULL;
	if (!cl->cfg.max_h1_connections)
		cl->cfg.max_h1_connections = 8;
	if (!cl->cfg.connect_timeout_ms)
		cl->cfg.connect_timeout_ms = 10000;
	cl->https = u.https;
	cl->host = TAKE_PTR(u.host);
	cl->authority = TAKE_PTR(u.authority);
	url_free(&u);
	r = resolve(cl->host, u.port, &cl->addr, &cl->addrlen);
	if (r < 0) {
		free(cl->host);
		free(cl->authority);
		free(cl);
		return r;
	}
	if (cl->cfg.tls)
		SSL_CTX_up_ref(cl->cfg.tls);
	*ret = cl;
	return 0;
}

struct http_client *http_client_free(struct http_client *cl)
{
	if (!cl)
		return NULL;
	cl->freeing = true;
	while (cl->queue)
		call_finish(queue_pop(cl), -ECANCELED, NULL, 0);
	for (struct cconn *cc = cl->conns; cc; cc = cc->next)
		if (cc->state != CC_CLOSED || cc->x_live)
			cconn_close(cc, -ECANCELED);
	/* Let the loop reap connections (their ops must complete first). */
	while (cl->conns || cl->pump_queued || cl->zombies)
		loop_run_once(cl->loop, 100 * 1000000u);
	if (cl->cfg.tls)
		SSL_CTX_free(cl->cfg.tls);
	free(cl->host);
	free(cl->authority);
	free(cl);
	return NULL;
}

int http_client_call(struct http_client *cl, const struct http_call_request *req,
		     const struct http_call_ops *ops, void *ud, struct http_call **ret)
{
	if (!req->method || !req->target || req->target[0] != '/' || strpbrk(req->target, " \r\n"))
		return -EINVAL;
	struct http_call *call = xnew(struct http_call, 1);
	call->cl = cl;
	call->ops = ops;
	call->ud = ud;
	call->method = xstrdup(req->method);
	call->target = xstrdup(req->target);
	call->head_only = streq(req->method, "HEAD");
	call->headers = xnew(struct http_header, req->nheaders);
	for (unsigned i = 0; i < req->nheaders; i++) {
		if (strpbrk(req->headers[i].name, "\r\n:") || strpbrk(req->headers[i].value, "\r\n"))
			continue;
		call->headers[call->nheaders++] = (struct http_header){
			xstrdup(req->headers[i].name), xstrdup(req->headers[i].value)};
	}
	buf_append(&call->body.b, req->body, req->body_len);
	call->body.eof = !req->stream_body;
	call->next = NULL;
	if (cl->queue_tail)
		cl->queue_tail->next = call;
	else
		cl->queue = call;
	cl->queue_tail = call;
	client_pump_soon(cl);
	if (ret)
		*ret = call;
	return 0;
}

void http_call_write(struct http_call *call, const void *p, size_t len)
{
	if (call->body.eof || call->done || !len)
		return;
	struct cconn *cc = call->conn;
	if (cc && !cc->h2 && cc->cur == call) {
		char hdr[24];
		int n = snprintf(hdr, sizeof(hdr), "%zx\r\n", len);
		xport_write(&cc->x, hdr, (size_t)n);
		xport_write(&cc->x, p, len);
		xport_write(&cc->x, "\r\n", 2);
		return;
	}
	buf_append(&call->body.b, p, len);
	if (cc && cc->h2)
		h2c_body_more(call);
}

void http_call_end_body(struct http_call *call)
{
	if (call->body.eof || call->done)
		return;
	call->body.eof = true;
	struct cconn *cc = call->conn;
	if (cc && !cc->h2 && cc->cur == call)
		xport_write(&cc->x, "0\r\n\r\n", 5);
	else if (cc && cc->h2)
		h2c_body_more(call);
}

void http_call_cancel(struct http_call *call)
{
	struct http_client *cl = call->cl;

	if (call->done)
		return;
	struct cconn *cc = call->conn;
	if (!cc) {
		/* Still queued. */
		struct http_call **pp = &cl->queue, *prev = NULL;
		while (*pp && *pp != call) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		if (*pp) {
			*pp = call->next;
			if (cl->queue_tail == call)
				cl->queue_tail = prev;
		}
		call_finish(call, -ECANCELED, NULL, 0);
		return;
	}
	if (cc->h2) {
		h2c_cancel(call);
		return;
	}
	/* HTTP/1.1 cannot abandon a response half-read: drop the connection. */
	cc->cur = NULL;
	call_finish(call, -ECANCELED, NULL, 0);
	cconn_close(cc, -ECANCELED);
}

int http_call_version(const struct http_call *call) { return call->version; }

/* --- blocking fetch --- */

struct fetch_state {
	int status;
	struct buf body;
	int err;
	bool done;
};

static void fetch_headers(struct http_call *c, int status, const struct http_header *h,
			  unsigned n, void *ud)
{
	((struct fetch_state *)ud)->status = status;
}

static void fetch_data(struct http_call *c, const char *p, size_t len, void *ud)
{
	buf_append(&((struct fetch_state *)ud)->body, p, len);
}

static void fetch_done(struct http_call *c, int err, const struct http_header *t, unsigned n,
		       void *ud)
{
	struct fetch_state *st = ud;
	st->err = err;
	st->done = true;
}

static const struct http_call_ops fetch_ops = {fetch_headers, fetch_data, fetch_done};

int http_fetch(const struct http_fetch *f, int *ret_status, struct buf *ret_body)
{
	struct loop *l = NULL;
	struct http_client *cl = NULL;
	struct fetch_state st = {0};
	struct url u;
	int r;

	r = url_parse(f->url, &u);
	if (r < 0)
		return r;
	_cleanup_free_ char *origin = xasprintf("%s://%s", u.https ? "https" : "http", u.authority);
	const char *target = u.rest[0] ? u.rest : "/";
	r = loop_new(&(struct loop_config){.buf_count = 16}, &l);
	if (r < 0)
		goto out;
	r = http_client_new(l, &(struct http_client_config){.url = origin, .tls = f->tls, .h2 = f->h2},
			    &cl);
	if (r < 0)
		goto out;
	r = http_client_call(cl,
			     &(struct http_call_request){.method = f->method ? f->method : "GET",
							 .target = target,
							 .headers = f->headers,
							 .nheaders = f->nheaders,
							 .body = f->body,
							 .body_len = f->body_len},
			     &fetch_ops, &st, NULL);
	if (r < 0)
		goto out;
	uint64_t end = now_mono_ns() + (uint64_t)(f->timeout_ms ? f->timeout_ms : 10000) * 1000000u;
	while (!st.done && now_mono_ns() < end)
		loop_run_once(l, 50 * 1000000u);
	r = st.done ? st.err : -ETIMEDOUT;
out:
	http_client_free(cl);
	loop_free(l);
	url_free(&u);
	if (r == 0) {
		*ret_status = st.status;
		*ret_body = st.body;
	} else {
		buf_free(&st.body);
	}
	return r;
}
