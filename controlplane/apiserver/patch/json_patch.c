/* RFC 6902 JSON patch as Kubernetes applies it (gopkg.in/evanphx/json-patch.v4):
 * the behaviour to match includes that engine's leniencies, since clients
 * rely on them (negative array indices, replace adding a missing member, the
 * text before a path's first '/' being ignored). */
#include <limits.h>

#include "apiserver/patch/internal.h"

/* strconv.Atoi: an optional sign and decimal digits that fit. */
static bool go_atoi(const char *s, int64_t *ret)
{
	bool neg = false;
	uint64_t v = 0;

	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v > (uint64_t)INT64_MAX + neg)
		return false;
	*ret = neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

/* ~1 is '/', ~0 is '~' (RFC 6901), read left to right. */
static char *decode_key(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '~' && i + 1 < n && (s[i + 1] == '0' || s[i + 1] == '1')) {
			*o++ = s[i + 1] == '1' ? '/' : '~';
			i++;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* An index into an array of length len for reading (get, set, remove). */
static bool array_index(const char *key, size_t len, size_t *ret)
{
	int64_t i;

	if (!go_atoi(key, &i))
		return false;
	if (i < 0) {
		if (i < -(int64_t)len)
			return false;
		i += (int64_t)len;
	}
	if ((uint64_t)i >= len)
		return false;
	*ret = (size_t)i;
	return true;
}

/* The container holding the last element of path and that element's key
 * (findObject): NULL when some step on the way is missing or a scalar. */
static json_t *find_parent(json_t *root, const char *path, char **ret_key)
{
	const char *slash = strchr(path, '/');
	json_t *cur = root;

	if (!slash)
		return NULL;
	const char *p = slash + 1;
	for (const char *next; (next = strchr(p, '/')); p = next + 1) {
		_cleanup_free_ char *part = decode_key(p, (size_t)(next - p));
		json_t *child = NULL;
		size_t idx;
		if (json_is_object(cur))
			child = json_object_get(cur, part);
		else if (json_is_array(cur) && array_index(part, json_array_size(cur), &idx))
			child = json_array_get(cur, idx);
		if (!json_is_object(child) && !json_is_array(child))
			return NULL;
		cur = child;
	}
	*ret_key = decode_key(p, strlen(p));
	return cur;
}

/* Add (or, for objects, set) val at key; val is stolen. */
static int container_add(json_t *c, const char *key, json_t *val, const char *path, char **errmsg)
{
	if (json_is_object(c)) {
		json_object_set_new(c, key, val);
		return 0;
	}
	size_t len = json_array_size(c);
	int64_t i;
	if (streq(key, "-")) {
		json_array_append_new(c, val);
		return 0;
	}
	if (!go_atoi(key, &i)) {
		json_decref(val);
		return patch_errf(
			errmsg, -EDOM,
			"error in add for path: '%s': value was not a proper array index: "
			"'%s': strconv.Atoi: parsing \"%s\": invalid syntax",
			path, key, key);
	}
	if (i < 0 && i >= -(int64_t)(len + 1))
		i += (int64_t)(len + 1);
	if (i < 0 || (uint64_t)i > len) {
		json_decref(val);
		return patch_errf(
			errmsg, -EDOM,
			"error in add for path: '%s': Unable to access invalid index: %s: "
			"invalid index referenced",
			path, key);
	}
	json_array_insert_new(c, (size_t)i, val);
	return 0;
}

/* The value at key: 0 and *ret (NULL: an object without that member),
 * -EDOM for a bad array index. */
static int container_get(json_t *c, const char *key, json_t **ret)
{
	size_t idx;

	if (json_is_object(c)) {
		*ret = json_object_get(c, key);
		return 0;
	}
	if (!array_index(key, json_array_size(c), &idx))
		return -EDOM;
	*ret = json_array_get(c, idx);
	return 0;
}

static int container_remove(json_t *c, const char *key)
{
	size_t idx;

	if (json_is_object(c))
		return json_object_del(c, key) == 0 ? 0 : -EDOM;
	if (!array_index(key, json_array_size(c), &idx))
		return -EDOM;
	json_array_remove(c, idx);
	return 0;
}

/* A string member of op; NULL when absent, null or not a string. */
static const char *op_str(const json_t *op, const char *name)
{
	return json_string_value(json_object_get(op, name));
}

/* The op's value, new reference; null when the member is absent (a missing
 * value adds null). */
static json_t *op_value(const json_t *op)
{
	json_t *v = json_object_get(op, "value");
	return v ? json_deep_copy(v) : json_null();
}

static int op_add(json_t *root, const json_t *op, char **errmsg)
{
	const char *path = op_str(op, "path");
	_cleanup_free_ char *key = NULL;

	if (!path)
		return patch_errf(errmsg, -EDOM,
				  "add operation failed to decode path: missing value");
	json_t *c = find_parent(root, path, &key);
	if (!c)
		return patch_errf(
			errmsg, -EDOM,
			"add operation does not apply: doc is missing path: \"%s\": missing value",
			path);
	return container_add(c, key, op_value(op), path, errmsg);
}

static int op_remove(json_t *root, const json_t *op, char **errmsg)
{
	const char *path = op_str(op, "path");
	_cleanup_free_ char *key = NULL;

	if (!path)
		return patch_errf(errmsg, -EDOM,
				  "remove operation failed to decode path: missing value");
	json_t *c = find_parent(root, path, &key);
	if (!c)
		return patch_errf(errmsg, -EDOM,
				  "remove operation does not apply: doc is missing path: \"%s\": "
				  "missing value",
				  path);
	if (container_remove(c, key) < 0) {
		if (json_is_array(c))
			return patch_errf(errmsg, -EDOM,
					  "error in remove for path: '%s': Unable to "
					  "access invalid index: %s: invalid index referenced",
					  path, key);
		return patch_errf(errmsg, -EDOM,
				  "error in remove for path: '%s': Unable to remove "
				  "nonexistent key: %s: missing value",
				  path, key);
	}
	return 0;
}

static int op_replace(json_t **root, const json_t *op, char **errmsg)
{
	const char *path = op_str(op, "path");
	_cleanup_free_ char *key = NULL;
	json_t *cur;

	if (!path)
		return patch_errf(errmsg, -EDOM,
				  "replace operation failed to decode path: "
				  "operation missing path field: missing value");
	if (!*path) {
		json_t *v = json_object_get(op, "value");
		if (!json_is_object(v) && !json_is_array(v))
			return patch_errf(errmsg, -EDOM,
					  "replace operation value must be object or array");
		json_decref(*root);
		*root = json_deep_copy(v);
		return 0;
	}
	json_t *c = find_parent(*root, path, &key);
	if (!c)
		return patch_errf(errmsg, -EDOM,
				  "replace operation does not apply: doc is missing "
				  "path: %s: missing value",
				  path);
	if (container_get(c, key, &cur) < 0)
		return patch_errf(errmsg, -EDOM,
				  "replace operation does not apply: doc is missing "
				  "key: %s: missing value",
				  path);
	/* An object member that is not there is simply set, as v4 does. */
	if (json_is_object(c)) {
		json_object_set_new(c, key, op_value(op));
	} else {
		size_t idx = 0;
		array_index(key, json_array_size(c), &idx);
		json_array_set_new(c, idx, op_value(op));
	}
	return 0;
}

static int op_move(json_t *root, const json_t *op, char **errmsg)
{
	const char *from = op_str(op, "from"), *path = op_str(op, "path");
	_cleanup_free_ char *fkey = NULL, *key = NULL;
	json_t *val;

	if (!from)
		return patch_errf(errmsg, -EDOM,
				  "move operation failed to decode from: "
				  "operation, missing from field: missing value");
	json_t *c = find_parent(root, from, &fkey);
	if (!c)
		return patch_errf(errmsg, -EDOM,
				  "move operation does not apply: doc is missing "
				  "from path: %s: missing value",
				  from);
	if (container_get(c, fkey, &val) < 0)
		return patch_errf(errmsg, -EDOM,
				  "error in move for path: '%s': Unable to access "
				  "invalid index: %s: invalid index referenced",
				  fkey, fkey);
	val = val ? json_incref(val) : json_null();
	if (container_remove(c, fkey) < 0) {
		json_decref(val);
		return patch_errf(errmsg, -EDOM,
				  "error in move for path: '%s': Unable to remove "
				  "nonexistent key: %s: missing value",
				  fkey, fkey);
	}
	if (!path) {
		json_decref(val);
		return patch_errf(errmsg, -EDOM,
				  "move operation failed to decode path: "
				  "operation missing path field: missing value");
	}
	c = find_parent(root, path, &key);
	if (!c) {
		json_decref(val);
		return patch_errf(errmsg, -EDOM,
				  "move operation does not apply: doc is missing "
				  "destination path: %s: missing value",
				  path);
	}
	return container_add(c, key, val, path, errmsg);
}

static int op_copy(json_t *root, const json_t *op, char **errmsg)
{
	const char *from = op_str(op, "from"), *path = op_str(op, "path");
	_cleanup_free_ char *fkey = NULL, *key = NULL;
	json_t *val;

	if (!from)
		return patch_errf(errmsg, -EDOM,
				  "copy operation failed to decode from: "
				  "operation, missing from field: missing value");
	json_t *c = find_parent(root, from, &fkey);
	if (!c)
		return patch_errf(errmsg, -EDOM,
				  "copy operation does not apply: doc is missing "
				  "from path: %s: missing value",
				  from);
	if (container_get(c, fkey, &val) < 0)
		return patch_errf(errmsg, -EDOM,
				  "error in copy for from: '%s': Unable to access "
				  "invalid index: %s: invalid index referenced",
				  from, fkey);
	if (!path)
		return patch_errf(errmsg, -EDOM,
				  "copy operation failed to decode path: missing value");
	json_t *dst = find_parent(root, path, &key);
	if (!dst)
		return patch_errf(errmsg, -EDOM,
				  "copy operation does not apply: doc is missing "
				  "destination path: %s: missing value",
				  path);
	/* A member that is not there copies as null, as v4 does. */
	return container_add(dst, key, val ? json_deep_copy(val) : json_null(), path, errmsg);
}

static int op_test(json_t *root, const json_t *op, char **errmsg)
{
	const char *path = op_str(op, "path");
	_cleanup_free_ char *key = NULL;
	json_t *want = json_object_get(op, "value"), *val;

	if (!path)
		return patch_errf(errmsg, -EDOM,
				  "test operation failed to decode path: "
				  "operation missing path field: missing value");
	if (!*path) {
		if (want && json_equal(root, want))
			return 0;
		return patch_errf(errmsg, -EDOM, "testing value %s failed: test failed", path);
	}
	json_t *c = find_parent(root, path, &key);
	if (!c)
		return patch_errf(errmsg, -EDOM,
				  "test operation does not apply: is missing path: "
				  "%s: missing value",
				  path);
	if (container_get(c, key, &val) < 0)
		return patch_errf(errmsg, -EDOM,
				  "error in test for path: '%s': Unable to access "
				  "invalid index: %s: invalid index referenced",
				  path, key);
	/* null and absent are the same to v4: both are a nil node */
	bool have = val && !json_is_null(val);
	bool want_null = want && json_is_null(want);
	if (!have ? want_null : (want && json_equal(val, want)))
		return 0;
	return patch_errf(errmsg, -EDOM, "testing value %s failed: test failed", path);
}

int patch_json(const json_t *doc, const json_t *ops, json_t **ret, char **errmsg)
{
	size_t i;
	json_t *op;

	if (json_is_null(ops)) {
		*ret = json_deep_copy(doc);
		return 0;
	}
	if (!json_is_array(ops))
		return patch_errf(errmsg, -EINVAL,
				  "json: cannot unmarshal %s into Go value of type jsonpatch.Patch",
				  api_json_type_word(ops));
	json_array_foreach(ops, i, op) {
		if (!json_is_object(op) && !json_is_null(op))
			return patch_errf(errmsg, -EINVAL,
					  "json: cannot unmarshal %s into Go value "
					  "of type jsonpatch.Operation",
					  api_json_type_word(op));
	}
	if (json_array_size(ops) > PATCH_JSON_MAX_OPS)
		return patch_errf(errmsg, -E2BIG,
				  "The allowed maximum operations in a JSON patch "
				  "is %d, got %zu",
				  PATCH_JSON_MAX_OPS, json_array_size(ops));

	json_t *root = json_deep_copy(doc);
	json_array_foreach(ops, i, op) {
		const char *kind = op_str(op, "op");
		int r;
		if (!kind)
			kind = "unknown";
		if (streq(kind, "add"))
			r = op_add(root, op, errmsg);
		else if (streq(kind, "remove"))
			r = op_remove(root, op, errmsg);
		else if (streq(kind, "replace"))
			r = op_replace(&root, op, errmsg);
		else if (streq(kind, "move"))
			r = op_move(root, op, errmsg);
		else if (streq(kind, "test"))
			r = op_test(root, op, errmsg);
		else if (streq(kind, "copy"))
			r = op_copy(root, op, errmsg);
		else
			r = patch_errf(errmsg, -EDOM, "Unexpected kind: %s", kind);
		if (r < 0) {
			json_decref(root);
			return r;
		}
	}
	*ret = root;
	return 0;
}
