/* Services and EndpointSlices, from their JSON to what the compiler needs,
 * read the way kube-proxy reads them. An object whose fields have the wrong
 * types, or whose addresses, ports or protocols are not valid, is refused as
 * a whole (the API server would not have stored it); values kube-proxy
 * ignores (hostname-only ingress, FQDN slices, endpoints of the wrong
 * family) are ignored here too. */
#include <inttypes.h>
#include <stdarg.h>

#include "api/api.h"
#include "dataplane/lbtable/internal.h"

#define AFFINITY_DEFAULT_TIMEOUT 10800u /* kube: DefaultClientIPServiceAffinitySeconds */
#define AFFINITY_MAX_TIMEOUT 86400u

struct ctx {
	const char *kind;
	const char *key;
	char **ret_err;
};

_printf_(2, 3) static int fail(const struct ctx *x, const char *fmt, ...)
{
	if (x->ret_err) {
		struct buf b = {0};
		va_list ap;

		buf_printf(&b, "%s %s: ", x->kind, x->key ? x->key : "(unnamed)");
		va_start(ap, fmt);
		buf_vprintf(&b, fmt, ap);
		va_end(ap);
		*x->ret_err = buf_steal(&b);
	}
	return -EINVAL;
}

/* The member `name` of o when it has the JSON type wanted; NULL when absent
 * or null. *bad is set when it is there with another type. */
static json_t *member(const json_t *o, const char *name, json_type want, bool *bad)
{
	json_t *v = json_object_get(o, name);

	if (!v || json_is_null(v))
		return NULL;
	if (json_typeof(v) != want && !(want == JSON_TRUE && json_is_boolean(v))) {
		*bad = true;
		return NULL;
	}
	return v;
}

static const char *member_str(const json_t *o, const char *name, bool *bad)
{
	return json_string_value(member(o, name, JSON_STRING, bad));
}

static int parse_meta(const json_t *o, struct ctx *x, char **ret_key)
{
	bool bad = false;

	if (!json_is_object(o))
		return fail(x, "not a JSON object");
	json_t *meta = member(o, "metadata", JSON_OBJECT, &bad);
	const char *kind = member_str(o, "kind", &bad);
	const char *name = meta ? member_str(meta, "name", &bad) : NULL;
	const char *ns = meta ? member_str(meta, "namespace", &bad) : NULL;
	if (bad)
		return fail(x, "kind, metadata, metadata.name and metadata.namespace must be "
			    "a string, an object and strings");
	if (kind && !streq(kind, x->kind))
		return fail(x, "kind is %s", kind);
	if (!name || !*name)
		return fail(x, "metadata.name is required");
	*ret_key = xasprintf("%s/%s", ns && *ns ? ns : "default", name);
	x->key = *ret_key;
	return 0;
}

static int parse_proto(const struct ctx *x, const char *field, const char *s, __u8 *ret)
{
	if (!s || streq(s, "TCP"))
		*ret = LB_PROTO_TCP;
	else if (streq(s, "UDP"))
		*ret = LB_PROTO_UDP;
	else if (streq(s, "SCTP"))
		*ret = LB_PROTO_SCTP;
	else
		return fail(x, "%s: Unsupported value: \"%s\": supported values: \"SCTP\", "
			    "\"TCP\", \"UDP\"", field, s);
	return 0;
}

/* An integer member in [lo, hi]; 0 (and *ret untouched) when absent. */
static int parse_int(const struct ctx *x, const json_t *o, const char *name, const char *field,
		     int64_t lo, int64_t hi, int64_t *ret)
{
	bool bad = false;
	json_t *v = member(o, name, JSON_INTEGER, &bad);

	if (bad || (v && (json_integer_value(v) < lo || json_integer_value(v) > hi)))
		return fail(x, "%s.%s: must be an integer between %" PRId64 " and %" PRId64,
			    field, name, lo, hi);
	if (v)
		*ret = json_integer_value(v);
	return 0;
}

static int parse_addr(const struct ctx *x, const char *field, const json_t *v,
		      struct lb_addr *ret)
{
	if (!json_is_string(v) || lb_addr_parse(json_string_value(v), ret) < 0)
		return fail(x, "%s: must be a valid IP address", field);
	return 0;
}

/* spec.ports of a Service (service: a port number is required, nodePort
 * read) or ports of an EndpointSlice (an entry without a number means "all
 * ports", which kube-proxy skips). A name and protocol pair may appear once. */
static int parse_ports(const struct ctx *x, const json_t *o, const char *path, bool service,
		       struct lb_port_spec **ret, unsigned *ret_n)
{
	bool bad = false;
	json_t *ports = member(o, "ports", JSON_ARRAY, &bad), *p;
	size_t i;

	if (bad)
		return fail(x, "%s must be an array", path);
	*ret = xnew(struct lb_port_spec, json_array_size(ports));
	json_array_foreach(ports, i, p) {
		struct lb_port_spec *ps = &(*ret)[*ret_n];
		int64_t port = 0, node_port = 0;
		char field[64];

		snprintf(field, sizeof(field), "%s[%zu]", path, i);
		if (!json_is_object(p))
			return fail(x, "%s must be an object", field);
		const char *name = member_str(p, "name", &bad);
		const char *proto = member_str(p, "protocol", &bad);
		if (bad)
			return fail(x, "%s: name and protocol must be strings", field);
		if (parse_proto(x, field, proto, &ps->proto) < 0 ||
		    parse_int(x, p, "port", field, 1, 65535, &port) < 0 ||
		    (service && parse_int(x, p, "nodePort", field, 0, 65535, &node_port) < 0))
			return -EINVAL;
		if (!port && service)
			return fail(x, "%s.port: Required value", field);
		if (!port)
			continue;
		ps->name = xstrdup(name ? name : "");
		ps->port = (__u16)port;
		ps->node_port = (__u16)node_port;
		(*ret_n)++;
		for (unsigned j = 0; j + 1 < *ret_n; j++)
			if (streq((*ret)[j].name, ps->name) && (*ret)[j].proto == ps->proto)
				return fail(x, "%s.name: Duplicate value: \"%s\"", field, ps->name);
	}
	return 0;
}

static void ports_free(struct lb_port_spec *ports, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(ports[i].name);
	free(ports);
}

/* ---- Service ---------------------------------------------------------------------------- */

struct lb_svc_spec *lb_svc_spec_free(struct lb_svc_spec *s)
{
	if (!s)
		return NULL;
	ports_free(s->ports, s->n_ports);
	free(s->external);
	free(s);
	return NULL;
}
DEFINE_FREEP(struct lb_svc_spec, lb_svc_spec_free)

static int svc_cluster_ips(const struct ctx *x, const json_t *spec, struct lb_svc_spec *s)
{
	bool bad = false;
	json_t *ips = member(spec, "clusterIPs", JSON_ARRAY, &bad);
	json_t *ip = member(spec, "clusterIP", JSON_STRING, &bad), *v;
	size_t i;

	if (bad)
		return fail(x, "spec.clusterIP must be a string and spec.clusterIPs an array");
	if (!ips || !json_array_size(ips)) {
		const char *str = ip ? json_string_value(ip) : "";
		struct lb_addr a;

		/* Not allocated yet, or headless: kube-proxy skips the Service. */
		if (!*str || streq(str, "None")) {
			s->skip = true;
			return 0;
		}
		if (parse_addr(x, "spec.clusterIP", ip, &a) < 0)
			return -EINVAL;
		s->cluster[lb_addr_family(&a)] = a;
		s->has_cluster[lb_addr_family(&a)] = true;
		return 0;
	}
	json_array_foreach(ips, i, v) {
		struct lb_addr a;

		if (json_is_string(v) && streq(json_string_value(v), "None")) {
			s->skip = true;
			continue;
		}
		if (parse_addr(x, "spec.clusterIPs", v, &a) < 0)
			return -EINVAL;
		int f = lb_addr_family(&a);
		if (!s->has_cluster[f]) {
			s->cluster[f] = a;
			s->has_cluster[f] = true;
		}
	}
	if (!s->has_cluster[LB_FAM_V4] && !s->has_cluster[LB_FAM_V6])
		s->skip = true;
	return 0;
}

static void add_external(struct lb_svc_spec *s, const struct lb_addr *a, size_t cap)
{
	if (s->n_external < cap)
		s->external[s->n_external++] = *a;
}

static int svc_external(const struct ctx *x, const json_t *o, const json_t *spec, bool lb,
			struct lb_svc_spec *s)
{
	bool bad = false;
	json_t *ext = member(spec, "externalIPs", JSON_ARRAY, &bad), *v;
	json_t *status = member(o, "status", JSON_OBJECT, &bad);
	json_t *lbs = status ? member(status, "loadBalancer", JSON_OBJECT, &bad) : NULL;
	json_t *ingress = lbs ? member(lbs, "ingress", JSON_ARRAY, &bad) : NULL;
	size_t i, cap = json_array_size(ext) + json_array_size(ingress);

	if (bad)
		return fail(x, "spec.externalIPs and status.loadBalancer.ingress must be arrays");
	s->external = xnew(struct lb_addr, cap);
	json_array_foreach(ext, i, v) {
		struct lb_addr a;
		if (parse_addr(x, "spec.externalIPs", v, &a) < 0)
			return -EINVAL;
		add_external(s, &a, cap);
	}
	json_array_foreach(ingress, i, v) {
		struct lb_addr a;
		if (!json_is_object(v))
			return fail(x, "status.loadBalancer.ingress[%zu] must be an object", i);
		json_t *ip = member(v, "ip", JSON_STRING, &bad);
		const char *mode = member_str(v, "ipMode", &bad);
		if (bad)
			return fail(x, "status.loadBalancer.ingress[%zu]: ip and ipMode must be "
				    "strings", i);
		/* A hostname-only ingress, or one whose load balancer proxies
		 * (ipMode Proxy), gets no VIP here, as with kube-proxy. */
		if (!ip || !*json_string_value(ip) || (mode && streq(mode, "Proxy")))
			continue;
		if (parse_addr(x, "status.loadBalancer.ingress.ip", ip, &a) < 0)
			return -EINVAL;
		if (lb)
			add_external(s, &a, cap);
	}
	return 0;
}

static int svc_policies(const struct ctx *x, const json_t *spec, struct lb_svc_spec *s)
{
	bool bad = false;
	const char *etp = member_str(spec, "externalTrafficPolicy", &bad);
	const char *itp = member_str(spec, "internalTrafficPolicy", &bad);
	const char *aff = member_str(spec, "sessionAffinity", &bad);
	json_t *cfg = member(spec, "sessionAffinityConfig", JSON_OBJECT, &bad);
	json_t *cip = cfg ? member(cfg, "clientIP", JSON_OBJECT, &bad) : NULL;
	int64_t timeout = AFFINITY_DEFAULT_TIMEOUT;

	if (bad)
		return fail(x, "spec.externalTrafficPolicy, internalTrafficPolicy, sessionAffinity "
			    "and sessionAffinityConfig have the wrong types");
	s->etp_local = etp && streq(etp, "Local");
	s->itp_local = itp && streq(itp, "Local");
	s->affinity = aff && streq(aff, "ClientIP");
	if (cip && parse_int(x, cip, "timeoutSeconds", "spec.sessionAffinityConfig.clientIP", 1,
			     AFFINITY_MAX_TIMEOUT, &timeout) < 0)
		return -EINVAL;
	s->affinity_timeout = s->affinity ? (__u32)timeout : 0;
	return 0;
}

static int svc_spec(const struct ctx *x, const json_t *o, const json_t *spec,
		    struct lb_svc_spec *s)
{
	bool bad = false;
	const char *type = member_str(spec, "type", &bad);

	if (bad)
		return fail(x, "spec.type must be a string");
	if (!type)
		type = "ClusterIP";
	if (!streq(type, "ClusterIP") && !streq(type, "NodePort") &&
	    !streq(type, "LoadBalancer") && !streq(type, "ExternalName"))
		return fail(x, "spec.type: Unsupported value: \"%s\"", type);
	bool lb = streq(type, "LoadBalancer");
	s->node_ports = lb || streq(type, "NodePort");
	if (svc_cluster_ips(x, spec, s) < 0 ||
	    parse_ports(x, spec, "spec.ports", true, &s->ports, &s->n_ports) < 0 ||
	    svc_external(x, o, spec, lb, s) < 0 || svc_policies(x, spec, s) < 0)
		return -EINVAL;
	if (streq(type, "ExternalName"))
		s->skip = true;
	return 0;
}

int lb_parse_service(const json_t *o, char **ret_key, struct lb_svc_spec **ret, char **ret_err)
{
	struct ctx x = {.kind = "Service", .ret_err = ret_err};
	_cleanup_free_ char *key = NULL;
	_cleanup_(lb_svc_spec_freep) struct lb_svc_spec *s = NULL;
	bool bad = false;

	if (parse_meta(o, &x, &key) < 0)
		return -EINVAL;
	json_t *spec = member(o, "spec", JSON_OBJECT, &bad);
	if (bad)
		return fail(&x, "spec must be an object");
	s = xnew(struct lb_svc_spec, 1);
	s->skip = !spec; /* no ClusterIP */
	if (spec && svc_spec(&x, o, spec, s) < 0)
		return -EINVAL;
	*ret_key = TAKE_PTR(key);
	*ret = TAKE_PTR(s);
	return 0;
}

/* ---- EndpointSlice ---------------------------------------------------------------------- */

struct lb_slice_spec *lb_slice_spec_free(struct lb_slice_spec *s)
{
	if (!s)
		return NULL;
	ports_free(s->ports, s->n_ports);
	free(s->eps);
	free(s->service);
	free(s);
	return NULL;
}
DEFINE_FREEP(struct lb_slice_spec, lb_slice_spec_free)

static int endpoint_conditions(const struct ctx *x, const json_t *ep, size_t i, bool *ret_ready,
			       bool *ret_serving, bool *ret_terminating)
{
	bool bad = false;
	json_t *cond = member(ep, "conditions", JSON_OBJECT, &bad);
	json_t *ready = cond ? member(cond, "ready", JSON_TRUE, &bad) : NULL;
	json_t *serving = cond ? member(cond, "serving", JSON_TRUE, &bad) : NULL;
	json_t *term = cond ? member(cond, "terminating", JSON_TRUE, &bad) : NULL;

	if (bad)
		return fail(x, "endpoints[%zu].conditions: must be an object of booleans", i);
	/* As kube-proxy reads them: ready when unset, serving as ready when unset. */
	*ret_ready = !ready || json_is_true(ready);
	*ret_serving = serving ? json_is_true(serving) : *ret_ready;
	*ret_terminating = term && json_is_true(term);
	return 0;
}

static int slice_endpoints(const struct ctx *x, const json_t *o, const char *node_name,
			   struct lb_slice_spec *s)
{
	bool bad = false;
	json_t *eps = member(o, "endpoints", JSON_ARRAY, &bad), *ep;
	size_t i;

	if (bad)
		return fail(x, "endpoints must be an array");
	s->eps = xnew(struct lb_slice_ep, json_array_size(eps));
	json_array_foreach(eps, i, ep) {
		bool ready = false, serving = false, terminating = false;

		if (!json_is_object(ep))
			return fail(x, "endpoints[%zu] must be an object", i);
		json_t *addrs = member(ep, "addresses", JSON_ARRAY, &bad);
		const char *node = member_str(ep, "nodeName", &bad);
		if (bad || !json_array_size(addrs))
			return fail(x, "endpoints[%zu]: addresses must be a non-empty array and "
				    "nodeName a string", i);
		if (endpoint_conditions(x, ep, i, &ready, &serving, &terminating) < 0)
			return -EINVAL;
		if (s->family < 0)
			continue; /* FQDN: hostnames, nothing to balance */
		struct lb_slice_ep *e = &s->eps[s->n_eps];
		/* Kubernetes consumers use the first address only. */
		char field[48];
		snprintf(field, sizeof(field), "endpoints[%zu].addresses[0]", i);
		if (parse_addr(x, field, json_array_get(addrs, 0), &e->addr) < 0)
			return -EINVAL;
		if (lb_addr_family(&e->addr) != s->family)
			continue;
		if (ready)
			e->state = LB_EP_READY;
		else if (serving && terminating)
			e->state = LB_EP_TERMINATING;
		else
			continue;
		e->local = node && node_name && streq(node, node_name);
		s->n_eps++;
	}
	return 0;
}

int lb_parse_slice(const json_t *o, const char *node_name, char **ret_key,
		   struct lb_slice_spec **ret, char **ret_err)
{
	struct ctx x = {.kind = "EndpointSlice", .ret_err = ret_err};
	_cleanup_free_ char *key = NULL;
	_cleanup_(lb_slice_spec_freep) struct lb_slice_spec *s = NULL;
	bool bad = false;

	if (parse_meta(o, &x, &key) < 0)
		return -EINVAL;
	s = xnew(struct lb_slice_spec, 1);
	const char *type = member_str(o, "addressType", &bad);
	if (bad || !type)
		return fail(&x, "addressType: Required value");
	if (streq(type, "IPv4"))
		s->family = LB_FAM_V4;
	else if (streq(type, "IPv6"))
		s->family = LB_FAM_V6;
	else if (streq(type, "FQDN"))
		s->family = -1;
	else
		return fail(&x, "addressType: Unsupported value: \"%s\"", type);

	json_t *meta = json_object_get(o, "metadata");
	json_t *labels = member(meta, "labels", JSON_OBJECT, &bad);
	const char *svc = labels ? member_str(labels, "kubernetes.io/service-name", &bad) : NULL;
	if (bad)
		return fail(&x, "metadata.labels must be an object of strings");
	if (svc && *svc) {
		const char *slash = strchr(x.key, '/');
		s->service = xasprintf("%.*s/%s", (int)(slash - x.key), x.key, svc);
	}
	if (parse_ports(&x, o, "ports", false, &s->ports, &s->n_ports) < 0 ||
	    slice_endpoints(&x, o, node_name, s) < 0)
		return -EINVAL;
	*ret_key = TAKE_PTR(key);
	*ret = TAKE_PTR(s);
	return 0;
}
