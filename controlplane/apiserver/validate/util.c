/* Field paths, error helpers, lenient readers and the small checks every kind shares
 * (names, labels, selectors, annotations, ports, quantities, IPs). */
#include <arpa/inet.h>
#include <stdio.h>

#include "apiserver/validate/internal.h"

/* ---- paths ---- */

char *vp_child(const char *base, const char *name)
{
	if (!base || !*base)
		return xstrdup(name);
	return xasprintf("%s.%s", base, name);
}

char *vp_index(const char *base, size_t i)
{
	return xasprintf("%s[%zu]", base ? base : "", i);
}

char *vp_key(const char *base, const char *key)
{
	return xasprintf("%s[%s]", base ? base : "", key);
}

/* ---- errors ---- */

void err_required(struct api_field_errors *e, const char *path, const char *detail)
{
	api_field_required(e, path, detail);
}

void err_forbidden(struct api_field_errors *e, const char *path, const char *detail)
{
	api_field_forbidden(e, path, detail);
}

void err_invalid_str(struct api_field_errors *e, const char *path, const char *value,
		     const char *detail)
{
	api_field_invalid(e, path, api_json_string_lossy(value ? value : ""), detail);
}

void err_invalid_int(struct api_field_errors *e, const char *path, int64_t value,
		     const char *detail)
{
	api_field_invalid(e, path, json_integer(value), detail);
}

void err_invalid_json(struct api_field_errors *e, const char *path, const json_t *value,
		      const char *detail)
{
	api_field_invalid(e, path, value ? json_deep_copy(value) : json_null(), detail);
}

void err_invalidf(struct api_field_errors *e, const char *path, const char *value,
		  const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	err_invalid_str(e, path, value, b.data ? b.data : "");
	buf_free(&b);
}

void err_not_supported(struct api_field_errors *e, const char *path, const char *value,
		       const char *const *valid)
{
	size_t n = 0;

	while (valid && valid[n])
		n++;
	api_field_not_supported(e, path, api_json_string_lossy(value ? value : ""), valid, n);
}

void err_duplicate_str(struct api_field_errors *e, const char *path, const char *value)
{
	api_field_duplicate(e, path, api_json_string_lossy(value ? value : ""));
}

void err_duplicate_int(struct api_field_errors *e, const char *path, int64_t value)
{
	api_field_duplicate(e, path, json_integer(value));
}

void err_too_long(struct api_field_errors *e, const char *path, int max)
{
	api_field_too_long(e, path, max);
}

void err_msgs(struct api_field_errors *e, const char *path, const char *value,
	      const struct api_msgs *m)
{
	for (size_t i = 0; i < m->n; i++)
		err_invalid_str(e, path, value, m->v[i]);
}

void err_immutable(struct api_field_errors *e, const char *path, const json_t *value)
{
	err_invalid_json(e, path, value, "field is immutable");
}

void err_invalid_raw(struct api_field_errors *e, const char *path, const char *raw,
		     const char *detail)
{
	_cleanup_free_ char *d = xasprintf("%s: %s", raw, detail);

	/* No value: lib/api then prints "Invalid value: <detail>", the same text. */
	api_field_errors_add(e, API_FIELD_INVALID, path, NULL, d);
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

char *go_string_map(const json_t *obj)
{
	struct buf b = {0};
	const char **keys;
	const char *k;
	json_t *v;
	size_t n = 0;

	if (!json_is_object(obj))
		return xstrdup("map[string]string(nil)");
	keys = xnew(const char *, json_object_size(obj));
	json_object_foreach((json_t *)obj, k, v)
		keys[n++] = k;
	qsort(keys, n, sizeof(*keys), cmp_strp);
	buf_puts(&b, "map[string]string{");
	for (size_t i = 0; i < n; i++) {
		json_t *val = json_object_get(obj, keys[i]);

		if (i)
			buf_puts(&b, ", ");
		go_quote_buf(&b, keys[i]);
		buf_putc(&b, ':');
		go_quote_buf(&b, json_is_string(val) ? json_string_value(val) : "");
	}
	buf_putc(&b, '}');
	free(keys);
	return buf_steal(&b);
}

char *go_string_slice(const json_t *arr)
{
	struct buf b = {0};

	if (!json_is_array(arr))
		return xstrdup("[]string(nil)");
	buf_puts(&b, "[]string{");
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *v = json_array_get(arr, i);

		if (i)
			buf_puts(&b, ", ");
		go_quote_buf(&b, json_is_string(v) ? json_string_value(v) : "");
	}
	buf_putc(&b, '}');
	return buf_steal(&b);
}

/* ---- lenient readers ---- */

const char *js_str(const json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : "";
}

int64_t js_int(const json_t *o, const char *key, int64_t def)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

bool js_has(const json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return v && !json_is_null(v);
}

bool js_bool(const json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_true(v);
}

json_t *js_arr(const json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_array(v) ? v : NULL;
}

json_t *js_obj(const json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_object(v) ? v : NULL;
}

bool js_is_zero(const json_t *v)
{
	if (!v)
		return true;
	switch (json_typeof(v)) {
	case JSON_NULL:
	case JSON_FALSE:
		return true;
	case JSON_STRING:
		return json_string_length(v) == 0;
	case JSON_INTEGER:
		return json_integer_value(v) == 0;
	case JSON_REAL:
		return json_real_value(v) == 0;
	case JSON_ARRAY:
		return json_array_size(v) == 0;
	case JSON_OBJECT:
		return json_object_size(v) == 0;
	default:
		return false;
	}
}

bool js_equal(const json_t *a, const json_t *b)
{
	if (js_is_zero(a) && js_is_zero(b))
		return true;
	if (!a || !b)
		return false;
	if (json_is_object(a) && json_is_object(b)) {
		const char *k;
		json_t *v;

		json_object_foreach((json_t *)a, k, v)
			if (!js_equal(v, json_object_get(b, k)))
				return false;
		json_object_foreach((json_t *)b, k, v)
			if (!json_object_get(a, k) && !js_is_zero(v))
				return false;
		return true;
	}
	if (json_is_array(a) && json_is_array(b)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!js_equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	return json_equal((json_t *)a, (json_t *)b);
}

bool str_in(const char *s, const char *const *list)
{
	for (size_t i = 0; list && list[i]; i++)
		if (streq(s, list[i]))
			return true;
	return false;
}

void go_quote_buf(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
		case '\\':
			buf_putc(b, '\\');
			buf_putc(b, (char)*p);
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				buf_puts(b, "\\x");
				buf_putc(b, hex[*p >> 4]);
				buf_putc(b, hex[*p & 15]);
			} else {
				buf_putc(b, (char)*p);
			}
		}
	}
	buf_putc(b, '"');
}

/* ---- names ---- */

void name_path_segment(const char *name, struct api_msgs *m)
{
	if (streq(name, ".") || streq(name, "..")) {
		_cleanup_free_ char *s = xasprintf("may not be '%s'", name);
		api_msgs_add(m, s);
		return;
	}
	if (strchr(name, '/'))
		api_msgs_add(m, "may not contain '/'");
	if (strchr(name, '%'))
		api_msgs_add(m, "may not contain '%'");
}

void name_check(enum name_rule r, const char *name, bool prefix, struct api_msgs *m)
{
	_cleanup_free_ char *masked = NULL;
	size_t n = strlen(name);

	/* A generateName gets random characters appended: a trailing dash is fine there.
	 * Kubernetes masks the last two characters (its own quirk) and checks the rest. */
	if (prefix && r != NAME_PATH_SEGMENT && r != NAME_ANY && n > 1 && name[n - 1] == '-') {
		masked = xasprintf("%.*sa", (int)(n - 2), name);
		name = masked;
	}
	switch (r) {
	case NAME_DNS_SUBDOMAIN:
		api_is_dns1123_subdomain(name, m);
		break;
	case NAME_DNS_LABEL:
		api_is_dns1123_label(name, m);
		break;
	case NAME_DNS1035_LABEL:
		api_is_dns1035_label(name, m);
		break;
	case NAME_PATH_SEGMENT:
	case NAME_ANY:
		if (prefix) {
			if (strchr(name, '/'))
				api_msgs_add(m, "may not contain '/'");
			if (strchr(name, '%'))
				api_msgs_add(m, "may not contain '%'");
		} else {
			name_path_segment(name, m);
		}
		break;
	}
}

/* ---- labels, selectors, annotations ---- */

static void check_label_key(const char *key, const char *path, struct api_field_errors *e)
{
	struct api_msgs m = {0};

	api_is_qualified_name(key, &m);
	err_msgs(e, path, key, &m);
	api_msgs_clear(&m);
}

void check_labels(const json_t *labels, const char *path, struct api_field_errors *e)
{
	const char *k;
	json_t *v;

	if (!json_is_object(labels))
		return;
	json_object_foreach((json_t *)labels, k, v) {
		struct api_msgs m = {0};
		const char *s = json_is_string(v) ? json_string_value(v) : "";

		check_label_key(k, path, e);
		api_is_valid_label_value(s, &m);
		err_msgs(e, path, s, &m);
		api_msgs_clear(&m);
	}
}

void check_label_selector(const json_t *sel, const char *path, struct api_field_errors *e)
{
	_cleanup_free_ char *ml = vp_child(path, "matchLabels");
	_cleanup_free_ char *me = vp_child(path, "matchExpressions");
	json_t *exprs = js_arr(sel, "matchExpressions");

	if (!json_is_object(sel))
		return;
	check_labels(js_obj(sel, "matchLabels"), ml, e);
	for (size_t i = 0; exprs && i < json_array_size(exprs); i++) {
		json_t *r = json_array_get(exprs, i);
		_cleanup_free_ char *rp = vp_index(me, i);
		_cleanup_free_ char *vpath = vp_child(rp, "values");
		_cleanup_free_ char *kpath = vp_child(rp, "key");
		const char *op = js_str(r, "operator");
		json_t *vals = js_arr(r, "values");
		size_t nv = vals ? json_array_size(vals) : 0;

		if (streq(op, "In") || streq(op, "NotIn")) {
			if (nv == 0)
				err_required(e, vpath, "must be specified when `operator` is 'In' or "
						       "'NotIn'");
		} else if (streq(op, "Exists") || streq(op, "DoesNotExist")) {
			if (nv > 0)
				err_forbidden(e, vpath, "may not be specified when `operator` is "
							"'Exists' or 'DoesNotExist'");
		} else {
			_cleanup_free_ char *opath = vp_child(rp, "operator");
			err_invalid_str(e, opath, op, "not a valid selector operator");
		}
		check_label_key(js_str(r, "key"), kpath, e);
		for (size_t j = 0; j < nv; j++) {
			json_t *v = json_array_get(vals, j);
			const char *s = json_is_string(v) ? json_string_value(v) : "";
			_cleanup_free_ char *p = vp_index(vpath, j);
			struct api_msgs m = {0};

			api_is_valid_label_value(s, &m);
			err_msgs(e, p, s, &m);
			api_msgs_clear(&m);
		}
	}
}

#define ANNOTATIONS_MAX (256 * 1024)

void check_annotations(const json_t *ann, const char *path, struct api_field_errors *e)
{
	size_t total = 0;
	const char *k;
	json_t *v;

	if (!json_is_object(ann))
		return;
	json_object_foreach((json_t *)ann, k, v) {
		_cleanup_free_ char *lower = xstrdup(k);
		struct api_msgs m = {0};

		/* Annotation keys are qualified names in any case. */
		for (char *c = lower; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		api_is_qualified_name(lower, &m);
		err_msgs(e, path, k, &m);
		api_msgs_clear(&m);
		total += strlen(k) + (json_is_string(v) ? json_string_length(v) : 0);
	}
	if (total > ANNOTATIONS_MAX)
		err_too_long(e, path, ANNOTATIONS_MAX);
}

/* ---- numbers, ports, quantities ---- */

int check_quantity(const json_t *v, const char *path, struct api_field_errors *e,
		   struct api_quantity *ret)
{
	_cleanup_free_ char *msg = NULL;
	struct api_quantity q;

	if (api_quantity_from_json(v, &q, &msg) < 0) {
		err_invalid_json(e, path, v, msg ? msg : "invalid quantity");
		return -EINVAL;
	}
	if (ret)
		*ret = q;
	return 0;
}

void check_port_num(int64_t port, const char *path, struct api_field_errors *e)
{
	if (port < 1 || port > 65535)
		err_invalid_int(e, path, port, "must be between 1 and 65535, inclusive");
}

void check_port_name(const char *name, const char *path, struct api_field_errors *e)
{
	size_t n = strlen(name);
	bool letter = false, bad = n == 0, dash2 = false;

	if (n > 15)
		err_invalid_str(e, path, name, "must be no more than 15 characters");
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (c >= 'a' && c <= 'z')
			letter = true;
		else if (!(c >= '0' && c <= '9') && c != '-')
			bad = true;
		if (c == '-' && i > 0 && name[i - 1] == '-')
			dash2 = true;
	}
	if (bad)
		err_invalid_str(e, path, name, "must contain only alpha-numeric characters "
					       "(a-z, 0-9), and hyphens (-)");
	if (!letter)
		err_invalid_str(e, path, name, "must contain at least one letter (a-z)");
	if (dash2)
		err_invalid_str(e, path, name, "must not contain consecutive hyphens");
	if (n > 0 && (name[0] == '-' || name[n - 1] == '-'))
		err_invalid_str(e, path, name, "must not begin or end with a hyphen");
}

void check_nonnegative(int64_t v, const char *path, struct api_field_errors *e)
{
	if (v < 0)
		err_invalid_int(e, path, v, "must be greater than or equal to 0");
}

void check_int_or_string_port(const json_t *v, const char *path, struct api_field_errors *e)
{
	if (json_is_integer(v))
		check_port_num(json_integer_value(v), path, e);
	else if (json_is_string(v))
		check_port_name(json_string_value(v), path, e);
}

/* ---- addresses (netutils' sloppy parsing: IPv4 parts may have leading zeros) ---- */

static bool ipv4_sloppy(const char *s)
{
	int parts = 0;

	while (*s) {
		int v = 0, digits = 0;

		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s++ - '0');
			if (++digits > 3 || v > 255)
				return false;
		}
		if (!digits || ++parts > 4)
			return false;
		if (*s == '.' && parts < 4)
			s++;
		else if (*s)
			return false;
	}
	return parts == 4;
}

bool ip_valid(const char *s, int *ret_family)
{
	struct in6_addr a6;

	if (ipv4_sloppy(s)) {
		if (ret_family)
			*ret_family = 4;
		return true;
	}
	if (strchr(s, ':') && inet_pton(AF_INET6, s, &a6) == 1) {
		if (ret_family)
			*ret_family = IN6_IS_ADDR_V4MAPPED(&a6) ? 4 : 6;
		return true;
	}
	return false;
}

bool cidr_valid(const char *s, int *ret_family)
{
	const char *slash = strchr(s, '/');
	_cleanup_free_ char *ip = NULL;
	uint64_t bits;
	int fam;

	if (!slash || !slash[1] || parse_u64(slash + 1, strlen(slash + 1), &bits) < 0)
		return false;
	ip = xstrndup(s, (size_t)(slash - s));
	if (!ip_valid(ip, &fam) || bits > (strchr(ip, ':') ? 128u : 32u))
		return false;
	if (ret_family)
		*ret_family = fam;
	return true;
}
