/* The watch cache: one store watch per resource feeds the current
 * objects and a ring of recent events; every API watch is served from
 * it. A watcher that falls too far behind is closed, and its client lists
 * again, as kube-apiserver does. */
#include "apiserver/internal.h"

#include <inttypes.h>
#include <stdio.h>

#ifdef KELP_HAVE_OPENAPI
#include "apiserver/openapi/openapi.h"
#define HAVE_OPENAPI 1
#endif

#define RING_SIZE 4096
#define MAX_BUFFERED (16u << 20)
#define BOOKMARK_NS (60ull * 1000000000u)

enum wc_type {
	WC_ADDED,
	WC_MODIFIED,
	WC_DELETED,
};

static const char *const type_names[] = {"ADDED", "MODIFIED", "DELETED"};

struct wc_event {
	enum wc_type type;
	int64_t rev;
	json_t *obj;  /* the object after the event (DELETED: its last state) */
	json_t *prev; /* before (MODIFIED), for selector transitions */
	char *json;   /* obj serialized once for every watcher */
	size_t json_len;
};

struct watcher {
	struct watch_cache *c;
	struct req *q;
	struct selectors sel;
	int64_t rv; /* events up to here were sent */
	bool bookmarks;
	bool table;
	bool sent_columns; /* a Table's column definitions go out once */
	struct loop_timer timeout, bookmark;
	struct watcher *prev, *next;
};

struct watch_cache {
	struct apiserver *a;
	struct resource *res;
	struct store_watch *sw;
	json_t *objects; /* store key -> current object */
	bool synced;
	int64_t rev;
	struct wc_event ring[RING_SIZE];
	size_t head, n; /* oldest at head */
	int64_t oldest_rev; /* events after this revision are in the ring */
	struct watcher *watchers;
	struct loop_timer restart;
};

static void cache_list(struct watch_cache *c);

/* --- events to clients --- */

static void watcher_close(struct watcher *w);

static void write_event(struct watcher *w, const char *type, const char *obj_json, size_t len)
{
	struct buf b = {0};
	buf_printf(&b, "{\"type\":\"%s\",\"object\":", type);
	buf_append(&b, obj_json, len);
	buf_puts(&b, "}\n");
	http_response_write(w->q->ex, b.data, b.len);
	buf_free(&b);
}

static void write_object(struct watcher *w, const char *type, const json_t *obj)
{
	struct buf b = {0};
#ifdef HAVE_OPENAPI
	if (w->table) {
		json_t *t = table_build(w->c->res->kind, (json_t *const *)&obj, 1,
					api_meta_resource_version(obj), NULL, false);
		if (t) {
			if (w->sent_columns)
				json_object_set_new(t, "columnDefinitions", json_null());
			w->sent_columns = true;
			api_json_dump(t, &b);
			json_decref(t);
			write_event(w, type, b.data, b.len);
			buf_free(&b);
			return;
		}
	}
#endif
	api_json_dump(obj, &b);
	write_event(w, type, b.data, b.len);
	buf_free(&b);
}

/* Send one event to one watcher, turning it into ADDED or DELETED when
 * the object moves into or out of the watcher's selectors. False when the
 * watcher fell too far behind and was closed (and freed). */
static bool deliver(struct watcher *w, const struct wc_event *ev)
{
	const struct resource *res = w->c->res;
	bool now = selectors_match(&w->sel, res, ev->obj);
	const char *type = type_names[ev->type];

	if (ev->type == WC_MODIFIED && ev->prev) {
		bool before = selectors_match(&w->sel, res, ev->prev);
		if (!before && !now)
			return true;
		if (!before)
			type = "ADDED";
		else if (!now)
			type = "DELETED";
	} else if (!now) {
		return true;
	}
	if (w->table || type != type_names[ev->type])
		write_object(w, type, ev->obj);
	else
		write_event(w, type, ev->json, ev->json_len);
	w->rv = ev->rev;
	if (http_response_buffered(w->q->ex) > MAX_BUFFERED) {
		log_info(w->c->a->log, "closing a watcher that fell behind",
			 LOG_S("resource", res->qualified));
		watcher_close(w);
		return false;
	}
	return true;
}

static void send_bookmark(struct watcher *w)
{
	struct buf b = {0};
	buf_printf(&b, "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":\"%" PRId64
		       "\"}}",
		   w->c->res->kind->kind, w->c->res->api_version, w->c->rev);
	write_event(w, "BOOKMARK", b.data, b.len);
	buf_free(&b);
}

static void bookmark_fire(struct loop_timer *t)
{
	struct watcher *w = container_of(t, struct watcher, bookmark);
	send_bookmark(w);
	loop_timer_arm(w->c->a->loop, &w->bookmark, BOOKMARK_NS);
}

static void watcher_unlink(struct watcher *w)
{
	struct watch_cache *c = w->c;
	if (w->prev)
		w->prev->next = w->next;
	else if (c && c->watchers == w)
		c->watchers = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

/* End the response and forget the watcher. */
static void watcher_close(struct watcher *w)
{
	struct loop *l = w->c->a->loop;
	struct req *q = w->q;

	loop_timer_disarm(l, &w->timeout);
	loop_timer_disarm(l, &w->bookmark);
	watcher_unlink(w);
	selectors_clear(&w->sel);
	free(w);
	q->code = 200;
	http_response_end(q->ex);
	req_free(q);
}

static void watcher_abort(struct http_exchange *ex, void *ud)
{
	watcher_close(ud);
}

static void timeout_fire(struct loop_timer *t)
{
	watcher_close(container_of(t, struct watcher, timeout));
}

/* --- the cache --- */

static void ring_push(struct watch_cache *c, struct wc_event ev)
{
	if (c->n == RING_SIZE) {
		struct wc_event *old = &c->ring[c->head];
		c->oldest_rev = old->rev;
		json_decref(old->obj);
		json_decref(old->prev);
		free(old->json);
		c->head = (c->head + 1) % RING_SIZE;
		c->n--;
	}
	c->ring[(c->head + c->n) % RING_SIZE] = ev;
	c->n++;
}

static void ring_clear(struct watch_cache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		struct wc_event *ev = &c->ring[(c->head + i) % RING_SIZE];
		json_decref(ev->obj);
		json_decref(ev->prev);
		free(ev->json);
	}
	c->head = c->n = 0;
}

static void on_events(void *ud, const struct store_event *evs, size_t n)
{
	struct watch_cache *c = ud;

	for (size_t i = 0; i < n; i++) {
		const struct store_event *e = &evs[i];
		_cleanup_free_ char *key = xstrndup(e->kv.key, e->kv.key_len);
		struct wc_event ev = {.rev = e->kv.mod_rev};
		json_t *old = json_incref(json_object_get(c->objects, key));

		if (e->type == STORE_EVENT_PUT) {
			ev.obj = object_read(c->res, &e->kv);
			if (!ev.obj) {
				json_decref(old);
				continue;
			}
			ev.type = old ? WC_MODIFIED : WC_ADDED;
			ev.prev = old;
			json_object_set(c->objects, key, ev.obj);
		} else {
			if (!old)
				continue;
			ev.type = WC_DELETED;
			ev.obj = json_deep_copy(old);
			object_set_rv(ev.obj, e->kv.mod_rev);
			json_decref(old);
			json_object_del(c->objects, key);
		}
		struct buf b = {0};
		api_json_dump(ev.obj, &b);
		ev.json_len = b.len;
		ev.json = buf_steal(&b);
		c->rev = ev.rev;
		ring_push(c, ev);
		const struct wc_event *pushed = &c->ring[(c->head + c->n - 1) % RING_SIZE];
		for (struct watcher *w = c->watchers, *next; w; w = next) {
			next = w->next;
			deliver(w, pushed);
		}
	}
}

static void on_progress(void *ud, int64_t rev)
{
	struct watch_cache *c = ud;
	if (rev > c->rev)
		c->rev = rev;
}

static void restart_fire(struct loop_timer *t)
{
	cache_list(container_of(t, struct watch_cache, restart));
}

static void on_closed(void *ud, int err, int64_t compact_rev)
{
	struct watch_cache *c = ud;

	c->sw = NULL;
	if (err == -ECANCELED)
		return;
	log_warn(c->a->log, "watch cache lost its store watch; listing again",
		 LOG_S("resource", c->res->qualified), LOG_ERR(err));
	/* Its watchers could miss events: they must list again too. */
	while (c->watchers)
		watcher_close(c->watchers);
	c->synced = false;
	loop_timer_arm(c->a->loop, &c->restart, 100 * 1000000u);
}

static const struct store_watch_ops cache_watch_ops = {
	.events = on_events,
	.progress = on_progress,
	.closed = on_closed,
};

static void listed(void *ud, int err, int64_t rev, const struct store_range_res *res)
{
	struct watch_cache *c = ud;

	if (err) {
		log_warn(c->a->log, "watch cache cannot list", LOG_S("resource", c->res->qualified),
			 LOG_ERR(err));
		loop_timer_arm(c->a->loop, &c->restart, 1000 * 1000000u);
		return;
	}
	json_object_clear(c->objects);
	ring_clear(c);
	for (size_t i = 0; i < res->n; i++) {
		json_t *obj = object_read(c->res, &res->kvs[i]);
		if (obj)
			json_object_setn_new(c->objects, res->kvs[i].key, res->kvs[i].key_len, obj);
	}
	c->rev = rev;
	c->oldest_rev = rev;
	size_t plen = strlen(c->res->prefix);
	char *end = xmalloc(plen + 1);
	size_t end_len = store_prefix_end(c->res->prefix, plen, end);
	int r = store_watch(c->a->store,
			    &(struct store_watch_req){.key = c->res->prefix,
						      .key_len = plen,
						      .end = end,
						      .end_len = end_len,
						      .start_rev = rev + 1,
						      .progress_notify = true},
			    &cache_watch_ops, c, &c->sw);
	free(end);
	if (r < 0) {
		loop_timer_arm(c->a->loop, &c->restart, 1000 * 1000000u);
		return;
	}
	c->synced = true;
}

static void cache_list(struct watch_cache *c)
{
	size_t plen = strlen(c->res->prefix);
	char *end = xmalloc(plen + 1);
	size_t end_len = store_prefix_end(c->res->prefix, plen, end);
	int r = store_range(c->a->store,
			    &(struct store_range_req){.key = c->res->prefix,
						      .key_len = plen,
						      .end = end,
						      .end_len = end_len},
			    listed, c);
	free(end);
	if (r < 0)
		loop_timer_arm(c->a->loop, &c->restart, 1000 * 1000000u);
}

int watch_cache_start(struct apiserver *a, struct resource *res)
{
	struct watch_cache *c = xnew(struct watch_cache, 1);
	c->a = a;
	c->res = res;
	c->objects = json_object();
	c->restart.fn = restart_fire;
	res->cache = c;
	cache_list(c);
	return 0;
}

bool watch_cache_synced(const struct watch_cache *c)
{
	return c && c->synced;
}

void watch_cache_free(struct watch_cache *c)
{
	if (!c)
		return;
	while (c->watchers)
		watcher_close(c->watchers);
	loop_timer_disarm(c->a->loop, &c->restart);
	if (c->sw)
		store_watch_cancel(c->sw);
	ring_clear(c);
	json_decref(c->objects);
	free(c);
}

/* --- serving a watch --- */

static bool table_wanted(const struct req *q)
{
	const char *accept = http_request_header(http_exchange_request(q->ex), "accept");
	return accept && str_has_prefix(accept, "application/json;as=Table");
}

void watch_serve(struct req *q)
{
	struct watch_cache *c = q->res->cache;
	json_t *status = NULL;
	int64_t from = 0;
	bool initial;

	if (!watch_cache_synced(c)) {
		req_respond_status(q, api_status_service_unavailable("the watch cache is not ready"));
		return;
	}
	const char *rv = q->r.resource_version;
	initial = !rv || !*rv || streq(rv, "0");
	if (q->r.has_send_initial_events)
		initial = q->r.send_initial_events;
	if (rv && *rv && !streq(rv, "0") &&
	    (parse_i64(rv, strlen(rv), &from) < 0 || from < 0)) {
		req_respond_status(q, api_status_bad_request("invalid resource version"));
		return;
	}
	struct watcher *w = xnew(struct watcher, 1);
	w->c = c;
	w->q = q;
	w->bookmarks = q->r.allow_watch_bookmarks;
#ifdef HAVE_OPENAPI
	w->table = table_wanted(q);
#else
	(void)table_wanted;
#endif
	if (selectors_parse(q, &w->sel, &status) < 0) {
		free(w);
		req_respond_status(q, status);
		return;
	}
	/* A single named object: its name is a field selector. */
	if (q->r.name) {
		_cleanup_free_ char *esc = api_field_selector_escape(q->r.name);
		_cleanup_free_ char *fs = xasprintf("metadata.name=%s", esc);
		api_field_selector_free(w->sel.fields);
		api_field_selector_parse(fs, &w->sel.fields, NULL);
	}
	http_exchange_on_abort(q->ex, watcher_abort, w);
	http_response_start(q->ex, 200, w->table ? "application/json;as=Table;v=v1;g=meta.k8s.io"
						 : "application/json");
	q->code = 200;
	w->next = c->watchers;
	if (c->watchers)
		c->watchers->prev = w;
	c->watchers = w;
	w->timeout.fn = timeout_fire;
	w->bookmark.fn = bookmark_fire;
	if (q->r.has_timeout && q->r.timeout_seconds > 0)
		loop_timer_arm(c->a->loop, &w->timeout, (uint64_t)q->r.timeout_seconds * 1000000000u);
	if (w->bookmarks)
		loop_timer_arm(c->a->loop, &w->bookmark, BOOKMARK_NS);

	const char *ns_prefix = q->r.namespace ? resource_prefix(q->res, q->r.namespace) : NULL;
	if (initial) {
		const char *key;
		json_t *obj;
		json_object_foreach(c->objects, key, obj) {
			if (ns_prefix && !str_has_prefix(key, ns_prefix))
				continue;
			if (selectors_match(&w->sel, q->res, obj))
				write_object(w, "ADDED", obj);
		}
		w->rv = c->rev;
		if (q->r.has_send_initial_events && w->bookmarks)
			send_bookmark(w);
	} else if (from < c->oldest_rev) {
		/* Too old: one ERROR event, as Kubernetes answers, then the end. */
		json_t *st = api_status_too_old_resource_version((uint64_t)from, (uint64_t)c->oldest_rev + 1);
		struct buf b = {0};
		api_json_dump(st, &b);
		write_event(w, "ERROR", b.data, b.len);
		buf_free(&b);
		json_decref(st);
		free((char *)ns_prefix);
		watcher_close(w);
		return;
	} else {
		w->rv = from;
		for (size_t i = 0; i < c->n; i++) {
			const struct wc_event *ev = &c->ring[(c->head + i) % RING_SIZE];
			if (ev->rev <= from)
				continue;
			const char *k = api_meta_namespace(ev->obj);
			if (q->r.namespace && (!k || !streq(k, q->r.namespace)))
				continue;
			if (!deliver(w, ev)) {
				free((char *)ns_prefix);
				return;
			}
		}
	}
	free((char *)ns_prefix);
	/* Namespaced watches see only their namespace: wrap the selector. */
	if (q->r.namespace) {
		_cleanup_free_ char *esc = api_field_selector_escape(q->r.namespace);
		char *joined = NULL;
		if (w->sel.fields) {
			_cleanup_free_ char *cur = api_field_selector_format(w->sel.fields);
			joined = xasprintf("%s,metadata.namespace=%s", cur, esc);
		} else {
			joined = xasprintf("metadata.namespace=%s", esc);
		}
		api_field_selector_free(w->sel.fields);
		w->sel.fields = NULL;
		api_field_selector_parse(joined, &w->sel.fields, NULL);
		free(joined);
	}
}
