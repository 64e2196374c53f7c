/* The API schema at run time: the tables gen.py makes from
 * schema/ .types files (see schema/README.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum sch_scalar {
	SCH_STRING = 1,
	SCH_BOOL,
	SCH_INT32,
	SCH_INT64,
	SCH_FLOAT64,
	SCH_BYTES,       /* base64 in JSON */
	SCH_QUANTITY,    /* resource.Quantity */
	SCH_TIME,        /* metav1.Time: RFC 3339, seconds */
	SCH_MICROTIME,   /* metav1.MicroTime: RFC 3339, microseconds */
	SCH_DURATION,    /* metav1.Duration: "1h2m3s" */
	SCH_INTORSTRING, /* intstr.IntOrString */
	SCH_RAW,         /* runtime.RawExtension: any JSON */
	SCH_MESSAGE,     /* a struct: field.type */
};

enum sch_container {
	SCH_ONE,
	SCH_LIST,
	SCH_MAP, /* map[string]T */
};

enum sch_list_type {
	SCH_LIST_UNSPECIFIED,
	SCH_LIST_ATOMIC,
	SCH_LIST_SET,
	SCH_LIST_MAP,
};

enum sch_fmt {
	SCH_FMT_NONE,
	SCH_FMT_DNS_LABEL,
	SCH_FMT_DNS_SUBDOMAIN,
	SCH_FMT_DNS1035_LABEL,
	SCH_FMT_QUALIFIED_NAME,
	SCH_FMT_LABEL_VALUE,
	SCH_FMT_LABEL_KEY,
	SCH_FMT_UID,
	SCH_FMT_PORT,
	SCH_FMT_CIDR,
	SCH_FMT_IP,
};

enum {
	SCH_F_REQUIRED = 1 << 0,
	SCH_F_INLINE = 1 << 1,
	SCH_F_IMMUTABLE = 1 << 2,
	SCH_F_STRAT_MERGE = 1 << 3,
	SCH_F_STRAT_RETAINKEYS = 1 << 4,
	SCH_F_STRAT_REPLACE = 1 << 5,
	SCH_F_MIN = 1 << 6,
	SCH_F_MAX = 1 << 7,
	SCH_F_MAP_ATOMIC = 1 << 8,   /* x-kubernetes-map-type: atomic (field level) */
	SCH_F_MAP_GRANULAR = 1 << 9, /* x-kubernetes-map-type: granular */
};

enum {
	SCH_T_ATOMIC = 1 << 0,
	SCH_T_UNION = 1 << 1,
	SCH_T_LIST = 1 << 2,
	SCH_T_KIND = 1 << 3,
};

struct sch_type;

struct sch_field {
	const char *name; /* JSON name */
	const char *desc;
	const struct sch_type *type; /* SCH_MESSAGE */
	const char *def;             /* default, a JSON literal */
	const char *const *enums;    /* NULL-terminated */
	const char *merge_key;       /* patchMergeKey */
	const char *const *list_keys;
	int64_t min, max;
	uint16_t num; /* protobuf field number */
	uint8_t scalar;
	uint8_t container;
	uint8_t list_type;
	uint8_t fmt;
	uint16_t flags;
};

struct sch_type {
	const char *name;    /* "PodSpec" */
	const char *group;   /* "" for core */
	const char *version; /* "v1" */
	const char *proto;   /* "k8s.io.api.core.v1.PodSpec" */
	const char *desc;
	const struct sch_field *fields;
	uint16_t nfields;
	uint16_t flags;
};

struct sch_kind {
	const char *group;
	const char *version;
	const char *kind;
	const char *plural;
	const char *singular;
	bool namespaced;
	const char *const *short_names; /* NULL-terminated, as the rest */
	const char *const *categories;
	const char *const *subresources;
	const char *const *verbs;
	const struct sch_type *type;
	const struct sch_type *list_type;
};

extern const struct sch_type *const sch_types[];
extern const size_t sch_ntypes;
extern const struct sch_kind sch_kinds[];
extern const size_t sch_nkinds;

/* --- lookups --- */

/* The served kind for a resource (plural) or a kind name in a group
 * version; NULL when not served. */
const struct sch_kind *sch_kind_by_resource(const char *group, const char *version,
					    const char *resource);
const struct sch_kind *sch_kind_by_name(const char *group, const char *version, const char *kind);
/* A type by group, version and name ("core" or "" for the core group). */
const struct sch_type *sch_type_by_name(const char *group, const char *version, const char *name);
/* The field a JSON key names in t, looking through inline structs; NULL
 * when t has no such field. */
const struct sch_field *sch_field(const struct sch_type *t, const char *json_name);
/* "v1" or "apps/v1". */
void sch_api_version(const char *group, const char *version, char *out, size_t cap);

/* Reorder obj's keys as Go's encoding/json writes the type: kind and
 * apiVersion first (for kinds), then the fields in declaration order
 * (inline structs' fields in their place), map keys sorted, unknown keys
 * last as they came. Recursively; values are kept, not copied. */
void sch_canonicalize(const struct sch_type *t, json_t *obj, bool kind);
