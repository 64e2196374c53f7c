/* lib/metrics internals shared by registry.c, expose.c and process.c. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>

#include "metrics/metrics.h"

/* One child: a tuple of label values and its atomically updated value. */
struct metric {
	struct metric_family *family;
	char **values;
	_Atomic uint64_t ival; /* counter: integral increments, kept apart so inc is one add */
	_Atomic uint64_t bits; /* double bits: counter's fractional part, gauge, histogram sum */
	_Atomic uint64_t counts[]; /* histogram: per bucket, not cumulative; nbounds + 1 */
};

struct metric_family {
	char *name;
	char *help;
	enum metric_type type;
	char **labels;
	unsigned nlabels;
	double *bounds;
	unsigned nbounds;
	metrics_func_t fn; /* set for a func family, which has no children */
	metrics_collect_fn collect; /* set for a collector family: children made per scrape */
	void *userdata;

	pthread_mutex_t lock; /* guards the children array and its index */
	struct metric **children;
	unsigned nchildren, children_cap;
	uint32_t *index; /* open addressing: 0 empty, else child position + 1 */
	unsigned index_cap;
};

struct metrics_registry {
	pthread_mutex_t lock; /* guards families */
	struct metric_family **families; /* sorted by name */
	unsigned nfamilies, families_cap;
};

static inline double bits_to_double(uint64_t u)
{
	double d;
	memcpy(&d, &u, sizeof(d));
	return d;
}

static inline uint64_t double_to_bits(double d)
{
	uint64_t u;
	memcpy(&u, &d, sizeof(u));
	return u;
}

/* Add v to a double stored as bits, with a CAS loop. */
static inline void atomic_add_double(_Atomic uint64_t *p, double v)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed), new;

	do
		new = double_to_bits(bits_to_double(old) + v);
	while (!atomic_compare_exchange_weak_explicit(p, &old, new, memory_order_relaxed,
						      memory_order_relaxed));
}

uint64_t metric_read_bucket(const struct metric *m, unsigned i);
