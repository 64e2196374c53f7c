/* kelp server: the control plane (store, API server; scheduler and
 * controllers as they arrive) in one process. */
#include <getopt.h>
#include <stdio.h>

#include "base/base.h"
#include "cmd.h"
#include "serve.h"

static int server_option(void *ctx, const char *name, const char *value)
{
	struct serve_opts *o = ctx;

	if (streq(name, "insecure-http-for-tests")) {
		o->insecure = true;
		return 0;
	}
	return serve_option(o, name, value);
}

/* Options shared by `kelp server` and `kelp up`. */
int cmd_parse_serve(int argc, char **argv, const char *role, struct daemon *d,
		    struct serve_opts *o)
{
	static const struct option longopts[] = {
		{"data-dir", required_argument, NULL, 0},
		{"listen", required_argument, NULL, 0},
		{"etcd-servers", required_argument, NULL, 0},
		{"token-auth-file", required_argument, NULL, 0},
		{"service-cluster-ip-range", required_argument, NULL, 0},
		{"service-node-port-range", required_argument, NULL, 0},
		{"log-level", required_argument, NULL, 0},
		{"log-format", required_argument, NULL, 0},
		{"insecure-http-for-tests", no_argument, NULL, 0},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	_cleanup_free_ char *help = xasprintf("Usage: kelp %s [options]\n%s", role, serve_options_help);

	return daemon_parse(d, argc, argv, role, longopts, server_option, o, help);
}

int cmd_run_serve(struct daemon *d, const struct serve_opts *o, const char *role)
{
	struct serve *s = NULL;
	int r = daemon_init(d, role);
	if (r >= 0)
		r = serve_start(d, o, &s);
	if (r >= 0)
		r = daemon_run(d);
	/* Connections first (their requests reach the API server), then the
	 * store and the API server, then the loop. */
	d->server = http_server_free(d->server);
	serve_free(s);
	daemon_fini(d);
	return r < 0 ? 1 : 0;
}

int cmd_server(int argc, char **argv)
{
	struct daemon d = {.log = log_default("server")};
	struct serve_opts o = {0};
	int r = cmd_parse_serve(argc, argv, "server", &d, &o);
	if (r)
		return r > 0 ? 0 : 2;
	return cmd_run_serve(&d, &o, "server");
}
