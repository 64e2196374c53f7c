/* Splitting an API request into what it asks for. */
#include "apiserver/request.h"

#include "http/http.h"

#define MAX_SEGMENTS 16

int api_parse_bool(const char *s, bool *ret)
{
	static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
	static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		if (streq(s, t[i])) {
			*ret = true;
			return 0;
		}
		if (streq(s, f[i])) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

void api_request_clear(struct api_request *r)
{
	free(r->group);
	free(r->version);
	free(r->namespace);
	free(r->resource);
	free(r->name);
	free(r->subresource);
	free(r->label_selector);
	free(r->field_selector);
	free(r->resource_version);
	free(r->resource_version_match);
	free(r->continue_token);
	free(r->field_manager);
	free(r->field_validation);
	free(r->propagation_policy);
	*r = (struct api_request){0};
}

/* Split a path into decoded segments; empty segments (a trailing slash)
 * are dropped. */
static int split(const char *path, char **segs, unsigned *n)
{
	*n = 0;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (*n == MAX_SEGMENTS)
			return -EINVAL;
		char *s = http_unescape(p, len, false);
		if (!s)
			return -EINVAL;
		segs[(*n)++] = s;
		p += len;
	}
	return 0;
}

static int bad(char **errmsg, char *msg)
{
	if (errmsg)
		*errmsg = msg;
	else
		free(msg);
	return -EINVAL;
}

static int set_bool(const char *name, const char *v, bool *ret, char **errmsg)
{
	if (api_parse_bool(v, ret) == 0)
		return 0;
	if (errmsg)
		*errmsg = xasprintf("%s: strconv.ParseBool: parsing \"%s\": invalid syntax", name, v);
	return -EINVAL;
}

static int set_int(const char *name, const char *v, int64_t *ret, char **errmsg)
{
	if (parse_i64(v, strlen(v), ret) == 0)
		return 0;
	if (errmsg)
		*errmsg = xasprintf("%s: strconv.ParseInt: parsing \"%s\": invalid syntax", name, v);
	return -EINVAL;
}

static int parse_query(const char *query, struct api_request *r, char **errmsg)
{
	size_t pos = 0;
	char *name, *v;
	int q;

	while ((q = http_query_next(query, &pos, &name, &v)) != 0) {
		if (q < 0)
			return bad(errmsg, xstrdup("invalid query string"));
		int e = 0;
		char **str = NULL;
		if (streq(name, "labelSelector"))
			str = &r->label_selector;
		else if (streq(name, "fieldSelector"))
			str = &r->field_selector;
		else if (streq(name, "resourceVersion"))
			str = &r->resource_version;
		else if (streq(name, "resourceVersionMatch"))
			str = &r->resource_version_match;
		else if (streq(name, "continue"))
			str = &r->continue_token;
		else if (streq(name, "fieldManager"))
			str = &r->field_manager;
		else if (streq(name, "fieldValidation"))
			str = &r->field_validation;
		else if (streq(name, "propagationPolicy"))
			str = &r->propagation_policy;
		else if (streq(name, "limit"))
			e = set_int(name, v, &r->limit, errmsg);
		else if (streq(name, "timeoutSeconds")) {
			e = set_int(name, v, &r->timeout_seconds, errmsg);
			r->has_timeout = true;
		} else if (streq(name, "gracePeriodSeconds")) {
			e = set_int(name, v, &r->grace_period_seconds, errmsg);
			r->has_grace_period = true;
		} else if (streq(name, "watch")) {
			bool w;
			e = set_bool(name, v, &w, errmsg);
			r->watch |= w;
		} else if (streq(name, "allowWatchBookmarks"))
			e = set_bool(name, v, &r->allow_watch_bookmarks, errmsg);
		else if (streq(name, "sendInitialEvents")) {
			e = set_bool(name, v, &r->send_initial_events, errmsg);
			r->has_send_initial_events = true;
		} else if (streq(name, "force"))
			e = set_bool(name, v, &r->force, errmsg);
		else if (streq(name, "pretty"))
			e = set_bool(name, v, &r->pretty, errmsg);
		else if (streq(name, "orphanDependents")) {
			e = set_bool(name, v, &r->orphan_dependents, errmsg);
			r->has_orphan_dependents = true;
		} else if (streq(name, "dryRun")) {
			if (streq(v, "All"))
				r->dry_run = true;
			else if (*v)
				e = bad(errmsg, xasprintf("Invalid dry run value: \"%s\"", v));
		}
		if (str) {
			free(*str);
			*str = TAKE_PTR(v);
		}
		free(name);
		free(v);
		if (e < 0)
			return e;
	}
	return 0;
}

/* namespaces/{ns}/{resource}[/{name}[/{sub}]], or {resource}[/{name}[/{sub}]],
 * after the group version. */
static int parse_resource(char **s, unsigned n, struct api_request *r, char **errmsg)
{
	unsigned i = 0;

	if (i < n && streq(s[i], "watch")) {
		/* The old /watch/ form of a watch. */
		r->watch = true;
		i++;
	}
	if (n - i >= 3 && streq(s[i], "namespaces") &&
	    !(n - i == 3 && (streq(s[i + 2], "status") || streq(s[i + 2], "finalize")))) {
		r->namespace = xstrdup(s[i + 1]);
		i += 2;
	}
	if (i == n)
		return -ENOENT;
	r->resource = xstrdup(s[i++]);
	if (i < n)
		r->name = xstrdup(s[i++]);
	if (i < n)
		r->subresource = xstrdup(s[i++]);
	if (i < n && !(r->subresource && streq(r->subresource, "proxy")))
		return -ENOENT;
	for (const char *p = r->namespace; p; p = NULL)
		if (streq(p, ".") || streq(p, ".."))
			return bad(errmsg, xasprintf("namespace may not be %s", p));
	if (r->name && (streq(r->name, ".") || streq(r->name, "..")))
		return bad(errmsg, xasprintf("name may not be %s", r->name));
	return 0;
}

int api_request_parse(const char *method, const char *path, const char *query,
		      struct api_request *r, char **errmsg)
{
	char *segs[MAX_SEGMENTS];
	unsigned n = 0;
	int e;

	*r = (struct api_request){0};
	if (split(path, segs, &n) < 0) {
		for (unsigned i = 0; i < n; i++)
			free(segs[i]);
		return -ENOENT;
	}
	e = -ENOENT;
	if (n >= 1 && streq(segs[0], "api")) {
		r->group = xstrdup("");
		if (n == 1) {
			r->kind = PATH_API_ROOT;
			e = 0;
		} else {
			r->version = xstrdup(segs[1]);
			r->kind = n == 2 ? PATH_GROUP_VERSION : PATH_RESOURCE;
			e = n == 2 ? 0 : parse_resource(segs + 2, n - 2, r, errmsg);
		}
	} else if (n >= 1 && streq(segs[0], "apis")) {
		if (n == 1) {
			r->kind = PATH_APIS_ROOT;
			e = 0;
		} else {
			r->group = xstrdup(segs[1]);
			if (n == 2) {
				r->kind = PATH_GROUP;
				e = 0;
			} else {
				r->version = xstrdup(segs[2]);
				r->kind = n == 3 ? PATH_GROUP_VERSION : PATH_RESOURCE;
				e = n == 3 ? 0 : parse_resource(segs + 3, n - 3, r, errmsg);
			}
		}
	}
	for (unsigned i = 0; i < n; i++)
		free(segs[i]);
	if (e == 0)
		e = parse_query(query ? query : "", r, errmsg);
	if (e < 0) {
		api_request_clear(r);
		return e;
	}
	if (r->kind != PATH_RESOURCE)
		return 0;
	if (streq(method, "GET") || streq(method, "HEAD"))
		r->verb = r->watch ? VERB_WATCH : r->name ? VERB_GET : VERB_LIST;
	else if (streq(method, "POST"))
		r->verb = VERB_CREATE;
	else if (streq(method, "PUT"))
		r->verb = VERB_UPDATE;
	else if (streq(method, "PATCH"))
		r->verb = VERB_PATCH;
	else if (streq(method, "DELETE"))
		r->verb = r->name ? VERB_DELETE : VERB_DELETECOLLECTION;
	return 0;
}
