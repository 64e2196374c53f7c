/* The XDP and tc programs of bpf/xdp_lb.bpf.c in this kernel, on the packet
 * vectors every executor runs (vectors.txt): loaded, never attached, each
 * frame handed to the program by BPF_PROG_TEST_RUN. For each `table` the
 * test's own (unpinned) maps are emptied and written as the vectors say;
 * each `packet` goes through xdp_lb (direction in) or tc_lb_reply (reply).
 *
 * What the vectors' verdicts are in the kernel's terms:
 *   xdp_lb       pass = XDP_PASS, drop = XDP_DROP, fwd = XDP_TX or
 *                XDP_REDIRECT. lb_config names loopback (the test run's
 *                ingress) as the interface to send on, so a forwarded frame
 *                is XDP_TX with the configured MAC addresses in front; the
 *                FIB, which knows no route to the vectors' backends, is
 *                never asked.
 *   tc_lb_reply  drop = TC_ACT_SHOT; otherwise TC_ACT_OK (here: the FIB
 *                knows no route to the vectors' clients, so the kernel would
 *                route it) or TC_ACT_REDIRECT: fwd when the program rewrote
 *                the frame, pass when it came back byte for byte.
 * The backend a forwarded frame went to is read from the frame itself (its
 * destination, or DSR's outer destination) against the table written.
 *
 * `advance S`: the programs read bpf_ktime_get_ns(), which no test can move,
 * so every timestamp in lb_affinity and lb_ct moves S seconds into the past
 * instead (u64 arithmetic wraps exactly as the program's `now - last_ns`).
 *
 * A vector frame shorter than an Ethernet header is skipped: the kernel
 * refuses to run a program on one (EINVAL); no driver delivers one.
 * Root only (CAP_BPF, CAP_NET_ADMIN). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <stddef.h>
#include <unistd.h>

#include "base/base.h"
#include "bpf/lb_maps.h"
#include "lb_vectors.h"
#include "tap.h"
#include "xdp_lb.skel.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7
#define ETH_HLEN 14
#define OUT_MAX 4096

/* Map sizes for the test: room for what the vectors write, small enough
 * to empty entry by entry between tables. */
#define T_SERVICES 256u
#define T_BACKENDS 256u
#define T_RING_SLOTS 4096u
#define T_FLOWS 4096u
#define T_AFFINITY 1024u
#define T_FRAGS 1024u

static const __u8 gw_mac[6] = {0x02, 0x6b, 0x65, 0x6c, 0x70, 0x01};
static const __u8 src_mac[6] = {0x02, 0x6b, 0x65, 0x6c, 0x70, 0x02};

static struct {
	struct xdp_lb *skel;
	int xdp_fd, tc_fd;
	unsigned lo;   /* ifindex of loopback: where BPF_PROG_TEST_RUN says XDP came in */
	int ncpu;
	struct lb_backend backends[T_BACKENDS]; /* as written, to name a frame's backend */
	struct lbv_file vectors;
	const struct lbv_step *step;
	int step_error;
} T;

/* ---- the maps ----------------------------------------------------------------------- */

static size_t value_bytes(const struct bpf_map *m)
{
	size_t vs = bpf_map__value_size(m);
	if (bpf_map__type(m) == BPF_MAP_TYPE_PERCPU_ARRAY || bpf_map__type(m) == BPF_MAP_TYPE_PERCPU_HASH)
		return ((vs + 7) & ~(size_t)7) * (size_t)T.ncpu;
	return vs;
}

/* Arrays back to zeros, hashes to empty. */
static int map_reset(const struct bpf_map *m)
{
	int fd = bpf_map__fd(m);
	enum bpf_map_type type = bpf_map__type(m);

	if (type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY) {
		_cleanup_free_ void *zero = xcalloc(1, value_bytes(m));
		for (__u32 i = 0; i < bpf_map__max_entries(m); i++)
			if (bpf_map_update_elem(fd, &i, zero, BPF_ANY) < 0)
				return -errno;
		return 0;
	}
	_cleanup_free_ void *key = xcalloc(1, bpf_map__key_size(m));
	while (bpf_map_get_next_key(fd, NULL, key) == 0)
		if (bpf_map_delete_elem(fd, key) < 0)
			return -errno;
	return errno == ENOENT ? 0 : -errno;
}

/* Every entry's u64 at off moves back by ns. Keys are gathered first:
 * updating an LRU map while walking it may move entries. */
static int map_age(const struct bpf_map *m, size_t off, __u64 ns)
{
	int fd = bpf_map__fd(m);
	size_t ks = bpf_map__key_size(m), n = 0;
	_cleanup_free_ __u8 *keys = xcalloc(bpf_map__max_entries(m), ks);
	_cleanup_free_ __u8 *val = xcalloc(1, value_bytes(m));

	for (void *prev = NULL; n < bpf_map__max_entries(m); prev = keys + (n - 1) * ks) {
		if (bpf_map_get_next_key(fd, prev, keys + n * ks) < 0)
			break;
		n++;
	}
	for (size_t i = 0; i < n; i++) {
		__u64 t;
		if (bpf_map_lookup_elem(fd, keys + i * ks, val) < 0)
			continue; /* gone meanwhile */
		memcpy(&t, val + off, sizeof(t));
		t -= ns;
		memcpy(val + off, &t, sizeof(t));
		if (bpf_map_update_elem(fd, keys + i * ks, val, BPF_EXIST) < 0)
			return -errno;
	}
	return 0;
}

static int config_write(const struct lb_config *c)
{
	struct lb_config cfg = *c;
	__u32 zero = 0;

	cfg.ifindex = T.lo;
	memcpy(cfg.gw_mac, gw_mac, 6);
	memcpy(cfg.src_mac, src_mac, 6);
	return bpf_map_update_elem(bpf_map__fd(T.skel->maps.lb_config), &zero, &cfg, BPF_ANY);
}

static struct lb_counters counters_of(__u32 id)
{
	_cleanup_free_ struct lb_counters *v = xnew(struct lb_counters, (size_t)T.ncpu);
	struct lb_counters sum = {0};

	if (bpf_map_lookup_elem(bpf_map__fd(T.skel->maps.lb_counters), &id, v) < 0)
		return sum;
	for (int c = 0; c < T.ncpu; c++) {
		sum.packets += v[c].packets;
		sum.bytes += v[c].bytes;
		sum.connections += v[c].connections;
		sum.no_backend += v[c].no_backend;
	}
	return sum;
}

/* Apply a table directive; 0 or a negative errno. */
static int table_step(const struct lbv_step *s)
{
	struct xdp_lb *k = T.skel;
	int r = 0;

	switch (s->kind) {
	case LBV_TABLE: {
		const struct bpf_map *maps[] = {
			k->maps.lb_services, k->maps.lb_backends, k->maps.lb_rings, k->maps.lb_counters,
			k->maps.lb_affinity, k->maps.lb_ct, k->maps.lb_frag, k->maps.lb_config,
		};
		for (size_t i = 0; i < ARRAY_SIZE(maps) && r == 0; i++)
			r = map_reset(maps[i]);
		memset(T.backends, 0, sizeof(T.backends));
		return r ? r : config_write(&(struct lb_config){0});
	}
	case LBV_CONFIG:
		return config_write(&s->cfg);
	case LBV_BACKEND:
		if (s->idx >= T_BACKENDS)
			return -ERANGE;
		T.backends[s->idx] = s->be;
		return bpf_map_update_elem(bpf_map__fd(k->maps.lb_backends), &s->idx, &s->be, BPF_ANY);
	case LBV_SERVICE:
		/* The ring first: a service is never visible before its ring. */
		for (__u32 i = 0; i < s->svc.ring_size && r == 0; i++) {
			__u32 slot = s->svc.ring_off + i;
			r = bpf_map_update_elem(bpf_map__fd(k->maps.lb_rings), &slot, &s->ring[i], BPF_ANY);
		}
		return r ? r : bpf_map_update_elem(bpf_map__fd(k->maps.lb_services), &s->svc.key, &s->svc, BPF_ANY);
	case LBV_ADVANCE: {
		__u64 ns = (__u64)s->seconds * 1000000000ull;
		r = map_age(k->maps.lb_affinity, offsetof(struct lb_affinity_val, last_ns), ns);
		return r ? r : map_age(k->maps.lb_ct, offsetof(struct lb_ct_val, last_ns), ns);
	}
	default:
		return 0;
	}
}

/* ---- one frame ------------------------------------------------------------------------ */

/* Run frame f (n bytes) through one side: an enum lbv_verdict, or a
 * negative errno; out (OUT_MAX bytes) is the frame after it. */
static int run_frame(bool reply, const uint8_t *f, size_t n, uint8_t *out, size_t *ret_n)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = (__u32)n, .data_out = out,
		    .data_size_out = OUT_MAX, .repeat = 1);

	if (bpf_prog_test_run_opts(reply ? T.tc_fd : T.xdp_fd, &o) < 0)
		return -errno;
	*ret_n = o.data_size_out;
	if (reply) {
		if (o.retval == TC_ACT_SHOT)
			return LBV_DROP;
		if (o.retval != TC_ACT_OK && o.retval != TC_ACT_REDIRECT)
			return -EPROTO;
		return n == *ret_n && memcmp(f, out, n) == 0 ? LBV_PASS : LBV_FWD;
	}
	switch (o.retval) {
	case XDP_PASS:
		return LBV_PASS;
	case XDP_DROP:
		return LBV_DROP;
	case XDP_TX:
	case XDP_REDIRECT:
		return LBV_FWD;
	}
	return -EPROTO;
}

static bool backend_at(int i, const struct lb_addr *a)
{
	return i >= 0 && i < (int)T_BACKENDS && T.backends[i].id &&
	       memcmp(&T.backends[i].addr, a, sizeof(*a)) == 0;
}

/* The backend slot a forwarded frame goes to: one whose address is the
 * frame's (outer) destination, want if it is one of them; -1 when none is. */
static int backend_of(const uint8_t *f, size_t n, int want)
{
	struct lb_addr dst;
	size_t off = 12;

	while (off + 4 <= n && (f[off] == 0x81 || f[off] == 0x88))
		off += 4;
	if (off + 2 > n)
		return -1;
	bool v4 = f[off] == 0x08 && f[off + 1] == 0x00;
	off += 2;
	if (v4 ? off + 20 > n : off + 40 > n)
		return -1;
	memset(&dst, 0, sizeof(dst));
	if (v4) {
		dst.a[2] = htonl(0xffff);
		memcpy(&dst.a[3], f + off + 16, 4);
	} else {
		memcpy(dst.a, f + off + 24, 16);
	}
	if (backend_at(want, &dst))
		return want;
	for (int i = 0; i < (int)T_BACKENDS; i++)
		if (backend_at(i, &dst))
			return i;
	return -1;
}

static void hexdiff(const char *what, const uint8_t *got, size_t gn, const uint8_t *want, size_t wn)
{
	printf("#   %s differs (got %zu bytes, want %zu)\n#   got  ", what, gn, wn);
	for (size_t i = 0; i < gn; i++)
		printf("%02x", got[i]);
	printf("\n#   want ");
	for (size_t i = 0; i < wn; i++)
		printf("%02x", want[i]);
	printf("\n");
}

static void test_vector(void)
{
	const struct lbv_step *s = T.step;
	uint8_t out[OUT_MAX];
	size_t n = 0;

	int v = run_frame(s->reply, s->frame, s->frame_len, out, &n);
	if (v == -EINVAL && s->frame_len < ETH_HLEN)
		SKIP("the kernel runs no program on a frame shorter than an Ethernet header");
	if (v < 0)
		printf("#   BPF_PROG_TEST_RUN: %s\n", strerror(-v));
	CHECK_INT(v, s->verdict);
	if (v == LBV_FWD && s->verdict == LBV_FWD) {
		if (n < 12 || n - 12 != s->out_len || memcmp(out + 12, s->out, s->out_len)) {
			hexdiff("frame", out + 12, n >= 12 ? n - 12 : 0, s->out, s->out_len);
			CHECK(!"rewritten frame as expected");
		}
		const char *bad = lbv_verify_frame(out, n);
		if (bad)
			printf("#   %s\n", bad);
		CHECK(bad == NULL);
		if (!s->reply) {
			CHECK(memcmp(out, gw_mac, 6) == 0 && memcmp(out + 6, src_mac, 6) == 0);
			if (s->backend >= 0)
				CHECK_INT(backend_of(out, n, s->backend), s->backend);
		}
	} else if (v >= 0 && (n != s->frame_len || memcmp(out, s->frame, n))) {
		hexdiff("untouched frame", out, n, s->frame, s->frame_len);
		CHECK(!"frame untouched");
	}
	if (tap_.cur_failed)
		printf("#   at vectors.txt:%d\n", s->line);
}

static void test_counters(void)
{
	const struct lbv_step *s = T.step;
	struct lb_counters c = counters_of(s->svc.id);

	CHECK_INT(c.packets, s->counters.packets);
	CHECK_INT(c.bytes, s->counters.bytes);
	CHECK_INT(c.connections, s->counters.connections);
	CHECK_INT(c.no_backend, s->counters.no_backend);
	if (tap_.cur_failed)
		printf("#   at vectors.txt:%d\n", s->line);
}

/* A table directive the maps refused (reported as a failed test point). */
static void test_table_step_failed(void)
{
	printf("#   %s at vectors.txt:%d\n", strerror(-T.step_error), T.step->line);
	CHECK_INT(T.step_error, 0);
}

/* ---- every frame cut short ------------------------------------------------------------ */

/* The IP header the kernel wants whole before it runs a tc program on a
 * frame (BPF_PROG_TEST_RUN refuses shorter ones): 0 for non-IP. */
static size_t ip_hlen_min(const uint8_t *f)
{
	if (f[12] == 0x08 && f[13] == 0x00)
		return 20;
	if (f[12] == 0x86 && f[13] == 0xdd)
		return 40;
	return 0;
}

/* The vectors again on fresh maps, each frame cut at every length the
 * kernel accepts (the tc test run wants an Ethernet frame's IP header
 * whole): a frame the program rewrites is a whole, valid one. */
static void test_truncated_frames_rewritten_only_whole(void)
{
	unsigned rewritten = 0, errors = 0;
	uint8_t out[OUT_MAX];

	for (size_t i = 0; i < T.vectors.n; i++) {
		const struct lbv_step *s = &T.vectors.steps[i];
		if (s->kind != LBV_PACKET) {
			CHECK_INT(table_step(s), 0);
			continue;
		}
		for (size_t cut = ETH_HLEN; cut <= s->frame_len; cut++) {
			size_t n = 0;
			int v = run_frame(s->reply, s->frame, cut, out, &n);
			if (v == -EINVAL && s->reply && cut < ETH_HLEN + ip_hlen_min(s->frame))
				continue;
			errors += v < 0;
			if (v != LBV_FWD)
				continue;
			rewritten++;
			const char *bad = lbv_verify_frame(out, n);
			if (bad)
				printf("#   %s cut at %zu: %s\n", s->name, cut, bad);
			CHECK(bad == NULL);
		}
	}
	CHECK_INT(errors, 0);
	CHECK(rewritten > 0);
}

/* ---- load ------------------------------------------------------------------------------ */

static void test_vectors_load(void)
{
	int line = 0;
	int r = lbv_load(lbv_path(), &T.vectors, &line);
	if (r < 0)
		printf("# %s: %s (line %d)\n", lbv_path(), strerror(-r), line);
	CHECK_INT(r, 0);
	CHECK(T.vectors.n > 50);
}

/* Open, size and load the programs with maps of their own: nothing pinned,
 * so the test never meets a running proxy's maps. */
static void test_programs_load_into_kernel(void)
{
	struct xdp_lb *k = xdp_lb__open();
	struct bpf_map *m;

	CHECK(k != NULL);
	if (!k)
		return;
	bpf_object__for_each_map(m, k->obj)
		CHECK(bpf_map__set_pin_path(m, NULL) == 0);
	const struct {
		struct bpf_map *map;
		__u32 n;
	} sizes[] = {
		{k->maps.lb_services, T_SERVICES}, {k->maps.lb_counters, T_SERVICES},
		{k->maps.lb_backends, T_BACKENDS}, {k->maps.lb_rings, T_RING_SLOTS},
		{k->maps.lb_affinity, T_AFFINITY}, {k->maps.lb_ct, T_FLOWS},
		{k->maps.lb_frag, T_FRAGS},
	};
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++)
		CHECK(bpf_map__set_max_entries(sizes[i].map, sizes[i].n) == 0);
	int r = xdp_lb__load(k);
	if (r < 0) {
		printf("# load: %s (the verifier's log is on stderr)\n", strerror(-r));
		CHECK_INT(r, 0);
		xdp_lb__destroy(k);
		return;
	}
	T.skel = k;
	T.xdp_fd = bpf_program__fd(k->progs.xdp_lb);
	T.tc_fd = bpf_program__fd(k->progs.tc_lb_reply);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (CAP_BPF) to load programs\n");
		return 0;
	}
	T.ncpu = libbpf_num_possible_cpus();
	T.lo = if_nametoindex("lo");
	RUN(test_vectors_load);
	RUN(test_programs_load_into_kernel);
	if (!T.skel || T.ncpu <= 0 || T.lo == 0) {
		lbv_free(&T.vectors);
		return tap_done();
	}
	for (size_t i = 0; i < T.vectors.n; i++) {
		T.step = &T.vectors.steps[i];
		if (T.step->kind == LBV_PACKET)
			tap_run_(T.step->name, test_vector);
		else if (T.step->kind == LBV_COUNTERS)
			tap_run_("counters", test_counters);
		else if ((T.step_error = table_step(T.step)) < 0)
			tap_run_(T.step->name, test_table_step_failed);
	}
	RUN(test_truncated_frames_rewritten_only_whole);
	xdp_lb__destroy(T.skel);
	lbv_free(&T.vectors);
	return tap_done();
}
