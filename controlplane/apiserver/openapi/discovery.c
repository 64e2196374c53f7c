/* Discovery documents: /api, /apis, /apis/<g>, the APIResourceLists of each
 * group version and the aggregated (apidiscovery.k8s.io/v2) form. */
#include <openssl/evp.h>
#include <stdio.h>

#include "apiserver/openapi/internal.h"

static json_t *str_array(const char *const *v)
{
	json_t *a = json_array();

	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static bool empty_list(const char *const *v)
{
	return !v || !*v;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Kubernetes sorts the verbs of every resource. */
static json_t *sorted_verbs(const char *const *v)
{
	const char *tmp[32];
	size_t n = 0;
	json_t *a = json_array();

	for (; v && *v && n < ARRAY_SIZE(tmp); v++)
		tmp[n++] = *v;
	qsort(tmp, n, sizeof(*tmp), cmp_str);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(tmp[i]));
	return a;
}

static bool has_verb(const struct sch_kind *k, const char *verb)
{
	for (const char *const *v = k->verbs; v && *v; v++)
		if (streq(*v, verb))
			return true;
	return false;
}

/* discovery.StorageVersionHash: base64 of the first 8 bytes of
 * sha256("group/version/kind"). */
static json_t *storage_version_hash(const struct sch_kind *k)
{
	char gvk[256];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	snprintf(gvk, sizeof(gvk), "%s/%s/%s", k->group, k->version, k->kind);
	if (!EVP_Digest(gvk, strlen(gvk), md, &mdlen, EVP_sha256(), NULL))
		return NULL;
	_cleanup_free_ char *b64 = base64_encode(md, 8);
	return json_string(b64);
}

static json_t *group_version_json(const char *group, const char *version)
{
	char gv[256];

	sch_api_version(group, version, gv, sizeof(gv));
	json_t *o = json_object();
	json_object_set_new(o, "groupVersion", json_string(gv));
	json_object_set_new(o, "version", json_string(version));
	return o;
}

json_t *discovery_api_versions(const char *server_address)
{
	json_t *o = json_object();
	json_t *versions = json_array();
	json_t *addrs = json_array();
	const char *v[OA_MAX_VERSIONS];
	size_t n = oa_group_versions("", v, ARRAY_SIZE(v));

	for (size_t i = 0; i < n; i++)
		json_array_append_new(versions, json_string(v[i]));
	if (server_address && *server_address) {
		json_t *a = json_object();
		json_object_set_new(a, "clientCIDR", json_string("0.0.0.0/0"));
		json_object_set_new(a, "serverAddress", json_string(server_address));
		json_array_append_new(addrs, a);
	}
	json_object_set_new(o, "kind", json_string("APIVersions"));
	json_object_set_new(o, "versions", versions);
	json_object_set_new(o, "serverAddressByClientCIDRs", addrs);
	return o;
}

/* An APIGroup without TypeMeta, as in APIGroupList; NULL if not served. */
static json_t *group_json(const char *group, bool type_meta)
{
	const char *v[OA_MAX_VERSIONS];
	size_t n = oa_group_versions(group, v, ARRAY_SIZE(v));

	if (!*group || n == 0)
		return NULL;
	json_t *o = json_object();
	if (type_meta) {
		json_object_set_new(o, "kind", json_string("APIGroup"));
		json_object_set_new(o, "apiVersion", json_string("v1"));
	}
	json_object_set_new(o, "name", json_string(group));
	json_t *versions = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(versions, group_version_json(group, v[i]));
	json_object_set_new(o, "versions", versions);
	json_object_set_new(o, "preferredVersion", group_version_json(group, v[0]));
	return o;
}

json_t *discovery_group_list(void)
{
	const char *groups[OA_MAX_GROUPS];
	size_t n = oa_groups(groups, ARRAY_SIZE(groups));
	json_t *o = json_object(), *list = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, group_json(groups[i], false));
	json_object_set_new(o, "kind", json_string("APIGroupList"));
	json_object_set_new(o, "apiVersion", json_string("v1"));
	json_object_set_new(o, "groups", list);
	return o;
}

json_t *discovery_group(const char *group)
{
	return group_json(oa_group(group), true);
}

/* One APIResource, in metav1.APIResource's key order. */
static json_t *resource_json(const char *name, const char *singular, bool namespaced,
			     const char *group, const char *version, const char *kind,
			     json_t *verbs, const struct sch_kind *parent)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "singularName", json_string(singular));
	json_object_set_new(o, "namespaced", json_boolean(namespaced));
	if (group && version) {
		json_object_set_new(o, "group", json_string(group));
		json_object_set_new(o, "version", json_string(version));
	}
	json_object_set_new(o, "kind", json_string(kind));
	json_object_set_new(o, "verbs", verbs);
	if (parent) {
		if (!empty_list(parent->short_names))
			json_object_set_new(o, "shortNames", str_array(parent->short_names));
		if (!empty_list(parent->categories))
			json_object_set_new(o, "categories", str_array(parent->categories));
		/* Only resources with storage have a storage version. */
		if (has_verb(parent, "get")) {
			json_t *h = storage_version_hash(parent);
			if (h)
				json_object_set_new(o, "storageVersionHash", h);
		}
	}
	return o;
}

static int cmp_resource(const void *a, const void *b)
{
	const char *na = json_string_value(json_object_get(*(json_t *const *)a, "name"));
	const char *nb = json_string_value(json_object_get(*(json_t *const *)b, "name"));
	return strcmp(na, nb);
}

struct rvec {
	json_t **v;
	size_t n, cap;
};

static void rvec_push(struct rvec *rv, json_t *r)
{
	if (rv->n == rv->cap) {
		rv->cap = rv->cap ? rv->cap * 2 : 16;
		rv->v = xrealloc(rv->v, rv->cap * sizeof(*rv->v));
	}
	rv->v[rv->n++] = r;
}

/* Every resource and subresource of a group version, sorted by name as the
 * installer registers them; NULL if not served. */
static json_t *resources_of(const char *group, const char *version)
{
	struct rvec rv = {0};

	for (size_t i = 0; i < sch_nkinds; i++) {
		const struct sch_kind *k = &sch_kinds[i];
		if (!streq(k->group, group) || !streq(k->version, version))
			continue;
		rvec_push(&rv, resource_json(k->plural, k->singular, k->namespaced, NULL, NULL,
					     k->kind, sorted_verbs(k->verbs), k));
		for (const char *const *s = k->subresources; s && *s; s++) {
			struct oa_sub sub;
			char name[256];
			oa_subresource(k, *s, &sub);
			snprintf(name, sizeof(name), "%s/%s", k->plural, *s);
			rvec_push(&rv, resource_json(name, "", k->namespaced, sub.group,
						     sub.version, sub.kind, str_array(sub.verbs),
						     NULL));
		}
	}
	if (rv.n == 0)
		return NULL;
	qsort(rv.v, rv.n, sizeof(*rv.v), cmp_resource);
	json_t *a = json_array();
	for (size_t i = 0; i < rv.n; i++)
		json_array_append_new(a, rv.v[i]);
	free(rv.v);
	return a;
}

json_t *discovery_resource_list(const char *group, const char *version)
{
	char gv[256];

	group = oa_group(group);
	json_t *resources = resources_of(group, version);
	if (!resources)
		return NULL;
	sch_api_version(group, version, gv, sizeof(gv));
	json_t *o = json_object();
	json_object_set_new(o, "kind", json_string("APIResourceList"));
	json_object_set_new(o, "apiVersion", json_string("v1"));
	json_object_set_new(o, "groupVersion", json_string(gv));
	json_object_set_new(o, "resources", resources);
	return o;
}

/* ---- aggregated discovery (apidiscovery.k8s.io/v2) ---- */

/* A string member, NULL when absent. */
static const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_t *gvk_json(const char *group, const char *version, const char *kind)
{
	json_t *o = json_object();

	json_object_set_new(o, "group", json_string(group ? group : ""));
	json_object_set_new(o, "version", json_string(version ? version : ""));
	json_object_set_new(o, "kind", json_string(kind));
	return o;
}

/* As ConvertGroupVersionIntoToDiscovery turns an APIResource into an
 * APISubresourceDiscovery (name "pods/log")... */
static json_t *subresource_discovery(json_t *r)
{
	json_t *sub = json_object();

	json_object_set_new(sub, "subresource", json_string(strchr(str_of(r, "name"), '/') + 1));
	json_object_set_new(sub, "responseKind",
			    gvk_json(str_of(r, "group"), str_of(r, "version"), str_of(r, "kind")));
	json_object_set(sub, "verbs", json_object_get(r, "verbs"));
	return sub;
}

/* ... or into an APIResourceDiscovery (name "pods"). */
static json_t *resource_discovery(json_t *r)
{
	json_t *o = json_object();
	bool namespaced = json_is_true(json_object_get(r, "namespaced"));

	json_object_set(o, "resource", json_object_get(r, "name"));
	json_object_set_new(o, "responseKind",
			    gvk_json(str_of(r, "group"), str_of(r, "version"), str_of(r, "kind")));
	json_object_set_new(o, "scope", json_string(namespaced ? "Namespaced" : "Cluster"));
	json_object_set(o, "singularResource", json_object_get(r, "singularName"));
	json_object_set(o, "verbs", json_object_get(r, "verbs"));
	if (json_object_get(r, "shortNames"))
		json_object_set(o, "shortNames", json_object_get(r, "shortNames"));
	if (json_object_get(r, "categories"))
		json_object_set(o, "categories", json_object_get(r, "categories"));
	return o;
}

static json_t *find_parent(json_t *list, const char *name, size_t len)
{
	size_t i;
	json_t *r;

	json_array_foreach(list, i, r) {
		const char *rn = json_string_value(json_object_get(r, "resource"));
		if (strlen(rn) == len && !memcmp(rn, name, len))
			return r;
	}
	return NULL;
}

static json_t *version_discovery(const char *group, const char *version)
{
	json_t *resources = resources_of(group, version);
	json_t *list = json_array();
	size_t i;
	json_t *r;

	/* subresources folded into their parent, as the installer does */
	json_array_foreach(resources, i, r)
		if (!strchr(str_of(r, "name"), '/'))
			json_array_append_new(list, resource_discovery(r));
	json_array_foreach(resources, i, r) {
		const char *name = str_of(r, "name");
		const char *slash = strchr(name, '/');
		if (!slash)
			continue;
		json_t *parent = find_parent(list, name, (size_t)(slash - name));
		if (!parent)
			continue;
		json_t *subs = json_object_get(parent, "subresources");
		if (!subs) {
			subs = json_array();
			json_object_set_new(parent, "subresources", subs);
		}
		json_array_append_new(subs, subresource_discovery(r));
	}
	json_decref(resources);

	json_t *o = json_object();
	json_object_set_new(o, "version", json_string(version));
	json_object_set_new(o, "resources", list);
	json_object_set_new(o, "freshness", json_string("Current"));
	return o;
}

static json_t *group_discovery(const char *group)
{
	const char *v[OA_MAX_VERSIONS];
	size_t n = oa_group_versions(group, v, ARRAY_SIZE(v));
	json_t *o = json_object(), *meta = json_object(), *versions = json_array();

	if (*group)
		json_object_set_new(meta, "name", json_string(group));
	json_object_set_new(meta, "creationTimestamp", json_null());
	json_object_set_new(o, "metadata", meta);
	for (size_t i = 0; i < n; i++)
		json_array_append_new(versions, version_discovery(group, v[i]));
	json_object_set_new(o, "versions", versions);
	return o;
}

json_t *discovery_aggregated(bool legacy)
{
	json_t *o = json_object(), *items = json_array();

	json_object_set_new(o, "kind", json_string("APIGroupDiscoveryList"));
	json_object_set_new(o, "apiVersion", json_string("apidiscovery.k8s.io/v2"));
	json_object_set_new(o, "metadata", json_object());
	if (legacy) {
		const char *v[OA_MAX_VERSIONS];
		if (oa_group_versions("", v, ARRAY_SIZE(v)) > 0)
			json_array_append_new(items, group_discovery(""));
	} else {
		const char *groups[OA_MAX_GROUPS];
		size_t n = oa_groups(groups, ARRAY_SIZE(groups));
		for (size_t i = 0; i < n; i++)
			json_array_append_new(items, group_discovery(groups[i]));
	}
	json_object_set_new(o, "items", items);
	return o;
}
