/* What kube-apiserver's strategies do to an object before validating it
 * (PrepareForCreate, PrepareForUpdate): status reset or carried over, values the server
 * owns kept, a Job's generated selector, a Pod's QoS class. */
#include "apiserver/validate/internal.h"

static bool has_status_subresource(const struct sch_kind *k)
{
	for (size_t i = 0; k->subresources && k->subresources[i]; i++)
		if (streq(k->subresources[i], "status"))
			return true;
	return false;
}

static bool is(const struct sch_kind *k, const char *group, const char *kind)
{
	return streq(k->kind, kind) && streq(streq(k->group, "core") ? "" : k->group, group);
}

/* ---- Pod QoS class (GetPodQOS) ---- */

static void add_to(json_t *sum, const char *name, const struct api_quantity *q)
{
	json_t *cur = json_object_get(sum, name);
	struct api_quantity acc;

	if (cur && api_quantity_from_json(cur, &acc, NULL) == 0 && api_quantity_add(&acc, q) == 0)
		json_object_set_new(sum, name, api_quantity_to_json(&acc));
	else if (!cur)
		json_object_set_new(sum, name, api_quantity_to_json(q));
}

static const char *pod_qos(const json_t *spec)
{
	static const char *const lists[] = {"containers", "initContainers", NULL};
	json_t *req = json_object(), *lim = json_object();
	bool guaranteed = true;
	const char *qos, *k;
	json_t *v;

	for (size_t l = 0; lists[l]; l++) {
		json_t *cs = js_arr(spec, lists[l]);

		for (size_t i = 0; cs && i < json_array_size(cs); i++) {
			json_t *res = js_obj(json_array_get(cs, i), "resources");
			bool cpu = false, mem = false;

			json_object_foreach(js_obj(res, "requests"), k, v) {
				struct api_quantity q;

				if ((streq(k, "cpu") || streq(k, "memory")) &&
				    api_quantity_from_json(v, &q, NULL) == 0 && !api_quantity_is_zero(&q))
					add_to(req, k, &q);
			}
			json_object_foreach(js_obj(res, "limits"), k, v) {
				struct api_quantity q;

				if ((streq(k, "cpu") || streq(k, "memory")) &&
				    api_quantity_from_json(v, &q, NULL) == 0 && !api_quantity_is_zero(&q)) {
					add_to(lim, k, &q);
					cpu |= streq(k, "cpu");
					mem |= streq(k, "memory");
				}
			}
			guaranteed &= cpu && mem;
		}
	}
	if (!json_object_size(req) && !json_object_size(lim)) {
		qos = "BestEffort";
	} else {
		json_object_foreach(req, k, v) {
			struct api_quantity a, b;
			json_t *lv = json_object_get(lim, k);

			if (!lv || api_quantity_from_json(v, &a, NULL) < 0 ||
			    api_quantity_from_json(lv, &b, NULL) < 0 || api_quantity_cmp(&a, &b) != 0)
				guaranteed = false;
		}
		qos = guaranteed && json_object_size(req) == json_object_size(lim) ? "Guaranteed"
										   : "Burstable";
	}
	json_decref(req);
	json_decref(lim);
	return qos;
}

/* ---- create ---- */

void validate_prepare_create(const struct sch_kind *k, json_t *obj)
{
	if (!json_is_object(obj))
		return;
	if (is(k, "", "Pod")) {
		json_object_set_new(obj, "status",
				    json_pack("{ssss}", "phase", "Pending", "qosClass",
					      pod_qos(js_obj(obj, "spec"))));
	} else if (is(k, "", "Namespace")) {
		json_t *spec = js_obj(obj, "spec"), *fin;
		bool found = false;

		if (!spec) {
			spec = json_object();
			json_object_set_new(obj, "spec", spec);
		}
		fin = js_arr(spec, "finalizers");
		if (!fin) {
			fin = json_array();
			json_object_set_new(spec, "finalizers", fin);
		}
		for (size_t i = 0; i < json_array_size(fin); i++)
			found |= streq(json_string_value(json_array_get(fin, i)) ?: "", "kubernetes");
		if (!found)
			json_array_append_new(fin, json_string("kubernetes"));
		json_object_set_new(obj, "status", json_pack("{ss}", "phase", "Active"));
	} else if (is(k, "", "Service")) {
		json_object_set_new(obj, "status", json_pack("{s{}}", "loadBalancer"));
	} else if (is(k, "", "PersistentVolumeClaim")) {
		json_object_set_new(obj, "status", json_pack("{ss}", "phase", "Pending"));
	} else if (is(k, "", "Node")) {
		/* The agent registers its node with its status. */
	} else if (has_status_subresource(k)) {
		json_object_set_new(obj, "status", json_object());
	}
	if (is(k, "batch", "Job"))
		job_generate_selector(obj);
}

/* ---- update ---- */

static bool needs_node_port(const json_t *spec)
{
	const char *t = js_str(spec, "type");
	json_t *alloc = json_object_get(spec ? spec : json_null(), "allocateLoadBalancerNodePorts");

	return streq(t, "NodePort") || (streq(t, "LoadBalancer") && !json_is_false(alloc));
}

/* patchAllocatedValues: what the server allocated stays unless the client chose anew. */
static void service_keep_allocated(json_t *spec, const json_t *old)
{
	bool ext_new = streq(js_str(spec, "type"), "ExternalName");
	bool ext_old = streq(js_str(old, "type"), "ExternalName");
	json_t *nports = js_arr(spec, "ports"), *oports = js_arr(old, "ports");

	if (!ext_new && !ext_old) {
		if (!*js_str(spec, "clusterIP") && js_has(old, "clusterIP"))
			json_object_set(spec, "clusterIP", json_object_get(old, "clusterIP"));
		if (!json_array_size(js_arr(spec, "clusterIPs")) && json_array_size(js_arr(old, "clusterIPs")))
			json_object_set_new(spec, "clusterIPs", json_deep_copy(js_arr(old, "clusterIPs")));
	}
	if (needs_node_port(spec) && needs_node_port(old)) {
		for (size_t i = 0; nports && i < json_array_size(nports); i++) {
			json_t *p = json_array_get(nports, i);
			int64_t want = 0;
			bool used = false;

			if (!json_is_object(p) || js_int(p, "nodePort", 0))
				continue;
			for (size_t j = 0; oports && j < json_array_size(oports); j++)
				if (streq(js_str(json_array_get(oports, j), "name"), js_str(p, "name")))
					want = js_int(json_array_get(oports, j), "nodePort", 0);
			for (size_t j = 0; want && j < json_array_size(nports); j++)
				used |= js_int(json_array_get(nports, j), "nodePort", 0) == want;
			if (want && !used)
				json_object_set_new(p, "nodePort", json_integer(want));
		}
	}
	if (streq(js_str(spec, "type"), "LoadBalancer") && streq(js_str(old, "type"), "LoadBalancer") &&
	    streq(js_str(spec, "externalTrafficPolicy"), "Local") &&
	    streq(js_str(old, "externalTrafficPolicy"), "Local") &&
	    !js_int(spec, "healthCheckNodePort", 0) && js_has(old, "healthCheckNodePort"))
		json_object_set(spec, "healthCheckNodePort", json_object_get(old, "healthCheckNodePort"));
}

void validate_prepare_update(const struct sch_kind *k, json_t *obj, const json_t *old)
{
	json_t *os;

	if (!json_is_object(obj) || !json_is_object(old))
		return;
	/* The main resource cannot change status where a status subresource exists. */
	if (has_status_subresource(k)) {
		os = json_object_get(old, "status");
		if (os)
			json_object_set_new(obj, "status", json_deep_copy(os));
		else
			json_object_del(obj, "status");
	}
	if (is(k, "", "Namespace")) {
		/* spec.finalizers change only through namespaces/finalize. */
		os = json_object_get(old, "spec");
		if (os)
			json_object_set_new(obj, "spec", json_deep_copy(os));
	} else if (is(k, "", "Service") && js_obj(obj, "spec")) {
		service_keep_allocated(js_obj(obj, "spec"), js_obj(old, "spec"));
	}
}
