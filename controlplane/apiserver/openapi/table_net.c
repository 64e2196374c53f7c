/* Table printers for services and their endpoints, ingresses, network
 * policies, disruption budgets, leases, role bindings and API services. */
#include <stdarg.h>
#include <stdio.h>

#include "api/api.h"
#include "apiserver/openapi/internal.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "a + N more..." lists, as the printers cut them at three entries. */
struct morelist {
	struct buf b;
	size_t n, count, max;
	bool more;
};

static void more_add(struct morelist *m, const char *fmt, ...) _printf_(2, 3);
static void more_add(struct morelist *m, const char *fmt, ...)
{
	va_list ap;

	if (m->n > 0)
		buf_putc(&m->b, ',');
	va_start(ap, fmt);
	buf_vprintf(&m->b, fmt, ap);
	va_end(ap);
	m->n++;
}

/* listWithMoreString: "<unset>" when empty. */
static void cell_more(struct trow *r, struct morelist *m, const char *empty)
{
	if (m->more)
		cell_printf(r, "%s + %zu more...", m->b.data ? m->b.data : "", m->count - m->max);
	else
		cell_str(r, m->n ? m->b.data : empty);
	buf_free(&m->b);
}

/* The load balancer's ingress points, sorted and unique, joined by ",". */
static char *lb_ingress(const json_t *ingress)
{
	size_t n = 0, i;
	json_t *e;
	struct buf b = {0};
	const char **v = xnew(const char *, json_array_size(ingress) + 1);

	json_array_foreach((json_t *)ingress, i, e) {
		const char *s = *jstr(e, "ip") ? jstr(e, "ip") : jstr(e, "hostname");
		if (*s)
			v[n++] = s;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	buf_puts(&b, "");
	for (i = 0; i < n; i++)
		if (i == 0 || !streq(v[i], v[i - 1]))
			buf_printf(&b, "%s%s", b.len ? "," : "", v[i]);
	free(v);
	return buf_steal(&b);
}

/* ---- services ---- */

static const struct tcol service_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Type", "string", "", "ClusterIP, NodePort, LoadBalancer or ExternalName.", 0},
	{"Cluster-IP", "string", "",
	 "The virtual IP the service answers on inside the cluster.", 0},
	{"External-IP", "string", "",
	 "Addresses the service answers on from outside the cluster.", 0},
	{"Port(s)", "string", "",
	 "The service's ports, with node ports, as port[:nodePort]/protocol.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"Selector", "string", "", "The labels of the pods that back the service.", 1},
};

/* getServiceExternalIP, as kube-apiserver calls it (wide). */
static char *service_external_ip(const json_t *svc)
{
	const char *type = jstr(svc, "spec.type");
	json_t *ext = api_get_array(svc, "spec.externalIPs");

	if (streq(type, "ClusterIP") || streq(type, "NodePort")) {
		if (json_array_size(ext) > 0)
			return join_strings(ext, ",");
		return xstrdup("<none>");
	}
	if (streq(type, "LoadBalancer")) {
		char *lb = lb_ingress(api_get_array(svc, "status.loadBalancer.ingress"));
		if (json_array_size(ext) > 0) {
			_cleanup_free_ char *e = join_strings(ext, ",");
			char *all = xasprintf("%s%s%s", lb, *lb ? "," : "", e);
			free(lb);
			return all;
		}
		if (*lb)
			return lb;
		free(lb);
		return xstrdup("<pending>");
	}
	if (streq(type, "ExternalName"))
		return xstrdup(jstr(svc, "spec.externalName"));
	return xstrdup("<unknown>");
}

static void print_service(const json_t *o, struct trow *r)
{
	const char *ip = json_string_value(json_array_get(api_get_array(o, "spec.clusterIPs"), 0));
	struct buf ports = {0};
	size_t i;
	json_t *p;

	json_array_foreach(api_get_array(o, "spec.ports"), i, p) {
		if (i)
			buf_putc(&ports, ',');
		if (jint(p, "nodePort") > 0)
			buf_printf(&ports, "%lld:%lld/%s", (long long)jint(p, "port"),
				   (long long)jint(p, "nodePort"), jstr(p, "protocol"));
		else
			buf_printf(&ports, "%lld/%s", (long long)jint(p, "port"),
				   jstr(p, "protocol"));
	}
	_cleanup_free_ char *ext = service_external_ip(o);
	_cleanup_free_ char *sel = format_labels(api_get_object(o, "spec.selector"));

	cell_str(r, api_meta_name(o));
	cell_str(r, jstr(o, "spec.type"));
	cell_str(r, ip ? ip : "<none>");
	cell_str(r, ext);
	cell_str(r, ports.len ? ports.data : "<none>");
	cell_age(r, o);
	cell_str(r, sel);
	buf_free(&ports);
}

/* ---- endpoints and endpoint slices ---- */

static const struct tcol endpoints_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Endpoints", "string", "", "The first addresses, as ip:port.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void add_endpoint(struct morelist *m, const char *ip, const json_t *port)
{
	if (!port)
		more_add(m, "%s", ip);
	else if (strchr(ip, ':'))
		more_add(m, "[%s]:%lld", ip, (long long)jint(port, "port"));
	else
		more_add(m, "%s:%lld", ip, (long long)jint(port, "port"));
}

static void print_endpoints(const json_t *o, struct trow *r)
{
	struct morelist m = {.max = 3};
	json_t *subsets = api_get_array(o, "subsets");
	size_t i, j, a;
	json_t *ss, *port, *addr;

	cell_str(r, api_meta_name(o));
	if (json_array_size(subsets) == 0) {
		cell_str(r, "<none>");
		cell_age(r, o);
		return;
	}
	json_array_foreach(subsets, i, ss) {
		json_t *addrs = api_get_array(ss, "addresses"), *ports = api_get_array(ss, "ports");
		/* headless services may have no ports */
		if (json_array_size(ports) == 0) {
			m.count += json_array_size(addrs);
			json_array_foreach(addrs, a, addr) {
				if (m.n == m.max) {
					m.more = true;
					break;
				}
				add_endpoint(&m, jstr(addr, "ip"), NULL);
			}
			continue;
		}
		json_array_foreach(ports, j, port) {
			m.count += json_array_size(addrs);
			json_array_foreach(addrs, a, addr) {
				if (m.n == m.max) {
					m.more = true;
					break;
				}
				add_endpoint(&m, jstr(addr, "ip"), port);
			}
		}
	}
	cell_more(r, &m, "");
	cell_age(r, o);
}

static const struct tcol endpointslice_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"AddressType", "string", "", "IPv4, IPv6 or FQDN.", 0},
	{"Ports", "string", "", "The first ports of the slice.", 0},
	{"Endpoints", "string", "", "The first addresses of the slice.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void print_endpointslice(const json_t *o, struct trow *r)
{
	struct morelist ports = {.max = 3}, addrs = {.max = 3};
	size_t i, j;
	json_t *p, *ep, *a;

	json_array_foreach(api_get_array(o, "ports"), i, p) {
		if (ports.n < ports.max) {
			if (api_get(p, "port"))
				more_add(&ports, "%lld", (long long)jint(p, "port"));
			else if (api_get_str(p, "name"))
				more_add(&ports, "%s", jstr(p, "name"));
			else
				more_add(&ports, "*");
		} else {
			ports.more = true;
		}
		ports.count++;
	}
	json_array_foreach(api_get_array(o, "endpoints"), i, ep) {
		json_array_foreach(api_get_array(ep, "addresses"), j, a) {
			if (addrs.n < addrs.max)
				more_add(&addrs, "%s", json_is_string(a) ? json_string_value(a)
									 : "");
			else
				addrs.more = true;
			addrs.count++;
		}
	}
	cell_str(r, api_meta_name(o));
	cell_str(r, jstr(o, "addressType"));
	cell_more(r, &ports, "<unset>");
	cell_more(r, &addrs, "<unset>");
	cell_age(r, o);
}

/* ---- ingresses ---- */

static const struct tcol ingress_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Class", "string", "", "The ingress class that handles the ingress.", 0},
	{"Hosts", "string", "", "The host names the rules match.", 0},
	{"Address", "string", "", "The load balancer's addresses.", 0},
	{"Ports", "string", "", "The ports the ingress answers on.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void print_ingress(const json_t *o, struct trow *r)
{
	json_t *rules = api_get_array(o, "spec.rules");
	struct buf hosts = {0};
	size_t i, n = 0, max = 3;
	bool more = false;
	json_t *rule;

	json_array_foreach(rules, i, rule) {
		if (n == max)
			more = true;
		if (!more && *jstr(rule, "host")) {
			buf_printf(&hosts, "%s%s", n ? "," : "", jstr(rule, "host"));
			n++;
		}
	}
	const char *cls = api_get_str(o, "spec.ingressClassName");
	_cleanup_free_ char *addr = lb_ingress(api_get_array(o, "status.loadBalancer.ingress"));

	cell_str(r, api_meta_name(o));
	cell_str(r, cls ? cls : "<none>");
	if (n == 0)
		cell_str(r, "*");
	else if (more)
		cell_printf(r, "%s + %zu more...", hosts.data, json_array_size(rules) - max);
	else
		cell_str(r, hosts.data);
	cell_str(r, addr);
	cell_str(r, jlen(o, "spec.tls") ? "80, 443" : "80");
	cell_age(r, o);
	buf_free(&hosts);
}

static const struct tcol ingressclass_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Controller", "string", "", "The controller that implements the class.", 0},
	{"Parameters", "string", "", "The object holding the class's parameters.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void print_ingressclass(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_str(r, jstr(o, "spec.controller"));
	if (!api_get_object(o, "spec.parameters")) {
		cell_str(r, "<none>");
	} else if (api_get_str(o, "spec.parameters.apiGroup")) {
		cell_printf(r, "%s.%s/%s", jstr(o, "spec.parameters.kind"),
			    jstr(o, "spec.parameters.apiGroup"), jstr(o, "spec.parameters.name"));
	} else {
		cell_printf(r, "%s/%s", jstr(o, "spec.parameters.kind"),
			    jstr(o, "spec.parameters.name"));
	}
	cell_age(r, o);
}

static const struct tcol networkpolicy_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Pod-Selector", "string", "", "The pods the policy applies to.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void print_networkpolicy(const json_t *o, struct trow *r)
{
	json_t *sel = api_get(o, "spec.podSelector");
	/* podSelector is not a pointer: absent means empty, which selects everything */
	_cleanup_free_ char *s = sel ? format_label_selector(sel) : xstrdup("<none>");

	cell_str(r, api_meta_name(o));
	cell_str(r, s);
	cell_age(r, o);
}

/* ---- policy, coordination, rbac, apiregistration ---- */

static const struct tcol pdb_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Min Available", "string", "", "Pods that must stay available.", 0},
	{"Max Unavailable", "string", "", "Pods that may be unavailable.", 0},
	{"Allowed Disruptions", "integer", "", "Pods that may be disrupted now.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void cell_int_or_string(struct trow *r, const json_t *v)
{
	if (json_is_integer(v))
		cell_printf(r, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v))
		cell_str(r, json_string_value(v));
	else
		cell_str(r, "N/A");
}

static void print_pdb(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_int_or_string(r, api_get(o, "spec.minAvailable"));
	cell_int_or_string(r, api_get(o, "spec.maxUnavailable"));
	cell_int(r, jint(o, "status.disruptionsAllowed"));
	cell_age(r, o);
}

static const struct tcol lease_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Holder", "string", "", "Who holds the lease.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void print_lease(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_str(r, jstr(o, "spec.holderIdentity"));
	cell_age(r, o);
}

static const struct tcol binding_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Role", "string", "", "The role granted, as kind/name.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"Users", "string", "", "The users the binding grants the role to.", 1},
	{"Groups", "string", "", "The groups the binding grants the role to.", 1},
	{"ServiceAccounts", "string", "",
	 "The service accounts the binding grants the role to.", 1},
};

static void print_rolebinding(const json_t *o, struct trow *r)
{
	struct buf users = {0}, groups = {0}, sas = {0};
	size_t i;
	json_t *s;

	buf_puts(&users, "");
	buf_puts(&groups, "");
	buf_puts(&sas, "");
	json_array_foreach(api_get_array(o, "subjects"), i, s) {
		const char *kind = jstr(s, "kind");
		if (streq(kind, "ServiceAccount"))
			buf_printf(&sas, "%s%s/%s", sas.len ? ", " : "", jstr(s, "namespace"),
				   jstr(s, "name"));
		else if (streq(kind, "User"))
			buf_printf(&users, "%s%s", users.len ? ", " : "", jstr(s, "name"));
		else if (streq(kind, "Group"))
			buf_printf(&groups, "%s%s", groups.len ? ", " : "", jstr(s, "name"));
	}
	cell_str(r, api_meta_name(o));
	cell_printf(r, "%s/%s", jstr(o, "roleRef.kind"), jstr(o, "roleRef.name"));
	cell_age(r, o);
	cell_str(r, users.data);
	cell_str(r, groups.data);
	cell_str(r, sas.data);
	buf_free(&users);
	buf_free(&groups);
	buf_free(&sas);
}

static const struct tcol apiservice_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Service", "string", "", "The service that serves the API, or Local.", 0},
	{"Available", "string", "", "Whether the API is available, with the reason when not.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void print_apiservice(const json_t *o, struct trow *r)
{
	json_t *cond = NULL, *c;
	size_t i;

	cell_str(r, api_meta_name(o));
	if (api_get_object(o, "spec.service"))
		cell_printf(r, "%s/%s", jstr(o, "spec.service.namespace"),
			    jstr(o, "spec.service.name"));
	else
		cell_str(r, "Local");
	json_array_foreach(api_get_array(o, "status.conditions"), i, c) {
		if (streq(jstr(c, "type"), "Available")) {
			cond = c;
			break;
		}
	}
	if (!cond)
		cell_str(r, "Unknown");
	else if (!streq(jstr(cond, "status"), "True") && *jstr(cond, "reason"))
		cell_printf(r, "%s (%s)", jstr(cond, "status"), jstr(cond, "reason"));
	else
		cell_str(r, jstr(cond, "status"));
	cell_age(r, o);
}

const struct tprinter oa_printers_net[] = {
	TPRINTER("", "Service", service_cols, print_service),
	TPRINTER("", "Endpoints", endpoints_cols, print_endpoints),
	TPRINTER("discovery.k8s.io", "EndpointSlice", endpointslice_cols, print_endpointslice),
	TPRINTER("networking.k8s.io", "Ingress", ingress_cols, print_ingress),
	TPRINTER("networking.k8s.io", "IngressClass", ingressclass_cols, print_ingressclass),
	TPRINTER("networking.k8s.io", "NetworkPolicy", networkpolicy_cols, print_networkpolicy),
	TPRINTER("policy", "PodDisruptionBudget", pdb_cols, print_pdb),
	TPRINTER("coordination.k8s.io", "Lease", lease_cols, print_lease),
	TPRINTER("rbac.authorization.k8s.io", "RoleBinding", binding_cols, print_rolebinding),
	TPRINTER("rbac.authorization.k8s.io", "ClusterRoleBinding", binding_cols,
		 print_rolebinding),
	TPRINTER("apiregistration.k8s.io", "APIService", apiservice_cols, print_apiservice),
};
const size_t oa_nprinters_net = ARRAY_SIZE(oa_printers_net);
