/* Server-side apply and field ownership: managedFields as kube-apiserver
 * writes them, conflicts and their 409, force, removal of fields a manager
 * stops applying, kubectl's move from client-side to server-side apply, and
 * the ownership Update operations record. Most cases use the test kind
 * patchtest/v1 Widget (tests/unit/fixtures/patch_test.types). */
#include "apiserver/patch/patch.h"

#include "api/api.h"
#include "tap.h"

#define T0 ((int64_t)1700000000 * 1000000000) /* 2023-11-14T22:13:20Z */
#define T1 (T0 + (int64_t)60 * 1000000000)    /* a minute later */
#define T0S "2023-11-14T22:13:20Z"
#define T1S "2023-11-14T22:14:20Z"

static json_t *J(const char *s)
{
	json_t *v = NULL;
	char *err = NULL;
	if (api_json_parse(s, strlen(s), 0, &v, &err) < 0) {
		printf("# bad test JSON: %s: %s\n", s, err);
		free(err);
		abort();
	}
	return v;
}

/* The compact JSON of v equals want. */
#define CHECK_DUMP(v, want)                                            \
	do {                                                           \
		char *s_ = (v) ? api_json_dumps(v) : strdup("(null)"); \
		CHECK_STREQ(s_, want);                                 \
		free(s_);                                              \
	} while (0)

static const struct sch_type *widget(void)
{
	const struct sch_kind *k = sch_kind_by_name("patchtest", "v1", "Widget");
	return k ? k->type : NULL;
}

#define NEED_WIDGET(t)                       \
	const struct sch_type *t = widget(); \
	if (!t)                              \
	SKIP("test schema patchtest/v1 not built in")

static const char *const config =
	"{\"apiVersion\":\"patchtest/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\","
	"\"namespace\":\"default\",\"labels\":{\"app\":\"w\"}},\"spec\":{\"replicas\":2,"
	"\"selector\":{\"matchLabels\":{\"app\":\"w\"}},\"template\":{\"metadata\":{\"labels\":"
	"{\"app\":\"w\"}},\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1\","
	"\"ports\":[{\"containerPort\":80}]}]}}}}";

/* config with one change: a JSON merge patch of it. */
static json_t *config_with(const char *change)
{
	json_t *c = J(config), *p = J(change), *out = NULL;
	if (patch_merge(c, p, &out, NULL) < 0)
		abort();
	json_decref(c);
	json_decref(p);
	return out;
}

/* A stored object: obj as an Update by manager created it. */
static json_t *created_by(const struct sch_type *t, json_t *obj, const char *manager)
{
	api_meta_set_uid(obj, "6b7a4e2e-0000-4000-8000-000000000001");
	patch_record_update(t, NULL, obj, manager, NULL, T0);
	return obj;
}

struct result {
	int err;
	json_t *obj;
	json_t *conflict;
	char *msg;
};

static struct result apply(const struct sch_type *t, const json_t *live, json_t *applied,
			   const char *manager, bool force, int64_t now)
{
	struct result r = {0};
	r.err = patch_apply(t, live, applied, manager, NULL, force, now, &r.obj, &r.conflict,
			    &r.msg);
	json_decref(applied);
	return r;
}

static void result_free(struct result *r)
{
	json_decref(r->obj);
	json_decref(r->conflict);
	free(r->msg);
}

/* The managedFields entry of manager (NULL: none). */
static json_t *entry(const json_t *obj, const char *manager)
{
	size_t i;
	json_t *e;
	json_array_foreach(api_get_array(obj, "metadata.managedFields"), i, e)
		if (streq(api_get_str(e, "manager"), manager))
			return e;
	return NULL;
}

static void test_apply_creates_with_the_fields_the_config_sets(void)
{
	NEED_WIDGET(t);
	struct result r = apply(t, NULL, J(config), "kubectl", false, T0);
	CHECK_INT(r.err, 0);
	CHECK_INT(api_get_int(r.obj, "spec.replicas", &(int64_t){0}), 0);
	CHECK_INT(json_array_size(api_get_array(r.obj, "metadata.managedFields")), 1);
	CHECK_DUMP(
		json_array_get(api_get_array(r.obj, "metadata.managedFields"), 0),
		"{\"manager\":\"kubectl\",\"operation\":\"Apply\",\"apiVersion\":\"patchtest/v1\","
		"\"time\":\"" T0S "\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":"
		"{\"f:labels\":{\"f:app\":{}}},\"f:spec\":{\"f:replicas\":{},\"f:selector\":{},"
		"\"f:template\":{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},\"f:spec\":"
		"{\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":{},\"f:image\":{},"
		"\"f:name\":{},\"f:ports\":{\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":"
		"\\\"TCP\\\"}\":{\".\":{},\"f:containerPort\":{}}}}}}}}}}");
	result_free(&r);
}

static void test_update_on_create_owns_everything_it_set(void)
{
	NEED_WIDGET(t);
	json_t *obj = created_by(t, J(config), "kubectl-create");
	/* as kubectl create's ownership shows: maps and optional lists own
	 * themselves ("."), the structs every object carries do not */
	CHECK_DUMP(entry(obj, "kubectl-create"),
		   "{\"manager\":\"kubectl-create\",\"operation\":\"Update\",\"apiVersion\":"
		   "\"patchtest/v1\",\"time\":\"" T0S "\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"
		   "{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}},\"f:spec\":{\"f:"
		   "replicas\":{},"
		   "\"f:selector\":{},\"f:template\":{\"f:metadata\":{\"f:labels\":{\".\":{},"
		   "\"f:app\":{}}},\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":"
		   "{\".\":{},\"f:image\":{},\"f:name\":{},\"f:ports\":{\".\":{},"
		   "\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},"
		   "\"f:containerPort\":{}}}}}}}}}}");
	json_decref(obj);
}

static void test_apply_conflicts_with_an_update_manager(void)
{
	NEED_WIDGET(t);
	json_t *live = created_by(t, J(config), "kubectl-create");
	struct result r =
		apply(t, live, config_with("{\"spec\":{\"replicas\":3}}"), "ci", false, T1);
	CHECK_INT(r.err, -EBUSY);
	CHECK(!r.obj);
	CHECK_DUMP(
		r.conflict,
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
		"\"message\":\"Apply failed with 1 conflict: conflict with \\\"kubectl-create\\\" "
		"using patchtest/v1: .spec.replicas\",\"reason\":\"Conflict\",\"details\":"
		"{\"causes\":[{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with "
		"\\\"kubectl-create\\\" using patchtest/v1\",\"field\":\".spec.replicas\"}]},"
		"\"code\":409}");
	CHECK_STREQ(r.msg, "Apply failed with 1 conflict: conflict with \"kubectl-create\" using "
			   "patchtest/v1: .spec.replicas");
	result_free(&r);
	json_decref(live);
}

static void test_apply_lists_every_conflict_by_manager(void)
{
	NEED_WIDGET(t);
	json_t *live = created_by(t, J(config), "kubectl-create");
	struct result a =
		apply(t, live,
		      J("{\"apiVersion\":\"patchtest/v1\",\"kind\":\"Widget\",\"metadata\":"
			"{\"name\":\"w\"},\"spec\":{\"paused\":true}}"),
		      "tool", false, T0);
	CHECK_INT(a.err, 0);
	struct result r =
		apply(t, a.obj,
		      config_with("{\"spec\":{\"replicas\":3,\"paused\":false,\"template\":"
				  "{\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":"
				  "\"nginx:2\",\"ports\":[{\"containerPort\":80}]}]}}}}"),
		      "ci", false, T1);
	CHECK_INT(r.err, -EBUSY);
	CHECK_STREQ(
		api_get_str(r.conflict, "message"),
		"Apply failed with 3 conflicts: conflicts with \"kubectl-create\" using "
		"patchtest/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"]"
		".image\nconflicts with \"tool\":\n- .spec.paused");
	CHECK_INT(json_array_size(api_get_array(r.conflict, "details.causes")), 3);
	result_free(&r);
	result_free(&a);
	json_decref(live);
}

static void test_apply_same_value_shares_ownership(void)
{
	NEED_WIDGET(t);
	json_t *live = created_by(t, J(config), "kubectl-create");
	struct result r = apply(t, live, J(config), "ci", false, T1);
	CHECK_INT(r.err, 0);
	/* both own spec.replicas now */
	CHECK(api_get(entry(r.obj, "ci"), "fieldsV1.f:spec.f:replicas") != NULL);
	CHECK(api_get(entry(r.obj, "kubectl-create"), "fieldsV1.f:spec.f:replicas") != NULL);
	result_free(&r);
	json_decref(live);
}

static void test_apply_force_takes_ownership(void)
{
	NEED_WIDGET(t);
	json_t *live = created_by(t, J(config), "kubectl-create");
	struct result r =
		apply(t, live, config_with("{\"spec\":{\"replicas\":3}}"), "ci", true, T1);
	CHECK_INT(r.err, 0);
	int64_t n = 0;
	CHECK_INT(api_get_int(r.obj, "spec.replicas", &n), 0);
	CHECK_INT(n, 3);
	CHECK(api_get(entry(r.obj, "ci"), "fieldsV1.f:spec.f:replicas") != NULL);
	CHECK(api_get(entry(r.obj, "kubectl-create"), "fieldsV1.f:spec.f:replicas") == NULL);
	CHECK(api_get(entry(r.obj, "kubectl-create"), "fieldsV1.f:spec.f:selector") != NULL);
	CHECK_STREQ(api_get_str(entry(r.obj, "ci"), "time"), T1S);
	result_free(&r);
	json_decref(live);
}

static void test_apply_conflicts_between_appliers_name_no_version(void)
{
	NEED_WIDGET(t);
	struct result a = apply(t, NULL, J(config), "alice", false, T0);
	struct result b =
		apply(t, a.obj, config_with("{\"spec\":{\"replicas\":5}}"), "bob", false, T1);
	CHECK_INT(b.err, -EBUSY);
	CHECK_STREQ(api_get_str(b.conflict, "message"),
		    "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas");
	result_free(&a);
	result_free(&b);
}

static void test_apply_removes_fields_it_no_longer_sets(void)
{
	NEED_WIDGET(t);
	struct result a = apply(t, NULL,
				config_with("{\"metadata\":{\"labels\":{\"b\":\"2\"}},"
					    "\"spec\":{\"tags\":[\"x\",\"y\"]}}"),
				"alice", false, T0);
	CHECK_INT(a.err, 0);
	/* bob applies label b too, with the same value: he co-owns it */
	struct result b =
		apply(t, a.obj,
		      J("{\"apiVersion\":\"patchtest/v1\",\"kind\":\"Widget\",\"metadata\":"
			"{\"name\":\"w\",\"labels\":{\"b\":\"2\"}}}"),
		      "bob", false, T0);
	CHECK_INT(b.err, 0);
	/* alice drops label b, tag y and replicas */
	struct result c =
		apply(t, b.obj, config_with("{\"spec\":{\"replicas\":null,\"tags\":[\"x\"]}}"),
		      "alice", false, T1);
	CHECK_INT(c.err, 0);
	CHECK_STREQ(api_meta_label(c.obj, "b"), "2"); /* bob still owns it */
	CHECK_STREQ(api_meta_label(c.obj, "app"), "w");
	CHECK(!api_get(c.obj, "spec.replicas"));
	CHECK_DUMP(api_get(c.obj, "spec.tags"), "[\"x\"]");
	result_free(&a);
	result_free(&b);
	result_free(&c);
}

static void test_apply_merges_list_items_others_added(void)
{
	NEED_WIDGET(t);
	struct result a = apply(t, NULL, J(config), "alice", false, T0);
	/* a webhook-like manager adds a sidecar through an update */
	json_t *upd = json_deep_copy(a.obj);
	json_array_append_new(api_get_array(upd, "spec.template.spec.containers"),
			      J("{\"name\":\"sidecar\",\"image\":\"envoy\"}"));
	patch_record_update(t, a.obj, upd, "injector", NULL, T0);
	struct result b =
		apply(t, upd,
		      config_with("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":"
				  "\"web\",\"image\":\"nginx:2\",\"ports\":[{\"containerPort\""
				  ":80}]}]}}}}"),
		      "alice", false, T1);
	CHECK_INT(b.err, 0);
	json_t *cs = api_get_array(b.obj, "spec.template.spec.containers");
	CHECK_INT(json_array_size(cs), 2);
	CHECK_STREQ(api_get_str(json_array_get(cs, 0), "image"), "nginx:2");
	CHECK_STREQ(api_get_str(json_array_get(cs, 1), "name"), "sidecar");
	CHECK(entry(b.obj, "injector") != NULL);
	result_free(&a);
	result_free(&b);
	json_decref(upd);
}

static void test_apply_sets_union_and_atomic_lists_conflict(void)
{
	NEED_WIDGET(t);
	struct result a =
		apply(t, NULL, config_with("{\"spec\":{\"tags\":[\"a\",\"b\"],\"args\":[\"x\"]}}"),
		      "alice", false, T0);
	struct result b =
		apply(t, a.obj,
		      J("{\"apiVersion\":\"patchtest/v1\",\"kind\":\"Widget\",\"metadata\":"
			"{\"name\":\"w\"},\"spec\":{\"tags\":[\"c\"]}}"),
		      "bob", false, T1);
	CHECK_INT(b.err, 0);
	CHECK_DUMP(api_get(b.obj, "spec.tags"), "[\"a\",\"b\",\"c\"]");
	CHECK_DUMP(api_get(entry(b.obj, "bob"), "fieldsV1"),
		   "{\"f:spec\":{\"f:tags\":{\"v:\\\"c\\\"\":{}}}}");
	struct result c =
		apply(t, b.obj,
		      J("{\"apiVersion\":\"patchtest/v1\",\"kind\":\"Widget\",\"metadata\":"
			"{\"name\":\"w\"},\"spec\":{\"args\":[\"y\"]}}"),
		      "bob", false, T1);
	CHECK_INT(c.err, -EBUSY);
	CHECK_STREQ(api_get_str(c.conflict, "message"),
		    "Apply failed with 1 conflict: conflict with \"alice\": .spec.args");
	result_free(&a);
	result_free(&b);
	result_free(&c);
}

static void test_apply_rejects_another_kind_and_managed_fields(void)
{
	NEED_WIDGET(t);
	struct result r = apply(t, NULL, config_with("{\"kind\":\"Gadget\"}"), "a", false, T0);
	CHECK_INT(r.err, -EINVAL);
	CHECK_STREQ(r.msg, "invalid object type: patchtest/v1, Kind=Gadget");
	result_free(&r);
	r = apply(t, NULL, config_with("{\"apiVersion\":null}"), "a", false, T0);
	CHECK_STREQ(r.msg, "invalid object type: /, Kind=Widget");
	result_free(&r);
	r = apply(t, NULL, config_with("{\"metadata\":{\"managedFields\":[]}}"), "a", false, T0);
	CHECK_INT(r.err, -EINVAL);
	CHECK_STREQ(r.msg, "metadata.managedFields must be nil");
	json_t *st = patch_error_status(r.err, r.msg);
	CHECK_INT(api_status_code(st), 400);
	json_decref(st);
	result_free(&r);
}

static void test_apply_rejects_duplicate_and_keyless_list_items(void)
{
	NEED_WIDGET(t);
	struct result r =
		apply(t, NULL,
		      config_with("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":"
				  "\"web\"},{\"name\":\"web\"}]}}}}"),
		      "a", false, T0);
	CHECK_INT(r.err, -EPROTO);
	CHECK_STREQ(r.msg,
		    "failed to create typed patch object (default/w; patchtest/v1, "
		    "Kind=Widget): .spec.template.spec.containers: duplicate entries for key "
		    "[name=\"web\"]");
	result_free(&r);
	r = apply(t, NULL,
		  config_with(
			  "{\"spec\":{\"tags\":[\"a\",\"a\"],\"template\":{\"spec\":{\"containers\""
			  ":[{\"image\":\"x\"}]}}}}"),
		  "a", false, T0);
	CHECK_STREQ(r.msg,
		    "failed to create typed patch object (default/w; patchtest/v1, "
		    "Kind=Widget): errors:\n  .spec.template.spec.containers: element 0: "
		    "associative list with keys has an element that omits key field \"name\" "
		    "(and doesn't have default value)\n  .spec.tags: duplicate entries for key "
		    "[=\"a\"]");
	json_t *st = patch_error_status(r.err, r.msg);
	CHECK_INT(api_status_code(st), 500);
	json_decref(st);
	result_free(&r);
}

static void test_apply_does_not_own_status_through_the_object(void)
{
	NEED_WIDGET(t);
	struct result r =
		apply(t, NULL, config_with("{\"status\":{\"replicas\":9}}"), "a", false, T0);
	CHECK_INT(r.err, 0);
	CHECK(api_get(entry(r.obj, "a"), "fieldsV1.f:status") == NULL);
	result_free(&r);
}

static void test_apply_that_changes_nothing_keeps_the_time(void)
{
	NEED_WIDGET(t);
	struct result a = apply(t, NULL, J(config), "alice", false, T0);
	struct result b = apply(t, a.obj, J(config), "alice", false, T1);
	CHECK_INT(b.err, 0);
	CHECK_STREQ(api_get_str(entry(b.obj, "alice"), "time"), T0S);
	CHECK(json_equal(a.obj, b.obj));
	result_free(&a);
	result_free(&b);
}

static void test_apply_to_an_untracked_object_names_before_first_apply(void)
{
	NEED_WIDGET(t);
	json_t *live = J(config);
	api_meta_set_uid(live, "u1");
	struct result r =
		apply(t, live, config_with("{\"spec\":{\"replicas\":4}}"), "alice", false, T1);
	CHECK_INT(r.err, -EBUSY);
	CHECK_STREQ(api_get_str(r.conflict, "message"),
		    "Apply failed with 1 conflict: conflict with \"before-first-apply\" using "
		    "patchtest/v1: .spec.replicas");
	result_free(&r);
	r = apply(t, live, J(config), "alice", false, T1);
	CHECK_INT(r.err, 0);
	CHECK(entry(r.obj, "before-first-apply") != NULL);
	CHECK(entry(r.obj, "alice") != NULL);
	result_free(&r);
	json_decref(live);
}

static void test_kubectl_moves_from_client_side_to_server_side_apply(void)
{
	NEED_WIDGET(t);
	/* kubectl apply (client-side) created it, with its annotation */
	json_t *live = J(config);
	_cleanup_free_ char *last = api_json_dumps(live);
	api_meta_set_annotation(live, "kubectl.kubernetes.io/last-applied-configuration", last);
	created_by(t, live, "kubectl-client-side-apply");

	/* another manager gets the same error kubectl would without the annotation */
	struct result r =
		apply(t, live, config_with("{\"spec\":{\"replicas\":3}}"), "helm", false, T1);
	CHECK_INT(r.err, -EBUSY);
	CHECK_STREQ(
		api_get_str(r.conflict, "message"),
		"Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using "
		"patchtest/v1: .spec.replicas");
	result_free(&r);

	/* kubectl apply --server-side takes over what it applied before */
	r = apply(t, live, config_with("{\"spec\":{\"replicas\":3}}"), "kubectl", false, T1);
	CHECK_INT(r.err, 0);
	int64_t n = 0;
	api_get_int(r.obj, "spec.replicas", &n);
	CHECK_INT(n, 3);
	CHECK_STREQ(api_get_str(entry(r.obj, "kubectl"), "operation"), "Apply");
	CHECK(api_get(entry(r.obj, "kubectl-client-side-apply"), "fieldsV1.f:spec.f:replicas") ==
	      NULL);
	/* and keeps the annotation current for client-side apply */
	json_t *want = config_with("{\"spec\":{\"replicas\":3}}");
	const char *got =
		api_meta_annotation(r.obj, "kubectl.kubernetes.io/last-applied-configuration");
	CHECK(got && got[strlen(got) - 1] == '\n');
	json_t *got_j = got ? J(got) : NULL;
	CHECK(got_j && json_equal(got_j, want));
	static const char sorted[] =
		"{\"apiVersion\":\"patchtest/v1\",\"kind\":\"Widget\",\"metadata\"";
	CHECK(got && !strncmp(got, sorted, strlen(sorted)));
	json_decref(got_j);
	json_decref(want);
	result_free(&r);

	/* a change kubectl never applied is still a conflict */
	json_t *edited = json_deep_copy(live);
	json_object_set_new(api_get_object(edited, "spec"), "paused", json_true());
	patch_record_update(t, live, edited, "kubectl-edit", NULL, T1);
	r = apply(t, edited, config_with("{\"spec\":{\"paused\":false}}"), "kubectl", false, T1);
	CHECK_INT(r.err, -EBUSY);
	CHECK_STREQ(api_get_str(r.conflict, "message"),
		    "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using "
		    "patchtest/v1: .spec.paused");
	result_free(&r);
	json_decref(edited);
	json_decref(live);
}

static void test_update_moves_changed_fields_to_the_updater(void)
{
	NEED_WIDGET(t);
	json_t *live = created_by(t, J(config), "kubectl-create");
	json_t *obj = json_deep_copy(live);
	json_object_set_new(api_get_object(obj, "spec"), "replicas", json_integer(5));
	api_meta_set_label(obj, "tier", "web");
	patch_record_update(t, live, obj, "kubectl-scale", NULL, T1);
	CHECK_DUMP(
		api_get(entry(obj, "kubectl-scale"), "fieldsV1"),
		"{\"f:metadata\":{\"f:labels\":{\"f:tier\":{}}},\"f:spec\":{\"f:replicas\":{}}}");
	CHECK_STREQ(api_get_str(entry(obj, "kubectl-scale"), "time"), T1S);
	CHECK(api_get(entry(obj, "kubectl-create"), "fieldsV1.f:spec.f:replicas") == NULL);
	CHECK_STREQ(api_get_str(entry(obj, "kubectl-create"), "time"), T0S);
	/* entries sort by operation, then time */
	CHECK_STREQ(api_get_str(json_array_get(api_get_array(obj, "metadata.managedFields"), 0),
				"manager"),
		    "kubectl-create");
	json_decref(obj);
	json_decref(live);
}

static void test_update_through_status_records_the_subresource(void)
{
	NEED_WIDGET(t);
	json_t *live = created_by(t, J(config), "kubectl-create");
	json_t *obj = json_deep_copy(live);
	json_object_set_new(obj, "status", J("{\"replicas\":2}"));
	patch_record_update(t, live, obj, "controller", "status", T1);
	CHECK_DUMP(entry(obj, "controller"),
		   "{\"manager\":\"controller\",\"operation\":\"Update\",\"apiVersion\":"
		   "\"patchtest/v1\","
		   "\"time\":\"" T1S "\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:status\":"
		   "{\"f:replicas\":{}}},\"subresource\":\"status\"}");
	json_decref(obj);
	json_decref(live);
}

static void test_update_keeps_untracked_objects_untracked(void)
{
	NEED_WIDGET(t);
	json_t *live = J(config);
	api_meta_set_uid(live, "u1");
	json_t *obj = json_deep_copy(live);
	api_meta_set_label(obj, "x", "y");
	patch_record_update(t, live, obj, "someone", NULL, T1);
	CHECK(!api_get(obj, "metadata.managedFields"));
	json_decref(obj);

	/* managedFields: [] from the client resets tracking */
	json_t *tracked = created_by(t, J(config), "kubectl-create");
	obj = json_deep_copy(tracked);
	api_set(obj, "metadata.managedFields", json_array());
	patch_record_update(t, tracked, obj, "someone", NULL, T1);
	CHECK(!api_get(obj, "metadata.managedFields"));
	json_decref(obj);
	json_decref(tracked);
	json_decref(live);
}

static void test_update_leaves_other_entries_as_they_were(void)
{
	NEED_WIDGET(t);
	json_t *live = created_by(t, J(config), "kubectl-create");
	json_t *mf = api_get_array(live, "metadata.managedFields");
	json_array_append_new(
		mf, J("{\"manager\":\"old\",\"operation\":\"Update\",\"apiVersion\":"
		      "\"patchtest/v1\",\"time\":\"2020-01-01T00:00:00Z\",\"fieldsType\":"
		      "\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\"f:tags\":{\"v:\\\"a\\\"\":{}}}}}"));
	json_object_set_new(api_get_object(live, "spec"), "tags", J("[\"a\"]"));
	json_t *obj = json_deep_copy(live);
	api_meta_set_label(obj, "x", "y");
	patch_record_update(t, live, obj, "labeler", NULL, T1);
	CHECK_DUMP(json_array_get(api_get_array(obj, "metadata.managedFields"), 0),
		   "{\"manager\":\"old\",\"operation\":\"Update\",\"apiVersion\":\"patchtest/v1\","
		   "\"time\":\"2020-01-01T00:00:00Z\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":"
		   "{\"f:spec\":{\"f:tags\":{\"v:\\\"a\\\"\":{}}}}}");
	CHECK_INT(json_array_size(api_get_array(obj, "metadata.managedFields")), 3);
	json_decref(obj);
	json_decref(live);
}

static void test_update_managers_beyond_ten_become_ancient_changes(void)
{
	NEED_WIDGET(t);
	json_t *obj = created_by(t, J(config), "m0");
	for (int i = 1; i <= 10; i++) {
		char name[8], key[8];
		snprintf(name, sizeof(name), "m%d", i);
		snprintf(key, sizeof(key), "k%d", i);
		json_t *next = json_deep_copy(obj);
		api_meta_set_label(next, key, "v");
		patch_record_update(t, obj, next, name, NULL, T0 + (int64_t)i * 1000000000);
		json_decref(obj);
		obj = next;
	}
	CHECK_INT(json_array_size(api_get_array(obj, "metadata.managedFields")), 10);
	CHECK(entry(obj, "m0") == NULL);
	CHECK(entry(obj, "m1") == NULL);
	json_t *a = entry(obj, "ancient-changes");
	CHECK(a != NULL);
	CHECK(api_get(a, "fieldsV1.f:metadata.f:labels.f:k1") != NULL);
	CHECK(api_get(a, "fieldsV1.f:spec.f:replicas") != NULL);
	CHECK(entry(obj, "m10") != NULL);
	json_decref(obj);
}

static void test_manager_name_defaults_to_the_user_agent(void)
{
	char *s = patch_manager_name(NULL, "kubectl/v1.32.4 (linux/amd64) kubernetes/59526cd");
	CHECK_STREQ(s, "kubectl");
	free(s);
	s = patch_manager_name("helm", "Go-http-client/2.0");
	CHECK_STREQ(s, "helm");
	free(s);
	s = patch_manager_name("", "tab\there/1");
	CHECK_STREQ(s, "tabhere");
	free(s);
}

static void test_apply_to_a_deployment_after_client_side_apply(void)
{
	const struct sch_kind *k = sch_kind_by_name("apps", "v1", "Deployment");
	if (!k)
		SKIP("apps/v1 Deployment not in the schema yet");
	const char *dep =
		"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":"
		"\"web\",\"namespace\":\"default\"},\"spec\":{\"replicas\":2,\"selector\":"
		"{\"matchLabels\":{\"app\":\"web\"}},\"template\":{\"metadata\":{\"labels\":"
		"{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":"
		"\"nginx\",\"ports\":[{\"containerPort\":80}]}]}}}}";
	json_t *live = J(dep);
	_cleanup_free_ char *last = api_json_dumps(live);
	api_meta_set_annotation(live, "kubectl.kubernetes.io/last-applied-configuration", last);
	api_meta_set_uid(live, "u1");
	patch_record_update(k->type, NULL, live, "kubectl-client-side-apply", NULL, T0);
	json_t *cfg = J(dep), *p = J("{\"spec\":{\"replicas\":3}}"), *cfg3 = NULL;
	patch_merge(cfg, p, &cfg3, NULL);
	json_decref(cfg);
	json_decref(p);
	struct result r = apply(k->type, live, json_incref(cfg3), "ci", false, T1);
	CHECK_INT(r.err, -EBUSY);
	CHECK_STREQ(
		api_get_str(r.conflict, "message"),
		"Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using "
		"apps/v1: .spec.replicas");
	result_free(&r);
	r = apply(k->type, live, cfg3, "kubectl", false, T1);
	CHECK_INT(r.err, 0);
	result_free(&r);
	json_decref(live);
}

int main(void)
{
	RUN(test_apply_creates_with_the_fields_the_config_sets);
	RUN(test_update_on_create_owns_everything_it_set);
	RUN(test_apply_conflicts_with_an_update_manager);
	RUN(test_apply_lists_every_conflict_by_manager);
	RUN(test_apply_same_value_shares_ownership);
	RUN(test_apply_force_takes_ownership);
	RUN(test_apply_conflicts_between_appliers_name_no_version);
	RUN(test_apply_removes_fields_it_no_longer_sets);
	RUN(test_apply_merges_list_items_others_added);
	RUN(test_apply_sets_union_and_atomic_lists_conflict);
	RUN(test_apply_rejects_another_kind_and_managed_fields);
	RUN(test_apply_rejects_duplicate_and_keyless_list_items);
	RUN(test_apply_does_not_own_status_through_the_object);
	RUN(test_apply_that_changes_nothing_keeps_the_time);
	RUN(test_apply_to_an_untracked_object_names_before_first_apply);
	RUN(test_kubectl_moves_from_client_side_to_server_side_apply);
	RUN(test_update_moves_changed_fields_to_the_updater);
	RUN(test_update_through_status_records_the_subresource);
	RUN(test_update_keeps_untracked_objects_untracked);
	RUN(test_update_leaves_other_entries_as_they_were);
	RUN(test_update_managers_beyond_ten_become_ancient_changes);
	RUN(test_manager_name_defaults_to_the_user_agent);
	RUN(test_apply_to_a_deployment_after_client_side_apply);
	return tap_done();
}
