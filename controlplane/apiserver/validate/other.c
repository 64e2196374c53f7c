/* The other served groups: coordination (Lease), discovery (EndpointSlice), RBAC,
 * networking (NetworkPolicy, Ingress, IngressClass), policy (PodDisruptionBudget) and
 * apiregistration (APIService). */
#include <stdio.h>

#include "apiserver/validate/pod.h"

static void check_qualified(const char *s, const char *path, struct api_field_errors *e)
{
	struct api_msgs m = {0};

	api_is_qualified_name(s, &m);
	err_msgs(e, path, s, &m);
	api_msgs_clear(&m);
}

static void check_subdomain(const char *s, const char *path, struct api_field_errors *e)
{
	struct api_msgs m = {0};

	api_is_dns1123_subdomain(s, &m);
	err_msgs(e, path, s, &m);
	api_msgs_clear(&m);
}

static void check_label(const char *s, const char *path, struct api_field_errors *e)
{
	struct api_msgs m = {0};

	api_is_dns1123_label(s, &m);
	err_msgs(e, path, s, &m);
	api_msgs_clear(&m);
}

/* ---- Lease ---- */

static void lease_validate(const json_t *l, struct api_field_errors *e)
{
	json_t *spec = js_obj(l, "spec");
	const char *strategy = js_str(spec, "strategy");

	if (js_has(spec, "leaseDurationSeconds") && js_int(spec, "leaseDurationSeconds", 0) <= 0)
		err_invalid_int(e, "spec.leaseDurationSeconds", js_int(spec, "leaseDurationSeconds", 0),
				"must be greater than 0");
	if (js_has(spec, "leaseTransitions"))
		check_nonnegative(js_int(spec, "leaseTransitions", 0), "spec.leaseTransitions", e);
	if (js_has(spec, "preferredHolder") && !js_has(spec, "strategy"))
		err_forbidden(e, "spec.preferredHolder", "may only be specified if `strategy` is "
							 "defined");
	if (js_has(spec, "strategy") && !streq(strategy, "OldestEmulationVersion")) {
		if (!strchr(strategy, '/')) {
			static const char *const valid[] = {"OldestEmulationVersion", NULL};
			err_not_supported(e, "spec.strategy", strategy, valid);
		} else {
			check_qualified(strategy, "spec.strategy", e);
		}
	}
}

/* ---- EndpointSlice ---- */

static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};

static void slice_address(const char *type, const char *a, const char *path,
			  struct api_field_errors *e)
{
	int fam = 0;

	if (streq(type, "IPv4") || streq(type, "IPv6")) {
		bool ok = ip_valid(a, &fam) && (fam == 4) == streq(type, "IPv4");

		if (!ok)
			err_invalid_str(e, path, a, streq(type, "IPv4") ? "must be a valid IPv4 address"
									 : "must be a valid IPv6 address");
	} else if (streq(type, "FQDN")) {
		_cleanup_free_ char *t = xstrdup(a);

		if (*t && t[strlen(t) - 1] == '.')
			t[strlen(t) - 1] = '\0';
		if (!*t)
			err_required(e, path, NULL);
		else if (!strchr(t, '.'))
			err_invalid_str(e, path, t, "should be a domain with at least two segments "
						    "separated by dots");
		else
			check_subdomain(t, path, e);
	}
}

static void slice_validate(const json_t *s, struct api_field_errors *e)
{
	static const char *const types[] = {"FQDN", "IPv4", "IPv6", NULL};
	const char *type = js_str(s, "addressType");
	json_t *eps = js_arr(s, "endpoints"), *ports = js_arr(s, "ports");

	if (!*type)
		err_required(e, "addressType", NULL);
	else if (!str_in(type, types))
		err_not_supported(e, "addressType", type, types);
	if (eps && json_array_size(eps) > 1000) {
		api_field_too_many(e, "endpoints", (int)json_array_size(eps), 1000);
	} else {
		for (size_t i = 0; eps && i < json_array_size(eps); i++) {
			json_t *ep = json_array_get(eps, i), *addrs = js_arr(ep, "addresses");
			_cleanup_free_ char *ip = vp_index("endpoints", i);
			CHILD(ap, ip, "addresses");
			size_t na = addrs ? json_array_size(addrs) : 0;

			if (!na)
				err_required(e, ap, "must contain at least 1 address");
			else if (na > 100)
				api_field_too_many(e, ap, (int)na, 100);
			for (size_t j = 0; j < na; j++) {
				_cleanup_free_ char *p = vp_index(ap, j);
				const char *a = json_string_value(json_array_get(addrs, j)) ?: "";

				slice_address(type, a, p, e);
			}
			if (js_has(ep, "nodeName")) {
				CHILD(p, ip, "nodeName");
				check_subdomain(js_str(ep, "nodeName"), p, e);
			}
			if (js_has(ep, "hostname")) {
				CHILD(p, ip, "hostname");
				check_label(js_str(ep, "hostname"), p, e);
			}
		}
	}
	if (ports && json_array_size(ports) > 100) {
		api_field_too_many(e, "ports", (int)json_array_size(ports), 100);
		return;
	}
	for (size_t i = 0; ports && i < json_array_size(ports); i++) {
		json_t *p = json_array_get(ports, i);
		_cleanup_free_ char *pp = vp_index("ports", i);
		CHILD(np, pp, "name");
		CHILD(prp, pp, "protocol");
		const char *name = js_str(p, "name");

		if (*name)
			check_label(name, np, e);
		for (size_t j = 0; j < i; j++)
			if (streq(js_str(json_array_get(ports, j), "name"), name)) {
				err_duplicate_str(e, np, name);
				break;
			}
		if (!js_has(p, "protocol"))
			err_required(e, prp, NULL);
		else if (!str_in(js_str(p, "protocol"), protocols))
			err_not_supported(e, prp, js_str(p, "protocol"), protocols);
		if (js_has(p, "appProtocol")) {
			CHILD(ap, pp, "appProtocol");
			check_qualified(js_str(p, "appProtocol"), ap, e);
		}
	}
}

/* ---- RBAC ---- */

#define RBAC_GROUP "rbac.authorization.k8s.io"

static void check_rules(const json_t *rules, bool namespaced, struct api_field_errors *e)
{
	for (size_t i = 0; json_is_array(rules) && i < json_array_size(rules); i++) {
		json_t *r = json_array_get(rules, i);
		_cleanup_free_ char *p = vp_index("rules", i);
		CHILD(vp, p, "verbs");
		CHILD(np, p, "nonResourceURLs");
		CHILD(gp, p, "apiGroups");
		CHILD(rp, p, "resources");
		json_t *urls = js_arr(r, "nonResourceURLs");

		if (!json_array_size(js_arr(r, "verbs")))
			err_required(e, vp, "verbs must contain at least one value");
		if (json_array_size(urls)) {
			_cleanup_free_ char *raw = go_string_slice(urls);

			if (namespaced)
				err_invalid_raw(e, np, raw, "namespaced rules cannot apply to "
							    "non-resource URLs");
			if (json_array_size(js_arr(r, "apiGroups")) || json_array_size(js_arr(r, "resources")) ||
			    json_array_size(js_arr(r, "resourceNames")))
				err_invalid_raw(e, np, raw, "rules cannot apply to both regular resources "
							    "and non-resource URLs");
			continue;
		}
		if (!json_array_size(js_arr(r, "apiGroups")))
			err_required(e, gp, "resource rules must supply at least one api group");
		if (!json_array_size(js_arr(r, "resources")))
			err_required(e, rp, "resource rules must supply at least one resource");
	}
}

static void role_validate(const json_t *r, struct api_field_errors *e)
{
	check_rules(js_arr(r, "rules"), true, e);
}

static void cluster_role_validate(const json_t *r, struct api_field_errors *e)
{
	json_t *sels = js_arr(js_obj(r, "aggregationRule"), "clusterRoleSelectors");

	check_rules(js_arr(r, "rules"), false, e);
	if (js_obj(r, "aggregationRule") && !json_array_size(sels))
		err_required(e, "aggregationRule.clusterRoleSelectors", "at least one "
									"clusterRoleSelector required if "
									"aggregationRule is non-nil");
	for (size_t i = 0; sels && i < json_array_size(sels); i++) {
		_cleanup_free_ char *p = vp_index("aggregationRule.clusterRoleSelectors", i);
		check_label_selector(json_array_get(sels, i), p, e);
	}
}

static void subjects_default(json_t *b)
{
	json_t *subs = js_arr(b, "subjects");

	for (size_t i = 0; subs && i < json_array_size(subs); i++) {
		json_t *s = json_array_get(subs, i);
		const char *kind = js_str(s, "kind");

		if (!json_is_object(s) || js_has(s, "apiGroup"))
			continue;
		if (streq(kind, "ServiceAccount"))
			json_object_set_new(s, "apiGroup", json_string(""));
		else if (streq(kind, "User") || streq(kind, "Group"))
			json_object_set_new(s, "apiGroup", json_string(RBAC_GROUP));
	}
}

static void binding_validate(const json_t *b, bool namespaced, struct api_field_errors *e)
{
	static const char *const group[] = {RBAC_GROUP, NULL};
	static const char *const ns_kinds[] = {"Role", "ClusterRole", NULL};
	static const char *const cluster_kinds[] = {"ClusterRole", NULL};
	static const char *const subject_kinds[] = {"ServiceAccount", "User", "Group", NULL};
	static const char *const empty_group[] = {"", NULL};
	json_t *ref = js_obj(b, "roleRef"), *subs = js_arr(b, "subjects");
	const char *const *kinds = namespaced ? ns_kinds : cluster_kinds;
	struct api_msgs m = {0};

	if (!streq(js_str(ref, "apiGroup"), RBAC_GROUP))
		err_not_supported(e, "roleRef.apiGroup", js_str(ref, "apiGroup"), group);
	if (!str_in(js_str(ref, "kind"), kinds))
		err_not_supported(e, "roleRef.kind", js_str(ref, "kind"), kinds);
	if (!*js_str(ref, "name")) {
		err_required(e, "roleRef.name", NULL);
	} else {
		name_path_segment(js_str(ref, "name"), &m);
		err_msgs(e, "roleRef.name", js_str(ref, "name"), &m);
		api_msgs_clear(&m);
	}
	for (size_t i = 0; subs && i < json_array_size(subs); i++) {
		json_t *s = json_array_get(subs, i);
		_cleanup_free_ char *p = vp_index("subjects", i);
		CHILD(np, p, "name");
		CHILD(gp, p, "apiGroup");
		CHILD(nsp, p, "namespace");
		CHILD(kp, p, "kind");
		const char *kind = js_str(s, "kind"), *name = js_str(s, "name");

		if (!*name)
			err_required(e, np, NULL);
		if (streq(kind, "ServiceAccount")) {
			if (*name)
				check_subdomain(name, np, e);
			if (*js_str(s, "apiGroup"))
				err_not_supported(e, gp, js_str(s, "apiGroup"), empty_group);
			if (!namespaced && !*js_str(s, "namespace"))
				err_required(e, nsp, NULL);
		} else if (streq(kind, "User") || streq(kind, "Group")) {
			if (!streq(js_str(s, "apiGroup"), RBAC_GROUP))
				err_not_supported(e, gp, js_str(s, "apiGroup"), group);
		} else {
			err_not_supported(e, kp, kind, subject_kinds);
		}
	}
}

static void role_binding_validate(const json_t *b, struct api_field_errors *e)
{
	binding_validate(b, true, e);
}

static void cluster_role_binding_validate(const json_t *b, struct api_field_errors *e)
{
	binding_validate(b, false, e);
}

static void binding_update(const json_t *b, const json_t *old, struct api_field_errors *e)
{
	json_t *ref = js_obj(b, "roleRef");

	if (!js_equal(ref, js_obj(old, "roleRef"))) {
		_cleanup_free_ char *raw = xasprintf("rbac.RoleRef{APIGroup:\"%s\", Kind:\"%s\", "
						     "Name:\"%s\"}", js_str(ref, "apiGroup"),
						     js_str(ref, "kind"), js_str(ref, "name"));
		err_invalid_raw(e, "roleRef", raw, "cannot change roleRef");
	}
}

/* ---- NetworkPolicy ---- */

static void netpol_default(json_t *np)
{
	json_t *spec = js_obj(np, "spec"), *types;

	if (!spec || json_array_size(js_arr(spec, "policyTypes")))
		return;
	types = json_pack("[s]", "Ingress");
	if (json_array_size(js_arr(spec, "egress")))
		json_array_append_new(types, json_string("Egress"));
	json_object_set_new(spec, "policyTypes", types);
}

static void netpol_port(const json_t *p, const char *path, struct api_field_errors *e)
{
	static const char *const protos[] = {"TCP", "UDP", "SCTP", NULL};
	json_t *port = json_object_get(p, "port");
	CHILD(pp, path, "port");
	CHILD(ep, path, "endPort");
	CHILD(prp, path, "protocol");
	bool has_end = js_has(p, "endPort");
	int64_t end = js_int(p, "endPort", 0);

	if (js_has(p, "protocol") && !str_in(js_str(p, "protocol"), protos))
		err_not_supported(e, prp, js_str(p, "protocol"), protos);
	if (port && json_is_integer(port)) {
		check_port_num(json_integer_value(port), pp, e);
		if (has_end) {
			if (end < json_integer_value(port))
				err_invalid_int(e, ep, json_integer_value(port), "must be greater than or "
										  "equal to `port`");
			check_port_num(end, ep, e);
		}
	} else if (port && json_is_string(port)) {
		if (has_end)
			err_invalid_int(e, ep, end, "may not be specified when `port` is non-numeric");
		check_port_name(json_string_value(port), pp, e);
	} else if (has_end) {
		err_invalid_int(e, ep, end, "may not be specified when `port` is not specified");
	}
}

static void netpol_peer(const json_t *peer, const char *path, struct api_field_errors *e)
{
	static const char *const sels[] = {"podSelector", "namespaceSelector", NULL};
	json_t *ipb = js_obj(peer, "ipBlock");
	size_t n = 0;

	for (size_t i = 0; sels[i]; i++) {
		CHILD(p, path, sels[i]);
		if (js_obj(peer, sels[i])) {
			n++;
			check_label_selector(js_obj(peer, sels[i]), p, e);
		}
	}
	if (ipb) {
		CHILD(bp, path, "ipBlock");
		CHILD(cp, bp, "cidr");
		json_t *ex = js_arr(ipb, "except");
		const char *cidr = js_str(ipb, "cidr");

		n++;
		if (!*cidr)
			err_required(e, cp, NULL);
		else if (!cidr_valid(cidr, NULL))
			err_invalid_str(e, cp, cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
						     "2001:db8::/64)");
		for (size_t i = 0; ex && i < json_array_size(ex); i++) {
			_cleanup_free_ char *xp = xasprintf("%s.except[%zu]", bp, i);
			const char *x = json_string_value(json_array_get(ex, i)) ?: "";

			if (!cidr_valid(x, NULL))
				err_invalid_str(e, xp, x, "must be a valid CIDR value, (e.g. 10.9.8.0/24 "
							  "or 2001:db8::/64)");
		}
	}
	if (n == 0)
		err_required(e, path, "must specify a peer");
	else if (n > 1 && ipb)
		err_forbidden(e, path, "may not specify both ipBlock and another peer");
}

static void netpol_validate(const json_t *np, struct api_field_errors *e)
{
	static const char *const dirs[][2] = {{"ingress", "from"}, {"egress", "to"}};
	static const char *const types[] = {"Ingress", "Egress", NULL};
	json_t *spec = js_obj(np, "spec"), *pt = js_arr(spec, "policyTypes");

	check_label_selector(js_obj(spec, "podSelector"), "spec.podSelector", e);
	for (size_t d = 0; d < 2; d++) {
		json_t *rules = js_arr(spec, dirs[d][0]);

		for (size_t i = 0; rules && i < json_array_size(rules); i++) {
			json_t *r = json_array_get(rules, i);
			json_t *ports = js_arr(r, "ports"), *peers = js_arr(r, dirs[d][1]);
			_cleanup_free_ char *rp = xasprintf("spec.%s[%zu]", dirs[d][0], i);

			for (size_t j = 0; ports && j < json_array_size(ports); j++) {
				_cleanup_free_ char *p = xasprintf("%s.ports[%zu]", rp, j);
				netpol_port(json_array_get(ports, j), p, e);
			}
			for (size_t j = 0; peers && j < json_array_size(peers); j++) {
				_cleanup_free_ char *p = xasprintf("%s.%s[%zu]", rp, dirs[d][1], j);
				netpol_peer(json_array_get(peers, j), p, e);
			}
		}
	}
	if (pt && json_array_size(pt) > 2) {
		_cleanup_free_ char *raw = go_string_slice(pt);
		err_invalid_raw(e, "spec.policyTypes", raw, "may not specify more than two "
							    "policyTypes");
		return;
	}
	for (size_t i = 0; pt && i < json_array_size(pt); i++) {
		_cleanup_free_ char *p = vp_index("spec.policyTypes", i);
		const char *t = json_string_value(json_array_get(pt, i)) ?: "";

		if (!str_in(t, types))
			err_not_supported(e, p, t, types);
	}
}

/* ---- Ingress and IngressClass ---- */

static void ingress_backend(const json_t *b, const char *path, struct api_field_errors *e)
{
	json_t *svc = js_obj(b, "service"), *res = js_obj(b, "resource");
	json_t *port = js_obj(svc, "port");
	CHILD(sp, path, "service");
	CHILD(np, sp, "name");
	CHILD(pp, sp, "port");

	if (svc && res) {
		err_invalid_str(e, path, "", "cannot set both resource and service backends");
		return;
	}
	if (res) {
		CHILD(rp, path, "resource");
		CHILD(kp, rp, "kind");
		CHILD(rnp, rp, "name");

		if (!*js_str(res, "kind"))
			err_required(e, kp, NULL);
		if (!*js_str(res, "name"))
			err_required(e, rnp, NULL);
		return;
	}
	if (!svc) {
		err_invalid_str(e, path, "", "one backend (`service` or `resource`) must be specified");
		return;
	}
	if (!*js_str(svc, "name")) {
		err_required(e, np, NULL);
	} else {
		struct api_msgs m = {0};

		api_is_dns1035_label(js_str(svc, "name"), &m);
		err_msgs(e, np, js_str(svc, "name"), &m);
		api_msgs_clear(&m);
	}
	if (*js_str(port, "name") && js_int(port, "number", 0)) {
		err_invalid_str(e, path, "", "cannot set both port name & port number");
	} else if (*js_str(port, "name")) {
		CHILD(p, pp, "name");
		check_port_name(js_str(port, "name"), p, e);
	} else if (js_int(port, "number", 0)) {
		CHILD(p, pp, "number");
		check_port_num(js_int(port, "number", 0), p, e);
	} else {
		err_required(e, path, "port name or number is required");
	}
}

static void ingress_host(const char *host, const char *path, struct api_field_errors *e)
{
	if (ip_valid(host, NULL))
		err_invalid_str(e, path, host, "must be a DNS name, not an IP address");
	if (strchr(host, '*')) {
		if (!str_has_prefix(host, "*.") || api_is_dns1123_subdomain(host + 2, NULL))
			err_invalid_str(e, path, host, "a wildcard DNS-1123 subdomain must start with "
						       "'*.', followed by a valid DNS subdomain, which "
						       "must consist of lower case alphanumeric "
						       "characters, '-' or '.' and end with an "
						       "alphanumeric character (e.g. '*.example.com', "
						       "regex used for validation is "
						       "'\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]"
						       "([-a-z0-9]*[a-z0-9])?)*')");
		return;
	}
	check_subdomain(host, path, e);
}

static void ingress_path(const json_t *p, const char *path, struct api_field_errors *e)
{
	static const char *const types[] = {"Exact", "ImplementationSpecific", "Prefix", NULL};
	static const char *const bad_seq[] = {"//", "/./", "/../", "%2f", "%2F", NULL};
	static const char *const bad_end[] = {"/..", "/.", NULL};
	CHILD(tp, path, "pathType");
	CHILD(pp, path, "path");
	CHILD(bp, path, "backend");
	const char *type = js_str(p, "pathType"), *s = js_str(p, "path");

	if (!js_has(p, "pathType")) {
		err_required(e, tp, "pathType must be specified");
		return;
	}
	if (streq(type, "Exact") || streq(type, "Prefix")) {
		if (s[0] != '/')
			err_invalid_str(e, pp, s, "must be an absolute path");
		for (size_t i = 0; *s && bad_seq[i]; i++)
			if (strstr(s, bad_seq[i])) {
				_cleanup_free_ char *d = xasprintf("must not contain '%s'", bad_seq[i]);
				err_invalid_str(e, pp, s, d);
			}
		for (size_t i = 0; *s && bad_end[i]; i++)
			if (str_has_suffix(s, bad_end[i])) {
				_cleanup_free_ char *d = xasprintf("cannot end with '%s'", bad_end[i]);
				err_invalid_str(e, pp, s, d);
			}
	} else if (streq(type, "ImplementationSpecific")) {
		if (*s && s[0] != '/')
			err_invalid_str(e, pp, s, "must be an absolute path");
	} else {
		err_not_supported(e, tp, type, types);
	}
	ingress_backend(js_obj(p, "backend"), bp, e);
}

static void ingress_validate(const json_t *ing, struct api_field_errors *e)
{
	json_t *spec = js_obj(ing, "spec"), *rules = js_arr(spec, "rules"), *tls = js_arr(spec, "tls");

	if (!js_obj(spec, "defaultBackend") && !json_array_size(rules)) {
		err_invalid_raw(e, "spec", "[]networking.IngressRule(nil)",
				"either `defaultBackend` or `rules` must be specified");
	}
	if (js_obj(spec, "defaultBackend"))
		ingress_backend(js_obj(spec, "defaultBackend"), "spec.defaultBackend", e);
	for (size_t i = 0; rules && i < json_array_size(rules); i++) {
		json_t *r = json_array_get(rules, i), *http = js_obj(r, "http");
		json_t *paths = js_arr(http, "paths");
		_cleanup_free_ char *rp = vp_index("spec.rules", i);
		CHILD(hp, rp, "host");
		CHILD(htp, rp, "http");
		CHILD(pp, htp, "paths");

		if (*js_str(r, "host"))
			ingress_host(js_str(r, "host"), hp, e);
		if (!http)
			continue;
		if (!json_array_size(paths))
			err_required(e, pp, NULL);
		for (size_t j = 0; paths && j < json_array_size(paths); j++) {
			_cleanup_free_ char *p = vp_index(pp, j);
			ingress_path(json_array_get(paths, j), p, e);
		}
	}
	for (size_t i = 0; tls && i < json_array_size(tls); i++) {
		json_t *hosts = js_arr(json_array_get(tls, i), "hosts");

		for (size_t j = 0; hosts && j < json_array_size(hosts); j++) {
			_cleanup_free_ char *p = xasprintf("spec.tls[%zu].hosts[%zu]", i, j);
			const char *h = json_string_value(json_array_get(hosts, j)) ?: "";

			if (strchr(h, '*'))
				ingress_host(h, p, e);
			else
				check_subdomain(h, p, e);
		}
	}
	if (js_has(spec, "ingressClassName"))
		check_subdomain(js_str(spec, "ingressClassName"), "spec.ingressClassName", e);
}

static void ingress_class_validate(const json_t *ic, struct api_field_errors *e)
{
	json_t *spec = js_obj(ic, "spec"), *params = js_obj(spec, "parameters");
	const char *ctl = js_str(spec, "controller");

	if (!*ctl) {
		err_required(e, "spec.controller", NULL);
	} else {
		const char *slash = strchr(ctl, '/');
		_cleanup_free_ char *domain = slash ? xstrndup(ctl, (size_t)(slash - ctl)) : NULL;

		if (strlen(ctl) > 250)
			err_too_long(e, "spec.controller", 250);
		if (!slash || !slash[1])
			err_invalid_str(e, "spec.controller", ctl, "must be a domain-prefixed path (such as "
								   "\"acme.io/foo\")");
		else
			check_subdomain(domain, "spec.controller", e);
	}
	if (params) {
		const char *scope = js_str(params, "scope");

		if (!*js_str(params, "kind"))
			err_required(e, "spec.parameters.kind", NULL);
		if (!*js_str(params, "name"))
			err_required(e, "spec.parameters.name", NULL);
		if (streq(scope, "Namespace") && !*js_str(params, "namespace"))
			err_required(e, "spec.parameters.namespace", "`parameters.scope` is set to "
								     "'Namespace'");
		if (streq(scope, "Cluster") && js_has(params, "namespace"))
			err_forbidden(e, "spec.parameters.namespace", "`parameters.scope` is set to "
								      "'Cluster'");
	}
}

static void ingress_class_update(const json_t *ic, const json_t *old, struct api_field_errors *e)
{
	const char *n = js_str(js_obj(ic, "spec"), "controller");

	if (!streq(n, js_str(js_obj(old, "spec"), "controller")))
		err_invalid_str(e, "spec.controller", n, "field is immutable");
}

/* ---- PodDisruptionBudget ---- */

static void int_or_percent_rules(const json_t *v, const char *path, struct api_field_errors *e)
{
	bool pct = false;
	int64_t n = -1;

	if (json_is_integer(v)) {
		check_nonnegative(json_integer_value(v), path, e);
		return;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		uint64_t u;

		if (str_has_suffix(s, "%") && parse_u64(s, strlen(s) - 1, &u) == 0) {
			pct = true;
			n = (int64_t)u;
		}
		if (!pct) {
			_cleanup_free_ char *raw = xasprintf("intstr.IntOrString{Type:1, IntVal:0, "
							     "StrVal:\"%s\"}", s);
			err_invalid_raw(e, path, raw, "a valid percent string must be a numeric string "
						      "followed by an ending '%' (e.g. '1%',  or '93%', "
						      "regex used for validation is '[0-9]+%')");
		} else if (n > 100) {
			_cleanup_free_ char *raw = xasprintf("intstr.IntOrString{Type:1, IntVal:0, "
							     "StrVal:\"%s\"}", s);
			err_invalid_raw(e, path, raw, "must not be greater than 100%");
		}
	}
}

static void pdb_validate(const json_t *pdb, struct api_field_errors *e)
{
	static const char *const policies[] = {"AlwaysAllow", "IfHealthyBudget", NULL};
	json_t *spec = js_obj(pdb, "spec");
	json_t *min = json_object_get(spec ? spec : json_null(), "minAvailable");
	json_t *max = json_object_get(spec ? spec : json_null(), "maxUnavailable");

	if (min && !json_is_null(min) && max && !json_is_null(max))
		err_invalid_json(e, "spec.minAvailable", min, "minAvailable and maxUnavailable cannot be "
							      "both set");
	if (min && !json_is_null(min))
		int_or_percent_rules(min, "spec.minAvailable", e);
	if (max && !json_is_null(max))
		int_or_percent_rules(max, "spec.maxUnavailable", e);
	check_label_selector(js_obj(spec, "selector"), "spec.selector", e);
	if (js_has(spec, "unhealthyPodEvictionPolicy") &&
	    !str_in(js_str(spec, "unhealthyPodEvictionPolicy"), policies))
		err_not_supported(e, "spec.unhealthyPodEvictionPolicy",
				  js_str(spec, "unhealthyPodEvictionPolicy"), policies);
}

/* ---- APIService ---- */

static size_t b64_len(const char *s)
{
	size_t n = 0;
	_cleanup_free_ uint8_t *raw = base64_decode(s, &n);

	return raw ? n : 0;
}

static void apiservice_validate(const json_t *a, struct api_field_errors *e)
{
	json_t *spec = js_obj(a, "spec"), *svc = js_obj(spec, "service");
	const char *group = js_str(spec, "group"), *version = js_str(spec, "version");
	const char *name = api_meta_name(a) ?: "";
	_cleanup_free_ char *want = *group ? xasprintf("%s.%s", version, group) : xstrdup(version);
	int64_t gp = js_int(spec, "groupPriorityMinimum", 0), vp = js_int(spec, "versionPriority", 0);

	if (!streq(name, want)) {
		_cleanup_free_ char *d = xasprintf("must be `spec.version+\".\"+spec.group`: \"%s\"",
						   want);
		err_invalid_str(e, "metadata.name", name, d);
	}
	if (!*group && !streq(version, "v1"))
		err_required(e, "spec.group", "only v1 may have an empty group and it better be legacy "
					      "kube");
	else if (*group)
		check_subdomain(group, "spec.group", e);
	if (!*version)
		err_required(e, "spec.version", NULL);
	else
		check_label(version, "spec.version", e);
	if (gp <= 0 || gp > 20000)
		err_invalid_int(e, "spec.groupPriorityMinimum", gp, "must be positive and less than "
								    "20000");
	if (vp <= 0 || vp > 1000)
		err_invalid_int(e, "spec.versionPriority", vp, "must be positive and less than 1000");
	if (!svc) {
		if (*js_str(spec, "caBundle")) {
			_cleanup_free_ char *n = xasprintf("%zu bytes", b64_len(js_str(spec, "caBundle")));
			err_invalid_str(e, "spec.caBundle", n, "local APIServices may not have a caBundle");
		}
		if (js_bool(spec, "insecureSkipTLSVerify"))
			api_field_invalid(e, "spec.insecureSkipTLSVerify", json_true(),
					  "local APIServices may not have insecureSkipTLSVerify");
		return;
	}
	if (!*js_str(svc, "namespace"))
		err_required(e, "spec.service.namespace", NULL);
	if (!*js_str(svc, "name"))
		err_required(e, "spec.service.name", NULL);
	if (js_has(svc, "port") && (js_int(svc, "port", 0) < 1 || js_int(svc, "port", 0) > 65535))
		err_invalid_int(e, "spec.service.port", js_int(svc, "port", 0),
				"port is not valid: must be between 1 and 65535, inclusive");
	if (js_bool(spec, "insecureSkipTLSVerify") && *js_str(spec, "caBundle"))
		api_field_invalid(e, "spec.insecureSkipTLSVerify", json_true(),
				  "may not be true if caBundle is present");
}

const struct kind_rules other_rules[] = {
	{.group = "coordination.k8s.io", .kind = "Lease", .name = NAME_DNS_SUBDOMAIN,
	 .validate = lease_validate},
	{.group = "discovery.k8s.io", .kind = "EndpointSlice", .name = NAME_DNS_SUBDOMAIN,
	 .validate = slice_validate},
	{.group = RBAC_GROUP, .kind = "Role", .name = NAME_PATH_SEGMENT, .validate = role_validate},
	{.group = RBAC_GROUP, .kind = "ClusterRole", .name = NAME_PATH_SEGMENT,
	 .validate = cluster_role_validate},
	{.group = RBAC_GROUP, .kind = "RoleBinding", .name = NAME_PATH_SEGMENT,
	 .defaults = subjects_default, .validate = role_binding_validate, .update = binding_update},
	{.group = RBAC_GROUP, .kind = "ClusterRoleBinding", .name = NAME_PATH_SEGMENT,
	 .defaults = subjects_default, .validate = cluster_role_binding_validate,
	 .update = binding_update},
	{.group = "networking.k8s.io", .kind = "NetworkPolicy", .name = NAME_DNS_SUBDOMAIN,
	 .defaults = netpol_default, .validate = netpol_validate},
	{.group = "networking.k8s.io", .kind = "Ingress", .name = NAME_DNS_SUBDOMAIN,
	 .validate = ingress_validate},
	{.group = "networking.k8s.io", .kind = "IngressClass", .name = NAME_DNS_SUBDOMAIN,
	 .validate = ingress_class_validate, .update = ingress_class_update},
	{.group = "policy", .kind = "PodDisruptionBudget", .name = NAME_DNS_SUBDOMAIN,
	 .validate = pdb_validate},
	{.group = "apiregistration.k8s.io", .kind = "APIService", .name = NAME_PATH_SEGMENT,
	 .validate = apiservice_validate},
};
const size_t other_nrules = ARRAY_SIZE(other_rules);
