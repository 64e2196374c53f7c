/* lib/api: metav1.Time and MicroTime parse like Go's time.Parse and print in UTC. */
#include "api/api.h"

#include "tap.h"

#define NS 1000000000LL
#define RFC "\"2006-01-02T15:04:05Z07:00\""
#define MICRO "\"2006-01-02T15:04:05.000000Z07:00\""

static void test_times_parse_to_epoch_nanoseconds(void)
{
	static const struct { const char *in; int64_t ns; } t[] = {
		{"2026-11-27T13:43:19Z", 1795786999 * NS},
		{"1970-01-01T00:00:00Z", 0},
		{"2026-11-27T15:43:19+02:00", 1795786999 * NS},
		{"2026-11-27T08:13:19-05:30", 1795786999 * NS},
		{"2026-11-27T13:43:19.5Z", 1795786999 * NS + 500000000},
		{"2026-11-27T13:43:19,25Z", 1795786999 * NS + 250000000},
		{"2026-11-27T13:43:19.1234567891Z", 1795786999 * NS + 123456789},
		{"2026-11-27T9:43:19Z", 1795772599 * NS},
		{"2024-02-29T00:00:00Z", 1709164800 * NS},
		{"1969-12-31T23:59:59Z", -1 * NS},
		{"2000-01-01T00:00:00+24:00", 946598400 * NS},
		{"1677-09-22T00:00:00Z", -9223286400 * NS},
		{"2262-04-11T00:00:00Z", 9223286400 * NS},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int64_t ns = 0;
		_cleanup_free_ char *err = NULL;

		CHECK_INT(api_time_parse(t[i].in, &ns, &err), 0);
		if (ns != t[i].ns)
			printf("#   %s: got %lld want %lld (%s)\n", t[i].in, (long long)ns,
			       (long long)t[i].ns, err ? err : "");
		CHECK(ns == t[i].ns);
	}
}

static void test_times_print_in_utc_seconds(void)
{
	static const struct { int64_t ns; const char *out, *micro; } t[] = {
		{1795786999 * NS, "2026-11-27T13:43:19Z", "2026-11-27T13:43:19.000000Z"},
		{1795786999 * NS + 123456789, "2026-11-27T13:43:19Z",
		 "2026-11-27T13:43:19.123456Z"},
		{0, "1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000000Z"},
		{-1, "1969-12-31T23:59:59Z", "1969-12-31T23:59:59.999999Z"},
		{1709164800 * NS, "2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000000Z"},
		{INT64_MAX, "2262-04-11T23:47:16Z", "2262-04-11T23:47:16.854775Z"},
		{INT64_MIN, "1677-09-21T00:12:43Z", "1677-09-21T00:12:43.145224Z"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char buf[API_TIME_LEN], mbuf[API_MICROTIME_LEN];

		api_time_format(t[i].ns, buf);
		api_microtime_format(t[i].ns, mbuf);
		CHECK_STREQ(buf, t[i].out);
		CHECK_STREQ(mbuf, t[i].micro);
	}
}

static void test_invalid_times_report_go_messages(void)
{
	static const struct { const char *in, *msg; int err; } t[] = {
		{"x", "parsing time \"x\" as " RFC ": cannot parse \"x\" as \"2006\"", -EINVAL},
		{"", "parsing time \"\" as " RFC ": cannot parse \"\" as \"2006\"", -EINVAL},
		{"2026-11-27 13:43:19Z", "parsing time \"2026-11-27 13:43:19Z\" as " RFC
		 ": cannot parse \" 13:43:19Z\" as \"T\"", -EINVAL},
		{"2026-11-27T13:43:19", "parsing time \"2026-11-27T13:43:19\" as " RFC
		 ": cannot parse \"\" as \"Z07:00\"", -EINVAL},
		{"2026-11-27T13:43:19z", "parsing time \"2026-11-27T13:43:19z\" as " RFC
		 ": cannot parse \"z\" as \"Z07:00\"", -EINVAL},
		{"2026-1-27T13:43:19Z", "parsing time \"2026-1-27T13:43:19Z\" as " RFC
		 ": cannot parse \"1-27T13:43:19Z\" as \"01\"", -EINVAL},
		{"26-11-27T13:43:19Z", "parsing time \"26-11-27T13:43:19Z\" as " RFC
		 ": cannot parse \"26-11-27T13:43:19Z\" as \"2006\"", -EINVAL},
		{"2026-11-27T13:43:19Zjunk", "parsing time \"2026-11-27T13:43:19Zjunk\": extra "
		 "text: \"junk\"", -EINVAL},
		{"2026-13-01T00:00:00Z",
		 "parsing time \"2026-13-01T00:00:00Z\": month out of range", -EINVAL},
		{"2026-00-01T00:00:00Z",
		 "parsing time \"2026-00-01T00:00:00Z\": month out of range", -EINVAL},
		{"2026-02-30T00:00:00Z", "parsing time \"2026-02-30T00:00:00Z\": day out of range",
		 -EINVAL},
		{"2023-02-29T00:00:00Z", "parsing time \"2023-02-29T00:00:00Z\": day out of range",
		 -EINVAL},
		{"2026-11-00T00:00:00Z", "parsing time \"2026-11-00T00:00:00Z\": day out of range",
		 -EINVAL},
		{"2026-11-27T24:00:00Z", "parsing time \"2026-11-27T24:00:00Z\": hour out of range",
		 -EINVAL},
		{"2026-11-27T13:60:00Z", "parsing time \"2026-11-27T13:60:00Z\": minute out of "
		 "range", -EINVAL},
		{"2026-11-27T13:43:60Z", "parsing time \"2026-11-27T13:43:60Z\": second out of "
		 "range", -EINVAL},
		{"2026-11-27T13:43:19+25:00", "parsing time \"2026-11-27T13:43:19+25:00\": time "
		 "zone offset hour out of range", -EINVAL},
		{"2026-11-27T13:43:19+0200", "parsing time \"2026-11-27T13:43:19+0200\" as " RFC
		 ": cannot parse \"+0200\" as \"Z07:00\"", -EINVAL},
		{"2026-11-27T13:43:19*02:00", "parsing time \"2026-11-27T13:43:19*02:00\" as " RFC
		 ": cannot parse \"*02:00\" as \"Z07:00\"", -EINVAL},
		{"2026-11-27T13:43:19.Z", "parsing time \"2026-11-27T13:43:19.Z\" as " RFC
		 ": cannot parse \".Z\" as \"Z07:00\"", -EINVAL},
		{"2026-11-27T13:43:19\xc3\xa9", "parsing time \"2026-11-27T13:43:19\\xc3\\xa9\" as "
		 RFC ": cannot parse \"\\xc3\\xa9\" as \"Z07:00\"", -EINVAL},
		{"3000-01-01T00:00:00Z", "parsing time \"3000-01-01T00:00:00Z\": outside the range "
		 "kelp can represent (1677-09-21 to 2262-04-11)", -ERANGE},
		{"0000-01-01T00:00:00Z", "parsing time \"0000-01-01T00:00:00Z\": outside the range "
		 "kelp can represent (1677-09-21 to 2262-04-11)", -ERANGE},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int64_t ns = 42;
		_cleanup_free_ char *err = NULL;

		CHECK_INT(api_time_parse(t[i].in, &ns, &err), t[i].err);
		CHECK_STREQ(err, t[i].msg);
		CHECK_INT(ns, 42);
	}
}

static void test_microtimes_need_six_fraction_digits(void)
{
	static const struct { const char *in, *msg; int64_t ns; } t[] = {
		{"2026-11-27T13:43:19.123456Z", NULL, 1795786999 * NS + 123456000},
		{"2026-11-27T13:43:19,123456Z", NULL, 1795786999 * NS + 123456000},
		{"2026-11-27T15:43:19.000001+02:00", NULL, 1795786999 * NS + 1000},
		{"2026-11-27T13:43:19Z", "parsing time \"2026-11-27T13:43:19Z\" as " MICRO
		 ": cannot parse \"Z\" as \".000000\"", 0},
		{"2026-11-27T13:43:19.123Z", "parsing time \"2026-11-27T13:43:19.123Z\" as " MICRO
		 ": cannot parse \".123Z\" as \".000000\"", 0},
		{"2026-11-27T13:43:19.1234567Z", "parsing time \"2026-11-27T13:43:19.1234567Z\" as "
		 MICRO ": cannot parse \"7Z\" as \"Z07:00\"", 0},
		{"2026-11-27T13:43:19.-12345Z", "parsing time \"2026-11-27T13:43:19.-12345Z\": "
		 "fractional second out of range", 0},
	};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		int64_t ns = 0;
		_cleanup_free_ char *err = NULL;
		int r = api_microtime_parse(t[i].in, &ns, &err);

		if (t[i].msg) {
			CHECK_INT(r, -EINVAL);
			CHECK_STREQ(err, t[i].msg);
		} else {
			CHECK_INT(r, 0);
			CHECK(ns == t[i].ns);
		}
	}
}

static void test_format_and_parse_round_trip(void)
{
	static const int64_t t[] = {0, 1, -1, 1795786999 * NS + 987654321, -123456789 * NS,
				    INT64_MAX, INT64_MIN + 999999999};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		char buf[API_TIME_LEN], mbuf[API_MICROTIME_LEN];
		int64_t a, b;

		api_time_format(t[i], buf);
		api_microtime_format(t[i], mbuf);
		CHECK_INT(api_time_parse(buf, &a, NULL), 0);
		CHECK_INT(api_microtime_parse(mbuf, &b, NULL), 0);
		/* floor to the second and to the microsecond */
		CHECK(a <= t[i] && t[i] - a < NS);
		CHECK(b <= t[i] && t[i] - b < 1000);
	}
}

static void test_times_from_and_to_json(void)
{
	json_t *s = json_string("2026-11-27T13:43:19Z"), *n = json_null(), *num = json_integer(5);
	json_t *bad = json_string("nope");
	int64_t ns = 0;
	_cleanup_free_ char *err = NULL, *err2 = NULL;

	CHECK_INT(api_time_from_json(s, &ns, NULL), 1);
	CHECK(ns == 1795786999 * NS);
	CHECK_INT(api_time_from_json(n, &ns, NULL), 0);
	CHECK_INT(api_time_from_json(NULL, &ns, NULL), 0);
	CHECK_INT(api_time_from_json(num, &ns, &err), -EINVAL);
	CHECK_STREQ(err, "json: cannot unmarshal number into Go value of type string");
	CHECK_INT(api_microtime_from_json(bad, &ns, &err2), -EINVAL);
	CHECK_STREQ(err2, "parsing time \"nope\" as " MICRO ": cannot parse \"nope\" as \"2006\"");

	json_t *out = api_time_to_json(1795786999 * NS + 5);
	CHECK_STREQ(json_string_value(out), "2026-11-27T13:43:19Z");
	json_decref(out);
	out = api_microtime_to_json(1795786999 * NS + 5000);
	CHECK_STREQ(json_string_value(out), "2026-11-27T13:43:19.000005Z");
	json_decref(out);
	json_decref(s);
	json_decref(n);
	json_decref(num);
	json_decref(bad);
}

int main(void)
{
	RUN(test_times_parse_to_epoch_nanoseconds);
	RUN(test_times_print_in_utc_seconds);
	RUN(test_invalid_times_report_go_messages);
	RUN(test_microtimes_need_six_fraction_digits);
	RUN(test_format_and_parse_round_trip);
	RUN(test_times_from_and_to_json);
	return tap_done();
}
