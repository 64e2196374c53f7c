/* The socket LB test's world: see sock_env.h. */
#include "sock_env.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "base/base.h"

static const char *const be4[N_BE] = {"198.18.0.11", "198.18.0.12", "198.18.0.13"};
static const char *const be6[N_BE] = {"2001:2::11", "2001:2::12", "2001:2::13"};

static struct probe *shm; /* two probes shared with the children */

struct probe *env_probes(void) { return shm; }

/* ---- addresses ---------------------------------------------------------------------- */

struct lb_addr env_lbaddr(const char *ip)
{
	struct lb_addr a = {0};
	if (inet_pton(AF_INET, ip, &a.a[3]) == 1)
		a.a[2] = htonl(0xffff);
	else if (inet_pton(AF_INET6, ip, a.a) != 1)
		abort();
	return a;
}

/* ip:port as a sockaddr of family (an IPv4 ip on AF_INET6 is v4-mapped). */
socklen_t env_sockaddr(int family, const char *ip, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(port);
		if (inet_pton(AF_INET, ip, &s->sin_addr) != 1)
			abort();
		return sizeof(*s);
	}
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)ss;
	struct lb_addr a = env_lbaddr(ip);
	s->sin6_family = AF_INET6;
	s->sin6_port = htons(port);
	memcpy(&s->sin6_addr, a.a, 16);
	return sizeof(*s);
}

bool env_sockaddr_is(const struct sockaddr_storage *got, int family, const char *ip, int port)
{
	struct sockaddr_storage want;
	socklen_t n = env_sockaddr(family, ip, port, &want);
	return memcmp(got, &want, n) == 0;
}

/* ---- the backends: each answers a TCP connection with "bN\n" and then echoes,
 * and a datagram with "bN" ------------------------------------------------------------ */

enum { EV_LISTEN, EV_DGRAM, EV_CONN };

static int server_socket(int family, const char *ip, int type)
{
	struct sockaddr_storage ss;
	socklen_t n = env_sockaddr(family, ip, BE_PORT, &ss);
	int one = 1, fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, n) < 0 || (type == SOCK_STREAM && listen(fd, 512) < 0))
		_exit(20);
	return fd;
}

static void ep_add(int ep, int fd, int kind, int be)
{
	struct epoll_event ev = {.events = EPOLLIN,
				 .data.u64 = (__u64)(unsigned)fd | (__u64)be << 32 | (__u64)kind << 40};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		_exit(21);
}

_noreturn_ static void server_run(int ready_fd)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	char buf[512];

	for (int b = 0; b < N_BE; b++) {
		ep_add(ep, server_socket(AF_INET, be4[b], SOCK_STREAM), EV_LISTEN, b);
		ep_add(ep, server_socket(AF_INET, be4[b], SOCK_DGRAM), EV_DGRAM, b);
		ep_add(ep, server_socket(AF_INET6, be6[b], SOCK_STREAM), EV_LISTEN, b);
		ep_add(ep, server_socket(AF_INET6, be6[b], SOCK_DGRAM), EV_DGRAM, b);
	}
	(void)!write(ready_fd, "r", 1);
	close(ready_fd);
	for (;;) {
		struct epoll_event evs[64];
		int n = epoll_wait(ep, evs, 64, -1);
		for (int i = 0; i < n; i++) {
			int fd = (int)(evs[i].data.u64 & 0xffffffffu);
			int be = (int)((evs[i].data.u64 >> 32) & 0xff), kind = (int)(evs[i].data.u64 >> 40);
			char id[4] = {'b', (char)('1' + be), '\n', 0};
			if (kind == EV_LISTEN) {
				int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
				if (c >= 0 && write(c, id, 3) == 3)
					ep_add(ep, c, EV_CONN, be);
				else if (c >= 0)
					close(c);
			} else if (kind == EV_DGRAM) {
				struct sockaddr_storage from;
				socklen_t fl = sizeof(from);
				if (recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) >= 0)
					(void)sendto(fd, id, 2, 0, (struct sockaddr *)&from, fl);
			} else {
				ssize_t k = read(fd, buf, sizeof(buf));
				if (k <= 0 || write(fd, buf, (size_t)k) != k)
					close(fd);
			}
		}
	}
}

/* ---- clients --------------------------------------------------------------------------- */


static int client_socket(int family, int type)
{
	struct timeval tv = {.tv_sec = 3};
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		_exit(30);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

int env_read_full(int fd, char *p, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t k = read(fd, p + got, n - got);
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

/* The backend an answer names ("bN"), or -1. */
static int backend_of(const char *p)
{
	return p[0] == 'b' && p[1] >= '1' && p[1] < '1' + N_BE ? p[1] - '1' : -1;
}

void env_failed(struct probe *p)
{
	p->fail++;
	p->err = errno;
}

/* Connect to ip:80, check the peer, read the backend's name. Returns the
 * fd (still open) or -1. */
int env_tcp_once(struct probe *p, int family, const char *ip)
{
	struct sockaddr_storage ss, peer;
	socklen_t n = env_sockaddr(family, ip, VIP_PORT, &ss), pl = sizeof(peer);
	int fd = client_socket(family, SOCK_STREAM), be;
	char id[3];

	if (connect(fd, (struct sockaddr *)&ss, n) < 0 || env_read_full(fd, id, 3) < 0) {
		env_failed(p);
		close(fd);
		return -1;
	}
	memset(&peer, 0, sizeof(peer));
	if (getpeername(fd, (struct sockaddr *)&peer, &pl) == 0 && env_sockaddr_is(&peer, family, ip, VIP_PORT))
		p->vip_seen++;
	be = backend_of(id);
	if (be >= 0) {
		p->hits[be]++;
		p->ok++;
	}
	return fd;
}

static void udp_once(struct probe *p, const struct job *j)
{
	struct sockaddr_storage ss, from;
	socklen_t n = env_sockaddr(j->family, j->ip, VIP_PORT, &ss);
	int fd = client_socket(j->family, SOCK_DGRAM), first = -1;

	if (j->connected && connect(fd, (struct sockaddr *)&ss, n) < 0) {
		env_failed(p);
		close(fd);
		return;
	}
	for (int k = 0; k < j->per_sock; k++) {
		socklen_t fl = sizeof(from);
		char buf[8] = {0};
		ssize_t r = j->connected ? send(fd, "q", 1, 0) : sendto(fd, "q", 1, 0, (struct sockaddr *)&ss, n);
		memset(&from, 0, sizeof(from));
		if (r < 0 || recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl) < 2) {
			env_failed(p);
			break;
		}
		int be = backend_of(buf);
		if (be < 0)
			continue;
		p->ok++;
		p->hits[be]++;
		if (env_sockaddr_is(&from, j->family, j->ip, VIP_PORT))
			p->vip_seen++;
		if (first >= 0 && be != first)
			p->unsticky++;
		first = be;
	}
	if (j->connected) {
		socklen_t pl = sizeof(from);
		memset(&from, 0, sizeof(from));
		if (getpeername(fd, (struct sockaddr *)&from, &pl) < 0 ||
		    !env_sockaddr_is(&from, j->family, j->ip, VIP_PORT))
			p->unsticky++; /* counted as a wrong answer */
	}
	close(fd);
}

static void job_run(const struct job *j, struct probe *p)
{
	for (int i = 0; i < j->n; i++) {
		if (j->type == SOCK_DGRAM) {
			udp_once(p, j);
			continue;
		}
		int fd = env_tcp_once(p, j->family, j->ip);
		if (fd >= 0)
			close(fd);
	}
}

/* Move the calling process into cgroup dir cg. */
static void cgroup_join(const char *cg)
{
	_cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", cg);
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "0", 1) != 1)
		_exit(31);
	close(fd);
}

/* A child that dies with the test, in cgroup cg (NULL: where the test is). */
pid_t env_child_start(const char *cg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(60);
		if (cg)
			cgroup_join(cg);
	}
	return pid;
}

bool env_child_wait(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return false;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		printf("# child %d ended with status 0x%x\n", (int)pid, st);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Run j in a child in cgroup cg; what it saw. */
struct probe env_run_in(const char *cg, const struct job *j)
{
	memset(&shm[0], 0, sizeof(shm[0]));
	pid_t pid = env_child_start(cg);
	if (pid == 0) {
		job_run(j, &shm[0]);
		_exit(0);
	}
	bool clean = env_child_wait(pid);
	struct probe p = shm[0];
	if (!clean) { /* a child that died shows as a failure */
		p.fail++;
		p.err = ECHILD;
	}
	if (p.fail)
		printf("# %d failures, last: %s\n", p.fail, strerror(p.err));
	return p;
}

bool env_all_reached(const struct probe *p)
{
	for (int b = 0; b < N_BE; b++)
		if (p->hits[b] == 0)
			return false;
	return true;
}

/* Kill what is left in our cgroups, remove them and the bpffs. Safe to run twice. */
void sock_env_teardown(struct sock_env *e)
{
	const char *cgs[] = {e->pod, e->node, e->top};

	if (e->server > 0) {
		kill(e->server, SIGKILL);
		(void)waitpid(e->server, NULL, 0);
		e->server = 0;
	}
	if (!e->top[0]) /* setup stopped before naming anything */
		return;
	for (size_t i = 0; i < ARRAY_SIZE(cgs); i++) {
		_cleanup_free_ char *kill_file = xasprintf("%s/cgroup.kill", cgs[i]);
		int fd = open(kill_file, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			(void)!write(fd, "1", 1);
			close(fd);
		}
		for (int t = 0; t < 100 && rmdir(cgs[i]) < 0 && errno == EBUSY; t++)
			usleep(10000);
	}
	(void)umount2(e->pin_dir, MNT_DETACH);
	(void)rmdir(e->pin_dir);
}

/* A process that outlives the test and tears down after it, crash or not. */
static void guardian_start(struct sock_env *e)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		/* Its own session: a kill of the test's process group spares it. */
		(void)setsid();
		signal(SIGINT, SIG_IGN);
		signal(SIGTERM, SIG_IGN);
		while (read(p[0], &c, 1) < 0 && errno == EINTR)
			;
		e->server = 0; /* not its child */
		sock_env_teardown(e);
		_exit(0);
	}
	close(p[0]); /* the write end stays open, in the children too, until all are gone */
}

const char *sock_env_setup(struct sock_env *e)
{
	struct statfs sfs;
	int ready[2];
	char c;

	if (geteuid() != 0)
		return "needs root";
	if (statfs(CGROUP_ROOT, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC)
		return "no cgroup v2 at " CGROUP_ROOT;
	if (unshare(CLONE_NEWNS | CLONE_NEWNET) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return "cannot make a mount and network namespace";
	snprintf(e->top, sizeof(e->top), CGROUP_ROOT "/kelp-test-%d", (int)getpid());
	snprintf(e->pod, sizeof(e->pod), "%s/pod", e->top);
	snprintf(e->node, sizeof(e->node), "%s/node", e->top);
	snprintf(e->pin_dir, sizeof(e->pin_dir), "/tmp/kelp-sock-XXXXXX");
	if (!mkdtemp(e->pin_dir))
		return "cannot make a temporary directory";
	guardian_start(e);
	if (mount("bpf", e->pin_dir, "bpf", 0, "mode=0700") < 0)
		return "cannot mount a bpffs";
	if (mkdir(e->top, 0755) < 0 || mkdir(e->pod, 0755) < 0 || mkdir(e->node, 0755) < 0)
		return "cannot make test cgroups";
	if (system("ip link set lo up"
		   " && ip addr add 198.18.0.11/32 dev lo && ip addr add 198.18.0.12/32 dev lo"
		   " && ip addr add 198.18.0.13/32 dev lo && ip -6 addr add 2001:2::11/128 dev lo nodad"
		   " && ip -6 addr add 2001:2::12/128 dev lo nodad && ip -6 addr add 2001:2::13/128 dev lo nodad") != 0)
		return "cannot address the test netns (ip)";
	shm = mmap(NULL, 2 * sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED || pipe2(ready, O_CLOEXEC) < 0)
		return "cannot share memory with the children";
	e->server = env_child_start(NULL);
	if (e->server == 0) {
		alarm(0);
		server_run(ready[1]);
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		return "the backends did not start";
	close(ready[0]);
	return NULL;
}

