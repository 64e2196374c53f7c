/* kelp up: a whole single-node cluster in the foreground. Today: the
 * control plane (store and API server over TLS, the admin kubeconfig);
 * the node agent and the Service proxy join as they are built. On the way
 * out it removes what a proxy on this data dir left in the kernel (pinned
 * BPF maps and links under D/bpf). */
#include "cmd.h"
#include "serve.h"
#ifdef KELP_HAVE_PROXY
#include "dataplane/proxy/proxy.h"
#endif

int cmd_up(int argc, char **argv)
{
	struct daemon d = {.log = log_default("up")};
	struct serve_opts o = {0};
	int r = cmd_parse_serve(argc, argv, "up", &d, &o);
	if (r)
		return r > 0 ? 0 : 2;
	r = cmd_run_serve(&d, &o, "up");
#ifdef KELP_HAVE_PROXY
	int k = proxy_cleanup(o.data_dir ? o.data_dir : "/var/lib/kelp");
	if (k < 0) {
		fprintf(stderr, "kelp up: removing the Service proxy's BPF state: %s\n", strerror(-k));
		r = r ? r : 1;
	}
#endif
	return r;
}
