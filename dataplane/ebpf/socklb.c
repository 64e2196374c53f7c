/* The socket LB's programs (bpf/sock_lb.bpf.c) on the cgroups the proxy was
 * told to use. Each (hook, cgroup) attachment is a bpf_link pinned as
 * <pin_dir>/links/sock-<hook>-<cgroup inode>: the pin keeps it attached
 * after the proxy exits, and the next proxy swaps its program in place
 * (BPF_LINK_UPDATE), so no connect() ever runs without a hook. */
#include "dataplane/ebpf/socklb.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "base/base.h"
#include "dataplane/ebpf/pins.h"
#include "sock_lb.skel.h"

#define LINK_PREFIX "sock-"
/* The cgroup id, and kernfs inode, of a cgroup v2 hierarchy's root. */
#define CGROUP_ROOT_INO 1

struct lb_socklb {
	struct sock_lb *skel;
	struct bpf_link **links;
	bool *fresh; /* attached by this open, not updated in place */
	size_t n_links;
};

DEFINE_FREEP(struct lb_socklb, lb_socklb_free)

/* The maps bpf/sock_lb.bpf.c pins besides the shared ones. */
static const char *const own_maps[] = {"lb_sock", "lb_sock_conn"};

/* The hooks, by the name their pins carry. */
static const char *const hook_names[] = {
	"connect4", "connect6", "sendmsg4", "sendmsg6",
	"recvmsg4", "recvmsg6", "getpeername4", "getpeername6",
};

static void hook_progs(struct sock_lb *skel, struct bpf_program **ret)
{
	ret[0] = skel->progs.sock_connect4;
	ret[1] = skel->progs.sock_connect6;
	ret[2] = skel->progs.sock_sendmsg4;
	ret[3] = skel->progs.sock_sendmsg6;
	ret[4] = skel->progs.sock_recvmsg4;
	ret[5] = skel->progs.sock_recvmsg6;
	ret[6] = skel->progs.sock_getpeername4;
	ret[7] = skel->progs.sock_getpeername6;
}

/* An fd on the cgroup v2 directory path, refused when it is the root of a
 * hierarchy (or a mount of one): a faulty hook there reaches every process. */
static int cgroup_open(const char *path, int *ret_fd, __u64 *ret_ino, char **ret_err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct statfs sfs;
	struct stat st, up;

	if (fd < 0)
		return lb_ebpf_fail(ret_err, -errno, "socket LB: cgroup %s", path);
	if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0 || fstatat(fd, "..", &up, 0) < 0)
		return lb_ebpf_fail(ret_err, -errno, "socket LB: cgroup %s", path);
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return lb_ebpf_fail(ret_err, -EINVAL, "socket LB: %s is not a cgroup v2 directory", path);
	if (st.st_ino == CGROUP_ROOT_INO || st.st_dev != up.st_dev || st.st_ino == up.st_ino)
		return lb_ebpf_fail(ret_err, -EINVAL,
			    "socket LB: refusing cgroup %s: it is the root of a cgroup hierarchy, "
			    "where a hook would reach every process; name a cgroup below it",
			    path);
	*ret_ino = st.st_ino;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static void links_add(struct lb_socklb *s, struct bpf_link *link, bool fresh)
{
	s->links = xrealloc(s->links, (s->n_links + 1) * sizeof(*s->links));
	s->fresh = xrealloc(s->fresh, (s->n_links + 1) * sizeof(*s->fresh));
	s->links[s->n_links] = link;
	s->fresh[s->n_links++] = fresh;
}

/* Put prog on the cgroup: into the link pinned at path when there is one
 * (in place: the old program runs until the new one does), else through a
 * new link pinned there. */
static int hook_attach(struct lb_socklb *s, struct bpf_program *prog, int cgfd,
		       const char *cgroup, const char *path, char **ret_err)
{
	struct bpf_link *old = NULL, *link;
	int r;

	if (access(path, F_OK) == 0) {
		old = bpf_link__open(path);
		if (!old)
			return lb_ebpf_fail(ret_err, -errno, "socket LB: open pinned link %s", path);
		if (bpf_link__update_program(old, prog) == 0) {
			links_add(s, old, false);
			return 0;
		}
	}
	/* New, or the pinned one cannot take it (its cgroup is gone: ENOLINK).
	 * The new link goes on before the old one goes. */
	link = bpf_program__attach_cgroup(prog, cgfd);
	if (!link) {
		r = -errno;
		bpf_link__destroy(old);
		return lb_ebpf_fail(ret_err, r, "socket LB: attach %s to cgroup %s", bpf_program__name(prog), cgroup);
	}
	if (old) {
		(void)bpf_link__unpin(old);
		(void)bpf_link__detach(old);
		bpf_link__destroy(old);
	}
	r = bpf_link__pin(link, path);
	if (r < 0) {
		bpf_link__destroy(link);
		return lb_ebpf_fail(ret_err, r, "socket LB: pin %s", path);
	}
	links_add(s, link, true);
	return 0;
}

static bool name_in(const char *name, char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (streq(name, names[i]))
			return true;
	return false;
}

struct name_keep {
	char *const *names;
	size_t n;
};

/* Keep what is not a socket-LB pin, and the links named in use. */
static bool link_kept(const char *name, void *ctx)
{
	const struct name_keep *k = ctx;
	return !str_has_prefix(name, LINK_PREFIX) || name_in(name, k->names, k->n);
}

/* Remove our links under links_dir except those named in keep. */
static int links_prune(const char *links_dir, char *const *keep, size_t n_keep)
{
	struct name_keep k = {keep, n_keep};
	return lb_links_prune(links_dir, link_kept, &k);
}

static int skel_open(const struct lb_ebpf_config *cfg, struct sock_lb **ret, char **ret_err)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = cfg->pin_dir);
	struct sock_lb *skel = sock_lb__open_opts(&opts);
	int r;

	if (!skel)
		return lb_ebpf_fail(ret_err, -errno, "socket LB: open bpf/sock_lb");
	/* The loader's sizes, by the loader's rule (0: the default), or the
	 * pinned maps could not be shared. */
	struct {
		struct bpf_map *map;
		__u32 n;
	} sizes[] = {
		{skel->maps.lb_services, lb_or_default(cfg->max_services, LB_MAX_SERVICES)},
		{skel->maps.lb_counters, lb_or_default(cfg->max_services, LB_MAX_SERVICES)},
		{skel->maps.lb_backends, lb_or_default(cfg->max_backends, LB_MAX_BACKENDS)},
		{skel->maps.lb_rings, lb_or_default(cfg->ring_slots, LB_MAX_RING_SLOTS)},
		{skel->maps.lb_affinity, LB_MAX_AFFINITY},
		{skel->maps.lb_sock, lb_or_default(cfg->max_flows, LB_MAX_FLOWS)},
	};
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		r = bpf_map__set_max_entries(sizes[i].map, sizes[i].n);
		if (r < 0) {
			sock_lb__destroy(skel);
			return lb_ebpf_fail(ret_err, r, "socket LB: size map %s", bpf_map__name(sizes[i].map));
		}
	}
	/* The shared maps are the loader's (refreshed before this); ours: */
	lb_pinned_map_refresh(cfg->pin_dir, skel->maps.lb_sock, NULL);
	lb_pinned_map_refresh(cfg->pin_dir, skel->maps.lb_sock_conn, NULL);
	r = sock_lb__load(skel);
	if (r < 0) {
		sock_lb__destroy(skel);
		return lb_ebpf_fail(ret_err, r,
			    "socket LB: load bpf/sock_lb (maps pinned in %s of other sizes or layout?)",
			    cfg->pin_dir);
	}
	*ret = skel;
	return 0;
}

/* The cgroups of cfg, opened and checked before anything is attached. */
struct cgroup_ref {
	const char *path;
	int fd;
	__u64 ino;
};

static void cgroups_close(struct cgroup_ref *cgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cgs[i].fd >= 0)
			close(cgs[i].fd);
	free(cgs);
}

static int cgroups_open(const char *const *paths, struct cgroup_ref **ret, size_t *ret_n,
			char **ret_err)
{
	size_t n = 0;

	while (paths[n])
		n++;
	struct cgroup_ref *cgs = xnew(struct cgroup_ref, n);
	for (size_t i = 0; i < n; i++)
		cgs[i] = (struct cgroup_ref){.path = paths[i], .fd = -1};
	for (size_t i = 0; i < n; i++) {
		int r = cgroup_open(paths[i], &cgs[i].fd, &cgs[i].ino, ret_err);
		if (r < 0) {
			cgroups_close(cgs, n);
			return r;
		}
	}
	*ret = cgs;
	*ret_n = n;
	return 0;
}

/* Attach every hook to every cgroup; names gets the link names in use. */
static int attach_all(struct lb_socklb *s, const char *links_dir, const struct cgroup_ref *cgs,
		      size_t n_cgs, char ***names, size_t *n_names, char **ret_err)
{
	struct bpf_program *progs[ARRAY_SIZE(hook_names)];

	if (mkdir(links_dir, 0700) < 0 && errno != EEXIST)
		return lb_ebpf_fail(ret_err, -errno, "socket LB: mkdir %s", links_dir);
	hook_progs(s->skel, progs);
	for (size_t c = 0; c < n_cgs; c++) {
		for (size_t i = 0; i < ARRAY_SIZE(hook_names); i++) {
			char *name = xasprintf(LINK_PREFIX "%s-%llu", hook_names[i],
					       (unsigned long long)cgs[c].ino);
			if (name_in(name, *names, *n_names)) { /* the same cgroup twice */
				free(name);
				continue;
			}
			*names = xrealloc(*names, (*n_names + 1) * sizeof(**names));
			(*names)[(*n_names)++] = name;
			_cleanup_free_ char *path = xasprintf("%s/%s", links_dir, name);
			int r = hook_attach(s, progs[i], cgs[c].fd, cgs[c].path, path, ret_err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* Undo what a failed open attached; what it updated keeps the new program. */
static void attach_rollback(struct lb_socklb *s)
{
	for (size_t i = 0; i < s->n_links; i++)
		if (s->fresh[i])
			(void)bpf_link__unpin(s->links[i]);
}

int lb_socklb_open(const struct lb_ebpf_config *cfg, struct lb_socklb **ret, char **ret_err)
{
	_cleanup_(lb_socklb_freep) struct lb_socklb *s = NULL;
	struct cgroup_ref *cgs = NULL;
	size_t n_cgs = 0, n_names = 0;
	char **names = NULL;
	struct statfs sfs;
	int r;

	if (!cfg->pin_dir || !cfg->cgroups || !cfg->cgroups[0])
		return lb_ebpf_fail(ret_err, -EINVAL, "socket LB: needs a pin dir and a cgroup");
	if (statfs(cfg->pin_dir, &sfs) < 0)
		return lb_ebpf_fail(ret_err, -errno, "socket LB: pin dir %s", cfg->pin_dir);
	if (sfs.f_type != BPF_FS_MAGIC)
		return lb_ebpf_fail(ret_err, -EINVAL, "socket LB: pin dir %s is not a bpffs", cfg->pin_dir);
	r = cgroups_open(cfg->cgroups, &cgs, &n_cgs, ret_err);
	if (r < 0)
		return r;

	_cleanup_free_ char *links_dir = xasprintf("%s/links", cfg->pin_dir);
	s = xnew(struct lb_socklb, 1);
	r = skel_open(cfg, &s->skel, ret_err);
	if (r >= 0)
		r = attach_all(s, links_dir, cgs, n_cgs, &names, &n_names, ret_err);
	if (r >= 0) {
		/* Cgroups no longer named lose the hooks an earlier run gave them. */
		r = links_prune(links_dir, names, n_names);
		if (r < 0)
			r = lb_ebpf_fail(ret_err, r, "socket LB: detach stale links in %s", links_dir);
	}
	if (r < 0)
		attach_rollback(s);
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	cgroups_close(cgs, n_cgs);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(s);
	return 0;
}

struct lb_socklb *lb_socklb_free(struct lb_socklb *s)
{
	if (!s)
		return NULL;
	/* Closing a pinned link's fd leaves it attached: the pin holds it. */
	for (size_t i = 0; i < s->n_links; i++)
		bpf_link__destroy(s->links[i]);
	free(s->links);
	free(s->fresh);
	sock_lb__destroy(s->skel);
	free(s);
	return NULL;
}

int lb_socklb_cleanup(const char *pin_dir)
{
	_cleanup_free_ char *links_dir = xasprintf("%s/links", pin_dir);
	int r = links_prune(links_dir, NULL, 0);

	/* Our own maps; the shared ones are the loader's. */
	for (size_t i = 0; i < ARRAY_SIZE(own_maps); i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", pin_dir, own_maps[i]);
		if (unlink(path) < 0 && errno != ENOENT && r == 0)
			r = -errno;
	}
	/* The loader may keep its own links there: only an empty dir goes. */
	(void)rmdir(links_dir);
	return r;
}
