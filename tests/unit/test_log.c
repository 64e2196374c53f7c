/* lib/log: klog-style text and JSON lines, escaping, levels, truncation. */
#include "log/log.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>

#include "base/base.h"
#include "tap.h"

/* 2023-11-14 22:13:20.123456789 UTC */
#define T0 1700000000123456789ull

static char *line(const struct logger *lg, enum log_level lvl, const char *msg,
		  const struct log_field *f, unsigned n)
{
	char buf[4096];

	log_format_line(buf, sizeof(buf), lg, lvl, T0, "../lib/http/server.c", 42, msg, f, n);
	return xstrdup(buf);
}

static json_t *parse_json_line(const char *s)
{
	json_error_t e;
	size_t n = strlen(s);
	json_t *j;

	CHECK(n > 0 && s[n - 1] == '\n');
	j = json_loadb(s, n, 0, &e);
	if (!j)
		printf("#   not JSON (%s): %s", e.text, s);
	return j;
}

static void test_text_line_has_klog_header_and_fields(void)
{
	struct logger lg = {.fd = -1, .level = LOG_INFO, .format = LOG_FORMAT_TEXT,
			    .component = "apiserver"};
	const struct log_field f[] = {LOG_S("addr", "127.0.0.1:6443"), LOG_I("fd", -7),
				      LOG_U("bytes", UINT64_MAX), LOG_D("ratio", 0.25),
				      LOG_B("tls", true), LOG_ERR(-ENOENT)};
	_cleanup_free_ char *s = line(&lg, LOG_WARN, "listening", f, ARRAY_SIZE(f));
	_cleanup_free_ char *want = xasprintf(
		"W1114 22:13:20.123456 %7d http/server.c:42] apiserver: \"listening\" "
		"addr=\"127.0.0.1:6443\" fd=-7 bytes=18446744073709551615 ratio=0.25 tls=true "
		"err=\"No such file or directory\"\n",
		(int)getpid());
	CHECK_STREQ(s, want);

	lg.component = NULL;
	_cleanup_free_ char *bare = line(&lg, LOG_ERROR, "boom", NULL, 0);
	_cleanup_free_ char *want_bare =
		xasprintf("E1114 22:13:20.123456 %7d http/server.c:42] \"boom\"\n", (int)getpid());
	CHECK_STREQ(bare, want_bare);
}

static void test_level_letters_follow_klog(void)
{
	struct logger lg = {.fd = -1, .level = LOG_TRACE, .format = LOG_FORMAT_TEXT};
	const char letters[] = "EWIDT";

	for (int l = LOG_ERROR; l <= LOG_TRACE; l++) {
		_cleanup_free_ char *s = line(&lg, (enum log_level)l, "m", NULL, 0);
		CHECK(s[0] == letters[l]);
	}
}

static void test_json_line_parses_with_every_field_type(void)
{
	struct logger lg = {.fd = -1, .level = LOG_INFO, .format = LOG_FORMAT_JSON,
			    .component = "scheduler"};
	const struct log_field f[] = {LOG_S("pod", "default/web-0"), LOG_I("attempt", -3),
				      LOG_U("nodes", 5000), LOG_D("score", 12.5),
				      LOG_B("bound", false), LOG_ERR(-ECONNREFUSED),
				      LOG_S("none", NULL)};
	_cleanup_free_ char *s = line(&lg, LOG_DEBUG, "scheduled", f, ARRAY_SIZE(f));
	json_t *j = parse_json_line(s);

	CHECK(str_has_prefix(s, "{\"ts\":1700000000.123456,\"level\":\"debug\","
				"\"caller\":\"http/server.c:42\",\"component\":\"scheduler\","
				"\"msg\":\"scheduled\","));
	CHECK(j != NULL);
	if (!j)
		return;
	CHECK(fabs(json_number_value(json_object_get(j, "ts")) - 1700000000.123456) < 1e-6);
	CHECK_STREQ(json_string_value(json_object_get(j, "level")), "debug");
	CHECK_STREQ(json_string_value(json_object_get(j, "caller")), "http/server.c:42");
	CHECK_STREQ(json_string_value(json_object_get(j, "component")), "scheduler");
	CHECK_STREQ(json_string_value(json_object_get(j, "msg")), "scheduled");
	CHECK_STREQ(json_string_value(json_object_get(j, "pod")), "default/web-0");
	CHECK_INT(json_integer_value(json_object_get(j, "attempt")), -3);
	CHECK_INT(json_integer_value(json_object_get(j, "nodes")), 5000);
	CHECK(json_number_value(json_object_get(j, "score")) == 12.5);
	CHECK(json_is_false(json_object_get(j, "bound")));
	CHECK_STREQ(json_string_value(json_object_get(j, "err")), "Connection refused");
	CHECK_STREQ(json_string_value(json_object_get(j, "none")), "(null)");
	json_decref(j);
}

static void test_strings_are_escaped_into_one_line(void)
{
	static const char nasty[] = "a \"quote\", a \\ back\\slash,\nnew line,\ttab, \x01\x1f\x7f, "
				    "naïve ✓";
	const struct log_field f[] = {LOG_S("we\"ird\nkey", nasty)};
	struct logger lg = {.fd = -1, .level = LOG_INFO, .format = LOG_FORMAT_JSON};

	_cleanup_free_ char *js = line(&lg, LOG_INFO, nasty, f, 1);
	CHECK(strchr(js, '\n') == js + strlen(js) - 1);
	json_t *j = parse_json_line(js);
	CHECK(j != NULL);
	CHECK_STREQ(json_string_value(json_object_get(j, "msg")), nasty);
	CHECK_STREQ(json_string_value(json_object_get(j, "we\"ird\nkey")), nasty);
	json_decref(j);

	lg.format = LOG_FORMAT_TEXT;
	_cleanup_free_ char *txt = line(&lg, LOG_INFO, nasty, NULL, 0);
	CHECK(strchr(txt, '\n') == txt + strlen(txt) - 1);
	CHECK(str_has_suffix(txt, "] \"a \\\"quote\\\", a \\\\ back\\\\slash,\\nnew line,\\ttab, "
				  "\\u0001\\u001f\\u007f, naïve ✓\"\n"));
}

static void test_non_finite_doubles_keep_json_valid(void)
{
	struct logger lg = {.fd = -1, .level = LOG_INFO, .format = LOG_FORMAT_JSON};
	const struct log_field f[] = {LOG_D("a", NAN), LOG_D("b", INFINITY), LOG_D("c", -INFINITY),
				      LOG_D("d", 1e300)};
	_cleanup_free_ char *s = line(&lg, LOG_INFO, "m", f, ARRAY_SIZE(f));
	json_t *j = parse_json_line(s);

	CHECK(j != NULL);
	CHECK_STREQ(json_string_value(json_object_get(j, "a")), "nan");
	CHECK_STREQ(json_string_value(json_object_get(j, "b")), "inf");
	CHECK_STREQ(json_string_value(json_object_get(j, "c")), "-inf");
	CHECK(json_number_value(json_object_get(j, "d")) == 1e300);
	json_decref(j);
}

static void test_levels_filter_and_parse(void)
{
	struct logger lg = log_default("x");
	enum log_level l = LOG_ERROR;
	enum log_format f = LOG_FORMAT_TEXT;

	CHECK_INT(lg.fd, STDERR_FILENO);
	CHECK_INT(lg.level, LOG_INFO);
	CHECK_INT(lg.format, LOG_FORMAT_TEXT);
	CHECK(log_enabled(&lg, LOG_ERROR) && log_enabled(&lg, LOG_INFO));
	CHECK(!log_enabled(&lg, LOG_DEBUG) && !log_enabled(NULL, LOG_ERROR));

	CHECK_INT(log_level_parse("debug", &l), 0);
	CHECK_INT(l, LOG_DEBUG);
	CHECK_INT(log_level_parse("WARN", &l), 0);
	CHECK_INT(l, LOG_WARN);
	CHECK_INT(log_level_parse("4", &l), 0);
	CHECK_INT(l, LOG_TRACE);
	CHECK_INT(log_level_parse("0", &l), 0);
	CHECK_INT(l, LOG_ERROR);
	CHECK_INT(log_level_parse("5", &l), -EINVAL);
	CHECK_INT(log_level_parse("", &l), -EINVAL);
	CHECK_INT(log_level_parse("infoo", &l), -EINVAL);
	CHECK_INT(log_level_parse("01", &l), -EINVAL);
	CHECK_INT(l, LOG_ERROR); /* untouched on error */
	CHECK_INT(log_format_parse("json", &f), 0);
	CHECK_INT(f, LOG_FORMAT_JSON);
	CHECK_INT(log_format_parse("text", &f), 0);
	CHECK_INT(f, LOG_FORMAT_TEXT);
	CHECK_INT(log_format_parse("yaml", &f), -EINVAL);
	CHECK_INT(f, LOG_FORMAT_TEXT);
}

static void test_emit_writes_enabled_lines_once_each(void)
{
	int p[2];
	char got[8192];

	CHECK_INT(pipe(p), 0);
	struct logger lg = {.fd = p[1], .level = LOG_INFO, .format = LOG_FORMAT_JSON};
	log_info(&lg, "one", LOG_I("n", 1));
	log_debug(&lg, "hidden");
	log_trace(&lg, "hidden");
	log_error(&lg, "two");
	log_warn(&lg, "three", LOG_S("k", "v"), LOG_B("b", true));
	log_info(NULL, "nowhere", LOG_I("n", 4));
	close(p[1]);
	ssize_t n = read(p[0], got, sizeof(got) - 1);
	close(p[0]);
	CHECK(n > 0);
	got[n > 0 ? n : 0] = '\0';

	const char *want[] = {"one", "two", "three"};
	const char *level[] = {"info", "error", "warn"};
	char *save = NULL;
	unsigned count = 0;
	for (char *l = strtok_r(got, "\n", &save); l; l = strtok_r(NULL, "\n", &save), count++) {
		json_error_t e;
		json_t *j = json_loads(l, 0, &e);
		CHECK(j != NULL);
		if (j && count < ARRAY_SIZE(want)) {
			CHECK_STREQ(json_string_value(json_object_get(j, "msg")), want[count]);
			CHECK_STREQ(json_string_value(json_object_get(j, "level")), level[count]);
			CHECK(str_has_prefix(json_string_value(json_object_get(j, "caller")),
					     "unit/test_log.c:"));
		}
		json_decref(j);
	}
	CHECK_INT(count, 3);
}

static void test_long_lines_are_cut_but_end_in_newline(void)
{
	struct logger lg = {.fd = -1, .level = LOG_INFO, .format = LOG_FORMAT_TEXT};
	char small[64];
	char big[20000];
	int p[2];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	unsigned n =
		log_format_line(small, sizeof(small), &lg, LOG_INFO, T0, "a.c", 1, big, NULL, 0);
	CHECK_INT(n, sizeof(small) - 1);
	CHECK_INT(strlen(small), n);
	CHECK(small[n - 1] == '\n');
	CHECK_INT(log_format_line(small, 1, &lg, LOG_INFO, T0, "a.c", 1, "m", NULL, 0), 0);
	CHECK_INT(log_format_line(small, 2, &lg, LOG_INFO, T0, "a.c", 1, "m", NULL, 0), 1);
	CHECK_STREQ(small, "\n");
	/* Escapes that would not fit are cut too, never past the buffer. */
	lg.format = LOG_FORMAT_JSON;
	for (unsigned cap = 2; cap < 120; cap++) {
		char b[128];
		memset(b, '#', sizeof(b));
		n = log_format_line(b, cap, &lg, LOG_INFO, T0, "a.c", 1, "\x01\x02\"\"\x03", NULL,
				    0);
		CHECK(n == strlen(b) && n < cap && b[n - 1] == '\n' && b[cap] == '#');
	}

	/* log_emit keeps a whole line to one write of at most 4096 bytes. */
	CHECK_INT(pipe(p), 0);
	lg.fd = p[1];
	log_info(&lg, big);
	log_info(&lg, "after");
	close(p[1]);
	struct buf out = {0};
	for (;;) {
		buf_reserve(&out, 4096);
		ssize_t r = read(p[0], out.data + out.len, out.cap - out.len - 1);
		if (r <= 0)
			break;
		out.len += (size_t)r;
		out.data[out.len] = '\0';
	}
	close(p[0]);
	char *nl = out.data ? strchr(out.data, '\n') : NULL;
	CHECK(nl != NULL);
	/* A JSON line too long to fit loses its fields and most of its
	 * message but stays one valid JSON object that says so. */
	CHECK(nl && nl - out.data + 1 <= 4095);
	if (nl) {
		*nl = '\0';
		json_t *j = json_loads(out.data, 0, NULL);
		CHECK(j != NULL);
		CHECK(json_is_true(json_object_get(j, "truncated")));
		CHECK(json_string_length(json_object_get(j, "msg")) >= 256);
		json_decref(j);
	}
	CHECK(nl && str_has_prefix(nl + 1, "{\"ts\":"));
	CHECK(nl && str_has_suffix(nl + 1, "\"msg\":\"after\"}\n"));
	buf_free(&out);
}

static void test_null_logger_discards(void)
{
	log_emit(NULL, LOG_ERROR, __FILE__, __LINE__, "dropped", NULL, 0);
	log_error(NULL, "dropped too", LOG_ERR(-EIO));
	CHECK(true);
}

int main(void)
{
	RUN(test_text_line_has_klog_header_and_fields);
	RUN(test_level_letters_follow_klog);
	RUN(test_json_line_parses_with_every_field_type);
	RUN(test_strings_are_escaped_into_one_line);
	RUN(test_non_finite_doubles_keep_json_valid);
	RUN(test_levels_filter_and_parse);
	RUN(test_emit_writes_enabled_lines_once_each);
	RUN(test_long_lines_are_cut_but_end_in_newline);
	RUN(test_null_logger_discards);
	return tap_done();
}
