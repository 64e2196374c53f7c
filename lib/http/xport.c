/* A connected socket on the loop: multishot recv, one send in flight with
 * everything written meanwhile coalesced behind it, and TLS through memory
 * BIOs so OpenSSL never touches the socket itself.
 *
 * A graceful close sends what is queued, shuts the write side and then
 * reads (and drops) input until the peer closes or a second passes:
 * closing with unread input would reset the connection and could destroy
 * the last response before the client reads it. */
#include "http/internal.h"

#include <openssl/err.h>

#define TLS_SCRATCH 16384
#define LINGER_NS (1000ull * 1000 * 1000)

static void xport_flush(struct loop_task *t);
static void recv_done(struct loop_op *op, const struct loop_cqe *c);
static void send_done(struct loop_op *op, const struct loop_cqe *c);

static void close_run(struct loop_task *t)
{
	struct xport *x = container_of(t, struct xport, close_task);
	x->ops->on_close(x, x->err);
}

/* Once nothing is in flight and nothing is left to send, the fd goes and
 * the owner hears about it from the loop. */
static void maybe_finish_close(struct xport *x)
{
	if (x->state != XPORT_CLOSING || x->recv_op.busy || x->send_op.busy)
		return;
	if (x->graceful && (x->out.len || x->flush_queued))
		return;
	loop_timer_disarm(x->loop, &x->linger);
	if (x->fd >= 0) {
		close(x->fd);
		x->fd = -1;
	}
	x->state = XPORT_CLOSED;
	x->close_task.fn = close_run;
	loop_defer(x->loop, &x->close_task);
}

static void linger_expired(struct loop_timer *t)
{
	struct xport *x = container_of(t, struct xport, linger);
	loop_cancel(x->loop, &x->recv_op);
}

/* Everything is sent: half-close and wait for the peer's EOF. */
static void shut_write(struct xport *x)
{
	if (x->wr_shut || x->fd < 0)
		return;
	x->wr_shut = true;
	shutdown(x->fd, SHUT_WR);
	if (x->recv_op.busy)
		loop_timer_arm(x->loop, &x->linger, LINGER_NS);
	maybe_finish_close(x);
}

void xport_init(struct xport *x, struct loop *l, int fd, SSL *ssl, const struct xport_ops *ops)
{
	*x = (struct xport){.loop = l, .ops = ops, .fd = fd, .ssl = ssl};
	x->recv_op.fn = recv_done;
	x->send_op.fn = send_done;
	x->flush_task.fn = xport_flush;
	x->linger.fn = linger_expired;
	if (ssl) {
		BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
		/* An empty read BIO means "want read", not EOF. */
		BIO_set_mem_eof_return(rb, -1);
		SSL_set_bio(ssl, rb, wb);
		x->scratch = xmalloc(TLS_SCRATCH);
	}
}

void xport_release(struct xport *x)
{
	buf_free(&x->out);
	buf_free(&x->sending);
	free(x->scratch);
	x->scratch = NULL;
	if (x->ssl)
		SSL_free(x->ssl);
	x->ssl = NULL;
}

static void queue_flush(struct xport *x)
{
	if (x->flush_queued || x->state == XPORT_CLOSED)
		return;
	x->flush_queued = true;
	loop_defer(x->loop, &x->flush_task);
}

/* Move whatever TLS produced (records, alerts) to the output queue. */
static void tls_collect(struct xport *x)
{
	BIO *wb = SSL_get_wbio(x->ssl);
	size_t n = BIO_ctrl_pending(wb);
	if (!n || x->wr_shut)
		return;
	buf_reserve(&x->out, n);
	int r = BIO_read(wb, x->out.data + x->out.len, (int)n);
	if (r > 0) {
		x->out.len += (size_t)r;
		x->out.data[x->out.len] = '\0';
	}
	queue_flush(x);
}

static void peer_eof(struct xport *x)
{
	if (x->ops->on_eof)
		x->ops->on_eof(x);
	else
		xport_close(x, true, 0);
}

static void tls_input(struct xport *x, const char *p, size_t n)
{
	BIO_write(SSL_get_rbio(x->ssl), p, (int)n);
	if (!x->handshake_done) {
		int r = SSL_do_handshake(x->ssl);
		if (r != 1) {
			int e = SSL_get_error(x->ssl, r);
			tls_collect(x);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				ERR_clear_error();
				/* Send the alert, if any, then go. */
				xport_close(x, true, -EPROTO);
			}
			return;
		}
		x->handshake_done = true;
		tls_collect(x);
		if (x->ops->on_handshake)
			x->ops->on_handshake(x);
	}
	while (x->state == XPORT_OPEN) {
		int r = SSL_read(x->ssl, x->scratch, TLS_SCRATCH);
		if (r <= 0) {
			int e = SSL_get_error(x->ssl, r);
			if (e == SSL_ERROR_ZERO_RETURN) {
				peer_eof(x);
			} else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				ERR_clear_error();
				xport_close(x, false, -EPROTO);
			}
			break;
		}
		x->ops->on_data(x, x->scratch, (size_t)r);
	}
	if (x->state != XPORT_CLOSED && x->ssl)
		tls_collect(x);
}

static void recv_done(struct loop_op *op, const struct loop_cqe *c)
{
	struct xport *x = container_of(op, struct xport, recv_op);

	if (c->res <= 0) {
		if (c->more)
			return;
		if (x->state != XPORT_OPEN) {
			maybe_finish_close(x);
		} else if (x->recv_paused) {
			/* Stays idle until xport_pause(x, false). */
		} else if (c->res == -ECANCELED) {
			/* Paused and resumed before the cancel landed. */
			loop_recv_multishot(x->loop, &x->recv_op, x->fd);
		} else if (c->res == 0) {
			peer_eof(x);
		} else {
			xport_close(x, false, c->res);
		}
		return;
	}
	/* Input that was already on its way when a pause was asked for is
	 * still delivered; when closing, input is read and dropped. */
	if (x->state != XPORT_OPEN)
		return;
	if (x->ssl)
		tls_input(x, c->data, (size_t)c->res);
	else
		x->ops->on_data(x, c->data, (size_t)c->res);
}

static void send_done(struct loop_op *op, const struct loop_cqe *c)
{
	struct xport *x = container_of(op, struct xport, send_op);

	if (c->res < 0) {
		buf_clear(&x->sending);
		x->sending_off = 0;
		buf_clear(&x->out);
		if (x->state == XPORT_OPEN) {
			xport_close(x, false, c->res);
		} else {
			x->graceful = false;
			if (x->recv_op.busy)
				loop_cancel(x->loop, &x->recv_op);
			maybe_finish_close(x);
		}
		return;
	}
	x->sending_off += (size_t)c->res;
	if (x->sending_off < x->sending.len && x->fd >= 0) {
		loop_send(x->loop, &x->send_op, x->fd, x->sending.data + x->sending_off,
			  x->sending.len - x->sending_off);
		return;
	}
	buf_clear(&x->sending);
	x->sending_off = 0;
	if (x->out.len) {
		queue_flush(x);
		return;
	}
	if (x->state == XPORT_CLOSING) {
		shut_write(x);
		return;
	}
	if (x->ops->on_drain)
		x->ops->on_drain(x);
}

static void xport_flush(struct loop_task *t)
{
	struct xport *x = container_of(t, struct xport, flush_task);

	x->flush_queued = false;
	if (x->send_op.busy || x->fd < 0 || x->state == XPORT_CLOSED)
		return;
	if (!x->out.len) {
		if (x->state == XPORT_CLOSING)
			shut_write(x);
		return;
	}
	struct buf tmp = x->sending;
	x->sending = x->out;
	x->out = tmp;
	buf_clear(&x->out);
	x->sending_off = 0;
	loop_send(x->loop, &x->send_op, x->fd, x->sending.data, x->sending.len);
}

void xport_start(struct xport *x, bool tls_client)
{
	loop_recv_multishot(x->loop, &x->recv_op, x->fd);
	if (x->ssl && tls_client) {
		SSL_set_connect_state(x->ssl);
		SSL_do_handshake(x->ssl);
		tls_collect(x);
	} else if (x->ssl) {
		SSL_set_accept_state(x->ssl);
	}
}

void xport_write(struct xport *x, const void *p, size_t n)
{
	if (x->state == XPORT_CLOSED || x->wr_shut || !n)
		return;
	if (x->state == XPORT_CLOSING && !x->graceful)
		return;
	if (x->ssl) {
		/* Memory BIOs never block: SSL_write takes it all. */
		const char *c = p;
		while (n) {
			int r = SSL_write(x->ssl, c, (int)MIN(n, (size_t)1 << 30));
			if (r <= 0) {
				ERR_clear_error();
				xport_close(x, false, -EPROTO);
				return;
			}
			c += r;
			n -= (size_t)r;
		}
		tls_collect(x);
		return;
	}
	buf_append(&x->out, p, n);
	queue_flush(x);
}

size_t xport_pending(const struct xport *x)
{
	return x->out.len + (x->sending.len - x->sending_off);
}

void xport_pause(struct xport *x, bool pause)
{
	if (x->recv_paused == pause || x->state != XPORT_OPEN)
		return;
	x->recv_paused = pause;
	if (pause)
		loop_cancel(x->loop, &x->recv_op);
	else if (!x->recv_op.busy)
		loop_recv_multishot(x->loop, &x->recv_op, x->fd);
}

void xport_close(struct xport *x, bool graceful, int err)
{
	if (x->state == XPORT_CLOSED)
		return;
	if (x->state == XPORT_CLOSING) {
		/* An abort may overtake a graceful close. */
		if (!graceful && x->graceful) {
			x->graceful = false;
			buf_clear(&x->out);
			loop_cancel(x->loop, &x->send_op);
			loop_cancel(x->loop, &x->recv_op);
			maybe_finish_close(x);
		}
		return;
	}
	x->state = XPORT_CLOSING;
	x->graceful = graceful;
	x->err = err;
	if (x->ssl && graceful && x->handshake_done) {
		SSL_shutdown(x->ssl);
		tls_collect(x);
	}
	if (!graceful) {
		buf_clear(&x->out);
		loop_cancel(x->loop, &x->send_op);
		loop_cancel(x->loop, &x->recv_op);
	} else {
		if (x->recv_paused && !x->recv_op.busy && x->fd >= 0) {
			/* Read again, to drain the input while lingering. */
			x->recv_paused = false;
			loop_recv_multishot(x->loop, &x->recv_op, x->fd);
		}
		if (!x->out.len && !x->send_op.busy && !x->flush_queued)
			shut_write(x);
	}
	maybe_finish_close(x);
}

bool xport_alpn_is(const struct xport *x, const char *proto)
{
	const unsigned char *p = NULL;
	unsigned n = 0;

	if (!x->ssl)
		return false;
	SSL_get0_alpn_selected(x->ssl, &p, &n);
	return p && n == strlen(proto) && memcmp(p, proto, n) == 0;
}
