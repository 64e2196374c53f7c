/* HTTP/2 on a server connection, through nghttp2's callback API: frames
 * in from mem_recv, frames out through mem_send (coalesced once per loop
 * iteration and held back while the socket is slow). */
#include "http/internal.h"

#include <stdio.h>

#define H2_OUT_HIGH (256 * 1024)
#define H2_WINDOW (1 << 20)
#define H2_CONN_WINDOW (16 << 20)

static void flush_run(struct loop_task *t)
{
	struct http_conn *c = container_of(t, struct http_conn, h2_flush_task);
	c->h2_flush_queued = false;
	h2_server_flush(c);
}

static void queue_flush(struct http_conn *c)
{
	if (c->h2_flush_queued || c->x.state != XPORT_OPEN)
		return;
	c->h2_flush_queued = true;
	c->h2_flush_task.fn = flush_run;
	loop_defer(c->srv->loop, &c->h2_flush_task);
}

void h2_server_flush(struct http_conn *c)
{
	if (!c->h2 || c->x.state != XPORT_OPEN)
		return;
	while (xport_pending(&c->x) < H2_OUT_HIGH) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(c->h2, &data);
		if (n < 0) {
			log_debug(c->srv->cfg.log, "http2 send failed", LOG_S("peer", c->peer),
				  LOG_S("err", nghttp2_strerror((int)n)));
			conn_close(c, false);
			return;
		}
		if (n == 0)
			break;
		xport_write(&c->x, data, (size_t)n);
	}
	if (!nghttp2_session_want_read(c->h2) && !nghttp2_session_want_write(c->h2))
		conn_close(c, true);
}

static void list_add(struct http_conn *c, struct http_exchange *ex)
{
	ex->h2_next = c->h2_list;
	if (c->h2_list)
		c->h2_list->h2_prev = ex;
	c->h2_list = ex;
}

static void list_del(struct http_conn *c, struct http_exchange *ex)
{
	if (ex->h2_prev)
		ex->h2_prev->h2_next = ex->h2_next;
	else
		c->h2_list = ex->h2_next;
	if (ex->h2_next)
		ex->h2_next->h2_prev = ex->h2_prev;
	ex->h2_prev = ex->h2_next = NULL;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct http_conn *c = ud;

	if (f->hd.type != NGHTTP2_HEADERS || f->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct http_exchange *ex = exchange_new(c);
	ex->stream_id = f->hd.stream_id;
	ex->req.version = 20;
	c->srv->stats.h2_requests++;
	nghttp2_session_set_stream_user_data(s, f->hd.stream_id, ex);
	list_add(c, ex);
	c->h2_streams++;
	loop_timer_disarm(c->srv->loop, &c->timer);
	return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	struct http_conn *c = ud;
	struct http_exchange *ex = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);

	if (!ex || ex->dispatched)
		return 0;
	if (ex->strings.len + namelen + valuelen + 2 > c->srv->cfg.max_header_bytes ||
	    ex->req.nheaders >= HTTP_MAX_HEADERS + 4)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	/* Stored as name\0value\0 pairs; pointers are made at dispatch. */
	buf_append(&ex->strings, name, namelen);
	buf_putc(&ex->strings, '\0');
	buf_append(&ex->strings, value, valuelen);
	buf_putc(&ex->strings, '\0');
	ex->req.nheaders++;
	return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t stream_id,
			 const uint8_t *data, size_t len, void *ud)
{
	struct http_conn *c = ud;
	struct http_exchange *ex = nghttp2_session_get_stream_user_data(s, stream_id);

	if (!ex || ex->dispatched || ex->h2_too_large)
		return 0;
	if (ex->body.len + len > c->srv->cfg.max_body_bytes) {
		ex->h2_too_large = true;
		buf_free(&ex->body);
		return 0;
	}
	buf_append(&ex->body, data, len);
	return 0;
}

/* Turn the stored pairs into the request. */
static bool build_request(struct http_exchange *ex)
{
	unsigned n = ex->req.nheaders, k = 0;
	const char *p = ex->strings.data, *scheme = NULL;

	ex->hdrs = xnew(struct http_header, n);
	ex->req.authority = "";
	for (unsigned i = 0; i < n; i++) {
		const char *name = p;
		const char *value = name + strlen(name) + 1;
		p = value + strlen(value) + 1;
		if (name[0] != ':') {
			ex->hdrs[k++] = (struct http_header){name, value};
		} else if (streq(name, ":method")) {
			ex->req.method = value;
		} else if (streq(name, ":path")) {
			ex->req.path = value;
		} else if (streq(name, ":authority")) {
			ex->req.authority = value;
		} else if (streq(name, ":scheme")) {
			scheme = value;
		}
	}
	ex->req.headers = ex->hdrs;
	ex->req.nheaders = k;
	if (!ex->req.authority[0]) {
		const char *host = http_request_header(&ex->req, "host");
		if (host)
			ex->req.authority = host;
	}
	if (!ex->req.method || !ex->req.path || !scheme || ex->req.path[0] != '/')
		return false;
	/* Split the query off in place: :path is ours to edit. */
	char *q = strchr((char *)ex->req.path, '?');
	if (q)
		*q++ = '\0';
	ex->req.query = q ? q : "";
	ex->head_only = streq(ex->req.method, "HEAD");
	return true;
}

static void dispatch(struct http_conn *c, struct http_exchange *ex)
{
	struct http_server *s = c->srv;

	ex->dispatched = true;
	ex->req.body = ex->body.data ? ex->body.data : "";
	ex->req.body_len = ex->body.len;
	if (!build_request(ex)) {
		s->stats.bad_requests++;
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, ex->stream_id,
					  NGHTTP2_PROTOCOL_ERROR);
		ex->handler_done = true; /* no handler will see it */
		return;
	}
	if (ex->h2_too_large) {
		_cleanup_free_ char *msg =
			xasprintf("Request entity too large: limit is %zu", s->cfg.max_body_bytes);
		s->stats.bad_requests++;
		if (s->cfg.error_fn)
			s->cfg.error_fn(ex, 413, msg, s->cfg.error_ud);
		else
			http_respond_text(ex, 413, msg);
		return;
	}
	if (s->cfg.handler)
		s->cfg.handler(ex, s->cfg.handler_ud);
	else
		http_respond_text(ex, 404, "404 page not found");
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct http_conn *c = ud;

	if ((f->hd.type != NGHTTP2_HEADERS && f->hd.type != NGHTTP2_DATA) ||
	    !(f->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	struct http_exchange *ex = nghttp2_session_get_stream_user_data(s, f->hd.stream_id);
	if (ex && !ex->dispatched)
		dispatch(c, ex);
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t stream_id, uint32_t error_code, void *ud)
{
	struct http_conn *c = ud;
	struct http_exchange *ex = nghttp2_session_get_stream_user_data(s, stream_id);

	if (!ex)
		return 0;
	nghttp2_session_set_stream_user_data(s, stream_id, NULL);
	list_del(c, ex);
	if (--c->h2_streams == 0)
		loop_timer_arm(c->srv->loop, &c->timer, (uint64_t)c->srv->cfg.idle_timeout_ms * 1000000u);
	exchange_abort(ex);
	return 0;
}

int h2_server_start(struct http_conn *c, const char *preread, size_t n)
{
	nghttp2_session_callbacks *cb;
	nghttp2_option *opt;
	int r;

	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	nghttp2_option_new(&opt);
	nghttp2_option_set_max_send_header_block_length(opt, 1 << 20);
	r = nghttp2_session_server_new2(&c->h2, cb, c, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	if (r < 0)
		return -ENOMEM;

	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, c->srv->cfg.h2_max_streams},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
		{NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)c->srv->cfg.max_header_bytes},
	};
	nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, ARRAY_SIZE(iv));
	nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0, H2_CONN_WINDOW);
	loop_timer_arm(c->srv->loop, &c->timer, (uint64_t)c->srv->cfg.idle_timeout_ms * 1000000u);
	if (n)
		h2_server_input(c, preread, n);
	else
		queue_flush(c);
	return 0;
}

void h2_server_input(struct http_conn *c, const char *p, size_t n)
{
	ssize_t r = nghttp2_session_mem_recv(c->h2, (const uint8_t *)p, n);
	if (r < 0) {
		c->srv->stats.bad_requests++;
		log_debug(c->srv->cfg.log, "http2 protocol error", LOG_S("peer", c->peer),
			  LOG_S("err", nghttp2_strerror((int)r)));
		/* nghttp2 queued a GOAWAY where it could: send it, then go. */
		h2_server_flush(c);
		conn_close(c, true);
		return;
	}
	queue_flush(c);
}

void h2_server_goaway(struct http_conn *c)
{
	if (!c->h2)
		return;
	nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
	h2_server_flush(c);
}

void h2_server_close(struct http_conn *c)
{
	while (c->h2_list) {
		struct http_exchange *ex = c->h2_list;
		list_del(c, ex);
		exchange_abort(ex);
	}
	nghttp2_session_del(c->h2);
	c->h2 = NULL;
}

/* --- responses --- */

static ssize_t data_read(nghttp2_session *s, int32_t stream_id, uint8_t *out, size_t length,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct http_exchange *ex = src->ptr;
	ssize_t n = h2_outq_pull(&ex->rbody, out, length, flags);
	if (n > 0)
		exchange_check_drain(ex);
	return n;
}

void h2_respond_start(struct http_exchange *ex, bool has_body, int64_t content_length)
{
	struct http_conn *c = ex->conn;
	nghttp2_nv *nv = xnew(nghttp2_nv, ex->nrh + 3);
	char status[8], clen[24];
	unsigned n = 0;

#define NV(k, v) \
	((nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), NGHTTP2_NV_FLAG_NONE})
	snprintf(status, sizeof(status), "%d", ex->status);
	nv[n++] = NV(":status", status);
	for (unsigned i = 0; i < ex->nrh; i++)
		nv[n++] = NV(ex->rh[i].name, ex->rh[i].value);
	nv[n++] = NV("date", server_date(c->srv));
	if (content_length >= 0 && ex->status >= 200 && ex->status != 204 && ex->status != 304) {
		snprintf(clen, sizeof(clen), "%lld", (long long)content_length);
		nv[n++] = NV("content-length", clen);
	}
#undef NV
	if (ex->head_only)
		has_body = false;
	nghttp2_data_provider prd = {.source.ptr = ex, .read_callback = data_read};
	int r = nghttp2_submit_response(c->h2, ex->stream_id, nv, n, has_body ? &prd : NULL);
	free(nv);
	if (r < 0)
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, ex->stream_id,
					  NGHTTP2_INTERNAL_ERROR);
	if (!has_body) {
		/* Nothing more goes on this stream; drop what is written. */
		ex->rbody.eof = true;
		ex->head_only = true;
	}
	queue_flush(c);
}

void h2_body_more(struct http_exchange *ex)
{
	struct http_conn *c = ex->conn;

	if (ex->head_only) {
		buf_clear(&ex->rbody.b);
		ex->rbody.off = 0;
		return;
	}
	if (ex->rbody.deferred) {
		ex->rbody.deferred = false;
		nghttp2_session_resume_data(c->h2, ex->stream_id);
	}
	queue_flush(c);
}
