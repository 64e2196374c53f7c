#include "dataplane/ebpf/pins.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>

int lb_ebpf_fail(char **ret_err, int r, const char *fmt, ...)
{
	struct buf b = {0};
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r < 0)
		buf_printf(&b, ": %s", strerror(-r));
	if (ret_err)
		*ret_err = buf_steal(&b);
	else
		buf_free(&b);
	return r < 0 ? r : -EINVAL;
}

/* The netlink filter whose program prog_fd is: only ours, at our handle. */
static void tc_netlink_remove(int prog_fd, const char *ifname)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int ifindex = (int)if_nametoindex(ifname);

	memset(&info, 0, sizeof(info));
	if (ifindex <= 0 || bpf_obj_get_info_by_fd(prog_fd, &info, &len) < 0)
		return;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = LB_TC_HANDLE, .priority = LB_TC_PRIO);
	if (bpf_tc_query(&hook, &o) == 0 && o.prog_id == info.id) {
		o.prog_id = 0;
		o.flags = 0;
		(void)bpf_tc_detach(&hook, &o);
	}
}

int lb_link_remove(const char *dir, const char *name)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_close_ int fd = bpf_obj_get(path);
	int r = 0;

	if (fd >= 0 && bpf_link_detach(fd) < 0) {
		if (errno == EINVAL && str_has_prefix(name, "tc-"))
			tc_netlink_remove(fd, name + strlen("tc-"));
		else if (errno != ENOLINK)
			r = -errno;
	}
	if (unlink(path) < 0 && errno != ENOENT && r == 0)
		r = -errno;
	return r;
}

int lb_links_prune(const char *dir, bool (*keep)(const char *name, void *ctx), void *ctx)
{
	DIR *d = opendir(dir);
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	for (struct dirent *de; (de = readdir(d));) {
		if (de->d_name[0] == '.' || keep(de->d_name, ctx))
			continue;
		int k = lb_link_remove(dir, de->d_name);
		if (k < 0 && r == 0)
			r = k;
	}
	closedir(d);
	return r;
}

/* True when the map pinned under m's name is not what m would create. */
static bool pinned_map_stale(const char *path, struct bpf_map *m, struct bpf_map_info *info)
{
	_cleanup_close_ int fd = bpf_obj_get(path);
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, info, &len) < 0)
		return false;
	return !(info->type == bpf_map__type(m) && info->key_size == bpf_map__key_size(m) &&
		 info->value_size == bpf_map__value_size(m) && info->max_entries == bpf_map__max_entries(m) &&
		 info->map_flags == bpf_map__map_flags(m));
}

static void pinned_map_unpin(const char *path, struct bpf_map *m, const struct bpf_map_info *info,
			     struct buf *note)
{
	if (unlink(path) == 0 && note)
		buf_printf(note, "; replaced pinned map %s (entries %u -> %u, value %u -> %u bytes)",
			   bpf_map__name(m), info->max_entries, bpf_map__max_entries(m), info->value_size,
			   bpf_map__value_size(m));
}

void lb_pinned_map_refresh(const char *pin_dir, struct bpf_map *m, struct buf *note)
{
	lb_pinned_maps_refresh(pin_dir, &m, 1, note);
}

void lb_pinned_maps_refresh(const char *pin_dir, struct bpf_map *const *maps, size_t n, struct buf *note)
{
	bool stale = false;
	for (size_t i = 0; i < n && !stale; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", pin_dir, bpf_map__name(maps[i]));
		struct bpf_map_info info;
		stale = pinned_map_stale(path, maps[i], &info);
	}
	for (size_t i = 0; stale && i < n; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", pin_dir, bpf_map__name(maps[i]));
		struct bpf_map_info info;
		(void)pinned_map_stale(path, maps[i], &info);
		pinned_map_unpin(path, maps[i], &info, note);
	}
}
