/* The OpenAPI documents: one v3 document per group version, the v3 root
 * that lists them with their hashes, the whole-API v2 document, and the
 * cache that serializes each once. */
#include <openssl/evp.h>
#include <stdio.h>

#include "api/api.h"
#include "apiserver/openapi/internal.h"

void openapi_hash(const void *data, size_t len, char out[OPENAPI_HASH_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	out[0] = 0;
	if (!EVP_Digest(data, len, md, &mdlen, EVP_sha512(), NULL))
		return;
	for (unsigned i = 0; i < mdlen && 2 * i + 2 < OPENAPI_HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02X", md[i]);
}

static json_t *bearer_scheme(void)
{
	json_t *schemes = json_object(), *b = json_object();

	json_object_set_new(b, "description", json_string("Bearer Token authentication"));
	json_object_set_new(b, "in", json_string("header"));
	json_object_set_new(b, "name", json_string("authorization"));
	json_object_set_new(b, "type", json_string("apiKey"));
	json_object_set_new(schemes, "BearerToken", b);
	return schemes;
}

static json_t *bearer_security(void)
{
	json_t *a = json_array(), *o = json_object();

	json_object_set_new(o, "BearerToken", json_array());
	json_array_append_new(a, o);
	return a;
}

static json_t *info(void)
{
	json_t *o = json_object();

	json_object_set_new(o, "title", json_string("Kubernetes"));
	json_object_set_new(o, "version", json_string(OA_K8S_VERSION));
	return o;
}

/* "api/v1" or "apis/<group>/<version>" into group and version; false when the
 * path has another form or names nothing served. */
static bool split_path(const char *path, char *group, size_t gcap, char *version, size_t vcap)
{
	const char *slash;

	if (!path)
		return false;
	if (str_has_prefix(path, "api/")) {
		snprintf(group, gcap, "%s", "");
		path += 4;
	} else if (str_has_prefix(path, "apis/")) {
		path += 5;
		slash = strchr(path, '/');
		if (!slash || slash == path || (size_t)(slash - path) >= gcap)
			return false;
		snprintf(group, gcap, "%.*s", (int)(slash - path), path);
		path = slash + 1;
	} else {
		return false;
	}
	if (!*path || strchr(path, '/') || strlen(path) >= vcap)
		return false;
	snprintf(version, vcap, "%s", path);
	return *group ? !streq(group, "core") && oa_gv_served(group, version)
		      : oa_gv_served("", version);
}

json_t *openapi_v3_document(const char *path)
{
	char group[256], version[64];

	if (!split_path(path, group, sizeof(group), version, sizeof(version)))
		return NULL;
	json_t *doc = json_object(), *paths = json_object(), *components = json_object();
	json_t *schemas = json_object();
	oa_add_gv_paths(paths, schemas, OA_V3, group, version);
	json_object_set_new(doc, "openapi", json_string("3.0.0"));
	json_object_set_new(doc, "info", info());
	json_object_set_new(doc, "paths", paths);
	json_object_set_new(components, "schemas", schemas);
	json_object_set_new(components, "securitySchemes", bearer_scheme());
	json_object_set_new(doc, "components", components);
	json_object_set_new(doc, "security", bearer_security());
	json_t *sorted = oa_sort_keys(doc);
	json_decref(doc);
	return sorted;
}

json_t *openapi_v2(void)
{
	const char *groups[OA_MAX_GROUPS + 1], *versions[OA_MAX_VERSIONS];
	size_t ng = oa_groups(groups + 1, OA_MAX_GROUPS) + 1;
	json_t *doc = json_object(), *paths = json_object(), *defs = json_object();

	groups[0] = "";
	for (size_t i = 0; i < ng; i++) {
		size_t nv = oa_group_versions(groups[i], versions, ARRAY_SIZE(versions));
		for (size_t j = 0; j < nv; j++)
			oa_add_gv_paths(paths, defs, OA_V2, groups[i], versions[j]);
	}
	json_object_set_new(doc, "swagger", json_string("2.0"));
	json_object_set_new(doc, "info", info());
	json_object_set_new(doc, "paths", paths);
	json_object_set_new(doc, "definitions", defs);
	json_object_set_new(doc, "securityDefinitions", bearer_scheme());
	json_object_set_new(doc, "security", bearer_security());
	json_t *sorted = oa_sort_keys(doc);
	json_decref(doc);
	return sorted;
}

/* ---- the served documents, serialized once ---- */

struct doc {
	char *path; /* "" for the root, "api/v1", "apis/apps/v1" */
	struct buf body;
	char hash[OPENAPI_HASH_LEN];
};

struct openapi_docs {
	struct doc *v3;
	size_t nv3;
	bool built;
	struct doc v2;
	bool v2_built;
};

static void doc_set(struct doc *d, const char *path, json_t *v)
{
	d->path = xstrdup(path);
	api_json_dump(v, &d->body);
	openapi_hash(d->body.data, d->body.len, d->hash);
	json_decref(v);
}

/* Every served group version's path ("api/v1", "apis/apps/v1"), core first;
 * the caller frees the strings and the array. */
static char **gv_paths(size_t *ret_n)
{
	const char *groups[OA_MAX_GROUPS + 1], *versions[OA_MAX_VERSIONS];
	size_t ng = oa_groups(groups + 1, OA_MAX_GROUPS) + 1, n = 0;
	char **out = xnew(char *, ng * OA_MAX_VERSIONS);

	groups[0] = "";
	for (size_t i = 0; i < ng; i++) {
		size_t nv = oa_group_versions(groups[i], versions, ARRAY_SIZE(versions));
		for (size_t j = 0; j < nv; j++) {
			if (*groups[i])
				out[n++] = xasprintf("apis/%s/%s", groups[i], versions[j]);
			else
				out[n++] = xasprintf("api/%s", versions[j]);
		}
	}
	*ret_n = n;
	return out;
}

static void free_paths(char **paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
}

static json_t *root_json(const struct doc *docs, size_t n)
{
	json_t *root = json_object(), *paths = json_object();

	for (size_t i = 0; i < n; i++) {
		char url[1024];
		json_t *e = json_object();
		snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%s", docs[i].path, docs[i].hash);
		json_object_set_new(e, "serverRelativeURL", json_string(url));
		json_object_set_new(paths, docs[i].path, e);
	}
	json_object_set_new(root, "paths", paths);
	/* Go marshals the map with its keys sorted. */
	json_t *sorted = oa_sort_keys(root);
	json_decref(root);
	return sorted;
}

static void docs_build(struct openapi_docs *d)
{
	size_t n;
	char **paths = gv_paths(&n);

	/* Slot 0 is the root; it needs every other document's hash. */
	d->v3 = xnew(struct doc, n + 1);
	for (size_t i = 0; i < n; i++)
		doc_set(&d->v3[i + 1], paths[i], openapi_v3_document(paths[i]));
	doc_set(&d->v3[0], "", root_json(d->v3 + 1, n));
	free_paths(paths, n);
	d->nv3 = n + 1;
	d->built = true;
}

json_t *openapi_v3_root(void)
{
	size_t n;
	char **paths = gv_paths(&n);
	struct doc *docs = xnew(struct doc, n);

	for (size_t i = 0; i < n; i++)
		doc_set(&docs[i], paths[i], openapi_v3_document(paths[i]));
	json_t *root = root_json(docs, n);
	for (size_t i = 0; i < n; i++) {
		free(docs[i].path);
		buf_free(&docs[i].body);
	}
	free(docs);
	free_paths(paths, n);
	return root;
}

struct openapi_docs *openapi_docs_new(void)
{
	return xnew(struct openapi_docs, 1);
}

struct openapi_docs *openapi_docs_free(struct openapi_docs *d)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->nv3; i++) {
		free(d->v3[i].path);
		buf_free(&d->v3[i].body);
	}
	free(d->v3);
	free(d->v2.path);
	buf_free(&d->v2.body);
	free(d);
	return NULL;
}

int openapi_docs_v3(struct openapi_docs *d, const char *path, const char **ret_body,
		    size_t *ret_len, const char **ret_hash)
{
	if (!d->built)
		docs_build(d);
	if (!path)
		path = "";
	for (size_t i = 0; i < d->nv3; i++) {
		if (!streq(d->v3[i].path, path))
			continue;
		*ret_body = d->v3[i].body.data;
		*ret_len = d->v3[i].body.len;
		*ret_hash = d->v3[i].hash;
		return 0;
	}
	return -ENOENT;
}

int openapi_docs_v2(struct openapi_docs *d, const char **ret_body, size_t *ret_len,
		    const char **ret_hash)
{
	if (!d->v2_built) {
		doc_set(&d->v2, "", openapi_v2());
		d->v2_built = true;
	}
	*ret_body = d->v2.body.data;
	*ret_len = d->v2.body.len;
	*ret_hash = d->v2.hash;
	return 0;
}
