/* The served resources: one per kind in the schema, with where its
 * objects live in the store. */
#include "apiserver/internal.h"

#include <stdio.h>

void registry_init(struct apiserver *a)
{
	a->resources = xnew(struct resource, sch_nkinds);
	for (size_t i = 0; i < sch_nkinds; i++) {
		const struct sch_kind *k = &sch_kinds[i];
		struct resource *res = &a->resources[a->nresources++];
		char av[128];

		res->kind = k;
		sch_api_version(k->group, k->version, av, sizeof(av));
		res->api_version = xstrdup(av);
		res->qualified = *k->group ? xasprintf("%s.%s", k->plural, k->group) : xstrdup(k->plural);
		res->prefix = *k->group ? xasprintf("/registry/%s/%s/", k->group, k->plural)
					: xasprintf("/registry/%s/", k->plural);
	}
	/* events.k8s.io Events live with the core ones. */
	for (size_t i = 0; i < a->nresources; i++) {
		struct resource *res = &a->resources[i];
		if (!events_v1(res))
			continue;
		const struct resource *core = resource_for_kind(a, "", "Event");
		if (!core)
			continue;
		free(res->prefix);
		res->prefix = xstrdup(core->prefix);
		res->storage = core;
	}
}

void registry_free(struct apiserver *a)
{
	for (size_t i = 0; i < a->nresources; i++) {
		struct resource *res = &a->resources[i];
		watch_cache_free(res->cache);
		free(res->prefix);
		free(res->qualified);
		free(res->api_version);
	}
	free(a->resources);
	a->resources = NULL;
	a->nresources = 0;
}

const struct resource *resource_find(const struct apiserver *a, const char *group,
				     const char *version, const char *plural)
{
	const struct sch_kind *k = sch_kind_by_resource(group, version, plural);
	if (!k)
		return NULL;
	return &a->resources[k - sch_kinds];
}

const struct resource *resource_for_kind(const struct apiserver *a, const char *group,
					 const char *kind)
{
	for (size_t i = 0; i < a->nresources; i++) {
		const struct sch_kind *k = a->resources[i].kind;
		if (streq(k->kind, kind) && streq(k->group, group))
			return &a->resources[i];
	}
	return NULL;
}

char *resource_key(const struct resource *res, const char *ns, const char *name)
{
	if (res->kind->namespaced)
		return xasprintf("%s%s/%s", res->prefix, ns ? ns : "", name);
	return xasprintf("%s%s", res->prefix, name);
}

char *resource_prefix(const struct resource *res, const char *ns)
{
	if (res->kind->namespaced && ns)
		return xasprintf("%s%s/", res->prefix, ns);
	return xstrdup(res->prefix);
}
