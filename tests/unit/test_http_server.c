/* lib/http server: what HTTP/1.1, h2c and TLS clients see on the wire. */
#include "http_harness.h"

#include "tap.h"

static struct ts srv;

static void test_h1_get_keeps_the_connection_alive(void)
{
	int fd = ts_connect(&srv);
	struct buf b = {0};

	send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	CHECK(read_until(fd, &b, "hello", 2000));
	CHECK(str_has_prefix(b.data, "HTTP/1.1 200 OK\r\n"));
	CHECK(strstr(b.data, "\r\nX-Test: yes\r\n") != NULL);
	CHECK(strstr(b.data, "\r\nContent-Length: 5\r\n") != NULL);
	CHECK(strstr(b.data, "\r\nDate: ") != NULL);
	CHECK(str_has_suffix(b.data, "\r\n\r\nhello"));
	buf_clear(&b);
	send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	CHECK(read_until(fd, &b, "hello", 2000));
	CHECK(str_has_prefix(b.data, "HTTP/1.1 200 OK\r\n"));
	close(fd);
	buf_free(&b);
}

static void test_h1_pipelined_requests_answer_in_order(void)
{
	int fd = ts_connect(&srv);
	struct buf b = {0};

	send_str(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
		     "POST /echo?n=2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
		     "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	CHECK(read_to_eof(fd, &b, 3000));
	const char *late = strstr(b.data, "late"), *abc = strstr(b.data, "\r\n\r\nabc"),
		   *hello = strstr(b.data, "hello");
	CHECK(late && abc && hello && late < abc && abc < hello);
	CHECK(strstr(b.data, "X-Query: n=2") != NULL);
	CHECK(strstr(b.data, "Connection: close") != NULL);
	close(fd);
	buf_free(&b);
}

static void test_h1_chunked_request_and_response_bodies(void)
{
	int fd = ts_connect(&srv);
	struct buf b = {0};

	send_str(fd, "PUT /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
		     "Content-Type: text/x\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n");
	CHECK(read_until(fd, &b, "abcdefg", 2000));
	CHECK(strstr(b.data, "Content-Length: 7") && strstr(b.data, "Content-Type: text/x"));
	buf_clear(&b);
	send_str(fd, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
	CHECK(read_until(fd, &b, "\r\n0\r\n\r\n", 2000));
	CHECK(strstr(b.data, "Transfer-Encoding: chunked") != NULL);
	CHECK(strstr(b.data, "8\r\nevent 0\n\r\n8\r\nevent 1\n\r\n") != NULL);
	CHECK(strstr(b.data, "event 4") != NULL);
	close(fd);
	buf_free(&b);
}

static void test_h1_head_and_unknown_paths(void)
{
	int fd = ts_connect(&srv);
	struct buf b = {0};

	send_str(fd, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
		     "DELETE /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	CHECK(read_to_eof(fd, &b, 2000));
	CHECK(str_has_prefix(b.data, "HTTP/1.1 200 OK\r\n"));
	CHECK(strstr(b.data, "Content-Length: 5\r\n") != NULL);
	CHECK(strstr(b.data, "hello") == NULL);
	CHECK(strstr(b.data, "HTTP/1.1 404 Not Found") != NULL);
	CHECK(strstr(b.data, "HTTP/1.1 405 Method Not Allowed") != NULL);
	close(fd);
	buf_free(&b);
}

static void test_h1_malformed_requests_get_400_and_close(void)
{
	static const char *bad[] = {
		"GET / HTTP/1.1\r\n\r\n",
		"GARBAGE\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int fd = ts_connect(&srv);
		struct buf b = {0};
		send_str(fd, bad[i]);
		CHECK(read_to_eof(fd, &b, 2000));
		CHECK(b.data && str_has_prefix(b.data, "HTTP/1.1 400 Bad Request\r\n"));
		close(fd);
		buf_free(&b);
	}
}

static void test_h1_oversized_heads_and_bodies_are_refused(void)
{
	int fd = ts_connect(&srv);
	struct buf b = {0}, big = {0};

	buf_puts(&big, "GET /hello HTTP/1.1\r\nHost: t\r\nX-Big: ");
	for (int i = 0; i < 70000; i++)
		buf_putc(&big, 'a');
	(void)write_all(fd, big.data, big.len);
	CHECK(read_to_eof(fd, &b, 3000));
	CHECK(b.data && str_has_prefix(b.data, "HTTP/1.1 431 "));
	close(fd);
	buf_free(&b);

	fd = ts_connect(&srv);
	send_str(fd, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000000\r\n\r\nabc");
	CHECK(read_to_eof(fd, &b, 3000));
	CHECK(b.data && str_has_prefix(b.data, "HTTP/1.1 413 Request Entity Too Large\r\n"));
	CHECK(b.data && strstr(b.data, "Request entity too large: limit is 3145728"));
	close(fd);
	buf_free(&b);
	buf_free(&big);
}

static void test_h1_client_half_close_still_gets_the_answer(void)
{
	int fd = ts_connect(&srv);
	struct buf b = {0};

	send_str(fd, "GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
	shutdown(fd, SHUT_WR);
	CHECK(read_to_eof(fd, &b, 2000));
	CHECK(b.data && strstr(b.data, "late") && strstr(b.data, "Connection: close"));
	close(fd);
	buf_free(&b);
}

static void test_h1_upgrade_hands_over_the_connection(void)
{
	int fd = ts_connect(&srv);
	struct buf b = {0};
	int before = atomic_load(&srv.upgraded_closed);

	/* Bytes right after the request belong to the new protocol. */
	send_str(fd, "GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n"
		     "hi there ");
	CHECK(read_until(fd, &b, "HI THERE ", 2000));
	CHECK(str_has_prefix(b.data, "HTTP/1.1 101 Switching Protocols\r\n"));
	CHECK(strstr(b.data, "Upgrade: shout\r\n") != NULL);
	send_str(fd, "and quit");
	CHECK(read_to_eof(fd, &b, 2000));
	CHECK(str_has_suffix(b.data, "HI THERE AND QUIT"));
	close(fd);
	uint64_t end = now_mono_ns() + 2000000000u;
	while (atomic_load(&srv.upgraded_closed) == before && now_mono_ns() < end)
		usleep(1000);
	CHECK_INT(atomic_load(&srv.upgraded_closed), before + 1);
	buf_free(&b);
}

static void test_a_client_going_away_aborts_its_exchange(void)
{
	int fd = ts_connect(&srv);
	struct buf b = {0};
	int before = atomic_load(&srv.aborts);

	send_str(fd, "GET /forever HTTP/1.1\r\nHost: t\r\n\r\n");
	CHECK(read_until(fd, &b, "started", 2000));
	close(fd);
	uint64_t end = now_mono_ns() + 2000000000u;
	while (atomic_load(&srv.aborts) == before && now_mono_ns() < end)
		usleep(1000);
	CHECK_INT(atomic_load(&srv.aborts), before + 1);
	buf_free(&b);
}

static void test_streaming_respects_a_slow_reader(void)
{
	int fd = ts_connect(&srv);
	struct buf b = {0};
	int rcv = 65536;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	send_str(fd, "GET /flood HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	usleep(200000); /* let the server run into a full socket */
	CHECK(read_to_eof(fd, &b, 10000));
	char *body = strstr(b.data, "\r\n\r\n");
	CHECK(body != NULL);
	/* 512 chunks of 16 KiB: "4000\r\n" + data + "\r\n", then "0\r\n\r\n". */
	CHECK_INT(body ? (size_t)(b.data + b.len - body - 4) : 0, 512u * (16384 + 8) + 5);
	CHECK(atomic_load(&srv.drains) > 0);
	/* Buffered never grew far past the 64 KiB the producer allows. */
	CHECK(atomic_load(&srv.max_buffered) < 65536 + 2 * 16400);
	close(fd);
	buf_free(&b);
}

static void test_h2c_prior_knowledge_serves_requests(void)
{
	int status = 0;
	struct buf body = {0};
	_cleanup_free_ char *url = xasprintf("http://%s/echo?x=1", srv.address);

	CHECK_INT(http_fetch(&(struct http_fetch){.url = url, .method = "POST", .body = "h2 body",
						  .body_len = 7, .h2 = true},
			     &status, &body),
		  0);
	CHECK_INT(status, 200);
	CHECK_STREQ(body.data, "h2 body");
	buf_free(&body);
	_cleanup_free_ char *big = xasprintf("http://%s/big", srv.address);
	CHECK_INT(http_fetch(&(struct http_fetch){.url = big, .h2 = true}, &status, &body), 0);
	CHECK_INT(body.len, 1 << 20);
	bool ok = body.len == 1 << 20;
	for (size_t i = 0; ok && i < body.len; i++)
		ok = body.data[i] == (char)('a' + i % 26);
	CHECK(ok);
	buf_free(&body);
	_cleanup_free_ char *drop = xasprintf("http://%s/drop", srv.address);
	CHECK_INT(http_fetch(&(struct http_fetch){.url = drop, .h2 = true}, &status, &body), 0);
	CHECK_INT(status, 500);
	buf_free(&body);
}

static void test_h2_garbage_after_the_preface_closes_the_connection(void)
{
	int fd = ts_connect(&srv);
	struct buf b = {0};

	send_str(fd, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nthis is not a frame at all, not at all");
	CHECK(read_to_eof(fd, &b, 2000));
	/* The server's SETTINGS and a GOAWAY (type 7) came before the close. */
	bool goaway = false;
	for (size_t i = 0; i + 9 <= b.len;) {
		size_t len = ((size_t)(uint8_t)b.data[i] << 16) | ((size_t)(uint8_t)b.data[i + 1] << 8) |
			     (uint8_t)b.data[i + 2];
		goaway |= b.data[i + 3] == 7;
		i += 9 + len;
	}
	CHECK(goaway);
	close(fd);
	buf_free(&b);
}

static void test_many_connections_at_once(void)
{
	enum { N = 200 };
	int fds[N];
	int ok = 0;

	for (int i = 0; i < N; i++) {
		fds[i] = ts_connect(&srv);
		send_str(fds[i], "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	}
	for (int i = 0; i < N; i++) {
		struct buf b = {0};
		if (read_to_eof(fds[i], &b, 5000) && b.data && strstr(b.data, "hello"))
			ok++;
		close(fds[i]);
		buf_free(&b);
	}
	CHECK_INT(ok, N);
}

static void test_slow_heads_time_out_with_408(void)
{
	struct ts quick;
	struct buf b = {0};

	ts_start(&quick, &(struct http_server_config){.header_timeout_ms = 150, .idle_timeout_ms = 150},
		 NULL);
	int fd = ts_connect(&quick);
	send_str(fd, "GET /hello HTTP/1.1\r\nHo");
	uint64_t t0 = now_mono_ns();
	CHECK(read_to_eof(fd, &b, 3000));
	CHECK(b.data && str_has_prefix(b.data, "HTTP/1.1 408 Request Timeout\r\n"));
	CHECK(now_mono_ns() - t0 < 2000000000u);
	close(fd);
	buf_clear(&b);
	/* An idle keep-alive connection is closed quietly. */
	fd = ts_connect(&quick);
	send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	CHECK(read_to_eof(fd, &b, 3000));
	CHECK(b.data && strstr(b.data, "hello") && !strstr(b.data, "408"));
	close(fd);
	buf_free(&b);
	ts_stop(&quick);
}

static void test_tls_negotiates_h2_and_http11(void)
{
	char dir[] = "/tmp/kelp-test-tls-XXXXXX";
	struct ts tls;
	struct buf ca = {0}, body = {0};
	SSL_CTX *h2ctx = NULL, *h1ctx = NULL;
	int status = 0;

	CHECK(mkdtemp(dir) != NULL);
	ts_start(&tls, NULL, dir);
	CHECK_INT(read_file(tls.ca_pem_file, 1 << 20, &ca), 0);
	CHECK_INT(http_tls_client_ctx(ca.data, NULL, NULL, true, &h2ctx), 0);
	CHECK_INT(http_tls_client_ctx(ca.data, NULL, NULL, false, &h1ctx), 0);
	_cleanup_free_ char *url = xasprintf("https://127.0.0.1:%u/echo", tls.port);
	CHECK_INT(http_fetch(&(struct http_fetch){.url = url, .tls = h2ctx, .h2 = true}, &status, &body),
		  0);
	CHECK_INT(status, 200);
	buf_free(&body);
	CHECK_INT(http_fetch(&(struct http_fetch){.url = url, .tls = h1ctx, .method = "PUT",
						  .body = "over tls", .body_len = 8},
			     &status, &body),
		  0);
	CHECK_STREQ(body.data, "over tls");
	buf_free(&body);
	/* A client that does not trust the CA is refused. */
	SSL_CTX *untrusting = NULL;
	CHECK_INT(http_tls_client_ctx(NULL, NULL, NULL, true, &untrusting), 0);
	uint64_t t0 = now_mono_ns();
	int r = http_fetch(&(struct http_fetch){.url = url, .tls = untrusting}, &status, &body);
	CHECK(r < 0 && r != -ETIMEDOUT);
	CHECK(now_mono_ns() - t0 < 2000000000u); /* fails fast, does not redial */
	buf_free(&body);
	/* Plain HTTP to the TLS port gets nowhere either, and the server lives on. */
	int fd = ts_connect(&tls);
	send_str(fd, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
	CHECK(read_to_eof(fd, &body, 3000));
	CHECK(!body.data || !strstr(body.data, "hello"));
	close(fd);
	buf_free(&body);
	CHECK_INT(http_fetch(&(struct http_fetch){.url = url, .tls = h2ctx, .h2 = true}, &status, &body),
		  0);
	buf_free(&body);
	SSL_CTX_free(h2ctx);
	SSL_CTX_free(h1ctx);
	SSL_CTX_free(untrusting);
	buf_free(&ca);
	ts_stop(&tls);
	_cleanup_free_ char *cmd = xasprintf("rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
}

int main(void)
{
	ts_start(&srv, NULL, NULL);
	RUN(test_h1_get_keeps_the_connection_alive);
	RUN(test_h1_pipelined_requests_answer_in_order);
	RUN(test_h1_chunked_request_and_response_bodies);
	RUN(test_h1_head_and_unknown_paths);
	RUN(test_h1_malformed_requests_get_400_and_close);
	RUN(test_h1_oversized_heads_and_bodies_are_refused);
	RUN(test_h1_client_half_close_still_gets_the_answer);
	RUN(test_h1_upgrade_hands_over_the_connection);
	RUN(test_a_client_going_away_aborts_its_exchange);
	RUN(test_streaming_respects_a_slow_reader);
	RUN(test_h2c_prior_knowledge_serves_requests);
	RUN(test_h2_garbage_after_the_preface_closes_the_connection);
	RUN(test_many_connections_at_once);
	RUN(test_slow_heads_time_out_with_408);
	RUN(test_tls_negotiates_h2_and_http11);
	ts_stop(&srv);
	return tap_done();
}
