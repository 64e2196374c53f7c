/* validate/: what its files share. Not for the rest of the apiserver. */
#pragma once

#include <stdint.h>

#include "apiserver/validate/validate.h"
#include "base/base.h"

/* ---- field paths as Kubernetes prints them: spec.containers[0].ports[1], data[key] ---- */

/* Allocated; base "" or NULL gives the bare name. */
char *vp_child(const char *base, const char *name);
char *vp_index(const char *base, size_t i);
char *vp_key(const char *base, const char *key);
/* A child path freed at the end of the scope. */
#define CHILD(var, base, name) _cleanup_free_ char *var = vp_child(base, name)

/* ---- errors (values are copied; a NULL string value is rendered as "") ---- */

void err_required(struct api_field_errors *e, const char *path, const char *detail);
void err_forbidden(struct api_field_errors *e, const char *path, const char *detail);
void err_invalid_str(struct api_field_errors *e, const char *path, const char *value,
		     const char *detail);
void err_invalid_int(struct api_field_errors *e, const char *path, int64_t value,
		     const char *detail);
/* value borrowed (copied deeply); NULL renders as null. */
void err_invalid_json(struct api_field_errors *e, const char *path, const json_t *value,
		      const char *detail);
_printf_(4, 5) void err_invalidf(struct api_field_errors *e, const char *path,
				 const char *value, const char *fmt, ...);
void err_not_supported(struct api_field_errors *e, const char *path, const char *value,
		       const char *const *valid);
void err_duplicate_str(struct api_field_errors *e, const char *path, const char *value);
void err_duplicate_int(struct api_field_errors *e, const char *path, int64_t value);
void err_too_long(struct api_field_errors *e, const char *path, int max);
/* Invalid with each message of an api_is_*() check. */
void err_msgs(struct api_field_errors *e, const char *path, const char *value,
	      const struct api_msgs *m);
/* Invalid with a value already rendered the way Go's %#v prints it (maps, slices,
 * structs), which JSON cannot reproduce. */
void err_invalid_raw(struct api_field_errors *e, const char *path, const char *raw,
		     const char *detail);
/* Go's %#v of a map[string]string (keys sorted; NULL: the nil map) and of a []string. */
char *go_string_map(const json_t *obj);
char *go_string_slice(const json_t *arr);
/* FieldImmutableErrorMsg on the new value. */
void err_immutable(struct api_field_errors *e, const char *path, const json_t *value);

/* ---- reading objects leniently (a wrong JSON type reads as absent) ---- */

/* The string at key, "" when absent or not a string. */
const char *js_str(const json_t *o, const char *key);
/* The integer at key; def when absent or not an integer. */
int64_t js_int(const json_t *o, const char *key, int64_t def);
bool js_has(const json_t *o, const char *key); /* present and not null */
bool js_bool(const json_t *o, const char *key);
/* The array / object at key or NULL. */
json_t *js_arr(const json_t *o, const char *key);
json_t *js_obj(const json_t *o, const char *key);
/* Values equal as Go would see them after decoding: absent, null and the zero value ("",
 * 0, false, [], {}) are the same. */
bool js_equal(const json_t *a, const json_t *b);
bool js_is_zero(const json_t *v);

/* s is one of the NULL-terminated list. */
bool str_in(const char *s, const char *const *list);

/* Go's %q of s (for messages). */
void go_quote_buf(struct buf *b, const char *s);

/* ---- name rules (ValidateNameFunc): messages for name; prefix: a generateName ---- */

enum name_rule {
	NAME_DNS_SUBDOMAIN,
	NAME_DNS_LABEL,
	NAME_DNS1035_LABEL,
	NAME_PATH_SEGMENT,
	NAME_ANY, /* only the path-segment rules of every kind */
};

void name_check(enum name_rule r, const char *name, bool prefix, struct api_msgs *m);
/* path.IsValidPathSegmentName: "may not be '.'", "may not contain '/'", ... */
void name_path_segment(const char *name, struct api_msgs *m);

/* ---- label selectors and labels (meta/v1 validation) ---- */

/* ValidateLabels: keys qualified names, values label values, errors at path. */
void check_labels(const json_t *labels, const char *path, struct api_field_errors *e);
void check_label_selector(const json_t *sel, const char *path, struct api_field_errors *e);
/* ValidateAnnotations with the 256 KiB total. */
void check_annotations(const json_t *ann, const char *path, struct api_field_errors *e);
/* A quantity value at path: 0 and *ret when it parses, else an error and -EINVAL. */
int check_quantity(const json_t *v, const char *path, struct api_field_errors *e,
		   struct api_quantity *ret);
/* A port number 1..65535 ("must be between 1 and 65535, inclusive"). */
void check_port_num(int64_t port, const char *path, struct api_field_errors *e);
/* IsValidPortName (IANA service names). */
void check_port_name(const char *name, const char *path, struct api_field_errors *e);
void check_nonnegative(int64_t v, const char *path, struct api_field_errors *e);
/* An IntOrString port (targetPort): a number 1..65535 or an IANA name. */
void check_int_or_string_port(const json_t *v, const char *path, struct api_field_errors *e);
bool ip_valid(const char *s, int *ret_family);
bool cidr_valid(const char *s, int *ret_family);

/* ---- the schema-driven engine (engine.c) ---- */

/* Structural checks over t's fields at path; old (may be NULL) for immutable fields.
 * skip: top-level keys left to other rules, NULL-terminated (NULL: none). */
void schema_check(const struct sch_type *t, const json_t *obj, const json_t *old,
		  const char *path, const char *const *skip, struct api_field_errors *e);
/* Apply def= values over t (recursively). */
void schema_default(const struct sch_type *t, json_t *obj);

/* ---- per-kind rules ---- */

struct kind_rules {
	const char *group;
	const char *kind;
	enum name_rule name;
	void (*defaults)(json_t *obj);
	/* Create and update; then create only; then update only. */
	void (*validate)(const json_t *obj, struct api_field_errors *e);
	void (*create)(const json_t *obj, struct api_field_errors *e);
	void (*update)(const json_t *obj, const json_t *old, struct api_field_errors *e);
	void (*status_update)(const json_t *obj, const json_t *old, struct api_field_errors *e);
	/* Paths whose schema checks the kind's rules replace (reported elsewhere). */
	const char *const *schema_skip;
};

/* The rules for a kind, or NULL (schema checks and metadata only). */
const struct kind_rules *kind_rules_find(const char *group, const char *kind);

/* Tables of each family (kinds.c joins them). */
extern const struct kind_rules core_rules[];
extern const size_t core_nrules;
extern const struct kind_rules core_rules_service[];
extern const size_t core_nrules_service;
extern const struct kind_rules pod_rules[];
extern const size_t pod_nrules;
extern const struct kind_rules apps_rules[];
extern const size_t apps_nrules;
extern const struct kind_rules batch_rules[];
extern const size_t batch_nrules;
extern const struct kind_rules other_rules[];
extern const size_t other_nrules;

/* A Job's generated selector and pod labels (batch.c), once it has a uid. */
void job_generate_selector(json_t *job);

/* Shared by the workload kinds (pod.c). */
void pod_spec_default(json_t *spec);
void pod_template_default(json_t *tmpl);
/* is_pod: a Pod's own spec (stricter than a template's). */
void pod_spec_validate(const json_t *spec, const char *path, bool is_pod,
		       struct api_field_errors *e);
/* PodTemplateSpec: labels and annotations of its metadata, then the spec. */
void pod_template_validate(const json_t *tmpl, const char *path, struct api_field_errors *e);
