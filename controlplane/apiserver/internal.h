/* The apiserver's internals, shared by its files. */
#pragma once

/* How often a guarded write is retried when someone else wrote meanwhile. */
#define WRITE_MAX_RETRIES 5

#include <jansson.h>

#include "api/api.h"
#include "apiserver/apiserver.h"
#include "apiserver/request.h"
#include "apiserver/schema.h"
#include "base/base.h"
#include "http/http.h"
#include "log/log.h"
#include "loop/loop.h"
#include "metrics/metrics.h"
#include "store/store.h"

struct watch_cache;
struct req;
struct openapi_docs;

/* --- resources: one per served kind (registry.c) --- */

struct resource {
	const struct sch_kind *kind;
	char *prefix;     /* store keys: "/registry/pods/" or "/registry/apps/deployments/" */
	char *qualified;  /* "pods" or "deployments.apps", as error messages name it */
	char *api_version; /* "v1", "apps/v1" */
	struct watch_cache *cache;
	/* Another resource storing the same objects (events.k8s.io events
	 * live with core events); NULL for most. */
	const struct resource *storage;
};

const struct resource *resource_find(const struct apiserver *a, const char *group,
				     const char *version, const char *plural);
const struct resource *resource_for_kind(const struct apiserver *a, const char *group,
					 const char *kind);
/* The store key of an object ("" namespace for cluster-scoped). */
char *resource_key(const struct resource *res, const char *ns, const char *name);
/* The prefix covering one namespace ("…/pods/ns/") or everything. */
char *resource_prefix(const struct resource *res, const char *ns);

/* --- the server --- */

struct user {
	char *name;
	char *uid;
	char **groups;
	size_t ngroups;
};

struct apiserver {
	struct apiserver_config cfg;
	struct loop *loop;
	struct store *store;
	const struct logger *log;
	struct resource *resources;
	size_t nresources;
	bool ready;
	void (*ready_fn)(void *ud, int err);
	void *ready_ud;
	int bootstrap_pending;
	unsigned inflight_read, inflight_mutating;
	/* allocators */
	uint32_t svc_base, svc_size; /* service CIDR, host order */
	unsigned nodeport_lo, nodeport_hi;
	/* static tokens */
	struct token *tokens;
	size_t ntokens;
	/* metrics */
	struct metric_family *m_requests, *m_duration, *m_inflight;
	struct loop_timer ready_poll;
	struct ns_job *ns_jobs;
	struct openapi_docs *openapi; /* built on first use */
	char *server_address;         /* advertised "host:port" */
};

/* --- one request on its way through (handler.c) --- */

enum encoding {
	ENC_JSON,
	ENC_PROTOBUF,
	ENC_TABLE,
};

struct req {
	struct apiserver *a;
	struct http_exchange *ex;
	struct api_request r;
	const struct resource *res;
	struct user user;
	enum encoding enc;
	bool table_with_object;
	json_t *body; /* decoded request object */
	char *key;
	uint64_t start_ns;
	int code; /* the status code answered, for metrics */
	bool mutating;
	bool aborted;
};

void req_free(struct req *q);
/* Answer with an object (the kind's encoding as negotiated) and finish. */
void req_respond_object(struct req *q, int code, json_t *obj);
/* Answer with a Status (its code) and finish. Steals status. */
void req_respond_status(struct req *q, json_t *status);
void req_fail_store(struct req *q, int err, const char *name);
/* Stamp kind and apiVersion of the request's resource on obj. */
void req_set_type(const struct req *q, json_t *obj);

/* --- objects in the store (object.c) --- */

/* Parse a stored value and set metadata.resourceVersion from mod_rev. */
json_t *object_from_kv(const struct store_kv *kv);
/* The same, as the resource shows it (events.k8s.io Events are stored as
 * core/v1 ones). */
json_t *object_read(const struct resource *res, const struct store_kv *kv);

/* --- events.k8s.io/v1 (events.c) --- */

bool events_v1(const struct resource *res);
void events_to_v1(json_t *obj);
void events_to_core(json_t *obj);
/* Serialize for the store: keys in the order Kubernetes writes them,
 * resourceVersion dropped (it is the key's mod revision). */
void object_to_store(const struct resource *res, json_t *obj, struct buf *out);
/* Whether the kind counts metadata.generation (those with a spec that
 * controllers reconcile). */
bool object_has_generation(const struct resource *res);
void object_set_rv(json_t *obj, int64_t rev);
int64_t object_rv(const json_t *obj);
/* A new UID (RFC 4122 version 4, from the kernel's random source). */
void object_new_uid(char out[37]);

/* --- verbs (rest.c, write.c) --- */

/* The request body as an object of the request's kind. Answers and
 * returns -1 when it is not one. */
int rest_decode_body(struct req *q, json_t **ret);
/* The field manager of the request (caller frees). */
char *req_manager(const struct req *q);

void rest_get(struct req *q);
void rest_list(struct req *q);
void rest_create(struct req *q);
void rest_update(struct req *q);
void rest_patch(struct req *q);
void rest_delete(struct req *q);
void rest_deletecollection(struct req *q);

/* --- the scale subresource (scale.c) --- */

void scale_serve(struct req *q);
/* pods/binding, bindings, pods/eviction (podsub.c) */
void binding_serve(struct req *q);
void eviction_serve(struct req *q);

/* --- watch (watch.c) --- */

int watch_cache_start(struct apiserver *a, struct resource *res);
void watch_cache_free(struct watch_cache *c);
bool watch_cache_synced(const struct watch_cache *c);
void watch_serve(struct req *q);

/* --- selectors (select.c) --- */

struct selectors {
	struct api_label_selector *labels; /* NULL: everything */
	struct api_field_selector *fields; /* NULL: everything */
};
/* 0, or a 400 Status in *ret_status. */
int selectors_parse(const struct req *q, struct selectors *ret, json_t **ret_status);
bool selectors_match(const struct selectors *s, const struct resource *res, const json_t *obj);
void selectors_clear(struct selectors *s);

/* --- admission (admission.c) --- */

/* Called before a create is stored: namespace lifecycle, defaults that
 * depend on the cluster (service account, ClusterIP), ... done(q, NULL)
 * to go on, done(q, status) to refuse. */
typedef void (*admit_fn)(struct req *q, json_t *status);
void admission_create(struct req *q, json_t *obj, admit_fn done);

/* --- the rest of the server (apiserver.c, registry.c, handler.c) --- */

void registry_init(struct apiserver *a);
void registry_free(struct apiserver *a);
int handler_load_tokens(struct apiserver *a, const char *path);
void handler_free_tokens(struct apiserver *a);

/* --- ClusterIPs and NodePorts (alloc.c) --- */

void alloc_service(struct req *q, json_t *svc, admit_fn done);
void alloc_release_service(struct apiserver *a, const json_t *svc);
/* Reserve an address taken by the bootstrap kubernetes Service. */
void alloc_reserve_ip(struct apiserver *a, const char *ip, const char *owner);

/* --- namespace deletion (namespace.c) --- */

/* Delete everything in a Terminating namespace, then the namespace. */
void namespace_finalize_start(struct apiserver *a, const char *ns);
void namespace_jobs_free(struct apiserver *a);
/* Give a new namespace its default ServiceAccount. */
void namespace_created(struct apiserver *a, const char *ns);

/* --- bootstrap (bootstrap.c) --- */

void bootstrap_start(struct apiserver *a);
