/* What the validation tests share: objects from JSON text, the kinds of
 * the schema tables, and check/create/defaulted wrappers. Test code. */
#pragma once

#include <stdio.h>

#include "apiserver/validate/validate.h"
#include "tap.h"

/* ---- helpers ---- */

static inline json_t *J(const char *s)
{
	json_error_t err;
	json_t *v = json_loads(s, 0, &err);

	if (!v)
		printf("# bad test JSON: %s: %s\n", err.text, s);
	return v;
}

static inline const struct sch_kind *K(const char *group, const char *kind)
{
	const struct sch_kind *k = sch_kind_by_name(group, "v1", kind);

	if (!k)
		printf("# kind %s/%s not in the schema\n", group, kind);
	return k;
}

/* The aggregate message ("" when valid), as the Status message shows after "is invalid: ". */
static inline char *check(const struct sch_kind *k, const char *obj, const char *old)
{
	struct api_field_errors e = {0};
	json_t *o = J(obj), *p = old ? J(old) : NULL;
	char *s;

	if (!k || !o)
		return xstrdup("(setup failed)");
	validate_object(k, o, p, &e);
	s = api_field_errors_aggregate(&e);
	api_field_errors_clear(&e);
	json_decref(o);
	json_decref(p);
	return s;
}

/* Defaulted then validated, as the pipeline does for a create. */
static inline char *create(const struct sch_kind *k, const char *obj)
{
	struct api_field_errors e = {0};
	json_t *o = J(obj);
	char *s;

	if (!k || !o)
		return xstrdup("(setup failed)");
	validate_default(k, o);
	validate_object(k, o, NULL, &e);
	s = api_field_errors_aggregate(&e);
	api_field_errors_clear(&e);
	json_decref(o);
	return s;
}

static inline json_t *defaulted(const struct sch_kind *k, const char *obj)
{
	json_t *o = J(obj);

	if (k && o)
		validate_default(k, o);
	return o;
}

#define CHECK_MSG(expr, want)                   \
	do {                                    \
		char *got_ = (expr);            \
		CHECK_STREQ(got_, want);        \
		free(got_);                     \
	} while (0)

#define CHECK_PATH_STR(obj, path, want)                                   \
	do {                                                              \
		const char *got_ = api_get_str(obj, path);                \
		CHECK_STREQ(got_, want);                                  \
	} while (0)

#define CHECK_PATH_INT(obj, path, want)                                   \
	do {                                                              \
		int64_t got_ = -12345;                                    \
		CHECK_INT(api_get_int(obj, path, &got_), 0);              \
		CHECK_INT(got_, want);                                    \
	} while (0)

/* The unknown-field messages of obj against t, joined. */
static inline char *unknown(const struct sch_type *t, const char *obj)
{
	struct api_msgs m = {0};
	json_t *o = J(obj);
	char *s;

	validate_unknown_fields(t, o, &m);
	s = api_msgs_join(&m, ", ");
	api_msgs_clear(&m);
	json_decref(o);
	return s;
}

static inline char *decode(const struct sch_type *t, const char *obj)
{
	json_t *o = J(obj);
	char *msg = NULL;

	if (validate_decode(t, o, &msg) == 0)
		msg = xstrdup("");
	json_decref(o);
	return msg;
}
