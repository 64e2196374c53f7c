/* Kubernetes' name and label validation, with its exact messages as
 * Kubernetes 1.32 (k8s.io/apimachinery v0.32 pkg/util/validation) words
 * them: length errors say "must be no more than N characters". */
#include "api/internal.h"

#define LABEL_KEY_FMT "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
#define LABEL_KEY_ERR                                                                   \
	"must consist of alphanumeric characters, '-', '_' or '.', and must start and end " \
	"with an alphanumeric character"
#define LABEL_VALUE_FMT "(" LABEL_KEY_FMT ")?"
#define LABEL_VALUE_ERR                                                                  \
	"a valid label must be an empty string or consist of alphanumeric characters, '-', " \
	"'_' or '.', and must start and end with an alphanumeric character"
#define DNS1123_LABEL_FMT "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
#define DNS1123_LABEL_ERR                                                                  \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric characters or " \
	"'-', and must start and end with an alphanumeric character"
#define DNS1123_SUBDOMAIN_FMT DNS1123_LABEL_FMT "(\\." DNS1123_LABEL_FMT ")*"
#define DNS1123_SUBDOMAIN_ERR                                                             \
	"a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, " \
	"'-' or '.', and must start and end with an alphanumeric character"
#define DNS1035_LABEL_FMT "[a-z]([-a-z0-9]*[a-z0-9])?"
#define DNS1035_LABEL_ERR                                                                 \
	"a DNS-1035 label must consist of lower case alphanumeric characters or '-', start " \
	"with an alphabetic character, and end with an alphanumeric character"

void api_msgs_add(struct api_msgs *m, const char *msg)
{
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(*m->v));
	m->v[m->n++] = xstrdup(msg);
}

void api_msgs_clear(struct api_msgs *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i]);
	free(m->v);
	*m = (struct api_msgs){0};
}

char *api_msgs_join(const struct api_msgs *m, const char *sep)
{
	struct buf b = {0};

	for (size_t i = 0; i < m->n; i++) {
		if (i > 0)
			buf_puts(&b, sep);
		buf_puts(&b, m->v[i]);
	}
	return buf_steal(&b);
}

/* RegexError: "<msg> (e.g. 'a',  or 'b', regex used for validation is '<re>')". The double
 * space is Kubernetes' own. */
static void add_regex_error(struct api_msgs *m, const char *prefix, const char *msg,
			    const char *re, const char *const *examples)
{
	struct buf b = {0};

	buf_printf(&b, "%s%s", prefix, msg);
	if (examples[0]) {
		buf_puts(&b, " (e.g. ");
		for (size_t i = 0; examples[i]; i++)
			buf_printf(&b, "%s'%s', ", i > 0 ? " or " : "", examples[i]);
		buf_printf(&b, "regex used for validation is '%s')", re);
	} else {
		buf_printf(&b, " (regex used for validation is '%s')", re);
	}
	api_msgs_add(m, b.data);
	buf_free(&b);
}

static void add_msgf(struct api_msgs *m, const char *fmt, ...) _printf_(2, 3);
static void add_msgf(struct api_msgs *m, const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	api_msgs_add(m, b.data ? b.data : "");
	buf_free(&b);
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ over [s, s+n) */
static bool match_dns1123_label(const char *s, size_t n)
{
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool match_dns1123_subdomain(const char *s, size_t n)
{
	size_t start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!match_dns1123_label(s + start, i - start))
			return false;
		start = i + 1;
	}
	return true;
}

/* ^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$ */
static bool match_label_name(const char *s, size_t n)
{
	if (n == 0 || !is_alnum(s[0]) || !is_alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

size_t api_is_dns1123_label(const char *s, struct api_msgs *msgs)
{
	static const char *const ex[] = {"my-name", "123-abc", NULL};
	struct api_msgs local = {0}, *m = msgs ? msgs : &local;
	size_t before = m->n, n = strlen(s);

	if (n > 63)
		add_msgf(m, "must be no more than %d characters", 63);
	if (!match_dns1123_label(s, n)) {
		/* A valid subdomain that is not a label: the length was checked, so dots. */
		if (match_dns1123_subdomain(s, n))
			api_msgs_add(m, "must not contain dots");
		else
			add_regex_error(m, "", DNS1123_LABEL_ERR, DNS1123_LABEL_FMT, ex);
	}
	n = m->n - before;
	api_msgs_clear(&local);
	return n;
}

static size_t dns1123_subdomain(const char *s, size_t n, struct api_msgs *m, const char *prefix,
				const char *unit)
{
	static const char *const ex[] = {"example.com", NULL};
	size_t before = m->n;

	if (n > 253)
		add_msgf(m, "%smust be no more than %d %s", prefix, 253, unit);
	if (!match_dns1123_subdomain(s, n))
		add_regex_error(m, prefix, DNS1123_SUBDOMAIN_ERR, DNS1123_SUBDOMAIN_FMT, ex);
	return m->n - before;
}

size_t api_is_dns1123_subdomain(const char *s, struct api_msgs *msgs)
{
	struct api_msgs local = {0};
	size_t n = dns1123_subdomain(s, strlen(s), msgs ? msgs : &local, "", "characters");

	api_msgs_clear(&local);
	return n;
}

size_t api_is_dns1035_label(const char *s, struct api_msgs *msgs)
{
	static const char *const ex[] = {"my-name", "abc-123", NULL};
	struct api_msgs local = {0}, *m = msgs ? msgs : &local;
	size_t before = m->n, n = strlen(s);

	if (n > 63)
		add_msgf(m, "must be no more than %d characters", 63);
	if (!match_dns1123_label(s, n) || !(s[0] >= 'a' && s[0] <= 'z'))
		add_regex_error(m, "", DNS1035_LABEL_ERR, DNS1035_LABEL_FMT, ex);
	n = m->n - before;
	api_msgs_clear(&local);
	return n;
}

size_t api_is_qualified_name(const char *s, struct api_msgs *msgs)
{
	static const char *const ex[] = {"MyName", "my.name", "123-abc", NULL};
	struct api_msgs local = {0}, *m = msgs ? msgs : &local;
	const char *slash = strchr(s, '/'), *name = s;
	size_t before = m->n, n;

	if (slash && strchr(slash + 1, '/')) {
		struct buf b = {0};
		struct api_msgs one = {0};

		add_regex_error(&one, "a qualified name ", LABEL_KEY_ERR, LABEL_KEY_FMT, ex);
		buf_printf(&b, "%s with an optional DNS subdomain prefix and '/' (e.g. "
			       "'example.com/MyName')", one.v[0]);
		api_msgs_add(m, b.data);
		buf_free(&b);
		api_msgs_clear(&one);
		goto out;
	}
	if (slash) {
		size_t plen = (size_t)(slash - s);

		if (plen == 0)
			api_msgs_add(m, "prefix part must be non-empty");
		else
			dns1123_subdomain(s, plen, m, "prefix part ", "characters");
		name = slash + 1;
	}
	n = strlen(name);
	if (n == 0)
		api_msgs_add(m, "name part must be non-empty");
	else if (n > 63)
		add_msgf(m, "name part must be no more than %d characters", 63);
	if (!match_label_name(name, n))
		add_regex_error(m, "name part ", LABEL_KEY_ERR, LABEL_KEY_FMT, ex);
out:
	n = m->n - before;
	api_msgs_clear(&local);
	return n;
}

size_t api_is_valid_label_value(const char *s, struct api_msgs *msgs)
{
	static const char *const ex[] = {"MyValue", "my_value", "12345", NULL};
	struct api_msgs local = {0}, *m = msgs ? msgs : &local;
	size_t before = m->n, n = strlen(s);

	if (n > 63)
		add_msgf(m, "must be no more than %d characters", 63);
	if (n > 0 && !match_label_name(s, n))
		add_regex_error(m, "", LABEL_VALUE_ERR, LABEL_VALUE_FMT, ex);
	n = m->n - before;
	api_msgs_clear(&local);
	return n;
}
