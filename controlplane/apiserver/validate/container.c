/* One container's rules (validateContainerCommon and the probe, lifecycle, port, env,
 * mount and resource checks it calls), shared by containers, init and ephemeral ones. */
#include <stdio.h>

#include "apiserver/validate/pod.h"

static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};

static void check_ports(const json_t *ports, const char *path, struct api_field_errors *e)
{
	struct api_msgs seen = {0};

	for (size_t i = 0; json_is_array(ports) && i < json_array_size(ports); i++) {
		json_t *p = json_array_get(ports, i);
		_cleanup_free_ char *ip = vp_index(path, i);
		CHILD(np, ip, "name");
		CHILD(cp, ip, "containerPort");
		CHILD(hp, ip, "hostPort");
		CHILD(pp, ip, "protocol");
		const char *name = js_str(p, "name"), *proto = js_str(p, "protocol");
		int64_t cport = js_int(p, "containerPort", 0), hport = js_int(p, "hostPort", 0);

		if (*name) {
			size_t before = e->n;
			bool dup = false;

			check_port_name(name, np, e);
			for (size_t j = 0; j < seen.n && !dup; j++)
				dup = streq(seen.v[j], name);
			if (e->n == before && dup)
				err_duplicate_str(e, np, name);
			else if (e->n == before)
				api_msgs_add(&seen, name);
		}
		if (cport == 0)
			err_required(e, cp, NULL);
		else
			check_port_num(cport, cp, e);
		if (hport != 0)
			check_port_num(hport, hp, e);
		if (!*proto)
			err_required(e, pp, NULL);
		else if (!str_in(proto, protocols))
			err_not_supported(e, pp, proto, protocols);
	}
	api_msgs_clear(&seen);
}

/* IsEnvVarName: [-._a-zA-Z][-._a-zA-Z0-9]*, and not ".", ".." or "..*". */
static void check_env_name(const char *s, const char *path, struct api_field_errors *e)
{
	bool ok = *s && !(s[0] >= '0' && s[0] <= '9');

	for (const char *c = s; *c && ok; c++)
		ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		     (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_';
	if (!ok)
		err_invalid_str(e, path, s,
				"a valid environment variable name must consist of alphabetic "
				"characters, digits, '_', '-', or '.', and must not start with a digit "
				"(e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used "
				"for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')");
	check_chdir_prefix(s, path, e);
}

void check_config_key(const char *key, const char *path, struct api_field_errors *e)
{
	bool ok = *key;

	if (strlen(key) > 253)
		err_invalid_str(e, path, key, "must be no more than 253 characters");
	for (const char *c = key; *c && ok; c++)
		ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		     (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_';
	if (!ok)
		err_invalid_str(e, path, key,
				"a valid config key must consist of alphanumeric characters, '-', '_' "
				"or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
				"validation is '[-._a-zA-Z0-9]+')");
	check_chdir_prefix(key, path, e);
}

void check_chdir_prefix(const char *s, const char *path, struct api_field_errors *e)
{
	if (streq(s, "."))
		err_invalid_str(e, path, s, "must not be '.'");
	else if (streq(s, ".."))
		err_invalid_str(e, path, s, "must not be '..'");
	else if (str_has_prefix(s, ".."))
		err_invalid_str(e, path, s, "must not start with '..'");
}

static void check_key_selector(const json_t *sel, const char *path, struct api_field_errors *e)
{
	CHILD(np, path, "name");
	CHILD(kp, path, "key");
	struct api_msgs m = {0};

	/* The name is checked even when empty (an "optional" reference). */
	api_is_dns1123_subdomain(js_str(sel, "name"), &m);
	err_msgs(e, np, js_str(sel, "name"), &m);
	api_msgs_clear(&m);
	if (!*js_str(sel, "key"))
		err_required(e, kp, NULL);
	else
		check_config_key(js_str(sel, "key"), kp, e);
}

static void check_field_ref(const json_t *fr, const char *path, struct api_field_errors *e)
{
	static const char *const valid[] = {
		"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
		"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP",
		"status.podIPs", NULL,
	};
	const char *fp = js_str(fr, "fieldPath");
	const char *br = strchr(fp, '[');

	if (!*js_str(fr, "apiVersion")) {
		CHILD(p, path, "apiVersion");
		err_required(e, p, NULL);
		return;
	}
	if (!*fp) {
		CHILD(p, path, "fieldPath");
		err_required(e, p, NULL);
		return;
	}
	/* metadata.labels['key'] and metadata.annotations['key'] take a subscript. */
	if (br && str_has_suffix(fp, "']") && br[1] == '\'') {
		_cleanup_free_ char *base = xstrndup(fp, (size_t)(br - fp));
		_cleanup_free_ char *key = xstrndup(br + 2, strlen(br + 2) - 2);
		struct api_msgs m = {0};

		if (streq(base, "metadata.annotations")) {
			for (char *c = key; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			api_is_qualified_name(key, &m);
		} else if (streq(base, "metadata.labels")) {
			api_is_qualified_name(key, &m);
		} else {
			err_invalid_str(e, path, base, "does not support subscript");
		}
		err_msgs(e, path, key, &m);
		api_msgs_clear(&m);
		return;
	}
	if (!str_in(fp, valid)) {
		CHILD(p, path, "fieldPath");
		err_not_supported(e, p, fp, valid);
	}
}

static void check_resource_field_ref(const json_t *rf, const char *path, struct api_field_errors *e)
{
	static const char *const valid[] = {
		"limits.cpu", "limits.ephemeral-storage", "limits.memory", "requests.cpu",
		"requests.ephemeral-storage", "requests.memory", NULL,
	};
	const char *r = js_str(rf, "resource");

	if (!*r) {
		CHILD(p, path, "resource");
		err_required(e, p, NULL);
	} else if (!str_in(r, valid) && !str_has_prefix(r, "requests.hugepages-") &&
		   !str_has_prefix(r, "limits.hugepages-")) {
		CHILD(p, path, "resource");
		err_not_supported(e, p, r, valid);
	}
}

static void check_env(const json_t *env, const char *path, struct api_field_errors *e)
{
	for (size_t i = 0; json_is_array(env) && i < json_array_size(env); i++) {
		json_t *v = json_array_get(env, i), *from = js_obj(v, "valueFrom");
		_cleanup_free_ char *ip = vp_index(path, i);
		CHILD(np, ip, "name");
		CHILD(fp, ip, "valueFrom");
		size_t nsrc = 0;

		if (!*js_str(v, "name"))
			err_required(e, np, NULL);
		else
			check_env_name(js_str(v, "name"), np, e);
		if (!from)
			continue;
		if (js_obj(from, "fieldRef")) {
			CHILD(p, fp, "fieldRef");
			nsrc++;
			check_field_ref(js_obj(from, "fieldRef"), p, e);
		}
		if (js_obj(from, "resourceFieldRef")) {
			CHILD(p, fp, "resourceFieldRef");
			nsrc++;
			check_resource_field_ref(js_obj(from, "resourceFieldRef"), p, e);
		}
		if (js_obj(from, "configMapKeyRef")) {
			CHILD(p, fp, "configMapKeyRef");
			nsrc++;
			check_key_selector(js_obj(from, "configMapKeyRef"), p, e);
		}
		if (js_obj(from, "secretKeyRef")) {
			CHILD(p, fp, "secretKeyRef");
			nsrc++;
			check_key_selector(js_obj(from, "secretKeyRef"), p, e);
		}
		if (nsrc == 0)
			err_invalid_str(e, fp, "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
						   "`configMapKeyRef` or `secretKeyRef`");
		else if (*js_str(v, "value"))
			err_invalid_str(e, fp, "", "may not be specified when `value` is not empty");
		else if (nsrc > 1)
			err_invalid_str(e, fp, "", "may not have more than one field specified at a time");
	}
}

static void check_env_from(const json_t *ef, const char *path, struct api_field_errors *e)
{
	static const char *const refs[] = {"configMapRef", "secretRef", NULL};

	for (size_t i = 0; json_is_array(ef) && i < json_array_size(ef); i++) {
		json_t *v = json_array_get(ef, i);
		_cleanup_free_ char *ip = vp_index(path, i);
		size_t nsrc = 0;

		if (*js_str(v, "prefix")) {
			CHILD(p, ip, "prefix");
			check_env_name(js_str(v, "prefix"), p, e);
		}
		for (size_t r = 0; refs[r]; r++) {
			json_t *ref = js_obj(v, refs[r]);
			struct api_msgs m = {0};

			if (!ref)
				continue;
			nsrc++;
			CHILD(rp, ip, refs[r]);
			CHILD(np, rp, "name");
			if (!*js_str(ref, "name")) {
				err_required(e, np, NULL);
				continue;
			}
			name_check(NAME_DNS_SUBDOMAIN, js_str(ref, "name"), true, &m);
			err_msgs(e, np, js_str(ref, "name"), &m);
			api_msgs_clear(&m);
		}
		if (nsrc == 0)
			err_invalid_str(e, path, "", "must specify one of: `configMapRef` or `secretRef`");
		else if (nsrc > 1)
			err_invalid_str(e, path, "", "may not have more than one field specified at a time");
	}
}

/* validateLocalDescendingPath: relative, no ".." element. */
void check_local_descending_path(const char *s, const char *path, struct api_field_errors *e)
{
	const char *p = s;

	if (*s == '/')
		err_invalid_str(e, path, s, "must be a relative path");
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			err_invalid_str(e, path, s, "must not contain '..'");
			break;
		}
		p += n;
		if (*p == '/')
			p++;
	}
}

static bool has_name(const struct api_msgs *m, const char *s)
{
	for (size_t i = 0; m && i < m->n; i++)
		if (streq(m->v[i], s))
			return true;
	return false;
}

static void check_mounts(const json_t *mounts, const struct api_msgs *vols, const char *path,
			 struct api_field_errors *e)
{
	struct api_msgs points = {0};

	for (size_t i = 0; json_is_array(mounts) && i < json_array_size(mounts); i++) {
		json_t *m = json_array_get(mounts, i);
		_cleanup_free_ char *ip = vp_index(path, i);
		CHILD(np, ip, "name");
		CHILD(mp, ip, "mountPath");
		const char *name = js_str(m, "name"), *mpath = js_str(m, "mountPath");
		const char *sub = js_str(m, "subPath"), *subx = js_str(m, "subPathExpr");

		if (!*name)
			err_required(e, np, NULL);
		if (!has_name(vols, name))
			api_field_not_found(e, np, api_json_string_lossy(name));
		if (!*mpath)
			err_required(e, mp, NULL);
		if (has_name(&points, mpath))
			err_invalid_str(e, mp, mpath, "must be unique");
		api_msgs_add(&points, mpath);
		/* Kubernetes reports these two at the list's path, not the entry's. */
		if (*sub) {
			CHILD(p, path, "subPath");
			check_local_descending_path(sub, p, e);
		}
		if (*subx) {
			CHILD(p, path, "subPathExpr");
			if (*sub) {
				CHILD(xp, ip, "subPathExpr");
				err_invalid_str(e, xp, subx, "subPathExpr and subPath are mutually "
							     "exclusive");
			}
			check_local_descending_path(subx, p, e);
		}
	}
	api_msgs_clear(&points);
}

static const char *const pull_policies[] = {"Always", "IfNotPresent", "Never", NULL};

/* helper.IsNativeResource: no domain, or a kubernetes.io one. */
static bool native_resource(const char *name)
{
	return !strchr(name, '/') || strstr(name, "kubernetes.io/");
}

/* Requests may stay below limits for native resources other than hugepages. */
static bool overcommit_allowed(const char *name)
{
	return native_resource(name) && !str_has_prefix(name, "hugepages-");
}

/* Extended resources (another domain) come in whole units. */
static bool integer_resource(const char *name)
{
	_cleanup_free_ char *q = NULL;

	if (native_resource(name) || str_has_prefix(name, "requests."))
		return false;
	q = xasprintf("requests.%s", name);
	return api_is_qualified_name(q, NULL) == 0;
}

static void check_resource_name(const char *name, const char *path, struct api_field_errors *e)
{
	static const char *const standard[] = {
		"cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
		"requests.ephemeral-storage", "limits.cpu", "limits.memory",
		"limits.ephemeral-storage", "pods", "services", "replicationcontrollers",
		"resourcequotas", "secrets", "configmaps", "persistentvolumeclaims", "storage",
		"requests.storage", "services.nodeports", "services.loadbalancers", NULL,
	};
	static const char *const container[] = {"cpu", "memory", "ephemeral-storage", NULL};
	struct api_msgs m = {0};
	bool huge = str_has_prefix(name, "hugepages-");

	api_is_qualified_name(name, &m);
	err_msgs(e, path, name, &m);
	api_msgs_clear(&m);
	if (!strchr(name, '/')) {
		if (!str_in(name, standard) && !huge && !str_has_prefix(name, "requests.hugepages-"))
			err_invalid_str(e, path, name, "must be a standard resource type or fully "
						       "qualified");
		if (!str_in(name, container) && !huge)
			err_invalid_str(e, path, name, "must be a standard resource for containers");
	} else if (!native_resource(name) && !integer_resource(name)) {
		err_invalid_str(e, path, name, "doesn't follow extended resource name standard");
	}
}

void check_resources(const json_t *res, const char *path, struct api_field_errors *e)
{
	json_t *lim = js_obj(res, "limits"), *req = js_obj(res, "requests");
	CHILD(lp, path, "limits");
	CHILD(rp, path, "requests");
	bool cpumem = false, huge = false;
	const char *k;
	json_t *v;

	json_object_foreach(lim, k, v) {
		_cleanup_free_ char *p = vp_key(lp, k);
		struct api_quantity q;

		check_resource_name(k, p, e);
		if (check_quantity(v, p, e, &q) == 0)
			check_quantity_value(k, &q, p, e);
		cpumem |= streq(k, "cpu") || streq(k, "memory");
		huge |= str_has_prefix(k, "hugepages-");
	}
	json_object_foreach(req, k, v) {
		_cleanup_free_ char *p = vp_key(rp, k);
		struct api_quantity q, l;
		json_t *lv = lim ? json_object_get(lim, k) : NULL;

		check_resource_name(k, p, e);
		if (check_quantity(v, p, e, &q) < 0)
			continue;
		check_quantity_value(k, &q, p, e);
		cpumem |= streq(k, "cpu") || streq(k, "memory");
		huge |= str_has_prefix(k, "hugepages-");
		if (lv && api_quantity_from_json(lv, &l, NULL) == 0) {
			_cleanup_free_ char *qs = api_quantity_format(&q), *ls = api_quantity_format(&l);
			_cleanup_free_ char *d = NULL;
			int c = api_quantity_cmp(&q, &l);

			if (c != 0 && !overcommit_allowed(k))
				d = xasprintf("must be equal to %s limit of %s", k, ls);
			else if (c > 0)
				d = xasprintf("must be less than or equal to %s limit of %s", k, ls);
			if (d)
				err_invalid_str(e, rp, qs, d);
		} else if (!lv && !overcommit_allowed(k)) {
			err_required(e, lp, "Limit must be set for non overcommitable resources");
		}
	}
	if (huge && !cpumem)
		err_forbidden(e, path, "HugePages require cpu or memory");
}

void check_quantity_value(const char *name, const struct api_quantity *q, const char *path,
			  struct api_field_errors *e)
{
	_cleanup_free_ char *s = api_quantity_format(q);
	int64_t milli;

	if (api_quantity_sign(q) < 0)
		err_invalid_str(e, path, s, "must be greater than or equal to 0");
	if (integer_resource(name) && api_quantity_milli_value(q, &milli) == 0 && milli % 1000)
		err_invalid_str(e, path, s, "must be an integer");
}

static void check_handler(const json_t *h, int64_t grace, const char *path, bool lifecycle,
			  struct api_field_errors *e)
{
	static const char *const probe_kinds[] = {"exec", "httpGet", "tcpSocket", "grpc", NULL};
	static const char *const hook_kinds[] = {"exec", "httpGet", "tcpSocket", "sleep", NULL};
	const char *const *kinds = lifecycle ? hook_kinds : probe_kinds;
	size_t n = 0;

	for (size_t i = 0; kinds[i]; i++) {
		json_t *a = js_obj(h, kinds[i]);
		CHILD(p, path, kinds[i]);

		if (!a)
			continue;
		if (n++ > 0) {
			err_forbidden(e, p, "may not specify more than 1 handler type");
			continue;
		}
		if (streq(kinds[i], "exec") && !json_array_size(js_arr(a, "command"))) {
			CHILD(cp, p, "command");
			err_required(e, cp, NULL);
		} else if (streq(kinds[i], "httpGet")) {
			static const char *const schemes[] = {"HTTP", "HTTPS", NULL};
			json_t *hdrs = js_arr(a, "httpHeaders");
			CHILD(pp, p, "path");
			CHILD(portp, p, "port");
			CHILD(sp, p, "scheme");
			CHILD(hp, p, "httpHeaders");
			json_t *port = json_object_get(a, "port");

			if (!*js_str(a, "path"))
				err_required(e, pp, NULL);
			if (port && !json_is_null(port))
				check_int_or_string_port(port, portp, e);
			else
				err_invalid_int(e, portp, 0, "must be between 1 and 65535, inclusive");
			if (!str_in(js_str(a, "scheme"), schemes))
				err_not_supported(e, sp, js_str(a, "scheme"), schemes);
			for (size_t j = 0; hdrs && j < json_array_size(hdrs); j++)
				check_header_name(js_str(json_array_get(hdrs, j), "name"), hp, e);
		} else if (streq(kinds[i], "tcpSocket") || streq(kinds[i], "grpc")) {
			CHILD(portp, p, "port");
			json_t *port = json_object_get(a, "port");

			if (port && !json_is_null(port))
				check_int_or_string_port(port, portp, e);
			else
				err_invalid_int(e, portp, 0, "must be between 1 and 65535, inclusive");
		} else if (streq(kinds[i], "sleep")) {
			int64_t secs = js_int(a, "seconds", 0);

			if (grace >= 0 && (secs <= 0 || secs > grace)) {
				_cleanup_free_ char *d = xasprintf(
					"must be greater than 0 and less than terminationGracePeriodSeconds "
					"(%lld). Enable AllowPodLifecycleSleepActionZeroValue feature gate "
					"for zero sleep.", (long long)grace);
				err_invalid_int(e, p, secs, d);
			}
		}
	}
	if (n == 0)
		err_required(e, path, "must specify a handler type");
}

/* kind: 'l'iveness, 'r'eadiness or 's'tartup. */
static void check_probe(const json_t *pr, char kind, int64_t grace, const char *path,
			struct api_field_errors *e)
{
	static const char *const counts[] = {"initialDelaySeconds", "timeoutSeconds",
					     "periodSeconds", "successThreshold",
					     "failureThreshold", NULL};
	CHILD(tp, path, "terminationGracePeriodSeconds");

	if (!pr)
		return;
	check_handler(pr, grace, path, false, e);
	for (size_t i = 0; counts[i]; i++) {
		CHILD(p, path, counts[i]);
		check_nonnegative(js_int(pr, counts[i], 0), p, e);
	}
	if (js_has(pr, "terminationGracePeriodSeconds") &&
	    js_int(pr, "terminationGracePeriodSeconds", 0) <= 0)
		err_invalid_int(e, tp, js_int(pr, "terminationGracePeriodSeconds", 0),
				"must be greater than 0");
	if (kind != 'r' && js_int(pr, "successThreshold", 0) != 1) {
		CHILD(p, path, "successThreshold");
		err_invalid_int(e, p, js_int(pr, "successThreshold", 0), "must be 1");
	}
	if (kind == 'r' && js_has(pr, "terminationGracePeriodSeconds"))
		err_invalid_int(e, tp, js_int(pr, "terminationGracePeriodSeconds", 0),
				"must not be set for readinessProbes");
}

void check_probes_and_lifecycle(const json_t *c, int64_t grace, const char *path,
				struct api_field_errors *e)
{
	json_t *lc = js_obj(c, "lifecycle");
	static const char *const probes[] = {"livenessProbe", "readinessProbe", "startupProbe",
					     NULL};

	if (lc) {
		CHILD(lp, path, "lifecycle");
		CHILD(ps, lp, "postStart");
		CHILD(pr, lp, "preStop");

		if (js_obj(lc, "postStart"))
			check_handler(js_obj(lc, "postStart"), grace, ps, true, e);
		if (js_obj(lc, "preStop"))
			check_handler(js_obj(lc, "preStop"), grace, pr, true, e);
	}
	for (size_t i = 0; probes[i]; i++) {
		CHILD(p, path, probes[i]);
		check_probe(js_obj(c, probes[i]), probes[i][0], grace, p, e);
	}
}

void check_container_common(const json_t *c, const struct api_msgs *vols, const char *path,
			    struct api_field_errors *e)
{
	static const char *const tmp[] = {"File", "FallbackToLogsOnError", NULL};
	CHILD(np, path, "name");
	CHILD(ip, path, "image");
	CHILD(tp, path, "terminationMessagePolicy");
	CHILD(pp, path, "ports");
	CHILD(ep, path, "env");
	CHILD(efp, path, "envFrom");
	CHILD(vmp, path, "volumeMounts");
	CHILD(ipp, path, "imagePullPolicy");
	CHILD(rp, path, "resources");
	const char *name = js_str(c, "name"), *policy = js_str(c, "terminationMessagePolicy");
	const char *pull = js_str(c, "imagePullPolicy");

	if (!*name) {
		err_required(e, np, NULL);
	} else {
		struct api_msgs m = {0};

		api_is_dns1123_label(name, &m);
		err_msgs(e, np, name, &m);
		api_msgs_clear(&m);
	}
	if (!*js_str(c, "image"))
		err_required(e, ip, NULL);
	if (!*policy)
		err_required(e, tp, NULL);
	else if (!str_in(policy, tmp))
		err_not_supported(e, tp, policy, tmp);
	check_ports(js_arr(c, "ports"), pp, e);
	check_env(js_arr(c, "env"), ep, e);
	check_env_from(js_arr(c, "envFrom"), efp, e);
	check_mounts(js_arr(c, "volumeMounts"), vols, vmp, e);
	if (!*pull)
		err_required(e, ipp, NULL);
	else if (!str_in(pull, pull_policies))
		err_not_supported(e, ipp, pull, pull_policies);
	check_resources(js_obj(c, "resources"), rp, e);
}

void check_header_name(const char *s, const char *path, struct api_field_errors *e)
{
	bool ok = *s;

	for (const char *c = s; *c && ok; c++)
		ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		     (*c >= '0' && *c <= '9') || *c == '-';
	if (!ok)
		err_invalid_str(e, path, s, "a valid HTTP header must consist of alphanumeric "
					    "characters or '-' (e.g. 'X-Header-Name', regex used for "
					    "validation is '[-A-Za-z0-9]+')");
}
