/* resource.Quantity: parsing, canonical formatting and arithmetic, exact as Kubernetes'.
 *
 * A value is mant * 10^exp with |mant| < 10^38; Kubernetes rounds everything to nano
 * (away from zero) when parsing, so exp >= -9. Binary suffixes are multiplied out in a
 * small 256-bit integer before that rounding, as the product can exceed 128 bits. */
#include "api/internal.h"

#define QTY_ERR_FORMAT                                           \
	"quantities must match the regular expression "            \
	"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
#define QTY_ERR_SUFFIX "unable to parse quantity's suffix"
#define QTY_ERR_DIGITS "quantity too large or too precise: kelp keeps at most 38 significant digits"
#define QTY_ERR_EXPONENT "quantity's exponent is out of range"

#define MAX_DIGITS 38

typedef unsigned __int128 u128;

static u128 pow10_u128(unsigned n)
{
	u128 p = 1;

	while (n--)
		p *= 10;
	return p;
}

static unsigned ndigits(u128 v)
{
	unsigned n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static u128 uabs(__int128 v)
{
	return v < 0 ? (u128)0 - (u128)v : (u128)v;
}

/* Strip trailing zeros into exp; zero is 0e0. */
static void normalize(struct api_quantity *q)
{
	if (q->mant == 0) {
		q->exp = 0;
		return;
	}
	while (q->mant % 10 == 0) {
		q->mant /= 10;
		q->exp++;
	}
}

/* ---- A 256-bit unsigned integer, just enough for binary suffixes ---- */

struct u256 {
	uint32_t w[8]; /* little-endian limbs */
};

static void big_mul_add(struct u256 *b, uint32_t m, uint32_t add)
{
	uint64_t carry = add;

	for (size_t i = 0; i < ARRAY_SIZE(b->w); i++) {
		uint64_t t = (uint64_t)b->w[i] * m + carry;
		b->w[i] = (uint32_t)t;
		carry = t >> 32;
	}
}

static uint32_t big_div_small(struct u256 *b, uint32_t d)
{
	uint64_t rem = 0;

	for (size_t i = ARRAY_SIZE(b->w); i-- > 0;) {
		uint64_t cur = (rem << 32) | b->w[i];
		b->w[i] = (uint32_t)(cur / d);
		rem = cur % d;
	}
	return (uint32_t)rem;
}

static bool big_is_zero(const struct u256 *b)
{
	for (size_t i = 0; i < ARRAY_SIZE(b->w); i++)
		if (b->w[i])
			return false;
	return true;
}

/* b if it fits 128 bits and is <= limit, else false. */
static bool big_to_u128(const struct u256 *b, u128 limit, u128 *ret)
{
	u128 v = 0;

	for (size_t i = 4; i < ARRAY_SIZE(b->w); i++)
		if (b->w[i])
			return false;
	for (size_t i = 4; i-- > 0;)
		v = (v << 32) | b->w[i];
	if (v > limit)
		return false;
	*ret = v;
	return true;
}

/* ---- Parsing ---- */

struct qty_parts {
	bool positive;
	const char *num; /* leading zeros stripped; may be empty */
	size_t num_len;
	const char *denom;
	size_t denom_len;
	const char *suffix;
	size_t suffix_len;
};

/* parseQuantityString: sign, number, fraction and suffix, permissively. */
static bool split_quantity(const char *s, struct qty_parts *p)
{
	size_t len = strlen(s), pos = 0;

	*p = (struct qty_parts){.positive = true, .num = "", .denom = "", .suffix = ""};
	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		p->positive = s[0] == '+';
		pos++;
	}
	while (pos < len && s[pos] == '0')
		pos++;
	if (pos >= len)
		return true;
	p->num = s + pos;
	while (pos < len && s[pos] >= '0' && s[pos] <= '9')
		pos++;
	p->num_len = (size_t)(s + pos - p->num);
	if (pos < len && s[pos] == '.') {
		p->denom = s + ++pos;
		while (pos < len && s[pos] >= '0' && s[pos] <= '9')
			pos++;
		p->denom_len = (size_t)(s + pos - p->denom);
	}
	p->suffix = s + pos;
	while (pos < len && strchr("eEinumkKMGTP", s[pos]))
		pos++;
	if (pos < len && (s[pos] == '-' || s[pos] == '+'))
		pos++;
	while (pos < len && s[pos] >= '0' && s[pos] <= '9')
		pos++;
	p->suffix_len = (size_t)(s + pos - p->suffix);
	return pos == len;
}

/* The suffixer's interpret(): base (10 or 2), exponent and format. -EINVAL for an unknown
 * suffix, -ERANGE for an exponent beyond int32 (Kubernetes would silently truncate). */
static int interpret_suffix(const char *s, size_t n, int *ret_base, int64_t *ret_exp,
			    enum api_quantity_format *ret_format)
{
	static const struct {
		const char *s;
		int base, exp;
	} table[] = {
		{"", 10, 0}, {"n", 10, -9}, {"u", 10, -6}, {"m", 10, -3}, {"k", 10, 3},
		{"M", 10, 6}, {"G", 10, 9}, {"T", 10, 12}, {"P", 10, 15}, {"E", 10, 18},
		{"Ki", 2, 10}, {"Mi", 2, 20}, {"Gi", 2, 30}, {"Ti", 2, 40}, {"Pi", 2, 50},
		{"Ei", 2, 60},
	};
	int64_t e;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		if (strlen(table[i].s) == n && memcmp(table[i].s, s, n) == 0) {
			*ret_base = table[i].base;
			*ret_exp = table[i].exp;
			*ret_format = table[i].base == 2 ? API_QUANTITY_BINARY_SI
							 : API_QUANTITY_DECIMAL_SI;
			return 0;
		}
	}
	if (n < 2 || (s[0] != 'e' && s[0] != 'E'))
		return -EINVAL;
	r = parse_i64(s + 1, n - 1, &e);
	if (r == -ERANGE || (r == 0 && (e > INT32_MAX || e < INT32_MIN)))
		return -ERANGE;
	if (r < 0)
		return -EINVAL;
	*ret_base = 10;
	*ret_exp = e;
	*ret_format = API_QUANTITY_DECIMAL_EXPONENT;
	return 0;
}

/* Would ParseQuantity's int64 fast path keep the input string as the canonical form? */
static bool kept_verbatim(const struct qty_parts *p, int base, int64_t exp)
{
	size_t nl = p->num_len ? p->num_len : 1;
	const char *num = p->num_len ? p->num : "0";

	if (base == 2) {
		int64_t value = 0;

		if (p->denom_len || 15 - (int64_t)nl - exp * 3 / 10 - 1 < 0)
			return false;
		for (size_t i = 0; i < nl; i++)
			value = value * 10 + (num[i] - '0');
		return (value & 7) != 0;
	}
	if (18 - (int64_t)(nl + p->denom_len) < 0)
		return false;
	int64_t scale = exp - (int64_t)p->denom_len;
	if (scale < -9 || scale % 3 != 0 || num[0] == '0')
		return false;
	/* shifted = num + denom must not end in "000" */
	char last[3];
	size_t total = nl + p->denom_len;
	for (size_t i = 0; i < 3; i++) {
		size_t at = total >= 3 - i ? total - (3 - i) : SIZE_MAX;
		last[i] = at == SIZE_MAX ? 'x' : at < nl ? num[at] : p->denom[at - nl];
	}
	return !(last[0] == '0' && last[1] == '0' && last[2] == '0');
}

/* digits[0..n) * 10^e, decimal: rounded up to nano. */
static int value_decimal(const char *d, size_t n, int64_t e, struct api_quantity *q)
{
	bool round_up = false;
	u128 m = 0;

	if (e < -9) {
		uint64_t drop = (uint64_t)(-9 - e);

		/* trailing zeros are stripped, so any dropped digit makes it round up */
		round_up = true;
		n = drop >= n ? 0 : n - (size_t)drop;
		e = -9;
	}
	if (n > MAX_DIGITS)
		return -ERANGE;
	for (size_t i = 0; i < n; i++)
		m = m * 10 + (u128)(d[i] - '0');
	m += round_up;
	if (e > INT32_MAX - 2 * MAX_DIGITS)
		return -ERANGE;
	q->mant = (__int128)m;
	q->exp = (int32_t)e;
	normalize(q);
	return uabs(q->mant) < pow10_u128(MAX_DIGITS) ? 0 : -ERANGE;
}

/* digits * 10^e * 2^k, rounded up to nano and capped at 2^63-1 as Kubernetes does. */
static int value_binary(const char *d, size_t n, int64_t e, int k, struct api_quantity *q)
{
	const u128 int64_max = ((u128)1 << 63) - 1;
	u128 nano_max = int64_max * 1000000000u, v;
	struct u256 b = {0};
	bool sticky = false;

	if ((int64_t)n + e > 20)
		goto cap; /* at least 10^20 before the suffix */
	if (n > MAX_DIGITS)
		return -ERANGE;
	for (size_t i = 0; i < n; i++)
		big_mul_add(&b, 10, (uint32_t)(d[i] - '0'));
	for (int64_t f = e + 9; f > 0; f--)
		big_mul_add(&b, 10, 0);
	for (int i = 0; i < k; i++)
		big_mul_add(&b, 2, 0);
	for (int64_t f = e + 9; f < 0 && !big_is_zero(&b); f++)
		sticky |= big_div_small(&b, 10) != 0;
	if (!big_to_u128(&b, nano_max, &v) || v + sticky > nano_max)
		goto cap;
	q->mant = (__int128)(v + sticky);
	q->exp = -9;
	normalize(q);
	return 0;
cap:
	q->mant = (__int128)int64_max;
	q->exp = 0;
	return 0;
}

int api_quantity_parse(const char *s, struct api_quantity *ret, char **errmsg)
{
	struct api_quantity q = {.format = API_QUANTITY_DECIMAL_SI};
	struct qty_parts p;
	int64_t exp;
	int base, r;

	if (!*s)
		return api_err(errmsg, -EINVAL, "%s", QTY_ERR_FORMAT);
	if (streq(s, "0")) {
		strcpy(q.text, "0");
		*ret = q;
		return 0;
	}
	if (!split_quantity(s, &p))
		return api_err(errmsg, -EINVAL, "%s", QTY_ERR_FORMAT);
	r = interpret_suffix(p.suffix, p.suffix_len, &base, &exp, &q.format);
	if (r == -ERANGE)
		return api_err(errmsg, r, "%s", QTY_ERR_EXPONENT);
	if (r < 0)
		return api_err(errmsg, r, "%s", QTY_ERR_SUFFIX);

	/* The significant digits of num.denom, and the power of ten of the last one. */
	struct buf digits = {0};
	buf_append(&digits, p.num, p.num_len);
	buf_append(&digits, p.denom, p.denom_len);
	const char *d = digits.data ? digits.data : "";
	size_t n = digits.len;
	int64_t e = (base == 10 ? exp : 0) - (int64_t)p.denom_len;
	while (n > 0 && d[0] == '0')
		d++, n--;
	while (n > 0 && d[n - 1] == '0')
		n--, e++;

	if (n == 0)
		r = 0;
	else if (base == 10)
		r = value_decimal(d, n, e, &q);
	else
		r = value_binary(d, n, e, (int)exp, &q);
	buf_free(&digits);
	if (r < 0)
		return api_err(errmsg, r, "%s", r == -ERANGE && n <= MAX_DIGITS ? QTY_ERR_EXPONENT
										 : QTY_ERR_DIGITS);
	/* A binary value between 0 and 1 switches to DecimalSI to avoid rounding. */
	if (q.format == API_QUANTITY_BINARY_SI && q.mant != 0 && q.exp < 0 &&
	    ndigits(uabs(q.mant)) <= (unsigned)-q.exp)
		q.format = API_QUANTITY_DECIMAL_SI;
	if (!p.positive)
		q.mant = -q.mant;
	if (kept_verbatim(&p, base, exp) && strlen(s) < sizeof(q.text))
		strcpy(q.text, s);
	*ret = q;
	return 0;
}

int api_quantity_from_json(const json_t *v, struct api_quantity *ret, char **errmsg)
{
	struct buf b = {0};
	int r;

	if (!v || json_is_null(v)) {
		*ret = (struct api_quantity){.format = API_QUANTITY_DECIMAL_SI};
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);

		while (n > 0 && strchr(" \t\n\v\f\r", s[0]))
			s++, n--;
		while (n > 0 && strchr(" \t\n\v\f\r", s[n - 1]))
			n--;
		buf_append(&b, s, n);
	} else if (json_is_integer(v)) {
		buf_printf(&b, "%lld", (long long)json_integer_value(v));
	} else if (json_is_real(v)) {
		go_format_float(&b, json_real_value(v), 'j');
	} else {
		return api_err(errmsg, -EINVAL, "%s", QTY_ERR_FORMAT);
	}
	r = api_quantity_parse(b.data ? b.data : "", ret, errmsg);
	buf_free(&b);
	return r;
}

static struct api_quantity from_scaled(int64_t value, int32_t scale,
				       enum api_quantity_format format)
{
	struct api_quantity q = {.mant = value, .exp = scale, .format = format};

	/* Below nano a value rounds away from zero, as parsing does. */
	while (q.exp < -9) {
		bool rem = q.mant % 10 != 0;

		q.mant = q.mant / 10 + (rem ? (q.mant < 0 ? -1 : 1) : 0);
		q.exp++;
	}
	normalize(&q);
	return q;
}

struct api_quantity api_quantity_from_int(int64_t value, enum api_quantity_format format)
{
	return from_scaled(value, 0, format);
}

struct api_quantity api_quantity_from_milli(int64_t milli, enum api_quantity_format format)
{
	return from_scaled(milli, -3, format);
}

struct api_quantity api_quantity_from_scaled(int64_t value, int32_t scale)
{
	return from_scaled(value, scale, API_QUANTITY_DECIMAL_SI);
}

/* ---- Formatting ---- */

static void put_u128(struct buf *b, u128 v)
{
	char tmp[48];
	size_t i = sizeof(tmp);

	do {
		tmp[--i] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	buf_append(b, tmp + i, sizeof(tmp) - i);
}

void api_quantity_format_buf(const struct api_quantity *q, struct buf *out)
{
	static const char *const si[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
	static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
	enum api_quantity_format format = q->format;
	u128 m = uabs(q->mant);

	if (q->text[0]) {
		buf_puts(out, q->text);
		return;
	}
	if (q->mant == 0) {
		buf_putc(out, '0');
		return;
	}
	if (format == API_QUANTITY_BINARY_SI) {
		/* |q| < 1024, fractions and values too large for a suffix: DecimalSI */
		if (q->exp < 0 || ndigits(m) + (unsigned)q->exp > MAX_DIGITS)
			format = API_QUANTITY_DECIMAL_SI;
		else if ((m = m * pow10_u128((unsigned)q->exp)) < 1024)
			format = API_QUANTITY_DECIMAL_SI;
	}
	if (q->mant < 0)
		buf_putc(out, '-');
	if (format == API_QUANTITY_BINARY_SI) {
		size_t e = 0;

		while (e < 6 && m % 1024 == 0) {
			m /= 1024;
			e++;
		}
		put_u128(out, m);
		buf_puts(out, bin[e]);
		return;
	}
	/* The exponent goes down to a multiple of three: 1.5 is 1500m, 15e4 is 150k. */
	int64_t e = q->exp, r = ((e % 3) + 3) % 3;
	put_u128(out, uabs(q->mant));
	for (int64_t i = 0; i < r; i++)
		buf_putc(out, '0');
	e -= r;
	if (format == API_QUANTITY_DECIMAL_SI && e >= -9 && e <= 18)
		buf_puts(out, si[(e + 9) / 3]);
	else if (e != 0)
		buf_printf(out, "e%lld", (long long)e);
}

char *api_quantity_format(const struct api_quantity *q)
{
	struct buf b = {0};

	api_quantity_format_buf(q, &b);
	return buf_steal(&b);
}

json_t *api_quantity_to_json(const struct api_quantity *q)
{
	_cleanup_free_ char *s = api_quantity_format(q);
	return json_string(s);
}

/* ---- Arithmetic ---- */

int api_quantity_sign(const struct api_quantity *q)
{
	return q->mant > 0 ? 1 : q->mant < 0 ? -1 : 0;
}

bool api_quantity_is_zero(const struct api_quantity *q)
{
	return q->mant == 0;
}

int api_quantity_cmp(const struct api_quantity *a, const struct api_quantity *b)
{
	int sa = api_quantity_sign(a), sb = api_quantity_sign(b);
	u128 ma = uabs(a->mant), mb = uabs(b->mant);
	int64_t pa, pb;
	int c;

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	/* Normalized values: compare the position of the leading digit, then the digits. */
	pa = (int64_t)ndigits(ma) + a->exp;
	pb = (int64_t)ndigits(mb) + b->exp;
	if (pa != pb) {
		c = pa < pb ? -1 : 1;
	} else {
		if (a->exp > b->exp)
			ma *= pow10_u128((unsigned)(a->exp - b->exp));
		else
			mb *= pow10_u128((unsigned)(b->exp - a->exp));
		c = ma < mb ? -1 : ma > mb ? 1 : 0;
	}
	return sa < 0 ? -c : c;
}

/* m * 10^shift as a value below 10^38, or false. */
static bool scale_up(__int128 m, int64_t shift, __int128 *ret)
{
	if (m == 0) {
		*ret = 0;
		return true;
	}
	if (shift < 0 || ndigits(uabs(m)) + (uint64_t)shift > MAX_DIGITS)
		return false;
	*ret = m * (__int128)pow10_u128((unsigned)shift);
	return true;
}

int api_quantity_add(struct api_quantity *q, const struct api_quantity *y)
{
	struct api_quantity r = *q;
	int32_t e = MIN(q->exp, y->exp);
	__int128 a, b;

	if (q->mant == 0)
		r.format = y->format;
	if (y->mant == 0) {
		q->format = r.format;
		q->text[0] = '\0';
		return 0;
	}
	if (q->mant == 0) {
		r.mant = y->mant;
		r.exp = y->exp;
	} else {
		if (!scale_up(q->mant, (int64_t)q->exp - e, &a) ||
		    !scale_up(y->mant, (int64_t)y->exp - e, &b) ||
		    __builtin_add_overflow(a, b, &r.mant))
			return -ERANGE;
		r.exp = e;
		normalize(&r);
		if (uabs(r.mant) >= pow10_u128(MAX_DIGITS))
			return -ERANGE;
	}
	r.text[0] = '\0';
	*q = r;
	return 0;
}

int api_quantity_sub(struct api_quantity *q, const struct api_quantity *y)
{
	struct api_quantity neg = *y;

	neg.mant = -neg.mant;
	return api_quantity_add(q, &neg);
}

void api_quantity_neg(struct api_quantity *q)
{
	q->mant = -q->mant;
	q->text[0] = '\0';
}

int api_quantity_scaled_value(const struct api_quantity *q, int32_t scale, int64_t *ret)
{
	int64_t d = (int64_t)q->exp - scale;
	u128 m = uabs(q->mant), v;

	if (q->mant == 0) {
		*ret = 0;
		return 0;
	}
	if (d >= 0) {
		if (ndigits(m) + (uint64_t)d > 19)
			return -ERANGE;
		v = m * pow10_u128((unsigned)d);
	} else if (-d > MAX_DIGITS) {
		v = 1; /* a nonzero fraction rounds up to one */
	} else {
		u128 p = pow10_u128((unsigned)-d);
		v = m / p + (m % p != 0);
	}
	if (v > (u128)INT64_MAX + (q->mant < 0))
		return -ERANGE;
	*ret = q->mant < 0 ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

int api_quantity_value(const struct api_quantity *q, int64_t *ret)
{
	return api_quantity_scaled_value(q, 0, ret);
}

int api_quantity_milli_value(const struct api_quantity *q, int64_t *ret)
{
	return api_quantity_scaled_value(q, -3, ret);
}
