/* Percent-decoding and query strings (application/x-www-form-urlencoded). */
#include "http/internal.h"

char *http_unescape(const char *s, size_t n, bool form)
{
	char *out = xmalloc(n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int hi = i + 1 < n ? hex_digit(s[i + 1]) : -1;
			int lo = i + 2 < n ? hex_digit(s[i + 2]) : -1;
			/* A decoded NUL would cut the C string short. */
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && form) {
			*o++ = ' ';
		} else if (c == '\0') {
			free(out);
			return NULL;
		} else {
			*o++ = c;
		}
	}
	*o = '\0';
	return out;
}

int http_query_next(const char *query, size_t *pos, char **ret_name, char **ret_value)
{
	const char *p = query + *pos;

	while (*p == '&' || *p == ';')
		p++;
	if (!*p) {
		*pos = (size_t)(p - query);
		return 0;
	}
	const char *end = p + strcspn(p, "&");
	const char *eq = memchr(p, '=', (size_t)(end - p));
	const char *ne = eq ? eq : end;
	char *name = http_unescape(p, (size_t)(ne - p), true);
	char *value = eq ? http_unescape(eq + 1, (size_t)(end - eq - 1), true) : xstrdup("");
	*pos = (size_t)(end - query);
	if (!name || !value) {
		free(name);
		free(value);
		return -EINVAL;
	}
	*ret_name = name;
	*ret_value = value;
	return 1;
}

char *http_query_get(const char *query, const char *name)
{
	size_t pos = 0;
	char *n, *v;
	int r;

	while ((r = http_query_next(query, &pos, &n, &v)) != 0) {
		if (r < 0)
			continue;
		bool hit = streq(n, name);
		free(n);
		if (hit)
			return v;
		free(v);
	}
	return NULL;
}

const char *http_status_text(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 101: return "Switching Protocols";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Request Entity Too Large";
	case 414: return "Request URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Entity";
	case 426: return "Upgrade Required";
	case 428: return "Precondition Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}
