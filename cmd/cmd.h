/* The roles of the kelp multi-call binary. Each takes argv after the role. */
#pragma once

struct daemon;
struct serve_opts;

int cmd_up(int argc, char **argv);
int cmd_server(int argc, char **argv);
int cmd_proxy(int argc, char **argv);

/* Shared by up and server: 0 to go on, 1 when --help was printed,
 * negative on a bad option (already reported). */
int cmd_parse_serve(int argc, char **argv, const char *role, struct daemon *d,
		    struct serve_opts *o);
int cmd_run_serve(struct daemon *d, const struct serve_opts *o, const char *role);
