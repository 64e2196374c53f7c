/* Merging an applied configuration into a live object, removing fields, and
 * the zero object of a kind: structured-merge-diff's Merge and RemoveItems
 * over the schema. */
#include "apiserver/patch/internal.h"

/* ---- Merge --------------------------------------------------------------------------------- */

/* One distinct key of a list: the item (JSON null when the live list holds
 * the key more than once). */
struct keyed {
	struct pe pe;
	const json_t *item;
};

struct keyed_list {
	struct keyed *v; /* every item in order, duplicates included */
	size_t n;
};

static int keyed_index(struct sty s, const json_t *list, struct keyed_list *ret, char **errmsg)
{
	size_t i;
	json_t *x;

	ret->n = 0;
	ret->v = xnew(struct keyed, json_array_size(list));
	json_array_foreach(list, i, x) {
		int r = item_pe(s, x, &ret->v[i].pe, errmsg);
		if (r < 0)
			return r;
		ret->v[i].item = x;
		ret->n++;
	}
	return 0;
}

static void keyed_free(struct keyed_list *k)
{
	for (size_t i = 0; i < k->n; i++)
		pe_clear(&k->v[i].pe);
	free(k->v);
}

/* The item with pe: NULL when absent, JSON null when duplicated. */
static const json_t *keyed_get(const struct keyed_list *k, const struct pe *pe, bool *ret_found)
{
	const json_t *found = NULL;
	size_t c = 0;

	for (size_t i = 0; i < k->n; i++)
		if (!pe_cmp(&k->v[i].pe, pe) && !c++)
			found = k->v[i].item;
	*ret_found = c > 0;
	return c > 1 ? json_null() : found;
}

static int merge_walk(struct sty s, const json_t *l, const json_t *r, json_t **ret, char **errmsg);

static int merge_item(struct sty s, const json_t *l, const json_t *r, json_t *out, char **errmsg)
{
	json_t *v = NULL;
	int rc = merge_walk(sty_of_elem(s.f), l, r, &v, errmsg);
	if (rc >= 0 && v)
		json_array_append_new(out, v);
	return rc;
}

/* The items of both lists, in the order Kubernetes gives them: the
 * configuration's order for its items, live-only items kept where they were. */
static int merge_items(struct sty s, const json_t *l, const json_t *r, json_t **ret, char **errmsg)
{
	struct keyed_list lk = {0}, rk = {0};
	json_t *out = NULL;
	int rc = keyed_index(s, r, &rk, errmsg);
	if (rc >= 0)
		rc = keyed_index(s, l, &lk, errmsg);
	if (rc < 0)
		goto done;

	/* the configuration's items the live list also has, in the configuration's order */
	size_t *shared = xnew(size_t, rk.n), nshared = 0, next = 0;
	bool *merged = xnew(bool, rk.n), found;
	for (size_t i = 0; i < rk.n; i++)
		if (keyed_get(&lk, &rk.v[i].pe, &found), found)
			shared[nshared++] = i;
	const struct pe *next_shared = nshared ? &rk.v[shared[next++]].pe : NULL;

	out = json_array();
	size_t li = 0, ri = 0;
	while (rc >= 0 && (li < lk.n || ri < rk.n)) {
		if (li < lk.n && ri < rk.n) {
			const struct pe *pe = &lk.v[li].pe;
			bool in_r;
			if (!pe_cmp(pe, &rk.v[ri].pe)) {
				merged[ri] = true;
				rc = merge_item(s, keyed_get(&lk, pe, &found), rk.v[ri].item, out,
						errmsg);
				li++;
				ri++;
				next_shared = next < nshared ? &rk.v[shared[next++]].pe : NULL;
				continue;
			}
			keyed_get(&rk, pe, &in_r);
			if (in_r && next_shared && pe_cmp(next_shared, pe)) {
				li++;
				continue;
			}
		}
		if (li < lk.n) {
			const struct pe *pe = &lk.v[li].pe;
			bool in_r, done_r = false;
			keyed_get(&rk, pe, &in_r);
			if (!in_r) {
				rc = merge_item(s, lk.v[li].item, NULL, out, errmsg);
				li++;
				continue;
			}
			for (size_t i = 0; i < rk.n; i++)
				done_r |= merged[i] && !pe_cmp(&rk.v[i].pe, pe);
			if (done_r)
				li++;
		}
		if (ri < rk.n && rc >= 0) {
			const struct pe *pe = &rk.v[ri].pe;
			merged[ri] = true;
			const json_t *lv = keyed_get(&lk, pe, &found);
			rc = merge_item(s, found ? lv : NULL, rk.v[ri].item, out, errmsg);
			ri++;
			if (next_shared && !pe_cmp(next_shared, pe))
				next_shared = next < nshared ? &rk.v[shared[next++]].pe : NULL;
		}
	}
	free(shared);
	free(merged);
done:
	keyed_free(&lk);
	keyed_free(&rk);
	if (rc < 0) {
		json_decref(out);
		return rc;
	}
	if (!json_array_size(out)) {
		json_decref(out);
		out = NULL;
	}
	*ret = out;
	return 0;
}

static int merge_walk(struct sty s, const json_t *l, const json_t *r, json_t **ret, char **errmsg)
{
	const char *key;
	json_t *x;

	switch (sty_value_rel(s, l, r)) {
	case REL_LEAF:
		break;
	case REL_STRUCT:
	case REL_MAP: {
		const json_t *lm = json_is_object(l) ? l : NULL, *rm = json_is_object(r) ? r : NULL;
		if (!json_object_size(lm) && !json_object_size(rm))
			break;
		json_t *out = json_object();
		json_object_foreach((json_t *)lm, key, x) {
			json_t *v = NULL;
			int rc = merge_walk(sty_child(s, key, NULL), x, json_object_get(rm, key),
					    &v, errmsg);
			if (rc < 0) {
				json_decref(out);
				return rc;
			}
			if (v)
				json_object_set_new(out, key, v);
		}
		json_object_foreach((json_t *)rm, key, x) {
			json_t *v = NULL;
			if (json_object_get(lm, key))
				continue;
			int rc = merge_walk(sty_child(s, key, NULL), NULL, x, &v, errmsg);
			if (rc < 0) {
				json_decref(out);
				return rc;
			}
			if (v)
				json_object_set_new(out, key, v);
		}
		if (!json_object_size(out)) {
			json_decref(out);
			out = NULL;
		}
		*ret = out;
		return 0;
	}
	case REL_SET:
	case REL_LISTMAP: {
		const json_t *la = json_is_array(l) ? l : NULL, *ra = json_is_array(r) ? r : NULL;
		if (!json_array_size(la) && !json_array_size(ra))
			break;
		return merge_items(s, la, ra, ret, errmsg);
	}
	}
	*ret = json_deep_copy(r ? r : l);
	return 0;
}

int typed_merge(struct sty s, const json_t *lhs, const json_t *rhs, json_t **ret, char **errmsg)
{
	json_t *v = NULL;
	int r = merge_walk(s, lhs, rhs, &v, errmsg);
	if (r < 0)
		return r;
	*ret = v ? v : json_object();
	return 0;
}

/* ---- RemoveItems ----------------------------------------------------------------------------- */

/* v without the paths of set; NULL when nothing is left. */
static json_t *remove_walk(struct sty s, const json_t *v, const struct fset *set)
{
	const char *key;
	json_t *x, *out;
	size_t i;

	switch (sty_value_rel(s, v, NULL)) {
	case REL_LEAF:
		break;
	case REL_STRUCT:
	case REL_MAP:
		if (!json_is_object(v))
			break;
		out = json_object();
		json_object_foreach((json_t *)v, key, x) {
			struct pe e = {.kind = PE_FIELD, .name = (char *)key};
			const struct fset *sub = fset_child(set, &e);
			json_t *nv;
			if (fset_has(set, &e, 1))
				continue;
			if (sub && !fset_empty(sub))
				nv = remove_walk(sty_child(s, key, NULL), x, sub);
			else
				nv = json_deep_copy(x);
			if (nv)
				json_object_set_new(out, key, nv);
		}
		goto done;
	case REL_SET:
	case REL_LISTMAP:
		if (!json_is_array(v))
			break;
		out = json_array();
		json_array_foreach(v, i, x) {
			struct pe pe;
			json_t *nv;
			if (item_pe(s, x, &pe, NULL) < 0) {
				json_array_append_new(out, json_deep_copy(x));
				continue;
			}
			const struct fset *sub = fset_child(set, &pe);
			if (fset_has(set, &pe, 1))
				nv = NULL;
			else if (sub && !fset_empty(sub))
				nv = remove_walk(sty_of_elem(s.f), x, sub);
			else
				nv = json_deep_copy(x);
			pe_clear(&pe);
			if (nv)
				json_array_append_new(out, nv);
		}
		goto done;
	}
	return json_deep_copy(v);
done:
	/* a container emptied by the removal goes too */
	if ((json_is_object(out) && !json_object_size(out)) ||
	    (json_is_array(out) && !json_array_size(out))) {
		json_decref(out);
		return NULL;
	}
	return out;
}

json_t *typed_remove(struct sty s, const json_t *v, const struct fset *set)
{
	json_t *out = remove_walk(s, v, set);
	return out ? out : json_object();
}
