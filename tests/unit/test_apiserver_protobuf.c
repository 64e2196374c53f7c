/* The apiserver's protobuf codec: Kubernetes' envelope, and objects
 * travelling JSON -> protobuf -> JSON unchanged. */
#include "apiserver/protobuf.h"

#include "api/api.h"
#include "tap.h"

static const struct sch_type *type(const char *name)
{
	for (size_t i = 0; i < sch_ntypes; i++)
		if (streq(sch_types[i]->name, name))
			return sch_types[i];
	return NULL;
}

static json_t *roundtrip(const char *type_name, const char *json)
{
	const struct sch_type *t = type(type_name);
	json_t *in = json_loads(json, 0, NULL), *out = NULL;
	struct buf b = {0};
	char *err = NULL;

	if (!t || !in)
		return NULL;
	if (pb_encode(t, in, &b, &err) < 0) {
		printf("# encode: %s\n", err);
		free(err);
		json_decref(in);
		return NULL;
	}
	if (pb_decode(t, b.data, b.len, &out, &err) < 0) {
		printf("# decode: %s\n", err);
		free(err);
	}
	buf_free(&b);
	if (out && !json_equal(in, out)) {
		char *a = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS), *c = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
		printf("#   in:  %s\n#   out: %s\n", a, c);
		free(a);
		free(c);
		json_decref(out);
		out = NULL;
	}
	json_decref(in);
	return out;
}

static void test_object_meta_survives_the_round_trip(void)
{
	json_t *o = roundtrip("ObjectMeta",
			      "{\"name\":\"web\",\"namespace\":\"default\",\"uid\":\"0d1e\","
			      "\"resourceVersion\":\"42\",\"generation\":3,"
			      "\"creationTimestamp\":\"2026-11-27T13:43:19Z\","
			      "\"labels\":{\"app\":\"web\",\"tier\":\"\"},\"annotations\":{\"a/b\":\"c\"},"
			      "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
			      "\"name\":\"web-1\",\"uid\":\"u1\",\"controller\":true}],"
			      "\"finalizers\":[\"x\",\"y\"],"
			      "\"managedFields\":[{\"manager\":\"kubectl\",\"operation\":\"Apply\","
			      "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:metadata\":{}}}]}");
	CHECK(o != NULL);
	json_decref(o);
}

static void test_status_and_negative_numbers_round_trip(void)
{
	json_t *o = roundtrip("Status", "{\"status\":\"Failure\",\"message\":\"pods \\\"x\\\" not found\","
					"\"reason\":\"NotFound\",\"details\":{\"name\":\"x\",\"kind\":\"pods\","
					"\"causes\":[{\"reason\":\"r\",\"field\":\"f\"}],\"retryAfterSeconds\":-1},"
					"\"code\":404}");
	CHECK(o != NULL);
	json_decref(o);
	o = roundtrip("DeleteOptions", "{\"gracePeriodSeconds\":-9223372036854775807,\"dryRun\":[\"All\"]}");
	CHECK(o != NULL);
	json_decref(o);
}

static void test_known_bytes_decode(void)
{
	/* DeleteOptions{gracePeriodSeconds: 30 (field 1, varint),
	 * propagationPolicy: "Background" (field 4)} */
	static const uint8_t wire[] = {0x08, 30, 0x22, 10, 'B', 'a', 'c', 'k', 'g', 'r', 'o', 'u', 'n', 'd'};
	json_t *o = NULL;
	CHECK_INT(pb_decode(type("DeleteOptions"), wire, sizeof(wire), &o, NULL), 0);
	CHECK_INT(json_integer_value(json_object_get(o, "gracePeriodSeconds")), 30);
	CHECK_STREQ(json_string_value(json_object_get(o, "propagationPolicy")), "Background");
	json_decref(o);
	/* And the encoder writes exactly those bytes. */
	struct buf b = {0};
	o = json_pack("{s:i, s:s}", "gracePeriodSeconds", 30, "propagationPolicy", "Background");
	CHECK_INT(pb_encode(type("DeleteOptions"), o, &b, NULL), 0);
	CHECK(b.len == sizeof(wire) && memcmp(b.data, wire, sizeof(wire)) == 0);
	buf_free(&b);
	json_decref(o);
}

static void test_unknown_fields_are_skipped_and_garbage_refused(void)
{
	/* field 99 (varint) then gracePeriodSeconds=5 */
	static const uint8_t unknown[] = {0x98, 0x06, 7, 0x08, 5};
	json_t *o = NULL;
	char *err = NULL;
	CHECK_INT(pb_decode(type("DeleteOptions"), unknown, sizeof(unknown), &o, NULL), 0);
	CHECK_INT(json_integer_value(json_object_get(o, "gracePeriodSeconds")), 5);
	json_decref(o);
	static const uint8_t truncated[] = {0x22, 10, 'B'};
	CHECK_INT(pb_decode(type("DeleteOptions"), truncated, sizeof(truncated), &o, &err), -EBADMSG);
	CHECK(err && strstr(err, "DeleteOptions"));
	free(err);
	static const uint8_t wrongwire[] = {0x0a, 1, 'x'}; /* gracePeriodSeconds as bytes */
	CHECK_INT(pb_decode(type("DeleteOptions"), wrongwire, sizeof(wrongwire), &o, NULL), -EBADMSG);
	static const uint8_t badutf8[] = {0x22, 2, 0xc3, 0x28};
	CHECK_INT(pb_decode(type("DeleteOptions"), badutf8, sizeof(badutf8), &o, NULL), -EBADMSG);
}

static void test_the_envelope_wraps_and_unwraps(void)
{
	struct buf b = {0};
	struct pb_envelope env;
	pb_wrap("v1", "Namespace", "\x0a\x00", 2, &b);
	CHECK(b.len > 4 && memcmp(b.data, "k8s\0", 4) == 0);
	CHECK_INT(pb_unwrap(b.data, b.len, &env), 0);
	CHECK_STREQ(env.api_version, "v1");
	CHECK_STREQ(env.kind, "Namespace");
	CHECK_INT(env.raw_len, 2);
	CHECK_INT(pb_unwrap("k8s", 3, &env), -EBADMSG);
	CHECK_INT(pb_unwrap("{\"a\":1}", 7, &env), -EBADMSG);
	buf_free(&b);
}

static void test_encoding_refuses_json_that_does_not_fit(void)
{
	struct buf b = {0};
	char *err = NULL;
	json_t *o = json_pack("{s:s}", "gracePeriodSeconds", "soon");
	CHECK_INT(pb_encode(type("DeleteOptions"), o, &b, &err), -EINVAL);
	CHECK(err && strstr(err, "gracePeriodSeconds"));
	free(err);
	json_decref(o);
	buf_free(&b);
}

static void test_durations_read_and_print_as_go_does(void)
{
	static const struct {
		const char *in;
		int64_t ns;
		const char *out;
	} cases[] = {
		{"0", 0, "0s"},           {"1.5s", 1500000000, "1.5s"},
		{"1h2m3s", 3723000000000, "1h2m3s"}, {"90m", 5400000000000, "1h30m0s"},
		{"100ms", 100000000, "100ms"},        {"2us", 2000, "2µs"},
		{"-3s", -3000000000, "-3s"},          {"1.000000001s", 1000000001, "1.000000001s"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t ns = -1;
		char s[64];
		CHECK_INT(pb_parse_duration(cases[i].in, &ns), 0);
		CHECK_INT(ns, cases[i].ns);
		pb_format_duration(cases[i].ns, s, sizeof(s));
		CHECK_STREQ(s, cases[i].out);
	}
	int64_t ns;
	CHECK(pb_parse_duration("", &ns) < 0);
	CHECK(pb_parse_duration("5", &ns) < 0);
	CHECK(pb_parse_duration("1x", &ns) < 0);
	CHECK(pb_parse_duration("99999999999h", &ns) < 0);
}

static void test_base64_is_strict(void)
{
	size_t n;
	_cleanup_free_ char *e = base64_encode("hello", 5);
	CHECK_STREQ(e, "aGVsbG8=");
	_cleanup_free_ uint8_t *d = base64_decode("aGVsbG8=", &n);
	CHECK(d && n == 5 && memcmp(d, "hello", 5) == 0);
	CHECK(base64_decode("aGVsbG8", &n) == NULL);
	CHECK(base64_decode("aGV=bG8=", &n) == NULL);
	CHECK(base64_decode("aG!sbG8=", &n) == NULL);
	_cleanup_free_ uint8_t *z = base64_decode("", &n);
	CHECK(z && n == 0);
}

int main(void)
{
	RUN(test_object_meta_survives_the_round_trip);
	RUN(test_status_and_negative_numbers_round_trip);
	RUN(test_known_bytes_decode);
	RUN(test_unknown_fields_are_skipped_and_garbage_refused);
	RUN(test_the_envelope_wraps_and_unwraps);
	RUN(test_encoding_refuses_json_that_does_not_fit);
	RUN(test_durations_read_and_print_as_go_does);
	RUN(test_base64_is_strict);
	return tap_done();
}
