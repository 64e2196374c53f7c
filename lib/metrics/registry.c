/* lib/metrics: registry, families, children and their lock-free updates. */
#include "metrics/metrics-internal.h"

#include <math.h>

static const double default_buckets[] = METRICS_DEFAULT_BUCKETS;

struct metrics_registry *metrics_registry_new(void)
{
	struct metrics_registry *r = xnew(struct metrics_registry, 1);

	pthread_mutex_init(&r->lock, NULL);
	return r;
}

static void strv_free(char **v, unsigned n)
{
	for (unsigned i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static char **strv_dup(const char *const *v, unsigned n)
{
	char **c = xnew(char *, n);

	for (unsigned i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

static void family_free(struct metric_family *f)
{
	for (unsigned i = 0; i < f->nchildren; i++) {
		strv_free(f->children[i]->values, f->nlabels);
		free(f->children[i]);
	}
	free(f->children);
	free(f->index);
	strv_free(f->labels, f->nlabels);
	free(f->bounds);
	free(f->name);
	free(f->help);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

struct metrics_registry *metrics_registry_free(struct metrics_registry *r)
{
	if (!r)
		return NULL;
	for (unsigned i = 0; i < r->nfamilies; i++)
		family_free(r->families[i]);
	free(r->families);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return NULL;
}

static bool name_valid(const char *s, bool colon)
{
	if (!s || !*s)
		return false;
	for (const char *c = s; *c; c++) {
		bool alpha = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || *c == '_' ||
			     (colon && *c == ':');
		if (!alpha && !(c > s && *c >= '0' && *c <= '9'))
			return false;
	}
	return true;
}

static int labels_valid(const char *const *labels, unsigned n, bool histogram)
{
	if (n > 0 && !labels)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (!name_valid(labels[i], false) || str_has_prefix(labels[i], "__"))
			return -EINVAL;
		if (histogram && streq(labels[i], "le"))
			return -EINVAL;
		for (unsigned j = 0; j < i; j++)
			if (streq(labels[i], labels[j]))
				return -EINVAL;
	}
	return 0;
}

/* The names a family's samples use; a histogram owns three series. */
static unsigned family_series(const char *name, enum metric_type type, char **ret)
{
	ret[0] = xstrdup(name);
	if (type != METRIC_HISTOGRAM)
		return 1;
	ret[1] = xasprintf("%s_bucket", name);
	ret[2] = xasprintf("%s_sum", name);
	ret[3] = xasprintf("%s_count", name);
	return 4;
}

static bool name_taken(struct metrics_registry *r, const char *name, enum metric_type type)
{
	char *mine[4], *theirs[4];
	unsigned nmine = family_series(name, type, mine);
	bool taken = false;

	for (unsigned i = 0; i < r->nfamilies && !taken; i++) {
		unsigned n = family_series(r->families[i]->name, r->families[i]->type, theirs);
		for (unsigned a = 0; a < nmine; a++)
			for (unsigned b = 0; b < n; b++)
				taken = taken || streq(mine[a], theirs[b]);
		for (unsigned b = 0; b < n; b++)
			free(theirs[b]);
	}
	for (unsigned a = 0; a < nmine; a++)
		free(mine[a]);
	return taken;
}

/* Insert keeping the array sorted by name, so exposition needs no sort. */
static int registry_add(struct metrics_registry *r, struct metric_family *f)
{
	unsigned pos = 0;

	pthread_mutex_lock(&r->lock);
	if (name_taken(r, f->name, f->type)) {
		pthread_mutex_unlock(&r->lock);
		return -EEXIST;
	}
	if (r->nfamilies == r->families_cap) {
		r->families_cap = r->families_cap ? r->families_cap * 2 : 16;
		r->families = xrealloc(r->families, r->families_cap * sizeof(*r->families));
	}
	while (pos < r->nfamilies && strcmp(r->families[pos]->name, f->name) < 0)
		pos++;
	memmove(r->families + pos + 1, r->families + pos,
		(r->nfamilies - pos) * sizeof(*r->families));
	r->families[pos] = f;
	r->nfamilies++;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

static struct metric_family *family_alloc(const char *name, const char *help, enum metric_type type,
					  const char *const *labels, unsigned nlabels)
{
	struct metric_family *f = xnew(struct metric_family, 1);

	f->name = xstrdup(name);
	f->help = xstrdup(help ? help : "");
	f->type = type;
	f->labels = strv_dup(labels, nlabels);
	f->nlabels = nlabels;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

static int bounds_check(const double *bounds, unsigned n, unsigned *ret_n)
{
	/* A trailing +Inf is what some callers pass; the exposition adds it anyway. */
	if (n > 0 && isinf(bounds[n - 1]) && bounds[n - 1] > 0)
		n--;
	for (unsigned i = 0; i < n; i++) {
		if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
			return -EINVAL;
	}
	*ret_n = n;
	return 0;
}

static int family_new(struct metrics_registry *r, const char *name, const char *help,
		      enum metric_type type, const char *const *labels, unsigned nlabels,
		      const double *bounds, unsigned nbounds, struct metric_family **ret)
{
	struct metric_family *f;
	int err;

	if (!r || !name_valid(name, true))
		return -EINVAL;
	err = labels_valid(labels, nlabels, type == METRIC_HISTOGRAM);
	if (err < 0)
		return err;
	if (type == METRIC_HISTOGRAM) {
		if (!bounds && nbounds == 0) {
			bounds = default_buckets;
			nbounds = ARRAY_SIZE(default_buckets);
		}
		if (!bounds)
			return -EINVAL;
		err = bounds_check(bounds, nbounds, &nbounds);
		if (err < 0)
			return err;
	}
	f = family_alloc(name, help, type, labels, nlabels);
	if (type == METRIC_HISTOGRAM) {
		f->bounds = xnew(double, nbounds);
		memcpy(f->bounds, bounds, nbounds * sizeof(double));
		f->nbounds = nbounds;
	}
	err = registry_add(r, f);
	if (err < 0) {
		family_free(f);
		return err;
	}
	/* An unlabelled metric is exposed (as 0) before its first update. */
	if (nlabels == 0)
		(void)metric_get(f, NULL, 0);
	if (ret)
		*ret = f;
	return 0;
}

int metrics_counter_new(struct metrics_registry *r, const char *name, const char *help,
			const char *const *labels, unsigned nlabels, struct metric_family **ret)
{
	return family_new(r, name, help, METRIC_COUNTER, labels, nlabels, NULL, 0, ret);
}

int metrics_gauge_new(struct metrics_registry *r, const char *name, const char *help,
		      const char *const *labels, unsigned nlabels, struct metric_family **ret)
{
	return family_new(r, name, help, METRIC_GAUGE, labels, nlabels, NULL, 0, ret);
}

int metrics_histogram_new(struct metrics_registry *r, const char *name, const char *help,
			  const char *const *labels, unsigned nlabels, const double *bounds,
			  unsigned nbounds, struct metric_family **ret)
{
	return family_new(r, name, help, METRIC_HISTOGRAM, labels, nlabels, bounds, nbounds, ret);
}

static int func_new(struct metrics_registry *r, const char *name, const char *help,
		    enum metric_type type, metrics_func_t fn, void *userdata)
{
	struct metric_family *f;
	int err;

	if (!r || !fn || !name_valid(name, true))
		return -EINVAL;
	f = family_alloc(name, help, type, NULL, 0);
	f->fn = fn;
	f->userdata = userdata;
	err = registry_add(r, f);
	if (err < 0)
		family_free(f);
	return err;
}

static int collector_new(struct metrics_registry *r, const char *name, const char *help,
			 enum metric_type type, const char *const *labels, unsigned nlabels,
			 metrics_collect_fn fn, void *userdata)
{
	struct metric_family *f;
	int err;

	if (!r || !fn || !name_valid(name, true))
		return -EINVAL;
	err = labels_valid(labels, nlabels, false);
	if (err < 0)
		return err;
	f = family_alloc(name, help, type, labels, nlabels);
	f->collect = fn;
	f->userdata = userdata;
	err = registry_add(r, f);
	if (err < 0)
		family_free(f);
	return err;
}

int metrics_counter_collector_new(struct metrics_registry *r, const char *name, const char *help,
				  const char *const *labels, unsigned nlabels,
				  metrics_collect_fn fn, void *userdata)
{
	return collector_new(r, name, help, METRIC_COUNTER, labels, nlabels, fn, userdata);
}

int metrics_gauge_collector_new(struct metrics_registry *r, const char *name, const char *help,
				const char *const *labels, unsigned nlabels,
				metrics_collect_fn fn, void *userdata)
{
	return collector_new(r, name, help, METRIC_GAUGE, labels, nlabels, fn, userdata);
}

int metrics_counter_func_new(struct metrics_registry *r, const char *name, const char *help,
			     metrics_func_t fn, void *userdata)
{
	return func_new(r, name, help, METRIC_COUNTER, fn, userdata);
}

int metrics_gauge_func_new(struct metrics_registry *r, const char *name, const char *help,
			   metrics_func_t fn, void *userdata)
{
	return func_new(r, name, help, METRIC_GAUGE, fn, userdata);
}

int metrics_buckets_linear(double start, double width, unsigned n, double *ret)
{
	if (n == 0 || !ret || !isfinite(start) || !isfinite(width) || !(width > 0))
		return -EINVAL;
	for (unsigned i = 0; i < n; i++)
		ret[i] = start + width * i;
	return 0;
}

int metrics_buckets_exponential(double start, double factor, unsigned n, double *ret)
{
	if (n == 0 || !ret || !isfinite(start) || !(start > 0) || !isfinite(factor) ||
	    !(factor > 1))
		return -EINVAL;
	ret[0] = start;
	for (unsigned i = 1; i < n; i++)
		ret[i] = ret[i - 1] * factor;
	return 0;
}

enum metric_type metric_family_type(const struct metric_family *f)
{
	return f->type;
}

/* FNV-1a over the values, each followed by a byte no label value starts with. */
static uint32_t values_hash(const char *const *values, unsigned n)
{
	uint32_t h = 2166136261u;

	for (unsigned i = 0; i < n; i++) {
		for (const unsigned char *c = (const unsigned char *)values[i]; *c; c++)
			h = (h ^ *c) * 16777619u;
		h = (h ^ 0xffu) * 16777619u;
	}
	return h;
}

static bool values_eq(char *const *a, const char *const *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!streq(a[i], b[i]))
			return false;
	return true;
}

static void index_insert(struct metric_family *f, uint32_t hash, unsigned pos)
{
	unsigned mask = f->index_cap - 1;

	for (unsigned i = hash & mask;; i = (i + 1) & mask) {
		if (f->index[i] == 0) {
			f->index[i] = pos + 1;
			return;
		}
	}
}

/* Keep the index at most half full: lookups stay short. */
static void index_grow(struct metric_family *f)
{
	if (f->index_cap >= 2 * (f->nchildren + 1))
		return;
	free(f->index);
	f->index_cap = f->index_cap ? f->index_cap * 2 : 16;
	f->index = xnew(uint32_t, f->index_cap);
	for (unsigned i = 0; i < f->nchildren; i++) {
		const char *const *values = (const char *const *)f->children[i]->values;
		index_insert(f, values_hash(values, f->nlabels), i);
	}
}

static struct metric *child_new(struct metric_family *f, const char *const *values)
{
	unsigned nbuckets = f->type == METRIC_HISTOGRAM ? f->nbounds + 1 : 0;
	struct metric *m = xcalloc(1, sizeof(*m) + nbuckets * sizeof(m->counts[0]));

	m->family = f;
	m->values = strv_dup(values, f->nlabels);
	atomic_init(&m->ival, 0);
	atomic_init(&m->bits, double_to_bits(0.0));
	for (unsigned i = 0; i < nbuckets; i++)
		atomic_init(&m->counts[i], 0);
	return m;
}

struct metric *metric_get(struct metric_family *f, const char *const *values, unsigned nvalues)
{
	struct metric *m = NULL;
	uint32_t hash;

	if (!f || f->fn || nvalues != f->nlabels || (nvalues > 0 && !values))
		return NULL;
	for (unsigned i = 0; i < nvalues; i++)
		if (!values[i])
			return NULL;
	hash = values_hash(values, nvalues);
	pthread_mutex_lock(&f->lock);
	if (f->index_cap > 0) {
		unsigned mask = f->index_cap - 1;
		for (unsigned i = hash & mask; f->index[i] != 0; i = (i + 1) & mask) {
			struct metric *c = f->children[f->index[i] - 1];
			if (values_eq(c->values, values, nvalues)) {
				m = c;
				break;
			}
		}
	}
	if (!m) {
		m = child_new(f, values);
		index_grow(f);
		if (f->nchildren == f->children_cap) {
			f->children_cap = f->children_cap ? f->children_cap * 2 : 8;
			f->children = xrealloc(f->children, f->children_cap * sizeof(*f->children));
		}
		f->children[f->nchildren] = m;
		index_insert(f, hash, f->nchildren);
		f->nchildren++;
	}
	pthread_mutex_unlock(&f->lock);
	return m;
}

void metric_add(struct metric *m, double v)
{
	if (!m)
		return;
	if (m->family->type == METRIC_GAUGE) {
		atomic_add_double(&m->bits, v);
		return;
	}
	if (m->family->type != METRIC_COUNTER || !(v >= 0))
		return;
	/* Whole numbers below 2^53 add exactly as integers, without a CAS loop. */
	if (v < 9007199254740992.0 && v == (double)(uint64_t)v)
		atomic_fetch_add_explicit(&m->ival, (uint64_t)v, memory_order_relaxed);
	else
		atomic_add_double(&m->bits, v);
}

void metric_inc(struct metric *m)
{
	metric_add(m, 1);
}

void metric_sub(struct metric *m, double v)
{
	if (m && m->family->type == METRIC_GAUGE)
		atomic_add_double(&m->bits, -v);
}

void metric_dec(struct metric *m)
{
	metric_sub(m, 1);
}

void metric_set(struct metric *m, double v)
{
	if (m && m->family->type == METRIC_GAUGE)
		atomic_store_explicit(&m->bits, double_to_bits(v), memory_order_relaxed);
}

void metric_observe(struct metric *m, double v)
{
	unsigned lo = 0, hi;

	if (!m || m->family->type != METRIC_HISTOGRAM)
		return;
	/* First bucket whose bound is >= v; NaN falls through to +Inf. */
	hi = m->family->nbounds;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		if (!(m->family->bounds[mid] >= v))
			lo = mid + 1;
		else
			hi = mid;
	}
	atomic_fetch_add_explicit(&m->counts[lo], 1, memory_order_relaxed);
	atomic_add_double(&m->bits, v);
}

uint64_t metric_read_bucket(const struct metric *m, unsigned i)
{
	return atomic_load_explicit(&((struct metric *)m)->counts[i], memory_order_relaxed);
}

double metric_value(const struct metric *m)
{
	struct metric *w = (struct metric *)m;
	uint64_t n = 0;

	if (!m)
		return NAN;
	switch (m->family->type) {
	case METRIC_COUNTER:
		return (double)atomic_load_explicit(&w->ival, memory_order_relaxed) +
		       bits_to_double(atomic_load_explicit(&w->bits, memory_order_relaxed));
	case METRIC_GAUGE:
		return bits_to_double(atomic_load_explicit(&w->bits, memory_order_relaxed));
	case METRIC_HISTOGRAM:
		for (unsigned i = 0; i <= m->family->nbounds; i++)
			n += metric_read_bucket(m, i);
		return (double)n;
	}
	return NAN;
}

double metric_histogram_sum(const struct metric *m)
{
	if (!m || m->family->type != METRIC_HISTOGRAM)
		return NAN;
	return bits_to_double(atomic_load_explicit(&((struct metric *)m)->bits,
						   memory_order_relaxed));
}
