/* The apiserver's request parsing: which object and verb a URL names. */
#include "apiserver/request.h"

#include "tap.h"

static struct api_request parse_ok(const char *method, const char *path, const char *query)
{
	struct api_request r;
	char *err = NULL;
	int e = api_request_parse(method, path, query, &r, &err);
	if (e != 0)
		printf("# %s %s?%s: %d %s\n", method, path, query, e, err ? err : "");
	free(err);
	return r;
}

#define S(x) ((x) ? (x) : "(null)")

static void test_namespaced_paths_split_into_parts(void)
{
	struct api_request r = parse_ok("GET", "/api/v1/namespaces/default/pods/web-1/log", "");
	CHECK_INT(r.kind, PATH_RESOURCE);
	CHECK_STREQ(r.group, "");
	CHECK_STREQ(r.version, "v1");
	CHECK_STREQ(r.namespace, "default");
	CHECK_STREQ(r.resource, "pods");
	CHECK_STREQ(r.name, "web-1");
	CHECK_STREQ(r.subresource, "log");
	CHECK_INT(r.verb, VERB_GET);
	api_request_clear(&r);
	r = parse_ok("POST", "/apis/apps/v1/namespaces/prod/deployments", "fieldManager=kubectl-create&fieldValidation=Strict");
	CHECK_STREQ(r.group, "apps");
	CHECK_STREQ(r.resource, "deployments");
	CHECK(r.name == NULL);
	CHECK_INT(r.verb, VERB_CREATE);
	CHECK_STREQ(r.field_manager, "kubectl-create");
	CHECK_STREQ(r.field_validation, "Strict");
	api_request_clear(&r);
}

static void test_namespace_objects_and_their_subresources(void)
{
	struct api_request r = parse_ok("GET", "/api/v1/namespaces/kube-system", "");
	CHECK_STREQ(r.resource, "namespaces");
	CHECK_STREQ(r.name, "kube-system");
	CHECK(r.namespace == NULL);
	api_request_clear(&r);
	r = parse_ok("PUT", "/api/v1/namespaces/gone/finalize", "");
	CHECK_STREQ(r.resource, "namespaces");
	CHECK_STREQ(r.name, "gone");
	CHECK_STREQ(r.subresource, "finalize");
	CHECK_INT(r.verb, VERB_UPDATE);
	api_request_clear(&r);
	r = parse_ok("GET", "/api/v1/namespaces", "limit=500");
	CHECK_INT(r.verb, VERB_LIST);
	CHECK_INT(r.limit, 500);
	api_request_clear(&r);
}

static void test_watches_in_both_forms(void)
{
	struct api_request r = parse_ok("GET", "/api/v1/namespaces/default/pods", "watch=True&resourceVersion=42&allowWatchBookmarks=true&timeoutSeconds=511");
	CHECK_INT(r.verb, VERB_WATCH);
	CHECK_STREQ(r.resource_version, "42");
	CHECK(r.allow_watch_bookmarks);
	CHECK(r.has_timeout && r.timeout_seconds == 511);
	api_request_clear(&r);
	r = parse_ok("GET", "/api/v1/watch/namespaces/default/pods/x", "");
	CHECK_INT(r.verb, VERB_WATCH);
	CHECK_STREQ(r.name, "x");
	api_request_clear(&r);
}

static void test_selectors_and_options_are_decoded(void)
{
	struct api_request r = parse_ok("DELETE", "/api/v1/namespaces/d/pods",
					"labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29&fieldSelector=spec.nodeName%3Dn1"
					"&dryRun=All&gracePeriodSeconds=0&propagationPolicy=Foreground");
	CHECK_INT(r.verb, VERB_DELETECOLLECTION);
	CHECK_STREQ(r.label_selector, "app=web,tier in (a,b)");
	CHECK_STREQ(r.field_selector, "spec.nodeName=n1");
	CHECK(r.dry_run);
	CHECK(r.has_grace_period && r.grace_period_seconds == 0);
	CHECK_STREQ(r.propagation_policy, "Foreground");
	api_request_clear(&r);
}

static void test_discovery_paths(void)
{
	struct api_request r = parse_ok("GET", "/api", "");
	CHECK_INT(r.kind, PATH_API_ROOT);
	api_request_clear(&r);
	r = parse_ok("GET", "/apis/", "");
	CHECK_INT(r.kind, PATH_APIS_ROOT);
	api_request_clear(&r);
	r = parse_ok("GET", "/apis/apps", "");
	CHECK_INT(r.kind, PATH_GROUP);
	api_request_clear(&r);
	r = parse_ok("GET", "/apis/apps/v1", "");
	CHECK_INT(r.kind, PATH_GROUP_VERSION);
	CHECK_STREQ(r.version, "v1");
	api_request_clear(&r);
}

static void test_bad_requests_are_refused_clearly(void)
{
	struct api_request r;
	char *err = NULL;

	CHECK_INT(api_request_parse("GET", "/healthz", "", &r, &err), -ENOENT);
	CHECK_INT(api_request_parse("GET", "/api/v1/namespaces/d/pods/a/b/c", "", &r, &err), -ENOENT);
	CHECK_INT(api_request_parse("GET", "/api/v1/namespaces/d/pods/%2e%2e", "", &r, &err), -EINVAL);
	CHECK(err && strstr(err, "may not be .."));
	free(err);
	err = NULL;
	CHECK_INT(api_request_parse("GET", "/api/v1/pods", "watch=maybe", &r, &err), -EINVAL);
	CHECK_STREQ(err, "watch: strconv.ParseBool: parsing \"maybe\": invalid syntax");
	free(err);
	err = NULL;
	CHECK_INT(api_request_parse("GET", "/api/v1/pods", "limit=ten", &r, &err), -EINVAL);
	free(err);
	err = NULL;
	CHECK_INT(api_request_parse("POST", "/api/v1/namespaces/d/pods", "dryRun=Some", &r, &err), -EINVAL);
	CHECK_STREQ(err, "Invalid dry run value: \"Some\"");
	free(err);
	err = NULL;
	CHECK_INT(api_request_parse("GET", "/api/v1/pods/%zz", "", &r, &err), -ENOENT);
}

static void test_go_parse_bool(void)
{
	bool b;
	const char *yes[] = {"1", "t", "T", "TRUE", "true", "True"};
	const char *no[] = {"0", "f", "F", "FALSE", "false", "False"};
	for (size_t i = 0; i < 6; i++) {
		CHECK(api_parse_bool(yes[i], &b) == 0 && b);
		CHECK(api_parse_bool(no[i], &b) == 0 && !b);
	}
	CHECK(api_parse_bool("yes", &b) < 0);
	CHECK(api_parse_bool("tRUE", &b) < 0);
	CHECK(api_parse_bool("", &b) < 0);
}

int main(void)
{
	RUN(test_namespaced_paths_split_into_parts);
	RUN(test_namespace_objects_and_their_subresources);
	RUN(test_watches_in_both_forms);
	RUN(test_selectors_and_options_are_decoded);
	RUN(test_discovery_paths);
	RUN(test_bad_requests_are_refused_clearly);
	RUN(test_go_parse_bool);
	return tap_done();
}
