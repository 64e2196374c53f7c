/* The served group versions, in the order kube-apiserver lists them, and
 * what each subresource answers with. */
#include <stdio.h>

#include "apiserver/openapi/internal.h"

/* kube-apiserver orders groups by the groupPriorityMinimum of their
 * APIServices (higher first), then by name. */
static const struct {
	const char *group;
	int priority;
} group_priorities[] = {
	{"apiregistration.k8s.io", 18000},
	{"apps", 17800},
	{"events.k8s.io", 17750},
	{"authentication.k8s.io", 17700},
	{"authorization.k8s.io", 17600},
	{"autoscaling", 17500},
	{"batch", 17400},
	{"certificates.k8s.io", 17300},
	{"networking.k8s.io", 17200},
	{"policy", 17100},
	{"rbac.authorization.k8s.io", 17000},
	{"storage.k8s.io", 16800},
	{"admissionregistration.k8s.io", 16700},
	{"apiextensions.k8s.io", 16700},
	{"scheduling.k8s.io", 16600},
	{"coordination.k8s.io", 16500},
	{"node.k8s.io", 16300},
	{"discovery.k8s.io", 16200},
	{"flowcontrol.apiserver.k8s.io", 16100},
	{"internal.apiserver.k8s.io", 16000},
	{"resource.k8s.io", 15900},
	{"storagemigration.k8s.io", 15800},
};

const char *oa_group(const char *group)
{
	if (!group || streq(group, "core"))
		return "";
	return group;
}

static int group_priority(const char *g)
{
	for (size_t i = 0; i < ARRAY_SIZE(group_priorities); i++)
		if (streq(group_priorities[i].group, g))
			return group_priorities[i].priority;
	return 0;
}

static int cmp_group(const void *a, const void *b)
{
	const char *ga = *(const char *const *)a, *gb = *(const char *const *)b;
	int pa = group_priority(ga), pb = group_priority(gb);

	if (pa != pb)
		return pa > pb ? -1 : 1;
	return strcmp(ga, gb);
}

static bool contains(const char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (streq(v[i], s))
			return true;
	return false;
}

size_t oa_groups(const char **out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < sch_nkinds && n < cap; i++) {
		const char *g = sch_kinds[i].group;
		if (*g && !contains(out, n, g))
			out[n++] = g;
	}
	qsort(out, n, sizeof(*out), cmp_group);
	return n;
}

/* Kubernetes' version priority: GA before beta before alpha, higher numbers
 * first; versions of another form after them, by name. */
struct kube_version {
	bool kube_like;
	int major, stage, minor; /* stage: 2 GA, 1 beta, 0 alpha */
};

static struct kube_version parse_version(const char *v)
{
	struct kube_version kv = {0};
	char *end;

	if (v[0] != 'v' || v[1] < '1' || v[1] > '9')
		return kv;
	kv.major = (int)strtol(v + 1, &end, 10);
	if (!*end) {
		kv.kube_like = true;
		kv.stage = 2;
		return kv;
	}
	if (str_has_prefix(end, "beta"))
		kv.stage = 1, end += 4;
	else if (str_has_prefix(end, "alpha"))
		kv.stage = 0, end += 5;
	else
		return kv;
	if (*end < '1' || *end > '9')
		return kv;
	kv.minor = (int)strtol(end, &end, 10);
	kv.kube_like = !*end;
	return kv;
}

static int cmp_version(const void *a, const void *b)
{
	const char *va = *(const char *const *)a, *vb = *(const char *const *)b;
	struct kube_version ka = parse_version(va), kb = parse_version(vb);

	if (ka.kube_like != kb.kube_like)
		return ka.kube_like ? -1 : 1;
	if (!ka.kube_like)
		return strcmp(va, vb);
	if (ka.stage != kb.stage)
		return ka.stage > kb.stage ? -1 : 1;
	if (ka.major != kb.major)
		return ka.major > kb.major ? -1 : 1;
	if (ka.minor != kb.minor)
		return ka.minor > kb.minor ? -1 : 1;
	return 0;
}

size_t oa_group_versions(const char *group, const char **out, size_t cap)
{
	size_t n = 0;

	group = oa_group(group);
	for (size_t i = 0; i < sch_nkinds && n < cap; i++) {
		const struct sch_kind *k = &sch_kinds[i];
		if (streq(k->group, group) && !contains(out, n, k->version))
			out[n++] = k->version;
	}
	qsort(out, n, sizeof(*out), cmp_version);
	return n;
}

bool oa_gv_served(const char *group, const char *version)
{
	group = oa_group(group);
	for (size_t i = 0; i < sch_nkinds; i++)
		if (streq(sch_kinds[i].group, group) && streq(sch_kinds[i].version, version))
			return true;
	return false;
}

void oa_gv_prefix(const char *group, const char *version, char *out, size_t cap)
{
	group = oa_group(group);
	if (*group)
		snprintf(out, cap, "/apis/%s/%s", group, version);
	else
		snprintf(out, cap, "/api/%s", version);
}

/* ---- subresources ---- */

static const char *const V_RW[] = {"get", "patch", "update", NULL};
static const char *const V_GET[] = {"get", NULL};
static const char *const V_CREATE[] = {"create", NULL};
static const char *const V_CONNECT[] = {"create", "get", NULL};
static const char *const V_PROXY[] = {"create", "delete", "get", "patch", "update", NULL};
static const char *const V_UPDATE[] = {"update", NULL};

/* kind NULL: the parent's kind; "*ProxyOptions": prefixed with the parent's kind. */
static const struct {
	const char *name;
	const char *group, *version, *kind;
	enum oa_sub_shape shape;
} subresources[] = {
	{"status", NULL, NULL, NULL, OA_SUB_RW},
	{"scale", "autoscaling", "v1", "Scale", OA_SUB_RW},
	{"ephemeralcontainers", NULL, NULL, NULL, OA_SUB_RW},
	{"resize", NULL, NULL, NULL, OA_SUB_RW},
	{"approval", NULL, NULL, NULL, OA_SUB_RW},
	{"log", NULL, NULL, NULL, OA_SUB_GET},
	{"binding", NULL, NULL, "Binding", OA_SUB_CREATE},
	{"eviction", "policy", "v1", "Eviction", OA_SUB_CREATE},
	{"token", "authentication.k8s.io", "v1", "TokenRequest", OA_SUB_CREATE},
	{"exec", NULL, NULL, "PodExecOptions", OA_SUB_CONNECT},
	{"attach", NULL, NULL, "PodAttachOptions", OA_SUB_CONNECT},
	{"portforward", NULL, NULL, "PodPortForwardOptions", OA_SUB_CONNECT},
	{"proxy", NULL, NULL, "*ProxyOptions", OA_SUB_PROXY},
	{"finalize", NULL, NULL, NULL, OA_SUB_PUT},
};

static const char *const *shape_verbs(enum oa_sub_shape shape)
{
	switch (shape) {
	case OA_SUB_GET:
		return V_GET;
	case OA_SUB_CREATE:
		return V_CREATE;
	case OA_SUB_CONNECT:
		return V_CONNECT;
	case OA_SUB_PROXY:
		return V_PROXY;
	case OA_SUB_PUT:
		return V_UPDATE;
	case OA_SUB_RW:
		break;
	}
	return V_RW;
}

void oa_subresource(const struct sch_kind *k, const char *sub, struct oa_sub *ret)
{
	struct oa_sub s = {.name = sub, .shape = OA_SUB_RW};
	const char *kind = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(subresources); i++) {
		if (!streq(subresources[i].name, sub))
			continue;
		s.group = subresources[i].group;
		s.version = subresources[i].version;
		s.shape = subresources[i].shape;
		kind = subresources[i].kind;
		break;
	}
	if (!kind)
		snprintf(s.kind, sizeof(s.kind), "%s", k->kind);
	else if (kind[0] == '*')
		snprintf(s.kind, sizeof(s.kind), "%s%s", k->kind, kind + 1);
	else
		snprintf(s.kind, sizeof(s.kind), "%s", kind);
	s.verbs = shape_verbs(s.shape);
	*ret = s;
}

const struct sch_type *oa_sub_type(const struct sch_kind *k, const struct oa_sub *s)
{
	if (s->group)
		return sch_type_by_name(s->group, s->version, s->kind);
	return sch_type_by_name(k->group, k->version, s->kind);
}
