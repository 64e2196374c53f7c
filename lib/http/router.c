/* A small router: exact paths and prefixes (a pattern ending in "*"), longest match. */
#include "http/internal.h"

struct route {
	char *method;
	char *pattern;
	size_t len; /* without the '*' */
	bool prefix;
	http_handler_fn fn;
	void *ud;
};

struct http_router {
	struct route *routes;
	unsigned n, cap;
};

struct http_router *http_router_new(void)
{
	return xnew(struct http_router, 1);
}

struct http_router *http_router_free(struct http_router *r)
{
	if (!r)
		return NULL;
	for (unsigned i = 0; i < r->n; i++) {
		free(r->routes[i].method);
		free(r->routes[i].pattern);
	}
	free(r->routes);
	free(r);
	return NULL;
}

void http_router_add(struct http_router *r, const char *method, const char *pattern,
		     http_handler_fn fn, void *ud)
{
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->routes = xrealloc(r->routes, r->cap * sizeof(*r->routes));
	}
	size_t len = strlen(pattern);
	bool prefix = len && pattern[len - 1] == '*';
	r->routes[r->n++] = (struct route){
		.method = method ? xstrdup(method) : NULL,
		.pattern = xstrdup(pattern),
		.len = prefix ? len - 1 : len,
		.prefix = prefix,
		.fn = fn,
		.ud = ud,
	};
}

void http_router_dispatch(struct http_exchange *ex, void *ud)
{
	struct http_router *r = ud;
	const struct http_request *req = http_exchange_request(ex);
	const struct route *best = NULL;
	bool path_matched = false;
	size_t plen = strlen(req->path);

	for (unsigned i = 0; i < r->n; i++) {
		const struct route *rt = &r->routes[i];
		bool match = rt->prefix ? plen >= rt->len && memcmp(req->path, rt->pattern, rt->len) == 0
					: plen == rt->len && memcmp(req->path, rt->pattern, plen) == 0;
		if (!match)
			continue;
		path_matched = true;
		if (rt->method && !streq(rt->method, req->method) &&
		    !(streq(rt->method, "GET") && streq(req->method, "HEAD")))
			continue;
		/* Exact beats prefix; a longer prefix beats a shorter one. */
		if (!best || (!rt->prefix && best->prefix) ||
		    (rt->prefix == best->prefix && rt->len > best->len))
			best = rt;
	}
	if (best)
		best->fn(ex, best->ud);
	else if (path_matched)
		http_respond_text(ex, 405, "405 method not allowed");
	else
		http_respond_text(ex, 404, "404 page not found");
}
