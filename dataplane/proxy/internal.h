/* Internal to the proxy: the core (proxy.c), the executors behind one
 * interface (exec.c), and the sources that feed the core (file.c, api.c). */
#pragma once

#include <jansson.h>

#include "bpf/lb_maps.h"
#include "dataplane/proxy/proxy.h"

#ifdef KELP_HAVE_EBPF
#include "dataplane/ebpf/ebpf.h"
#endif

/* ---- executors ---- */
struct proxy_exec {
	enum proxy_dataplane kind; /* PROXY_DP_XDP or PROXY_DP_NONE once open */
	char *why;                 /* how auto chose, for the log */
#ifdef KELP_HAVE_EBPF
	struct lb_ebpf *ebpf;
#endif
};

/* Open the executor cfg asks for (auto: the first that works, in the order
 * dpdk, xdp, kmod, none). */
int proxy_exec_open(struct proxy_exec *x, const struct proxy_config *cfg,
		    const struct logger *log, char **ret_err);
int proxy_exec_apply(struct proxy_exec *x, const struct lb_table *t, const __u32 *arena,
		     __u32 arena_size, const struct lb_delta *delta);
/* Counters of one service port: zeros for an executor that has none. */
void proxy_exec_counters(struct proxy_exec *x, __u32 service_id, struct lb_counters *ret);
/* Zero them (the id now counts for another service port). */
void proxy_exec_counters_reset(struct proxy_exec *x, __u32 service_id);
void proxy_exec_close(struct proxy_exec *x);
const char *proxy_exec_name(const struct proxy_exec *x);

/* The table an earlier proxy left in the executor: backends by index (id 0:
 * empty), services, and the ring slots up to their last ring. */
struct proxy_snapshot {
	struct lb_backend *be;
	__u32 n_be;
	struct lb_service *svcs;
	__u32 n_svcs;
	__u32 *rings;
	__u32 n_rings;
};
/* Read it back; all empty for an executor that keeps nothing (none). */
int proxy_exec_snapshot(struct proxy_exec *x, struct proxy_snapshot *ret);
void proxy_snapshot_done(struct proxy_snapshot *s);

/* ---- sources ---- */
struct proxy_file;
/* Every object of a file's contents (JSON: one object or a List; YAML: the
 * same, or documents separated by "---" lines), keyed "Kind/ns/name";
 * NULL with *ret_err (owned by the caller) when it does not parse. */
json_t *proxy_file_parse(const char *data, size_t len, char **ret_err);
int proxy_file_open(struct proxy *p, const char *path, struct proxy_file **ret);
struct proxy_file *proxy_file_free(struct proxy_file *f);

struct proxy_api;
int proxy_api_open(struct proxy *p, const char *kubeconfig, struct proxy_api **ret);
struct proxy_api *proxy_api_free(struct proxy_api *a);

/* What the sources call. trigger_ns: when the change was made (CLOCK_REALTIME
 * ns) for the network-programming latency, 0 when unknown. An object that is
 * neither a Service nor an EndpointSlice is ignored. */
int proxy_object_set(struct proxy *p, const json_t *obj, int64_t trigger_ns, char **ret_err);
void proxy_object_delete(struct proxy *p, const char *kind, const char *ns, const char *name);
/* The source has delivered a complete state once. */
void proxy_source_synced(struct proxy *p);
struct loop *proxy_loop(const struct proxy *p);
const struct logger *proxy_log(const struct proxy *p);
