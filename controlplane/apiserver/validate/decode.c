/* Strict decoding against the schema: unknown fields, what Go's decoder would refuse, and
 * pruning what decoding drops. */
#include <stdio.h>

#include "apiserver/validate/internal.h"

/* Types that embed TypeMeta without being a served kind. */
static bool has_type_meta(const struct sch_type *t)
{
	static const char *const names[] = {
		"DeleteOptions", "Status", "CreateOptions", "UpdateOptions", "PatchOptions",
		"ListOptions", "GetOptions", "Scale", "Eviction", "Binding", "TokenRequest",
		"WatchEvent", "Table", NULL,
	};

	if (t->flags & (SCH_T_KIND | SCH_T_LIST))
		return true;
	for (size_t i = 0; names[i]; i++)
		if (streq(t->name, names[i]))
			return true;
	return false;
}

static bool is_type_meta_key(const struct sch_type *t, const char *key)
{
	return (streq(key, "apiVersion") || streq(key, "kind")) && has_type_meta(t);
}

/* ---- unknown fields ---- */

#define STRICT_ERRORS_MAX 100

static void add_unknown(struct api_msgs *ret, const char *path)
{
	struct buf b = {0};

	if (ret->n >= STRICT_ERRORS_MAX)
		return;
	buf_puts(&b, "unknown field ");
	go_quote_buf(&b, path);
	for (size_t i = 0; i < ret->n; i++) {
		if (streq(ret->v[i], b.data)) {
			buf_free(&b);
			return;
		}
	}
	api_msgs_add(ret, b.data);
	buf_free(&b);
}

/* Decoding paths: struct fields and map keys joined by dots, list indices in brackets. */
static void unknown_walk(const struct sch_type *t, const json_t *obj, struct buf *path,
			 struct api_msgs *ret)
{
	size_t base = path->len;
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return;
	json_object_foreach((json_t *)obj, key, v) {
		const struct sch_field *f = sch_field(t, key);

		if (base)
			buf_putc(path, '.');
		buf_puts(path, key);
		if (!f) {
			if (!is_type_meta_key(t, key))
				add_unknown(ret, path->data);
		} else if (f->scalar == SCH_MESSAGE && f->type) {
			if (f->container == SCH_ONE) {
				unknown_walk(f->type, v, path, ret);
			} else if (f->container == SCH_LIST && json_is_array(v)) {
				size_t here = path->len, i;
				json_t *el;

				json_array_foreach(v, i, el) {
					buf_printf(path, "[%zu]", i);
					unknown_walk(f->type, el, path, ret);
					path->len = here;
					path->data[here] = '\0';
				}
			} else if (f->container == SCH_MAP && json_is_object(v)) {
				size_t here = path->len;
				const char *mk;
				json_t *mv;

				json_object_foreach(v, mk, mv) {
					buf_printf(path, ".%s", mk);
					unknown_walk(f->type, mv, path, ret);
					path->len = here;
					path->data[here] = '\0';
				}
			}
		}
		path->len = base;
		if (path->data)
			path->data[base] = '\0';
	}
}

void validate_unknown_fields(const struct sch_type *t, const json_t *obj, struct api_msgs *ret)
{
	struct buf path = {0};

	buf_reserve(&path, 64);
	path.data[0] = '\0';
	unknown_walk(t, obj, &path, ret);
	buf_free(&path);
}

/* ---- what decoding into Go types refuses ---- */

struct decode_state {
	char *saved; /* the first type error: decoding goes on */
	char *fatal; /* an unmarshaler's error: decoding stops */
	struct buf stack; /* JSON field names from the root, dotted */
};

static void go_type(struct buf *b, const struct sch_field *f, bool elem)
{
	static const char *const scalars[] = {
		[SCH_STRING] = "string", [SCH_BOOL] = "bool", [SCH_INT32] = "int32",
		[SCH_INT64] = "int64", [SCH_FLOAT64] = "float64", [SCH_BYTES] = "[]uint8",
		[SCH_QUANTITY] = "resource.Quantity", [SCH_TIME] = "v1.Time",
		[SCH_MICROTIME] = "v1.MicroTime", [SCH_DURATION] = "v1.Duration",
		[SCH_INTORSTRING] = "intstr.IntOrString", [SCH_RAW] = "runtime.RawExtension",
	};

	if (!elem && f->container == SCH_LIST)
		buf_puts(b, "[]");
	else if (!elem && f->container == SCH_MAP)
		buf_puts(b, "map[string]");
	if (f->scalar == SCH_MESSAGE && f->type)
		buf_printf(b, "%s.%s", f->type->version, f->type->name);
	else if (f->scalar < ARRAY_SIZE(scalars) && scalars[f->scalar])
		buf_puts(b, scalars[f->scalar]);
}

static void type_error(struct decode_state *d, const struct sch_type *t, const struct sch_field *f,
		       const json_t *v, bool elem, bool with_number)
{
	struct buf b = {0};

	if (d->saved)
		return;
	buf_printf(&b, "json: cannot unmarshal %s", api_json_type_word(v));
	if (with_number) {
		buf_putc(&b, ' ');
		api_json_dump(v, &b);
	}
	buf_printf(&b, " into Go struct field %s.%s of type ", t->name, d->stack.data);
	go_type(&b, f, elem);
	d->saved = buf_steal(&b);
}

static void fatal_error(struct decode_state *d, const char *msg)
{
	if (!d->fatal)
		d->fatal = xstrdup(msg);
}

/* Go's time.ParseDuration accepts [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ with known units, or "0". */
static bool go_duration_valid(const char *s)
{
	static const char *const units[] = {"ns", "us", "µs", "μs", "ms", "s", "m", "h", NULL};

	if (*s == '-' || *s == '+')
		s++;
	if (streq(s, "0"))
		return true;
	if (!*s)
		return false;
	while (*s) {
		bool digits = false;
		size_t n = 0;

		while (*s >= '0' && *s <= '9')
			s++, digits = true;
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9')
				s++, digits = true;
		}
		if (!digits)
			return false;
		while (s[n] && !(s[n] >= '0' && s[n] <= '9') && s[n] != '.')
			n++;
		bool ok = false;
		for (size_t i = 0; units[i] && !ok; i++)
			ok = strlen(units[i]) == n && !strncmp(s, units[i], n);
		if (!ok)
			return false;
		s += n;
	}
	return true;
}

/* The offset Go's base64 decoder reports for the first bad byte. */
static long base64_bad_offset(const char *s)
{
	size_t n = strlen(s), i, pad = 0;

	for (i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			  (c >= '0' && c <= '9') || c == '+' || c == '/';
		if (c == '=') {
			pad++;
			continue;
		}
		if (!ok || pad)
			return (long)i;
	}
	return (long)(n - pad > 0 ? n - pad : 0);
}

static void decode_value(struct decode_state *d, const struct sch_type *t, const struct sch_field *f,
			 const json_t *v, bool elem);

static void decode_object(struct decode_state *d, const struct sch_type *t, const json_t *obj)
{
	size_t base = d->stack.len;
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		const struct sch_field *f = sch_field(t, key);

		if (!f || d->fatal)
			continue;
		if (base)
			buf_putc(&d->stack, '.');
		buf_puts(&d->stack, key);
		decode_value(d, t, f, v, false);
		d->stack.len = base;
		d->stack.data[base] = '\0';
	}
}

static void decode_scalar(struct decode_state *d, const struct sch_type *t, const struct sch_field *f,
			  const json_t *v, bool elem)
{
	_cleanup_free_ char *msg = NULL;
	struct api_quantity q;
	int64_t ns;

	switch (f->scalar) {
	case SCH_STRING:
		if (!json_is_string(v))
			type_error(d, t, f, v, elem, false);
		break;
	case SCH_BOOL:
		if (!json_is_boolean(v))
			type_error(d, t, f, v, elem, false);
		break;
	case SCH_INT32:
	case SCH_INT64:
		if (json_is_real(v) ||
		    (json_is_integer(v) && f->scalar == SCH_INT32 &&
		     (json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)))
			type_error(d, t, f, v, elem, true);
		else if (!json_is_integer(v))
			type_error(d, t, f, v, elem, false);
		break;
	case SCH_FLOAT64:
		if (!json_is_number(v))
			type_error(d, t, f, v, elem, false);
		break;
	case SCH_BYTES:
		if (!json_is_string(v)) {
			type_error(d, t, f, v, elem, false);
		} else {
			size_t n;
			_cleanup_free_ uint8_t *raw = base64_decode(json_string_value(v), &n);
			if (!raw && !d->saved)
				d->saved = xasprintf("illegal base64 data at input byte %ld",
						     base64_bad_offset(json_string_value(v)));
		}
		break;
	case SCH_QUANTITY:
		if (json_is_string(v) || json_is_number(v)) {
			if (api_quantity_from_json(v, &q, &msg) < 0)
				fatal_error(d, msg ? msg : "invalid quantity");
		} else {
			/* Kubernetes parses the raw JSON text, which never matches. */
			if (api_quantity_parse(json_is_boolean(v) ? "true" : "{", &q, &msg) < 0)
				fatal_error(d, msg);
		}
		break;
	case SCH_TIME:
	case SCH_MICROTIME:
		if (!json_is_string(v)) {
			_cleanup_free_ char *m = xasprintf("json: cannot unmarshal %s into Go value of "
							   "type string", api_json_type_word(v));
			fatal_error(d, m);
		} else if (json_string_length(v) > 0) {
			int r = f->scalar == SCH_TIME ? api_time_parse(json_string_value(v), &ns, &msg)
						      : api_microtime_parse(json_string_value(v), &ns, &msg);
			if (r < 0)
				fatal_error(d, msg ? msg : "invalid time");
		}
		break;
	case SCH_DURATION:
		if (!json_is_string(v)) {
			_cleanup_free_ char *m = xasprintf("json: cannot unmarshal %s into Go value of "
							   "type string", api_json_type_word(v));
			fatal_error(d, m);
		} else if (!go_duration_valid(json_string_value(v))) {
			struct buf b = {0};
			buf_puts(&b, "time: invalid duration ");
			go_quote_buf(&b, json_string_value(v));
			fatal_error(d, b.data);
			buf_free(&b);
		}
		break;
	case SCH_INTORSTRING:
		if (json_is_string(v))
			break;
		if (json_is_integer(v) && json_integer_value(v) >= INT32_MIN &&
		    json_integer_value(v) <= INT32_MAX)
			break;
		{
			struct buf b = {0};
			buf_printf(&b, "json: cannot unmarshal %s", api_json_type_word(v));
			if (json_is_number(v)) {
				buf_putc(&b, ' ');
				api_json_dump(v, &b);
			}
			buf_puts(&b, " into Go value of type int32");
			fatal_error(d, b.data);
			buf_free(&b);
		}
		break;
	case SCH_MESSAGE:
		if (!json_is_object(v))
			type_error(d, t, f, v, elem, false);
		else if (f->type)
			decode_object(d, f->type, v);
		break;
	default: /* SCH_RAW: anything */
		break;
	}
}

static void decode_value(struct decode_state *d, const struct sch_type *t, const struct sch_field *f,
			 const json_t *v, bool elem)
{
	if (json_is_null(v))
		return; /* null leaves Go's zero value */
	if (elem || f->container == SCH_ONE) {
		decode_scalar(d, t, f, v, elem);
	} else if (f->container == SCH_LIST) {
		size_t i;
		json_t *el;

		/* []byte is a base64 string, handled as a scalar. */
		if (!json_is_array(v)) {
			type_error(d, t, f, v, false, false);
			return;
		}
		json_array_foreach(v, i, el)
			if (!d->fatal)
				decode_value(d, t, f, el, true);
	} else {
		const char *k;
		json_t *mv;

		if (!json_is_object(v)) {
			type_error(d, t, f, v, false, false);
			return;
		}
		json_object_foreach((json_t *)v, k, mv)
			if (!d->fatal)
				decode_value(d, t, f, mv, true);
	}
}

int validate_decode(const struct sch_type *t, const json_t *obj, char **errmsg)
{
	struct decode_state d = {0};
	char *msg;

	buf_reserve(&d.stack, 64);
	d.stack.data[0] = '\0';
	if (json_is_object(obj))
		decode_object(&d, t, obj);
	buf_free(&d.stack);
	msg = d.fatal ? d.fatal : d.saved;
	if (msg == d.fatal)
		free(d.saved);
	else
		free(d.fatal);
	if (!msg)
		return 0;
	if (errmsg)
		*errmsg = msg;
	else
		free(msg);
	return -EINVAL;
}

/* ---- pruning ---- */

/* Kubernetes prints some values back in canonical form ("0.5" cpu is "500m", times in
 * UTC): the replacement for a scalar, or NULL to keep it. */
static json_t *canonical(const struct sch_field *f, const json_t *v)
{
	struct api_quantity q;
	int64_t ns;

	switch (f->scalar) {
	case SCH_QUANTITY:
		if ((json_is_string(v) || json_is_number(v)) && api_quantity_from_json(v, &q, NULL) == 0)
			return api_quantity_to_json(&q);
		return NULL;
	case SCH_TIME:
		if (json_is_string(v) && json_string_length(v) &&
		    api_time_from_json(v, &ns, NULL) == 1)
			return api_time_to_json(ns);
		return NULL;
	case SCH_MICROTIME:
		if (json_is_string(v) && json_string_length(v) &&
		    api_microtime_from_json(v, &ns, NULL) == 1)
			return api_microtime_to_json(ns);
		return NULL;
	default:
		return NULL;
	}
}

static void prune_value(const struct sch_field *f, json_t *v);

static void prune_object(const struct sch_type *t, json_t *obj)
{
	const char *key;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(obj, tmp, key, v) {
		const struct sch_field *f = sch_field(t, key);

		if (json_is_null(v) || (!f && !is_type_meta_key(t, key))) {
			json_object_del(obj, key);
			continue;
		}
		if (f && f->container == SCH_ONE) {
			json_t *c = canonical(f, v);

			if (c) {
				json_object_set_new(obj, key, c);
				continue;
			}
		}
		if (f)
			prune_value(f, v);
	}
}

static void prune_value(const struct sch_field *f, json_t *v)
{
	if (f->scalar == SCH_RAW)
		return;
	if (f->container == SCH_LIST && json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			json_t *c = canonical(f, json_array_get(v, i));

			if (c)
				json_array_set_new(v, i, c);
			else if (f->scalar == SCH_MESSAGE && f->type &&
				 json_is_object(json_array_get(v, i)))
				prune_object(f->type, json_array_get(v, i));
		}
	} else if (f->container == SCH_MAP && json_is_object(v)) {
		const char *k;
		json_t *mv;

		json_object_foreach(v, k, mv) {
			json_t *c = canonical(f, mv);

			if (c)
				json_object_set_new(v, k, c);
			else if (json_is_null(mv) && f->scalar == SCH_STRING)
				json_object_set_new(v, k, json_string(""));
			else if (f->scalar == SCH_MESSAGE && f->type && json_is_object(mv))
				prune_object(f->type, mv);
		}
	} else if (f->container == SCH_ONE && f->scalar == SCH_MESSAGE && f->type &&
		   json_is_object(v)) {
		prune_object(f->type, v);
	}
}

void validate_prune(const struct sch_type *t, json_t *obj)
{
	if (json_is_object(obj))
		prune_object(t, obj);
}
