/* Admission on create: the namespace must exist and not be going away
 * (NamespaceLifecycle), pods get their service account checked and their
 * QoS class; more plugins join as their kinds need them. */
#include "apiserver/internal.h"

#include <stdio.h>

struct admit {
	struct req *q;
	json_t *obj;
	admit_fn done;
};

static void finish(struct admit *ad, json_t *status)
{
	admit_fn done = ad->done;
	struct req *q = ad->q;
	free(ad);
	done(q, status);
}

/* --- pods --- */

/* Guaranteed when every container sets limits equal to requests for cpu
 * and memory, BestEffort when none sets any, Burstable otherwise. */
static const char *qos_class(const json_t *pod)
{
	static const char *const lists[] = {"spec.containers", "spec.initContainers"};
	bool any = false, guaranteed = true;

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		const json_t *cs = api_get_array(pod, lists[l]);
		size_t i;
		const json_t *c;
		json_array_foreach(cs, i, c) {
			const json_t *req = api_get_object(c, "resources.requests");
			const json_t *lim = api_get_object(c, "resources.limits");
			static const char *const res[] = {"cpu", "memory"};
			for (size_t r = 0; r < ARRAY_SIZE(res); r++) {
				const json_t *rq = json_object_get(req, res[r]);
				const json_t *lm = json_object_get(lim, res[r]);
				struct api_quantity a, b;
				if (rq || lm)
					any = true;
				if (!lm) {
					guaranteed = false;
					continue;
				}
				/* An absent request defaults to the limit. */
				if (rq && (api_quantity_from_json(rq, &a, NULL) < 0 ||
					   api_quantity_from_json(lm, &b, NULL) < 0 ||
					   api_quantity_cmp(&a, &b) != 0))
					guaranteed = false;
			}
		}
	}
	if (!any)
		return "BestEffort";
	return guaranteed ? "Guaranteed" : "Burstable";
}

static void sa_got(void *ud, int err, int64_t rev, const struct store_kv *kv)
{
	struct admit *ad = ud;
	struct req *q = ad->q;

	if (err) {
		finish(ad, api_status_internal_error(store_strerror(err)));
		return;
	}
	if (!kv) {
		const char *sa = api_get_str(ad->obj, "spec.serviceAccountName");
		_cleanup_free_ char *why = xasprintf(
			"error looking up service account %s/%s: serviceaccount \"%s\" not found",
			q->r.namespace, sa, sa);
		finish(ad, api_status_forbidden("", "pods", api_meta_name(ad->obj), why));
		return;
	}
	finish(ad, NULL);
}

static void admit_pod(struct admit *ad)
{
	json_t *pod = ad->obj;
	const char *sa = api_get_str(pod, "spec.serviceAccountName");

	if (!sa || !*sa) {
		sa = api_get_str(pod, "spec.serviceAccount");
		api_set_str(pod, "spec.serviceAccountName", sa && *sa ? sa : "default");
		sa = api_get_str(pod, "spec.serviceAccountName");
	}
	api_set_str(pod, "spec.serviceAccount", sa);
	if (!api_get(pod, "status"))
		api_set(pod, "status", json_object());
	api_set_str(pod, "status.phase", "Pending");
	api_set_str(pod, "status.qosClass", qos_class(pod));
	const struct resource *sares = resource_for_kind(ad->q->a, "", "ServiceAccount");
	if (!sares) {
		finish(ad, NULL);
		return;
	}
	_cleanup_free_ char *key = resource_key(sares, ad->q->r.namespace, sa);
	if (store_get(ad->q->a->store, key, strlen(key), 0, sa_got, ad) < 0)
		finish(ad, api_status_internal_error("cannot read service accounts"));
}

/* --- namespaces --- */

static void kind_admit(struct admit *ad)
{
	const struct sch_kind *k = ad->q->res->kind;

	if (!*k->group && streq(k->kind, "Pod")) {
		admit_pod(ad);
		return;
	}
	if (!*k->group && streq(k->kind, "Service")) {
		admit_fn done = ad->done;
		struct req *q = ad->q;
		json_t *svc = ad->obj;
		free(ad);
		alloc_service(q, svc, done);
		return;
	}
	if (!*k->group && streq(k->kind, "Namespace")) {
		api_set_str(ad->obj, "status.phase", "Active");
		if (!api_get(ad->obj, "spec.finalizers"))
			api_set(ad->obj, "spec.finalizers", json_pack("[s]", "kubernetes"));
	}
	finish(ad, NULL);
}

static void ns_got(void *ud, int err, int64_t rev, const struct store_kv *kv)
{
	struct admit *ad = ud;
	struct req *q = ad->q;

	if (err) {
		finish(ad, api_status_internal_error(store_strerror(err)));
		return;
	}
	if (!kv) {
		finish(ad, api_status_not_found("", "namespaces", q->r.namespace));
		return;
	}
	json_t *ns = object_from_kv(kv);
	const char *phase = api_get_str(ns, "status.phase");
	bool terminating = api_get(ns, "metadata.deletionTimestamp") ||
			   (phase && streq(phase, "Terminating"));
	json_decref(ns);
	if (terminating) {
		_cleanup_free_ char *why = xasprintf(
			"unable to create new content in namespace %s because it is being terminated",
			q->r.namespace);
		finish(ad, api_status_forbidden(q->res->kind->group, q->res->kind->plural,
						api_meta_name(ad->obj), why));
		return;
	}
	kind_admit(ad);
}

void admission_create(struct req *q, json_t *obj, admit_fn done)
{
	struct admit *ad = xnew(struct admit, 1);
	ad->q = q;
	ad->obj = obj;
	ad->done = done;
	if (!q->res->kind->namespaced) {
		kind_admit(ad);
		return;
	}
	const struct resource *nsres = resource_for_kind(q->a, "", "Namespace");
	_cleanup_free_ char *key = resource_key(nsres, NULL, q->r.namespace);
	if (store_get(q->a->store, key, strlen(key), 0, ns_got, ad) < 0)
		finish(ad, api_status_internal_error("cannot read namespaces"));
}
