/* Internal to the eBPF executor: what loader.c and socklb.c share. Every
 * attachment kelp makes is a pin in <pin_dir>/links (xdp-IF, tc-IF,
 * sock-HOOK-CGROUPINODE), so a later run or a cleanup finds it there. */
#pragma once

#include <linux/types.h>
#include <stdbool.h>

#include "base/base.h"

/* The netlink clsact filter's place when the kernel has no tcx. */
#define LB_TC_HANDLE 0x6b6c
#define LB_TC_PRIO 0x6b6c

/* *ret_err (when ret_err is set) gets the message, then ": strerror(-r)"
 * when r < 0; returns r, or -EINVAL when r >= 0. */
_printf_(3, 4) int lb_ebpf_fail(char **ret_err, int r, const char *fmt, ...);

static inline __u32 lb_or_default(__u32 v, __u32 def)
{
	return v ? v : def;
}

/* Detach what the pin dir/name marks (a link, or for tc-IF the program of
 * a netlink filter at our handle), then unpin it. */
int lb_link_remove(const char *dir, const char *name);

/* lb_link_remove every pin in dir but those keep(name, ctx) keeps; an
 * absent dir has nothing to remove. The first error, after trying all. */
int lb_links_prune(const char *dir, bool (*keep)(const char *name, void *ctx), void *ctx);

struct bpf_map;
/* A map pinned under pin_dir by an earlier run whose type, sizes or flags
 * differ from m's cannot be reused: unpin it (programs still holding it keep
 * it until they are replaced) so that loading creates it afresh, and say so
 * in note (may be NULL). Call between open and load. */
void lb_pinned_map_refresh(const char *pin_dir, struct bpf_map *m, struct buf *note);
/* The same for maps that only make sense together: when one of them must be
 * made afresh, all of them are. */
void lb_pinned_maps_refresh(const char *pin_dir, struct bpf_map *const *maps, size_t n, struct buf *note);
