/* Validation, defaulting and strict decoding (controlplane/apiserver/validate): each rule
 * with an object that passes and one that fails, with Kubernetes' message as kubectl
 * shows it. */
#include <stdio.h>

#include "apiserver/validate/validate.h"
#include "tap.h"
#include "validate_test.h"

/* ---- a made-up kind over meta/v1 types, to test the engine alone ---- */

static const char *const widget_modes[] = {"Fast", "Slow", NULL};

static struct sch_field part_fields[] = {
	{.name = "name", .scalar = SCH_STRING, .flags = SCH_F_REQUIRED, .fmt = SCH_FMT_DNS_LABEL},
	{.name = "weight", .scalar = SCH_INT64, .flags = SCH_F_MIN, .min = 0},
	{.name = "mode", .scalar = SCH_STRING, .enums = widget_modes, .def = "Slow"},
};
static const struct sch_type part_type = {
	.name = "Part", .version = "v1", .fields = part_fields, .nfields = ARRAY_SIZE(part_fields),
};

static struct sch_field spec_fields[] = {
	{.name = "size", .scalar = SCH_INT32, .flags = SCH_F_MIN | SCH_F_MAX, .min = 1, .max = 10},
	{.name = "mode", .scalar = SCH_STRING, .enums = widget_modes, .def = "Fast"},
	{.name = "host", .scalar = SCH_STRING, .flags = SCH_F_REQUIRED, .fmt = SCH_FMT_DNS_LABEL},
	{.name = "zone", .scalar = SCH_STRING, .flags = SCH_F_IMMUTABLE},
	{.name = "parts", .scalar = SCH_MESSAGE, .container = SCH_LIST, .type = &part_type},
	{.name = "byName", .scalar = SCH_MESSAGE, .container = SCH_MAP, .type = &part_type},
	{.name = "tags", .scalar = SCH_STRING, .container = SCH_LIST},
	{.name = "limit", .scalar = SCH_QUANTITY},
	{.name = "port", .scalar = SCH_INTORSTRING, .fmt = SCH_FMT_PORT},
	{.name = "selector", .scalar = SCH_MESSAGE}, /* .type: meta LabelSelector, at run time */
	{.name = "extra", .scalar = SCH_RAW},
	{.name = "at", .scalar = SCH_TIME},
	{.name = "blob", .scalar = SCH_BYTES},
};
static const struct sch_type spec_type = {
	.name = "WidgetSpec", .version = "v1", .fields = spec_fields,
	.nfields = ARRAY_SIZE(spec_fields),
};

static struct sch_field widget_fields[] = {
	{.name = "metadata", .scalar = SCH_MESSAGE}, /* .type: meta ObjectMeta */
	{.name = "spec", .scalar = SCH_MESSAGE, .type = &spec_type},
};
static const struct sch_type widget_type = {
	.name = "Widget", .version = "v1", .fields = widget_fields,
	.nfields = ARRAY_SIZE(widget_fields), .flags = SCH_T_KIND,
};
static const struct sch_kind widget = {
	.group = "example.com", .version = "v1", .kind = "Widget", .plural = "widgets",
	.namespaced = true, .type = &widget_type,
};

static void widget_setup(void)
{
	widget_fields[0].type = sch_type_by_name("meta", "v1", "ObjectMeta");
	spec_fields[9].type = sch_type_by_name("meta", "v1", "LabelSelector");
}

#define W(spec) "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":" \
		"{\"name\":\"w\",\"namespace\":\"default\"},\"spec\":" spec "}"

static void test_engine_valid_object_has_no_errors(void)
{
	CHECK_MSG(check(&widget, W("{\"size\":3,\"host\":\"h1\",\"mode\":\"Slow\"}"), NULL), "");
}

static void test_engine_required_field(void)
{
	CHECK_MSG(check(&widget, W("{\"size\":3}"), NULL), "spec.host: Required value");
	CHECK_MSG(check(&widget, W("{\"size\":3,\"host\":\"\"}"), NULL), "spec.host: Required value");
}

static void test_engine_required_in_list_element(void)
{
	CHECK_MSG(check(&widget, W("{\"host\":\"h\",\"parts\":[{\"name\":\"a\"},{}]}"), NULL),
		  "spec.parts[1].name: Required value");
}

static void test_engine_enum_unsupported_value(void)
{
	CHECK_MSG(check(&widget, W("{\"host\":\"h\",\"mode\":\"Medium\"}"), NULL),
		  "spec.mode: Unsupported value: \"Medium\": supported values: \"Fast\", \"Slow\"");
}

static void test_engine_min_max(void)
{
	CHECK_MSG(check(&widget, W("{\"host\":\"h\",\"size\":11}"), NULL),
		  "spec.size: Invalid value: 11: must be between 1 and 10, inclusive");
	CHECK_MSG(check(&widget, W("{\"host\":\"h\",\"parts\":[{\"name\":\"a\",\"weight\":-1}]}"),
			NULL),
		  "spec.parts[0].weight: Invalid value: -1: must be greater than or equal to 0");
}

static void test_engine_format_dns_label(void)
{
	CHECK_MSG(check(&widget, W("{\"host\":\"Bad_Host\"}"), NULL),
		  "spec.host: Invalid value: \"Bad_Host\": a lowercase RFC 1123 label must consist "
		  "of lower case alphanumeric characters or '-', and must start and end with an "
		  "alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
		  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
}

static void test_engine_map_values_checked_with_key_path(void)
{
	CHECK_MSG(check(&widget, W("{\"host\":\"h\",\"byName\":{\"x\":{\"name\":\"a\","
				   "\"mode\":\"No\"}}}"), NULL),
		  "spec.byName[x].mode: Unsupported value: \"No\": supported values: \"Fast\", "
		  "\"Slow\"");
}

static void test_engine_port_int_or_string(void)
{
	CHECK_MSG(check(&widget, W("{\"host\":\"h\",\"port\":0}"), NULL),
		  "spec.port: Invalid value: 0: must be between 1 and 65535, inclusive");
	CHECK_MSG(check(&widget, W("{\"host\":\"h\",\"port\":\"http\"}"), NULL), "");
	CHECK_MSG(check(&widget, W("{\"host\":\"h\",\"port\":\"Http\"}"), NULL),
		  "spec.port: Invalid value: \"Http\": must contain only alpha-numeric characters "
		  "(a-z, 0-9), and hyphens (-)");
}

static void test_engine_immutable_on_update(void)
{
	CHECK_MSG(check(&widget, W("{\"host\":\"h\",\"zone\":\"b\"}"),
			W("{\"host\":\"h\",\"zone\":\"a\"}")),
		  "spec.zone: Invalid value: \"b\": field is immutable");
	CHECK_MSG(check(&widget, W("{\"host\":\"h2\",\"zone\":\"a\"}"),
			W("{\"host\":\"h\",\"zone\":\"a\"}")), "");
}

static void test_engine_wrong_json_type(void)
{
	CHECK_MSG(check(&widget, W("{\"host\":\"h\",\"size\":\"3\"}"), NULL),
		  "spec.size: Invalid value: \"string\": must be of type integer");
}

static void test_engine_label_selector_operator(void)
{
	CHECK_MSG(check(&widget, W("{\"host\":\"h\",\"selector\":{\"matchExpressions\":[{\"key\":"
				   "\"a\",\"operator\":\"Has\"}]}}"), NULL),
		  "spec.selector.matchExpressions[0].operator: Invalid value: \"Has\": "
		  "not a valid selector operator");
}

static void test_engine_defaults_fill_absent_and_empty(void)
{
	json_t *o = defaulted(&widget, W("{\"host\":\"h\",\"parts\":[{\"name\":\"a\"},"
					 "{\"name\":\"b\",\"mode\":\"Fast\"}],\"byName\":{\"k\":{}}}"));

	CHECK_PATH_STR(o, "spec.mode", "Fast");
	CHECK_PATH_STR(json_array_get(api_get(o, "spec.parts"), 0), "mode", "Slow");
	CHECK_PATH_STR(json_array_get(api_get(o, "spec.parts"), 1), "mode", "Fast");
	CHECK_PATH_STR(o, "spec.byName.k.mode", "Slow");
	json_decref(o);
	o = defaulted(&widget, W("{\"mode\":\"\"}"));
	CHECK_PATH_STR(o, "spec.mode", "Fast");
	json_decref(o);
}

static void test_unknown_fields_paths(void)
{
	CHECK_MSG(unknown(&widget_type, W("{\"host\":\"h\",\"foo\":1,\"parts\":[{\"name\":\"a\"},"
					  "{\"nmae\":\"b\"}],\"byName\":{\"k\":{\"x\":1}}}")),
		  "unknown field \"spec.foo\", unknown field \"spec.parts[1].nmae\", "
		  "unknown field \"spec.byName.k.x\"");
}

static void test_unknown_fields_type_meta_and_raw_are_known(void)
{
	CHECK_MSG(unknown(&widget_type, W("{\"extra\":{\"anything\":[1]}}")), "");
	CHECK_MSG(unknown(&widget_type, "{\"metadata\":{\"name\":\"a\",\"labelz\":{}}}"),
		  "unknown field \"metadata.labelz\"");
}

static void test_decode_type_error_go_wording(void)
{
	CHECK_MSG(decode(&widget_type, W("{\"size\":\"3\"}")),
		  "json: cannot unmarshal string into Go struct field WidgetSpec.spec.size of type "
		  "int32");
	CHECK_MSG(decode(&widget_type, W("{\"parts\":[{\"name\":5}]}")),
		  "json: cannot unmarshal number into Go struct field Part.spec.parts.name of type "
		  "string");
	CHECK_MSG(decode(&widget_type, W("{\"parts\":{}}")),
		  "json: cannot unmarshal object into Go struct field WidgetSpec.spec.parts of type "
		  "[]v1.Part");
	CHECK_MSG(decode(&widget_type, W("{\"size\":3000000000}")),
		  "json: cannot unmarshal number 3000000000 into Go struct field WidgetSpec.spec.size "
		  "of type int32");
	CHECK_MSG(decode(&widget_type, W("{\"size\":null,\"tags\":null}")), "");
}

static void test_decode_custom_types(void)
{
	CHECK_MSG(decode(&widget_type, W("{\"limit\":\"1x\"}")),
		  "quantities must match the regular expression "
		  "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
	CHECK_MSG(decode(&widget_type, W("{\"limit\":\"100Mi\",\"port\":8080}")), "");
	CHECK_MSG(decode(&widget_type, W("{\"port\":true}")),
		  "json: cannot unmarshal bool into Go value of type int32");
	CHECK_MSG(decode(&widget_type, W("{\"blob\":\"!!\"}")),
		  "illegal base64 data at input byte 0");
}

static void test_prune_drops_unknown_and_null(void)
{
	json_t *o = J(W("{\"host\":\"h\",\"foo\":1,\"zone\":null,\"parts\":[{\"name\":\"a\","
			"\"x\":2}]}"));

	validate_prune(&widget_type, o);
	CHECK(!api_get(o, "spec.foo"));
	CHECK(!json_object_get(api_get(o, "spec"), "zone"));
	CHECK(!json_object_get(json_array_get(api_get(o, "spec.parts"), 0), "x"));
	CHECK_PATH_STR(o, "apiVersion", "example.com/v1");
	json_decref(o);
}

/* ---- metadata ---- */

static void test_meta_name_required(void)
{
	CHECK_MSG(check(&widget, "{\"metadata\":{\"namespace\":\"default\"},\"spec\":{\"host\":\"h\"}}",
			NULL),
		  "metadata.name: Required value: name or generateName is required");
}

static void test_meta_name_must_be_dns_subdomain(void)
{
	CHECK_MSG(check(&widget, "{\"metadata\":{\"name\":\"Foo\",\"namespace\":\"default\"},"
				 "\"spec\":{\"host\":\"h\"}}", NULL),
		  "metadata.name: Invalid value: \"Foo\": a lowercase RFC 1123 subdomain must "
		  "consist of lower case alphanumeric characters, '-' or '.', and must start and "
		  "end with an alphanumeric character (e.g. 'example.com', regex used for "
		  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
}

static void test_meta_generate_name_may_end_with_dash(void)
{
	CHECK_MSG(check(&widget, "{\"metadata\":{\"generateName\":\"web-\",\"name\":\"web-x1\","
				 "\"namespace\":\"default\"},\"spec\":{\"host\":\"h\"}}", NULL), "");
}

static void test_meta_namespace_required_when_namespaced(void)
{
	CHECK_MSG(check(&widget, "{\"metadata\":{\"name\":\"a\"},\"spec\":{\"host\":\"h\"}}", NULL),
		  "metadata.namespace: Required value");
}

static void test_meta_labels_and_annotations(void)
{
	CHECK_MSG(check(&widget, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\","
				 "\"labels\":{\"app\":\"bad value\"}},\"spec\":{\"host\":\"h\"}}", NULL),
		  "metadata.labels: Invalid value: \"bad value\": a valid label must be an empty "
		  "string or consist of alphanumeric characters, '-', '_' or '.', and must start and "
		  "end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
		  "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
	CHECK_MSG(check(&widget, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\","
				 "\"annotations\":{\"Example.com/Note\":\"x\"}},\"spec\":{\"host\":\"h\"}}",
			NULL), "");
}

static void test_meta_annotations_total_size(void)
{
	size_t n = 256 * 1024;
	char *big = xmalloc(n + 1);
	char *obj;

	memset(big, 'x', n);
	big[n] = '\0';
	obj = xasprintf("{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"annotations\":"
			"{\"k\":\"%s\"}},\"spec\":{\"host\":\"h\"}}", big);
	CHECK_MSG(check(&widget, obj, NULL),
		  "metadata.annotations: Too long: may not be more than 262144 bytes");
	free(obj);
	free(big);
}

static void test_meta_owner_references(void)
{
	CHECK_MSG(check(&widget, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\","
				 "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\","
				 "\"name\":\"rs\"}]},\"spec\":{\"host\":\"h\"}}", NULL),
		  "metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty");
}

static void test_meta_finalizers(void)
{
	CHECK_MSG(check(&widget, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\","
				 "\"finalizers\":[\"example.com/x\",\"orphan\",\"foregroundDeletion\"]},"
				 "\"spec\":{\"host\":\"h\"}}", NULL),
		  "metadata.finalizers: Invalid value: [\"example.com/x\",\"orphan\","
		  "\"foregroundDeletion\"]: finalizer orphan and foregroundDeletion cannot be both set");
}

static void test_meta_update_name_immutable(void)
{
	CHECK_MSG(check(&widget, "{\"metadata\":{\"name\":\"b\",\"namespace\":\"default\"},"
				 "\"spec\":{\"host\":\"h\"}}",
			"{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"uid\":\"u1\"},"
			"\"spec\":{\"host\":\"h\"}}"),
		  "metadata.name: Invalid value: \"b\": field is immutable");
}

static void test_meta_update_no_new_finalizers_while_deleting(void)
{
	CHECK_MSG(check(&widget, "{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\","
				 "\"finalizers\":[\"b.io/y\",\"a.io/x\"]},\"spec\":{\"host\":\"h\"}}",
			"{\"metadata\":{\"name\":\"a\",\"namespace\":\"default\",\"deletionTimestamp\":"
			"\"2026-01-01T00:00:00Z\"},\"spec\":{\"host\":\"h\"}}"),
		  "metadata.finalizers: Forbidden: no new finalizers can be added if the object is "
		  "being deleted, found new finalizers []string{\"a.io/x\", \"b.io/y\"}");
}

static void test_meta_path_segment_after_kind_rules(void)
{
	const struct sch_kind *role = sch_kind_by_name("rbac.authorization.k8s.io", "v1", "Role");

	if (!role)
		SKIP("rbac/v1 Role not in the schema");
	CHECK_MSG(check(role, "{\"metadata\":{\"name\":\"system:a/b\",\"namespace\":\"default\"}}",
			NULL),
		  "metadata.name: Invalid value: \"system:a/b\": may not contain '/'");
	CHECK_MSG(check(role, "{\"metadata\":{\"name\":\"system:controller:x\","
			      "\"namespace\":\"default\"}}", NULL), "");
}

int main(void)
{
	widget_setup();
	RUN(test_engine_valid_object_has_no_errors);
	RUN(test_engine_required_field);
	RUN(test_engine_required_in_list_element);
	RUN(test_engine_enum_unsupported_value);
	RUN(test_engine_min_max);
	RUN(test_engine_format_dns_label);
	RUN(test_engine_map_values_checked_with_key_path);
	RUN(test_engine_port_int_or_string);
	RUN(test_engine_immutable_on_update);
	RUN(test_engine_wrong_json_type);
	RUN(test_engine_label_selector_operator);
	RUN(test_engine_defaults_fill_absent_and_empty);
	RUN(test_unknown_fields_paths);
	RUN(test_unknown_fields_type_meta_and_raw_are_known);
	RUN(test_decode_type_error_go_wording);
	RUN(test_decode_custom_types);
	RUN(test_prune_drops_unknown_and_null);
	RUN(test_meta_name_required);
	RUN(test_meta_name_must_be_dns_subdomain);
	RUN(test_meta_generate_name_may_end_with_dash);
	RUN(test_meta_namespace_required_when_namespaced);
	RUN(test_meta_labels_and_annotations);
	RUN(test_meta_annotations_total_size);
	RUN(test_meta_owner_references);
	RUN(test_meta_finalizers);
	RUN(test_meta_update_name_immutable);
	RUN(test_meta_update_no_new_finalizers_while_deleting);
	RUN(test_meta_path_segment_after_kind_rules);
	return tap_done();
}
