/* Unary gRPC calls to etcd: one request message, one response message,
 * the status in the trailers. A call that could not reach etcd goes to the
 * next endpoint (or waits for the next round) until its deadline; a call
 * lost after it was sent is repeated only when repeating is harmless. */
#include "etcd-internal.h"

struct etcd_rpc {
	struct etcd *e;
	struct etcd_rpc *prev, *next;
	const char *path;
	const ProtobufCMessageDescriptor *resp_desc;
	etcd_rpc_fn fn;
	void *ctx;
	bool idempotent;
	struct buf req; /* the framed request */
	struct loop_timer deadline;
	struct loop_timer again; /* a retry after etcd said "not now" */
	unsigned again_ms;

	/* the current attempt */
	struct http_call *call;
	size_t ep;
	bool parked; /* waiting for the next round of endpoints */
	int http_status;
	struct grpc_status st;
	bool has_st;
	struct grpc_deframer df;
	ProtobufCMessage *resp;
	int proto_err;

	bool reached; /* some attempt went out on a connection to etcd */
	bool expired;
	bool done; /* fn has run */
};

static void rpc_send(struct etcd_rpc *r);

static void rpc_attempt_reset(struct etcd_rpc *r)
{
	if (r->resp)
		protobuf_c_message_free_unpacked(r->resp, NULL);
	r->resp = NULL;
	grpc_status_free(&r->st);
	grpc_deframer_free(&r->df);
	r->has_st = false;
	r->http_status = 0;
	r->proto_err = 0;
}

static void rpc_free(struct etcd_rpc *r)
{
	struct etcd *e = r->e;

	loop_timer_disarm(e->base.loop, &r->deadline);
	loop_timer_disarm(e->base.loop, &r->again);
	rpc_attempt_reset(r);
	buf_free(&r->req);
	if (r->prev)
		r->prev->next = r->next;
	else
		e->rpcs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	free(r);
}

/* Report once; the rpc is freed when no HTTP call refers to it. */
static void rpc_finish(struct etcd_rpc *r, int err, const ProtobufCMessage *msg)
{
	struct etcd *e = r->e;

	if (!r->done) {
		r->done = true;
		loop_timer_disarm(e->base.loop, &r->deadline);
		loop_timer_disarm(e->base.loop, &r->again);
		ETCD_CALLBACK(e, r->fn(r->ctx, err, msg));
	}
	if (!r->call)
		rpc_free(r);
}

/* The error for a call out of time: was etcd ever reached? */
static int rpc_expired_err(const struct etcd_rpc *r) { return r->reached ? -ETIMEDOUT : -ENOTCONN; }

static void on_headers(struct http_call *c, int status, const struct http_header *h, unsigned n,
		       void *ud)
{
	struct etcd_rpc *r = ud;

	r->http_status = status;
	etcd_endpoint_ok(r->e, r->ep);
	/* Trailers-Only: an error answer carries its status here. */
	grpc_status_free(&r->st);
	r->has_st = grpc_status_parse(h, n, &r->st);
}

static int on_message(void *ud, const uint8_t *msg, size_t len)
{
	struct etcd_rpc *r = ud;

	if (r->resp)
		return 0; /* a stream method answered more than once: keep the first */
	r->resp = protobuf_c_message_unpack(r->resp_desc, NULL, len, msg);
	if (!r->resp)
		r->proto_err = -EPROTO;
	return 0;
}

static void on_data(struct http_call *c, const char *p, size_t len, void *ud)
{
	struct etcd_rpc *r = ud;
	int err;

	if (r->http_status != 200 || r->proto_err)
		return;
	err = grpc_deframe(&r->df, p, len, on_message, r);
	if (err < 0)
		r->proto_err = err;
}

static void again_fire(struct loop_timer *t)
{
	struct etcd_rpc *r = container_of(t, struct etcd_rpc, again);
	struct etcd *e = r->e;

	e->depth++;
	rpc_send(r);
	e->depth--;
}

/* Send again after a backoff (50 ms doubling to 1 s). */
static void rpc_again(struct etcd_rpc *r)
{
	r->again_ms = MIN(MAX(r->again_ms * 2, (unsigned)ETCD_BACKOFF_MIN_MS),
			  (unsigned)ETCD_BACKOFF_MAX_MS);
	loop_timer_arm(r->e->base.loop, &r->again, (uint64_t)r->again_ms * 1000000u);
}

static void on_done(struct http_call *c, int err, const struct http_header *trailers, unsigned n,
		    void *ud)
{
	struct etcd_rpc *r = ud;
	struct etcd *e = r->e;
	bool sent = http_call_version(c) != 0;

	r->call = NULL;
	r->reached |= sent;
	if (r->done || e->closing) {
		rpc_finish(r, -ECANCELED, NULL);
		return;
	}
	if (r->expired) {
		rpc_finish(r, rpc_expired_err(r), NULL);
		return;
	}
	if (err < 0) {
		/* Not sent: etcd never saw it. Sent and lost: only a read
		 * (or a keepalive) may go again. */
		if (!sent) {
			etcd_endpoint_failed(e, r->ep);
			rpc_attempt_reset(r);
			rpc_send(r);
			return;
		}
		if (r->idempotent) {
			/* Once at once (the connection died); a server that keeps
			 * dropping it gets the backoff. */
			rpc_attempt_reset(r);
			if (!r->again_ms) {
				r->again_ms = ETCD_BACKOFF_MIN_MS / 2;
				rpc_send(r);
			} else {
				rpc_again(r);
			}
			return;
		}
		log_warn(e->base.log, "etcd connection lost during a write",
			 LOG_S("method", r->path), LOG_ERR(err));
		rpc_finish(r, -ENOTCONN, NULL);
		return;
	}
	if (trailers && n) {
		grpc_status_free(&r->st);
		r->has_st = grpc_status_parse(trailers, n, &r->st);
	}
	int code = r->http_status != 200 ? grpc_code_from_http(r->http_status)
		   : r->has_st           ? r->st.code
					 : GRPC_UNKNOWN;
	const char *msg = r->has_st ? r->st.message : "";
	if (code == GRPC_OK && r->proto_err == 0 && r->resp && !grpc_deframer_partial(&r->df)) {
		rpc_finish(r, 0, r->resp);
		return;
	}
	if (code == GRPC_OK) {
		log_warn(e->base.log, "etcd answer malformed", LOG_S("method", r->path),
			 LOG_ERR(r->proto_err ? r->proto_err : -EPROTO));
		rpc_finish(r, r->proto_err == -EMSGSIZE ? -EMSGSIZE : -EPROTO, NULL);
		return;
	}
	if (grpc_status_retryable(code, msg) || (code == GRPC_UNAVAILABLE && r->idempotent)) {
		/* etcd is up but cannot serve yet (no leader, restarting). */
		rpc_attempt_reset(r);
		rpc_again(r);
		return;
	}
	if (log_enabled(e->base.log, LOG_DEBUG))
		log_debug(e->base.log, "etcd error", LOG_S("method", r->path), LOG_I("code", code),
			  LOG_S("message", msg));
	rpc_finish(r, grpc_status_errno(code, msg), NULL);
}

static const struct http_call_ops rpc_call_ops = {on_headers, on_data, on_done};

static void rpc_send(struct etcd_rpc *r)
{
	struct etcd *e = r->e;
	struct http_header h[4];
	char tbuf[16];
	struct http_call_request req;

	int ep = etcd_pick_endpoint(e);
	if (ep < 0) {
		r->parked = true; /* retry_timer resumes it */
		return;
	}
	r->parked = false;
	r->ep = (size_t)ep;
	uint64_t now = loop_now(e->base.loop);
	uint64_t left = r->deadline.deadline_ns > now ? r->deadline.deadline_ns - now : 0;
	etcd_call_request(r->path, (unsigned)MAX(left / 1000000u, 1u), h, tbuf, &req);
	req.body = r->req.data;
	req.body_len = r->req.len;
	r->df.max_len = ETCD_MAX_RESPONSE;
	int err = http_client_call(e->eps[ep].cl, &req, &rpc_call_ops, r, &r->call);
	if (err < 0) {
		/* Only a malformed request is refused here: report it when
		 * the deadline passes rather than from inside the caller. */
		log_error(e->base.log, "etcd call refused", LOG_S("method", r->path), LOG_ERR(err));
		r->call = NULL;
		r->parked = true;
	}
}

static void deadline_fire(struct loop_timer *t)
{
	struct etcd_rpc *r = container_of(t, struct etcd_rpc, deadline);
	struct etcd *e = r->e;

	r->expired = true;
	r->reached |= r->call && http_call_version(r->call) != 0;
	e->depth++;
	if (r->call)
		http_call_cancel(r->call); /* on_done reports it */
	else
		rpc_finish(r, rpc_expired_err(r), NULL);
	e->depth--;
}

int etcd_rpc_start(struct etcd *e, const char *path, const ProtobufCMessage *req,
		   const ProtobufCMessageDescriptor *resp, bool idempotent, etcd_rpc_fn fn,
		   void *ctx)
{
	if (e->closing)
		return -ECANCELED;
	struct etcd_rpc *r = xnew(struct etcd_rpc, 1);
	r->e = e;
	r->path = path;
	r->resp_desc = resp;
	r->fn = fn;
	r->ctx = ctx;
	r->idempotent = idempotent;
	r->deadline.fn = deadline_fire;
	r->again.fn = again_fire;
	grpc_frame_append(&r->req, req);
	r->next = e->rpcs;
	if (e->rpcs)
		e->rpcs->prev = r;
	e->rpcs = r;
	loop_timer_arm(e->base.loop, &r->deadline, (uint64_t)e->timeout_ms * 1000000u);
	rpc_send(r);
	return 0;
}

void etcd_rpc_resume(struct etcd *e)
{
	for (struct etcd_rpc *r = e->rpcs; r && !etcd_all_dead(e); r = r->next)
		if (r->parked && !r->done)
			rpc_send(r);
}

void etcd_rpc_cancel_all(struct etcd *e)
{
	/* fn may start nothing new (the store is closing), but it may run
	 * while other rpcs are being freed: walk carefully. */
	struct etcd_rpc *r = e->rpcs;
	while (r) {
		struct etcd_rpc *next = r->next;
		if (!r->done) {
			r->done = true;
			loop_timer_disarm(e->base.loop, &r->deadline);
			loop_timer_disarm(e->base.loop, &r->again);
			ETCD_CALLBACK(e, r->fn(r->ctx, -ECANCELED, NULL));
		}
		r = next;
	}
}

void etcd_rpc_free_all(struct etcd *e)
{
	while (e->rpcs)
		rpc_free(e->rpcs);
}
