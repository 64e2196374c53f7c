/* bench/lb: how long the table compiler takes for a large cluster.
 *
 *   lb-compile-bench [services [endpoints-per-service]]   (default 10000 10)
 *
 * Synthetic Services (one TCP port, a ClusterIP each) with one
 * EndpointSlice of ready endpoints each, all in 198.18.0.0/15: endpoints
 * count up from 198.18.0.0, ClusterIPs from 198.19.200.0. Times a full
 * compile (every object set into a fresh compiler, then one build; median
 * of 5) and a one-Service change in that table (one endpoint of one
 * Service replaced, then a build; median of 301), and prints one JSON line. */
#include <stdio.h>

#include "base/base.h"
#include "common/samples.h"
#include "dataplane/lbtable/lbtable.h"

struct corpus {
	json_t **svcs, **slices;
	unsigned n, eps;
};

static void ip4(char *out, size_t len, uint32_t base, uint32_t i)
{
	uint32_t a = base + i;
	snprintf(out, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

#define NET_ENDPOINTS 0xc6120000u /* 198.18.0.0 */
#define NET_CLUSTER 0xc613c800u   /* 198.19.200.0 */

/* Service i's slice, with endpoint `swap` (if below eps) moved to a spare address. */
static json_t *make_slice(unsigned i, unsigned eps, unsigned swap, unsigned spare)
{
	char name[32], ip[20];
	json_t *list = json_array();

	snprintf(name, sizeof(name), "svc-%u", i);
	for (unsigned k = 0; k < eps; k++) {
		uint32_t j = k == swap ? spare : i * eps + k;
		ip4(ip, sizeof(ip), NET_ENDPOINTS, j);
		json_array_append_new(list, json_pack("{s:[s], s:{s:b}, s:s}", "addresses", ip,
						      "conditions", "ready", 1, "nodeName", "node-1"));
	}
	char slice[40];
	snprintf(slice, sizeof(slice), "%s-abcde", name);
	return json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:[{s:s, s:i, s:s}], s:o}",
			 "apiVersion", "discovery.k8s.io/v1", "kind", "EndpointSlice",
			 "metadata", "name", slice, "namespace", "bench", "labels",
			 "kubernetes.io/service-name", name, "addressType", "IPv4",
			 "ports", "name", "http", "port", 8080, "protocol", "TCP",
			 "endpoints", list);
}

static struct corpus make_corpus(unsigned n, unsigned eps)
{
	struct corpus c = {xnew(json_t *, n), xnew(json_t *, n), n, eps};

	for (unsigned i = 0; i < n; i++) {
		char name[32], ip[20];
		snprintf(name, sizeof(name), "svc-%u", i);
		ip4(ip, sizeof(ip), NET_CLUSTER, i);
		c.svcs[i] = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:s, s:[s], s:[{s:s, s:i, "
				      "s:s, s:i}]}}",
				      "apiVersion", "v1", "kind", "Service", "metadata", "name",
				      name, "namespace", "bench", "spec", "type", "ClusterIP",
				      "clusterIP", ip, "clusterIPs", ip, "ports", "name", "http",
				      "port", 80, "protocol", "TCP", "targetPort", 8080);
		c.slices[i] = make_slice(i, eps, UINT32_MAX, 0);
	}
	return c;
}

static void must(int r, char *err)
{
	if (r < 0) {
		fprintf(stderr, "lb-compile-bench: %s\n", err ? err : "error");
		exit(1);
	}
}

/* A fresh compiler with every object set and built; *ret_ms the time it took. */
static struct lb_compiler *full_compile(const struct corpus *cp, double *ret_ms,
					double *ret_build_ms)
{
	char *err = NULL;
	uint64_t t0 = now_mono_ns();
	struct lb_compiler *c = lb_compiler_new(&(struct lb_compiler_config){.node_name = "node-1"});

	for (unsigned i = 0; i < cp->n; i++) {
		must(lb_compiler_set_service(c, cp->svcs[i], &err), err);
		must(lb_compiler_set_slice(c, cp->slices[i], &err), err);
	}
	uint64_t t1 = now_mono_ns();
	const struct lb_table *t = lb_compiler_build(c, NULL);
	uint64_t t2 = now_mono_ns();
	if (!t || t->n_services != cp->n) {
		fprintf(stderr, "lb-compile-bench: the table has the wrong services\n");
		exit(1);
	}
	*ret_ms = (double)(t2 - t0) / 1e6;
	*ret_build_ms = (double)(t2 - t1) / 1e6;
	return c;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)atoi(argv[1]) : 10000;
	unsigned eps = argc > 2 ? (unsigned)atoi(argv[2]) : 10;
	struct samples full = {0}, build_only = {0}, one = {0};
	struct lb_compiler *c = NULL;
	char *err = NULL;

	if (!n || !eps || (uint64_t)n * eps + 301 > NET_CLUSTER - NET_ENDPOINTS || n > 14336) {
		fprintf(stderr, "usage: lb-compile-bench [services (1..14336) [endpoints]]\n");
		return 2;
	}
	struct corpus cp = make_corpus(n, eps);
	for (int r = 0; r < 5; r++) {
		double ms, bms;
		lb_compiler_free(c);
		c = full_compile(&cp, &ms, &bms);
		samples_add(&full, ms);
		samples_add(&build_only, bms);
	}

	/* One Service at a time gets one endpoint replaced by a spare address. */
	const struct lb_table *t = NULL;
	for (unsigned r = 0; r < 301; r++) {
		unsigned i = (r * 7919) % n;
		json_t *sl = make_slice(i, eps, r % eps, n * eps + r);
		struct lb_delta d;
		uint64_t t0 = now_mono_ns();
		must(lb_compiler_set_slice(c, sl, &err), err);
		t = lb_compiler_build(c, &d);
		uint64_t t1 = now_mono_ns();
		if (!t || d.n_rings_written != 1) {
			fprintf(stderr, "lb-compile-bench: a change wrote %u rings\n",
				t ? d.n_rings_written : 0);
			return 1;
		}
		samples_add(&one, (double)(t1 - t0) / 1e6);
		lb_compiler_retire(c, t->generation);
		json_decref(sl);
	}
	__u32 arena;
	lb_compiler_arena(c, &arena);
	printf("{\"compile_ms_10k\":%.1f,\"compile_one_ms\":%.3f,\"services\":%u,"
	       "\"endpoints_per_service\":%u,\"build_only_ms\":%.1f,\"compile_one_p99_ms\":%.3f,"
	       "\"table_bytes\":%u,\"arena_slots\":%u}\n",
	       samples_pct(&full, 0.5), samples_pct(&one, 0.5), n, eps,
	       samples_pct(&build_only, 0.5), samples_pct(&one, 0.99), t->size, arena);

	lb_compiler_free(c);
	for (unsigned i = 0; i < n; i++) {
		json_decref(cp.svcs[i]);
		json_decref(cp.slices[i]);
	}
	free(cp.svcs);
	free(cp.slices);
	samples_free(&full);
	samples_free(&build_only);
	samples_free(&one);
	return 0;
}
