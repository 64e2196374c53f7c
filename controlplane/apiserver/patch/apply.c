/* Server-side apply and the ownership an Update records, in the order
 * Kubernetes' field manager stacks them: the version check, the
 * last-applied-configuration upgrade path for kubectl, "before-first-apply"
 * for objects nobody tracked yet, the cap on Update managers, then the
 * structured merge with conflict detection. */
#include "apiserver/patch/internal.h"

#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"
#define MAX_UPDATE_MANAGERS 10

struct ctx {
	const struct sch_type *t;
	struct sty root;
	char api_version[160];
	const char *subresource; /* NULL for the object itself */
	struct fset reset;       /* paths this request does not own */
	int64_t now;
};

static void ctx_init(struct ctx *c, const struct sch_type *t, const char *subresource, int64_t now)
{
	c->t = t;
	c->root = sty_of_type(t);
	sch_api_version(t->group, t->version, c->api_version, sizeof(c->api_version));
	c->subresource = subresource && *subresource ? subresource : NULL;
	reset_fields(t, c->subresource, &c->reset);
	c->now = now;
}

/* A copy of obj without metadata.managedFields. */
static json_t *without_managed(const json_t *obj)
{
	json_t *o = json_deep_copy(obj);
	json_t *meta = json_object_get(o, "metadata");
	if (json_is_object(meta))
		json_object_del(meta, "managedFields");
	return o;
}

static void set_managed(json_t *obj, const struct managers *m)
{
	json_t *list = managers_encode(m);
	json_t *meta = json_object_get(obj, "metadata");

	if (!list) {
		if (json_is_object(meta))
			json_object_del(meta, "managedFields");
		return;
	}
	if (!json_is_object(meta)) {
		meta = json_object();
		json_object_set_new(obj, "metadata", meta);
	}
	json_object_set_new(meta, "managedFields", list);
}

/* Merge older Update managers into "ancient-changes" beyond ten (capManagers). */
static void cap_managers(struct managers *m)
{
	size_t n = 0, *idx = xnew(size_t, m->n);

	for (size_t i = 0; i < m->n; i++)
		if (!m->v[i].apply)
			idx[n++] = i;
	if (n <= MAX_UPDATE_MANAGERS) {
		free(idx);
		return;
	}
	/* oldest first, then by name */
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0; j--) {
			const struct manager *a = &m->v[idx[j - 1]], *b = &m->v[idx[j]];
			int64_t ta = a->has_time ? a->time_ns / 1000000000 : 0;
			int64_t tb = b->has_time ? b->time_ns / 1000000000 : 0;
			if (ta < tb || (ta == tb && strcmp(a->name, b->name) <= 0))
				break;
			size_t t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	}
	/* The first (oldest) of each version is kept until a second one joins it
	 * in the bucket; one API version per kind here. */
	struct fset bucket = {0};
	bool have_bucket = false, have_time = false;
	int64_t time_ns = 0;
	char *version = NULL;
	bool *drop = xnew(bool, m->n);
	size_t length = n;
	for (size_t i = 0; i < n && length > MAX_UPDATE_MANAGERS; i++) {
		struct manager *x = &m->v[idx[i]];
		if (i == 0) {
			version = xstrdup(x->api_version);
			continue;
		}
		if (!have_bucket) {
			fset_union(&bucket, &m->v[idx[0]].set);
			drop[idx[0]] = true;
			have_bucket = true;
		}
		fset_union(&bucket, &x->set);
		drop[idx[i]] = true;
		have_time = x->has_time;
		time_ns = x->time_ns;
		length--;
	}
	for (size_t i = m->n; i-- > 0;)
		if (drop[i])
			managers_remove_at(m, i);
	if (have_bucket) {
		struct manager *b = managers_add(m, "ancient-changes", false, version, NULL);
		fset_union(&b->set, &bucket);
		b->has_time = have_time;
		b->time_ns = time_ns;
	}
	fset_free(&bucket);
	free(version);
	free(drop);
	free(idx);
}

/* What the structured merge compares, less the fields this request does not own. */
static void compare_owned(struct ctx *c, const json_t *l, const json_t *r, struct fset *changed,
			  struct fset *removed)
{
	struct cmp cmp;

	typed_compare(c->root, l, r, &cmp);
	*changed = (struct fset){0};
	fset_union(changed, &cmp.modified);
	fset_union(changed, &cmp.added);
	fset_remove_prefixed(changed, &c->reset);
	fset_copy(removed, &cmp.removed);
	fset_remove_prefixed(removed, &c->reset);
	cmp_free(&cmp);
}

/* An Update by manager from l to r (managedFieldsUpdater over the structured merge). */
static void record_update(struct ctx *c, struct managers *m, const json_t *l, const json_t *r,
			  const char *manager)
{
	struct fset changed, removed;

	compare_owned(c, l, r, &changed, &removed);
	/* Updates never conflict: the fields they change leave other managers */
	for (size_t i = 0; i < m->n; i++) {
		fset_subtract(&m->v[i].set, &changed);
		fset_subtract(&m->v[i].set, &removed);
	}
	managers_drop_empty(m);
	strip_meta(&changed);
	if (!fset_empty(&changed)) {
		struct manager *me =
			managers_add(m, manager, false, c->api_version, c->subresource);
		fset_union(&me->set, &changed);
		me->has_time = true;
		me->time_ns = c->now;
	}
	fset_free(&changed);
	fset_free(&removed);
	cap_managers(m);
}

void patch_record_update(const struct sch_type *t, const json_t *old, json_t *obj,
			 const char *manager, const char *subresource, int64_t now_ns)
{
	struct ctx c;
	struct managers m = {0};
	json_t *sent = api_get(obj, "metadata.managedFields");

	ctx_init(&c, t, subresource, now_ns);
	if (!manager || !*manager)
		manager = "unknown";
	/* managedFields the client sent replace the stored ones, except through
	 * a subresource; [] or [{}] resets them */
	bool reset = json_is_array(sent) &&
		     (json_array_size(sent) == 0 ||
		      (json_array_size(sent) == 1 && json_is_object(json_array_get(sent, 0)) &&
		       json_object_size(json_array_get(sent, 0)) == 0));
	if (!c.subresource && sent && !reset && managers_decode(sent, &m, NULL) == 0 && m.n == 0)
		managers_free(&m);
	if (!reset && (c.subresource || !m.n)) {
		managers_free(&m);
		if (!old || managers_decode(api_get(old, "metadata.managedFields"), &m, NULL) < 0)
			m = (struct managers){0};
	}
	/* an existing object nobody tracked stays untracked */
	if (!m.n && old && api_meta_uid(old)) {
		set_managed(obj, &m);
		fset_free(&c.reset);
		return;
	}
	json_t *l = old ? without_managed(old) : json_object();
	json_t *r = without_managed(obj);
	record_update(&c, &m, l, r, manager);
	set_managed(obj, &m);
	json_decref(l);
	json_decref(r);
	managers_free(&m);
	fset_free(&c.reset);
}

/* ---- apply ---------------------------------------------------------------------------------- */

struct conflict {
	const struct manager *m;
	struct pe *path;
	size_t n;
};

struct conflicts {
	struct conflict *v;
	size_t n, cap;
	const struct manager *cur;
};

static void conflicts_free(struct conflicts *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		for (size_t j = 0; j < cs->v[i].n; j++)
			pe_clear(&cs->v[i].path[j]);
		free(cs->v[i].path);
	}
	free(cs->v);
	*cs = (struct conflicts){0};
}

static void conflict_add(void *ud, const struct pe *path, size_t n)
{
	struct conflicts *cs = ud;

	if (cs->n == cs->cap) {
		cs->cap = cs->cap ? 2 * cs->cap : 8;
		cs->v = xrealloc(cs->v, cs->cap * sizeof(*cs->v));
	}
	struct conflict *c = &cs->v[cs->n++];
	c->m = cs->cur;
	c->n = n;
	c->path = xnew(struct pe, n);
	for (size_t i = 0; i < n; i++)
		c->path[i] = pe_copy(&path[i]);
}

/* The manager's identity as Kubernetes serialises it (BuildManagerIdentifier);
 * conflicts are grouped and sorted by it. */
static char *manager_id(const struct manager *m)
{
	json_t *o = json_object();
	json_object_set_new(o, "manager", api_json_string_lossy(m->name));
	json_object_set_new(o, "operation", json_string(m->apply ? "Apply" : "Update"));
	if (!m->apply && *m->api_version)
		json_object_set_new(o, "apiVersion", api_json_string_lossy(m->api_version));
	if (m->subresource)
		json_object_set_new(o, "subresource", api_json_string_lossy(m->subresource));
	char *s = api_json_dumps(o);
	json_decref(o);
	return s;
}

/* printManager: "kubectl-client-side-apply" using apps/v1 */
static void print_manager(const struct manager *m, struct buf *b)
{
	go_q(b, m->name);
	if (m->subresource) {
		buf_puts(b, " with subresource ");
		go_q(b, m->subresource);
	}
	if (!m->apply)
		buf_printf(b, " using %s", m->api_version);
}

static int cmp_conflicts(const void *pa, const void *pb)
{
	const struct conflict *a = pa, *b = pb;
	_cleanup_free_ char *ia = manager_id(a->m), *ib = manager_id(b->m);
	int c = strcmp(ia, ib);
	if (c)
		return c;
	/* stable within a manager: paths come in set order */
	return a < b ? -1 : a > b;
}

static json_t *conflict_status(struct conflicts *cs)
{
	struct buf msg = {0}, who = {0};
	struct api_status_cause *causes = xnew(struct api_status_cause, cs->n);
	char **texts = xnew(char *, 2 * cs->n);

	qsort(cs->v, cs->n, sizeof(*cs->v), cmp_conflicts);
	for (size_t i = 0; i < cs->n; i++) {
		struct buf f = {0}, m = {0};
		fpath_string(cs->v[i].path, cs->v[i].n, &f);
		buf_puts(&m, "conflict with ");
		print_manager(cs->v[i].m, &m);
		texts[2 * i] = buf_steal(&m);
		texts[2 * i + 1] = buf_steal(&f);
		causes[i] = (struct api_status_cause){.type = "FieldManagerConflict",
						      .message = texts[2 * i],
						      .field = texts[2 * i + 1]};
	}
	if (cs->n == 1) {
		buf_printf(&msg, "Apply failed with 1 conflict: %s: %s", texts[0], texts[1]);
	} else {
		buf_printf(&msg, "Apply failed with %zu conflicts: ", cs->n);
		for (size_t i = 0; i < cs->n; i++) {
			if (!i || cs->v[i].m != cs->v[i - 1].m) {
				buf_clear(&who);
				print_manager(cs->v[i].m, &who);
				buf_printf(&msg, "%sconflicts with %s:", i ? "\n" : "", who.data);
			}
			buf_printf(&msg, "\n- %s", texts[2 * i + 1]);
		}
	}
	json_t *st = api_status_new(&(struct api_status){.message = msg.data,
							 .reason = "Conflict",
							 .code = 409,
							 .details = true,
							 .causes = causes,
							 .ncauses = cs->n});
	for (size_t i = 0; i < 2 * cs->n; i++)
		free(texts[i]);
	free(texts);
	free(causes);
	buf_free(&msg);
	buf_free(&who);
	return st;
}

/* Updater.Apply: merge, own, prune, detect conflicts. live may be NULL. */
static int apply_once(struct ctx *c, struct managers *m, const json_t *live, const json_t *config,
		      const char *manager, bool force, json_t **ret, struct conflicts *cs,
		      char **errmsg)
{
	json_t *merged = NULL;
	char *err = NULL;
	int r = typed_merge(c->root, live, config, &merged, &err);

	if (r < 0) {
		patch_errf(errmsg, -EPROTO, "failed to merge config: %s", err);
		free(err);
		return -EPROTO;
	}
	struct fset last = {0}, set = {0};
	struct manager *me = managers_find(m, manager, true, NULL, c->subresource);
	if (me)
		fset_copy(&last, &me->set);
	typed_fieldset(c->root, config, &set);
	fset_remove_prefixed(&set, &c->reset);
	me = managers_add(m, manager, true, c->api_version, c->subresource);
	fset_free(&me->set);
	me->set = set;
	free(me->api_version);
	me->api_version = xstrdup(c->api_version);

	/* Fields this manager applied before, no longer applies, and nobody else owns go. */
	if (!fset_empty(&last)) {
		struct fset owned = {0};
		for (size_t i = 0; i < m->n; i++)
			fset_union(&owned, &m->v[i].set);
		fset_subtract(&last, &owned);
		if (!fset_empty(&last)) {
			json_t *pruned = typed_remove(c->root, merged, &last);
			json_decref(merged);
			merged = pruned;
		}
		fset_free(&owned);
	}
	fset_free(&last);

	struct fset changed, removed;
	compare_owned(c, live, merged, &changed, &removed);
	for (size_t i = 0; i < m->n; i++) {
		struct fset hit = {0};
		if (&m->v[i] == me)
			continue;
		fset_intersect(&hit, &m->v[i].set, &changed);
		cs->cur = &m->v[i];
		fset_each(&hit, conflict_add, cs);
		fset_free(&hit);
	}
	if (cs->n && !force) {
		fset_free(&changed);
		fset_free(&removed);
		json_decref(merged);
		return -EBUSY;
	}
	conflicts_free(cs);
	for (size_t i = 0; i < m->n; i++) {
		if (&m->v[i] == me)
			continue;
		fset_subtract(&m->v[i].set, &changed);
		fset_subtract(&m->v[i].set, &removed);
	}
	fset_free(&changed);
	fset_free(&removed);

	/* an apply that changes nothing leaves the manager's time alone */
	bool noop = live && json_equal(live, merged);
	me = managers_find(m, manager, true, NULL, c->subresource);
	if (!noop) {
		me->has_time = true;
		me->time_ns = c->now;
	}
	strip_meta(&me->set);
	managers_drop_empty(m);
	*ret = merged;
	return 0;
}

/* The fields the last-applied annotation set that still hold their value:
 * a conflict on them alone is kubectl moving from client-side to
 * server-side apply, which takes them over. */
static bool last_applied_set(struct ctx *c, const json_t *live, struct fset *ret)
{
	const char *s = api_meta_annotation(live, LAST_APPLIED);
	json_t *last = NULL;

	if (!s || !*s || api_json_parse(s, strlen(s), 0, &last, NULL) < 0)
		return false;
	const char *av = api_obj_api_version(last);
	if (!json_is_object(last) || !av || !streq(av, c->api_version)) {
		json_decref(last);
		return false;
	}
	struct cmp cmp;
	*ret = (struct fset){0};
	typed_fieldset(c->root, last, ret);
	typed_compare(c->root, last, live, &cmp);
	fset_subtract(ret, &cmp.modified);
	fset_subtract(ret, &cmp.added);
	fset_subtract(ret, &cmp.removed);
	cmp_free(&cmp);
	json_decref(last);
	return true;
}

/* JSON with every object's keys sorted, as Go encodes a map. */
static json_t *sorted_copy(const json_t *v)
{
	if (json_is_array(v)) {
		json_t *a = json_array(), *x;
		size_t i;
		json_array_foreach(v, i, x)
			json_array_append_new(a, sorted_copy(x));
		return a;
	}
	if (!json_is_object(v))
		return json_deep_copy(v);
	size_t n = json_object_size(v), k = 0;
	const char **keys = xnew(const char *, n), *key;
	json_t *x, *o = json_object();
	json_object_foreach((json_t *)v, key, x)
		keys[k++] = key;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
			const char *t = keys[j];
			keys[j] = keys[j - 1];
			keys[j - 1] = t;
		}
	for (k = 0; k < n; k++)
		json_object_set_new(o, keys[k], sorted_copy(json_object_get(v, keys[k])));
	free(keys);
	return o;
}

/* kubectl's annotation follows server-side applies once it is there. */
static void update_last_applied(json_t *obj, const json_t *config)
{
	json_t *copy = sorted_copy(config);
	json_t *ann = api_get_object(copy, "metadata.annotations");
	if (ann)
		json_object_del(ann, LAST_APPLIED);
	struct buf b = {0};
	api_json_dump(copy, &b);
	buf_putc(&b, '\n');
	api_meta_set_annotation(obj, LAST_APPLIED, b.data);
	buf_free(&b);
	json_decref(copy);
}

/* "apps/v1, Kind=Deployment" for an object, "/, Kind=" when unreadable. */
static void gvk_string(const json_t *obj, struct buf *b)
{
	const char *av = api_obj_api_version(obj), *kind = api_obj_kind(obj);
	const char *slash = av ? strchr(av, '/') : NULL;

	if (av && slash && strchr(slash + 1, '/'))
		av = NULL; /* not a group version: Kubernetes reads it as empty */
	if (!av)
		buf_printf(b, "/, Kind=%s", kind ? kind : "");
	else if (slash)
		buf_printf(b, "%s, Kind=%s", av, kind ? kind : "");
	else
		buf_printf(b, "/%s, Kind=%s", av, kind ? kind : "");
}

static int check_applied(struct ctx *c, const json_t *applied, char **errmsg)
{
	const char *av = api_obj_api_version(applied), *kind = api_obj_kind(applied);

	if (!json_is_object(applied))
		return patch_errf(errmsg, -EINVAL,
				  "error decoding YAML: json: cannot unmarshal %s "
				  "into Go value of type map[string]interface {}",
				  api_json_type_word(applied));
	if (!av || !kind || !streq(av, c->api_version) || !streq(kind, c->t->name)) {
		struct buf b = {0};
		gvk_string(applied, &b);
		patch_errf(errmsg, -EINVAL, "invalid object type: %s", b.data);
		buf_free(&b);
		return -EINVAL;
	}
	json_t *mf = api_get(applied, "metadata.managedFields");
	if (mf)
		return patch_errf(errmsg, -EINVAL, "metadata.managedFields must be nil");
	char *err = NULL;
	if (typed_validate(c->root, applied, &err) < 0) {
		struct buf b = {0};
		const char *ns = api_meta_namespace(applied), *name = api_meta_name(applied);
		gvk_string(applied, &b);
		patch_errf(errmsg, -EPROTO, "failed to create typed patch object (%s/%s; %s): %s",
			   ns ? ns : "", name ? name : "", b.data, err);
		buf_free(&b);
		free(err);
		return -EPROTO;
	}
	return 0;
}

int patch_apply(const struct sch_type *t, const json_t *live, const json_t *applied,
		const char *manager, const char *subresource, bool force, int64_t now_ns,
		json_t **ret, json_t **ret_conflict_status, char **errmsg)
{
	struct ctx c;
	struct managers m = {0};
	struct conflicts cs = {0};
	json_t *l = NULL, *out = NULL;
	char *err = NULL;
	int r;

	ctx_init(&c, t, subresource, now_ns);
	if (!manager || !*manager)
		manager = "unknown";
	r = check_applied(&c, applied, errmsg);
	if (r < 0)
		goto done;
	if (live && managers_decode(api_get(live, "metadata.managedFields"), &m, &err) < 0) {
		r = patch_errf(errmsg, -EPROTO, "failed to decode managed fields: %s", err);
		goto done;
	}
	l = live ? without_managed(live) : NULL;
	/* an object nobody tracked yet: what it holds belongs to "before-first-apply" */
	if (live && !m.n) {
		json_t *zero = json_object();
		record_update(&c, &m, zero, l, "before-first-apply");
		json_decref(zero);
	}
	struct managers saved = {0};
	bool retry = streq(manager, "kubectl") && !force && live;
	if (retry) {
		json_t *enc = managers_encode(&m);
		managers_decode(enc, &saved, NULL);
		json_decref(enc);
	}
	r = apply_once(&c, &m, l, applied, manager, force, &out, &cs, errmsg);
	if (r == -EBUSY && retry) {
		/* kubectl's own client-side apply fields move over without force */
		struct fset allowed;
		if (last_applied_set(&c, live, &allowed)) {
			size_t kept = 0;
			for (size_t i = 0; i < cs.n; i++) {
				if (fset_has(&allowed, cs.v[i].path, cs.v[i].n)) {
					for (size_t j = 0; j < cs.v[i].n; j++)
						pe_clear(&cs.v[i].path[j]);
					free(cs.v[i].path);
				} else {
					cs.v[kept++] = cs.v[i];
				}
			}
			cs.n = kept;
			fset_free(&allowed);
			if (!kept) {
				conflicts_free(&cs);
				managers_free(&m);
				m = saved;
				saved = (struct managers){0};
				r = apply_once(&c, &m, l, applied, manager, true, &out, &cs,
					       errmsg);
			}
		}
	}
	managers_free(&saved);
	if (r == -EBUSY) {
		if (ret_conflict_status)
			*ret_conflict_status = conflict_status(&cs);
		json_t *st = conflict_status(&cs);
		patch_errf(errmsg, -EBUSY, "%s", json_string_value(json_object_get(st, "message")));
		json_decref(st);
		goto done;
	}
	if (r < 0)
		goto done;
	api_json_drop_nulls(out);
	set_managed(out, &m);
	if (streq(manager, "kubectl") && api_meta_annotation(out, LAST_APPLIED) &&
	    *api_meta_annotation(out, LAST_APPLIED))
		update_last_applied(out, applied);
	*ret = TAKE_PTR(out);
done:
	free(err);
	conflicts_free(&cs);
	managers_free(&m);
	json_decref(l);
	json_decref(out);
	fset_free(&c.reset);
	return r;
}
