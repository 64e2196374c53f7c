/* lib/client's cache and informer, fed through the fake transport: the
 * store's event and relist semantics with its indexes, and the informer's
 * life — paged list, watch from the list's version with bookmarks, resume
 * from the last version seen, relist on 410 (event or HTTP) delivering only
 * the differences, backoff after failures, expired continue tokens, and
 * freeing from inside a handler. */
#include "test_client_fake.h"

#include "tap.h"

#define MS 1000000ull

/* --- a handler that writes what it hears --- */

struct heard {
	struct buf log;
	int synced;
	struct informer *free_on_delete; /* frees this informer from on_delete */
};

static void h_add(const json_t *o, void *ud)
{
	struct heard *h = ud;
	buf_printf(&h->log, "add %s@%s ", api_meta_name(o), api_meta_resource_version(o));
}

static void h_update(const json_t *old, const json_t *o, void *ud)
{
	struct heard *h = ud;
	buf_printf(&h->log, "update %s@%s>%s ", api_meta_name(o), api_meta_resource_version(old),
		   api_meta_resource_version(o));
}

static void h_delete(const json_t *o, bool unknown, void *ud)
{
	struct heard *h = ud;
	buf_printf(&h->log, "delete %s%s ", api_meta_name(o), unknown ? "?" : "");
	if (h->free_on_delete)
		h->free_on_delete = informer_free(h->free_on_delete);
}

static void h_synced(void *ud) { ((struct heard *)ud)->synced++; }

static const struct informer_handlers handlers = {h_add, h_update, h_delete, h_synced};

/* What was heard since the last call. */
static const char *heard(struct heard *h)
{
	static char last[1024];
	snprintf(last, sizeof(last), "%s", h->log.data ? h->log.data : "");
	buf_clear(&h->log);
	return last;
}

static json_t *cm(const char *ns, const char *name, const char *rv, const char *app)
{
	json_t *o = json_pack("{s:{s:s, s:s, s:s}}", "metadata", "name", name, "namespace", ns,
			      "resourceVersion", rv);
	if (app)
		api_meta_set_label(o, "app", app);
	return o;
}

#define CM(name, rv) "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"ns\",\"resourceVersion\":\"" rv "\"}}"

static void store_delta(const struct client_delta *d, void *ud)
{
	struct heard *h = ud;
	static const char *const t[] = {"add", "update", "delete"};
	buf_printf(&h->log, "%s %s%s ", t[d->type], api_meta_name(d->obj),
		   d->final_state_unknown ? "?" : "");
}

static void by_app(const json_t *o, struct api_msgs *values, void *ud)
{
	const char *app = api_meta_label(o, "app");
	if (app)
		api_msgs_add(values, app);
}

static void test_store_applies_watch_events(void)
{
	struct client_store *s = client_store_new();
	struct heard h = {0};
	json_t *o;

	CHECK_INT(client_store_add_index(s, "app", by_app, NULL), 0);
	CHECK_INT(client_store_add_index(s, "app", by_app, NULL), -EEXIST);
	client_store_apply(s, "ADDED", o = cm("ns", "a", "1", "web"), store_delta, &h), json_decref(o);
	client_store_apply(s, "ADDED", o = cm("ns2", "a", "2", "web"), store_delta, &h), json_decref(o);
	/* The same version again changes nothing; an ADDED for a known key is an update. */
	client_store_apply(s, "MODIFIED", o = cm("ns", "a", "1", "web"), store_delta, &h), json_decref(o);
	client_store_apply(s, "ADDED", o = cm("ns", "a", "3", "db"), store_delta, &h), json_decref(o);
	/* A delete of something never seen is dropped. */
	client_store_apply(s, "DELETED", o = cm("ns", "zz", "4", NULL), store_delta, &h), json_decref(o);
	CHECK_STREQ(heard(&h), "add a add a update a ");
	CHECK_INT(client_store_len(s), 2);
	CHECK_STREQ(api_meta_resource_version(client_store_get(s, "ns", "a")), "3");
	CHECK(client_store_get_key(s, "ns2/a") != NULL);
	CHECK_INT(json_object_size(client_store_index(s, CLIENT_INDEX_NAMESPACE, "ns")), 1);
	/* The index follows the label change. */
	CHECK_INT(json_object_size(client_store_index(s, "app", "web")), 1);
	CHECK(json_object_get(client_store_index(s, "app", "db"), "ns/a") != NULL);
	client_store_apply(s, "DELETED", o = cm("ns", "a", "5", "db"), store_delta, &h), json_decref(o);
	CHECK_STREQ(heard(&h), "delete a ");
	CHECK(client_store_index(s, "app", "db") == NULL);
	CHECK(client_store_index(s, "nosuch", "x") == NULL);
	o = cm("ns", "a", "1", NULL);
	CHECK_INT(client_store_apply(s, "BOOKMARK", o, NULL, NULL), -EINVAL);
	json_decref(o);
	o = json_object();
	CHECK_INT(client_store_apply(s, "ADDED", o, NULL, NULL), -EINVAL);
	json_decref(o);
	buf_free(&h.log);
	client_store_free(s);
}

static void test_store_replace_delivers_differences(void)
{
	struct client_store *s = client_store_new();
	struct heard h = {0};
	json_t *items = json_array(), *o;

	client_store_add_index(s, "app", by_app, NULL);
	json_array_append_new(items, cm("ns", "same", "1", "web"));
	json_array_append_new(items, cm("ns", "changed", "1", "web"));
	json_array_append_new(items, cm("ns", "gone", "1", "web"));
	client_store_replace(s, items, store_delta, &h);
	CHECK_STREQ(heard(&h), "add same add changed add gone ");
	json_array_clear(items);
	json_array_append_new(items, cm("ns", "same", "1", "web"));
	json_array_append_new(items, cm("ns", "changed", "7", "db"));
	json_array_append_new(items, cm("ns", "new", "8", "web"));
	client_store_replace(s, items, store_delta, &h);
	/* Nothing for the unchanged one, no second add, the vanished one deleted. */
	CHECK_STREQ(heard(&h), "update changed add new delete gone? ");
	CHECK_INT(client_store_len(s), 3);
	CHECK(client_store_get(s, "ns", "gone") == NULL);
	o = (json_t *)client_store_index(s, "app", "web");
	CHECK(json_object_size(o) == 2 && json_object_get(o, "ns/new") && json_object_get(o, "ns/same"));
	/* An empty list empties the store. */
	json_array_clear(items);
	client_store_replace(s, items, store_delta, &h);
	CHECK_INT(client_store_len(s), 0);
	CHECK(client_store_index(s, CLIENT_INDEX_NAMESPACE, "ns") == NULL);
	json_decref(items);
	buf_free(&h.log);
	client_store_free(s);
}

/* --- informers --- */

struct env {
	struct loop *l;
	struct fake f;
	struct client *c;
	struct informer *inf;
	struct heard h;
};

static bool env_init(struct env *e, unsigned page_size)
{
	*e = (struct env){0};
	loop_new(NULL, &e->l);
	e->c = fake_client(&e->f, e->l, 0, 0);
	if (!e->c)
		return false;
	struct informer_options o = {
		.ref = {CLIENT_GVR_CONFIGMAPS},
		.label_selector = "app=web",
		.page_size = page_size,
		.backoff_initial_ns = 20 * MS,
		.backoff_max_ns = 80 * MS,
		.handlers = &handlers,
		.ud = &e->h,
	};
	if (informer_new(e->c, &o, &e->inf) < 0)
		return false;
	informer_start(e->inf);
	return true;
}

static void env_fini(struct env *e)
{
	informer_free(e->inf);
	client_free(e->c);
	fake_free(&e->f);
	buf_free(&e->h.log);
	loop_free(e->l);
}

static void list_answer(struct fake_call *fc, const char *rv, const char *cont, const char *items)
{
	struct buf b = {0};
	buf_printf(&b, "{\"kind\":\"ConfigMapList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
		       "\"%s\"%s%s%s},\"items\":[%s]}",
		   rv, cont ? ",\"continue\":\"" : "", cont ? cont : "", cont ? "\"" : "", items);
	fake_respond(fc, 200, b.data);
	buf_free(&b);
}

/* List (one page), watch started: the watch's request. */
static struct fake_call *synced_watch(struct env *e, const char *rv, const char *items)
{
	struct fake_call *fc = fake_next(&e->f, 1000);
	if (!fc || !strstr(fc->target, "limit="))
		return NULL;
	list_answer(fc, rv, NULL, items);
	fc = fake_next(&e->f, 1000);
	if (fc)
		fake_headers(fc, 200);
	return fc;
}

static void test_list_pages_then_watches_from_the_list_version(void)
{
	struct env e;
	CHECK(env_init(&e, 2));
	struct fake_call *fc = fake_next(&e.f, 1000);
	CHECK_STREQ(fc->target, "/api/v1/configmaps?labelSelector=app%3Dweb&limit=2");
	list_answer(fc, "10", "tok1", CM("a", "3") "," CM("b", "4"));
	CHECK(!informer_synced(e.inf));
	CHECK_STREQ(heard(&e.h), ""); /* nothing until the list is whole */
	fc = fake_next(&e.f, 1000);
	CHECK_STREQ(fc->target, "/api/v1/configmaps?labelSelector=app%3Dweb&limit=2&continue=tok1");
	list_answer(fc, "10", NULL, CM("c", "9"));
	CHECK(informer_synced(e.inf));
	CHECK_INT(e.h.synced, 1);
	CHECK_STREQ(heard(&e.h), "add a@3 add b@4 add c@9 ");
	CHECK_STREQ(informer_resource_version(e.inf), "10");
	/* List items get the list's kind and apiVersion. */
	const json_t *a = client_store_get(informer_store(e.inf), "ns", "a");
	CHECK_STREQ(api_obj_kind(a), "ConfigMap");
	CHECK_STREQ(api_obj_api_version(a), "v1");
	fc = fake_next(&e.f, 1000);
	CHECK(fc && str_has_prefix(fc->target, "/api/v1/configmaps?watch=1&labelSelector=app%3Dweb"
					       "&resourceVersion=10&allowWatchBookmarks=true&timeoutSeconds="));
	env_fini(&e);
}

static void test_watch_resumes_from_the_last_version(void)
{
	struct env e;
	CHECK(env_init(&e, 0));
	struct fake_call *w = synced_watch(&e, "10", CM("a", "3"));
	CHECK(w != NULL);
	heard(&e.h);
	fake_event(w, "ADDED", CM("b", "11"));
	fake_event(w, "MODIFIED", CM("a", "12"));
	fake_event(w, "MODIFIED", CM("a", "12")); /* a duplicate changes nothing */
	fake_event(w, "DELETED", CM("b", "13"));
	fake_event(w, "BOOKMARK", "{\"kind\":\"ConfigMap\",\"metadata\":{\"resourceVersion\":\"20\"}}");
	CHECK_STREQ(heard(&e.h), "add b@11 update a@3>12 delete b ");
	CHECK_STREQ(informer_resource_version(e.inf), "20");
	/* The server ends the watch (its timeout): watch again from the bookmark, at once. */
	fake_end(w, 0);
	w = fake_next(&e.f, 1000);
	CHECK(w && strstr(w->target, "&resourceVersion=20&"));
	/* The connection breaks: back off, then watch from the same version (no relist). */
	fake_headers(w, 200);
	fake_end(w, -ECONNRESET);
	uint64_t t0 = now_mono_ns();
	w = fake_next(&e.f, 1000);
	CHECK(w && strstr(w->target, "watch=1") && strstr(w->target, "&resourceVersion=20&"));
	CHECK(now_mono_ns() - t0 >= 14 * MS); /* 20 ms, less up to a quarter */
	/* Refused to connect twice more: the delays grow. */
	fake_end(w, -ECONNREFUSED);
	t0 = now_mono_ns();
	w = fake_next(&e.f, 1000);
	CHECK(now_mono_ns() - t0 >= 29 * MS);
	fake_end(w, -ECONNREFUSED);
	t0 = now_mono_ns();
	w = fake_next(&e.f, 1000);
	CHECK(now_mono_ns() - t0 >= 59 * MS);
	CHECK(w && strstr(w->target, "&resourceVersion=20&"));
	struct informer_stats st;
	informer_get_stats(e.inf, &st);
	CHECK_INT(st.lists, 1);
	CHECK_INT(st.gone, 0);
	CHECK_INT(st.retries, 3);
	CHECK_INT(st.events, 4);
	CHECK_STREQ(heard(&e.h), "");
	env_fini(&e);
}

static void test_gone_relists_and_delivers_only_differences(void)
{
	struct env e;
	CHECK(env_init(&e, 0));
	struct fake_call *w = synced_watch(&e, "10", CM("same", "1") "," CM("changed", "2") ","
					   CM("deleted", "3"));
	heard(&e.h);
	/* 410 as an ERROR event, the way kube-apiserver (and kelp) says it on a watch. */
	fake_event(w, "ERROR", "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
			       "\"status\":\"Failure\",\"message\":\"too old resource version: 10 (15)\","
			       "\"reason\":\"Expired\",\"code\":410}");
	CHECK(w->cancelled);
	struct fake_call *l = fake_next(&e.f, 1000);
	CHECK(l && !strstr(l->target, "watch=1") && !strstr(l->target, "resourceVersion="));
	list_answer(l, "30", NULL, CM("same", "1") "," CM("changed", "25") "," CM("new", "26"));
	CHECK_STREQ(heard(&e.h), "update changed@2>25 add new@26 delete deleted? ");
	CHECK_INT(e.h.synced, 1); /* synced once, not again */
	w = fake_next(&e.f, 1000);
	CHECK(w && strstr(w->target, "&resourceVersion=30&"));

	/* The watch proves healthy and ends; its successor meets 410 as an HTTP status. */
	fake_headers(w, 200);
	fake_event(w, "ADDED", CM("x", "31"));
	fake_end(w, 0);
	w = fake_next(&e.f, 1000);
	CHECK(w && strstr(w->target, "&resourceVersion=31&"));
	fake_respond(w, 410, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"code\":410}");
	l = fake_next(&e.f, 1000);
	CHECK(l && !strstr(l->target, "watch=1"));
	list_answer(l, "40", NULL, CM("same", "1"));
	CHECK_STREQ(heard(&e.h), "add x@31 delete changed? delete new? delete x? ");
	w = fake_next(&e.f, 1000);
	CHECK(w && strstr(w->target, "&resourceVersion=40&"));

	/* Gone again straight after a relist: not at once this time (backoff). */
	fake_headers(w, 200);
	fake_event(w, "ERROR", "{\"kind\":\"Status\",\"code\":410}");
	uint64_t t0 = now_mono_ns();
	l = fake_next(&e.f, 1000);
	CHECK(l && !strstr(l->target, "watch=1"));
	CHECK(now_mono_ns() - t0 >= 14 * MS);
	struct informer_stats st;
	informer_get_stats(e.inf, &st);
	CHECK_INT(st.gone, 3);
	CHECK_INT(st.lists, 3);
	env_fini(&e);
}

static void test_failures_back_off_and_other_errors_rewatch(void)
{
	struct env e;
	CHECK(env_init(&e, 5));
	/* The first list fails (the server is starting): list again after a backoff. */
	struct fake_call *fc = fake_next(&e.f, 1000);
	fake_respond(fc, 503, "{\"kind\":\"Status\",\"message\":\"the watch cache is not ready\","
			      "\"reason\":\"ServiceUnavailable\",\"code\":503}");
	uint64_t t0 = now_mono_ns();
	fc = fake_next(&e.f, 1000);
	CHECK(fc && strstr(fc->target, "limit=5") && now_mono_ns() - t0 >= 14 * MS);
	/* Page two's continue token expired: one list in a piece. */
	list_answer(fc, "10", "tok", CM("a", "1"));
	fc = fake_next(&e.f, 1000);
	CHECK(fc && strstr(fc->target, "continue=tok"));
	fake_respond(fc, 410, "{\"kind\":\"Status\",\"reason\":\"Expired\",\"code\":410}");
	fc = fake_next(&e.f, 1000);
	CHECK(fc && !strstr(fc->target, "limit=") && !strstr(fc->target, "continue="));
	list_answer(fc, "12", NULL, CM("a", "1") "," CM("b", "2"));
	CHECK_STREQ(heard(&e.h), "add a@1 add b@2 ");
	/* A watch error other than 410: watch again from the same version. */
	fc = fake_next(&e.f, 1000);
	fake_headers(fc, 200);
	fake_event(fc, "ERROR", "{\"kind\":\"Status\",\"message\":\"internal\",\"code\":500}");
	fc = fake_next(&e.f, 1000);
	CHECK(fc && strstr(fc->target, "watch=1&") && strstr(fc->target, "resourceVersion=12"));
	/* A watch that ends cleanly at once, having said nothing, is a failure too. */
	fake_respond(fc, 200, "");
	t0 = now_mono_ns();
	fc = fake_next(&e.f, 1000);
	CHECK(fc && now_mono_ns() - t0 >= 29 * MS);
	struct informer_stats st;
	informer_get_stats(e.inf, &st);
	CHECK_INT(st.lists, 1);
	CHECK_INT(st.gone, 0);
	CHECK_INT(st.retries, 3);
	env_fini(&e);
}

static void test_handlers_added_late_and_freeing_from_a_handler(void)
{
	struct env e;
	struct heard late = {0};
	CHECK(env_init(&e, 0));
	struct fake_call *w = synced_watch(&e, "10", CM("a", "1") "," CM("b", "2"));
	informer_add_handlers(e.inf, &handlers, &late);
	CHECK_STREQ(heard(&late), "add a@1 add b@2 ");
	CHECK_INT(late.synced, 1);
	/* A handler frees the informer mid-event; the other handler hears no more. */
	e.h.free_on_delete = e.inf;
	fake_event(w, "DELETED", CM("a", "3"));
	CHECK(w->cancelled);
	CHECK(e.h.free_on_delete == NULL);
	CHECK_STREQ(heard(&late), "");
	e.inf = NULL;
	run_for(e.l, 20);
	CHECK(fake_next(&e.f, 0) == NULL);
	buf_free(&late.log);
	env_fini(&e);
}

int main(void)
{
	RUN(test_store_applies_watch_events);
	RUN(test_store_replace_delivers_differences);
	RUN(test_list_pages_then_watches_from_the_list_version);
	RUN(test_watch_resumes_from_the_last_version);
	RUN(test_gone_relists_and_delivers_only_differences);
	RUN(test_failures_back_off_and_other_errors_rewatch);
	RUN(test_handlers_added_late_and_freeing_from_a_handler);
	return tap_done();
}
