/* PodSpec and PodTemplateSpec rules (ValidatePodSpec, ValidatePodTemplateSpec): volumes,
 * the container lists, scheduling and DNS settings, tolerations. */
#include <stdio.h>

#include "apiserver/validate/pod.h"

/* ---- volumes ---- */

/* Kubernetes' order of volume sources, and the path it names for a second one (two are
 * misspelt in Kubernetes and kept so). */
static const struct {
	const char *key;
	const char *path;
} volume_sources[] = {
	{"emptyDir", "emptyDir"}, {"hostPath", "hostPath"}, {"gitRepo", "gitRepo"},
	{"gcePersistentDisk", "gcePersistentDisk"}, {"awsElasticBlockStore", "awsElasticBlockStore"},
	{"secret", "secret"}, {"nfs", "nfs"}, {"iscsi", "iscsi"}, {"glusterfs", "glusterfs"},
	{"flocker", "flocker"}, {"persistentVolumeClaim", "persistentVolumeClaim"}, {"rbd", "rbd"},
	{"cinder", "cinder"}, {"cephfs", "cephFS"}, {"quobyte", "quobyte"},
	{"downwardAPI", "downwarAPI"}, {"fc", "fc"}, {"flexVolume", "flexVolume"},
	{"configMap", "configMap"}, {"azureFile", "azureFile"}, {"vsphereVolume", "vsphereVolume"},
	{"photonPersistentDisk", "photonPersistentDisk"}, {"portworxVolume", "portworxVolume"},
	{"azureDisk", "azureDisk"}, {"storageos", "storageos"}, {"projected", "projected"},
	{"scaleIO", "scaleIO"}, {"csi", "csi"}, {"ephemeral", "ephemeral"}, {"image", "image"},
};

#define FILE_MODE_ERR "must be a number between 0 and 0777 (octal), both inclusive"

static void check_mode(const json_t *o, const char *key, const char *path,
		       struct api_field_errors *e)
{
	int64_t m = js_int(o, key, 0);
	CHILD(p, path, key);

	if (js_has(o, key) && (m < 0 || m > 0777))
		err_invalid_int(e, p, m, FILE_MODE_ERR);
}

/* ValidateLocalNonReservedPath */
static void check_local_path(const char *s, const char *path, struct api_field_errors *e)
{
	check_local_descending_path(s, path, e);
	if (str_has_prefix(s, ".."))
		err_invalid_str(e, path, s, "must not start with '..'");
}

static void check_items(const json_t *src, const char *path, struct api_field_errors *e)
{
	json_t *items = js_arr(src, "items");
	CHILD(ip, path, "items");

	for (size_t i = 0; items && i < json_array_size(items); i++) {
		json_t *kp = json_array_get(items, i);
		_cleanup_free_ char *p = vp_index(ip, i);
		CHILD(kpath, p, "key");
		CHILD(ppath, p, "path");

		if (!*js_str(kp, "key"))
			err_required(e, kpath, NULL);
		if (!*js_str(kp, "path"))
			err_required(e, ppath, NULL);
		check_local_path(js_str(kp, "path"), ppath, e);
		check_mode(kp, "mode", p, e);
	}
}

static void check_required_str(const json_t *o, const char *key, const char *path,
			       struct api_field_errors *e)
{
	CHILD(p, path, key);

	if (!*js_str(o, key))
		err_required(e, p, NULL);
}

static void check_no_backsteps(const char *s, const char *path, struct api_field_errors *e)
{
	const char *p = s;

	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			err_invalid_str(e, path, s, "must not contain '..'");
			return;
		}
		p += n + (p[n] == '/');
	}
}

static void check_source(const char *key, const json_t *src, const char *path,
			 struct api_field_errors *e)
{
	static const char *const host_path_types[] = {
		"", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File",
		"FileOrCreate", "Socket", NULL,
	};

	if (streq(key, "emptyDir")) {
		json_t *sl = json_object_get(src, "sizeLimit");
		struct api_quantity q;

		if (sl && !json_is_null(sl) && api_quantity_from_json(sl, &q, NULL) == 0 &&
		    api_quantity_sign(&q) < 0) {
			CHILD(p, path, "sizeLimit");
			err_forbidden(e, p, "SizeLimit field must be a valid resource quantity");
		}
	} else if (streq(key, "hostPath")) {
		CHILD(p, path, "path");
		CHILD(tp, path, "type");

		if (!*js_str(src, "path")) {
			err_required(e, p, NULL);
			return;
		}
		check_no_backsteps(js_str(src, "path"), p, e);
		if (!str_in(js_str(src, "type"), host_path_types))
			err_not_supported(e, tp, js_str(src, "type"), host_path_types);
	} else if (streq(key, "secret") || streq(key, "configMap")) {
		check_required_str(src, streq(key, "secret") ? "secretName" : "name", path, e);
		check_mode(src, "defaultMode", path, e);
		check_items(src, path, e);
	} else if (streq(key, "persistentVolumeClaim")) {
		check_required_str(src, "claimName", path, e);
	} else if (streq(key, "nfs")) {
		CHILD(p, path, "path");

		check_required_str(src, "server", path, e);
		check_required_str(src, "path", path, e);
		if (js_str(src, "path")[0] != '/')
			err_invalid_str(e, p, js_str(src, "path"), "must be an absolute path");
	} else if (streq(key, "gitRepo")) {
		CHILD(p, path, "directory");

		check_required_str(src, "repository", path, e);
		check_local_descending_path(js_str(src, "directory"), p, e);
	} else if (streq(key, "downwardAPI") || streq(key, "projected")) {
		check_mode(src, "defaultMode", path, e);
	}
}

/* Returns whether the volume is valid: only those can be mounted. */
static bool check_volume(const json_t *v, const char *path, const struct api_msgs *names,
			 struct api_field_errors *e)
{
	size_t before = e->n, nsrc = 0;
	CHILD(np, path, "name");
	const char *name = js_str(v, "name");

	for (size_t i = 0; i < ARRAY_SIZE(volume_sources); i++) {
		json_t *src = json_object_get(v, volume_sources[i].key);

		if (!src || json_is_null(src))
			continue;
		if (nsrc++ > 0) {
			CHILD(p, path, volume_sources[i].path);
			err_forbidden(e, p, "may not specify more than 1 volume type");
			continue;
		}
		CHILD(sp, path, volume_sources[i].key);
		check_source(volume_sources[i].key, src, sp, e);
	}
	if (nsrc == 0)
		err_required(e, path, "must specify a volume type");
	if (!*name) {
		err_required(e, np, NULL);
	} else {
		struct api_msgs m = {0};

		api_is_dns1123_label(name, &m);
		err_msgs(e, np, name, &m);
		api_msgs_clear(&m);
	}
	for (size_t i = 0; i < names->n; i++)
		if (streq(names->v[i], name)) {
			err_duplicate_str(e, np, name);
			break;
		}
	return e->n == before;
}

/* ---- tolerations ---- */

void check_tolerations(const json_t *tols, const char *path, struct api_field_errors *e)
{
	static const char *const ops[] = {"Equal", "Exists", NULL};
	static const char *const effects[] = {"NoSchedule", "PreferNoSchedule", "NoExecute", NULL};

	for (size_t i = 0; json_is_array(tols) && i < json_array_size(tols); i++) {
		json_t *t = json_array_get(tols, i);
		_cleanup_free_ char *ip = vp_index(path, i);
		CHILD(kp, ip, "key");
		CHILD(op, ip, "operator");
		CHILD(ep, ip, "effect");
		const char *key = js_str(t, "key"), *oper = js_str(t, "operator");
		const char *value = js_str(t, "value"), *effect = js_str(t, "effect");

		if (*key) {
			struct api_msgs m = {0};

			api_is_qualified_name(key, &m);
			err_msgs(e, kp, key, &m);
			api_msgs_clear(&m);
		}
		if (!*key && !streq(oper, "Exists"))
			err_invalid_str(e, op, oper, "operator must be Exists when `key` is empty, "
						     "which means \"match all values and all keys\"");
		if (js_has(t, "tolerationSeconds") && !streq(effect, "NoExecute"))
			err_invalid_str(e, ep, effect, "effect must be 'NoExecute' when "
						       "`tolerationSeconds` is set");
		if (!*oper || streq(oper, "Equal")) {
			struct api_msgs m = {0};

			if (api_is_valid_label_value(value, &m)) {
				_cleanup_free_ char *d = api_msgs_join(&m, ";");
				err_invalid_str(e, op, value, d);
			}
			api_msgs_clear(&m);
		} else if (streq(oper, "Exists")) {
			if (*value)
				err_invalid_str(e, op, value, "value must be empty when `operator` is "
							      "'Exists'");
		} else {
			err_not_supported(e, op, oper, ops);
		}
		if (*effect && !str_in(effect, effects))
			err_not_supported(e, ep, effect, effects);
	}
}

/* ---- DNS, names, misc ---- */

static void check_dns_config(const json_t *spec, const char *path, struct api_field_errors *e)
{
	json_t *dc = js_obj(spec, "dnsConfig");
	json_t *ns = js_arr(dc, "nameservers"), *search = js_arr(dc, "searches");
	json_t *opts = js_arr(dc, "options");
	CHILD(dp, path, "dnsConfig");
	CHILD(nsp, dp, "nameservers");
	CHILD(sp, dp, "searches");
	CHILD(op, dp, "options");
	size_t total = 0;

	if (streq(js_str(spec, "dnsPolicy"), "None")) {
		if (!dc) {
			err_required(e, dp, "must provide `dnsConfig` when `dnsPolicy` is None");
			return;
		}
		if (!ns || !json_array_size(ns)) {
			err_required(e, nsp, "must provide at least one DNS nameserver when "
					     "`dnsPolicy` is None");
			return;
		}
	}
	if (!dc)
		return;
	if (ns && json_array_size(ns) > 3)
		err_invalid_json(e, nsp, ns, "must not have more than 3 nameservers");
	for (size_t i = 0; ns && i < json_array_size(ns); i++) {
		const char *s = json_string_value(json_array_get(ns, i));
		_cleanup_free_ char *p = vp_index(nsp, i);

		if (!s || !ip_valid(s, NULL))
			err_invalid_str(e, p, s, "must be a valid IP address, (e.g. 10.9.8.7 or "
						 "2001:db8::ffff)");
	}
	if (search && json_array_size(search) > 32)
		err_invalid_json(e, sp, search, "must not have more than 32 search paths");
	for (size_t i = 0; search && i < json_array_size(search); i++) {
		const char *s = json_string_value(json_array_get(search, i));
		total += (s ? strlen(s) : 0) + (i > 0);
	}
	if (total > 2048)
		err_invalid_json(e, sp, search, "must not have more than 2048 characters (including "
						 "spaces) in the search list");
	for (size_t i = 0; search && i < json_array_size(search); i++) {
		const char *s = json_string_value(json_array_get(search, i));
		_cleanup_free_ char *t = xstrdup(s ? s : "");
		_cleanup_free_ char *p = vp_index(sp, i);
		struct api_msgs m = {0};

		if (*t && t[strlen(t) - 1] == '.')
			t[strlen(t) - 1] = '\0';
		api_is_dns1123_subdomain(t, &m);
		err_msgs(e, p, t, &m);
		api_msgs_clear(&m);
	}
	for (size_t i = 0; opts && i < json_array_size(opts); i++) {
		_cleanup_free_ char *p = vp_index(op, i);

		if (!*js_str(json_array_get(opts, i), "name"))
			err_required(e, p, "must not be empty");
	}
}

static void check_name_rule(const json_t *spec, const char *key, enum name_rule r,
			    const char *path, struct api_field_errors *e)
{
	const char *s = js_str(spec, key);
	CHILD(p, path, key);
	struct api_msgs m = {0};

	if (!*s)
		return;
	name_check(r, s, false, &m);
	err_msgs(e, p, s, &m);
	api_msgs_clear(&m);
}

static void check_host_network_ports(const json_t *spec, const char *path, bool is_pod,
				     struct api_field_errors *e)
{
	json_t *cs = js_arr(spec, "containers");
	CHILD(cp, path, "containers");

	if (!js_bool(js_obj(spec, "securityContext"), "hostNetwork") && !js_bool(spec, "hostNetwork"))
		return;
	for (size_t i = 0; cs && i < json_array_size(cs); i++) {
		json_t *ports = js_arr(json_array_get(cs, i), "ports");
		_cleanup_free_ char *ci = vp_index(cp, i);
		CHILD(pp, ci, "ports");

		for (size_t j = 0; ports && j < json_array_size(ports); j++) {
			json_t *p = json_array_get(ports, j);
			int64_t hp = js_int(p, "hostPort", 0), cport = js_int(p, "containerPort", 0);
			_cleanup_free_ char *pj = vp_index(pp, j);
			CHILD(hpp, pj, "hostPort");

			if ((is_pod || hp != 0) && hp != cport)
				err_invalid_int(e, hpp, hp, "must match `containerPort` when "
							   "`hostNetwork` is true");
		}
	}
}

/* AccumulateUniqueHostPorts over a list of containers. */
static void check_host_ports(const json_t *cs, const char *path, struct api_msgs *seen,
			     struct api_field_errors *e)
{
	for (size_t i = 0; json_is_array(cs) && i < json_array_size(cs); i++) {
		json_t *ports = js_arr(json_array_get(cs, i), "ports");
		_cleanup_free_ char *ci = vp_index(path, i);
		CHILD(pp, ci, "ports");

		for (size_t j = 0; ports && j < json_array_size(ports); j++) {
			json_t *p = json_array_get(ports, j);
			int64_t hp = js_int(p, "hostPort", 0);
			_cleanup_free_ char *key = NULL, *pj = vp_index(pp, j);
			CHILD(hpp, pj, "hostPort");
			bool dup = false;

			if (hp == 0)
				continue;
			key = xasprintf("%s/%s/%lld", js_str(p, "protocol"), js_str(p, "hostIP"),
					(long long)hp);
			for (size_t k = 0; k < seen->n && !dup; k++)
				dup = streq(seen->v[k], key);
			if (dup)
				err_duplicate_str(e, hpp, key);
			else
				api_msgs_add(seen, key);
		}
	}
}

static bool has(const struct api_msgs *m, const char *s)
{
	for (size_t i = 0; i < m->n; i++)
		if (streq(m->v[i], s))
			return true;
	return false;
}

static void check_containers(const json_t *spec, const struct api_msgs *vols, int64_t grace,
			     const char *path, struct api_field_errors *e)
{
	json_t *cs = js_arr(spec, "containers"), *ics = js_arr(spec, "initContainers");
	CHILD(cp, path, "containers");
	CHILD(icp, path, "initContainers");
	struct api_msgs names = {0}, hostports = {0};

	if (!cs || json_array_size(cs) == 0)
		err_required(e, cp, NULL);
	for (size_t i = 0; cs && i < json_array_size(cs); i++) {
		json_t *c = json_array_get(cs, i);
		_cleanup_free_ char *ci = vp_index(cp, i);
		CHILD(np, ci, "name");
		CHILD(rp, ci, "restartPolicy");

		check_container_common(c, vols, ci, e);
		if (has(&names, js_str(c, "name")))
			err_duplicate_str(e, np, js_str(c, "name"));
		else
			api_msgs_add(&names, js_str(c, "name"));
		check_probes_and_lifecycle(c, grace, ci, e);
		if (js_has(c, "restartPolicy"))
			err_forbidden(e, rp, "may not be set for non-init containers");
	}
	check_host_ports(cs, cp, &hostports, e);
	for (size_t i = 0; ics && i < json_array_size(ics); i++) {
		static const char *const always[] = {"Always", NULL};
		static const char *const guarded[] = {"lifecycle", "livenessProbe", "readinessProbe",
						      "startupProbe", NULL};
		json_t *c = json_array_get(ics, i);
		_cleanup_free_ char *ci = vp_index(icp, i);
		CHILD(np, ci, "name");
		CHILD(rp, ci, "restartPolicy");
		struct api_msgs one = {0};
		bool sidecar = streq(js_str(c, "restartPolicy"), "Always");

		check_container_common(c, vols, ci, e);
		if (js_has(c, "restartPolicy") && !sidecar)
			err_not_supported(e, rp, js_str(c, "restartPolicy"), always);
		if (has(&names, js_str(c, "name")))
			err_duplicate_str(e, np, js_str(c, "name"));
		else if (*js_str(c, "name"))
			api_msgs_add(&names, js_str(c, "name"));
		/* Init containers run one at a time: their host ports only clash within one. */
		{
			json_t *alone = json_pack("[O]", c);
			check_host_ports(alone, icp, &one, e);
			json_decref(alone);
			api_msgs_clear(&one);
		}
		if (sidecar) {
			check_probes_and_lifecycle(c, grace, ci, e);
		} else {
			for (size_t g = 0; guarded[g]; g++) {
				CHILD(gp, ci, guarded[g]);
				if (js_has(c, guarded[g]))
					err_forbidden(e, gp, "may not be set for init containers without "
							     "restartPolicy=Always");
			}
		}
		if (json_array_size(js_arr(c, "resizePolicy"))) {
			CHILD(p, ci, "resizePolicy");
			err_invalid_json(e, p, js_arr(c, "resizePolicy"), "must not be set for init "
									   "containers");
		}
	}
	api_msgs_clear(&names);
	api_msgs_clear(&hostports);
}

void pod_spec_validate(const json_t *spec, const char *path, bool is_pod,
		       struct api_field_errors *e)
{
	static const char *const restart[] = {"Always", "OnFailure", "Never", NULL};
	static const char *const dns[] = {"ClusterFirstWithHostNet", "ClusterFirst", "Default",
					  "None", NULL};
	static const char *const preempt[] = {"PreemptLowerPriority", "Never", NULL};
	json_t *vols = js_arr(spec, "volumes"), *ips = js_arr(spec, "imagePullSecrets");
	CHILD(tgp, path, "terminationGracePeriodSeconds");
	CHILD(vp, path, "volumes");
	CHILD(rp, path, "restartPolicy");
	CHILD(dp, path, "dnsPolicy");
	CHILD(nsp, path, "nodeSelector");
	CHILD(ipsp, path, "imagePullSecrets");
	CHILD(adp, path, "activeDeadlineSeconds");
	CHILD(tp, path, "tolerations");
	CHILD(hap, path, "hostAliases");
	CHILD(ppp, path, "preemptionPolicy");
	struct api_msgs names = {0}, valid = {0};
	const char *rpol = js_str(spec, "restartPolicy"), *dpol = js_str(spec, "dnsPolicy");
	int64_t grace = js_int(spec, "terminationGracePeriodSeconds", -1);

	if (!js_has(spec, "terminationGracePeriodSeconds"))
		err_required(e, tgp, NULL);
	for (size_t i = 0; vols && i < json_array_size(vols); i++) {
		json_t *v = json_array_get(vols, i);
		_cleanup_free_ char *p = vp_index(vp, i);

		if (check_volume(v, p, &names, e)) {
			api_msgs_add(&names, js_str(v, "name"));
			api_msgs_add(&valid, js_str(v, "name"));
		}
	}
	check_containers(spec, &valid, grace, path, e);
	check_host_network_ports(spec, path, is_pod, e);
	if (!*rpol)
		err_required(e, rp, NULL);
	else if (!str_in(rpol, restart))
		err_not_supported(e, rp, rpol, restart);
	if (!*dpol)
		err_required(e, dp, NULL);
	else if (!str_in(dpol, dns))
		err_not_supported(e, dp, dpol, dns);
	check_labels(js_obj(spec, "nodeSelector"), nsp, e);
	for (size_t i = 0; ips && i < json_array_size(ips); i++) {
		json_t *r = json_array_get(ips, i);
		_cleanup_free_ char *p = vp_index(ipsp, i);

		if (json_object_size(r) > (js_has(r, "name") ? 1u : 0u))
			err_invalid_json(e, p, r, "only name may be set");
	}
	check_dns_config(spec, path, e);
	check_name_rule(spec, "serviceAccountName", NAME_DNS_SUBDOMAIN, path, e);
	check_name_rule(spec, "nodeName", NAME_DNS_SUBDOMAIN, path, e);
	if (js_has(spec, "activeDeadlineSeconds")) {
		int64_t v = js_int(spec, "activeDeadlineSeconds", 0);

		if (v < 1 || v > INT32_MAX)
			err_invalid_int(e, adp, v, "must be between 1 and 2147483647, inclusive");
	}
	check_name_rule(spec, "hostname", NAME_DNS_LABEL, path, e);
	check_name_rule(spec, "subdomain", NAME_DNS_LABEL, path, e);
	check_tolerations(js_arr(spec, "tolerations"), tp, e);
	for (size_t i = 0; json_array_size(js_arr(spec, "hostAliases")) > i; i++) {
		json_t *ha = json_array_get(js_arr(spec, "hostAliases"), i);
		json_t *hn = js_arr(ha, "hostnames");
		_cleanup_free_ char *p = vp_index(hap, i);
		CHILD(ipp, p, "ip");
		CHILD(hnp, p, "hostnames");

		if (!ip_valid(js_str(ha, "ip"), NULL))
			err_invalid_str(e, ipp, js_str(ha, "ip"), "must be a valid IP address, (e.g. "
								  "10.9.8.7 or 2001:db8::ffff)");
		for (size_t j = 0; hn && j < json_array_size(hn); j++) {
			_cleanup_free_ char *hp = vp_index(hnp, j);
			const char *s = json_string_value(json_array_get(hn, j));
			struct api_msgs m = {0};

			api_is_dns1123_subdomain(s ? s : "", &m);
			err_msgs(e, hp, s, &m);
			api_msgs_clear(&m);
		}
	}
	check_name_rule(spec, "priorityClassName", NAME_DNS_SUBDOMAIN, path, e);
	if (js_has(spec, "runtimeClassName")) {
		CHILD(p, path, "runtimeClassName");
		struct api_msgs m = {0};

		api_is_dns1123_subdomain(js_str(spec, "runtimeClassName"), &m);
		err_msgs(e, p, js_str(spec, "runtimeClassName"), &m);
		api_msgs_clear(&m);
	}
	if (js_has(spec, "preemptionPolicy") && !str_in(js_str(spec, "preemptionPolicy"), preempt)) {
		if (!*js_str(spec, "preemptionPolicy"))
			err_required(e, ppp, NULL);
		else
			err_not_supported(e, ppp, js_str(spec, "preemptionPolicy"), preempt);
	}
	if (js_obj(spec, "overhead")) {
		json_t *res = json_pack("{sO}", "limits", js_obj(spec, "overhead"));
		CHILD(p, path, "overhead");

		check_resources(res, p, e);
		json_decref(res);
	}
	api_msgs_clear(&names);
	api_msgs_clear(&valid);
}

void pod_template_validate(const json_t *tmpl, const char *path, struct api_field_errors *e)
{
	json_t *meta = js_obj(tmpl, "metadata");
	CHILD(lp, path, "labels");
	CHILD(ap, path, "annotations");
	CHILD(sp, path, "spec");
	CHILD(ep, sp, "ephemeralContainers");

	/* Kubernetes reports template labels at spec.template.labels, without "metadata". */
	check_labels(js_obj(meta, "labels"), lp, e);
	check_annotations(js_obj(meta, "annotations"), ap, e);
	pod_spec_validate(js_obj(tmpl, "spec"), sp, false, e);
	if (json_array_size(js_arr(js_obj(tmpl, "spec"), "ephemeralContainers")))
		err_forbidden(e, ep, "ephemeral containers not allowed in pod template");
}
