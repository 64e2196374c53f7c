/* bench/lb: new TCP connections per second to one address, as a client of
 * a Service sees them: kelp's socket LB (run in an attached cgroup) and
 * nftables DNAT alike. Prints one JSON object.
 *
 *   connect-bench [-n N | -d SECONDS] [-c CONCURRENCY] [-m connect|byte|http] [-g] ADDR:PORT
 *
 *   -n N    connections in all (default 10000)
 *   -d S    or as many as fit in S seconds
 *   -c C    C connections at a time, one thread each (default 1)
 *   -m      connect: connect and close (default); byte: send one byte and
 *           wait for one back (an echo or greeting server); http: an
 *           HTTP/1.0 GET, read to the end
 *   -g      close gracefully (FIN, TIME_WAIT here) instead of with a reset;
 *           the reset keeps 10^5 connections from exhausting local ports
 *
 * connect_*_us time connect() alone (the handshake, and the socket LB's
 * backend choice); conn_per_s counts whole connections over the wall time. */
#include <arpa/inet.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>

#include "base/base.h"
#include "common/samples.h"

#define MAX_CONC 256

enum mode { MODE_CONNECT, MODE_BYTE, MODE_HTTP };

static struct {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	enum mode mode;
	bool graceful;
	long total;        /* connections to make; 0: until deadline */
	uint64_t deadline; /* now_mono_ns() bound when -d */
	atomic_long next;  /* connections claimed so far */
} B;

struct worker {
	pthread_t th;
	struct samples connect_us;
	long done, errors;
	int last_errno;
};

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *ret_len)
{
	_cleanup_free_ char *host = NULL;
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (!colon || parse_u64(colon + 1, strlen(colon + 1), &port) < 0 || port == 0 || port > 65535)
		return -EINVAL;
	if (s[0] == '[' && colon > s && colon[-1] == ']')
		host = xstrndup(s + 1, (size_t)(colon - s - 2));
	else
		host = xstrndup(s, (size_t)(colon - s));
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*ret_len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*ret_len = sizeof(*in6);
	} else {
		return -EINVAL;
	}
	return 0;
}

/* The exchange after connect; 0 when the server answered as the mode wants. */
static int exchange(int fd)
{
	static const char get[] = "GET / HTTP/1.0\r\nHost: bench\r\n\r\n";
	char buf[4096];
	ssize_t n;
	size_t got = 0;

	if (B.mode == MODE_CONNECT)
		return 0;
	if (B.mode == MODE_BYTE)
		return write(fd, "x", 1) == 1 && read(fd, buf, sizeof(buf)) > 0 ? 0 : -1;
	if (write_all(fd, get, sizeof(get) - 1) < 0)
		return -1;
	bool http = false;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (got == 0 && n >= 7 && memcmp(buf, "HTTP/1.", 7) == 0)
			http = true;
		got += (size_t)n;
	}
	return n == 0 && http ? 0 : -1;
}

static bool claim(void)
{
	if (B.deadline)
		return now_mono_ns() < B.deadline;
	return atomic_fetch_add(&B.next, 1) < B.total;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	int one = 1;

	while (claim()) {
		int fd = socket(B.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			w->errors++;
			w->last_errno = errno;
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		uint64_t t0 = now_mono_ns();
		int r = connect(fd, (struct sockaddr *)&B.addr, B.addr_len);
		uint64_t t1 = now_mono_ns();
		if (r == 0)
			r = exchange(fd);
		if (r < 0) {
			w->errors++;
			w->last_errno = errno;
		} else {
			samples_add(&w->connect_us, (double)(t1 - t0) / 1e3);
			w->done++;
		}
		if (!B.graceful)
			(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	return NULL;
}

_noreturn_ static void usage(void)
{
	fprintf(stderr, "usage: connect-bench [-n N | -d SECONDS] [-c CONCURRENCY] "
			"[-m connect|byte|http] [-g] ADDR:PORT\n");
	exit(2);
}

static long number(const char *s, long max)
{
	uint64_t v;
	if (parse_u64(s, strlen(s), &v) < 0 || v == 0 || v > (uint64_t)max)
		usage();
	return (long)v;
}

int main(int argc, char **argv)
{
	long conc = 1, seconds = 0;
	int opt;

	B.total = 10000;
	while ((opt = getopt(argc, argv, "n:d:c:m:g")) != -1) {
		switch (opt) {
		case 'n': B.total = number(optarg, 100000000); break;
		case 'd': seconds = number(optarg, 3600); break;
		case 'c': conc = number(optarg, MAX_CONC); break;
		case 'g': B.graceful = true; break;
		case 'm':
			if (streq(optarg, "connect"))
				B.mode = MODE_CONNECT;
			else if (streq(optarg, "byte"))
				B.mode = MODE_BYTE;
			else if (streq(optarg, "http"))
				B.mode = MODE_HTTP;
			else
				usage();
			break;
		default: usage();
		}
	}
	if (optind != argc - 1 || parse_addr(argv[optind], &B.addr, &B.addr_len) < 0)
		usage();

	struct worker *w = xnew(struct worker, (size_t)conc);
	uint64_t t0 = now_mono_ns();
	if (seconds)
		B.deadline = t0 + (uint64_t)seconds * 1000000000ull;
	for (long i = 0; i < conc; i++)
		if (pthread_create(&w[i].th, NULL, worker_run, &w[i]) != 0) {
			fprintf(stderr, "connect-bench: pthread_create failed\n");
			return 1;
		}
	struct samples all = {0};
	long done = 0, errors = 0;
	int last_errno = 0;
	for (long i = 0; i < conc; i++) {
		pthread_join(w[i].th, NULL);
		for (size_t k = 0; k < w[i].connect_us.n; k++)
			samples_add(&all, w[i].connect_us.v[k]);
		samples_free(&w[i].connect_us);
		done += w[i].done;
		errors += w[i].errors;
		if (w[i].last_errno)
			last_errno = w[i].last_errno;
	}
	double secs = (double)(now_mono_ns() - t0) / 1e9;
	free(w);

	if (errors)
		fprintf(stderr, "connect-bench: %ld of %ld failed, last: %s\n", errors, done + errors,
			strerror(last_errno));
	double p50 = samples_pct(&all, 0.5), p99 = samples_pct(&all, 0.99);
	printf("{\"conn_per_s\":%.0f,\"connect_p50_us\":%.1f,\"connect_p99_us\":%.1f,"
	       "\"connections\":%ld,\"errors\":%ld,\"concurrency\":%ld,\"seconds\":%.3f}\n",
	       secs > 0 ? (double)done / secs : 0.0, isnan(p50) ? 0.0 : p50, isnan(p99) ? 0.0 : p99,
	       done, errors, conc, secs);
	samples_free(&all);
	return errors ? 1 : 0;
}
