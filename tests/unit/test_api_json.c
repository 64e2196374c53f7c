/* lib/api: JSON paths, ObjectMeta helpers, decoding with kube-apiserver's messages,
 * Go-compatible encoding, field errors and Status bodies. */
#include "api/api.h"

#include "tap.h"

static json_t *load(const char *s)
{
	json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);

	if (!j)
		printf("#   bad test JSON: %s\n", s);
	return j;
}

static void check_json(json_t *v, const char *want)
{
	_cleanup_free_ char *got = api_json_dumps(v);

	CHECK_STREQ(got, want);
	json_decref(v);
}

/* ---- paths and metadata ---- */

static void test_paths_read_nested_values_and_treat_null_as_absent(void)
{
	json_t *o = load("{\"metadata\":{\"name\":\"web\",\"labels\":{\"app.kubernetes.io/name\":"
			 "\"web\"},\"generation\":3,\"x\":null},\"spec\":{\"replicas\":2,"
			 "\"paused\":true,\"s\":\"str\"}}");
	int64_t i = 0;
	bool b = false;

	CHECK_STREQ(api_get_str(o, "metadata.name"), "web");
	CHECK_STREQ(api_get_str(o, "metadata.labels.app\\.kubernetes\\.io/name"), "web");
	CHECK(api_get_str(o, "metadata.missing") == NULL);
	CHECK(api_get_str(o, "spec.replicas") == NULL);
	CHECK(api_get(o, "metadata.x") == NULL);
	CHECK(api_get(o, "metadata.name.deeper") == NULL);
	CHECK(api_get(o, "") == NULL);
	CHECK(api_get(o, "metadata..name") == NULL);
	CHECK(api_get_object(o, "spec") != NULL);
	CHECK(api_get_object(o, "spec.replicas") == NULL);
	CHECK(api_get_array(o, "spec") == NULL);
	CHECK_INT(api_get_int(o, "spec.replicas", &i), 0);
	CHECK_INT(i, 2);
	CHECK_INT(api_get_int(o, "spec.s", &i), -EINVAL);
	CHECK_INT(api_get_int(o, "spec.none", &i), -ENOENT);
	CHECK_INT(api_get_int(o, "metadata.x", &i), -ENOENT);
	CHECK_INT(api_get_bool(o, "spec.paused", &b), 0);
	CHECK(b);
	CHECK_INT(api_get_bool(o, "spec.replicas", &b), -EINVAL);
	json_decref(o);
}

static void test_set_creates_intermediate_objects(void)
{
	json_t *o = load("{\"metadata\":null,\"spec\":{\"replicas\":1},\"s\":\"x\"}");

	CHECK_INT(api_set_str(o, "metadata.name", "web"), 0);
	CHECK_INT(api_set_int(o, "spec.replicas", 3), 0);
	CHECK_INT(api_set_bool(o, "spec.template.spec.hostNetwork", true), 0);
	CHECK_INT(api_set_str(o, "metadata.labels.a\\.b", "c"), 0);
	CHECK_INT(api_set_str(o, "s.x", "y"), -ENOTDIR);
	CHECK_INT(api_set_str(o, "a..b", "y"), -EINVAL);
	CHECK_INT(api_set(o, "a", NULL), -EINVAL);
	CHECK_INT(api_del(o, "spec.template"), 0);
	CHECK_INT(api_del(o, "spec.template"), -ENOENT);
	CHECK_INT(api_del(o, "nope.x"), -ENOENT);
	check_json(o, "{\"metadata\":{\"name\":\"web\",\"labels\":{\"a.b\":\"c\"}},"
		      "\"spec\":{\"replicas\":3},\"s\":\"x\"}");
	json_t *arr = json_array();
	CHECK_INT(api_set_str(arr, "a", "b"), -ENOTDIR);
	json_decref(arr);
}

static void test_object_meta_accessors(void)
{
	json_t *o = load("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{"
			 "\"name\":\"web\",\"namespace\":\"default\",\"generateName\":\"web-\","
			 "\"uid\":\"u-1\",\"resourceVersion\":\"42\",\"generation\":7,"
			 "\"creationTimestamp\":\"2026-11-27T13:43:19Z\",\"ownerReferences\":["
			 "{\"kind\":\"A\",\"name\":\"a\"},{\"kind\":\"B\",\"name\":\"b\","
			 "\"controller\":true}]}}");
	int64_t v = 0;

	CHECK_STREQ(api_obj_api_version(o), "apps/v1");
	CHECK_STREQ(api_obj_kind(o), "Deployment");
	CHECK_STREQ(api_meta_name(o), "web");
	CHECK_STREQ(api_meta_namespace(o), "default");
	CHECK_STREQ(api_meta_generate_name(o), "web-");
	CHECK_STREQ(api_meta_uid(o), "u-1");
	CHECK_STREQ(api_meta_resource_version(o), "42");
	CHECK_INT(api_meta_generation(o, &v), 0);
	CHECK_INT(v, 7);
	CHECK_INT(api_meta_creation_timestamp(o, &v), 0);
	CHECK(v == (int64_t)1795786999 * 1000000000);
	CHECK_INT(api_meta_deletion_timestamp(o, &v), -ENOENT);
	CHECK_STREQ(api_get_str(api_meta_controller_ref(o), "name"), "b");
	CHECK_INT(json_array_size(api_meta_owner_references(o)), 2);

	CHECK_INT(api_meta_set_deletion_timestamp(o, 0), 0);
	CHECK_STREQ(api_get_str(o, "metadata.deletionTimestamp"), "1970-01-01T00:00:00Z");
	CHECK_INT(api_meta_deletion_timestamp(o, &v), 0);
	CHECK_INT(v, 0);
	CHECK_INT(api_set_str(o, "metadata.deletionTimestamp", "yesterday"), 0);
	CHECK_INT(api_meta_deletion_timestamp(o, &v), -EINVAL);
	json_decref(o);

	json_t *p = json_object();
	CHECK_INT(api_meta_set_name(p, "n"), 0);
	CHECK_INT(api_meta_set_namespace(p, "ns"), 0);
	CHECK_INT(api_meta_set_uid(p, "u"), 0);
	CHECK_INT(api_meta_set_resource_version(p, "1"), 0);
	CHECK_INT(api_meta_set_generation(p, 2), 0);
	CHECK_INT(api_meta_set_creation_timestamp(p, (int64_t)1795787 * 1000000000), 0);
	check_json(p, "{\"metadata\":{\"name\":\"n\",\"namespace\":\"ns\",\"uid\":\"u\","
		      "\"resourceVersion\":\"1\",\"generation\":2,"
		      "\"creationTimestamp\":\"1970-01-21T18:49:47Z\"}}");
}

static void test_labels_annotations_and_finalizers(void)
{
	json_t *o = json_object();

	CHECK(api_meta_labels(o) == NULL);
	CHECK_INT(api_meta_set_label(o, "app.kubernetes.io/name", "web"), 0);
	CHECK_INT(api_meta_set_label(o, "tier", "fe"), 0);
	CHECK_INT(api_meta_set_annotation(o, "note", "x"), 0);
	CHECK_STREQ(api_meta_label(o, "app.kubernetes.io/name"), "web");
	CHECK(api_meta_label(o, "nope") == NULL);
	CHECK_STREQ(api_meta_annotation(o, "note"), "x");
	CHECK_INT(json_object_size(api_meta_labels(o)), 2);
	CHECK(api_meta_annotations(o) != NULL);

	CHECK(!api_meta_has_finalizer(o, "kelp.io/a"));
	CHECK_INT(api_meta_add_finalizer(o, "kelp.io/a"), 1);
	CHECK_INT(api_meta_add_finalizer(o, "kelp.io/a"), 0);
	CHECK_INT(api_meta_add_finalizer(o, "kelp.io/b"), 1);
	CHECK(api_meta_has_finalizer(o, "kelp.io/b"));
	CHECK_INT(json_array_size(api_meta_finalizers(o)), 2);
	CHECK_INT(api_meta_remove_finalizer(o, "kelp.io/a"), 1);
	CHECK_INT(api_meta_remove_finalizer(o, "kelp.io/a"), 0);
	CHECK_INT(api_meta_remove_finalizer(o, "kelp.io/b"), 1);
	check_json(o, "{\"metadata\":{\"labels\":{\"app.kubernetes.io/name\":\"web\",\"tier\":"
		      "\"fe\"},\"annotations\":{\"note\":\"x\"}}}");

	json_t *bad = load("{\"metadata\":{\"labels\":\"oops\"}}");
	CHECK_INT(api_meta_set_label(bad, "a", "b"), -ENOTDIR);
	json_decref(bad);
}

/* ---- decoding ---- */

static void test_parse_reports_go_syntax_errors(void)
{
	static const struct { const char *in; size_t len; const char *msg; } t[] = {
		{"{", 0, "unexpected end of JSON input"},
		{"", 0, "unexpected end of JSON input"},
		{"   ", 0, "unexpected end of JSON input"},
		{"x", 0, "invalid character 'x' looking for beginning of value"},
		{"{\"a\" 1}", 0, "invalid character '1' after object key"},
		{"{\"a\":1 \"b\":2}", 0, "invalid character '\"' after object key:value pair"},
		{"[1,]", 0, "invalid character ']' looking for beginning of value"},
		{"[1 2]", 0, "invalid character '2' after array element"},
		{"{\"a\":1}x", 0, "invalid character 'x' after top-level value"},
		{"{\"a\":1,}", 0,
		 "invalid character '}' looking for beginning of object key string"},
		{"{1:2}", 0, "invalid character '1' looking for beginning of object key string"},
		{"tru", 0, "invalid character ' ' in literal true (expecting 'e')"},
		{"trUe", 0, "invalid character 'U' in literal true (expecting 'u')"},
		{"nul", 0, "invalid character ' ' in literal null (expecting 'l')"},
		{"falsy", 0, "invalid character 'y' in literal false (expecting 'e')"},
		{"\"a\x01\"", 0, "invalid character '\\x01' in string literal"},
		{"\"a\nb\"", 0, "invalid character '\\n' in string literal"},
		{"\"\\q\"", 0, "invalid character 'q' in string escape code"},
		{"\"\\u12x4\"", 0, "invalid character 'x' in \\u hexadecimal character escape"},
		{"01", 0, "invalid character '1' after top-level value"},
		{"-", 0, "invalid character ' ' in numeric literal"},
		{"-a", 0, "invalid character 'a' in numeric literal"},
		{"1.e3", 0, "invalid character 'e' after decimal point in numeric literal"},
		{"1e+", 0, "invalid character ' ' in exponent of numeric literal"},
		{"'a'", 0, "invalid character '\\'' looking for beginning of value"},
		{"\xff", 0, "invalid character '\xc3\xbf' looking for beginning of value"},
		{"\x85", 0, "invalid character '\\u0085' looking for beginning of value"},
		{"{\"a\":1}\0", 8, "invalid character '\\x00' after top-level value"},
		{"\"abc", 0, "unexpected end of JSON input"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		json_t *j = NULL;
		_cleanup_free_ char *err = NULL;
		size_t len = t[i].len ? t[i].len : strlen(t[i].in);

		CHECK_INT(api_json_parse(t[i].in, len, 0, &j, &err), -EBADMSG);
		CHECK(j == NULL);
		if (!err || !streq(err, t[i].msg))
			printf("#   input %s\n", t[i].in);
		CHECK_STREQ(err, t[i].msg);
	}
}

static void test_parse_rejects_what_jansson_cannot_hold_clearly(void)
{
	static const struct { const char *in, *msg; } t[] = {
		{"{\"a\":\"x\\u0000y\"}", "strings containing \\u0000 are not supported"},
		{"[\"\xff\"]", "invalid UTF-8 in string"},
		{"[123456789012345678901234]", "number out of range: too big integer"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		json_t *j = NULL;
		_cleanup_free_ char *err = NULL;

		CHECK_INT(api_json_parse(t[i].in, strlen(t[i].in), 0, &j, &err), -EBADMSG);
		CHECK_STREQ(err, t[i].msg);
	}
	struct buf deep = {0};
	for (int i = 0; i < 3000; i++)
		buf_putc(&deep, '[');
	for (int i = 0; i < 3000; i++)
		buf_putc(&deep, ']');
	json_t *j = NULL;
	_cleanup_free_ char *err = NULL;
	CHECK_INT(api_json_parse(deep.data, deep.len, 0, &j, &err), -EBADMSG);
	CHECK_STREQ(err, "nesting deeper than 2048 levels is not supported");
	buf_free(&deep);
}

static void test_duplicate_keys_last_wins_unless_strict(void)
{
	const char *in = "{\"a\":1,\"b\":2,\"a\":3}";
	json_t *j = NULL;
	_cleanup_free_ char *err = NULL;

	CHECK_INT(api_json_parse(in, strlen(in), 0, &j, NULL), 0);
	CHECK_INT(json_integer_value(json_object_get(j, "a")), 3);
	json_decref(j);
	j = NULL;
	CHECK_INT(api_json_parse(in, strlen(in), API_JSON_STRICT, &j, &err), -EBADMSG);
	CHECK_STREQ(err, "duplicate field \"a\"");
	CHECK_INT(api_json_parse("5", 1, 0, &j, NULL), 0);
	CHECK(json_is_integer(j));
	json_decref(j);
}

static void check_body(const char *body, size_t limit, unsigned flags, int want_r,
		       const char *want_status)
{
	json_t *obj = NULL, *st = NULL;
	int r = api_body_decode(body, strlen(body), limit, "Pod", flags, &obj, &st);

	CHECK_INT(r, want_r);
	if (r == 0) {
		CHECK(obj != NULL && st == NULL);
		check_json(obj, want_status);
	} else {
		CHECK(obj == NULL && st != NULL);
		check_json(st, want_status);
	}
}

static void test_request_bodies_fail_with_kube_apiserver_statuses(void)
{
	check_body("{\"kind\":\"Pod\"}", 100, 0, 0, "{\"kind\":\"Pod\"}");
	check_body("null", 100, 0, 0, "{}");
	check_body("{\"a\":1}", 3, 0, -EMSGSIZE,
		   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		   "\"Failure\",\"message\":\"Request entity too large: limit is 3\",\"reason\":"
		   "\"RequestEntityTooLarge\",\"code\":413}");
	check_body("{", 100, 0, -EBADMSG,
		   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		   "\"Failure\",\"message\":\"the object provided is unrecognized (must be of type "
		   "Pod): couldn't get version/kind; json parse error: unexpected end of JSON "
		   "input "
		   "({)\",\"reason\":\"BadRequest\",\"code\":400}");
	check_body("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"x\",}}", 1000,
		   0, -EBADMSG,
		   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		   "\"Failure\",\"message\":\"the object provided is unrecognized (must be of type "
		   "Pod): couldn't get version/kind; json parse error: invalid character '}' "
		   "looking for beginning of object key string ({\\\"apiVersion\\\":\\\"v1\\\","
		   "\\\"kind\\\":\\\"Pod ...)\",\"reason\":\"BadRequest\",\"code\":400}");
	check_body("[]", 100, 0, -EBADMSG,
		   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		   "\"Failure\",\"message\":\"the object provided is unrecognized (must be of type "
		   "Pod): couldn't get version/kind; json parse error: json: cannot unmarshal "
		   "array "
		   "into Go value of type struct { APIVersion string \\\"json:\\\\\\\"apiVersion,"
		   "omitempty\\\\\\\"\\\"; Kind string \\\"json:\\\\\\\"kind,omitempty\\\\\\\"\\\" "
		   "}"
		   " (5b5d)\",\"reason\":\"BadRequest\",\"code\":400}");
	check_body("{\"kind\":5}", 100, 0, -EBADMSG,
		   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		   "\"Failure\",\"message\":\"the object provided is unrecognized (must be of type "
		   "Pod): couldn't get version/kind; json parse error: json: cannot unmarshal "
		   "number "
		   "into Go struct field .kind of type string ({\\\"kind\\\":5})\",\"reason\":"
		   "\"BadRequest\",\"code\":400}");
	check_body("{\"apiVersion\":\"a/b/c\"}", 100, 0, -EBADMSG,
		   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		   "\"Failure\",\"message\":\"the object provided is unrecognized (must be of type "
		   "Pod): unexpected GroupVersion string: a/b/c "
		   "({\\\"apiVersion\\\":\\\"a/b/c\\\"})"
		   "\",\"reason\":\"BadRequest\",\"code\":400}");
	check_body("{\"a\":1,\"a\":2}", 100, API_JSON_STRICT, -EBADMSG,
		   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		   "\"Failure\",\"message\":\"strict decoding error: duplicate field \\\"a\\\"\","
		   "\"reason\":\"BadRequest\",\"code\":400}");
	check_body("\xff\xfe", 100, 0, -EBADMSG,
		   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		   "\"Failure\",\"message\":\"the object provided is unrecognized (must be of type "
		   "Pod): couldn't get version/kind; json parse error: invalid character "
		   "'\xc3\xbf' looking for beginning of value (fffe)\",\"reason\":\"BadRequest\","
		   "\"code\":400}");
	check_body("{\"a\":\"\xff\"", 100, 0, -EBADMSG,
		   "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
		   "\"Failure\",\"message\":\"the object provided is unrecognized (must be of type "
		   "Pod): couldn't get version/kind; json parse error: unexpected end of JSON "
		   "input "
		   "({\\\"a\\\":\\\"\xef\xbf\xbd\\\")\",\"reason\":\"BadRequest\",\"code\":400}");
}

/* ---- encoding ---- */

static void test_dump_writes_json_as_go_encodes_it(void)
{
	check_json(load("{\"b\":1,\"a\":[true,false,null,\"x\"],\"c\":{}}"),
		   "{\"b\":1,\"a\":[true,false,null,\"x\"],\"c\":{}}");
	check_json(json_string("<a href=\"x\">&</a>"),
		   "\"\\u003ca href=\\\"x\\\"\\u003e\\u0026\\u003c/a\\u003e\"");
	check_json(json_string("\b\f\n\r\t\x01\x1f\x7f/\\"),
		   "\"\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\\\\\"");
	check_json(json_string("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c\xc3\xa9"),
		   "\"a\\u2028b\\u2029c\xc3\xa9\"");
	check_json(json_real(0.1), "0.1");
	check_json(json_real(100.0), "100");
	check_json(json_real(1.5), "1.5");
	check_json(json_real(-0.0), "-0");
	check_json(json_real(1e21), "1e+21");
	check_json(json_real(1e18), "1000000000000000000");
	check_json(json_real(1e20), "1e+20"); /* Go writes 100000000000000000000 */
	check_json(json_real(1e-7), "1e-7");
	check_json(json_real(0.000001), "0.000001");
	check_json(json_real(123456789.125), "123456789.125");
	check_json(json_real(1.7976931348623157e308), "1.7976931348623157e+308");
	check_json(json_real(5e-324), "5e-324");
	check_json(json_integer(-9223372036854775807LL - 1), "-9223372036854775808");
	_cleanup_free_ char *n = api_json_dumps(NULL);
	CHECK_STREQ(n, "null");
	check_json(api_json_string_lossy("a\xff" "b\xc3"), "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
}

/* ---- field errors ---- */

static void test_field_errors_render_as_kubernetes_prints_them(void)
{
	struct api_field_errors l = {0};
	static const char *const valid[] = {"Always", "Never"};

	api_field_required(&l, "spec.containers[0].image", "");
	api_field_invalid(&l, "metadata.name", json_string("Foo"), "must be lowercase");
	api_field_not_supported(&l, "spec.restartPolicy", json_string("Sometimes"), valid, 2);
	api_field_too_long(&l, "metadata.annotations", 262144);
	api_field_too_many(&l, "spec.x", 5, 3);
	api_field_duplicate(&l, "spec.ports[1].port", json_integer(80));
	api_field_invalid(&l, "spec.v", json_pack("[s,s]", "a", "b"), "bad");
	api_field_invalid(&l, "spec.f", json_real(1.5), NULL);
	api_field_forbidden(&l, "spec.y", "may not be set");
	api_field_internal(&l, "spec.z", "boom");
	api_field_not_found(&l, "spec.w", json_string("x"));
	api_field_invalid(&l, "spec.q", json_string("a\"b\n\x01\xc3\xa9\xc2\xa0"), NULL);

	static const char *const want[] = {
		"spec.containers[0].image: Required value",
		"metadata.name: Invalid value: \"Foo\": must be lowercase",
		("spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: "
		 "\"Always\", \"Never\""),
		"metadata.annotations: Too long: may not be more than 262144 bytes",
		"spec.x: Too many: 5: must have at most 3 items",
		"spec.ports[1].port: Duplicate value: 80",
		"spec.v: Invalid value: [\"a\",\"b\"]: bad",
		"spec.f: Invalid value: 1.5",
		"spec.y: Forbidden: may not be set",
		"spec.z: Internal error: boom",
		"spec.w: Not found: \"x\"",
		"spec.q: Invalid value: \"a\\\"b\\n\\x01\xc3\xa9\\u00a0\"",
	};
	CHECK_INT(l.n, ARRAY_SIZE(want));
	for (size_t i = 0; i < l.n && i < ARRAY_SIZE(want); i++) {
		_cleanup_free_ char *s = api_field_error_string(&l.v[i]);
		CHECK_STREQ(s, want[i]);
	}
	CHECK_STREQ(api_field_error_type_name(API_FIELD_INVALID), "FieldValueInvalid");
	api_field_errors_clear(&l);

	api_field_required(&l, "a", NULL);
	api_field_required(&l, "a", NULL);
	_cleanup_free_ char *one = api_field_errors_aggregate(&l);
	CHECK_STREQ(one, "a: Required value");
	api_field_required(&l, "b", NULL);
	_cleanup_free_ char *two = api_field_errors_aggregate(&l);
	CHECK_STREQ(two, "[a: Required value, b: Required value]");
	api_field_errors_clear(&l);
}

/* ---- Status ---- */

#define ST(rest) "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{}," rest "}"

static void test_status_errors_match_kubernetes_bodies(void)
{
	static const char *const media[] = {"application/json", "application/yaml"};

	check_json(api_status_not_found(NULL, "pods", "x"),
		   ST("\"status\":\"Failure\",\"message\":\"pods \\\"x\\\" not found\",\"reason\":"
		      "\"NotFound\",\"details\":{\"name\":\"x\",\"kind\":\"pods\"},\"code\":404"));
	check_json(api_status_not_found("apps", "deployments", "web"),
		   ST("\"status\":\"Failure\",\"message\":\"deployments.apps \\\"web\\\" not "
		      "found\","
		      "\"reason\":\"NotFound\",\"details\":{\"name\":\"web\",\"group\":\"apps\","
		      "\"kind\":\"deployments\"},\"code\":404"));
	check_json(api_status_already_exists("", "pods", "x"),
		   ST("\"status\":\"Failure\",\"message\":\"pods \\\"x\\\" already exists\","
		      "\"reason\":\"AlreadyExists\",\"details\":{\"name\":\"x\",\"kind\":\"pods\"},"
		      "\"code\":409"));
	check_json(api_status_conflict("", "pods", "x", NULL),
		   ST("\"status\":\"Failure\",\"message\":\"Operation cannot be fulfilled on pods "
		      "\\\"x\\\": the object has been modified; please apply your changes to the "
		      "latest version and try "
		      "again\",\"reason\":\"Conflict\",\"details\":{\"name\":"
		      "\"x\",\"kind\":\"pods\"},\"code\":409"));
	check_json(api_status_bad_request("bad"),
		   ST("\"status\":\"Failure\",\"message\":\"bad\",\"reason\":\"BadRequest\","
		      "\"code\":400"));
	check_json(api_status_method_not_supported("apps", "deployments", "watch"),
		   ST("\"status\":\"Failure\",\"message\":\"watch is not supported on resources of "
		      "kind "
		      "\\\"deployments.apps\\\"\",\"reason\":\"MethodNotAllowed\",\"details\":{"
		      "\"group\":\"apps\",\"kind\":\"deployments\"},\"code\":405"));
	check_json(api_status_unsupported_media_type(media, 2),
		   ST("\"status\":\"Failure\",\"message\":\"the body of the request was in an "
		      "unknown format - accepted media types include: application/json, "
		      "application/yaml\",\"reason\":\"UnsupportedMediaType\",\"code\":415"));
	check_json(api_status_not_acceptable(media, 2),
		   ST("\"status\":\"Failure\",\"message\":\"only the following media types are "
		      "accepted: application/json, application/yaml\",\"reason\":\"NotAcceptable\","
		      "\"code\":406"));
	check_json(api_status_request_entity_too_large(3145728),
		   ST("\"status\":\"Failure\",\"message\":\"Request entity too large: limit is "
		      "3145728\",\"reason\":\"RequestEntityTooLarge\",\"code\":413"));
	check_json(api_status_too_old_resource_version(5, 10),
		   ST("\"status\":\"Failure\",\"message\":\"too old resource version: 5 (10)\","
		      "\"reason\":\"Expired\",\"code\":410"));
	check_json(api_status_gone("gone"),
		   ST("\"status\":\"Failure\",\"message\":\"gone\",\"reason\":\"Gone\","
		      "\"code\":410"));
	check_json(api_status_forbidden("", "pods", "x", "User \"bob\" cannot get resource"),
		   ST("\"status\":\"Failure\",\"message\":\"pods \\\"x\\\" is forbidden: User "
		      "\\\"bob\\\" cannot get resource\",\"reason\":\"Forbidden\",\"details\":{"
		      "\"name\":\"x\",\"kind\":\"pods\"},\"code\":403"));
	check_json(api_status_forbidden("", "pods", "", "no"),
		   ST("\"status\":\"Failure\",\"message\":\"pods is forbidden: no\",\"reason\":"
		      "\"Forbidden\",\"details\":{\"kind\":\"pods\"},\"code\":403"));
	check_json(api_status_forbidden(NULL, NULL, NULL, "no"),
		   ST("\"status\":\"Failure\",\"message\":\"forbidden: no\",\"reason\":"
		      "\"Forbidden\",\"details\":{},\"code\":403"));
	check_json(api_status_unauthorized(NULL),
		   ST("\"status\":\"Failure\",\"message\":\"not authorized\",\"reason\":"
		      "\"Unauthorized\",\"code\":401"));
	check_json(api_status_too_many_requests("slow down", 1),
		   ST("\"status\":\"Failure\",\"message\":\"slow down\",\"reason\":"
		      "\"TooManyRequests\",\"details\":{\"retryAfterSeconds\":1},\"code\":429"));
	check_json(api_status_internal_error("boom"),
		   ST("\"status\":\"Failure\",\"message\":\"Internal error occurred: boom\","
		      "\"reason\":\"InternalError\",\"details\":{\"causes\":[{\"message\":\"boom\"}"
		      "]},"
		      "\"code\":500"));
	check_json(api_status_timeout("request did not complete within 60s", 0),
		   ST("\"status\":\"Failure\",\"message\":\"Timeout: request did not complete "
		      "within 60s\",\"reason\":\"Timeout\",\"details\":{},\"code\":504"));
	check_json(api_status_server_timeout("", "pods", "create", 2),
		   ST("\"status\":\"Failure\",\"message\":\"The create operation against pods "
		      "could "
		      "not be completed at this time, please try again.\",\"reason\":"
		      "\"ServerTimeout\",\"details\":{\"name\":\"create\",\"kind\":\"pods\","
		      "\"retryAfterSeconds\":2},\"code\":500"));
	check_json(api_status_service_unavailable("down"),
		   ST("\"status\":\"Failure\",\"message\":\"down\",\"reason\":"
		      "\"ServiceUnavailable\",\"code\":503"));
	check_json(api_status_success("", "pods", "x", "u-1", 0),
		   ST("\"status\":\"Success\",\"details\":{\"name\":\"x\",\"kind\":\"pods\","
		      "\"uid\":\"u-1\"}"));
	check_json(api_status_not_found("", "pods", "a\xff\"b"),
		   ST("\"status\":\"Failure\",\"message\":\"pods \\\"a\\\\xff\\\\\\\"b\\\" not "
		      "found\",\"reason\":\"NotFound\",\"details\":{\"name\":\"a\xef\xbf\xbd\\\"b\""
		      ","
		      "\"kind\":\"pods\"},\"code\":404"));
	json_t *st = api_status_not_found("", "pods", "x");
	CHECK_INT(api_status_code(st), 404);
	json_decref(st);
}

static void test_status_invalid_lists_causes(void)
{
	struct api_field_errors l = {0};

	api_field_required(&l, "spec.containers[0].image", NULL);
	check_json(api_status_invalid("", "Pod", "x", &l),
		   ST("\"status\":\"Failure\",\"message\":\"Pod \\\"x\\\" is invalid: "
		      "spec.containers[0].image: Required "
		      "value\",\"reason\":\"Invalid\",\"details\":"
		      "{\"name\":\"x\",\"kind\":\"Pod\",\"causes\":[{\"reason\":\"FieldValueRequire"
		      "d\","
		      "\"message\":\"Required value\",\"field\":\"spec.containers[0].image\"}]},"
		      "\"code\":422"));
	api_field_invalid(&l, "metadata.name", json_string("Web"), "must be lowercase");
	check_json(api_status_invalid("apps", "Deployment", "Web", &l),
		   ST("\"status\":\"Failure\",\"message\":\"Deployment.apps \\\"Web\\\" is "
		      "invalid: "
		      "[spec.containers[0].image: Required value, metadata.name: Invalid value: "
		      "\\\"Web\\\": must be "
		      "lowercase]\",\"reason\":\"Invalid\",\"details\":{\"name\":"
		      "\"Web\",\"group\":\"apps\",\"kind\":\"Deployment\",\"causes\":[{\"reason\":"
		      "\"FieldValueRequired\",\"message\":\"Required value\",\"field\":"
		      "\"spec.containers[0].image\"},{\"reason\":\"FieldValueInvalid\",\"message\":"
		      "\"Invalid value: \\\"Web\\\": must be "
		      "lowercase\",\"field\":\"metadata.name\"}]},"
		      "\"code\":422"));
	api_field_errors_clear(&l);
	check_json(api_status_invalid("", "Pod", "x", &l),
		   ST("\"status\":\"Failure\",\"message\":\"Pod \\\"x\\\" is invalid\",\"reason\":"
		      "\"Invalid\",\"details\":{\"name\":\"x\",\"kind\":\"Pod\"},\"code\":422"));
}

static void test_reason_for_code(void)
{
	static const struct { int code; const char *reason; } t[] = {
		{400, "BadRequest"}, {401, "Unauthorized"}, {403, "Forbidden"}, {404, "NotFound"},
		{405, "MethodNotAllowed"}, {406, "NotAcceptable"}, {409, "Conflict"},
		{410, "Gone"}, {413, "RequestEntityTooLarge"}, {415, "UnsupportedMediaType"},
		{422, "Invalid"}, {429, "TooManyRequests"}, {500, "InternalError"},
		{502, "InternalError"}, {503, "ServiceUnavailable"}, {504, "Timeout"}, {200, ""},
		{418, ""},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		CHECK_STREQ(api_status_reason_for_code(t[i].code), t[i].reason);
	check_json(api_status_failure(418, NULL, "teapot"),
		   ST("\"status\":\"Failure\",\"message\":\"teapot\",\"code\":418"));
}

static void test_yaml_bodies_read_as_kubernetes_reads_them(void)
{
	static const char doc[] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
				  "  labels: {a: 'yes'}\ndata:\n  k: \"1\"\nrest:\n  - 1\n  - 0x10\n"
				  "  - 0755\n  - 1.5\n  - yes\n  - off\n  - ~\n  - plain text\n"
				  "ref: &x {deep: [1, 2]}\ncopy: *x\n";
	json_t *v = NULL;
	char *err = NULL;
	CHECK_INT(api_yaml_parse(doc, strlen(doc), &v, &err), 0);
	char *s = api_json_dumps(v);
	CHECK_STREQ(s, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\","
		       "\"labels\":{\"a\":\"yes\"}},\"data\":{\"k\":\"1\"},\"rest\":[1,16,493,1.5,true,"
		       "false,null,\"plain text\"],\"ref\":{\"deep\":[1,2]},\"copy\":{\"deep\":[1,2]}}");
	free(s);
	json_decref(v);
	CHECK(api_yaml_parse("a: [1, 2", 8, &v, &err) == -EBADMSG);
	CHECK(err && strstr(err, "error converting YAML to JSON"));
	free(err);
	err = NULL;
	CHECK(api_yaml_parse("a: *nope", 8, &v, &err) == -EBADMSG);
	free(err);
	err = NULL;
	/* A billion laughs stops at the size cap. */
	static const char laughs[] = "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
				     "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
				     "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
				     "g: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
	CHECK(api_yaml_parse(laughs, strlen(laughs), &v, &err) == -EBADMSG);
	free(err);
	CHECK_INT(api_yaml_parse("", 0, &v, NULL), 0);
	CHECK(json_is_null(v));
	json_decref(v);
}

int main(void)
{
	RUN(test_paths_read_nested_values_and_treat_null_as_absent);
	RUN(test_set_creates_intermediate_objects);
	RUN(test_object_meta_accessors);
	RUN(test_labels_annotations_and_finalizers);
	RUN(test_parse_reports_go_syntax_errors);
	RUN(test_parse_rejects_what_jansson_cannot_hold_clearly);
	RUN(test_duplicate_keys_last_wins_unless_strict);
	RUN(test_request_bodies_fail_with_kube_apiserver_statuses);
	RUN(test_dump_writes_json_as_go_encodes_it);
	RUN(test_field_errors_render_as_kubernetes_prints_them);
	RUN(test_status_errors_match_kubernetes_bodies);
	RUN(test_status_invalid_lists_causes);
	RUN(test_reason_for_code);
	RUN(test_yaml_bodies_read_as_kubernetes_reads_them);
	return tap_done();
}
