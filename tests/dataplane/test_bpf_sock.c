/* The socket LB (bpf/sock_lb.bpf.c, attached by dataplane/ebpf/socklb.c) as
 * a client process sees it: a connect() or sendto() to a ClusterIP reaches
 * one of its backends, the socket reports the VIP as its peer and as the
 * source of replies, processes outside the attached cgroups are untouched,
 * a service with no endpoints refuses, and a restart swaps the programs in
 * place without disturbing connections.
 *
 * Root only; the namespaces, backends, cgroups and client children are
 * sock_env.h's. The table comes from Services and EndpointSlices through
 * the table compiler (dataplane/lbtable), mirrored into the pinned maps. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "base/base.h"
#include "bpf/lb_maps.h"
#include "dataplane/ebpf/socklb.h"
#include "dataplane/lbtable/lbtable.h"
#include "sock_env.h"
#include "tap.h"

#define VIP4 "198.19.0.10"          /* TCP and UDP :80, three backends */
#define VIP6 "2001:2:0:1::10"       /* the same over IPv6 */
#define VIP4_MAPPED "::ffff:198.19.0.10"
#define VIP4_EMPTY "198.19.0.11"    /* no ready endpoint */
#define VIP4_AFFINITY "198.19.0.12" /* sessionAffinity: ClientIP */

/* The services under test, by VIP and protocol. */
enum { S_TCP4, S_UDP4, S_TCP6, S_UDP6, S_EMPTY_TCP, S_EMPTY_UDP, S_AFFINITY, N_SVC };
static const struct {
	const char *vip;
	__u8 proto;
} svcs[N_SVC] = {
	[S_TCP4] = {VIP4, IPPROTO_TCP},          [S_UDP4] = {VIP4, IPPROTO_UDP},
	[S_TCP6] = {VIP6, IPPROTO_TCP},          [S_UDP6] = {VIP6, IPPROTO_UDP},
	[S_EMPTY_TCP] = {VIP4_EMPTY, IPPROTO_TCP}, [S_EMPTY_UDP] = {VIP4_EMPTY, IPPROTO_UDP},
	[S_AFFINITY] = {VIP4_AFFINITY, IPPROTO_TCP},
};

/* ... as a user writes them. */
#define SERVICE(name, ip, family, extra)                                                          \
	"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"" name "\","       \
	"\"namespace\":\"default\"},\"spec\":{\"clusterIP\":\"" ip "\",\"clusterIPs\":[\"" ip "\"],"  \
	"\"ipFamilies\":[\"" family "\"],\"ports\":[{\"name\":\"tcp\",\"port\":80,"                \
	"\"protocol\":\"TCP\",\"targetPort\":8080},{\"name\":\"udp\",\"port\":80,"                 \
	"\"protocol\":\"UDP\",\"targetPort\":8080}]" extra "}}"
#define SLICE(name, svc, type, a1, a2, a3)                                                        \
	"{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{"      \
	"\"name\":\"" name "\",\"namespace\":\"default\",\"labels\":{"                            \
	"\"kubernetes.io/service-name\":\"" svc "\"}},\"addressType\":\"" type "\",\"endpoints\":["  \
	"{\"addresses\":[\"" a1 "\"],\"conditions\":{\"ready\":true}},"                             \
	"{\"addresses\":[\"" a2 "\"],\"conditions\":{\"ready\":true}},"                             \
	"{\"addresses\":[\"" a3 "\"],\"conditions\":{\"ready\":true}}],"                            \
	"\"ports\":[{\"name\":\"tcp\",\"port\":8080,\"protocol\":\"TCP\"},"                       \
	"{\"name\":\"udp\",\"port\":8080,\"protocol\":\"UDP\"}]}"

static const char *const objects[] = {
	SERVICE("web", VIP4, "IPv4", ""),
	SLICE("web-1", "web", "IPv4", "198.18.0.11", "198.18.0.12", "198.18.0.13"),
	SERVICE("web6", VIP6, "IPv6", ""),
	SLICE("web6-1", "web6", "IPv6", "2001:2::11", "2001:2::12", "2001:2::13"),
	SERVICE("empty", VIP4_EMPTY, "IPv4", ""),
	SERVICE("sticky", VIP4_AFFINITY, "IPv4",
		",\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":60}}"),
	SLICE("sticky-1", "sticky", "IPv4", "198.18.0.11", "198.18.0.12", "198.18.0.13"),
};

static struct {
	struct sock_env env;
	struct lb_ebpf_config cfg;
	const char *cgroups[3];
	struct lb_socklb *lb;
	__u32 ids[N_SVC]; /* the compiler's service ids */
	unsigned long want_conns[N_SVC], want_pkts[N_SVC], want_refused[N_SVC];
} T;

/* ---- the maps and the kernel's view ------------------------------------------------------ */

static int pinned(const char *name)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", T.env.pin_dir, name);
	return bpf_obj_get(path);
}

/* Mirror table t into the pinned maps: rings, then backends, then services,
 * as the executor does. */
static void table_mirror(const struct lb_table *t, const __u32 *arena)
{
	_cleanup_close_ int svc_fd = pinned("lb_services"), be_fd = pinned("lb_backends");
	_cleanup_close_ int ring_fd = pinned("lb_rings");
	const struct lb_service *svc = lb_table_services(t);
	const struct lb_backend *be = lb_table_backends(t);

	CHECK(svc_fd >= 0 && be_fd >= 0 && ring_fd >= 0);
	for (__u32 i = 0; i < t->n_services; i++)
		for (__u32 k = svc[i].ring_off; k < svc[i].ring_off + svc[i].ring_size; k++)
			CHECK(bpf_map_update_elem(ring_fd, &k, &arena[k], BPF_ANY) == 0);
	for (__u32 i = 0; i < t->n_backends; i++)
		CHECK(bpf_map_update_elem(be_fd, &i, &be[i], BPF_ANY) == 0);
	for (__u32 i = 0; i < t->n_services; i++)
		CHECK(bpf_map_update_elem(svc_fd, &svc[i].key, &svc[i], BPF_ANY) == 0);
}

static void table_fill(void)
{
	struct lb_compiler *c = lb_compiler_new(&(struct lb_compiler_config){0});
	__u32 arena_size;

	for (size_t i = 0; i < ARRAY_SIZE(objects); i++) {
		json_t *o = json_loads(objects[i], 0, NULL);
		char *err = NULL;
		int r = !o ? -EINVAL
		  : streq(json_string_value(json_object_get(o, "kind")), "Service")
		  ? lb_compiler_set_service(c, o, &err) : lb_compiler_set_slice(c, o, &err);
		CHECK_INT(r, 0);
		if (err)
			printf("# %s\n", err);
		free(err);
		json_decref(o);
	}
	const struct lb_table *t = lb_compiler_build(c, NULL);
	const __u32 *arena = lb_compiler_arena(c, &arena_size);
	CHECK(t && arena_size <= T.cfg.ring_slots);
	if (t && arena_size <= T.cfg.ring_slots)
		table_mirror(t, arena);
	for (int i = 0; t && i < N_SVC; i++) {
		struct lb_vip_key key = {.addr = env_lbaddr(svcs[i].vip), .port = htons(VIP_PORT), .proto = svcs[i].proto};
		const struct lb_service *s = lb_table_find(t, &key);
		CHECK(s != NULL && s->id < T.cfg.max_services);
		T.ids[i] = s ? s->id : 0;
		if (s)
			printf("# %s: id %u, ring %u slots for %u backends\n", lb_compiler_service_name(c, s->id),
			       s->id, s->ring_size, s->n_backends);
	}
	lb_compiler_free(c);
}

static struct lb_counters counters_of(__u32 id)
{
	_cleanup_close_ int fd = pinned("lb_counters");
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ struct lb_counters *v = xnew(struct lb_counters, (size_t)ncpu);
	struct lb_counters sum = {0};

	CHECK(fd >= 0 && bpf_map_lookup_elem(fd, &id, v) == 0);
	for (int c = 0; c < ncpu; c++) {
		sum.packets += v[c].packets;
		sum.connections += v[c].connections;
		sum.no_backend += v[c].no_backend;
	}
	return sum;
}

/* Programs attached directly to cgroup cg for one hook. */
static int progs_on(const char *cg, enum bpf_attach_type type, __u32 *ret_id)
{
	_cleanup_close_ int fd = open(cg, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	__u32 ids[8], n = ARRAY_SIZE(ids);

	if (fd < 0 || bpf_prog_query(fd, type, 0, NULL, ids, &n) < 0)
		return -1;
	if (ret_id && n > 0)
		*ret_id = ids[0];
	return (int)n;
}

static const enum bpf_attach_type hooks[] = {
	BPF_CGROUP_INET4_CONNECT, BPF_CGROUP_INET6_CONNECT, BPF_CGROUP_UDP4_SENDMSG,
	BPF_CGROUP_UDP6_SENDMSG, BPF_CGROUP_UDP4_RECVMSG, BPF_CGROUP_UDP6_RECVMSG,
	BPF_CGROUP_INET4_GETPEERNAME, BPF_CGROUP_INET6_GETPEERNAME,
};

/* Each hook holds n programs on cg. */
static bool hooks_count(const char *cg, int n)
{
	for (size_t i = 0; i < ARRAY_SIZE(hooks); i++)
		if (progs_on(cg, hooks[i], NULL) != n)
			return false;
	return true;
}

/* The id of the link pinned for hook on cgroup cg, and of its program. */
static __u32 link_id(const char *hook, const char *cg, __u32 *ret_prog)
{
	struct stat st;
	if (stat(cg, &st) < 0)
		return 0;
	_cleanup_free_ char *name = xasprintf("links/sock-%s-%llu", hook, (unsigned long long)st.st_ino);
	_cleanup_close_ int fd = pinned(name);
	struct bpf_link_info info = {0};
	__u32 len = sizeof(info);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
		return 0;
	*ret_prog = info.prog_id;
	return info.id;
}

/* Whether any socket of this netns has ip as its local or remote address. */
static bool vip_on_a_socket(const char *ip)
{
	struct lb_addr a = env_lbaddr(ip);
	char v4[16], v6[40];
	snprintf(v4, sizeof(v4), "%08X:", a.a[3]);
	snprintf(v6, sizeof(v6), "%08X%08X%08X%08X:", a.a[0], a.a[1], a.a[2], a.a[3]);
	static const char *const files[] = {"/proc/net/tcp", "/proc/net/udp", "/proc/net/tcp6", "/proc/net/udp6"};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct buf b = {0};
		bool hit = read_file(files[i], 1 << 24, &b) == 0 && strstr(b.data, i < 2 ? v4 : v6);
		buf_free(&b);
		if (hit)
			return true;
	}
	return false;
}

/* ---- the tests ---------------------------------------------------------------------------- */

static void test_refuses_hierarchy_root(void)
{
	_cleanup_free_ char *dotdot = xasprintf("%s/..", T.env.top);
	const char *const bad[][3] = {
		{CGROUP_ROOT, NULL}, {CGROUP_ROOT "/", NULL}, {T.env.pod, dotdot, NULL},
	};
	int before = progs_on(CGROUP_ROOT, BPF_CGROUP_INET4_CONNECT, NULL);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct lb_ebpf_config cfg = T.cfg;
		struct lb_socklb *s = NULL;
		char *err = NULL;
		cfg.cgroups = bad[i];
		CHECK_INT(lb_socklb_open(&cfg, &s, &err), -EINVAL);
		CHECK(s == NULL && err && strstr(err, "root of a cgroup hierarchy"));
		printf("# %s\n", err ? err : "(no message)");
		free(err);
	}
	/* A directory that is no cgroup at all. */
	const char *tmp[] = {T.env.pin_dir, NULL};
	struct lb_ebpf_config cfg = T.cfg;
	struct lb_socklb *s = NULL;
	char *err = NULL;
	cfg.cgroups = tmp;
	CHECK_INT(lb_socklb_open(&cfg, &s, &err), -EINVAL);
	CHECK(err && strstr(err, "not a cgroup v2 directory"));
	free(err);
	/* Nothing was attached anywhere, the pod's cgroup included. */
	CHECK(hooks_count(T.env.pod, 0));
	CHECK_INT(progs_on(CGROUP_ROOT, BPF_CGROUP_INET4_CONNECT, NULL), before);
}

static void test_open_attaches_every_hook(void)
{
	char *err = NULL;
	int r = lb_socklb_open(&T.cfg, &T.lb, &err);
	CHECK_INT(r, 0);
	if (r < 0) {
		printf("# %s\n", err);
		free(err);
		return;
	}
	CHECK(hooks_count(T.env.pod, 1));
	CHECK(hooks_count(T.env.node, 1));
	CHECK(hooks_count(T.env.top, 0));
	__u32 prog = 0;
	CHECK(link_id("connect4", T.env.pod, &prog) != 0 && prog != 0);
	CHECK(link_id("getpeername6", T.env.node, &prog) != 0);
	table_fill();
}

static void test_pod_tcp_reaches_every_backend(void)
{
	const struct job j4 = {.family = AF_INET, .type = SOCK_STREAM, .ip = VIP4, .n = 60};
	const struct job jm = {.family = AF_INET6, .type = SOCK_STREAM, .ip = VIP4_MAPPED, .n = 40};

	struct probe p = env_run_in(T.env.pod, &j4);
	CHECK_INT(p.ok, 60);
	CHECK_INT(p.vip_seen, 60);
	CHECK(env_all_reached(&p));
	printf("# TCP/IPv4 hits %d %d %d\n", p.hits[0], p.hits[1], p.hits[2]);
	T.want_conns[S_TCP4] += (unsigned long)p.ok;

	/* The same VIP v4-mapped on an AF_INET6 socket. */
	p = env_run_in(T.env.pod, &jm);
	CHECK_INT(p.ok, 40);
	CHECK_INT(p.vip_seen, 40);
	CHECK(env_all_reached(&p));
	T.want_conns[S_TCP4] += (unsigned long)p.ok;
}

static void test_pod_udp_replies_come_from_the_vip(void)
{
	const struct job unconnected = {.family = AF_INET, .type = SOCK_DGRAM, .ip = VIP4, .n = 40, .per_sock = 3};
	const struct job connected = {.family = AF_INET, .type = SOCK_DGRAM, .ip = VIP4, .connected = true,
				      .n = 10, .per_sock = 2};
	const struct job mapped = {.family = AF_INET6, .type = SOCK_DGRAM, .ip = VIP4_MAPPED, .n = 10, .per_sock = 2};

	struct probe p = env_run_in(T.env.pod, &unconnected);
	CHECK_INT(p.ok, 120);
	CHECK_INT(p.vip_seen, 120);
	CHECK_INT(p.unsticky, 0); /* one socket's datagrams keep their backend */
	CHECK(env_all_reached(&p));
	T.want_conns[S_UDP4] += 40;
	T.want_pkts[S_UDP4] += 120;

	p = env_run_in(T.env.pod, &connected);
	CHECK_INT(p.ok, 20);
	CHECK_INT(p.vip_seen, 20);
	CHECK_INT(p.unsticky, 0); /* getpeername showed the VIP too */
	T.want_conns[S_UDP4] += 10;

	p = env_run_in(T.env.pod, &mapped);
	CHECK_INT(p.ok, 20);
	CHECK_INT(p.vip_seen, 20);
	T.want_conns[S_UDP4] += 10;
	T.want_pkts[S_UDP4] += 20;
}

static void test_pod_ipv6(void)
{
	const struct job tcp = {.family = AF_INET6, .type = SOCK_STREAM, .ip = VIP6, .n = 40};
	const struct job udp = {.family = AF_INET6, .type = SOCK_DGRAM, .ip = VIP6, .n = 40, .per_sock = 2};

	struct probe p = env_run_in(T.env.pod, &tcp);
	CHECK_INT(p.ok, 40);
	CHECK_INT(p.vip_seen, 40);
	CHECK(env_all_reached(&p));
	T.want_conns[S_TCP6] += (unsigned long)p.ok;

	p = env_run_in(T.env.pod, &udp);
	CHECK_INT(p.ok, 80);
	CHECK_INT(p.vip_seen, 80);
	CHECK_INT(p.unsticky, 0);
	CHECK(env_all_reached(&p));
	T.want_conns[S_UDP6] += 40;
	T.want_pkts[S_UDP6] += 80;
}

static void test_node_process_reaches_every_backend(void)
{
	const struct job j = {.family = AF_INET, .type = SOCK_STREAM, .ip = VIP4, .n = 40};
	struct probe p = env_run_in(T.env.node, &j);
	CHECK_INT(p.ok, 40);
	CHECK_INT(p.vip_seen, 40);
	CHECK(env_all_reached(&p));
	T.want_conns[S_TCP4] += (unsigned long)p.ok;
}

static void test_unattached_process_is_not_translated(void)
{
	const struct job tcp = {.family = AF_INET, .type = SOCK_STREAM, .ip = VIP4, .n = 5};
	const struct job udp = {.family = AF_INET, .type = SOCK_DGRAM, .ip = VIP4, .n = 5, .per_sock = 1};

	/* The VIP has no route in the test's netns: untranslated, it is unreachable. */
	struct probe p = env_run_in(NULL, &tcp);
	CHECK_INT(p.ok, 0);
	CHECK_INT(p.fail, 5);
	CHECK_INT(p.err, ENETUNREACH);
	p = env_run_in(NULL, &udp);
	CHECK_INT(p.ok, 0);
	CHECK_INT(p.err, ENETUNREACH);
}

static void test_empty_service_refuses(void)
{
	const struct job tcp = {.family = AF_INET, .type = SOCK_STREAM, .ip = VIP4_EMPTY, .n = 3};
	const struct job udp = {.family = AF_INET, .type = SOCK_DGRAM, .ip = VIP4_EMPTY, .n = 2, .per_sock = 1};

	struct probe p = env_run_in(T.env.pod, &tcp);
	CHECK_INT(p.ok, 0);
	CHECK_INT(p.fail, 3);
	CHECK_INT(p.err, ECONNREFUSED);
	T.want_refused[S_EMPTY_TCP] += 3;
	p = env_run_in(T.env.pod, &udp);
	CHECK_INT(p.ok, 0);
	CHECK_INT(p.fail, 2);
	CHECK_INT(p.err, ECONNREFUSED);
	T.want_refused[S_EMPTY_UDP] += 2;
}

static void test_client_ip_affinity_keeps_one_backend(void)
{
	const struct job j = {.family = AF_INET, .type = SOCK_STREAM, .ip = VIP4_AFFINITY, .n = 20};
	struct probe a = env_run_in(T.env.pod, &j), b = env_run_in(T.env.node, &j);
	int first = -1;

	CHECK_INT(a.ok, 20);
	CHECK_INT(b.ok, 20);
	for (int i = 0; i < N_BE; i++) {
		/* Pod and node processes share this netns: one client, one backend. */
		CHECK(a.hits[i] == 0 || a.hits[i] == 20);
		CHECK_INT(a.hits[i], b.hits[i]);
		if (a.hits[i])
			first = i;
	}
	CHECK(first >= 0);
	T.want_conns[S_AFFINITY] += 40;
}

static void test_counters_count_connections(void)
{
	for (int i = 0; i < N_SVC; i++) {
		struct lb_counters c = counters_of(T.ids[i]);
		printf("# service %u: connections %llu packets %llu refused %llu\n", T.ids[i],
		       (unsigned long long)c.connections, (unsigned long long)c.packets,
		       (unsigned long long)c.no_backend);
		CHECK_INT(c.connections, T.want_conns[i]);
		CHECK_INT(c.packets, T.want_pkts[i]);
		CHECK_INT(c.no_backend, T.want_refused[i]);
	}
}

static void test_nothing_listens_on_the_vip(void)
{
	CHECK(!vip_on_a_socket(VIP4));
	CHECK(!vip_on_a_socket(VIP6));
	CHECK(!vip_on_a_socket(VIP4_EMPTY));
}

/* Child: hold a connection across the parent's restarts, then use it. */
static void hold_connection(int ready_fd, int go_fd, struct probe *p)
{
	char buf[5], c;
	int fd = env_tcp_once(p, AF_INET, VIP4);
	(void)!write(ready_fd, "r", 1);
	if (fd < 0 || read(go_fd, &c, 1) != 1)
		_exit(40);
	if (write(fd, "ping\n", 5) != 5 || env_read_full(fd, buf, 5) < 0 || memcmp(buf, "ping\n", 5) != 0)
		env_failed(p);
	else
		p->ok++;
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	memset(&peer, 0, sizeof(peer));
	if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 && env_sockaddr_is(&peer, AF_INET, VIP4, VIP_PORT))
		p->vip_seen++;
	close(fd);
}

/* Child: connect and close until stop_fd is readable. A reset, not a FIN,
 * ends each one: a fast machine would run out of ports in TIME_WAIT. */
static void connect_until(int stop_fd, struct probe *p)
{
	struct pollfd pfd = {.fd = stop_fd, .events = POLLIN};
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	while (poll(&pfd, 1, 0) == 0) {
		int fd = env_tcp_once(p, AF_INET, VIP4);
		if (fd >= 0) {
			(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(fd);
		}
	}
}

static void test_restart_updates_in_place(void)
{
	int ready[2], go[2], stop[2];
	CHECK(pipe2(ready, O_CLOEXEC) == 0 && pipe2(go, O_CLOEXEC) == 0 && pipe2(stop, O_CLOEXEC) == 0);
	memset(env_probes(), 0, 2 * sizeof(*env_probes()));
	pid_t holder = env_child_start(T.env.pod);
	if (holder == 0) {
		hold_connection(ready[1], go[0], &env_probes()[0]);
		_exit(0);
	}
	pid_t looper = env_child_start(T.env.pod);
	if (looper == 0) {
		connect_until(stop[0], &env_probes()[1]);
		_exit(0);
	}
	char c;
	CHECK(read(ready[0], &c, 1) == 1);

	__u32 prog0 = 0, prog1 = 0, link0 = link_id("connect4", T.env.pod, &prog0), link1 = 0;
	for (int round = 0; round < 3; round++) {
		char *err = NULL;
		T.lb = lb_socklb_free(T.lb);
		int r = lb_socklb_open(&T.cfg, &T.lb, &err);
		CHECK_INT(r, 0);
		if (r < 0)
			printf("# %s\n", err);
		free(err);
		usleep(20000);
	}
	link1 = link_id("connect4", T.env.pod, &prog1);
	CHECK(link0 != 0 && link1 == link0); /* the same attachment, */
	CHECK(prog1 != 0 && prog1 != prog0); /* a new program in it */
	CHECK(hooks_count(T.env.pod, 1));
	CHECK(hooks_count(T.env.node, 1));
	/* The held connection is to a backend; no socket carries the VIP. */
	CHECK(!vip_on_a_socket(VIP4));

	CHECK(write(go[1], "g", 1) == 1 && write(stop[1], "s", 1) == 1);
	CHECK(env_child_wait(holder));
	CHECK(env_child_wait(looper));
	struct probe h = env_probes()[0], l = env_probes()[1];
	CHECK_INT(h.ok, 2);       /* its connect, then the echo after the restarts */
	CHECK_INT(h.vip_seen, 2); /* the reverse map survived the restarts */
	CHECK_INT(l.fail, 0);     /* no connect fell through meanwhile */
	CHECK(l.ok > 0 && l.vip_seen == l.ok);
	printf("# %d connects during 3 restarts, %d failed\n", l.ok, l.fail);
	T.want_conns[S_TCP4] += (unsigned long)(h.ok - 1 + l.ok);
	for (int i = 0; i < 2; i++) {
		close(ready[i]);
		close(go[i]);
		close(stop[i]);
	}
	test_counters_count_connections();
}

static void test_reopen_drops_cgroups_no_longer_named(void)
{
	const char *only_pod[] = {T.env.pod, NULL};
	struct lb_ebpf_config cfg = T.cfg;
	char *err = NULL;

	cfg.cgroups = only_pod;
	T.lb = lb_socklb_free(T.lb);
	CHECK_INT(lb_socklb_open(&cfg, &T.lb, &err), 0);
	free(err);
	CHECK(hooks_count(T.env.pod, 1));
	CHECK(hooks_count(T.env.node, 0));
}

static void test_cleanup_detaches_and_unpins(void)
{
	const struct job j = {.family = AF_INET, .type = SOCK_STREAM, .ip = VIP4, .n = 2};
	struct stat st;

	T.lb = lb_socklb_free(T.lb);
	CHECK(hooks_count(T.env.pod, 1)); /* closing kelp's handles leaves the hooks */
	CHECK_INT(lb_socklb_cleanup(T.env.pin_dir), 0);
	CHECK(hooks_count(T.env.pod, 0));
	CHECK(hooks_count(T.env.node, 0));
	_cleanup_free_ char *links = xasprintf("%s/links", T.env.pin_dir);
	_cleanup_free_ char *sock = xasprintf("%s/lb_sock", T.env.pin_dir);
	CHECK(stat(links, &st) < 0 && errno == ENOENT);
	CHECK(stat(sock, &st) < 0 && errno == ENOENT);
	struct probe p = env_run_in(T.env.pod, &j);
	CHECK_INT(p.ok, 0);
	CHECK_INT(p.err, ENETUNREACH);
	CHECK_INT(lb_socklb_cleanup(T.env.pin_dir), 0); /* twice is fine */
}

int main(void)
{
	const char *skip = sock_env_setup(&T.env);
	if (skip) {
		printf("1..0 # SKIP %s\n", skip);
		sock_env_teardown(&T.env);
		return 0;
	}
	T.cgroups[0] = T.env.pod;
	T.cgroups[1] = T.env.node;
	T.cfg = (struct lb_ebpf_config){.pin_dir = T.env.pin_dir, .cgroups = T.cgroups,
		.max_services = 64, .max_backends = 64, .ring_slots = 1 << 16, .max_flows = 4096};

	RUN(test_refuses_hierarchy_root);
	RUN(test_open_attaches_every_hook);
	if (T.lb) {
		RUN(test_pod_tcp_reaches_every_backend);
		RUN(test_pod_udp_replies_come_from_the_vip);
		RUN(test_pod_ipv6);
		RUN(test_node_process_reaches_every_backend);
		RUN(test_unattached_process_is_not_translated);
		RUN(test_empty_service_refuses);
		RUN(test_client_ip_affinity_keeps_one_backend);
		RUN(test_counters_count_connections);
		RUN(test_nothing_listens_on_the_vip);
		RUN(test_restart_updates_in_place);
		RUN(test_reopen_drops_cgroups_no_longer_named);
		RUN(test_cleanup_detaches_and_unpins);
	}
	T.lb = lb_socklb_free(T.lb);
	sock_env_teardown(&T.env);
	return tap_done();
}
