/* metadata.managedFields: decoding, encoding and ordering the entries as
 * Kubernetes' managedfields package does, and the fields no manager owns. */
#include "apiserver/patch/internal.h"

static void manager_clear(struct manager *m)
{
	free(m->name);
	free(m->api_version);
	free(m->subresource);
	fset_free(&m->set);
}

void managers_free(struct managers *m)
{
	for (size_t i = 0; i < m->n; i++)
		manager_clear(&m->v[i]);
	free(m->v);
	*m = (struct managers){0};
}

static bool opt_eq(const char *a, const char *b)
{
	return streq(a ? a : "", b ? b : "");
}

/* An entry is identified by manager, operation, subresource and, for
 * Update, the API version (BuildManagerIdentifier). */
struct manager *managers_find(struct managers *m, const char *name, bool apply,
			      const char *api_version, const char *subresource)
{
	for (size_t i = 0; i < m->n; i++) {
		struct manager *x = &m->v[i];
		if (streq(x->name, name) && x->apply == apply &&
		    opt_eq(x->subresource, subresource) &&
		    (apply || opt_eq(x->api_version, api_version)))
			return x;
	}
	return NULL;
}

struct manager *managers_add(struct managers *m, const char *name, bool apply,
			     const char *api_version, const char *subresource)
{
	struct manager *x = managers_find(m, name, apply, api_version, subresource);

	if (x)
		return x;
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 4;
		m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
	}
	x = &m->v[m->n++];
	*x = (struct manager){.name = xstrdup(name),
			      .apply = apply,
			      .api_version = xstrdup(api_version ? api_version : ""),
			      .subresource =
				      subresource && *subresource ? xstrdup(subresource) : NULL};
	return x;
}

void managers_remove_at(struct managers *m, size_t i)
{
	manager_clear(&m->v[i]);
	memmove(&m->v[i], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
	m->n--;
}

void managers_drop_empty(struct managers *m)
{
	for (size_t i = 0; i < m->n;) {
		if (fset_empty(&m->v[i].set))
			managers_remove_at(m, i);
		else
			i++;
	}
}

static int decode_entry(const json_t *e, size_t i, struct managers *m, char **errmsg)
{
	const char *op = api_get_str(e, "operation"), *av = api_get_str(e, "apiVersion");
	const char *ft = api_get_str(e, "fieldsType"), *name = api_get_str(e, "manager");
	const char *sub = api_get_str(e, "subresource");
	struct fset set;

	if (!json_is_object(e))
		return patch_errf(errmsg, -EINVAL, "managed fields entry %zu is not an object", i);
	if (!op || (!streq(op, "Apply") && !streq(op, "Update")))
		return patch_errf(errmsg, -EINVAL, "operation must be `Apply` or `Update`");
	if (!av || !*av)
		return patch_errf(errmsg, -EINVAL, "apiVersion must not be empty");
	if (!ft || !*ft)
		return patch_errf(errmsg, -EINVAL, "missing fieldsType in managed fields entry %zu",
				  i);
	if (!streq(ft, "FieldsV1")) {
		struct buf q = {0};
		go_q(&q, ft);
		patch_errf(errmsg, -EINVAL, "invalid fieldsType %s in managed fields entry %zu",
			   q.data, i);
		buf_free(&q);
		return -EINVAL;
	}
	char *err = NULL;
	if (fset_from_json(json_object_get(e, "fieldsV1"), &set, &err) < 0) {
		patch_errf(errmsg, -EINVAL,
			   "error decoding versioned set from entry %zu: error "
			   "decoding set: %s",
			   i, err);
		free(err);
		return -EINVAL;
	}
	bool apply = streq(op, "Apply");
	struct manager *x = managers_add(m, name ? name : "", apply, av, sub);
	/* a later entry with the same identity wins, as in Kubernetes' map */
	fset_free(&x->set);
	x->set = set;
	free(x->api_version);
	x->api_version = xstrdup(av);
	int64_t ns;
	x->has_time = api_time_from_json(json_object_get(e, "time"), &ns, NULL) > 0;
	x->time_ns = x->has_time ? ns : 0;
	return 0;
}

int managers_decode(const json_t *list, struct managers *ret, char **errmsg)
{
	struct managers m = {0};
	size_t i;
	json_t *e;

	if (list && !json_is_null(list) && !json_is_array(list))
		return patch_errf(errmsg, -EINVAL, "metadata.managedFields must be a list");
	json_array_foreach(list, i, e) {
		int r = decode_entry(e, i, &m, errmsg);
		if (r < 0) {
			managers_free(&m);
			return r;
		}
	}
	*ret = m;
	return 0;
}

static int64_t seconds(const struct manager *m)
{
	if (!m->has_time)
		return 0;
	return m->time_ns >= 0 ? m->time_ns / 1000000000
			       : -((-m->time_ns + 999999999) / 1000000000);
}

static int cmp_entries(const void *pa, const void *pb)
{
	const struct manager *a = *(const struct manager *const *)pa;
	const struct manager *b = *(const struct manager *const *)pb;
	int c;

	if (a->apply != b->apply)
		return a->apply ? -1 : 1; /* "Apply" < "Update" */
	if (seconds(a) != seconds(b))
		return seconds(a) < seconds(b) ? -1 : 1;
	if ((c = strcmp(a->name, b->name)))
		return c;
	if ((c = strcmp(a->api_version, b->api_version)))
		return c;
	return strcmp(a->subresource ? a->subresource : "", b->subresource ? b->subresource : "");
}

json_t *managers_encode(const struct managers *m)
{
	if (!m->n)
		return NULL;
	const struct manager **v = xnew(const struct manager *, m->n);
	for (size_t i = 0; i < m->n; i++)
		v[i] = &m->v[i];
	qsort(v, m->n, sizeof(*v), cmp_entries);

	json_t *list = json_array();
	for (size_t i = 0; i < m->n; i++) {
		const struct manager *x = v[i];
		json_t *e = json_object();
		if (*x->name)
			json_object_set_new(e, "manager", api_json_string_lossy(x->name));
		json_object_set_new(e, "operation", json_string(x->apply ? "Apply" : "Update"));
		if (*x->api_version)
			json_object_set_new(e, "apiVersion", api_json_string_lossy(x->api_version));
		if (x->has_time)
			json_object_set_new(e, "time", api_time_to_json(x->time_ns));
		json_object_set_new(e, "fieldsType", json_string("FieldsV1"));
		json_object_set_new(e, "fieldsV1", fset_to_json(&x->set));
		if (x->subresource)
			json_object_set_new(e, "subresource",
					    api_json_string_lossy(x->subresource));
		json_array_append_new(list, e);
	}
	free(v);
	return list;
}

static void insert_field_path(struct fset *s, const char *a, const char *b)
{
	struct pe p[2] = {{.kind = PE_FIELD, .name = (char *)a},
			  {.kind = PE_FIELD, .name = (char *)b}};
	fset_insert(s, p, b ? 2 : 1);
}

void reset_fields(const struct sch_type *t, const char *subresource, struct fset *ret)
{
	const struct sch_kind *k = sch_kind_by_name(t->group, t->version, t->name);
	bool status_sub = false;

	*ret = (struct fset){0};
	for (size_t i = 0; k && k->subresources && k->subresources[i]; i++)
		status_sub |= streq(k->subresources[i], "status");
	if (!status_sub)
		return;
	/* what the strategies reset: status through the object, spec through /status */
	if (subresource && streq(subresource, "status"))
		insert_field_path(ret, "spec", NULL);
	else if (!subresource || !*subresource)
		insert_field_path(ret, "status", NULL);
}

void strip_meta(struct fset *s)
{
	static const char *const meta[] = {"name",       "namespace",     "creationTimestamp",
					   "selfLink",   "uid",           "clusterName",
					   "generation", "managedFields", "resourceVersion"};
	struct fset strip = {0};

	insert_field_path(&strip, "apiVersion", NULL);
	insert_field_path(&strip, "kind", NULL);
	insert_field_path(&strip, "metadata", NULL);
	for (size_t i = 0; i < ARRAY_SIZE(meta); i++)
		insert_field_path(&strip, "metadata", meta[i]);
	fset_subtract(s, &strip);
	fset_free(&strip);
}
