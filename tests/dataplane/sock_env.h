/* The world test_bpf_sock runs in: a mount and network namespace of its
 * own, a private bpffs, three backends listening on 198.18.0.11-13 and
 * 2001:2::11-13 port 8080 on that netns's loopback (each answers a TCP
 * connection with "bN\n" and then echoes, a datagram with "bN"), cgroups
 * <unified>/kelp-test-<pid>/{pod,node}, and client children placed in them.
 * A guardian process in a session of its own kills what is left in those
 * cgroups and removes them, and the bpffs, however the test ends. */
#pragma once

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "dataplane/lbtable/lbtable.h"

#define CGROUP_ROOT "/sys/fs/cgroup/unified"
#define VIP_PORT 80
#define BE_PORT 8080
#define N_BE 3

struct sock_env {
	char pin_dir[64]; /* a bpffs */
	char top[128], pod[160], node[160];
	pid_t server;
};

/* NULL when the world is up; otherwise why the test cannot run here. */
const char *sock_env_setup(struct sock_env *e);
/* Stop the backends, kill what is left in the cgroups, remove them and the
 * bpffs. Safe to run twice. */
void sock_env_teardown(struct sock_env *e);

/* An address as the table holds it (IPv4 as ::ffff:a.b.c.d). */
struct lb_addr env_lbaddr(const char *ip);
/* ip:port as a sockaddr of family (an IPv4 ip on AF_INET6 is v4-mapped). */
socklen_t env_sockaddr(int family, const char *ip, int port, struct sockaddr_storage *ss);
bool env_sockaddr_is(const struct sockaddr_storage *got, int family, const char *ip, int port);

/* What a client child saw. */
struct probe {
	int ok;       /* requests answered by a backend */
	int fail;     /* connect/send/recv failures */
	int err;      /* the last failure's errno */
	int vip_seen; /* answers whose peer or source address was the VIP */
	int unsticky; /* UDP sockets whose datagrams reached different backends */
	int hits[N_BE];
};

/* What a client child does: n sockets to ip:80. */
struct job {
	int family, type; /* of the client socket */
	const char *ip;
	bool connected;   /* UDP: connect() first */
	int n;
	int per_sock;     /* UDP: datagrams per socket */
};

/* Two probes in memory shared with the children. */
struct probe *env_probes(void);
/* Connect to ip:80, check the peer, read the backend's name; the fd (still
 * open) or -1. */
int env_tcp_once(struct probe *p, int family, const char *ip);
void env_failed(struct probe *p);
int env_read_full(int fd, char *p, size_t n);

/* A child that dies with the test, moved into cgroup dir cg (NULL: it stays
 * where the test is). Returns 0 in the child. */
pid_t env_child_start(const char *cg);
/* Reap it: true when it exited with 0. */
bool env_child_wait(pid_t pid);
/* Run j in a child in cgroup cg; what it saw. */
struct probe env_run_in(const char *cg, const struct job *j);
bool env_all_reached(const struct probe *p);
