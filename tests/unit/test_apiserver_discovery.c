/* Discovery as kubectl reads it: /api, /apis, /apis/<g>, the resource lists
 * of each group version and the aggregated apidiscovery.k8s.io/v2 form. */
#include "api/api.h"
#include "apiserver/openapi/openapi.h"

#include "tap.h"

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "(absent)";
}

static json_t *find_by(const json_t *arr, const char *key, const char *value)
{
	size_t i;
	json_t *e;

	json_array_foreach((json_t *)arr, i, e)
		if (json_is_string(json_object_get(e, key)) && streq(str(e, key), value))
			return e;
	return NULL;
}

static bool array_has(const json_t *arr, const char *s)
{
	size_t i;
	json_t *e;

	json_array_foreach((json_t *)arr, i, e)
		if (json_is_string(e) && streq(json_string_value(e), s))
			return true;
	return false;
}

static char *joined(const json_t *arr)
{
	struct buf b = {0};
	size_t i;
	json_t *e;

	buf_puts(&b, "");
	json_array_foreach((json_t *)arr, i, e)
		buf_printf(&b, "%s%s", i ? "," : "", json_string_value(e));
	return buf_steal(&b);
}

static void test_api_lists_v1_and_the_server_address(void)
{
	json_t *v = discovery_api_versions("198.18.0.1:6443");
	_cleanup_free_ char *s = api_json_dumps(v);

	CHECK_STREQ(s, "{\"kind\":\"APIVersions\",\"versions\":[\"v1\"],"
		       "\"serverAddressByClientCIDRs\":"
		       "[{\"clientCIDR\":\"0.0.0.0/0\",\"serverAddress\":\"198.18.0.1:6443\"}]}");
	json_decref(v);
}

static void test_apis_lists_groups_in_kube_apiserver_order(void)
{
	json_t *v = discovery_group_list();
	json_t *groups = json_object_get(v, "groups");

	CHECK_STREQ(str(v, "kind"), "APIGroupList");
	CHECK_STREQ(str(v, "apiVersion"), "v1");
	json_t *apps = find_by(groups, "name", "apps");
	if (!apps) {
		json_decref(v);
		SKIP("no apps/v1 kinds in the schema yet");
	}
	CHECK_STREQ(str(json_object_get(apps, "preferredVersion"), "groupVersion"), "apps/v1");
	CHECK_STREQ(str(json_array_get(json_object_get(apps, "versions"), 0), "version"), "v1");
	CHECK(!json_object_get(apps, "kind")); /* no TypeMeta inside the list */
	CHECK(!find_by(groups, "name", "")); /* core is /api's */
	/* only apiregistration.k8s.io comes before apps */
	for (size_t i = 0; i < json_array_size(groups) && json_array_get(groups, i) != apps; i++)
		CHECK_STREQ(str(json_array_get(groups, i), "name"), "apiregistration.k8s.io");
	json_t *batch = find_by(groups, "name", "batch"), *rbac = find_by(groups, "name",
								       "rbac.authorization.k8s.io");
	if (batch && rbac) {
		size_t ib = 0, ir = 0, i;
		json_t *g;
		json_array_foreach(groups, i, g) {
			if (g == batch)
				ib = i;
			if (g == rbac)
				ir = i;
		}
		CHECK(ib < ir);
	}
	json_decref(v);
}

static void test_apis_group_is_an_apigroup_or_nothing(void)
{
	json_t *v = discovery_group("apps");

	if (!v)
		SKIP("no apps/v1 kinds in the schema yet");
	_cleanup_free_ char *s = api_json_dumps(v);
	CHECK_STREQ(s, "{\"kind\":\"APIGroup\",\"apiVersion\":\"v1\",\"name\":\"apps\","
		       "\"versions\":"
		       "[{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}],\"preferredVersion\":"
		       "{\"groupVersion\":\"apps/v1\",\"version\":\"v1\"}}");
	json_decref(v);
	CHECK(discovery_group("no.such.group") == NULL);
	CHECK(discovery_group("") == NULL);
	CHECK(discovery_group("core") == NULL);
}

static void test_core_resource_list_has_pods_and_their_subresources(void)
{
	json_t *v = discovery_resource_list("", "v1");
	json_t *res = json_object_get(v, "resources");

	CHECK(v != NULL);
	CHECK_STREQ(str(v, "kind"), "APIResourceList");
	CHECK_STREQ(str(v, "groupVersion"), "v1");
	json_t *pods = find_by(res, "name", "pods");
	if (!pods) {
		json_decref(v);
		SKIP("no Pod in the schema yet");
	}
	CHECK_STREQ(str(pods, "singularName"), "pod");
	CHECK(json_is_true(json_object_get(pods, "namespaced")));
	CHECK_STREQ(str(pods, "kind"), "Pod");
	CHECK(array_has(json_object_get(pods, "shortNames"), "po"));
	CHECK(array_has(json_object_get(pods, "categories"), "all"));
	_cleanup_free_ char *verbs = joined(json_object_get(pods, "verbs"));
	CHECK_STREQ(verbs, "create,delete,deletecollection,get,list,patch,update,watch");
	/* the hash kube-apiserver publishes for pods */
	CHECK_STREQ(str(pods, "storageVersionHash"), "xPOwRZ+Yhw8=");

	json_t *log = find_by(res, "name", "pods/log");
	CHECK(log != NULL);
	_cleanup_free_ char *lv = api_json_dumps(log);
	CHECK_STREQ(lv, "{\"name\":\"pods/log\",\"singularName\":\"\",\"namespaced\":true,"
			"\"kind\":\"Pod\",\"verbs\":[\"get\"]}");
	json_t *exec = find_by(res, "name", "pods/exec");
	if (exec) {
		CHECK_STREQ(str(exec, "kind"), "PodExecOptions");
		_cleanup_free_ char *ev = joined(json_object_get(exec, "verbs"));
		CHECK_STREQ(ev, "create,get");
	}
	json_t *eviction = find_by(res, "name", "pods/eviction");
	if (eviction) {
		CHECK_STREQ(str(eviction, "group"), "policy");
		CHECK_STREQ(str(eviction, "version"), "v1");
		CHECK_STREQ(str(eviction, "kind"), "Eviction");
	}
	json_decref(v);
}

static void test_resource_lists_are_sorted_by_name(void)
{
	const char *gvs[][2] = {
		{"", "v1"}, {"apps", "v1"}, {"batch", "v1"}, {"networking.k8s.io", "v1"},
	};

	for (size_t g = 0; g < sizeof(gvs) / sizeof(gvs[0]); g++) {
		json_t *v = discovery_resource_list(gvs[g][0], gvs[g][1]);
		json_t *res = json_object_get(v, "resources");
		for (size_t i = 1; i < json_array_size(res); i++)
			CHECK(strcmp(str(json_array_get(res, i - 1), "name"),
				     str(json_array_get(res, i), "name")) < 0);
		json_decref(v);
	}
}

static void test_scale_subresource_is_autoscaling_v1_scale(void)
{
	json_t *v = discovery_resource_list("apps", "v1");
	json_t *scale = find_by(json_object_get(v, "resources"), "name", "deployments/scale");

	if (!scale) {
		json_decref(v);
		SKIP("no Deployment in the schema yet");
	}
	_cleanup_free_ char *s = api_json_dumps(scale);
	CHECK_STREQ(s, "{\"name\":\"deployments/scale\",\"singularName\":\"\",\"namespaced\":true,"
		       "\"group\":\"autoscaling\",\"version\":\"v1\",\"kind\":\"Scale\","
		       "\"verbs\":[\"get\",\"patch\",\"update\"]}");
	json_t *dep = find_by(json_object_get(v, "resources"), "name", "deployments");
	CHECK_STREQ(str(dep, "storageVersionHash"), "8aSe+NMegvE=");
	json_decref(v);
}

static void test_every_served_kind_is_discoverable(void)
{
	for (size_t i = 0; i < sch_nkinds; i++) {
		const struct sch_kind *k = &sch_kinds[i];
		json_t *v = discovery_resource_list(k->group, k->version);
		json_t *res = json_object_get(v, "resources");
		json_t *r = find_by(res, "name", k->plural);
		CHECK(r != NULL);
		if (!r) {
			printf("#   %s/%s %s missing\n", k->group, k->version, k->plural);
			json_decref(v);
			continue;
		}
		CHECK_STREQ(str(r, "kind"), k->kind);
		CHECK_STREQ(str(r, "singularName"), k->singular);
		CHECK(json_is_true(json_object_get(r, "namespaced")) == k->namespaced);
		for (const char *const *s = k->subresources; s && *s; s++) {
			char name[256];
			snprintf(name, sizeof(name), "%s/%s", k->plural, *s);
			json_t *sub = find_by(res, "name", name);
			CHECK(sub != NULL);
			CHECK(sub && json_array_size(json_object_get(sub, "verbs")) > 0);
			CHECK(sub && !json_object_get(sub, "storageVersionHash"));
		}
		if (*k->group) {
			json_t *g = discovery_group(k->group);
			CHECK(g != NULL);
			json_decref(g);
		}
		json_decref(v);
	}
}

static void test_unknown_group_versions_have_no_resource_list(void)
{
	CHECK(discovery_resource_list("", "v2") == NULL);
	CHECK(discovery_resource_list("no.such.group", "v1") == NULL);
	CHECK(discovery_resource_list("apps", "v1beta9") == NULL);
}

static void test_aggregated_legacy_discovery_has_one_unnamed_group(void)
{
	json_t *v = discovery_aggregated(true);
	json_t *items = json_object_get(v, "items");

	CHECK_STREQ(str(v, "kind"), "APIGroupDiscoveryList");
	CHECK_STREQ(str(v, "apiVersion"), "apidiscovery.k8s.io/v2");
	CHECK(json_is_object(json_object_get(v, "metadata")));
	CHECK_INT(json_array_size(items), 1);
	json_t *item = json_array_get(items, 0);
	_cleanup_free_ char *meta = api_json_dumps(json_object_get(item, "metadata"));
	CHECK_STREQ(meta, "{\"creationTimestamp\":null}");
	json_t *ver = json_array_get(json_object_get(item, "versions"), 0);
	CHECK_STREQ(str(ver, "version"), "v1");
	CHECK_STREQ(str(ver, "freshness"), "Current");

	json_t *pods = find_by(json_object_get(ver, "resources"), "resource", "pods");
	if (!pods) {
		json_decref(v);
		SKIP("no Pod in the schema yet");
	}
	_cleanup_free_ char *rk = api_json_dumps(json_object_get(pods, "responseKind"));
	CHECK_STREQ(rk, "{\"group\":\"\",\"version\":\"\",\"kind\":\"Pod\"}");
	CHECK_STREQ(str(pods, "scope"), "Namespaced");
	CHECK_STREQ(str(pods, "singularResource"), "pod");
	CHECK(array_has(json_object_get(pods, "shortNames"), "po"));
	json_t *log = find_by(json_object_get(pods, "subresources"), "subresource", "log");
	_cleanup_free_ char *ls = api_json_dumps(log);
	CHECK_STREQ(ls, "{\"subresource\":\"log\",\"responseKind\":{\"group\":\"\","
			"\"version\":\"\","
			"\"kind\":\"Pod\"},\"verbs\":[\"get\"]}");
	/* subresources are not resources of their own here */
	CHECK(!find_by(json_object_get(ver, "resources"), "resource", "pods/log"));
	json_decref(v);
}

static void test_aggregated_discovery_folds_scale_into_deployments(void)
{
	json_t *v = discovery_aggregated(false);
	json_t *list = discovery_group_list();
	json_t *items = json_object_get(v, "items"), *groups = json_object_get(list, "groups");

	CHECK_INT(json_array_size(items), json_array_size(groups));
	for (size_t i = 0; i < json_array_size(items) && i < json_array_size(groups); i++)
		CHECK_STREQ(str(json_object_get(json_array_get(items, i), "metadata"), "name"),
			    str(json_array_get(groups, i), "name"));
	json_t *apps = NULL;
	size_t i;
	json_t *e;
	json_array_foreach(items, i, e)
		if (streq(str(json_object_get(e, "metadata"), "name"), "apps"))
			apps = e;
	if (!apps) {
		json_decref(v);
		json_decref(list);
		SKIP("no apps/v1 kinds in the schema yet");
	}
	json_t *ver = json_array_get(json_object_get(apps, "versions"), 0);
	json_t *dep = find_by(json_object_get(ver, "resources"), "resource", "deployments");
	CHECK(dep != NULL);
	json_t *scale = find_by(json_object_get(dep, "subresources"), "subresource", "scale");
	_cleanup_free_ char *rk = api_json_dumps(json_object_get(scale, "responseKind"));
	CHECK_STREQ(rk, "{\"group\":\"autoscaling\",\"version\":\"v1\",\"kind\":\"Scale\"}");
	CHECK(array_has(json_object_get(dep, "categories"), "all"));
	json_decref(v);
	json_decref(list);
}

int main(void)
{
	RUN(test_api_lists_v1_and_the_server_address);
	RUN(test_apis_lists_groups_in_kube_apiserver_order);
	RUN(test_apis_group_is_an_apigroup_or_nothing);
	RUN(test_core_resource_list_has_pods_and_their_subresources);
	RUN(test_resource_lists_are_sorted_by_name);
	RUN(test_scale_subresource_is_autoscaling_v1_scale);
	RUN(test_every_served_kind_is_discoverable);
	RUN(test_unknown_group_versions_have_no_resource_list);
	RUN(test_aggregated_legacy_discovery_has_one_unnamed_group);
	RUN(test_aggregated_discovery_folds_scale_into_deployments);
	return tap_done();
}
