/* Service and Endpoints: defaults (SetDefaults_Service, the clusterIP/clusterIPs pairing)
 * and rules (ValidateService, its update form, ValidateEndpoints). */
#include <stdio.h>

#include "apiserver/validate/pod.h"

static const char *const protocols[] = {"SCTP", "TCP", "UDP", NULL};

static bool headless(const json_t *spec)
{
	json_t *ips = js_arr(spec, "clusterIPs");

	return ips && json_array_size(ips) == 1 &&
	       streq(json_string_value(json_array_get(ips, 0)) ?: "", "None");
}

/* NodePort, LoadBalancer, or ClusterIP with external IPs. */
static bool externally_accessible(const json_t *spec)
{
	const char *t = js_str(spec, "type");

	return streq(t, "LoadBalancer") || streq(t, "NodePort") ||
	       (streq(t, "ClusterIP") && json_array_size(js_arr(spec, "externalIPs")) > 0);
}

static bool needs_health_check(const json_t *spec)
{
	return streq(js_str(spec, "type"), "LoadBalancer") &&
	       streq(js_str(spec, "externalTrafficPolicy"), "Local");
}

/* ---- defaults ---- */

static void service_default(json_t *svc)
{
	json_t *spec = js_obj(svc, "spec"), *ports;
	const char *t;

	if (!spec)
		return;
	if (!*js_str(spec, "sessionAffinity"))
		json_object_set_new(spec, "sessionAffinity", json_string("None"));
	if (streq(js_str(spec, "sessionAffinity"), "None"))
		json_object_del(spec, "sessionAffinityConfig");
	if (streq(js_str(spec, "sessionAffinity"), "ClientIP") &&
	    !js_has(js_obj(js_obj(spec, "sessionAffinityConfig"), "clientIP"), "timeoutSeconds"))
		json_object_set_new(spec, "sessionAffinityConfig",
				    json_pack("{s{si}}", "clientIP", "timeoutSeconds", 10800));
	if (!*js_str(spec, "type"))
		json_object_set_new(spec, "type", json_string("ClusterIP"));
	t = js_str(spec, "type");
	ports = js_arr(spec, "ports");
	for (size_t i = 0; ports && i < json_array_size(ports); i++) {
		json_t *p = json_array_get(ports, i), *tp;

		if (!json_is_object(p))
			continue;
		if (!*js_str(p, "protocol"))
			json_object_set_new(p, "protocol", json_string("TCP"));
		tp = json_object_get(p, "targetPort");
		if (!tp || json_is_null(tp) || (json_is_integer(tp) && !json_integer_value(tp)) ||
		    (json_is_string(tp) && !json_string_length(tp)))
			json_object_set_new(p, "targetPort", json_integer(js_int(p, "port", 0)));
	}
	if (externally_accessible(spec) && !*js_str(spec, "externalTrafficPolicy"))
		json_object_set_new(spec, "externalTrafficPolicy", json_string("Cluster"));
	if (!js_has(spec, "internalTrafficPolicy") &&
	    (streq(t, "NodePort") || streq(t, "LoadBalancer") || streq(t, "ClusterIP")))
		json_object_set_new(spec, "internalTrafficPolicy", json_string("Cluster"));
	if (streq(t, "LoadBalancer") && !js_has(spec, "allocateLoadBalancerNodePorts"))
		json_object_set_new(spec, "allocateLoadBalancerNodePorts", json_true());
	/* clusterIP and clusterIPs[0] are one value: either fills the other. */
	if (*js_str(spec, "clusterIP") && !json_array_size(js_arr(spec, "clusterIPs")))
		json_object_set_new(spec, "clusterIPs", json_pack("[s]", js_str(spec, "clusterIP")));
	else if (!*js_str(spec, "clusterIP") && json_array_size(js_arr(spec, "clusterIPs")) &&
		 json_is_string(json_array_get(js_arr(spec, "clusterIPs"), 0)))
		json_object_set(spec, "clusterIP", json_array_get(js_arr(spec, "clusterIPs"), 0));
}

/* ---- rules ---- */

static void check_service_port(const json_t *p, bool require_name, struct api_msgs *names,
			       const char *path, struct api_field_errors *e)
{
	CHILD(np, path, "name");
	CHILD(pp, path, "port");
	CHILD(prp, path, "protocol");
	CHILD(tp, path, "targetPort");
	CHILD(ap, path, "appProtocol");
	const char *name = js_str(p, "name"), *proto = js_str(p, "protocol");
	json_t *target = json_object_get(p, "targetPort");

	if (require_name && !*name) {
		err_required(e, np, NULL);
	} else if (*name) {
		struct api_msgs m = {0};
		bool dup = false;

		api_is_dns1123_label(name, &m);
		err_msgs(e, np, name, &m);
		api_msgs_clear(&m);
		for (size_t i = 0; i < names->n && !dup; i++)
			dup = streq(names->v[i], name);
		if (dup)
			err_duplicate_str(e, np, name);
		else
			api_msgs_add(names, name);
	}
	check_port_num(js_int(p, "port", 0), pp, e);
	if (!*proto)
		err_required(e, prp, NULL);
	else if (!str_in(proto, protocols))
		err_not_supported(e, prp, proto, protocols);
	if (target && !json_is_null(target))
		check_int_or_string_port(target, tp, e);
	else
		check_port_num(0, tp, e);
	if (js_has(p, "appProtocol")) {
		struct api_msgs m = {0};

		api_is_qualified_name(js_str(p, "appProtocol"), &m);
		err_msgs(e, ap, js_str(p, "appProtocol"), &m);
		api_msgs_clear(&m);
	}
}

/* Go's %#v of the (protocol, port) key of a duplicate port. */
static char *go_service_port_key(const json_t *p)
{
	return xasprintf("core.ServicePort{Name:\"\", Protocol:\"%s\", AppProtocol:(*string)(nil), "
			 "Port:%lld, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}, "
			 "NodePort:0}", js_str(p, "protocol"), (long long)js_int(p, "port", 0));
}

static void check_cluster_ips(const json_t *spec, struct api_field_errors *e)
{
	static const char *const families[] = {"IPv4", "IPv6", NULL};
	static const char *const policies[] = {"PreferDualStack", "RequireDualStack", "SingleStack",
					       NULL};
	json_t *ips = js_arr(spec, "clusterIPs"), *fams = js_arr(spec, "ipFamilies");
	size_t nips = ips ? json_array_size(ips) : 0;
	_cleanup_free_ char *raw = go_string_slice(ips);
	bool bad = false;
	int fam[2] = {0, 0};

	if (*js_str(spec, "clusterIP")) {
		if (!nips)
			err_required(e, "spec.clusterIPs", NULL);
		else if (!streq(json_string_value(json_array_get(ips, 0)) ?: "",
				js_str(spec, "clusterIP")))
			err_invalid_raw(e, "spec.clusterIPs", raw, "first value must match `clusterIP`");
	} else if (nips) {
		err_invalid_raw(e, "spec.clusterIPs", raw, "must be empty when `clusterIP` is not "
							   "specified");
	}
	for (size_t i = 0; fams && i < json_array_size(fams); i++) {
		const char *f = json_string_value(json_array_get(fams, i)) ?: "";
		_cleanup_free_ char *p = vp_index("spec.ipFamilies", i);

		if (!str_in(f, families))
			err_not_supported(e, p, f, families);
		for (size_t j = 0; j < i; j++)
			if (streq(json_string_value(json_array_get(fams, j)) ?: "", f)) {
				err_duplicate_str(e, p, f);
				break;
			}
	}
	if (js_has(spec, "ipFamilyPolicy") && !str_in(js_str(spec, "ipFamilyPolicy"), policies))
		err_not_supported(e, "spec.ipFamilyPolicy", js_str(spec, "ipFamilyPolicy"), policies);
	for (size_t i = 0; i < nips; i++) {
		const char *ip = json_string_value(json_array_get(ips, i)) ?: "";
		_cleanup_free_ char *p = vp_index("spec.clusterIPs", i);

		if (i == 0 && streq(ip, "None")) {
			if (nips > 1) {
				bad = true;
				err_invalid_raw(e, "spec.clusterIPs", raw, "'None' must be the first and "
									   "only value");
			}
			continue;
		}
		if (!ip_valid(ip, i < 2 ? &fam[i] : NULL)) {
			bad = true;
			err_invalid_str(e, p, ip, "must be a valid IP address, (e.g. 10.9.8.7 or "
						  "2001:db8::ffff)");
		}
	}
	if (nips > 2)
		err_invalid_raw(e, "spec.clusterIPs", raw, "may only hold up to 2 values");
	if (bad)
		return;
	if (nips == 2 && fam[0] == fam[1])
		err_invalid_raw(e, "spec.clusterIPs", raw, "may specify no more than one IP for each "
							   "IP family");
	for (size_t i = 0; !headless(spec) && fams && i < nips && i < json_array_size(fams); i++) {
		const char *f = json_string_value(json_array_get(fams, i)) ?: "";
		const char *ip = json_string_value(json_array_get(ips, i)) ?: "";
		_cleanup_free_ char *p = vp_index("spec.clusterIPs", i);
		int got = 0;

		ip_valid(ip, &got);
		if (streq(f, "IPv4") && got == 6) {
			_cleanup_free_ char *d = xasprintf("expected an IPv4 value as indicated by "
							   "`ipFamilies[%zu]`", i);
			err_invalid_str(e, p, ip, d);
		} else if (streq(f, "IPv6") && got != 6) {
			_cleanup_free_ char *d = xasprintf("expected an IPv6 value as indicated by "
							   "`ipFamilies[%zu]`", i);
			err_invalid_str(e, p, ip, d);
		}
	}
}

static void special_ip(const char *ip, const char *path, struct api_field_errors *e)
{
	int fam = 0;

	if (!ip_valid(ip, &fam)) {
		err_invalid_str(e, path, ip, "must be a valid IP address");
		return;
	}
	if (streq(ip, "0.0.0.0") || streq(ip, "::")) {
		_cleanup_free_ char *d = xasprintf("may not be unspecified (%s)", ip);
		err_invalid_str(e, path, ip, d);
	}
	if ((fam == 4 && str_has_prefix(ip, "127.")) || streq(ip, "::1"))
		err_invalid_str(e, path, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)");
	if ((fam == 4 && str_has_prefix(ip, "169.254.")) || str_has_prefix(ip, "fe8") ||
	    str_has_prefix(ip, "fe9") || str_has_prefix(ip, "fea") || str_has_prefix(ip, "feb"))
		err_invalid_str(e, path, ip, "may not be in the link-local range (169.254.0.0/16, "
					     "fe80::/10)");
	if ((fam == 4 && str_has_prefix(ip, "224.0.0.")) || str_has_prefix(ip, "ff02:"))
		err_invalid_str(e, path, ip, "may not be in the link-local multicast range "
					     "(224.0.0.0/24, ff02::/10)");
}

static void service_validate(const json_t *svc, struct api_field_errors *e)
{
	static const char *const affinities[] = {"ClientIP", "None", NULL};
	static const char *const types[] = {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort",
					    NULL};
	static const char *const etps[] = {"Cluster", "Local", NULL};
	static const char *const itps[] = {"Cluster", "Local", NULL};
	json_t *spec = js_obj(svc, "spec"), *ports = js_arr(spec, "ports");
	json_t *ext = js_arr(spec, "externalIPs"), *lbsr = js_arr(spec, "loadBalancerSourceRanges");
	const char *type = js_str(spec, "type"), *aff = js_str(spec, "sessionAffinity");
	size_t nports = ports ? json_array_size(ports) : 0;
	struct api_msgs names = {0};

	if (!nports && !headless(spec) && !streq(type, "ExternalName"))
		err_required(e, "spec.ports", NULL);
	if ((streq(type, "LoadBalancer") || streq(type, "NodePort")) && headless(spec)) {
		_cleanup_free_ char *d = xasprintf("may not be set to 'None' for %s services", type);
		err_invalid_str(e, "spec.clusterIPs[0]", "None", d);
	} else if (streq(type, "ExternalName")) {
		_cleanup_free_ char *cname = xstrdup(js_str(spec, "externalName"));

		if (json_array_size(js_arr(spec, "clusterIPs")))
			err_forbidden(e, "spec.clusterIPs", "may not be set for ExternalName services");
		if (json_array_size(js_arr(spec, "ipFamilies")))
			err_forbidden(e, "spec.ipFamilies", "may not be set for ExternalName services");
		if (js_has(spec, "ipFamilyPolicy"))
			err_forbidden(e, "spec.ipFamilyPolicy", "may not be set for ExternalName "
								"services");
		if (*cname && cname[strlen(cname) - 1] == '.')
			cname[strlen(cname) - 1] = '\0';
		if (*cname) {
			struct api_msgs m = {0};

			api_is_dns1123_subdomain(cname, &m);
			err_msgs(e, "spec.externalName", cname, &m);
			api_msgs_clear(&m);
		} else {
			err_required(e, "spec.externalName", NULL);
		}
	}
	for (size_t i = 0; i < nports; i++) {
		_cleanup_free_ char *p = vp_index("spec.ports", i);
		check_service_port(json_array_get(ports, i), nports > 1, &names, p, e);
	}
	api_msgs_clear(&names);
	if (js_obj(spec, "selector"))
		check_labels(js_obj(spec, "selector"), "spec.selector", e);
	if (!*aff)
		err_required(e, "spec.sessionAffinity", NULL);
	else if (!str_in(aff, affinities))
		err_not_supported(e, "spec.sessionAffinity", aff, affinities);
	if (streq(aff, "ClientIP")) {
		json_t *c = js_obj(spec, "sessionAffinityConfig"), *ip = js_obj(c, "clientIP");
		static const char d[] = "when session affinity type is ClientIP";

		if (!c) {
			err_required(e, "spec.sessionAffinityConfig", d);
		} else if (!ip) {
			err_required(e, "spec.sessionAffinityConfig.clientIP", d);
		} else if (!js_has(ip, "timeoutSeconds")) {
			err_required(e, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", d);
		} else {
			int64_t t = js_int(ip, "timeoutSeconds", 0);

			if (t <= 0 || t > 86400)
				err_invalid_int(e, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", t,
						"must be greater than 0 and less than 86400");
		}
	} else if (streq(aff, "None") && js_has(spec, "sessionAffinityConfig")) {
		err_forbidden(e, "spec.sessionAffinityConfig", "must not be set when session affinity "
							       "is None");
	}
	if (!streq(type, "ExternalName"))
		check_cluster_ips(spec, e);
	for (size_t i = 0; ext && i < json_array_size(ext); i++) {
		const char *ip = json_string_value(json_array_get(ext, i)) ?: "";
		_cleanup_free_ char *p = vp_index("spec.externalIPs", i);

		if (!ip_valid(ip, NULL))
			err_invalid_str(e, p, ip, "must be a valid IP address, (e.g. 10.9.8.7 or "
						  "2001:db8::ffff)");
		else
			special_ip(ip, p, e);
	}
	if (!*type)
		err_required(e, "spec.type", NULL);
	else if (!str_in(type, types))
		err_not_supported(e, "spec.type", type, types);
	for (size_t i = 0; streq(type, "ClusterIP") && i < nports; i++) {
		_cleanup_free_ char *p = xasprintf("spec.ports[%zu].nodePort", i);

		if (js_int(json_array_get(ports, i), "nodePort", 0) != 0)
			err_forbidden(e, p, "may not be used when `type` is 'ClusterIP'");
	}
	for (size_t i = 0; i < nports; i++) {
		json_t *p = json_array_get(ports, i);
		int64_t np = js_int(p, "nodePort", 0);

		for (size_t j = 0; np && j < i; j++) {
			json_t *q = json_array_get(ports, j);

			if (js_int(q, "nodePort", 0) == np &&
			    streq(js_str(q, "protocol"), js_str(p, "protocol"))) {
				_cleanup_free_ char *path = xasprintf("spec.ports[%zu].nodePort", i);
				err_duplicate_int(e, path, np);
				break;
			}
		}
	}
	for (size_t i = 0; i < nports; i++) {
		json_t *p = json_array_get(ports, i);

		for (size_t j = 0; j < i; j++) {
			json_t *q = json_array_get(ports, j);

			if (js_int(q, "port", 0) == js_int(p, "port", 0) &&
			    streq(js_str(q, "protocol"), js_str(p, "protocol"))) {
				_cleanup_free_ char *path = vp_index("spec.ports", i);
				_cleanup_free_ char *raw = go_service_port_key(p);

				/* "Duplicate value: core.ServicePort{...}", as Go prints it. */
				api_field_errors_add(e, API_FIELD_DUPLICATE, path, NULL, raw);
				break;
			}
		}
	}
	if (lbsr && json_array_size(lbsr)) {
		if (!streq(type, "LoadBalancer"))
			err_forbidden(e, "spec.LoadBalancerSourceRanges", "may only be used when `type` "
									  "is 'LoadBalancer'");
		for (size_t i = 0; i < json_array_size(lbsr); i++) {
			const char *c = json_string_value(json_array_get(lbsr, i)) ?: "";
			_cleanup_free_ char *p = vp_index("spec.LoadBalancerSourceRanges", i);
			_cleanup_free_ char *t = xstrdup(c);
			char *s = t;

			while (*s == ' ')
				s++;
			for (size_t n = strlen(s); n && s[n - 1] == ' '; n--)
				s[n - 1] = '\0';
			if (!cidr_valid(s, NULL))
				err_invalid_str(e, p, s, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or "
							 "2001:db8::/64)");
		}
	}
	if (js_has(spec, "allocateLoadBalancerNodePorts") && !streq(type, "LoadBalancer"))
		err_forbidden(e, "spec.allocateLoadBalancerNodePorts", "may only be used when `type` is "
								       "'LoadBalancer'");
	if (streq(type, "LoadBalancer") && !js_has(spec, "allocateLoadBalancerNodePorts"))
		err_required(e, "allocateLoadBalancerNodePorts", NULL);
	if (js_has(spec, "loadBalancerClass")) {
		struct api_msgs m = {0};

		if (!streq(type, "LoadBalancer"))
			err_forbidden(e, "spec.loadBalancerClass", "may only be used when `type` is "
								   "'LoadBalancer'");
		api_is_qualified_name(js_str(spec, "loadBalancerClass"), &m);
		err_msgs(e, "spec.loadBalancerClass", js_str(spec, "loadBalancerClass"), &m);
		api_msgs_clear(&m);
	}
	if (!externally_accessible(spec)) {
		if (*js_str(spec, "externalTrafficPolicy"))
			err_invalid_str(e, "spec.externalTrafficPolicy",
					js_str(spec, "externalTrafficPolicy"),
					"may only be set for externally-accessible services");
	} else if (!*js_str(spec, "externalTrafficPolicy")) {
		err_required(e, "spec.externalTrafficPolicy", NULL);
	} else if (!str_in(js_str(spec, "externalTrafficPolicy"), etps)) {
		err_not_supported(e, "spec.externalTrafficPolicy", js_str(spec, "externalTrafficPolicy"),
				  etps);
	}
	if (!needs_health_check(spec)) {
		if (js_int(spec, "healthCheckNodePort", 0))
			err_invalid_int(e, "spec.healthCheckNodePort", js_int(spec, "healthCheckNodePort", 0),
					"may only be set when `type` is 'LoadBalancer' and "
					"`externalTrafficPolicy` is 'Local'");
	} else if (!js_int(spec, "healthCheckNodePort", 0)) {
		err_required(e, "spec.healthCheckNodePort", NULL);
	} else {
		check_port_num(js_int(spec, "healthCheckNodePort", 0), "spec.healthCheckNodePort", e);
	}
	if (!js_has(spec, "internalTrafficPolicy") &&
	    (streq(type, "NodePort") || streq(type, "LoadBalancer") || streq(type, "ClusterIP")))
		err_required(e, "spec.internalTrafficPolicy", NULL);
	if (js_has(spec, "internalTrafficPolicy") &&
	    !str_in(js_str(spec, "internalTrafficPolicy"), itps))
		err_not_supported(e, "spec.internalTrafficPolicy", js_str(spec, "internalTrafficPolicy"),
				  itps);
	if (js_has(spec, "trafficDistribution") &&
	    !streq(js_str(spec, "trafficDistribution"), "PreferClose")) {
		static const char *const td[] = {"PreferClose", NULL};
		err_not_supported(e, "spec.trafficDistribution", js_str(spec, "trafficDistribution"), td);
	}
}

static void service_update(const json_t *svc, const json_t *old, struct api_field_errors *e)
{
	json_t *ns = js_obj(svc, "spec"), *os = js_obj(old, "spec");
	json_t *nips = js_arr(ns, "clusterIPs"), *oips = js_arr(os, "clusterIPs");
	size_t nn = nips ? json_array_size(nips) : 0, on = oips ? json_array_size(oips) : 0;
	_cleanup_free_ char *raw = go_string_slice(nips);

	if (streq(js_str(ns, "type"), "ExternalName") || streq(js_str(os, "type"), "ExternalName"))
		goto rest;
	if (headless(ns) && headless(os))
		goto rest;
	if (nn == on) {
		for (size_t i = 0; i < on; i++)
			if (!json_equal(json_array_get(oips, i), json_array_get(nips, i))) {
				_cleanup_free_ char *p = vp_index("spec.clusterIPs", i);
				err_invalid_raw(e, p, raw, "may not change once set");
			}
	} else if (on > nn) {
		if (nn == 0)
			err_invalid_raw(e, "spec.clusterIPs[0]", raw, "primary clusterIP can not be unset");
		if (on > 0 && nn > 0 && !json_equal(json_array_get(oips, 0), json_array_get(nips, 0)))
			err_invalid_raw(e, "spec.clusterIPs[0]", raw, "may not change once set");
		if (nn == 1 && !streq(js_str(ns, "ipFamilyPolicy"), "SingleStack"))
			err_invalid_raw(e, "spec.clusterIPs[0]", raw, "`ipFamilyPolicy` must be set to "
								      "'SingleStack' when releasing the "
								      "secondary clusterIP");
	} else if (on > 0 && !json_equal(json_array_get(oips, 0), json_array_get(nips, 0))) {
		err_invalid_raw(e, "spec.clusterIPs[0]", raw, "may not change once set");
	}
rest:
	if (needs_health_check(os) && needs_health_check(ns) &&
	    js_int(ns, "healthCheckNodePort", 0) != js_int(os, "healthCheckNodePort", 0))
		err_forbidden(e, "spec.healthCheckNodePort", "field is immutable");
	if (streq(js_str(os, "type"), "LoadBalancer") && streq(js_str(ns, "type"), "LoadBalancer") &&
	    !streq(js_str(ns, "loadBalancerClass"), js_str(os, "loadBalancerClass")))
		err_invalid_str(e, "spec.loadBalancerClass", js_str(ns, "loadBalancerClass"),
				"may not change once set");
}

static void service_status_update(const json_t *svc, const json_t *old, struct api_field_errors *e)
{
	json_t *ing = js_arr(js_obj(js_obj(svc, "status"), "loadBalancer"), "ingress");
	bool lb = streq(js_str(js_obj(svc, "spec"), "type"), "LoadBalancer");

	(void)old;
	if (ing && json_array_size(ing) && !lb)
		err_forbidden(e, "status.loadBalancer.ingress", "may only be used when `spec.type` is "
								"'LoadBalancer'");
	for (size_t i = 0; ing && i < json_array_size(ing); i++) {
		json_t *g = json_array_get(ing, i);
		_cleanup_free_ char *p = xasprintf("status.loadBalancer.ingress[%zu]", i);
		CHILD(ip, p, "ip");
		CHILD(hp, p, "hostname");
		CHILD(mp, p, "ipMode");

		if (*js_str(g, "ip") && !ip_valid(js_str(g, "ip"), NULL))
			err_invalid_str(e, ip, js_str(g, "ip"), "must be a valid IP address");
		if (*js_str(g, "hostname")) {
			struct api_msgs m = {0};

			api_is_dns1123_subdomain(js_str(g, "hostname"), &m);
			err_msgs(e, hp, js_str(g, "hostname"), &m);
			api_msgs_clear(&m);
			if (ip_valid(js_str(g, "hostname"), NULL))
				err_invalid_str(e, hp, js_str(g, "hostname"), "must be a DNS name, not an "
									      "IP address");
		}
		if (lb && *js_str(g, "ip") && !js_has(g, "ipMode"))
			err_required(e, mp, "must be specified when `ip` is set");
		else if (js_has(g, "ipMode") && !*js_str(g, "ip"))
			err_forbidden(e, mp, "may not be specified when `ip` is not set");
	}
}

/* ---- Endpoints ---- */

static void endpoints_validate(const json_t *ep, struct api_field_errors *e)
{
	json_t *subsets = js_arr(ep, "subsets");
	static const char *const lists[] = {"addresses", "notReadyAddresses", NULL};

	for (size_t i = 0; subsets && i < json_array_size(subsets); i++) {
		json_t *ss = json_array_get(subsets, i), *ports = js_arr(ss, "ports");
		_cleanup_free_ char *sp = vp_index("subsets", i);
		CHILD(pp, sp, "ports");
		size_t np = ports ? json_array_size(ports) : 0;

		if (!json_array_size(js_arr(ss, "addresses")) &&
		    !json_array_size(js_arr(ss, "notReadyAddresses")))
			err_required(e, sp, "must specify `addresses` or `notReadyAddresses`");
		for (size_t l = 0; lists[l]; l++) {
			json_t *as = js_arr(ss, lists[l]);
			CHILD(lp, sp, lists[l]);

			for (size_t j = 0; as && j < json_array_size(as); j++) {
				json_t *a = json_array_get(as, j);
				_cleanup_free_ char *ap = vp_index(lp, j);
				CHILD(ip, ap, "ip");
				CHILD(hp, ap, "hostname");
				CHILD(nnp, ap, "nodeName");
				const char *addr = js_str(a, "ip");

				if (!ip_valid(addr, NULL))
					err_invalid_str(e, ip, addr, "must be a valid IP address, (e.g. "
								     "10.9.8.7 or 2001:db8::ffff)");
				if (*js_str(a, "hostname")) {
					struct api_msgs m = {0};

					api_is_dns1123_label(js_str(a, "hostname"), &m);
					err_msgs(e, hp, js_str(a, "hostname"), &m);
					api_msgs_clear(&m);
				}
				if (js_has(a, "nodeName")) {
					struct api_msgs m = {0};

					api_is_dns1123_subdomain(js_str(a, "nodeName"), &m);
					err_msgs(e, nnp, js_str(a, "nodeName"), &m);
					api_msgs_clear(&m);
				}
				special_ip(addr, ip, e);
			}
		}
		for (size_t j = 0; j < np; j++) {
			json_t *p = json_array_get(ports, j);
			_cleanup_free_ char *pj = vp_index(pp, j);
			CHILD(npath, pj, "name");
			CHILD(portp, pj, "port");
			CHILD(prp, pj, "protocol");
			const char *proto = js_str(p, "protocol");

			if (np > 1 && !*js_str(p, "name")) {
				err_required(e, npath, NULL);
			} else if (*js_str(p, "name")) {
				struct api_msgs m = {0};

				api_is_dns1123_label(js_str(p, "name"), &m);
				err_msgs(e, npath, js_str(p, "name"), &m);
				api_msgs_clear(&m);
			}
			check_port_num(js_int(p, "port", 0), portp, e);
			if (!*proto)
				err_required(e, prp, NULL);
			else if (!str_in(proto, protocols))
				err_not_supported(e, prp, proto, protocols);
		}
	}
}

const struct kind_rules core_rules_service[] = {
	{.group = "", .kind = "Service", .name = NAME_DNS1035_LABEL, .defaults = service_default,
	 .validate = service_validate, .update = service_update,
	 .status_update = service_status_update},
	{.group = "", .kind = "Endpoints", .name = NAME_DNS_SUBDOMAIN,
	 .validate = endpoints_validate},
};
const size_t core_nrules_service = ARRAY_SIZE(core_rules_service);
