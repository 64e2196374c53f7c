/* apps/v1 (Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision) and
 * batch/v1 (Job, CronJob): selectors against templates, strategies, defaults. */
#include <stdio.h>

#include "apiserver/validate/pod.h"

/* ---- shared: selectors, templates, int-or-percent ---- */

static char *go_label_selector(const json_t *sel)
{
	_cleanup_free_ char *ml = NULL;

	ml = js_obj(sel, "matchLabels") ? go_string_map(js_obj(sel, "matchLabels"))
					: xstrdup("map[string]string(nil)");
	return xasprintf("v1.LabelSelector{MatchLabels:%s, MatchExpressions:%s}", ml,
			 json_array_size(js_arr(sel, "matchExpressions"))
				 ? "[]v1.LabelSelectorRequirement{...}"
				 : "[]v1.LabelSelectorRequirement(nil)");
}

/* The selector rules of every workload: present, not empty, parsable, and matching the
 * template's labels (an absent selector matches nothing). who: "deployment"... for the
 * empty-selector message. false when the selector does not parse: Kubernetes then skips
 * the template. */
static bool check_workload_selector(const json_t *spec, const char *who,
				    struct api_field_errors *e)
{
	json_t *sel = js_obj(spec, "selector"), *tmpl = js_obj(spec, "template");
	json_t *labels = js_obj(js_obj(tmpl, "metadata"), "labels");
	struct api_label_selector *s = NULL;
	_cleanup_free_ char *raw = NULL;

	if (!sel) {
		err_required(e, "spec.selector", NULL);
	} else {
		check_label_selector(sel, "spec.selector", e);
		if (!json_object_size(js_obj(sel, "matchLabels")) &&
		    !json_array_size(js_arr(sel, "matchExpressions"))) {
			_cleanup_free_ char *d = xasprintf("empty selector is invalid for %s", who);
			raw = go_label_selector(sel);
			err_invalid_raw(e, "spec.selector", raw, d);
		}
	}
	if (api_label_selector_from_json(sel, &s, NULL) < 0) {
		free(raw);
		raw = go_label_selector(sel);
		err_invalid_raw(e, "spec.selector", raw, "invalid label selector");
		return false;
	}
	if (tmpl && !api_label_selector_empty(s) && !api_label_selector_matches(s, labels)) {
		_cleanup_free_ char *l = go_string_map(labels);
		err_invalid_raw(e, "spec.template.metadata.labels", l,
				"`selector` does not match template `labels`");
	}
	api_label_selector_free(s);
	return true;
}

/* ValidatePodTemplateSpecForReplicaSet and its kin: restartPolicy Always, no deadline. */
static void check_workload_template(const json_t *spec, const char *who_deadline,
				    struct api_field_errors *e)
{
	static const char *const always[] = {"Always", NULL};
	json_t *tmpl = js_obj(spec, "template"), *ps = js_obj(tmpl, "spec");

	if (!tmpl) {
		err_required(e, "spec.template", NULL);
		return;
	}
	pod_template_validate(tmpl, "spec.template", e);
	if (!streq(js_str(ps, "restartPolicy"), "Always"))
		err_not_supported(e, "spec.template.spec.restartPolicy", js_str(ps, "restartPolicy"),
				  always);
	if (js_has(ps, "activeDeadlineSeconds")) {
		_cleanup_free_ char *d = xasprintf("activeDeadlineSeconds in %s is not Supported",
						   who_deadline);
		err_forbidden(e, "spec.template.spec.activeDeadlineSeconds", d);
	}
}

/* Go's %#v of an intstr.IntOrString (NULL: the zero value). */
static char *go_int_or_string(const json_t *v)
{
	if (!v || json_is_integer(v))
		return xasprintf("intstr.IntOrString{Type:0, IntVal:%lld, StrVal:\"\"}",
				 v ? (long long)json_integer_value(v) : 0LL);
	return xasprintf("intstr.IntOrString{Type:1, IntVal:0, StrVal:\"%s\"}",
			 json_is_string(v) ? json_string_value(v) : "");
}

/* A number or "N%"; -1 when neither. */
static int64_t int_or_percent(const json_t *v, bool *ret_percent)
{
	const char *s;
	uint64_t n;

	*ret_percent = false;
	if (json_is_integer(v))
		return json_integer_value(v);
	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	if (!str_has_suffix(s, "%") || parse_u64(s, strlen(s) - 1, &n) < 0 || n > INT32_MAX)
		return -1;
	*ret_percent = true;
	return (int64_t)n;
}

static void check_positive_int_or_percent(const json_t *v, const char *path,
					  struct api_field_errors *e)
{
	bool pct;

	if (!v || json_is_null(v))
		return;
	if (json_is_string(v) && int_or_percent(v, &pct) < 0) {
		_cleanup_free_ char *raw = go_int_or_string(v);
		err_invalid_raw(e, path, raw, "a valid percent string must be a numeric string "
					      "followed by an ending '%' (e.g. '1%',  or '93%', regex "
					      "used for validation is '[0-9]+%')");
	} else if (json_is_integer(v)) {
		check_nonnegative(json_integer_value(v), path, e);
	}
}

static void check_not_over_100(const json_t *v, const char *path, struct api_field_errors *e)
{
	bool pct;
	int64_t n = int_or_percent(v, &pct);

	if (pct && n > 100) {
		_cleanup_free_ char *raw = go_int_or_string(v);
		err_invalid_raw(e, path, raw, "must not be greater than 100%");
	}
}

static int64_t iop_value(const json_t *v)
{
	bool pct;
	int64_t n = int_or_percent(v, &pct);

	return n < 0 ? 0 : n;
}

/* An immutable selector, with the value printed as Kubernetes prints it. */
static void selector_immutable(const json_t *obj, const json_t *old, struct api_field_errors *e)
{
	json_t *ns = js_obj(js_obj(obj, "spec"), "selector");
	json_t *os = js_obj(js_obj(old, "spec"), "selector");

	if (!js_equal(ns, os)) {
		_cleanup_free_ char *raw = go_label_selector(ns);
		err_invalid_raw(e, "spec.selector", raw, "field is immutable");
	}
}

static void template_default(json_t *obj)
{
	pod_template_default(js_obj(js_obj(obj, "spec"), "template"));
}

/* ---- Deployment ---- */

static void deployment_default(json_t *d)
{
	json_t *spec = js_obj(d, "spec"), *st = js_obj(spec, "strategy");

	template_default(d);
	if (st && streq(js_str(st, "type"), "RollingUpdate") && !js_obj(st, "rollingUpdate"))
		json_object_set_new(st, "rollingUpdate", json_pack("{ssss}", "maxUnavailable", "25%",
								   "maxSurge", "25%"));
}

static void deployment_validate(const json_t *d, struct api_field_errors *e)
{
	static const char *const types[] = {"Recreate", "RollingUpdate", NULL};
	json_t *spec = js_obj(d, "spec"), *st = js_obj(spec, "strategy");
	json_t *ru = js_obj(st, "rollingUpdate");
	const char *type = js_str(st, "type");

	check_nonnegative(js_int(spec, "replicas", 0), "spec.replicas", e);
	if (check_workload_selector(spec, "deployment", e))
		check_workload_template(spec, "ReplicaSet", e);
	if (streq(type, "Recreate")) {
		if (ru)
			err_forbidden(e, "spec.strategy.rollingUpdate", "may not be specified when "
									"strategy `type` is 'Recreate'");
	} else if (streq(type, "RollingUpdate")) {
		if (!ru) {
			err_required(e, "spec.strategy.rollingUpdate", "this should be defaulted and "
								       "never be nil");
		} else {
			json_t *mu = json_object_get(ru, "maxUnavailable");
			json_t *ms = json_object_get(ru, "maxSurge");

			check_positive_int_or_percent(mu, "spec.strategy.rollingUpdate.maxUnavailable", e);
			check_positive_int_or_percent(ms, "spec.strategy.rollingUpdate.maxSurge", e);
			if (iop_value(mu) == 0 && iop_value(ms) == 0) {
				_cleanup_free_ char *raw = go_int_or_string(mu);
				err_invalid_raw(e, "spec.strategy.rollingUpdate.maxUnavailable", raw,
						"may not be 0 when `maxSurge` is 0");
			}
			check_not_over_100(mu, "spec.strategy.rollingUpdate.maxUnavailable", e);
		}
	} else {
		err_not_supported(e, "spec.strategy", type, types);
	}
	check_nonnegative(js_int(spec, "minReadySeconds", 0), "spec.minReadySeconds", e);
	if (js_has(spec, "revisionHistoryLimit"))
		check_nonnegative(js_int(spec, "revisionHistoryLimit", 0), "spec.revisionHistoryLimit",
				  e);
	if (js_has(spec, "progressDeadlineSeconds")) {
		int64_t pd = js_int(spec, "progressDeadlineSeconds", 0);

		check_nonnegative(pd, "spec.progressDeadlineSeconds", e);
		if (pd <= js_int(spec, "minReadySeconds", 0))
			err_invalid_int(e, "spec.progressDeadlineSeconds", pd, "must be greater than "
									      "minReadySeconds");
	}
}

/* ---- ReplicaSet ---- */

static void replicaset_validate(const json_t *rs, struct api_field_errors *e)
{
	json_t *spec = js_obj(rs, "spec");

	check_nonnegative(js_int(spec, "replicas", 0), "spec.replicas", e);
	check_nonnegative(js_int(spec, "minReadySeconds", 0), "spec.minReadySeconds", e);
	if (check_workload_selector(spec, "deployment", e))
		check_workload_template(spec, "ReplicaSet", e);
}

/* ---- StatefulSet ---- */

static void statefulset_default(json_t *s)
{
	json_t *spec = js_obj(s, "spec");
	json_t *us = js_obj(spec, "updateStrategy");

	template_default(s);
	/* Only a type the server defaulted gets a rollingUpdate; schema_default set it. */
	if (us && streq(js_str(us, "type"), "RollingUpdate") && json_object_size(us) == 1)
		json_object_set_new(us, "rollingUpdate", json_pack("{si}", "partition", 0));
}

static void statefulset_validate(const json_t *s, struct api_field_errors *e)
{
	static const char *const policies[] = {"OrderedReady", "Parallel", NULL};
	static const char *const types[] = {"RollingUpdate", "OnDelete", NULL};
	json_t *spec = js_obj(s, "spec"), *us = js_obj(spec, "updateStrategy");
	json_t *ru = js_obj(us, "rollingUpdate");
	const char *pmp = js_str(spec, "podManagementPolicy"), *type = js_str(us, "type");

	if (!*pmp)
		err_required(e, "spec.podManagementPolicy", NULL);
	else if (!str_in(pmp, policies))
		err_invalid_str(e, "spec.podManagementPolicy", pmp,
				"must be 'OrderedReady' or 'Parallel'");
	if (!*type) {
		err_required(e, "spec.updateStrategy", NULL);
	} else if (streq(type, "OnDelete")) {
		if (ru)
			err_invalid_json(e, "spec.updateStrategy.rollingUpdate", ru,
					 "only allowed for updateStrategy 'RollingUpdate'");
	} else if (streq(type, "RollingUpdate")) {
		json_t *mu = json_object_get(ru ? ru : json_null(), "maxUnavailable");

		if (ru)
			check_nonnegative(js_int(ru, "partition", 0),
					  "spec.updateStrategy.rollingUpdate.partition", e);
		if (mu && !json_is_null(mu)) {
			check_positive_int_or_percent(mu, "spec.updateStrategy.rollingUpdate."
							  "maxUnavailable", e);
			if (iop_value(mu) == 0) {
				_cleanup_free_ char *raw = go_int_or_string(mu);
				err_invalid_raw(e, "spec.updateStrategy.rollingUpdate.maxUnavailable", raw,
						"cannot be 0");
			}
			check_not_over_100(mu, "spec.updateStrategy.rollingUpdate.maxUnavailable", e);
		}
	} else {
		err_invalid_str(e, "spec.updateStrategy", type,
				"must be 'RollingUpdate' or 'OnDelete'");
	}
	(void)types;
	check_nonnegative(js_int(spec, "replicas", 0), "spec.replicas", e);
	check_nonnegative(js_int(spec, "minReadySeconds", 0), "spec.minReadySeconds", e);
	if (js_obj(spec, "ordinals"))
		check_nonnegative(js_int(js_obj(spec, "ordinals"), "start", 0), "spec.ordinals.start",
				  e);
	if (check_workload_selector(spec, "statefulset", e))
		check_workload_template(spec, "StatefulSet", e);
}

static void statefulset_update(const json_t *s, const json_t *old, struct api_field_errors *e)
{
	static const char *const mutable[] = {"replicas", "ordinals", "template", "updateStrategy",
					      "persistentVolumeClaimRetentionPolicy",
					      "minReadySeconds", NULL};
	json_t *ns = json_deep_copy(js_obj(s, "spec") ?: json_object());
	json_t *os = json_deep_copy(js_obj(old, "spec") ?: json_object());

	for (size_t i = 0; mutable[i]; i++) {
		json_object_del(ns, mutable[i]);
		json_object_del(os, mutable[i]);
	}
	if (!js_equal(ns, os))
		err_forbidden(e, "spec", "updates to statefulset spec for fields other than "
					 "'replicas', 'ordinals', 'template', 'updateStrategy', "
					 "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
					 "forbidden");
	json_decref(ns);
	json_decref(os);
}

/* ---- DaemonSet ---- */

static void daemonset_default(json_t *d)
{
	json_t *us = js_obj(js_obj(d, "spec"), "updateStrategy");

	template_default(d);
	if (us && streq(js_str(us, "type"), "RollingUpdate") && !js_obj(us, "rollingUpdate"))
		json_object_set_new(us, "rollingUpdate", json_pack("{sisi}", "maxUnavailable", 1,
								   "maxSurge", 0));
}

static void daemonset_validate(const json_t *d, struct api_field_errors *e)
{
	static const char *const types[] = {"OnDelete", "RollingUpdate", NULL};
	json_t *spec = js_obj(d, "spec"), *us = js_obj(spec, "updateStrategy");
	json_t *ru = js_obj(us, "rollingUpdate");
	const char *type = js_str(us, "type");

	check_workload_selector(spec, "daemonset", e);
	check_workload_template(spec, "DaemonSet", e);
	check_nonnegative(js_int(spec, "minReadySeconds", 0), "spec.minReadySeconds", e);
	if (js_has(spec, "revisionHistoryLimit"))
		check_nonnegative(js_int(spec, "revisionHistoryLimit", 0), "spec.revisionHistoryLimit",
				  e);
	if (streq(type, "RollingUpdate")) {
		if (!ru) {
			err_required(e, "spec.updateStrategy.rollingUpdate", NULL);
		} else {
			json_t *mu = json_object_get(ru, "maxUnavailable");
			json_t *ms = json_object_get(ru, "maxSurge");
			static const char base[] = "spec.updateStrategy.rollingUpdate.";
			_cleanup_free_ char *mup = xasprintf("%smaxUnavailable", base);
			_cleanup_free_ char *msp = xasprintf("%smaxSurge", base);

			check_positive_int_or_percent(mu, mup, e);
			check_positive_int_or_percent(ms, msp, e);
			check_not_over_100(mu, mup, e);
			check_not_over_100(ms, msp, e);
			if (iop_value(mu) && iop_value(ms)) {
				_cleanup_free_ char *raw = go_int_or_string(ms);
				err_invalid_raw(e, msp, raw, "may not be set when maxUnavailable is "
							     "non-zero");
			} else if (!iop_value(mu) && !iop_value(ms)) {
				err_required(e, mup, "cannot be 0 when maxSurge is 0");
			}
		}
	} else if (!str_in(type, types)) {
		err_not_supported(e, "spec.updateStrategy.type", type, types);
	}
}

/* ---- ControllerRevision ---- */

static void revision_validate(const json_t *r, struct api_field_errors *e)
{
	if (!js_has(r, "data"))
		err_required(e, "data", "data is mandatory");
	check_nonnegative(js_int(r, "revision", 0), "revision", e);
}

static void revision_update(const json_t *r, const json_t *old, struct api_field_errors *e)
{
	if (!js_equal(json_object_get(r, "data"), json_object_get(old, "data")))
		err_immutable(e, "data", json_object_get(r, "data") ?: json_null());
}

/* ---- update hooks ---- */

static void selector_update(const json_t *obj, const json_t *old, struct api_field_errors *e)
{
	selector_immutable(obj, old, e);
}

const struct kind_rules apps_rules[] = {
	{.group = "apps", .kind = "Deployment", .name = NAME_DNS_SUBDOMAIN,
	 .defaults = deployment_default, .validate = deployment_validate,
	 .update = selector_update},
	{.group = "apps", .kind = "ReplicaSet", .name = NAME_DNS_SUBDOMAIN,
	 .defaults = template_default, .validate = replicaset_validate, .update = selector_update},
	{.group = "apps", .kind = "StatefulSet", .name = NAME_DNS_LABEL,
	 .defaults = statefulset_default, .validate = statefulset_validate,
	 .update = statefulset_update},
	{.group = "apps", .kind = "DaemonSet", .name = NAME_DNS_SUBDOMAIN,
	 .defaults = daemonset_default, .validate = daemonset_validate, .update = selector_update},
	{.group = "apps", .kind = "ControllerRevision", .name = NAME_DNS_SUBDOMAIN,
	 .validate = revision_validate, .update = revision_update},
};
const size_t apps_nrules = ARRAY_SIZE(apps_rules);
