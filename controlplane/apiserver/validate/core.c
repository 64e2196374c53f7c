/* core/v1 kinds other than Pod and Service: Namespace, ConfigMap, Secret, ServiceAccount,
 * Node, Event, ReplicationController, PersistentVolumeClaim. */
#include <stdio.h>

#include "apiserver/validate/pod.h"

/* core.MaxSecretSize, also the ConfigMap limit. */
#define MAX_DATA_SIZE (1024 * 1024)

static const char immutable_set[] = "field is immutable when `immutable` is set";

/* ---- Namespace ---- */

static void namespace_default(json_t *ns)
{
	const char *name = api_meta_name(ns);

	if (name && *name)
		api_meta_set_label(ns, "kubernetes.io/metadata.name", name);
}

static void finalizer_name(const char *f, const char *path, struct api_field_errors *e)
{
	static const char *const standard[] = {"kubernetes", "orphan", "foregroundDeletion", NULL};
	struct api_msgs m = {0};

	api_is_qualified_name(f, &m);
	err_msgs(e, path, f, &m);
	api_msgs_clear(&m);
	if (!strchr(f, '/') && !str_in(f, standard))
		err_invalid_str(e, path, f, "name is neither a standard finalizer name nor is it fully "
					    "qualified");
}

static void namespace_validate(const json_t *ns, struct api_field_errors *e)
{
	json_t *fin = js_arr(js_obj(ns, "spec"), "finalizers");

	for (size_t i = 0; fin && i < json_array_size(fin); i++)
		finalizer_name(json_string_value(json_array_get(fin, i)) ?: "", "spec.finalizers", e);
}

static void namespace_status_update(const json_t *ns, const json_t *old, struct api_field_errors *e)
{
	const char *phase = js_str(js_obj(ns, "status"), "phase");

	(void)old;
	if (!js_has(js_obj(ns, "metadata"), "deletionTimestamp")) {
		if (!streq(phase, "Active"))
			err_invalid_str(e, "status.Phase", phase, "may only be 'Active' if "
								  "`deletionTimestamp` is empty");
	} else if (!streq(phase, "Terminating")) {
		err_invalid_str(e, "status.Phase", phase, "may only be 'Terminating' if "
							  "`deletionTimestamp` is not empty");
	}
}

/* ---- ConfigMap ---- */

static size_t b64_decoded_len(const json_t *v)
{
	size_t n = 0;
	_cleanup_free_ uint8_t *raw = json_is_string(v) ? base64_decode(json_string_value(v), &n)
						      : NULL;

	return raw ? n : 0;
}

static void configmap_validate(const json_t *cm, struct api_field_errors *e)
{
	json_t *data = js_obj(cm, "data"), *bin = js_obj(cm, "binaryData");
	size_t total = 0;
	const char *k;
	json_t *v;

	json_object_foreach(data, k, v) {
		_cleanup_free_ char *p = vp_key("data", k);

		check_config_key(k, p, e);
		if (bin && json_object_get(bin, k))
			err_invalid_str(e, p, k, "duplicate of key present in binaryData");
		total += json_is_string(v) ? json_string_length(v) : 0;
	}
	json_object_foreach(bin, k, v) {
		_cleanup_free_ char *p = vp_key("binaryData", k);

		check_config_key(k, p, e);
		total += b64_decoded_len(v);
	}
	/* Kubernetes names no field here: the whole object is too large. */
	if (total > MAX_DATA_SIZE)
		err_too_long(e, "", MAX_DATA_SIZE);
}

static void configmap_update(const json_t *cm, const json_t *old, struct api_field_errors *e)
{
	if (!js_bool(old, "immutable"))
		return;
	if (!js_bool(cm, "immutable"))
		err_forbidden(e, "immutable", immutable_set);
	if (!js_equal(js_obj(cm, "data"), js_obj(old, "data")))
		err_forbidden(e, "data", immutable_set);
	if (!js_equal(js_obj(cm, "binaryData"), js_obj(old, "binaryData")))
		err_forbidden(e, "binaryData", immutable_set);
}

/* ---- Secret ---- */

/* stringData is write-only: merged into data (base64) and dropped, as decoding does. */
static void secret_default(json_t *s)
{
	json_t *sd = js_obj(s, "stringData"), *data;
	const char *k;
	json_t *v;

	if (sd) {
		data = js_obj(s, "data");
		if (!data) {
			data = json_object();
			json_object_set_new(s, "data", data);
		}
		json_object_foreach(sd, k, v) {
			const char *str = json_is_string(v) ? json_string_value(v) : "";
			_cleanup_free_ char *b = base64_encode(str, strlen(str));

			json_object_set_new(data, k, json_string(b));
		}
	}
	json_object_del(s, "stringData");
}

static void secret_json_key(const json_t *data, const char *key, struct api_field_errors *e)
{
	_cleanup_free_ char *p = vp_key("data", key);
	json_t *v = json_object_get(data, key), *parsed;
	_cleanup_free_ uint8_t *raw = NULL;
	_cleanup_free_ char *msg = NULL;
	size_t n = 0;

	if (!v) {
		err_required(e, p, NULL);
		return;
	}
	raw = json_is_string(v) ? base64_decode(json_string_value(v), &n) : NULL;
	if (api_json_parse(raw ? (const char *)raw : "", n, 0, &parsed, &msg) < 0) {
		err_invalid_str(e, p, "<secret contents redacted>", msg ? msg : "invalid JSON");
		return;
	}
	if (!json_is_object(parsed))
		err_invalid_str(e, p, "<secret contents redacted>",
				"json: cannot unmarshal non-object into Go value of type "
				"map[string]interface {}");
	json_decref(parsed);
}

static void secret_validate(const json_t *s, struct api_field_errors *e)
{
	json_t *data = js_obj(s, "data");
	const char *type = js_str(s, "type");
	size_t total = 0;
	const char *k;
	json_t *v;

	json_object_foreach(data, k, v) {
		_cleanup_free_ char *p = vp_key("data", k);

		check_config_key(k, p, e);
		total += b64_decoded_len(v);
	}
	if (total > MAX_DATA_SIZE)
		err_too_long(e, "data", MAX_DATA_SIZE);
	if (streq(type, "kubernetes.io/service-account-token")) {
		if (!*(api_meta_annotation(s, "kubernetes.io/service-account.name") ?: ""))
			err_required(e, "metadata.annotations[kubernetes.io/service-account.name]", NULL);
	} else if (streq(type, "kubernetes.io/dockercfg")) {
		secret_json_key(data, ".dockercfg", e);
	} else if (streq(type, "kubernetes.io/dockerconfigjson")) {
		secret_json_key(data, ".dockerconfigjson", e);
	} else if (streq(type, "kubernetes.io/basic-auth")) {
		if (!json_object_get(data, "username") && !json_object_get(data, "password")) {
			err_required(e, "data[username]", NULL);
			err_required(e, "data[password]", NULL);
		}
	} else if (streq(type, "kubernetes.io/ssh-auth")) {
		if (b64_decoded_len(json_object_get(data, "ssh-privatekey")) == 0)
			err_required(e, "data[ssh-privatekey]", NULL);
	} else if (streq(type, "kubernetes.io/tls")) {
		if (!json_object_get(data, "tls.crt"))
			err_required(e, "data[tls.crt]", NULL);
		if (!json_object_get(data, "tls.key"))
			err_required(e, "data[tls.key]", NULL);
	}
}

static void secret_update(const json_t *s, const json_t *old, struct api_field_errors *e)
{
	if (!streq(js_str(s, "type"), js_str(old, "type")))
		err_invalid_str(e, "type", js_str(s, "type"), "field is immutable");
	if (!js_bool(old, "immutable"))
		return;
	if (!js_bool(s, "immutable"))
		err_forbidden(e, "immutable", immutable_set);
	if (!js_equal(js_obj(s, "data"), js_obj(old, "data")))
		err_forbidden(e, "data", immutable_set);
}

/* ---- Node ---- */

static void node_default(json_t *node)
{
	json_t *spec = js_obj(node, "spec"), *status = js_obj(node, "status");
	json_t *cidrs = js_arr(spec, "podCIDRs");

	if (spec && *js_str(spec, "podCIDR") && !json_array_size(cidrs))
		json_object_set_new(spec, "podCIDRs", json_pack("[s]", js_str(spec, "podCIDR")));
	else if (spec && json_array_size(cidrs) && json_is_string(json_array_get(cidrs, 0)))
		json_object_set(spec, "podCIDR", json_array_get(cidrs, 0));
	if (status && js_obj(status, "capacity") && !js_has(status, "allocatable"))
		json_object_set_new(status, "allocatable", json_deep_copy(js_obj(status, "capacity")));
}

static void node_validate(const json_t *node, struct api_field_errors *e)
{
	static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};
	json_t *spec = js_obj(node, "spec"), *taints = js_arr(spec, "taints");
	json_t *cidrs = js_arr(spec, "podCIDRs");
	int fam[2] = {0, 0};

	/* Kubernetes validates spec.taints under metadata.taints. */
	for (size_t i = 0; taints && i < json_array_size(taints); i++) {
		json_t *t = json_array_get(taints, i);
		_cleanup_free_ char *p = vp_index("metadata.taints", i);
		CHILD(kp, p, "key");
		CHILD(vp, p, "value");
		CHILD(ep, p, "effect");
		const char *key = js_str(t, "key"), *effect = js_str(t, "effect");
		struct api_msgs m = {0};
		bool dup = false;

		api_is_qualified_name(key, &m);
		err_msgs(e, kp, key, &m);
		api_msgs_clear(&m);
		if (api_is_valid_label_value(js_str(t, "value"), &m)) {
			_cleanup_free_ char *d = api_msgs_join(&m, ";");
			err_invalid_str(e, vp, js_str(t, "value"), d);
		}
		api_msgs_clear(&m);
		if (!*effect)
			err_required(e, ep, NULL);
		else if (!str_in(effect, effects))
			err_not_supported(e, ep, effect, effects);
		for (size_t j = 0; j < i && !dup; j++) {
			json_t *o = json_array_get(taints, j);
			dup = streq(js_str(o, "key"), key) && streq(js_str(o, "effect"), effect);
		}
		if (dup) {
			_cleanup_free_ char *raw = xasprintf(
				"core.Taint{Key:\"%s\", Value:\"%s\", Effect:\"%s\", TimeAdded:<nil>}: "
				"taints must be unique by key and effect pair", key, js_str(t, "value"),
				effect);
			api_field_errors_add(e, API_FIELD_DUPLICATE, p, NULL, raw);
		}
	}
	for (size_t i = 0; cidrs && i < json_array_size(cidrs); i++) {
		const char *c = json_string_value(json_array_get(cidrs, i)) ?: "";
		_cleanup_free_ char *p = vp_index("spec.podCIDRs", i);

		if (!cidr_valid(c, i < 2 ? &fam[i] : NULL))
			err_invalid_str(e, p, c, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
						 "2001:db8::/64)");
	}
	if (cidrs && json_array_size(cidrs) > 1 &&
	    (json_array_size(cidrs) > 2 || fam[0] == fam[1])) {
		_cleanup_free_ char *raw = go_string_slice(cidrs);
		err_invalid_raw(e, "spec.podCIDRs", raw, "may specify no more than one CIDR for each IP "
							 "family");
	}
}

static void node_update(const json_t *node, const json_t *old, struct api_field_errors *e)
{
	json_t *ns = js_obj(node, "spec"), *os = js_obj(old, "spec");
	json_t *oc = js_arr(os, "podCIDRs");

	if (oc && json_array_size(oc) && !json_equal(oc, js_arr(ns, "podCIDRs") ?: json_null()))
		err_forbidden(e, "spec.podCIDRs", "node updates may not change podCIDR except from \"\" "
						  "to valid");
	if (*js_str(os, "providerID") && !streq(js_str(os, "providerID"), js_str(ns, "providerID")))
		err_forbidden(e, "spec.providerID", "node updates may not change providerID except from "
						    "\"\" to valid");
	if (!streq(js_str(os, "externalID"), js_str(ns, "externalID")))
		err_forbidden(e, "spec.externalID", "may not be updated");
}

static void node_status_update(const json_t *node, const json_t *old, struct api_field_errors *e)
{
	static const char *const lists[] = {"capacity", "allocatable", NULL};
	json_t *st = js_obj(node, "status");

	(void)old;
	for (size_t l = 0; lists[l]; l++) {
		_cleanup_free_ char *base = vp_child("status", lists[l]);
		const char *k;
		json_t *v;

		json_object_foreach(js_obj(st, lists[l]), k, v) {
			_cleanup_free_ char *p = vp_key(base, k);
			struct api_quantity q;

			if (check_quantity(v, p, e, &q) == 0)
				check_quantity_value(k, &q, p, e);
		}
	}
}

/* ---- Event (core/v1 and events.k8s.io/v1) ---- */

static void check_max_len(const json_t *o, const char *key, const char *path, size_t max,
			  struct api_field_errors *e)
{
	if (strlen(js_str(o, key)) > max) {
		_cleanup_free_ char *d = xasprintf("can have at most %zu characters", max);
		err_invalid_str(e, path, "", d);
	}
}

/* legacyValidateEvent over either shape; names are core/v1's. */
static void event_common(const json_t *ev, bool v1events, struct api_field_errors *e)
{
	const char *ns = api_meta_namespace(ev) ?: "";
	json_t *io = js_obj(ev, v1events ? "regarding" : "involvedObject");
	const char *ions = js_str(io, "namespace");
	const char *rc_key = v1events ? "reportingController" : "reportingComponent";
	const char *rc = js_str(ev, rc_key);
	struct api_msgs m = {0};

	if (!js_has(ev, "eventTime")) {
		if ((!*ions && *ns && !streq(ns, "default")) || (*ions && !streq(ns, ions)))
			err_invalid_str(e, "involvedObject.namespace", ions, "does not match "
									      "event.namespace");
	} else {
		if (!*ions && !streq(ns, "default") && !streq(ns, "kube-system"))
			err_invalid_str(e, "involvedObject.namespace", ions, "does not match "
									      "event.namespace");
		if (!*rc)
			err_required(e, rc_key, NULL);
		api_is_qualified_name(rc, &m);
		err_msgs(e, rc_key, rc, &m);
		api_msgs_clear(&m);
		if (!*js_str(ev, "reportingInstance"))
			err_required(e, "reportingInstance", NULL);
		check_max_len(ev, "reportingInstance", "reportingInstance", 128, e);
		if (!*js_str(ev, "action"))
			err_required(e, "action", NULL);
		check_max_len(ev, "action", "action", 128, e);
		if (!*js_str(ev, "reason"))
			err_required(e, "reason", NULL);
		check_max_len(ev, "reason", "reason", 128, e);
		check_max_len(ev, v1events ? "note" : "message", "message", 1024, e);
	}
	api_is_dns1123_subdomain(ns, &m);
	err_msgs(e, "namespace", ns, &m);
	api_msgs_clear(&m);
}

static void event_validate(const json_t *ev, struct api_field_errors *e)
{
	event_common(ev, false, e);
}

static void events_v1_validate(const json_t *ev, struct api_field_errors *e)
{
	json_t *series = js_obj(ev, "series");
	const char *type = js_str(ev, "type");
	static const char *const deprecated[][2] = {
		{"deprecatedFirstTimestamp", "firstTimestamp"},
		{"deprecatedLastTimestamp", "lastTimestamp"},
		{"deprecatedCount", "count"},
		{"deprecatedSource", "source"},
	};

	event_common(ev, true, e);
	if (series) {
		if (js_int(series, "count", 0) < 2)
			err_invalid_str(e, "series.count", "", "should be at least 2");
		if (!js_has(series, "lastObservedTime"))
			err_required(e, "series.lastObservedTime", NULL);
	}
	if (!js_has(ev, "eventTime"))
		err_required(e, "eventTime", NULL);
	if (!streq(type, "Normal") && !streq(type, "Warning")) {
		_cleanup_free_ char *d = xasprintf("has invalid value: %s", type);
		err_invalid_str(e, "type", "", d);
	}
	for (size_t i = 0; i < ARRAY_SIZE(deprecated); i++) {
		json_t *v = json_object_get(ev, deprecated[i][0]);

		if (v && !js_is_zero(v))
			err_invalid_str(e, deprecated[i][1], "", "needs to be unset");
	}
}

/* ---- ReplicationController ---- */

static void rc_default(json_t *rc)
{
	json_t *spec = js_obj(rc, "spec");
	json_t *labels = js_obj(js_obj(js_obj(spec, "template"), "metadata"), "labels");

	if (!labels || !json_object_size(labels))
		return;
	if (!json_object_size(js_obj(spec, "selector")))
		json_object_set_new(spec, "selector", json_deep_copy(labels));
	if (!json_object_size(api_meta_labels(rc))) {
		json_t *meta = js_obj(rc, "metadata");

		if (!meta) {
			meta = json_object();
			json_object_set_new(rc, "metadata", meta);
		}
		json_object_set_new(meta, "labels", json_deep_copy(labels));
	}
}

static void rc_validate(const json_t *rc, struct api_field_errors *e)
{
	static const char *const always[] = {"Always", NULL};
	json_t *spec = js_obj(rc, "spec"), *sel = js_obj(spec, "selector");
	json_t *tmpl = js_obj(spec, "template");
	json_t *tlabels = js_obj(js_obj(tmpl, "metadata"), "labels");

	check_nonnegative(js_int(spec, "minReadySeconds", 0), "spec.minReadySeconds", e);
	if (!json_object_size(sel))
		err_required(e, "spec.selector", NULL);
	check_nonnegative(js_int(spec, "replicas", 0), "spec.replicas", e);
	if (!tmpl) {
		err_required(e, "spec.template", NULL);
		return;
	}
	if (json_object_size(sel)) {
		const char *k;
		json_t *v;
		bool match = true;

		json_object_foreach(sel, k, v)
			match &= json_equal(v, tlabels ? json_object_get(tlabels, k) ?: json_null()
						       : json_null());
		if (!match) {
			_cleanup_free_ char *raw = go_string_map(tlabels);
			err_invalid_raw(e, "spec.template.metadata.labels", raw,
					"`selector` does not match template `labels`");
		}
	}
	pod_template_validate(tmpl, "spec.template", e);
	if (!streq(js_str(js_obj(tmpl, "spec"), "restartPolicy"), "Always"))
		err_not_supported(e, "spec.template.spec.restartPolicy",
				  js_str(js_obj(tmpl, "spec"), "restartPolicy"), always);
	if (js_has(js_obj(tmpl, "spec"), "activeDeadlineSeconds"))
		err_forbidden(e, "spec.template.spec.activeDeadlineSeconds",
			      "activeDeadlineSeconds in ReplicationController is not Supported");
}

static void rc_template_default(json_t *rc)
{
	rc_default(rc);
	pod_template_default(js_obj(js_obj(rc, "spec"), "template"));
}

/* ---- PersistentVolumeClaim ---- */

static void pvc_validate(const json_t *pvc, struct api_field_errors *e)
{
	json_t *spec = js_obj(pvc, "spec");
	json_t *req = js_obj(js_obj(spec, "resources"), "requests");

	if (!json_array_size(js_arr(spec, "accessModes")))
		err_required(e, "spec.accessModes", "at least 1 access mode is required");
	if (!req || !json_object_get(req, "storage"))
		err_required(e, "spec.resources[storage]", NULL);
}

const struct kind_rules core_rules[] = {
	{.group = "", .kind = "Namespace", .name = NAME_DNS_LABEL, .defaults = namespace_default,
	 .validate = namespace_validate, .status_update = namespace_status_update},
	{.group = "", .kind = "ConfigMap", .name = NAME_DNS_SUBDOMAIN,
	 .validate = configmap_validate, .update = configmap_update},
	{.group = "", .kind = "Secret", .name = NAME_DNS_SUBDOMAIN, .defaults = secret_default,
	 .validate = secret_validate, .update = secret_update},
	{.group = "", .kind = "ServiceAccount", .name = NAME_DNS_SUBDOMAIN},
	{.group = "", .kind = "Node", .name = NAME_DNS_SUBDOMAIN, .defaults = node_default,
	 .validate = node_validate, .update = node_update, .status_update = node_status_update,
	 .schema_skip = (const char *const[]){"spec.taints", NULL}},
	/* core/v1 Events keep their legacy rules: any name that is a path segment. */
	{.group = "", .kind = "Event", .name = NAME_ANY, .validate = event_validate},
	{.group = "events.k8s.io", .kind = "Event", .name = NAME_DNS_SUBDOMAIN,
	 .validate = events_v1_validate},
	{.group = "", .kind = "ReplicationController", .name = NAME_DNS_SUBDOMAIN,
	 .defaults = rc_template_default, .validate = rc_validate},
	{.group = "", .kind = "PersistentVolumeClaim", .name = NAME_DNS_SUBDOMAIN,
	 .validate = pvc_validate},
};
const size_t core_nrules = ARRAY_SIZE(core_rules);
