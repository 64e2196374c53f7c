/* lib/client internals shared by its files (and its unit tests): rate
 * limiting and backoff arithmetic, and URL building. */
#pragma once

#include "base/base.h"
#include "client/client.h"

/* A token bucket as golang.org/x/time/rate's Reserve(): tokens refill at
 * qps up to burst; taking one may leave the bucket in debt, and the debt is
 * how long the taker must wait, so takers are served in order. */
struct client_bucket {
	double qps; /* <= 0: unlimited */
	double burst;
	double tokens;
	uint64_t last_ns;
};

void client_bucket_init(struct client_bucket *b, double qps, unsigned burst, uint64_t now_ns);
/* Take a token at now_ns: how long to wait before using it (0: at once). */
uint64_t client_bucket_reserve(struct client_bucket *b, uint64_t now_ns);

/* base·2^failures, capped at max (no jitter). */
uint64_t client_backoff_exp(uint64_t base_ns, uint64_t max_ns, unsigned failures);
/* The same, then shortened by a random part of up to a quarter, so clients
 * that failed together do not come back together; never above max. */
uint64_t client_backoff_jittered(uint64_t base_ns, uint64_t max_ns, unsigned failures,
				 uint64_t *rng);
/* xorshift64*: a per-object random sequence (no global state). */
uint64_t client_rand(uint64_t *state);
uint64_t client_rand_seed(const void *salt);

/* "/api/v1/namespaces/ns/pods/name/status" or "/apis/group/version/...";
 * NULL when version or resource is missing. */
char *client_path(const struct client_ref *ref);
/* Append "?name=value" or "&name=value", the value percent-encoded. */
void client_query_add(struct buf *b, const char *name, const char *value);
/* The list and watch parameters of o (may be NULL) appended to b. */
void client_query_list(struct buf *b, const struct client_list_opts *o, bool watch);
