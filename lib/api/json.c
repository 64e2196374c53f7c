/* Dotted-path accessors over json_t and the TypeMeta/ObjectMeta helpers. */
#include "api/internal.h"

/* The next key of a dotted path into key (unescaping "\."); false at the end. -EINVAL via
 * *bad for an empty key ("a..b", "", "a."). */
static bool path_next(const char **p, struct buf *key, bool *bad)
{
	const char *s = *p;

	if (!s)
		return false;
	buf_clear(key);
	for (; *s && *s != '.'; s++) {
		if (s[0] == '\\' && s[1] == '.')
			s++;
		buf_putc(key, *s);
	}
	if (key->len == 0)
		*bad = true;
	*p = *s ? s + 1 : NULL;
	return true;
}

json_t *api_get(const json_t *obj, const char *path)
{
	struct buf key = {0};
	const json_t *cur = obj;
	bool bad = false;

	while (cur && path_next(&path, &key, &bad)) {
		if (bad || !json_is_object(cur)) {
			cur = NULL;
			break;
		}
		cur = json_object_getn(cur, key.data, key.len);
	}
	buf_free(&key);
	if (json_is_null(cur))
		return NULL;
	return (json_t *)cur;
}

const char *api_get_str(const json_t *obj, const char *path)
{
	return json_string_value(api_get(obj, path));
}

json_t *api_get_object(const json_t *obj, const char *path)
{
	json_t *v = api_get(obj, path);
	return json_is_object(v) ? v : NULL;
}

json_t *api_get_array(const json_t *obj, const char *path)
{
	json_t *v = api_get(obj, path);
	return json_is_array(v) ? v : NULL;
}

int api_get_int(const json_t *obj, const char *path, int64_t *ret)
{
	json_t *v = api_get(obj, path);

	if (!v)
		return -ENOENT;
	if (!json_is_integer(v))
		return -EINVAL;
	*ret = (int64_t)json_integer_value(v);
	return 0;
}

int api_get_bool(const json_t *obj, const char *path, bool *ret)
{
	json_t *v = api_get(obj, path);

	if (!v)
		return -ENOENT;
	if (!json_is_boolean(v))
		return -EINVAL;
	*ret = json_is_true(v);
	return 0;
}

int api_set(json_t *obj, const char *path, json_t *value)
{
	struct buf key = {0};
	json_t *cur = obj;
	bool bad = false;
	int r = 0;

	if (!value)
		return -EINVAL;
	/* Check the whole path first so a bad one changes nothing. */
	for (const char *p = path; path_next(&p, &key, &bad) && !bad;)
		;
	if (bad || !path) {
		json_decref(value);
		buf_free(&key);
		return -EINVAL;
	}
	if (!json_is_object(obj)) {
		json_decref(value);
		buf_free(&key);
		return -ENOTDIR;
	}
	for (;;) {
		if (!path_next(&path, &key, &bad) || bad) {
			r = -EINVAL;
			break;
		}
		if (!path) {
			if (json_object_setn_new(cur, key.data, key.len, value) < 0)
				r = -EINVAL;
			value = NULL;
			break;
		}
		json_t *next = json_object_getn(cur, key.data, key.len);
		if (!next || json_is_null(next)) {
			next = json_object();
			if (json_object_setn_new(cur, key.data, key.len, next) < 0) {
				r = -EINVAL;
				break;
			}
		} else if (!json_is_object(next)) {
			r = -ENOTDIR;
			break;
		}
		cur = next;
	}
	json_decref(value);
	buf_free(&key);
	return r;
}

int api_set_str(json_t *obj, const char *path, const char *s)
{
	return api_set(obj, path, json_string(s));
}

int api_set_int(json_t *obj, const char *path, int64_t v)
{
	return api_set(obj, path, json_integer((json_int_t)v));
}

int api_set_bool(json_t *obj, const char *path, bool v)
{
	return api_set(obj, path, json_boolean(v));
}

int api_del(json_t *obj, const char *path)
{
	struct buf key = {0};
	json_t *cur = obj;
	bool bad = false;
	int r = -ENOENT;

	while (path_next(&path, &key, &bad) && !bad && json_is_object(cur)) {
		if (!path) {
			r = json_object_deln(cur, key.data, key.len) == 0 ? 0 : -ENOENT;
			break;
		}
		cur = json_object_getn(cur, key.data, key.len);
	}
	buf_free(&key);
	return bad ? -EINVAL : r;
}

json_t *api_json_string_lossy(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s);
	struct buf b = {0};
	json_t *j;

	size_t start = 0;

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t w = utf8_len(u + i, n - i, &cp);

		if (w == 0) {
			buf_append(&b, s + start, i - start);
			buf_puts(&b, "\xEF\xBF\xBD");
			start = ++i;
		} else {
			i += w;
		}
	}
	if (start == 0) { /* all valid: no copy */
		j = json_stringn(s, n);
	} else {
		buf_append(&b, s + start, n - start);
		j = json_stringn(b.data, b.len);
	}
	buf_free(&b);
	if (!j)
		base_oom();
	return j;
}

/* ---- TypeMeta / ObjectMeta ---- */

const char *api_obj_api_version(const json_t *o) { return api_get_str(o, "apiVersion"); }
const char *api_obj_kind(const json_t *o) { return api_get_str(o, "kind"); }
const char *api_meta_name(const json_t *o) { return api_get_str(o, "metadata.name"); }
const char *api_meta_namespace(const json_t *o) { return api_get_str(o, "metadata.namespace"); }
const char *api_meta_uid(const json_t *o) { return api_get_str(o, "metadata.uid"); }

const char *api_meta_generate_name(const json_t *o)
{
	return api_get_str(o, "metadata.generateName");
}

const char *api_meta_resource_version(const json_t *o)
{
	return api_get_str(o, "metadata.resourceVersion");
}

int api_meta_generation(const json_t *o, int64_t *ret)
{
	return api_get_int(o, "metadata.generation", ret);
}

static int meta_time(const json_t *o, const char *path, int64_t *ret_ns)
{
	json_t *v = api_get(o, path);
	int64_t ns;
	int r;

	if (!v)
		return -ENOENT;
	r = api_time_from_json(v, &ns, NULL);
	if (r < 0)
		return -EINVAL;
	*ret_ns = ns;
	return 0;
}

int api_meta_creation_timestamp(const json_t *o, int64_t *ret_ns)
{
	return meta_time(o, "metadata.creationTimestamp", ret_ns);
}

int api_meta_deletion_timestamp(const json_t *o, int64_t *ret_ns)
{
	return meta_time(o, "metadata.deletionTimestamp", ret_ns);
}

int api_meta_set_name(json_t *o, const char *name)
{
	return api_set_str(o, "metadata.name", name);
}

int api_meta_set_namespace(json_t *o, const char *ns)
{
	return api_set_str(o, "metadata.namespace", ns);
}

int api_meta_set_uid(json_t *o, const char *uid)
{
	return api_set_str(o, "metadata.uid", uid);
}

int api_meta_set_resource_version(json_t *o, const char *rv)
{
	return api_set_str(o, "metadata.resourceVersion", rv);
}

int api_meta_set_generation(json_t *o, int64_t generation)
{
	return api_set_int(o, "metadata.generation", generation);
}

int api_meta_set_creation_timestamp(json_t *o, int64_t ns)
{
	return api_set(o, "metadata.creationTimestamp", api_time_to_json(ns));
}

int api_meta_set_deletion_timestamp(json_t *o, int64_t ns)
{
	return api_set(o, "metadata.deletionTimestamp", api_time_to_json(ns));
}

json_t *api_meta_labels(const json_t *o) { return api_get_object(o, "metadata.labels"); }

json_t *api_meta_annotations(const json_t *o)
{
	return api_get_object(o, "metadata.annotations");
}

const char *api_meta_label(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(api_meta_labels(o), key));
}

const char *api_meta_annotation(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(api_meta_annotations(o), key));
}

/* The object at path, created when absent or null. */
static json_t *ensure_object(json_t *o, const char *path, int *ret_err)
{
	json_t *m = api_get(o, path);

	if (m) {
		if (!json_is_object(m)) {
			*ret_err = -ENOTDIR;
			return NULL;
		}
		return m;
	}
	*ret_err = api_set(o, path, json_object());
	return *ret_err < 0 ? NULL : api_get(o, path);
}

static int set_in_map(json_t *o, const char *path, const char *key, const char *value)
{
	int r;
	json_t *m = ensure_object(o, path, &r);

	if (!m)
		return r;
	return json_object_set_new(m, key, json_string(value)) < 0 ? -EINVAL : 0;
}

int api_meta_set_label(json_t *o, const char *key, const char *value)
{
	return set_in_map(o, "metadata.labels", key, value);
}

int api_meta_set_annotation(json_t *o, const char *key, const char *value)
{
	return set_in_map(o, "metadata.annotations", key, value);
}

json_t *api_meta_finalizers(const json_t *o) { return api_get_array(o, "metadata.finalizers"); }

bool api_meta_has_finalizer(const json_t *o, const char *f)
{
	json_t *a = api_meta_finalizers(o), *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_string(v) && streq(json_string_value(v), f))
			return true;
	return false;
}

int api_meta_add_finalizer(json_t *o, const char *f)
{
	json_t *a;
	int r;

	if (api_meta_has_finalizer(o, f))
		return 0;
	a = api_meta_finalizers(o);
	if (!a) {
		r = api_set(o, "metadata.finalizers", json_array());
		if (r < 0)
			return r;
		a = api_meta_finalizers(o);
	}
	return json_array_append_new(a, json_string(f)) < 0 ? -EINVAL : 1;
}

int api_meta_remove_finalizer(json_t *o, const char *f)
{
	json_t *a = api_meta_finalizers(o);
	bool removed = false;

	for (size_t i = 0; a && i < json_array_size(a);) {
		json_t *v = json_array_get(a, i);

		if (json_is_string(v) && streq(json_string_value(v), f)) {
			json_array_remove(a, i);
			removed = true;
		} else {
			i++;
		}
	}
	/* The field is omitempty: an empty list is not serialised by Kubernetes either. */
	if (a && json_array_size(a) == 0)
		api_del(o, "metadata.finalizers");
	return removed ? 1 : 0;
}

json_t *api_meta_owner_references(const json_t *o)
{
	return api_get_array(o, "metadata.ownerReferences");
}

json_t *api_meta_controller_ref(const json_t *o)
{
	json_t *a = api_meta_owner_references(o), *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_true(json_object_get(v, "controller")))
			return v;
	return NULL;
}

const char *api_json_type_word(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	case JSON_NULL:
		break;
	}
	return "null";
}

void api_json_drop_nulls(json_t *v)
{
	const char *key;
	json_t *x;
	void *tmp;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach_safe(v, tmp, key, x) {
			if (json_is_null(x))
				json_object_del(v, key);
			else
				api_json_drop_nulls(x);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			api_json_drop_nulls(x);
	}
}
