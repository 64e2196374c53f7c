/* RFC 7386 JSON merge patch as Kubernetes applies it (evanphx/json-patch v4
 * MergePatch): nulls delete, objects merge, everything else replaces; nulls
 * inside a value that replaces are pruned from objects (not from arrays). */
#include "apiserver/patch/internal.h"

/* The value that takes key's place when doc holds cur there. */
static json_t *merge_value(json_t *cur, const json_t *patch);

static void merge_into(json_t *doc, const json_t *patch)
{
	const char *key;
	json_t *pv;

	json_object_foreach((json_t *)patch, key, pv) {
		json_t *cur = json_object_get(doc, key);
		if (json_is_null(pv)) {
			json_object_del(doc, key);
		} else if (!cur || json_is_null(cur)) {
			json_t *v = json_deep_copy(pv);
			api_json_drop_nulls(v);
			json_object_set_new(doc, key, v);
		} else {
			json_object_set_new(doc, key, merge_value(json_incref(cur), pv));
		}
	}
}

static json_t *merge_value(json_t *cur, const json_t *patch)
{
	json_t *v;

	if (!json_is_object(cur)) {
		json_decref(cur);
		v = json_deep_copy(patch);
		api_json_drop_nulls(v);
		return v;
	}
	if (!json_is_object(patch)) {
		/* v4 replaces an object by a non-object without pruning it */
		json_decref(cur);
		return json_deep_copy(patch);
	}
	merge_into(cur, patch);
	return cur;
}

int patch_merge(const json_t *doc, const json_t *patch, json_t **ret, char **errmsg)
{
	if (json_is_array(patch)) {
		json_t *v = json_deep_copy(patch);
		api_json_drop_nulls(v);
		*ret = v;
		return 0;
	}
	if (!json_is_object(patch))
		return patch_errf(errmsg, -EINVAL, "Invalid JSON Patch");
	if (!json_is_object(doc)) {
		json_t *v = json_deep_copy(patch);
		api_json_drop_nulls(v);
		*ret = v;
		return 0;
	}
	json_t *out = json_deep_copy(doc);
	merge_into(out, patch);
	*ret = out;
	return 0;
}
