/* kelp proxy: the Service proxy alone (kube-proxy's role). */
#include <getopt.h>
#include <net/if.h>
#include <netinet/ether.h>
#include <stdio.h>

#include "base/base.h"
#include "cmd.h"
#include "daemon.h"
#include "dataplane/proxy/proxy.h"

static const char help[] =
	"Usage: kelp proxy [options]\n"
	"Keeps this node's Service load balancing in step with Services and EndpointSlices.\n\n"
	"  --kubeconfig FILE            watch the API server this kubeconfig names\n"
	"  --from-file FILE             or read a List of Services and EndpointSlices (JSON or\n"
	"                               YAML) from FILE, again whenever it changes\n"
	"  --data-dir DIR               executor state (DIR/bpf); default /var/lib/kelp\n"
	"  --dataplane MODE             auto (default), dpdk, xdp, kmod or none\n"
	"  --dataplane-interfaces LIST  packet executors attach to these interfaces only\n"
	"  --socket-lb-cgroup PATH      socket-level balancing for processes in this cgroup v2\n"
	"                               directory (repeatable)\n"
	"  --node-name NAME             endpoints on NAME are local (default: the hostname)\n"
	"  --node-ip LIST               this node's addresses, for NodePorts\n"
	"  --lb-mode MODE               packet executors: dnat (default), fullnat or dsr\n"
	"  --snat-address ADDR          this node's address: the source full-NAT uses, and\n"
	"                               DSR's outer source (needed by both)\n"
	"  --lb-next-hop IF,MAC         XDP: send balanced packets out of IF to MAC (the router\n"
	"                               or gateway towards the backends) instead of asking the\n"
	"                               FIB for each packet\n"
	"  --lb-map-sizes LIST          BPF map capacities, e.g. services=65536,backends=262144,\n"
	"                               ring-slots=4194304,flows=262144 (these are the defaults;\n"
	"                               ring-slots must hold every service port's Maglev ring)\n"
	"  --listen ADDR:PORT           /healthz, /readyz, /metrics (default 127.0.0.1:10249)\n"
	"  --cleanup                    remove what a proxy left in the kernel, then exit\n"
	"  --log-level LEVEL            error, warn, info (default), debug or trace\n"
	"  --log-format FORMAT          text (default) or json\n";

struct proxy_opts {
	struct proxy_config cfg;
	const char *listen;
	bool cleanup;
	char **lists[3];     /* interfaces, cgroups, node ips: owned vectors */
	unsigned nlists[3];
	struct lb_addr *ips;
	char hostname[256];
	char next_hop_if[IF_NAMESIZE];
};

/* Add the comma-separated items of s to vector i. */
static void list_add(struct proxy_opts *o, int i, const char *s)
{
	_cleanup_free_ char *copy = xstrdup(s);
	char *save = NULL;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		o->lists[i] = xrealloc(o->lists[i], (o->nlists[i] + 2) * sizeof(char *));
		o->lists[i][o->nlists[i]++] = xstrdup(t);
		o->lists[i][o->nlists[i]] = NULL;
	}
}

static void opts_free(struct proxy_opts *o)
{
	for (int i = 0; i < 3; i++) {
		for (unsigned k = 0; k < o->nlists[i]; k++)
			free(o->lists[i][k]);
		free(o->lists[i]);
	}
	free(o->ips);
}

static int map_sizes_parse(struct proxy_opts *o, const char *v)
{
	_cleanup_free_ char *copy = xstrdup(v);
	char *save = NULL;

	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '='), *end;
		if (!eq)
			return -EINVAL;
		*eq = 0;
		errno = 0;
		unsigned long n = strtoul(eq + 1, &end, 10);
		if (errno || end == eq + 1 || *end || n == 0 || n >= 1ul << 31)
			return -EINVAL;
		if (streq(t, "services"))
			o->cfg.max_services = (__u32)n;
		else if (streq(t, "backends"))
			o->cfg.max_backends = (__u32)n;
		else if (streq(t, "ring-slots"))
			o->cfg.ring_slots = (__u32)n;
		else if (streq(t, "flows"))
			o->cfg.max_flows = (__u32)n;
		else
			return -EINVAL;
	}
	return 0;
}

static int option(void *ctx, const char *name, const char *v)
{
	struct proxy_opts *o = ctx;

	if (streq(name, "kubeconfig"))
		o->cfg.kubeconfig = v;
	else if (streq(name, "from-file"))
		o->cfg.from_file = v;
	else if (streq(name, "data-dir"))
		o->cfg.data_dir = v;
	else if (streq(name, "dataplane")) {
		if (proxy_dataplane_parse(v, &o->cfg.dataplane) < 0) {
			fprintf(stderr, "kelp proxy: --dataplane: want auto, dpdk, xdp, kmod or none\n");
			return -EINVAL;
		}
	} else if (streq(name, "dataplane-interfaces"))
		list_add(o, 0, v);
	else if (streq(name, "socket-lb-cgroup"))
		list_add(o, 1, v);
	else if (streq(name, "node-ip"))
		list_add(o, 2, v);
	else if (streq(name, "node-name"))
		o->cfg.node_name = v;
	else if (streq(name, "lb-mode")) {
		if (!streq(v, "dnat") && !streq(v, "fullnat") && !streq(v, "dsr")) {
			fprintf(stderr, "kelp proxy: --lb-mode: want dnat, fullnat or dsr\n");
			return -EINVAL;
		}
		o->cfg.fullnat = streq(v, "fullnat");
		o->cfg.dsr = streq(v, "dsr");
	} else if (streq(name, "snat-address")) {
		if (lb_addr_parse(v, &o->cfg.snat_addr) < 0) {
			fprintf(stderr, "kelp proxy: --snat-address: \"%s\" is not an IP address\n", v);
			return -EINVAL;
		}
	} else if (streq(name, "lb-next-hop")) {
		const char *comma = strchr(v, ',');
		struct ether_addr mac;
		size_t n = comma ? (size_t)(comma - v) : 0;
		if (n == 0 || n >= sizeof(o->next_hop_if) || !ether_aton_r(comma + 1, &mac)) {
			fprintf(stderr, "kelp proxy: --lb-next-hop: want IF,MAC (e.g. eth1,02:00:00:00:00:01), "
					"not \"%s\"\n", v);
			return -EINVAL;
		}
		memcpy(o->next_hop_if, v, n);
		o->next_hop_if[n] = 0;
		memcpy(o->cfg.next_hop_mac, mac.ether_addr_octet, 6);
		o->cfg.next_hop_if = o->next_hop_if;
	} else if (streq(name, "lb-map-sizes")) {
		if (map_sizes_parse(o, v) < 0) {
			fprintf(stderr, "kelp proxy: --lb-map-sizes: want a list of services=N, "
					"backends=N, ring-slots=N, flows=N with 0 < N < 2^31, not \"%s\"\n", v);
			return -EINVAL;
		}
	} else if (streq(name, "listen"))
		o->listen = v;
	else if (streq(name, "cleanup"))
		o->cleanup = true;
	return 0;
}

static int parse(int argc, char **argv, struct daemon *d, struct proxy_opts *o)
{
	static const struct option longopts[] = {
		{"kubeconfig", required_argument, NULL, 0},
		{"from-file", required_argument, NULL, 0},
		{"data-dir", required_argument, NULL, 0},
		{"dataplane", required_argument, NULL, 0},
		{"dataplane-interfaces", required_argument, NULL, 0},
		{"socket-lb-cgroup", required_argument, NULL, 0},
		{"node-name", required_argument, NULL, 0},
		{"node-ip", required_argument, NULL, 0},
		{"lb-mode", required_argument, NULL, 0},
		{"snat-address", required_argument, NULL, 0},
		{"lb-next-hop", required_argument, NULL, 0},
		{"lb-map-sizes", required_argument, NULL, 0},
		{"listen", required_argument, NULL, 0},
		{"cleanup", no_argument, NULL, 0},
		{"log-level", required_argument, NULL, 0},
		{"log-format", required_argument, NULL, 0},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int r = daemon_parse(d, argc, argv, "proxy", longopts, option, o, help);

	if (r != 0)
		return r;
	if (o->cleanup)
		return 0;
	if ((o->cfg.fullnat || o->cfg.dsr) && lb_addr_is_zero(&o->cfg.snat_addr)) {
		fprintf(stderr, "kelp proxy: --lb-mode %s needs --snat-address (this node's address)\n",
			o->cfg.dsr ? "dsr" : "fullnat");
		return -EINVAL;
	}
	if (!o->cfg.kubeconfig == !o->cfg.from_file) {
		fprintf(stderr, "kelp proxy: give exactly one of --kubeconfig and --from-file\n");
		return -EINVAL;
	}
	o->ips = xnew(struct lb_addr, o->nlists[2] + 1);
	for (unsigned i = 0; i < o->nlists[2]; i++)
		if (lb_addr_parse(o->lists[2][i], &o->ips[i]) < 0) {
			fprintf(stderr, "kelp proxy: --node-ip: \"%s\" is not an IP address\n",
				o->lists[2][i]);
			return -EINVAL;
		}
	o->cfg.node_ips = o->ips;
	o->cfg.n_node_ips = o->nlists[2];
	o->cfg.interfaces = (const char *const *)o->lists[0];
	o->cfg.cgroups = (const char *const *)o->lists[1];
	if (!o->cfg.node_name) {
		gethostname(o->hostname, sizeof(o->hostname) - 1);
		o->cfg.node_name = o->hostname;
	}
	return 0;
}

struct ready_watch {
	struct loop_timer t;
	struct daemon *d;
	struct proxy *p;
};

/* /readyz turns 200 once the executor holds the first complete table. */
static void check_ready(struct loop_timer *t)
{
	struct ready_watch *w = container_of(t, struct ready_watch, t);
	if (proxy_ready(w->p)) {
		w->d->ready = true;
		return;
	}
	loop_timer_arm(w->d->loop, t, 10 * 1000000ull);
}

int cmd_proxy(int argc, char **argv)
{
	struct daemon d = {.log = log_default("proxy")};
	struct proxy_opts o = {.cfg.data_dir = "/var/lib/kelp", .listen = "127.0.0.1:10249"};
	struct proxy *p = NULL;
	struct ready_watch w = {.t.fn = check_ready, .d = &d};
	int r = parse(argc, argv, &d, &o);

	if (r) {
		opts_free(&o);
		return r > 0 ? 0 : 2;
	}
	if (o.cleanup) {
		r = proxy_cleanup(o.cfg.data_dir);
		if (r < 0)
			fprintf(stderr, "kelp proxy: cleanup of %s/bpf: %s\n", o.cfg.data_dir, strerror(-r));
		opts_free(&o);
		return r < 0 ? 1 : 0;
	}
	r = daemon_init(&d, "proxy");
	if (r >= 0)
		r = daemon_listen(&d, o.listen, NULL);
	if (r >= 0)
		r = proxy_new(d.loop, d.metrics, &d.log, &o.cfg, &p);
	if (r >= 0) {
		w.p = p;
		check_ready(&w.t);
		r = daemon_run(&d);
	}
	if (loop_timer_armed(&w.t))
		loop_timer_disarm(d.loop, &w.t);
	d.server = http_server_free(d.server);
	proxy_free(p);
	daemon_fini(&d);
	opts_free(&o);
	return r < 0 ? 1 : 0;
}
