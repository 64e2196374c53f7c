/* kelp up: a whole single-node cluster in the foreground. Today: the
 * control plane (store and API server over TLS, the admin kubeconfig);
 * the node agent and the Service proxy join as they are built. */
#include "cmd.h"
#include "serve.h"

int cmd_up(int argc, char **argv)
{
	struct daemon d = {.log = log_default("up")};
	struct serve_opts o = {0};
	int r = cmd_parse_serve(argc, argv, "up", &d, &o);
	if (r)
		return r > 0 ? 0 : 2;
	return cmd_run_serve(&d, &o, "up");
}
