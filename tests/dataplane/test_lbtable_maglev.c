/* Maglev rings: even shares, weighted shares, the same ring for the same set
 * whatever the order, little movement when a backend goes, and prime sizes. */
#include <stdio.h>

#include "base/base.h"
#include "dataplane/lbtable/lbtable.h"

#include "tap.h"

/* A backend's identity as the compiler makes it: address, port, protocol. */
struct ident {
	__u8 b[19];
};

static struct ident ident_of(unsigned i)
{
	struct ident id = {{0}};

	/* 198.18.x.y:8080/TCP as ::ffff:198.18.x.y */
	id.b[10] = id.b[11] = 0xff;
	id.b[12] = 198;
	id.b[13] = 18 + (__u8)(i >> 16);
	id.b[14] = (__u8)(i >> 8);
	id.b[15] = (__u8)i;
	id.b[16] = 8080 >> 8;
	id.b[17] = 8080 & 0xff;
	id.b[18] = LB_PROTO_TCP;
	return id;
}

/* Inputs for backends skip..: ids[i] is backend i, its value i. */
static struct lb_maglev_input *inputs(struct ident *ids, unsigned n, const __u32 *weights)
{
	struct lb_maglev_input *in = xnew(struct lb_maglev_input, n);

	for (unsigned i = 0; i < n; i++) {
		ids[i] = ident_of(i);
		in[i] = (struct lb_maglev_input){ids[i].b, sizeof(ids[i].b),
						 weights ? weights[i] : 1, i};
	}
	return in;
}

static __u32 *ring_for(unsigned n, __u32 m, const __u32 *weights)
{
	_cleanup_free_ struct ident *ids = xnew(struct ident, n);
	_cleanup_free_ struct lb_maglev_input *in = inputs(ids, n, weights);
	__u32 *ring = xnew(__u32, m);

	CHECK_INT(lb_maglev_build(in, n, m, ring), 0);
	return ring;
}

static unsigned *count(const __u32 *ring, __u32 m, unsigned n)
{
	unsigned *c = xnew(unsigned, n);

	for (__u32 i = 0; i < m; i++) {
		CHECK(ring[i] < n);
		if (ring[i] < n)
			c[ring[i]]++;
	}
	return c;
}

static bool is_prime(__u32 m)
{
	if (m < 2)
		return false;
	for (__u32 d = 2; (uint64_t)d * d <= m; d++)
		if (m % d == 0)
			return false;
	return true;
}

static void test_ring_sizes_are_ascending_primes(void)
{
	CHECK(lb_n_ring_sizes > 3);
	for (unsigned i = 0; i < lb_n_ring_sizes; i++) {
		CHECK(is_prime(lb_ring_sizes[i]));
		if (i)
			CHECK(lb_ring_sizes[i] > lb_ring_sizes[i - 1]);
	}
	CHECK_INT(lb_ring_sizes[lb_n_ring_sizes - 1], LB_RING_MAX);
	CHECK(!is_prime(65535) && is_prime(65537)); /* the check itself works */
}

static void test_ring_size_is_smallest_prime_above_100_per_backend(void)
{
	CHECK_INT(lb_ring_size_for(0, 0), 0);
	CHECK_INT(lb_ring_size_for(1, 0), 251);
	CHECK_INT(lb_ring_size_for(3, 0), 509);
	CHECK_INT(lb_ring_size_for(10, 0), 1021);
	CHECK_INT(lb_ring_size_for(100, 0), 16381);
	CHECK_INT(lb_ring_size_for(655, 0), 65521);
	CHECK_INT(lb_ring_size_for(656, 0), 65537);
	CHECK_INT(lb_ring_size_for(5000, 0), 65537);
	for (unsigned n = 1; n < 700; n++) {
		__u32 m = lb_ring_size_for(n, LB_RING_MAX);
		CHECK(m > 100 * n || m == LB_RING_MAX);
	}
	/* Capped at the largest size of the ladder under the cap. */
	CHECK_INT(lb_ring_size_for(10, 1021), 1021);
	CHECK_INT(lb_ring_size_for(50, 1021), 1021);
	CHECK_INT(lb_ring_size_for(50, 1500), 1021);
	CHECK_INT(lb_ring_size_for(50, 10), 251);
	CHECK_INT(lb_ring_size_for(251, 251), 0); /* no ring size is above 251 backends */
}

static void test_each_backend_gets_floor_or_ceil_of_m_over_n(void)
{
	const unsigned ns[] = {1, 2, 3, 7, 10, 33, 64, 100, 250, 1000};
	const __u32 ms[] = {251, 1021, 16381, 65537};

	for (unsigned a = 0; a < ARRAY_SIZE(ns); a++)
		for (unsigned b = 0; b < ARRAY_SIZE(ms); b++) {
			unsigned n = ns[a];
			__u32 m = ms[b];
			if (m <= n)
				continue;
			_cleanup_free_ __u32 *ring = ring_for(n, m, NULL);
			_cleanup_free_ unsigned *c = count(ring, m, n);
			for (unsigned i = 0; i < n; i++)
				if (c[i] != m / n && c[i] != (m + n - 1) / n) {
					printf("#   n=%u m=%u backend %u has %u slots\n", n, m, i, c[i]);
					CHECK(false);
					break;
				}
		}
}

static void test_weights_give_proportional_shares(void)
{
	const __u32 w1[] = {1, 2, 3, 4};
	const __u32 w2[] = {1, 100, 1, 7, 0 /* counts as 1 */};
	const struct {
		const __u32 *w;
		unsigned n;
		__u32 m;
	} cases[] = {{w1, 4, 65537}, {w1, 4, 1021}, {w2, 5, 16381}};

	for (unsigned k = 0; k < ARRAY_SIZE(cases); k++) {
		unsigned n = cases[k].n;
		__u32 m = cases[k].m;
		uint64_t total = 0;
		double worst = 0;

		for (unsigned i = 0; i < n; i++)
			total += cases[k].w[i] ? cases[k].w[i] : 1;
		_cleanup_free_ __u32 *ring = ring_for(n, m, cases[k].w);
		_cleanup_free_ unsigned *c = count(ring, m, n);
		for (unsigned i = 0; i < n; i++) {
			double want = (double)m * (cases[k].w[i] ? cases[k].w[i] : 1) / total;
			worst = MAX(worst, c[i] > want ? c[i] - want : want - c[i]);
		}
		printf("# weights case %u: m=%u, worst share off by %.2f slots\n", k, m, worst);
		CHECK(worst <= 2.0);
	}
}

static __u64 rng_next(__u64 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_same_set_in_any_order_gives_same_ring(void)
{
	const unsigned n = 40;
	const __u32 m = 4093;
	_cleanup_free_ __u32 *want = ring_for(n, m, NULL);
	_cleanup_free_ struct ident *ids = xnew(struct ident, n);
	_cleanup_free_ struct lb_maglev_input *in = inputs(ids, n, NULL);
	_cleanup_free_ __u32 *ring = xnew(__u32, m);
	__u64 seed = 0x9e3779b97f4a7c15ull;
	unsigned same = 0;

	for (int round = 0; round < 200; round++) {
		for (unsigned i = n - 1; i > 0; i--) {
			unsigned j = (unsigned)(rng_next(&seed) % (i + 1));
			struct lb_maglev_input t = in[i];
			in[i] = in[j];
			in[j] = t;
		}
		CHECK_INT(lb_maglev_build(in, n, m, ring), 0);
		same += memcmp(ring, want, m * sizeof(*ring)) == 0;
	}
	CHECK_INT(same, 200);
}

/* Rings of backends 0..n-1 and of the same without backend `gone`: every
 * slot of gone moves; return how many other slots moved. */
static unsigned moved_when_removed(unsigned n, unsigned gone, __u32 m)
{
	_cleanup_free_ __u32 *before = ring_for(n, m, NULL);
	_cleanup_free_ struct ident *ids = xnew(struct ident, n);
	_cleanup_free_ struct lb_maglev_input *in = inputs(ids, n, NULL);
	_cleanup_free_ __u32 *after = xnew(__u32, m);
	unsigned moved = 0;

	in[gone] = in[n - 1];
	CHECK_INT(lb_maglev_build(in, n - 1, m, after), 0);
	for (__u32 i = 0; i < m; i++) {
		CHECK(after[i] != gone);
		if (before[i] != gone && before[i] != after[i])
			moved++;
	}
	return moved;
}

/* Maglev does not promise that no other slot moves, only few: the paper's
 * figure 12 shows the same. Measured here over every backend removed, at
 * the ring size the compiler picks (about 100 slots per backend) and at the
 * largest size; more slots per backend means less movement. */
static void disruption(unsigned n, __u32 m, double *ret_mean, double *ret_most)
{
	unsigned total = 0, most = 0;

	for (unsigned gone = 0; gone < n; gone++) {
		unsigned moved = moved_when_removed(n, gone, m);
		total += moved;
		most = MAX(most, moved);
	}
	*ret_mean = 100.0 * total / n / m;
	*ret_most = 100.0 * most / m;
	printf("# n=%u m=%u: removing one backend moves %.2f%% of the other slots on "
	       "average, %.2f%% at most\n", n, m, *ret_mean, *ret_most);
}

static void test_removing_a_backend_moves_its_slots_and_few_others(void)
{
	const unsigned ns[] = {10, 20, 50, 100};

	for (unsigned k = 0; k < ARRAY_SIZE(ns); k++) {
		double mean, most;

		disruption(ns[k], lb_ring_size_for(ns[k], 0), &mean, &most);
		CHECK(mean < 2.5 && most < 4.0);
		disruption(ns[k], LB_RING_MAX, &mean, &most);
		CHECK(mean < 1.0 && most < 1.5);
	}
}

static void test_bad_arguments_are_refused(void)
{
	struct ident ids[3];
	_cleanup_free_ struct lb_maglev_input *in = inputs(ids, 3, NULL);
	__u32 ring[300];

	CHECK_INT(lb_maglev_build(in, 3, 250, ring), -EINVAL); /* not prime */
	CHECK_INT(lb_maglev_build(in, 3, 3, ring), -EINVAL);   /* not above n */
	CHECK_INT(lb_maglev_build(in, 0, 251, ring), -EINVAL);
	CHECK_INT(lb_maglev_build(NULL, 3, 251, ring), -EINVAL);
	in[1].id = in[0].id; /* the same backend twice */
	CHECK_INT(lb_maglev_build(in, 3, 251, ring), -EINVAL);
	/* A small prime outside the ladder is fine. */
	in[1].id = ids[1].b;
	CHECK_INT(lb_maglev_build(in, 3, 5, ring), 0);
}

int main(void)
{
	RUN(test_ring_sizes_are_ascending_primes);
	RUN(test_ring_size_is_smallest_prime_above_100_per_backend);
	RUN(test_each_backend_gets_floor_or_ceil_of_m_over_n);
	RUN(test_weights_give_proportional_shares);
	RUN(test_same_set_in_any_order_gives_same_ring);
	RUN(test_removing_a_backend_moves_its_slots_and_few_others);
	RUN(test_bad_arguments_are_refused);
	return tap_done();
}
