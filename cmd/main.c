/* kelp: the multi-call binary. `kelp <role> [options]`. */
#include <stdio.h>

#include "base/base.h"
#include "cmd.h"
#include "config.h"

struct role {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct role roles[] = {
	{"up", cmd_up, "a whole single-node cluster in the foreground"},
	{"server", cmd_server, "the control plane: store and API server"},
#ifdef KELP_HAVE_PROXY
	{"proxy", cmd_proxy, "the Service proxy: load balancing for Services"},
#endif
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: kelp <role> [options]\n\nRoles:\n");
	for (size_t i = 0; i < ARRAY_SIZE(roles); i++)
		fprintf(f, "  %-20s %s\n", roles[i].name, roles[i].summary);
	fprintf(f, "\n  kelp --version       print the version\n"
		   "  kelp help            this text\n"
		   "\n`kelp <role> --help` lists a role's options.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *r = argv[1];
	if (streq(r, "--version") || streq(r, "version")) {
		printf("kelp %s (Kubernetes API v1.32)\n", KELP_VERSION);
		return 0;
	}
	if (streq(r, "help") || streq(r, "--help") || streq(r, "-h")) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(roles); i++)
		if (streq(r, roles[i].name))
			return roles[i].run(argc - 1, argv + 1);
	fprintf(stderr, "kelp: unknown role \"%s\"\n\n", r);
	usage(stderr);
	return 2;
}
