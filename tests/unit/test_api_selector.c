/* lib/api: label and field selectors and the name/label validation they share, with the
 * inputs and messages of Kubernetes' own selector tests. */
#include "api/api.h"

#include "tap.h"

#define LABEL_VALUE_MSG                                                                     \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' " \
	"or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "    \
	"'my_value',  or '12345', regex used for validation is "                                  \
	"'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define NAME_PART_MSG                                                                        \
	"name part must consist of alphanumeric characters, '-', '_' or '.', and must start and " \
	"end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex " \
	"used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define DNS_LABEL_MSG                                                                       \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', " \
	"and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "  \
	"regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define DNS_SUBDOMAIN_MSG                                                                     \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' " \
	"or '.', and must start and end with an alphanumeric character (e.g. 'example.com', "      \
	"regex used for validation is "                                                           \
	"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

static char *repeat(char c, size_t n)
{
	char *s = xmalloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- validation ---- */

static void check_msgs(size_t (*fn)(const char *, struct api_msgs *), const char *in,
		       const char *want)
{
	struct api_msgs m = {0};
	size_t n = fn(in, &m);
	_cleanup_free_ char *got = api_msgs_join(&m, "; ");

	if (!streq(got, want))
		printf("#   input \"%s\"\n", in);
	CHECK_STREQ(got, want);
	CHECK_INT(n, m.n);
	CHECK_INT(fn(in, NULL), m.n);
	api_msgs_clear(&m);
}

static void test_dns_names_validate_with_kubernetes_messages(void)
{
	_cleanup_free_ char *l64 = repeat('a', 64), *l254 = repeat('a', 254);

	check_msgs(api_is_dns1123_label, "my-name", "");
	check_msgs(api_is_dns1123_label, "123-abc", "");
	check_msgs(api_is_dns1123_label, "a.b", "must not contain dots");
	check_msgs(api_is_dns1123_label, "-a", DNS_LABEL_MSG);
	check_msgs(api_is_dns1123_label, "", DNS_LABEL_MSG);
	check_msgs(api_is_dns1123_label, "A", DNS_LABEL_MSG);
	check_msgs(api_is_dns1123_label, l64, "must be no more than 63 characters");
	check_msgs(api_is_dns1123_subdomain, "example.com", "");
	check_msgs(api_is_dns1123_subdomain, "a-1.b", "");
	check_msgs(api_is_dns1123_subdomain, "Example.com", DNS_SUBDOMAIN_MSG);
	check_msgs(api_is_dns1123_subdomain, "a..b", DNS_SUBDOMAIN_MSG);
	check_msgs(api_is_dns1123_subdomain, "a.", DNS_SUBDOMAIN_MSG);
	check_msgs(api_is_dns1123_subdomain, l254, "must be no more than 253 characters");
	check_msgs(api_is_dns1035_label, "my-name", "");
	check_msgs(api_is_dns1035_label, "1abc",
		   "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
		   "start with an alphabetic character, and end with an alphanumeric character "
		   "(e.g. 'my-name',  or 'abc-123', regex used for validation is "
		   "'[a-z]([-a-z0-9]*[a-z0-9])?')");
}

static void test_label_keys_and_values_validate_with_kubernetes_messages(void)
{
	_cleanup_free_ char *l64 = repeat('a', 64);
	_cleanup_free_ char *long_prefix = xasprintf("%s/a", l64);

	check_msgs(api_is_qualified_name, "example.com/MyName", "");
	check_msgs(api_is_qualified_name, "my.name", "");
	check_msgs(api_is_qualified_name, "Foo_", NAME_PART_MSG);
	check_msgs(api_is_qualified_name, "/a", "prefix part must be non-empty");
	check_msgs(api_is_qualified_name, "a/", "name part must be non-empty; " NAME_PART_MSG);
	check_msgs(api_is_qualified_name, "Example.com/a", "prefix part " DNS_SUBDOMAIN_MSG);
	check_msgs(api_is_qualified_name, long_prefix, "");
	check_msgs(api_is_qualified_name, l64, "name part must be no more than 63 characters");
	check_msgs(api_is_qualified_name, "a/b/c",
		   "a qualified name must consist of alphanumeric characters, '-', '_' or '.', "
		   "and must start and end with an alphanumeric character (e.g. 'MyName',  or "
		   "'my.name',  or '123-abc', regex used for validation is "
		   "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain "
		   "prefix and '/' (e.g. 'example.com/MyName')");
	check_msgs(api_is_valid_label_value, "", "");
	check_msgs(api_is_valid_label_value, "MyValue", "");
	check_msgs(api_is_valid_label_value, "my_value.1", "");
	check_msgs(api_is_valid_label_value, "-a", LABEL_VALUE_MSG);
	check_msgs(api_is_valid_label_value, "a b", LABEL_VALUE_MSG);
	check_msgs(api_is_valid_label_value, l64, "must be no more than 63 characters");
}

/* ---- label selectors ---- */

static void check_label_format(const char *in, const char *want)
{
	struct api_label_selector *s = NULL;
	_cleanup_free_ char *err = NULL;

	if (api_label_selector_parse(in, &s, &err) < 0) {
		printf("#   \"%s\": %s\n", in, err);
		CHECK(false);
		return;
	}
	_cleanup_free_ char *got = api_label_selector_format(s);
	if (!streq(got, want))
		printf("#   input \"%s\"\n", in);
	CHECK_STREQ(got, want);
	api_label_selector_free(s);
}

static void test_label_selectors_parse_and_print_canonically(void)
{
	static const struct { const char *in, *out; } t[] = {
		{"x=a,y=b,z=c", "x=a,y=b,z=c"},
		{"", ""},
		{"x!=a,y=b", "x!=a,y=b"},
		{"x=", "x="},
		{"x= ", "x="},
		{"x=,z= ", "x=,z="},
		{"x= ,z= ", "x=,z="},
		{"!x", "!x"},
		{"x>1", "x>1"},
		{"x>1,z<5", "x>1,z<5"},
		{"x=a,a=x", "a=x,x=a"},
		{"x==a", "x==a"},
		{"\rx", "x"},
		{"a ", "a"},
		{"notin=in", "notin=in"},
		{"foo  in\t (abc)", "foo in (abc)"},
		{"x notin\n (abc)", "x notin (abc)"},
		{"x  notin\t\t(abc,def)", "x notin (abc,def)"},
		{"x in (abc,)", "x in (,abc)"},
		{"x in (abc,abc)", "x in (abc)"},
		{"x in ()", "x in ()"},
		{"x in (a,,)", "x in (,a)"},
		{"x in (a,,a,,a,,a,,)", "x in (,a)"},
		{"x notin ( )", "x notin ()"},
		{"x notin (, a)", "x notin (,a)"},
		{"x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()"},
		{"a in (x,y,notin, z,in)", "a in (in,notin,x,y,z)"},
		{"this-is-a-dns.domain.com/key-with-dash",
		 "this-is-a-dns.domain.com/key-with-dash"},
		{"0.1.2.domain/99 notin (198.18.100.1, tick.tack.clock)",
		 "0.1.2.domain/99 notin (198.18.100.1,tick.tack.clock)"},
		{"app=web,app!=db", "app=web,app!=db"},
		{"environment in (production, qa)", "environment in (production,qa)"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++)
		check_label_format(t[i].in, t[i].out);
}

static void test_label_selector_errors_match_kubernetes(void)
{
	static const struct { const char *in, *msg; } t[] = {
		{"x=a||y=b", "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": "
			     LABEL_VALUE_MSG},
		{"x==a==b", "found '==', expected: ',' or 'end of string'"},
		{"!x=a", "found '=', expected: ',' or 'end of string'"},
		{"x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', "
			"'Lt' operators, the value must be an integer"},
		{"x>", "unable to parse requirement: values[0]: Invalid value: \"\": for 'Gt', "
		       "'Lt' operators, the value must be an integer"},
		{"x,,y", "found ',', expected: identifier after ','"},
		{",x,y", "found ',', expected: !, identifier, or 'end of string'"},
		{"x nott in (y)", "unable to parse requirement: found 'nott', expected: in, notin, "
		                  "=, "
				  "==, !=, gt, lt"},
		{"a in (xyz),", "found '', expected: identifier after ','"},
		{"a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'"},
		{"a in (xyz abc)",
		 "unable to parse requirement: found 'abc', expected: ',' or ')'"},
		{"a notin(", "unable to parse requirement: found '', expected: ',', ')' or "
			     "identifier"},
		{"a (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, "
			"gt, lt"},
		{"(", "found '(', expected: !, identifier, or 'end of string'"},
		{"a in x", "unable to parse requirement: found 'x' expected: '('"},
		{"a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or "
			     "identifier"},
		{"a=(", "unable to parse requirement: found '(', expected: identifier"},
		{"!", "unable to parse requirement: found '', expected: identifier"},
		{"Foo_=bar", "unable to parse requirement: <nil>: Invalid value: \"Foo_\": "
			     NAME_PART_MSG},
		{"x in (a_,b_)", "unable to parse requirement: [values[0][x]: Invalid value: "
				 "\"a_\": " LABEL_VALUE_MSG ", values[1][x]: Invalid value: "
				                            "\"b_\": "
				 LABEL_VALUE_MSG "]"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct api_label_selector *s = NULL;
		_cleanup_free_ char *err = NULL;

		CHECK_INT(api_label_selector_parse(t[i].in, &s, &err), -EINVAL);
		CHECK(s == NULL);
		if (!err || !streq(err, t[i].msg))
			printf("#   input \"%s\"\n", t[i].in);
		CHECK_STREQ(err, t[i].msg);
	}
}

static bool label_match(const char *sel, const char *labels_json)
{
	struct api_label_selector *s = NULL;
	json_t *labels = json_loads(labels_json, 0, NULL);
	bool m;

	if (api_label_selector_parse(sel, &s, NULL) < 0) {
		printf("#   cannot parse %s\n", sel);
		json_decref(labels);
		return false;
	}
	m = api_label_selector_matches(s, labels);
	api_label_selector_free(s);
	json_decref(labels);
	return m;
}

static void test_label_selectors_match_label_sets(void)
{
	static const struct { const char *sel, *labels; bool want; } t[] = {
		{"", "{\"x\":\"y\"}", true},
		{"x=y", "{\"x\":\"y\"}", true},
		{"x=y,z=w", "{\"x\":\"y\",\"z\":\"w\"}", true},
		{"x!=y,z!=w", "{\"x\":\"z\",\"z\":\"a\"}", true},
		{"notin=in", "{\"notin\":\"in\"}", true},
		{"x", "{\"x\":\"z\"}", true},
		{"!x", "{\"y\":\"z\"}", true},
		{"x>1", "{\"x\":\"2\"}", true},
		{"x<1", "{\"x\":\"0\"}", true},
		{"x=y", "{\"x\":\"z\"}", false},
		{"x=y,z=w", "{\"x\":\"w\",\"z\":\"w\"}", false},
		{"x!=y,z!=w", "{\"x\":\"z\",\"z\":\"w\"}", false},
		{"x", "{\"y\":\"z\"}", false},
		{"!x", "{\"x\":\"z\"}", false},
		{"x>1", "{\"x\":\"0\"}", false},
		{"x<1", "{\"x\":\"2\"}", false},
		{"x>1", "{\"x\":\"a\"}", false},
		{"x>1", "{}", false},
		{"x!=y", "{}", true},
		{"x notin (a,b)", "{}", true},
		{"x in (a,b)", "{\"x\":\"b\"}", true},
		{"x in (a,b)", "{\"x\":\"c\"}", false},
		{"x in ()", "{\"x\":\"\"}", true},
		{"x=", "{}", false},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		bool got = label_match(t[i].sel, t[i].labels);
		if (got != t[i].want)
			printf("#   %s on %s\n", t[i].sel, t[i].labels);
		CHECK(got == t[i].want);
	}
	struct api_label_selector *all = api_label_selector_everything();
	struct api_label_selector *none = api_label_selector_nothing();
	CHECK(api_label_selector_matches(all, NULL));
	CHECK(api_label_selector_empty(all));
	CHECK(!api_label_selector_matches(none, NULL));
	CHECK(!api_label_selector_empty(none));
	_cleanup_free_ char *f = api_label_selector_format(none);
	CHECK_STREQ(f, "");
	api_label_selector_free(all);
	api_label_selector_free(none);
}

static void test_label_selector_reports_required_exact_values(void)
{
	static const struct { const char *sel, *label, *value; } t[] = {
		{"x=a", "x", "a"},
		{"x==a", "x", "a"},
		{"x in (a)", "x", "a"},
		{"x in (a,b)", "x", NULL},
		{"x!=a", "x", NULL},
		{"x", "x", NULL},
		{"x=a,y=b", "y", "b"},
		{"y=b", "x", NULL},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		_cleanup_(api_label_selector_freep) struct api_label_selector *s = NULL;
		const char *v = NULL;

		CHECK_INT(api_label_selector_parse(t[i].sel, &s, NULL), 0);
		CHECK(api_label_selector_requires_exact(s, t[i].label, &v) == (t[i].value != NULL));
		if (t[i].value)
			CHECK_STREQ(v, t[i].value);
	}
}

static void test_label_selector_from_json_form(void)
{
	static const struct { const char *json, *out, *err; bool nothing; } t[] = {
		{"{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":\"tier\","
		 "\"operator\":\"In\",\"values\":[\"b\",\"a\"]}]}", "app=web,tier in (a,b)", NULL},
		{"{\"matchExpressions\":[{\"key\":\"b\",\"operator\":\"Exists\"},{\"key\":\"a\","
		 "\"operator\":\"DoesNotExist\"},{\"key\":\"c\",\"operator\":\"NotIn\","
		 "\"values\":[\"x\"]}]}", "!a,b,c notin (x)", NULL},
		{"{}", "", NULL},
		{"{\"matchLabels\":{}}", "", NULL},
		{"null", "", NULL, true},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Foo\"}]}", NULL,
		 "\"Foo\" is not a valid label selector operator"},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"In\",\"values\":[]}]}", NULL,
		 "values: Invalid value: null: for 'in', 'notin' operators, values set can't be "
		 "empty"},
		{"{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":"
		 "[\"x\"]}]}", NULL,
		 "values: Invalid value: [\"x\"]: values set must be empty for exists and does not "
		 "exist"},
		{"{\"matchLabels\":{\"bad key\":\"v\"}}", NULL,
		 "key: Invalid value: \"bad key\": " NAME_PART_MSG},
		{"{\"matchLabels\":{\"k\":\"-v\"}}", NULL,
		 "values[0][k]: Invalid value: \"-v\": " LABEL_VALUE_MSG},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		json_t *j = json_loads(t[i].json, JSON_DECODE_ANY, NULL);
		struct api_label_selector *s = NULL;
		_cleanup_free_ char *err = NULL;
		int r = api_label_selector_from_json(json_is_null(j) ? NULL : j, &s, &err);

		if (t[i].err) {
			CHECK_INT(r, -EINVAL);
			CHECK_STREQ(err, t[i].err);
		} else {
			CHECK_INT(r, 0);
			_cleanup_free_ char *f = api_label_selector_format(s);
			CHECK_STREQ(f, t[i].out);
			CHECK(s->nothing == t[i].nothing);
		}
		api_label_selector_free(s);
		json_decref(j);
	}
	json_t *labels = json_pack("{s:s,s:s}", "app", "web", "tier", "a");
	json_t *ls = json_loads("{\"matchLabels\":{\"app\":\"web\"},\"matchExpressions\":[{\"key\":"
				"\"tier\",\"operator\":\"In\",\"values\":[\"a\"]}]}", 0, NULL);
	_cleanup_(api_label_selector_freep) struct api_label_selector *s = NULL;
	CHECK_INT(api_label_selector_from_json(ls, &s, NULL), 0);
	CHECK(api_label_selector_matches(s, labels));
	json_object_set_new(labels, "tier", json_string("b"));
	CHECK(!api_label_selector_matches(s, labels));
	json_decref(labels);
	json_decref(ls);
}

/* ---- field selectors ---- */

static void test_field_selectors_parse_and_print_canonically(void)
{
	static const struct { const char *in, *out; } t[] = {
		{"spec.nodeName=n1", "spec.nodeName=n1"},
		{"a==b", "a=b"},
		{"b=2,a=1", "a=1,b=2"},
		{"a!=b", "a!=b"},
		{"", ""},
		{"a=b,,c=d", "a=b,c=d"},
		{"a=x\\,y", "a=x\\,y"},
		{"a=x\\=y\\\\z", "a=x\\=y\\\\z"},
		{"=", ""},
		{"a=", "a="},
		{"metadata.name=foo,status.phase!=Running",
		 "metadata.name=foo,status.phase!=Running"},
		{"a!=b\\=c\\=", "a!=b\\=c\\="},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		_cleanup_(api_field_selector_freep) struct api_field_selector *s = NULL;
		_cleanup_free_ char *err = NULL;
		int r = api_field_selector_parse(t[i].in, &s, &err);

		if (r < 0) {
			printf("#   \"%s\": %s\n", t[i].in, err);
			CHECK(false);
			continue;
		}
		_cleanup_free_ char *f = api_field_selector_format(s);
		CHECK_STREQ(f, t[i].out);
	}
	_cleanup_(api_field_selector_freep) struct api_field_selector *s = NULL;
	CHECK_INT(api_field_selector_parse("a=x\\,y\\=z\\\\", &s, NULL), 0);
	CHECK_INT(s->n, 1);
	CHECK_STREQ(s->reqs[0].field, "a");
	CHECK_STREQ(s->reqs[0].value, "x,y=z\\");
	_cleanup_free_ char *esc = api_field_selector_escape("a,b=c\\");
	CHECK_STREQ(esc, "a\\,b\\=c\\\\");
}

static void test_field_selector_errors_match_kubernetes(void)
{
	static const struct { const char *in, *msg; } t[] = {
		{"a", "invalid selector: 'a'; can't understand 'a'"},
		{"a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"},
		{"a=b=c", "invalid field selector: unescaped character in value: 61"},
		{"a=b,c=d,e", "invalid selector: 'a=b,c=d,e'; can't understand 'e'"},
		{"a=x\\y", "invalid field selector: invalid escape sequence: \\y"},
		{"a=x\\", "invalid field selector: invalid escape sequence: \\"},
		{"a=b\\,c,d", "invalid selector: 'a=b\\,c,d'; can't understand 'd'"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct api_field_selector *s = NULL;
		_cleanup_free_ char *err = NULL;

		CHECK_INT(api_field_selector_parse(t[i].in, &s, &err), -EINVAL);
		CHECK(s == NULL);
		CHECK_STREQ(err, t[i].msg);
	}
}

/* A pod's selectable fields, as the API server would offer them. */
static const char *pod_field(void *userdata, const char *field)
{
	const json_t *pod = userdata;
	const char *v;

	if (streq(field, "metadata.name"))
		v = api_meta_name(pod);
	else if (streq(field, "metadata.namespace"))
		v = api_meta_namespace(pod);
	else if (streq(field, "spec.nodeName"))
		v = api_get_str(pod, "spec.nodeName");
	else if (streq(field, "status.phase"))
		v = api_get_str(pod, "status.phase");
	else
		return NULL;
	return v ? v : "";
}

static int field_match(const char *sel, const char *pod_json, char **err)
{
	_cleanup_(api_field_selector_freep) struct api_field_selector *s = NULL;
	json_t *pod = json_loads(pod_json, 0, NULL);
	int r;

	CHECK_INT(api_field_selector_parse(sel, &s, NULL), 0);
	r = api_field_selector_match(s, pod_field, pod, err);
	json_decref(pod);
	return r;
}

static void test_field_selectors_match_through_the_getter(void)
{
	static const char *pod = "{\"metadata\":{\"name\":\"web\",\"namespace\":\"default\"},"
				 "\"spec\":{\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Running\"}"
				 "}";
	static const char *pending = "{\"metadata\":{\"name\":\"db\"},\"spec\":{}}";
	static const struct { const char *sel, *pod; int want; } t[] = {
		{"", NULL, 1},
		{"spec.nodeName=n1", NULL, 1},
		{"spec.nodeName==n1", NULL, 1},
		{"spec.nodeName=n2", NULL, 0},
		{"spec.nodeName!=n2", NULL, 1},
		{"status.phase!=Running", NULL, 0},
		{"metadata.name=web,metadata.namespace=default", NULL, 1},
		{"metadata.name=web,metadata.namespace=kube-system", NULL, 0},
		{"spec.nodeName=", "p", 1},
		{"spec.nodeName=", NULL, 0},
		{"status.phase!=Running", "p", 1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int got = field_match(t[i].sel, t[i].pod ? pending : pod, NULL);
		if (got != t[i].want)
			printf("#   %s\n", t[i].sel);
		CHECK_INT(got, t[i].want);
	}
	_cleanup_free_ char *err = NULL;
	CHECK_INT(field_match("spec.foo=bar,metadata.name=web", pod, &err), -ENOENT);
	CHECK_STREQ(err, "field label not supported: spec.foo");

	_cleanup_(api_field_selector_freep) struct api_field_selector *s = NULL;
	_cleanup_free_ char *err2 = NULL;
	json_t *empty = json_object();
	CHECK_INT(api_field_selector_parse("status.phase=Running,spec.host=x", &s, NULL), 0);
	CHECK_INT(api_field_selector_check(s, pod_field, empty, &err2), -ENOENT);
	CHECK_STREQ(err2, "field label not supported: spec.host");
	json_decref(empty);

	struct api_field_selector *none = api_field_selector_nothing();
	CHECK_INT(api_field_selector_match(none, pod_field, NULL, NULL), 0);
	CHECK(!api_field_selector_empty(none));
	api_field_selector_free(none);
	struct api_field_selector *all = api_field_selector_everything();
	CHECK(api_field_selector_empty(all));
	api_field_selector_free(all);
}

static void test_field_selector_reports_required_exact_values(void)
{
	_cleanup_(api_field_selector_freep) struct api_field_selector *s = NULL, *n = NULL;
	const char *v = NULL;

	CHECK_INT(api_field_selector_parse("status.phase!=Failed,spec.nodeName=n1", &s, NULL), 0);
	CHECK(api_field_selector_requires_exact(s, "spec.nodeName", &v));
	CHECK_STREQ(v, "n1");
	CHECK(!api_field_selector_requires_exact(s, "status.phase", &v));
	CHECK_INT(api_field_selector_parse("spec.nodeName!=n1", &n, NULL), 0);
	CHECK(!api_field_selector_requires_exact(n, "spec.nodeName", &v));
}

int main(void)
{
	RUN(test_dns_names_validate_with_kubernetes_messages);
	RUN(test_label_keys_and_values_validate_with_kubernetes_messages);
	RUN(test_label_selectors_parse_and_print_canonically);
	RUN(test_label_selector_errors_match_kubernetes);
	RUN(test_label_selectors_match_label_sets);
	RUN(test_label_selector_reports_required_exact_values);
	RUN(test_label_selector_from_json_form);
	RUN(test_field_selectors_parse_and_print_canonically);
	RUN(test_field_selector_errors_match_kubernetes);
	RUN(test_field_selectors_match_through_the_getter);
	RUN(test_field_selector_reports_required_exact_values);
	return tap_done();
}
