/* Maglev consistent hashing (Eisenbud et al., NSDI 2016, section 3.4) and
 * the ladder of prime ring sizes. */
#include "dataplane/lbtable/internal.h"

/* Primes just under the powers of two from 2^8, then 2^16 + 1: a ring is
 * the smallest one above 100 × backends, which keeps each backend's share
 * within 1% of even while doubling memory at most. */
const __u32 lb_ring_sizes[] = {
	251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, LB_RING_MAX,
};
const unsigned lb_n_ring_sizes = ARRAY_SIZE(lb_ring_sizes);

/* The two hashes of a backend's identity (the paper's h1 and h2). Fixed
 * seeds, never random: every node must compute the same permutations. */
#define SEED_OFFSET 0x6b656c702d6f6666ull /* "kelp-off" */
#define SEED_SKIP 0x6b656c702d736b70ull   /* "kelp-skp" */

int lb_ring_class(__u32 m)
{
	unsigned lo = 0, hi = lb_n_ring_sizes;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (lb_ring_sizes[mid] < m)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < lb_n_ring_sizes && lb_ring_sizes[lo] == m ? (int)lo : -1;
}

/* The largest size of the ladder not above max_m (0: LB_RING_MAX), or the
 * smallest size when max_m is below them all: its position. */
static unsigned cap_class(__u32 max_m)
{
	unsigned cap = 0;

	if (!max_m)
		max_m = LB_RING_MAX;
	for (unsigned i = 0; i < lb_n_ring_sizes; i++)
		if (lb_ring_sizes[i] <= max_m)
			cap = i;
	return cap;
}

__u32 lb_ring_cap(__u32 max_m)
{
	return lb_ring_sizes[cap_class(max_m)];
}

__u32 lb_ring_size_for(unsigned n, __u32 max_m)
{
	unsigned cap = cap_class(max_m);
	uint64_t want = 100ull * n;

	if (n == 0)
		return 0;
	for (unsigned i = 0; i <= cap; i++)
		if (lb_ring_sizes[i] > want)
			return lb_ring_sizes[i];
	return lb_ring_sizes[cap] > n ? lb_ring_sizes[cap] : 0;
}

static bool is_prime(__u32 m)
{
	if (m < 2)
		return false;
	if (m % 2 == 0)
		return m == 2;
	for (uint64_t d = 3; d * d <= m; d += 2)
		if (m % d == 0)
			return false;
	return true;
}

static int cmp_input(const void *pa, const void *pb)
{
	const struct lb_maglev_input *a = pa, *b = pb;
	size_t n = MIN(a->id_len, b->id_len);
	int r = n ? memcmp(a->id, b->id, n) : 0;

	if (r)
		return r;
	return (a->id_len > b->id_len) - (a->id_len < b->id_len);
}

struct cursor {
	__u32 pos, skip; /* the next preferred slot, and the step between them */
};

/* Backend i takes its next preferred slot that is still empty. */
static inline void take(struct cursor *cur, uint8_t *filled, __u32 *ring, __u32 m, __u32 value)
{
	uint64_t p = cur->pos;

	/* p and skip are below m, so one subtraction replaces the modulo. */
	while (filled[p]) {
		p += cur->skip;
		if (p >= m)
			p -= m;
	}
	filled[p] = 1;
	ring[p] = value;
	p += cur->skip;
	cur->pos = (__u32)(p >= m ? p - m : p);
}

/* Weighted turns, interleaved as nginx's smooth weighted round robin does,
 * so the ring filling up part-way through a round leaves every backend
 * within about one slot of its share. */
static void fill_weighted(const struct lb_maglev_input *in, unsigned n, __u32 m,
			  struct cursor *cur, uint8_t *filled, __u32 *ring)
{
	_cleanup_free_ int64_t *credit = xnew(int64_t, n);
	int64_t total = 0;

	for (unsigned i = 0; i < n; i++)
		total += in[i].weight ? in[i].weight : 1;
	for (__u32 done = 0; done < m; done++) {
		unsigned best = 0;
		for (unsigned i = 0; i < n; i++) {
			credit[i] += in[i].weight ? in[i].weight : 1;
			if (credit[i] > credit[best])
				best = i;
		}
		credit[best] -= total;
		take(&cur[best], filled, ring, m, in[best].value);
	}
}

int lb_maglev_build(struct lb_maglev_input *in, unsigned n, __u32 m, __u32 *ring)
{
	bool weighted = false;

	if (!in || !ring || n == 0 || m <= n || !is_prime(m))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!in[i].id && in[i].id_len)
			return -EINVAL;
		weighted |= in[i].weight > 1;
	}
	/* The ring depends on the set of backends, not on their order. */
	qsort(in, n, sizeof(*in), cmp_input);
	for (unsigned i = 1; i < n; i++)
		if (cmp_input(&in[i - 1], &in[i]) == 0)
			return -EINVAL;

	_cleanup_free_ struct cursor *cur = xnew(struct cursor, n);
	_cleanup_free_ uint8_t *filled = xcalloc(m, 1);
	for (unsigned i = 0; i < n; i++) {
		cur[i].pos = (__u32)(lb_hash64(in[i].id, in[i].id_len, SEED_OFFSET) % m);
		cur[i].skip = (__u32)(lb_hash64(in[i].id, in[i].id_len, SEED_SKIP) % (m - 1)) + 1;
	}
	if (weighted) {
		fill_weighted(in, n, m, cur, filled, ring);
		return 0;
	}
	/* One turn each per round until every slot is taken: each backend ends
	 * with floor(m/n) or ceil(m/n) slots. */
	for (__u32 done = 0;;)
		for (unsigned i = 0; i < n; i++) {
			take(&cur[i], filled, ring, m, in[i].value);
			if (++done == m)
				return 0;
		}
}
