/* The executors behind one interface. "auto" tries them fastest first and
 * says why it settled where it did. */
#include <stdio.h>

#include "base/base.h"
#include "dataplane/proxy/internal.h"

const char *proxy_exec_name(const struct proxy_exec *x)
{
	return proxy_dataplane_name(x->kind);
}

#ifdef KELP_HAVE_EBPF
static int open_xdp(struct proxy_exec *x, const struct proxy_config *cfg, char **ret_err)
{
	_cleanup_free_ char *pin = NULL;

	if (asprintf(&pin, "%s/bpf", cfg->data_dir) < 0)
		base_oom();
	struct lb_ebpf_config ec = {
		.pin_dir = pin,
		.interfaces = cfg->interfaces,
		.cgroups = cfg->cgroups,
		.fullnat = cfg->fullnat,
		.dsr = cfg->dsr,
		.snat_addr = cfg->snat_addr,
		.next_hop_if = cfg->next_hop_if,
		.max_services = cfg->max_services,
		.max_backends = cfg->max_backends,
		.ring_slots = cfg->ring_slots,
		.max_flows = cfg->max_flows,
	};
	memcpy(ec.next_hop_mac, cfg->next_hop_mac, sizeof(ec.next_hop_mac));
	int r = lb_ebpf_open(&ec, &x->ebpf, ret_err);
	if (r < 0)
		return r;
	x->kind = PROXY_DP_XDP;
	return 0;
}
#endif

/* Add "what: detail" to the account of how the executor was chosen. */
static void append(char **why, const char *what, const char *detail)
{
	char *s = NULL;
	if (asprintf(&s, "%s%s%s%s%s", *why ? *why : "", *why ? "; " : "", what,
		     detail ? ": " : "", detail ? detail : "") < 0)
		base_oom();
	free(*why);
	*why = s;
}

int proxy_exec_open(struct proxy_exec *x, const struct proxy_config *cfg,
		    const struct logger *log, char **ret_err)
{
	enum proxy_dataplane want = cfg->dataplane;
	bool is_auto = want == PROXY_DP_AUTO;

	*x = (struct proxy_exec){.kind = PROXY_DP_NONE};
	if (want == PROXY_DP_NONE) {
		append(&x->why, "none", "asked for; the table is compiled, nothing is programmed");
		return 0;
	}
	if (is_auto || want == PROXY_DP_DPDK) {
		if (!is_auto) {
			*ret_err = xstrdup("the DPDK executor is not built yet");
			return -EOPNOTSUPP;
		}
		append(&x->why, "dpdk", "not built yet");
	}
	if (is_auto || want == PROXY_DP_XDP) {
#ifdef KELP_HAVE_EBPF
		char *err = NULL;
		int r = open_xdp(x, cfg, &err);
		if (r == 0) {
			append(&x->why, "xdp", lb_ebpf_describe(x->ebpf));
			return 0;
		}
		if (!is_auto) {
			*ret_err = err;
			return r;
		}
		append(&x->why, "xdp", err);
		free(err);
#else
		if (!is_auto) {
			*ret_err = xstrdup("this kelp was built without BPF (libbpf, clang or bpftool missing)");
			return -EOPNOTSUPP;
		}
		append(&x->why, "xdp", "built without BPF");
#endif
	}
	if (want == PROXY_DP_KMOD) {
		*ret_err = xstrdup("the kernel-module executor is not built yet");
		return -EOPNOTSUPP;
	}
	append(&x->why, "kmod", "not built yet");
	append(&x->why, "none", "compiling only");
	log_warn(log, "no packet executor available", LOG_S("why", x->why));
	return 0;
}

int proxy_exec_apply(struct proxy_exec *x, const struct lb_table *t, const __u32 *arena,
		     __u32 arena_size, const struct lb_delta *delta)
{
#ifdef KELP_HAVE_EBPF
	if (x->ebpf)
		return lb_ebpf_apply(x->ebpf, t, arena, arena_size, delta);
#endif
	return 0;
}

void proxy_exec_counters(struct proxy_exec *x, __u32 service_id, struct lb_counters *ret)
{
	*ret = (struct lb_counters){0};
#ifdef KELP_HAVE_EBPF
	if (x->ebpf && lb_ebpf_counters(x->ebpf, service_id, ret) < 0)
		*ret = (struct lb_counters){0};
#endif
}

void proxy_exec_counters_reset(struct proxy_exec *x, __u32 service_id)
{
#ifdef KELP_HAVE_EBPF
	if (x->ebpf)
		(void)lb_ebpf_counters_reset(x->ebpf, service_id);
#endif
}

int proxy_exec_snapshot(struct proxy_exec *x, struct proxy_snapshot *ret)
{
	struct proxy_snapshot s = {0};

#ifdef KELP_HAVE_EBPF
	if (x->ebpf) {
		int r = lb_ebpf_snapshot(x->ebpf, &s.be, &s.n_be, &s.svcs, &s.n_svcs);
		if (r == 0)
			r = lb_ebpf_snapshot_rings(x->ebpf, s.svcs, s.n_svcs, &s.rings, &s.n_rings);
		if (r < 0) {
			proxy_snapshot_done(&s);
			return r;
		}
	}
#endif
	*ret = s;
	return 0;
}

void proxy_snapshot_done(struct proxy_snapshot *s)
{
	free(s->be);
	free(s->svcs);
	free(s->rings);
	*s = (struct proxy_snapshot){0};
}

void proxy_exec_close(struct proxy_exec *x)
{
#ifdef KELP_HAVE_EBPF
	x->ebpf = lb_ebpf_free(x->ebpf);
#endif
	free(x->why);
	x->why = NULL;
}
