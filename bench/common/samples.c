#include "samples.h"

#include <math.h>
#include <stdlib.h>

#include "base/base.h"

void samples_add(struct samples *s, double x)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = xrealloc(s->v, s->cap * sizeof(double));
	}
	s->v[s->n++] = x;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double samples_pct(struct samples *s, double p)
{
	if (!s->n)
		return NAN;
	qsort(s->v, s->n, sizeof(double), cmp_double);
	size_t i = (size_t)ceil(p * (double)s->n);
	return s->v[MIN(i ? i - 1 : 0, s->n - 1)];
}

void samples_reset(struct samples *s)
{
	s->n = 0;
}

void samples_free(struct samples *s)
{
	free(s->v);
	*s = (struct samples){0};
}
