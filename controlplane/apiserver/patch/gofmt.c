/* Go's fmt wording. Kubernetes' patch errors quote the values they choke on
 * with %v and %q of decoded JSON (map[image:x]); users compare those
 * messages, so they are reproduced here. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "apiserver/patch/internal.h"

int patch_errf(char **errmsg, int err, const char *fmt, ...)
{
	va_list ap;

	if (!errmsg || *errmsg)
		return err;
	struct buf b = {0};
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	*errmsg = buf_steal(&b);
	return err;
}

/* Shortest digits that read back as d: "15" and exponent 0 for 1.5. */
static void shortest_digits(double d, char *digits, int *ret_exp)
{
	char tmp[40];

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d || prec == 17)
			break;
	}
	/* tmp is [-]d[.ddd]e[+-]xx */
	char *p = tmp, *e = strchr(tmp, 'e');
	size_t n = 0;
	if (*p == '-')
		p++;
	for (; p < e; p++)
		if (*p != '.')
			digits[n++] = *p;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	*ret_exp = atoi(e + 1);
}

void go_float(struct buf *b, double d)
{
	char digits[24];
	int exp;

	if (d == 0) {
		buf_puts(b, signbit(d) ? "-0" : "0");
		return;
	}
	if (d < 0)
		buf_putc(b, '-');
	shortest_digits(d, digits, &exp);
	size_t nd = strlen(digits);
	/* %v is %g with the shortest digits: exponent form below 1e-4 or from 1e+06 */
	if (exp < -4 || exp >= 6) {
		buf_putc(b, digits[0]);
		if (nd > 1) {
			buf_putc(b, '.');
			buf_puts(b, digits + 1);
		}
		buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
		return;
	}
	if (exp < 0) {
		buf_puts(b, "0.");
		for (int i = -1; i > exp; i--)
			buf_putc(b, '0');
		buf_puts(b, digits);
		return;
	}
	for (int i = 0; i <= exp; i++)
		buf_putc(b, (size_t)i < nd ? digits[i] : '0');
	if (nd > (size_t)exp + 1) {
		buf_putc(b, '.');
		buf_puts(b, digits + exp + 1);
	}
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* fmt's %v (verb 'v') or %s (verb 's') of a decoded JSON value. */
static void go_fmt(struct buf *b, const json_t *v, char verb)
{
	size_t i;
	json_t *x;

	if (verb == 's' && !json_is_string(v) && !json_is_array(v) && !json_is_object(v)) {
		/* %s of a non-string: fmt's %!s(type=value) */
		if (json_is_null(v)) {
			buf_puts(b, "%!s(<nil>)");
			return;
		}
		buf_printf(b, "%%!s(%s=", go_type(v));
		go_fmt(b, v, 'v');
		buf_putc(b, ')');
		return;
	}
	switch (json_typeof(v)) {
	case JSON_NULL:
		buf_puts(b, "<nil>");
		break;
	case JSON_TRUE:
		buf_puts(b, "true");
		break;
	case JSON_FALSE:
		buf_puts(b, "false");
		break;
	case JSON_INTEGER:
		buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		go_float(b, json_real_value(v));
		break;
	case JSON_STRING:
		buf_append(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_ARRAY:
		buf_putc(b, '[');
		json_array_foreach(v, i, x) {
			if (i)
				buf_putc(b, ' ');
			go_fmt(b, x, verb);
		}
		buf_putc(b, ']');
		break;
	case JSON_OBJECT: {
		/* fmt prints maps with their keys sorted */
		size_t n = json_object_size(v), k = 0;
		const char **keys = xnew(const char *, n);
		const char *key;
		json_object_foreach((json_t *)v, key, x)
			keys[k++] = key;
		qsort(keys, n, sizeof(*keys), cmp_keys);
		buf_puts(b, "map[");
		for (k = 0; k < n; k++) {
			if (k)
				buf_putc(b, ' ');
			buf_printf(b, "%s:", keys[k]);
			go_fmt(b, json_object_get(v, keys[k]), verb);
		}
		buf_putc(b, ']');
		free(keys);
		break;
	}
	}
}

void go_v(struct buf *b, const json_t *v)
{
	go_fmt(b, v, 'v');
}

void go_s(struct buf *b, const json_t *v)
{
	go_fmt(b, v, 's');
}

/* Length of the UTF-8 sequence at s and its code point; 0 when invalid. */
static size_t utf8_decode(const unsigned char *s, uint32_t *ret)
{
	size_t n;
	uint32_t c;

	if (s[0] < 0x80) {
		*ret = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		n = 2, c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, c = s[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	if (c < min[n] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*ret = c;
	return n;
}

void go_q(struct buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	buf_putc(b, '"');
	while (*p) {
		uint32_t c;
		size_t n = utf8_decode(p, &c);
		if (n == 0) {
			buf_printf(b, "\\x%02x", *p++);
			continue;
		}
		switch (c) {
		case '"':
			buf_puts(b, "\\\"");
			break;
		case '\\':
			buf_puts(b, "\\\\");
			break;
		case '\a':
			buf_puts(b, "\\a");
			break;
		case '\b':
			buf_puts(b, "\\b");
			break;
		case '\f':
			buf_puts(b, "\\f");
			break;
		case '\n':
			buf_puts(b, "\\n");
			break;
		case '\r':
			buf_puts(b, "\\r");
			break;
		case '\t':
			buf_puts(b, "\\t");
			break;
		case '\v':
			buf_puts(b, "\\v");
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				buf_printf(b, "\\x%02x", c);
			else if (c >= 0x80 && c < 0xa0)
				buf_printf(b, "\\u%04x", c);
			else if (c == 0xfeff || c == 0x2028 || c == 0x2029)
				buf_printf(b, "\\u%04x", c);
			else
				buf_append(b, p, n);
		}
		p += n;
	}
	buf_putc(b, '"');
}

const char *go_type(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "map[string]interface {}";
	case JSON_ARRAY:
		return "[]interface {}";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "int64";
	case JSON_REAL:
		return "float64";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	case JSON_NULL:
		break;
	}
	return "%!s(<nil>)";
}
