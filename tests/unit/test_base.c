/* lib/base: buffers, integer parsing, files. */
#include "base/base.h"

#include <stdio.h>
#include <sys/stat.h>

#include "tap.h"

static void test_buf_grows_and_stays_terminated(void)
{
	struct buf b = {0};

	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	CHECK(b.len > 3000);
	CHECK(b.data[b.len] == '\0');
	CHECK(str_has_prefix(b.data, "0,1,2,"));
	CHECK(str_has_suffix(b.data, "998,999,"));
	buf_consume(&b, 2);
	CHECK(str_has_prefix(b.data, "1,2,"));
	buf_consume(&b, b.len + 5);
	CHECK_INT(b.len, 0);
	CHECK_STREQ(b.data, "");
	buf_free(&b);
	CHECK(b.data == NULL);
	_cleanup_free_ char *s = buf_steal(&b);
	CHECK_STREQ(s, "");
}

static void test_parse_integers_rejects_garbage_and_overflow(void)
{
	uint64_t u;
	int64_t i;

	CHECK_INT(parse_u64("12345", 5, &u), 0);
	CHECK_INT(u, 12345);
	CHECK_INT(parse_u64("", 0, &u), -EINVAL);
	CHECK_INT(parse_u64("12a", 3, &u), -EINVAL);
	CHECK_INT(parse_u64("18446744073709551615", 20, &u), 0);
	CHECK(u == UINT64_MAX);
	CHECK_INT(parse_u64("18446744073709551616", 20, &u), -ERANGE);
	CHECK_INT(parse_i64("-9223372036854775808", 20, &i), 0);
	CHECK(i == INT64_MIN);
	CHECK_INT(parse_i64("9223372036854775808", 19, &i), -ERANGE);
	CHECK_INT(parse_i64("-", 1, &i), -EINVAL);
}

static void test_files_roundtrip_atomically(void)
{
	char dir[] = "/tmp/kelp-test-base-XXXXXX";
	struct buf b = {0};

	CHECK(mkdtemp(dir) != NULL);
	_cleanup_free_ char *sub = xasprintf("%s/a/b/c", dir);
	CHECK_INT(mkdir_p(sub, 0700), 0);
	CHECK_INT(mkdir_p(sub, 0700), 0);
	_cleanup_free_ char *f = xasprintf("%s/file", sub);
	CHECK_INT(write_file_atomic(f, "hello", 5, 0600), 0);
	CHECK_INT(read_file(f, 1024, &b), 0);
	CHECK_STREQ(b.data, "hello");
	buf_free(&b);
	CHECK_INT(read_file(f, 3, &b), -EFBIG);
	struct stat st;
	CHECK_INT(stat(f, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	_cleanup_free_ char *cmd = xasprintf("rm -rf %s", dir);
	CHECK_INT(system(cmd), 0);
}

int main(void)
{
	RUN(test_buf_grows_and_stays_terminated);
	RUN(test_parse_integers_rejects_garbage_and_overflow);
	RUN(test_files_roundtrip_atomically);
	return tap_done();
}
