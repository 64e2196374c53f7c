/* The control plane in this process: store, API server, TLS and the
 * admin kubeconfig. Shared by `kelp server` and `kelp up`. */
#pragma once

#include "daemon.h"

struct serve_opts {
	const char *data_dir;
	const char *listen;
	const char *etcd_servers;   /* comma-separated; NULL: the embedded store */
	const char *token_file;
	const char *service_cidr;
	const char *node_port_range;
	bool insecure;              /* plain HTTP, anonymous admin (tests only) */
};

struct serve;

/* Everything up and serving; the kubeconfig is written once the API is
 * ready. *ret is freed with serve_free() after the loop ends. */
int serve_start(struct daemon *d, const struct serve_opts *o, struct serve **ret);
void serve_free(struct serve *s);
/* Parse one of the shared options (name without dashes); -ENOENT when it
 * is not one of them. */
int serve_option(struct serve_opts *o, const char *name, const char *value);
extern const char serve_options_help[];
