/* lib/api: kelp's Kubernetes object model on jansson.
 *
 * Objects are json_t trees, exactly as they travel on the wire; this header
 * adds what every API server, controller and client needs around them:
 * path accessors and ObjectMeta helpers, JSON decoding with the API server's
 * error wording and Go-compatible compact encoding, Status bodies, field
 * errors, resource.Quantity, label and field selectors, the validation
 * helpers selectors share with the API server, and metav1.Time/MicroTime.
 *
 * Errors: functions return a negative errno. Parsers also take a
 * `char **errmsg`: on failure (only), if errmsg is non-NULL, it receives an
 * allocated message worded as Kubernetes words it, ready for a Status body;
 * the caller frees it. ret_* outputs are written only on success. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- Message lists (Kubernetes validation returns []string) ---------------------------- */

struct api_msgs {
	char **v;
	size_t n;
};

void api_msgs_add(struct api_msgs *m, const char *msg);
void api_msgs_clear(struct api_msgs *m);
/* All messages joined by sep; "" for an empty list. */
char *api_msgs_join(const struct api_msgs *m, const char *sep);

/* ---- Validation helpers (k8s.io/apimachinery/pkg/util/validation) -----------------------
 * Each returns the number of problems found (0: valid) and, if msgs is non-NULL, appends
 * Kubernetes' message for each. */

size_t api_is_dns1123_label(const char *s, struct api_msgs *msgs);
size_t api_is_dns1123_subdomain(const char *s, struct api_msgs *msgs);
size_t api_is_dns1035_label(const char *s, struct api_msgs *msgs);
/* A label key / qualified name: [prefix/]name, prefix a DNS subdomain. */
size_t api_is_qualified_name(const char *s, struct api_msgs *msgs);
size_t api_is_valid_label_value(const char *s, struct api_msgs *msgs);

/* ---- JSON paths and accessors -----------------------------------------------------------
 * A path is a dotted list of object keys ("metadata.name", "spec.template.spec"); write
 * "\." for a dot inside a key ("metadata.labels.app\.kubernetes\.io/name"). Getters return
 * borrowed references and treat a missing key, JSON null and a non-object on the way as
 * absent. */

json_t *api_get(const json_t *obj, const char *path);
const char *api_get_str(const json_t *obj, const char *path);   /* NULL unless a string */
json_t *api_get_object(const json_t *obj, const char *path);    /* NULL unless an object */
json_t *api_get_array(const json_t *obj, const char *path);     /* NULL unless an array */
/* 0, -ENOENT when absent or null, -EINVAL when of another type. */
int api_get_int(const json_t *obj, const char *path, int64_t *ret);
int api_get_bool(const json_t *obj, const char *path, bool *ret);

/* Set the value at path, creating intermediate objects (replacing nulls). value is stolen,
 * also on failure. -ENOTDIR when a non-object is in the way, -EINVAL for a bad path or a
 * NULL value. */
int api_set(json_t *obj, const char *path, json_t *value);
int api_set_str(json_t *obj, const char *path, const char *s);
int api_set_int(json_t *obj, const char *path, int64_t v);
int api_set_bool(json_t *obj, const char *path, bool v);
/* Remove the key at path: 0, or -ENOENT when it was not there. */
int api_del(json_t *obj, const char *path);

/* A JSON string from arbitrary bytes: invalid UTF-8 becomes U+FFFD (as Go encodes it),
 * so text from requests can always go into a response. Never NULL. */
json_t *api_json_string_lossy(const char *s);
/* Go's word for a JSON value's type in its messages: object, array, string, number,
 * bool or null. */
const char *api_json_type_word(const json_t *v);
/* Delete the null members of every object in v, recursively (objects inside arrays too;
 * nulls that are array elements stay). */
void api_json_drop_nulls(json_t *v);

/* ---- TypeMeta and ObjectMeta ------------------------------------------------------------ */

const char *api_obj_api_version(const json_t *o);
const char *api_obj_kind(const json_t *o);
const char *api_meta_name(const json_t *o);
const char *api_meta_namespace(const json_t *o);
const char *api_meta_generate_name(const json_t *o);
const char *api_meta_uid(const json_t *o);
const char *api_meta_resource_version(const json_t *o);
/* 0, -ENOENT (absent/null), -EINVAL (wrong type / unparsable time). */
int api_meta_generation(const json_t *o, int64_t *ret);
int api_meta_creation_timestamp(const json_t *o, int64_t *ret_ns);
int api_meta_deletion_timestamp(const json_t *o, int64_t *ret_ns);

/* Setters create "metadata" when missing; they return api_set()'s result. */
int api_meta_set_name(json_t *o, const char *name);
int api_meta_set_namespace(json_t *o, const char *ns);
int api_meta_set_uid(json_t *o, const char *uid);
int api_meta_set_resource_version(json_t *o, const char *rv);
int api_meta_set_generation(json_t *o, int64_t generation);
int api_meta_set_creation_timestamp(json_t *o, int64_t ns);
int api_meta_set_deletion_timestamp(json_t *o, int64_t ns);

json_t *api_meta_labels(const json_t *o);      /* the object, or NULL */
json_t *api_meta_annotations(const json_t *o);
const char *api_meta_label(const json_t *o, const char *key);
const char *api_meta_annotation(const json_t *o, const char *key);
int api_meta_set_label(json_t *o, const char *key, const char *value);
int api_meta_set_annotation(json_t *o, const char *key, const char *value);

json_t *api_meta_finalizers(const json_t *o);  /* the array, or NULL */
bool api_meta_has_finalizer(const json_t *o, const char *f);
/* 1 when added / removed, 0 when nothing changed, negative on error. */
int api_meta_add_finalizer(json_t *o, const char *f);
int api_meta_remove_finalizer(json_t *o, const char *f);

json_t *api_meta_owner_references(const json_t *o);  /* the array, or NULL */
/* The ownerReference with "controller": true, or NULL. */
json_t *api_meta_controller_ref(const json_t *o);

/* ---- JSON decoding and encoding --------------------------------------------------------- */

/* kube-apiserver's default request body limit (3 MiB). */
#define API_BODY_LIMIT_DEFAULT ((size_t)3 * 1024 * 1024)

enum {
	/* fieldValidation=Strict: a duplicate key is an error (otherwise the last one wins,
	 * as in Kubernetes' non-strict decoding). */
	API_JSON_STRICT = 1 << 0,
};

/* Parse one JSON value (any type) from [data, data+len). -EBADMSG on invalid input, with
 * Go encoding/json's message for syntax errors ("invalid character 'x' looking for
 * beginning of value", "unexpected end of JSON input"). Inputs Go accepts but jansson does
 * not (the \u0000 escape, invalid UTF-8, integers beyond int64, nesting deeper than 2048)
 * are rejected with a message saying so. */
int api_json_parse(const void *data, size_t len, unsigned flags, json_t **ret, char **errmsg);

/* Decode a request body meant to be an object of `kind` ("Pod") as kube-apiserver does
 * before typed decoding: too large → -EMSGSIZE and a 413 Status; invalid JSON, a
 * non-object, a non-string kind/apiVersion or a malformed apiVersion → -EBADMSG and a 400
 * Status with Kubernetes' wording ("the object provided is unrecognized (must be of type
 * Pod): couldn't get version/kind; json parse error: ..."). A "null" body decodes to an
 * empty object, as in Kubernetes. On failure *ret_status gets the Status (caller owns). */
int api_body_decode(const void *data, size_t len, size_t limit, const char *kind,
		    unsigned flags, json_t **ret, json_t **ret_status);

/* One YAML document as its JSON value, as Kubernetes converts YAML bodies
 * (go-yaml v2 scalar resolution: yes/no are booleans, 0755 is octal);
 * -EBADMSG with a message on invalid YAML or a document that would expand
 * past a million nodes. An empty document is JSON null. */
int api_yaml_parse(const void *data, size_t len, json_t **ret, char **errmsg);

/* Compact JSON appended to out, byte for byte as Go's encoding/json writes it: keys in
 * insertion order, <, >, & and U+2028/9 escaped, floats in shortest round-trip form. */
void api_json_dump(const json_t *v, struct buf *out);
char *api_json_dumps(const json_t *v);

/* ---- Field errors (k8s.io/apimachinery/pkg/util/validation/field) ----------------------- */

enum api_field_error_type {
	API_FIELD_NOT_FOUND,     /* FieldValueNotFound, "Not found" */
	API_FIELD_REQUIRED,      /* FieldValueRequired, "Required value" */
	API_FIELD_DUPLICATE,     /* FieldValueDuplicate, "Duplicate value" */
	API_FIELD_INVALID,       /* FieldValueInvalid, "Invalid value" */
	API_FIELD_NOT_SUPPORTED, /* FieldValueNotSupported, "Unsupported value" */
	API_FIELD_FORBIDDEN,     /* FieldValueForbidden, "Forbidden" */
	API_FIELD_TOO_LONG,      /* FieldValueTooLong, "Too long" */
	API_FIELD_TOO_MANY,      /* FieldValueTooMany, "Too many" */
	API_FIELD_TOO_FEW,       /* FieldValueTooFew, "Too few" */
	API_FIELD_TOO_SHORT,     /* FieldValueTooShort, "Too short" */
	API_FIELD_INTERNAL,      /* InternalError, "Internal error" */
	API_FIELD_TYPE_INVALID,  /* FieldValueTypeInvalid, "Invalid value" */
};

struct api_field_error {
	enum api_field_error_type type;
	char *field;   /* "spec.containers[0].image" */
	json_t *value; /* the bad value; NULL: not shown */
	char *detail;  /* NULL: none */
};

struct api_field_errors {
	struct api_field_error *v;
	size_t n, cap;
};

/* The cause type ("FieldValueInvalid") and its text ("Invalid value"). */
const char *api_field_error_type_name(enum api_field_error_type t);
const char *api_field_error_type_text(enum api_field_error_type t);

/* value is stolen (may be NULL); detail may be NULL. */
void api_field_errors_add(struct api_field_errors *l, enum api_field_error_type type,
			  const char *field, json_t *value, const char *detail);
void api_field_required(struct api_field_errors *l, const char *field, const char *detail);
void api_field_invalid(struct api_field_errors *l, const char *field, json_t *value,
		       const char *detail);
void api_field_not_supported(struct api_field_errors *l, const char *field, json_t *value,
			     const char *const *valid, size_t nvalid);
void api_field_forbidden(struct api_field_errors *l, const char *field, const char *detail);
void api_field_too_long(struct api_field_errors *l, const char *field, int max_bytes);
void api_field_too_many(struct api_field_errors *l, const char *field, int actual, int max);
void api_field_duplicate(struct api_field_errors *l, const char *field, json_t *value);
void api_field_not_found(struct api_field_errors *l, const char *field, json_t *value);
void api_field_internal(struct api_field_errors *l, const char *field, const char *err);
void api_field_errors_clear(struct api_field_errors *l);

/* "Invalid value: \"Foo\": a lowercase RFC 1123 ..." (ErrorBody). */
char *api_field_error_body(const struct api_field_error *e);
/* "metadata.name: Invalid value: ..." (Error). */
char *api_field_error_string(const struct api_field_error *e);
/* One error's string, or "[a, b]" for several, duplicates dropped (ToAggregate). */
char *api_field_errors_aggregate(const struct api_field_errors *l);

/* ---- Status (the body of every API error) ----------------------------------------------- */

/* Kubernetes' conflict text for a stale resourceVersion. */
#define API_MSG_OBJECT_MODIFIED                                                 \
	"the object has been modified; please apply your changes to the latest " \
	"version and try again"

struct api_status_cause {
	const char *type; /* "FieldValueInvalid"; NULL: omitted */
	const char *message;
	const char *field;
};

/* Every member is optional (NULL/0 omitted, as Go's omitempty does). */
struct api_status {
	const char *status; /* NULL: "Failure" */
	const char *message;
	const char *reason;
	int code;
	/* details */
	bool details;       /* emit "details" even if all its members are empty */
	const char *name;
	const char *group;
	const char *kind;
	const char *uid;
	const struct api_status_cause *causes;
	size_t ncauses;
	int retry_after_seconds;
};

/* {"kind":"Status","apiVersion":"v1","metadata":{},"status":...,"message":...,"reason":...,
 *  "details":{"name","group","kind","uid","causes":[{"reason","message","field"}],
 *  "retryAfterSeconds"},"code":N} in Kubernetes' key order. */
json_t *api_status_new(const struct api_status *s);
/* A Failure Status with just code, reason and message. */
json_t *api_status_failure(int code, const char *reason, const char *message);
/* {"status":"Success"} with details when name/group/kind/uid are given; code 0 omitted. */
json_t *api_status_success(const char *group, const char *kind, const char *name,
			   const char *uid, int code);

/* The StatusReason Kubernetes uses for an HTTP code ("NotFound" for 404, "" if none). */
const char *api_status_reason_for_code(int code);
/* The code of a Status object, 0 if absent. */
int api_status_code(const json_t *status);

/* The usual errors, messages as k8s.io/apimachinery/pkg/api/errors builds them. `group` is
 * "" or NULL for the core group; resources are plural ("pods"): `deployments.apps "web"`. */
json_t *api_status_not_found(const char *group, const char *resource, const char *name);
json_t *api_status_already_exists(const char *group, const char *resource, const char *name);
/* why: NULL means API_MSG_OBJECT_MODIFIED. */
json_t *api_status_conflict(const char *group, const char *resource, const char *name,
			    const char *why);
/* 422 `Pod "x" is invalid: spec.containers[0].image: Required value` with causes. `kind`
 * is the Kind ("Pod"), qualified by group when non-empty ("Deployment.apps"). */
json_t *api_status_invalid(const char *group, const char *kind, const char *name,
			   const struct api_field_errors *errs);
json_t *api_status_bad_request(const char *message);
/* 405 `<action> is not supported on resources of kind "<resource>"`. */
json_t *api_status_method_not_supported(const char *group, const char *resource,
					const char *action);
/* 415 and 406, listing the accepted media types. */
json_t *api_status_unsupported_media_type(const char *const *accepted, size_t n);
json_t *api_status_not_acceptable(const char *const *accepted, size_t n);
/* 413 "Request entity too large: limit is N". */
json_t *api_status_request_entity_too_large(size_t limit);
json_t *api_status_gone(const char *message);
/* 410 Expired: "too old resource version: <requested> (<oldest available>)". */
json_t *api_status_expired(const char *message);
json_t *api_status_too_old_resource_version(uint64_t requested, uint64_t oldest);
/* 403: "pods \"x\" is forbidden: <reason>"; name NULL/"" and resource NULL/"" shorten it. */
json_t *api_status_forbidden(const char *group, const char *resource, const char *name,
			     const char *reason);
/* 401; NULL message → "not authorized". */
json_t *api_status_unauthorized(const char *message);
/* 429 with the message as given (NewTooManyRequests) and details.retryAfterSeconds. */
json_t *api_status_too_many_requests(const char *message, int retry_after_seconds);
/* 500 "Internal error occurred: <err>" with the error as a cause. */
json_t *api_status_internal_error(const char *err);
/* 504 "Timeout: <message>". */
json_t *api_status_timeout(const char *message, int retry_after_seconds);
/* 500 ServerTimeout: "The <op> operation against <resource> could not be completed ...". */
json_t *api_status_server_timeout(const char *group, const char *resource,
				  const char *operation, int retry_after_seconds);
json_t *api_status_service_unavailable(const char *message);

/* ---- resource.Quantity ------------------------------------------------------------------ */

enum api_quantity_format {
	API_QUANTITY_DECIMAL_SI,       /* 12M, 500m */
	API_QUANTITY_BINARY_SI,        /* 12Mi */
	API_QUANTITY_DECIMAL_EXPONENT, /* 12e6 */
};

#define API_QUANTITY_TEXT_MAX 48

/* An exact value mant * 10^exp: no trailing zeros in mant, exp >= -9 (Kubernetes keeps
 * nano precision), |mant| < 10^38. `text` holds the input when Kubernetes would serialise
 * the value back verbatim ("+1", "1E3"), else "". Plain value type: copy freely. */
struct api_quantity {
	__int128 mant;
	int32_t exp;
	enum api_quantity_format format;
	char text[API_QUANTITY_TEXT_MAX];
};

/* Parse as resource.ParseQuantity: -EINVAL with Kubernetes' messages ("quantities must
 * match the regular expression ...", "unable to parse quantity's suffix"), -ERANGE (with a
 * message) for values kelp cannot hold exactly (more than 38 significant digits). */
int api_quantity_parse(const char *s, struct api_quantity *ret, char **errmsg);
/* From JSON: a string (spaces trimmed), a number (as Go prints it) or null (zero). */
int api_quantity_from_json(const json_t *v, struct api_quantity *ret, char **errmsg);
/* NewQuantity(value, format), NewMilliQuantity, NewScaledQuantity (DecimalSI). */
struct api_quantity api_quantity_from_int(int64_t value, enum api_quantity_format format);
struct api_quantity api_quantity_from_milli(int64_t milli, enum api_quantity_format format);
struct api_quantity api_quantity_from_scaled(int64_t value, int32_t scale);

/* The canonical string, as the API returns it ("1536Mi", "500m", "1e3"). */
void api_quantity_format_buf(const struct api_quantity *q, struct buf *out);
char *api_quantity_format(const struct api_quantity *q);
json_t *api_quantity_to_json(const struct api_quantity *q);

/* -1, 0, 1. */
int api_quantity_cmp(const struct api_quantity *a, const struct api_quantity *b);
int api_quantity_sign(const struct api_quantity *q);
bool api_quantity_is_zero(const struct api_quantity *q);
/* q += y / q -= y; a zero q takes y's format. -ERANGE (q unchanged) if the exact result
 * does not fit. */
int api_quantity_add(struct api_quantity *q, const struct api_quantity *y);
int api_quantity_sub(struct api_quantity *q, const struct api_quantity *y);
void api_quantity_neg(struct api_quantity *q);
/* ceil(q / 10^scale), rounded away from zero as Kubernetes' ScaledValue; -ERANGE when it
 * does not fit an int64. Value() is scale 0, MilliValue() scale -3. */
int api_quantity_scaled_value(const struct api_quantity *q, int32_t scale, int64_t *ret);
int api_quantity_value(const struct api_quantity *q, int64_t *ret);
int api_quantity_milli_value(const struct api_quantity *q, int64_t *ret);

/* ---- Label selectors (k8s.io/apimachinery/pkg/labels) ----------------------------------- */

enum api_selector_op {
	API_OP_EQUALS,         /* = */
	API_OP_DOUBLE_EQUALS,  /* == */
	API_OP_NOT_EQUALS,     /* != */
	API_OP_IN,             /* in (a,b) */
	API_OP_NOT_IN,         /* notin (a,b) */
	API_OP_EXISTS,         /* key */
	API_OP_DOES_NOT_EXIST, /* !key */
	API_OP_GT,             /* key>5 */
	API_OP_LT,             /* key<5 */
};

struct api_label_requirement {
	char *key;
	enum api_selector_op op;
	char **values;
	size_t nvalues;
};

/* Requirements are sorted by key (stable) as Kubernetes sorts them; read them freely. */
struct api_label_selector {
	bool nothing; /* labels.Nothing(): matches no object */
	struct api_label_requirement *reqs;
	size_t n;
};

/* The string form ("app=web,tier in (a,b),!canary"); "" is Everything. -EINVAL with
 * Kubernetes' message ("unable to parse requirement: ..."). */
int api_label_selector_parse(const char *s, struct api_label_selector **ret, char **errmsg);
/* A metav1.LabelSelector ({matchLabels, matchExpressions}); NULL or JSON null is Nothing,
 * an empty selector is Everything. */
int api_label_selector_from_json(const json_t *ls, struct api_label_selector **ret,
				 char **errmsg);
struct api_label_selector *api_label_selector_everything(void);
struct api_label_selector *api_label_selector_nothing(void);
struct api_label_selector *api_label_selector_free(struct api_label_selector *s);
DEFINE_FREEP(struct api_label_selector, api_label_selector_free)

/* labels: the metadata.labels object, or NULL for none. */
bool api_label_selector_matches(const struct api_label_selector *s, const json_t *labels);
bool api_label_selector_empty(const struct api_label_selector *s);
/* The canonical string: requirements by key, in/notin values sorted. */
char *api_label_selector_format(const struct api_label_selector *s);
/* The value the selector requires for label (=, == or a one-value in), as
 * RequiresExactMatch; the pointer lives as long as the selector. */
bool api_label_selector_requires_exact(const struct api_label_selector *s, const char *label,
				       const char **ret_value);

/* ---- Field selectors (k8s.io/apimachinery/pkg/fields) ----------------------------------- */

struct api_field_requirement {
	char *field;
	bool not_equals; /* != (else = or ==) */
	char *value;     /* unescaped */
};

/* Terms sorted as Kubernetes sorts them (by their raw text). */
struct api_field_selector {
	bool nothing;
	struct api_field_requirement *reqs;
	size_t n;
};

/* Returns the value of `field` for one object: "" when the object has none, NULL when the
 * type does not support selecting on that field. */
typedef const char *(*api_field_get_fn)(void *userdata, const char *field);

/* "spec.nodeName=n1,status.phase!=Running", values escaped with \, \= \\. -EINVAL with
 * Kubernetes' messages ("invalid selector: '...'; can't understand '...'"). */
int api_field_selector_parse(const char *s, struct api_field_selector **ret, char **errmsg);
struct api_field_selector *api_field_selector_everything(void);
struct api_field_selector *api_field_selector_nothing(void);
struct api_field_selector *api_field_selector_free(struct api_field_selector *s);
DEFINE_FREEP(struct api_field_selector, api_field_selector_free)

/* Every field supported by get (called once per term with userdata, e.g. an empty object)?
 * -ENOENT and "field label not supported: <field>" (a 400 in the API server) otherwise. */
int api_field_selector_check(const struct api_field_selector *s, api_field_get_fn get,
			     void *userdata, char **errmsg);
/* 1 match, 0 no match, -ENOENT as api_field_selector_check. */
int api_field_selector_match(const struct api_field_selector *s, api_field_get_fn get,
			     void *userdata, char **errmsg);
bool api_field_selector_empty(const struct api_field_selector *s);
/* The value an `=` term requires for field (e.g. spec.nodeName, to use an index). */
bool api_field_selector_requires_exact(const struct api_field_selector *s, const char *field,
				       const char **ret_value);
char *api_field_selector_format(const struct api_field_selector *s);
/* EscapeValue: \ , = escaped with a backslash. */
char *api_field_selector_escape(const char *value);

/* ---- metav1.Time and MicroTime ---------------------------------------------------------- */

/* "2026-11-27T13:43:19Z" and "2026-11-27T13:43:19.123456Z", plus the NUL. */
#define API_TIME_LEN 21
#define API_MICROTIME_LEN 28

/* RFC 3339 as Go's time.Parse(time.RFC3339) reads it (offsets, fractional seconds) into
 * nanoseconds since the epoch; -EINVAL with Go's message ("parsing time \"x\" as
 * \"2006-01-02T15:04:05Z07:00\": cannot parse ..."), -ERANGE outside 1678..2261. */
int api_time_parse(const char *s, int64_t *ret_ns, char **errmsg);
/* RFC3339Micro: exactly six fraction digits, as MicroTime's parser wants. */
int api_microtime_parse(const char *s, int64_t *ret_ns, char **errmsg);
/* Always UTC with Z; Time drops the fraction, MicroTime truncates to microseconds. */
void api_time_format(int64_t ns, char buf[API_TIME_LEN]);
void api_microtime_format(int64_t ns, char buf[API_MICROTIME_LEN]);
/* From JSON: 1 and *ret_ns for a time, 0 for null/NULL (unset), negative on error. */
int api_time_from_json(const json_t *v, int64_t *ret_ns, char **errmsg);
int api_microtime_from_json(const json_t *v, int64_t *ret_ns, char **errmsg);
json_t *api_time_to_json(int64_t ns);
json_t *api_microtime_to_json(int64_t ns);
