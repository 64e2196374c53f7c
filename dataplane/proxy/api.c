/* --kubeconfig: Services and EndpointSlices of all namespaces from the API
 * server, through two lib/client informers (list, then watch; resume,
 * relist on 410 and back off are theirs). Adds and updates go to the proxy
 * as they come, deletes likewise; the proxy is told it has a complete state
 * once both informers have listed. An object the compiler refuses is
 * logged and keeps its previous version, as with the file source. */
#include "api/api.h"
#include "base/base.h"
#include "client/client.h"
#include "dataplane/proxy/internal.h"

#define TRIGGER_ANNOTATION "endpoints.kubernetes.io/last-change-trigger-time"

struct proxy_api;

/* One informer and what the proxy calls its objects. */
struct api_source {
	struct proxy_api *a;
	const char *kind;
	struct informer *inf;
	bool synced;
};

struct proxy_api {
	struct proxy *p;
	struct client *c;
	/* Changes made before this (CLOCK_REALTIME ns) are not timed: the first
	 * list holds objects of any age, and their creationTimestamp says how old
	 * the object is, not how long this proxy took. kube-proxy skips trigger
	 * times older than its start for the same reason. */
	int64_t start_ns;
	struct api_source services, slices;
};

/* When the change that produced obj was made, for the network programming
 * latency; 0 when it is unknown or from before this source started.
 *   EndpointSlice: its last-change-trigger-time annotation (set by the
 *     controller when a Pod or Service changed, RFC 3339 with nanoseconds)
 *     when present; otherwise, for an add, its creationTimestamp, and for an
 *     update the time it reached us, as nothing says when it was written.
 *   Service: its creationTimestamp for an add, the time it reached us for an
 *     update.
 * creationTimestamp has whole seconds: a latency timed from it may be
 * overstated by up to a second (never understated), which errs on the side
 * an SLO wants. */
static int64_t trigger_time(const struct api_source *s, const json_t *obj, bool add)
{
	const struct logger *log = proxy_log(s->a->p);
	int64_t now = (int64_t)now_real_ns(), t = 0;
	const char *ann = s == &s->a->slices ? api_meta_annotation(obj, TRIGGER_ANNOTATION) : NULL;

	if (ann) {
		_cleanup_free_ char *err = NULL;
		if (api_time_parse(ann, &t, &err) < 0) {
			log_warn(log, "ignoring an unparsable trigger-time annotation",
				 LOG_S("kind", s->kind),
				 LOG_S("namespace", api_meta_namespace(obj)),
				 LOG_S("name", api_meta_name(obj)), LOG_S("annotation", ann),
				 LOG_S("error", err));
			t = 0;
		}
	}
	if (!t && add && api_meta_creation_timestamp(obj, &t) < 0)
		t = 0;
	if (!t && !add)
		t = now;
	if (t < s->a->start_ns)
		return 0;
	return MIN(t, now);
}

static void set_object(struct api_source *s, const json_t *obj, bool add)
{
	struct proxy *p = s->a->p;
	const char *kind = api_obj_kind(obj);
	_cleanup_(json_decrefp) json_t *typed = NULL;
	_cleanup_free_ char *err = NULL;

	/* The informer fills in the kind of listed items; a watch event's object
	 * normally carries it. If not, a shallow copy says what it is. */
	if (!kind || !streq(kind, s->kind)) {
		typed = json_copy((json_t *)obj);
		json_object_set_new(typed, "kind", json_string(s->kind));
		obj = typed;
	}
	if (proxy_object_set(p, obj, trigger_time(s, obj, add), &err) < 0)
		log_warn(proxy_log(p), "object refused; its previous version stays",
			 LOG_S("kind", s->kind), LOG_S("namespace", api_meta_namespace(obj)),
			 LOG_S("name", api_meta_name(obj)), LOG_S("error", err));
}

static void on_add(const json_t *obj, void *ud)
{
	set_object(ud, obj, true);
}

static void on_update(const json_t *old, const json_t *obj, void *ud)
{
	set_object(ud, obj, false);
}

static void on_delete(const json_t *obj, bool final_state_unknown, void *ud)
{
	struct api_source *s = ud;
	const char *ns = api_meta_namespace(obj), *name = api_meta_name(obj);

	if (name)
		proxy_object_delete(s->a->p, s->kind, ns ? ns : "", name);
}

static void on_synced(void *ud)
{
	struct api_source *s = ud;
	struct proxy_api *a = s->a;

	s->synced = true;
	log_info(proxy_log(a->p), "listed", LOG_S("kind", s->kind),
		 LOG_U("objects", client_store_len(informer_store(s->inf))));
	if (a->services.synced && a->slices.synced)
		proxy_source_synced(a->p);
}

static const struct informer_handlers handlers = {on_add, on_update, on_delete, on_synced};

static int source_open(struct proxy_api *a, struct api_source *s, const char *kind,
		       struct client_gvr gvr)
{
	s->a = a;
	s->kind = kind;
	int r = informer_new(a->c, &(struct informer_options){.ref = {gvr}, .handlers = &handlers,
							       .ud = s},
			     &s->inf);
	if (r < 0)
		log_error(proxy_log(a->p), "cannot watch", LOG_S("kind", kind), LOG_ERR(r));
	return r;
}

int proxy_api_open(struct proxy *p, const char *kubeconfig, struct proxy_api **ret)
{
	const struct logger *log = proxy_log(p);
	_cleanup_(pki_kubeconfig_freep) struct pki_kubeconfig *kc = NULL;
	_cleanup_free_ char *err = NULL;
	int r = client_kubeconfig_load(kubeconfig, NULL, &kc, &err);

	if (r < 0) {
		log_error(log, "cannot use the kubeconfig", LOG_S("path", kubeconfig),
			  LOG_S("error", err ? err : strerror(-r)));
		return r;
	}
	struct proxy_api *a = xnew(struct proxy_api, 1);
	a->p = p;
	a->start_ns = (int64_t)now_real_ns();
	r = client_new(proxy_loop(p), &(struct client_options){.kubeconfig = kc, .log = log},
		       &a->c, &err);
	if (r < 0) {
		log_error(log, "cannot use the kubeconfig", LOG_S("path", kubeconfig),
			  LOG_S("error", err ? err : strerror(-r)));
		proxy_api_free(a);
		return r;
	}
	r = source_open(a, &a->services, "Service", CLIENT_GVR_SERVICES);
	if (r >= 0)
		r = source_open(a, &a->slices, "EndpointSlice", CLIENT_GVR_ENDPOINTSLICES);
	if (r < 0) {
		proxy_api_free(a);
		return r;
	}
	log_info(log, "watching the API", LOG_S("server", kc->server));
	informer_start(a->services.inf);
	informer_start(a->slices.inf);
	*ret = a;
	return 0;
}

struct proxy_api *proxy_api_free(struct proxy_api *a)
{
	if (!a)
		return NULL;
	/* Informers first: they hold calls on the client. */
	informer_free(a->services.inf);
	informer_free(a->slices.inf);
	client_free(a->c);
	free(a);
	return NULL;
}
