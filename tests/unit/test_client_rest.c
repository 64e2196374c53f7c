/* lib/client's REST client against a fake server: what goes on the wire for
 * each verb (paths, query escaping, patch media types, DeleteOptions,
 * credentials), what comes back (objects, Kubernetes Status errors, bad
 * bodies, transport failures), watch streams split into events, cancel,
 * and the client-side rate limit. */
#include "client/client-internal.h"
#include "test_client_fake.h"

#include "tap.h"

struct got {
	bool done;
	int calls;
	int err, code, version;
	char *reason, *message, *body;
	json_t *object, *status;
	json_t *events; /* [[type, object], ...] */
};

static void got_done(const struct client_result *r, void *ud)
{
	struct got *g = ud;
	g->done = true;
	g->calls++;
	g->err = r->err;
	g->code = r->code;
	g->version = r->http_version;
	g->reason = xstrdup(r->reason);
	g->message = xstrdup(r->message);
	g->body = xstrndup(r->body, r->body_len);
	g->object = json_incref(r->object);
	g->status = json_incref(r->status);
}

static void got_event(const char *type, json_t *obj, void *ud)
{
	struct got *g = ud;
	if (!g->events)
		g->events = json_array();
	json_array_append_new(g->events, json_pack("[sO]", type, obj));
}

static void got_clear(struct got *g)
{
	free(g->reason);
	free(g->message);
	free(g->body);
	json_decref(g->object);
	json_decref(g->status);
	json_decref(g->events);
	*g = (struct got){0};
}

struct env {
	struct loop *l;
	struct fake f;
	struct client *c;
};

static bool env_init(struct env *e, double qps, unsigned burst)
{
	*e = (struct env){0};
	if (loop_new(NULL, &e->l) < 0)
		return false;
	e->c = fake_client(&e->f, e->l, qps, burst);
	return e->c != NULL;
}

static void env_fini(struct env *e)
{
	client_free(e->c);
	fake_free(&e->f);
	loop_free(e->l);
}

static void test_paths_and_queries(void)
{
	struct client_ref r = {CLIENT_GVR_PODS, "default", "web-0", "status"};
	char *p = client_path(&r);
	CHECK_STREQ(p, "/api/v1/namespaces/default/pods/web-0/status");
	free(p);
	r = (struct client_ref){CLIENT_GVR_ENDPOINTSLICES};
	p = client_path(&r);
	CHECK_STREQ(p, "/apis/discovery.k8s.io/v1/endpointslices");
	free(p);
	r = (struct client_ref){CLIENT_GVR_NODES, NULL, "n 1/x"};
	p = client_path(&r);
	CHECK_STREQ(p, "/api/v1/nodes/n%201%2Fx");
	free(p);
	r = (struct client_ref){{"", "", "pods"}};
	CHECK(client_path(&r) == NULL);

	struct buf q = {0};
	struct client_list_opts o = {.label_selector = "app in (a,b),!canary",
				     .field_selector = "spec.nodeName=n1",
				     .resource_version = "42",
				     .limit = 50,
				     .continue_token = "abc=",
				     .allow_watch_bookmarks = true,
				     .timeout_seconds = 300};
	client_query_list(&q, &o, false);
	CHECK_STREQ(q.data, "?labelSelector=app%20in%20%28a%2Cb%29%2C%21canary"
			    "&fieldSelector=spec.nodeName%3Dn1&resourceVersion=42&limit=50"
			    "&continue=abc%3D");
	buf_clear(&q);
	client_query_list(&q, &o, true);
	CHECK(str_has_prefix(q.data, "?watch=1&labelSelector="));
	CHECK(strstr(q.data, "&resourceVersion=42&allowWatchBookmarks=true&timeoutSeconds=300"));
	CHECK(!strstr(q.data, "limit=") && !strstr(q.data, "continue="));
	buf_free(&q);
}

static void test_get_decodes_the_object(void)
{
	struct env e;
	struct got g = {0};
	struct client_ref r = {CLIENT_GVR_CONFIGMAPS, "default", "cm1"};

	CHECK(env_init(&e, 0, 0));
	CHECK_INT(client_get(e.c, &r, got_done, &g, NULL), 0);
	CHECK(!g.done); /* never from inside the call */
	struct fake_call *fc = fake_next(&e.f, 1000);
	CHECK(fc && streq(fc->method, "GET"));
	CHECK_STREQ(fc->target, "/api/v1/namespaces/default/configmaps/cm1");
	CHECK_STREQ(fc->authorization, "Bearer s3cret");
	CHECK(fc->user_agent && str_has_prefix(fc->user_agent, "kelp/"));
	fake_respond(fc, 200, "{\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm1\"},\"data\":{\"a\":\"1\"}}");
	CHECK(g.done && g.err == 0 && g.code == 200);
	CHECK_STREQ(api_get_str(g.object, "data.a"), "1");
	got_clear(&g);

	CHECK_INT(client_get(e.c, &(struct client_ref){CLIENT_GVR_CONFIGMAPS}, got_done, &g, NULL),
		  -EINVAL);
	env_fini(&e);
}

static void test_errors_carry_the_status(void)
{
	struct env e;
	struct got g = {0};
	struct client_ref r = {CLIENT_GVR_CONFIGMAPS, "default", "nope"};

	CHECK(env_init(&e, 0, 0));
	client_get(e.c, &r, got_done, &g, NULL);
	fake_respond(fake_next(&e.f, 1000), 404,
		     "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
		     "\"message\":\"configmaps \\\"nope\\\" not found\",\"reason\":\"NotFound\","
		     "\"details\":{\"name\":\"nope\",\"kind\":\"configmaps\"},\"code\":404}");
	CHECK_INT(g.err, -EREMOTEIO);
	CHECK_INT(g.code, 404);
	CHECK_STREQ(g.reason, "NotFound");
	CHECK_STREQ(g.message, "configmaps \"nope\" not found");
	CHECK(g.status && api_status_code(g.status) == 404);
	got_clear(&g);

	/* No Status: words for the bare code, and its usual reason. */
	client_get(e.c, &r, got_done, &g, NULL);
	fake_respond(fake_next(&e.f, 1000), 503, "upstream busy");
	CHECK_INT(g.err, -EREMOTEIO);
	CHECK_STREQ(g.reason, "ServiceUnavailable");
	CHECK_STREQ(g.message, "the server responded with the status code 503 but did not return "
			       "more information");
	CHECK(g.status == NULL);
	CHECK_STREQ(g.body, "upstream busy");
	got_clear(&g);

	/* A 200 that is not JSON. */
	client_get(e.c, &r, got_done, &g, NULL);
	fake_respond(fake_next(&e.f, 1000), 200, "{\"kind\":");
	CHECK_INT(g.err, -EBADMSG);
	CHECK(g.message && str_has_prefix(g.message, "the response is not JSON: "));
	got_clear(&g);

	/* No answer at all. */
	client_get(e.c, &r, got_done, &g, NULL);
	fake_end(fake_next(&e.f, 1000), -ECONNREFUSED);
	CHECK_INT(g.err, -ECONNREFUSED);
	CHECK_INT(g.code, 0);
	CHECK_STREQ(g.message, strerror(ECONNREFUSED));
	got_clear(&g);

	/* raw: text bodies are fine. */
	client_raw(e.c, "GET", "/healthz", NULL, NULL, 0, got_done, &g, NULL);
	fake_respond(fake_next(&e.f, 1000), 200, "ok");
	CHECK(g.err == 0 && g.object == NULL);
	CHECK_STREQ(g.body, "ok");
	got_clear(&g);
	env_fini(&e);
}

static void test_writes_say_what_they_are(void)
{
	struct env e;
	struct got g = {0};
	struct fake_call *fc;
	json_t *cm = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
			       "metadata", "name", "cm1", "namespace", "team-a");

	CHECK(env_init(&e, 0, 0));
	client_create(e.c, &(struct client_ref){CLIENT_GVR_CONFIGMAPS}, cm,
		      &(struct client_write_opts){.field_manager = "kelp-test", .dry_run = true},
		      got_done, &g, NULL);
	fc = fake_next(&e.f, 1000);
	CHECK_STREQ(fc->method, "POST");
	CHECK_STREQ(fc->target, "/api/v1/namespaces/team-a/configmaps?dryRun=All&fieldManager=kelp-test");
	CHECK_STREQ(fc->content_type, "application/json");
	CHECK(strstr(fc->body, "\"name\":\"cm1\""));
	fake_respond(fc, 201, fc->body);
	CHECK(g.err == 0 && g.code == 201);
	got_clear(&g);

	client_update(e.c, &(struct client_ref){CLIENT_GVR_CONFIGMAPS}, cm, NULL, got_done, &g, NULL);
	fc = fake_next(&e.f, 1000);
	CHECK_STREQ(fc->method, "PUT");
	CHECK_STREQ(fc->target, "/api/v1/namespaces/team-a/configmaps/cm1");
	fake_end(fc, -ECONNRESET);
	got_clear(&g);

	static const char *const types[] = {"application/json-patch+json",
					    "application/merge-patch+json",
					    "application/strategic-merge-patch+json",
					    "application/apply-patch+yaml"};
	struct client_ref r = {CLIENT_GVR_CONFIGMAPS, "team-a", "cm1"};
	for (int t = CLIENT_PATCH_JSON; t <= CLIENT_PATCH_APPLY; t++) {
		struct client_write_opts o = {.field_manager = "mgr", .force = t == CLIENT_PATCH_APPLY};
		CHECK_INT(client_patch(e.c, &r, t, "{}", 2, &o, got_done, &g, NULL), 0);
		fc = fake_next(&e.f, 1000);
		CHECK_STREQ(fc->method, "PATCH");
		CHECK_STREQ(fc->content_type, types[t]);
		CHECK_STREQ(fc->target, t == CLIENT_PATCH_APPLY
						? "/api/v1/namespaces/team-a/configmaps/cm1?fieldManager=mgr&force=true"
						: "/api/v1/namespaces/team-a/configmaps/cm1?fieldManager=mgr");
		fake_end(fc, -ECONNRESET);
		got_clear(&g);
	}
	/* Apply without a field manager is refused before anything is sent. */
	CHECK_INT(client_patch(e.c, &r, CLIENT_PATCH_APPLY, "{}", 2, NULL, got_done, &g, NULL), -EINVAL);

	client_delete(e.c, &r,
		      &(struct client_delete_opts){.propagation_policy = "Foreground",
						   .has_grace_period = true,
						   .grace_period_seconds = 0,
						   .precondition_resource_version = "7"},
		      got_done, &g, NULL);
	fc = fake_next(&e.f, 1000);
	CHECK_STREQ(fc->method, "DELETE");
	CHECK_STREQ(fc->body, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"propagationPolicy\":"
			      "\"Foreground\",\"gracePeriodSeconds\":0,\"preconditions\":"
			      "{\"resourceVersion\":\"7\"}}");
	fake_respond(fc, 200, "{\"kind\":\"Status\",\"status\":\"Success\"}");
	CHECK(g.err == 0);
	got_clear(&g);
	json_decref(cm);
	env_fini(&e);
}

static void test_watch_stream_is_split_into_events(void)
{
	struct env e;
	struct got g = {0};
	struct client_call *call;

	CHECK(env_init(&e, 0, 0));
	client_watch(e.c, &(struct client_ref){CLIENT_GVR_CONFIGMAPS, "default"},
		     &(struct client_list_opts){.resource_version = "5", .allow_watch_bookmarks = true},
		     got_event, got_done, &g, &call);
	struct fake_call *fc = fake_next(&e.f, 1000);
	CHECK_STREQ(fc->target, "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=5"
				"&allowWatchBookmarks=true");
	fake_headers(fc, 200);
	/* Events split anywhere, several in one piece, a blank line between. */
	fake_data(fc, "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n{\"type\":\"MOD");
	fake_data(fc, "IFIED\",\"object\":{\"metadata\":{\"name\":\"a\"}}}\n\n");
	fake_event(fc, "BOOKMARK", "{\"metadata\":{\"resourceVersion\":\"9\"}}");
	CHECK_INT(json_array_size(g.events), 3);
	CHECK_STREQ(json_string_value(json_array_get(json_array_get(g.events, 1), 0)), "MODIFIED");
	fake_end(fc, 0);
	CHECK(g.done && g.err == 0 && g.code == 200);
	got_clear(&g);

	/* A line that is not an event ends the watch with -EBADMSG. */
	client_watch(e.c, &(struct client_ref){CLIENT_GVR_CONFIGMAPS}, NULL, got_event, got_done, &g,
		     NULL);
	fc = fake_next(&e.f, 1000);
	fake_headers(fc, 200);
	fake_data(fc, "[1]\n{\"type\":\"ADDED\",\"object\":{}}\n");
	CHECK(g.done && g.err == -EBADMSG && fc->cancelled);
	CHECK(g.events == NULL);
	got_clear(&g);

	/* A refused watch ends with the Status. */
	client_watch(e.c, &(struct client_ref){CLIENT_GVR_CONFIGMAPS}, NULL, got_event, got_done, &g,
		     NULL);
	fake_respond(fake_next(&e.f, 1000), 410,
		     "{\"kind\":\"Status\",\"reason\":\"Expired\",\"message\":\"too old\",\"code\":410}");
	CHECK(g.err == -EREMOTEIO && g.code == 410);
	CHECK_STREQ(g.reason, "Expired");
	got_clear(&g);

	/* Cancel: the transport is told, no callback follows. */
	client_watch(e.c, &(struct client_ref){CLIENT_GVR_CONFIGMAPS}, NULL, got_event, got_done, &g,
		     &call);
	fc = fake_next(&e.f, 1000);
	fake_headers(fc, 200);
	client_call_cancel(call);
	CHECK(fc->cancelled && !g.done);
	/* Cancelled while still waiting for its turn: nothing is sent at all. */
	client_get(e.c, &(struct client_ref){CLIENT_GVR_CONFIGMAPS, "a", "b"}, got_done, &g, &call);
	client_call_cancel(call);
	CHECK(fake_next(&e.f, 20) == NULL && !g.done);
	/* Freeing the client cancels what is open, silently. */
	client_get(e.c, &(struct client_ref){CLIENT_GVR_CONFIGMAPS, "a", "b"}, got_done, &g, NULL);
	fc = fake_next(&e.f, 1000);
	client_free(e.c);
	e.c = NULL;
	CHECK(fc->cancelled && !g.done);
	env_fini(&e);
}

static void test_rate_limit_spaces_requests(void)
{
	struct env e;
	struct got g[5] = {{0}};

	/* 50/s, bursts of 2: two at once, then one every 20 ms. */
	CHECK(env_init(&e, 50, 2));
	uint64_t t0 = now_mono_ns();
	for (int i = 0; i < 5; i++)
		client_get(e.c, &(struct client_ref){CLIENT_GVR_CONFIGMAPS, "a", "b"}, got_done, &g[i],
			   NULL);
	struct fake_call *fc[5];
	for (int i = 0; i < 5; i++) {
		fc[i] = fake_next(&e.f, 1000);
		CHECK(fc[i] != NULL);
	}
	if (fc[4]) {
		CHECK(fc[1]->at_ns - t0 < 15 * 1000000ull);
		CHECK(fc[2]->at_ns - t0 >= 15 * 1000000ull);
		CHECK(fc[4]->at_ns - t0 >= 55 * 1000000ull);
		CHECK(fc[4]->at_ns - t0 < 500 * 1000000ull);
	}
	for (int i = 0; i < 5; i++) {
		if (fc[i])
			fake_end(fc[i], -ECONNRESET);
		got_clear(&g[i]);
	}
	env_fini(&e);
}

static void test_bucket_and_backoff_arithmetic(void)
{
	struct client_bucket b;
	uint64_t s = 1e9;

	client_bucket_init(&b, 5, 10, 0);
	for (int i = 0; i < 10; i++)
		CHECK_INT(client_bucket_reserve(&b, 0), 0);
	CHECK_INT(client_bucket_reserve(&b, 0), s / 5);     /* in debt by one */
	CHECK_INT(client_bucket_reserve(&b, 0), 2 * s / 5); /* and two */
	CHECK_INT(client_bucket_reserve(&b, 10 * s), 0);    /* refilled, capped at burst */
	client_bucket_init(&b, -1, 0, 0);
	for (int i = 0; i < 100; i++)
		CHECK_INT(client_bucket_reserve(&b, 0), 0);

	uint64_t ms = 1000000;
	CHECK_INT(client_backoff_exp(5 * ms, 1000 * s, 0), 5 * ms);
	CHECK_INT(client_backoff_exp(5 * ms, 1000 * s, 3), 40 * ms);
	CHECK_INT(client_backoff_exp(5 * ms, 1000 * s, 200), 1000 * s);
	uint64_t rng = 42;
	for (unsigned n = 0; n < 12; n++) {
		uint64_t full = client_backoff_exp(800 * ms, 30 * s, n);
		uint64_t d = client_backoff_jittered(800 * ms, 30 * s, n, &rng);
		CHECK(d <= full && d >= full - full / 4);
	}
}

static void test_kubeconfig_without_server_is_refused(void)
{
	struct loop *l = NULL;
	struct client *c = NULL;
	char *msg = NULL;
	struct pki_kubeconfig kc = {0};

	CHECK_INT(loop_new(NULL, &l), 0);
	CHECK_INT(client_new(l, &(struct client_options){.kubeconfig = &kc}, &c, &msg), -EINVAL);
	CHECK_STREQ(msg, "the kubeconfig names no server");
	free(msg);
	msg = NULL;
	kc.server = "https://";
	CHECK_INT(client_new(l, &(struct client_options){.kubeconfig = &kc}, &c, &msg), -EINVAL);
	CHECK(msg && strstr(msg, "cannot use server https://"));
	free(msg);
	loop_free(l);
}

int main(void)
{
	RUN(test_paths_and_queries);
	RUN(test_get_decodes_the_object);
	RUN(test_errors_carry_the_status);
	RUN(test_writes_say_what_they_are);
	RUN(test_watch_stream_is_split_into_events);
	RUN(test_rate_limit_spaces_requests);
	RUN(test_bucket_and_backoff_arithmetic);
	RUN(test_kubeconfig_without_server_is_refused);
	return tap_done();
}
