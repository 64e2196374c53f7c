/* The entry points: defaulting, object validation (create and update) and status updates,
 * joining the metadata rules, the schema-driven checks and the kinds' own rules. */
#include "apiserver/validate/internal.h"

const struct kind_rules *kind_rules_find(const char *group, const char *kind)
{
	static const struct {
		const struct kind_rules *v;
		const size_t *n;
	} tables[] = {
		{core_rules, &core_nrules},
		{core_rules_service, &core_nrules_service},
		{pod_rules, &pod_nrules},
		{apps_rules, &apps_nrules},
		{batch_rules, &batch_nrules},
		{other_rules, &other_nrules},
	};

	if (streq(group, "core"))
		group = "";
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
		for (size_t i = 0; i < *tables[t].n; i++)
			if (streq(tables[t].v[i].kind, kind) && streq(tables[t].v[i].group, group))
				return &tables[t].v[i];
	return NULL;
}

void validate_default(const struct sch_kind *k, json_t *obj)
{
	const struct kind_rules *r = kind_rules_find(k->group, k->kind);

	if (!json_is_object(obj))
		return;
	schema_default(k->type, obj);
	if (r && r->defaults) {
		r->defaults(obj);
		/* What the kind's defaults created gets its schema defaults too. */
		schema_default(k->type, obj);
	}
}

static bool has_status_subresource(const struct sch_kind *k)
{
	for (size_t i = 0; k->subresources && k->subresources[i]; i++)
		if (streq(k->subresources[i], "status"))
			return true;
	return false;
}

static bool same_error(const struct api_field_error *a, const struct api_field_error *b)
{
	if (a->type != b->type || !streq(a->field, b->field))
		return false;
	if (!streq(a->detail ? a->detail : "", b->detail ? b->detail : ""))
		return false;
	if (!a->value || !b->value)
		return a->value == b->value;
	return json_equal(a->value, b->value);
}

/* Several rules may find the same problem (the schema and a kind's code): keep the first. */
static void drop_duplicates(struct api_field_errors *e, size_t start)
{
	size_t out = start;

	for (size_t i = start; i < e->n; i++) {
		bool dup = false;

		for (size_t j = start; j < out && !dup; j++)
			dup = same_error(&e->v[j], &e->v[i]);
		if (dup) {
			free(e->v[i].field);
			free(e->v[i].detail);
			json_decref(e->v[i].value);
			continue;
		}
		e->v[out++] = e->v[i];
	}
	e->n = out;
}

/* kube-apiserver checks the name as a path segment only when the kind's own validation
 * passed, so that the kind's message comes first; on update it always does. */
static void path_segment_check(const struct sch_kind *k, const json_t *obj,
			       struct api_field_errors *e)
{
	json_t *meta = js_obj(obj, "metadata");
	struct api_msgs m = {0};

	if (*js_str(meta, "generateName")) {
		name_check(NAME_ANY, js_str(meta, "generateName"), true, &m);
		err_msgs(e, "metadata.generateName", js_str(meta, "generateName"), &m);
		api_msgs_clear(&m);
	}
	name_check(NAME_ANY, js_str(meta, "name"), false, &m);
	err_msgs(e, "metadata.name", js_str(meta, "name"), &m);
	api_msgs_clear(&m);
	(void)k;
}

static size_t parent_len(const char *path)
{
	const char *dot = strrchr(path, '.'), *br = strrchr(path, '[');
	const char *cut = dot > br ? dot : br;

	return cut ? (size_t)(cut - path) : 0;
}

/* The same finding about a sibling (a union's second member, named in another order). */
static bool same_finding_nearby(const struct api_field_error *a, const struct api_field_error *b)
{
	size_t pa = parent_len(a->field), pb = parent_len(b->field);

	return a->type == b->type && pa == pb && !strncmp(a->field, b->field, pa) &&
	       streq(a->detail ? a->detail : "", b->detail ? b->detail : "");
}

/* Errors at a path the kind's rules already reported are theirs to word: the schema's
 * generic checks only fill in where the kind's code is silent. */
static void append_new_paths(struct api_field_errors *e, size_t start, size_t kind_end,
			     struct api_field_errors *extra, const char *const *skip)
{
	for (size_t i = 0; i < extra->n; i++) {
		struct api_field_error *x = &extra->v[i];
		bool taken = false;

		for (size_t j = 0; skip && skip[j] && !taken; j++)
			taken = str_has_prefix(x->field, skip[j]);
		for (size_t j = start; j < kind_end && !taken; j++)
			taken = streq(e->v[j].field, x->field) || same_finding_nearby(&e->v[j], x);
		if (taken) {
			free(x->field);
			free(x->detail);
			json_decref(x->value);
			continue;
		}
		api_field_errors_add(e, x->type, x->field, x->value, x->detail);
		free(x->field);
		free(x->detail);
	}
	free(extra->v);
	*extra = (struct api_field_errors){0};
}

void validate_object(const struct sch_kind *k, const json_t *obj, const json_t *old,
		     struct api_field_errors *errs)
{
	static const char *const skip_meta[] = {"metadata", NULL};
	static const char *const skip_status[] = {"metadata", "status", NULL};
	const struct kind_rules *r = kind_rules_find(k->group, k->kind);
	struct api_field_errors schema = {0};
	size_t start = errs->n;

	validate_object_meta(k, obj, old, errs);
	if (r && r->validate)
		r->validate(obj, errs);
	if (!old && r && r->create)
		r->create(obj, errs);
	if (old && r && r->update)
		r->update(obj, old, errs);
	/* Status is reset on create and carried over on update when the kind has a status
	 * subresource: validate_status_update checks it. */
	schema_check(k->type, obj, old, "", has_status_subresource(k) ? skip_status : skip_meta,
		     &schema);
	append_new_paths(errs, start, errs->n, &schema, r ? r->schema_skip : NULL);
	if (old || errs->n == start)
		path_segment_check(k, obj, errs);
	drop_duplicates(errs, start);
}

void validate_status_update(const struct sch_kind *k, const json_t *obj, const json_t *old,
			    struct api_field_errors *errs)
{
	const struct kind_rules *r = kind_rules_find(k->group, k->kind);
	const struct sch_field *sf = sch_field(k->type, "status");
	size_t start = errs->n;

	validate_object_meta(k, obj, old, errs);
	if (sf && sf->type && sf->scalar == SCH_MESSAGE)
		schema_check(sf->type, js_obj(obj, "status"), js_obj(old, "status"), "status", NULL,
			     errs);
	if (r && r->status_update)
		r->status_update(obj, old, errs);
	drop_duplicates(errs, start);
}
