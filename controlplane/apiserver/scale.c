/* The scale subresource: a Deployment's, ReplicaSet's, StatefulSet's or
 * ReplicationController's replicas seen and changed as an autoscaling/v1
 * Scale (what `kubectl scale` and autoscalers use). */
#include "apiserver/internal.h"

#include <stdio.h>

#ifdef KELP_HAVE_PATCH
#include "apiserver/patch/patch.h"
#endif

struct scale_op {
	struct req *q;
	json_t *change; /* the PUT body or the patch */
	char *patch_type;
	int tries;
};

static void scale_free(struct scale_op *s)
{
	json_decref(s->change);
	free(s->patch_type);
	free(s);
}

/* The label selector of the parent, as the Scale's status shows it. */
static char *selector_string(const json_t *parent)
{
	const json_t *sel = api_get(parent, "spec.selector");
	struct api_label_selector *ls = NULL;
	char *out = NULL;

	if (json_is_object(sel) && !json_object_get(sel, "matchLabels") &&
	    !json_object_get(sel, "matchExpressions")) {
		/* A ReplicationController's selector is a plain map. */
		json_t *wrapped = json_pack("{s:O}", "matchLabels", sel);
		api_label_selector_from_json(wrapped, &ls, NULL);
		json_decref(wrapped);
	} else if (sel) {
		api_label_selector_from_json(sel, &ls, NULL);
	}
	out = ls ? api_label_selector_format(ls) : xstrdup("");
	api_label_selector_free(ls);
	return out;
}

static json_t *scale_of(const json_t *parent)
{
	int64_t replicas = 0, cur = 0;
	api_get_int(parent, "spec.replicas", &replicas);
	api_get_int(parent, "status.replicas", &cur);
	_cleanup_free_ char *sel = selector_string(parent);
	json_t *meta = json_object();
	static const char *const keys[] = {"name", "namespace", "uid", "resourceVersion",
					   "creationTimestamp"};
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		json_t *v = api_get(parent, "metadata");
		v = json_object_get(v, keys[i]);
		if (v)
			json_object_set(meta, keys[i], v);
	}
	return json_pack("{s:s, s:s, s:o, s:{s:I}, s:{s:I, s:s}}", "kind", "Scale", "apiVersion",
			 "autoscaling/v1", "metadata", meta, "spec", "replicas", (json_int_t)replicas,
			 "status", "replicas", (json_int_t)cur, "selector", sel);
}

static void respond_scale(struct req *q, int code, const json_t *parent)
{
	json_t *sc = scale_of(parent);
	q->enc = ENC_JSON;
	/* Answered as the Scale it is, not as the parent's kind. */
	q->res = NULL;
	req_respond_object(q, code, sc);
}

static void scale_read(struct scale_op *s);

static void written(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct scale_op *s = ud;
	struct req *q = s->q;

	if (err || (!ok && !cur)) {
		req_fail_store(q, err ? err : -ENOENT, q->r.name);
		scale_free(s);
		return;
	}
	if (!ok) {
		if (++s->tries < 5) {
			scale_read(s);
			return;
		}
		req_respond_status(q, api_status_conflict(q->res->kind->group, q->res->kind->plural,
							  q->r.name, NULL));
		scale_free(s);
		return;
	}
	object_set_rv(q->body, rev);
	respond_scale(q, 200, q->body);
	scale_free(s);
}

static void got(void *ud, int err, int64_t rev, const struct store_kv *kv)
{
	struct scale_op *s = ud;
	struct req *q = s->q;

	if (err || !kv) {
		req_fail_store(q, err ? err : -ENOENT, q->r.name);
		scale_free(s);
		return;
	}
	json_t *parent = object_from_kv(kv);
	if (!s->change) {
		respond_scale(q, 200, parent);
		json_decref(parent);
		scale_free(s);
		return;
	}
	json_t *cur_scale = scale_of(parent), *new_scale = NULL;
	if (!s->patch_type) {
		new_scale = json_incref(s->change);
	} else {
#ifdef KELP_HAVE_PATCH
		char *errmsg = NULL;
		int r = str_has_prefix(s->patch_type, "application/json-patch+json")
				? patch_json(cur_scale, s->change, &new_scale, &errmsg)
				: patch_merge(cur_scale, s->change, &new_scale, &errmsg);
		if (r < 0) {
			req_respond_status(q, api_status_bad_request(errmsg ? errmsg : "invalid patch"));
			free(errmsg);
			json_decref(cur_scale);
			json_decref(parent);
			scale_free(s);
			return;
		}
#else
		new_scale = json_incref(s->change);
#endif
	}
	json_decref(cur_scale);
	int64_t want = -1;
	const char *rv = api_meta_resource_version(new_scale);
	if (s->patch_type == NULL && rv && *rv && !streq(rv, api_meta_resource_version(parent))) {
		json_decref(new_scale);
		json_decref(parent);
		req_respond_status(q, api_status_conflict(q->res->kind->group, q->res->kind->plural,
							  q->r.name, NULL));
		scale_free(s);
		return;
	}
	if (api_get_int(new_scale, "spec.replicas", &want) < 0 || want < 0 || want > INT32_MAX) {
		struct api_field_errors errs = {0};
		api_field_invalid(&errs, "spec.replicas", json_incref(api_get(new_scale, "spec.replicas")),
				  "must be greater than or equal to 0");
		json_decref(new_scale);
		json_decref(parent);
		req_respond_status(q, api_status_invalid("autoscaling", "Scale", q->r.name, &errs));
		api_field_errors_clear(&errs);
		scale_free(s);
		return;
	}
	json_decref(new_scale);
	int64_t old = 0;
	api_get_int(parent, "spec.replicas", &old);
	api_set_int(parent, "spec.replicas", want);
	if (old != want && object_has_generation(q->res)) {
		int64_t g = 0;
		api_meta_generation(parent, &g);
		api_meta_set_generation(parent, g + 1);
	}
	json_decref(q->body);
	q->body = parent;
	if (q->r.dry_run) {
		respond_scale(q, 200, parent);
		scale_free(s);
		return;
	}
	struct buf b = {0};
	object_to_store(q->res, parent, &b);
	int r = store_update(q->a->store, q->key, strlen(q->key), b.data, b.len, kv->mod_rev, 0,
			     written, s);
	buf_free(&b);
	if (r < 0) {
		req_fail_store(q, r, q->r.name);
		scale_free(s);
	}
}

static void scale_read(struct scale_op *s)
{
	struct req *q = s->q;
	int r = store_get(q->a->store, q->key, strlen(q->key), 0, got, s);
	if (r < 0) {
		req_fail_store(q, r, q->r.name);
		scale_free(s);
	}
}

void scale_serve(struct req *q)
{
	const struct http_request *hr = http_exchange_request(q->ex);
	struct scale_op *s = xnew(struct scale_op, 1);
	char *err = NULL;

	s->q = q;
	q->key = resource_key(q->res, q->r.namespace, q->r.name);
	if (q->r.verb == VERB_UPDATE || q->r.verb == VERB_PATCH) {
		if (api_json_parse(hr->body, hr->body_len, 0, &s->change, &err) < 0) {
			_cleanup_free_ char *msg = xasprintf("error decoding the Scale: %s", err ? err : "");
			free(err);
			scale_free(s);
			req_respond_status(q, api_status_bad_request(msg));
			return;
		}
		if (q->r.verb == VERB_PATCH) {
			const char *ct = http_request_header(hr, "content-type");
			s->patch_type = xstrdup(ct ? ct : "application/merge-patch+json");
		}
	} else if (q->r.verb != VERB_GET) {
		scale_free(s);
		req_respond_status(q, api_status_method_not_supported("autoscaling", "scale",
								      "this verb"));
		return;
	}
	scale_read(s);
}
