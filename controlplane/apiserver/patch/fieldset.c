/* Field paths and sets of paths, as server-side apply names the fields a
 * manager owns: path elements f:<field>, k:{<list keys>}, v:<set value>,
 * i:<index>, kept in Kubernetes' order so FieldsV1 comes out byte for byte
 * as kube-apiserver writes it. */
#include <inttypes.h>
#include <stdio.h>

#include "apiserver/patch/internal.h"

/* ---- values ------------------------------------------------------------------------------ */

static int cmp3(double a, double b)
{
	return a < b ? -1 : a > b;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char **sorted_keys(const json_t *o, size_t *ret_n)
{
	size_t n = json_object_size(o), k = 0;
	const char **keys = xnew(const char *, n);
	const char *key;
	json_t *x;

	json_object_foreach((json_t *)o, key, x)
		keys[k++] = key;
	qsort(keys, n, sizeof(*keys), cmp_str);
	*ret_n = n;
	return keys;
}

int value_cmp(const json_t *a, const json_t *b)
{
	/* numbers first (ints and floats compare by value), then strings, bools,
	 * lists, maps, null */
	if (json_is_real(a) || json_is_real(b)) {
		if (json_is_number(a) && json_is_number(b))
			return cmp3(json_number_value(a), json_number_value(b));
		return json_is_real(a) ? -1 : 1;
	}
	if (json_is_integer(a) || json_is_integer(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) < json_integer_value(b)
				       ? -1
				       : json_integer_value(a) > json_integer_value(b);
		return json_is_integer(a) ? -1 : 1;
	}
	if (json_is_string(a) || json_is_string(b)) {
		if (json_is_string(a) && json_is_string(b)) {
			int c = strcmp(json_string_value(a), json_string_value(b));
			return c < 0 ? -1 : c > 0;
		}
		return json_is_string(a) ? -1 : 1;
	}
	if (json_is_boolean(a) || json_is_boolean(b)) {
		if (json_is_boolean(a) && json_is_boolean(b))
			return json_is_true(a) - json_is_true(b);
		return json_is_boolean(a) ? -1 : 1;
	}
	if (json_is_array(a) || json_is_array(b)) {
		if (!json_is_array(a) || !json_is_array(b))
			return json_is_array(a) ? -1 : 1;
		size_t na = json_array_size(a), nb = json_array_size(b);
		for (size_t i = 0; i < na && i < nb; i++) {
			int c = value_cmp(json_array_get(a, i), json_array_get(b, i));
			if (c)
				return c;
		}
		return na < nb ? -1 : na > nb;
	}
	if (json_is_object(a) || json_is_object(b)) {
		if (!json_is_object(a) || !json_is_object(b))
			return json_is_object(a) ? -1 : 1;
		size_t na, nb, i;
		const char **ka = sorted_keys(a, &na), **kb = sorted_keys(b, &nb);
		int c = 0;
		for (i = 0; !c && i < na && i < nb; i++) {
			c = strcmp(ka[i], kb[i]);
			c = c < 0 ? -1 : c > 0;
			if (!c)
				c = value_cmp(json_object_get(a, ka[i]), json_object_get(b, kb[i]));
		}
		if (!c)
			c = na < nb ? -1 : na > nb;
		free(ka);
		free(kb);
		return c;
	}
	return 0; /* both null */
}

/* SMD's value.ToString, for conflict paths. */
static void value_string(const json_t *v, struct buf *b)
{
	size_t i;
	json_t *x;
	const char *key;

	switch (json_typeof(v)) {
	case JSON_NULL:
		buf_puts(b, "null");
		break;
	case JSON_STRING:
		go_q(b, json_string_value(v));
		break;
	case JSON_ARRAY:
		buf_putc(b, '[');
		json_array_foreach(v, i, x) {
			if (i)
				buf_putc(b, ',');
			value_string(x, b);
		}
		buf_putc(b, ']');
		break;
	case JSON_OBJECT:
		json_object_foreach((json_t *)v, key, x) {
			buf_printf(b, "%s=", key);
			value_string(x, b);
		}
		break;
	default:
		go_v(b, v);
	}
}

/* ---- path elements ------------------------------------------------------------------------ */

void pe_clear(struct pe *p)
{
	free(p->name);
	json_decref(p->val);
	*p = (struct pe){0};
}

struct pe pe_copy(const struct pe *p)
{
	return (struct pe){.kind = p->kind,
			   .name = p->name ? xstrdup(p->name) : NULL,
			   .val = json_incref(p->val),
			   .index = p->index};
}

int pe_cmp(const struct pe *a, const struct pe *b)
{
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	switch (a->kind) {
	case PE_FIELD: {
		int c = strcmp(a->name, b->name);
		return c < 0 ? -1 : c > 0;
	}
	case PE_KEY: {
		/* the key fields are stored sorted by name: compare them in order */
		void *ia = json_object_iter(a->val), *ib = json_object_iter(b->val);
		for (;; ia = json_object_iter_next(a->val, ia),
			ib = json_object_iter_next(b->val, ib)) {
			if (!ia || !ib)
				return !ia && !ib ? 0 : !ia ? -1 : 1;
			int c = strcmp(json_object_iter_key(ia), json_object_iter_key(ib));
			if (c)
				return c < 0 ? -1 : 1;
			c = value_cmp(json_object_iter_value(ia), json_object_iter_value(ib));
			if (c)
				return c;
		}
	}
	case PE_VALUE:
		return value_cmp(a->val, b->val);
	case PE_INDEX:
		return a->index < b->index ? -1 : a->index > b->index;
	}
	return 0;
}

void pe_serialize(const struct pe *p, struct buf *b)
{
	switch (p->kind) {
	case PE_FIELD:
		buf_printf(b, "f:%s", p->name);
		break;
	case PE_KEY:
		buf_puts(b, "k:");
		api_json_dump(p->val, b);
		break;
	case PE_VALUE:
		buf_puts(b, "v:");
		api_json_dump(p->val, b);
		break;
	case PE_INDEX:
		buf_printf(b, "i:%" PRId64, p->index);
		break;
	}
}

void pe_string(const struct pe *p, struct buf *b)
{
	const char *key;
	json_t *x;
	bool first = true;

	switch (p->kind) {
	case PE_FIELD:
		buf_printf(b, ".%s", p->name);
		break;
	case PE_KEY:
		buf_putc(b, '[');
		json_object_foreach(p->val, key, x) {
			if (!first)
				buf_putc(b, ',');
			first = false;
			buf_printf(b, "%s=", key);
			value_string(x, b);
		}
		buf_putc(b, ']');
		break;
	case PE_VALUE:
		buf_puts(b, "[=");
		value_string(p->val, b);
		buf_putc(b, ']');
		break;
	case PE_INDEX:
		buf_printf(b, "[%" PRId64 "]", p->index);
		break;
	}
}

/* A key object with its fields sorted by name (a new reference). */
static json_t *sorted_object(const json_t *o)
{
	size_t n;
	const char **keys = sorted_keys(o, &n);
	json_t *out = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set(out, keys[i], json_object_get(o, keys[i]));
	free(keys);
	return out;
}

/* 0, 1 for an element of a type this version does not know (skipped, as
 * Kubernetes skips it), -EINVAL when malformed. */
int pe_parse(const char *s, struct pe *ret)
{
	json_t *v = NULL;

	if (strlen(s) < 2 || s[1] != ':')
		return -EINVAL;
	switch (s[0]) {
	case 'f':
		*ret = (struct pe){.kind = PE_FIELD, .name = xstrdup(s + 2)};
		return 0;
	case 'v':
		if (api_json_parse(s + 2, strlen(s + 2), 0, &v, NULL) < 0)
			return -EINVAL;
		*ret = (struct pe){.kind = PE_VALUE, .val = v};
		return 0;
	case 'k':
		if (api_json_parse(s + 2, strlen(s + 2), 0, &v, NULL) < 0 || !json_is_object(v)) {
			json_decref(v);
			return -EINVAL;
		}
		*ret = (struct pe){.kind = PE_KEY, .val = sorted_object(v)};
		json_decref(v);
		return 0;
	case 'i': {
		int64_t i;
		if (parse_i64(s + 2, strlen(s + 2), &i) < 0)
			return -EINVAL;
		*ret = (struct pe){.kind = PE_INDEX, .index = i};
		return 0;
	}
	}
	return 1;
}

void fpath_push(struct fpath *p, const struct pe *e)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 16;
		p->v = xrealloc(p->v, p->cap * sizeof(*p->v));
	}
	p->v[p->n++] = *e;
}

void fpath_pop(struct fpath *p)
{
	p->n--;
}

void fpath_free(struct fpath *p)
{
	free(p->v);
	*p = (struct fpath){0};
}

void fpath_string(const struct pe *v, size_t n, struct buf *b)
{
	for (size_t i = 0; i < n; i++)
		pe_string(&v[i], b);
}

/* ---- sets --------------------------------------------------------------------------------- */

static void fnode_clear(struct fnode *n)
{
	pe_clear(&n->pe);
	fset_free(&n->kids);
}

void fset_free(struct fset *s)
{
	for (size_t i = 0; i < s->n; i++)
		fnode_clear(&s->v[i]);
	free(s->v);
	*s = (struct fset){0};
}

bool fset_empty(const struct fset *s)
{
	return s->n == 0;
}

/* Index of pe in s, or where it would go (with *found false). */
static size_t fset_find(const struct fset *s, const struct pe *pe, bool *found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = pe_cmp(&s->v[mid].pe, pe);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct fnode *fset_get(struct fset *s, const struct pe *pe)
{
	bool found;
	size_t i = fset_find(s, pe, &found);

	if (found)
		return &s->v[i];
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->n++;
	s->v[i] = (struct fnode){.pe = pe_copy(pe)};
	return &s->v[i];
}

static void fset_remove_at(struct fset *s, size_t i)
{
	fnode_clear(&s->v[i]);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

void fset_insert(struct fset *s, const struct pe *path, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct fnode *node = fset_get(s, &path[i]);
		if (i + 1 == n)
			node->member = true;
		s = &node->kids;
	}
}

const struct fset *fset_child(const struct fset *s, const struct pe *pe)
{
	bool found;
	size_t i = fset_find(s, pe, &found);
	return found ? &s->v[i].kids : NULL;
}

bool fset_has(const struct fset *s, const struct pe *path, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool found;
		size_t at = fset_find(s, &path[i], &found);
		if (!found)
			return false;
		if (i + 1 == n)
			return s->v[at].member;
		s = &s->v[at].kids;
	}
	return false;
}

void fset_copy(struct fset *dst, const struct fset *src)
{
	*dst = (struct fset){0};
	fset_union(dst, src);
}

void fset_union(struct fset *dst, const struct fset *src)
{
	for (size_t i = 0; i < src->n; i++) {
		struct fnode *node = fset_get(dst, &src->v[i].pe);
		node->member |= src->v[i].member;
		fset_union(&node->kids, &src->v[i].kids);
	}
}

void fset_subtract(struct fset *dst, const struct fset *src)
{
	for (size_t i = 0; i < src->n; i++) {
		bool found;
		size_t at = fset_find(dst, &src->v[i].pe, &found);
		if (!found)
			continue;
		struct fnode *node = &dst->v[at];
		if (src->v[i].member)
			node->member = false;
		fset_subtract(&node->kids, &src->v[i].kids);
		if (!node->member && fset_empty(&node->kids))
			fset_remove_at(dst, at);
	}
}

void fset_intersect(struct fset *dst, const struct fset *a, const struct fset *b)
{
	for (size_t i = 0; i < a->n; i++) {
		bool found;
		size_t at = fset_find(b, &a->v[i].pe, &found);
		if (!found)
			continue;
		struct fset kids = {0};
		fset_intersect(&kids, &a->v[i].kids, &b->v[at].kids);
		bool member = a->v[i].member && b->v[at].member;
		if (!member && fset_empty(&kids))
			continue;
		struct fnode *node = fset_get(dst, &a->v[i].pe);
		node->member = member;
		fset_union(&node->kids, &kids);
		fset_free(&kids);
	}
}

void fset_remove_prefixed(struct fset *s, const struct fset *prefixes)
{
	for (size_t i = 0; i < s->n;) {
		bool found;
		size_t at = fset_find(prefixes, &s->v[i].pe, &found);
		if (found && prefixes->v[at].member) {
			fset_remove_at(s, i);
			continue;
		}
		if (found) {
			fset_remove_prefixed(&s->v[i].kids, &prefixes->v[at].kids);
			if (!s->v[i].member && fset_empty(&s->v[i].kids)) {
				fset_remove_at(s, i);
				continue;
			}
		}
		i++;
	}
}

void fset_keep_prefixed(struct fset *s, const struct fset *prefixes)
{
	for (size_t i = 0; i < s->n;) {
		bool found;
		size_t at = fset_find(prefixes, &s->v[i].pe, &found);
		if (found && prefixes->v[at].member) {
			i++;
			continue;
		}
		if (found) {
			s->v[i].member = false;
			fset_keep_prefixed(&s->v[i].kids, &prefixes->v[at].kids);
		}
		if (!found || fset_empty(&s->v[i].kids)) {
			fset_remove_at(s, i);
			continue;
		}
		i++;
	}
}

static void fset_each_at(const struct fset *s, struct fpath *p, fset_fn fn, void *ud)
{
	for (size_t i = 0; i < s->n; i++) {
		if (!s->v[i].member)
			continue;
		fpath_push(p, &s->v[i].pe);
		fn(ud, p->v, p->n);
		fpath_pop(p);
	}
	for (size_t i = 0; i < s->n; i++) {
		if (fset_empty(&s->v[i].kids))
			continue;
		fpath_push(p, &s->v[i].pe);
		fset_each_at(&s->v[i].kids, p, fn, ud);
		fpath_pop(p);
	}
}

void fset_each(const struct fset *s, fset_fn fn, void *ud)
{
	struct fpath p = {0};
	fset_each_at(s, &p, fn, ud);
	fpath_free(&p);
}

json_t *fset_to_json(const struct fset *s)
{
	json_t *o = json_object();
	struct buf key = {0};

	for (size_t i = 0; i < s->n; i++) {
		const struct fnode *n = &s->v[i];
		json_t *child;
		if (fset_empty(&n->kids)) {
			child = json_object();
		} else {
			json_t *kids = fset_to_json(&n->kids);
			child = json_object();
			if (n->member)
				json_object_set_new(child, ".", json_object());
			json_object_update(child, kids);
			json_decref(kids);
		}
		buf_clear(&key);
		pe_serialize(&n->pe, &key);
		json_object_set_new(o, key.data, child);
	}
	buf_free(&key);
	return o;
}

/* The members and children of one FieldsV1 object; *ret_member says the
 * object marks its own path (".", or no children at all). */
static int from_json(const json_t *j, struct fset *s, bool *ret_member, char **errmsg)
{
	const char *key;
	json_t *x;
	bool any = false;

	if (!json_is_object(j))
		return patch_errf(errmsg, -EINVAL, "ReadMapCB: expect { or n, but found %s",
				  api_json_type_word(j));
	*ret_member = false;
	json_object_foreach((json_t *)j, key, x) {
		struct pe pe;
		bool member;
		if (streq(key, ".")) {
			*ret_member = true;
			continue;
		}
		int r = pe_parse(key, &pe);
		if (r > 0)
			continue;
		if (r < 0)
			return patch_errf(errmsg, -EINVAL, "parsing key as path element: %s", key);
		struct fset kids = {0};
		r = from_json(x, &kids, &member, errmsg);
		if (r < 0) {
			pe_clear(&pe);
			fset_free(&kids);
			return r;
		}
		struct fnode *node = fset_get(s, &pe);
		node->member |= member;
		fset_union(&node->kids, &kids);
		fset_free(&kids);
		pe_clear(&pe);
		any = true;
	}
	if (!any)
		*ret_member = true;
	return 0;
}

int fset_from_json(const json_t *j, struct fset *ret, char **errmsg)
{
	struct fset s = {0};
	bool member;

	if (!j) {
		*ret = s;
		return 0;
	}
	int r = from_json(j, &s, &member, errmsg);
	if (r < 0) {
		fset_free(&s);
		return r;
	}
	*ret = s;
	return 0;
}
