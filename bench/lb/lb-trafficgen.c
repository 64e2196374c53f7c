/* bench/lb: a paced UDP source and an XDP sink for the load-balancer
 * benchmark, both on veths in namespaces the driver made.
 *
 *   lb-trafficgen send -i IFACE -m DSTMAC -s SRCIP -d DSTIP:PORT -r PPS -t SECONDS
 *                      [-f FLOWS] [-p SPORT] [-b BATCH] [-R REPEAT]
 *   lb-trafficgen sink IFACE
 *   lb-trafficgen fwd IFACE OUT_IFACE NEXTHOP_MAC [fib]
 *
 * send: 60-byte UDP/IPv4 frames (64 on a wire with the FCS), source ports
 * SPORT .. SPORT+FLOWS-1 in turn, out of IFACE as xdp_frames: the kernel's
 * BPF_PROG_TEST_RUN live-frames mode runs xdp_gen (lb_trafficgen.bpf.c) on
 * REPEAT frames per call (default BATCH, 32), flushed every BATCH, and
 * redirects them, so the veth peer sees frames as
 * from a NIC driver and no skb is made on the sending side. Calls are paced
 * on CLOCK_MONOTONIC to PPS; after a stall (this process was not
 * scheduled) the lost time is counted in late_calls rather than sent in one
 * burst, so the measured rate can fall short of PPS. Prints one JSON line.
 * sink: attaches xdp_sink (XDP_DROP) to IFACE and exits; it stays until the
 * interface or its namespace goes. veth counts the drops per queue
 * (ethtool -S: rx_queue_N_xdp_drops).
 * fwd: attaches xdp_fwd to IFACE: every frame gets NEXTHOP_MAC and
 * OUT_IFACE's address and leaves by OUT_IFACE (the floor a forwarding XDP
 * program cannot go below on this path); it stays like the sink. With
 * "fib", the next hop and interface come from bpf_fib_lookup instead, as a
 * routing XDP load balancer's do. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include "base/base.h"
#include "lb_trafficgen.skel.h"

#define FRAME_LEN 60
#define MAX_BATCH 256

struct gen_opts {
	const char *ifname;
	uint8_t dst_mac[6];
	struct in_addr src, dst;
	uint16_t dport, sport;
	uint64_t pps, seconds, flows, batch, repeat;
};

_noreturn_ static void usage(void)
{
	fprintf(stderr, "usage: lb-trafficgen send -i IFACE -m DSTMAC -s SRCIP -d DSTIP:PORT -r PPS "
			"-t SECONDS [-f FLOWS] [-p SPORT] [-b BATCH] [-R REPEAT]\n"
			"       lb-trafficgen sink IFACE\n"
			"       lb-trafficgen fwd IFACE OUT_IFACE NEXTHOP_MAC [fib]\n");
	exit(2);
}

static uint64_t number(const char *s, uint64_t min, uint64_t max)
{
	uint64_t v;
	if (parse_u64(s, strlen(s), &v) < 0 || v < min || v > max)
		usage();
	return v;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned b[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	return 0;
}

static int if_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {0};
	_cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		return -errno;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

/* Ones'-complement sum of big-endian 16-bit words, folded to 16 bits. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* The template frame (source port and UDP checksum zero) and the UDP
 * checksum's sum over everything but the source port. */
static void build_frame(const struct gen_opts *o, const uint8_t src_mac[6], uint8_t f[FRAME_LEN],
			uint32_t *ret_partial)
{
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint16_t ip_len = FRAME_LEN - 14, udp_len = ip_len - 20;

	memset(f, 0, FRAME_LEN);
	memcpy(f, o->dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	ip[0] = 0x45;
	ip[2] = (uint8_t)(ip_len >> 8);
	ip[3] = (uint8_t)ip_len;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &o->src, 4);
	memcpy(ip + 16, &o->dst, 4);
	uint16_t c = (uint16_t)~csum_add(0, ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	udp[2] = (uint8_t)(o->dport >> 8);
	udp[3] = (uint8_t)o->dport;
	udp[4] = (uint8_t)(udp_len >> 8);
	udp[5] = (uint8_t)udp_len;

	uint8_t pseudo[12] = {0};
	memcpy(pseudo, ip + 12, 8);
	pseudo[9] = IPPROTO_UDP;
	pseudo[10] = (uint8_t)(udp_len >> 8);
	pseudo[11] = (uint8_t)udp_len;
	*ret_partial = csum_add(csum_add(0, pseudo, sizeof(pseudo)), udp, udp_len);
}

static void sleep_until(uint64_t t_ns)
{
	struct timespec ts = {.tv_sec = (time_t)(t_ns / 1000000000ull),
			      .tv_nsec = (long)(t_ns % 1000000000ull)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int cmd_send(const struct gen_opts *o)
{
	int ifindex = (int)if_nametoindex(o->ifname);
	uint8_t src_mac[6], frame[FRAME_LEN];
	uint32_t partial;

	if (!ifindex || if_mac(o->ifname, src_mac) < 0) {
		fprintf(stderr, "lb-trafficgen: interface %s: %s\n", o->ifname, strerror(errno));
		return 1;
	}
	build_frame(o, src_mac, frame, &partial);

	struct lb_trafficgen *skel = lb_trafficgen__open();
	if (!skel) {
		fprintf(stderr, "lb-trafficgen: open: %s\n", strerror(errno));
		return 1;
	}
	memcpy((void *)skel->rodata->gen_hdr, frame, sizeof(skel->rodata->gen_hdr));
	skel->rodata->gen_ifindex = (__u32)ifindex;
	skel->rodata->gen_flows = (__u32)o->flows;
	skel->rodata->gen_sport_base = o->sport;
	skel->rodata->gen_ucsum_partial = partial;
	if (lb_trafficgen__load(skel) < 0) {
		fprintf(stderr, "lb-trafficgen: load: %s\n", strerror(errno));
		lb_trafficgen__destroy(skel);
		return 1;
	}

	/* BPF_PROG_TEST_RUN puts an XDP program into the kernel's XDP dispatcher
	 * and takes it out again, a ~30 ms code patch each call, unless the
	 * program is attached somewhere already: hold it on this namespace's
	 * lo (generic mode; nothing else in the namespace talks on lo). */
	struct bpf_link *hold = bpf_program__attach_xdp(skel->progs.xdp_gen, (int)if_nametoindex("lo"));
	if (!hold) {
		fprintf(stderr, "lb-trafficgen: attach xdp_gen to lo: %s\n", strerror(errno));
		lb_trafficgen__destroy(skel);
		return 1;
	}
	/* Sleeps end within a microsecond or two of the deadline. */
	(void)prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	struct xdp_md md = {.data_end = FRAME_LEN, .ingress_ifindex = (__u32)ifindex};
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame, .data_size_in = FRAME_LEN,
		    .ctx_in = &md, .ctx_size_in = sizeof(md), .repeat = (__u32)o->repeat,
		    .batch_size = (__u32)o->batch, .flags = BPF_F_TEST_XDP_LIVE_FRAMES);
	int prog = bpf_program__fd(skel->progs.xdp_gen);
	double gap_ns = (double)o->repeat * 1e9 / (double)o->pps;
	uint64_t t0 = now_mono_ns(), end = t0 + o->seconds * 1000000000ull;
	uint64_t calls = 0, late = 0, t = t0;
	double due = (double)t0;
	int rc = 0;

	while (t < end) {
		/* After a stall, catch up by at most 4 calls: more, back to back,
		 * would overflow the peer's 256-frame ring for nothing. */
		if ((double)t > due + 4 * gap_ns) {
			late++;
			due = (double)t;
		}
		if (due > (double)t)
			sleep_until((uint64_t)due);
		due += gap_ns;
		if (bpf_prog_test_run_opts(prog, &run) < 0) {
			fprintf(stderr, "lb-trafficgen: BPF_PROG_TEST_RUN: %s\n", strerror(errno));
			rc = 1;
			break;
		}
		calls++;
		t = now_mono_ns();
	}
	double secs = (double)(t - t0) / 1e9;
	uint64_t sent = calls * o->repeat;
	printf("{\"sent\":%llu,\"seconds\":%.3f,\"pps\":%.0f,\"batch\":%llu,\"late_calls\":%llu,"
	       "\"flows\":%llu}\n",
	       (unsigned long long)sent, secs, secs > 0 ? (double)sent / secs : 0.0,
	       (unsigned long long)o->batch, (unsigned long long)late,
	       (unsigned long long)o->flows);
	bpf_link__destroy(hold);
	lb_trafficgen__destroy(skel);
	return rc;
}

/* Attach one of the object's programs to ifname (netlink: it outlives us). */
static int attach(struct lb_trafficgen *skel, struct bpf_program *prog, const char *ifname)
{
	int ifindex = (int)if_nametoindex(ifname);
	int r = ifindex ? bpf_xdp_attach(ifindex, bpf_program__fd(prog), XDP_FLAGS_DRV_MODE, NULL)
			: -errno;

	if (r < 0)
		fprintf(stderr, "lb-trafficgen: attach %s to %s: %s\n", bpf_program__name(prog), ifname,
			strerror(-r));
	lb_trafficgen__destroy(skel);
	return r < 0 ? 1 : 0;
}

static int cmd_sink(const char *ifname)
{
	struct lb_trafficgen *skel = lb_trafficgen__open_and_load();

	if (!skel) {
		fprintf(stderr, "lb-trafficgen: load: %s\n", strerror(errno));
		return 1;
	}
	return attach(skel, skel->progs.xdp_sink, ifname);
}

static int cmd_fwd(const char *ifname, const char *out, const char *nexthop, bool fib)
{
	int out_ifindex = (int)if_nametoindex(out);
	uint8_t macs[12];
	struct lb_trafficgen *skel;

	if (!out_ifindex || parse_mac(nexthop, macs) < 0 || if_mac(out, macs + 6) < 0)
		usage();
	skel = lb_trafficgen__open();
	if (!skel) {
		fprintf(stderr, "lb-trafficgen: open: %s\n", strerror(errno));
		return 1;
	}
	skel->rodata->fwd_ifindex = (__u32)out_ifindex;
	skel->rodata->fwd_fib = fib;
	memcpy((void *)skel->rodata->fwd_macs, macs, sizeof(macs));
	if (lb_trafficgen__load(skel) < 0) {
		fprintf(stderr, "lb-trafficgen: load: %s\n", strerror(errno));
		lb_trafficgen__destroy(skel);
		return 1;
	}
	return attach(skel, skel->progs.xdp_fwd, ifname);
}

int main(int argc, char **argv)
{
	struct gen_opts o = {.sport = 10000, .flows = 1024, .batch = 32};
	bool have_mac = false, have_src = false, have_dst = false;
	int opt;

	if (argc == 3 && streq(argv[1], "sink"))
		return cmd_sink(argv[2]);
	if ((argc == 5 || (argc == 6 && streq(argv[5], "fib"))) && streq(argv[1], "fwd"))
		return cmd_fwd(argv[2], argv[3], argv[4], argc == 6);
	if (argc < 2 || !streq(argv[1], "send"))
		usage();
	optind = 2;
	while ((opt = getopt(argc, argv, "i:m:s:d:r:t:f:p:b:R:")) != -1) {
		switch (opt) {
		case 'i': o.ifname = optarg; break;
		case 'm': have_mac = parse_mac(optarg, o.dst_mac) == 0; break;
		case 's': have_src = inet_pton(AF_INET, optarg, &o.src) == 1; break;
		case 'd': {
			char *colon = strrchr(optarg, ':');
			if (!colon)
				usage();
			*colon = '\0';
			have_dst = inet_pton(AF_INET, optarg, &o.dst) == 1;
			o.dport = (uint16_t)number(colon + 1, 1, 65535);
			break;
		}
		case 'r': o.pps = number(optarg, 1, 100000000); break;
		case 't': o.seconds = number(optarg, 1, 3600); break;
		case 'f': o.flows = number(optarg, 1, 65535); break;
		case 'p': o.sport = (uint16_t)number(optarg, 1, 65535); break;
		case 'b': o.batch = number(optarg, 1, MAX_BATCH); break;
		case 'R': o.repeat = number(optarg, 1, 1u << 20); break;
		default: usage();
		}
	}
	if (!o.repeat)
		o.repeat = o.batch;
	if (optind != argc || !o.ifname || !have_mac || !have_src || !have_dst || !o.pps ||
	    !o.seconds || o.sport + o.flows - 1 > 65535)
		usage();
	return cmd_send(&o);
}
