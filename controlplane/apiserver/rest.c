/* get, list, create, update, delete: the verbs on the store. Every path
 * is a chain of store callbacks that ends by answering the request. */
#include "apiserver/internal.h"

#include <inttypes.h>
#include <stdio.h>

#include "apiserver/protobuf.h"

#ifdef KELP_HAVE_VALIDATE
#include "apiserver/validate/validate.h"
#define HAVE_VALIDATE 1
#endif

/* --- request bodies --- */

static const char *const body_types[] = {"application/json", "application/yaml",
					 "application/vnd.kubernetes.protobuf"};

/* The body as an object of the request's kind, with kind and apiVersion
 * filled in from the URL when absent. Answers and returns -1 on error. */
int rest_decode_body(struct req *q, json_t **ret)
{
	const struct http_request *hr = http_exchange_request(q->ex);
	const char *ctype = http_request_header(hr, "content-type");
	const struct sch_kind *k = q->res->kind;
	json_t *obj = NULL, *status = NULL;

	if (!ctype || str_has_prefix(ctype, "application/json") || str_has_prefix(ctype, "*/*")) {
		unsigned flags = q->r.field_validation && streq(q->r.field_validation, "Strict")
					 ? API_JSON_STRICT
					 : 0;
		if (api_body_decode(hr->body, hr->body_len, API_BODY_LIMIT_DEFAULT, k->kind, flags,
				    &obj, &status) < 0) {
			req_respond_status(q, status);
			return -1;
		}
	} else if (str_has_prefix(ctype, PB_CONTENT_TYPE)) {
		struct pb_envelope env;
		char *err = NULL;
		if (pb_unwrap(hr->body, hr->body_len, &env) < 0 || env.content_encoding_set) {
			req_respond_status(q, api_status_bad_request(
						      "the body is not a Kubernetes protobuf object"));
			return -1;
		}
		const struct sch_kind *bk = k;
		if (env.kind[0] && !streq(env.kind, k->kind)) {
			_cleanup_free_ char *msg =
				xasprintf("%s in version \"%s\" cannot be handled as a %s: the kind does "
					  "not match the resource", env.kind, env.api_version, k->kind);
			req_respond_status(q, api_status_bad_request(msg));
			return -1;
		}
		if (pb_decode(bk->type, env.raw, env.raw_len, &obj, &err) < 0) {
			_cleanup_free_ char *msg = xasprintf("unable to decode the protobuf body: %s",
							     err ? err : "invalid");
			free(err);
			req_respond_status(q, api_status_bad_request(msg));
			return -1;
		}
	} else {
		req_respond_status(q, api_status_unsupported_media_type(body_types,
									 ARRAY_SIZE(body_types)));
		return -1;
	}
	const char *kind = api_obj_kind(obj), *av = api_obj_api_version(obj);
	if ((kind && *kind && !streq(kind, k->kind)) || (av && *av && !streq(av, q->res->api_version))) {
		_cleanup_free_ char *msg = xasprintf(
			"%s in version \"%s\" cannot be handled as a %s: no kind \"%s\" is registered "
			"for version \"%s\"", kind && *kind ? kind : k->kind, av ? av : "", k->kind,
			kind && *kind ? kind : k->kind, av ? av : "");
		json_decref(obj);
		req_respond_status(q, api_status_bad_request(msg));
		return -1;
	}
	req_set_type(q, obj);
#ifdef HAVE_VALIDATE
	char *derr = NULL;
	if (validate_decode(k->type, obj, &derr) < 0) {
		/* What Go's typed decoding would refuse: a 400, as Kubernetes answers. */
		_cleanup_free_ char *msg = xasprintf("%s in version \"%s\" cannot be handled as a %s: %s",
						     k->kind, k->version, k->kind, derr ? derr : "invalid");
		free(derr);
		json_decref(obj);
		req_respond_status(q, api_status_bad_request(msg));
		return -1;
	}
	if (q->r.field_validation && !streq(q->r.field_validation, "Ignore")) {
		struct api_msgs unknown = {0};
		validate_unknown_fields(k->type, obj, &unknown);
		if (unknown.n && streq(q->r.field_validation, "Strict")) {
			_cleanup_free_ char *all = api_msgs_join(&unknown, ", ");
			_cleanup_free_ char *msg = xasprintf("strict decoding error: %s", all);
			api_msgs_clear(&unknown);
			json_decref(obj);
			req_respond_status(q, api_status_bad_request(msg));
			return -1;
		}
		for (size_t i = 0; i < unknown.n; i++) {
			_cleanup_free_ char *w = xasprintf("299 - \"%s\"", unknown.v[i]);
			http_response_header(q->ex, "Warning", w);
		}
		api_msgs_clear(&unknown);
	}
	validate_prune(k->type, obj);
#endif
	*ret = obj;
	return 0;
}

/* --- get --- */

static void get_done(void *ud, int err, int64_t rev, const struct store_kv *kv)
{
	struct req *q = ud;

	if (err) {
		req_fail_store(q, err, q->r.name);
		return;
	}
	json_t *obj = kv ? object_read(q->res, kv) : NULL;
	if (!obj) {
		req_fail_store(q, -ENOENT, q->r.name);
		return;
	}
	req_respond_object(q, 200, obj);
}

void rest_get(struct req *q)
{
	q->key = resource_key(q->res, q->r.namespace, q->r.name);
	int r = store_get(q->a->store, q->key, strlen(q->key), 0, get_done, q);
	if (r < 0)
		req_fail_store(q, r, q->r.name);
}

/* --- list --- */

struct list {
	struct req *q;
	struct selectors sel;
	char *prefix;
	char *end;
	size_t end_len;
};

static void list_free(struct list *l)
{
	selectors_clear(&l->sel);
	free(l->prefix);
	free(l->end);
	free(l);
}

/* Kubernetes' continue token: base64 of {"v":"meta.k8s.io/v1","rv":N,"start":"key"}. */
static char *continue_encode(int64_t rv, const char *start)
{
	json_t *t = json_pack("{s:s, s:I, s:s}", "v", "meta.k8s.io/v1", "rv", (json_int_t)rv, "start",
			      start);
	char *s = json_dumps(t, JSON_COMPACT);
	char *b = base64_encode(s, strlen(s));
	free(s);
	json_decref(t);
	return b;
}

static int continue_decode(const char *token, int64_t *ret_rv, char **ret_start)
{
	size_t n;
	_cleanup_free_ uint8_t *raw = base64_decode(token, &n);
	if (!raw)
		return -EINVAL;
	json_t *t = json_loadb((const char *)raw, n, 0, NULL);
	const char *v = api_get_str(t, "v"), *start = api_get_str(t, "start");
	int64_t rv = 0;
	int r = api_get_int(t, "rv", &rv);
	if (!v || !streq(v, "meta.k8s.io/v1") || !start || r < 0 || rv <= 0) {
		json_decref(t);
		return -EINVAL;
	}
	*ret_rv = rv;
	*ret_start = xstrdup(start);
	json_decref(t);
	return 0;
}

static void list_done(void *ud, int err, int64_t rev, const struct store_range_res *res)
{
	struct list *l = ud;
	struct req *q = l->q;

	if (err) {
		if (err == -ESTALE && q->r.continue_token) {
			req_respond_status(q, api_status_expired(
						      "The provided continue parameter is too old to display a "
						      "consistent list result. You can start a new list without "
						      "the continue parameter."));
		} else {
			req_fail_store(q, err, NULL);
		}
		list_free(l);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < res->n; i++) {
		json_t *obj = object_read(q->res, &res->kvs[i]);
		if (!obj)
			continue;
		if (!selectors_match(&l->sel, q->res, obj)) {
			json_decref(obj);
			continue;
		}
		/* List items carry no TypeMeta, as kube-apiserver sends them. */
		if (q->enc != ENC_TABLE) {
			json_object_del(obj, "kind");
			json_object_del(obj, "apiVersion");
		}
		json_array_append_new(items, obj);
	}
	json_t *list = json_object();
	json_object_set_new(list, "kind", json_sprintf("%sList", q->res->kind->kind));
	json_object_set_new(list, "apiVersion", json_string(q->res->api_version));
	json_t *meta = json_object();
	char rvs[24];
	snprintf(rvs, sizeof(rvs), "%" PRId64, rev);
	json_object_set_new(meta, "resourceVersion", json_string(rvs));
	if (res->more && res->n) {
		const struct store_kv *last = &res->kvs[res->n - 1];
		size_t plen = strlen(l->prefix);
		/* The next page starts just after this last key. */
		_cleanup_free_ char *next = xstrndup(last->key + plen, last->key_len - plen);
		char *tok = continue_encode(rev, next);
		json_object_set_new(meta, "continue", json_string(tok));
		free(tok);
		int64_t remaining = res->count - (int64_t)res->n;
		if (remaining > 0 && !l->sel.labels && !l->sel.fields)
			json_object_set_new(meta, "remainingItemCount", json_integer(remaining));
	}
	json_object_set_new(list, "metadata", meta);
	json_object_set_new(list, "items", items);
	list_free(l);
	req_respond_object(q, 200, list);
}

void rest_list(struct req *q)
{
	struct list *l = xnew(struct list, 1);
	json_t *status = NULL;
	int64_t rev = 0;
	_cleanup_free_ char *start = NULL;

	l->q = q;
	if (selectors_parse(q, &l->sel, &status) < 0) {
		list_free(l);
		req_respond_status(q, status);
		return;
	}
	l->prefix = resource_prefix(q->res, q->r.namespace);
	l->end = xmalloc(strlen(l->prefix) + 1);
	l->end_len = store_prefix_end(l->prefix, strlen(l->prefix), l->end);
	if (q->r.continue_token) {
		if (continue_decode(q->r.continue_token, &rev, &start) < 0) {
			list_free(l);
			req_respond_status(q, api_status_bad_request("continue key is not valid: "
								     "invalid continue token"));
			return;
		}
	} else if (q->r.resource_version_match && streq(q->r.resource_version_match, "Exact") &&
		   q->r.resource_version) {
		if (parse_i64(q->r.resource_version, strlen(q->r.resource_version), &rev) < 0 || rev <= 0) {
			list_free(l);
			req_respond_status(q, api_status_bad_request("invalid resource version"));
			return;
		}
	}
	/* A page starts just after the last key of the previous one: that
	 * key with a zero byte appended. */
	_cleanup_free_ char *from_key = start ? xasprintf("%s%s", l->prefix, start) : xstrdup(l->prefix);
	size_t from_len = strlen(from_key) + (start ? 1 : 0);
	int r = store_range(q->a->store,
			    &(struct store_range_req){.key = from_key,
						      .key_len = from_len,
						      .end = l->end,
						      .end_len = l->end_len,
						      .rev = rev,
						      .limit = q->r.limit > 0 ? q->r.limit : 0},
			    list_done, l);
	if (r < 0) {
		list_free(l);
		req_fail_store(q, r, NULL);
	}
}
