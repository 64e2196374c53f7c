/* The pods/binding and pods/eviction subresources (and the bindings
 * resource): the scheduler assigns a pod to a node, and drains evict pods
 * within their disruption budgets. */
#include "apiserver/internal.h"

#include <stdio.h>

struct podop {
	struct req *q;
	json_t *body;
	char *node;
	int tries;
};

static void podop_free(struct podop *p)
{
	json_decref(p->body);
	free(p->node);
	free(p);
}

static void respond_success(struct req *q, int code)
{
	json_t *st = api_status_success(NULL, NULL, NULL, NULL, code);
	q->res = NULL;
	q->enc = ENC_JSON;
	req_respond_object(q, code, st);
}

/* --- binding --- */

static void bind_read(struct podop *p);

static void bound(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct podop *p = ud;
	struct req *q = p->q;

	if (err) {
		req_fail_store(q, err, q->r.name);
	} else if (!ok) {
		if (cur && ++p->tries < 5) {
			bind_read(p);
			return;
		}
		req_fail_store(q, cur ? -EAGAIN : -ENOENT, q->r.name);
	} else {
		respond_success(q, 201);
	}
	podop_free(p);
}

static void bind_got(void *ud, int err, int64_t rev, const struct store_kv *kv)
{
	struct podop *p = ud;
	struct req *q = p->q;
	const char *name = q->r.name ? q->r.name : api_meta_name(p->body);

	if (err || !kv) {
		req_fail_store(q, err ? err : -ENOENT, name);
		podop_free(p);
		return;
	}
	json_t *pod = object_from_kv(kv);
	const char *cur = api_get_str(pod, "spec.nodeName");
	if (cur && *cur) {
		_cleanup_free_ char *why = xasprintf("pod %s is already assigned to node \"%s\"", name, cur);
		json_decref(pod);
		req_respond_status(q, api_status_conflict("", "pods", name, why));
		podop_free(p);
		return;
	}
	if (api_get(pod, "metadata.deletionTimestamp")) {
		_cleanup_free_ char *why = xasprintf("pod %s is being deleted, cannot be assigned to a host", name);
		json_decref(pod);
		req_respond_status(q, api_status_conflict("", "pods", name, why));
		podop_free(p);
		return;
	}
	api_set_str(pod, "spec.nodeName", p->node);
	/* The PodScheduled condition, as the scheduler's binding sets it. */
	char ts[API_TIME_LEN];
	api_time_format((int64_t)(now_real_ns() / 1000000000u * 1000000000u), ts);
	json_t *conds = api_get_array(pod, "status.conditions");
	if (!conds) {
		conds = json_array();
		api_set(pod, "status.conditions", conds);
	}
	json_array_append_new(conds, json_pack("{s:s, s:s, s:n, s:s}", "type", "PodScheduled", "status",
					       "True", "lastProbeTime", "lastTransitionTime", ts));
	struct buf b = {0};
	object_to_store(q->res, pod, &b);
	json_decref(pod);
	int r = store_update(q->a->store, kv->key, kv->key_len, b.data, b.len, kv->mod_rev, 0, bound, p);
	buf_free(&b);
	if (r < 0) {
		req_fail_store(q, r, name);
		podop_free(p);
	}
}

static void bind_read(struct podop *p)
{
	struct req *q = p->q;
	int r = store_get(q->a->store, q->key, strlen(q->key), 0, bind_got, p);
	if (r < 0) {
		req_fail_store(q, r, q->r.name);
		podop_free(p);
	}
}

static int read_body(struct req *q, json_t **ret)
{
	const struct http_request *hr = http_exchange_request(q->ex);
	char *err = NULL;
	if (api_json_parse(hr->body, hr->body_len, 0, ret, &err) < 0 || !json_is_object(*ret)) {
		_cleanup_free_ char *msg = xasprintf("invalid body: %s", err ? err : "not an object");
		free(err);
		json_decref(*ret);
		req_respond_status(q, api_status_bad_request(msg));
		return -1;
	}
	return 0;
}

/* POST pods/<name>/binding, or POST bindings with the pod's name in the body. */
void binding_serve(struct req *q)
{
	struct podop *p = xnew(struct podop, 1);
	p->q = q;
	if (q->r.verb != VERB_CREATE) {
		podop_free(p);
		req_respond_status(q, api_status_method_not_supported("", "bindings", "this verb"));
		return;
	}
	if (read_body(q, &p->body) < 0) {
		podop_free(p);
		return;
	}
	const char *kind = api_get_str(p->body, "target.kind");
	const char *node = api_get_str(p->body, "target.name");
	const char *name = q->r.name ? q->r.name : api_meta_name(p->body);
	if (!node || !*node || (kind && *kind && !streq(kind, "Node")) || !name) {
		struct api_field_errors errs = {0};
		if (!node || !*node)
			api_field_required(&errs, "target.name", NULL);
		else
			api_field_not_supported(&errs, "target.kind", json_string(kind), (const char *const[]){"Node"}, 1);
		req_respond_status(q, api_status_invalid("", "Binding", name ? name : "", &errs));
		api_field_errors_clear(&errs);
		podop_free(p);
		return;
	}
	p->node = xstrdup(node);
	const struct resource *pods = resource_for_kind(q->a, "", "Pod");
	q->res = pods;
	q->key = resource_key(pods, q->r.namespace, name);
	bind_read(p);
}

/* --- eviction --- */

static void evicted(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct podop *p = ud;
	struct req *q = p->q;

	if (err || !ok)
		req_fail_store(q, err ? err : (cur ? -EAGAIN : -ENOENT), q->r.name);
	else
		respond_success(q, 201);
	podop_free(p);
}

struct evict {
	struct podop *p;
	json_t *pod;
	int64_t pod_rev;
};

static void evict_delete(struct evict *e)
{
	struct podop *p = e->p;
	struct req *q = p->q;
	const char *node = api_get_str(e->pod, "spec.nodeName");
	int r;

	if (q->r.dry_run) {
		respond_success(q, 201);
		podop_free(p);
	} else if (node && *node && !api_get(e->pod, "metadata.deletionTimestamp")) {
		/* A running pod terminates gracefully: its node's agent finishes it. */
		char ts[API_TIME_LEN];
		int64_t grace = 30;
		api_get_int(e->pod, "spec.terminationGracePeriodSeconds", &grace);
		api_time_format((int64_t)(now_real_ns() / 1000000000u * 1000000000u) + grace * 1000000000, ts);
		api_set_str(e->pod, "metadata.deletionTimestamp", ts);
		api_set_int(e->pod, "metadata.deletionGracePeriodSeconds", grace);
		struct buf b = {0};
		object_to_store(q->res, e->pod, &b);
		r = store_update(q->a->store, q->key, strlen(q->key), b.data, b.len, e->pod_rev, 0, evicted, p);
		buf_free(&b);
		if (r < 0) {
			req_fail_store(q, r, q->r.name);
			podop_free(p);
		}
	} else {
		r = store_delete(q->a->store, q->key, strlen(q->key), e->pod_rev, evicted, p);
		if (r < 0) {
			req_fail_store(q, r, q->r.name);
			podop_free(p);
		}
	}
	json_decref(e->pod);
	free(e);
}

/* A pod covered by a budget may go only while the budget allows a
 * disruption (the disruption controller keeps status.disruptionsAllowed). */
static void pdbs_listed(void *ud, int err, int64_t rev, const struct store_range_res *res)
{
	struct evict *e = ud;
	struct req *q = e->p->q;

	if (err) {
		req_fail_store(q, err, q->r.name);
		podop_free(e->p);
		json_decref(e->pod);
		free(e);
		return;
	}
	for (size_t i = 0; i < res->n; i++) {
		json_t *pdb = object_from_kv(&res->kvs[i]);
		struct api_label_selector *sel = NULL;
		if (pdb && api_label_selector_from_json(api_get(pdb, "spec.selector"), &sel, NULL) == 0 &&
		    api_label_selector_matches(sel, api_meta_labels(e->pod)) &&
		    !api_label_selector_empty(sel)) {
			int64_t allowed = 0;
			api_get_int(pdb, "status.disruptionsAllowed", &allowed);
			if (allowed <= 0) {
				_cleanup_free_ char *msg = xasprintf(
					"Cannot evict pod as it would violate the pod's disruption budget.");
				json_t *st = api_status_too_many_requests(msg, 10);
				json_object_set_new(json_object_get(st, "details"), "causes",
						    json_pack("[{s:s, s:s}]", "reason", "DisruptionBudget",
							      "message",
							      "The disruption budget needs more healthy pods to allow this eviction."));
				api_label_selector_free(sel);
				json_decref(pdb);
				http_response_header(q->ex, "Retry-After", "10");
				req_respond_status(q, st);
				podop_free(e->p);
				json_decref(e->pod);
				free(e);
				return;
			}
		}
		api_label_selector_free(sel);
		json_decref(pdb);
	}
	evict_delete(e);
}

static void evict_got(void *ud, int err, int64_t rev, const struct store_kv *kv)
{
	struct podop *p = ud;
	struct req *q = p->q;

	if (err || !kv) {
		req_fail_store(q, err ? err : -ENOENT, q->r.name);
		podop_free(p);
		return;
	}
	struct evict *e = xnew(struct evict, 1);
	e->p = p;
	e->pod = object_from_kv(kv);
	e->pod_rev = kv->mod_rev;
	const struct resource *pdbs = resource_for_kind(q->a, "policy", "PodDisruptionBudget");
	if (!pdbs) {
		evict_delete(e);
		return;
	}
	_cleanup_free_ char *prefix = resource_prefix(pdbs, q->r.namespace);
	_cleanup_free_ char *end = xmalloc(strlen(prefix) + 1);
	size_t end_len = store_prefix_end(prefix, strlen(prefix), end);
	int r = store_range(q->a->store,
			    &(struct store_range_req){.key = prefix,
						      .key_len = strlen(prefix),
						      .end = end,
						      .end_len = end_len},
			    pdbs_listed, e);
	if (r < 0)
		evict_delete(e);
}

void eviction_serve(struct req *q)
{
	struct podop *p = xnew(struct podop, 1);
	p->q = q;
	if (q->r.verb != VERB_CREATE) {
		podop_free(p);
		req_respond_status(q, api_status_method_not_supported("policy", "evictions", "this verb"));
		return;
	}
	if (read_body(q, &p->body) < 0) {
		podop_free(p);
		return;
	}
	const char *name = api_meta_name(p->body);
	if (name && *name && !streq(name, q->r.name)) {
		podop_free(p);
		req_respond_status(q, api_status_bad_request("name in URL does not match name in Eviction object"));
		return;
	}
	q->key = resource_key(q->res, q->r.namespace, q->r.name);
	int r = store_get(q->a->store, q->key, strlen(q->key), 0, evict_got, p);
	if (r < 0) {
		req_fail_store(q, r, q->r.name);
		podop_free(p);
	}
}
