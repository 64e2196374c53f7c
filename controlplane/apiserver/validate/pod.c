/* The Pod kind: its create, update and status rules, and the pod defaults shared with
 * every pod template (SetDefaults_Pod, SetDefaults_PodSpec, SetDefaults_Container...). */
#include <stdio.h>

#include "apiserver/validate/pod.h"

/* ---- defaults ---- */

/* Always for ":latest" or no tag (and no digest), else IfNotPresent. */
static const char *pull_policy_for(const char *image)
{
	const char *slash = strrchr(image, '/');
	const char *last = slash ? slash + 1 : image;
	const char *colon = strchr(last, ':');

	if (strchr(image, '@'))
		return "IfNotPresent";
	if (!colon || streq(colon + 1, "latest"))
		return "Always";
	return "IfNotPresent";
}

static void container_default(json_t *c)
{
	if (!*js_str(c, "imagePullPolicy"))
		json_object_set_new(c, "imagePullPolicy",
				    json_string(pull_policy_for(js_str(c, "image"))));
}

static void containers_default(json_t *list)
{
	for (size_t i = 0; json_is_array(list) && i < json_array_size(list); i++)
		if (json_is_object(json_array_get(list, i)))
			container_default(json_array_get(list, i));
}

void pod_spec_default(json_t *spec)
{
	json_t *vols = js_arr(spec, "volumes");
	const char *sa;

	if (!json_is_object(spec))
		return;
	containers_default(js_arr(spec, "containers"));
	containers_default(js_arr(spec, "initContainers"));
	containers_default(js_arr(spec, "ephemeralContainers"));
	/* A volume that names no source is an emptyDir. */
	for (size_t i = 0; vols && i < json_array_size(vols); i++) {
		json_t *v = json_array_get(vols, i);
		const char *k;
		json_t *val;
		bool src = false;

		json_object_foreach(v, k, val)
			src |= !streq(k, "name") && !json_is_null(val);
		if (json_is_object(v) && !src)
			json_object_set_new(v, "emptyDir", json_object());
	}
	/* serviceAccount is the deprecated alias, always written back equal. */
	sa = js_str(spec, "serviceAccountName");
	if (!*sa && *js_str(spec, "serviceAccount"))
		json_object_set_new(spec, "serviceAccountName",
				    json_string(js_str(spec, "serviceAccount")));
	sa = js_str(spec, "serviceAccountName");
	if (*sa)
		json_object_set_new(spec, "serviceAccount", json_string(sa));
}

void pod_template_default(json_t *tmpl)
{
	pod_spec_default(js_obj(tmpl, "spec"));
}

/* Pods only: requests default to limits, host ports to container ports on the host
 * network, service links on. */
static void pod_only_defaults(json_t *spec)
{
	static const char *const lists[] = {"containers", "initContainers", NULL};
	bool host_net = js_bool(spec, "hostNetwork");

	if (!js_has(spec, "enableServiceLinks"))
		json_object_set_new(spec, "enableServiceLinks", json_true());
	for (size_t l = 0; lists[l]; l++) {
		json_t *cs = js_arr(spec, lists[l]);

		for (size_t i = 0; cs && i < json_array_size(cs); i++) {
			json_t *c = json_array_get(cs, i), *res = js_obj(c, "resources");
			json_t *lim = js_obj(res, "limits"), *req = js_obj(res, "requests");
			json_t *ports = js_arr(c, "ports");
			const char *k;
			json_t *v;

			if (lim && json_object_size(lim)) {
				if (!req) {
					req = json_object();
					json_object_set_new(res, "requests", req);
				}
				json_object_foreach(lim, k, v)
					if (!json_object_get(req, k))
						json_object_set(req, k, v);
			}
			for (size_t p = 0; host_net && ports && p < json_array_size(ports); p++) {
				json_t *port = json_array_get(ports, p);

				if (json_is_object(port) && js_int(port, "hostPort", 0) == 0 &&
				    js_has(port, "containerPort"))
					json_object_set(port, "hostPort",
							json_object_get(port, "containerPort"));
			}
		}
	}
}

static void pod_default(json_t *pod)
{
	json_t *spec = js_obj(pod, "spec");

	pod_spec_default(spec);
	if (spec)
		pod_only_defaults(spec);
}

/* ---- create ---- */

static void image_whitespace(const json_t *cs, const char *path, struct api_field_errors *e)
{
	for (size_t i = 0; json_is_array(cs) && i < json_array_size(cs); i++) {
		const char *img = js_str(json_array_get(cs, i), "image");
		size_t n = strlen(img);
		_cleanup_free_ char *ci = vp_index(path, i);
		_cleanup_free_ char *ip = vp_child(ci, "image");

		if (n && (img[0] == ' ' || img[0] == '\t' || img[0] == '\n' || img[n - 1] == ' ' ||
			  img[n - 1] == '\t' || img[n - 1] == '\n' || img[0] == '\r' ||
			  img[n - 1] == '\r'))
			err_invalid_str(e, ip, img, "must not have leading or trailing whitespace");
	}
}

static void pod_validate(const json_t *pod, struct api_field_errors *e)
{
	json_t *spec = js_obj(pod, "spec"), *vols = js_arr(spec, "volumes");

	pod_spec_validate(spec, "spec", true, e);
	if (!*js_str(spec, "serviceAccountName")) {
		for (size_t i = 0; vols && i < json_array_size(vols); i++) {
			json_t *srcs = js_arr(js_obj(json_array_get(vols, i), "projected"), "sources");

			for (size_t j = 0; srcs && j < json_array_size(srcs); j++) {
				_cleanup_free_ char *p = xasprintf("spec.volumes[%zu].projected.sources[%zu]"
								   ".serviceAccountToken", i, j);

				if (js_has(json_array_get(srcs, j), "serviceAccountToken"))
					err_forbidden(e, p, "must not be specified when serviceAccountName "
							    "is not set");
			}
		}
	}
	image_whitespace(js_arr(spec, "containers"), "spec.containers", e);
	image_whitespace(js_arr(spec, "initContainers"), "spec.initContainers", e);
}

static void pod_create(const json_t *pod, struct api_field_errors *e)
{
	json_t *spec = js_obj(pod, "spec");

	if (json_array_size(js_arr(spec, "ephemeralContainers")))
		err_forbidden(e, "spec.ephemeralContainers", "cannot be set on create");
	if (json_array_size(js_arr(spec, "schedulingGates")) && *js_str(spec, "nodeName"))
		err_forbidden(e, "spec.nodeName", "cannot be set until all schedulingGates have been "
						  "cleared");
}

/* ---- update ---- */

static const char updatable_fields[] =
	"pod updates may not change fields other than `spec.containers[*].image`,"
	"`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
	"additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be "
	"set to 1 if it was previously negative)";

/* false: stop, as Kubernetes does when the container count changed. */
static bool container_updates(const json_t *nc, const json_t *oc, const char *path,
			      struct api_field_errors *e)
{
	if (json_array_size(nc) != json_array_size(oc)) {
		err_forbidden(e, path, "pod updates may not add or remove containers");
		return false;
	}
	for (size_t i = 0; json_is_array(nc) && i < json_array_size(nc); i++) {
		_cleanup_free_ char *ci = vp_index(path, i);
		_cleanup_free_ char *ip = vp_child(ci, "image");

		if (!*js_str(json_array_get(nc, i), "image"))
			err_required(e, ip, NULL);
	}
	image_whitespace(nc, path, e);
	return true;
}

static bool same_toleration_but_seconds(const json_t *a, const json_t *b)
{
	json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
	bool eq;

	json_object_del(x, "tolerationSeconds");
	json_object_del(y, "tolerationSeconds");
	eq = js_equal(x, y);
	json_decref(x);
	json_decref(y);
	return eq;
}

/* A readable account of what changed, in the spirit of Kubernetes' cmp.Diff. */
static void spec_diff(const json_t *old, const json_t *new, struct buf *b)
{
	const char *k;
	json_t *v;

	buf_puts(b, "  core.PodSpec{\n");
	json_object_foreach((json_t *)old, k, v) {
		json_t *nv = json_object_get(new, k);

		if (js_equal(v, nv))
			continue;
		buf_printf(b, "- \t%c%s: ", k[0] >= 'a' && k[0] <= 'z' ? k[0] - 32 : k[0], k + 1);
		api_json_dump(v, b);
		buf_puts(b, ",\n");
		if (nv && !js_is_zero(nv)) {
			buf_printf(b, "+ \t%c%s: ", k[0] >= 'a' && k[0] <= 'z' ? k[0] - 32 : k[0], k + 1);
			api_json_dump(nv, b);
			buf_puts(b, ",\n");
		}
	}
	json_object_foreach((json_t *)new, k, v) {
		if (json_object_get(old, k) || js_is_zero(v))
			continue;
		buf_printf(b, "+ \t%c%s: ", k[0] >= 'a' && k[0] <= 'z' ? k[0] - 32 : k[0], k + 1);
		api_json_dump(v, b);
		buf_puts(b, ",\n");
	}
	buf_puts(b, "  }\n");
}

static void pod_update(const json_t *pod, const json_t *old, struct api_field_errors *e)
{
	json_t *ns = js_obj(pod, "spec"), *os = js_obj(old, "spec");
	json_t *ntol = js_arr(ns, "tolerations"), *otol = js_arr(os, "tolerations");
	json_t *munged;
	static const char *const lists[] = {"containers", "initContainers", NULL};

	if (!container_updates(js_arr(ns, "containers"), js_arr(os, "containers"),
			       "spec.containers", e) ||
	    !container_updates(js_arr(ns, "initContainers"), js_arr(os, "initContainers"),
			       "spec.initContainers", e))
		return;
	if (js_has(ns, "activeDeadlineSeconds")) {
		int64_t v = js_int(ns, "activeDeadlineSeconds", 0);

		if (v < 0 || v > INT32_MAX) {
			err_invalid_int(e, "spec.activeDeadlineSeconds", v,
					"must be between 0 and 2147483647, inclusive");
			return;
		}
		if (js_has(os, "activeDeadlineSeconds") && js_int(os, "activeDeadlineSeconds", 0) < v) {
			err_invalid_int(e, "spec.activeDeadlineSeconds", v,
					"must be less than or equal to previous value");
			return;
		}
	} else if (js_has(os, "activeDeadlineSeconds")) {
		api_field_invalid(e, "spec.activeDeadlineSeconds", json_null(),
				  "must not update from a positive integer to nil value");
	}
	/* Tolerations: each old one must still be there (its tolerationSeconds may change). */
	for (size_t i = 0; otol && i < json_array_size(otol); i++) {
		bool found = false;

		for (size_t j = 0; ntol && j < json_array_size(ntol) && !found; j++)
			found = same_toleration_but_seconds(json_array_get(otol, i),
							    json_array_get(ntol, j));
		if (!found) {
			err_forbidden(e, "spec.tolerations", "existing toleration can not be modified "
							     "except its tolerationSeconds");
			break;
		}
	}
	/* Scheduling gates may only be removed. */
	for (size_t i = 0; i < json_array_size(js_arr(ns, "schedulingGates")); i++) {
		const char *g = js_str(json_array_get(js_arr(ns, "schedulingGates"), i), "name");
		bool old_gate = false;

		for (size_t j = 0; j < json_array_size(js_arr(os, "schedulingGates")) && !old_gate; j++)
			old_gate = streq(js_str(json_array_get(js_arr(os, "schedulingGates"), j),
						"name"), g);
		if (!old_gate) {
			_cleanup_free_ char *p = xasprintf("spec.schedulingGates[%zu].name", i);
			_cleanup_free_ char *d = xasprintf("only deletion is allowed, but found new "
							   "scheduling gate '%s'", g);
			err_forbidden(e, p, d);
		}
	}
	if (js_equal(ns, os))
		return;
	/* Put back what may change, then anything left is a forbidden change. */
	munged = json_deep_copy(ns ? ns : json_object());
	for (size_t l = 0; lists[l]; l++) {
		json_t *mc = js_arr(munged, lists[l]), *oc = js_arr(os, lists[l]);

		for (size_t i = 0; mc && i < json_array_size(mc); i++) {
			json_t *o = json_object_get(json_array_get(oc, i), "image");
			json_t *c = json_array_get(mc, i);

			if (o)
				json_object_set(c, "image", o);
			else
				json_object_del(c, "image");
		}
	}
	static const char *const kept[] = {"activeDeadlineSeconds", "schedulingGates",
					   "tolerations", NULL};
	for (size_t k = 0; kept[k]; k++) {
		json_t *o = js_has(os, kept[k]) ? json_object_get(os, kept[k]) : NULL;

		if (o)
			json_object_set(munged, kept[k], o);
		else
			json_object_del(munged, kept[k]);
	}
	if (js_int(os, "terminationGracePeriodSeconds", 0) < 0 &&
	    js_int(munged, "terminationGracePeriodSeconds", 0) == 1)
		json_object_set(munged, "terminationGracePeriodSeconds",
				json_object_get(os, "terminationGracePeriodSeconds"));
	if (!js_equal(munged, os)) {
		struct buf b = {0};

		buf_printf(&b, "%s\n", updatable_fields);
		spec_diff(os, munged, &b);
		err_forbidden(e, "spec", b.data);
		buf_free(&b);
	}
	json_decref(munged);
}

static void pod_status_update(const json_t *pod, const json_t *old, struct api_field_errors *e)
{
	json_t *ns = js_obj(pod, "status"), *os = js_obj(old, "status");
	json_t *q = ns ? json_object_get(ns, "qosClass") : NULL;

	if (!js_equal(q, os ? json_object_get(os, "qosClass") : NULL))
		err_immutable(e, "status.qosClass", q ? q : json_null());
	if (*js_str(ns, "nominatedNodeName") &&
	    !streq(js_str(ns, "nominatedNodeName"), js_str(os, "nominatedNodeName"))) {
		struct api_msgs m = {0};

		api_is_dns1123_subdomain(js_str(ns, "nominatedNodeName"), &m);
		err_msgs(e, "status.nominatedNodeName", js_str(ns, "nominatedNodeName"), &m);
		api_msgs_clear(&m);
	}
}

/* ---- PodTemplate and Binding ---- */

static void pod_template_kind_default(json_t *obj)
{
	pod_template_default(js_obj(obj, "template"));
}

static void pod_template_kind_validate(const json_t *obj, struct api_field_errors *e)
{
	pod_template_validate(js_obj(obj, "template"), "template", e);
}

static void binding_validate(const json_t *obj, struct api_field_errors *e)
{
	static const char *const kinds[] = {"Node", "<empty>", NULL};
	json_t *t = js_obj(obj, "target");

	if (*js_str(t, "kind") && !streq(js_str(t, "kind"), "Node"))
		err_not_supported(e, "target.kind", js_str(t, "kind"), kinds);
	if (!*js_str(t, "name"))
		err_required(e, "target.name", NULL);
}

const struct kind_rules pod_rules[] = {
	{.group = "", .kind = "Pod", .name = NAME_DNS_SUBDOMAIN, .defaults = pod_default,
	 .validate = pod_validate, .create = pod_create, .update = pod_update, .status_update = pod_status_update},
	{.group = "", .kind = "PodTemplate", .name = NAME_DNS_SUBDOMAIN,
	 .defaults = pod_template_kind_default, .validate = pod_template_kind_validate},
	{.group = "", .kind = "Binding", .name = NAME_DNS_SUBDOMAIN, .validate = binding_validate},
};
const size_t pod_nrules = ARRAY_SIZE(pod_rules);
