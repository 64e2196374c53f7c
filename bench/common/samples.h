/* Latency samples for the benchmarks: append, then read percentiles. */
#pragma once

#include <stddef.h>

struct samples {
	double *v;
	size_t n, cap;
};

void samples_add(struct samples *s, double x);
/* The p-quantile (0 < p <= 1) by the nearest-rank method; NAN when there are none.
 * Sorts the samples in place. */
double samples_pct(struct samples *s, double p);
void samples_reset(struct samples *s);
void samples_free(struct samples *s);
