/* A small TAP producer for kelp's unit tests.
 *
 *   static void test_parse_simple(void) { CHECK(x == 1); CHECK_STREQ(s, "a"); }
 *   int main(void) { RUN(test_parse_simple); return tap_done(); }
 *
 * Each RUN() is one test point ("ok N - name"); CHECKs inside it report
 * their failures as TAP diagnostics and continue. scripts/test counts the
 * points of every test binary. */
#pragma once

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct tap_state {
	int n;
	int failed;
	bool cur_failed;
	const char *skip;
};

static struct tap_state tap_ = {0};

static inline void tap_fail_(const char *file, int line, const char *what)
{
	tap_.cur_failed = true;
	printf("# %s:%d: check failed: %s\n", file, line, what);
	fflush(stdout);
}

#define CHECK(cond)                                              \
	do {                                                     \
		if (!(cond))                                     \
			tap_fail_(__FILE__, __LINE__, #cond);    \
	} while (0)

#define CHECK_INT(a, b)                                                        \
	do {                                                                   \
		long long a_ = (long long)(a), b_ = (long long)(b);            \
		if (a_ != b_) {                                                \
			printf("#   got %lld, want %lld\n", a_, b_);           \
			tap_fail_(__FILE__, __LINE__, #a " == " #b);           \
		}                                                              \
	} while (0)

#define CHECK_STREQ(a, b)                                                           \
	do {                                                                        \
		const char *a_ = (a), *b_ = (b);                                    \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                            \
			printf("#   got \"%s\", want \"%s\"\n", a_ ? a_ : "(null)",   \
			       b_ ? b_ : "(null)");                                 \
			tap_fail_(__FILE__, __LINE__, #a " == " #b);                \
		}                                                                   \
	} while (0)

/* Mark the running test as skipped, with the reason, and leave it. */
#define SKIP(reason)                 \
	do {                         \
		tap_.skip = (reason); \
		return;              \
	} while (0)

static inline void tap_run_(const char *name, void (*fn)(void))
{
	tap_.cur_failed = false;
	tap_.skip = NULL;
	fn();
	tap_.n++;
	if (tap_.skip)
		printf("ok %d - %s # SKIP %s\n", tap_.n, name, tap_.skip);
	else if (tap_.cur_failed) {
		tap_.failed++;
		printf("not ok %d - %s\n", tap_.n, name);
	} else
		printf("ok %d - %s\n", tap_.n, name);
	fflush(stdout);
}

#define RUN(fn) tap_run_(#fn, fn)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_.n);
	return tap_.failed ? 1 : 0;
}
