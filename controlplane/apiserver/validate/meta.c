/* ObjectMeta rules every kind shares (ValidateObjectMeta and its update form). */
#include <stdio.h>

#include "apiserver/validate/internal.h"

static void check_name_field(enum name_rule r, const json_t *meta, const char *key,
			     bool prefix, struct api_field_errors *e)
{
	_cleanup_free_ char *p = vp_child("metadata", key);
	const char *s = js_str(meta, key);
	struct api_msgs m = {0};

	name_check(r, s, prefix, &m);
	err_msgs(e, p, s, &m);
	api_msgs_clear(&m);
}

#define OWNERS "metadata.ownerReferences"

static void check_owner_refs(const json_t *refs, struct api_field_errors *e)
{
	_cleanup_free_ char *first = NULL;

	for (size_t i = 0; json_is_array(refs) && i < json_array_size(refs); i++) {
		json_t *r = json_array_get(refs, i);
		const char *av = js_str(r, "apiVersion"), *kind = js_str(r, "kind");
		const char *slash = strchr(av, '/');
		const char *version = slash ? slash + 1 : av;

		/* An apiVersion with two slashes does not parse: no version at all. */
		if (slash && strchr(slash + 1, '/'))
			version = "";
		if (!*version)
			err_invalid_str(e, OWNERS ".apiVersion", av, "version must not be empty");
		if (!*kind)
			err_invalid_str(e, OWNERS ".kind", kind, "kind must not be empty");
		if (!*js_str(r, "name"))
			err_invalid_str(e, OWNERS ".name", "", "name must not be empty");
		if (!*js_str(r, "uid"))
			err_invalid_str(e, OWNERS ".uid", "", "uid must not be empty");
		if (streq(av, "v1") && streq(kind, "Event"))
			err_invalid_json(e, OWNERS, r, "/v1, Kind=Event is disallowed from being an owner");
		if (js_bool(r, "controller")) {
			_cleanup_free_ char *cur = xasprintf("%s/%s", kind, js_str(r, "name"));

			if (first) {
				_cleanup_free_ char *d = xasprintf(
					"Only one reference can have Controller set to true. Found "
					"\"true\" in references for %s and %s", first, cur);
				err_invalid_json(e, OWNERS, refs, d);
			} else {
				first = TAKE_PTR(cur);
			}
		}
	}
}

static void check_finalizers(const json_t *fin, struct api_field_errors *e)
{
	bool orphan = false, foreground = false;

	for (size_t i = 0; json_is_array(fin) && i < json_array_size(fin); i++) {
		json_t *v = json_array_get(fin, i);
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		struct api_msgs m = {0};

		api_is_qualified_name(s, &m);
		err_msgs(e, "metadata.finalizers", s, &m);
		api_msgs_clear(&m);
		orphan |= streq(s, "orphan");
		foreground |= streq(s, "foregroundDeletion");
	}
	if (orphan && foreground)
		err_invalid_json(e, "metadata.finalizers", fin,
				 "finalizer orphan and foregroundDeletion cannot be both set");
}

/* Built-in kinds also refuse a finalizer without a domain unless it is a standard one. */
static void check_kube_finalizers(const json_t *fin, struct api_field_errors *e)
{
	static const char *const standard[] = {"kubernetes", "orphan", "foregroundDeletion", NULL};

	for (size_t i = 0; json_is_array(fin) && i < json_array_size(fin); i++) {
		json_t *v = json_array_get(fin, i);
		const char *s = json_is_string(v) ? json_string_value(v) : "";

		if (!strchr(s, '/') && !str_in(s, standard)) {
			_cleanup_free_ char *p = vp_index("metadata.finalizers", i);
			err_invalid_str(e, p, s, "name is neither a standard finalizer name nor is it "
						 "fully qualified");
		}
	}
}

static void check_managed_fields(const json_t *mf, struct api_field_errors *e)
{
	for (size_t i = 0; json_is_array(mf) && i < json_array_size(mf); i++) {
		json_t *m = json_array_get(mf, i);
		_cleanup_free_ char *p = vp_index("metadata.managedFields", i);
		_cleanup_free_ char *op = vp_child(p, "operation");
		_cleanup_free_ char *ft = vp_child(p, "fieldsType");
		_cleanup_free_ char *mg = vp_child(p, "manager");
		_cleanup_free_ char *sr = vp_child(p, "subresource");
		const char *operation = js_str(m, "operation");

		if (!streq(operation, "Apply") && !streq(operation, "Update"))
			err_invalid_str(e, op, operation, "must be `Apply` or `Update`");
		if (*js_str(m, "fieldsType") && !streq(js_str(m, "fieldsType"), "FieldsV1"))
			err_invalid_str(e, ft, js_str(m, "fieldsType"), "must be `FieldsV1`");
		if (strlen(js_str(m, "manager")) > 128)
			err_too_long(e, mg, 128);
		if (strlen(js_str(m, "subresource")) > 256)
			err_too_long(e, sr, 256);
	}
}

/* The create-time rules (ValidateObjectMetaAccessor). */
static void meta_create(const struct sch_kind *k, enum name_rule rule, const json_t *obj,
			struct api_field_errors *e)
{
	json_t *meta = js_obj(obj, "metadata");
	const char *ns = js_str(meta, "namespace");

	if (*js_str(meta, "generateName"))
		check_name_field(rule, meta, "generateName", true, e);
	if (!*js_str(meta, "name"))
		err_required(e, "metadata.name", "name or generateName is required");
	else
		check_name_field(rule, meta, "name", false, e);
	if (k->namespaced) {
		if (!*ns) {
			err_required(e, "metadata.namespace", NULL);
		} else {
			struct api_msgs m = {0};

			api_is_dns1123_label(ns, &m);
			err_msgs(e, "metadata.namespace", ns, &m);
			api_msgs_clear(&m);
		}
	} else if (*ns) {
		err_forbidden(e, "metadata.namespace", "not allowed on this type");
	}
	check_nonnegative(js_int(meta, "generation", 0), "metadata.generation", e);
	check_labels(js_obj(meta, "labels"), "metadata.labels", e);
	check_annotations(js_obj(meta, "annotations"), "metadata.annotations", e);
	check_owner_refs(js_arr(meta, "ownerReferences"), e);
	check_finalizers(js_arr(meta, "finalizers"), e);
	check_managed_fields(js_arr(meta, "managedFields"), e);
	check_kube_finalizers(js_arr(meta, "finalizers"), e);
}

static bool has_str(const json_t *arr, const char *s)
{
	for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr); i++)
		if (json_is_string(json_array_get(arr, i)) &&
		    streq(json_string_value(json_array_get(arr, i)), s))
			return true;
	return false;
}

/* The update-time rules (ValidateObjectMetaAccessorUpdate). The pipeline has already done
 * what BeforeUpdate does (resourceVersion for unconditional updates, generation, uid and
 * timestamps carried over when the client left them out). */
static void meta_update(const json_t *obj, const json_t *old, struct api_field_errors *e)
{
	json_t *nm = js_obj(obj, "metadata"), *om = js_obj(old, "metadata");
	static const char *const same[] = {"name", "namespace", NULL};
	static const char *const kept[] = {"uid", "creationTimestamp", NULL};
	static const char *const once[] = {"deletionTimestamp", "deletionGracePeriodSeconds", NULL};

	if (js_has(om, "deletionTimestamp")) {
		json_t *nf = js_arr(nm, "finalizers"), *of = js_arr(om, "finalizers");
		struct buf b = {0};
		size_t added = 0;

		/* sets.String.List(): sorted, as Go's %#v prints []string. */
		json_t *extra = json_array();
		for (size_t i = 0; nf && i < json_array_size(nf); i++) {
			json_t *v = json_array_get(nf, i);
			if (json_is_string(v) && !has_str(of, json_string_value(v)) &&
			    !has_str(extra, json_string_value(v)))
				json_array_append(extra, v);
		}
		added = json_array_size(extra);
		if (added) {
			const char **names = xnew(const char *, added);
			for (size_t i = 0; i < added; i++)
				names[i] = json_string_value(json_array_get(extra, i));
			for (size_t i = 1; i < added; i++)
				for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
					const char *t = names[j];
					names[j] = names[j - 1];
					names[j - 1] = t;
				}
			buf_puts(&b, "no new finalizers can be added if the object is being deleted, "
				     "found new finalizers []string{");
			for (size_t i = 0; i < added; i++) {
				if (i)
					buf_puts(&b, ", ");
				go_quote_buf(&b, names[i]);
			}
			buf_putc(&b, '}');
			err_forbidden(e, "metadata.finalizers", b.data);
			free(names);
			buf_free(&b);
		}
		json_decref(extra);
	}
	for (size_t i = 0; same[i]; i++) {
		if (!streq(js_str(nm, same[i]), js_str(om, same[i]))) {
			_cleanup_free_ char *p = vp_child("metadata", same[i]);
			err_invalid_str(e, p, js_str(nm, same[i]), "field is immutable");
		}
	}
	for (size_t i = 0; kept[i]; i++) {
		json_t *nv = nm ? json_object_get(nm, kept[i]) : NULL;
		if (!js_is_zero(nv) && !js_equal(nv, om ? json_object_get(om, kept[i]) : NULL)) {
			_cleanup_free_ char *p = vp_child("metadata", kept[i]);
			err_immutable(e, p, nv);
		}
	}
	for (size_t i = 0; once[i]; i++) {
		json_t *nv = nm ? json_object_get(nm, once[i]) : NULL;
		if (!js_is_zero(nv) && js_is_zero(om ? json_object_get(om, once[i]) : NULL)) {
			_cleanup_free_ char *p = vp_child("metadata", once[i]);
			err_immutable(e, p, nv);
		}
	}
	check_labels(js_obj(nm, "labels"), "metadata.labels", e);
	check_annotations(js_obj(nm, "annotations"), "metadata.annotations", e);
	check_owner_refs(js_arr(nm, "ownerReferences"), e);
	check_managed_fields(js_arr(nm, "managedFields"), e);
	check_kube_finalizers(js_arr(nm, "finalizers"), e);
}

void validate_object_meta(const struct sch_kind *k, const json_t *obj, const json_t *old,
			  struct api_field_errors *e)
{
	const struct kind_rules *r = kind_rules_find(k->group, k->kind);

	meta_create(k, r ? r->name : NAME_DNS_SUBDOMAIN, obj, e);
	if (old)
		meta_update(obj, old, e);
}
