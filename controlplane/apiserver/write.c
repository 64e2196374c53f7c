/* create, update, patch (delete.c: delete and deletecollection). Updates and patches are guarded by the
 * object's mod revision and retried when someone else wrote meanwhile,
 * unless the client named the resourceVersion it expects. */
#include "apiserver/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <sys/random.h>

#ifdef KELP_HAVE_VALIDATE
#include "apiserver/validate/validate.h"
#define HAVE_VALIDATE 1
#endif
#ifdef KELP_HAVE_PATCH
#include "apiserver/patch/patch.h"
#define HAVE_PATCH 1
#endif

static bool has_subresource(const struct resource *res, const char *sub)
{
	for (const char *const *s = res->kind->subresources; s && *s; s++)
		if (streq(*s, sub))
			return true;
	return false;
}

static json_t *invalid(const struct req *q, const json_t *obj, struct api_field_errors *errs)
{
	json_t *st = api_status_invalid(q->res->kind->group, q->res->kind->kind,
					api_meta_name(obj) ? api_meta_name(obj) : "", errs);
	api_field_errors_clear(errs);
	return st;
}

/* Defaults and validation; a 422 Status when invalid. */
static json_t *check(struct req *q, json_t *obj, const json_t *old)
{
	struct api_field_errors errs = {0};

#ifdef HAVE_VALIDATE
	/* Kubernetes defaults every object it decodes, updates included. */
	validate_default(q->res->kind, obj);
	if (old && q->r.subresource && streq(q->r.subresource, "status"))
		validate_status_update(q->res->kind, obj, old, &errs);
	else
		validate_object(q->res->kind, obj, old, &errs);
#else
	const char *name = api_meta_name(obj);
	if (!name || !*name)
		api_field_required(&errs, "metadata.name", "name or generateName is required");
	else if (api_is_dns1123_subdomain(name, NULL))
		api_field_invalid(&errs, "metadata.name", json_string(name),
				  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
				  "characters, '-' or '.', and must start and end with an alphanumeric "
				  "character (e.g. 'example.com', regex used for validation is "
				  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
#endif
	return errs.n ? invalid(q, obj, &errs) : NULL;
}

/* --- create --- */

static void generate_name(json_t *obj)
{
	static const char alphabet[] = "bcdfghjklmnpqrstvwxz2456789";
	const char *prefix = api_meta_generate_name(obj);
	uint8_t rnd[5];
	char suffix[6];

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0, sizeof(rnd));
	for (int i = 0; i < 5; i++)
		suffix[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	suffix[5] = '\0';
	_cleanup_free_ char *name = xasprintf("%.58s%s", prefix, suffix);
	api_meta_set_name(obj, name);
}

static void create_stored(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct req *q = ud;
	const char *name = api_meta_name(q->body);

	if (err) {
		req_fail_store(q, err, name);
		return;
	}
	if (!ok) {
		req_respond_status(q, api_status_already_exists(q->res->kind->group,
								 q->res->kind->plural, name));
		return;
	}
	json_t *obj = TAKE_PTR(q->body);
	object_set_rv(obj, rev);
	if (!*q->res->kind->group && streq(q->res->kind->kind, "Namespace"))
		namespace_created(q->a, api_meta_name(obj));
	req_respond_object(q, 201, obj);
}

static void create_admitted(struct req *q, json_t *status)
{
	if (status) {
		req_respond_status(q, status);
		return;
	}
	json_t *obj = q->body;
	if (q->r.dry_run) {
		q->body = NULL;
		req_respond_object(q, 201, obj);
		return;
	}
	struct buf b = {0};
	object_to_store(q->res, obj, &b);
	free(q->key);
	q->key = resource_key(q->res, api_meta_namespace(obj), api_meta_name(obj));
	int r = store_create(q->a->store, q->key, strlen(q->key), b.data, b.len, 0, create_stored, q);
	buf_free(&b);
	if (r < 0)
		req_fail_store(q, r, api_meta_name(obj));
}

/* What the server sets on every new object. */
static void prepare_create(struct req *q, json_t *obj)
{
	char uid[37], ts[API_TIME_LEN];
	json_t *meta = json_object_get(obj, "metadata");

	object_new_uid(uid);
	api_meta_set_uid(obj, uid);
	api_time_format((int64_t)(now_real_ns() / 1000000000u * 1000000000u), ts);
	api_set_str(obj, "metadata.creationTimestamp", ts);
	if (object_has_generation(q->res))
		api_meta_set_generation(obj, 1);
	else
		json_object_del(meta, "generation");
	json_object_del(meta, "resourceVersion");
	json_object_del(meta, "deletionTimestamp");
	json_object_del(meta, "deletionGracePeriodSeconds");
	json_object_del(meta, "selfLink");
	/* The status subresource is the controllers' to write. */
#ifdef HAVE_VALIDATE
	validate_prepare_create(q->res->kind, obj);
#else
	if (has_subresource(q->res, "status") && !streq(q->res->kind->kind, "Node"))
		json_object_del(obj, "status");
#endif
}

void rest_create(struct req *q)
{
	const struct sch_kind *k = q->res->kind;
	json_t *obj;

	if (q->r.subresource) {
		req_respond_status(q, api_status_method_not_supported(k->group, k->plural, "create"));
		return;
	}
	if (rest_decode_body(q, &obj) < 0)
		return;
	q->body = obj;
	if (!json_is_object(json_object_get(obj, "metadata")))
		json_object_set_new(obj, "metadata", json_object());
	const char *ns = api_meta_namespace(obj);
	if (k->namespaced) {
		if (ns && *ns && !streq(ns, q->r.namespace)) {
			req_respond_status(q, api_status_bad_request(
						      "the namespace of the provided object does not match "
						      "the namespace sent on the request"));
			return;
		}
		api_meta_set_namespace(obj, q->r.namespace);
	} else {
		json_object_del(json_object_get(obj, "metadata"), "namespace");
	}
	const char *name = api_meta_name(obj);
	if ((!name || !*name) && api_meta_generate_name(obj) && *api_meta_generate_name(obj))
		generate_name(obj);
	prepare_create(q, obj);
#ifdef HAVE_VALIDATE
	validate_default(k, obj);
#endif
#ifdef HAVE_PATCH
	_cleanup_free_ char *manager = req_manager(q);
	patch_record_update(k->type, NULL, obj, manager, NULL, (int64_t)now_real_ns());
#endif
	json_t *st = check(q, obj, NULL);
	if (st) {
		req_respond_status(q, st);
		return;
	}
	admission_create(q, obj, create_admitted);
}

/* The field manager: fieldManager, else the client's user agent. */
char *req_manager(const struct req *q)
{
#ifdef HAVE_PATCH
	return patch_manager_name(q->r.field_manager,
				  http_request_header(http_exchange_request(q->ex), "user-agent"));
#else
	return xstrdup(q->r.field_manager ? q->r.field_manager : "unknown");
#endif
}

/* --- update and patch: read, change, write guarded, retry --- */

enum change {
	CHANGE_REPLACE, /* PUT: the body is the new object */
	CHANGE_PATCH,
	CHANGE_DELETE_MARK, /* set deletionTimestamp */
	CHANGE_FINALIZE,    /* remove the object: its last finalizer went */
};

struct upd {
	struct req *q;
	int tries;
	int64_t expect_rv; /* the client's precondition, 0: none */
	char *patch_type;
	json_t *patch;
	char *manager; /* field manager of the request */
};

static void upd_read(struct upd *u);

static void upd_free(struct upd *u)
{
	free(u->manager);
	free(u->patch_type);
	json_decref(u->patch);
	free(u);
}

static void upd_written(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct upd *u = ud;
	struct req *q = u->q;

	if (err) {
		req_fail_store(q, err, q->r.name);
		upd_free(u);
		return;
	}
	if (!ok) {
		if (!cur) {
			req_fail_store(q, -ENOENT, q->r.name);
			upd_free(u);
			return;
		}
		/* Someone wrote in between: read again and redo the change. */
		if (++u->tries < WRITE_MAX_RETRIES && !u->expect_rv) {
			upd_read(u);
			return;
		}
		req_respond_status(q, api_status_conflict(q->res->kind->group, q->res->kind->plural,
							  q->r.name, NULL));
		upd_free(u);
		return;
	}
	json_t *obj = TAKE_PTR(q->body);
	object_set_rv(obj, rev);
	upd_free(u);
	req_respond_object(q, 200, obj);
}

static void finalized(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct upd *u = ud;
	struct req *q = u->q;

	if (err || !ok) {
		upd_written(ud, err, rev, ok, cur);
		return;
	}
	json_t *obj = TAKE_PTR(q->body);
	object_set_rv(obj, rev);
	upd_free(u);
	req_respond_object(q, 200, obj);
}

/* The parts of an object an update keeps from the stored one. */
static void carry_over(struct req *q, json_t *obj, const json_t *old)
{
	static const char *const kept[] = {"uid", "creationTimestamp", "deletionTimestamp",
					   "deletionGracePeriodSeconds", "generation", "selfLink"};
	json_t *meta = json_object_get(obj, "metadata");
	const json_t *ometa = json_object_get(old, "metadata");

	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	for (size_t i = 0; i < ARRAY_SIZE(kept); i++) {
		json_t *v = json_object_get(ometa, kept[i]);
		if (v)
			json_object_set(meta, kept[i], v);
		else
			json_object_del(meta, kept[i]);
	}
	if (q->res->kind->namespaced)
		json_object_set(meta, "namespace", json_object_get(ometa, "namespace"));
	bool status_sub = has_subresource(q->res, "status");
	if (q->r.subresource && streq(q->r.subresource, "status")) {
		/* Only status changes through /status. */
		json_t *st = json_incref(json_object_get(obj, "status"));
		json_t *m = json_incref(meta); /* clear drops obj's reference */
		json_object_clear(obj);
		json_object_update(obj, (json_t *)old);
		json_object_set_new(obj, "metadata", m);
		if (st)
			json_object_set_new(obj, "status", st);
		else
			json_object_del(obj, "status");
		return;
	}
	if (status_sub) {
		json_t *st = json_object_get(old, "status");
		if (st)
			json_object_set(obj, "status", st);
		else
			json_object_del(obj, "status");
	}
	/* A new generation when the desired state changed. */
	if (object_has_generation(q->res) &&
	    !json_equal(json_object_get(obj, "spec"), json_object_get(old, "spec"))) {
		int64_t g = 0;
		api_meta_generation(old, &g);
		api_meta_set_generation(obj, g + 1);
	}
}

static void upd_apply(struct upd *u, json_t *cur_obj, int64_t cur_rev)
{
	struct req *q = u->q;
	json_t *obj = NULL;

	if (u->patch) {
#ifdef HAVE_PATCH
		char *err = NULL;
		json_t *conflict = NULL;
		int r;
		const char *pt = u->patch_type;
		if (str_has_prefix(pt, "application/json-patch+json"))
			r = patch_json(cur_obj, u->patch, &obj, &err);
		else if (str_has_prefix(pt, "application/merge-patch+json"))
			r = patch_merge(cur_obj, u->patch, &obj, &err);
		else if (str_has_prefix(pt, "application/apply-patch"))
			r = patch_apply(q->res->kind->type, cur_obj, u->patch, u->manager,
					q->r.subresource, q->r.force, (int64_t)now_real_ns(), &obj,
					&conflict, &err);
		else
			r = patch_strategic(q->res->kind->type, cur_obj, u->patch, &obj, &err);
		if (r < 0) {
			json_decref(cur_obj);
			req_respond_status(q, conflict ? conflict : patch_error_status(r, err));
			free(err);
			upd_free(u);
			return;
		}
		free(err);
		if (!json_is_object(obj)) {
			json_decref(obj);
			json_decref(cur_obj);
			req_respond_status(q, api_status_bad_request("the patch did not produce an object"));
			upd_free(u);
			return;
		}
#else
		json_decref(cur_obj);
		req_respond_status(q, api_status_unsupported_media_type(NULL, 0));
		upd_free(u);
		return;
#endif
		/* A resourceVersion in the patch is a precondition. */
		int64_t want = object_rv(obj);
		if (want && want != cur_rev) {
			json_decref(obj);
			json_decref(cur_obj);
			req_respond_status(q, api_status_conflict(q->res->kind->group, q->res->kind->plural,
								  q->r.name, NULL));
			upd_free(u);
			return;
		}
	} else {
		obj = json_deep_copy(q->body);
	}
	carry_over(q, obj, cur_obj);
	req_set_type(q, obj);
#ifdef HAVE_VALIDATE
	if (!q->r.subresource)
		validate_prepare_update(q->res->kind, obj, cur_obj);
#endif
	if (!q->res->kind->namespaced)
		json_object_del(json_object_get(obj, "metadata"), "namespace");
	/* An unconditional update is checked as if it named the stored version. */
	if (!api_meta_resource_version(obj) || !*api_meta_resource_version(obj))
		object_set_rv(obj, cur_rev);
#ifdef HAVE_VALIDATE
	validate_default(q->res->kind, obj);
#endif
#ifdef HAVE_PATCH
	if (!u->patch_type || !str_has_prefix(u->patch_type, "application/apply-patch"))
		patch_record_update(q->res->kind->type, cur_obj, obj, u->manager, q->r.subresource,
				    (int64_t)now_real_ns());
#endif
	json_t *st = check(q, obj, cur_obj);
	if (st) {
		json_decref(obj);
		json_decref(cur_obj);
		req_respond_status(q, st);
		upd_free(u);
		return;
	}
	json_decref(q->body);
	q->body = obj;
	bool finalize = api_get(obj, "metadata.deletionTimestamp") &&
			!json_array_size(api_meta_finalizers(obj));
	json_decref(cur_obj);
	if (q->r.dry_run) {
		q->body = NULL;
		object_set_rv(obj, cur_rev);
		upd_free(u);
		req_respond_object(q, 200, obj);
		return;
	}
	int r;
	if (finalize) {
		r = store_delete(q->a->store, q->key, strlen(q->key), cur_rev, finalized, u);
	} else {
		struct buf b = {0};
		object_to_store(q->res, obj, &b);
		r = store_update(q->a->store, q->key, strlen(q->key), b.data, b.len, cur_rev, 0,
				 upd_written, u);
		buf_free(&b);
	}
	if (r < 0) {
		req_fail_store(q, r, q->r.name);
		upd_free(u);
	}
}

static void apply_create(struct upd *u);

static void upd_got(void *ud, int err, int64_t rev, const struct store_kv *kv)
{
	struct upd *u = ud;
	struct req *q = u->q;

	if (!err && !kv && u->patch_type && str_has_prefix(u->patch_type, "application/apply-patch")) {
		apply_create(u);
		return;
	}
	if (err || !kv) {
		req_fail_store(q, err ? err : -ENOENT, q->r.name);
		upd_free(u);
		return;
	}
	if (u->expect_rv && u->expect_rv != kv->mod_rev) {
		req_respond_status(q, api_status_conflict(q->res->kind->group, q->res->kind->plural,
							  q->r.name, NULL));
		upd_free(u);
		return;
	}
	json_t *cur = object_read(q->res, kv);
	if (!cur) {
		req_respond_status(q, api_status_internal_error("the stored object does not decode"));
		upd_free(u);
		return;
	}
	upd_apply(u, cur, kv->mod_rev);
}

static void upd_read(struct upd *u)
{
	struct req *q = u->q;
	int r = store_get(q->a->store, q->key, strlen(q->key), 0, upd_got, u);
	if (r < 0) {
		req_fail_store(q, r, q->r.name);
		upd_free(u);
	}
}

void rest_update(struct req *q)
{
	json_t *obj;

	if (q->r.subresource && !streq(q->r.subresource, "status")) {
		req_respond_status(q, api_status_method_not_supported(q->res->kind->group,
								      q->res->kind->plural, "update"));
		return;
	}
	if (rest_decode_body(q, &obj) < 0)
		return;
	q->body = obj;
	const char *name = api_meta_name(obj);
	if (!name || !streq(name, q->r.name)) {
		_cleanup_free_ char *msg = xasprintf("the name of the object (%s) does not match the "
						     "name on the URL (%s)", name ? name : "", q->r.name);
		req_respond_status(q, api_status_bad_request(msg));
		return;
	}
	struct upd *u = xnew(struct upd, 1);
	u->q = q;
	u->manager = req_manager(q);
	u->expect_rv = object_rv(obj);
	q->key = resource_key(q->res, q->r.namespace, q->r.name);
	upd_read(u);
}

void rest_patch(struct req *q)
{
	const struct http_request *hr = http_exchange_request(q->ex);
	const char *ctype = http_request_header(hr, "content-type");
	static const char *const patch_types[] = {
		"application/json-patch+json", "application/merge-patch+json",
		"application/strategic-merge-patch+json", "application/apply-patch+yaml"};
	bool known = false;

	for (size_t i = 0; ctype && i < ARRAY_SIZE(patch_types); i++)
		known |= str_has_prefix(ctype, patch_types[i]);
	if (!known) {
		req_respond_status(q, api_status_unsupported_media_type(patch_types,
									 ARRAY_SIZE(patch_types)));
		return;
	}
	json_t *patch = NULL;
	char *err = NULL;
	bool apply = str_has_prefix(ctype, "application/apply-patch");
	if (apply && (!q->r.field_manager || !*q->r.field_manager)) {
		struct api_field_errors errs = {0};
		api_field_required(&errs, "fieldManager", "is required for apply patch");
		req_respond_status(q, api_status_invalid("meta.k8s.io", "PatchOptions", "", &errs));
		api_field_errors_clear(&errs);
		return;
	}
	if (!apply && q->r.force) {
		struct api_field_errors errs = {0};
		api_field_forbidden(&errs, "force", "may not be specified for non-apply patch");
		req_respond_status(q, api_status_invalid("meta.k8s.io", "PatchOptions", "", &errs));
		api_field_errors_clear(&errs);
		return;
	}
	/* An apply body is YAML (JSON is YAML too, and read as JSON first). */
	int pr = api_json_parse(hr->body, hr->body_len, 0, &patch, &err);
	if (pr < 0 && apply) {
		free(err);
		err = NULL;
		pr = api_yaml_parse(hr->body, hr->body_len, &patch, &err);
	}
	if (pr < 0) {
		_cleanup_free_ char *msg = xasprintf("error decoding patch: %s", err ? err : "");
		free(err);
		req_respond_status(q, api_status_bad_request(msg));
		return;
	}
	struct upd *u = xnew(struct upd, 1);
	u->q = q;
	u->manager = req_manager(q);
	u->patch = patch;
	u->patch_type = xstrdup(ctype);
	q->key = resource_key(q->res, q->r.namespace, q->r.name);
	upd_read(u);
}

/* Server-side apply of an object that does not exist: a create. */
static void apply_create(struct upd *u)
{
	struct req *q = u->q;
	json_t *obj = NULL;
#ifdef HAVE_PATCH
	json_t *conflict = NULL;
	char *err = NULL;
	int r = patch_apply(q->res->kind->type, NULL, u->patch, u->manager, q->r.subresource,
			    q->r.force, (int64_t)now_real_ns(), &obj, &conflict, &err);
	if (r < 0) {
		req_respond_status(q, conflict ? conflict : patch_error_status(r, err));
		free(err);
		upd_free(u);
		return;
	}
	free(err);
#endif
	upd_free(u);
	if (!json_is_object(obj)) {
		json_decref(obj);
		req_respond_status(q, api_status_not_found(q->res->kind->group, q->res->kind->plural,
							   q->r.name));
		return;
	}
	const char *name = api_meta_name(obj);
	if (name && !streq(name, q->r.name)) {
		json_decref(obj);
		req_respond_status(q, api_status_bad_request(
					      "the name of the object does not match the name on the URL"));
		return;
	}
	api_meta_set_name(obj, q->r.name);
	req_set_type(q, obj);
	if (q->res->kind->namespaced)
		api_meta_set_namespace(obj, q->r.namespace);
	json_decref(q->body);
	q->body = obj;
	prepare_create(q, obj);
	json_t *st = check(q, obj, NULL);
	if (st) {
		req_respond_status(q, st);
		return;
	}
	admission_create(q, obj, create_admitted);
}
