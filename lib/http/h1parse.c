/* HTTP/1.1 message heads and chunked bodies (RFC 9112), parsed in place.
 * Pure functions over a buffer, so the fuzzer drives them directly. */
#include "http/internal.h"

#include <ctype.h>

/* tchar of RFC 9110: a token character. */
static bool is_tchar(unsigned char c)
{
	if (isalnum(c))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c);
}

/* field-vchar / obs-text, SP and HTAB are allowed in values. */
static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

size_t h1_find_head_end(const char *buf, size_t len, size_t *scan)
{
	/* Resume a little before where the last search stopped: the
	 * terminator may straddle two reads. */
	size_t i = *scan > 3 ? *scan - 3 : 0;
	for (; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	*scan = len;
	return 0;
}

/* Cut the next line off [*p, end): returns it NUL-terminated without its
 * CRLF or LF, or NULL when a bare CR or a NUL is inside. */
static char *next_line(char **p, char *end)
{
	char *s = *p, *nl = memchr(s, '\n', (size_t)(end - s));
	if (!nl)
		return NULL;
	char *e = nl;
	if (e > s && e[-1] == '\r')
		e--;
	if (memchr(s, '\0', (size_t)(e - s)) || memchr(s, '\r', (size_t)(e - s)))
		return NULL;
	*e = '\0';
	*p = nl + 1;
	return s;
}

static bool token_has(const char *list, const char *tok)
{
	size_t n = strlen(tok);
	for (const char *p = list; *p;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *q = p;
		while (*q && *q != ',')
			q++;
		const char *e = q;
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if ((size_t)(e - p) == n && strncasecmp(p, tok, n) == 0)
			return true;
		p = q;
	}
	return false;
}

/* The header fields after the start line, up to the blank line. */
static int parse_fields(char *p, char *end, struct h1_head *h, const char **err)
{
	bool have_cl = false, have_te = false;

	for (;;) {
		char *line = next_line(&p, end);
		if (!line) {
			*err = "malformed header line";
			return -400;
		}
		if (!*line)
			break;
		if (*line == ' ' || *line == '\t') {
			*err = "obsolete line folding is not accepted";
			return -400;
		}
		char *colon = strchr(line, ':');
		if (!colon || colon == line) {
			*err = "malformed header line";
			return -400;
		}
		for (char *c = line; c < colon; c++) {
			if (!is_tchar((unsigned char)*c)) {
				*err = "invalid header name";
				return -400;
			}
			*c = (char)tolower((unsigned char)*c);
		}
		*colon = '\0';
		char *v = colon + 1;
		while (*v == ' ' || *v == '\t')
			v++;
		char *ve = v + strlen(v);
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			*--ve = '\0';
		for (char *c = v; c < ve; c++) {
			if (!is_value_char((unsigned char)*c)) {
				*err = "invalid header value";
				return -400;
			}
		}
		if (h->nheaders == HTTP_MAX_HEADERS) {
			*err = "too many header fields";
			return -431;
		}
		h->headers[h->nheaders++] = (struct http_header){line, v};

		if (streq(line, "content-length")) {
			uint64_t cl;
			if (parse_u64(v, strlen(v), &cl) < 0 || cl > (uint64_t)INT64_MAX ||
			    (have_cl && (int64_t)cl != h->content_length)) {
				*err = "invalid Content-Length";
				return -400;
			}
			have_cl = true;
			h->content_length = (int64_t)cl;
		} else if (streq(line, "transfer-encoding")) {
			/* Only "chunked", last and alone, is supported. */
			if (have_te || !strcaseeq(v, "chunked")) {
				*err = "unsupported Transfer-Encoding";
				return -501;
			}
			have_te = true;
			h->chunked = true;
		} else if (streq(line, "connection")) {
			if (token_has(v, "close"))
				h->conn_close = true;
			if (token_has(v, "keep-alive"))
				h->conn_keep_alive = true;
			if (token_has(v, "upgrade"))
				h->conn_upgrade = true;
		} else if (streq(line, "host")) {
			if (h->host) {
				*err = "duplicate Host header";
				return -400;
			}
			h->host = v;
		} else if (streq(line, "expect")) {
			if (strcaseeq(v, "100-continue"))
				h->expect_continue = true;
		} else if (streq(line, "upgrade")) {
			h->upgrade = v;
		}
	}
	if (have_cl && have_te) {
		/* Both framings at once is how requests get smuggled. */
		*err = "both Content-Length and Transfer-Encoding";
		return -400;
	}
	if (h->version == 10)
		h->keep_alive = h->conn_keep_alive && !h->conn_close;
	else
		h->keep_alive = !h->conn_close;
	return 0;
}

static int parse_version(const char *v, int *ret)
{
	if (strncmp(v, "HTTP/", 5) != 0 || !isdigit((unsigned char)v[5]) || v[6] != '.' ||
	    !isdigit((unsigned char)v[7]) || v[8])
		return -400;
	if (v[5] != '1')
		return -505;
	*ret = v[7] == '0' ? 10 : 11;
	return 0;
}

int h1_parse_request(char *buf, size_t len, struct h1_head *h, const char **err)
{
	char *p = buf, *end = buf + len;
	char *line, *sp1, *sp2;
	int r;

	*h = (struct h1_head){.content_length = -1};
	*err = "malformed request line";
	/* RFC 9112 2.2: ignore empty lines before the request line. */
	while (p < end && (*p == '\r' || *p == '\n'))
		p++;
	line = next_line(&p, end);
	if (!line)
		return -400;
	sp1 = strchr(line, ' ');
	if (!sp1)
		return -400;
	sp2 = strchr(sp1 + 1, ' ');
	if (!sp2 || strchr(sp2 + 1, ' '))
		return -400;
	*sp1 = *sp2 = '\0';
	h->method = line;
	h->target = sp1 + 1;
	if (!*h->method || !*h->target)
		return -400;
	for (const char *c = h->method; *c; c++)
		if (!is_tchar((unsigned char)*c))
			return -400;
	for (const char *c = h->target; *c; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f)
			return -400;
	r = parse_version(sp2 + 1, &h->version);
	if (r < 0) {
		*err = r == -505 ? "HTTP version not supported" : "malformed request line";
		return r;
	}

	/* origin-form "/p?q", absolute-form "http://host/p?q", or "*". */
	char *path = h->target;
	if (*path != '/') {
		if (strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0) {
			char *slash = strchr(strstr(path, "//") + 2, '/');
			path = slash ? slash : (char *)"/";
		} else if (!streq(path, "*")) {
			*err = "unsupported request target";
			return -400;
		}
	}
	char *q = strchr(path, '?');
	if (q)
		*q++ = '\0';
	h->path = path;
	h->query = q ? q : "";
	r = parse_fields(p, end, h, err);
	if (r < 0)
		return r;
	if (h->version == 11 && !h->host) {
		*err = "missing required Host header";
		return -400;
	}
	return (int)(p - buf);
}

int h1_parse_response(char *buf, size_t len, struct h1_head *h, const char **err)
{
	char *p = buf, *end = buf + len;
	char *line, *sp1;
	uint64_t status;
	int r;

	*h = (struct h1_head){.content_length = -1};
	*err = "malformed status line";
	line = next_line(&p, end);
	if (!line)
		return -400;
	sp1 = strchr(line, ' ');
	if (!sp1)
		return -400;
	*sp1 = '\0';
	if (parse_version(line, &h->version) < 0)
		return -400;
	char *code = sp1 + 1, *sp2 = strchr(code, ' ');
	size_t n = sp2 ? (size_t)(sp2 - code) : strlen(code);
	if (n != 3 || parse_u64(code, 3, &status) < 0 || status < 100)
		return -400;
	h->status = (int)status;
	h->reason = sp2 ? sp2 + 1 : "";
	r = parse_fields(p, end, h, err);
	if (r < 0)
		return r;
	return (int)(p - buf);
}

enum {
	CH_SIZE = 0, /* hex digits */
	CH_EXT,      /* chunk extension, skipped to LF */
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START,
	CH_TRAILER,
	CH_DONE,
};

ssize_t h1_chunked_decode(struct h1_chunked *d, const char *in, size_t len, struct buf *out,
			  size_t max_total, const char **err)
{
	size_t i = 0;

	while (i < len && d->state != CH_DONE) {
		char c = in[i];
		switch (d->state) {
		case CH_SIZE: {
			int v = hex_digit(c);
			if (v >= 0) {
				if (d->digits++ >= 15) {
					*err = "chunk size too large";
					return -413;
				}
				d->left = d->left * 16 + (uint64_t)v;
				i++;
				break;
			}
			if (!d->digits || (c != ';' && c != '\r' && c != '\n' && c != ' ' && c != '\t')) {
				*err = "malformed chunk size";
				return -400;
			}
			d->state = CH_EXT;
			break;
		}
		case CH_EXT:
			i++;
			if (c == '\n') {
				if (d->left == 0) {
					d->state = CH_TRAILER_START;
				} else {
					if (d->total + d->left > max_total) {
						*err = "body too large";
						return -413;
					}
					d->state = CH_DATA;
				}
			} else if (c == '\0' || ++d->ext_len > 4096) {
				*err = "malformed chunk extension";
				return -400;
			}
			break;
		case CH_DATA: {
			size_t n = (size_t)MIN((uint64_t)(len - i), d->left);
			buf_append(out, in + i, n);
			d->left -= n;
			d->total += n;
			i += n;
			if (!d->left)
				d->state = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (c == '\r') {
				i++;
				d->state = CH_DATA_LF;
				break;
			}
			/* a bare LF ends the chunk too */
			__attribute__((fallthrough));
		case CH_DATA_LF:
			if (c != '\n') {
				*err = "malformed chunk end";
				return -400;
			}
			i++;
			d->state = CH_SIZE;
			d->digits = 0;
			d->ext_len = 0;
			break;
		case CH_TRAILER_START:
			i++;
			if (c == '\n')
				d->state = CH_DONE;
			else if (c != '\r')
				d->state = CH_TRAILER;
			break;
		case CH_TRAILER:
			/* Trailer fields are read and dropped. */
			i++;
			if (c == '\n')
				d->state = CH_TRAILER_START;
			else if (++d->ext_len > 65536) {
				*err = "trailer section too large";
				return -431;
			}
			break;
		}
	}
	d->done = d->state == CH_DONE;
	return (ssize_t)i;
}
