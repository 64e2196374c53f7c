/* The table compiler: Services and EndpointSlices in, the VIPs, flags and
 * rings kube-proxy would program out; incremental builds, generations,
 * retirement, and refusal of bad objects. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>

#include "base/base.h"
#include "dataplane/lbtable/lbtable.h"

#include "tap.h"
#include "lbt_test.h"

/* JSON written with ' for " so the objects below stay readable. */
_printf_(1, 2) static json_t *J(const char *fmt, ...)
{
	va_list ap;
	struct buf b = {0};
	json_error_t err;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] == '\'')
			b.data[i] = '"';
	json_t *v = json_loads(b.data, 0, &err);
	if (!v)
		printf("# bad test JSON: %s: %s\n", err.text, b.data);
	buf_free(&b);
	return v;
}

static json_t *service(const char *name, const char *spec)
{
	return J("{'kind':'Service','metadata':{'name':'%s','namespace':'default'},'spec':%s}",
		 name, spec);
}

static json_t *slice(const char *name, const char *svc, const char *type, const char *ports,
		     const char *eps)
{
	return J("{'kind':'EndpointSlice','metadata':{'name':'%s','namespace':'default',"
		 "'labels':{'kubernetes.io/service-name':'%s'}},'addressType':'%s',"
		 "'ports':%s,'endpoints':%s}", name, svc, type, ports, eps);
}

static struct lb_vip_key key(const char *addr, unsigned port, __u8 proto)
{
	struct lb_vip_key k = {.port = htons((uint16_t)port), .proto = proto};

	CHECK_INT(lb_addr_parse(addr, &k.addr), 0);
	return k;
}

static const struct lb_service *vip(const struct lb_table *t, const char *addr, unsigned port)
{
	struct lb_vip_key k = key(addr, port, LB_PROTO_TCP);
	return lb_table_find(t, &k);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct backends of s's ring, sorted: "198.18.0.1:8080,198.18.0.2:8080";
 * "" when the ring is empty; a trailing "!" marks terminating ones. */
static char *ring(const struct lb_compiler *c, const struct lb_table *t,
		  const struct lb_service *s)
{
	struct buf b = {0};
	const __u32 *arena = lb_compiler_arena(c, NULL);
	const struct lb_backend *be = lb_table_backends(t);
	char **names = xnew(char *, s ? s->n_backends : 0);
	unsigned n = 0;

	buf_puts(&b, "");
	if (!s)
		return buf_steal(&b);
	for (__u32 i = 0; i < s->ring_size; i++) {
		const struct lb_backend *x = &be[arena[s->ring_off + i]];
		char a[LB_ADDR_STRLEN];
		char *name = xasprintf("%s:%u%s", lb_addr_format(&x->addr, a), ntohs(x->port),
				       x->flags & LB_BE_TERMINATING ? "!" : "");
		unsigned j = 0;
		while (j < n && !streq(names[j], name))
			j++;
		if (j < n || n == s->n_backends)
			free(name);
		else
			names[n++] = name;
	}
	CHECK_INT(n, s->n_backends);
	qsort(names, n, sizeof(*names), cmp_str);
	for (unsigned i = 0; i < n; i++) {
		buf_printf(&b, "%s%s", i ? "," : "", names[i]);
		free(names[i]);
	}
	free(names);
	return buf_steal(&b);
}

#define CHECK_RING(c, t, s, want)                       \
	do {                                             \
		_cleanup_free_ char *got_ = ring(c, t, s); \
		CHECK_STREQ(got_, want);                 \
	} while (0)

#define EP(ip) "{'addresses':['" ip "']}"
#define EP_NODE(ip, node) "{'addresses':['" ip "'],'nodeName':'" node "'}"
#define HTTP_PORTS "[{'name':'http','port':8080,'protocol':'TCP'}]"
#define WEB_SPEC "{'clusterIP':'198.19.0.10','ports':[{'name':'http','port':80}]}"

static struct lb_compiler *compiler(void)
{
	static const char *const addrs[] = {"198.18.100.1", "198.18.100.2", "fd00:18::1"};
	struct lb_addr a[3];

	for (int i = 0; i < 3; i++)
		CHECK_INT(lb_addr_parse(addrs[i], &a[i]), 0);
	struct lb_compiler_config cfg = {.node_name = "node-a", .node_addrs = a, .n_node_addrs = 3};
	return lb_compiler_new(&cfg);
}

static void test_cluster_ip_balances_over_ready_endpoints(void)
{
	struct lb_compiler *c = compiler();

	lbt_set(c, service("web", WEB_SPEC));
	lbt_set(c, slice("web-1", "web", "IPv4", HTTP_PORTS,
			   "[" EP("198.18.0.1") "," EP("198.18.0.2") ",{'addresses':['198.18.0.3'],"
			   "'conditions':{'ready':false}}]"));
	const struct lb_table *t = lbt_build(c, NULL);
	const struct lb_service *s = vip(t, "198.19.0.10", 80);
	CHECK(t && s);
	CHECK_INT(t->generation, 1);
	CHECK_INT(t->n_services, 1);
	CHECK_INT(s->flags, 0);
	CHECK_INT(s->ring_size, 251); /* the smallest prime above 100 × 2 */
	CHECK_RING(c, t, s, "198.18.0.1:8080,198.18.0.2:8080");
	CHECK_STREQ(lb_compiler_service_name(c, s->id), "default/web:http");
	CHECK(!vip(t, "198.19.0.10", 8080));
	lb_compiler_free(c);
}

static void test_node_ports_external_ips_and_lb_ingress(void)
{
	struct lb_compiler *c = compiler();

	lbt_set(c, J("{'kind':'Service','metadata':{'name':'lb','namespace':'default'},"
		     "'spec':{'type':'LoadBalancer','clusterIP':'198.19.0.11',"
		     "'externalIPs':['198.18.200.1'],"
		     "'ports':[{'port':443,'nodePort':30443}]},"
		     "'status':{'loadBalancer':{'ingress':[{'ip':'198.18.201.1'},"
		     "{'hostname':'lb.example'},{'ip':'198.18.201.2','ipMode':'Proxy'}]}}}"));
	lbt_set(c, slice("lb-1", "lb", "IPv4", "[{'port':8443}]", "[" EP("198.18.0.5") "]"));
	const struct lb_table *t = lbt_build(c, NULL);
	const struct lb_service *cip = vip(t, "198.19.0.11", 443);
	const struct lb_service *ext = vip(t, "198.18.200.1", 443);
	const struct lb_service *ing = vip(t, "198.18.201.1", 443);
	const struct lb_service *np1 = vip(t, "198.18.100.1", 30443);
	const struct lb_service *np2 = vip(t, "198.18.100.2", 30443);
	CHECK(cip && ext && ing && np1 && np2);
	CHECK_INT(t->n_services, 5); /* no VIP on the IPv6 node address: IPv4-only Service */
	CHECK(!vip(t, "198.18.201.2", 443));
	CHECK_INT(cip->flags, 0);
	CHECK_INT(ext->flags, LB_SVC_EXTERNAL);
	CHECK_INT(ing->flags, LB_SVC_EXTERNAL);
	CHECK_INT(np1->flags, LB_SVC_NODEPORT);
	/* One ring serves them all; one id too. */
	CHECK(ext->ring_off == cip->ring_off && np2->ring_off == cip->ring_off);
	CHECK(ext->id == cip->id && np1->id == cip->id);
	CHECK_RING(c, t, np2, "198.18.0.5:8443");
	CHECK_STREQ(lb_compiler_service_name(c, cip->id), "default/lb:443");

	/* allocateLoadBalancerNodePorts: false and no nodePort: no NodePort VIPs. */
	lbt_set(c, service("lb", "{'type':'LoadBalancer','clusterIP':'198.19.0.11',"
			   "'allocateLoadBalancerNodePorts':false,'ports':[{'port':443}]}"));
	t = lbt_build(c, NULL);
	CHECK(t && !vip(t, "198.18.100.1", 30443) && vip(t, "198.19.0.11", 443));
	/* status.loadBalancer counts for type LoadBalancer only: as a ClusterIP
	 * Service with a stale status it compiles to the same table. */
	lbt_set(c, J("{'kind':'Service','metadata':{'name':'lb','namespace':'default'},"
		     "'spec':{'clusterIP':'198.19.0.11','ports':[{'port':443}]},"
		     "'status':{'loadBalancer':{'ingress':[{'ip':'198.18.201.1'}]}}}"));
	CHECK(lbt_build(c, NULL) == NULL); /* the same VIPs as before: no new generation */
	lb_compiler_free(c);
}

static void test_headless_and_external_name_compile_to_nothing(void)
{
	struct lb_compiler *c = compiler();

	lbt_set(c, service("headless", "{'clusterIP':'None','ports':[{'port':80}],"
			   "'externalIPs':['198.18.200.9']}"));
	lbt_set(c, service("ext", "{'type':'ExternalName','externalName':'example.com',"
			   "'ports':[{'port':80}]}"));
	lbt_set(c, service("pending", "{'ports':[{'port':80}]}")); /* no ClusterIP yet */
	lbt_set(c, slice("headless-1", "headless", "IPv4", "[{'port':80}]",
			   "[" EP("198.18.0.1") "]"));
	const struct lb_table *t = lbt_build(c, NULL);
	CHECK(t != NULL);
	CHECK_INT(t->n_services, 0);
	CHECK_INT(t->n_backends, 0);
	lb_compiler_free(c);
}

static void test_service_ports_map_to_slice_ports_by_name_and_protocol(void)
{
	struct lb_compiler *c = compiler();

	lbt_set(c, service("dns", "{'clusterIP':'198.19.0.53','ports':["
			   "{'name':'dns','port':53,'protocol':'UDP','targetPort':'dns'},"
			   "{'name':'dns-tcp','port':53,'protocol':'TCP','targetPort':'dns-tcp'},"
			   "{'name':'metrics','port':9153,'targetPort':9153}]}"));
	lbt_set(c, slice("dns-1", "dns", "IPv4",
			   "[{'name':'dns','port':5353,'protocol':'UDP'},"
			   "{'name':'dns-tcp','port':5354,'protocol':'TCP'},"
			   "{'name':'dns','port':7777,'protocol':'TCP'},"
			   "{'name':'metrics','port':9100}]",
			   "[" EP("198.18.0.7") "]"));
	const struct lb_table *t = lbt_build(c, NULL);
	struct lb_vip_key udp = key("198.19.0.53", 53, LB_PROTO_UDP);
	const struct lb_service *u = lb_table_find(t, &udp), *tc = vip(t, "198.19.0.53", 53);
	const struct lb_service *m = vip(t, "198.19.0.53", 9153);
	CHECK(u && tc && m);
	CHECK_INT(t->n_services, 3);
	CHECK_RING(c, t, u, "198.18.0.7:5353");
	CHECK_RING(c, t, tc, "198.18.0.7:5354");
	CHECK_RING(c, t, m, "198.18.0.7:9100");
	CHECK(u->id != tc->id && tc->id != m->id && u->id != m->id);
	CHECK_STREQ(lb_compiler_service_name(c, m->id), "default/dns:metrics");
	lb_compiler_free(c);
}

static void test_terminating_endpoints_serve_only_when_none_is_ready(void)
{
	struct lb_compiler *c = compiler();

	lbt_set(c, service("web", WEB_SPEC));
	lbt_set(c, slice("web-1", "web", "IPv4", HTTP_PORTS,
			   "[{'addresses':['198.18.0.1'],'conditions':{'ready':true}},"
			   "{'addresses':['198.18.0.2'],'conditions':{'ready':false,'serving':true,"
			   "'terminating':true}},"
			   "{'addresses':['198.18.0.3'],'conditions':{'ready':false,'serving':false,"
			   "'terminating':true}}]"));
	const struct lb_table *t = lbt_build(c, NULL);
	CHECK_RING(c, t, vip(t, "198.19.0.10", 80), "198.18.0.1:8080");

	lbt_set(c, slice("web-1", "web", "IPv4", HTTP_PORTS,
			   "[{'addresses':['198.18.0.2'],'conditions':{'ready':false,'serving':true,"
			   "'terminating':true}},"
			   "{'addresses':['198.18.0.3'],'conditions':{'ready':false,'serving':false,"
			   "'terminating':true}}]"));
	t = lbt_build(c, NULL);
	CHECK_RING(c, t, vip(t, "198.19.0.10", 80), "198.18.0.2:8080!");

	/* Nothing serving at all: no ring, but the VIP stays (packets get refused). */
	lbt_set(c, slice("web-1", "web", "IPv4", HTTP_PORTS,
			   "[{'addresses':['198.18.0.3'],'conditions':{'ready':false}}]"));
	t = lbt_build(c, NULL);
	const struct lb_service *s = vip(t, "198.19.0.10", 80);
	CHECK(s && s->ring_size == 0 && s->n_backends == 0);
	lb_compiler_free(c);
}

static void test_traffic_policies_local_use_this_nodes_endpoints(void)
{
	struct lb_compiler *c = compiler();
	const char *eps = "[" EP_NODE("198.18.0.1", "node-a") "," EP_NODE("198.18.0.2", "node-b")
			  "," EP_NODE("198.18.0.3", "node-a") "]";

	lbt_set(c, service("etp", "{'type':'NodePort','clusterIP':'198.19.0.20',"
			   "'externalTrafficPolicy':'Local','externalIPs':['198.18.200.20'],"
			   "'ports':[{'name':'http','port':80,'nodePort':30080}]}"));
	lbt_set(c, slice("etp-1", "etp", "IPv4", HTTP_PORTS, eps));
	lbt_set(c, service("itp", "{'clusterIP':'198.19.0.21','internalTrafficPolicy':'Local',"
			   "'ports':[{'name':'http','port':80}]}"));
	lbt_set(c, slice("itp-1", "itp", "IPv4", HTTP_PORTS, eps));
	lbt_set(c, service("none", "{'type':'NodePort','clusterIP':'198.19.0.22',"
			   "'externalTrafficPolicy':'Local',"
			   "'ports':[{'name':'http','port':80,'nodePort':30081}]}"));
	lbt_set(c, slice("none-1", "none", "IPv4", HTTP_PORTS,
			   "[" EP_NODE("198.18.0.9", "node-b") "]"));
	const struct lb_table *t = lbt_build(c, NULL);

	const struct lb_service *cip = vip(t, "198.19.0.20", 80), *np = vip(t, "198.18.100.1", 30080);
	const struct lb_service *ext = vip(t, "198.18.200.20", 80);
	CHECK(cip && np && ext);
	CHECK_INT(cip->flags, 0);
	CHECK_INT(np->flags, LB_SVC_NODEPORT | LB_SVC_LOCAL);
	CHECK_INT(ext->flags, LB_SVC_EXTERNAL | LB_SVC_LOCAL);
	CHECK_RING(c, t, cip, "198.18.0.1:8080,198.18.0.2:8080,198.18.0.3:8080");
	CHECK_RING(c, t, np, "198.18.0.1:8080,198.18.0.3:8080");
	CHECK_RING(c, t, ext, "198.18.0.1:8080,198.18.0.3:8080");

	const struct lb_service *icip = vip(t, "198.19.0.21", 80);
	CHECK(icip && icip->flags == LB_SVC_LOCAL);
	CHECK_RING(c, t, icip, "198.18.0.1:8080,198.18.0.3:8080");

	/* Local with no local endpoint: the node drops, the ClusterIP still works. */
	const struct lb_service *nnp = vip(t, "198.18.100.2", 30081);
	CHECK(nnp && nnp->ring_size == 0);
	CHECK_RING(c, t, vip(t, "198.19.0.22", 80), "198.18.0.9:8080");

	const struct lb_backend *be = lb_table_backends(t);
	unsigned local = 0;
	for (__u32 i = 0; i < t->n_backends; i++)
		local += be[i].id && (be[i].flags & LB_BE_LOCAL);
	CHECK_INT(local, 2);
	lb_compiler_free(c);
}

static void test_session_affinity_timeout(void)
{
	struct lb_compiler *c = compiler();

	lbt_set(c, service("a", "{'clusterIP':'198.19.0.30','sessionAffinity':'ClientIP',"
			   "'ports':[{'port':80}]}"));
	lbt_set(c, service("b", "{'clusterIP':'198.19.0.31','sessionAffinity':'ClientIP',"
			   "'sessionAffinityConfig':{'clientIP':{'timeoutSeconds':600}},"
			   "'ports':[{'port':80}]}"));
	lbt_set(c, service("c", "{'clusterIP':'198.19.0.32','sessionAffinity':'None',"
			   "'ports':[{'port':80}]}"));
	const struct lb_table *t = lbt_build(c, NULL);
	const struct lb_service *a = vip(t, "198.19.0.30", 80), *b = vip(t, "198.19.0.31", 80);
	const struct lb_service *n = vip(t, "198.19.0.32", 80);
	CHECK(a && b && n);
	CHECK_INT(a->flags, LB_SVC_AFFINITY);
	CHECK_INT(a->affinity_timeout, 10800);
	CHECK_INT(b->affinity_timeout, 600);
	CHECK_INT(n->flags, 0);
	CHECK_INT(n->affinity_timeout, 0);
	lb_compiler_free(c);
}

static void test_dual_stack_rings_use_their_own_family(void)
{
	struct lb_compiler *c = compiler();

	lbt_set(c, service("ds", "{'type':'NodePort','clusterIP':'198.19.0.40',"
			   "'clusterIPs':['198.19.0.40','fd00:19::40'],"
			   "'ports':[{'name':'http','port':80,'nodePort':30040}]}"));
	lbt_set(c, slice("ds-v4", "ds", "IPv4", HTTP_PORTS, "[" EP("198.18.0.1") "]"));
	lbt_set(c, slice("ds-v6", "ds", "IPv6", HTTP_PORTS,
			   "[" EP("fd00:18::1") "," EP("fd00:18::2") "]"));
	lbt_set(c, slice("ds-fqdn", "ds", "FQDN", HTTP_PORTS, "[" EP("web.example") "]"));
	const struct lb_table *t = lbt_build(c, NULL);
	const struct lb_service *v4 = vip(t, "198.19.0.40", 80), *v6 = vip(t, "fd00:19::40", 80);
	const struct lb_service *np6 = vip(t, "fd00:18::1", 30040);
	CHECK(v4 && v6 && np6 && vip(t, "198.18.100.1", 30040));
	CHECK_INT(t->n_services, 5);
	CHECK_RING(c, t, v4, "198.18.0.1:8080");
	CHECK_RING(c, t, v6, "fd00:18::1:8080,fd00:18::2:8080");
	CHECK_RING(c, t, np6, "fd00:18::1:8080,fd00:18::2:8080");
	CHECK(v4->id == v6->id);
	lb_compiler_free(c);
}

static void test_an_endpoint_in_two_slices_counts_once(void)
{
	struct lb_compiler *c = compiler();

	lbt_set(c, service("web", WEB_SPEC));
	lbt_set(c, slice("web-1", "web", "IPv4", HTTP_PORTS,
			   "[" EP("198.18.0.1") "," EP("198.18.0.2") "]"));
	lbt_set(c, slice("web-2", "web", "IPv4", HTTP_PORTS,
			   "[" EP("198.18.0.2") ",{'addresses':['198.18.0.1'],"
			   "'conditions':{'ready':false}}]"));
	const struct lb_table *t = lbt_build(c, NULL);
	const struct lb_service *s = vip(t, "198.19.0.10", 80);
	CHECK(s && s->n_backends == 2);
	CHECK_RING(c, t, s, "198.18.0.1:8080,198.18.0.2:8080");
	/* Two Services with the same endpoint share the backend entry. */
	lbt_set(c, service("web2", "{'clusterIP':'198.19.0.12','ports':[{'name':'http','port':80}]}"));
	lbt_set(c, slice("web2-1", "web2", "IPv4", HTTP_PORTS, "[" EP("198.18.0.2") "]"));
	t = lbt_build(c, NULL);
	unsigned live = 0;
	for (__u32 i = 0; i < t->n_backends; i++)
		live += lb_table_backends(t)[i].id != 0;
	CHECK_INT(live, 2);
	lb_compiler_free(c);
}

static void test_deleting_slices_and_services(void)
{
	struct lb_compiler *c = compiler();

	lbt_set(c, service("web", WEB_SPEC));
	lbt_set(c, slice("web-1", "web", "IPv4", HTTP_PORTS, "[" EP("198.18.0.1") "]"));
	lbt_set(c, slice("web-2", "web", "IPv4", HTTP_PORTS, "[" EP("198.18.0.2") "]"));
	const struct lb_table *t = lbt_build(c, NULL);
	CHECK_RING(c, t, vip(t, "198.19.0.10", 80), "198.18.0.1:8080,198.18.0.2:8080");
	__u32 id = vip(t, "198.19.0.10", 80)->id;

	CHECK_INT(lb_compiler_delete_slice(c, "default", "web-1"), 0);
	CHECK_INT(lb_compiler_delete_slice(c, "default", "nope"), 0);
	t = lbt_build(c, NULL);
	CHECK_RING(c, t, vip(t, "198.19.0.10", 80), "198.18.0.2:8080");
	CHECK_INT(lb_table_backends(t)[t->n_backends - 1].id != 0, 1);

	CHECK_INT(lb_compiler_delete_service(c, "default", "web"), 0);
	CHECK_INT(lb_compiler_delete_service(c, "default", "web"), 0);
	t = lbt_build(c, NULL);
	CHECK(t && t->n_services == 0 && t->n_backends == 0);

	/* The id comes back once retired; the slice left over is used again. */
	lbt_set(c, service("web", WEB_SPEC));
	t = lbt_build(c, NULL);
	CHECK(vip(t, "198.19.0.10", 80) && vip(t, "198.19.0.10", 80)->id != id);
	CHECK_RING(c, t, vip(t, "198.19.0.10", 80), "198.18.0.2:8080");
	lb_compiler_delete_service(c, "default", "web");
	lbt_build(c, NULL);
	lb_compiler_retire(c, t->generation + 1);
	lbt_set(c, service("web", WEB_SPEC));
	t = lbt_build(c, NULL);
	CHECK_INT(vip(t, "198.19.0.10", 80)->id, id);
	lb_compiler_free(c);
}

/* ---- incremental builds ---------------------------------------------------------------- */

static void three_services(struct lb_compiler *c)
{
	for (int i = 0; i < 3; i++) {
		_cleanup_free_ char *name = xasprintf("s%d", i), *sl = xasprintf("s%d-1", i);
		_cleanup_free_ char *spec = xasprintf("{'clusterIP':'198.19.1.%d','ports':"
						      "[{'name':'http','port':80}]}", i + 1);
		_cleanup_free_ char *eps = xasprintf("[" EP("198.18.1.%d") "," EP("198.18.2.%d") "]",
						     i + 1, i + 1);
		lbt_set(c, service(name, spec));
		lbt_set(c, slice(sl, name, "IPv4", HTTP_PORTS, eps));
	}
}

static void test_a_change_rewrites_only_its_ring(void)
{
	struct lb_compiler *c = compiler();
	struct lb_delta d;

	three_services(c);
	const struct lb_table *t1 = lbt_build(c, &d);
	CHECK_INT(d.n_rings_written, 3);
	const struct lb_service s0 = *vip(t1, "198.19.1.1", 80), s1 = *vip(t1, "198.19.1.2", 80);
	const struct lb_service s2 = *vip(t1, "198.19.1.3", 80);
	__u32 be0 = lb_table_backends(t1)[0].id;

	/* Nothing changed: no new generation. */
	CHECK(lbt_build(c, &d) == NULL);
	/* The same object again (an informer resync): still nothing. */
	lbt_set(c, slice("s1-1", "s1", "IPv4", HTTP_PORTS, "[" EP("198.18.1.2") "," EP("198.18.2.2") "]"));
	CHECK(lbt_build(c, &d) == NULL);

	lbt_set(c, slice("s1-1", "s1", "IPv4", HTTP_PORTS,
			   "[" EP("198.18.1.2") "," EP("198.18.2.2") "," EP("198.18.3.2") "]"));
	const struct lb_table *t2 = lbt_build(c, &d);
	CHECK(t2 != NULL);
	CHECK_INT(t2->generation, t1->generation + 1);
	CHECK_INT(d.n_rings_written, 1);
	const struct lb_service *n1 = vip(t2, "198.19.1.2", 80);
	CHECK(n1 && d.n_rings_written == 1 && d.rings_written[0] == n1->ring_off);
	CHECK(n1->ring_off != s1.ring_off);
	CHECK_INT(n1->id, s1.id);
	CHECK(!memcmp(vip(t2, "198.19.1.1", 80), &s0, sizeof(s0)));
	CHECK(!memcmp(vip(t2, "198.19.1.3", 80), &s2, sizeof(s2)));
	CHECK_INT(lb_table_backends(t2)[0].id, be0);
	CHECK_RING(c, t2, n1, "198.18.1.2:8080,198.18.2.2:8080,198.18.3.2:8080");
	/* The old generation is intact until retired: its ring still reads the same. */
	CHECK_RING(c, t1, vip(t1, "198.19.1.2", 80), "198.18.1.2:8080,198.18.2.2:8080");

	/* A Service change that leaves its endpoints alone writes no ring. */
	lbt_set(c, service("s2", "{'clusterIP':'198.19.1.3','externalIPs':['198.18.200.3'],"
			   "'ports':[{'name':'http','port':80}]}"));
	const struct lb_table *t3 = lbt_build(c, &d);
	CHECK(t3 && d.n_rings_written == 0);
	CHECK(vip(t3, "198.18.200.3", 80) && vip(t3, "198.18.200.3", 80)->ring_off == s2.ring_off);
	lb_compiler_free(c);
}

static void test_retire_frees_ranges_for_reuse(void)
{
	struct lb_compiler *c = compiler();
	struct lb_delta d;

	three_services(c);
	const struct lb_table *t = lbt_build(c, &d);
	__u32 first = vip(t, "198.19.1.1", 80)->ring_off, size0;
	lb_compiler_arena(c, &size0);

	/* Without retiring, every change takes a fresh range. */
	lbt_set(c, slice("s0-1", "s0", "IPv4", HTTP_PORTS, "[" EP("198.18.1.1") "]"));
	t = lbt_build(c, &d);
	__u32 second = vip(t, "198.19.1.1", 80)->ring_off, size1;
	lb_compiler_arena(c, &size1);
	CHECK(second != first && size1 > size0);

	/* Retiring the generation before this one frees nothing it reads... */
	lb_compiler_retire(c, t->generation - 1);
	lbt_set(c, slice("s0-1", "s0", "IPv4", HTTP_PORTS, "[" EP("198.18.1.9") "]"));
	t = lbt_build(c, &d);
	__u32 third = vip(t, "198.19.1.1", 80)->ring_off;
	CHECK(third != first && third != second);

	/* ...retiring up to now frees the first two ranges, and they are reused. */
	lb_compiler_retire(c, t->generation);
	lbt_set(c, slice("s0-1", "s0", "IPv4", HTTP_PORTS, "[" EP("198.18.1.7") "]"));
	t = lbt_build(c, &d);
	__u32 fourth = vip(t, "198.19.1.1", 80)->ring_off, size2;
	lb_compiler_arena(c, &size2);
	CHECK(fourth == first || fourth == second);
	CHECK_INT(size2, size1 + 251);
	CHECK_RING(c, t, vip(t, "198.19.1.1", 80), "198.18.1.7:8080");
	lb_compiler_free(c);
}

static void test_backend_ids_are_never_reused_but_indexes_are(void)
{
	struct lb_compiler *c = compiler();

	lbt_set(c, service("web", WEB_SPEC));
	lbt_set(c, slice("web-1", "web", "IPv4", HTTP_PORTS, "[" EP("198.18.0.1") "]"));
	const struct lb_table *t = lbt_build(c, NULL);
	__u32 id1 = lb_table_backends(t)[0].id;
	CHECK(id1 != 0);
	lbt_set(c, slice("web-1", "web", "IPv4", HTTP_PORTS, "[" EP("198.18.0.2") "]"));
	t = lbt_build(c, NULL);
	/* Index 0 is not reused before retire: an executor may still read it. */
	CHECK_INT(t->n_backends, 2);
	CHECK_INT(lb_table_backends(t)[0].id, 0);
	__u32 id2 = lb_table_backends(t)[1].id;
	lb_compiler_retire(c, t->generation);
	lbt_set(c, slice("web-1", "web", "IPv4", HTTP_PORTS, "[" EP("198.18.0.1") "]"));
	t = lbt_build(c, NULL);
	/* The same address as the first backend, back at index 0, with a new id. */
	const struct lb_backend *b = lb_table_backends(t);
	CHECK_INT(t->n_backends, 1);
	CHECK(b[0].id != 0 && b[0].id != id1 && b[0].id != id2);
	lb_compiler_free(c);
}

static void test_config_flags_and_vip_conflicts(void)
{
	struct lb_compiler_config cfg = {.fullnat = true, .dsr = true};
	struct lb_compiler *c = lb_compiler_new(&cfg), *c2 = lb_compiler_new(&cfg);
	const char *a = "{'clusterIP':'198.19.0.50','externalIPs':['198.18.200.50'],"
			"'ports':[{'port':80}]}";
	const char *b = "{'clusterIP':'198.19.0.51','externalIPs':['198.18.200.50'],"
			"'ports':[{'port':80}]}";

	/* Two Services claim one external VIP: the first by name keeps it,
	 * whichever came first. */
	lbt_set(c, service("a", a));
	lbt_set(c, service("b", b));
	lbt_set(c2, service("b", b));
	lbt_build(c2, NULL);
	lbt_set(c2, service("a", a));
	const struct lb_table *t = lbt_build(c, NULL), *t2 = lbt_build(c2, NULL);
	const struct lb_service *x = vip(t, "198.18.200.50", 80), *x2 = vip(t2, "198.18.200.50", 80);
	CHECK(x && x2);
	CHECK_INT(t->n_services, 3);
	CHECK_INT(x->flags, LB_SVC_EXTERNAL | LB_SVC_FULLNAT | LB_SVC_DSR);
	CHECK_STREQ(lb_compiler_service_name(c, x->id), "default/a:80");
	CHECK_STREQ(lb_compiler_service_name(c2, x2->id), "default/a:80");
	CHECK(lb_compiler_service_name(c, 999) == NULL);
	lb_compiler_free(c);
	lb_compiler_free(c2);
}

static bool in_delta(const struct lb_delta *d, __u32 off)
{
	for (__u32 i = 0; i < d->n_rings_written; i++)
		if (d->rings_written[i] == off)
			return true;
	return false;
}

#define TWO_PORTS "[{'name':'http','port':8080,'protocol':'TCP'}," \
		  "{'name':'alt','port':8081,'protocol':'TCP'}]"

static void test_a_contested_vip_follows_its_owner(void)
{
	struct lb_compiler *c = compiler();
	struct lb_delta d;

	/* a and b both claim an external VIP; a sorts first and keeps it.
	 * b's VIP there reads a ring of its own (externalTrafficPolicy: Local)
	 * that no table points at yet. */
	lbt_set(c, service("a", "{'clusterIP':'198.19.0.60','externalIPs':['198.18.200.7'],"
			   "'ports':[{'name':'http','port':80}]}"));
	lbt_set(c, slice("a-1", "a", "IPv4", HTTP_PORTS, "[" EP("198.18.7.1") "]"));
	lbt_set(c, service("b", "{'clusterIP':'198.19.0.61','externalIPs':['198.18.200.7'],"
			   "'externalTrafficPolicy':'Local','ports':[{'name':'http','port':80}]}"));
	lbt_set(c, slice("b-1", "b", "IPv4", HTTP_PORTS, "[" EP_NODE("198.18.7.2", "node-a") "]"));
	const struct lb_table *t = lbt_build(c, &d);
	const struct lb_service *x = vip(t, "198.18.200.7", 80);
	CHECK(x && x->flags == LB_SVC_EXTERNAL);
	CHECK_STREQ(lb_compiler_service_name(c, x ? x->id : 0), "default/a:http");
	CHECK_RING(c, t, x, "198.18.7.1:8080");

	/* a goes: b has the VIP, and an executor that copies the delta's rings
	 * must be told of b's ring now, though no build wrote it since. */
	CHECK_INT(lb_compiler_delete_service(c, "default", "a"), 0);
	t = lbt_build(c, &d);
	x = t ? vip(t, "198.18.200.7", 80) : NULL;
	CHECK(x && x->flags == (LB_SVC_EXTERNAL | LB_SVC_LOCAL));
	CHECK_STREQ(lb_compiler_service_name(c, x ? x->id : 0), "default/b:http");
	CHECK_RING(c, t, x, "198.18.7.2:8080");
	CHECK(x && in_delta(&d, x->ring_off));

	/* Two ports of one Service on one number: the earlier one has it, also
	 * when only their order changes. */
	lbt_set(c, service("p", "{'clusterIP':'198.19.0.62','ports':[{'name':'http','port':80},"
			   "{'name':'alt','port':80}]}"));
	lbt_set(c, slice("p-1", "p", "IPv4", TWO_PORTS, "[" EP("198.18.7.3") "]"));
	t = lbt_build(c, &d);
	x = t ? vip(t, "198.19.0.62", 80) : NULL;
	CHECK_STREQ(lb_compiler_service_name(c, x ? x->id : 0), "default/p:http");
	CHECK_RING(c, t, x, "198.18.7.3:8080");
	lbt_set(c, service("p", "{'clusterIP':'198.19.0.62','ports':[{'name':'alt','port':80},"
			   "{'name':'http','port':80}]}"));
	t = lbt_build(c, &d);
	CHECK(t != NULL);
	if (!t) {
		lb_compiler_free(c);
		return;
	}
	x = vip(t, "198.19.0.62", 80);
	CHECK_STREQ(lb_compiler_service_name(c, x ? x->id : 0), "default/p:alt");
	CHECK_RING(c, t, x, "198.18.7.3:8081");
	CHECK(x && in_delta(&d, x->ring_off));
	lb_compiler_free(c);
}

typedef int set_fn(struct lb_compiler *, const json_t *, char **);

/* set refuses the object with a message. */
static void refused(struct lb_compiler *c, set_fn *set, const char *json)
{
	_cleanup_(json_decrefp) json_t *o = J("%s", json);
	char *err = NULL;

	CHECK_INT(set(c, o, &err), -EINVAL);
	CHECK(err && *err);
	if (err)
		printf("#   %s\n", err);
	free(err);
}

#define expect_einval_svc(c, json) refused(c, lb_compiler_set_service, json)
#define expect_einval_slice(c, json) refused(c, lb_compiler_set_slice, json)

#define META "'metadata':{'name':'web','namespace':'default'}"
#define SMETA "'metadata':{'name':'web-1','namespace':'default'," \
	      "'labels':{'kubernetes.io/service-name':'web'}}"

static void test_bad_objects_are_refused_and_change_nothing(void)
{
	struct lb_compiler *c = compiler();
	char *err = NULL;

	lbt_set(c, service("web", WEB_SPEC));
	lbt_set(c, slice("web-1", "web", "IPv4", HTTP_PORTS, "[" EP("198.18.0.1") "]"));
	const struct lb_table *t = lbt_build(c, NULL);
	CHECK(t != NULL);

	CHECK_INT(lb_compiler_set_service(c, json_null(), &err), -EINVAL);
	CHECK(err != NULL);
	free(err);
	expect_einval_svc(c, "[1,2]");
	expect_einval_svc(c, "{'kind':'Service','spec':{}}");
	expect_einval_svc(c, "{'kind':'Pod'," META ",'spec':{}}");
	expect_einval_svc(c, "{" META ",'spec':{'clusterIP':'198.19.0.300','ports':[{'port':80}]}}");
	expect_einval_svc(c, "{" META ",'spec':{'clusterIP':'198.19.0.10','ports':[{'port':0}]}}");
	expect_einval_svc(c, "{" META ",'spec':{'clusterIP':'198.19.0.10','ports':[{'port':'80'}]}}");
	expect_einval_svc(c, "{" META ",'spec':{'clusterIP':'198.19.0.10','ports':"
			  "[{'port':80,'protocol':'ICMP'}]}}");
	expect_einval_svc(c, "{" META ",'spec':{'clusterIP':'198.19.0.10','ports':"
			  "[{'port':80},{'port':81}]}}");
	expect_einval_svc(c, "{" META ",'spec':{'clusterIP':'198.19.0.10','ports':{}}}");
	expect_einval_svc(c, "{" META ",'spec':{'type':'Weird','clusterIP':'198.19.0.10'}}");
	expect_einval_svc(c, "{" META ",'spec':{'clusterIP':'198.19.0.10','externalIPs':['x']}}");
	expect_einval_svc(c, "{" META ",'spec':{'clusterIP':'198.19.0.10','sessionAffinity':"
			  "'ClientIP','sessionAffinityConfig':{'clientIP':{'timeoutSeconds':0}}}}");
	expect_einval_slice(c, "{" SMETA ",'addressType':'IPv5','endpoints':[]}");
	expect_einval_slice(c, "{" SMETA ",'endpoints':[]}");
	expect_einval_slice(c, "{" SMETA ",'addressType':'IPv4','endpoints':[{'addresses':[]}]}");
	expect_einval_slice(c, "{" SMETA ",'addressType':'IPv4','endpoints':"
			    "[{'addresses':['198.18.0.1'],'conditions':{'ready':'yes'}}]}");
	expect_einval_slice(c, "{" SMETA ",'addressType':'IPv4','endpoints':"
			    "[{'addresses':['not-an-ip']}]}");
	expect_einval_slice(c, "{" SMETA ",'addressType':'IPv4','ports':[{'port':70000}],"
			    "'endpoints':[]}");

	/* Nothing was applied: no new generation, the old table still holds. */
	CHECK(lbt_build(c, NULL) == NULL);
	CHECK_RING(c, t, vip(t, "198.19.0.10", 80), "198.18.0.1:8080");
	lb_compiler_free(c);
}

int main(void)
{
	RUN(test_cluster_ip_balances_over_ready_endpoints);
	RUN(test_node_ports_external_ips_and_lb_ingress);
	RUN(test_headless_and_external_name_compile_to_nothing);
	RUN(test_service_ports_map_to_slice_ports_by_name_and_protocol);
	RUN(test_terminating_endpoints_serve_only_when_none_is_ready);
	RUN(test_traffic_policies_local_use_this_nodes_endpoints);
	RUN(test_session_affinity_timeout);
	RUN(test_dual_stack_rings_use_their_own_family);
	RUN(test_an_endpoint_in_two_slices_counts_once);
	RUN(test_deleting_slices_and_services);
	RUN(test_a_change_rewrites_only_its_ring);
	RUN(test_retire_frees_ranges_for_reuse);
	RUN(test_backend_ids_are_never_reused_but_indexes_are);
	RUN(test_config_flags_and_vip_conflicts);
	RUN(test_a_contested_vip_follows_its_owner);
	RUN(test_bad_objects_are_refused_and_change_nothing);
	return tap_done();
}
