/* lib/client: API paths and query strings. */
#include "client/client-internal.h"

#include <inttypes.h>
#include <stdio.h>

/* Percent-encode all but RFC 3986's unreserved characters. */
static void put_escaped(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			buf_putc(b, (char)ch);
		} else {
			buf_putc(b, '%');
			buf_putc(b, hex[ch >> 4]);
			buf_putc(b, hex[ch & 15]);
		}
	}
}

static bool set(const char *s) { return s && *s; }

char *client_path(const struct client_ref *ref)
{
	const struct client_gvr *g = &ref->gvr;
	struct buf b = {0};

	if (!set(g->version) || !set(g->resource))
		return NULL;
	if (set(g->group)) {
		buf_puts(&b, "/apis/");
		put_escaped(&b, g->group);
	} else {
		buf_puts(&b, "/api");
	}
	buf_putc(&b, '/');
	put_escaped(&b, g->version);
	if (set(ref->namespace)) {
		buf_puts(&b, "/namespaces/");
		put_escaped(&b, ref->namespace);
	}
	buf_putc(&b, '/');
	put_escaped(&b, g->resource);
	if (set(ref->name)) {
		buf_putc(&b, '/');
		put_escaped(&b, ref->name);
		if (set(ref->subresource)) {
			buf_putc(&b, '/');
			put_escaped(&b, ref->subresource);
		}
	}
	return buf_steal(&b);
}

void client_query_add(struct buf *b, const char *name, const char *value)
{
	buf_putc(b, b->len ? '&' : '?');
	buf_puts(b, name);
	buf_putc(b, '=');
	put_escaped(b, value);
}

void client_query_list(struct buf *b, const struct client_list_opts *o, bool watch)
{
	char n[24];

	if (watch)
		client_query_add(b, "watch", "1");
	if (!o)
		return;
	if (set(o->label_selector))
		client_query_add(b, "labelSelector", o->label_selector);
	if (set(o->field_selector))
		client_query_add(b, "fieldSelector", o->field_selector);
	if (set(o->resource_version))
		client_query_add(b, "resourceVersion", o->resource_version);
	if (set(o->resource_version_match))
		client_query_add(b, "resourceVersionMatch", o->resource_version_match);
	if (o->limit > 0 && !watch) {
		snprintf(n, sizeof(n), "%" PRId64, o->limit);
		client_query_add(b, "limit", n);
	}
	if (set(o->continue_token) && !watch)
		client_query_add(b, "continue", o->continue_token);
	if (watch && o->allow_watch_bookmarks)
		client_query_add(b, "allowWatchBookmarks", "true");
	if (watch && o->timeout_seconds > 0) {
		snprintf(n, sizeof(n), "%d", o->timeout_seconds);
		client_query_add(b, "timeoutSeconds", n);
	}
}
