/* A fake API server for lib/client's unit tests: a client_transport that
 * records each request and lets the test answer it (at once, in pieces, or
 * as a watch stream), so REST calls and informers run on a real loop with
 * no network. Included by test_client_rest.c and test_client_informer.c. */
#pragma once

#include <stdio.h>

#include "base/base.h"
#include "client/client.h"
#include "http/http.h"
#include "loop/loop.h"

struct fake_call {
	struct fake_call *next;
	char *method, *target, *body, *content_type, *authorization, *user_agent;
	const struct http_call_ops *ops;
	void *ud;
	bool seen;      /* handed to the test by fake_next() */
	bool done;      /* on_done ran */
	bool cancelled;
	uint64_t at_ns; /* when the client sent it */
};

struct fake {
	struct fake_call *calls, *last;
	size_t n;
	struct loop *l;
};

static char *fake_hdr(const struct http_call_request *req, const char *name)
{
	for (unsigned i = 0; i < req->nheaders; i++)
		if (strcaseeq(req->headers[i].name, name))
			return xstrdup(req->headers[i].value);
	return NULL;
}

static int fake_call_fn(void *ud, const struct http_call_request *req,
			const struct http_call_ops *ops, void *call_ud, void **ret_handle)
{
	struct fake *f = ud;
	struct fake_call *fc = xnew(struct fake_call, 1);

	fc->method = xstrdup(req->method);
	fc->target = xstrdup(req->target);
	fc->body = xstrndup(req->body ? req->body : "", req->body_len);
	fc->content_type = fake_hdr(req, "content-type");
	fc->authorization = fake_hdr(req, "authorization");
	fc->user_agent = fake_hdr(req, "user-agent");
	fc->ops = ops;
	fc->ud = call_ud;
	fc->at_ns = now_mono_ns();
	if (f->last)
		f->last->next = fc;
	else
		f->calls = fc;
	f->last = fc;
	f->n++;
	*ret_handle = fc;
	return 0;
}

static void fake_end(struct fake_call *fc, int err)
{
	if (fc->done)
		return;
	fc->done = true;
	fc->ops->on_done(NULL, err, NULL, 0, fc->ud);
}

/* As lib/http may: the cancelled call ends at once. */
static void fake_cancel_fn(void *ud, void *handle)
{
	struct fake_call *fc = handle;
	fc->cancelled = true;
	fake_end(fc, -ECANCELED);
}

static struct client_transport fake_transport(struct fake *f)
{
	return (struct client_transport){fake_call_fn, fake_cancel_fn, f};
}

static void fake_free(struct fake *f)
{
	while (f->calls) {
		struct fake_call *fc = f->calls;
		f->calls = fc->next;
		free(fc->method);
		free(fc->target);
		free(fc->body);
		free(fc->content_type);
		free(fc->authorization);
		free(fc->user_agent);
		free(fc);
	}
	f->last = NULL;
	f->n = 0;
}

static void fake_headers(struct fake_call *fc, int status)
{
	fc->ops->on_headers(NULL, status, NULL, 0, fc->ud);
}

static void fake_data(struct fake_call *fc, const char *s)
{
	if (!fc->done)
		fc->ops->on_data(NULL, s, strlen(s), fc->ud);
}

static void fake_respond(struct fake_call *fc, int status, const char *body)
{
	fake_headers(fc, status);
	fake_data(fc, body);
	fake_end(fc, 0);
}

/* A watch event line. */
_printf_(3, 4) static void fake_event(struct fake_call *fc, const char *type, const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;

	buf_printf(&b, "{\"type\":\"%s\",\"object\":", type);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	buf_puts(&b, "}\n");
	fake_data(fc, b.data);
	buf_free(&b);
}

/* Run the loop until the client sends a request the test has not looked at
 * yet (or ms pass): that request, or NULL. */
static struct fake_call *fake_next(struct fake *f, int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000u;

	for (;;) {
		for (struct fake_call *fc = f->calls; fc; fc = fc->next)
			if (!fc->seen) {
				fc->seen = true;
				return fc;
			}
		if (now_mono_ns() >= end)
			return NULL;
		loop_run_once(f->l, 2 * 1000000u);
	}
}

_unused_ static void run_for(struct loop *l, int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000u;
	while (now_mono_ns() < end)
		loop_run_once(l, 1000000u);
}

_unused_ static void run_until(struct loop *l, const bool *flag, int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000u;
	while (!*flag && now_mono_ns() < end)
		loop_run_once(l, 1000000u);
}

/* A client on the fake, without rate limits unless qps is given. */
static struct client *fake_client(struct fake *f, struct loop *l, double qps, unsigned burst)
{
	struct pki_kubeconfig kc = {.server = "https://kelp.test:6443", .token = "s3cret"};
	struct client_transport tr = fake_transport(f);
	struct client *c = NULL;

	f->l = l;
	if (client_new(l, &(struct client_options){.kubeconfig = &kc, .qps = qps ? qps : -1,
						    .burst = burst, .transport = &tr},
		       &c, NULL) < 0)
		return NULL;
	return c;
}
