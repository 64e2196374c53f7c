/* lib/http HTTP/1.1 parsing: request heads, response heads, chunked
 * bodies, query strings — the bytes a client can send us. */
#include "http/internal.h"

#include "tap.h"

static int parse(const char *text, struct h1_head *h, char **keep, const char **err)
{
	size_t scan = 0, n = strlen(text);
	*keep = xstrdup(text);
	size_t end = h1_find_head_end(*keep, n, &scan);
	if (!end)
		return 0;
	return h1_parse_request(*keep, end, h, err);
}

static void test_simple_get_is_split_into_parts(void)
{
	struct h1_head h;
	const char *err;
	_cleanup_free_ char *b = NULL;
	int r = parse("GET /api/v1/pods?watch=true&limit=5 HTTP/1.1\r\nHost: x:1\r\n"
		      "Accept: application/json\r\nX-Empty:\r\n\r\n",
		      &h, &b, &err);
	CHECK(r > 0);
	CHECK_STREQ(h.method, "GET");
	CHECK_STREQ(h.path, "/api/v1/pods");
	CHECK_STREQ(h.query, "watch=true&limit=5");
	CHECK_INT(h.version, 11);
	CHECK_INT(h.nheaders, 3);
	CHECK_STREQ(h.headers[1].name, "accept");
	CHECK_STREQ(h.headers[1].value, "application/json");
	CHECK_STREQ(h.headers[2].value, "");
	CHECK(h.keep_alive);
	CHECK_INT(h.content_length, -1);
}

static void test_header_names_fold_and_values_trim(void)
{
	struct h1_head h;
	const char *err;
	_cleanup_free_ char *b = NULL;
	CHECK(parse("POST / HTTP/1.1\nHOST: a\nContent-LENGTH:   12  \n\n", &h, &b, &err) > 0);
	CHECK_STREQ(h.headers[0].name, "host");
	CHECK_STREQ(h.headers[1].name, "content-length");
	CHECK_STREQ(h.headers[1].value, "12");
	CHECK_INT(h.content_length, 12);
}

static void test_connection_semantics_follow_version(void)
{
	struct h1_head h;
	const char *err;
	char *b;
	CHECK(parse("GET / HTTP/1.0\r\n\r\n", &h, &b, &err) > 0);
	CHECK(!h.keep_alive);
	free(b);
	CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h, &b, &err) > 0);
	CHECK(h.keep_alive);
	free(b);
	CHECK(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", &h, &b, &err) > 0);
	CHECK(!h.keep_alive);
	free(b);
	CHECK(parse("GET /x HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		    &h, &b, &err) > 0);
	CHECK(h.conn_upgrade);
	CHECK_STREQ(h.upgrade, "websocket");
	free(b);
}

static void test_bad_requests_get_the_right_status(void)
{
	static const struct {
		const char *text;
		int status;
	} cases[] = {
		{"GET / HTTP/1.1\r\n\r\n", -400},                              /* no Host */
		{"GET / HTTP/2.0\r\nHost: a\r\n\r\n", -505},
		{"GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n", -400},
		{"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", -400},
		{"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", -400},
		{"GET nopath HTTP/1.1\r\nHost: a\r\n\r\n", -400},
		{"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", -400},
		{"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", -400},
		{"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", -400},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", -400},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -400},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", -400},
		{"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", -501},
		{"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
		 -400},
		{"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400},
		{"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", -400},
		{"GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n", -400},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct h1_head h;
		const char *err = NULL;
		_cleanup_free_ char *b = NULL;
		int r = parse(cases[i].text, &h, &b, &err);
		if (r != cases[i].status)
			printf("# case %zu: got %d want %d\n", i, r, cases[i].status);
		CHECK_INT(r, cases[i].status);
		CHECK(err && *err);
	}
}

static void test_too_many_headers_is_431(void)
{
	struct buf b = {0};
	struct h1_head h;
	const char *err;

	buf_puts(&b, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS + 1; i++)
		buf_printf(&b, "X-%d: v\r\n", i);
	buf_puts(&b, "\r\n");
	CHECK_INT(h1_parse_request(b.data, b.len, &h, &err), -431);
	buf_free(&b);
}

static void test_head_end_is_found_across_reads(void)
{
	const char *text = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
	size_t scan = 0;
	for (size_t n = 0; n < 27; n++)
		CHECK_INT(h1_find_head_end(text, n, &scan), 0);
	CHECK_INT(h1_find_head_end(text, 28, &scan), 27);
}

static void test_response_heads_parse(void)
{
	char text[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\n\r\n";
	struct h1_head h;
	const char *err;
	CHECK(h1_parse_response(text, strlen(text), &h, &err) > 0);
	CHECK_INT(h.status, 404);
	CHECK_STREQ(h.reason, "Not Found");
	CHECK_INT(h.content_length, 5);
	char bad[] = "HTTP/1.1 20 OK\r\n\r\n";
	CHECK(h1_parse_response(bad, strlen(bad), &h, &err) < 0);
}

static void test_chunked_bodies_decode_in_any_split(void)
{
	const char *wire = "4\r\nWiki\r\n5;ext=1\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n";
	size_t n = strlen(wire);
	for (size_t split = 0; split <= n; split++) {
		struct h1_chunked d = {0};
		struct buf out = {0};
		const char *err;
		ssize_t a = h1_chunked_decode(&d, wire, split, &out, 1024, &err);
		ssize_t b = h1_chunked_decode(&d, wire + split, n - split, &out, 1024, &err);
		CHECK(a >= 0 && b >= 0);
		CHECK(d.done);
		CHECK_INT((size_t)(a + b), n);
		CHECK_STREQ(out.data, "Wikipedia in\r\n\r\nchunks.");
		buf_free(&out);
	}
}

static void test_chunked_rejects_bad_framing_and_oversize(void)
{
	static const struct {
		const char *wire;
		ssize_t r;
	} cases[] = {
		{"zz\r\n", -400},
		{"\r\n", -400},
		{"5\r\nabcdeX", -400},
		{"ffffffffffffffffff\r\n", -413},
		{"800\r\n", -413},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct h1_chunked d = {0};
		struct buf out = {0};
		const char *err;
		CHECK_INT(h1_chunked_decode(&d, cases[i].wire, strlen(cases[i].wire), &out, 1024, &err),
			  cases[i].r);
		buf_free(&out);
	}
}

static void test_query_strings_decode(void)
{
	_cleanup_free_ char *v = http_query_get("a=1&labelSelector=app%3Dweb%2Ctier+in+(x)&b", "labelSelector");
	CHECK_STREQ(v, "app=web,tier in (x)");
	_cleanup_free_ char *b = http_query_get("a=1&labelSelector=x&b", "b");
	CHECK_STREQ(b, "");
	CHECK(http_query_get("a=1", "z") == NULL);
	CHECK(http_query_get("a=%zz", "a") == NULL);
	CHECK(http_query_get("a=%00", "a") == NULL);
	size_t pos = 0;
	char *n, *val;
	int count = 0;
	while (http_query_next("x=1&&y=2&z", &pos, &n, &val) > 0) {
		count++;
		free(n);
		free(val);
	}
	CHECK_INT(count, 3);
}

int main(void)
{
	RUN(test_simple_get_is_split_into_parts);
	RUN(test_header_names_fold_and_values_trim);
	RUN(test_connection_semantics_follow_version);
	RUN(test_bad_requests_get_the_right_status);
	RUN(test_too_many_headers_is_431);
	RUN(test_head_end_is_found_across_reads);
	RUN(test_response_heads_parse);
	RUN(test_chunked_bodies_decode_in_any_split);
	RUN(test_chunked_rejects_bad_framing_and_oversize);
	RUN(test_query_strings_decode);
	return tap_done();
}
