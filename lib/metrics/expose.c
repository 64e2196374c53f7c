/* lib/metrics: the Prometheus text exposition format, version 0.0.4. */
#include "metrics/metrics-internal.h"

#include <math.h>
#include <stdio.h>

void metrics_format_double(char *buf, size_t cap, double v)
{
	if (isnan(v)) {
		snprintf(buf, cap, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, cap, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Whole numbers that doubles hold exactly print as plain integers. */
	if (v == trunc(v) && fabs(v) < 9007199254740992.0) {
		snprintf(buf, cap, "%.0f", v == 0 ? 0.0 : v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, cap, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

/* HELP escapes backslash and newline; label values also escape the quote. */
static void put_escaped(struct buf *out, const char *s, bool quote)
{
	for (; *s; s++) {
		if (*s == '\\')
			buf_puts(out, "\\\\");
		else if (*s == '\n')
			buf_puts(out, "\\n");
		else if (quote && *s == '"')
			buf_puts(out, "\\\"");
		else
			buf_putc(out, *s);
	}
}

static void put_labels(struct buf *out, const struct metric *m, const char *le)
{
	const struct metric_family *f = m->family;

	if (f->nlabels == 0 && !le)
		return;
	buf_putc(out, '{');
	for (unsigned i = 0; i < f->nlabels; i++) {
		buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
		put_escaped(out, m->values[i], true);
		buf_putc(out, '"');
	}
	if (le)
		buf_printf(out, "%sle=\"%s\"", f->nlabels ? "," : "", le);
	buf_putc(out, '}');
}

static void put_sample(struct buf *out, const struct metric *m, const char *suffix, const char *le,
		       double v)
{
	char num[40];

	metrics_format_double(num, sizeof(num), v);
	buf_puts(out, m->family->name);
	buf_puts(out, suffix);
	put_labels(out, m, le);
	buf_printf(out, " %s\n", num);
}

static void put_histogram(struct buf *out, const struct metric *m)
{
	const struct metric_family *f = m->family;
	uint64_t cumulative = 0;
	char le[40];

	/* _count is the +Inf bucket, so the two always agree in one scrape. */
	for (unsigned i = 0; i <= f->nbounds; i++) {
		cumulative += metric_read_bucket(m, i);
		if (i < f->nbounds)
			metrics_format_double(le, sizeof(le), f->bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		put_sample(out, m, "_bucket", le, (double)cumulative);
	}
	put_sample(out, m, "_sum", NULL, metric_histogram_sum(m));
	put_sample(out, m, "_count", NULL, (double)cumulative);
}

static int child_cmp(const void *a, const void *b)
{
	const struct metric *x = *(const struct metric *const *)a;
	const struct metric *y = *(const struct metric *const *)b;

	for (unsigned i = 0; i < x->family->nlabels; i++) {
		int c = strcmp(x->values[i], y->values[i]);
		if (c)
			return c;
	}
	return 0;
}

static const char *type_name(enum metric_type t)
{
	switch (t) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static void put_header(struct buf *out, const struct metric_family *f)
{
	buf_printf(out, "# HELP %s ", f->name);
	put_escaped(out, f->help, false);
	buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
}

/* What a collector family's fn gives for one scrape: children of its own. */
struct metrics_collection {
	struct metric_family *family;
	struct metric **children;
	unsigned n, cap;
};

void metrics_collect(struct metrics_collection *c, const char *const *values, double v)
{
	struct metric *m = xnew(struct metric, 1);
	unsigned nl = c->family->nlabels;

	m->family = c->family;
	m->values = xnew(char *, nl ? nl : 1);
	for (unsigned i = 0; i < nl; i++)
		m->values[i] = xstrdup(values[i] ? values[i] : "");
	atomic_store(&m->bits, double_to_bits(v));
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->children = xrealloc(c->children, c->cap * sizeof(*c->children));
	}
	c->children[c->n++] = m;
}

static void put_collected(struct buf *out, struct metric_family *f)
{
	struct metrics_collection c = {.family = f};
	char num[40];

	f->collect(&c, f->userdata);
	if (!c.n)
		return;
	put_header(out, f);
	qsort(c.children, c.n, sizeof(*c.children), child_cmp);
	for (unsigned i = 0; i < c.n; i++) {
		struct metric *m = c.children[i];
		metrics_format_double(num, sizeof(num), bits_to_double(atomic_load(&m->bits)));
		buf_puts(out, f->name);
		put_labels(out, m, NULL);
		buf_printf(out, " %s\n", num);
		for (unsigned k = 0; k < f->nlabels; k++)
			free(m->values[k]);
		free(m->values);
		free(m);
	}
	free(c.children);
}

static void put_family(struct buf *out, struct metric_family *f)
{
	char num[40];

	if (f->collect) {
		put_collected(out, f);
		return;
	}

	if (f->fn) {
		metrics_format_double(num, sizeof(num), f->fn(f->userdata));
		put_header(out, f);
		buf_printf(out, "%s %s\n", f->name, num);
		return;
	}
	pthread_mutex_lock(&f->lock);
	if (f->nchildren == 0) {
		pthread_mutex_unlock(&f->lock);
		return;
	}
	/* Children never go away, so a sorted copy of the array is safe to walk unlocked. */
	unsigned n = f->nchildren;
	_cleanup_free_ struct metric **sorted = xnew(struct metric *, n);
	memcpy(sorted, f->children, n * sizeof(*sorted));
	pthread_mutex_unlock(&f->lock);
	qsort(sorted, n, sizeof(*sorted), child_cmp);

	put_header(out, f);
	for (unsigned i = 0; i < n; i++) {
		if (f->type == METRIC_HISTOGRAM)
			put_histogram(out, sorted[i]);
		else
			put_sample(out, sorted[i], "", NULL, metric_value(sorted[i]));
	}
}

void metrics_expose(struct metrics_registry *r, struct buf *out)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	for (unsigned i = 0; i < r->nfamilies; i++)
		put_family(out, r->families[i]);
	pthread_mutex_unlock(&r->lock);
}
