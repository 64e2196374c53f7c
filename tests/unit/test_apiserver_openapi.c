/* The OpenAPI documents as kubectl uses them: the v3 root and its hashes,
 * per group-version documents that `kubectl explain` can walk to any nested
 * field and that let client-side `kubectl apply` validate and build
 * strategic merge patches, and the v2 document. */
#include "api/api.h"
#include "apiserver/openapi/openapi.h"

#include "tap.h"

#define REF_PREFIX "#/components/schemas/"

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "(absent)";
}

static char *gv_path(const char *group, const char *version)
{
	return *group ? xasprintf("apis/%s/%s", group, version) : xasprintf("api/%s", version);
}

/* Follow $ref and single-element allOf, as kubectl does. */
static json_t *deref(json_t *doc, json_t *s)
{
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");

	for (int i = 0; s && i < 8; i++) {
		const char *ref = json_string_value(json_object_get(s, "$ref"));
		json_t *all = json_object_get(s, "allOf");
		if (ref && str_has_prefix(ref, REF_PREFIX))
			s = json_object_get(schemas, ref + strlen(REF_PREFIX));
		else if (json_array_size(all) == 1 && !json_object_get(s, "properties"))
			s = json_array_get(all, 0);
		else
			break;
	}
	return s;
}

/* The schema a GVK names (x-kubernetes-group-version-kind), as explain finds it. */
static json_t *schema_for_kind(json_t *doc, const char *group, const char *version,
			       const char *kind)
{
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	const char *name;
	json_t *s;

	json_object_foreach(schemas, name, s) {
		size_t i;
		json_t *gvk;
		json_array_foreach(json_object_get(s, "x-kubernetes-group-version-kind"), i, gvk)
			if (streq(str(gvk, "group"), group) &&
			    streq(str(gvk, "version"), version) && streq(str(gvk, "kind"), kind))
				return s;
	}
	return NULL;
}

/* "spec.strategy.rollingUpdate.maxSurge" from a kind's schema: the field's schema
 * (not dereferenced), NULL when a step is missing. */
static json_t *field(json_t *doc, json_t *s, const char *path)
{
	_cleanup_free_ char *copy = xstrdup(path);
	char *save = NULL;

	for (char *seg = strtok_r(copy, ".", &save); seg && s; seg = strtok_r(NULL, ".", &save)) {
		s = deref(doc, s);
		if (streq(str(s, "type"), "array"))
			s = deref(doc, json_object_get(s, "items"));
		s = json_object_get(json_object_get(s, "properties"), seg);
	}
	return s;
}

static json_t *doc_for(const char *group, const char *version)
{
	_cleanup_free_ char *p = gv_path(group, version);
	return openapi_v3_document(p);
}

static void test_hash_is_upper_case_hex_sha512(void)
{
	char h[OPENAPI_HASH_LEN];

	openapi_hash("abc", 3, h);
	CHECK_STREQ(h, "DDAF35A193617ABACC417349AE20413112E6FA4E89A97EA20A9EEEE64B55D39A"
		       "2192992A274FC1A836BA3C23A3FEEBBD454D4423643CE80E2A9AC94FA54CA49F");
}

static void test_v3_root_lists_every_group_version_with_its_hash(void)
{
	json_t *root = openapi_v3_root();
	json_t *paths = json_object_get(root, "paths");

	CHECK_INT(json_object_size(root), 1);
	for (size_t i = 0; i < sch_nkinds; i++) {
		_cleanup_free_ char *p = gv_path(sch_kinds[i].group, sch_kinds[i].version);
		json_t *e = json_object_get(paths, p);
		CHECK(e != NULL);
		if (!e)
			continue;
		json_t *doc = openapi_v3_document(p);
		struct buf b = {0};
		char h[OPENAPI_HASH_LEN];
		api_json_dump(doc, &b);
		openapi_hash(b.data, b.len, h);
		_cleanup_free_ char *url = xasprintf("/openapi/v3/%s?hash=%s", p, h);
		CHECK_STREQ(str(e, "serverRelativeURL"), url);
		buf_free(&b);
		json_decref(doc);
	}
	json_t *again = openapi_v3_root();
	CHECK(json_equal(root, again));
	json_decref(again);
	json_decref(root);
}

static void test_v3_document_is_openapi_3_with_kubernetes_names(void)
{
	json_t *doc = openapi_v3_document("api/v1");
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");

	CHECK(doc != NULL);
	CHECK_STREQ(str(doc, "openapi"), "3.0.0");
	CHECK_STREQ(str(json_object_get(doc, "info"), "title"), "Kubernetes");
	CHECK(json_object_get(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta") != NULL);
	CHECK(json_object_get(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Status") != NULL);
	CHECK(json_object_get(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Patch") != NULL);
	CHECK(json_object_get(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent") != NULL);
	if (sch_kind_by_name("", "v1", "Pod")) {
		CHECK(json_object_get(schemas, "io.k8s.api.core.v1.Pod") != NULL);
		CHECK(json_object_get(schemas, "io.k8s.api.core.v1.PodList") != NULL);
		CHECK(json_object_get(json_object_get(doc, "paths"),
				      "/api/v1/namespaces/{namespace}/pods/{name}/log") != NULL);
	}
	json_decref(doc);
}

static void test_unknown_documents_are_null(void)
{
	const char *bad[] = {"", "api", "api/v9", "apis", "apis/apps", "apis/no.such/v1",
			     "apis/apps/v1/extra", "apis//v1", "apis/core/v1", "openapi/v3"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *d = openapi_v3_document(bad[i]);
		CHECK(d == NULL);
		if (d)
			printf("#   %s gave a document\n", bad[i]);
		json_decref(d);
	}
	CHECK(openapi_v3_document(NULL) == NULL);
}

static void test_every_kind_is_explainable(void)
{
	for (size_t i = 0; i < sch_nkinds; i++) {
		const struct sch_kind *k = &sch_kinds[i];
		json_t *doc = doc_for(k->group, k->version);
		json_t *s = schema_for_kind(doc, k->group, k->version, k->kind);
		CHECK(s != NULL);
		if (!s) {
			printf("#   no schema for %s/%s %s\n", k->group, k->version, k->kind);
			json_decref(doc);
			continue;
		}
		CHECK(json_object_get(s, "description") != NULL);
		json_t *props = json_object_get(s, "properties");
		CHECK(json_object_get(props, "apiVersion") != NULL);
		CHECK(json_object_get(props, "kind") != NULL);
		json_t *meta = deref(doc, json_object_get(props, "metadata"));
		CHECK(json_object_get(json_object_get(meta, "properties"), "name") != NULL);
		/* the list kind is there too */
		char list[128];
		snprintf(list, sizeof(list), "%sList", k->kind);
		CHECK(schema_for_kind(doc, k->group, k->version, list) != NULL);
		json_decref(doc);
	}
}

static bool has_query_param(json_t *op, const char *name)
{
	size_t i;
	json_t *p;

	json_array_foreach(json_object_get(op, "parameters"), i, p)
		if (streq(str(p, "name"), name) && streq(str(p, "in"), "query"))
			return true;
	return false;
}

static void test_every_kind_accepts_client_side_apply(void)
{
	for (size_t i = 0; i < sch_nkinds; i++) {
		const struct sch_kind *k = &sch_kinds[i];
		bool patchable = false;
		for (const char *const *v = k->verbs; *v; v++)
			patchable |= streq(*v, "patch");
		if (!patchable)
			continue;
		json_t *doc = doc_for(k->group, k->version);
		char path[512];
		_cleanup_free_ char *prefix = gv_path(k->group, k->version);
		if (k->namespaced)
			snprintf(path, sizeof(path), "/%s/namespaces/{namespace}/%s/{name}", prefix,
				 k->plural);
		else
			snprintf(path, sizeof(path), "/%s/%s/{name}", prefix, k->plural);
		json_t *op = json_object_get(json_object_get(json_object_get(doc, "paths"), path),
					     "patch");
		CHECK(op != NULL);
		if (!op) {
			printf("#   no patch operation at %s\n", path);
			json_decref(doc);
			continue;
		}
		json_t *gvk = json_object_get(op, "x-kubernetes-group-version-kind");
		CHECK_STREQ(str(gvk, "group"), k->group);
		CHECK_STREQ(str(gvk, "version"), k->version);
		CHECK_STREQ(str(gvk, "kind"), k->kind);
		CHECK(has_query_param(op, "fieldValidation"));
		CHECK(has_query_param(op, "fieldManager"));
		json_t *content = json_object_get(json_object_get(op, "requestBody"), "content");
		CHECK(json_object_get(content, "application/strategic-merge-patch+json") != NULL);
		CHECK(json_object_get(content, "application/apply-patch+yaml") != NULL);
		CHECK_STREQ(str(op, "x-kubernetes-action"), "patch");
		json_decref(doc);
	}
}

static void check_refs(json_t *doc, json_t *v, size_t *n, size_t *bad)
{
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	const char *key;
	json_t *e;
	size_t i;

	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			check_refs(doc, e, n, bad);
		return;
	}
	json_object_foreach(v, key, e) {
		if (streq(key, "$ref")) {
			const char *ref = json_string_value(e);
			(*n)++;
			if (!ref || !str_has_prefix(ref, REF_PREFIX) ||
			    !json_object_get(schemas, ref + strlen(REF_PREFIX))) {
				(*bad)++;
				printf("#   dangling %s\n", ref ? ref : "(non-string)");
			}
		} else {
			check_refs(doc, e, n, bad);
		}
	}
}

static void test_every_ref_resolves(void)
{
	json_t *root = openapi_v3_root();
	const char *p;
	json_t *e;

	json_object_foreach(json_object_get(root, "paths"), p, e) {
		json_t *doc = openapi_v3_document(p);
		size_t n = 0, bad = 0;
		check_refs(doc, doc, &n, &bad);
		CHECK(n > 0);
		CHECK_INT(bad, 0);
		json_decref(doc);
	}
	json_decref(root);
}

static void test_nested_fields_resolve_as_explain_walks_them(void)
{
	json_t *apps = doc_for("apps", "v1"), *core = doc_for("", "v1");
	json_t *dep = schema_for_kind(apps, "apps", "v1", "Deployment");
	json_t *pod = schema_for_kind(core, "", "v1", "Pod");

	if (!dep || !pod) {
		json_decref(apps);
		json_decref(core);
		SKIP("no Deployment or Pod in the schema yet");
	}
	json_t *surge = field(apps, dep, "spec.strategy.rollingUpdate.maxSurge");
	CHECK(surge != NULL);
	CHECK(json_object_get(surge, "description") != NULL);
	json_t *ios = deref(apps, surge);
	CHECK_STREQ(str(ios, "format"), "int-or-string");
	CHECK_INT(json_array_size(json_object_get(ios, "oneOf")), 2);
	_cleanup_free_ char *def = api_json_dumps(json_object_get(surge, "default"));
	CHECK_STREQ(def, "\"25%\"");

	json_t *get = field(core, pod, "spec.containers.livenessProbe.httpGet");
	CHECK(get != NULL);
	CHECK(field(core, pod, "spec.containers.livenessProbe.httpGet.port") != NULL);
	CHECK(field(core, pod, "spec.containers.livenessProbe.httpGet.path") != NULL);
	/* the pod template of a deployment is the same PodSpec */
	CHECK(field(apps, dep, "spec.template.spec.containers.image") != NULL);
	CHECK(field(apps, dep, "spec.template.spec.nosuchfield") == NULL);
	json_decref(apps);
	json_decref(core);
}

static void test_lists_carry_merge_keys_and_list_types(void)
{
	json_t *core = doc_for("", "v1");
	json_t *pod = schema_for_kind(core, "", "v1", "Pod");

	if (!pod) {
		json_decref(core);
		SKIP("no Pod in the schema yet");
	}
	json_t *c = field(core, pod, "spec.containers");
	CHECK_STREQ(str(c, "type"), "array");
	CHECK_STREQ(str(c, "x-kubernetes-patch-merge-key"), "name");
	CHECK_STREQ(str(c, "x-kubernetes-patch-strategy"), "merge");
	CHECK_STREQ(str(c, "x-kubernetes-list-type"), "map");
	json_t *map_keys = json_object_get(c, "x-kubernetes-list-map-keys");
	_cleanup_free_ char *keys = api_json_dumps(map_keys);
	CHECK_STREQ(keys, "[\"name\"]");
	/* struct items are wrapped so that the zero default can sit beside the ref */
	json_t *items = json_object_get(c, "items");
	CHECK_INT(json_array_size(json_object_get(items, "allOf")), 1);
	_cleanup_free_ char *d = api_json_dumps(json_object_get(items, "default"));
	CHECK_STREQ(d, "{}");

	json_t *fin = field(core, pod, "metadata.finalizers");
	CHECK_STREQ(str(fin, "x-kubernetes-list-type"), "set");
	json_t *owners = field(core, pod, "metadata.ownerReferences");
	CHECK_STREQ(str(owners, "x-kubernetes-patch-merge-key"), "uid");
	json_t *owner = deref(core, json_object_get(owners, "items"));
	_cleanup_free_ char *req = api_json_dumps(json_object_get(owner, "required"));
	CHECK_STREQ(req, "[\"apiVersion\",\"kind\",\"name\",\"uid\"]");
	json_decref(core);

	json_t *apps = doc_for("apps", "v1");
	json_t *dep = schema_for_kind(apps, "apps", "v1", "Deployment");
	if (dep) {
		json_t *sel = deref(apps, field(apps, dep, "spec.selector"));
		CHECK_STREQ(str(sel, "x-kubernetes-map-type"), "atomic");
		CHECK_STREQ(str(field(apps, dep, "spec.strategy"), "x-kubernetes-patch-strategy"),
			    "retainKeys");
	}
	json_decref(apps);
}

static void test_scalars_have_kubernetes_types_and_formats(void)
{
	json_t *core = doc_for("", "v1");
	json_t *schemas = json_object_get(json_object_get(core, "components"), "schemas");
	json_t *meta = json_object_get(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");

	json_t *ts = field(core, meta, "creationTimestamp");
	CHECK_STREQ(str(deref(core, ts), "type"), "string");
	CHECK_STREQ(str(deref(core, ts), "format"), "date-time");
	CHECK(json_object_get(schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Time") != NULL);
	CHECK_STREQ(str(field(core, meta, "generation"), "format"), "int64");
	CHECK_STREQ(str(field(core, meta, "generation"), "type"), "integer");
	_cleanup_free_ char *labels = api_json_dumps(
		json_object_get(field(core, meta, "labels"), "additionalProperties"));
	CHECK_STREQ(labels, "{\"type\":\"string\"}");
	json_t *fv1 = deref(core, field(core, meta, "managedFields.fieldsV1"));
	CHECK_STREQ(str(fv1, "type"), "object");

	json_t *secret = schema_for_kind(core, "", "v1", "Secret");
	if (secret) {
		_cleanup_free_ char *data = api_json_dumps(
			json_object_get(field(core, secret, "data"), "additionalProperties"));
		CHECK_STREQ(data, "{\"format\":\"byte\",\"type\":\"string\"}");
	}
	json_t *pod = schema_for_kind(core, "", "v1", "Pod");
	if (pod) {
		json_t *limits = field(core, pod, "spec.containers.resources.limits");
		json_t *q = deref(core, json_object_get(limits, "additionalProperties"));
		CHECK_INT(json_array_size(json_object_get(q, "oneOf")), 2);
		CHECK(json_object_get(schemas, "io.k8s.apimachinery.pkg.api.resource.Quantity"));
		CHECK_STREQ(str(field(core, pod, "spec.containers.ports.containerPort"), "format"),
			    "int32");
	}
	json_decref(core);
}

static void test_defaults_and_enums_come_from_the_schema(void)
{
	json_t *apps = doc_for("apps", "v1");
	json_t *dep = schema_for_kind(apps, "apps", "v1", "Deployment");

	if (!dep) {
		json_decref(apps);
		SKIP("no Deployment in the schema yet");
	}
	json_t *type = field(apps, dep, "spec.strategy.type");
	_cleanup_free_ char *def = api_json_dumps(json_object_get(type, "default"));
	_cleanup_free_ char *en = api_json_dumps(json_object_get(type, "enum"));
	CHECK_STREQ(def, "\"RollingUpdate\"");
	CHECK_STREQ(en, "[\"Recreate\",\"RollingUpdate\"]");
	_cleanup_free_ char *rep = api_json_dumps(json_object_get(field(apps, dep, "spec.replicas"),
								  "default"));
	CHECK_STREQ(rep, "1");
	json_decref(apps);
}

static void test_operations_follow_kube_apiserver_naming(void)
{
	json_t *apps = doc_for("apps", "v1");
	json_t *paths = json_object_get(apps, "paths");

	if (!sch_kind_by_name("apps", "v1", "Deployment")) {
		json_decref(apps);
		SKIP("no Deployment in the schema yet");
	}
	json_t *coll = json_object_get(paths, "/apis/apps/v1/namespaces/{namespace}/deployments");
	CHECK_STREQ(str(json_object_get(coll, "get"), "operationId"),
		    "listAppsV1NamespacedDeployment");
	CHECK_STREQ(str(json_object_get(coll, "post"), "operationId"),
		    "createAppsV1NamespacedDeployment");
	CHECK_STREQ(str(json_object_get(coll, "delete"), "operationId"),
		    "deleteAppsV1CollectionNamespacedDeployment");
	json_t *all = json_object_get(paths, "/apis/apps/v1/deployments");
	CHECK_STREQ(str(json_object_get(all, "get"), "operationId"),
		    "listAppsV1DeploymentForAllNamespaces");
	json_t *scale = json_object_get(
		paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale");
	json_t *get = json_object_get(scale, "get");
	CHECK_STREQ(str(get, "operationId"), "readAppsV1NamespacedDeploymentScale");
	CHECK_STREQ(str(json_object_get(get, "x-kubernetes-group-version-kind"), "group"),
		    "autoscaling");
	json_t *watch =
		json_object_get(paths, "/apis/apps/v1/watch/namespaces/{namespace}/deployments");
	CHECK_STREQ(str(json_object_get(watch, "get"), "x-kubernetes-action"), "watchlist");
	json_t *list_op = json_object_get(coll, "get");
	_cleanup_free_ char *tags = api_json_dumps(json_object_get(list_op, "tags"));
	CHECK_STREQ(tags, "[\"apps_v1\"]");
	json_decref(apps);
}

static void test_docs_cache_serves_the_same_bytes_and_hashes(void)
{
	_cleanup_(openapi_docs_freep) struct openapi_docs *d = openapi_docs_new();
	const char *body, *hash, *body2, *hash2;
	size_t len, len2;
	char h[OPENAPI_HASH_LEN];

	CHECK_INT(openapi_docs_v3(d, "api/v1", &body, &len, &hash), 0);
	json_t *doc = openapi_v3_document("api/v1");
	_cleanup_free_ char *s = api_json_dumps(doc);
	CHECK_INT(len, strlen(s));
	CHECK(memcmp(body, s, len) == 0);
	openapi_hash(body, len, h);
	CHECK_STREQ(hash, h);
	json_decref(doc);

	CHECK_INT(openapi_docs_v3(d, "api/v1", &body2, &len2, &hash2), 0);
	CHECK(body2 == body);
	CHECK_INT(openapi_docs_v3(d, "", &body, &len, &hash), 0);
	json_t *root = openapi_v3_root();
	_cleanup_free_ char *rs = api_json_dumps(root);
	CHECK_INT(len, strlen(rs));
	CHECK(memcmp(body, rs, len) == 0);
	json_decref(root);
	CHECK_INT(openapi_docs_v3(d, NULL, &body2, &len2, &hash2), 0);
	CHECK(body2 == body);
	CHECK_INT(openapi_docs_v3(d, "apis/no.such/v1", &body, &len, &hash), -ENOENT);
	CHECK_INT(openapi_docs_v2(d, &body, &len, &hash), 0);
	CHECK(len > 0 && body[0] == '{');
	CHECK(openapi_docs_free(NULL) == NULL);
}

static void test_v2_is_swagger_with_definitions(void)
{
	json_t *v2 = openapi_v2();
	json_t *defs = json_object_get(v2, "definitions");

	CHECK_STREQ(str(v2, "swagger"), "2.0");
	CHECK(json_object_get(defs, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta") != NULL);
	for (size_t i = 0; i < sch_nkinds; i++) {
		const struct sch_kind *k = &sch_kinds[i];
		_cleanup_free_ char *prefix = gv_path(k->group, k->version);
		char path[512];
		if (k->namespaced)
			snprintf(path, sizeof(path), "/%s/namespaces/{namespace}/%s", prefix,
				 k->plural);
		else
			snprintf(path, sizeof(path), "/%s/%s", prefix, k->plural);
		CHECK(json_object_get(json_object_get(v2, "paths"), path) != NULL);
	}
	json_t *meta = json_object_get(defs, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
	json_t *ts = json_object_get(json_object_get(meta, "properties"), "creationTimestamp");
	CHECK_STREQ(str(ts, "$ref"), "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Time");
	json_decref(v2);
}

int main(void)
{
	RUN(test_hash_is_upper_case_hex_sha512);
	RUN(test_v3_root_lists_every_group_version_with_its_hash);
	RUN(test_v3_document_is_openapi_3_with_kubernetes_names);
	RUN(test_unknown_documents_are_null);
	RUN(test_every_kind_is_explainable);
	RUN(test_every_kind_accepts_client_side_apply);
	RUN(test_every_ref_resolves);
	RUN(test_nested_fields_resolve_as_explain_walks_them);
	RUN(test_lists_carry_merge_keys_and_list_types);
	RUN(test_scalars_have_kubernetes_types_and_formats);
	RUN(test_defaults_and_enums_come_from_the_schema);
	RUN(test_operations_follow_kube_apiserver_naming);
	RUN(test_docs_cache_serves_the_same_bytes_and_hashes);
	RUN(test_v2_is_swagger_with_definitions);
	return tap_done();
}
