/* lib/client: informers — list, then watch from the list's resourceVersion,
 * keeping the store in step; resume a watch from the last version seen,
 * relist on 410 Gone, back off on failures. One state machine: each attempt
 * is a list (paged) or a watch; each end decides the next attempt and when. */
#include "client/client-internal.h"

#include "log/log.h"
#include "loop/loop.h"

#define PAGE_SIZE_DEFAULT 500
#define BACKOFF_INITIAL_NS (800ull * 1000000u)
#define BACKOFF_MAX_NS (30ull * 1000000000u)
/* A watch asks the server to end it after 5 to 10 minutes (as client-go),
 * and is given up as dead if nothing, not even a bookmark, came for that
 * long plus a margin. */
#define WATCH_TIMEOUT_MIN_S 300
#define WATCH_SILENCE_MARGIN_NS (30ull * 1000000000u)
/* A watch that ends cleanly sooner than this without an event counts as a failure. */
#define WATCH_MIN_HEALTHY_NS (1000000000ull)

struct handler_reg {
	struct informer_handlers h;
	void *ud;
};

struct informer {
	struct client *c;
	struct loop *loop;
	const struct logger *log;
	char *group, *version, *resource, *namespace, *what;
	char *label_selector, *field_selector;
	unsigned page_size;
	uint64_t backoff_initial, backoff_max;
	struct client_store *store;
	struct handler_reg *handlers;
	size_t nhandlers;

	bool started, synced;
	char *rv;             /* the last resourceVersion seen */
	bool relist;          /* the next attempt lists (else it watches from rv) */
	bool unpaged;         /* a continue token expired: list in one piece */
	bool last_gone;       /* the last watch ended in 410 before it was healthy */
	unsigned failures;    /* consecutive, for the backoff */
	json_t *items;        /* a list being assembled across pages */
	struct client_call *call;
	struct loop_timer retry, silence;
	uint64_t watch_start_ns;
	uint64_t watch_events;
	int watch_timeout_s;
	uint64_t rng;
	unsigned busy; /* inside a callback of ours: a free waits for its end */
	bool dying;
	struct informer_stats stats;
};

static void attempt(struct informer *inf);

/* --- re-entrancy: handlers may free the informer --- */

static void destroy(struct informer *inf)
{
	client_call_cancel(inf->call);
	loop_timer_disarm(inf->loop, &inf->retry);
	loop_timer_disarm(inf->loop, &inf->silence);
	client_store_free(inf->store);
	json_decref(inf->items);
	free(inf->handlers);
	free(inf->group);
	free(inf->version);
	free(inf->resource);
	free(inf->namespace);
	free(inf->what);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf->rv);
	free(inf);
}

static void enter(struct informer *inf) { inf->busy++; }

static void leave(struct informer *inf)
{
	if (--inf->busy == 0 && inf->dying)
		destroy(inf);
}

struct informer *informer_free(struct informer *inf)
{
	if (!inf)
		return NULL;
	if (inf->busy) {
		inf->dying = true;
		client_call_cancel(inf->call);
		inf->call = NULL;
		loop_timer_disarm(inf->loop, &inf->retry);
		loop_timer_disarm(inf->loop, &inf->silence);
		return NULL;
	}
	destroy(inf);
	return NULL;
}

/* --- handlers --- */

static void deliver(const struct client_delta *d, void *ud)
{
	struct informer *inf = ud;

	for (size_t i = 0; i < inf->nhandlers && !inf->dying; i++) {
		const struct handler_reg *r = &inf->handlers[i];
		if (d->type == CLIENT_ADD && r->h.on_add)
			r->h.on_add(d->obj, r->ud);
		else if (d->type == CLIENT_UPDATE && r->h.on_update)
			r->h.on_update(d->old, d->obj, r->ud);
		else if (d->type == CLIENT_DELETE && r->h.on_delete)
			r->h.on_delete(d->obj, d->final_state_unknown, r->ud);
	}
}

static void set_rv(struct informer *inf, const char *rv)
{
	if (!rv || !*rv)
		return;
	free(inf->rv);
	inf->rv = xstrdup(rv);
}

/* --- scheduling the next attempt --- */

static void retry_later(struct informer *inf, const char *why, const char *detail)
{
	uint64_t d = client_backoff_jittered(inf->backoff_initial, inf->backoff_max, inf->failures,
					     &inf->rng);

	inf->failures++;
	inf->stats.retries++;
	log_info(inf->log, why, LOG_S("resource", inf->what), LOG_S("reason", detail),
		 LOG_U("retry_in_ms", d / 1000000u), LOG_B("relist", inf->relist));
	loop_timer_arm(inf->loop, &inf->retry, d);
}

static void retry_fire(struct loop_timer *t)
{
	struct informer *inf = container_of(t, struct informer, retry);

	enter(inf);
	attempt(inf);
	leave(inf);
}

/* The version the informer holds is compacted away: list again, at once the
 * first time, with backoff if the fresh list's version is gone as well. */
static void gone(struct informer *inf, const char *detail)
{
	inf->stats.gone++;
	inf->relist = true;
	if (inf->last_gone) {
		retry_later(inf, "watch: resourceVersion gone again; listing later", detail);
		return;
	}
	inf->last_gone = true;
	log_info(inf->log, "watch: resourceVersion gone; listing again", LOG_S("resource", inf->what),
		 LOG_S("reason", detail));
	attempt(inf);
}

/* The watch is doing well: the next failure starts the backoff afresh. */
static void healthy(struct informer *inf)
{
	inf->failures = 0;
	inf->last_gone = false;
}

/* --- list --- */

static struct client_ref ref_of(const struct informer *inf)
{
	return (struct client_ref){{inf->group, inf->version, inf->resource}, inf->namespace};
}

static void list_done(const struct client_result *r, void *ud);

static void list_page(struct informer *inf, const char *cont)
{
	struct client_ref ref = ref_of(inf);
	struct client_list_opts o = {
		.label_selector = inf->label_selector,
		.field_selector = inf->field_selector,
		.limit = inf->unpaged ? 0 : inf->page_size,
		.continue_token = cont,
	};
	int r = client_list(inf->c, &ref, &o, list_done, inf, &inf->call);
	if (r < 0)
		retry_later(inf, "list: cannot start", strerror(-r));
}

/* List items come without kind and apiVersion; give them the list's. */
static void add_items(struct informer *inf, const json_t *list)
{
	const char *kind = api_obj_kind(list), *av = api_obj_api_version(list);
	json_t *items = api_get_array(list, "items"), *it;
	size_t i;

	json_array_foreach(items, i, it) {
		if (!json_is_object(it))
			continue;
		if (kind && str_has_suffix(kind, "List") && !api_obj_kind(it))
			json_object_set_new(it, "kind", json_stringn(kind, strlen(kind) - 4));
		if (av && !api_obj_api_version(it))
			json_object_set_new(it, "apiVersion", json_string(av));
		json_array_append(inf->items, it);
	}
}

static void list_complete(struct informer *inf, const json_t *last_page)
{
	set_rv(inf, api_get_str(last_page, "metadata.resourceVersion"));
	client_store_replace(inf->store, inf->items, deliver, inf);
	json_array_clear(inf->items);
	inf->stats.lists++;
	inf->relist = false;
	inf->unpaged = false;
	inf->failures = 0;
	log_debug(inf->log, "listed", LOG_S("resource", inf->what), LOG_S("resourceVersion", inf->rv),
		  LOG_U("objects", client_store_len(inf->store)));
	if (!inf->synced && !inf->dying) {
		inf->synced = true;
		for (size_t i = 0; i < inf->nhandlers && !inf->dying; i++)
			if (inf->handlers[i].h.on_synced)
				inf->handlers[i].h.on_synced(inf->handlers[i].ud);
	}
	attempt(inf);
}

static void list_done(const struct client_result *r, void *ud)
{
	struct informer *inf = ud;
	const char *cont = api_get_str(r->object, "metadata.continue");

	inf->call = NULL;
	enter(inf);
	if (r->err == 0 && !api_get_array(r->object, "items")) {
		json_array_clear(inf->items);
		retry_later(inf, "list: the answer is not a list", r->body);
	} else if (r->err == 0) {
		add_items(inf, r->object);
		if (cont && *cont)
			list_page(inf, cont);
		else
			list_complete(inf, r->object);
	} else if (r->code == 410 && !inf->unpaged) {
		/* The continue token expired: one list in a piece, as client-go falls back to. */
		json_array_clear(inf->items);
		inf->unpaged = true;
		log_info(inf->log, "list: continue token expired; listing in one piece",
			 LOG_S("resource", inf->what));
		attempt(inf);
	} else {
		json_array_clear(inf->items);
		retry_later(inf, "list failed", r->message);
	}
	leave(inf);
}

/* --- watch --- */

static void watch_event(const char *type, json_t *obj, void *ud);
static void watch_done(const struct client_result *r, void *ud);

static void silence_fire(struct loop_timer *t)
{
	struct informer *inf = container_of(t, struct informer, silence);

	enter(inf);
	client_call_cancel(inf->call);
	inf->call = NULL;
	log_info(inf->log, "watch: nothing heard for too long; watching again",
		 LOG_S("resource", inf->what));
	attempt(inf);
	leave(inf);
}

static void arm_silence(struct informer *inf)
{
	loop_timer_arm(inf->loop, &inf->silence,
		       (uint64_t)inf->watch_timeout_s * 1000000000u + WATCH_SILENCE_MARGIN_NS);
}

static void watch_start(struct informer *inf)
{
	struct client_ref ref = ref_of(inf);

	inf->watch_timeout_s = WATCH_TIMEOUT_MIN_S + (int)(client_rand(&inf->rng) % WATCH_TIMEOUT_MIN_S);
	struct client_list_opts o = {
		.label_selector = inf->label_selector,
		.field_selector = inf->field_selector,
		.resource_version = inf->rv,
		.allow_watch_bookmarks = true,
		.timeout_seconds = inf->watch_timeout_s,
	};
	int r = client_watch(inf->c, &ref, &o, watch_event, watch_done, inf, &inf->call);
	if (r < 0) {
		retry_later(inf, "watch: cannot start", strerror(-r));
		return;
	}
	inf->stats.watches++;
	inf->watch_start_ns = loop_now(inf->loop);
	inf->watch_events = 0;
	arm_silence(inf);
}

static void watch_event(const char *type, json_t *obj, void *ud)
{
	struct informer *inf = ud;

	enter(inf);
	arm_silence(inf);
	if (streq(type, "BOOKMARK")) {
		set_rv(inf, api_meta_resource_version(obj));
		healthy(inf);
	} else if (streq(type, "ERROR")) {
		int code = api_status_code(obj);
		const char *msg = api_get_str(obj, "message");
		client_call_cancel(inf->call);
		inf->call = NULL;
		loop_timer_disarm(inf->loop, &inf->silence);
		if (code == 410)
			gone(inf, msg ? msg : "410 Gone");
		else
			retry_later(inf, "watch: the server sent an error", msg ? msg : "");
	} else if (client_store_apply(inf->store, type, obj, deliver, inf) == 0) {
		set_rv(inf, api_meta_resource_version(obj));
		inf->stats.events++;
		inf->watch_events++;
		healthy(inf);
	} else {
		log_warn(inf->log, "watch: event ignored", LOG_S("resource", inf->what),
			 LOG_S("type", type));
	}
	leave(inf);
}

static void watch_done(const struct client_result *r, void *ud)
{
	struct informer *inf = ud;
	bool lasted = loop_now(inf->loop) - inf->watch_start_ns >= WATCH_MIN_HEALTHY_NS;

	inf->call = NULL;
	loop_timer_disarm(inf->loop, &inf->silence);
	enter(inf);
	if (r->code == 410) {
		gone(inf, r->message);
	} else if (r->err == 0 && (lasted || inf->watch_events)) {
		healthy(inf);
		attempt(inf); /* the server's timeout: watch on from where we are */
	} else {
		retry_later(inf, "watch ended", r->message);
	}
	leave(inf);
}

/* --- the informer --- */

static void attempt(struct informer *inf)
{
	if (inf->dying)
		return;
	if (inf->relist)
		list_page(inf, NULL);
	else
		watch_start(inf);
}

int informer_new(struct client *c, const struct informer_options *o, struct informer **ret)
{
	const struct client_gvr *g = &o->ref.gvr;

	if (!c || !g->version || !*g->version || !g->resource || !*g->resource)
		return -EINVAL;
	struct informer *inf = xnew(struct informer, 1);
	inf->c = c;
	inf->loop = client_loop(c);
	inf->log = client_log(c);
	inf->group = xstrdup(g->group ? g->group : "");
	inf->version = xstrdup(g->version);
	inf->resource = xstrdup(g->resource);
	inf->namespace = o->ref.namespace ? xstrdup(o->ref.namespace) : NULL;
	inf->what = *inf->group ? xasprintf("%s.%s", g->resource, g->group) : xstrdup(g->resource);
	inf->label_selector = o->label_selector ? xstrdup(o->label_selector) : NULL;
	inf->field_selector = o->field_selector ? xstrdup(o->field_selector) : NULL;
	inf->page_size = o->page_size ? o->page_size : PAGE_SIZE_DEFAULT;
	inf->backoff_initial = o->backoff_initial_ns ? o->backoff_initial_ns : BACKOFF_INITIAL_NS;
	inf->backoff_max = MAX(o->backoff_max_ns ? o->backoff_max_ns : BACKOFF_MAX_NS,
			       inf->backoff_initial);
	inf->store = client_store_new();
	inf->items = json_array();
	inf->rv = xstrdup("");
	inf->relist = true;
	inf->retry.fn = retry_fire;
	inf->silence.fn = silence_fire;
	inf->rng = client_rand_seed(inf);
	if (o->handlers)
		informer_add_handlers(inf, o->handlers, o->ud);
	*ret = inf;
	return 0;
}

void informer_start(struct informer *inf)
{
	if (inf->started)
		return;
	inf->started = true;
	attempt(inf);
}

void informer_add_handlers(struct informer *inf, const struct informer_handlers *h, void *ud)
{
	const char *key;
	json_t *obj;

	inf->handlers = xrealloc(inf->handlers, (inf->nhandlers + 1) * sizeof(*inf->handlers));
	inf->handlers[inf->nhandlers++] = (struct handler_reg){*h, ud};
	enter(inf);
	json_object_foreach(client_store_all(inf->store), key, obj) {
		if (inf->dying)
			break;
		if (h->on_add)
			h->on_add(obj, ud);
	}
	if (inf->synced && h->on_synced && !inf->dying)
		h->on_synced(ud);
	leave(inf);
}

int informer_add_index(struct informer *inf, const char *name, client_index_fn fn, void *ud)
{
	return client_store_add_index(inf->store, name, fn, ud);
}

bool informer_synced(const struct informer *inf) { return inf->synced; }

const struct client_store *informer_store(const struct informer *inf) { return inf->store; }

const char *informer_resource_version(const struct informer *inf) { return inf->rv; }

void informer_get_stats(const struct informer *inf, struct informer_stats *ret)
{
	*ret = inf->stats;
}
