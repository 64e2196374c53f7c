/* How Go prints strings and floats: Kubernetes' messages embed Go's %q, the time package's
 * quoting and encoding/json's numbers, so kelp reproduces them here. */
#include "api/internal.h"

#include <math.h>
#include <stdio.h>

int api_err(char **errmsg, int err, const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;

	if (!errmsg)
		return err;
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	*errmsg = buf_steal(&b);
	return err;
}

size_t utf8_len(const unsigned char *s, size_t n, uint32_t *ret_cp)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xBF;
	size_t len;
	uint32_t cp;

	if (c < 0x80) {
		*ret_cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F; /* no surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		unsigned char l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;

		if (s[i] < l || s[i] > h)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	*ret_cp = cp;
	return len;
}

/* An approximation of unicode.IsPrint for non-ASCII code points: the format, separator,
 * control and private-use ranges a Kubernetes value could plausibly contain. */
static bool rune_is_print(uint32_t r)
{
	if (r < 0x20 || (r >= 0x7F && r <= 0xA0) || r == 0xAD)
		return false;
	if ((r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F) ||
	    (r >= 0x205F && r <= 0x206F) || r == 0x3000 || r == 0x1680 || r == 0xFEFF)
		return false;
	if ((r >= 0xE000 && r <= 0xF8FF) || (r >= 0xFFF0 && r <= 0xFFFB) || r >= 0xF0000 ||
	    (r & 0xFFFE) == 0xFFFE || (r >= 0xE0000 && r <= 0xE007F))
		return false;
	return true;
}

void go_quote(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	buf_putc(b, '"');
	for (size_t i = 0; i < n;) {
		uint32_t r;
		size_t w = utf8_len(u + i, n - i, &r);

		if (w == 0) {
			buf_printf(b, "\\x%02x", u[i]);
			i++;
			continue;
		}
		if (r == '"' || r == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)r);
		} else if (r < 0x80 && r >= 0x20 && r != 0x7F) {
			buf_putc(b, (char)r);
		} else if (rune_is_print(r)) {
			buf_append(b, s + i, w);
		} else {
			switch (r) {
			case '\a': buf_puts(b, "\\a"); break;
			case '\b': buf_puts(b, "\\b"); break;
			case '\f': buf_puts(b, "\\f"); break;
			case '\n': buf_puts(b, "\\n"); break;
			case '\r': buf_puts(b, "\\r"); break;
			case '\t': buf_puts(b, "\\t"); break;
			case '\v': buf_puts(b, "\\v"); break;
			default:
				if (r < 0x20 || r == 0x7F)
					buf_printf(b, "\\x%02x", (unsigned)r);
				else if (r < 0x10000)
					buf_printf(b, "\\u%04x", (unsigned)r);
				else
					buf_printf(b, "\\U%08x", (unsigned)r);
			}
		}
		i += w;
	}
	buf_putc(b, '"');
}

void go_time_quote(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p >= 0x80)
			buf_printf(b, "\\x%02x", *p);
		else if (*p == '"' || *p == '\\')
			buf_printf(b, "\\%c", *p);
		else
			buf_putc(b, (char)*p);
	}
	buf_putc(b, '"');
}

/* The shortest decimal digits that read back as d: digits[] without a point, and the
 * exponent of the first digit (d = 0.d1d2... * 10^(*ret_exp + 1)). */
static size_t shortest_digits(double d, char digits[32], int *ret_exp)
{
	char tmp[40];
	size_t nd = 0;

	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d || prec == 17)
			break;
	}
	/* tmp is "-d.ddde+XX" */
	const char *p = tmp[0] == '-' ? tmp + 1 : tmp;
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	*ret_exp = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	return nd;
}

void go_format_float(struct buf *b, double d, char fmt)
{
	char digits[32];
	int exp;
	size_t nd;
	double a = fabs(d);
	bool efmt;

	if (isnan(d) || isinf(d)) {
		buf_puts(b, isnan(d) ? "NaN" : d > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (signbit(d))
		buf_putc(b, '-');
	if (a == 0) {
		buf_putc(b, '0');
		return;
	}
	nd = shortest_digits(a, digits, &exp);
	/* encoding/json's rule, except that integral values beyond int64 take the exponent
	 * form too: jansson (and so kelp) cannot read 20-digit integers back. */
	if (fmt == 'j')
		efmt = a < 1e-6 || a >= 0x1p63;
	else
		efmt = exp < -4 || exp >= 6; /* %v is %g, shortest: Go decides with precision 6 */
	if (efmt) {
		buf_putc(b, digits[0]);
		if (nd > 1) {
			buf_putc(b, '.');
			buf_append(b, digits + 1, nd - 1);
		}
		if (fmt == 'j' && exp < 0 && exp > -10)
			buf_printf(b, "e-%d", -exp); /* encoding/json trims e-07 to e-7 */
		else
			buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
		return;
	}
	if (exp < 0) {
		buf_puts(b, "0.");
		for (int i = -1; i > exp; i--)
			buf_putc(b, '0');
		buf_append(b, digits, nd);
	} else if ((size_t)exp + 1 >= nd) {
		buf_append(b, digits, nd);
		for (size_t i = nd; i < (size_t)exp + 1; i++)
			buf_putc(b, '0');
	} else {
		buf_append(b, digits, (size_t)exp + 1);
		buf_putc(b, '.');
		buf_append(b, digits + exp + 1, nd - (size_t)exp - 1);
	}
}
