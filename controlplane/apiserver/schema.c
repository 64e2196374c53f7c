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
