/* Which schema type a JSON value has, seen from its parent, and how
 * server-side apply treats it. */
#include "apiserver/patch/internal.h"

struct sty sty_of_type(const struct sch_type *t)
{
	return (struct sty){.kind = STY_STRUCT, .t = t};
}

/* A single value of f's element type. */
struct sty sty_of_elem(const struct sch_field *f)
{
	if (f->scalar == SCH_MESSAGE && f->type)
		return sty_of_type(f->type);
	if (f->scalar == SCH_RAW)
		return (struct sty){.kind = STY_UNKNOWN};
	return (struct sty){.kind = STY_SCALAR};
}

struct sty sty_of_field(const struct sch_field *f)
{
	switch (f->container) {
	case SCH_LIST:
		return (struct sty){.kind = STY_LIST, .f = f};
	case SCH_MAP:
		return (struct sty){.kind = STY_MAP, .f = f};
	default:
		return sty_of_elem(f);
	}
}

struct sty sty_child(struct sty s, const char *key, const struct sch_field **ret_field)
{
	const struct sch_field *f = NULL;
	struct sty r = {.kind = STY_UNKNOWN};

	if (s.kind == STY_STRUCT) {
		f = sch_field(s.t, key);
		if (f)
			r = sty_of_field(f);
	} else if (s.kind == STY_MAP) {
		r = sty_of_elem(s.f);
	}
	if (ret_field)
		*ret_field = f;
	return r;
}

enum rel sty_rel(struct sty s)
{
	switch (s.kind) {
	case STY_STRUCT:
		return s.t->flags & SCH_T_ATOMIC ? REL_LEAF : REL_STRUCT;
	case STY_MAP:
		return REL_MAP;
	case STY_LIST:
		switch (s.f->list_type) {
		case SCH_LIST_SET:
			return REL_SET;
		case SCH_LIST_MAP:
			return s.f->list_keys ? REL_LISTMAP : REL_LEAF;
		case SCH_LIST_ATOMIC:
			return REL_LEAF;
		}
		/* Kubernetes' OpenAPI turns patchStrategy=merge into an associative list */
		if (s.f->flags & SCH_F_STRAT_MERGE) {
			if (s.f->merge_key)
				return REL_LISTMAP;
			return s.f->scalar == SCH_MESSAGE ? REL_LEAF : REL_SET;
		}
		return REL_LEAF;
	default:
		return REL_LEAF;
	}
}

const char *const *sty_list_keys(const struct sch_field *f, size_t *ret_n)
{
	size_t n = 0;

	if (f->list_type == SCH_LIST_MAP && f->list_keys) {
		while (f->list_keys[n])
			n++;
		*ret_n = n;
		return f->list_keys;
	}
	*ret_n = 1;
	return &f->merge_key;
}

bool sty_always_present(const struct sch_field *f, int depth)
{
	/* The schema does not say which Go fields are pointers or omitempty:
	 * required fields and the metadata/spec/status structs are the ones a
	 * fresh object carries in practice (kubectl create's ownership shows it). */
	if (f->flags & SCH_F_REQUIRED)
		return true;
	if (f->container != SCH_ONE || f->scalar != SCH_MESSAGE)
		return false;
	return streq(f->name, "metadata") || streq(f->name, "spec") ||
	       (depth == 0 && streq(f->name, "status"));
}
