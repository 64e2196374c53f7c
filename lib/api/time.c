/* metav1.Time and MicroTime: Go's time.Parse for the two layouts Kubernetes uses, with its
 * leniencies (one-digit hours, fractions after the seconds, offsets) and its messages. */
#include "api/internal.h"

#include <stdio.h>

#define LAYOUT_RFC3339 "2006-01-02T15:04:05Z07:00"
#define LAYOUT_MICRO "2006-01-02T15:04:05.000000Z07:00"

enum elem { E_YEAR, E_MONTH, E_DAY, E_HOUR, E_MIN, E_SEC, E_FRAC6, E_TZ, E_LIT };

struct layout_elem {
	enum elem e;
	const char *std; /* the layout text, as Go names it in errors */
};

static const struct layout_elem rfc3339[] = {
	{E_YEAR, "2006"}, {E_LIT, "-"}, {E_MONTH, "01"}, {E_LIT, "-"}, {E_DAY, "02"},
	{E_LIT, "T"}, {E_HOUR, "15"}, {E_LIT, ":"}, {E_MIN, "04"}, {E_LIT, ":"},
	{E_SEC, "05"}, {E_TZ, "Z07:00"},
};

static const struct layout_elem micro[] = {
	{E_YEAR, "2006"}, {E_LIT, "-"}, {E_MONTH, "01"}, {E_LIT, "-"}, {E_DAY, "02"},
	{E_LIT, "T"}, {E_HOUR, "15"}, {E_LIT, ":"}, {E_MIN, "04"}, {E_LIT, ":"},
	{E_SEC, "05"}, {E_FRAC6, ".000000"}, {E_TZ, "Z07:00"},
};

/* s[i] is a digit, looking no further than the string's end. */
static bool is_digit(const char *s, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (!s[j])
			return false;
	return s[i] >= '0' && s[i] <= '9';
}

/* Go's getnum: one or two digits (exactly two when fixed). */
static bool getnum(const char **v, bool fixed, int *ret)
{
	const char *s = *v;

	if (!is_digit(s, 0))
		return false;
	if (!is_digit(s, 1)) {
		if (fixed)
			return false;
		*ret = s[0] - '0';
		*v = s + 1;
		return true;
	}
	*ret = (s[0] - '0') * 10 + (s[1] - '0');
	*v = s + 2;
	return true;
}

/* Go's atoi: an optional sign and digits filling the whole string. */
static bool go_atoi(const char *s, size_t n, int64_t *ret)
{
	return parse_i64(s, n, ret) == 0 || (n == 0 && (*ret = 0, true));
}

/* parseNanoseconds(value, nbytes): value[0] is '.' or ','; at most nine digits count. */
static bool parse_nanos(const char *v, size_t nbytes, int64_t *ns, const char **range_err)
{
	if (v[0] != '.' && v[0] != ',')
		return false;
	if (nbytes > 10)
		nbytes = 10;
	if (!go_atoi(v + 1, nbytes - 1, ns))
		return false;
	if (*ns < 0) {
		*range_err = "fractional second";
		return true;
	}
	for (size_t i = nbytes; i < 10; i++)
		*ns *= 10;
	return true;
}

static bool is_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int days_in(int month, int64_t year)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return month == 2 && is_leap(year) ? 29 : days[month - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int parse_error(char **errmsg, const char *value, const char *layout, const char *elem,
		       const char *hold)
{
	struct buf b = {0};

	buf_puts(&b, "parsing time ");
	go_time_quote(&b, value);
	buf_puts(&b, " as ");
	go_time_quote(&b, layout);
	buf_puts(&b, ": cannot parse ");
	go_time_quote(&b, hold);
	buf_puts(&b, " as ");
	go_time_quote(&b, elem);
	if (errmsg)
		*errmsg = buf_steal(&b);
	buf_free(&b);
	return -EINVAL;
}

static int message_error(char **errmsg, int err, const char *value, const char *msg,
			 const char *extra)
{
	struct buf b = {0};

	buf_puts(&b, "parsing time ");
	go_time_quote(&b, value);
	buf_puts(&b, msg);
	if (extra)
		go_time_quote(&b, extra);
	if (errmsg)
		*errmsg = buf_steal(&b);
	buf_free(&b);
	return err;
}

static int parse_layout(const char *value, const struct layout_elem *lay, size_t nlay,
			const char *layout, int64_t *ret_ns, char **errmsg)
{
	int64_t year = 0, nsec = 0;
	int month = 0, day = 0, hour = 0, min = 0, sec = 0, offset = 0;
	const char *v = value;

	for (size_t i = 0; i < nlay; i++) {
		const char *hold = v, *range_err = NULL;
		bool ok = true;
		int hr, mm;

		switch (lay[i].e) {
		case E_LIT:
			if (*v != lay[i].std[0])
				return parse_error(errmsg, value, layout, lay[i].std, v);
			v++;
			continue;
		case E_YEAR:
			ok = strlen(v) >= 4 && is_digit(v, 0) && go_atoi(v, 4, &year);
			v += ok ? 4 : 0;
			break;
		case E_MONTH:
			ok = getnum(&v, true, &month);
			if (ok && (month < 1 || month > 12))
				range_err = "month";
			break;
		case E_DAY:
			ok = getnum(&v, true, &day);
			break;
		case E_HOUR:
			ok = getnum(&v, false, &hour);
			if (hour >= 24)
				range_err = "hour";
			break;
		case E_MIN:
			ok = getnum(&v, true, &min);
			if (min >= 60)
				range_err = "minute";
			break;
		case E_SEC:
			ok = getnum(&v, true, &sec);
			if (!ok)
				break;
			if (sec >= 60) {
				range_err = "second";
				break;
			}
			/* A fraction the layout does not name is still read. */
			if ((v[0] == '.' || v[0] == ',') && is_digit(v, 1) &&
			    lay[i + 1].e != E_FRAC6) {
				size_t n = 2;

				while (v[n] >= '0' && v[n] <= '9')
					n++;
				ok = parse_nanos(v, n, &nsec, &range_err);
				v += n;
			}
			break;
		case E_FRAC6:
			ok = strlen(v) >= 7 && parse_nanos(v, 7, &nsec, &range_err);
			v += ok ? 7 : 0;
			break;
		case E_TZ:
			if (v[0] == 'Z') {
				v++;
				break;
			}
			if (strlen(v) < 6 || v[3] != ':') {
				ok = false;
				break;
			}
			const char *hs = v + 1, *ms = v + 4;
			char sign = v[0];

			v += 6;
			hr = mm = 0;
			ok = getnum(&hs, true, &hr) && getnum(&ms, true, &mm);
			if (hr > 24)
				range_err = "time zone offset hour";
			if (mm > 60)
				range_err = "time zone offset minute";
			offset = (hr * 60 + mm) * 60;
			if (sign == '-')
				offset = -offset;
			else if (sign != '+')
				ok = false;
			break;
		}
		if (range_err) {
			_cleanup_free_ char *m = xasprintf(": %s out of range", range_err);
			return message_error(errmsg, -EINVAL, value, m, NULL);
		}
		if (!ok)
			return parse_error(errmsg, value, layout, lay[i].std, hold);
	}
	if (*v)
		return message_error(errmsg, -EINVAL, value, ": extra text: ", v);
	if (day < 1 || day > days_in(month, year))
		return message_error(errmsg, -EINVAL, value, ": day out of range", NULL);

	int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec -
		       offset;
	int64_t ns;
	if (__builtin_mul_overflow(secs, (int64_t)1000000000, &ns) ||
	    __builtin_add_overflow(ns, nsec, &ns))
		return message_error(errmsg, -ERANGE, value,
				     ": outside the range kelp can represent (1677-09-21 to "
				     "2262-04-11)", NULL);
	*ret_ns = ns;
	return 0;
}

int api_time_parse(const char *s, int64_t *ret_ns, char **errmsg)
{
	return parse_layout(s, rfc3339, ARRAY_SIZE(rfc3339), LAYOUT_RFC3339, ret_ns, errmsg);
}

int api_microtime_parse(const char *s, int64_t *ret_ns, char **errmsg)
{
	return parse_layout(s, micro, ARRAY_SIZE(micro), LAYOUT_MICRO, ret_ns, errmsg);
}

static void split_ns(int64_t ns, int64_t *ret_secs, int64_t *ret_frac)
{
	int64_t secs = ns / 1000000000, frac = ns % 1000000000;

	if (frac < 0) {
		frac += 1000000000;
		secs--;
	}
	*ret_secs = secs;
	*ret_frac = frac;
}

static int format_secs(int64_t secs, char *buf, size_t size)
{
	int64_t days = secs / 86400, rem = secs % 86400, year;
	int month, day;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	civil_from_days(days, &year, &month, &day);
	return snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)year, month, day,
			(int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

void api_time_format(int64_t ns, char buf[API_TIME_LEN])
{
	int64_t secs, frac;
	int n;

	split_ns(ns, &secs, &frac);
	n = format_secs(secs, buf, API_TIME_LEN);
	snprintf(buf + n, (size_t)(API_TIME_LEN - n), "Z");
}

void api_microtime_format(int64_t ns, char buf[API_MICROTIME_LEN])
{
	int64_t secs, frac;
	int n;

	split_ns(ns, &secs, &frac);
	n = format_secs(secs, buf, API_MICROTIME_LEN);
	snprintf(buf + n, (size_t)(API_MICROTIME_LEN - n), ".%06dZ", (int)(frac / 1000));
}

static int from_json(const json_t *v, int64_t *ret_ns, char **errmsg, bool is_micro)
{
	static const char *const words[] = {
		[JSON_OBJECT] = "object", [JSON_ARRAY] = "array", [JSON_INTEGER] = "number",
		[JSON_REAL] = "number", [JSON_TRUE] = "bool", [JSON_FALSE] = "bool",
	};
	int64_t ns;
	int r;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return api_err(errmsg, -EINVAL,
			       "json: cannot unmarshal %s into Go value of type string",
			       words[json_typeof(v)]);
	r = is_micro ? api_microtime_parse(json_string_value(v), &ns, errmsg)
		     : api_time_parse(json_string_value(v), &ns, errmsg);
	if (r < 0)
		return r;
	*ret_ns = ns;
	return 1;
}

int api_time_from_json(const json_t *v, int64_t *ret_ns, char **errmsg)
{
	return from_json(v, ret_ns, errmsg, false);
}

int api_microtime_from_json(const json_t *v, int64_t *ret_ns, char **errmsg)
{
	return from_json(v, ret_ns, errmsg, true);
}

json_t *api_time_to_json(int64_t ns)
{
	char buf[API_TIME_LEN];

	api_time_format(ns, buf);
	return json_string(buf);
}

json_t *api_microtime_to_json(int64_t ns)
{
	char buf[API_MICROTIME_LEN];

	api_microtime_format(ns, buf);
	return json_string(buf);
}
