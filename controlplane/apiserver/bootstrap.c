/* What every cluster starts with: the four system namespaces with their
 * default service accounts, and the kubernetes Service whose endpoints are
 * this API server. Created when absent, never overwritten. */
#include "apiserver/internal.h"

#include <arpa/inet.h>
#include <stdio.h>

struct boot {
	struct apiserver *a;
};

static void created(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct apiserver *a = ud;
	if (err)
		log_error(a->log, "cannot create a bootstrap object", LOG_ERR(err));
	a->bootstrap_pending--;
}

static void create_if_absent(struct apiserver *a, const char *group, const char *kind,
			     const char *ns, json_t *obj)
{
	const struct resource *res = resource_for_kind(a, group, kind);
	char uid[37], ts[API_TIME_LEN];

	if (!res) {
		json_decref(obj);
		return;
	}
	json_object_set_new(obj, "kind", json_string(kind));
	json_object_set_new(obj, "apiVersion", json_string(res->api_version));
	if (ns)
		api_meta_set_namespace(obj, ns);
	object_new_uid(uid);
	api_meta_set_uid(obj, uid);
	api_time_format((int64_t)(now_real_ns() / 1000000000u * 1000000000u), ts);
	api_set_str(obj, "metadata.creationTimestamp", ts);
	_cleanup_free_ char *key = resource_key(res, ns, api_meta_name(obj));
	struct buf b = {0};
	object_to_store(res, obj, &b);
	a->bootstrap_pending++;
	if (store_create(a->store, key, strlen(key), b.data, b.len, 0, created, a) < 0)
		a->bootstrap_pending--;
	buf_free(&b);
	json_decref(obj);
}

void bootstrap_start(struct apiserver *a)
{
	static const char *const namespaces[] = {"default", "kube-system", "kube-public",
						 "kube-node-lease"};
	char ip[INET_ADDRSTRLEN];
	struct in_addr in = {.s_addr = htonl(a->svc_base + 1)};

	for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++) {
		create_if_absent(a, "", "Namespace", NULL,
				 json_pack("{s:{s:s}, s:{s:[s]}, s:{s:s}}", "metadata", "name",
					   namespaces[i], "spec", "finalizers", "kubernetes", "status",
					   "phase", "Active"));
		create_if_absent(a, "", "ServiceAccount", namespaces[i],
				 json_pack("{s:{s:s}}", "metadata", "name", "default"));
	}
	inet_ntop(AF_INET, &in, ip, sizeof(ip));
	alloc_reserve_ip(a, ip, "default/kubernetes");
	create_if_absent(
		a, "", "Service", "default",
		json_pack("{s:{s:s, s:{s:s, s:s}}, s:{s:s, s:s, s:[s], s:[{s:s, s:i, s:s, s:i}], "
			  "s:s, s:s, s:[s], s:s}}",
			  "metadata", "name", "kubernetes", "labels", "component", "apiserver",
			  "provider", "kubernetes", "spec", "type", "ClusterIP", "clusterIP", ip,
			  "clusterIPs", ip, "ports", "name", "https", "port", 443, "protocol", "TCP",
			  "targetPort", (int)a->cfg.advertise_port, "sessionAffinity", "None",
			  "ipFamilyPolicy", "SingleStack", "ipFamilies", "IPv4",
			  "internalTrafficPolicy", "Cluster"));
	create_if_absent(a, "", "Endpoints", "default",
			 json_pack("{s:{s:s, s:{s:s}}, s:[{s:[{s:s}], s:[{s:s, s:i, s:s}]}]}",
				   "metadata", "name", "kubernetes", "labels",
				   "endpointslice.kubernetes.io/skip-mirror", "true", "subsets",
				   "addresses", "ip", a->cfg.advertise_address, "ports", "name", "https",
				   "port", (int)a->cfg.advertise_port, "protocol", "TCP"));
}
