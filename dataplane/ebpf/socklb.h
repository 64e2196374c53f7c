/* Internal to the eBPF executor: the socket LB (bpf/sock_lb.bpf.c) on the
 * cgroups lb_ebpf_open was given. Its maps are the pinned ones of
 * bpf/lb_maps.h, shared with the XDP program by name under cfg->pin_dir
 * (the sizes come from cfg exactly as loader.c sets them). */
#pragma once

#include "dataplane/ebpf/ebpf.h"

struct lb_socklb;

/* Load the cgroup programs (connect4/6, sendmsg4/6, recvmsg4/6,
 * getpeername4/6) and attach them to each of cfg->cgroups, links pinned
 * under cfg->pin_dir so they outlive the process; an attachment already
 * pinned there is updated in place. */
int lb_socklb_open(const struct lb_ebpf_config *cfg, struct lb_socklb **ret, char **ret_err);
struct lb_socklb *lb_socklb_free(struct lb_socklb *s);
/* Detach and unpin what lb_socklb_open pinned under pin_dir. */
int lb_socklb_cleanup(const char *pin_dir);
