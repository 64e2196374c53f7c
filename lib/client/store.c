/* lib/client: the cache behind an informer — objects by key, indexes by
 * namespace and by the caller's functions, and the changes each watch
 * event or relist makes. The maps are jansson objects used as hash tables
 * (key → object), as the API server's watch cache uses them. */
#include "client/client-internal.h"

struct store_index {
	char *name;
	client_index_fn fn;
	void *ud;
	json_t *values; /* value → {key → object} */
};

struct client_store {
	json_t *objects; /* key → object */
	struct store_index *idx;
	size_t nidx;
};

static void namespace_index(const json_t *obj, struct api_msgs *values, void *ud)
{
	const char *ns = api_meta_namespace(obj);
	api_msgs_add(values, ns ? ns : "");
}

struct client_store *client_store_new(void)
{
	struct client_store *s = xnew(struct client_store, 1);

	s->objects = json_object();
	client_store_add_index(s, CLIENT_INDEX_NAMESPACE, namespace_index, NULL);
	return s;
}

struct client_store *client_store_free(struct client_store *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->nidx; i++) {
		free(s->idx[i].name);
		json_decref(s->idx[i].values);
	}
	free(s->idx);
	json_decref(s->objects);
	free(s);
	return NULL;
}

char *client_store_key(const json_t *obj)
{
	const char *name = api_meta_name(obj), *ns = api_meta_namespace(obj);

	if (!name || !*name)
		return NULL;
	return ns && *ns ? xasprintf("%s/%s", ns, name) : xstrdup(name);
}

/* --- indexes --- */

static void index_one(struct store_index *ix, const char *key, const json_t *obj, bool add)
{
	struct api_msgs values = {0};

	ix->fn(obj, &values, ix->ud);
	for (size_t i = 0; i < values.n; i++) {
		json_t *set = json_object_get(ix->values, values.v[i]);
		if (add) {
			if (!set) {
				set = json_object();
				json_object_set_new(ix->values, values.v[i], set);
			}
			json_object_set(set, key, (json_t *)obj);
		} else if (set) {
			json_object_del(set, key);
			if (!json_object_size(set))
				json_object_del(ix->values, values.v[i]);
		}
	}
	api_msgs_clear(&values);
}

static void index_all(struct client_store *s, const char *key, const json_t *obj, bool add)
{
	for (size_t i = 0; i < s->nidx; i++)
		index_one(&s->idx[i], key, obj, add);
}

int client_store_add_index(struct client_store *s, const char *name, client_index_fn fn, void *ud)
{
	const char *key;
	json_t *obj;

	if (!name || !fn)
		return -EINVAL;
	for (size_t i = 0; i < s->nidx; i++)
		if (streq(s->idx[i].name, name))
			return -EEXIST;
	s->idx = xrealloc(s->idx, (s->nidx + 1) * sizeof(*s->idx));
	struct store_index *ix = &s->idx[s->nidx++];
	*ix = (struct store_index){xstrdup(name), fn, ud, json_object()};
	json_object_foreach(s->objects, key, obj)
		index_one(ix, key, obj, true);
	return 0;
}

/* --- reads --- */

json_t *client_store_get_key(const struct client_store *s, const char *key)
{
	return key ? json_object_get(s->objects, key) : NULL;
}

json_t *client_store_get(const struct client_store *s, const char *ns, const char *name)
{
	if (!name)
		return NULL;
	_cleanup_free_ char *key = ns && *ns ? xasprintf("%s/%s", ns, name) : xstrdup(name);
	return client_store_get_key(s, key);
}

size_t client_store_len(const struct client_store *s) { return json_object_size(s->objects); }

json_t *client_store_all(const struct client_store *s) { return s->objects; }

json_t *client_store_index(const struct client_store *s, const char *index, const char *value)
{
	for (size_t i = 0; i < s->nidx; i++)
		if (streq(s->idx[i].name, index))
			return value ? json_object_get(s->idx[i].values, value) : NULL;
	return NULL;
}

/* --- changes --- */

/* Same version: the same resourceVersion, or equal objects when either has none. */
static bool same_version(const json_t *a, const json_t *b)
{
	const char *ra = api_meta_resource_version(a), *rb = api_meta_resource_version(b);

	if (ra && rb && *ra && *rb)
		return streq(ra, rb);
	return json_equal((json_t *)a, (json_t *)b);
}

static void emit(client_delta_fn fn, void *ud, enum client_change type, const json_t *old,
		 const json_t *obj, bool unknown)
{
	struct client_delta d = {type, old, obj, unknown};
	if (fn)
		fn(&d, ud);
}

/* Put obj under key; the delta names what it replaced. */
static void store_put(struct client_store *s, const char *key, json_t *obj, client_delta_fn fn,
		      void *ud)
{
	json_t *old = json_incref(json_object_get(s->objects, key));

	if (old && same_version(old, obj)) {
		json_decref(old);
		return;
	}
	if (old)
		index_all(s, key, old, false);
	json_object_set(s->objects, key, obj);
	index_all(s, key, obj, true);
	emit(fn, ud, old ? CLIENT_UPDATE : CLIENT_ADD, old, obj, false);
	json_decref(old);
}

/* Drop key; last is what the delta reports as the final state (NULL: the cached one). */
static void store_del(struct client_store *s, const char *key, const json_t *last, bool unknown,
		      client_delta_fn fn, void *ud)
{
	json_t *old = json_incref(json_object_get(s->objects, key));

	if (!old)
		return;
	index_all(s, key, old, false);
	json_object_del(s->objects, key);
	emit(fn, ud, CLIENT_DELETE, old, last ? last : old, unknown);
	json_decref(old);
}

int client_store_apply(struct client_store *s, const char *type, json_t *obj, client_delta_fn fn,
		       void *ud)
{
	_cleanup_free_ char *key = client_store_key(obj);

	if (!key || !type)
		return -EINVAL;
	if (streq(type, "ADDED") || streq(type, "MODIFIED"))
		store_put(s, key, obj, fn, ud);
	else if (streq(type, "DELETED"))
		store_del(s, key, obj, false, fn, ud);
	else
		return -EINVAL;
	return 0;
}

void client_store_replace(struct client_store *s, const json_t *items, client_delta_fn fn,
			  void *ud)
{
	json_t *seen = json_object(), *gone = json_array(), *obj;
	const char *key;
	size_t i;

	json_array_foreach(items, i, obj) {
		char *k = client_store_key(obj);
		if (!k)
			continue;
		json_object_set_new(seen, k, json_true());
		store_put(s, k, obj, fn, ud);
		free(k);
	}
	json_object_foreach(s->objects, key, obj)
		if (!json_object_get(seen, key))
			json_array_append_new(gone, json_string(key));
	json_array_foreach(gone, i, obj)
		store_del(s, json_string_value(obj), NULL, true, fn, ud);
	json_decref(gone);
	json_decref(seen);
}
