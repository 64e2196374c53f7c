/* lib/metrics: Prometheus metrics and their text exposition (format 0.0.4).
 *
 *   struct metrics_registry *reg = metrics_registry_new();
 *   struct metric_family *req;
 *   r = metrics_counter_new(reg, "apiserver_request_total", "Requests served.",
 *                           (const char *const[]){"verb", "code"}, 2, &req);
 *   struct metric *get_ok = metric_with(req, "GET", "200");   // keep it on hot paths
 *   metric_inc(get_ok);
 *   metrics_expose(reg, &out);                                 // for GET /metrics
 *
 * A registry owns its families, a family owns its children (one per tuple of
 * label values); both live until metrics_registry_free(). Updates are
 * lock-free atomics, safe from any thread; creating a family or a child takes
 * a mutex. Every update function accepts a NULL metric and does nothing, so a
 * component whose metric could not be created keeps running. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The client libraries' default histogram buckets (seconds). */
#define METRICS_DEFAULT_BUCKETS {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

struct metrics_registry;
struct metric_family;
struct metric;

/* A value computed at scrape time; NaN is exposed as NaN. */
typedef double (*metrics_func_t)(void *userdata);

struct metrics_registry *metrics_registry_new(void);
struct metrics_registry *metrics_registry_free(struct metrics_registry *r);
DEFINE_FREEP(struct metrics_registry, metrics_registry_free)

/* Register a family. name must match [a-zA-Z_:][a-zA-Z0-9_:]*, each label
 * name [a-zA-Z_][a-zA-Z0-9_]* without a leading "__" and without
 * duplicates: -EINVAL otherwise; -EEXIST when the name (or, for
 * histograms, one of its _bucket/_sum/_count series) is taken. A family
 * without labels exposes its single child (value 0) at once. */
int metrics_counter_new(struct metrics_registry *r, const char *name, const char *help,
			const char *const *labels, unsigned nlabels, struct metric_family **ret);
int metrics_gauge_new(struct metrics_registry *r, const char *name, const char *help,
		      const char *const *labels, unsigned nlabels, struct metric_family **ret);
/* bounds: upper bounds, finite and strictly increasing (a final +Inf is
 * allowed and ignored; +Inf is always the last bucket); NULL and 0 for
 * METRICS_DEFAULT_BUCKETS. "le" is not allowed as a label name. */
int metrics_histogram_new(struct metrics_registry *r, const char *name, const char *help,
			  const char *const *labels, unsigned nlabels, const double *bounds,
			  unsigned nbounds, struct metric_family **ret);

/* A counter or gauge without labels whose value fn returns at each scrape.
 * fn runs with the registry locked: it must not register metrics. */
int metrics_counter_func_new(struct metrics_registry *r, const char *name, const char *help,
			     metrics_func_t fn, void *userdata);
int metrics_gauge_func_new(struct metrics_registry *r, const char *name, const char *help,
			   metrics_func_t fn, void *userdata);

/* A family with labels whose samples fn produces at each scrape, for values
 * kept elsewhere (a BPF map's counters): fn calls metrics_collect() once per
 * child. Children may come and go between scrapes. fn runs with the registry
 * locked: it must not register metrics. */
struct metrics_collection;
typedef void (*metrics_collect_fn)(struct metrics_collection *c, void *userdata);
int metrics_counter_collector_new(struct metrics_registry *r, const char *name, const char *help,
				  const char *const *labels, unsigned nlabels,
				  metrics_collect_fn fn, void *userdata);
int metrics_gauge_collector_new(struct metrics_registry *r, const char *name, const char *help,
				const char *const *labels, unsigned nlabels,
				metrics_collect_fn fn, void *userdata);
/* One sample of a collector family: as many label values as it has labels. */
void metrics_collect(struct metrics_collection *c, const char *const *values, double v);

/* process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds and
 * process_start_time_seconds, read from /proc at each scrape. */
int metrics_register_process(struct metrics_registry *r);

/* n upper bounds start, start+width, ... (width > 0) or start, start*factor,
 * ... (start > 0, factor > 1) into ret[0..n-1]; -EINVAL on bad arguments. */
int metrics_buckets_linear(double start, double width, unsigned n, double *ret);
int metrics_buckets_exponential(double start, double factor, unsigned n, double *ret);

/* The child for these label values (as many as the family has label
 * names), created on first use; NULL when the count is wrong. The pointer
 * stays valid until the registry is freed. */
struct metric *metric_get(struct metric_family *f, const char *const *values, unsigned nvalues);
#define metric_with(f, ...)                                                  \
	metric_get((f), (const char *const[]){__VA_ARGS__},                  \
		   (unsigned)(sizeof((const char *const[]){__VA_ARGS__}) /    \
			      sizeof(const char *)))
/* The child of a family without labels. */
static inline struct metric *metric_solo(struct metric_family *f) { return metric_get(f, NULL, 0); }

enum metric_type metric_family_type(const struct metric_family *f);

/* Counters and gauges. A counter ignores negative and NaN increments. */
void metric_inc(struct metric *m);
void metric_add(struct metric *m, double v);
/* Gauges only. */
void metric_dec(struct metric *m);
void metric_sub(struct metric *m, double v);
void metric_set(struct metric *m, double v);
/* Histograms only. */
void metric_observe(struct metric *m, double v);

/* A counter's or gauge's value; a histogram's number of observations. */
double metric_value(const struct metric *m);
/* A histogram's sum of observations. */
double metric_histogram_sum(const struct metric *m);

/* Append the text exposition of every family, sorted by name, children
 * sorted by label values. Families with labels but no child yet are left
 * out. */
void metrics_expose(struct metrics_registry *r, struct buf *out);

/* Format v as the exposition writes it: "+Inf", "-Inf", "NaN", integers
 * without exponent, other values in the shortest form that reads back
 * exactly. buf should hold at least 32 bytes. */
void metrics_format_double(char *buf, size_t cap, double v);
