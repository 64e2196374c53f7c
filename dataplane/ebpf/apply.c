/* The compiled table into the maps, and back out of them after a restart.
 *
 * Writes follow the table's order of safety: rings, then the backends they
 * name, then the services that point at them, then the emptying of what
 * nothing points at any more. Services and backends are written only where
 * they differ from the last table applied (a private copy), so a sync that
 * changes one Service of 10,000 costs a few map updates, not 10,000. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "base/base.h"
#include "dataplane/ebpf/internal.h"
#include "xdp_lb.skel.h"

/* ---- the table ---------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;
	return x < y ? -1 : x > y;
}

/* n values at keys first, first+1, ... of an array map, in batches. */
static int array_write(int fd, __u32 first, const void *vals, __u32 n, size_t vsize)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
	enum { CHUNK = 65536 };
	_cleanup_free_ __u32 *keys = xnew(__u32, MIN(n, (__u32)CHUNK));

	for (__u32 done = 0; done < n;) {
		__u32 c = MIN(n - done, (__u32)CHUNK);
		for (__u32 i = 0; i < c; i++)
			keys[i] = first + done + i;
		__u32 count = c;
		if (bpf_map_update_batch(fd, keys, (const char *)vals + (size_t)done * vsize, &count, &o) < 0)
			return -errno;
		done += c;
	}
	return 0;
}

static int rings_write(struct lb_ebpf *e, const struct lb_table *t, const __u32 *arena,
		       __u32 arena_size, const struct lb_delta *delta)
{
	const struct lb_service *svcs = lb_table_services(t);
	int fd = bpf_map__fd(e->skel->maps.lb_rings);
	_cleanup_free_ __u32 *want = NULL;
	__u32 n_want = 0;

	if (delta) {
		n_want = delta->n_rings_written;
		want = xnew(__u32, n_want);
		memcpy(want, delta->rings_written, n_want * sizeof(__u32));
		qsort(want, n_want, sizeof(__u32), cmp_u32);
	}
	for (__u32 i = 0; i < t->n_services; i++) {
		const struct lb_service *s = &svcs[i];
		if (s->ring_size == 0 ||
		    (delta && !bsearch(&s->ring_off, want, n_want, sizeof(__u32), cmp_u32)))
			continue;
		if ((__u64)s->ring_off + s->ring_size > arena_size ||
		    (__u64)s->ring_off + s->ring_size > e->ring_slots)
			return -ENOSPC;
		int r = array_write(fd, s->ring_off, arena + s->ring_off, s->ring_size, sizeof(__u32));
		if (r < 0)
			return r;
	}
	return 0;
}

/* Must slot i of be be written this time? Live slots (id != 0) before the
 * services move, emptied ones after; only those that differ from what the
 * last table applied (old, NULL: unknown) had there. */
static bool backend_due(const struct lb_backend *be, __u32 i, const struct lb_table *old,
			bool live)
{
	if ((be[i].id != 0) != live)
		return false;
	if (!old || i >= old->n_backends)
		return live; /* beyond the old table: the hwm tail clears those */
	return memcmp(&be[i], &lb_table_backends(old)[i], sizeof(be[i])) != 0;
}

/* The runs of slots backend_due() picks, each written as one batch. */
static int backends_write_runs(int fd, const struct lb_backend *be, __u32 n,
			       const struct lb_table *old, bool live)
{
	for (__u32 i = 0; i < n;) {
		if (!backend_due(be, i, old, live)) {
			i++;
			continue;
		}
		__u32 k = i;
		while (k < n && backend_due(be, k, old, live))
			k++;
		int r = array_write(fd, i, be + i, k - i, sizeof(*be));
		if (r < 0)
			return r;
		i = k;
	}
	return 0;
}

/* Before the services move: every backend the new rings name. */
static int backends_write_live(struct lb_ebpf *e, const struct lb_table *t)
{
	if (t->n_backends > e->max_backends)
		return -ENOSPC;
	return backends_write_runs(bpf_map__fd(e->skel->maps.lb_backends), lb_table_backends(t),
				   t->n_backends, e->applied, true);
}

/* After: slots no longer used read as empty (id 0), so conntrack sees those
 * backends gone. Until the services had moved, old rings still named them. */
static int backends_clear_dropped(struct lb_ebpf *e, const struct lb_table *t)
{
	int fd = bpf_map__fd(e->skel->maps.lb_backends);
	__u32 n = t->n_backends;
	int r = backends_write_runs(fd, lb_table_backends(t), n, e->applied, false);

	if (r == 0 && e->backends_hwm > n) {
		_cleanup_free_ struct lb_backend *zero = xnew(struct lb_backend, e->backends_hwm - n);
		r = array_write(fd, n, zero, e->backends_hwm - n, sizeof(struct lb_backend));
	}
	if (r == 0)
		e->backends_hwm = n;
	return r;
}

/* Without a copy of what the map holds: every key t does not have. */
static int services_delete_walk(int fd, const struct lb_table *t)
{
	struct lb_vip_key key, next, *gone = NULL;
	size_t n_gone = 0;
	int r = 0;

	/* Collected first: the walk must not see deletes. */
	for (void *prev = NULL; bpf_map_get_next_key(fd, prev, &next) == 0; prev = &key) {
		key = next;
		if (!lb_table_find(t, &key)) {
			gone = xrealloc(gone, (n_gone + 1) * sizeof(*gone));
			gone[n_gone++] = key;
		}
	}
	for (size_t i = 0; i < n_gone; i++)
		if (bpf_map_delete_elem(fd, &gone[i]) < 0 && errno != ENOENT && r == 0)
			r = -errno;
	free(gone);
	return r;
}

static int services_write(struct lb_ebpf *e, const struct lb_table *t)
{
	int fd = bpf_map__fd(e->skel->maps.lb_services);
	const struct lb_table *old = e->applied;
	const struct lb_service *svcs = lb_table_services(t);

	if (t->n_services > e->max_services)
		return -ENOSPC;
	for (__u32 i = 0; i < t->n_services; i++) {
		const struct lb_service *o = old ? lb_table_find(old, &svcs[i].key) : NULL;
		if (o && !memcmp(o, &svcs[i], sizeof(*o)))
			continue;
		if (bpf_map_update_elem(fd, &svcs[i].key, &svcs[i], BPF_ANY) < 0)
			return -errno;
	}
	if (!old)
		return services_delete_walk(fd, t);
	const struct lb_service *olds = lb_table_services(old);
	for (__u32 i = 0; i < old->n_services; i++)
		if (!lb_table_find(t, &olds[i].key) &&
		    bpf_map_delete_elem(fd, &olds[i].key) < 0 && errno != ENOENT)
			return -errno;
	return 0;
}

int lb_ebpf_apply(struct lb_ebpf *e, const struct lb_table *t, const __u32 *arena,
		  __u32 arena_size, const struct lb_delta *delta)
{
	int r;

	if (t->magic != LB_TABLE_MAGIC || t->version != LB_TABLE_VERSION)
		return -EINVAL;
	/* A whole write (no delta) trusts no copy either. */
	if (!delta) {
		free(e->applied);
		e->applied = NULL;
	}
	/* New rings first (in ranges no live service reads), then the
	 * backends they name, then the services that point at them, and only
	 * then the emptying of backends nothing points at any more. */
	r = rings_write(e, t, arena, arena_size, delta);
	if (r >= 0)
		r = backends_write_live(e, t);
	if (r >= 0)
		r = services_write(e, t);
	if (r >= 0)
		r = backends_clear_dropped(e, t);
	free(e->applied);
	e->applied = NULL;
	if (r >= 0) {
		e->applied = xmalloc(t->size);
		memcpy(e->applied, t, t->size);
	}
	return r;
}

/* ---- what an earlier run left ---------------------------------------------------------------- */

/* vals[0..n) from keys 0, 1, ... of an array map, in batches. */
static int array_read(int fd, __u32 n, void *vals, size_t vsize)
{
	LIBBPF_OPTS(bpf_map_batch_opts, o);
	enum { CHUNK = 65536 };
	_cleanup_free_ __u32 *keys = xnew(__u32, MIN(n, (__u32)CHUNK));
	__u32 last = 0, done = 0;

	while (done < n) {
		__u32 count = MIN(n - done, (__u32)CHUNK);
		int r = bpf_map_lookup_batch(fd, done ? &last : NULL, &last, keys,
					     (char *)vals + (size_t)done * vsize, &count, &o);
		if (r < 0 && errno != ENOENT)
			return -errno;
		done += count;
		if (r < 0 || count == 0)
			break;
	}
	return done == n ? 0 : -EIO;
}

int lb_ebpf_snapshot(struct lb_ebpf *e, struct lb_backend **ret_be, __u32 *ret_n_be,
		     struct lb_service **ret_svcs, __u32 *ret_n_svcs)
{
	_cleanup_free_ struct lb_backend *be = xnew(struct lb_backend, e->max_backends);
	_cleanup_free_ struct lb_service *svcs = NULL;
	int fd = bpf_map__fd(e->skel->maps.lb_services);
	struct lb_vip_key key, next;
	__u32 n_be = e->max_backends, n = 0, cap = 0;
	int r = array_read(bpf_map__fd(e->skel->maps.lb_backends), n_be, be, sizeof(*be));

	if (r < 0)
		return r;
	while (n_be && !be[n_be - 1].id)
		n_be--;
	for (void *prev = NULL; bpf_map_get_next_key(fd, prev, &next) == 0; prev = &key) {
		key = next;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			svcs = xrealloc(svcs, cap * sizeof(*svcs));
		}
		if (bpf_map_lookup_elem(fd, &key, &svcs[n]) < 0) {
			if (errno != ENOENT)
				return -errno;
			continue;
		}
		svcs[n++].key = key;
	}
	*ret_be = xrealloc(TAKE_PTR(be), (size_t)n_be * sizeof(struct lb_backend));
	*ret_n_be = n_be;
	*ret_svcs = TAKE_PTR(svcs);
	*ret_n_svcs = n;
	return 0;
}

int lb_ebpf_snapshot_rings(struct lb_ebpf *e, const struct lb_service *svcs, __u32 n_svcs,
			   __u32 **ret_slots, __u32 *ret_n_slots)
{
	__u32 n = 0;

	/* A ring past the map's end was never written (lb_ebpf_apply refuses it). */
	for (__u32 i = 0; i < n_svcs; i++)
		if ((__u64)svcs[i].ring_off + svcs[i].ring_size <= e->ring_slots)
			n = MAX(n, svcs[i].ring_off + svcs[i].ring_size);
	_cleanup_free_ __u32 *slots = xnew(__u32, n);
	int r = array_read(bpf_map__fd(e->skel->maps.lb_rings), n, slots, sizeof(__u32));
	if (r < 0)
		return r;
	*ret_slots = TAKE_PTR(slots);
	*ret_n_slots = n;
	return 0;
}

