/* HTTP/2 on a client connection: calls are streams on one session. */
#include "http/internal.h"

#include <stdio.h>

#define H2C_WINDOW (16 << 20)

static void flush_run(struct loop_task *t)
{
	struct cconn *cc = container_of(t, struct cconn, flush_task);
	cc->flush_queued = false;
	h2c_flush(cc);
}

static void queue_flush(struct cconn *cc)
{
	if (cc->flush_queued || cc->state != CC_READY)
		return;
	cc->flush_queued = true;
	cc->flush_task.fn = flush_run;
	loop_defer(cc->cl->loop, &cc->flush_task);
}

void h2c_flush(struct cconn *cc)
{
	if (!cc->h2s || cc->state != CC_READY || cc->x.state != XPORT_OPEN)
		return;
	while (xport_pending(&cc->x) < 256 * 1024) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(cc->h2s, &data);
		if (n < 0) {
			cconn_close(cc, -EPROTO);
			return;
		}
		if (n == 0)
			break;
		xport_write(&cc->x, data, (size_t)n);
	}
	if (!nghttp2_session_want_read(cc->h2s) && !nghttp2_session_want_write(cc->h2s))
		cconn_close(cc, 0);
}

static void calls_add(struct cconn *cc, struct http_call *call)
{
	call->snext = cc->calls;
	if (cc->calls)
		cc->calls->sprev = call;
	cc->calls = call;
	cc->streams++;
}

static void calls_del(struct cconn *cc, struct http_call *call)
{
	if (call->sprev)
		call->sprev->snext = call->snext;
	else
		cc->calls = call->snext;
	if (call->snext)
		call->snext->sprev = call->sprev;
	call->sprev = call->snext = NULL;
	cc->streams--;
}

static struct http_call *stream_call(nghttp2_session *s, int32_t id)
{
	return nghttp2_session_get_stream_user_data(s, id);
}

/* Header pairs kept as name\0value\0 and handed out as an array. */
static struct http_header *pairs(struct http_call *call, unsigned *ret_n)
{
	struct http_header *h = xnew(struct http_header, call->nh);
	const char *p = call->hstrings.data;
	unsigned k = 0;

	for (unsigned i = 0; i < call->nh; i++) {
		const char *name = p, *value = name + strlen(name) + 1;
		p = value + strlen(value) + 1;
		if (name[0] != ':')
			h[k++] = (struct http_header){name, value};
	}
	*ret_n = k;
	return h;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name,
		     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	struct http_call *call = stream_call(s, f->hd.stream_id);

	if (!call || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		uint64_t st = 0;
		parse_u64((const char *)value, valuelen, &st);
		call->status = (int)st;
	}
	if (call->hstrings.len + namelen + valuelen > 1024 * 1024)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	buf_append(&call->hstrings, name, namelen);
	buf_putc(&call->hstrings, '\0');
	buf_append(&call->hstrings, value, valuelen);
	buf_putc(&call->hstrings, '\0');
	call->nh++;
	return 0;
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct http_call *call = stream_call(s, f->hd.stream_id);

	if (!call || f->hd.type != NGHTTP2_HEADERS)
		return 0;
	/* A new header block: the response (again, after a 1xx) or trailers. */
	buf_clear(&call->hstrings);
	call->nh = 0;
	call->in_trailers = f->headers.cat == NGHTTP2_HCAT_HEADERS && call->status >= 200;
	return 0;
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud)
{
	struct http_call *call = stream_call(s, f->hd.stream_id);

	if (!call || f->hd.type != NGHTTP2_HEADERS || call->in_trailers)
		return 0;
	if (call->status < 200)
		return 0; /* informational */
	call->got_bytes = true;
	unsigned n;
	_cleanup_free_ struct http_header *h = pairs(call, &n);
	call->ops->on_headers(call, call->status, h, n, call->ud);
	return 0;
}

static int on_data_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data,
			 size_t len, void *ud)
{
	struct http_call *call = stream_call(s, id);
	if (call && !call->done)
		call->ops->on_data(call, (const char *)data, len, call->ud);
	return 0;
}

static int on_stream_close(nghttp2_session *s, int32_t id, uint32_t error_code, void *ud)
{
	struct cconn *cc = ud;
	struct http_call *call = stream_call(s, id);

	if (!call)
		return 0;
	nghttp2_session_set_stream_user_data(s, id, NULL);
	calls_del(cc, call);
	int err = error_code == NGHTTP2_NO_ERROR ? 0
		  : error_code == NGHTTP2_CANCEL ? -ECANCELED
						 : -ECONNRESET;
	if (!err && call->status < 200)
		err = -EPROTO;
	unsigned n = 0;
	_cleanup_free_ struct http_header *t = call->in_trailers ? pairs(call, &n) : NULL;
	call_finish(call, err, t, n);
	if (!cc->streams)
		loop_timer_arm(cc->cl->loop, &cc->timer, 90ull * 1000000000u);
	return 0;
}

int h2c_start(struct cconn *cc)
{
	nghttp2_session_callbacks *cb;
	int r;

	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
	r = nghttp2_session_client_new(&cc->h2s, cb, cc);
	nghttp2_session_callbacks_del(cb);
	if (r < 0)
		return -ENOMEM;
	nghttp2_settings_entry iv[] = {
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 4 << 20},
	};
	nghttp2_submit_settings(cc->h2s, NGHTTP2_FLAG_NONE, iv, ARRAY_SIZE(iv));
	nghttp2_session_set_local_window_size(cc->h2s, NGHTTP2_FLAG_NONE, 0, H2C_WINDOW);
	queue_flush(cc);
	return 0;
}

void h2c_input(struct cconn *cc, const char *p, size_t n)
{
	if (nghttp2_session_mem_recv(cc->h2s, (const uint8_t *)p, n) < 0) {
		cconn_close(cc, -EPROTO);
		return;
	}
	queue_flush(cc);
}

static ssize_t body_read(nghttp2_session *s, int32_t id, uint8_t *out, size_t length,
			 uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct http_call *call = src->ptr;
	return h2_outq_pull(&call->body, out, length, flags);
}

void h2c_submit(struct cconn *cc, struct http_call *call)
{
	struct http_client *cl = cc->cl;
	nghttp2_nv *nv = xnew(nghttp2_nv, call->nheaders + 4);
	unsigned n = 0;

#define NV(k, v) \
	((nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), strlen(v), NGHTTP2_NV_FLAG_NONE})
	nv[n++] = NV(":method", call->method);
	nv[n++] = NV(":scheme", cl->https ? "https" : "http");
	nv[n++] = NV(":authority", cl->authority);
	nv[n++] = NV(":path", call->target);
	for (unsigned i = 0; i < call->nheaders; i++) {
		/* HTTP/2 wants lowercase names; connection headers are banned. */
		char *name = (char *)call->headers[i].name;
		for (char *c = name; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
		if (streq(name, "connection") || streq(name, "host") || streq(name, "keep-alive") ||
		    streq(name, "transfer-encoding") || streq(name, "upgrade"))
			continue;
		nv[n++] = NV(name, call->headers[i].value);
	}
#undef NV
	bool has_body = h2_outq_len(&call->body) || !call->body.eof;
	nghttp2_data_provider prd = {.source.ptr = call, .read_callback = body_read};
	int32_t id = nghttp2_submit_request(cc->h2s, NULL, nv, n, has_body ? &prd : NULL, call);
	free(nv);
	if (id < 0) {
		call_finish(call, -EPROTO, NULL, 0);
		return;
	}
	call->conn = cc;
	call->stream_id = id;
	call->version = 20;
	calls_add(cc, call);
	loop_timer_disarm(cl->loop, &cc->timer);
	queue_flush(cc);
}

void h2c_body_more(struct http_call *call)
{
	struct cconn *cc = call->conn;
	if (call->body.deferred) {
		call->body.deferred = false;
		nghttp2_session_resume_data(cc->h2s, call->stream_id);
	}
	queue_flush(cc);
}

void h2c_cancel(struct http_call *call)
{
	struct cconn *cc = call->conn;
	nghttp2_submit_rst_stream(cc->h2s, NGHTTP2_FLAG_NONE, call->stream_id, NGHTTP2_CANCEL);
	queue_flush(cc);
}

void h2c_closed(struct cconn *cc, int err)
{
	/* Fail every call still on the session, then drop it. */
	while (cc->calls) {
		struct http_call *call = cc->calls;
		calls_del(cc, call);
		call_finish(call, err, NULL, 0);
	}
	nghttp2_session_del(cc->h2s);
	cc->h2s = NULL;
}
