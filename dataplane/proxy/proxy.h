/* The Service proxy (kube-proxy's role): Services and EndpointSlices in,
 * from a file or from the API, compiled into the load-balancing table
 * (dataplane/lbtable) and programmed into the executor the node has.
 *
 *   struct proxy *p;
 *   r = proxy_new(loop, metrics, &log, &cfg, &p);   // reads, compiles, programs
 *   ...                                              // the loop keeps it in step
 *   p = proxy_free(p);                               // traffic keeps flowing */
#pragma once

#include <stdbool.h>

#include "dataplane/lbtable/lbtable.h"
#include "log/log.h"
#include "loop/loop.h"
#include "metrics/metrics.h"

enum proxy_dataplane {
	PROXY_DP_AUTO,
	PROXY_DP_DPDK,
	PROXY_DP_XDP,
	PROXY_DP_KMOD,
	PROXY_DP_NONE,
};

struct proxy_config {
	const char *from_file;  /* a Kubernetes List (JSON or YAML), re-read when it changes */
	const char *kubeconfig; /* or watch the API */
	const char *data_dir;   /* the executor's state: <data_dir>/bpf */
	enum proxy_dataplane dataplane;
	const char *const *interfaces; /* packet executors attach here only (NULL-terminated) */
	const char *const *cgroups;    /* socket LB attach points (NULL-terminated) */
	const char *node_name;
	const struct lb_addr *node_ips; /* NodePort addresses */
	unsigned n_node_ips;
	bool fullnat, dsr;
	struct lb_addr snat_addr;
	const char *next_hop_if;  /* XDP: a fixed next hop (NULL: the FIB's, per packet) */
	__u8 next_hop_mac[6];
	/* BPF map capacities (0: bpf/lb_maps.h's defaults): service ports,
	 * backends, ring slots (the sum of every service port's Maglev size),
	 * conntrack entries. */
	__u32 max_services, max_backends, ring_slots, max_flows;
};

struct proxy;

/* Parse "auto", "dpdk", "xdp", "kmod" or "none": 0 or -EINVAL. */
int proxy_dataplane_parse(const char *s, enum proxy_dataplane *ret);
const char *proxy_dataplane_name(enum proxy_dataplane d);

/* Start: the first read of the source, the executor chosen and programmed.
 * The metrics go into m (which must outlive the proxy). */
int proxy_new(struct loop *l, struct metrics_registry *m, const struct logger *log,
	      const struct proxy_config *cfg, struct proxy **ret);
/* True once the executor holds a table built from a complete read of the source. */
bool proxy_ready(const struct proxy *p);
/* The executor in use, for logs and tests: "xdp", "none". */
const char *proxy_executor_name(const struct proxy *p);
struct proxy *proxy_free(struct proxy *p);

/* Remove what a proxy left in the kernel under data_dir (kelp proxy --cleanup). */
int proxy_cleanup(const char *data_dir);
