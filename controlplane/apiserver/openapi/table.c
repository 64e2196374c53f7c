/* meta.k8s.io/v1 Tables: the columns and cells kube-apiserver's printers
 * produce, with Kubernetes' default table (Name, Created At) for kinds that
 * have no printer. The printers themselves live in table_*.c. */
#include <stdarg.h>
#include <stdio.h>

#include "api/api.h"
#include "apiserver/openapi/internal.h"

const char OA_D_NAME[] = "Name of the object, unique within its namespace (or the cluster).";
const char OA_D_AGE[] = "Time since the object was created.";
const char OA_D_CONTAINERS[] = "Names of the containers in the pod template.";
const char OA_D_IMAGES[] = "Images of the containers in the pod template.";
const char OA_D_SELECTOR[] = "Label query over the pods the object manages.";

/* ---- durations and times ---- */

void table_human_duration(int64_t ns, char *out, size_t cap)
{
	const int64_t sec = 1000000000LL, min = 60 * sec, hour = 60 * min;
	/* Go's int(d.Seconds()) truncates toward zero. */
	int64_t seconds = ns / sec;

	if (seconds < -1) {
		snprintf(out, cap, "<invalid>");
		return;
	}
	if (seconds < 0) {
		snprintf(out, cap, "0s");
		return;
	}
	if (seconds < 60 * 2) {
		snprintf(out, cap, "%llds", (long long)seconds);
		return;
	}
	int64_t minutes = ns / min;
	if (minutes < 10) {
		int64_t s = (ns / sec) % 60;
		if (s == 0)
			snprintf(out, cap, "%lldm", (long long)minutes);
		else
			snprintf(out, cap, "%lldm%llds", (long long)minutes, (long long)s);
		return;
	}
	if (minutes < 60 * 3) {
		snprintf(out, cap, "%lldm", (long long)minutes);
		return;
	}
	int64_t hours = ns / hour;
	if (hours < 8) {
		int64_t m = minutes % 60;
		if (m == 0)
			snprintf(out, cap, "%lldh", (long long)hours);
		else
			snprintf(out, cap, "%lldh%lldm", (long long)hours, (long long)m);
	} else if (hours < 48) {
		snprintf(out, cap, "%lldh", (long long)hours);
	} else if (hours < 24 * 8) {
		int64_t h = hours % 24;
		if (h == 0)
			snprintf(out, cap, "%lldd", (long long)(hours / 24));
		else
			snprintf(out, cap, "%lldd%lldh", (long long)(hours / 24), (long long)h);
	} else if (hours < 24 * 365 * 2) {
		snprintf(out, cap, "%lldd", (long long)(hours / 24));
	} else if (hours < 24 * 365 * 8) {
		int64_t dy = (hours / 24) % 365;
		if (dy == 0)
			snprintf(out, cap, "%lldy", (long long)(hours / 24 / 365));
		else
			snprintf(out, cap, "%lldy%lldd", (long long)(hours / 24 / 365),
				 (long long)dy);
	} else {
		snprintf(out, cap, "%lldy", (long long)(hours / 24 / 365));
	}
}

void since(int64_t now, const char *rfc3339, char *out, size_t cap)
{
	int64_t t;

	/* A zero or unparsable time is what Go's IsZero() reports as unknown. */
	if (!rfc3339 || !*rfc3339 || api_time_parse(rfc3339, &t, NULL) < 0) {
		snprintf(out, cap, "<unknown>");
		return;
	}
	table_human_duration(now - t, out, cap);
}

/* ---- cells ---- */

void cell_str(struct trow *r, const char *s)
{
	json_array_append_new(r->cells, api_json_string_lossy(s ? s : ""));
}

void cell_int(struct trow *r, int64_t v)
{
	json_array_append_new(r->cells, json_integer(v));
}

void cell_printf(struct trow *r, const char *fmt, ...)
{
	va_list ap;
	struct buf b = {0};

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	_cleanup_free_ char *s = buf_steal(&b);
	cell_str(r, s);
}

void cell_since(struct trow *r, const char *rfc3339)
{
	char d[32];

	since(r->now, rfc3339, d, sizeof(d));
	cell_str(r, d);
}

void cell_age(struct trow *r, const json_t *obj)
{
	cell_since(r, api_get_str(obj, "metadata.creationTimestamp"));
}

const char *jstr(const json_t *o, const char *path)
{
	const char *s = api_get_str(o, path);
	return s ? s : "";
}

int64_t jint(const json_t *o, const char *path)
{
	int64_t v = 0;

	if (api_get_int(o, path, &v) < 0)
		return 0;
	return v;
}

bool jbool(const json_t *o, const char *path)
{
	bool v = false;

	if (api_get_bool(o, path, &v) < 0)
		return false;
	return v;
}

size_t jlen(const json_t *o, const char *path)
{
	json_t *v = api_get(o, path);

	if (json_is_array(v))
		return json_array_size(v);
	if (json_is_object(v))
		return json_object_size(v);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *format_labels(const json_t *map)
{
	size_t n = json_is_object(map) ? json_object_size(map) : 0, i = 0;
	const char *k;
	json_t *v;
	struct buf b = {0};

	if (n == 0)
		return xstrdup("<none>");
	const char **keys = xnew(const char *, n);
	json_object_foreach((json_t *)map, k, v)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_str);
	for (i = 0; i < n; i++) {
		const char *val = json_string_value(json_object_get(map, keys[i]));
		buf_printf(&b, "%s%s=%s", i ? "," : "", keys[i], val ? val : "");
	}
	free(keys);
	return buf_steal(&b);
}

char *label_selector_string(const json_t *ls)
{
	_cleanup_(api_label_selector_freep) struct api_label_selector *s = NULL;

	if (api_label_selector_from_json(ls, &s, NULL) < 0)
		return NULL;
	return api_label_selector_format(s);
}

char *format_label_selector(const json_t *ls)
{
	char *s = label_selector_string(ls);

	if (!s)
		return xstrdup("<error>");
	if (!*s) {
		free(s);
		return xstrdup("<none>");
	}
	return s;
}

char *join_strings(const json_t *arr, const char *sep)
{
	struct buf b = {0};
	size_t i;
	json_t *e;
	bool first = true;

	json_array_foreach((json_t *)arr, i, e) {
		if (!json_is_string(e))
			continue;
		buf_printf(&b, "%s%s", first ? "" : sep, json_string_value(e));
		first = false;
	}
	return buf_steal(&b);
}

void cell_containers(struct trow *r, const json_t *containers)
{
	struct buf names = {0}, images = {0};
	size_t i;
	json_t *c;

	buf_puts(&names, "");
	buf_puts(&images, "");
	json_array_foreach((json_t *)containers, i, c) {
		if (i) {
			buf_putc(&names, ',');
			buf_putc(&images, ',');
		}
		buf_puts(&names, jstr(c, "name"));
		buf_puts(&images, jstr(c, "image"));
	}
	cell_str(r, names.data);
	cell_str(r, images.data);
	buf_free(&names);
	buf_free(&images);
}

/* ---- the table ---- */

static const struct tcol default_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Created At", "date", "", "When the object was created.", 0},
};

static const struct tprinter *find_printer(const struct sch_kind *k)
{
	static const struct {
		const struct tprinter *v;
		const size_t *n;
	} sets[] = {
		{oa_printers_core, &oa_nprinters_core},
		{oa_printers_workloads, &oa_nprinters_workloads},
		{oa_printers_net, &oa_nprinters_net},
	};

	for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
		for (size_t i = 0; i < *sets[s].n; i++) {
			const struct tprinter *p = &sets[s].v[i];
			if (streq(p->group, k->group) && streq(p->kind, k->kind))
				return p;
		}
	}
	return NULL;
}

static json_t *column_json(const struct tcol *c)
{
	json_t *o = json_object();

	json_object_set_new(o, "name", json_string(c->name));
	json_object_set_new(o, "type", json_string(c->type));
	json_object_set_new(o, "format", json_string(c->format ? c->format : ""));
	json_object_set_new(o, "description", json_string(c->desc ? c->desc : ""));
	json_object_set_new(o, "priority", json_integer(c->priority));
	return o;
}

/* The row's object: the whole object, or its metadata as PartialObjectMetadata.
 * Either shares the caller's JSON. */
static json_t *row_object(json_t *obj, bool with_object)
{
	if (with_object)
		return json_incref(obj);
	json_t *o = json_object(), *meta = api_get_object(obj, "metadata");
	json_object_set_new(o, "kind", json_string("PartialObjectMetadata"));
	json_object_set_new(o, "apiVersion", json_string("meta.k8s.io/v1"));
	json_object_set_new(o, "metadata", meta ? json_incref(meta) : json_object());
	return o;
}

/* The default table's cells: the name and the creation time, RFC 3339. */
static void default_print(const json_t *obj, struct trow *r)
{
	int64_t t;
	char ts[API_TIME_LEN];

	cell_str(r, api_meta_name(obj));
	if (api_meta_creation_timestamp(obj, &t) < 0)
		snprintf(ts, sizeof(ts), "0001-01-01T00:00:00Z");
	else
		api_time_format(t, ts);
	cell_str(r, ts);
}

json_t *table_build_at(const struct sch_kind *k, json_t *const *objs, size_t n,
		       const char *list_resource_version, const char *cont, bool with_object,
		       int64_t now_ns)
{
	const struct tprinter *p = find_printer(k);
	const struct tcol *cols = p ? p->cols : default_cols;
	size_t ncols = p ? p->ncols : ARRAY_SIZE(default_cols);
	json_t *t = json_object(), *meta = json_object(), *defs = json_array();

	json_object_set_new(t, "kind", json_string("Table"));
	json_object_set_new(t, "apiVersion", json_string("meta.k8s.io/v1"));
	if (list_resource_version && *list_resource_version)
		json_object_set_new(meta, "resourceVersion", json_string(list_resource_version));
	if (cont && *cont)
		json_object_set_new(meta, "continue", json_string(cont));
	json_object_set_new(t, "metadata", meta);
	for (size_t i = 0; i < ncols; i++)
		json_array_append_new(defs, column_json(&cols[i]));
	json_object_set_new(t, "columnDefinitions", defs);

	/* The default convertor leaves an empty table's rows nil, printers do not. */
	if (!p && n == 0) {
		json_object_set_new(t, "rows", json_null());
		return t;
	}
	json_t *rows = json_array();
	for (size_t i = 0; i < n; i++) {
		struct trow r = {.cells = json_array(), .now = now_ns};
		json_t *row = json_object();
		if (p)
			p->print(objs[i], &r);
		else
			default_print(objs[i], &r);
		json_object_set_new(row, "cells", r.cells);
		if (r.conditions)
			json_object_set_new(row, "conditions", r.conditions);
		json_object_set_new(row, "object", row_object(objs[i], with_object));
		json_array_append_new(rows, row);
	}
	json_object_set_new(t, "rows", rows);
	return t;
}

json_t *table_build(const struct sch_kind *k, json_t *const *objs, size_t n,
		    const char *list_resource_version, const char *cont, bool with_object)
{
	return table_build_at(k, objs, n, list_resource_version, cont, with_object,
			      (int64_t)now_real_ns());
}
