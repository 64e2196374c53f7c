/* lib/api: resource.Quantity parsing, canonical form and arithmetic, checked against the
 * cases Kubernetes' own quantity tests use. */
#include "api/api.h"

#include "tap.h"

#define QTY_REGEX_MSG                                                    \
	"quantities must match the regular expression "                    \
	"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"

static char *canon(const char *in)
{
	struct api_quantity q;
	_cleanup_free_ char *err = NULL;

	if (api_quantity_parse(in, &q, &err) < 0) {
		printf("#   parse %s: %s\n", in, err);
		return xstrdup("<error>");
	}
	return api_quantity_format(&q);
}

static struct api_quantity qty(const char *in)
{
	struct api_quantity q = {0};

	if (api_quantity_parse(in, &q, NULL) < 0)
		printf("#   cannot parse %s\n", in);
	return q;
}

struct canon_case {
	const char *in, *out;
};

static void check_canon(const struct canon_case *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *got = canon(t[i].in);
		if (!streq(got, t[i].out))
			printf("#   input %s\n", t[i].in);
		CHECK_STREQ(got, t[i].out);
	}
}

static void test_common_quantities_print_as_kubernetes_returns_them(void)
{
	static const struct canon_case t[] = {
		{"100m", "100m"},
		{"1.5Gi", "1536Mi"},
		{"1e3", "1e3"},
		{"0.5", "500m"},
		{".5", "500m"},
		{"1Ki", "1Ki"},
		{"12E", "12E"},
		{"1000m", "1"},
		{"1024Mi", "1Gi"},
		{"1000", "1k"},
		{"1.5", "1500m"},
		{"1000M", "1G"},
		{"0", "0"},
		{"0Ki", "0"},
		{"0m", "0"},
		{"-0", "0"},
		{"-1", "-1"},
		{"-1.5Gi", "-1536Mi"},
		{"128974848", "128974848"},
		{"129e6", "129e6"},
		{"123Mi", "123Mi"},
		{"250m", "250m"},
		{"2", "2"},
		{"64Mi", "64Mi"},
		{"1G", "1G"},
		{"1.5k", "1500"},
	};
	check_canon(t, ARRAY_SIZE(t));
}

/* ParseQuantity keeps an input that is already canonical-looking by its own rules, so a
 * few spellings round-trip verbatim in Kubernetes ("+1", "1E3"). */
static void test_canonical_looking_input_is_kept_verbatim(void)
{
	static const struct canon_case t[] = {
		{"+1", "+1"},
		{"1E3", "1E3"},
		{"+100m", "+100m"},
		{"01", "01"},
		{"+1Ki", "+1Ki"},
		{"8Ki", "8Ki"},
		{"1000Ki", "1000Ki"},
		{"1.0", "1"},
		{"+1000", "1k"},
		/* scale a multiple of three, digits not ending in 000: kept as written */
		{"5.444T", "5.444T"},
		{"10.035M", "10.035M"},
		{"100.035k", "100.035k"},
		{"6.987654321G", "6.987654321G"},
		{"1.500", "1.500"},
		{"1.", "1."},
		{"1.G", "1.G"},
		{"1.5G", "1500M"},
		{"5.4440T", "5444G"},
	};
	check_canon(t, ARRAY_SIZE(t));
}

static void test_alternate_spellings_canonicalize(void)
{
	static const struct canon_case t[] = {
		{"307200Ki", "300Mi"},
		{"1025024Mi", "1001Gi"},
		{"1024Gi", "1Ti"},
		{"5000m", "5"},
		{"0.001T", "1G"},
		{"1000u", "1m"},
		{"1.08", "1080m"},
		{"1080000000n", "1080m"},
		{".001e12", "1e9"},
		{"0.001e0", "1e-3"},
		{"1000e-12", "1e-9"},
		{"00", "0"},
		{"1.2e3", "1200"},
		{"1.3E+6", "1300e3"},
		{"1.40e9", "1400e6"},
		{"1e14", "100e12"},
		{"1.01E", "1010P"},
		{"0.0005k", "500m"},
		{".", "0"},
		{"-.", "0"},
		{"+", "0"},
		{".0001k", "100m"},
	};
	check_canon(t, ARRAY_SIZE(t));
}

static void test_binary_suffixes_and_fractions(void)
{
	static const struct canon_case t[] = {
		{"0.5Mi", "512Ki"},
		{"100.035Ki", "102435840m"},
		{"0.05Gi", "53687091200m"},
		{"0.025Ti", "27487790694400m"},
		{".001Ki", "1024m"},
		{".000001Ki", "1024u"},
		{".000000001Ki", "1024n"},
		{".000000000001Ki", "2n"},
		{"0.000000000001Ki", "2n"},
		{"1.1Ki", "1126400m"},
		{"3Ei", "3Ei"},
		{"1023", "1023"},
		{"1025Ki", "1025Ki"},
		{"1536Ki", "1536Ki"},
		/* no power of 1024 divides 8000: printed bare, it reads back as 8k (DecimalSI) */
		{"7.8125Ki", "8000"},
		{"8000", "8k"},
	};
	check_canon(t, ARRAY_SIZE(t));
}

static void test_sub_nano_values_round_up_away_from_zero(void)
{
	static const struct canon_case t[] = {
		{"0.1n", "1n"},
		{"0.9n", "1n"},
		{"3.001n", "4n"},
		{"1.1E-9", "2e-9"},
		{"0.0000000001", "1n"},
		{"0.0000000005", "1n"},
		{"0.5e-9", "1e-9"},
		{"0.00000012345", "124n"},
		{"0.00000012354", "124n"},
		{"-0.1n", "-1n"},
		{"1e-1000", "1e-9"},
		{"0.000000000000000000000000000000000000000000000001", "1n"},
	};
	check_canon(t, ARRAY_SIZE(t));
}

static void test_large_values_stay_exact_and_binary_caps_at_int64(void)
{
	static const struct canon_case t[] = {
		{"9Ei", "9223372036854775807"},
		{"9223372036854775807Ki", "9223372036854775807"},
		{"99999999999999999999999Ki", "9223372036854775807"},
		{"-9Ei", "-9223372036854775807"},
		{"9999999999999999999", "9999999999999999999"},
		{"10000000000000000000", "10E"},
		{"10000000000000000000000m", "10E"},
		{"9223372036854775807.1", "9223372036854775807100m"},
		{"1.0000000000000000001E", "1000000000000000000100m"},
		{"-1000000000000000000.1", "-1000000000000000000100m"},
		{"1000E", "1e21"},
		{"1e30", "1e30"},
		{"12345678901234567890123456789012345678",
		 "12345678901234567890123456789012345678"},
	};
	check_canon(t, ARRAY_SIZE(t));
}

static void test_invalid_quantities_report_kubernetes_messages(void)
{
	static const struct { const char *in, *msg; int err; } t[] = {
		{"", QTY_REGEX_MSG, -EINVAL},
		{"1.1.M", QTY_REGEX_MSG, -EINVAL},
		{"1+1.0M", QTY_REGEX_MSG, -EINVAL},
		{"0.1am", QTY_REGEX_MSG, -EINVAL},
		{"aoeu", QTY_REGEX_MSG, -EINVAL},
		{" 1", QTY_REGEX_MSG, -EINVAL},
		{"1 ", QTY_REGEX_MSG, -EINVAL},
		{"1x", QTY_REGEX_MSG, -EINVAL},
		{"0.1mi", "unable to parse quantity's suffix", -EINVAL},
		{".5i", "unable to parse quantity's suffix", -EINVAL},
		{"1i", "unable to parse quantity's suffix", -EINVAL},
		{"-3.01i", "unable to parse quantity's suffix", -EINVAL},
		{"-3.01e-", "unable to parse quantity's suffix", -EINVAL},
		{"1K", "unable to parse quantity's suffix", -EINVAL},
		{"1ki", "unable to parse quantity's suffix", -EINVAL},
		{"1e", "unable to parse quantity's suffix", -EINVAL},
		{"1EE", "unable to parse quantity's suffix", -EINVAL},
		{"1-3", "unable to parse quantity's suffix", -EINVAL},
		{"1e99999999999", "quantity's exponent is out of range", -ERANGE},
		{"1234567890123456789012345678901234567890", "quantity too large or too precise: "
		 "kelp keeps at most 38 significant digits", -ERANGE},
		{"1e2147483600", "quantity's exponent is out of range", -ERANGE},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct api_quantity q = {.mant = 42};
		_cleanup_free_ char *err = NULL;

		CHECK_INT(api_quantity_parse(t[i].in, &q, &err), t[i].err);
		CHECK_STREQ(err, t[i].msg);
		CHECK(q.mant == 42); /* untouched on failure */
	}
}

static void test_format_round_trips_to_an_equal_value(void)
{
	static const char *const in[] = {
		"100m", "1.5Gi", "1e3", "+1", "0.1n", "9Ei", "123.456789k", "-0.5Ki", "1E3",
		"7.123456M", "1000E", "0.00000012345", "1.0000000000000000001E", "5e-9",
	};
	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		struct api_quantity a = qty(in[i]), b;
		_cleanup_free_ char *s = api_quantity_format(&a);

		CHECK_INT(api_quantity_parse(s, &b, NULL), 0);
		CHECK_INT(api_quantity_cmp(&a, &b), 0);
	}
}

static void test_compare_orders_values_across_suffixes(void)
{
	static const struct { const char *a, *b; int want; } t[] = {
		{"1Gi", "1024Mi", 0},
		{"1", "1000m", 0},
		{"1e3", "1k", 0},
		{"100m", "1", -1},
		{"-1", "0", -1},
		{"0", "0Ki", 0},
		{"-2", "-1", -1},
		{"1e30", "999999999999999999999999999", 1},
		{"1n", "0", 1},
		{"1Ki", "1k", 1},
		{"1.5", "1500m", 0},
		{"12E", "11999999999999999999", 1},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct api_quantity a = qty(t[i].a), b = qty(t[i].b);

		CHECK_INT(api_quantity_cmp(&a, &b), t[i].want);
		CHECK_INT(api_quantity_cmp(&b, &a), -t[i].want);
	}
}

static void test_add_and_sub_are_exact_and_take_format_of_zero(void)
{
	struct api_quantity q = qty("100m"), y = qty("900m");
	_cleanup_free_ char *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL;

	CHECK_INT(api_quantity_add(&q, &y), 0);
	CHECK_STREQ(s1 = api_quantity_format(&q), "1");

	q = qty("1Gi");
	y = qty("512Mi");
	CHECK_INT(api_quantity_sub(&q, &y), 0);
	CHECK_STREQ(s2 = api_quantity_format(&q), "512Mi");

	q = qty("0");
	y = qty("1Ki");
	CHECK_INT(api_quantity_add(&q, &y), 0);
	CHECK(q.format == API_QUANTITY_BINARY_SI);
	CHECK_STREQ(s3 = api_quantity_format(&q), "1Ki");

	/* arithmetic drops the verbatim text */
	q = qty("+1");
	y = qty("0");
	CHECK_INT(api_quantity_add(&q, &y), 0);
	CHECK_STREQ(s4 = api_quantity_format(&q), "1");

	q = qty("1e30");
	y = qty("1n");
	struct api_quantity before = q;
	CHECK_INT(api_quantity_add(&q, &y), -ERANGE);
	CHECK_INT(api_quantity_cmp(&q, &before), 0);

	q = qty("1");
	api_quantity_neg(&q);
	CHECK_INT(api_quantity_sign(&q), -1);
	CHECK(!api_quantity_is_zero(&q));
}

static void test_value_rounds_up_away_from_zero(void)
{
	static const struct { const char *in; int64_t value, milli; } t[] = {
		{"1.5", 2, 1500},
		{"-1.5", -2, -1500},
		{"100m", 1, 100},
		{"1n", 1, 1},
		{"-1n", -1, -1},
		{"1Ki", 1024, 1024000},
		{"0", 0, 0},
		{"9223372036854775807", INT64_MAX, 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct api_quantity q = qty(t[i].in);
		int64_t v = 0;

		CHECK_INT(api_quantity_value(&q, &v), 0);
		CHECK(v == t[i].value);
		if (t[i].value != INT64_MAX) {
			CHECK_INT(api_quantity_milli_value(&q, &v), 0);
			CHECK(v == t[i].milli);
		}
	}
	struct api_quantity big = qty("12E");
	int64_t v;
	CHECK_INT(api_quantity_value(&big, &v), -ERANGE);
	big = qty("9223372036854775807");
	CHECK_INT(api_quantity_milli_value(&big, &v), -ERANGE);
	struct api_quantity one = api_quantity_from_scaled(1, 2);
	CHECK_INT(api_quantity_scaled_value(&one, -2, &v), 0);
	CHECK_INT(v, 10000);
}

static void test_constructors_match_new_quantity(void)
{
	static const struct {
		int64_t v;
		int kind; /* 0: from_int, 1: from_milli */
		enum api_quantity_format f;
		const char *out;
	} t[] = {
		{1, 0, API_QUANTITY_DECIMAL_SI, "1"},
		{1000, 0, API_QUANTITY_DECIMAL_SI, "1k"},
		{1234000, 0, API_QUANTITY_DECIMAL_SI, "1234k"},
		{1024, 0, API_QUANTITY_BINARY_SI, "1Ki"},
		{1000000, 0, API_QUANTITY_DECIMAL_EXPONENT, "1e6"},
		{1024 * 1024, 0, API_QUANTITY_BINARY_SI, "1Mi"},
		{1, 1, API_QUANTITY_DECIMAL_SI, "1m"},
		{1000, 1, API_QUANTITY_DECIMAL_SI, "1"},
		{1024, 1, API_QUANTITY_BINARY_SI, "1024m"},
		{1000000, 1, API_QUANTITY_DECIMAL_EXPONENT, "1e3"},
		{1024 * 1024, 1, API_QUANTITY_BINARY_SI, "1048576m"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		struct api_quantity q = t[i].kind ? api_quantity_from_milli(t[i].v, t[i].f)
						  : api_quantity_from_int(t[i].v, t[i].f);
		_cleanup_free_ char *s = api_quantity_format(&q);
		CHECK_STREQ(s, t[i].out);
	}
	struct api_quantity g = api_quantity_from_scaled(1, 9);
	_cleanup_free_ char *s = api_quantity_format(&g);
	CHECK_STREQ(s, "1G");
}

static void test_json_accepts_strings_numbers_and_null(void)
{
	static const struct { const char *json, *out; } t[] = {
		{"\" 100m \"", "100m"},
		{"\"1 \"", "1"},
		{"1000", "1k"},
		{"-1", "-1"},
		{"0.5", "500m"},
		{"1.5", "1500m"},
		{"0.1", "100m"},
		{"1e3", "1k"},
		{"null", "0"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		json_t *j = json_loads(t[i].json, JSON_DECODE_ANY, NULL);
		struct api_quantity q;

		CHECK_INT(api_quantity_from_json(j, &q, NULL), 0);
		json_t *out = api_quantity_to_json(&q);
		CHECK_STREQ(json_string_value(out), t[i].out);
		json_decref(out);
		json_decref(j);
	}
	json_t *b = json_true();
	struct api_quantity q;
	_cleanup_free_ char *err = NULL;
	CHECK_INT(api_quantity_from_json(b, &q, &err), -EINVAL);
	CHECK_STREQ(err, QTY_REGEX_MSG);
	json_decref(b);
}

int main(void)
{
	RUN(test_common_quantities_print_as_kubernetes_returns_them);
	RUN(test_canonical_looking_input_is_kept_verbatim);
	RUN(test_alternate_spellings_canonicalize);
	RUN(test_binary_suffixes_and_fractions);
	RUN(test_sub_nano_values_round_up_away_from_zero);
	RUN(test_large_values_stay_exact_and_binary_caps_at_int64);
	RUN(test_invalid_quantities_report_kubernetes_messages);
	RUN(test_format_round_trips_to_an_equal_value);
	RUN(test_compare_orders_values_across_suffixes);
	RUN(test_add_and_sub_are_exact_and_take_format_of_zero);
	RUN(test_value_rounds_up_away_from_zero);
	RUN(test_constructors_match_new_quantity);
	RUN(test_json_accepts_strings_numbers_and_null);
	return tap_done();
}
