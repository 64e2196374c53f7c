/* What every kelp daemon shares: logging flags, one loop, an HTTP(S)
 * server with /healthz, /livez, /readyz and /metrics, and a clean stop on
 * SIGINT/SIGTERM. Roles add their own routes and work to it. */
#pragma once

#include <stdbool.h>

#include "http/http.h"
#include "log/log.h"
#include "loop/loop.h"
#include "metrics/metrics.h"

struct daemon {
	struct logger log;
	struct loop *loop;
	struct metrics_registry *metrics;
	struct http_router *router;
	struct http_server *server;
	struct loop_signals signals;
	bool ready;
	int stop_signal;
	struct metric_family *requests;
};

/* Apply a --log-level or --log-format option: 0, -EINVAL after printing
 * what was wrong, or -ENOENT when name is neither. */
int daemon_log_option(struct daemon *d, const char *name, const char *value);

struct option;
/* getopt_long over longopts (ending in {"help", no_argument, NULL, 'h'}
 * and {0}): --log-level and --log-format go to d, the other long options to
 * option(ctx, name, value) (value NULL for a flag); no positional
 * arguments. 0, 1 after printing help to stdout, or -EINVAL after printing
 * help or what was wrong to stderr. */
int daemon_parse(struct daemon *d, int argc, char **argv, const char *role,
		 const struct option *longopts,
		 int (*option)(void *ctx, const char *name, const char *value), void *ctx,
		 const char *help);

int daemon_init(struct daemon *d, const char *component);
/* Serve the router on listen, with TLS when tls is set. */
int daemon_listen(struct daemon *d, const char *listen, SSL_CTX *tls);
/* Run until a stop signal; returns 0. */
int daemon_run(struct daemon *d);
void daemon_fini(struct daemon *d);
