/* Shared by discovery, OpenAPI and Table: the served group versions in
 * kube-apiserver's order, what each subresource answers with, and the
 * OpenAPI schema builder. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "apiserver/openapi/openapi.h"

#define OA_K8S_VERSION "v1.32.0"
#define OA_MAX_GROUPS 64
#define OA_MAX_VERSIONS 8

/* ---- group versions (gv.c) ---- */

/* "" for "core" (and NULL). */
const char *oa_group(const char *group);
/* Served groups other than core, in kube-apiserver's discovery order. */
size_t oa_groups(const char **out, size_t cap);
/* Served versions of a group, the preferred one first. */
size_t oa_group_versions(const char *group, const char **out, size_t cap);
bool oa_gv_served(const char *group, const char *version);
/* "/api/v1" or "/apis/apps/v1". */
void oa_gv_prefix(const char *group, const char *version, char *out, size_t cap);

/* The shapes of subresource endpoints. */
enum oa_sub_shape {
	OA_SUB_RW,      /* status, scale: get, put, patch */
	OA_SUB_GET,     /* log */
	OA_SUB_CREATE,  /* binding, eviction, token: post */
	OA_SUB_CONNECT, /* exec, attach, portforward: connect get and post */
	OA_SUB_PROXY,   /* proxy: connect with every method, and proxy/{path} */
	OA_SUB_PUT,     /* finalize: put */
};

struct oa_sub {
	const char *name;
	/* The response kind; group and version NULL when it is the parent's
	 * group version (discovery then leaves them out). */
	const char *group;
	const char *version;
	char kind[64];
	const char *const *verbs; /* sorted, NULL-terminated */
	enum oa_sub_shape shape;
};

/* What subresource `sub` of kind k is; an unknown name is treated like status. */
void oa_subresource(const struct sch_kind *k, const char *sub, struct oa_sub *ret);
/* The schema type of a subresource's response kind, NULL if the schema has none. */
const struct sch_type *oa_sub_type(const struct sch_kind *k, const struct oa_sub *s);

/* ---- schemas (schemas.c) ---- */

enum oa_flavor {
	OA_V3, /* components.schemas, refs wrapped in allOf */
	OA_V2, /* definitions */
};

/* "io.k8s.api.core.v1.Pod" for t. */
void oa_type_name(const struct sch_type *t, char *out, size_t cap);
/* {"$ref":"#/components/schemas/<name>"} or "#/definitions/<name>". */
json_t *oa_ref(enum oa_flavor fl, const char *name);
json_t *oa_type_ref(enum oa_flavor fl, const struct sch_type *t);
/* Put t and every type its fields reach into schemas (name -> schema). */
void oa_add_type(json_t *schemas, enum oa_flavor fl, const struct sch_type *t);
/* Put one of the named shared schemas ("Patch", "WatchEvent", ...) into schemas and
 * return its full name (io.k8s.apimachinery.pkg.apis.meta.v1.Patch). */
const char *oa_add_named(json_t *schemas, enum oa_flavor fl, const char *short_name);
/* Sort every object's keys, recursively (Go marshals maps that way). */
json_t *oa_sort_keys(json_t *v);

/* ---- paths (paths.c) ---- */

/* Add every operation of the kinds in group version g/v to paths, and the schemas they
 * use to schemas. */
void oa_add_gv_paths(json_t *paths, json_t *schemas, enum oa_flavor fl, const char *group,
		     const char *version);

/* ---- Table printers (table*.c) ---- */

struct tcol {
	const char *name, *type, *format, *desc;
	int priority;
};

/* The row a printer fills: cells to append to, conditions it may set. */
struct trow {
	json_t *cells;
	json_t *conditions; /* NULL: none */
	int64_t now;        /* ns since the epoch */
};

struct tprinter {
	const char *group; /* "" for core */
	const char *kind;
	const struct tcol *cols;
	size_t ncols;
	void (*print)(const json_t *obj, struct trow *r);
};

#define TPRINTER(g, k, cols, fn) {(g), (k), (cols), ARRAY_SIZE(cols), (fn)}

extern const struct tprinter oa_printers_core[];
extern const size_t oa_nprinters_core;
extern const struct tprinter oa_printers_workloads[];
extern const size_t oa_nprinters_workloads;
extern const struct tprinter oa_printers_net[];
extern const size_t oa_nprinters_net;

/* Column descriptions shared by most printers. */
extern const char OA_D_NAME[], OA_D_AGE[], OA_D_CONTAINERS[], OA_D_IMAGES[], OA_D_SELECTOR[];

void cell_str(struct trow *r, const char *s);       /* NULL: "" */
void cell_int(struct trow *r, int64_t v);
void cell_printf(struct trow *r, const char *fmt, ...) _printf_(2, 3);
/* translateTimestampSince of an RFC 3339 time; "<unknown>" when absent. */
void cell_since(struct trow *r, const char *rfc3339);
/* The object's AGE. */
void cell_age(struct trow *r, const json_t *obj);
/* HumanDuration(now - t) into out; "<unknown>" for NULL/unparsable. */
void since(int64_t now, const char *rfc3339, char *out, size_t cap);

/* Accessors that read absent values as Go's zero values. */
const char *jstr(const json_t *o, const char *path); /* "" when absent */
int64_t jint(const json_t *o, const char *path);     /* 0 when absent */
bool jbool(const json_t *o, const char *path);
size_t jlen(const json_t *o, const char *path);      /* array or object size */

/* labels.FormatLabels: "a=1,b=2" sorted by key, "<none>" when empty. */
char *format_labels(const json_t *map);
/* metav1.FormatLabelSelector: "<none>" when empty, "<error>" when invalid. */
char *format_label_selector(const json_t *ls);
/* The selector string as LabelSelectorAsSelector(...).String(): "" when nil or empty,
 * NULL when invalid. */
char *label_selector_string(const json_t *ls);
/* layoutContainerCells: names and images joined by ",". */
void cell_containers(struct trow *r, const json_t *containers);
/* "a,b" from the strings of an array ("" when none). */
char *join_strings(const json_t *arr, const char *sep);
