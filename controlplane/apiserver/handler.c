/* The request pipeline: parse, authenticate, limit, negotiate the
 * encoding, find the resource, and hand the verb to rest.c or watch.c. */
#include "apiserver/internal.h"

#include <stdio.h>

#include "apiserver/protobuf.h"

#ifdef KELP_HAVE_OPENAPI
#include "apiserver/openapi/openapi.h"
#define HAVE_OPENAPI 1
#endif

static const char *const json_types[] = {"application/json", "application/yaml",
					 "application/vnd.kubernetes.protobuf"};

void req_free(struct req *q)
{
	if (!q)
		return;
	api_request_clear(&q->r);
	free(q->user.name);
	free(q->user.uid);
	for (size_t i = 0; i < q->user.ngroups; i++)
		free(q->user.groups[i]);
	free(q->user.groups);
	json_decref(q->body);
	free(q->key);
	free(q);
}

static const char *verb_name(const struct req *q)
{
	static const char *const names[] = {"", "GET", "LIST", "WATCH", "POST", "PUT", "PATCH",
					    "DELETE", "DELETECOLLECTION"};
	return names[q->r.verb];
}

/* Account for the request and free it. */
static void req_done(struct req *q)
{
	struct apiserver *a = q->a;
	char code[8];

	snprintf(code, sizeof(code), "%d", q->code);
	const char *resource = q->res ? q->res->kind->plural : "";
	metric_inc(metric_with(a->m_requests, verb_name(q), resource, code));
	metric_observe(metric_with(a->m_duration, verb_name(q), resource),
		       (double)(now_mono_ns() - q->start_ns) / 1e9);
	if (q->mutating)
		a->inflight_mutating--;
	else
		a->inflight_read--;
	log_debug(a->log, "request", LOG_S("verb", verb_name(q)),
		  LOG_S("path", http_exchange_request(q->ex)->path), LOG_I("code", q->code),
		  LOG_S("user", q->user.name ? q->user.name : ""));
	req_free(q);
}

static void respond_json(struct req *q, int code, const json_t *v, const char *ctype)
{
	struct buf b = {0};

	api_json_dump(v, &b);
	buf_putc(&b, '\n');
	q->code = code;
	http_respond(q->ex, code, ctype, b.data, b.len);
	buf_free(&b);
}

void req_respond_status(struct req *q, json_t *status)
{
	int code = api_status_code(status);
	respond_json(q, code ? code : 500, status, "application/json");
	json_decref(status);
	req_done(q);
}

void req_set_type(const struct req *q, json_t *obj)
{
	json_object_set_new(obj, "kind", json_string(q->res->kind->kind));
	json_object_set_new(obj, "apiVersion", json_string(q->res->api_version));
}

static bool is_list(const json_t *obj)
{
	const char *kind = api_obj_kind(obj);
	return kind && str_has_suffix(kind, "List");
}

void req_respond_object(struct req *q, int code, json_t *obj)
{
	if (q->enc == ENC_TABLE && q->res) {
#ifdef HAVE_OPENAPI
		json_t *items = is_list(obj) ? json_object_get(obj, "items") : NULL;
		size_t n = items ? json_array_size(items) : 1;
		json_t **objs = xnew(json_t *, n);
		for (size_t i = 0; i < n; i++)
			objs[i] = items ? json_array_get(items, i) : obj;
		json_t *t = table_build(q->res->kind, objs, n, api_get_str(obj, "metadata.resourceVersion"),
					api_get_str(obj, "metadata.continue"), q->table_with_object);
		free(objs);
		if (t) {
			respond_json(q, code, t, "application/json;as=Table;v=v1;g=meta.k8s.io");
			json_decref(t);
			json_decref(obj);
			req_done(q);
			return;
		}
#endif
	}
	if (q->enc == ENC_PROTOBUF && q->res) {
		const struct sch_type *t = is_list(obj) ? q->res->kind->list_type : q->res->kind->type;
		struct buf pb = {0}, out = {0};
		if (pb_encode(t, obj, &pb, NULL) == 0) {
			pb_wrap(q->res->api_version, t->name, pb.data, pb.len, &out);
			q->code = code;
			http_respond(q->ex, code, PB_CONTENT_TYPE, out.data, out.len);
			buf_free(&pb);
			buf_free(&out);
			json_decref(obj);
			req_done(q);
			return;
		}
		buf_free(&pb);
	}
	respond_json(q, code, obj, "application/json");
	json_decref(obj);
	req_done(q);
}

void req_fail_store(struct req *q, int err, const char *name)
{
	const char *group = q->res ? q->res->kind->group : "";
	const char *resource = q->res ? q->res->kind->plural : "";

	switch (err) {
	case -ENOENT:
		req_respond_status(q, api_status_not_found(group, resource, name));
		return;
	case -EEXIST:
		req_respond_status(q, api_status_already_exists(group, resource, name));
		return;
	case -ESTALE:
		req_respond_status(q, api_status_expired(store_strerror(err)));
		return;
	case -E2BIG:
		req_respond_status(q, api_status_request_entity_too_large(STORE_MAX_REQUEST_BYTES));
		return;
	case -ETIMEDOUT:
	case -ENOTCONN:
		req_respond_status(q, api_status_server_timeout(group, resource, verb_name(q), 1));
		return;
	default:
		req_respond_status(q, api_status_internal_error(store_strerror(err)));
	}
}

/* --- content negotiation --- */

/* Pick the response encoding from Accept: a Table when asked (and we
 * can), JSON by preference, protobuf when it is all the client takes. */
static int negotiate(struct req *q)
{
	const char *accept = http_request_header(http_exchange_request(q->ex), "accept");
	bool json = false, pb = false, table = false;

	if (!accept || !*accept)
		return 0;
	_cleanup_free_ char *copy = xstrdup(accept);
	for (char *save = NULL, *m = strtok_r(copy, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
		while (*m == ' ')
			m++;
		bool as_table = strstr(m, "as=Table") && strstr(m, "g=meta.k8s.io") &&
				(strstr(m, "v=v1;") || str_has_suffix(m, "v=v1") || strstr(m, "v=v1 "));
		if (str_has_prefix(m, "application/json") && as_table)
			table = true;
		else if (str_has_prefix(m, "application/json") && !strstr(m, "as="))
			json = true;
		else if (str_has_prefix(m, PB_CONTENT_TYPE) && !strstr(m, "as="))
			pb = true;
		else if (str_has_prefix(m, "*/*") || str_has_prefix(m, "application/*"))
			json = true;
		else if (str_has_prefix(m, "application/yaml"))
			json = true; /* answered in JSON, which is YAML */
	}
#ifdef HAVE_OPENAPI
	if (table && q->r.verb != VERB_WATCH) {
		q->enc = ENC_TABLE;
		q->table_with_object = strstr(http_exchange_request(q->ex)->query, "includeObject=Object") != NULL;
		return 0;
	}
#else
	(void)table;
#endif
	if (json)
		q->enc = ENC_JSON;
	else if (pb)
		q->enc = ENC_PROTOBUF;
	else
		return -1;
	return 0;
}

/* --- discovery, OpenAPI, version --- */

static void respond_plain_json(struct req *q, json_t *v, const char *ctype)
{
	if (!v) {
		req_respond_status(q, api_status_failure(404, "NotFound",
							"the server could not find the requested resource"));
		return;
	}
	respond_json(q, 200, v, ctype);
	json_decref(v);
	req_done(q);
}

_unused_ static bool wants_aggregated(const struct req *q)
{
	const char *accept = http_request_header(http_exchange_request(q->ex), "accept");
	return accept && strstr(accept, "as=APIGroupDiscoveryList") && strstr(accept, "v=v2");
}

static void serve_discovery(struct req *q)
{
#ifdef HAVE_OPENAPI
	static const char aggregated[] =
		"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
	switch (q->r.kind) {
	case PATH_API_ROOT:
		if (wants_aggregated(q))
			respond_plain_json(q, discovery_aggregated(true), aggregated);
		else
			respond_plain_json(q, discovery_api_versions(q->a->server_address), "application/json");
		return;
	case PATH_APIS_ROOT:
		if (wants_aggregated(q))
			respond_plain_json(q, discovery_aggregated(false), aggregated);
		else
			respond_plain_json(q, discovery_group_list(), "application/json");
		return;
	case PATH_GROUP:
		respond_plain_json(q, discovery_group(q->r.group), "application/json");
		return;
	case PATH_GROUP_VERSION:
		respond_plain_json(q, discovery_resource_list(q->r.group, q->r.version),
				   "application/json");
		return;
	default:
		break;
	}
#endif
	respond_plain_json(q, NULL, NULL);
}

/* --- the entry point --- */

static bool authenticate(struct req *q);

static void dispatch(struct req *q)
{
	struct api_request *r = &q->r;
	const struct resource *res = q->res;
	const struct sch_kind *k = res->kind;

	if (k->namespaced && !r->namespace && r->name && !(streq(k->plural, "namespaces"))) {
		req_respond_status(q, api_status_failure(404, "NotFound",
							"the server could not find the requested resource"));
		return;
	}
	if (!k->namespaced && r->namespace) {
		req_respond_status(q, api_status_failure(404, "NotFound",
							"the server could not find the requested resource"));
		return;
	}
	if (r->subresource) {
		bool served = false;
		for (const char *const *s = k->subresources; s && *s; s++)
			served |= streq(*s, r->subresource);
		if (served && streq(r->subresource, "scale")) {
			scale_serve(q);
			return;
		}
		if (served && streq(r->subresource, "binding") && streq(k->kind, "Pod")) {
			binding_serve(q);
			return;
		}
		if (served && streq(r->subresource, "eviction") && streq(k->kind, "Pod")) {
			eviction_serve(q);
			return;
		}
		if (!served || !streq(r->subresource, "status")) {
			/* binding, eviction, log, exec... come with their handlers. */
			req_respond_status(q, api_status_failure(
						      404, "NotFound",
						      "the server could not find the requested resource"));
			return;
		}
	}
	if (!*k->group && streq(k->kind, "Binding")) {
		binding_serve(q);
		return;
	}
	switch (r->verb) {
	case VERB_GET:
		rest_get(q);
		return;
	case VERB_LIST:
		rest_list(q);
		return;
	case VERB_WATCH:
		watch_serve(q);
		return;
	case VERB_CREATE:
		if (r->name && !r->subresource) {
			req_respond_status(q, api_status_method_not_supported(k->group, k->plural, "create"));
			return;
		}
		rest_create(q);
		return;
	case VERB_UPDATE:
		if (!r->name) {
			req_respond_status(q, api_status_method_not_supported(k->group, k->plural, "update"));
			return;
		}
		rest_update(q);
		return;
	case VERB_PATCH:
		if (!r->name) {
			req_respond_status(q, api_status_method_not_supported(k->group, k->plural, "patch"));
			return;
		}
		rest_patch(q);
		return;
	case VERB_DELETE:
		rest_delete(q);
		return;
	case VERB_DELETECOLLECTION:
		rest_deletecollection(q);
		return;
	case VERB_NONE:
		break;
	}
	req_respond_status(q, api_status_failure(405, "MethodNotAllowed",
						"the server does not allow this method on the requested resource"));
}

static void api_handler(struct http_exchange *ex, void *ud)
{
	struct apiserver *a = ud;
	const struct http_request *hr = http_exchange_request(ex);
	struct req *q = xnew(struct req, 1);
	char *err = NULL;

	q->a = a;
	q->ex = ex;
	q->start_ns = now_mono_ns();
	q->mutating = !streq(hr->method, "GET") && !streq(hr->method, "HEAD");
	if (q->mutating)
		a->inflight_mutating++;
	else
		a->inflight_read++;

	int r = api_request_parse(hr->method, hr->path, hr->query, &q->r, &err);
	if (r < 0) {
		json_t *st = r == -EINVAL ? api_status_bad_request(err)
					  : api_status_failure(404, "NotFound",
							       "the server could not find the requested resource");
		free(err);
		req_respond_status(q, st);
		return;
	}
	if (!authenticate(q))
		return;
	unsigned limit = q->mutating ? a->cfg.max_inflight_mutating : a->cfg.max_inflight_read;
	if ((q->mutating ? a->inflight_mutating : a->inflight_read) > limit &&
	    q->r.verb != VERB_WATCH) {
		http_response_header(ex, "Retry-After", "1");
		req_respond_status(q, api_status_too_many_requests(
					      "Too many requests, please try again later.", 1));
		return;
	}
	if (q->r.kind != PATH_RESOURCE) {
		serve_discovery(q);
		return;
	}
	q->res = resource_find(a, q->r.group, q->r.version, q->r.resource);
	if (!q->res) {
		req_respond_status(q, api_status_failure(404, "NotFound",
							"the server could not find the requested resource"));
		return;
	}
	if (negotiate(q) < 0) {
		req_respond_status(q, api_status_not_acceptable(json_types, ARRAY_SIZE(json_types)));
		return;
	}
	dispatch(q);
}

/* --- authentication: client certificates and static tokens --- */

struct token {
	char *token;
	char *user;
	char *uid;
	char **groups;
	size_t ngroups;
};

static void user_set(struct user *u, const char *name, const char *uid)
{
	free(u->name);
	free(u->uid);
	u->name = xstrdup(name);
	u->uid = xstrdup(uid ? uid : "");
}

static void user_add_group(struct user *u, const char *g)
{
	u->groups = xrealloc(u->groups, (u->ngroups + 1) * sizeof(char *));
	u->groups[u->ngroups++] = xstrdup(g);
}

static bool authenticate(struct req *q)
{
	struct apiserver *a = q->a;
	X509 *cert = http_exchange_peer_cert(q->ex);
	const char *authz = http_request_header(http_exchange_request(q->ex), "authorization");

	if (cert) {
		/* Kubernetes reads the user from CN and the groups from O. */
		X509_NAME *subj = X509_get_subject_name(cert);
		char buf[256];
		if (X509_NAME_get_text_by_NID(subj, NID_commonName, buf, sizeof(buf)) > 0) {
			user_set(&q->user, buf, NULL);
			int idx = -1;
			while ((idx = X509_NAME_get_index_by_NID(subj, NID_organizationName, idx)) >= 0) {
				ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, idx));
				unsigned char *utf8 = NULL;
				if (ASN1_STRING_to_UTF8(&utf8, s) >= 0) {
					user_add_group(&q->user, (const char *)utf8);
					OPENSSL_free(utf8);
				}
			}
			user_add_group(&q->user, "system:authenticated");
			return true;
		}
	}
	if (authz && str_has_prefix(authz, "Bearer ")) {
		const char *tok = authz + 7;
		for (size_t i = 0; i < a->ntokens; i++) {
			if (streq(a->tokens[i].token, tok)) {
				user_set(&q->user, a->tokens[i].user, a->tokens[i].uid);
				for (size_t g = 0; g < a->tokens[i].ngroups; g++)
					user_add_group(&q->user, a->tokens[i].groups[g]);
				user_add_group(&q->user, "system:authenticated");
				return true;
			}
		}
		req_respond_status(q, api_status_unauthorized("Unauthorized"));
		return false;
	}
	if (a->cfg.anonymous_admin) {
		user_set(&q->user, "system:anonymous", NULL);
		user_add_group(&q->user, "system:unauthenticated");
		return true;
	}
	req_respond_status(q, api_status_unauthorized("Unauthorized"));
	return false;
}

/* A CSV line: token,user,uid,"group1,group2" */
static int token_parse_line(char *line, struct token *t)
{
	char *fields[4] = {0};
	int n = 0;
	char *p = line;
	while (n < 4 && *p) {
		if (*p == '"') {
			char *e = strchr(p + 1, '"');
			if (!e)
				return -EINVAL;
			*e = '\0';
			fields[n++] = p + 1;
			p = e + 1;
			if (*p == ',')
				p++;
		} else {
			char *e = strchr(p, ',');
			fields[n++] = p;
			if (!e)
				break;
			*e = '\0';
			p = e + 1;
		}
	}
	if (n < 3 || !*fields[0] || !*fields[1])
		return -EINVAL;
	*t = (struct token){.token = xstrdup(fields[0]), .user = xstrdup(fields[1]),
			    .uid = xstrdup(fields[2])};
	if (n == 4) {
		for (char *save = NULL, *g = strtok_r(fields[3], ",", &save); g;
		     g = strtok_r(NULL, ",", &save)) {
			t->groups = xrealloc(t->groups, (t->ngroups + 1) * sizeof(char *));
			t->groups[t->ngroups++] = xstrdup(g);
		}
	}
	return 0;
}

int handler_load_tokens(struct apiserver *a, const char *path)
{
	struct buf b = {0};
	int r = read_file(path, 16 << 20, &b);
	if (r < 0)
		return r;
	for (char *save = NULL, *line = strtok_r(b.data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct token t;
		if (!*line || *line == '#')
			continue;
		if (token_parse_line(line, &t) < 0) {
			log_warn(a->log, "skipping a malformed token file line", LOG_S("file", path));
			continue;
		}
		a->tokens = xrealloc(a->tokens, (a->ntokens + 1) * sizeof(*a->tokens));
		a->tokens[a->ntokens++] = t;
	}
	buf_free(&b);
	return 0;
}

void handler_free_tokens(struct apiserver *a)
{
	for (size_t i = 0; i < a->ntokens; i++) {
		struct token *t = &a->tokens[i];
		free(t->token);
		free(t->user);
		free(t->uid);
		for (size_t g = 0; g < t->ngroups; g++)
			free(t->groups[g]);
		free(t->groups);
	}
	free(a->tokens);
	a->tokens = NULL;
	a->ntokens = 0;
}

/* --- OpenAPI and version --- */

static void openapi_handler(struct http_exchange *ex, void *ud)
{
#ifdef HAVE_OPENAPI
	struct apiserver *a = ud;
	const struct http_request *hr = http_exchange_request(ex);
	const char *path = hr->path, *body = NULL, *hash = NULL;
	size_t len = 0;
	int r = -ENOENT;

	if (!a->openapi)
		a->openapi = openapi_docs_new();
	if (streq(path, "/openapi/v3") || streq(path, "/openapi/v3/")) {
		r = openapi_docs_v3(a->openapi, "", &body, &len, &hash);
	} else if (str_has_prefix(path, "/openapi/v3/")) {
		r = openapi_docs_v3(a->openapi, path + strlen("/openapi/v3/"), &body, &len, &hash);
	} else if (streq(path, "/openapi/v2")) {
		/* kubectl asks for protobuf here and falls back to v3 on a 406. */
		const char *accept = http_request_header(hr, "accept");
		if (accept && !strstr(accept, "application/json") && !strstr(accept, "*/*")) {
			http_respond_text(ex, 406, "only application/json is served here");
			return;
		}
		r = openapi_docs_v2(a->openapi, &body, &len, &hash);
	}
	if (r < 0) {
		http_respond_text(ex, 404, "404 page not found");
		return;
	}
	_cleanup_free_ char *etag = xasprintf("\"%s\"", hash);
	const char *inm = http_request_header(hr, "if-none-match");
	http_response_header(ex, "ETag", etag);
	if (inm && streq(inm, etag)) {
		http_respond(ex, 304, NULL, NULL, 0);
		return;
	}
	http_respond(ex, 200, "application/json", body, len);
#else
	http_respond_text(ex, 404, "404 page not found");
#endif
}

void apiserver_route(struct apiserver *a, struct http_router *rt)
{
	http_router_add(rt, NULL, "/api", api_handler, a);
	http_router_add(rt, NULL, "/api/*", api_handler, a);
	http_router_add(rt, NULL, "/apis", api_handler, a);
	http_router_add(rt, NULL, "/apis/*", api_handler, a);
	http_router_add(rt, "GET", "/openapi/*", openapi_handler, a);
}
