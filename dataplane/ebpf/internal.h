/* Internal to the eBPF executor: the executor's state, shared by loader.c
 * (open, attach, counters, cleanup) and apply.c (the table into the maps). */
#pragma once

#include <net/if.h>

#include "dataplane/ebpf/ebpf.h"
#include "dataplane/ebpf/pins.h"

struct xdp_lb;
struct lb_socklb;
struct bpf_link;

struct lb_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	struct bpf_link *xdp;
	struct bpf_link *tc; /* NULL: a netlink filter */
	bool generic;
};

struct lb_ebpf {
	struct xdp_lb *skel;
	char *pin_dir;
	struct lb_iface *ifs;
	size_t n_ifs;
	__u32 max_services, max_backends, ring_slots;
	__u32 backends_hwm; /* backend slots that may hold something: zeroed when unused */
	int ncpus;
	struct buf describe;
	struct lb_table *applied; /* a copy of the last table written whole, or NULL */
	struct lb_socklb *socklb; /* NULL: no cgroup, or no socket LB in this build */
};

