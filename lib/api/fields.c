/* Field selectors as k8s.io/apimachinery/pkg/fields parses and prints them. */
#include "api/internal.h"

#define ERR_ESCAPE "invalid field selector: invalid escape sequence: "

struct term {
	const char *s;
	size_t n;
};

static int cmp_term(const void *a, const void *b)
{
	const struct term *x = a, *y = b;
	int c = memcmp(x->s, y->s, MIN(x->n, y->n));

	return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* splitTerms: split at commas not escaped by a backslash. */
static struct term *split_terms(const char *s, size_t *ret_n)
{
	struct term *t = NULL;
	size_t n = 0, start = 0, len = strlen(s);
	bool in_slash = false;

	if (len == 0) {
		*ret_n = 0;
		return NULL;
	}
	for (size_t i = 0; i <= len; i++) {
		if (i < len && in_slash) {
			in_slash = false;
		} else if (i < len && s[i] == '\\') {
			in_slash = true;
		} else if (i == len || s[i] == ',') {
			t = xrealloc(t, (n + 1) * sizeof(*t));
			t[n++] = (struct term){s + start, i - start};
			start = i + 1;
		}
	}
	*ret_n = n;
	return t;
}

/* UnescapeValue, with its errors. */
static int unescape(const char *s, size_t n, char **ret, char **errmsg)
{
	struct buf b = {0};
	bool in_slash = false;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (in_slash) {
			in_slash = false;
			if (c == '\\' || c == ',' || c == '=') {
				buf_putc(&b, (char)c);
				continue;
			}
			uint32_t cp;
			size_t w = utf8_len((const unsigned char *)s + i, n - i, &cp);
			buf_free(&b);
			if (w == 0) /* Go shows an invalid byte as U+FFFD */
				return api_err(errmsg, -EINVAL, "%s\\\xEF\xBF\xBD", ERR_ESCAPE);
			return api_err(errmsg, -EINVAL, "%s\\%.*s", ERR_ESCAPE, (int)w, s + i);
		}
		if (c == '\\') {
			in_slash = true;
		} else if (c == ',' || c == '=') {
			buf_free(&b);
			/* Kubernetes prints the rune with %v: its code point */
			return api_err(errmsg, -EINVAL,
				       "invalid field selector: unescaped character in value: %d",
				       c);
		} else {
			buf_putc(&b, (char)c);
		}
	}
	if (in_slash) {
		buf_free(&b);
		return api_err(errmsg, -EINVAL, "%s\\", ERR_ESCAPE);
	}
	*ret = buf_steal(&b);
	return 0;
}

int api_field_selector_parse(const char *str, struct api_field_selector **ret, char **errmsg)
{
	_cleanup_(api_field_selector_freep) struct api_field_selector *s =
		xnew(struct api_field_selector, 1);
	size_t nterms;
	_cleanup_free_ struct term *terms = split_terms(str, &nterms);

	if (nterms > 1)
		qsort(terms, nterms, sizeof(*terms), cmp_term);
	for (size_t i = 0; i < nterms; i++) {
		const char *t = terms[i].s;
		size_t n = terms[i].n, at, oplen = 0;
		bool neq = false;

		if (n == 0)
			continue;
		/* the first operator in the term: != before ==, before = */
		for (at = 0; at < n && !oplen; at++) {
			if (t[at] == '!' && at + 1 < n && t[at + 1] == '=')
				oplen = 2, neq = true;
			else if (t[at] == '=')
				oplen = at + 1 < n && t[at + 1] == '=' ? 2 : 1;
		}
		if (!oplen)
			return api_err(errmsg, -EINVAL,
				       "invalid selector: '%s'; can't understand '%.*s'", str,
				       (int)n, t);
		at--;
		char *value = NULL;
		int r = unescape(t + at + oplen, n - at - oplen, &value, errmsg);
		if (r < 0)
			return r;
		/* an empty field with an empty value selects everything and is dropped */
		if (at == 0 && !*value) {
			free(value);
			continue;
		}
		s->reqs = xrealloc(s->reqs, (s->n + 1) * sizeof(*s->reqs));
		s->reqs[s->n++] = (struct api_field_requirement){
			.field = xstrndup(t, at), .not_equals = neq, .value = value};
	}
	*ret = TAKE_PTR(s);
	return 0;
}

struct api_field_selector *api_field_selector_everything(void)
{
	return xnew(struct api_field_selector, 1);
}

struct api_field_selector *api_field_selector_nothing(void)
{
	struct api_field_selector *s = xnew(struct api_field_selector, 1);

	s->nothing = true;
	return s;
}

struct api_field_selector *api_field_selector_free(struct api_field_selector *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		free(s->reqs[i].field);
		free(s->reqs[i].value);
	}
	free(s->reqs);
	free(s);
	return NULL;
}

int api_field_selector_check(const struct api_field_selector *s, api_field_get_fn get,
			     void *userdata, char **errmsg)
{
	for (size_t i = 0; i < s->n; i++)
		if (!get(userdata, s->reqs[i].field))
			return api_err(errmsg, -ENOENT, "field label not supported: %s",
				       s->reqs[i].field);
	return 0;
}

int api_field_selector_match(const struct api_field_selector *s, api_field_get_fn get,
			     void *userdata, char **errmsg)
{
	bool match = !s->nothing;

	for (size_t i = 0; i < s->n; i++) {
		const char *v = get(userdata, s->reqs[i].field);

		if (!v)
			return api_err(errmsg, -ENOENT, "field label not supported: %s",
				       s->reqs[i].field);
		if (streq(v, s->reqs[i].value) == s->reqs[i].not_equals)
			match = false;
	}
	return match ? 1 : 0;
}

bool api_field_selector_empty(const struct api_field_selector *s)
{
	return !s->nothing && s->n == 0;
}

bool api_field_selector_requires_exact(const struct api_field_selector *s, const char *field,
				       const char **ret_value)
{
	for (size_t i = 0; !s->nothing && i < s->n; i++) {
		if (!s->reqs[i].not_equals && streq(s->reqs[i].field, field)) {
			*ret_value = s->reqs[i].value;
			return true;
		}
	}
	return false;
}

static void escape_into(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == ',' || *v == '=')
			buf_putc(b, '\\');
		buf_putc(b, *v);
	}
}

char *api_field_selector_escape(const char *value)
{
	struct buf b = {0};

	escape_into(&b, value);
	return buf_steal(&b);
}

char *api_field_selector_format(const struct api_field_selector *s)
{
	struct buf b = {0};

	for (size_t i = 0; !s->nothing && i < s->n; i++) {
		if (i > 0)
			buf_putc(&b, ',');
		buf_printf(&b, "%s%s", s->reqs[i].field, s->reqs[i].not_equals ? "!=" : "=");
		escape_into(&b, s->reqs[i].value);
	}
	return buf_steal(&b);
}
