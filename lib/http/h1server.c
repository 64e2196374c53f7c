/* HTTP/1.1 on a server connection: one request at a time (pipelined input
 * waits in the buffer), Content-Length and chunked bodies, keep-alive,
 * and the hand-over of the connection after a 101. */
#include "http/internal.h"

#include <ctype.h>
#include <stdio.h>

struct http_upgraded {
	struct http_conn *conn;
	const struct http_upgrade_ops *ops;
	void *ud;
};

static void h1_process(struct http_conn *c);

static void arm(struct http_conn *c, unsigned ms)
{
	loop_timer_arm(c->srv->loop, &c->timer, (uint64_t)ms * 1000000u);
}

/* An answer to a request we could not even parse: no exchange exists. */
static void raw_error(struct http_conn *c, int status, const char *msg)
{
	struct buf b = {0};
	_cleanup_free_ char *body = xasprintf("%d %s: %s\n", status, http_status_text(status), msg);

	c->srv->stats.bad_requests++;
	log_debug(c->srv->cfg.log, "bad request", LOG_S("peer", c->peer), LOG_I("status", status),
		  LOG_S("reason", msg));
	buf_printf(&b,
		   "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		   status, http_status_text(status), strlen(body), body);
	xport_write(&c->x, b.data, b.len);
	buf_free(&b);
	c->h1 = H1_HANDLING;
	loop_timer_disarm(c->srv->loop, &c->timer);
	conn_close(c, true);
}

static void dispatch(struct http_conn *c)
{
	struct http_exchange *ex = c->cur;
	struct http_server *s = c->srv;

	c->h1 = H1_HANDLING;
	ex->dispatched = true;
	loop_timer_disarm(s->loop, &c->timer);
	ex->req.body = ex->body.data ? ex->body.data : "";
	ex->req.body_len = ex->body.len;
	if (s->cfg.handler)
		s->cfg.handler(ex, s->cfg.handler_ud);
	else
		http_respond_text(ex, 404, "404 page not found");
}

/* A request refused after its head was read (its body may be unread). */
static void request_error(struct http_conn *c, int status, const char *msg)
{
	struct http_exchange *ex = c->cur;
	struct http_server *s = c->srv;

	s->stats.bad_requests++;
	ex->close_after = true;
	ex->dispatched = true;
	c->h1 = H1_HANDLING;
	loop_timer_disarm(s->loop, &c->timer);
	if (s->cfg.error_fn)
		s->cfg.error_fn(ex, status, msg, s->cfg.error_ud);
	else
		http_respond_text(ex, status, msg);
}

static void start_request(struct http_conn *c, size_t head_len)
{
	struct http_server *s = c->srv;
	struct http_exchange *ex = exchange_new(c);
	struct h1_head h;
	const char *err = NULL;

	ex->head_copy = xmalloc(head_len + 1);
	memcpy(ex->head_copy, c->in.data, head_len);
	ex->head_copy[head_len] = '\0';
	buf_consume(&c->in, head_len);
	c->scan = 0;

	int r = h1_parse_request(ex->head_copy, head_len, &h, &err);
	if (r < 0) {
		ex->handler_done = ex->proto_done = true;
		exchange_release(ex);
		raw_error(c, -r, err);
		return;
	}
	ex->hdrs = xnew(struct http_header, h.nheaders);
	memcpy(ex->hdrs, h.headers, h.nheaders * sizeof(*ex->hdrs));
	ex->req.headers = ex->hdrs;
	ex->req.nheaders = h.nheaders;
	ex->req.method = h.method;
	ex->req.path = h.path;
	ex->req.query = h.query;
	ex->req.authority = h.host ? h.host : "";
	ex->req.version = h.version;
	ex->req.body = "";
	ex->head_only = streq(h.method, "HEAD");
	ex->close_after = !h.keep_alive;
	c->cur = ex;

	bool has_body = h.chunked || h.content_length > 0;
	if (h.chunked) {
		c->body_chunked = true;
		c->chunk = (struct h1_chunked){0};
	} else if (h.content_length > 0) {
		c->body_chunked = false;
		c->body_left = h.content_length;
		if ((uint64_t)h.content_length > s->cfg.max_body_bytes) {
			_cleanup_free_ char *msg = xasprintf("Request entity too large: limit is %zu",
							     s->cfg.max_body_bytes);
			request_error(c, 413, msg);
			return;
		}
	}
	if (!has_body) {
		dispatch(c);
		return;
	}
	if (h.expect_continue) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		xport_write(&c->x, cont, sizeof(cont) - 1);
	}
	c->h1 = H1_BODY;
}

static void read_body(struct http_conn *c)
{
	struct http_exchange *ex = c->cur;
	struct http_server *s = c->srv;

	if (c->body_chunked) {
		const char *err = NULL;
		ssize_t r = h1_chunked_decode(&c->chunk, c->in.data, c->in.len, &ex->body,
					      s->cfg.max_body_bytes, &err);
		if (r < 0) {
			_cleanup_free_ char *msg =
				r == -413 ? xasprintf("Request entity too large: limit is %zu",
						      s->cfg.max_body_bytes)
					  : xstrdup(err);
			request_error(c, (int)-r, msg);
			return;
		}
		buf_consume(&c->in, (size_t)r);
		if (c->chunk.done)
			dispatch(c);
		return;
	}
	size_t take = (size_t)MIN((int64_t)c->in.len, c->body_left);
	buf_append(&ex->body, c->in.data, take);
	buf_consume(&c->in, take);
	c->body_left -= (int64_t)take;
	if (!c->body_left)
		dispatch(c);
}

static void h1_process(struct http_conn *c)
{
	struct http_server *s = c->srv;

	while (c->x.state == XPORT_OPEN && c->proto == PROTO_H1) {
		switch (c->h1) {
		case H1_HANDLING:
			/* Pipelined input waits; stop reading if it piles up. */
			if (c->in.len > s->cfg.max_header_bytes + 65536)
				xport_pause(&c->x, true);
			return;
		case H1_IDLE: {
			size_t skip = 0;
			while (skip < c->in.len && (c->in.data[skip] == '\r' || c->in.data[skip] == '\n'))
				skip++;
			buf_consume(&c->in, skip);
			if (!c->in.len)
				return;
			c->h1 = H1_HEAD;
			c->scan = 0;
			arm(c, s->cfg.header_timeout_ms);
			break;
		}
		case H1_HEAD: {
			size_t lim = MIN(c->in.len, s->cfg.max_header_bytes + 4);
			size_t end = h1_find_head_end(c->in.data, lim, &c->scan);
			if (!end) {
				if (c->in.len > s->cfg.max_header_bytes)
					raw_error(c, 431, "request header fields too large");
				return;
			}
			start_request(c, end);
			break;
		}
		case H1_BODY:
			if (!c->in.len)
				return;
			read_body(c);
			break;
		}
	}
}

void h1_server_input(struct http_conn *c, const char *p, size_t n)
{
	if (n)
		buf_append(&c->in, p, n);
	h1_process(c);
}

static void resume_run(struct loop_task *t)
{
	struct http_conn *c = container_of(t, struct http_conn, resume_task);

	c->resume_queued = false;
	if (c->proto == PROTO_H1) {
		h1_process(c);
	} else if (c->proto == PROTO_UPGRADED && c->up && c->in.len) {
		/* Bytes that came along with the upgrade request. */
		struct buf in = c->in;
		c->in = (struct buf){0};
		c->up->ops->on_data(c->up, in.data, in.len, c->up->ud);
		buf_free(&in);
	}
}

static void queue_resume(struct http_conn *c)
{
	if (c->resume_queued)
		return;
	c->resume_queued = true;
	c->resume_task.fn = resume_run;
	loop_defer(c->srv->loop, &c->resume_task);
}

/* --- responses --- */

static bool status_has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

/* Header names go out in the canonical case HTTP/1.1 clients expect
 * ("Content-Type"); HTTP/2 keeps them lowercase. */
static void put_name(struct buf *b, const char *name)
{
	bool up = true;
	for (const char *p = name; *p; p++) {
		buf_putc(b, up ? (char)toupper((unsigned char)*p) : *p);
		up = *p == '-';
	}
}

void h1_respond_start(struct http_exchange *ex, int64_t content_length)
{
	struct http_conn *c = ex->conn;
	struct buf b = {0};

	buf_printf(&b, "HTTP/1.1 %d %s\r\n", ex->status, http_status_text(ex->status));
	for (unsigned i = 0; i < ex->nrh; i++) {
		put_name(&b, ex->rh[i].name);
		buf_printf(&b, ": %s\r\n", ex->rh[i].value);
	}
	buf_printf(&b, "Date: %s\r\n", server_date(c->srv));
	if (!status_has_body(ex->status)) {
		/* no framing */
	} else if (content_length >= 0) {
		buf_printf(&b, "Content-Length: %lld\r\n", (long long)content_length);
	} else if (ex->req.version >= 11) {
		buf_puts(&b, "Transfer-Encoding: chunked\r\n");
		ex->chunked = true;
	} else {
		/* HTTP/1.0 has no chunking: the end of the body is the close. */
		ex->close_after = true;
	}
	if (ex->close_after || c->peer_eof)
		buf_puts(&b, "Connection: close\r\n");
	buf_puts(&b, "\r\n");
	xport_write(&c->x, b.data, b.len);
	buf_free(&b);
}

void h1_body_write(struct http_exchange *ex, const void *p, size_t len)
{
	struct xport *x = &ex->conn->x;

	if (ex->head_only || !status_has_body(ex->status))
		return;
	if (ex->chunked) {
		char hdr[24];
		int n = snprintf(hdr, sizeof(hdr), "%zx\r\n", len);
		xport_write(x, hdr, (size_t)n);
		xport_write(x, p, len);
		xport_write(x, "\r\n", 2);
	} else {
		xport_write(x, p, len);
	}
}

void h1_finish(struct http_exchange *ex)
{
	struct http_conn *c = ex->conn;

	if (ex->chunked && !ex->head_only)
		xport_write(&c->x, "0\r\n\r\n", 5);
	c->cur = NULL;
	ex->conn = NULL;
	ex->proto_done = true;
	c->h1 = H1_IDLE;
	if (ex->close_after || c->peer_eof) {
		conn_close(c, true);
		return;
	}
	arm(c, c->srv->cfg.idle_timeout_ms);
	xport_pause(&c->x, false);
	if (c->in.len)
		queue_resume(c);
}

/* --- upgrades --- */

int http_upgrade(struct http_exchange *ex, const struct http_upgrade_ops *ops, void *ud,
		 struct http_upgraded **ret)
{
	struct http_conn *c = ex->conn;
	struct buf b = {0};

	if (!c || c->proto != PROTO_H1 || ex->started || ex->handler_done)
		return c && c->proto == PROTO_H2 ? -EPROTO : -ENOTCONN;
	buf_puts(&b, "HTTP/1.1 101 Switching Protocols\r\n");
	for (unsigned i = 0; i < ex->nrh; i++) {
		put_name(&b, ex->rh[i].name);
		buf_printf(&b, ": %s\r\n", ex->rh[i].value);
	}
	buf_puts(&b, "\r\n");
	xport_write(&c->x, b.data, b.len);
	buf_free(&b);

	struct http_upgraded *u = xnew(struct http_upgraded, 1);
	u->conn = c;
	u->ops = ops;
	u->ud = ud;
	c->up = u;
	c->proto = PROTO_UPGRADED;
	c->cur = NULL;
	loop_timer_disarm(c->srv->loop, &c->timer);
	ex->started = ex->handler_done = ex->proto_done = true;
	ex->conn = NULL;
	exchange_release(ex);
	xport_pause(&c->x, false);
	if (c->in.len)
		queue_resume(c);
	*ret = u;
	return 0;
}

void h1_upgraded_input(struct http_conn *c, const char *p, size_t n)
{
	struct http_upgraded *u = c->up;
	if (c->in.len) {
		/* Keep order with bytes that came along with the request. */
		buf_append(&c->in, p, n);
		return;
	}
	u->ops->on_data(u, p, n, u->ud);
}

void h1_upgraded_drain(struct http_conn *c)
{
	struct http_upgraded *u = c->up;
	if (u && u->ops->on_drain)
		u->ops->on_drain(u, u->ud);
}

void h1_upgraded_closed(struct http_conn *c)
{
	struct http_upgraded *u = c->up;
	c->up = NULL;
	u->conn = NULL;
	if (u->ops->on_close)
		u->ops->on_close(u, u->ud);
	free(u);
}

void http_upgraded_write(struct http_upgraded *u, const void *p, size_t len)
{
	if (u->conn)
		xport_write(&u->conn->x, p, len);
}

size_t http_upgraded_buffered(const struct http_upgraded *u)
{
	return u->conn ? xport_pending(&u->conn->x) : 0;
}

void http_upgraded_close(struct http_upgraded *u)
{
	if (u->conn)
		conn_close(u->conn, true);
}
