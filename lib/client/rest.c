/* lib/client: the REST client — one lib/http client (one HTTP/2 connection
 * to an https server, as kubectl keeps), a token bucket in front of it, and
 * calls that end in a decoded object or the server's Status. */
#include "client/client-internal.h"

#include <inttypes.h>
#include <openssl/ssl.h>
#include <stdio.h>

#include "config.h"
#include "http/http.h"
#include "log/log.h"
#include "loop/loop.h"

#define BODY_MAX ((size_t)512 << 20)
#define EVENT_MAX ((size_t)64 << 20)
#define THROTTLE_LOG_NS (1000000000ull)

struct client {
	struct loop *loop;
	const struct logger *log;
	struct http_client *http;
	struct client_transport tr;
	char *authorization;
	char *user_agent;
	struct client_bucket bucket;
	struct client_call *calls; /* started and not yet finished or cancelled */
};

struct client_call {
	struct client *c;
	struct client_call *prev, *next;
	unsigned refs;   /* one for the caller until it finishes, one while in the transport */
	bool linked;     /* in c->calls */
	bool in_flight;  /* the transport owes an on_done */
	bool watch, raw;
	char *method, *target;
	const char *content_type;
	struct buf req_body;
	client_event_fn on_event;
	client_done_fn on_done;
	void *ud;
	void *handle;
	struct loop_timer start;
	uint64_t queued_ns;
	int status;
	int version;
	struct buf in;
	int fail; /* our own reason to end a call early */
	char *fail_msg;
};

/* --- lifetime --- */

static void call_unref(struct client_call *call)
{
	if (--call->refs)
		return;
	free(call->method);
	free(call->target);
	free(call->fail_msg);
	buf_free(&call->req_body);
	buf_free(&call->in);
	free(call);
}

static void call_unlink(struct client_call *call)
{
	struct client *c = call->c;

	if (!call->linked)
		return;
	call->linked = false;
	if (call->prev)
		call->prev->next = call->next;
	else
		c->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	loop_timer_disarm(c->loop, &call->start);
}

/* The caller's part ends: tell it once, drop its reference. */
static void call_finish(struct client_call *call, const struct client_result *r)
{
	if (!call->linked)
		return;
	call_unlink(call);
	log_debug(call->c->log, "request done", LOG_S("method", call->method),
		  LOG_S("target", call->target), LOG_I("code", r->code), LOG_ERR(r->err));
	call->on_done(r, call->ud);
	call_unref(call);
}

void client_call_cancel(struct client_call *call)
{
	if (!call || !call->linked)
		return;
	call_unlink(call);
	if (call->in_flight)
		call->c->tr.cancel(call->c->tr.ud, call->handle);
	call_unref(call);
}

/* --- answers --- */

/* A failure without a usable answer, or one we decided on ourselves. */
static void finish_error(struct client_call *call, int err, const char *msg)
{
	struct client_result r = {
		.err = err,
		.code = call->status,
		.reason = "",
		.message = msg ? msg : strerror(-err),
		.body = call->in.data ? call->in.data : "",
		.body_len = call->in.len,
		.http_version = call->version,
	};
	call_finish(call, &r);
}

/* An error status: the Status the server sent, or words for the bare code. */
static void finish_refused(struct client_call *call, json_t *body)
{
	struct client_result r = {
		.err = -EREMOTEIO,
		.code = call->status,
		.body = call->in.data ? call->in.data : "",
		.body_len = call->in.len,
		.http_version = call->version,
	};
	_cleanup_free_ char *msg = NULL;
	const char *kind = api_obj_kind(body);

	if (kind && streq(kind, "Status")) {
		r.status = body;
		r.reason = api_get_str(body, "reason");
		r.message = api_get_str(body, "message");
	}
	if (!r.reason)
		r.reason = api_status_reason_for_code(call->status);
	if (!r.message) {
		/* client-go's words when the server gives no Status. */
		if (call->status == 404)
			msg = xstrdup("the server could not find the requested resource");
		else
			msg = xasprintf("the server responded with the status code %d but did not "
					"return more information", call->status);
		r.message = msg;
	}
	call_finish(call, &r);
}

static void finish_answer(struct client_call *call)
{
	json_t *body = NULL;
	char *perr = NULL;

	if (call->in.len)
		(void)api_json_parse(call->in.data, call->in.len, 0, &body, &perr);
	if (call->status >= 300) {
		finish_refused(call, body);
	} else if (!body && !call->raw) {
		_cleanup_free_ char *msg = xasprintf("the response is not JSON: %s",
						     perr ? perr : "empty body");
		finish_error(call, -EBADMSG, msg);
	} else {
		struct client_result r = {
			.code = call->status,
			.reason = "",
			.message = "",
			.object = body,
			.body = call->in.data ? call->in.data : "",
			.body_len = call->in.len,
			.http_version = call->version,
		};
		call_finish(call, &r);
	}
	free(perr);
	json_decref(body);
}

/* End a call early for a reason of ours; the transport's on_done follows. */
static void call_abort(struct client_call *call, int err, char *msg)
{
	if (call->fail) {
		free(msg);
		return;
	}
	call->fail = err;
	call->fail_msg = msg;
	if (call->in_flight)
		call->c->tr.cancel(call->c->tr.ud, call->handle);
}

/* --- watch streams: one JSON event a line --- */

static void watch_event(struct client_call *call, const char *line, size_t len)
{
	json_t *ev = NULL;
	char *perr = NULL;

	if (api_json_parse(line, len, 0, &ev, &perr) < 0) {
		call_abort(call, -EBADMSG, xasprintf("a watch event is not JSON: %s", perr));
		free(perr);
		return;
	}
	const char *type = api_get_str(ev, "type");
	json_t *obj = api_get_object(ev, "object");
	if (!type || !obj)
		call_abort(call, -EBADMSG, xstrdup("a watch event without type or object"));
	else
		call->on_event(type, obj, call->ud);
	json_decref(ev);
}

static void watch_input(struct client_call *call)
{
	size_t start = 0;

	call->refs++;
	while (call->linked && !call->fail) {
		char *nl = memchr(call->in.data + start, '\n', call->in.len - start);
		if (!nl)
			break;
		size_t len = (size_t)(nl - (call->in.data + start));
		if (len)
			watch_event(call, call->in.data + start, len);
		start += len + 1;
	}
	if (start)
		buf_consume(&call->in, MIN(start, call->in.len));
	if (call->in.len > EVENT_MAX)
		call_abort(call, -EMSGSIZE, xstrdup("a watch event is larger than 64 MiB"));
	call_unref(call);
}

/* --- the transport's callbacks --- */

static void on_headers(struct http_call *hc, int status, const struct http_header *h, unsigned n,
		       void *ud)
{
	struct client_call *call = ud;

	call->status = status;
	if (hc)
		call->version = http_call_version(hc);
}

static void on_data(struct http_call *hc, const char *p, size_t len, void *ud)
{
	struct client_call *call = ud;

	if (!call->linked || call->fail)
		return;
	buf_append(&call->in, p, len);
	if (call->watch && call->status == 200)
		watch_input(call);
	else if (call->in.len > BODY_MAX)
		call_abort(call, -EMSGSIZE, xstrdup("the response is larger than 512 MiB"));
}

static void on_done(struct http_call *hc, int err, const struct http_header *t, unsigned n,
		    void *ud)
{
	struct client_call *call = ud;

	call->in_flight = false;
	call->handle = NULL;
	if (!call->linked) {
		/* cancelled */
	} else if (call->fail) {
		finish_error(call, call->fail, call->fail_msg);
	} else if (call->watch && call->status == 200) {
		if (err == 0 && call->in.len)
			watch_event(call, call->in.data, call->in.len); /* a last line without \n */
		buf_clear(&call->in);
		if (call->fail)
			finish_error(call, call->fail, call->fail_msg);
		else
			finish_error(call, err == -ECANCELED ? -ECONNRESET : err,
				     err ? NULL : "the server ended the watch");
	} else if (err < 0 || call->status == 0) {
		finish_error(call, err < 0 ? err : -EPROTO, NULL);
	} else {
		finish_answer(call);
	}
	call_unref(call);
}

static const struct http_call_ops transport_ops = {on_headers, on_data, on_done};

/* --- sending --- */

static void call_send(struct loop_timer *t)
{
	struct client_call *call = container_of(t, struct client_call, start);
	struct client *c = call->c;
	struct http_header h[4];
	unsigned nh = 0;
	uint64_t waited = loop_now(c->loop) - call->queued_ns;

	if (waited >= THROTTLE_LOG_NS)
		log_info(c->log, "waited for client-side throttling", LOG_S("method", call->method),
			 LOG_S("target", call->target), LOG_U("waited_ms", waited / 1000000u));
	h[nh++] = (struct http_header){"accept", call->raw ? "application/json, */*" : "application/json"};
	h[nh++] = (struct http_header){"user-agent", c->user_agent};
	if (c->authorization)
		h[nh++] = (struct http_header){"authorization", c->authorization};
	if (call->content_type)
		h[nh++] = (struct http_header){"content-type", call->content_type};
	struct http_call_request req = {
		.method = call->method,
		.target = call->target,
		.headers = h,
		.nheaders = nh,
		.body = call->req_body.data,
		.body_len = call->req_body.len,
	};
	int r = c->tr.call(c->tr.ud, &req, &transport_ops, call, &call->handle);
	if (r < 0) {
		finish_error(call, r, NULL);
		return;
	}
	call->in_flight = true;
	call->refs++;
}

struct call_spec {
	const char *method;
	char *target; /* taken */
	const char *content_type;
	const void *body;
	size_t body_len;
	bool watch, raw;
	client_event_fn on_event;
	client_done_fn done;
	void *ud;
};

/* Queue a call behind the rate limiter; it goes out from a timer, so no
 * callback ever runs inside the function that started it. */
static int call_start(struct client *c, struct call_spec *s, struct client_call **ret)
{
	if (!s->target || !s->done || (s->watch && !s->on_event)) {
		free(s->target);
		return -EINVAL;
	}
	struct client_call *call = xnew(struct client_call, 1);
	call->c = c;
	call->refs = 1;
	call->method = xstrdup(s->method);
	call->target = TAKE_PTR(s->target);
	call->content_type = s->content_type;
	buf_append(&call->req_body, s->body, s->body_len);
	call->watch = s->watch;
	call->raw = s->raw;
	call->on_event = s->on_event;
	call->on_done = s->done;
	call->ud = s->ud;
	call->start.fn = call_send;
	call->linked = true;
	call->next = c->calls;
	if (c->calls)
		c->calls->prev = call;
	c->calls = call;
	call->queued_ns = loop_now(c->loop);
	loop_timer_arm(c->loop, &call->start, client_bucket_reserve(&c->bucket, call->queued_ns));
	if (ret)
		*ret = call;
	return 0;
}

/* --- the verbs --- */

static char *target_for(const struct client_ref *ref, const char *name, const char *ns,
			const struct buf *query)
{
	struct client_ref r = *ref;
	if (name)
		r.name = name;
	if (ns)
		r.namespace = ns;
	char *path = client_path(&r);
	if (!path || !query || !query->len)
		return path;
	char *t = xasprintf("%s%s", path, query->data);
	free(path);
	return t;
}

static void query_write(struct buf *q, const struct client_write_opts *o)
{
	if (!o)
		return;
	if (o->dry_run)
		client_query_add(q, "dryRun", "All");
	if (o->field_manager)
		client_query_add(q, "fieldManager", o->field_manager);
	if (o->force)
		client_query_add(q, "force", "true");
	if (o->field_validation)
		client_query_add(q, "fieldValidation", o->field_validation);
}

int client_get(struct client *c, const struct client_ref *ref, client_done_fn done, void *ud,
	       struct client_call **ret)
{
	if (!ref->name || !*ref->name)
		return -EINVAL;
	struct call_spec s = {"GET", target_for(ref, NULL, NULL, NULL), .done = done, .ud = ud};
	return call_start(c, &s, ret);
}

int client_list(struct client *c, const struct client_ref *ref, const struct client_list_opts *o,
		client_done_fn done, void *ud, struct client_call **ret)
{
	struct buf q = {0};
	client_query_list(&q, o, false);
	struct call_spec s = {"GET", target_for(ref, "", NULL, &q), .done = done, .ud = ud};
	buf_free(&q);
	return call_start(c, &s, ret);
}

int client_watch(struct client *c, const struct client_ref *ref, const struct client_list_opts *o,
		 client_event_fn on_event, client_done_fn done, void *ud, struct client_call **ret)
{
	struct buf q = {0};
	client_query_list(&q, o, true);
	struct call_spec s = {"GET", target_for(ref, "", NULL, &q), .watch = true,
			      .on_event = on_event, .done = done, .ud = ud};
	buf_free(&q);
	return call_start(c, &s, ret);
}

static int write_obj(struct client *c, const char *method, const struct client_ref *ref,
		     const json_t *obj, const char *name, const struct client_write_opts *o,
		     client_done_fn done, void *ud, struct client_call **ret)
{
	const char *ns = ref->namespace && *ref->namespace ? NULL : api_meta_namespace(obj);
	struct buf q = {0}, body = {0};

	if (!json_is_object(obj))
		return -EINVAL;
	query_write(&q, o);
	api_json_dump(obj, &body);
	struct call_spec s = {method, target_for(ref, name, ns, &q), "application/json", body.data,
			      body.len, .done = done, .ud = ud};
	int r = call_start(c, &s, ret);
	buf_free(&q);
	buf_free(&body);
	return r;
}

int client_create(struct client *c, const struct client_ref *ref, const json_t *obj,
		  const struct client_write_opts *o, client_done_fn done, void *ud,
		  struct client_call **ret)
{
	return write_obj(c, "POST", ref, obj, "", o, done, ud, ret);
}

int client_update(struct client *c, const struct client_ref *ref, const json_t *obj,
		  const struct client_write_opts *o, client_done_fn done, void *ud,
		  struct client_call **ret)
{
	const char *name = ref->name && *ref->name ? ref->name : api_meta_name(obj);
	if (!name || !*name)
		return -EINVAL;
	return write_obj(c, "PUT", ref, obj, name, o, done, ud, ret);
}

int client_patch(struct client *c, const struct client_ref *ref, enum client_patch_type type,
		 const char *patch, size_t len, const struct client_write_opts *o,
		 client_done_fn done, void *ud, struct client_call **ret)
{
	static const char *const types[] = {
		[CLIENT_PATCH_JSON] = "application/json-patch+json",
		[CLIENT_PATCH_MERGE] = "application/merge-patch+json",
		[CLIENT_PATCH_STRATEGIC] = "application/strategic-merge-patch+json",
		[CLIENT_PATCH_APPLY] = "application/apply-patch+yaml",
	};
	struct buf q = {0};

	if ((unsigned)type >= ARRAY_SIZE(types) || !patch || !ref->name || !*ref->name ||
	    (type == CLIENT_PATCH_APPLY && (!o || !o->field_manager)))
		return -EINVAL;
	query_write(&q, o);
	struct call_spec s = {"PATCH", target_for(ref, NULL, NULL, &q), types[type], patch, len,
			      .done = done, .ud = ud};
	buf_free(&q);
	return call_start(c, &s, ret);
}

int client_delete(struct client *c, const struct client_ref *ref,
		  const struct client_delete_opts *o, client_done_fn done, void *ud,
		  struct client_call **ret)
{
	json_t *opts = json_pack("{s:s, s:s}", "kind", "DeleteOptions", "apiVersion", "v1");
	struct buf body = {0};

	if (!ref->name || !*ref->name) {
		json_decref(opts);
		return -EINVAL;
	}
	if (o && o->propagation_policy)
		json_object_set_new(opts, "propagationPolicy", json_string(o->propagation_policy));
	if (o && o->has_grace_period)
		json_object_set_new(opts, "gracePeriodSeconds", json_integer(o->grace_period_seconds));
	if (o && o->precondition_uid)
		api_set_str(opts, "preconditions.uid", o->precondition_uid);
	if (o && o->precondition_resource_version)
		api_set_str(opts, "preconditions.resourceVersion", o->precondition_resource_version);
	if (o && o->dry_run)
		json_object_set_new(opts, "dryRun", json_pack("[s]", "All"));
	api_json_dump(opts, &body);
	json_decref(opts);
	struct call_spec s = {"DELETE", target_for(ref, NULL, NULL, NULL), "application/json",
			      body.data, body.len, .done = done, .ud = ud};
	int r = call_start(c, &s, ret);
	buf_free(&body);
	return r;
}

int client_raw(struct client *c, const char *method, const char *target,
	       const char *content_type, const void *body, size_t len, client_done_fn done,
	       void *ud, struct client_call **ret)
{
	if (!method || !target || target[0] != '/')
		return -EINVAL;
	struct call_spec s = {method, xstrdup(target), content_type, body, len, .raw = true,
			      .done = done, .ud = ud};
	return call_start(c, &s, ret);
}

/* --- the client --- */

static int http_transport_call(void *ud, const struct http_call_request *req,
			       const struct http_call_ops *ops, void *call_ud, void **ret_handle)
{
	struct http_call *hc;
	int r = http_client_call(ud, req, ops, call_ud, &hc);
	if (r == 0)
		*ret_handle = hc;
	return r;
}

static void http_transport_cancel(void *ud, void *handle)
{
	http_call_cancel(handle);
}

/* The TLS context a kubeconfig asks for, with the reason when it cannot be had. */
static int tls_ctx(const struct pki_kubeconfig *kc, bool h2, SSL_CTX **ret, char **ret_errmsg)
{
	SSL_CTX *ctx = NULL;

	if (!kc->client_cert_pem != !kc->client_key_pem) {
		*ret_errmsg = xasprintf("user \"%s\" has a client %s without its %s",
					kc->user ? kc->user : "", kc->client_cert_pem ? "certificate" : "key",
					kc->client_cert_pem ? "key" : "certificate");
		return -EINVAL;
	}
	if (kc->ca_pem && http_tls_client_ctx(kc->ca_pem, NULL, NULL, h2, &ctx) < 0) {
		*ret_errmsg = xasprintf("the certificate-authority of cluster \"%s\" holds no PEM "
					"certificate", kc->cluster ? kc->cluster : "");
		return -EINVAL;
	}
	SSL_CTX_free(ctx);
	if (http_tls_client_ctx(kc->ca_pem, kc->client_cert_pem, kc->client_key_pem, h2, &ctx) < 0) {
		*ret_errmsg = xasprintf("the client certificate and key of user \"%s\" do not parse "
					"or do not match", kc->user ? kc->user : "");
		return -EINVAL;
	}
	if (kc->insecure_skip_tls_verify)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	*ret = ctx;
	return 0;
}

int client_new(struct loop *l, const struct client_options *o, struct client **ret,
	       char **ret_errmsg)
{
	const struct pki_kubeconfig *kc = o->kubeconfig;
	char *msg = NULL;
	SSL_CTX *tls = NULL;
	int r;

	if (!kc || !kc->server) {
		msg = xstrdup("the kubeconfig names no server");
		r = -EINVAL;
		goto fail;
	}
	struct client *c = xnew(struct client, 1);
	c->loop = l;
	c->log = o->log;
	c->user_agent = xstrdup(o->user_agent ? o->user_agent : "kelp/" KELP_VERSION);
	if (kc->token)
		c->authorization = xasprintf("Bearer %s", kc->token);
	client_bucket_init(&c->bucket, o->qps ? o->qps : 5, o->burst ? o->burst : 10, loop_now(l));
	if (o->transport) {
		c->tr = *o->transport;
	} else {
		bool https = str_has_prefix(kc->server, "https://");
		if (https && (r = tls_ctx(kc, !o->http1, &tls, &msg)) < 0) {
			client_free(c);
			goto fail;
		}
		struct http_client_config hc = {.url = kc->server, .tls = tls, .h2 = https && !o->http1,
						.log = o->log};
		r = http_client_new(l, &hc, &c->http);
		SSL_CTX_free(tls); /* the http client holds its own reference */
		if (r < 0) {
			msg = xasprintf("cannot use server %s: %s", kc->server,
					r == -EINVAL ? "not an http(s) URL with a host" : strerror(-r));
			client_free(c);
			goto fail;
		}
		c->tr = (struct client_transport){http_transport_call, http_transport_cancel, c->http};
	}
	*ret = c;
	return 0;
fail:
	if (ret_errmsg)
		*ret_errmsg = msg;
	else
		free(msg);
	return r;
}

struct client *client_free(struct client *c)
{
	if (!c)
		return NULL;
	while (c->calls)
		client_call_cancel(c->calls);
	http_client_free(c->http);
	free(c->authorization);
	free(c->user_agent);
	free(c);
	return NULL;
}

struct loop *client_loop(const struct client *c) { return c->loop; }
const struct logger *client_log(const struct client *c) { return c->log; }
