/* The eBPF executor: kelp's BPF programs (bpf/) loaded into this kernel, the
 * compiled table mirrored into their maps, XDP/tc on the interfaces it is
 * told to use and the socket-LB programs on the cgroups it is told to use.
 *
 * Maps and links are pinned under cfg.pin_dir (a bpffs kelp mounts under its
 * data dir): a proxy that exits leaves traffic flowing; the next one reuses
 * the maps (connection tracking included) and replaces the programs in
 * place; lb_ebpf_cleanup() removes everything. Never attaches anything that
 * was not named: no interface, no cgroup root. */
#pragma once

#include <stdbool.h>

#include "bpf/lb_maps.h"
#include "dataplane/lbtable/lbtable.h"

struct lb_ebpf_config {
	const char *pin_dir;            /* bpffs directory; made and mounted when missing */
	const char *const *interfaces;  /* XDP + tc here (NULL-terminated; may be NULL) */
	const char *const *cgroups;     /* socket LB here: cgroup v2 directories (may be NULL) */
	__u32 max_services;             /* 0: the LB_MAX_* defaults of bpf/lb_maps.h */
	__u32 max_backends;
	__u32 ring_slots;
	__u32 max_flows;
	bool fullnat;                   /* XDP: SNAT to snat_addr as well as DNAT */
	bool dsr;                       /* XDP: IPIP encapsulation instead of NAT */
	struct lb_addr snat_addr;       /* the node's address for full-NAT (and DSR's outer source) */
	struct lb_addr snat_addr6;      /* the same for IPv6 when snat_addr is IPv4 (optional) */
	bool xdp_generic;               /* force generic (skb) mode */
	/* XDP: send balanced packets out of this interface to next_hop_mac,
	 * with its own MAC as the source, instead of a FIB lookup per packet
	 * (NULL: the FIB). Refused when it carries the default route. */
	const char *next_hop_if;
	__u8 next_hop_mac[6];
};

struct lb_ebpf;

/* Load (or reuse) the maps and programs and attach them where cfg says.
 * On error, *ret_err (owned by the caller) says what failed and where. */
int lb_ebpf_open(const struct lb_ebpf_config *cfg, struct lb_ebpf **ret, char **ret_err);

/* Bring the maps to table t: rings named by delta (all of them when delta
 * is NULL), then backends, then services (one atomic update each), then the
 * removal of services t no longer has. */
int lb_ebpf_apply(struct lb_ebpf *e, const struct lb_table *t, const __u32 *arena,
		  __u32 arena_size, const struct lb_delta *delta);

/* What the maps hold, read back after a restart for lb_compiler_adopt():
 * the backend array up to its last slot in use (id 0: empty) and every
 * service. Both arrays are the caller's to free. */
int lb_ebpf_snapshot(struct lb_ebpf *e, struct lb_backend **ret_be, __u32 *ret_n_be,
		     struct lb_service **ret_svcs, __u32 *ret_n_svcs);
/* The ring array up to the end of the last ring of svcs (as the snapshot
 * gave them), for lb_compiler_adopt_rings(). The caller's to free. */
int lb_ebpf_snapshot_rings(struct lb_ebpf *e, const struct lb_service *svcs, __u32 n_svcs,
			   __u32 **ret_slots, __u32 *ret_n_slots);

/* The sums over CPUs of one service port's counters. */
int lb_ebpf_counters(struct lb_ebpf *e, __u32 service_id, struct lb_counters *ret);
/* Zero one service port's counters (its id is being reused). */
int lb_ebpf_counters_reset(struct lb_ebpf *e, __u32 service_id);

/* What is attached, for logs: "xdp(native) on veth0, socket LB on /sys/fs/...". */
const char *lb_ebpf_describe(const struct lb_ebpf *e);

/* Close the handles; pinned maps and links stay, so traffic keeps flowing. */
struct lb_ebpf *lb_ebpf_free(struct lb_ebpf *e);

/* Detach kelp's programs and remove every pin under pin_dir (kelp proxy
 * --cleanup, kelp up's exit). */
int lb_ebpf_cleanup(const char *pin_dir);
