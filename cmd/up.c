/* kelp up: a whole single-node cluster in the foreground. For now it
 * brings up what exists: the cluster CA and certificates, the TLS
 * endpoint with health, metrics and version, and the admin kubeconfig. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>

#include "base/base.h"
#include "cmd.h"
#include "config.h"
#include "daemon.h"
#include "pki/pki.h"

struct up_opts {
	const char *data_dir;
	const char *listen;
};

static void version(struct http_exchange *ex, void *ud)
{
	json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor",
			      "32", "gitVersion", "v1.32.0+kelp-" KELP_VERSION, "gitCommit", "",
			      "gitTreeState", "clean", "buildDate", __DATE__ " " __TIME__,
			      "goVersion", "", "compiler", "gcc", "platform", "linux/amd64");
	char *s = json_dumps(v, JSON_COMPACT);
	http_respond(ex, 200, "application/json", s, strlen(s));
	free(s);
	json_decref(v);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: kelp up [--data-dir D] [--listen ADDR:PORT]\n"
		   "  --data-dir D        state, certificates and kubeconfig (default /var/lib/kelp)\n"
		   "  --listen ADDR:PORT  the API endpoint (default 127.0.0.1:6443)\n"
		   "  --log-level L       error, warn, info, debug or trace (default info)\n"
		   "  --log-format F      text or json (default text)\n");
}

/* The host part of ADDR:PORT, for the certificate and the kubeconfig. */
static char *listen_host(const char *listen)
{
	if (listen[0] == '[') {
		const char *e = strchr(listen, ']');
		return e ? xstrndup(listen + 1, (size_t)(e - listen - 1)) : xstrdup("127.0.0.1");
	}
	const char *c = strrchr(listen, ':');
	char *h = xstrndup(listen, c ? (size_t)(c - listen) : strlen(listen));
	if (!*h || streq(h, "0.0.0.0")) {
		free(h);
		h = xstrdup("127.0.0.1");
	}
	return h;
}

/* CA (kept across restarts), a fresh serving certificate and admin
 * client certificate, and the server's TLS context. */
static int setup_pki(struct daemon *d, const char *dir, const char *host, SSL_CTX **ret_tls,
		     struct pki_cert **ret_ca, struct pki_cert **ret_admin)
{
	_cleanup_(pki_cert_freep) struct pki_cert *ca = NULL, *srv = NULL, *admin = NULL;
	_cleanup_free_ char *crt = xasprintf("%s/apiserver.crt", dir);
	_cleanup_free_ char *key = xasprintf("%s/apiserver.key", dir);
	_cleanup_free_ char *ca_file = xasprintf("%s/%s", dir, PKI_CA_CERT_FILE);
	const char *dns[] = {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			     "kubernetes.default.svc.cluster.local"};
	const char *ips[] = {"127.0.0.1", "198.19.0.1", host};
	bool created = false;
	int r;

	r = pki_ca_load_or_create(dir, &ca, &created);
	if (r < 0) {
		log_error(&d->log, "cannot load or create the cluster CA", LOG_S("dir", dir), LOG_ERR(r));
		return r;
	}
	if (created)
		log_info(&d->log, "created the cluster CA", LOG_S("dir", dir));
	bool host_is_ip = strspn(host, "0123456789.:abcdefABCDEF") == strlen(host) && strpbrk(host, ".:");
	r = pki_issue_server(ca, "kelp-apiserver", dns, ARRAY_SIZE(dns), ips,
			     ARRAY_SIZE(ips) - (host_is_ip && !streq(host, "127.0.0.1") ? 0 : 1), &srv);
	if (r >= 0)
		r = pki_cert_write(srv, crt, key);
	if (r >= 0)
		r = pki_issue_client(ca, "kelp-admin", (const char *const[]){"system:masters"}, 1, &admin);
	if (r < 0) {
		log_error(&d->log, "cannot issue certificates", LOG_ERR(r));
		return r;
	}
	r = http_tls_server_ctx(crt, key, ca_file, ret_tls);
	if (r < 0) {
		log_error(&d->log, "cannot set up TLS", LOG_ERR(r));
		return r;
	}
	*ret_ca = TAKE_PTR(ca);
	*ret_admin = TAKE_PTR(admin);
	return 0;
}

int cmd_up(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"data-dir", required_argument, NULL, 'd'},
		{"listen", required_argument, NULL, 'l'},
		{"log-level", required_argument, NULL, 'L'},
		{"log-format", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	struct up_opts o = {.data_dir = "/var/lib/kelp", .listen = "127.0.0.1:6443"};
	struct daemon d = {.log = log_default("up")};
	_cleanup_(pki_cert_freep) struct pki_cert *ca = NULL, *admin = NULL;
	SSL_CTX *tls = NULL;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.data_dir = optarg;
			break;
		case 'l':
			o.listen = optarg;
			break;
		case 'L':
		case 'F':
			if (daemon_log_option(&d, c == 'L' ? "log-level" : "log-format", optarg) < 0)
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kelp up: unexpected argument \"%s\"\n", argv[optind]);
		return 2;
	}

	_cleanup_free_ char *host = listen_host(o.listen);
	_cleanup_free_ char *pki_dir = xasprintf("%s/pki", o.data_dir);
	_cleanup_free_ char *kubeconfig = xasprintf("%s/kubeconfig", o.data_dir);
	r = mkdir_p(o.data_dir, 0700);
	if (r < 0) {
		log_error(&d.log, "cannot create the data directory", LOG_S("dir", o.data_dir),
			  LOG_ERR(r));
		return 1;
	}
	r = daemon_init(&d, "up");
	if (r >= 0)
		r = setup_pki(&d, pki_dir, host, &tls, &ca, &admin);
	if (r >= 0) {
		http_router_add(d.router, "GET", "/version", version, &d);
		r = daemon_listen(&d, o.listen, tls);
	}
	SSL_CTX_free(tls);
	if (r >= 0) {
		unsigned port = http_server_port(d.server);
		bool v6 = strchr(host, ':') != NULL;
		_cleanup_free_ char *url = xasprintf(v6 ? "https://[%s]:%u" : "https://%s:%u", host, port);
		r = pki_kubeconfig_write_admin(kubeconfig, url, ca, admin);
		if (r < 0)
			log_error(&d.log, "cannot write the kubeconfig", LOG_S("path", kubeconfig),
				  LOG_ERR(r));
		else
			log_info(&d.log, "ready", LOG_S("kubeconfig", kubeconfig), LOG_S("server", url));
	}
	if (r >= 0) {
		d.ready = true;
		r = daemon_run(&d);
	}
	daemon_fini(&d);
	return r < 0 ? 1 : 0;
}
