/* Strategic merge patch of lists: merging by key or as sets, the $patch
 * elements, $deleteFromPrimitiveList, and the order of the result
 * ($setElementOrder, else the patch's order interleaved with the live
 * list's), computed as Kubernetes computes it. */
#include "apiserver/patch/internal.h"

#define DIRECTIVE "$patch"
#define ORDER_PREFIX "$setElementOrder"

/* The merge key's value of a list element; NULL when it has none. */
static json_t *key_of(const json_t *item, const char *merge_key)
{
	return json_is_object(item) ? json_object_get(item, merge_key) : NULL;
}

/* Position of v in order (by merge key for maps): Kubernetes' index(). */
static ssize_t index_in(const json_t *order, const json_t *v, const char *merge_key, bool maps)
{
	size_t i;
	json_t *x;

	json_array_foreach(order, i, x) {
		if (maps) {
			json_t *a = key_of(v, merge_key), *b = key_of(x, merge_key);
			if (a == b || (a && b && json_equal(a, b)))
				return (ssize_t)i;
		} else if (json_equal(v, x)) {
			return (ssize_t)i;
		}
	}
	return -1;
}

/* The first object of list whose merge key equals value
 * (findMapInSliceBasedOnKeyValue): 1 found, 0 not, -EPROTO for a non-object. */
static int find_by_key(const json_t *list, const char *merge_key, const json_t *value, size_t *ret,
		       char **errmsg)
{
	size_t i;
	json_t *x;

	json_array_foreach(list, i, x) {
		if (!json_is_object(x))
			return patch_errf(errmsg, -EPROTO, "value for key %zu is not a map", i);
		json_t *k = json_object_get(x, merge_key);
		if (k && json_equal(k, value)) {
			*ret = i;
			return 1;
		}
	}
	return 0;
}

/* The kind of element all the lists hold (sliceElementType). */
static int element_type(const json_t *a, const json_t *b, json_type *ret, char **errmsg)
{
	const json_t *lists[] = {a, b};
	bool have = false;
	json_type t = JSON_NULL;

	for (size_t l = 0; l < 2; l++) {
		size_t i;
		json_t *x;
		json_array_foreach(lists[l], i, x) {
			json_type xt = json_is_boolean(x) ? JSON_TRUE : json_typeof(x);
			if (!have) {
				if (xt == JSON_ARRAY)
					return patch_errf(errmsg, -EDOM,
							  "lists of lists are not supported");
				t = xt;
				have = true;
			} else if (xt != t) {
				struct buf m = {0};
				buf_putc(&m, '[');
				if (a)
					go_v(&m, a);
				else
					buf_puts(&m, "[]");
				buf_putc(&m, ' ');
				if (b)
					go_v(&m, b);
				else
					buf_puts(&m, "[]");
				buf_putc(&m, ']');
				patch_errf(errmsg, -EPROTO,
					   "list element types are not identical: %s", m.data);
				buf_free(&m);
				return -EPROTO;
			}
		}
	}
	if (!have)
		return patch_errf(errmsg, -EPROTO, "no elements in any of the given slices");
	*ret = t;
	return 0;
}

/* Go's deduplicateScalars: a later duplicate takes the last element's place. */
static void dedup_scalars(json_t *list)
{
	for (size_t i = 0; i + 1 < json_array_size(list); i++) {
		for (size_t j = i + 1; j < json_array_size(list); j++) {
			if (!json_equal(json_array_get(list, i), json_array_get(list, j)))
				continue;
			size_t last = json_array_size(list) - 1;
			json_array_set(list, j, json_array_get(list, last));
			json_array_remove(list, last);
			j--;
		}
	}
}

/* Split list into the elements present in by and the others. */
static int partition(const json_t *list, const json_t *by, const char *merge_key, json_t **ret_in,
		     json_t **ret_out, char **errmsg)
{
	json_t *in = json_array(), *out = json_array(), *x;
	size_t i, idx;

	json_array_foreach(list, i, x) {
		int found;
		if (!merge_key) {
			found = index_in(by, x, NULL, false) >= 0;
		} else if (!json_is_object(x)) {
			found = smp_err_bad_arg_type(errmsg, "map[string]interface {}", x);
		} else if (!json_object_get(x, merge_key)) {
			found = smp_err_no_merge_key(errmsg, x, merge_key);
		} else {
			found = find_by_key(by, merge_key, json_object_get(x, merge_key), &idx,
					    errmsg);
		}
		if (found < 0) {
			json_decref(in);
			json_decref(out);
			return found;
		}
		json_array_append(found ? in : out, x);
	}
	*ret_in = in;
	*ret_out = out;
	return 0;
}

static int check_merge_keys(const json_t *list, const char *merge_key, char **errmsg)
{
	size_t i;
	json_t *x;

	json_array_foreach(list, i, x) {
		if (!json_is_object(x))
			return smp_err_bad_arg_type(errmsg, "map[string]interface {}", x);
		if (!json_object_get(x, merge_key))
			return smp_err_no_merge_key(errmsg, x, merge_key);
	}
	return 0;
}

struct ranked {
	json_t *v;
	size_t rank;
};

static int cmp_rank(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* list sorted by position in order (stably; the ones not there last), with
 * $patch: delete elements at the end (normalizeSliceOrder). */
static int sort_by(json_t *list, const json_t *order, const char *merge_key, bool maps,
		   char **errmsg)
{
	size_t n = json_array_size(list), k = 0, i;
	json_t *x;

	if (maps) {
		int r = check_merge_keys(list, merge_key, errmsg);
		if (r >= 0)
			r = check_merge_keys(order, merge_key, errmsg);
		if (r < 0)
			return r;
	}
	struct ranked *v = xnew(struct ranked, n);
	json_array_foreach(list, i, x) {
		const char *d = json_string_value(json_object_get(x, DIRECTIVE));
		ssize_t at = index_in(order, x, merge_key, maps);
		v[k].v = json_incref(x);
		/* $patch: delete elements last, elements order does not know before them */
		if (maps && d && streq(d, "delete"))
			v[k].rank = SIZE_MAX;
		else
			v[k].rank = at < 0 ? SIZE_MAX - 1 : (size_t)at;
		k++;
	}
	/* a bottom-up merge sort: stable, as Kubernetes' sort.SliceStable */
	struct ranked *tmp = xnew(struct ranked, n);
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = MIN(lo + w, n), hi = MIN(lo + 2 * w, n), a = lo, b = mid,
			       o = lo;
			while (a < mid && b < hi)
				tmp[o++] = cmp_rank(&v[b], &v[a]) < 0 ? v[b++] : v[a++];
			while (a < mid)
				tmp[o++] = v[a++];
			while (b < hi)
				tmp[o++] = v[b++];
		}
		memcpy(v, tmp, n * sizeof(*v));
	}
	json_array_clear(list);
	for (i = 0; i < n; i++)
		json_array_append_new(list, v[i].v);
	free(v);
	free(tmp);
	return 0;
}

/* The merged list in its final order (normalizeElementOrder): the patch's
 * elements in the patch's order, the others in the live order, interleaved
 * by the live order where both sides know it. */
static int normalize_order(json_t *in_patch, json_t *server_only, const json_t *patch_order,
			   const json_t *server_order, const char *merge_key, bool maps,
			   json_t **ret, char **errmsg)
{
	int r = sort_by(in_patch, patch_order, merge_key, maps, errmsg);
	if (r >= 0)
		r = sort_by(server_only, server_order, merge_key, maps, errmsg);
	if (r < 0)
		return r;

	size_t nl = json_array_size(server_only), nr = json_array_size(in_patch), i = 0, j = 0;
	json_t *out = json_array();
	while (i < nl || j < nr) {
		json_t *l = json_array_get(server_only, i), *rt = json_array_get(in_patch, j);
		if (i < nl && j < nr) {
			ssize_t li = index_in(server_order, l, merge_key, maps);
			ssize_t ri = index_in(server_order, rt, merge_key, maps);
			if (li >= 0 && ri >= 0 && li < ri) {
				json_array_append(out, l);
				i++;
			} else {
				json_array_append(out, rt);
				j++;
			}
		} else if (i < nl) {
			json_array_append(out, l);
			i++;
		} else {
			json_array_append(out, rt);
			j++;
		}
	}
	*ret = out;
	return 0;
}

/* Order merged by order (the patch list, or $setElementOrder) and by the live list. */
static int reorder(const json_t *merged, const json_t *order, const json_t *server_order,
		   const char *merge_key, bool maps, json_t **ret, char **errmsg)
{
	json_t *in = NULL, *out = NULL;
	int r = partition(merged, order, merge_key, &in, &out, errmsg);
	if (r >= 0)
		r = normalize_order(in, out, order, server_order, merge_key, maps, ret, errmsg);
	json_decref(in);
	json_decref(out);
	return r;
}

/* Apply the $patch elements of a list of maps: delete drops the live
 * elements with that key, replace makes the patch the whole list. orig and
 * *patch are replaced by new lists. */
static int special_elements(json_t **orig, json_t **patch, const char *merge_key, char **errmsg)
{
	json_t *rest = json_array(), *x;
	bool replace = false;
	size_t i;

	json_array_foreach(*patch, i, x) {
		json_t *d = json_object_get(x, DIRECTIVE);
		const char *s = json_string_value(d);
		int r = 0;
		if (!d) {
			json_array_append(rest, x);
			continue;
		}
		if (s && streq(s, "delete")) {
			json_t *v = json_object_get(x, merge_key);
			size_t at;
			if (!v)
				r = smp_err_no_merge_key(errmsg, x, merge_key);
			while (r >= 0 && (r = find_by_key(*orig, merge_key, v, &at, errmsg)) > 0)
				json_array_remove(*orig, at);
		} else if (s && streq(s, "replace")) {
			replace = true;
		} else if (s && streq(s, "merge")) {
			r = patch_errf(errmsg, -EPROTO,
				       "merging lists cannot yet be specified in the patch");
		} else {
			struct buf b = {0}, m = {0};
			go_s(&b, d);
			go_v(&m, x);
			r = patch_errf(errmsg, -EPROTO, "unknown patch type: %s in map: %s", b.data,
				       m.data);
			buf_free(&b);
			buf_free(&m);
		}
		if (r < 0) {
			json_decref(rest);
			return r;
		}
	}
	json_decref(*patch);
	if (replace) {
		json_decref(*orig);
		*orig = rest;
		*patch = json_array();
	} else {
		*patch = rest;
	}
	return 0;
}

/* mergeSlice: orig and patch are borrowed. */
static int merge_slice(json_t *orig, json_t *patch, struct sty elem, const char *merge_key,
		       bool is_delete, json_t **ret, char **errmsg)
{
	json_type t;
	size_t i;
	json_t *x;
	int r;

	if (!json_array_size(orig) && !json_array_size(patch)) {
		*ret = json_deep_copy(orig);
		return 0;
	}
	r = element_type(orig, patch, &t, errmsg);
	if (r < 0)
		return r;

	if (t != JSON_OBJECT) {
		json_t *merged = json_array();
		if (is_delete) {
			json_array_foreach(orig, i, x)
				if (index_in(patch, x, NULL, false) < 0)
					json_array_append(merged, x);
			*ret = merged;
			return 0;
		}
		json_array_extend(merged, orig);
		json_array_extend(merged, patch);
		dedup_scalars(merged);
		r = reorder(merged, patch, orig, merge_key, false, ret, errmsg);
		json_decref(merged);
		return r;
	}

	if (!merge_key)
		return patch_errf(errmsg, -EPROTO, "cannot merge lists without merge key for %s",
				  elem.kind == STY_STRUCT ? "struct" : "interface");
	json_t *server = json_deep_copy(orig), *items = json_incref(patch);
	r = special_elements(&server, &items, merge_key, errmsg);
	if (r < 0) {
		json_decref(server);
		json_decref(items);
		return r;
	}
	/* Merge each patch element into the live element with its key, or add it. */
	json_t *merged = json_copy(server);
	json_array_foreach(items, i, x) {
		json_t *v = json_object_get(x, merge_key);
		size_t at;
		if (!v) {
			r = smp_err_no_merge_key(errmsg, x, merge_key);
			break;
		}
		r = find_by_key(merged, merge_key, v, &at, errmsg);
		if (r < 0)
			break;
		if (r == 0) {
			json_array_append(merged, x);
			continue;
		}
		json_t *m;
		r = smp_merge_map(json_deep_copy(json_array_get(merged, at)), json_incref(x), elem,
				  &m, errmsg);
		if (r < 0)
			break;
		json_array_set_new(merged, at, m);
	}
	if (r >= 0)
		r = reorder(merged, items, server, merge_key, true, ret, errmsg);
	json_decref(merged);
	json_decref(server);
	json_decref(items);
	return r;
}

int smp_merge_list(json_t *orig, json_t *patch, const struct sch_field *f, bool is_delete,
		   json_t **ret, char **errmsg)
{
	if ((f && (f->flags & SCH_F_STRAT_MERGE)) || is_delete)
		return merge_slice(orig, patch, f ? sty_of_elem(f) : (struct sty){0},
				   f ? f->merge_key : NULL, is_delete, ret, errmsg);
	*ret = json_deep_copy(patch);
	return 0;
}

/* The patch list's non-delete elements must appear in $setElementOrder, in
 * the same order (validatePatchWithSetOrderList). */
static int check_order(const json_t *patch, const json_t *order, const char *merge_key,
		       char **errmsg)
{
	size_t pi = 0, oi = 0, np, no = json_array_size(order);
	json_t *items;

	if (!json_array_size(order) || !json_array_size(patch))
		return 0;
	items = json_array();
	size_t i;
	json_t *x;
	json_array_foreach(patch, i, x) {
		if (merge_key && !json_is_object(x)) {
			json_decref(items);
			return smp_err_bad_arg_type(errmsg, "map[string]interface {}", x);
		}
		const char *d = json_string_value(json_object_get(x, DIRECTIVE));
		if (!merge_key || !d || !streq(d, "delete"))
			json_array_append(items, x);
	}
	np = json_array_size(items);
	int r = 0;
	while (pi < np && oi < no) {
		json_t *p = json_array_get(items, pi), *o = json_array_get(order, oi);
		if (json_is_object(p) && json_object_get(p, DIRECTIVE)) {
			pi++;
			continue;
		}
		bool eq;
		if (merge_key) {
			if (!json_is_object(p) || !json_is_object(o)) {
				r = smp_err_bad_arg_type(errmsg, "map[string]interface {}",
							 json_is_object(p) ? o : p);
				break;
			}
			json_t *a = json_object_get(p, merge_key),
			       *b = json_object_get(o, merge_key);
			if (!a || !b) {
				r = smp_err_no_merge_key(errmsg, a ? o : p, merge_key);
				break;
			}
			eq = json_equal(a, b);
		} else {
			eq = json_equal(p, o);
		}
		if (eq)
			pi++;
		oi++;
	}
	if (r >= 0 && pi < np && oi >= no) {
		struct buf a = {0}, b = {0};
		go_v(&a, patch);
		go_v(&b, order);
		r = patch_errf(errmsg, -EPROTO,
			       "The order in patch list:\n%s\n doesn't match %s "
			       "list:\n%s\n",
			       a.data, ORDER_PREFIX, b.data);
		buf_free(&a);
		buf_free(&b);
	}
	json_decref(items);
	return r;
}

/* One $setElementOrder/<key> directive. */
static int element_order(json_t *orig, json_t *patch, const char *dkey, json_t *order, struct sty s,
			 char **errmsg)
{
	const char *key = dkey + strlen(ORDER_PREFIX);
	json_t *merged = NULL;
	int r;

	if (!json_is_array(order))
		return smp_err_bad_arg_type(errmsg, "[]interface {}", order);
	if (*key != '/')
		return patch_errf(errmsg, -EINVAL, "invalid patch format of setElementOrder list");
	key++;
	json_t *ol = json_object_get(orig, key), *pl = json_object_get(patch, key);
	if (ol && !json_is_array(ol))
		return smp_err_bad_arg_type(errmsg, "[]interface {}", ol);
	if (pl && !json_is_array(pl))
		return smp_err_bad_arg_type(errmsg, "[]interface {}", pl);
	const struct sch_field *f;
	sty_child(s, key, &f);
	if (f && f->container != SCH_LIST)
		f = NULL;
	const char *merge_key = f ? f->merge_key : NULL;
	r = check_order(pl, order, merge_key, errmsg);
	if (r < 0)
		return r;
	if (!ol && !pl)
		return 0;
	if (ol && !pl)
		merged = json_incref(ol);
	else if (!ol)
		merged = smp_remove_directives(json_deep_copy(pl));
	else if ((r = smp_merge_list(ol, pl, f, false, &merged, errmsg)) < 0)
		return r;

	json_type t;
	json_t *res = NULL, *live = ol ? json_incref(ol) : json_array();
	r = element_type(ol, pl, &t, errmsg);
	if (r >= 0)
		r = reorder(merged, order, live, merge_key, t == JSON_OBJECT, &res, errmsg);
	json_decref(live);
	json_decref(merged);
	if (r < 0)
		return r;
	json_object_set_new(orig, key, res);
	json_object_del(patch, key);
	return 0;
}

int smp_element_order(json_t *orig, json_t *patch, struct sty s, char **errmsg)
{
	const char *key;
	json_t *v, *keys = json_array();
	size_t i;
	int r = 0;

	/* Collected first: each directive also takes its list out of patch. */
	json_object_foreach(patch, key, v)
		if (str_has_prefix(key, ORDER_PREFIX))
			json_array_append_new(keys, json_string(key));
	json_array_foreach(keys, i, v) {
		const char *dkey = json_string_value(v);
		json_t *order = json_incref(json_object_get(patch, dkey));
		json_object_del(patch, dkey);
		r = element_order(orig, patch, dkey, order, s, errmsg);
		json_decref(order);
		if (r < 0)
			break;
	}
	json_decref(keys);
	return r;
}
