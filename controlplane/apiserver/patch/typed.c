/* Walks over objects by their schema for server-side apply, as
 * sigs.k8s.io/structured-merge-diff's typed values do: the field set an
 * applied configuration names, the comparison of two objects, the merge of
 * a configuration into a live object and the removal of fields. Values that
 * do not fit their schema type are treated as atomic leaves. */
#include "apiserver/patch/internal.h"

enum rel sty_value_rel(struct sty s, const json_t *a, const json_t *b)
{
	enum rel r = sty_rel(s);
	const json_t *vals[] = {a, b};

	for (size_t i = 0; i < 2; i++) {
		const json_t *v = vals[i];
		if (!v || json_is_null(v))
			continue;
		if ((r == REL_STRUCT || r == REL_MAP) && !json_is_object(v))
			return REL_LEAF;
		if ((r == REL_SET || r == REL_LISTMAP) && !json_is_array(v))
			return REL_LEAF;
	}
	return r;
}

static struct sty list_elem(struct sty s)
{
	return sty_of_elem(s.f);
}

/* The default of a list-map key field, when the element type has one. */
static json_t *key_default(const struct sch_field *list, const char *name)
{
	if (list->scalar != SCH_MESSAGE || !list->type)
		return NULL;
	const struct sch_field *f = sch_field(list->type, name);
	json_t *v = NULL;
	if (!f || !f->def)
		return NULL;
	/* a def= that is not JSON is the bare string */
	if (api_json_parse(f->def, strlen(f->def), 0, &v, NULL) < 0)
		v = json_string(f->def);
	return v;
}

int item_pe(struct sty list, const json_t *item, struct pe *ret, char **errmsg)
{
	if (sty_rel(list) == REL_SET) {
		if (json_is_object(item))
			return patch_errf(errmsg, -EPROTO,
					  "associative list without keys has an "
					  "element that's a map type");
		if (json_is_array(item))
			return patch_errf(errmsg, -EPROTO,
					  "not supported: associative list with "
					  "lists as elements");
		if (json_is_null(item))
			return patch_errf(errmsg, -EPROTO,
					  "associative list without keys has an "
					  "element that's an explicit null");
		*ret = (struct pe){.kind = PE_VALUE, .val = json_incref((json_t *)item)};
		return 0;
	}
	if (json_is_null(item))
		return patch_errf(errmsg, -EPROTO,
				  "associative list with keys may not have a null element");
	if (!json_is_object(item))
		return patch_errf(errmsg, -EPROTO,
				  "associative list with keys may not have non-map elements");
	size_t n;
	const char *const *keys = sty_list_keys(list.f, &n);
	/* key fields sorted by name, as Kubernetes sorts them */
	const char **sorted = xnew(const char *, n);
	memcpy(sorted, keys, n * sizeof(*sorted));
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && strcmp(sorted[j - 1], sorted[j]) > 0; j--) {
			const char *t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	json_t *key = json_object();
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(item, sorted[i]);
		if (v) {
			json_object_set(key, sorted[i], v);
			continue;
		}
		v = key_default(list.f, sorted[i]);
		if (!v) {
			struct buf q = {0};
			go_q(&q, sorted[i]);
			patch_errf(errmsg, -EPROTO,
				   "associative list with keys has an element that "
				   "omits key field %s (and doesn't have default value)",
				   q.data);
			buf_free(&q);
			json_decref(key);
			free(sorted);
			return -EPROTO;
		}
		json_object_set_new(key, sorted[i], v);
	}
	free(sorted);
	*ret = (struct pe){.kind = PE_KEY, .val = key};
	return 0;
}

/* The path elements of a list's items; ok[i] false for an item that has none. */
struct items {
	struct pe *pe;
	bool *ok;
	size_t n;
};

static void items_index(struct sty s, const json_t *list, struct items *ix)
{
	size_t i;
	json_t *x;

	ix->n = json_array_size(list);
	ix->pe = xnew(struct pe, ix->n);
	ix->ok = xnew(bool, ix->n);
	json_array_foreach(list, i, x)
		ix->ok[i] = item_pe(s, x, &ix->pe[i], NULL) == 0;
}

static void items_free(struct items *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		if (ix->ok[i])
			pe_clear(&ix->pe[i]);
	free(ix->pe);
	free(ix->ok);
}

/* How many items have pe, and the first of them. */
static size_t items_count(const struct items *ix, const struct pe *pe, size_t *first)
{
	size_t c = 0;

	for (size_t i = 0; i < ix->n; i++) {
		if (!ix->ok[i] || pe_cmp(&ix->pe[i], pe) != 0)
			continue;
		if (!c++ && first)
			*first = i;
	}
	return c;
}

static void insert_path(struct fset *s, const struct fpath *p)
{
	if (p->n)
		fset_insert(s, p->v, p->n);
}

/* ---- ToFieldSet ---------------------------------------------------------------------------- */

static void fieldset_walk(struct sty s, const json_t *v, struct fpath *p, struct fset *out)
{
	const char *key;
	json_t *x;
	size_t i;

	switch (sty_value_rel(s, v, NULL)) {
	case REL_LEAF:
		insert_path(out, p);
		return;
	case REL_STRUCT:
	case REL_MAP:
		json_object_foreach((json_t *)v, key, x) {
			const struct sch_field *f;
			struct sty cs = sty_child(s, key, &f);
			struct pe e = {.kind = PE_FIELD, .name = (char *)key};
			fpath_push(p, &e);
			fieldset_walk(cs, x, p, out);
			/* struct fields count through their leaves; map entries, unknown
			 * fields, nulls and empty objects count themselves */
			if (json_is_null(x) || (json_is_object(x) && !json_object_size(x)) || !f)
				insert_path(out, p);
			fpath_pop(p);
		}
		return;
	case REL_SET:
	case REL_LISTMAP: {
		struct items ix;
		items_index(s, v, &ix);
		json_array_foreach(v, i, x) {
			size_t first = 0;
			if (!ix.ok[i])
				continue;
			size_t c = items_count(&ix, &ix.pe[i], &first);
			fpath_push(p, &ix.pe[i]);
			/* a duplicated item is owned as a whole, once */
			if (c == 1)
				fieldset_walk(list_elem(s), x, p, out);
			if (c == 1 || first == i)
				insert_path(out, p);
			fpath_pop(p);
		}
		items_free(&ix);
		return;
	}
	}
}

void typed_fieldset(struct sty s, const json_t *v, struct fset *out)
{
	struct fpath p = {0};
	fieldset_walk(s, v, &p, out);
	fpath_free(&p);
}

/* ---- validation of an applied configuration ------------------------------------------------ */

static void add_error(struct api_msgs *errs, const struct fpath *p, const char *fmt, ...)
	_printf_(3, 4);

static void add_error(struct api_msgs *errs, const struct fpath *p, const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;

	if (p->n) {
		fpath_string(p->v, p->n, &b);
		buf_puts(&b, ": ");
	}
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	api_msgs_add(errs, b.data);
	buf_free(&b);
}

static void validate_walk(struct sty s, const json_t *v, struct fpath *p, struct api_msgs *errs)
{
	const char *key;
	json_t *x;
	size_t i;

	switch (sty_value_rel(s, v, NULL)) {
	case REL_LEAF:
		return;
	case REL_STRUCT:
	case REL_MAP:
		json_object_foreach((json_t *)v, key, x) {
			struct pe e = {.kind = PE_FIELD, .name = (char *)key};
			fpath_push(p, &e);
			validate_walk(sty_child(s, key, NULL), x, p, errs);
			fpath_pop(p);
		}
		return;
	case REL_SET:
	case REL_LISTMAP: {
		struct pe *seen = xnew(struct pe, json_array_size(v));
		size_t nseen = 0;
		json_array_foreach(v, i, x) {
			struct pe pe;
			char *msg = NULL;
			if (item_pe(s, x, &pe, &msg) < 0) {
				add_error(errs, p, "element %zu: %s", i, msg);
				free(msg);
				continue;
			}
			bool dup = false;
			for (size_t j = 0; j < nseen && !dup; j++)
				dup = pe_cmp(&seen[j], &pe) == 0;
			if (dup) {
				struct buf b = {0};
				pe_string(&pe, &b);
				add_error(errs, p, "duplicate entries for key %s", b.data);
				buf_free(&b);
				pe_clear(&pe);
				continue;
			}
			fpath_push(p, &pe);
			validate_walk(list_elem(s), x, p, errs);
			fpath_pop(p);
			seen[nseen++] = pe;
		}
		for (size_t j = 0; j < nseen; j++)
			pe_clear(&seen[j]);
		free(seen);
		return;
	}
	}
}

int typed_validate(struct sty s, const json_t *v, char **errmsg)
{
	struct fpath p = {0};
	struct api_msgs errs = {0};

	validate_walk(s, v, &p, &errs);
	fpath_free(&p);
	if (!errs.n)
		return 0;
	char *m = errs.n == 1 ? xstrdup(errs.v[0]) : NULL;
	if (!m) {
		_cleanup_free_ char *lines = api_msgs_join(&errs, "\n  ");
		m = xasprintf("errors:\n  %s", lines);
	}
	api_msgs_clear(&errs);
	patch_errf(errmsg, -EPROTO, "%s", m);
	free(m);
	return -EPROTO;
}

/* ---- Compare -------------------------------------------------------------------------------- */

struct cw {
	struct cmp *c;
	struct fpath p;
};

static void compare_walk(struct sty s, const json_t *l, const json_t *r, struct cw *w);

static void do_leaf(const json_t *l, const json_t *r, struct cw *w)
{
	if (!l)
		insert_path(&w->c->added, &w->p);
	else if (!r)
		insert_path(&w->c->removed, &w->p);
	else if (!json_equal(l, r))
		insert_path(&w->c->modified, &w->p);
}

static void compare_child(struct sty s, const char *key, const json_t *l, const json_t *r,
			  struct cw *w)
{
	struct pe e = {.kind = PE_FIELD, .name = (char *)key};
	const struct sch_field *f;
	struct sty cs = sty_child(s, key, &f);
	json_t *zero = NULL;

	/* A field every Go object carries (non-pointer structs, lists without
	 * omitempty) is there, empty, even when the JSON leaves it out. */
	if (f && sty_always_present(f, (int)w->p.n)) {
		bool str = f->container == SCH_ONE && f->scalar == SCH_MESSAGE && f->type &&
			   !(f->type->flags & SCH_T_ATOMIC);
		zero = str ? json_object() : json_null();
		if (!l)
			l = zero;
		if (!r)
			r = zero;
	}
	fpath_push(&w->p, &e);
	compare_walk(cs, l, r, w);
	fpath_pop(&w->p);
	json_decref(zero);
}

static void compare_item(struct sty s, const struct pe *pe, const json_t *l, const json_t *r,
			 struct cw *w)
{
	fpath_push(&w->p, pe);
	compare_walk(list_elem(s), l, r, w);
	fpath_pop(&w->p);
}

static void compare_items(struct sty s, const json_t *l, const json_t *r, struct cw *w)
{
	struct items li, ri;
	items_index(s, l, &li);
	items_index(s, r, &ri);

	/* each distinct key once: the live order first, then the new ones */
	const struct items *sides[] = {&li, &ri};
	for (size_t side = 0; side < 2; side++) {
		const struct items *ix = sides[side];
		for (size_t i = 0; i < ix->n; i++) {
			size_t lf = 0, rf = 0, first = 0;
			if (!ix->ok[i] || (items_count(ix, &ix->pe[i], &first), first != i))
				continue;
			size_t nl = items_count(&li, &ix->pe[i], &lf);
			if (side == 1 && nl)
				continue;
			size_t nr = items_count(&ri, &ix->pe[i], &rf);
			const json_t *lv = nl ? json_array_get(l, lf) : NULL;
			const json_t *rv = nr ? json_array_get(r, rf) : NULL;
			const struct pe *pe = &ix->pe[i];
			if (nl <= 1 && nr <= 1) {
				compare_item(s, pe, lv, rv, w);
			} else if (nl >= 2 && nr >= 2) {
				bool same = nl == nr;
				for (size_t a = 0, b = 0, k = 0; same && k < nl; k++, a++, b++) {
					while (!li.ok[a] || pe_cmp(&li.pe[a], pe))
						a++;
					while (!ri.ok[b] || pe_cmp(&ri.pe[b], pe))
						b++;
					same = json_equal(json_array_get(l, a),
							  json_array_get(r, b));
				}
				if (!same) {
					fpath_push(&w->p, pe);
					insert_path(&w->c->modified, &w->p);
					fpath_pop(&w->p);
				}
			} else {
				if (nl >= 2 && nr)
					compare_item(s, pe, NULL, rv, w);
				if (nr >= 2 && nl)
					compare_item(s, pe, lv, NULL, w);
				fpath_push(&w->p, pe);
				insert_path(nl >= 2 ? &w->c->removed : &w->c->added, &w->p);
				fpath_pop(&w->p);
			}
		}
	}
	items_free(&li);
	items_free(&ri);
}

static void compare_walk(struct sty s, const json_t *l, const json_t *r, struct cw *w)
{
	const char *key;
	json_t *x;
	bool leaf = false;

	switch (sty_value_rel(s, l, r)) {
	case REL_LEAF:
		leaf = true;
		break;
	case REL_STRUCT:
	case REL_MAP: {
		const json_t *lm = json_is_object(l) ? l : NULL, *rm = json_is_object(r) ? r : NULL;
		if (!json_object_size(lm) && !json_object_size(rm)) {
			leaf = true;
			break;
		}
		json_object_foreach((json_t *)lm, key, x)
			compare_child(s, key, x, json_object_get(rm, key), w);
		json_object_foreach((json_t *)rm, key, x)
			if (!json_object_get(lm, key))
				compare_child(s, key, NULL, x, w);
		break;
	}
	case REL_SET:
	case REL_LISTMAP: {
		const json_t *la = json_is_array(l) ? l : NULL, *ra = json_is_array(r) ? r : NULL;
		if (!json_array_size(la) && !json_array_size(ra)) {
			leaf = true;
			break;
		}
		compare_items(s, la, ra, w);
		break;
	}
	}
	if (leaf) {
		do_leaf(l, r, w);
		return;
	}
	if (!l)
		insert_path(&w->c->added, &w->p);
	else if (!r)
		insert_path(&w->c->removed, &w->p);
}

void typed_compare(struct sty s, const json_t *lhs, const json_t *rhs, struct cmp *out)
{
	struct cw w = {.c = out};
	*out = (struct cmp){0};
	compare_walk(s, lhs, rhs, &w);
	fpath_free(&w.p);
}

void cmp_free(struct cmp *c)
{
	fset_free(&c->added);
	fset_free(&c->modified);
	fset_free(&c->removed);
}
