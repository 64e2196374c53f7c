#include "log/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

static const char level_char[] = {'E', 'W', 'I', 'D', 'T'};
static const char *const level_name[] = {"error", "warn", "info", "debug", "trace"};

struct logger log_default(const char *component)
{
	return (struct logger){.fd = STDERR_FILENO, .level = LOG_INFO, .format = LOG_FORMAT_TEXT,
			       .component = component};
}

int log_level_parse(const char *s, enum log_level *ret)
{
	for (unsigned i = 0; i < ARRAY_SIZE(level_name); i++) {
		if (strcaseeq(s, level_name[i]) || (s[0] == (char)('0' + i) && s[1] == '\0')) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int log_format_parse(const char *s, enum log_format *ret)
{
	if (streq(s, "text"))
		*ret = LOG_FORMAT_TEXT;
	else if (streq(s, "json"))
		*ret = LOG_FORMAT_JSON;
	else
		return -EINVAL;
	return 0;
}

/* A bounded writer: everything past the end is dropped silently. */
struct out {
	char *p;
	unsigned len, cap;
};

static void out_mem(struct out *o, const char *s, size_t n)
{
	size_t room = o->cap - 1 - o->len;
	if (n > room)
		n = room;
	memcpy(o->p + o->len, s, n);
	o->len += (unsigned)n;
}

static void out_str(struct out *o, const char *s) { out_mem(o, s, strlen(s)); }

_printf_(2, 3) static void out_fmt(struct out *o, const char *fmt, ...)
{
	va_list ap;
	size_t room = o->cap - o->len;
	va_start(ap, fmt);
	int n = vsnprintf(o->p + o->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	o->len += (unsigned)MIN((size_t)n, room - 1);
}

/* A quoted string (at most max bytes of it), escaped so it is both valid
 * JSON and one text line. */
static void out_quoted_n(struct out *o, const char *s, size_t max)
{
	const unsigned char *c = (const unsigned char *)(s ? s : "(null)");
	const unsigned char *end = c + strnlen((const char *)c, max);

	out_mem(o, "\"", 1);
	for (; c < end; c++) {
		if (*c == '"' || *c == '\\') {
			char e[2] = {'\\', (char)*c};
			out_mem(o, e, 2);
		} else if (*c == '\n') {
			out_mem(o, "\\n", 2);
		} else if (*c == '\t') {
			out_mem(o, "\\t", 2);
		} else if (*c < 0x20 || *c == 0x7f) {
			out_fmt(o, "\\u%04x", *c);
		} else {
			out_mem(o, (const char *)c, 1);
		}
	}
	out_mem(o, "\"", 1);
}

static void out_quoted(struct out *o, const char *s) { out_quoted_n(o, s, SIZE_MAX); }

static void out_value(struct out *o, const struct log_field *f)
{
	char ebuf[128];

	switch (f->type) {
	case LOG_F_STR:
		out_quoted(o, f->s);
		break;
	case LOG_F_INT:
		out_fmt(o, "%" PRId64, f->i);
		break;
	case LOG_F_UINT:
		out_fmt(o, "%" PRIu64, f->u);
		break;
	case LOG_F_DBL:
		out_fmt(o, __builtin_isfinite(f->d) ? "%.6g" : "\"%.6g\"", f->d);
		break;
	case LOG_F_BOOL:
		out_str(o, f->b ? "true" : "false");
		break;
	case LOG_F_ERRNO:
		out_quoted(o, strerror_r((int)(f->i < 0 ? -f->i : f->i), ebuf, sizeof(ebuf)));
		break;
	case LOG_F_END:
		out_str(o, "null");
		break;
	}
}

static const char *short_file(const char *file)
{
	/* Keep "component/file.c" of a path such as "../lib/http/server.c". */
	const char *last = strrchr(file, '/');
	if (!last)
		return file;
	const char *p = last;
	while (p > file && p[-1] != '/')
		p--;
	return p;
}

unsigned log_format_line(char *buf, unsigned cap, const struct logger *lg, enum log_level lvl,
			 uint64_t real_ns, const char *file, int line, const char *msg,
			 const struct log_field *fields, unsigned nfields)
{
	struct out o = {.p = buf, .cap = cap};
	time_t secs = (time_t)(real_ns / 1000000000u);
	unsigned usec = (unsigned)(real_ns % 1000000000u / 1000u);
	struct tm tm;

	if (cap < 2)
		return 0;
	gmtime_r(&secs, &tm);
	if (lg->format == LOG_FORMAT_JSON) {
		/* A line too long for the buffer is written again without its
		 * fields and with a shortened message, so it stays valid JSON. */
		for (int pass = 0; pass < 2; pass++) {
			o.len = 0;
			out_fmt(&o, "{\"ts\":%lld.%06u,\"level\":\"%s\",\"caller\":\"%s:%d\"",
				(long long)secs, usec, level_name[lvl], short_file(file), line);
			if (lg->component) {
				out_str(&o, ",\"component\":");
				out_quoted_n(&o, lg->component, 64);
			}
			out_str(&o, ",\"msg\":");
			out_quoted_n(&o, msg, pass ? cap / 8 : SIZE_MAX);
			for (unsigned i = 0; i < nfields && !pass; i++) {
				out_str(&o, ",");
				out_quoted(&o, fields[i].key);
				out_str(&o, ":");
				out_value(&o, &fields[i]);
			}
			out_str(&o, pass ? ",\"truncated\":true}" : "}");
			if (o.len < cap - 2)
				break;
		}
	} else {
		/* klog's header: Lmmdd hh:mm:ss.uuuuuu pid file:line] msg */
		out_fmt(&o, "%c%02d%02d %02d:%02d:%02d.%06u %7d %s:%d] ", level_char[lvl], tm.tm_mon + 1,
			tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec, (int)getpid(), short_file(file),
			line);
		if (lg->component)
			out_fmt(&o, "%s: ", lg->component);
		out_quoted(&o, msg);
		for (unsigned i = 0; i < nfields; i++) {
			out_fmt(&o, " %s=", fields[i].key);
			out_value(&o, &fields[i]);
		}
	}
	/* The newline always fits: reserve it even when the line was cut. */
	if (o.len > cap - 2)
		o.len = cap - 2;
	buf[o.len++] = '\n';
	buf[o.len] = '\0';
	return o.len;
}

void log_emit(const struct logger *lg, enum log_level lvl, const char *file, int line,
	      const char *msg, const struct log_field *fields, unsigned nfields)
{
	char line_buf[4096];
	if (!log_enabled(lg, lvl))
		return;
	unsigned n = log_format_line(line_buf, sizeof(line_buf), lg, lvl, now_real_ns(), file, line,
				     msg, fields, nfields);
	(void)write_all(lg->fd, line_buf, n);
}
