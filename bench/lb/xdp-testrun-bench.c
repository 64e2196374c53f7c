/* bench/lb: what bpf/xdp_lb costs per packet, as the kernel times it under
 * BPF_PROG_TEST_RUN (loaded with maps of its own, never attached): a 64-byte
 * UDP frame (60 bytes without the FCS) to a VIP, DNAT, sent back out of the
 * interface it came in on (XDP_TX; the FIB is not asked), with 1k and then
 * 100k client flows already in conntrack. Prints one JSON object.
 *
 *   xdp-testrun-bench [-r REPEAT] [-n ROUNDS] [-f FRAMES]
 *
 *   -r  repeat for the established flow (default 10000)
 *   -n  rounds; every figure is the median over them (default 5)
 *   -f  new flows per round (default 2000)
 *
 * Established: the test run hands the program the same buffer on every
 * repeat, and the program rewrites it in place, so the second run would see
 * a backend, not the VIP. Each backend address:port is therefore a service
 * too, whose ring leads back to the VIP: a repeat alternates VIP -> backend
 * and backend -> VIP, two established flows doing the work of one each
 * time. xdp_est_*_ns is the kernel's duration / repeat.
 *
 * New: every frame is a flow conntrack has not seen (its own source port),
 * one test run of repeat 1 each; xdp_new_*_ns is the median of the durations
 * the kernel reports, which include one clock read: xdp_floor_r1_ns is the
 * same for a program that only returns XDP_PASS (and xdp_floor_repeat_ns
 * that program under -r repeats: the test run's own cost per repeat). The
 * round's flows are deleted again, so the table stays at 1k or 100k flows. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <getopt.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <unistd.h>

#include "base/base.h"
#include "bpf/lb_maps.h"
#include "common/samples.h"
#include "xdp_lb.skel.h"

#define FRAME_LEN 60
#define VIP "198.19.0.10"
#define VIP_PORT 53
#define BE_PORT 8080
#define N_BACKENDS 3
#define RING_SIZE 307 /* the compiler's prime above 100 × 3 backends */
#define SVC_VIP 1
#define IDX_VIP N_BACKENDS /* backend slot holding the VIP, for the way back */

struct bench {
	struct xdp_lb *skel;
	int lb_fd, pass_fd, ct_fd;
	__u32 repeat, rounds, frames;
	__u32 flows; /* client flows in conntrack */
	struct lb_backend be[N_BACKENDS + 1];
};

/* ---- frames ------------------------------------------------------------------------- */

static __u32 sum16(const uint8_t *p, size_t n, __u32 s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (__u32)(p[i] << 8 | p[i + 1]);
	return s;
}

static __u16 fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (__u16)~s;
}

/* Ethernet + IPv4 + UDP + 18 bytes, checksums right. */
static void frame_udp4(uint8_t f[FRAME_LEN], __be32 saddr, __be16 sport)
{
	static const uint8_t head[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00};
	uint8_t *ip = f + 14, *udp = ip + 20;
	__be32 daddr;

	memset(f, 0, FRAME_LEN);
	memcpy(f, head, sizeof(head));
	inet_pton(AF_INET, VIP, &daddr);
	ip[0] = 0x45;
	ip[2] = 0, ip[3] = FRAME_LEN - 14;
	ip[6] = 0x40;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	__u16 c = htons(fold(sum16(ip, 20, 0)));
	memcpy(ip + 10, &c, 2);
	memcpy(udp, &sport, 2);
	udp[2] = 0, udp[3] = VIP_PORT;
	udp[5] = FRAME_LEN - 34;
	memset(udp + 8, 'x', FRAME_LEN - 42);
	c = htons(fold(sum16(udp, FRAME_LEN - 34, sum16(ip + 12, 8, IPPROTO_UDP + FRAME_LEN - 34))));
	memcpy(udp + 6, &c, 2);
}

static __be32 client_addr(__u32 net, __u32 i)
{
	return htonl(0xc6120000u | net << 8 | (i & 0xff)); /* 198.18.net.i */
}

static struct lb_addr addr4(__be32 a)
{
	return (struct lb_addr){.a = {0, 0, htonl(0xffff), a}};
}

/* ---- runs ---------------------------------------------------------------------------- */

static int run(int fd, const uint8_t *f, __u32 repeat, __u32 *ret_ns)
{
	uint8_t out[256];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = FRAME_LEN, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o) < 0)
		return -errno;
	if (ret_ns)
		*ret_ns = o.duration;
	return (int)o.retval;
}

/* Client flows [b->flows, n) through the program: conntrack holds n. */
static int populate(struct bench *b, __u32 n)
{
	uint8_t f[FRAME_LEN];

	for (; b->flows < n; b->flows++) {
		__u32 i = b->flows;
		frame_udp4(f, client_addr(128 + i / 50000, 1), htons((__u16)(10000 + i % 50000)));
		int r = run(b->lb_fd, f, 1, NULL);
		if (r != XDP_TX)
			return r < 0 ? r : -EPROTO;
	}
	return 0;
}

static struct lb_counters counters_of(struct bench *b, __u32 id)
{
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ struct lb_counters *v = xnew(struct lb_counters, (size_t)(ncpu > 0 ? ncpu : 1));
	struct lb_counters sum = {0};

	if (ncpu > 0 && bpf_map_lookup_elem(bpf_map__fd(b->skel->maps.lb_counters), &id, v) == 0)
		for (int c = 0; c < ncpu; c++) {
			sum.packets += v[c].packets;
			sum.connections += v[c].connections;
		}
	return sum;
}

/* The established flow: one ping-pong client, repeat runs a round. */
static int measure_est(struct bench *b, double *ret_ns)
{
	uint8_t f[FRAME_LEN];
	_cleanup_(samples_free) struct samples s = {0};
	__u32 ns = 0;

	frame_udp4(f, client_addr(250, 1), htons(40000));
	if (run(b->lb_fd, f, 2, NULL) != XDP_TX) /* both legs into conntrack */
		return -EPROTO;
	__u64 conns = counters_of(b, SVC_VIP).connections;
	for (__u32 i = 0; i < b->rounds; i++) {
		if (run(b->lb_fd, f, b->repeat, &ns) != XDP_TX)
			return -EPROTO;
		samples_add(&s, ns);
	}
	if (counters_of(b, SVC_VIP).connections != conns)
		return -ESTALE; /* a repeat took the new-flow path: not what is measured */
	*ret_ns = samples_pct(&s, 0.5);
	return 0;
}

/* The XDP_PASS program under repeat: what the test run's loop costs. */
static int measure_floor_repeat(struct bench *b, double *ret_ns)
{
	_cleanup_(samples_free) struct samples s = {0};
	uint8_t f[FRAME_LEN];
	__u32 ns = 0;

	frame_udp4(f, client_addr(250, 1), htons(40000));
	for (__u32 i = 0; i < b->rounds; i++) {
		if (run(b->pass_fd, f, b->repeat, &ns) != XDP_PASS)
			return -EPROTO;
		samples_add(&s, ns);
	}
	*ret_ns = samples_pct(&s, 0.5);
	return 0;
}

/* Delete the forward and reply conntrack entries of the flow f made. */
static void ct_forget(struct bench *b, __be32 saddr, __be16 sport)
{
	struct lb_flow k = {.saddr = addr4(saddr), .sport = sport, .dport = htons(VIP_PORT), .proto = IPPROTO_UDP};
	struct lb_ct_val v;

	inet_pton(AF_INET, VIP, &k.daddr.a[3]);
	k.daddr.a[2] = htonl(0xffff);
	if (bpf_map_lookup_elem(b->ct_fd, &k, &v) < 0 || v.backend_idx >= N_BACKENDS)
		return;
	(void)bpf_map_delete_elem(b->ct_fd, &k);
	struct lb_flow rk = {.saddr = b->be[v.backend_idx].addr, .daddr = k.saddr,
			     .sport = b->be[v.backend_idx].port, .dport = sport, .proto = IPPROTO_UDP};
	(void)bpf_map_delete_elem(b->ct_fd, &rk);
}

/* New flows (or, with fd the XDP_PASS program, the test run's floor):
 * frames runs of repeat 1 a round, their median; then median of rounds. */
static int measure_new(struct bench *b, int fd, int want, double *ret_ns)
{
	_cleanup_(samples_free) struct samples rounds = {0};
	_cleanup_(samples_free) struct samples s = {0};
	uint8_t f[FRAME_LEN];
	__u32 ns = 0;

	for (__u32 r = 0; r < b->rounds; r++) {
		samples_reset(&s);
		for (__u32 j = 0; j < b->frames; j++) {
			__be16 sport = htons((__u16)(1024 + j));
			frame_udp4(f, client_addr(251, 1), sport);
			if (run(fd, f, 1, &ns) != want)
				return -EPROTO;
			samples_add(&s, ns);
		}
		samples_add(&rounds, samples_pct(&s, 0.5));
		for (__u32 j = 0; fd == b->lb_fd && j < b->frames; j++)
			ct_forget(b, client_addr(251, 1), htons((__u16)(1024 + j)));
	}
	*ret_ns = samples_pct(&rounds, 0.5);
	return 0;
}

/* ---- setup ---------------------------------------------------------------------------- */

/* The VIP with a ring over three backends; each backend address:port a
 * service whose ring is the VIP (slot IDX_VIP), for the established
 * ping-pong. Config: DNAT, out of loopback (the test run's ingress). */
static int table_write(struct bench *b)
{
	struct xdp_lb *k = b->skel;
	struct lb_config cfg = {.ifindex = if_nametoindex("lo"), .gw_mac = {2, 0, 0, 0, 0, 3},
				.src_mac = {2, 0, 0, 0, 0, 4}};
	__u32 zero = 0, slot;
	int r = 0;

	for (__u32 i = 0; i <= N_BACKENDS; i++) {
		b->be[i] = (struct lb_backend){.addr = addr4(client_addr(1, 2 + i)), .port = htons(BE_PORT),
					       .proto = IPPROTO_UDP, .id = 10 + i};
		if (i == IDX_VIP) {
			inet_pton(AF_INET, VIP, &b->be[i].addr.a[3]);
			b->be[i].port = htons(VIP_PORT);
		}
		r = r ?: bpf_map_update_elem(bpf_map__fd(k->maps.lb_backends), &i, &b->be[i], BPF_ANY);
	}
	for (slot = 0; slot < RING_SIZE; slot++) {
		__u32 idx = slot % N_BACKENDS;
		r = r ?: bpf_map_update_elem(bpf_map__fd(k->maps.lb_rings), &slot, &idx, BPF_ANY);
	}
	__u32 back = IDX_VIP;
	r = r ?: bpf_map_update_elem(bpf_map__fd(k->maps.lb_rings), &slot, &back, BPF_ANY);
	for (__u32 i = 0; i <= N_BACKENDS; i++) {
		const struct lb_backend *to = &b->be[i == 0 ? IDX_VIP : i - 1];
		struct lb_service svc = {.key = {.addr = to->addr, .port = to->port, .proto = IPPROTO_UDP},
					 .id = SVC_VIP + i, .ring_off = i == 0 ? 0 : RING_SIZE,
					 .ring_size = i == 0 ? RING_SIZE : 1, .n_backends = i == 0 ? N_BACKENDS : 1};
		r = r ?: bpf_map_update_elem(bpf_map__fd(k->maps.lb_services), &svc.key, &svc, BPF_ANY);
	}
	if (cfg.ifindex == 0)
		return -ENODEV;
	return r ?: bpf_map_update_elem(bpf_map__fd(k->maps.lb_config), &zero, &cfg, BPF_ANY);
}

/* Load with maps of its own: nothing pinned, nothing attached. */
static int load(struct bench *b)
{
	struct bpf_map *m;

	b->skel = xdp_lb__open();
	if (!b->skel)
		return -errno;
	bpf_object__for_each_map(m, b->skel->obj)
		bpf_map__set_pin_path(m, NULL);
	bpf_map__set_max_entries(b->skel->maps.lb_rings, RING_SIZE + 1);
	bpf_map__set_max_entries(b->skel->maps.lb_backends, 64);
	bpf_map__set_max_entries(b->skel->maps.lb_services, 64);
	bpf_map__set_max_entries(b->skel->maps.lb_counters, 64);
	int r = xdp_lb__load(b->skel);
	if (r < 0)
		return r;
	b->lb_fd = bpf_program__fd(b->skel->progs.xdp_lb);
	b->pass_fd = bpf_program__fd(b->skel->progs.xdp_pass);
	b->ct_fd = bpf_map__fd(b->skel->maps.lb_ct);
	return table_write(b);
}

/* Stay on the CPU we start on: the test run runs there, and so do its
 * per-CPU maps. */
static void pin_cpu(void)
{
	cpu_set_t set;
	int cpu = sched_getcpu();

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

_noreturn_ static void usage(void)
{
	fprintf(stderr, "usage: xdp-testrun-bench [-r REPEAT] [-n ROUNDS] [-f FRAMES]\n");
	exit(2);
}

static __u32 opt_u32(const char *s)
{
	uint64_t v;
	if (parse_u64(s, strlen(s), &v) < 0 || v == 0 || v > 100000000)
		usage();
	return (__u32)v;
}

int main(int argc, char **argv)
{
	struct bench b = {.repeat = 10000, .rounds = 5, .frames = 2000};
	double floor_ns = 0, loop_ns = 0, est[2] = {0}, new[2] = {0};
	int opt, r;

	while ((opt = getopt(argc, argv, "r:n:f:")) != -1) {
		switch (opt) {
		case 'r': b.repeat = opt_u32(optarg); break;
		case 'n': b.rounds = opt_u32(optarg); break;
		case 'f': b.frames = opt_u32(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || b.frames > 60000)
		usage();
	pin_cpu();
	r = load(&b);
	if (r < 0) {
		fprintf(stderr, "xdp-testrun-bench: load bpf/xdp_lb: %s\n", strerror(-r));
		xdp_lb__destroy(b.skel);
		return 1;
	}
	r = measure_new(&b, b.pass_fd, XDP_PASS, &floor_ns);
	r = r ?: measure_floor_repeat(&b, &loop_ns);
	const __u32 sizes[2] = {1000, 100000};
	for (int i = 0; i < 2 && r == 0; i++) {
		r = populate(&b, sizes[i]);
		r = r ?: measure_est(&b, &est[i]);
		r = r ?: measure_new(&b, b.lb_fd, XDP_TX, &new[i]);
	}
	xdp_lb__destroy(b.skel);
	if (r < 0) {
		fprintf(stderr, "xdp-testrun-bench: %s\n", strerror(-r));
		return 1;
	}
	printf("{\"xdp_ns_per_pkt\": %.1f, \"xdp_new_ns_per_pkt\": %.1f, \"xdp_est_1k_ns\": %.1f, "
	       "\"xdp_est_100k_ns\": %.1f, \"xdp_new_1k_ns\": %.1f, \"xdp_new_100k_ns\": %.1f, "
	       "\"xdp_floor_r1_ns\": %.1f, \"xdp_floor_repeat_ns\": %.1f, \"frame_bytes\": %d, "
	       "\"repeat\": %u, \"rounds\": %u, \"new_frames\": %u}\n",
	       est[0], new[0], est[0], est[1], new[0], new[1], floor_ns, loop_ns, FRAME_LEN + 4,
	       b.repeat, b.rounds, b.frames);
	return 0;
}
