/* Label and field selectors on lists and watches; the fields each kind
 * can be selected on are the ones Kubernetes supports. */
#include "apiserver/internal.h"

#include <stdio.h>

struct fieldsel_kind {
	const char *group;
	const char *kind;
	const char *const *fields; /* JSON paths, beyond metadata.name/namespace */
};

static const char *const pod_fields[] = {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
					 "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
					 "status.podIP", "status.nominatedNodeName", NULL};
static const char *const event_fields[] = {"involvedObject.kind", "involvedObject.namespace",
					   "involvedObject.name", "involvedObject.uid",
					   "involvedObject.apiVersion", "involvedObject.resourceVersion",
					   "involvedObject.fieldPath", "reason", "reportingComponent",
					   "source", "type", NULL};
static const char *const secret_fields[] = {"type", NULL};
static const char *const node_fields[] = {"spec.unschedulable", NULL};
static const char *const namespace_fields[] = {"status.phase", NULL};
static const char *const replicas_fields[] = {"status.replicas", NULL};
static const char *const job_fields[] = {"status.successful", NULL};

static const struct fieldsel_kind field_kinds[] = {
	{"", "Pod", pod_fields},
	{"", "Event", event_fields},
	{"", "Secret", secret_fields},
	{"", "Node", node_fields},
	{"", "Namespace", namespace_fields},
	{"", "ReplicationController", replicas_fields},
	{"apps", "ReplicaSet", replicas_fields},
	{"batch", "Job", job_fields},
};

struct getter {
	const struct resource *res;
	const json_t *obj;
	char num[32];
};

/* An object's value for a selectable field: "" when unset, NULL when the
 * kind cannot be selected on it. */
static const char *field_value(void *ud, const char *field)
{
	struct getter *g = ud;
	const char *const *allowed = NULL;

	if (!streq(field, "metadata.name") && !streq(field, "metadata.namespace")) {
		for (size_t i = 0; i < ARRAY_SIZE(field_kinds); i++)
			if (streq(field_kinds[i].kind, g->res->kind->kind) &&
			    streq(field_kinds[i].group, g->res->kind->group))
				allowed = field_kinds[i].fields;
		bool ok = false;
		for (const char *const *f = allowed; f && *f; f++)
			ok |= streq(*f, field);
		if (!ok)
			return NULL;
	}
	if (!g->obj)
		return "";
	const json_t *v = api_get(g->obj, streq(field, "source") ? "source.component" : field);
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	if (json_is_integer(v)) {
		snprintf(g->num, sizeof(g->num), "%lld", (long long)json_integer_value(v));
		return g->num;
	}
	/* A boolean left out means false for the selectors that use one. */
	if (streq(field, "spec.unschedulable") || streq(field, "spec.hostNetwork"))
		return "false";
	return "";
}

int selectors_parse(const struct req *q, struct selectors *ret, json_t **ret_status)
{
	char *err = NULL;
	struct selectors s = {0};

	if (q->r.label_selector && *q->r.label_selector &&
	    api_label_selector_parse(q->r.label_selector, &s.labels, &err) < 0) {
		*ret_status = api_status_bad_request(err);
		free(err);
		return -EINVAL;
	}
	if (q->r.field_selector && *q->r.field_selector) {
		if (api_field_selector_parse(q->r.field_selector, &s.fields, &err) < 0) {
			*ret_status = api_status_bad_request(err);
			free(err);
			selectors_clear(&s);
			return -EINVAL;
		}
		struct getter g = {.res = q->res};
		if (api_field_selector_check(s.fields, field_value, &g, &err) < 0) {
			*ret_status = api_status_bad_request(err);
			free(err);
			selectors_clear(&s);
			return -EINVAL;
		}
	}
	*ret = s;
	return 0;
}

bool selectors_match(const struct selectors *s, const struct resource *res, const json_t *obj)
{
	if (s->labels && !api_label_selector_matches(s->labels, api_meta_labels(obj)))
		return false;
	if (s->fields) {
		struct getter g = {.res = res, .obj = obj};
		if (api_field_selector_match(s->fields, field_value, &g, NULL) != 1)
			return false;
	}
	return true;
}

void selectors_clear(struct selectors *s)
{
	s->labels = api_label_selector_free(s->labels);
	s->fields = api_field_selector_free(s->fields);
}
