/* Field errors as k8s.io/apimachinery/pkg/util/validation/field renders them. */
#include "api/internal.h"

static const struct {
	const char *name;
	const char *text;
} field_types[] = {
	[API_FIELD_NOT_FOUND] = {"FieldValueNotFound", "Not found"},
	[API_FIELD_REQUIRED] = {"FieldValueRequired", "Required value"},
	[API_FIELD_DUPLICATE] = {"FieldValueDuplicate", "Duplicate value"},
	[API_FIELD_INVALID] = {"FieldValueInvalid", "Invalid value"},
	[API_FIELD_NOT_SUPPORTED] = {"FieldValueNotSupported", "Unsupported value"},
	[API_FIELD_FORBIDDEN] = {"FieldValueForbidden", "Forbidden"},
	[API_FIELD_TOO_LONG] = {"FieldValueTooLong", "Too long"},
	[API_FIELD_TOO_MANY] = {"FieldValueTooMany", "Too many"},
	[API_FIELD_TOO_FEW] = {"FieldValueTooFew", "Too few"},
	[API_FIELD_TOO_SHORT] = {"FieldValueTooShort", "Too short"},
	[API_FIELD_INTERNAL] = {"InternalError", "Internal error"},
	[API_FIELD_TYPE_INVALID] = {"FieldValueTypeInvalid", "Invalid value"},
};

const char *api_field_error_type_name(enum api_field_error_type t)
{
	return (size_t)t < ARRAY_SIZE(field_types) ? field_types[t].name : "";
}

const char *api_field_error_type_text(enum api_field_error_type t)
{
	return (size_t)t < ARRAY_SIZE(field_types) ? field_types[t].text : "";
}

void api_field_errors_add(struct api_field_errors *l, enum api_field_error_type type,
			  const char *field, json_t *value, const char *detail)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n++] = (struct api_field_error){
		.type = type,
		.field = xstrdup(field ? field : ""),
		.value = value,
		.detail = detail ? xstrdup(detail) : NULL,
	};
}

void api_field_required(struct api_field_errors *l, const char *field, const char *detail)
{
	api_field_errors_add(l, API_FIELD_REQUIRED, field, NULL, detail);
}

void api_field_invalid(struct api_field_errors *l, const char *field, json_t *value,
		       const char *detail)
{
	api_field_errors_add(l, API_FIELD_INVALID, field, value ? value : json_null(), detail);
}

void api_field_not_supported(struct api_field_errors *l, const char *field, json_t *value,
			     const char *const *valid, size_t nvalid)
{
	struct buf d = {0};

	for (size_t i = 0; i < nvalid; i++) {
		buf_puts(&d, i > 0 ? ", " : "supported values: ");
		go_quote(&d, valid[i], strlen(valid[i]));
	}
	api_field_errors_add(l, API_FIELD_NOT_SUPPORTED, field, value ? value : json_null(),
			     d.data);
	buf_free(&d);
}

void api_field_forbidden(struct api_field_errors *l, const char *field, const char *detail)
{
	api_field_errors_add(l, API_FIELD_FORBIDDEN, field, NULL, detail);
}

void api_field_too_long(struct api_field_errors *l, const char *field, int max_bytes)
{
	_cleanup_free_ char *d =
		max_bytes >= 0 ? xasprintf("may not be more than %d %s", max_bytes,
					   max_bytes == 1 ? "byte" : "bytes")
			       : xstrdup("value is too long");

	api_field_errors_add(l, API_FIELD_TOO_LONG, field, NULL, d);
}

void api_field_too_many(struct api_field_errors *l, const char *field, int actual, int max)
{
	_cleanup_free_ char *d = max >= 0
		? xasprintf("must have at most %d %s", max, max == 1 ? "item" : "items")
		: xstrdup("has too many items");

	api_field_errors_add(l, API_FIELD_TOO_MANY, field,
			     actual >= 0 ? json_integer(actual) : NULL, d);
}

void api_field_duplicate(struct api_field_errors *l, const char *field, json_t *value)
{
	api_field_errors_add(l, API_FIELD_DUPLICATE, field, value ? value : json_null(), NULL);
}

void api_field_not_found(struct api_field_errors *l, const char *field, json_t *value)
{
	api_field_errors_add(l, API_FIELD_NOT_FOUND, field, value ? value : json_null(), NULL);
}

void api_field_internal(struct api_field_errors *l, const char *field, const char *err)
{
	api_field_errors_add(l, API_FIELD_INTERNAL, field, NULL, err);
}

void api_field_errors_clear(struct api_field_errors *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].field);
		free(l->v[i].detail);
		json_decref(l->v[i].value);
	}
	free(l->v);
	*l = (struct api_field_errors){0};
}

/* How Go's ErrorBody prints a bad value: %q for strings, %v for numbers and bools, JSON for
 * the rest. */
static void render_value(struct buf *b, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		go_quote(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		buf_printf(b, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		go_format_float(b, json_real_value(v), 'v');
		break;
	default:
		api_json_dump(v, b);
	}
}

static void error_body(struct buf *b, const struct api_field_error *e)
{
	buf_puts(b, api_field_error_type_text(e->type));
	switch (e->type) {
	case API_FIELD_REQUIRED:
	case API_FIELD_FORBIDDEN:
	case API_FIELD_TOO_LONG:
	case API_FIELD_TOO_SHORT:
	case API_FIELD_INTERNAL:
		break;
	default:
		if (e->value) {
			buf_puts(b, ": ");
			render_value(b, e->value);
		}
	}
	if (e->detail && *e->detail)
		buf_printf(b, ": %s", e->detail);
}

char *api_field_error_body(const struct api_field_error *e)
{
	struct buf b = {0};

	error_body(&b, e);
	return buf_steal(&b);
}

char *api_field_error_string(const struct api_field_error *e)
{
	struct buf b = {0};

	buf_printf(&b, "%s: ", e->field);
	error_body(&b, e);
	return buf_steal(&b);
}

char *api_field_errors_aggregate(const struct api_field_errors *l)
{
	struct api_msgs uniq = {0};
	char *out;

	for (size_t i = 0; i < l->n; i++) {
		char *s = api_field_error_string(&l->v[i]);
		bool seen = false;

		for (size_t j = 0; j < uniq.n && !seen; j++)
			seen = streq(uniq.v[j], s);
		if (!seen)
			api_msgs_add(&uniq, s);
		free(s);
	}
	if (uniq.n <= 1) {
		out = uniq.n ? xstrdup(uniq.v[0]) : xstrdup("");
	} else {
		_cleanup_free_ char *joined = api_msgs_join(&uniq, ", ");
		out = xasprintf("[%s]", joined);
	}
	api_msgs_clear(&uniq);
	return out;
}
