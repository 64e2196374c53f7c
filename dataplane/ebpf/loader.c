/* The eBPF executor's loader: bpf/xdp_lb.bpf.c into the kernel, its maps
 * pinned by name under cfg.pin_dir (a bpffs mounted there when it is not
 * one), XDP and tc on the named interfaces through pinned bpf_links, and
 * the compiled table written into the maps.
 *
 * Restarts: the maps are reused (conntrack included) unless their sizes
 * changed; an attachment pinned by an earlier run gets the new program in
 * place (BPF_LINK_UPDATE), so traffic never meets an interface without a
 * program. Pins live in <pin_dir>/links: xdp-<ifname> (XDP links) and
 * tc-<ifname> (tcx links; on kernels before 6.6 a pinned program marking a
 * netlink clsact filter instead). */
#include "dataplane/ebpf/ebpf.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "base/base.h"
#include "dataplane/ebpf/pins.h"
#include "dataplane/ebpf/internal.h"
#include "xdp_lb.skel.h"
#if KELP_HAVE_SOCKLB
#include "dataplane/ebpf/socklb.h"
#endif

/* Not in the 6.1 uapi headers this builds against; the kernel (6.6+) has it. */
#define LB_BPF_TCX_INGRESS 46

DEFINE_FREEP(struct lb_ebpf, lb_ebpf_free)

/* ---- where: the bpffs, the interfaces ------------------------------------------------ */

static bool is_bpffs(const char *dir)
{
	struct statfs sfs;
	return statfs(dir, &sfs) == 0 && sfs.f_type == BPF_FS_MAGIC;
}

static int bpffs_ensure(const char *dir, char **ret_err)
{
	if (is_bpffs(dir))
		return 0;
	int r = mkdir_p(dir, 0700);
	if (r < 0)
		return lb_ebpf_fail(ret_err, r, "eBPF: mkdir %s", dir);
	if (mount("bpf", dir, "bpf", 0, "mode=0700") < 0)
		return lb_ebpf_fail(ret_err, -errno, "eBPF: mount a bpffs on %s", dir);
	return 0;
}

/* Is name the device of a default route of this network namespace (IPv4
 * main table, or IPv6)? Attaching there could cut the machine off. */
static bool carries_default_route(const char *name)
{
	char line[512], dev[64];
	bool found = false;
	FILE *f = fopen("/proc/net/route", "re");

	if (f) {
		while (!found && fgets(line, sizeof(line), f)) {
			unsigned long dst, gw, flags, mask;
			if (sscanf(line, "%63s %lx %lx %lx %*s %*s %*s %lx", dev, &dst, &gw, &flags, &mask) == 5 &&
			    dst == 0 && mask == 0 && streq(dev, name))
				found = true;
		}
		fclose(f);
	}
	f = fopen("/proc/net/ipv6_route", "re");
	if (f) {
		while (!found && fgets(line, sizeof(line), f)) {
			char dst[40];
			unsigned plen, flags;
			if (sscanf(line, "%39s %x %*s %*s %*s %*s %*s %*s %x %63s", dst, &plen, &flags, dev) == 4 &&
			    plen == 0 && strspn(dst, "0") == 32 && !(flags & 0x0200 /* RTF_REJECT */) &&
			    streq(dev, name))
				found = true;
		}
		fclose(f);
	}
	return found;
}

static int ifaces_resolve(struct lb_ebpf *e, const char *const *names, char **ret_err)
{
	for (size_t i = 0; names && names[i]; i++) {
		if (strlen(names[i]) >= IF_NAMESIZE)
			return lb_ebpf_fail(ret_err, -EINVAL, "eBPF: interface name %s is too long", names[i]);
		int ifindex = (int)if_nametoindex(names[i]);
		if (ifindex == 0)
			return lb_ebpf_fail(ret_err, -ENODEV, "eBPF: interface %s", names[i]);
		if (carries_default_route(names[i]))
			return lb_ebpf_fail(ret_err, -EPERM,
				    "eBPF: refusing interface %s: it carries this namespace's default "
				    "route, and a program there could cut the machine off", names[i]);
		e->ifs = xrealloc(e->ifs, (e->n_ifs + 1) * sizeof(*e->ifs));
		struct lb_iface *f = &e->ifs[e->n_ifs++];
		memset(f, 0, sizeof(*f));
		snprintf(f->name, sizeof(f->name), "%s", names[i]);
		f->ifindex = ifindex;
	}
	return 0;
}

/* ---- the maps ---------------------------------------------------------------------------- */

static int skel_load(struct lb_ebpf *e, const struct lb_ebpf_config *cfg, char **ret_err)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = e->pin_dir);
	struct xdp_lb *skel = xdp_lb__open_opts(&opts);
	struct bpf_map *m;
	int r;

	if (!skel)
		return lb_ebpf_fail(ret_err, -errno, "eBPF: open bpf/xdp_lb");
	e->skel = skel;
	/* The sizes socklb.c gives the shared maps too (0: the defaults). */
	struct {
		struct bpf_map *map;
		__u32 n;
	} sizes[] = {
		{skel->maps.lb_services, e->max_services},
		{skel->maps.lb_counters, e->max_services},
		{skel->maps.lb_backends, e->max_backends},
		{skel->maps.lb_rings, e->ring_slots},
		{skel->maps.lb_affinity, LB_MAX_AFFINITY},
		{skel->maps.lb_ct, lb_or_default(cfg->max_flows, LB_MAX_FLOWS)},
		{skel->maps.lb_frag, LB_MAX_FRAGS},
	};
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		r = bpf_map__set_max_entries(sizes[i].map, sizes[i].n);
		if (r < 0)
			return lb_ebpf_fail(ret_err, r, "eBPF: size map %s", bpf_map__name(sizes[i].map));
	}
	/* The table's three maps point into each other (ring offsets, backend
	 * indexes): one made afresh, say a bigger ring map, with the others
	 * kept would send new flows through rings that are not there yet. */
	struct bpf_map *table[] = {skel->maps.lb_services, skel->maps.lb_backends, skel->maps.lb_rings};
	lb_pinned_maps_refresh(e->pin_dir, table, ARRAY_SIZE(table), &e->describe);
	bpf_object__for_each_map(m, skel->obj)
		if (bpf_map__pin_path(m))
			lb_pinned_map_refresh(e->pin_dir, m, &e->describe);
	r = xdp_lb__load(skel);
	if (r < 0)
		return lb_ebpf_fail(ret_err, r, "eBPF: load bpf/xdp_lb (the verifier's log is on stderr)");
	return 0;
}

/* The MAC address of interface name. */
static int iface_mac(const char *name, __u8 mac[6])
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

static int config_write(struct lb_ebpf *e, const struct lb_ebpf_config *cfg, char **ret_err)
{
	struct lb_config c;
	__u32 zero = 0;
	const struct lb_addr *a = &cfg->snat_addr;
	bool v4 = !a->a[0] && !a->a[1] && a->a[2] == (__be32)htonl(0xffff);

	memset(&c, 0, sizeof(c));
	c.flags = (cfg->fullnat ? LB_CFG_FULLNAT : 0) | (cfg->dsr ? LB_CFG_DSR : 0);
	if (v4)
		c.snat_addr = *a;
	else
		c.snat_addr6 = *a;
	if (!lb_addr_is_zero(&cfg->snat_addr6))
		c.snat_addr6 = cfg->snat_addr6;
	if (cfg->next_hop_if) {
		const char *name = cfg->next_hop_if;
		c.ifindex = if_nametoindex(name);
		if (strlen(name) >= IF_NAMESIZE || c.ifindex == 0)
			return lb_ebpf_fail(ret_err, -ENODEV, "eBPF: next-hop interface %s", name);
		if (carries_default_route(name))
			return lb_ebpf_fail(ret_err, -EPERM,
				    "eBPF: refusing next-hop interface %s: it carries this namespace's "
				    "default route", name);
		int r = iface_mac(name, c.src_mac);
		if (r < 0)
			return lb_ebpf_fail(ret_err, r, "eBPF: the MAC address of %s", name);
		memcpy(c.gw_mac, cfg->next_hop_mac, sizeof(c.gw_mac));
	}
	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.lb_config), &zero, &c, BPF_ANY) < 0)
		return lb_ebpf_fail(ret_err, -errno, "eBPF: write lb_config");
	return 0;
}

/* ---- attachments -------------------------------------------------------------------------- */

/* The link pinned at path, if it is still attached to ifindex (XDP and
 * tcx links both keep the ifindex first in bpf_link_info's union). */
static struct bpf_link *pinned_link(const char *path, int ifindex)
{
	struct bpf_link *l = bpf_link__open(path);
	struct bpf_link_info info;
	__u32 len = sizeof(info);

	if (!l)
		return NULL;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(bpf_link__fd(l), &info, &len) == 0 && (int)info.xdp.ifindex == ifindex)
		return l;
	/* Its interface went away (or was made again): drop the pin. */
	(void)bpf_link__unpin(l);
	bpf_link__destroy(l);
	return NULL;
}

/* prog onto the pinned link at path (in place), else a new link from
 * create() pinned there. */
static int link_put(const char *path, struct bpf_program *prog, int ifindex, struct bpf_link **ret, int (*create)(int prog_fd, int ifindex, __u32 flags),
		    __u32 flags)
{
	struct bpf_link *l = access(path, F_OK) == 0 ? pinned_link(path, ifindex) : NULL;
	int r;

	if (l) {
		r = bpf_link__update_program(l, prog);
		if (r == 0) {
			*ret = l;
			return 0;
		}
		(void)bpf_link__unpin(l);
		bpf_link__destroy(l);
	}
	int fd = create(bpf_program__fd(prog), ifindex, flags);
	if (fd < 0)
		return fd;
	(void)unlink(path);
	if (bpf_obj_pin(fd, path) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	close(fd);
	l = bpf_link__open(path);
	if (!l)
		return -errno;
	*ret = l;
	return 0;
}

static int xdp_create(int prog_fd, int ifindex, __u32 flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, o, .flags = flags);
	int fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &o);
	return fd < 0 ? -errno : fd;
}

static int tcx_create(int prog_fd, int ifindex, __u32 flags)
{
	int fd = bpf_link_create(prog_fd, ifindex, (enum bpf_attach_type)LB_BPF_TCX_INGRESS, NULL);
	return fd < 0 ? -errno : fd;
}

/* Kernels without tcx: a clsact ingress filter by netlink (replaced in
 * place at our handle), the program pinned at path to remember it. */
static int tc_netlink_put(struct lb_iface *f, struct bpf_program *prog, const char *path)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = f->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = LB_TC_HANDLE, .priority = LB_TC_PRIO,
		    .prog_fd = bpf_program__fd(prog), .flags = BPF_TC_F_REPLACE);
	int r = bpf_tc_hook_create(&hook);

	if (r < 0 && r != -EEXIST)
		return r;
	r = bpf_tc_attach(&hook, &o);
	if (r < 0)
		return r;
	(void)unlink(path);
	return bpf_obj_pin(bpf_program__fd(prog), path) < 0 ? -errno : 0;
}

/* Full-NAT and DSR give a balanced packet one of the node's own addresses
 * as its (outer) source. When the FIB has no neighbour for the backend yet,
 * xdp_lb hands that packet to the kernel to resolve one, and the kernel's
 * input routing drops a packet from its own address as a martian unless
 * accept_local is on: without it the first packet to each backend would
 * never get it a neighbour entry. IPv4 only (IPv6 has no such check). */
static int accept_local_on(const char *ifname, char **ret_err)
{
	_cleanup_free_ char *path = xasprintf("/proc/sys/net/ipv4/conf/%s/accept_local", ifname);
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1)
		return lb_ebpf_fail(ret_err, -errno, "eBPF: turn on %s", path);
	return 0;
}

static int iface_attach(struct lb_ebpf *e, struct lb_iface *f, bool generic, char **ret_err)
{
	_cleanup_free_ char *xpath = xasprintf("%s/links/xdp-%s", e->pin_dir, f->name);
	_cleanup_free_ char *tpath = xasprintf("%s/links/tc-%s", e->pin_dir, f->name);
	struct bpf_program *xdp = e->skel->progs.xdp_lb, *tc = e->skel->progs.tc_lb_reply;
	int r = -EOPNOTSUPP;

	/* Native where the driver has it, generic otherwise (or when asked). */
	if (!generic)
		r = link_put(xpath, xdp, f->ifindex, &f->xdp, xdp_create, XDP_FLAGS_DRV_MODE);
	if (r < 0 && r != -EBUSY && r != -EEXIST)
		r = link_put(xpath, xdp, f->ifindex, &f->xdp, xdp_create, XDP_FLAGS_SKB_MODE);
	if (r < 0)
		return lb_ebpf_fail(ret_err, r, "eBPF: attach XDP to %s%s", f->name,
			    r == -EBUSY || r == -EEXIST ? " (another XDP program is attached there)" : "");
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	if (bpf_xdp_query(f->ifindex, 0, &q) == 0)
		f->generic = q.attach_mode == XDP_ATTACHED_SKB;

	/* The return path: a tcx link, or a netlink filter before 6.6. */
	r = link_put(tpath, tc, f->ifindex, &f->tc, tcx_create, 0);
	if (r < 0) {
		f->tc = NULL;
		r = tc_netlink_put(f, tc, tpath);
	}
	if (r < 0)
		return lb_ebpf_fail(ret_err, r, "eBPF: attach the return path (tc ingress) to %s", f->name);
	return 0;
}

struct iface_keep {
	const struct lb_iface *ifs;
	size_t n;
};

/* Keep what is not an XDP/tc pin, and those of the interfaces still named. */
static bool iface_kept(const char *name, void *ctx)
{
	const struct iface_keep *k = ctx;
	const char *ifname = str_has_prefix(name, "xdp-") ? name + 4
			     : str_has_prefix(name, "tc-") ? name + 3 : NULL;

	if (!ifname)
		return true;
	for (size_t i = 0; i < k->n; i++)
		if (streq(k->ifs[i].name, ifname))
			return true;
	return false;
}

static int attachments_prune(const char *links_dir, const struct lb_iface *ifs, size_t n)
{
	struct iface_keep k = {ifs, n};
	return lb_links_prune(links_dir, iface_kept, &k);
}

static void describe_build(struct lb_ebpf *e, const struct lb_ebpf_config *cfg)
{
	struct buf b = {0};

	for (size_t i = 0; i < e->n_ifs; i++)
		buf_printf(&b, "%sxdp(%s)+tc(%s) on %s", i ? ", " : "",
			   e->ifs[i].generic ? "generic" : "native", e->ifs[i].tc ? "tcx" : "clsact",
			   e->ifs[i].name);
	for (size_t i = 0; cfg->cgroups && cfg->cgroups[i]; i++)
		buf_printf(&b, "%ssocket LB on %s", b.len ? ", " : "", cfg->cgroups[i]);
	if (!b.len)
		buf_puts(&b, "maps only (no interface, no cgroup)");
	buf_printf(&b, "; %s mode", cfg->dsr ? "DSR" : cfg->fullnat ? "full-NAT" : "DNAT");
	if (cfg->next_hop_if) {
		const __u8 *m = cfg->next_hop_mac;
		buf_printf(&b, ", next hop %02x:%02x:%02x:%02x:%02x:%02x on %s", m[0], m[1], m[2], m[3],
			   m[4], m[5], cfg->next_hop_if);
	}
	buf_puts(&b, ", pins in ");
	buf_puts(&b, e->pin_dir);
	if (e->describe.len)
		buf_append(&b, e->describe.data, e->describe.len);
	buf_free(&e->describe);
	e->describe = b;
}

int lb_ebpf_open(const struct lb_ebpf_config *cfg, struct lb_ebpf **ret, char **ret_err)
{
	_cleanup_(lb_ebpf_freep) struct lb_ebpf *e = NULL;
	int r;

	if (!cfg->pin_dir || !*cfg->pin_dir)
		return lb_ebpf_fail(ret_err, -EINVAL, "eBPF: no pin directory");
	e = xnew(struct lb_ebpf, 1);
	e->pin_dir = xstrdup(cfg->pin_dir);
	e->max_services = lb_or_default(cfg->max_services, LB_MAX_SERVICES);
	e->max_backends = lb_or_default(cfg->max_backends, LB_MAX_BACKENDS);
	e->ring_slots = lb_or_default(cfg->ring_slots, LB_MAX_RING_SLOTS);
	e->backends_hwm = e->max_backends; /* unknown after a restart: clear all once */
	e->ncpus = libbpf_num_possible_cpus();
	if (e->ncpus <= 0)
		return lb_ebpf_fail(ret_err, e->ncpus, "eBPF: possible CPUs");

	r = ifaces_resolve(e, cfg->interfaces, ret_err);
	if (r < 0)
		return r;
	r = bpffs_ensure(e->pin_dir, ret_err);
	if (r < 0)
		return r;
#if KELP_HAVE_SOCKLB
	/* No cgroup named this time: hooks an earlier run left go. */
	if (!cfg->cgroups || !cfg->cgroups[0]) {
		r = lb_socklb_cleanup(e->pin_dir);
		if (r < 0)
			return lb_ebpf_fail(ret_err, r, "eBPF: detach the socket LB an earlier run attached");
	}
#endif
	_cleanup_free_ char *links = xasprintf("%s/links", e->pin_dir);
	if (mkdir(links, 0700) < 0 && errno != EEXIST)
		return lb_ebpf_fail(ret_err, -errno, "eBPF: mkdir %s", links);
	r = skel_load(e, cfg, ret_err);
	if (r < 0)
		return r;
	r = config_write(e, cfg, ret_err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < e->n_ifs; i++) {
		if ((cfg->fullnat || cfg->dsr) && !cfg->next_hop_if) {
			r = accept_local_on(e->ifs[i].name, ret_err);
			if (r < 0)
				return r;
		}
		r = iface_attach(e, &e->ifs[i], cfg->xdp_generic, ret_err);
		if (r < 0)
			return r;
	}
	r = attachments_prune(links, e->ifs, e->n_ifs);
	if (r < 0)
		return lb_ebpf_fail(ret_err, r, "eBPF: detach from interfaces no longer named");
	if (cfg->cgroups && cfg->cgroups[0]) {
#if KELP_HAVE_SOCKLB
		r = lb_socklb_open(cfg, &e->socklb, ret_err);
		if (r < 0)
			return r;
#else
		return lb_ebpf_fail(ret_err, -EOPNOTSUPP, "eBPF: this build has no socket LB");
#endif
	}
	describe_build(e, cfg);
	*ret = TAKE_PTR(e);
	return 0;
}

/* ---- counters, description, lifetime ------------------------------------------------------ */

int lb_ebpf_counters(struct lb_ebpf *e, __u32 service_id, struct lb_counters *ret)
{
	_cleanup_free_ struct lb_counters *v = xnew(struct lb_counters, (size_t)e->ncpus);
	struct lb_counters sum = {0};

	if (bpf_map_lookup_elem(bpf_map__fd(e->skel->maps.lb_counters), &service_id, v) < 0)
		return -errno;
	for (int i = 0; i < e->ncpus; i++) {
		sum.packets += v[i].packets;
		sum.bytes += v[i].bytes;
		sum.connections += v[i].connections;
		sum.no_backend += v[i].no_backend;
	}
	*ret = sum;
	return 0;
}

int lb_ebpf_counters_reset(struct lb_ebpf *e, __u32 service_id)
{
	_cleanup_free_ struct lb_counters *v = xnew(struct lb_counters, (size_t)e->ncpus);

	if (bpf_map_update_elem(bpf_map__fd(e->skel->maps.lb_counters), &service_id, v, BPF_ANY) < 0)
		return -errno;
	return 0;
}

const char *lb_ebpf_describe(const struct lb_ebpf *e)
{
	return e->describe.data ? e->describe.data : "";
}

struct lb_ebpf *lb_ebpf_free(struct lb_ebpf *e)
{
	if (!e)
		return NULL;
#if KELP_HAVE_SOCKLB
	lb_socklb_free(e->socklb);
#endif
	/* Closing a pinned link leaves it attached: the pin holds it. */
	for (size_t i = 0; i < e->n_ifs; i++) {
		bpf_link__destroy(e->ifs[i].xdp);
		bpf_link__destroy(e->ifs[i].tc);
	}
	free(e->ifs);
	xdp_lb__destroy(e->skel);
	buf_free(&e->describe);
	free(e->applied);
	free(e->pin_dir);
	free(e);
	return NULL;
}

/* Unpin every map (and anything else) left in dir; then dir itself. */
static int pins_remove(const char *dir)
{
	DIR *d = opendir(dir);
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	for (struct dirent *de; (de = readdir(d));) {
		/* maps.debug and progs.debug are the kernel's own (bpf_preload),
		 * in every bpffs mount, and cannot be unlinked. */
		if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
		    streq(de->d_name, "maps.debug") || streq(de->d_name, "progs.debug"))
			continue;
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);
		if (de->d_type == DT_DIR) {
			int k = pins_remove(p);
			if (k == 0 && rmdir(p) < 0)
				k = -errno;
			if (k < 0 && r == 0)
				r = k;
		} else if (unlink(p) < 0 && r == 0) {
			r = -errno;
		}
	}
	closedir(d);
	return r;
}

int lb_ebpf_cleanup(const char *pin_dir)
{
	struct stat st, up;
	int r = 0, k;

	if (!is_bpffs(pin_dir))
		return 0; /* nothing of ours can be pinned there */
#if KELP_HAVE_SOCKLB
	r = lb_socklb_cleanup(pin_dir);
#endif
	_cleanup_free_ char *links = xasprintf("%s/links", pin_dir);
	k = attachments_prune(links, NULL, 0);
	if (k < 0 && r == 0)
		r = k;
	k = pins_remove(pin_dir);
	if (k < 0 && r == 0)
		r = k;
	/* Our own mount (not a directory inside someone's bpffs) goes too. */
	_cleanup_free_ char *parent = xasprintf("%s/..", pin_dir);
	if (stat(pin_dir, &st) == 0 && stat(parent, &up) == 0 && st.st_dev != up.st_dev &&
	    umount2(pin_dir, MNT_DETACH) < 0 && r == 0)
		r = -errno;
	(void)rmdir(pin_dir);
	return r;
}
