/* The paths of an OpenAPI document: every operation each served kind
 * answers (list, create, read, replace, patch, delete, watch and the
 * subresources), with kube-apiserver's operation ids, query parameters,
 * media types and x-kubernetes-action / x-kubernetes-group-version-kind. */
#include <ctype.h>
#include <stdio.h>

#include "apiserver/openapi/internal.h"

struct pctx {
	enum oa_flavor fl;
	json_t *paths, *schemas;
	const struct sch_kind *k;
	char prefix[160]; /* "/api/v1" */
	char opgv[96];    /* "CoreV1", "RbacAuthorizationV1" */
	char tag[160];    /* "core_v1", "rbacAuthorization_v1" */
	char scope[16];   /* "Namespaced" or "" */
	/* the schemas every kind uses */
	char kind_schema[256], list_schema[256], status[256], delete_options[256];
	const char *patch, *watch_event;
};

/* ---- parameters ---- */

enum ptype { P_STRING, P_BOOL, P_INT };

static const struct param {
	const char *name;
	enum ptype type;
	const char *desc;
} params[] = {
	{"allowWatchBookmarks", P_BOOL,
	 "Ask for BOOKMARK events carrying only a resourceVersion; servers may ignore it."},
	{"command", P_STRING, "The command to run, one argv element per parameter."},
	{"container", P_STRING,
	 "The container to use; defaults to the only container when there is one."},
	{"continue", P_STRING,
	 "The token from metadata.continue of a previous page, to read the next one."},
	{"dryRun", P_STRING, "All: run every stage of the request without persisting anything."},
	{"fieldManager", P_STRING,
	 "Name of the actor making the change, recorded in managedFields; required for apply."},
	{"fieldSelector", P_STRING,
	 "Restrict the objects by their fields, such as metadata.name=x; everything by default."},
	{"fieldValidation", P_STRING,
	 "What to do with unknown or duplicate fields in the body: Ignore, Warn (the default) or "
	 "Strict (refuse the request)."},
	{"follow", P_BOOL, "Stream the log as it grows."},
	{"force", P_BOOL, "Take over fields other managers own; only for apply patches."},
	{"gracePeriodSeconds", P_INT,
	 "Seconds before the object is removed; 0 removes it at once; unset uses the kind's "
	 "default."},
	{"ignoreStoreReadErrorWithClusterBreakingPotential", P_BOOL,
	 "Delete an object that can no longer be read from storage, skipping finalizers and "
	 "preconditions."},
	{"insecureSkipTLSVerifyBackend", P_BOOL,
	 "Do not verify the serving certificate of the node when reading the log."},
	{"labelSelector", P_STRING,
	 "Restrict the objects by their labels, such as app=web,tier!=db; everything by default."},
	{"limit", P_INT, "The most objects to return; metadata.continue then points at the rest."},
	{"limitBytes", P_INT, "Stop the log after this many bytes."},
	{"orphanDependents", P_BOOL, "Deprecated: use propagationPolicy Orphan."},
	{"ports", P_INT, "The ports to forward to."},
	{"pretty", P_STRING, "When true, indent the output."},
	{"previous", P_BOOL, "Read the log of the previous, terminated container."},
	{"propagationPolicy", P_STRING,
	 "What happens to dependents: Orphan, Background or Foreground."},
	{"resourceVersion", P_STRING,
	 "Which version of the data to serve; see resourceVersionMatch. Unset: the most recent."},
	{"resourceVersionMatch", P_STRING,
	 "How resourceVersion applies to a list: Exact or NotOlderThan."},
	{"sendInitialEvents", P_BOOL,
	 "With watch: start with ADDED events for the current state, then a bookmark."},
	{"sinceSeconds", P_INT, "Only the log lines of the last N seconds."},
	{"stderr", P_BOOL, "Attach the standard error stream."},
	{"stdin", P_BOOL, "Attach the standard input stream."},
	{"stdout", P_BOOL, "Attach the standard output stream."},
	{"stream", P_STRING, "Which log stream to read: All, Stdout or Stderr."},
	{"tailLines", P_INT, "Only the last N lines of the log."},
	{"timeoutSeconds", P_INT, "End a list or watch after this many seconds."},
	{"timestamps", P_BOOL, "Prefix every log line with an RFC 3339 timestamp."},
	{"tty", P_BOOL, "Allocate a terminal for the command."},
	{"watch", P_BOOL,
	 "Stream changes (ADDED, MODIFIED, DELETED) after the list instead of the list."},
};

static const char *const LIST_P[] = {"allowWatchBookmarks", "continue", "fieldSelector",
				     "labelSelector", "limit", "resourceVersion",
				     "resourceVersionMatch", "sendInitialEvents",
				     "timeoutSeconds", "watch", NULL};
static const char *const WRITE_P[] = {"dryRun", "fieldManager", "fieldValidation", NULL};
static const char *const PATCH_P[] = {"dryRun", "fieldManager", "fieldValidation", "force", NULL};
static const char *const DELETE_P[] = {"dryRun", "gracePeriodSeconds",
				       "ignoreStoreReadErrorWithClusterBreakingPotential",
				       "orphanDependents", "propagationPolicy", NULL};
static const char *const DELETECOLL_P[] = {
	"continue", "dryRun", "fieldSelector", "gracePeriodSeconds",
	"ignoreStoreReadErrorWithClusterBreakingPotential", "labelSelector", "limit",
	"orphanDependents", "propagationPolicy", "resourceVersion", "resourceVersionMatch",
	"sendInitialEvents", "timeoutSeconds", NULL};
static const char *const LOG_P[] = {"container", "follow", "insecureSkipTLSVerifyBackend",
				    "limitBytes", "previous", "sinceSeconds", "stream",
				    "tailLines", "timestamps", NULL};
static const char *const EXEC_P[] = {"command", "container", "stderr", "stdin", "stdout", "tty",
				     NULL};
static const char *const ATTACH_P[] = {"container", "stderr", "stdin", "stdout", "tty", NULL};
static const char *const PORTFORWARD_P[] = {"ports", NULL};
static const char *const PROXY_P[] = {"path", NULL};
static const char *const NO_P[] = {NULL};

static json_t *param_schema(struct pctx *c, json_t *p, enum ptype type)
{
	static const char *const names[] = {[P_STRING] = "string", [P_BOOL] = "boolean",
					    [P_INT] = "integer"};
	json_t *s = c->fl == OA_V3 ? json_object() : p;

	json_object_set_new(s, "type", json_string(names[type]));
	json_object_set_new(s, "uniqueItems", json_true());
	if (c->fl == OA_V3)
		json_object_set_new(p, "schema", s);
	return p;
}

static json_t *query_param(struct pctx *c, const char *name)
{
	json_t *p = json_object();

	for (size_t i = 0; i < ARRAY_SIZE(params); i++) {
		if (!streq(params[i].name, name))
			continue;
		json_object_set_new(p, "description", json_string(params[i].desc));
		json_object_set_new(p, "in", json_string("query"));
		json_object_set_new(p, "name", json_string(name));
		return param_schema(c, p, params[i].type);
	}
	/* "path" for proxy, the only query parameter not in the table */
	json_object_set_new(p, "description", json_string("The path to proxy to."));
	json_object_set_new(p, "in", json_string("query"));
	json_object_set_new(p, "name", json_string(name));
	return param_schema(c, p, P_STRING);
}

static json_t *path_param(struct pctx *c, const char *name, const char *desc)
{
	json_t *p = json_object();

	json_object_set_new(p, "description", json_string(desc));
	json_object_set_new(p, "in", json_string("path"));
	json_object_set_new(p, "name", json_string(name));
	json_object_set_new(p, "required", json_true());
	return param_schema(c, p, P_STRING);
}

/* ---- operations ---- */

enum media { M_OBJ, M_LIST, M_TEXT, M_ANY, M_PATCH };

static const char *const media_types[][6] = {
	[M_OBJ] = {"application/json", "application/vnd.kubernetes.protobuf", "application/yaml"},
	[M_LIST] = {"application/json", "application/json;stream=watch",
		    "application/vnd.kubernetes.protobuf",
		    "application/vnd.kubernetes.protobuf;stream=watch", "application/yaml"},
	[M_TEXT] = {"text/plain"},
	[M_ANY] = {"*/*"},
	[M_PATCH] = {"application/apply-patch+yaml", "application/json-patch+json",
		     "application/merge-patch+json", "application/strategic-merge-patch+json"},
};

static json_t *media_array(enum media m)
{
	json_t *a = json_array();

	for (size_t i = 0; i < ARRAY_SIZE(media_types[m]) && media_types[m][i]; i++)
		json_array_append_new(a, json_string(media_types[m][i]));
	return a;
}

/* A schema: a ref to a named schema, or {"type":"string"} when name is NULL. */
static json_t *schema_for(struct pctx *c, const char *name)
{
	if (!name) {
		json_t *s = json_object();
		json_object_set_new(s, "type", json_string("string"));
		return s;
	}
	return oa_ref(c->fl, name);
}

static json_t *op_new(struct pctx *c, const char *opid, const char *desc, const char *action,
		      const char *const *qparams)
{
	json_t *o = json_object(), *ps = json_array(), *tags = json_array();

	json_object_set_new(o, "description", json_string(desc));
	json_object_set_new(o, "operationId", json_string(opid));
	for (; *qparams; qparams++)
		json_array_append_new(ps, query_param(c, *qparams));
	json_object_set_new(o, "parameters", ps);
	json_array_append_new(tags, json_string(c->tag));
	json_object_set_new(o, "tags", tags);
	json_object_set_new(o, "x-kubernetes-action", json_string(action));
	json_object_set_new(o, "responses", json_object());
	if (c->fl == OA_V2) {
		json_object_set_new(o, "consumes", media_array(M_ANY));
		json_t *schemes = json_array();
		json_array_append_new(schemes, json_string("https"));
		json_object_set_new(o, "schemes", schemes);
	}
	return o;
}

static void op_gvk(json_t *o, const char *group, const char *version, const char *kind)
{
	json_t *g = json_object();

	json_object_set_new(g, "group", json_string(group));
	json_object_set_new(g, "kind", json_string(kind));
	json_object_set_new(g, "version", json_string(version));
	json_object_set_new(o, "x-kubernetes-group-version-kind", g);
}

static void op_response(struct pctx *c, json_t *o, const char *code, const char *desc,
			const char *schema, enum media m)
{
	json_t *r = json_object();

	json_object_set_new(r, "description", json_string(desc));
	if (c->fl == OA_V3) {
		json_t *content = json_object();
		for (size_t i = 0; i < ARRAY_SIZE(media_types[m]) && media_types[m][i]; i++) {
			json_t *mt = json_object();
			json_object_set_new(mt, "schema", schema_for(c, schema));
			json_object_set_new(content, media_types[m][i], mt);
		}
		json_object_set_new(r, "content", content);
	} else {
		json_object_set_new(r, "schema", schema_for(c, schema));
		json_object_set_new(o, "produces", media_array(m));
	}
	json_object_set_new(json_object_get(o, "responses"), code, r);
}

static void op_unauthorized(json_t *o)
{
	json_t *r = json_object();

	json_object_set_new(r, "description", json_string("Unauthorized"));
	json_object_set_new(json_object_get(o, "responses"), "401", r);
}

static void op_body(struct pctx *c, json_t *o, const char *schema, enum media m, bool required)
{
	if (c->fl == OA_V3) {
		json_t *body = json_object(), *content = json_object();
		for (size_t i = 0; i < ARRAY_SIZE(media_types[m]) && media_types[m][i]; i++) {
			json_t *mt = json_object();
			json_object_set_new(mt, "schema", schema_for(c, schema));
			json_object_set_new(content, media_types[m][i], mt);
		}
		json_object_set_new(body, "content", content);
		if (required)
			json_object_set_new(body, "required", json_true());
		json_object_set_new(o, "requestBody", body);
		return;
	}
	json_t *p = json_object();
	json_object_set_new(p, "in", json_string("body"));
	json_object_set_new(p, "name", json_string("body"));
	if (required)
		json_object_set_new(p, "required", json_true());
	json_object_set_new(p, "schema", schema_for(c, schema));
	json_array_insert_new(json_object_get(o, "parameters"), 0, p);
	json_object_set_new(o, "consumes", media_array(m));
}

/* The path item for path, created with its path-level parameters. */
static json_t *path_item(struct pctx *c, const char *path, bool name, const char *extra)
{
	json_t *item = json_object_get(c->paths, path);
	char desc[160];

	if (item)
		return item;
	item = json_object();
	json_t *ps = json_array();
	if (name) {
		snprintf(desc, sizeof(desc), "name of the %s", c->k->kind);
		json_array_append_new(ps, path_param(c, "name", desc));
	}
	if (c->k->namespaced && strstr(path, "{namespace}"))
		json_array_append_new(ps, path_param(c, "namespace",
						     "object name and auth scope, such as for "
						     "teams and projects"));
	if (extra)
		json_array_append_new(ps, path_param(c, extra, "path to the resource"));
	json_array_append_new(ps, query_param(c, "pretty"));
	json_object_set_new(item, "parameters", ps);
	json_object_set_new(c->paths, path, item);
	return item;
}

static bool has_verb(const struct sch_kind *k, const char *verb)
{
	for (const char *const *v = k->verbs; v && *v; v++)
		if (streq(*v, verb))
			return true;
	return false;
}

static void type_name(struct pctx *c, const struct sch_type *t, char *out, size_t cap)
{
	oa_add_type(c->schemas, c->fl, t);
	oa_type_name(t, out, cap);
}

/* ---- the main resource ---- */

static void add_collection(struct pctx *c, const char *base)
{
	const struct sch_kind *k = c->k;
	char id[256], desc[256];

	if (has_verb(k, "list")) {
		snprintf(id, sizeof(id), "list%s%s%s", c->opgv, c->scope, k->kind);
		snprintf(desc, sizeof(desc), "list or watch objects of kind %s", k->kind);
		json_t *o = op_new(c, id, desc, "list", LIST_P);
		op_response(c, o, "200", "OK", c->list_schema, M_LIST);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, k->kind);
		json_object_set_new(path_item(c, base, false, NULL), "get", o);
	}
	if (has_verb(k, "create")) {
		snprintf(id, sizeof(id), "create%s%s%s", c->opgv, c->scope, k->kind);
		snprintf(desc, sizeof(desc), "create a %s", k->kind);
		json_t *o = op_new(c, id, desc, "post", WRITE_P);
		op_body(c, o, c->kind_schema, M_ANY, true);
		op_response(c, o, "200", "OK", c->kind_schema, M_OBJ);
		op_response(c, o, "201", "Created", c->kind_schema, M_OBJ);
		op_response(c, o, "202", "Accepted", c->kind_schema, M_OBJ);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, k->kind);
		json_object_set_new(path_item(c, base, false, NULL), "post", o);
	}
	if (has_verb(k, "deletecollection")) {
		snprintf(id, sizeof(id), "delete%sCollection%s%s", c->opgv, c->scope, k->kind);
		snprintf(desc, sizeof(desc), "delete collection of %s", k->kind);
		json_t *o = op_new(c, id, desc, "deletecollection", DELETECOLL_P);
		op_body(c, o, c->delete_options, M_ANY, false);
		op_response(c, o, "200", "OK", c->status, M_OBJ);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, k->kind);
		json_object_set_new(path_item(c, base, false, NULL), "delete", o);
	}
}

static void add_item(struct pctx *c, const char *item)
{
	const struct sch_kind *k = c->k;
	char id[256], desc[256];

	if (has_verb(k, "get")) {
		snprintf(id, sizeof(id), "read%s%s%s", c->opgv, c->scope, k->kind);
		snprintf(desc, sizeof(desc), "read the specified %s", k->kind);
		json_t *o = op_new(c, id, desc, "get", NO_P);
		op_response(c, o, "200", "OK", c->kind_schema, M_OBJ);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, k->kind);
		json_object_set_new(path_item(c, item, true, NULL), "get", o);
	}
	if (has_verb(k, "update")) {
		snprintf(id, sizeof(id), "replace%s%s%s", c->opgv, c->scope, k->kind);
		snprintf(desc, sizeof(desc), "replace the specified %s", k->kind);
		json_t *o = op_new(c, id, desc, "put", WRITE_P);
		op_body(c, o, c->kind_schema, M_ANY, true);
		op_response(c, o, "200", "OK", c->kind_schema, M_OBJ);
		op_response(c, o, "201", "Created", c->kind_schema, M_OBJ);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, k->kind);
		json_object_set_new(path_item(c, item, true, NULL), "put", o);
	}
	if (has_verb(k, "patch")) {
		snprintf(id, sizeof(id), "patch%s%s%s", c->opgv, c->scope, k->kind);
		snprintf(desc, sizeof(desc), "partially update the specified %s", k->kind);
		json_t *o = op_new(c, id, desc, "patch", PATCH_P);
		op_body(c, o, c->patch, M_PATCH, true);
		op_response(c, o, "200", "OK", c->kind_schema, M_OBJ);
		op_response(c, o, "201", "Created", c->kind_schema, M_OBJ);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, k->kind);
		json_object_set_new(path_item(c, item, true, NULL), "patch", o);
	}
	if (has_verb(k, "delete")) {
		snprintf(id, sizeof(id), "delete%s%s%s", c->opgv, c->scope, k->kind);
		snprintf(desc, sizeof(desc), "delete a %s", k->kind);
		json_t *o = op_new(c, id, desc, "delete", DELETE_P);
		op_body(c, o, c->delete_options, M_ANY, false);
		op_response(c, o, "200", "OK", c->status, M_OBJ);
		op_response(c, o, "202", "Accepted", c->status, M_OBJ);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, k->kind);
		json_object_set_new(path_item(c, item, true, NULL), "delete", o);
	}
}

/* The deprecated /watch/ paths, and the list across namespaces. */
static void add_watch(struct pctx *c)
{
	const struct sch_kind *k = c->k;
	char path[512], id[256], desc[256];

	if (k->namespaced && has_verb(k, "list")) {
		snprintf(path, sizeof(path), "%s/%s", c->prefix, k->plural);
		snprintf(id, sizeof(id), "list%s%sForAllNamespaces", c->opgv, k->kind);
		snprintf(desc, sizeof(desc), "list or watch objects of kind %s", k->kind);
		json_t *o = op_new(c, id, desc, "list", LIST_P);
		op_response(c, o, "200", "OK", c->list_schema, M_LIST);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, k->kind);
		json_object_set_new(path_item(c, path, false, NULL), "get", o);
	}
	if (!has_verb(k, "watch"))
		return;
	for (int which = 0; which < 3; which++) {
		bool item = which == 1;
		if (which == 2 && !k->namespaced)
			break;
		if (which < 2 && k->namespaced)
			snprintf(path, sizeof(path), "%s/watch/namespaces/{namespace}/%s%s",
				 c->prefix, k->plural, item ? "/{name}" : "");
		else
			snprintf(path, sizeof(path), "%s/watch/%s%s", c->prefix, k->plural,
				 item ? "/{name}" : "");
		if (which == 2)
			snprintf(id, sizeof(id), "watch%s%sListForAllNamespaces", c->opgv, k->kind);
		else
			snprintf(id, sizeof(id), "watch%s%s%s%s", c->opgv, c->scope, k->kind,
				 item ? "" : "List");
		snprintf(desc, sizeof(desc),
			 item ? "watch changes to an object of kind %s. deprecated: use the "
				"'watch' parameter with a list operation instead, filtered to a "
				"single item with the 'fieldSelector' parameter."
			      : "watch individual changes to a list of %s. deprecated: use the "
				"'watch' parameter with a list operation instead.",
			 k->kind);
		json_t *o = op_new(c, id, desc, item ? "watch" : "watchlist", LIST_P);
		op_response(c, o, "200", "OK", c->watch_event, M_LIST);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, k->kind);
		json_object_set_new(path_item(c, path, item, NULL), "get", o);
	}
}

/* ---- subresources ---- */

static void capitalize(const char *s, char *out, size_t cap)
{
	snprintf(out, cap, "%s", s);
	out[0] = (char)toupper((unsigned char)out[0]);
}

static void add_sub_rw(struct pctx *c, const char *path, const struct oa_sub *s,
		       const char *schema, const char *sub)
{
	const struct sch_kind *k = c->k;
	const char *g = s->group ? s->group : k->group, *v = s->version ? s->version : k->version;
	char id[256], desc[256];

	snprintf(id, sizeof(id), "read%s%s%s%s", c->opgv, c->scope, k->kind, sub);
	snprintf(desc, sizeof(desc), "read %s of the specified %s", s->name, k->kind);
	json_t *o = op_new(c, id, desc, "get", NO_P);
	op_response(c, o, "200", "OK", schema, M_OBJ);
	op_unauthorized(o);
	op_gvk(o, g, v, s->kind);
	json_object_set_new(path_item(c, path, true, NULL), "get", o);

	snprintf(id, sizeof(id), "replace%s%s%s%s", c->opgv, c->scope, k->kind, sub);
	snprintf(desc, sizeof(desc), "replace %s of the specified %s", s->name, k->kind);
	o = op_new(c, id, desc, "put", WRITE_P);
	op_body(c, o, schema, M_ANY, true);
	op_response(c, o, "200", "OK", schema, M_OBJ);
	op_response(c, o, "201", "Created", schema, M_OBJ);
	op_unauthorized(o);
	op_gvk(o, g, v, s->kind);
	json_object_set_new(path_item(c, path, true, NULL), "put", o);

	snprintf(id, sizeof(id), "patch%s%s%s%s", c->opgv, c->scope, k->kind, sub);
	snprintf(desc, sizeof(desc), "partially update %s of the specified %s", s->name, k->kind);
	o = op_new(c, id, desc, "patch", PATCH_P);
	op_body(c, o, c->patch, M_PATCH, true);
	op_response(c, o, "200", "OK", schema, M_OBJ);
	op_response(c, o, "201", "Created", schema, M_OBJ);
	op_unauthorized(o);
	op_gvk(o, g, v, s->kind);
	json_object_set_new(path_item(c, path, true, NULL), "patch", o);
}

static void add_sub_connect(struct pctx *c, const char *path, const struct oa_sub *s,
			    const char *sub, const char *const *qparams, bool with_path)
{
	static const char *const methods[] = {"delete", "get", "head", "options",
					      "patch", "post", "put"};
	const struct sch_kind *k = c->k;
	char id[256], desc[256], method[16];

	for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
		bool proxy = s->shape == OA_SUB_PROXY;
		if (!proxy && !streq(methods[i], "get") && !streq(methods[i], "post"))
			continue;
		capitalize(methods[i], method, sizeof(method));
		snprintf(id, sizeof(id), "connect%s%s%s%s%s%s", c->opgv, method, c->scope, k->kind,
			 sub, with_path ? "WithPath" : "");
		snprintf(desc, sizeof(desc), "connect %s requests to %s of %s", method, s->name,
			 k->kind);
		json_t *o = op_new(c, id, desc, "connect", qparams);
		op_response(c, o, "200", "OK", NULL, M_ANY);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, s->kind);
		json_object_set_new(path_item(c, path, true, with_path ? "path" : NULL), methods[i],
				    o);
	}
}

static void add_subresource(struct pctx *c, const char *item, const char *name)
{
	const struct sch_kind *k = c->k;
	struct oa_sub s;
	char path[512], sub[64], schema[256], id[256], desc[256];

	oa_subresource(k, name, &s);
	capitalize(name, sub, sizeof(sub));
	snprintf(path, sizeof(path), "%s/%s", item, name);
	const struct sch_type *t = oa_sub_type(k, &s);
	const char *sch = NULL;
	if (t) {
		type_name(c, t, schema, sizeof(schema));
		sch = schema;
	}

	switch (s.shape) {
	case OA_SUB_RW:
		add_sub_rw(c, path, &s, sch ? sch : c->kind_schema, sub);
		break;
	case OA_SUB_GET: {
		snprintf(id, sizeof(id), "read%s%s%s%s", c->opgv, c->scope, k->kind, sub);
		snprintf(desc, sizeof(desc), "read %s of the specified %s", name, k->kind);
		json_t *o = op_new(c, id, desc, "get", LOG_P);
		op_response(c, o, "200", "OK", NULL, M_TEXT);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, k->kind);
		json_object_set_new(path_item(c, path, true, NULL), "get", o);
		break;
	}
	case OA_SUB_CREATE: {
		snprintf(id, sizeof(id), "create%s%s%s%s", c->opgv, c->scope, k->kind, sub);
		snprintf(desc, sizeof(desc), "create %s of a %s", s.kind, k->kind);
		json_t *o = op_new(c, id, desc, "post", WRITE_P);
		if (sch) {
			op_body(c, o, sch, M_ANY, true);
			op_response(c, o, "200", "OK", sch, M_OBJ);
			op_response(c, o, "201", "Created", sch, M_OBJ);
			op_response(c, o, "202", "Accepted", sch, M_OBJ);
		}
		op_unauthorized(o);
		op_gvk(o, s.group ? s.group : k->group, s.version ? s.version : k->version, s.kind);
		json_object_set_new(path_item(c, path, true, NULL), "post", o);
		break;
	}
	case OA_SUB_CONNECT:
		add_sub_connect(c, path, &s, sub,
				streq(name, "exec") ? EXEC_P
				: streq(name, "attach") ? ATTACH_P
				: PORTFORWARD_P,
				false);
		break;
	case OA_SUB_PROXY:
		add_sub_connect(c, path, &s, sub, PROXY_P, false);
		snprintf(path, sizeof(path), "%s/%s/{path}", item, name);
		add_sub_connect(c, path, &s, sub, NO_P, true);
		break;
	case OA_SUB_PUT: {
		snprintf(id, sizeof(id), "replace%s%s%s%s", c->opgv, c->scope, k->kind, sub);
		snprintf(desc, sizeof(desc), "replace %s of the specified %s", name, k->kind);
		json_t *o = op_new(c, id, desc, "put", WRITE_P);
		op_body(c, o, c->kind_schema, M_ANY, true);
		op_response(c, o, "200", "OK", c->kind_schema, M_OBJ);
		op_response(c, o, "201", "Created", c->kind_schema, M_OBJ);
		op_unauthorized(o);
		op_gvk(o, k->group, k->version, k->kind);
		json_object_set_new(path_item(c, path, true, NULL), "put", o);
		break;
	}
	}
}

/* ---- a group version ---- */

/* "rbac.authorization.k8s.io" -> "RbacAuthorization" and "rbacAuthorization". */
static void group_words(const char *group, char *camel, size_t cap, bool lower_first)
{
	size_t n = 0;
	bool up = !lower_first;

	if (!*group)
		group = "core";
	for (const char *p = group; *p && n + 1 < cap; p++) {
		if (str_has_prefix(p, ".k8s.io") && !p[strlen(".k8s.io")])
			break;
		if (*p == '.' || *p == '-') {
			up = true;
			continue;
		}
		camel[n++] = up ? (char)toupper((unsigned char)*p) : *p;
		up = false;
	}
	camel[n] = 0;
}

static void add_kind(struct pctx *c, const struct sch_kind *k)
{
	char base[384], item[400];

	c->k = k;
	snprintf(c->scope, sizeof(c->scope), "%s", k->namespaced ? "Namespaced" : "");
	type_name(c, k->type, c->kind_schema, sizeof(c->kind_schema));
	type_name(c, k->list_type, c->list_schema, sizeof(c->list_schema));
	if (k->namespaced)
		snprintf(base, sizeof(base), "%s/namespaces/{namespace}/%s", c->prefix, k->plural);
	else
		snprintf(base, sizeof(base), "%s/%s", c->prefix, k->plural);
	snprintf(item, sizeof(item), "%s/{name}", base);

	add_collection(c, base);
	add_item(c, item);
	add_watch(c);
	for (const char *const *s = k->subresources; s && *s; s++)
		add_subresource(c, item, *s);
}

static void meta_schema(struct pctx *c, const char *name, char *out, size_t cap)
{
	const struct sch_type *t = sch_type_by_name("meta", "v1", name);

	if (t) {
		type_name(c, t, out, cap);
		return;
	}
	/* Without the meta schema the operations refer to an object. */
	snprintf(out, cap, "io.k8s.apimachinery.pkg.apis.meta.v1.%s", name);
	if (!json_object_get(c->schemas, out)) {
		json_t *o = json_object();
		json_object_set_new(o, "type", json_string("object"));
		json_object_set_new(c->schemas, out, o);
	}
}

void oa_add_gv_paths(json_t *paths, json_t *schemas, enum oa_flavor fl, const char *group,
		     const char *version)
{
	struct pctx c = {.fl = fl, .paths = paths, .schemas = schemas};
	char words[96];

	group = oa_group(group);
	oa_gv_prefix(group, version, c.prefix, sizeof(c.prefix));
	group_words(group, words, sizeof(words), true);
	capitalize(words, c.opgv, sizeof(c.opgv));
	capitalize(version, c.opgv + strlen(c.opgv), sizeof(c.opgv) - strlen(c.opgv));
	snprintf(c.tag, sizeof(c.tag), "%s_%s", words, version);
	meta_schema(&c, "Status", c.status, sizeof(c.status));
	meta_schema(&c, "DeleteOptions", c.delete_options, sizeof(c.delete_options));
	c.patch = oa_add_named(schemas, fl, "Patch");
	c.watch_event = oa_add_named(schemas, fl, "WatchEvent");

	for (size_t i = 0; i < sch_nkinds; i++) {
		const struct sch_kind *k = &sch_kinds[i];
		if (streq(k->group, group) && streq(k->version, version))
			add_kind(&c, k);
	}
}
