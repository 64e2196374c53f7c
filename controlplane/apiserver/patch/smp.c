/* Strategic merge patch, the server side of it
 * (k8s.io/apimachinery/pkg/util/strategicpatch StrategicMergeMapPatch): maps
 * merge, null deletes, lists merge by the schema's merge key or are
 * replaced, and the $patch, $retainKeys, $setElementOrder and
 * $deleteFromPrimitiveList directives steer it. Errors carry Kubernetes'
 * wording; which of them are 400, 422 or 500 follows the API server's
 * interpretStrategicMergePatchError. */
#include "apiserver/patch/internal.h"

#define DIRECTIVE "$patch"
#define RETAIN_KEYS "$retainKeys"
#define DELETE_PREFIX "$deleteFromPrimitiveList"
#define ORDER_PREFIX "$setElementOrder"

int smp_err_no_merge_key(char **errmsg, const json_t *m, const char *key)
{
	struct buf b = {0};

	go_v(&b, m);
	patch_errf(errmsg, -EPROTO, "map: %s does not contain declared merge key: %s",
		   b.data ? b.data : "", key);
	buf_free(&b);
	return -EPROTO;
}

int smp_err_bad_arg_type(char **errmsg, const char *expected, const json_t *actual)
{
	return patch_errf(errmsg, -EPROTO, "expected a %s, but received a %s", expected,
			  go_type(actual));
}

json_t *smp_remove_directives(json_t *v)
{
	const char *key;
	json_t *x;
	void *tmp;
	size_t i;

	if (json_is_object(v)) {
		if (json_object_get(v, DIRECTIVE)) {
			json_decref(v);
			return NULL;
		}
		json_object_foreach_safe(v, tmp, key, x) {
			json_t *kept = smp_remove_directives(json_incref(x));
			if (kept)
				json_object_set_new(v, key, kept);
			else
				json_object_del(v, key);
		}
	} else if (json_is_array(v)) {
		json_t *out = json_array();
		json_array_foreach(v, i, x) {
			json_t *kept = smp_remove_directives(json_incref(x));
			if (kept)
				json_array_append_new(out, kept);
		}
		json_decref(v);
		return out;
	}
	return v;
}

/* "$setElementOrder/containers" -> "containers"; NULL when malformed. */
static const char *directive_key(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	if (strncmp(key, prefix, n) != 0 || key[n] != '/')
		return NULL;
	return key + n + 1;
}

/* $patch on a map: replace keeps the patch as it is, delete empties it. */
static int map_directive(json_t *orig, json_t *patch, json_t **ret, char **errmsg)
{
	json_t *d = json_object_get(patch, DIRECTIVE);
	const char *s = json_string_value(d);

	if (s && streq(s, "replace")) {
		json_object_del(patch, DIRECTIVE);
		json_decref(orig);
		*ret = patch;
		return 0;
	}
	if (s && streq(s, "delete")) {
		json_decref(orig);
		json_decref(patch);
		*ret = json_object();
		return 0;
	}
	struct buf b = {0}, m = {0};
	go_s(&b, d);
	go_v(&m, patch);
	patch_errf(errmsg, -EPROTO, "unknown patch type: %s in map: %s", b.data, m.data);
	buf_free(&b);
	buf_free(&m);
	json_decref(orig);
	json_decref(patch);
	return -EPROTO;
}

/* $retainKeys: drop the keys of orig the list does not name; every key the
 * patch sets must be named. */
static int retain_keys(json_t *orig, json_t *patch, char **errmsg)
{
	json_t *list = json_object_get(patch, RETAIN_KEYS), *x;
	const char *key;
	void *tmp;

	if (!list)
		return 0;
	json_incref(list);
	json_object_del(patch, RETAIN_KEYS);
	int r = 0;
	if (!json_is_array(list)) {
		r = patch_errf(errmsg, -EINVAL, "invalid patch format of retainKeys");
		goto out;
	}
	json_object_foreach(patch, key, x) {
		if (json_is_null(x) || str_has_prefix(key, DELETE_PREFIX) ||
		    str_has_prefix(key, ORDER_PREFIX))
			continue;
		bool named = false;
		size_t i;
		json_t *k;
		json_array_foreach(list, i, k)
			named |= json_is_string(k) && streq(json_string_value(k), key);
		if (!named) {
			r = patch_errf(errmsg, -EINVAL, "invalid patch format of retainKeys");
			goto out;
		}
	}
	json_object_foreach_safe(orig, tmp, key, x) {
		bool named = false;
		size_t i;
		json_t *k;
		json_array_foreach(list, i, k)
			named |= json_is_string(k) && streq(json_string_value(k), key);
		if (!named)
			json_object_del(orig, key);
	}
out:
	json_decref(list);
	return r;
}

/* Go's types of decoded JSON: int64 and float64 differ, as do maps, slices... */
static bool same_go_type(const json_t *a, const json_t *b)
{
	if (json_is_boolean(a) && json_is_boolean(b))
		return true;
	return json_typeof(a) == json_typeof(b);
}

/* One key of the patch into orig. */
static int merge_key(json_t *orig, const char *key, json_t *pv, struct sty s, char **errmsg)
{
	bool is_delete = false;
	int r;

	if (str_has_prefix(key, DELETE_PREFIX)) {
		key = directive_key(key, DELETE_PREFIX);
		if (!key)
			return patch_errf(errmsg, -EINVAL,
					  "invalid patch format of primitive list");
		is_delete = true;
	}
	if (json_is_null(pv)) {
		json_object_del(orig, key);
		return 0;
	}
	json_t *ov = json_object_get(orig, key);
	if (!ov || !same_go_type(ov, pv)) {
		if (is_delete)
			return 0;
		json_t *v = json_deep_copy(pv);
		api_json_drop_nulls(v);
		v = smp_remove_directives(v);
		if (v)
			json_object_set_new(orig, key, v);
		else
			json_object_del(orig, key);
		return 0;
	}

	const struct sch_field *f;
	struct sty cs = sty_child(s, key, &f);
	uint16_t strat = f ? f->flags : 0;
	json_t *out;
	if (json_is_object(ov)) {
		if (strat & SCH_F_STRAT_REPLACE) {
			json_object_set(orig, key, pv);
			return 0;
		}
		r = smp_merge_map(json_incref(ov), json_incref(pv), cs, &out, errmsg);
	} else if (json_is_array(ov)) {
		r = smp_merge_list(ov, pv, f && f->container == SCH_LIST ? f : NULL, is_delete,
				   &out, errmsg);
	} else {
		out = json_deep_copy(pv);
		r = 0;
	}
	if (r < 0)
		return r;
	json_object_set_new(orig, key, out);
	return 0;
}

int smp_merge_map(json_t *orig, json_t *patch, struct sty s, json_t **ret, char **errmsg)
{
	const char *key;
	json_t *pv;
	int r;

	if (json_object_get(patch, DIRECTIVE))
		return map_directive(orig, patch, ret, errmsg);
	r = retain_keys(orig, patch, errmsg);
	if (r >= 0)
		r = smp_element_order(orig, patch, s, errmsg);
	if (r < 0)
		goto fail;
	json_object_foreach(patch, key, pv) {
		r = merge_key(orig, key, pv, s, errmsg);
		if (r < 0)
			goto fail;
	}
	json_decref(patch);
	*ret = orig;
	return 0;
fail:
	json_decref(orig);
	json_decref(patch);
	return r;
}

int patch_strategic(const struct sch_type *t, const json_t *doc, const json_t *patch, json_t **ret,
		    char **errmsg)
{
	if (json_is_null(patch)) {
		*ret = json_deep_copy(doc);
		return 0;
	}
	if (!json_is_object(patch))
		return patch_errf(errmsg, -EINVAL,
				  "json: cannot unmarshal %s into Go value of type "
				  "map[string]interface {}",
				  api_json_type_word(patch));
	if (!json_is_object(doc))
		return patch_errf(errmsg, -EINVAL, "invalid JSON document");
	return smp_merge_map(json_deep_copy(doc), json_deep_copy(patch), sty_of_type(t), ret,
			     errmsg);
}
