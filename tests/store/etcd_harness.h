/* A real etcd 3.4 for tests: started on free loopback ports with a
 * temporary data dir, waited for until healthy, killed and restarted by
 * PID on the same ports and data, and removed again.
 *
 *   struct etcd_harness h = {0};
 *   if (etcd_harness_start(&h) < 0) SKIP("no etcd");
 *   ... cfg.endpoints = (const char *[]){h.url}; cfg.nendpoints = 1; ...
 *   etcd_harness_kill(&h, SIGKILL); etcd_harness_restart(&h);
 *   etcd_harness_stop(&h);
 *
 * No etcd outlives the test: the child gets PR_SET_PDEATHSIG(SIGKILL) (it
 * dies with the test process, even on a crash or a timeout), and an
 * atexit hook stops every harness still running on a normal exit; the
 * directory of a test killed outright is removed by the next start. The
 * binary is $KELP_ETCD or etcd on PATH; its log is <dir>/etcd.log.
 * Single-threaded use: call from one thread. */
#pragma once

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct etcd_harness {
	pid_t pid; /* 0: not running */
	unsigned client_port;
	unsigned peer_port;
	char url[64];  /* "http://127.0.0.1:<client_port>": the endpoint */
	char dir[128]; /* temp dir: data/ and etcd.log */
	/* Set before etcd_harness_start() to change them (0: default). */
	unsigned progress_interval_ms; /* --experimental-watch-progress-notify-interval; 1000 */
	unsigned start_timeout_ms;     /* healthy within; 30000 */
	/* Also serve clients over TLS (PEM files; etcd reads them at start):
	 * tls_url is then "https://127.0.0.1:<tls_port>". */
	const char *tls_cert_file, *tls_key_file;
	unsigned tls_port;
	char tls_url[64];
	int slot; /* in etcd_harness_reg_, 0: none */
};

/* What the exit hook needs, copied: a harness may live on a stack that
 * is gone by the time exit handlers run. */
#define ETCD_HARNESS_MAX 16
struct etcd_harness_reg {
	pid_t pid;
	char dir[128];
};
static struct etcd_harness_reg etcd_harness_reg_[ETCD_HARNESS_MAX + 1];

static inline uint64_t etcd_harness_now_ms_(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void etcd_harness_sleep_ms_(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* A port the kernel just handed out on 127.0.0.1 (free a moment ago). */
static inline int etcd_harness_free_port_(unsigned *ret)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	close(fd);
	*ret = ntohs(sa.sin_port);
	return 0;
}

/* GET /health over a blocking socket: 0 once etcd answers healthy. */
static inline int etcd_harness_probe_(unsigned port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	static const char req[] =
		"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	char resp[1024];
	size_t got = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	struct timeval tv = {1, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1) {
		close(fd);
		return -ECONNREFUSED;
	}
	for (;;) {
		ssize_t n = read(fd, resp + got, sizeof(resp) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(resp) - 1)
			break;
	}
	close(fd);
	resp[got] = '\0';
	return strstr(resp, "\"health\":\"true\"") ? 0 : -EAGAIN;
}

static inline int etcd_harness_rm_(const char *path, const struct stat *st, int flag,
				   struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* Keep the registry in step with h. */
static inline void etcd_harness_sync_(struct etcd_harness *h)
{
	if (!h->slot)
		return;
	etcd_harness_reg_[h->slot].pid = h->pid;
	snprintf(etcd_harness_reg_[h->slot].dir, sizeof(etcd_harness_reg_[0].dir), "%s", h->dir);
	if (!h->pid && !h->dir[0])
		h->slot = 0;
}

/* Send sig and reap the process. SIGTERM gets 10 s, then SIGKILL. */
static inline int etcd_harness_kill(struct etcd_harness *h, int sig)
{
	if (!h->pid)
		return -ESRCH;
	kill(h->pid, sig);
	uint64_t end = etcd_harness_now_ms_() + (sig == SIGKILL ? 30000 : 10000);
	for (;;) {
		int st;
		pid_t r = waitpid(h->pid, &st, WNOHANG);
		if (r == h->pid || (r < 0 && errno != EINTR))
			break;
		if (etcd_harness_now_ms_() > end) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &st, 0);
			break;
		}
		etcd_harness_sleep_ms_(5);
	}
	h->pid = 0;
	etcd_harness_sync_(h);
	return 0;
}

/* Whether every thread of pid is stopped (state T in /proc). */
static inline bool etcd_harness_stopped_(pid_t pid)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	DIR *d = opendir(path);
	struct dirent *de;
	bool all = d != NULL;

	while (all && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char stat[400];
		snprintf(stat, sizeof(stat), "%s/%s/stat", path, de->d_name);
		FILE *f = fopen(stat, "re");
		if (!f)
			continue;
		const char *rp = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
		all = rp && (rp[2] == 'T' || rp[2] == 't');
		fclose(f);
	}
	if (d)
		closedir(d);
	return all;
}

/* Freeze (SIGSTOP) or thaw (SIGCONT) etcd: a server that accepts
 * connections and never answers. Freezing returns once every thread
 * has stopped. */
static inline int etcd_harness_pause(struct etcd_harness *h, bool pause)
{
	if (!h->pid)
		return -ESRCH;
	if (kill(h->pid, pause ? SIGSTOP : SIGCONT) < 0)
		return -errno;
	for (int i = 0; pause && i < 1000 && !etcd_harness_stopped_(h->pid); i++)
		etcd_harness_sleep_ms_(1);
	return 0;
}

/* Stop etcd (if running) and remove its directory. Safe to call twice. */
static inline void etcd_harness_stop(struct etcd_harness *h)
{
	if (h->pid) {
		kill(h->pid, SIGCONT);
		etcd_harness_kill(h, SIGTERM);
	}
	if (h->dir[0]) {
		nftw(h->dir, etcd_harness_rm_, 16, FTW_DEPTH | FTW_PHYS);
		h->dir[0] = '\0';
	}
	etcd_harness_sync_(h);
}

static inline void etcd_harness_atexit_(void)
{
	for (int i = 1; i <= ETCD_HARNESS_MAX; i++) {
		struct etcd_harness h = {.pid = etcd_harness_reg_[i].pid, .slot = i};
		snprintf(h.dir, sizeof(h.dir), "%s", etcd_harness_reg_[i].dir);
		etcd_harness_stop(&h);
	}
}

static inline int etcd_harness_spawn_(struct etcd_harness *h)
{
	char client[64], listen[140], peer[64], cluster[96], data[160], logp[160], progress[32];
	const char *bin = getenv("KELP_ETCD") ? getenv("KELP_ETCD") : "etcd";

	snprintf(client, sizeof(client), "http://127.0.0.1:%u", h->client_port);
	snprintf(listen, sizeof(listen), "%s%s%s", client, h->tls_url[0] ? "," : "", h->tls_url);
	snprintf(peer, sizeof(peer), "http://127.0.0.1:%u", h->peer_port);
	snprintf(cluster, sizeof(cluster), "default=%s", peer);
	snprintf(data, sizeof(data), "%s/data", h->dir);
	snprintf(logp, sizeof(logp), "%s/etcd.log", h->dir);
	snprintf(progress, sizeof(progress), "%ums",
		 h->progress_interval_ms ? h->progress_interval_ms : 1000);
	pid_t parent = getpid();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Die with the test, whatever ends it. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (fd < 0 || nul < 0)
			_exit(127);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* Short raft timers: a one-member cluster elects itself at
		 * once; nothing else is tuned away from etcd's defaults. */
		const char *argv[40] = {
			bin,       "--name",
			"default", "--data-dir",
			data,      "--listen-client-urls",
			listen,    "--advertise-client-urls",
			listen,    "--listen-peer-urls",
			peer,      "--initial-advertise-peer-urls",
			peer,      "--initial-cluster",
			cluster,   "--initial-cluster-state",
			"new",     "--heartbeat-interval",
			"20",      "--election-timeout",
			"200",     "--experimental-watch-progress-notify-interval",
			progress,  "--logger",
			"zap",     "--log-outputs",
			"stderr",  "--log-level",
			"warn",
		};
		int argc = 0;
		while (argv[argc])
			argc++;
		if (h->tls_url[0]) {
			argv[argc++] = "--cert-file";
			argv[argc++] = h->tls_cert_file;
			argv[argc++] = "--key-file";
			argv[argc++] = h->tls_key_file;
		}
		argv[argc] = NULL;
		execvp(bin, (char *const *)argv);
		_exit(127);
	}
	h->pid = pid;
	etcd_harness_sync_(h);
	return 0;
}

/* Wait for /health; fails early when the process died. */
static inline int etcd_harness_wait_(struct etcd_harness *h)
{
	uint64_t end = etcd_harness_now_ms_() + (h->start_timeout_ms ? h->start_timeout_ms : 30000);

	while (etcd_harness_now_ms_() < end) {
		int st;
		if (waitpid(h->pid, &st, WNOHANG) == h->pid) {
			h->pid = 0;
			etcd_harness_sync_(h);
			return -ECHILD;
		}
		if (etcd_harness_probe_(h->client_port) == 0)
			return 0;
		etcd_harness_sleep_ms_(20);
	}
	etcd_harness_kill(h, SIGKILL);
	return -ETIMEDOUT;
}

/* Start etcd again on the same ports and data dir (after a kill). */
static inline int etcd_harness_restart(struct etcd_harness *h)
{
	if (h->pid)
		etcd_harness_kill(h, SIGKILL);
	/* The ports were ours a moment ago; another process may grab one
	 * in between, so retry a few times. */
	int r = -EADDRINUSE;
	for (int attempt = 0; attempt < 5 && r < 0; attempt++) {
		r = etcd_harness_spawn_(h);
		if (r < 0)
			return r;
		r = etcd_harness_wait_(h);
		if (r < 0)
			etcd_harness_sleep_ms_(200);
	}
	return r;
}

/* Remove the directories of harnesses whose test process died without
 * cleaning up (SIGKILL, a crash): each holds its owner's pid. */
static inline void etcd_harness_reap_stale_(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[300], owner[32] = "";
		if (strncmp(de->d_name, "kelp-etcd-", 10) != 0)
			continue;
		snprintf(path, sizeof(path), "/tmp/%s/owner", de->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		long pid = fgets(owner, sizeof(owner), f) ? atol(owner) : 0;
		fclose(f);
		if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
			snprintf(path, sizeof(path), "/tmp/%s", de->d_name);
			nftw(path, etcd_harness_rm_, 16, FTW_DEPTH | FTW_PHYS);
		}
	}
	closedir(d);
}

/* Pick ports, make the directory, start, wait until healthy (probed on
 * the clear-text URL, which is always served). Returns
 * -ENOENT when no etcd binary is installed (a test may SKIP then). */
static inline int etcd_harness_start(struct etcd_harness *h)
{
	struct etcd_harness opts = *h;
	int r = -EADDRINUSE;

	memset(h, 0, sizeof(*h));
	h->progress_interval_ms = opts.progress_interval_ms;
	h->start_timeout_ms = opts.start_timeout_ms;
	h->tls_cert_file = opts.tls_cert_file;
	h->tls_key_file = opts.tls_key_file;
	if (!getenv("KELP_ETCD") && system("command -v etcd >/dev/null 2>&1") != 0)
		return -ENOENT;
	snprintf(h->dir, sizeof(h->dir), "/tmp/kelp-etcd-XXXXXX");
	etcd_harness_reap_stale_();
	if (!mkdtemp(h->dir)) {
		h->dir[0] = '\0';
		return -errno;
	}
	char owner[160];
	snprintf(owner, sizeof(owner), "%s/owner", h->dir);
	FILE *f = fopen(owner, "we");
	if (f) {
		fprintf(f, "%ld\n", (long)getpid());
		fclose(f);
	}
	static bool hooked;
	if (!hooked && atexit(etcd_harness_atexit_) == 0)
		hooked = true;
	for (int i = 1; i <= ETCD_HARNESS_MAX && !h->slot; i++)
		if (!etcd_harness_reg_[i].pid && !etcd_harness_reg_[i].dir[0])
			h->slot = i;
	etcd_harness_sync_(h);
	/* Fresh ports on each attempt: another test may race us for them. */
	for (int attempt = 0; attempt < 5 && r < 0; attempt++) {
		if ((r = etcd_harness_free_port_(&h->client_port)) < 0 ||
		    (r = etcd_harness_free_port_(&h->peer_port)) < 0)
			break;
		if (h->client_port == h->peer_port) {
			r = -EADDRINUSE;
			continue;
		}
		snprintf(h->url, sizeof(h->url), "http://127.0.0.1:%u", h->client_port);
		if (h->tls_cert_file && h->tls_key_file) {
			if ((r = etcd_harness_free_port_(&h->tls_port)) < 0)
				break;
			if (h->tls_port == h->client_port || h->tls_port == h->peer_port) {
				r = -EADDRINUSE;
				continue;
			}
			snprintf(h->tls_url, sizeof(h->tls_url), "https://127.0.0.1:%u",
				 h->tls_port);
		}
		/* A failed attempt may have left a half-made member behind. */
		char data[160];
		snprintf(data, sizeof(data), "%s/data", h->dir);
		nftw(data, etcd_harness_rm_, 16, FTW_DEPTH | FTW_PHYS);
		r = etcd_harness_spawn_(h);
		if (r < 0)
			break;
		r = etcd_harness_wait_(h);
	}
	if (r < 0) {
		char cmd[200];
		snprintf(cmd, sizeof(cmd), "tail -n 20 %s/etcd.log | sed 's/^/# etcd: /'", h->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "# etcd did not start (%s)\n", strerror(-r));
		etcd_harness_stop(h);
	}
	return r;
}
