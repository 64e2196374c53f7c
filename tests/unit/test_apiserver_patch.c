/* The patch engines: JSON patch (RFC 6902), merge patch (RFC 7386) and
 * strategic merge patch, with the results and errors Kubernetes gives.
 * Cases come from RFC 7386's examples, evanphx/json-patch's behaviour and
 * Kubernetes' strategic merge patch test tables; the strategic ones use the
 * test schema (tests/unit/fixtures/patch_test.types), ObjectMeta, and the
 * real workload types when the schema has them. */
#include "apiserver/patch/patch.h"

#include "api/api.h"
#include "tap.h"

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

/* got (stolen) equals the JSON text want. */
#define CHECK_JSON(got, want)                                                  \
	do {                                                                   \
		json_t *g_ = (got), *w_ = J(want);                             \
		if (!g_ || !json_equal(g_, w_)) {                              \
			char *s_ = g_ ? api_json_dumps(g_) : strdup("(null)"); \
			printf("#   got  %s\n#   want %s\n", s_, want);        \
			free(s_);                                              \
			tap_fail_(__FILE__, __LINE__, #got " == " #want);      \
		}                                                              \
		json_decref(g_);                                               \
		json_decref(w_);                                               \
	} while (0)

enum kind { JSONP, MERGE, SMP };

static const struct sch_type *merge_item(void)
{
	return sch_type_by_name("patchtest", "v1", "MergeItem");
}

/* Patch doc with patch: the result (NULL on error, with *err and *code). */
static json_t *run(enum kind k, const struct sch_type *t, const char *doc, const char *patch,
		   int *ret_err, char **ret_msg)
{
	json_t *d = J(doc), *p = J(patch), *out = NULL;
	char *msg = NULL;
	int r;

	if (k == JSONP)
		r = patch_json(d, p, &out, &msg);
	else if (k == MERGE)
		r = patch_merge(d, p, &out, &msg);
	else
		r = patch_strategic(t, d, p, &out, &msg);
	json_decref(d);
	json_decref(p);
	if (ret_err)
		*ret_err = r;
	if (ret_msg)
		*ret_msg = msg;
	else
		free(msg);
	if (r < 0 && !msg)
		printf("# error %d without a message\n", r);
	return r < 0 ? NULL : out;
}

#define OK(k, t, doc, patch, want) CHECK_JSON(run(k, t, doc, patch, NULL, NULL), want)

/* The patch fails with errno err and a message containing part. */
#define FAILS(k, t, doc, patch, err, part)                                               \
	do {                                                                             \
		int e_ = 0;                                                              \
		char *m_ = NULL;                                                         \
		json_t *o_ = run(k, t, doc, patch, &e_, &m_);                            \
		CHECK(o_ == NULL);                                                       \
		json_decref(o_);                                                         \
		CHECK_INT(e_, err);                                                      \
		if (!m_ || !strstr(m_, part)) {                                          \
			printf("#   message \"%s\" lacks \"%s\"\n", m_ ? m_ : "", part); \
			tap_fail_(__FILE__, __LINE__, "message");                        \
		}                                                                        \
		free(m_);                                                                \
	} while (0)

/* ---- JSON patch ------------------------------------------------------------------------ */

static void test_json_patch_adds_members_and_array_elements(void)
{
	OK(JSONP, NULL, "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/b\",\"value\":{\"c\":2}}]",
	   "{\"a\":1,\"b\":{\"c\":2}}");
	OK(JSONP, NULL, "{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/1\",\"value\":9}]",
	   "{\"l\":[1,9,2]}");
	OK(JSONP, NULL, "{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/-\",\"value\":3}]",
	   "{\"l\":[1,2,3]}");
	OK(JSONP, NULL, "{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/2\",\"value\":3}]",
	   "{\"l\":[1,2,3]}");
	/* add replaces an existing member */
	OK(JSONP, NULL, "{\"a\":1}", "[{\"op\":\"add\",\"path\":\"/a\",\"value\":2}]", "{\"a\":2}");
}

static void test_json_patch_negative_indices_count_from_the_end(void)
{
	OK(JSONP, NULL, "{\"l\":[1,2,3]}", "[{\"op\":\"remove\",\"path\":\"/l/-1\"}]",
	   "{\"l\":[1,2]}");
	OK(JSONP, NULL, "{\"l\":[1,2]}", "[{\"op\":\"add\",\"path\":\"/l/-1\",\"value\":9}]",
	   "{\"l\":[1,2,9]}");
	OK(JSONP, NULL, "{\"l\":[1,2]}", "[{\"op\":\"replace\",\"path\":\"/l/-2\",\"value\":9}]",
	   "{\"l\":[9,2]}");
	FAILS(JSONP, NULL, "{\"l\":[1,2]}", "[{\"op\":\"remove\",\"path\":\"/l/-3\"}]", -EDOM,
	      "invalid index");
}

static void test_json_patch_remove_and_replace(void)
{
	OK(JSONP, NULL, "{\"a\":1,\"b\":2}", "[{\"op\":\"remove\",\"path\":\"/a\"}]", "{\"b\":2}");
	OK(JSONP, NULL, "{\"a\":null}", "[{\"op\":\"remove\",\"path\":\"/a\"}]", "{}");
	FAILS(JSONP, NULL, "{\"a\":1}", "[{\"op\":\"remove\",\"path\":\"/b\"}]", -EDOM,
	      "Unable to remove nonexistent key: b");
	OK(JSONP, NULL, "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/a\",\"value\":[1]}]",
	   "{\"a\":[1]}");
	FAILS(JSONP, NULL, "{\"l\":[1]}", "[{\"op\":\"replace\",\"path\":\"/l/1\",\"value\":2}]",
	      -EDOM, "doc is missing key: /l/1");
	FAILS(JSONP, NULL, "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"/x/y\",\"value\":2}]",
	      -EDOM, "doc is missing path: /x/y");
}

static void test_json_patch_replace_of_a_missing_member_adds_it(void)
{
	/* Kubernetes' engine (json-patch v4) does not check that the member exists */
	OK(JSONP, NULL, "{\"metadata\":{}}",
	   "[{\"op\":\"replace\",\"path\":\"/metadata/labels\",\"value\":{\"a\":\"b\"}}]",
	   "{\"metadata\":{\"labels\":{\"a\":\"b\"}}}");
}

static void test_json_patch_replace_of_the_root(void)
{
	OK(JSONP, NULL, "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":{\"b\":2}}]",
	   "{\"b\":2}");
	FAILS(JSONP, NULL, "{\"a\":1}", "[{\"op\":\"replace\",\"path\":\"\",\"value\":5}]", -EDOM,
	      "replace operation value must be object or array");
}

static void test_json_patch_move_and_copy(void)
{
	OK(JSONP, NULL, "{\"a\":{\"b\":1},\"c\":[]}",
	   "[{\"op\":\"move\",\"from\":\"/a/b\",\"path\":\"/c/0\"}]", "{\"a\":{},\"c\":[1]}");
	OK(JSONP, NULL, "{\"l\":[1,2,3]}",
	   "[{\"op\":\"move\",\"from\":\"/l/0\",\"path\":\"/l/-\"}]", "{\"l\":[2,3,1]}");
	OK(JSONP, NULL, "{\"a\":{\"b\":[1]}}",
	   "[{\"op\":\"copy\",\"from\":\"/a\",\"path\":\"/c\"}]",
	   "{\"a\":{\"b\":[1]},\"c\":{\"b\":[1]}}");
	FAILS(JSONP, NULL, "{\"a\":1}", "[{\"op\":\"move\",\"from\":\"/x\",\"path\":\"/y\"}]",
	      -EDOM, "Unable to remove nonexistent key: x");
	FAILS(JSONP, NULL, "{\"a\":{}}", "[{\"op\":\"move\",\"from\":\"/a\",\"path\":\"/a/b\"}]",
	      -EDOM, "doc is missing destination path: /a/b");
}

static void test_json_patch_test_operation(void)
{
	OK(JSONP, NULL, "{\"a\":{\"b\":[1,\"x\"]}}",
	   "[{\"op\":\"test\",\"path\":\"/a\",\"value\":{\"b\":[1,\"x\"]}},"
	   "{\"op\":\"add\",\"path\":\"/ok\",\"value\":true}]",
	   "{\"a\":{\"b\":[1,\"x\"]},\"ok\":true}");
	FAILS(JSONP, NULL, "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/a\",\"value\":2}]", -EDOM,
	      "testing value /a failed");
	/* a test for null matches an absent member */
	OK(JSONP, NULL, "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"/b\",\"value\":null}]",
	   "{\"a\":1}");
	OK(JSONP, NULL, "{\"a\":1}", "[{\"op\":\"test\",\"path\":\"\",\"value\":{\"a\":1}}]",
	   "{\"a\":1}");
}

static void test_json_patch_escaped_keys(void)
{
	OK(JSONP, NULL, "{\"metadata\":{\"labels\":{}}}",
	   "[{\"op\":\"add\",\"path\":\"/metadata/labels/"
	   "app.kubernetes.io~1name\",\"value\":\"x\"},"
	   "{\"op\":\"add\",\"path\":\"/metadata/labels/a~0b\",\"value\":\"y\"}]",
	   "{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"x\",\"a~b\":\"y\"}}}");
}

static void test_json_patch_malformed_patch_is_a_bad_request(void)
{
	FAILS(JSONP, NULL, "{}", "{\"op\":\"add\"}", -EINVAL,
	      "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
	FAILS(JSONP, NULL, "{}", "[\"add\"]", -EINVAL,
	      "json: cannot unmarshal string into Go value of type jsonpatch.Operation");
	FAILS(JSONP, NULL, "{}", "[{\"op\":\"frob\",\"path\":\"/a\"}]", -EDOM,
	      "Unexpected kind: frob");
	FAILS(JSONP, NULL, "{}", "[{\"path\":\"/a\"}]", -EDOM, "Unexpected kind: unknown");
	OK(JSONP, NULL, "{\"a\":1}", "null", "{\"a\":1}");
}

static void test_json_patch_more_than_10000_operations_is_413(void)
{
	struct buf b = {0};
	buf_puts(&b, "[");
	for (int i = 0; i <= PATCH_JSON_MAX_OPS; i++)
		buf_printf(&b, "%s{\"op\":\"test\",\"path\":\"/a\",\"value\":1}", i ? "," : "");
	buf_puts(&b, "]");
	int err = 0;
	char *msg = NULL;
	json_t *out = run(JSONP, NULL, "{\"a\":1}", b.data, &err, &msg);
	CHECK(!out);
	CHECK_INT(err, -E2BIG);
	json_t *st = patch_error_status(err, msg);
	CHECK_INT(api_status_code(st), 413);
	CHECK_STREQ(api_get_str(st, "message"), "Request entity too large: The allowed maximum "
						"operations in a JSON patch is 10000, got 10001");
	json_decref(st);
	free(msg);
	buf_free(&b);
}

static void test_json_patch_failure_is_the_generic_422(void)
{
	json_t *st = patch_error_status(-EDOM, "testing value /a failed: test failed");
	CHECK_INT(api_status_code(st), 422);
	CHECK_STREQ(api_get_str(st, "reason"), "Invalid");
	CHECK_STREQ(api_get_str(st, "message"),
		    "the server rejected our request due to an error in our request");
	CHECK(json_is_object(json_object_get(st, "details")));
	json_decref(st);
}

/* ---- merge patch ------------------------------------------------------------------------- */

static void test_merge_patch_rfc7386_examples(void)
{
	OK(MERGE, NULL, "{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	OK(MERGE, NULL, "{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}");
	OK(MERGE, NULL, "{\"a\":\"b\"}", "{\"a\":null}", "{}");
	OK(MERGE, NULL, "{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}");
	OK(MERGE, NULL, "{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}");
	OK(MERGE, NULL, "{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}");
	OK(MERGE, NULL, "{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}",
	   "{\"a\":{\"b\":\"d\"}}");
	OK(MERGE, NULL, "{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}");
	OK(MERGE, NULL, "{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]");
	OK(MERGE, NULL, "{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}");
	OK(MERGE, NULL, "{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}");
}

static void test_merge_patch_label_as_kubectl_label_sends_it(void)
{
	OK(MERGE, NULL, "{\"metadata\":{\"name\":\"x\",\"labels\":{\"a\":\"1\",\"b\":\"2\"}}}",
	   "{\"metadata\":{\"labels\":{\"a\":null,\"c\":\"3\"}}}",
	   "{\"metadata\":{\"name\":\"x\",\"labels\":{\"b\":\"2\",\"c\":\"3\"}}}");
}

static void test_merge_patch_null_or_scalar_patch_is_invalid(void)
{
	FAILS(MERGE, NULL, "{\"a\":1}", "null", -EINVAL, "Invalid JSON Patch");
	FAILS(MERGE, NULL, "{\"a\":1}", "\"x\"", -EINVAL, "Invalid JSON Patch");
	json_t *st = patch_error_status(-EINVAL, "Invalid JSON Patch");
	CHECK_INT(api_status_code(st), 400);
	CHECK_STREQ(api_get_str(st, "reason"), "BadRequest");
	json_decref(st);
}

/* ---- strategic merge patch: Kubernetes' test table ---------------------------------------- */

static void test_smp_merging_int_list_is_a_set(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	OK(SMP, t, "{\"mergingIntList\":[1,2]}", "{\"mergingIntList\":[2,3]}",
	   "{\"mergingIntList\":[1,2,3]}");
	/* without a merge strategy a list is replaced */
	OK(SMP, t, "{\"nonMergingIntList\":[1,2]}", "{\"nonMergingIntList\":[2,3]}",
	   "{\"nonMergingIntList\":[2,3]}");
}

static void test_smp_directives_on_maps(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	OK(SMP, t, "{\"simpleMap\":{\"key1\":\"1\",\"key2\":\"1\"}}",
	   "{\"simpleMap\":{\"$patch\":\"delete\"}}", "{\"simpleMap\":{}}");
	OK(SMP, t, "{\"name\":\"1\",\"value\":\"1\"}", "{\"$patch\":\"replace\"}", "{}");
	OK(SMP, t, "{\"name\":\"1\",\"value\":\"1\"}", "{\"other\":\"a\",\"$patch\":\"replace\"}",
	   "{\"other\":\"a\"}");
	FAILS(SMP, t, "{\"simpleMap\":{\"a\":\"b\"}}", "{\"simpleMap\":{\"$patch\":\"merge\"}}",
	      -EPROTO, "unknown patch type: merge in map: map[$patch:merge]");
}

static void test_smp_directives_on_list_elements(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	OK(SMP, t, "{\"mergingList\":[{\"name\":\"1\"},{\"name\":\"2\"}]}",
	   "{\"mergingList\":[{\"$patch\":\"replace\"}]}", "{\"mergingList\":[]}");
	OK(SMP, t,
	   "{\"mergingList\":[{\"name\":\"1\"},{\"name\":\"1\"},{\"name\":\"2\",\"value\":\"a\"},"
	   "{\"name\":\"3\"},{\"name\":\"3\"}]}",
	   "{\"mergingList\":[{\"name\":\"1\",\"$patch\":\"delete\"},"
	   "{\"name\":\"3\",\"$patch\":\"delete\"}]}",
	   "{\"mergingList\":[{\"name\":\"2\",\"value\":\"a\"}]}");
	OK(SMP, t, "{\"mergingList\":[]}", "{\"mergingList\":[]}", "{\"mergingList\":[]}");
	FAILS(SMP, t, "{\"mergingList\":[{\"name\":\"1\"}]}",
	      "{\"mergingList\":[{\"name\":\"1\",\"$patch\":\"merge\"}]}", -EPROTO,
	      "merging lists cannot yet be specified in the patch");
}

static void test_smp_merging_list_merges_by_key(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	OK(SMP, t, "{\"mergingList\":[{\"name\":\"1\",\"value\":\"a\"},{\"name\":\"2\"}]}",
	   "{\"mergingList\":[{\"name\":\"2\",\"value\":\"b\"},{\"name\":\"4\"}]}",
	   "{\"mergingList\":[{\"name\":\"1\",\"value\":\"a\"},{\"name\":\"2\",\"value\":\"b\"},"
	   "{\"name\":\"4\"}]}");
	/* null deletes a field of an element */
	OK(SMP, t, "{\"mergingList\":[{\"name\":\"1\",\"value\":\"a\",\"other\":\"x\"}]}",
	   "{\"mergingList\":[{\"name\":\"1\",\"value\":null}]}",
	   "{\"mergingList\":[{\"name\":\"1\",\"other\":\"x\"}]}");
	OK(SMP, t, "{\"nonMergingList\":[{\"name\":\"1\",\"value\":\"a\"}]}",
	   "{\"nonMergingList\":[{\"name\":\"2\"}]}", "{\"nonMergingList\":[{\"name\":\"2\"}]}");
}

static void test_smp_order_follows_the_patch(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	OK(SMP, t,
	   "{\"mergingList\":[{\"name\":\"1\"},{\"name\":\"2\",\"value\":\"b\"},{\"name\":\"3\"}]}",
	   "{\"mergingList\":[{\"name\":\"3\",\"value\":\"c\"},{\"name\":\"1\",\"value\":\"a\"},"
	   "{\"name\":\"2\",\"other\":\"x\"}]}",
	   "{\"mergingList\":[{\"name\":\"3\",\"value\":\"c\"},{\"name\":\"1\",\"value\":\"a\"},"
	   "{\"name\":\"2\",\"value\":\"b\",\"other\":\"x\"}]}");
	OK(SMP, t,
	   "{\"mergingList\":[{\"name\":\"1\"},{\"name\":\"2\",\"value\":\"b\"},{\"name\":\"3\"}]}",
	   "{\"mergingList\":[{\"name\":\"3\",\"value\":\"c\"},{\"name\":\"1\",\"value\":\"a\"}]}",
	   "{\"mergingList\":[{\"name\":\"2\",\"value\":\"b\"},{\"name\":\"3\",\"value\":\"c\"},"
	   "{\"name\":\"1\",\"value\":\"a\"}]}");
	OK(SMP, t, "{\"mergingIntList\":[1,2,3]}", "{\"mergingIntList\":[3,1,2]}",
	   "{\"mergingIntList\":[3,1,2]}");
	OK(SMP, t, "{\"mergingIntList\":[1,2,3]}", "{\"mergingIntList\":[3,1]}",
	   "{\"mergingIntList\":[2,3,1]}");
}

static void test_smp_set_element_order(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	/* an element named only in $setElementOrder does not appear */
	OK(SMP, t, "{\"mergingList\":[{\"name\":\"1\"},{\"name\":\"3\"}]}",
	   "{\"$setElementOrder/mergingList\":[{\"name\":\"3\"},{\"name\":\"2\"},{\"name\":\"1\"}],"
	   "\"mergingList\":[{\"name\":\"3\",\"value\":\"3\"},{\"name\":\"1\",\"value\":\"1\"}]}",
	   "{\"mergingList\":[{\"name\":\"3\",\"value\":\"3\"},{\"name\":\"1\",\"value\":\"1\"}]}");
	OK(SMP, t, "{\"mergingIntList\":[1,3]}", "{\"$setElementOrder/mergingIntList\":[3,2,1]}",
	   "{\"mergingIntList\":[3,1]}");
	FAILS(SMP, t, "{\"mergingList\":[{\"name\":\"1\"},{\"name\":\"3\"},{\"name\":\"2\"}]}",
	      "{\"$setElementOrder/"
	      "mergingList\":[{\"name\":\"1\"},{\"name\":\"2\"},{\"name\":\"3\"}],"
	      "\"mergingList\":[{\"name\":\"3\",\"value\":\"3\"},{\"name\":\"1\",\"value\":\"1\"}]"
	      "}",
	      -EPROTO, "doesn't match");
	FAILS(SMP, t, "{\"mergingIntList\":[1,3,2]}",
	      "{\"$setElementOrder/mergingIntList\":[1,2,3],\"mergingIntList\":[3,1]}", -EPROTO,
	      "doesn't match");
	FAILS(SMP, t, "{}", "{\"$setElementOrderX/mergingList\":[]}", -EINVAL,
	      "invalid patch format of setElementOrder list");
}

static void test_smp_missing_merge_key_is_a_500(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	FAILS(SMP, t, "{\"mergingList\":[{\"name\":\"1\",\"value\":\"a\"}]}",
	      "{\"mergingList\":[{\"value\":\"b\"}]}", -EPROTO,
	      "map: map[value:b] does not contain declared merge key: name");
	json_t *st = patch_error_status(-EPROTO, "map: map[value:b] does not contain declared "
						 "merge key: name");
	CHECK_INT(api_status_code(st), 500);
	CHECK(!json_object_get(st, "reason"));
	json_decref(st);
}

static void test_smp_delete_from_primitive_list(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	OK(SMP, t, "{\"mergingIntList\":[1,2]}",
	   "{\"$deleteFromPrimitiveList/mergingIntList\":[3]}", "{\"mergingIntList\":[1,2]}");
	OK(SMP, t, "{\"foo\":[\"bar\"]}", "{\"$deleteFromPrimitiveList/mergingIntList\":[3]}",
	   "{\"foo\":[\"bar\"]}");
	OK(SMP, t, "{\"mergingIntList\":[1,2,3]}",
	   "{\"$deleteFromPrimitiveList/mergingIntList\":[2]}", "{\"mergingIntList\":[1,3]}");
	OK(SMP, t, "{\"nonMergingIntList\":[1,2,3]}",
	   "{\"$deleteFromPrimitiveList/nonMergingIntList\":[2]}", "{\"nonMergingIntList\":[1,3]}");
	FAILS(SMP, t, "{}", "{\"$deleteFromPrimitiveListX\":[2]}", -EINVAL,
	      "invalid patch format of primitive list");
}

static void test_smp_retain_keys(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	/* without the directive a retainKeys struct merges */
	OK(SMP, t, "{\"retainKeysMap\":{\"name\":\"foo\",\"value\":\"a\"}}",
	   "{\"retainKeysMap\":{\"value\":\"b\"}}",
	   "{\"retainKeysMap\":{\"name\":\"foo\",\"value\":\"b\"}}");
	OK(SMP, t, "{\"retainKeysMap\":{\"name\":\"foo\",\"value\":\"a\"}}",
	   "{\"retainKeysMap\":{}}", "{\"retainKeysMap\":{\"name\":\"foo\",\"value\":\"a\"}}");
	/* with it, keys it does not name go */
	OK(SMP, t, "{\"retainKeysMap\":{\"name\":\"foo\",\"value\":\"a\",\"other\":\"o\"}}",
	   "{\"retainKeysMap\":{\"$retainKeys\":[\"name\",\"other\"],\"other\":\"p\"}}",
	   "{\"retainKeysMap\":{\"name\":\"foo\",\"other\":\"p\"}}");
	OK(SMP, t,
	   "{\"retainKeysMergingList\":[{\"name\":\"bar\"},{\"name\":\"foo\",\"value\":\"a\"}]}",
	   "{\"retainKeysMergingList\":[{\"name\":\"foo\",\"value\":null}]}",
	   "{\"retainKeysMergingList\":[{\"name\":\"bar\"},{\"name\":\"foo\"}]}");
	FAILS(SMP, t, "{\"retainKeysMap\":{}}",
	      "{\"retainKeysMap\":{\"$retainKeys\":[\"name\"],\"value\":\"x\"}}", -EINVAL,
	      "invalid patch format of retainKeys");
	FAILS(SMP, t, "{\"retainKeysMap\":{}}", "{\"retainKeysMap\":{\"$retainKeys\":\"name\"}}",
	      -EINVAL, "invalid patch format of retainKeys");
}

static void test_smp_replace_strategy_and_lists_of_lists(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	OK(SMP, t, "{\"replacingItem\":{\"a\":1,\"b\":{\"c\":2}}}",
	   "{\"replacingItem\":{\"b\":{\"d\":3}}}", "{\"replacingItem\":{\"b\":{\"d\":3}}}");
	FAILS(SMP, t, "{\"mergingIntList\":[[1]]}", "{\"mergingIntList\":[[2]]}", -EDOM,
	      "lists of lists are not supported");
	json_t *st = patch_error_status(-EDOM, "lists of lists are not supported");
	CHECK_INT(api_status_code(st), 422);
	json_decref(st);
}

static void test_smp_unknown_fields_merge_like_merge_patch(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	OK(SMP, t, "{\"x\":{\"a\":1,\"l\":[1,2]},\"y\":1}",
	   "{\"x\":{\"b\":2,\"l\":[3]},\"y\":null}", "{\"x\":{\"a\":1,\"b\":2,\"l\":[3]}}");
}

static void test_smp_new_values_lose_nulls_and_directives(void)
{
	const struct sch_type *t = merge_item();
	if (!t)
		SKIP("test schema patchtest/v1 not built in");
	OK(SMP, t, "{}",
	   "{\"mergeItemPtr\":{\"name\":\"a\",\"value\":null,\"mergingList\":"
	   "[{\"name\":\"x\"},{\"name\":\"y\",\"$patch\":\"delete\"}]}}",
	   "{\"mergeItemPtr\":{\"name\":\"a\",\"mergingList\":[{\"name\":\"x\"}]}}");
}

static void test_smp_patch_must_be_an_object(void)
{
	const struct sch_type *t = sch_type_by_name("meta", "v1", "ObjectMeta");
	FAILS(SMP, t, "{}", "[1]", -EINVAL,
	      "json: cannot unmarshal array into Go value of type map[string]interface {}");
	OK(SMP, t, "{\"name\":\"a\"}", "null", "{\"name\":\"a\"}");
}

/* ---- strategic merge patch on real types ---------------------------------------------------- */

static void test_smp_object_meta_owner_references_merge_by_uid(void)
{
	const struct sch_type *t = sch_type_by_name("meta", "v1", "ObjectMeta");
	CHECK(t != NULL);
	if (!t)
		return;
	OK(SMP, t,
	   "{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"a\"},{\"uid\":\"2\",\"name\":\"b\"}]}",
	   "{\"ownerReferences\":[{\"uid\":\"2\",\"controller\":true},{\"uid\":\"3\",\"name\":"
	   "\"c\"}]}",
	   "{\"ownerReferences\":[{\"uid\":\"1\",\"name\":\"a\"},"
	   "{\"uid\":\"2\",\"name\":\"b\",\"controller\":true},{\"uid\":\"3\",\"name\":\"c\"}]}");
	OK(SMP, t, "{\"ownerReferences\":[{\"uid\":\"1\"},{\"uid\":\"2\"}]}",
	   "{\"ownerReferences\":[{\"uid\":\"1\",\"$patch\":\"delete\"}]}",
	   "{\"ownerReferences\":[{\"uid\":\"2\"}]}");
}

static void test_smp_object_meta_finalizers_and_labels(void)
{
	const struct sch_type *t = sch_type_by_name("meta", "v1", "ObjectMeta");
	CHECK(t != NULL);
	if (!t)
		return;
	OK(SMP, t, "{\"finalizers\":[\"a\",\"b\"]}", "{\"finalizers\":[\"c\",\"a\"]}",
	   "{\"finalizers\":[\"c\",\"a\",\"b\"]}");
	OK(SMP, t, "{\"finalizers\":[\"a\",\"b\"]}",
	   "{\"$deleteFromPrimitiveList/finalizers\":[\"a\"]}", "{\"finalizers\":[\"b\"]}");
	OK(SMP, t, "{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}",
	   "{\"labels\":{\"a\":null,\"c\":\"3\"}}", "{\"labels\":{\"b\":\"2\",\"c\":\"3\"}}");
	/* managedFields is atomic: replaced */
	OK(SMP, t, "{\"managedFields\":[{\"manager\":\"a\"}]}",
	   "{\"managedFields\":[{\"manager\":\"b\"}]}",
	   "{\"managedFields\":[{\"manager\":\"b\"}]}");
}

static const char *const deployment =
	"{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
	"\"spec\":{\"replicas\":1,\"strategy\":{\"type\":\"RollingUpdate\",\"rollingUpdate\":"
	"{\"maxSurge\":\"25%\",\"maxUnavailable\":\"25%\"}},\"template\":{\"metadata\":{\"labels\":"
	"{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"web\",\"image\":\"nginx:1\","
	"\"env\":[{\"name\":\"A\",\"value\":\"1\"}]},{\"name\":\"log\",\"image\":\"busybox\"}]}}}}";

static void test_smp_deployment_set_image(void)
{
	const struct sch_kind *k = sch_kind_by_name("apps", "v1", "Deployment");
	if (!k)
		SKIP("apps/v1 Deployment not in the schema yet");
	/* kubectl set image web web=nginx:2 */
	json_t *out = run(SMP, k->type, deployment,
			  "{\"spec\":{\"template\":{\"spec\":{\"containers\":"
			  "[{\"name\":\"web\",\"image\":\"nginx:2\"}]}}}}",
			  NULL, NULL);
	CHECK_STREQ(
		api_get_str(json_array_get(api_get_array(out, "spec.template.spec.containers"), 0),
			    "image"),
		"nginx:2");
	CHECK_INT(json_array_size(api_get_array(out, "spec.template.spec.containers")), 2);
	CHECK_STREQ(
		api_get_str(json_array_get(api_get_array(out, "spec.template.spec.containers"), 1),
			    "name"),
		"log");
	json_decref(out);
	/* a container without its merge key: Kubernetes' 500 */
	FAILS(SMP, k->type, deployment,
	      "{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"image\":\"x\"}]}}}}", -EPROTO,
	      "map: map[image:x] does not contain declared merge key: name");
}

static void test_smp_deployment_kubectl_apply_patch(void)
{
	const struct sch_kind *k = sch_kind_by_name("apps", "v1", "Deployment");
	if (!k)
		SKIP("apps/v1 Deployment not in the schema yet");
	/* what kubectl apply sends to switch to Recreate, reorder the containers
	 * and drop an env var */
	json_t *out = run(
		SMP, k->type, deployment,
		"{\"spec\":{\"strategy\":{\"$retainKeys\":[\"type\"],\"type\":\"Recreate\"},"
		"\"template\":{\"spec\":{\"$setElementOrder/containers\":[{\"name\":\"log\"},"
		"{\"name\":\"web\"}],\"containers\":[{\"name\":\"web\",\"env\":[{\"name\":\"A\","
		"\"$patch\":\"delete\"}]}]}}}}",
		NULL, NULL);
	CHECK_JSON(json_incref(api_get(out, "spec.strategy")), "{\"type\":\"Recreate\"}");
	CHECK_JSON(
		json_incref(api_get(out, "spec.template.spec.containers")),
		"[{\"name\":\"log\",\"image\":\"busybox\"},{\"name\":\"web\",\"image\":\"nginx:1\","
		"\"env\":[]}]");
	json_decref(out);
}

static void test_smp_pod_ports_merge_by_container_port(void)
{
	const struct sch_kind *k = sch_kind_by_name("", "v1", "Pod");
	if (!k)
		SKIP("v1 Pod not in the schema yet");
	OK(SMP, k->type,
	   "{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80},"
	   "{\"containerPort\":443}]}]}}",
	   "{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80,"
	   "\"name\":\"http\"}]}]}}",
	   "{\"spec\":{\"containers\":[{\"name\":\"c\",\"ports\":[{\"containerPort\":80,"
	   "\"name\":\"http\"},{\"containerPort\":443}]}]}}");
}

int main(void)
{
	RUN(test_json_patch_adds_members_and_array_elements);
	RUN(test_json_patch_negative_indices_count_from_the_end);
	RUN(test_json_patch_remove_and_replace);
	RUN(test_json_patch_replace_of_a_missing_member_adds_it);
	RUN(test_json_patch_replace_of_the_root);
	RUN(test_json_patch_move_and_copy);
	RUN(test_json_patch_test_operation);
	RUN(test_json_patch_escaped_keys);
	RUN(test_json_patch_malformed_patch_is_a_bad_request);
	RUN(test_json_patch_more_than_10000_operations_is_413);
	RUN(test_json_patch_failure_is_the_generic_422);
	RUN(test_merge_patch_rfc7386_examples);
	RUN(test_merge_patch_label_as_kubectl_label_sends_it);
	RUN(test_merge_patch_null_or_scalar_patch_is_invalid);
	RUN(test_smp_merging_int_list_is_a_set);
	RUN(test_smp_directives_on_maps);
	RUN(test_smp_directives_on_list_elements);
	RUN(test_smp_merging_list_merges_by_key);
	RUN(test_smp_order_follows_the_patch);
	RUN(test_smp_set_element_order);
	RUN(test_smp_missing_merge_key_is_a_500);
	RUN(test_smp_delete_from_primitive_list);
	RUN(test_smp_retain_keys);
	RUN(test_smp_replace_strategy_and_lists_of_lists);
	RUN(test_smp_unknown_fields_merge_like_merge_patch);
	RUN(test_smp_new_values_lose_nulls_and_directives);
	RUN(test_smp_patch_must_be_an_object);
	RUN(test_smp_object_meta_owner_references_merge_by_uid);
	RUN(test_smp_object_meta_finalizers_and_labels);
	RUN(test_smp_deployment_set_image);
	RUN(test_smp_deployment_kubectl_apply_patch);
	RUN(test_smp_pod_ports_merge_by_container_port);
	return tap_done();
}
