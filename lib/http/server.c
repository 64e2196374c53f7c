/* The HTTP server: listener, connections, protocol detection, and the
 * exchange API shared by HTTP/1.1 (h1server.c) and HTTP/2 (h2server.c). */
#include "http/internal.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <time.h>

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/* --- listening --- */

static int parse_listen(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	_cleanup_free_ char *host = NULL;
	const char *port;

	if (spec[0] == '[') {
		const char *e = strchr(spec, ']');
		if (!e || e[1] != ':')
			return -EINVAL;
		host = xstrndup(spec + 1, (size_t)(e - spec - 1));
		port = e + 2;
	} else {
		const char *c = strrchr(spec, ':');
		if (!c)
			return -EINVAL;
		host = xstrndup(spec, (size_t)(c - spec));
		port = c + 1;
	}
	uint64_t p;
	if (parse_u64(port, strlen(port), &p) < 0 || p > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (!*host || streq(host, "0.0.0.0")) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		*len = sizeof(*in);
		return 0;
	}
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)p);
		*len = sizeof(*in);
		return 0;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)p);
		*len = sizeof(*in6);
		return 0;
	}
	if (streq(host, "localhost")) {
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in->sin_port = htons((uint16_t)p);
		*len = sizeof(*in);
		return 0;
	}
	return -EINVAL;
}

static void format_addr(const struct sockaddr *sa, char *out, size_t n, unsigned *ret_port)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(out, n, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(out, n, "[%s]:%u", host, port);
	} else {
		snprintf(out, n, "unix");
	}
	if (ret_port)
		*ret_port = port;
}

/* --- connections --- */

static void conn_on_data(struct xport *x, const char *p, size_t n);
static void conn_on_handshake(struct xport *x);
static void conn_on_drain(struct xport *x);
static void conn_on_eof(struct xport *x);
static void conn_on_close(struct xport *x, int err);

static const struct xport_ops conn_ops = {
	.on_data = conn_on_data,
	.on_handshake = conn_on_handshake,
	.on_drain = conn_on_drain,
	.on_eof = conn_on_eof,
	.on_close = conn_on_close,
};

static void conn_timer(struct loop_timer *t)
{
	struct http_conn *c = container_of(t, struct http_conn, timer);

	if (c->proto == PROTO_H1 && (c->h1 == H1_HEAD || c->h1 == H1_BODY)) {
		/* Slow or stalled client: say so, then go. */
		static const char msg[] = "HTTP/1.1 408 Request Timeout\r\nContent-Type: text/plain; "
					  "charset=utf-8\r\nContent-Length: 16\r\nConnection: close\r\n\r\n"
					  "request timeout\n";
		xport_write(&c->x, msg, sizeof(msg) - 1);
	}
	if (c->proto == PROTO_H2) {
		if (c->h2_streams)
			return;
		h2_server_goaway(c);
	}
	log_debug(c->srv->cfg.log, "closing idle connection", LOG_S("peer", c->peer));
	conn_close(c, true);
}

static void server_accept(struct http_server *s, int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	SSL *ssl = NULL;
	int one = 1;

	if (s->stats.connections_open >= s->cfg.max_connections || s->closing) {
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->cfg.tls) {
		ssl = SSL_new(s->cfg.tls);
		if (!ssl) {
			close(fd);
			return;
		}
	}
	struct http_conn *c = xnew(struct http_conn, 1);
	c->srv = s;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		format_addr((struct sockaddr *)&ss, c->peer, sizeof(c->peer), NULL);
	xport_init(&c->x, s->loop, fd, ssl, &conn_ops);
	c->timer.fn = conn_timer;
	c->proto = ssl ? PROTO_H1 : PROTO_DETECT;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->stats.connections_accepted++;
	s->stats.connections_open++;
	loop_timer_arm(s->loop, &c->timer, (uint64_t)s->cfg.header_timeout_ms * 1000000u);
	xport_start(&c->x, false);
}

void http_server_adopt(struct http_server *s, int fd)
{
	server_accept(s, fd);
}

static void accept_done(struct loop_op *op, const struct loop_cqe *cq)
{
	struct http_server *s = container_of(op, struct http_server, accept_op);

	if (cq->res >= 0) {
		server_accept(s, cq->res);
	} else if (cq->res != -ECANCELED && !s->closing) {
		/* Closing, the fd may go before the cancel lands: EBADF then. */
		log_warn(s->cfg.log, "accept failed", LOG_ERR(cq->res));
	}
	if (!cq->more && !s->closing)
		loop_accept_multishot(s->loop, &s->accept_op, s->fd);
}

void conn_close(struct http_conn *c, bool graceful)
{
	xport_close(&c->x, graceful, 0);
}

static void conn_on_handshake(struct xport *x)
{
	struct http_conn *c = container_of(x, struct http_conn, x);

	c->peer_cert = SSL_get1_peer_certificate(x->ssl);
	if (xport_alpn_is(x, "h2")) {
		c->proto = PROTO_H2;
		if (h2_server_start(c, NULL, 0) < 0)
			conn_close(c, false);
	}
}

static void conn_on_data(struct xport *x, const char *p, size_t n)
{
	struct http_conn *c = container_of(x, struct http_conn, x);

	switch (c->proto) {
	case PROTO_DETECT: {
		/* Clear text: HTTP/2 with prior knowledge starts with the
		 * connection preface, anything else is HTTP/1.x. */
		buf_append(&c->in, p, n);
		size_t m = MIN(c->in.len, sizeof(h2_preface) - 1);
		if (memcmp(c->in.data, h2_preface, m) != 0) {
			c->proto = PROTO_H1;
			h1_server_input(c, NULL, 0);
		} else if (m == sizeof(h2_preface) - 1) {
			c->proto = PROTO_H2;
			struct buf pre = c->in;
			c->in = (struct buf){0};
			if (h2_server_start(c, pre.data, pre.len) < 0)
				conn_close(c, false);
			buf_free(&pre);
		}
		break;
	}
	case PROTO_H1:
		h1_server_input(c, p, n);
		break;
	case PROTO_H2:
		h2_server_input(c, p, n);
		break;
	case PROTO_UPGRADED:
		h1_upgraded_input(c, p, n);
		break;
	}
}

static void conn_on_drain(struct xport *x)
{
	struct http_conn *c = container_of(x, struct http_conn, x);

	if (c->proto == PROTO_H2)
		h2_server_flush(c);
	else if (c->proto == PROTO_H1 && c->cur)
		exchange_check_drain(c->cur);
	else if (c->proto == PROTO_UPGRADED)
		h1_upgraded_drain(c);
}

static void conn_on_eof(struct xport *x)
{
	struct http_conn *c = container_of(x, struct http_conn, x);

	/* A client may half-close after its last request and still wait for
	 * the answer: finish the exchange in hand first. Once a response is
	 * streaming (a watch), EOF means the client is gone, as Go's server
	 * takes it. */
	if (c->proto == PROTO_H1 && c->h1 == H1_HANDLING && c->cur && !c->cur->started) {
		c->peer_eof = true;
		xport_pause(x, true);
		return;
	}
	conn_close(c, c->proto != PROTO_H1 || c->h1 != H1_HANDLING);
}

static void conn_on_close(struct xport *x, int err)
{
	struct http_conn *c = container_of(x, struct http_conn, x);
	struct http_server *s = c->srv;

	loop_timer_disarm(s->loop, &c->timer);
	if (c->cur) {
		struct http_exchange *ex = c->cur;
		c->cur = NULL;
		exchange_abort(ex);
	}
	if (c->h2)
		h2_server_close(c);
	if (c->up)
		h1_upgraded_closed(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->stats.connections_open--;
	if (c->peer_cert)
		X509_free(c->peer_cert);
	buf_free(&c->in);
	xport_release(&c->x);
	free(c);
}

/* --- server --- */

int http_server_new(struct loop *l, const struct http_server_config *cfg,
		    struct http_server **ret)
{
	struct http_server *s = xnew(struct http_server, 1);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int r;

	s->loop = l;
	s->cfg = *cfg;
	if (!s->cfg.max_header_bytes)
		s->cfg.max_header_bytes = 64 * 1024;
	if (!s->cfg.max_body_bytes)
		s->cfg.max_body_bytes = 3 * 1024 * 1024;
	if (!s->cfg.header_timeout_ms)
		s->cfg.header_timeout_ms = 30 * 1000;
	if (!s->cfg.idle_timeout_ms)
		s->cfg.idle_timeout_ms = 120 * 1000;
	if (!s->cfg.max_connections)
		s->cfg.max_connections = 10000;
	if (!s->cfg.h2_max_streams)
		s->cfg.h2_max_streams = 250;
	if (s->cfg.tls)
		SSL_CTX_up_ref(s->cfg.tls);

	if (cfg->listen_fd > 0) {
		s->fd = cfg->listen_fd;
	} else {
		int one = 1;
		r = parse_listen(cfg->listen ? cfg->listen : "127.0.0.1:0", &ss, &len);
		if (r < 0)
			goto fail_noclose;
		s->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s->fd < 0) {
			r = -errno;
			goto fail_noclose;
		}
		setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s->fd, (struct sockaddr *)&ss, len) < 0 || listen(s->fd, 4096) < 0) {
			r = -errno;
			goto fail;
		}
	}
	len = sizeof(ss);
	if (getsockname(s->fd, (struct sockaddr *)&ss, &len) < 0) {
		r = -errno;
		goto fail;
	}
	format_addr((struct sockaddr *)&ss, s->address, sizeof(s->address), &s->port);
	s->accept_op.fn = accept_done;
	loop_accept_multishot(l, &s->accept_op, s->fd);
	*ret = s;
	return 0;
fail:
	close(s->fd);
fail_noclose:
	if (s->cfg.tls)
		SSL_CTX_free(s->cfg.tls);
	free(s);
	return r;
}

struct http_server *http_server_free(struct http_server *s)
{
	if (!s)
		return NULL;
	s->closing = true;
	loop_cancel(s->loop, &s->accept_op);
	close(s->fd);
	/* Abort every connection and let the loop reap them; the accept op
	 * must see its cancellation before s goes. */
	for (struct http_conn *c = s->conns; c; c = c->next)
		conn_close(c, false);
	while (s->conns || s->accept_op.busy)
		loop_run_once(s->loop, 100 * 1000000u);
	if (s->cfg.tls)
		SSL_CTX_free(s->cfg.tls);
	free(s);
	return NULL;
}

const char *http_server_address(const struct http_server *s) { return s->address; }
unsigned http_server_port(const struct http_server *s) { return s->port; }

void http_server_stats(const struct http_server *s, struct http_server_stats *ret)
{
	*ret = s->stats;
}

const char *server_date(struct http_server *s)
{
	time_t now = time(NULL);
	if (now != s->date_sec) {
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		s->date_sec = now;
	}
	return s->date;
}

/* --- exchanges --- */

struct http_exchange *exchange_new(struct http_conn *c)
{
	struct http_exchange *ex = xnew(struct http_exchange, 1);
	ex->loop = c->srv->loop;
	ex->srv = c->srv;
	ex->conn = c;
	ex->req.tls = c->x.ssl != NULL;
	memcpy(ex->peer, c->peer, sizeof(ex->peer));
	c->srv->stats.requests++;
	return ex;
}

static void exchange_free(struct http_exchange *ex)
{
	for (unsigned i = 0; i < ex->nrh; i++) {
		free((char *)ex->rh[i].name);
		free((char *)ex->rh[i].value);
	}
	free(ex->rh);
	free(ex->hdrs);
	free(ex->head_copy);
	buf_free(&ex->strings);
	buf_free(&ex->body);
	h2_outq_free(&ex->rbody);
	free(ex);
}

void exchange_release(struct http_exchange *ex)
{
	if (ex->handler_done && ex->proto_done && !ex->drain_queued)
		exchange_free(ex);
}

void exchange_abort(struct http_exchange *ex)
{
	ex->conn = NULL;
	ex->proto_done = true;
	/* Never handed to a handler (body still arriving): nobody else
	 * will finish it. */
	if (!ex->dispatched)
		ex->handler_done = true;
	if (ex->handler_done) {
		exchange_release(ex);
		return;
	}
	if (ex->abort_fn) {
		http_abort_fn fn = ex->abort_fn;
		ex->abort_fn = NULL;
		fn(ex, ex->abort_ud);
	}
}

const struct http_request *http_exchange_request(const struct http_exchange *ex)
{
	return &ex->req;
}

struct loop *http_exchange_loop(const struct http_exchange *ex) { return ex->loop; }

X509 *http_exchange_peer_cert(const struct http_exchange *ex)
{
	return ex->conn ? ex->conn->peer_cert : NULL;
}

const char *http_exchange_peer(const struct http_exchange *ex) { return ex->peer; }
bool http_exchange_alive(const struct http_exchange *ex) { return ex->conn != NULL; }

void http_exchange_on_abort(struct http_exchange *ex, http_abort_fn fn, void *ud)
{
	ex->abort_fn = fn;
	ex->abort_ud = ud;
}

void http_exchange_on_drain(struct http_exchange *ex, size_t low_water, http_drain_fn fn, void *ud)
{
	ex->low_water = low_water;
	ex->drain_fn = fn;
	ex->drain_ud = ud;
}

static void drain_run(struct loop_task *t)
{
	struct http_exchange *ex = container_of(t, struct http_exchange, drain_task);

	ex->drain_queued = false;
	if (ex->handler_done) {
		exchange_release(ex);
		return;
	}
	/* The handler may finish (and free) the exchange in there. */
	if (ex->drain_fn && ex->conn)
		ex->drain_fn(ex, ex->drain_ud);
}

void exchange_check_drain(struct http_exchange *ex)
{
	if (!ex->drain_fn || !ex->above_water || ex->drain_queued)
		return;
	if (http_response_buffered(ex) > ex->low_water)
		return;
	ex->above_water = false;
	ex->drain_queued = true;
	ex->drain_task.fn = drain_run;
	loop_defer(ex->loop, &ex->drain_task);
}

void exchange_add_header(struct http_exchange *ex, const char *name, const char *value)
{
	if (ex->nrh == ex->rh_cap) {
		ex->rh_cap = ex->rh_cap ? ex->rh_cap * 2 : 8;
		ex->rh = xrealloc(ex->rh, ex->rh_cap * sizeof(*ex->rh));
	}
	ex->rh[ex->nrh++] = (struct http_header){xstrdup(name), xstrdup(value)};
}

void http_response_header(struct http_exchange *ex, const char *name, const char *value)
{
	if (ex->started || ex->handler_done)
		return;
	/* Header injection guard: no CR/LF in what we put on the wire. */
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return;
	exchange_add_header(ex, name, value);
}

static void response_start(struct http_exchange *ex, int status, const char *content_type,
			   int64_t content_length, bool has_body)
{
	if (ex->started || ex->handler_done)
		return;
	ex->started = true;
	ex->status = status;
	if (content_type)
		exchange_add_header(ex, "content-type", content_type);
	if (!ex->conn)
		return;
	if (ex->conn->proto == PROTO_H2)
		h2_respond_start(ex, has_body, content_length);
	else
		h1_respond_start(ex, content_length);
}

void http_response_write(struct http_exchange *ex, const void *p, size_t len)
{
	if (!ex->started || ex->handler_done || !ex->conn || !len)
		return;
	if (ex->conn->proto == PROTO_H2) {
		buf_append(&ex->rbody.b, p, len);
		h2_body_more(ex);
	} else {
		h1_body_write(ex, p, len);
	}
	if (ex->drain_fn && http_response_buffered(ex) > ex->low_water)
		ex->above_water = true;
}

void http_response_start(struct http_exchange *ex, int status, const char *content_type)
{
	response_start(ex, status, content_type, -1, true);
}

void http_response_end(struct http_exchange *ex)
{
	if (ex->handler_done)
		return;
	if (!ex->started && ex->conn) {
		/* Dropped without an answer: the client must not hang. */
		response_start(ex, 500, "text/plain; charset=utf-8", 0, false);
	}
	ex->handler_done = true;
	ex->abort_fn = NULL;
	if (ex->conn) {
		if (ex->conn->proto == PROTO_H2) {
			ex->rbody.eof = true;
			h2_body_more(ex);
		} else {
			h1_finish(ex);
		}
	}
	exchange_release(ex);
}

void http_respond(struct http_exchange *ex, int status, const char *content_type,
		  const void *body, size_t len)
{
	if (ex->started || ex->handler_done)
		return;
	bool has_body = len > 0;
	response_start(ex, status, len || content_type ? content_type : NULL, (int64_t)len, has_body);
	http_response_write(ex, body, len);
	http_response_end(ex);
}

void http_respond_text(struct http_exchange *ex, int status, const char *msg)
{
	_cleanup_free_ char *body = xasprintf("%s\n", msg);
	http_respond(ex, status, "text/plain; charset=utf-8", body, strlen(body));
}

size_t http_response_buffered(const struct http_exchange *ex)
{
	if (!ex->conn)
		return 0;
	if (ex->conn->proto == PROTO_H2)
		return h2_outq_len(&ex->rbody);
	return xport_pending(&ex->conn->x);
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	for (unsigned i = 0; i < req->nheaders; i++)
		if (strcaseeq(req->headers[i].name, name))
			return req->headers[i].value;
	return NULL;
}
