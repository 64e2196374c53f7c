/* lib/client: the arithmetic of waiting — token bucket, exponential
 * backoff with jitter, and the small random sequence behind the jitter. */
#include "client/client-internal.h"

#define NS_PER_S 1000000000.0

void client_bucket_init(struct client_bucket *b, double qps, unsigned burst, uint64_t now_ns)
{
	b->qps = qps;
	b->burst = burst ? burst : 1;
	b->tokens = b->burst;
	b->last_ns = now_ns;
}

uint64_t client_bucket_reserve(struct client_bucket *b, uint64_t now_ns)
{
	if (b->qps <= 0)
		return 0;
	if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) * b->qps / NS_PER_S;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
		b->last_ns = now_ns;
	}
	b->tokens -= 1;
	if (b->tokens >= 0)
		return 0;
	return (uint64_t)(-b->tokens / b->qps * NS_PER_S);
}

uint64_t client_backoff_exp(uint64_t base_ns, uint64_t max_ns, unsigned failures)
{
	uint64_t d = base_ns;

	for (unsigned i = 0; i < failures && d < max_ns; i++)
		d = d > UINT64_MAX / 2 ? UINT64_MAX : d * 2;
	return MIN(d, max_ns);
}

uint64_t client_backoff_jittered(uint64_t base_ns, uint64_t max_ns, unsigned failures,
				 uint64_t *rng)
{
	uint64_t d = client_backoff_exp(base_ns, max_ns, failures);
	uint64_t quarter = d / 4;

	return quarter ? d - client_rand(rng) % (quarter + 1) : d;
}

uint64_t client_rand(uint64_t *state)
{
	uint64_t x = *state ? *state : 0x9E3779B97F4A7C15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

uint64_t client_rand_seed(const void *salt)
{
	uint64_t s = now_mono_ns() ^ ((uint64_t)(uintptr_t)salt << 17) ^ (uint64_t)getpid();

	return s ? s : 1;
}
