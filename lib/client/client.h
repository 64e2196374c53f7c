/* lib/client: the Kubernetes API client every kelp daemon uses (client-go's
 * role): kubeconfig loading, a REST client, informers with their caches, and
 * the rate-limited work queue that controllers drain.
 *
 *   struct pki_kubeconfig *kc;
 *   char *err;
 *   r = client_kubeconfig_load(path, NULL, &kc, &err);       // which cluster, which user
 *   r = client_new(loop, &(struct client_options){.kubeconfig = kc}, &c, &err);
 *   r = informer_new(c, &(struct informer_options){
 *           .ref = {CLIENT_GVR_SERVICES}, .handlers = &h, .ud = me}, &inf);
 *   informer_start(inf);                                    // list, then watch
 *   ... h.on_update(old, obj, me) → workqueue_add(q, key) → process(q, key) → workqueue_done()
 *
 * Everything runs on one lib/loop thread: callbacks come from the loop, and
 * nothing here is thread-safe. No call blocks; no callback runs from inside
 * the call that started the work. Errors are negative errno values; where a
 * person will read why, a `char **ret_errmsg` receives an allocated message
 * (on failure only, when non-NULL). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "pki/pki.h"

struct loop;
struct logger;
struct http_call_request;
struct http_call_ops;

/* ---- kubeconfig ----------------------------------------------------------------------- */

/* Read a kubeconfig (the one `kelp server` writes, or any kubectl reads) and
 * resolve context (NULL: current-context) to what a client needs: the
 * server URL, the CA (certificate-authority-data or the file
 * certificate-authority names), client certificate and key (*-data or
 * files), a bearer token (token, or read from tokenFile) and
 * insecure-skip-tls-verify. Relative file names are taken from the
 * kubeconfig's directory. -ENOENT when the file is missing; -EBADMSG when a
 * piece is missing or malformed, with a message naming it ("context
 * \"dev\" is not defined", "cluster \"kelp\" has no server",
 * "user \"admin\": client-certificate-data without client-key-data").
 * Exec and auth-provider plugins are not supported. */
int client_kubeconfig_load(const char *path, const char *context, struct pki_kubeconfig **ret,
			   char **ret_errmsg);
/* The same from text; base_dir (NULL: the working directory) anchors relative file names. */
int client_kubeconfig_parse(const char *text, size_t n, const char *base_dir, const char *context,
			    struct pki_kubeconfig **ret, char **ret_errmsg);
/* Where kubectl looks: the first entry of $KUBECONFIG, else ~/.kube/config
 * (caller frees); NULL when neither HOME nor KUBECONFIG is set. */
char *client_kubeconfig_default_path(void);

/* ---- the REST client ------------------------------------------------------------------ */

/* A resource: group ("" or NULL for the core group), version, plural resource name. */
struct client_gvr {
	const char *group;
	const char *version;
	const char *resource;
};

#define CLIENT_GVR_NAMESPACES ((struct client_gvr){"", "v1", "namespaces"})
#define CLIENT_GVR_NODES ((struct client_gvr){"", "v1", "nodes"})
#define CLIENT_GVR_PODS ((struct client_gvr){"", "v1", "pods"})
#define CLIENT_GVR_SERVICES ((struct client_gvr){"", "v1", "services"})
#define CLIENT_GVR_ENDPOINTS ((struct client_gvr){"", "v1", "endpoints"})
#define CLIENT_GVR_CONFIGMAPS ((struct client_gvr){"", "v1", "configmaps"})
#define CLIENT_GVR_SECRETS ((struct client_gvr){"", "v1", "secrets"})
#define CLIENT_GVR_ENDPOINTSLICES ((struct client_gvr){"discovery.k8s.io", "v1", "endpointslices"})

/* What a request is about. namespace NULL or "": cluster-scoped, or all
 * namespaces for a list or watch; name NULL for collections. */
struct client_ref {
	struct client_gvr gvr;
	const char *namespace;
	const char *name;
	const char *subresource; /* "status", "scale", ...; NULL for the object */
};

struct client_transport;

struct client_options {
	/* Server, TLS material and token. Only read during client_new(). */
	const struct pki_kubeconfig *kubeconfig;
	/* Client-side rate limit, a token bucket as client-go's: qps requests a
	 * second on average, bursts of up to burst. Defaults 5 and 10 (client-go's);
	 * qps < 0 turns it off. Watches take a token too. */
	double qps;
	unsigned burst;
	const char *user_agent; /* default "kelp/<version>" */
	bool http1;             /* never offer HTTP/2 (default: h2 over TLS by ALPN, as kubectl) */
	const struct logger *log;
	/* Tests: answer requests without a network (see below). */
	const struct client_transport *transport;
};

struct client;
struct client_call;

/* How a call ended. */
struct client_result {
	/* 0: a 2xx answer with a decoded body; -EREMOTEIO: the server refused (code,
	 * reason, message, status say how); otherwise no usable answer: a transport
	 * error (-ECONNREFUSED, -ECONNRESET, -ETIMEDOUT...) or -EBADMSG for a body
	 * that is not JSON. For a watch, 0 means the server ended the stream. */
	int err;
	int code;            /* HTTP status; 0 without an answer */
	const char *reason;  /* the Status reason ("NotFound", "AlreadyExists", "Conflict",
				"Expired"), "" when none */
	const char *message; /* the Status message, or what went wrong; never NULL */
	json_t *object;      /* 2xx: the decoded body (NULL for a watch, or raw non-JSON) */
	json_t *status;      /* an error: the Status the server sent, or NULL */
	const char *body;    /* the raw response body (NUL-terminated; "" for a watch that was
				answered 200) */
	size_t body_len;
	int http_version;    /* 11 or 20; 0 when unknown */
};

/* The objects in r are borrowed: valid during the callback (json_incref to keep). */
typedef void (*client_done_fn)(const struct client_result *r, void *ud);
/* One watch event: type is ADDED, MODIFIED, DELETED, BOOKMARK or ERROR (object
 * is then a Status); object is borrowed. */
typedef void (*client_event_fn)(const char *type, json_t *object, void *ud);

struct client_list_opts {
	const char *label_selector; /* "app=web,tier!=db" */
	const char *field_selector; /* "metadata.name=x" */
	const char *resource_version;
	const char *resource_version_match; /* "Exact", "NotOlderThan" */
	int64_t limit;                      /* page size; 0: everything */
	const char *continue_token;
	bool allow_watch_bookmarks;         /* watch only */
	int timeout_seconds;                /* watch: server-side end; 0: server default */
};

struct client_write_opts {
	const char *field_manager; /* required by CLIENT_PATCH_APPLY */
	bool force;                /* apply: take fields other managers own */
	bool dry_run;
	const char *field_validation; /* "Strict", "Warn" or "Ignore"; NULL: server default */
};

struct client_delete_opts {
	const char *propagation_policy; /* "Foreground", "Background", "Orphan" */
	bool has_grace_period;
	int64_t grace_period_seconds;
	const char *precondition_uid;
	const char *precondition_resource_version;
	bool dry_run;
};

enum client_patch_type {
	CLIENT_PATCH_JSON,      /* application/json-patch+json (RFC 6902) */
	CLIENT_PATCH_MERGE,     /* application/merge-patch+json (RFC 7386) */
	CLIENT_PATCH_STRATEGIC, /* application/strategic-merge-patch+json */
	CLIENT_PATCH_APPLY,     /* application/apply-patch+yaml: server-side apply */
};

/* -EINVAL for a kubeconfig a client cannot use, with the reason. */
int client_new(struct loop *l, const struct client_options *o, struct client **ret,
	       char **ret_errmsg);
/* Cancels every call still open (their callbacks do not run). */
struct client *client_free(struct client *c);
DEFINE_FREEP(struct client, client_free)
struct loop *client_loop(const struct client *c);
const struct logger *client_log(const struct client *c);

/* Each starts one request, answered through done exactly once, unless the call
 * is cancelled first. ret (may be NULL) receives a handle valid until done
 * runs or the call is cancelled. -EINVAL for a ref without version or
 * resource, or a write without a body or name. */
int client_get(struct client *c, const struct client_ref *ref, client_done_fn done, void *ud,
	       struct client_call **ret);
int client_list(struct client *c, const struct client_ref *ref, const struct client_list_opts *o,
		client_done_fn done, void *ud, struct client_call **ret);
/* The namespace is ref's, or else the object's. */
int client_create(struct client *c, const struct client_ref *ref, const json_t *obj,
		  const struct client_write_opts *o, client_done_fn done, void *ud,
		  struct client_call **ret);
/* PUT: the name is ref's, or else the object's metadata.name. */
int client_update(struct client *c, const struct client_ref *ref, const json_t *obj,
		  const struct client_write_opts *o, client_done_fn done, void *ud,
		  struct client_call **ret);
/* patch is the body as text (JSON, or YAML/JSON for apply). */
int client_patch(struct client *c, const struct client_ref *ref, enum client_patch_type type,
		 const char *patch, size_t len, const struct client_write_opts *o,
		 client_done_fn done, void *ud, struct client_call **ret);
int client_delete(struct client *c, const struct client_ref *ref,
		  const struct client_delete_opts *o, client_done_fn done, void *ud,
		  struct client_call **ret);
/* A watch: events as they come, then done once the stream ends. */
int client_watch(struct client *c, const struct client_ref *ref, const struct client_list_opts *o,
		 client_event_fn on_event, client_done_fn done, void *ud, struct client_call **ret);
/* Anything else (/version, /healthz, discovery): target is path and query. The
 * body is decoded as JSON when it is JSON; r->object is NULL otherwise. */
int client_raw(struct client *c, const char *method, const char *target,
	       const char *content_type, const void *body, size_t len, client_done_fn done,
	       void *ud, struct client_call **ret);
/* Stop a call: no callback of it runs afterwards. */
void client_call_cancel(struct client_call *call);

/* A stand-in for the network, for tests: call() starts one request and must
 * answer it later (not from inside call()) through ops, passing NULL as the
 * struct http_call pointer: on_headers, on_data..., then exactly one on_done,
 * which cancel() may also trigger (at once or later). */
struct client_transport {
	int (*call)(void *ud, const struct http_call_request *req, const struct http_call_ops *ops,
		    void *call_ud, void **ret_handle);
	void (*cancel)(void *ud, void *handle);
	void *ud;
};

/* ---- the cache (store) and its indexes ------------------------------------------------ */

/* Objects by key ("namespace/name", or "name" when cluster-scoped), with an
 * index by namespace and any number of custom ones. The cache holds references
 * to the objects it is given; readers must not modify them. */
struct client_store;

/* Append the index values of obj to values (none: not indexed). */
typedef void (*client_index_fn)(const json_t *obj, struct api_msgs *values, void *ud);

#define CLIENT_INDEX_NAMESPACE "namespace"

struct client_store *client_store_new(void);
struct client_store *client_store_free(struct client_store *s);
DEFINE_FREEP(struct client_store, client_store_free)
/* Add an index (indexing what is already there); -EEXIST if the name is taken. */
int client_store_add_index(struct client_store *s, const char *name, client_index_fn fn, void *ud);

/* The key of an object; NULL when it has no name. */
char *client_store_key(const json_t *obj);
/* Lookups return borrowed references, as lib/api's getters do: valid until the
 * next change to the store (json_incref to keep one longer), never to be modified. */
json_t *client_store_get(const struct client_store *s, const char *ns, const char *name);
json_t *client_store_get_key(const struct client_store *s, const char *key);
size_t client_store_len(const struct client_store *s);
/* Every object, as a JSON object key → object (iterate with json_object_foreach). */
json_t *client_store_all(const struct client_store *s);
/* The objects whose index `index` holds value, key → object; NULL when none
 * (or no such index). CLIENT_INDEX_NAMESPACE is always there. */
json_t *client_store_index(const struct client_store *s, const char *index, const char *value);

/* A change the store went through. old: the object before (update, delete);
 * obj: after (add, update) or its last known state (delete). final_state_unknown:
 * a delete found by a relist rather than seen in a watch. */
enum client_change { CLIENT_ADD, CLIENT_UPDATE, CLIENT_DELETE };
struct client_delta {
	enum client_change type;
	const json_t *old;
	const json_t *obj;
	bool final_state_unknown;
};
typedef void (*client_delta_fn)(const struct client_delta *d, void *ud);

/* Apply one watch event (ADDED, MODIFIED or DELETED): an ADDED for a key the
 * store has is an update, an event for the resourceVersion the store already
 * holds changes nothing, a DELETED for an unknown key is dropped. fn (may be
 * NULL) hears each change. -EINVAL for another type or an object without name. */
int client_store_apply(struct client_store *s, const char *type, json_t *obj, client_delta_fn fn,
		       void *ud);
/* Make the store hold exactly items (a JSON array of objects, a fresh list):
 * adds for new keys, updates where the resourceVersion changed, then deletes
 * (final_state_unknown) for keys that are gone. */
void client_store_replace(struct client_store *s, const json_t *items, client_delta_fn fn,
			  void *ud);

/* ---- informers ------------------------------------------------------------------------ */

/* List (paged), then watch from the list's resourceVersion with bookmarks,
 * keeping a store in step and telling handlers what changed. A watch that
 * ends is resumed from the last resourceVersion seen (bookmarks included);
 * 410 Gone (an HTTP 410 or an ERROR event with code 410) means that version is
 * compacted away, and the informer lists again and delivers the differences:
 * no add twice, no delete lost. Failures are retried with exponential backoff
 * (default 0.8 s doubling to 30 s, each delay jittered down by up to a
 * quarter), so an API server that goes away and comes back is picked up
 * again. */
struct informer;

struct informer_handlers {
	void (*on_add)(const json_t *obj, void *ud);
	void (*on_update)(const json_t *old, const json_t *obj, void *ud);
	/* final_state_unknown: found by a relist; obj is the last state seen. */
	void (*on_delete)(const json_t *obj, bool final_state_unknown, void *ud);
	/* Once, after the first list is in the store. */
	void (*on_synced)(void *ud);
};

struct informer_options {
	struct client_ref ref; /* gvr and namespace (NULL: all); name and subresource unused */
	const char *label_selector;
	const char *field_selector;
	unsigned page_size;          /* list limit; default 500 */
	uint64_t backoff_initial_ns; /* default 800 ms */
	uint64_t backoff_max_ns;     /* default 30 s */
	const struct informer_handlers *handlers; /* may be NULL; more with informer_add_handlers */
	void *ud;
};

struct informer_stats {
	uint64_t lists;   /* complete lists put into the store */
	uint64_t watches; /* watch requests started */
	uint64_t gone;    /* 410s that forced a relist */
	uint64_t events;  /* watch events applied (bookmarks not counted) */
	uint64_t retries; /* failed requests retried after a backoff */
};

/* The informer uses c until it is freed. Handlers, indexes: before start. */
int informer_new(struct client *c, const struct informer_options *o, struct informer **ret);
/* Also from inside the informer's own callbacks. */
struct informer *informer_free(struct informer *inf);
DEFINE_FREEP(struct informer, informer_free)
void informer_start(struct informer *inf);
/* Another set of handlers; when the informer already holds objects they are
 * replayed to it as adds (and on_synced follows if it is synced). */
void informer_add_handlers(struct informer *inf, const struct informer_handlers *h, void *ud);
int informer_add_index(struct informer *inf, const char *name, client_index_fn fn, void *ud);
bool informer_synced(const struct informer *inf);
/* The cache; read it, never change it. */
const struct client_store *informer_store(const struct informer *inf);
/* The last resourceVersion seen ("" before the first list). */
const char *informer_resource_version(const struct informer *inf);
void informer_get_stats(const struct informer *inf, struct informer_stats *ret);

/* ---- the work queue ------------------------------------------------------------------- */

/* client-go's rate-limited work queue, on one loop: a key is queued at most
 * once however often it is added; a key being processed is not handed out
 * again until workqueue_done(), after which it is queued again if it was
 * added meanwhile. workqueue_add_rate_limited() re-adds a failed key after
 * base·2^failures (5 ms up to 1000 s), and no faster than the queue-wide
 * bucket (10/s, bursts of 100) allows, until workqueue_forget(). "Workers"
 * are concurrent slots on the loop thread, not threads: process() is called
 * for up to `workers` keys at a time, each finishing with workqueue_done(),
 * at once or from a later callback. */
struct workqueue;

typedef void (*workqueue_process_fn)(struct workqueue *q, const char *key, void *ud);

struct workqueue_options {
	workqueue_process_fn process; /* NULL: take keys with workqueue_get() */
	void *ud;
	unsigned workers;       /* keys in process() at once; default 1 */
	uint64_t base_delay_ns; /* default 5 ms */
	uint64_t max_delay_ns;  /* default 1000 s */
	double qps;             /* queue-wide re-add rate; default 10, < 0: none */
	unsigned burst;         /* default 100 */
};

int workqueue_new(struct loop *l, const struct workqueue_options *o, struct workqueue **ret);
struct workqueue *workqueue_free(struct workqueue *q);
DEFINE_FREEP(struct workqueue, workqueue_free)
void workqueue_add(struct workqueue *q, const char *key);
/* Add once delay_ns has passed (0: now); a key already waiting keeps the earlier time. */
void workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ns);
/* Add after the key's backoff; returns the delay chosen. */
uint64_t workqueue_add_rate_limited(struct workqueue *q, const char *key);
/* Stop counting the key's failures (after it was processed successfully). */
void workqueue_forget(struct workqueue *q, const char *key);
unsigned workqueue_num_requeues(const struct workqueue *q, const char *key);
/* The next key, now processing (valid until workqueue_done); NULL when none is
 * ready or the queue is shut down. */
const char *workqueue_get(struct workqueue *q);
void workqueue_done(struct workqueue *q, const char *key);
/* Keys ready to be handed out (not the delayed ones). */
size_t workqueue_len(const struct workqueue *q);
/* Handlers that queue the key ("namespace/name") of every object an informer
 * adds, updates or deletes: informer_add_handlers(inf, &workqueue_key_handlers, q). */
extern const struct informer_handlers workqueue_key_handlers;
/* Keys currently being processed. */
size_t workqueue_processing(const struct workqueue *q);
/* No more adds or hand-outs; keys already processing still end with done. */
void workqueue_shut_down(struct workqueue *q);
bool workqueue_shutting_down(const struct workqueue *q);
