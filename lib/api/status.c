/* metav1.Status bodies and the constructors of k8s.io/apimachinery/pkg/api/errors. */
#include "api/internal.h"

static void set_str(json_t *o, const char *key, const char *v)
{
	if (v && *v)
		json_object_set_new(o, key, api_json_string_lossy(v));
}

json_t *api_status_new(const struct api_status *s)
{
	json_t *o = json_object();

	json_object_set_new(o, "kind", json_string("Status"));
	json_object_set_new(o, "apiVersion", json_string("v1"));
	json_object_set_new(o, "metadata", json_object());
	set_str(o, "status", s->status ? s->status : "Failure");
	set_str(o, "message", s->message);
	set_str(o, "reason", s->reason);
	if (s->details || (s->name && *s->name) || (s->group && *s->group) ||
	    (s->kind && *s->kind) || (s->uid && *s->uid) || s->ncauses > 0 ||
	    s->retry_after_seconds != 0) {
		json_t *d = json_object();

		set_str(d, "name", s->name);
		set_str(d, "group", s->group);
		set_str(d, "kind", s->kind);
		set_str(d, "uid", s->uid);
		if (s->ncauses > 0) {
			json_t *causes = json_array();

			for (size_t i = 0; i < s->ncauses; i++) {
				json_t *c = json_object();

				set_str(c, "reason", s->causes[i].type);
				set_str(c, "message", s->causes[i].message);
				set_str(c, "field", s->causes[i].field);
				json_array_append_new(causes, c);
			}
			json_object_set_new(d, "causes", causes);
		}
		if (s->retry_after_seconds != 0)
			json_object_set_new(d, "retryAfterSeconds",
					    json_integer(s->retry_after_seconds));
		json_object_set_new(o, "details", d);
	}
	if (s->code != 0)
		json_object_set_new(o, "code", json_integer(s->code));
	return o;
}

json_t *api_status_failure(int code, const char *reason, const char *message)
{
	return api_status_new(&(struct api_status){
		.code = code, .reason = reason, .message = message});
}

json_t *api_status_success(const char *group, const char *kind, const char *name,
			   const char *uid, int code)
{
	return api_status_new(&(struct api_status){
		.status = "Success", .group = group, .kind = kind, .name = name, .uid = uid,
		.code = code});
}

const char *api_status_reason_for_code(int code)
{
	switch (code) {
	case 400: return "BadRequest";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 406: return "NotAcceptable";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "RequestEntityTooLarge";
	case 415: return "UnsupportedMediaType";
	case 422: return "Invalid";
	case 429: return "TooManyRequests";
	case 503: return "ServiceUnavailable";
	case 504: return "Timeout";
	}
	return code >= 500 ? "InternalError" : "";
}

int api_status_code(const json_t *status)
{
	int64_t code;

	return api_get_int(status, "code", &code) == 0 ? (int)code : 0;
}

/* schema.GroupResource.String(): "pods", "deployments.apps". */
static void group_resource(struct buf *b, const char *group, const char *resource)
{
	buf_puts(b, resource ? resource : "");
	if (group && *group)
		buf_printf(b, ".%s", group);
}

/* "<resource>[.group] \"name\"" */
static void resource_name(struct buf *b, const char *group, const char *resource,
			  const char *name)
{
	group_resource(b, group, resource);
	buf_putc(b, ' ');
	go_quote(b, name ? name : "", name ? strlen(name) : 0);
}

static json_t *named(int code, const char *reason, const char *group, const char *resource,
		     const char *name, const char *prefix, const char *suffix)
{
	struct buf m = {0};
	json_t *st;

	buf_puts(&m, prefix);
	resource_name(&m, group, resource, name);
	buf_puts(&m, suffix);
	st = api_status_new(&(struct api_status){
		.code = code, .reason = reason, .message = m.data, .name = name, .group = group,
		.kind = resource, .details = true});
	buf_free(&m);
	return st;
}

json_t *api_status_not_found(const char *group, const char *resource, const char *name)
{
	return named(404, "NotFound", group, resource, name, "", " not found");
}

json_t *api_status_already_exists(const char *group, const char *resource, const char *name)
{
	return named(409, "AlreadyExists", group, resource, name, "", " already exists");
}

json_t *api_status_conflict(const char *group, const char *resource, const char *name,
			    const char *why)
{
	struct buf suffix = {0};
	json_t *st;

	buf_printf(&suffix, ": %s", why ? why : API_MSG_OBJECT_MODIFIED);
	st = named(409, "Conflict", group, resource, name, "Operation cannot be fulfilled on ",
		   suffix.data);
	buf_free(&suffix);
	return st;
}

json_t *api_status_invalid(const char *group, const char *kind, const char *name,
			   const struct api_field_errors *errs)
{
	size_t n = errs ? errs->n : 0;
	struct api_status_cause *causes = xnew(struct api_status_cause, n);
	char **bodies = xnew(char *, n);
	struct buf m = {0};
	json_t *st;

	for (size_t i = 0; i < n; i++) {
		bodies[i] = api_field_error_body(&errs->v[i]);
		causes[i] = (struct api_status_cause){
			.type = api_field_error_type_name(errs->v[i].type),
			.message = bodies[i],
			.field = errs->v[i].field,
		};
	}
	resource_name(&m, group, kind, name);
	buf_puts(&m, " is invalid");
	if (n > 0) {
		_cleanup_free_ char *agg = api_field_errors_aggregate(errs);
		buf_printf(&m, ": %s", agg);
	}
	st = api_status_new(&(struct api_status){
		.code = 422, .reason = "Invalid", .message = m.data, .name = name, .group = group,
		.kind = kind, .causes = causes, .ncauses = n, .details = true});
	for (size_t i = 0; i < n; i++)
		free(bodies[i]);
	free(bodies);
	free(causes);
	buf_free(&m);
	return st;
}

json_t *api_status_bad_request(const char *message)
{
	return api_status_failure(400, "BadRequest", message);
}

json_t *api_status_method_not_supported(const char *group, const char *resource,
					const char *action)
{
	struct buf m = {0}, gr = {0};
	json_t *st;

	group_resource(&gr, group, resource);
	buf_printf(&m, "%s is not supported on resources of kind ", action);
	go_quote(&m, gr.data, gr.len);
	st = api_status_new(&(struct api_status){
		.code = 405, .reason = "MethodNotAllowed", .message = m.data, .group = group,
		.kind = resource, .details = true});
	buf_free(&m);
	buf_free(&gr);
	return st;
}

static json_t *media_types(int code, const char *reason, const char *prefix,
			   const char *const *accepted, size_t n)
{
	struct buf m = {0};
	json_t *st;

	buf_puts(&m, prefix);
	for (size_t i = 0; i < n; i++)
		buf_printf(&m, "%s%s", i > 0 ? ", " : "", accepted[i]);
	st = api_status_failure(code, reason, m.data);
	buf_free(&m);
	return st;
}

json_t *api_status_unsupported_media_type(const char *const *accepted, size_t n)
{
	return media_types(415, "UnsupportedMediaType",
			   "the body of the request was in an unknown format - accepted media "
			   "types include: ", accepted, n);
}

json_t *api_status_not_acceptable(const char *const *accepted, size_t n)
{
	return media_types(406, "NotAcceptable", "only the following media types are accepted: ",
			   accepted, n);
}

json_t *api_status_request_entity_too_large(size_t limit)
{
	_cleanup_free_ char *m = xasprintf("Request entity too large: limit is %zu", limit);
	return api_status_failure(413, "RequestEntityTooLarge", m);
}

json_t *api_status_gone(const char *message)
{
	return api_status_failure(410, "Gone", message);
}

json_t *api_status_expired(const char *message)
{
	return api_status_failure(410, "Expired", message);
}

json_t *api_status_too_old_resource_version(uint64_t requested, uint64_t oldest)
{
	_cleanup_free_ char *m = xasprintf("too old resource version: %llu (%llu)",
					   (unsigned long long)requested,
					   (unsigned long long)oldest);
	return api_status_expired(m);
}

json_t *api_status_forbidden(const char *group, const char *resource, const char *name,
			     const char *reason)
{
	struct buf m = {0};
	json_t *st;

	if (!resource || !*resource) {
		buf_printf(&m, "forbidden: %s", reason);
	} else if (!name || !*name) {
		group_resource(&m, group, resource);
		buf_printf(&m, " is forbidden: %s", reason);
	} else {
		resource_name(&m, group, resource, name);
		buf_printf(&m, " is forbidden: %s", reason);
	}
	st = api_status_new(&(struct api_status){
		.code = 403, .reason = "Forbidden", .message = m.data, .name = name, .group = group,
		.kind = resource, .details = true});
	buf_free(&m);
	return st;
}

json_t *api_status_unauthorized(const char *message)
{
	return api_status_failure(401, "Unauthorized",
				  message && *message ? message : "not authorized");
}

json_t *api_status_too_many_requests(const char *message, int retry_after_seconds)
{
	return api_status_new(&(struct api_status){
		.code = 429, .reason = "TooManyRequests", .message = message, .details = true,
		.retry_after_seconds = retry_after_seconds});
}

json_t *api_status_internal_error(const char *err)
{
	_cleanup_free_ char *m = xasprintf("Internal error occurred: %s", err);
	struct api_status_cause cause = {.message = err};

	return api_status_new(&(struct api_status){
		.code = 500, .reason = "InternalError", .message = m, .causes = &cause,
		.ncauses = 1});
}

json_t *api_status_timeout(const char *message, int retry_after_seconds)
{
	_cleanup_free_ char *m = xasprintf("Timeout: %s", message);

	return api_status_new(&(struct api_status){
		.code = 504, .reason = "Timeout", .message = m, .details = true,
		.retry_after_seconds = retry_after_seconds});
}

json_t *api_status_server_timeout(const char *group, const char *resource,
				  const char *operation, int retry_after_seconds)
{
	struct buf m = {0};
	json_t *st;

	buf_printf(&m, "The %s operation against ", operation);
	group_resource(&m, group, resource);
	buf_puts(&m, " could not be completed at this time, please try again.");
	st = api_status_new(&(struct api_status){
		.code = 500, .reason = "ServerTimeout", .message = m.data, .group = group,
		.kind = resource, .name = operation, .details = true,
		.retry_after_seconds = retry_after_seconds});
	buf_free(&m);
	return st;
}

json_t *api_status_service_unavailable(const char *message)
{
	return api_status_failure(503, "ServiceUnavailable", message);
}
