/* bench/lb: the backend of the connections/s figure. Accepts TCP
 * connections on ADDR:PORT and closes them at once, THREADS threads on one
 * SO_REUSEPORT listener each, until killed.
 *
 *   accept-sink ADDR:PORT [THREADS]     (default 2 threads) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>

#include "base/base.h"

#define MAX_THREADS 16

static struct sockaddr_in addr;

static int listen_one(void)
{
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 4096) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void *serve(void *arg)
{
	int lfd = (int)(long)arg;

	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		else if (errno != EINTR && errno != ECONNABORTED && errno != EMFILE)
			perror("accept-sink: accept");
	}
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t port, threads = 2;
	char *colon = argc > 1 ? strrchr(argv[1], ':') : NULL;

	if (argc < 2 || argc > 3 || !colon ||
	    parse_u64(colon + 1, strlen(colon + 1), &port) < 0 || port == 0 || port > 65535 ||
	    (argc == 3 && (parse_u64(argv[2], strlen(argv[2]), &threads) < 0 || threads == 0 ||
			   threads > MAX_THREADS))) {
		fprintf(stderr, "usage: accept-sink ADDR:PORT [THREADS]\n");
		return 2;
	}
	*colon = '\0';
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
		fprintf(stderr, "accept-sink: %s is not an IPv4 address\n", argv[1]);
		return 2;
	}
	pthread_t th[MAX_THREADS];
	for (uint64_t i = 0; i < threads; i++) {
		int fd = listen_one();
		if (fd < 0) {
			fprintf(stderr, "accept-sink: listen on %s:%llu: %s\n", argv[1],
				(unsigned long long)port, strerror(-fd));
			return 1;
		}
		if (pthread_create(&th[i], NULL, serve, (void *)(long)fd) != 0) {
			fprintf(stderr, "accept-sink: pthread_create failed\n");
			return 1;
		}
	}
	printf("listening\n");
	fflush(stdout);
	pthread_join(th[0], NULL);
	return 0;
}
