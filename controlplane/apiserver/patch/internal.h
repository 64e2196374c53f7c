/* Shared by the patch engines; not part of patch.h. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"
#include "apiserver/patch/patch.h"
#include "apiserver/schema.h"
#include "base/base.h"

/* Set *errmsg (when errmsg is non-NULL and no message is there yet) and
 * return err. */
_printf_(3, 4) int patch_errf(char **errmsg, int err, const char *fmt, ...);

/* ---- Go's fmt wording, for messages that quote values (gofmt.c) ---------------------- */

/* fmt's %v of a decoded JSON value: map[a:1 b:x] (keys sorted), [a b], <nil>. */
void go_v(struct buf *b, const json_t *v);
/* %s: strings as they are, other scalars as %!s(int64=1). */
void go_s(struct buf *b, const json_t *v);
/* %v of a float64 ("1.5", "1e+06"). */
void go_float(struct buf *b, double d);
/* %q: strconv.Quote. */
void go_q(struct buf *b, const char *s);
/* reflect.TypeOf(v).String() of a decoded value; "%!s(<nil>)" for null. */
const char *go_type(const json_t *v);
/* The JSON kind json.Unmarshal names in a type error ("object", "number", ...). */

/* ---- The schema type of one JSON value (sty.c) ------------------------------------------ */

enum sty_kind {
	STY_UNKNOWN, /* not in the schema, or RawExtension: any JSON */
	STY_SCALAR,
	STY_STRUCT,
	STY_MAP,  /* map[string]T: f is the field */
	STY_LIST, /* f is the field */
};

struct sty {
	enum sty_kind kind;
	const struct sch_type *t;  /* STY_STRUCT */
	const struct sch_field *f; /* STY_MAP, STY_LIST */
};

struct sty sty_of_type(const struct sch_type *t);
/* The value of field f. */
struct sty sty_of_field(const struct sch_field *f);
/* An element of list or map field f. */
struct sty sty_of_elem(const struct sch_field *f);
/* The value at key in a value of type s; *ret_field gets the struct field
 * (NULL outside structs or for a key the struct does not declare). */
struct sty sty_child(struct sty s, const char *key, const struct sch_field **ret_field);

/* How server-side apply sees a value (Kubernetes' x-kubernetes-list-type and
 * map-type, with lists defaulted from the patch strategy as its OpenAPI
 * conversion does). */
enum rel {
	REL_LEAF,    /* scalars, atomic structs and lists, unknown JSON */
	REL_STRUCT,  /* fields tracked one by one */
	REL_MAP,     /* map[string]T: entries tracked one by one */
	REL_SET,     /* list of scalars: v:<value> */
	REL_LISTMAP, /* list of objects keyed by fields: k:{...} */
};

enum rel sty_rel(struct sty s);
/* sty_rel, except that values a and b (either may be absent) that do not fit their schema
 * type make a leaf. */
enum rel sty_value_rel(struct sty s, const json_t *a, const json_t *b);
/* The key fields of a REL_LISTMAP list field (NULL-terminated); n in *ret_n. */
const char *const *sty_list_keys(const struct sch_field *f, size_t *ret_n);
/* True when every Go object of the type holds this field, even when nobody
 * set it (non-pointer structs, lists without omitempty): ownership never
 * claims it as a whole. depth 0 is a field of the kind itself. */
bool sty_always_present(const struct sch_field *f, int depth);

/* ---- Field paths and sets (fieldset.c): sigs.k8s.io/structured-merge-diff's fieldpath --- */

enum pe_kind { PE_FIELD, PE_KEY, PE_VALUE, PE_INDEX }; /* in Kubernetes' sort order */

/* One step of a path. Owns name / val. */
struct pe {
	enum pe_kind kind;
	char *name;    /* PE_FIELD */
	json_t *val;   /* PE_KEY: {key fields, sorted by name}; PE_VALUE: the value */
	int64_t index; /* PE_INDEX */
};

struct fnode;

/* A set of paths as a trie, children sorted as Kubernetes sorts them. */
struct fset {
	struct fnode *v;
	size_t n, cap;
};

struct fnode {
	struct pe pe;
	bool member; /* the path ending here is in the set */
	struct fset kids;
};

struct fpath {
	struct pe *v; /* borrowed elements */
	size_t n, cap;
};

void pe_clear(struct pe *p);
struct pe pe_copy(const struct pe *p);
int pe_cmp(const struct pe *a, const struct pe *b);
/* "f:spec", "k:{\"name\":\"web\"}", "v:\"x\"", "i:0" */
void pe_serialize(const struct pe *p, struct buf *b);
/* ".spec", "[name=\"web\"]", "[=\"x\"]", "[0]" */
void pe_string(const struct pe *p, struct buf *b);
int pe_parse(const char *s, struct pe *ret);
/* SMD's total order over values (numbers, strings, bools, lists, maps, null). */
int value_cmp(const json_t *a, const json_t *b);

void fpath_push(struct fpath *p, const struct pe *e);
void fpath_pop(struct fpath *p);
void fpath_free(struct fpath *p);
void fpath_string(const struct pe *v, size_t n, struct buf *b);

void fset_free(struct fset *s);
bool fset_empty(const struct fset *s);
void fset_insert(struct fset *s, const struct pe *path, size_t n);
bool fset_has(const struct fset *s, const struct pe *path, size_t n);
/* The subtree under pe, or NULL. */
const struct fset *fset_child(const struct fset *s, const struct pe *pe);
void fset_copy(struct fset *dst, const struct fset *src);
void fset_union(struct fset *dst, const struct fset *src);
void fset_subtract(struct fset *dst, const struct fset *src);
/* dst = a ∩ b (dst starts empty). */
void fset_intersect(struct fset *dst, const struct fset *a, const struct fset *b);
/* Drop every path that starts with one of prefixes' member paths. */
void fset_remove_prefixed(struct fset *s, const struct fset *prefixes);
/* Keep only the paths that start with a member path of prefixes. */
void fset_keep_prefixed(struct fset *s, const struct fset *prefixes);
/* Calls fn for each member path: members of a node first, then its children. */
typedef void (*fset_fn)(void *ud, const struct pe *path, size_t n);
void fset_each(const struct fset *s, fset_fn fn, void *ud);
/* FieldsV1 JSON. */
json_t *fset_to_json(const struct fset *s);
int fset_from_json(const json_t *j, struct fset *ret, char **errmsg);

/* ---- Typed walks for server-side apply (typed.c) ------------------------------------------ */

/* The path element of a list item: -EPROTO with Kubernetes' message. */
int item_pe(struct sty list, const json_t *item, struct pe *ret, char **errmsg);
/* The fields an applied configuration sets (ToFieldSet). */
void typed_fieldset(struct sty s, const json_t *v, struct fset *out);
/* Kubernetes' validation of an applied configuration: list keys present and
 * unique, set elements scalar. -EPROTO with "path: message" lines. */
int typed_validate(struct sty s, const json_t *v, char **errmsg);
/* What changed from lhs to rhs (either may be NULL: absent). */
struct cmp {
	struct fset added, modified, removed;
};
void typed_compare(struct sty s, const json_t *lhs, const json_t *rhs, struct cmp *out);
void cmp_free(struct cmp *c);
/* lhs with rhs merged in (rhs wins at the leaves); a new value in *ret. */
int typed_merge(struct sty s, const json_t *lhs, const json_t *rhs, json_t **ret, char **errmsg);
/* v without the paths in set (members remove the whole subtree); a new value. */
json_t *typed_remove(struct sty s, const json_t *v, const struct fset *set);

/* ---- managedFields (managed.c) ----------------------------------------------------------- */

struct manager {
	char *name;
	bool apply; /* operation Apply (else Update) */
	char *api_version;
	char *subresource; /* NULL: none */
	int64_t time_ns;   /* 0: none */
	bool has_time;
	struct fset set;
};

struct managers {
	struct manager *v;
	size_t n, cap;
};

void managers_free(struct managers *m);
/* Decode metadata.managedFields as Kubernetes' DecodeManagedFields does. */
int managers_decode(const json_t *list, struct managers *ret, char **errmsg);
/* Encoded and sorted as Kubernetes sorts them; NULL when there are none. */
json_t *managers_encode(const struct managers *m);
struct manager *managers_find(struct managers *m, const char *name, bool apply,
			      const char *api_version, const char *subresource);
struct manager *managers_add(struct managers *m, const char *name, bool apply,
			     const char *api_version, const char *subresource);
void managers_remove_at(struct managers *m, size_t i);
void managers_drop_empty(struct managers *m);

/* The paths a request to the object (or its status) does not own: the
 * reset fields of the strategy. */
void reset_fields(const struct sch_type *t, const char *subresource, struct fset *ret);
/* The metadata paths nobody owns (stripMeta). */
void strip_meta(struct fset *s);

/* ---- Strategic merge patch internals (smp.c, smp_list.c) ---------------------------------- */

/* Merge patch into orig (both stolen, both changed): mergeMap. */
int smp_merge_map(json_t *orig, json_t *patch, struct sty s, json_t **ret, char **errmsg);
/* A list field's patch against its value (mergeSliceHandler); f is NULL for
 * a key the schema does not know. New reference in *ret. */
int smp_merge_list(json_t *orig, json_t *patch, const struct sch_field *f, bool is_delete,
		   json_t **ret, char **errmsg);
/* Apply the $setElementOrder/<list> directives of patch to orig, taking them
 * and the lists they order out of patch. */
int smp_element_order(json_t *orig, json_t *patch, struct sty s, char **errmsg);
/* v without the directive elements ($patch maps); stolen; NULL when v itself
 * is one. */
json_t *smp_remove_directives(json_t *v);
/* Drop null members of objects, recursively. */
int smp_err_no_merge_key(char **errmsg, const json_t *m, const char *key);
int smp_err_bad_arg_type(char **errmsg, const char *expected, const json_t *actual);
