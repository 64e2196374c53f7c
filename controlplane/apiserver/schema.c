/* Lookups over the generated schema tables. The tables are small (a few
 * hundred types): linear scans are fine off the hot path, and kinds are
 * found once per request. */
#include "apiserver/schema.h"

#include <stdio.h>

#include "base/base.h"

static bool group_eq(const char *a, const char *b)
{
	if (streq(a, "core"))
		a = "";
	if (streq(b, "core"))
		b = "";
	return streq(a, b);
}

const struct sch_kind *sch_kind_by_resource(const char *group, const char *version,
					    const char *resource)
{
	for (size_t i = 0; i < sch_nkinds; i++) {
		const struct sch_kind *k = &sch_kinds[i];
		if (streq(k->plural, resource) && streq(k->version, version) && group_eq(k->group, group))
			return k;
	}
	return NULL;
}

const struct sch_kind *sch_kind_by_name(const char *group, const char *version, const char *kind)
{
	for (size_t i = 0; i < sch_nkinds; i++) {
		const struct sch_kind *k = &sch_kinds[i];
		if (streq(k->kind, kind) && streq(k->version, version) && group_eq(k->group, group))
			return k;
	}
	return NULL;
}

const struct sch_type *sch_type_by_name(const char *group, const char *version, const char *name)
{
	for (size_t i = 0; i < sch_ntypes; i++) {
		const struct sch_type *t = sch_types[i];
		if (streq(t->name, name) && streq(t->version, version) && group_eq(t->group, group))
			return t;
	}
	return NULL;
}

const struct sch_field *sch_field(const struct sch_type *t, const char *json_name)
{
	for (unsigned i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];
		if (f->flags & SCH_F_INLINE) {
			const struct sch_field *in = sch_field(f->type, json_name);
			if (in)
				return in;
		} else if (streq(f->name, json_name)) {
			return f;
		}
	}
	return NULL;
}

void sch_api_version(const char *group, const char *version, char *out, size_t cap)
{
	if (!*group || streq(group, "core"))
		snprintf(out, cap, "%s", version);
	else
		snprintf(out, cap, "%s/%s", group, version);
}

static void canonical_value(const struct sch_field *f, json_t *v);

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Go writes map keys sorted. */
static void sort_map(const struct sch_field *f, json_t *map)
{
	size_t n = json_object_size(map), i = 0;
	const char **keys = xnew(const char *, n);
	json_t **vals = xnew(json_t *, n);
	const char *k;
	json_t *v;

	json_object_foreach(map, k, v)
		keys[i++] = xstrdup(k);
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (i = 0; i < n; i++) {
		vals[i] = json_incref(json_object_get(map, keys[i]));
		if (f->scalar == SCH_MESSAGE)
			canonical_value(f, vals[i]);
	}
	json_object_clear(map);
	for (i = 0; i < n; i++) {
		json_object_set_new(map, keys[i], vals[i]);
		free((char *)keys[i]);
	}
	free(keys);
	free(vals);
}

static void canonical_value(const struct sch_field *f, json_t *v)
{
	if (f->container == SCH_MAP && f->scalar != SCH_MESSAGE)
		return;
	if (f->scalar != SCH_MESSAGE || !f->type)
		return;
	if (json_is_object(v) && f->container != SCH_LIST)
		sch_canonicalize(f->type, v, false);
}

static void move_fields(const struct sch_type *t, json_t *from, json_t *to)
{
	for (unsigned i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];
		if (f->flags & SCH_F_INLINE) {
			move_fields(f->type, from, to);
			continue;
		}
		json_t *v = json_object_get(from, f->name);
		if (!v)
			continue;
		json_incref(v);
		json_object_del(from, f->name);
		if (f->container == SCH_MAP && json_is_object(v)) {
			sort_map(f, v);
		} else if (f->container == SCH_LIST && json_is_array(v) && f->scalar == SCH_MESSAGE) {
			size_t j;
			json_t *e;
			json_array_foreach(v, j, e)
				if (json_is_object(e))
					sch_canonicalize(f->type, e, false);
		} else {
			canonical_value(f, v);
		}
		json_object_set_new(to, f->name, v);
	}
}

void sch_canonicalize(const struct sch_type *t, json_t *obj, bool kind)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;

	if (!json_is_object(obj)) {
		json_decref(out);
		return;
	}
	if (kind) {
		static const char *const type_keys[] = {"kind", "apiVersion"};
		for (size_t i = 0; i < ARRAY_SIZE(type_keys); i++) {
			v = json_object_get(obj, type_keys[i]);
			if (v) {
				json_object_set(out, type_keys[i], v);
				json_object_del(obj, type_keys[i]);
			}
		}
	}
	move_fields(t, obj, out);
	/* Keys the schema does not know keep their order, after the rest. */
	json_object_foreach(obj, k, v)
		json_object_set(out, k, v);
	json_object_clear(obj);
	json_object_update(obj, out);
	json_decref(out);
}
