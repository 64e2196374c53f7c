/* delete and deletecollection: graceful deletion of pods, finalizers,
 * propagationPolicy and preconditions, guarded by the object's mod
 * revision and retried when someone else wrote meanwhile. */
#include "apiserver/internal.h"

#include <inttypes.h>
#include <stdio.h>

/* --- delete --- */

struct del {
	struct req *q;
	json_t *obj;
	int tries;
};

static void del_free(struct del *d)
{
	json_decref(d->obj);
	free(d);
}

static void del_read(struct del *d);

static void del_done(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct del *d = ud;
	struct req *q = d->q;

	if (err) {
		req_fail_store(q, err, q->r.name);
		del_free(d);
		return;
	}
	if (!ok) {
		if (cur && ++d->tries < WRITE_MAX_RETRIES) {
			del_read(d);
			return;
		}
		req_fail_store(q, cur ? -EAGAIN : -ENOENT, q->r.name);
		del_free(d);
		return;
	}
	json_t *obj = TAKE_PTR(d->obj);
	del_free(d);
	if (!*q->res->kind->group && streq(q->res->kind->kind, "Service") &&
	    !api_get(obj, "metadata.deletionTimestamp"))
		alloc_release_service(q->a, obj);
	req_respond_object(q, 200, obj);
}

static void del_marked(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct del *d = ud;
	struct req *q = d->q;
	if (!err && ok) {
		object_set_rv(d->obj, rev);
		if (!*q->res->kind->group && streq(q->res->kind->kind, "Namespace") &&
		    json_array_size(api_get_array(d->obj, "spec.finalizers")))
			namespace_finalize_start(q->a, q->r.name);
	}
	/* A marked object is answered like a deleted one, with its new state. */
	del_done(ud, err, rev, ok, cur);
}

/* The grace period a pod deletion asks for: the request's, else the
 * pod's terminationGracePeriodSeconds (30 by default). */
static int64_t pod_grace(const struct req *q, const json_t *pod)
{
	int64_t grace = 30;
	if (q->r.has_grace_period)
		return MAX(q->r.grace_period_seconds, 0);
	if (api_get_int(q->body, "gracePeriodSeconds", &grace) == 0)
		return MAX(grace, 0);
	api_get_int(pod, "spec.terminationGracePeriodSeconds", &grace);
	return MAX(grace, 0);
}

/* A pod bound to a node, deleted with a grace period and not marked yet,
 * is only marked: the node's agent stops it and finishes the deletion. */
static bool pod_graceful(const struct req *q, const json_t *pod)
{
	const char *node = api_get_str(pod, "spec.nodeName");
	return node && *node && pod_grace(q, pod) > 0;
}

static void del_got(void *ud, int err, int64_t rev, const struct store_kv *kv)
{
	struct del *d = ud;
	struct req *q = d->q;

	if (err || !kv) {
		req_fail_store(q, err ? err : -ENOENT, q->r.name);
		del_free(d);
		return;
	}
	json_decref(d->obj);
	d->obj = object_read(q->res, kv);
	if (!d->obj) {
		req_respond_status(q, api_status_internal_error("the stored object does not decode"));
		del_free(d);
		return;
	}
	/* Preconditions from DeleteOptions. */
	const json_t *opts = q->body;
	const char *uid = api_get_str(opts, "preconditions.uid");
	const char *rv = api_get_str(opts, "preconditions.resourceVersion");
	if ((uid && !streq(uid, api_meta_uid(d->obj) ? api_meta_uid(d->obj) : "")) ||
	    (rv && !streq(rv, api_meta_resource_version(d->obj)))) {
		_cleanup_free_ char *why = xasprintf(
			"Precondition failed: %s: %s, %s: %s", uid ? "UID in precondition" : "ResourceVersion in precondition",
			uid ? uid : rv, uid ? "UID in object meta" : "ResourceVersion in object meta",
			uid ? (api_meta_uid(d->obj) ? api_meta_uid(d->obj) : "") : api_meta_resource_version(d->obj));
		req_respond_status(q, api_status_conflict(q->res->kind->group, q->res->kind->plural,
							  q->r.name, why));
		del_free(d);
		return;
	}
	if (q->r.dry_run) {
		json_t *obj = TAKE_PTR(d->obj);
		del_free(d);
		req_respond_object(q, 200, obj);
		return;
	}
	const char *policy = q->r.propagation_policy ? q->r.propagation_policy
						    : api_get_str(opts, "propagationPolicy");
	bool has_finalizers = json_array_size(api_meta_finalizers(d->obj)) > 0;
	bool foreground = policy && streq(policy, "Foreground");
	bool orphan = policy && streq(policy, "Orphan");
	bool is_ns = !*q->res->kind->group && streq(q->res->kind->kind, "Namespace");
	bool is_pod = !*q->res->kind->group && streq(q->res->kind->kind, "Pod");
	if (is_pod && pod_graceful(q, d->obj)) {
		/* A pod on a node stops first: its agent deletes it for good. */
		has_finalizers = true;
	}
	if (is_ns && json_array_size(api_get_array(d->obj, "spec.finalizers"))) {
		/* A namespace empties first; it goes once its finalizers do. */
		api_set_str(d->obj, "status.phase", "Terminating");
		has_finalizers = true;
	}
	if (has_finalizers || foreground || orphan) {
		/* Mark it; whoever owns the finalizers finishes the deletion. */
		if (foreground)
			api_meta_add_finalizer(d->obj, "foregroundDeletion");
		if (orphan)
			api_meta_add_finalizer(d->obj, "orphan");
		if (!api_get(d->obj, "metadata.deletionTimestamp")) {
			char ts[API_TIME_LEN];
			int64_t grace = is_pod ? pod_grace(q, d->obj) : 0;
			api_time_format((int64_t)(now_real_ns() / 1000000000u * 1000000000u) +
						grace * 1000000000, ts);
			api_set_str(d->obj, "metadata.deletionTimestamp", ts);
			api_set_int(d->obj, "metadata.deletionGracePeriodSeconds", grace);
		}
		struct buf b = {0};
		object_to_store(q->res, d->obj, &b);
		int r = store_update(q->a->store, q->key, strlen(q->key), b.data, b.len, kv->mod_rev, 0,
				     del_marked, d);
		buf_free(&b);
		if (r < 0) {
			req_fail_store(q, r, q->r.name);
			del_free(d);
		}
		return;
	}
	int r = store_delete(q->a->store, q->key, strlen(q->key), kv->mod_rev, del_done, d);
	if (r < 0) {
		req_fail_store(q, r, q->r.name);
		del_free(d);
	}
}

static void del_read(struct del *d)
{
	struct req *q = d->q;
	int r = store_get(q->a->store, q->key, strlen(q->key), 0, del_got, d);
	if (r < 0) {
		req_fail_store(q, r, q->r.name);
		del_free(d);
	}
}

/* The optional DeleteOptions body. */
static int delete_options(struct req *q)
{
	const struct http_request *hr = http_exchange_request(q->ex);
	if (!hr->body_len)
		return 0;
	char *err = NULL;
	if (api_json_parse(hr->body, hr->body_len, 0, &q->body, &err) < 0 || !json_is_object(q->body)) {
		_cleanup_free_ char *msg = xasprintf("invalid DeleteOptions: %s", err ? err : "not an object");
		free(err);
		req_respond_status(q, api_status_bad_request(msg));
		return -1;
	}
	return 0;
}

void rest_delete(struct req *q)
{
	if (q->r.subresource) {
		req_respond_status(q, api_status_method_not_supported(q->res->kind->group,
								      q->res->kind->plural, "delete"));
		return;
	}
	if (delete_options(q) < 0)
		return;
	struct del *d = xnew(struct del, 1);
	d->q = q;
	q->key = resource_key(q->res, q->r.namespace, q->r.name);
	del_read(d);
}

/* --- deletecollection: every object the selectors match, each guarded --- */

struct delcoll {
	struct req *q;
	struct selectors sel;
	json_t *deleted;
	size_t pending;
	int err;
};

static void delcoll_finish(struct delcoll *dc)
{
	struct req *q = dc->q;
	if (dc->err) {
		req_fail_store(q, dc->err, NULL);
	} else {
		json_t *list = json_object();
		json_object_set_new(list, "kind", json_sprintf("%sList", q->res->kind->kind));
		json_object_set_new(list, "apiVersion", json_string(q->res->api_version));
		json_object_set_new(list, "metadata", json_object());
		json_object_set_new(list, "items", TAKE_PTR(dc->deleted));
		req_respond_object(q, 200, list);
	}
	selectors_clear(&dc->sel);
	json_decref(dc->deleted);
	free(dc);
}

static void delcoll_one(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct delcoll *dc = ud;
	/* Gone meanwhile, or changed: not ours to delete any more. */
	if (err && !dc->err)
		dc->err = err;
	if (--dc->pending == 0)
		delcoll_finish(dc);
}

static void delcoll_listed(void *ud, int err, int64_t rev, const struct store_range_res *res)
{
	struct delcoll *dc = ud;
	struct req *q = dc->q;

	if (err) {
		dc->err = err;
		delcoll_finish(dc);
		return;
	}
	dc->pending = 1;
	for (size_t i = 0; i < res->n; i++) {
		json_t *obj = object_read(q->res, &res->kvs[i]);
		if (!obj || !selectors_match(&dc->sel, q->res, obj)) {
			json_decref(obj);
			continue;
		}
		json_object_del(obj, "kind");
		json_object_del(obj, "apiVersion");
		json_array_append_new(dc->deleted, obj);
		if (q->r.dry_run)
			continue;
		dc->pending++;
		if (store_delete(q->a->store, res->kvs[i].key, res->kvs[i].key_len, res->kvs[i].mod_rev,
				 delcoll_one, dc) < 0)
			dc->pending--;
	}
	if (--dc->pending == 0)
		delcoll_finish(dc);
}

void rest_deletecollection(struct req *q)
{
	struct delcoll *dc = xnew(struct delcoll, 1);
	json_t *status = NULL;

	dc->q = q;
	dc->deleted = json_array();
	if (selectors_parse(q, &dc->sel, &status) < 0) {
		json_decref(dc->deleted);
		free(dc);
		req_respond_status(q, status);
		return;
	}
	_cleanup_free_ char *prefix = resource_prefix(q->res, q->r.namespace);
	_cleanup_free_ char *end = xmalloc(strlen(prefix) + 1);
	size_t end_len = store_prefix_end(prefix, strlen(prefix), end);
	int r = store_range(q->a->store,
			    &(struct store_range_req){.key = prefix,
						      .key_len = strlen(prefix),
						      .end = end,
						      .end_len = end_len},
			    delcoll_listed, dc);
	if (r < 0) {
		dc->err = r;
		delcoll_finish(dc);
	}
}
