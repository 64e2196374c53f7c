/* The schema-driven checks (JSON types, req, enum, fmt, min/max, union, immutable on
 * update) and the def= defaults. */
#include "apiserver/validate/internal.h"

/* ---- structural checks ---- */

static bool type_ok(const struct sch_field *f, const json_t *v, bool elem)
{
	if (!elem && f->container == SCH_LIST)
		return json_is_array(v);
	if (!elem && f->container == SCH_MAP)
		return json_is_object(v);
	switch (f->scalar) {
	case SCH_STRING:
	case SCH_BYTES:
	case SCH_TIME:
	case SCH_MICROTIME:
	case SCH_DURATION:
		return json_is_string(v);
	case SCH_BOOL:
		return json_is_boolean(v);
	case SCH_INT32:
	case SCH_INT64:
		return json_is_integer(v);
	case SCH_FLOAT64:
		return json_is_number(v);
	case SCH_QUANTITY:
		return json_is_string(v) || json_is_number(v);
	case SCH_INTORSTRING:
		return json_is_string(v) || json_is_integer(v);
	case SCH_MESSAGE:
		return json_is_object(v);
	default:
		return true;
	}
}

static const char *schema_type_word(const struct sch_field *f, bool elem)
{
	if (!elem && f->container == SCH_LIST)
		return "array";
	if (!elem && f->container == SCH_MAP)
		return "object";
	switch (f->scalar) {
	case SCH_BOOL:
		return "boolean";
	case SCH_INT32:
	case SCH_INT64:
		return "integer";
	case SCH_FLOAT64:
		return "number";
	case SCH_MESSAGE:
		return "object";
	case SCH_INTORSTRING:
	case SCH_QUANTITY:
		return "string or integer";
	default:
		return "string";
	}
}

static void check_fmt(uint8_t fmt, const char *s, const char *path, struct api_field_errors *e)
{
	struct api_msgs m = {0};

	switch (fmt) {
	case SCH_FMT_DNS_LABEL:
		api_is_dns1123_label(s, &m);
		break;
	case SCH_FMT_DNS_SUBDOMAIN:
		api_is_dns1123_subdomain(s, &m);
		break;
	case SCH_FMT_DNS1035_LABEL:
		api_is_dns1035_label(s, &m);
		break;
	case SCH_FMT_QUALIFIED_NAME:
	case SCH_FMT_LABEL_KEY:
		api_is_qualified_name(s, &m);
		break;
	case SCH_FMT_LABEL_VALUE:
		api_is_valid_label_value(s, &m);
		break;
	case SCH_FMT_IP:
		if (!ip_valid(s, NULL))
			api_msgs_add(&m, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)");
		break;
	case SCH_FMT_CIDR:
		if (!cidr_valid(s, NULL))
			api_msgs_add(&m, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
					 "2001:db8::/64)");
		break;
	case SCH_FMT_PORT:
		/* A port given as a string is a name. */
		check_port_name(s, path, e);
		break;
	default:
		break;
	}
	err_msgs(e, path, s, &m);
	api_msgs_clear(&m);
}

static void check_bounds(const struct sch_field *f, const json_t *v, const char *path,
			 struct api_field_errors *e)
{
	_cleanup_free_ char *d = NULL;
	bool lo, hi;
	int64_t n;

	if (!json_is_integer(v))
		return;
	n = json_integer_value(v);
	if (f->fmt == SCH_FMT_PORT) {
		check_port_num(n, path, e);
		return;
	}
	lo = (f->flags & SCH_F_MIN) && n < f->min;
	hi = (f->flags & SCH_F_MAX) && n > f->max;
	if (!lo && !hi)
		return;
	if ((f->flags & SCH_F_MIN) && (f->flags & SCH_F_MAX))
		d = xasprintf("must be between %lld and %lld, inclusive", (long long)f->min,
			      (long long)f->max);
	else if (lo)
		d = xasprintf("must be greater than or equal to %lld", (long long)f->min);
	else
		d = xasprintf("must be less than or equal to %lld", (long long)f->max);
	err_invalid_int(e, path, n, d);
}

static void check_one(const struct sch_type *t, const struct sch_field *f, const json_t *v,
		      const json_t *old, const char *path, bool elem, struct api_field_errors *e);

static void check_element(const struct sch_field *f, const json_t *v, const json_t *old,
			  const char *path, struct api_field_errors *e)
{
	if (!type_ok(f, v, true)) {
		api_field_errors_add(e, API_FIELD_TYPE_INVALID, path, json_string(api_json_type_word(v)),
				     schema_type_word(f, true));
		return;
	}
	if (f->scalar == SCH_MESSAGE && f->type) {
		/* Selectors everywhere get ValidateLabelSelector's messages. */
		if (streq(f->type->name, "LabelSelector") && streq(f->type->group, "meta"))
			check_label_selector(v, path, e);
		else
			schema_check(f->type, v, old, path, NULL, e);
		return;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);

		if (f->enums && *s) {
			bool ok = false;
			for (size_t i = 0; f->enums[i] && !ok; i++)
				ok = streq(f->enums[i], s);
			if (!ok)
				err_not_supported(e, path, s, f->enums);
		}
		if (f->fmt && *s && (f->container != SCH_MAP))
			check_fmt(f->fmt, s, path, e);
	}
	check_bounds(f, v, path, e);
}

static void check_one(const struct sch_type *t, const struct sch_field *f, const json_t *v,
		      const json_t *old, const char *path, bool elem, struct api_field_errors *e)
{
	(void)t;
	if (!type_ok(f, v, elem)) {
		_cleanup_free_ char *d = xasprintf("must be of type %s", schema_type_word(f, elem));
		api_field_errors_add(e, API_FIELD_TYPE_INVALID, path, json_string(api_json_type_word(v)), d);
		return;
	}
	if (f->container == SCH_LIST) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			_cleanup_free_ char *p = vp_index(path, i);
			json_t *el = json_array_get(v, i);

			if (!json_is_null(el))
				check_element(f, el, NULL, p, e);
		}
	} else if (f->container == SCH_MAP) {
		const char *k;
		json_t *mv;

		json_object_foreach((json_t *)v, k, mv) {
			_cleanup_free_ char *p = vp_key(path, k);

			/* fmt= on a map names the rule for its keys. */
			if (f->fmt)
				check_fmt(f->fmt, k, path, e);
			if (!json_is_null(mv))
				check_element(f, mv, NULL, p, e);
		}
	} else {
		check_element(f, v, old, path, e);
	}
}

/* Set as Go sees it: a struct present even if empty; "", [] and {} for a map are unset. */
static bool field_set(const struct sch_field *f, const json_t *v)
{
	if (!v || json_is_null(v))
		return false;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	if (json_is_object(v) && f->container == SCH_MAP)
		return json_object_size(v) > 0;
	return true;
}

/* Union types: exactly one member set. Kubernetes words each union its own way: volume
 * sources and handlers name the second member, the others the union itself. */
static void check_union(const struct sch_type *t, const json_t *obj, const char *path,
			struct api_field_errors *e)
{
	const char *noun = NULL;
	struct buf names = {0};
	size_t nset = 0, nfields = 0;

	if (streq(t->name, "VolumeSource") || streq(t->name, "PersistentVolumeSource"))
		noun = "volume type";
	else if (streq(t->name, "ProbeHandler") || streq(t->name, "LifecycleHandler"))
		noun = "handler type";
	for (unsigned i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];
		json_t *v = json_object_get(obj, f->name);

		nfields++;
		if (!v || json_is_null(v))
			continue;
		if (nset++ == 0)
			continue;
		if (noun) {
			_cleanup_free_ char *p = vp_child(path, f->name);
			_cleanup_free_ char *d = xasprintf("may not specify more than 1 %s", noun);
			err_forbidden(e, p, d);
		} else if (nset == 2) {
			err_invalid_str(e, path, "", "may not have more than one field specified at a "
						     "time");
		}
	}
	if (nset > 0)
		return;
	if (noun) {
		_cleanup_free_ char *d = xasprintf("must specify a %s", noun);
		err_required(e, path, d);
		return;
	}
	/* "must specify one of: `a`, `b` or `c`" */
	buf_puts(&names, "must specify one of: ");
	for (unsigned i = 0; i < t->nfields; i++)
		buf_printf(&names, "%s`%s`", i == 0 ? "" : i + 1 == nfields ? " or " : ", ",
			   t->fields[i].name);
	err_invalid_str(e, path, "", names.data);
	buf_free(&names);
}

static bool skipped(const char *const *skip, const char *name)
{
	for (size_t i = 0; skip && skip[i]; i++)
		if (streq(skip[i], name))
			return true;
	return false;
}

void schema_check(const struct sch_type *t, const json_t *obj, const json_t *old,
		  const char *path, const char *const *skip, struct api_field_errors *e)
{
	if (!json_is_object(obj))
		return;
	for (unsigned i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];
		json_t *v, *ov;

		if (skipped(skip, f->name))
			continue;
		if (f->flags & SCH_F_INLINE) {
			if (f->type)
				schema_check(f->type, obj, old, path, NULL, e);
			continue;
		}
		v = json_object_get(obj, f->name);
		ov = json_is_object(old) ? json_object_get(old, f->name) : NULL;
		_cleanup_free_ char *p = vp_child(path, f->name);

		if (!field_set(f, v)) {
			if (f->flags & SCH_F_REQUIRED)
				err_required(e, p, NULL);
		} else {
			check_one(t, f, v, f->container == SCH_ONE ? ov : NULL, p, false, e);
		}
		if (old && (f->flags & SCH_F_IMMUTABLE) && !js_equal(v, ov))
			err_immutable(e, p, v ? v : json_null());
	}
	if (t->flags & SCH_T_UNION)
		check_union(t, obj, path, e);
}

/* ---- def= defaults ---- */

static json_t *parse_default(const struct sch_field *f)
{
	json_t *v = json_loads(f->def, JSON_DECODE_ANY, NULL);

	/* A bare word (def=Always, def=25%) is a string; so is any quantity (def="0"). */
	if (!v || (!json_is_string(v) && f->container == SCH_ONE &&
		   (f->scalar == SCH_STRING || f->scalar == SCH_QUANTITY))) {
		json_decref(v);
		v = json_string(f->def);
	}
	return v;
}

/* Defaults of Go non-pointer fields also replace an explicit zero value: strings with a
 * default are such fields, and so are the probe timings (plain int32 in Kubernetes). Other
 * numbers with defaults are pointers, where 0 is a choice (replicas: 0). */
static bool default_replaces(const struct sch_type *t, const struct sch_field *f, const json_t *v)
{
	if (!v || json_is_null(v))
		return true;
	if (f->container != SCH_ONE)
		return false;
	if (f->scalar == SCH_STRING)
		return json_is_string(v) && json_string_length(v) == 0;
	if (f->scalar == SCH_INT32 && streq(t->name, "Probe"))
		return json_is_integer(v) && json_integer_value(v) == 0;
	return false;
}

static void default_value(const struct sch_field *f, json_t *v)
{
	if (f->scalar != SCH_MESSAGE || !f->type)
		return;
	if (f->container == SCH_ONE && json_is_object(v)) {
		schema_default(f->type, v);
	} else if (f->container == SCH_LIST && json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			if (json_is_object(json_array_get(v, i)))
				schema_default(f->type, json_array_get(v, i));
	} else if (f->container == SCH_MAP && json_is_object(v)) {
		const char *k;
		json_t *mv;

		json_object_foreach(v, k, mv)
			if (json_is_object(mv))
				schema_default(f->type, mv);
	}
}

void schema_default(const struct sch_type *t, json_t *obj)
{
	for (unsigned i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];
		json_t *v;

		if (f->flags & SCH_F_INLINE) {
			if (f->type)
				schema_default(f->type, obj);
			continue;
		}
		v = json_object_get(obj, f->name);
		if (f->def && default_replaces(t, f, v)) {
			v = parse_default(f);
			json_object_set_new(obj, f->name, v);
		}
		if (v)
			default_value(f, v);
	}
}
