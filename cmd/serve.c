#include "serve.h"

#include <jansson.h>
#include <stdio.h>

#include "apiserver/apiserver.h"
#include "base/base.h"
#include "config.h"
#include "pki/pki.h"
#include "store/store.h"

struct serve {
	struct daemon *d;
	struct serve_opts o;
	struct store *store;
	struct apiserver *api;
	struct pki_cert *ca, *admin;
	char *url;
	char *host;
	char **endpoints;
	size_t nendpoints;
};

const char serve_options_help[] =
	"  --data-dir D                  state, certificates and kubeconfig (default /var/lib/kelp)\n"
	"  --listen ADDR:PORT            the API endpoint (default 127.0.0.1:6443)\n"
	"  --etcd-servers URLS           use etcd (comma-separated client URLs) instead of the\n"
	"                                embedded store\n"
	"  --token-auth-file F           static bearer tokens: token,user,uid,\"group1,group2\"\n"
	"  --service-cluster-ip-range C  ClusterIP range (default 198.19.0.0/16)\n"
	"  --service-node-port-range R   NodePort range (default 30000-32767)\n"
	"  --log-level L                 error, warn, info, debug or trace (default info)\n"
	"  --log-format F                text or json (default text)\n";

int serve_option(struct serve_opts *o, const char *name, const char *value)
{
	if (streq(name, "data-dir"))
		o->data_dir = value;
	else if (streq(name, "listen"))
		o->listen = value;
	else if (streq(name, "etcd-servers"))
		o->etcd_servers = value;
	else if (streq(name, "token-auth-file"))
		o->token_file = value;
	else if (streq(name, "service-cluster-ip-range"))
		o->service_cidr = value;
	else if (streq(name, "service-node-port-range"))
		o->node_port_range = value;
	else
		return -ENOENT;
	return 0;
}

static void version(struct http_exchange *ex, void *ud)
{
	json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "major", "1", "minor",
			      "32", "gitVersion", "v1.32.0+kelp-" KELP_VERSION, "gitCommit", "",
			      "gitTreeState", "clean", "buildDate", "1970-01-01T00:00:00Z",
			      "goVersion", "", "compiler", "gcc", "platform", "linux/amd64");
	char *s = json_dumps(v, JSON_COMPACT);
	http_respond(ex, 200, "application/json", s, strlen(s));
	free(s);
	json_decref(v);
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

/* CA (kept across restarts), a fresh serving certificate and admin client
 * certificate, and the server's TLS context. */
static int setup_pki(struct serve *s, const char *host, SSL_CTX **ret_tls)
{
	struct daemon *d = s->d;
	_cleanup_free_ char *dir = xasprintf("%s/pki", s->o.data_dir);
	_cleanup_(pki_cert_freep) struct pki_cert *srv = NULL;
	_cleanup_free_ char *crt = xasprintf("%s/apiserver.crt", dir);
	_cleanup_free_ char *key = xasprintf("%s/apiserver.key", dir);
	_cleanup_free_ char *ca_file = xasprintf("%s/%s", dir, PKI_CA_CERT_FILE);
	const char *dns[] = {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			     "kubernetes.default.svc.cluster.local"};
	const char *ips[] = {"127.0.0.1", "198.19.0.1", host};
	bool created = false;
	int r;

	r = pki_ca_load_or_create(dir, &s->ca, &created);
	if (r < 0) {
		log_error(&d->log, "cannot load or create the cluster CA", LOG_S("dir", dir), LOG_ERR(r));
		return r;
	}
	if (created)
		log_info(&d->log, "created the cluster CA", LOG_S("dir", dir));
	bool host_is_ip = strspn(host, "0123456789.:abcdefABCDEF") == strlen(host) && strpbrk(host, ".:");
	r = pki_issue_server(s->ca, "kelp-apiserver", dns, ARRAY_SIZE(dns),
			     ips, ARRAY_SIZE(ips) - (host_is_ip && !streq(host, "127.0.0.1") ? 0 : 1),
			     &srv);
	if (r >= 0)
		r = pki_cert_write(srv, crt, key);
	if (r >= 0)
		r = pki_issue_client(s->ca, "kelp-admin", (const char *const[]){"system:masters"}, 1,
				     &s->admin);
	if (r < 0) {
		log_error(&d->log, "cannot issue certificates", LOG_ERR(r));
		return r;
	}
	r = http_tls_server_ctx(crt, key, ca_file, ret_tls);
	if (r < 0)
		log_error(&d->log, "cannot set up TLS", LOG_ERR(r));
	return r;
}

static void api_ready(void *ud, int err)
{
	struct serve *s = ud;
	struct daemon *d = s->d;
	_cleanup_free_ char *path = xasprintf("%s/kubeconfig", s->o.data_dir);

	if (err) {
		log_error(&d->log, "the API server could not start", LOG_ERR(err));
		loop_stop(d->loop);
		return;
	}
	if (!s->o.insecure) {
		int r = pki_kubeconfig_write_admin(path, s->url, s->ca, s->admin);
		if (r < 0) {
			log_error(&d->log, "cannot write the kubeconfig", LOG_S("path", path), LOG_ERR(r));
			loop_stop(d->loop);
			return;
		}
	}
	d->ready = true;
	log_info(&d->log, "ready", LOG_S("kubeconfig", s->o.insecure ? "" : path),
		 LOG_S("server", s->url));
}

static int open_store(struct serve *s)
{
	struct daemon *d = s->d;
	struct store_config cfg = {.log = &d->log, .metrics = d->metrics};
	_cleanup_free_ char *dir = xasprintf("%s/store", s->o.data_dir);

	if (s->o.etcd_servers) {
		_cleanup_free_ char *list = xstrdup(s->o.etcd_servers);
		for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			s->endpoints = xrealloc(s->endpoints, (s->nendpoints + 1) * sizeof(char *));
			s->endpoints[s->nendpoints++] = xstrdup(t);
		}
		cfg.backend = "etcd";
		cfg.endpoints = (const char *const *)s->endpoints;
		cfg.nendpoints = s->nendpoints;
	} else {
		cfg.backend = "embedded";
		cfg.data_dir = dir;
	}
	int r = store_open(d->loop, &cfg, &s->store);
	if (r < 0)
		log_error(&d->log, "cannot open the store", LOG_S("backend", cfg.backend),
			  LOG_S("error", store_strerror(r)));
	return r;
}

int serve_start(struct daemon *d, const struct serve_opts *o, struct serve **ret)
{
	struct serve *s = xnew(struct serve, 1);
	SSL_CTX *tls = NULL;
	int r;

	s->d = d;
	s->o = *o;
	if (!s->o.data_dir)
		s->o.data_dir = "/var/lib/kelp";
	if (!s->o.listen)
		s->o.listen = "127.0.0.1:6443";
	*ret = s;
	r = mkdir_p(s->o.data_dir, 0700);
	if (r < 0) {
		log_error(&d->log, "cannot create the data directory", LOG_S("dir", s->o.data_dir),
			  LOG_ERR(r));
		return r;
	}
	s->host = listen_host(s->o.listen);
	const char *host = s->host;
	if (!s->o.insecure) {
		r = setup_pki(s, host, &tls);
		if (r < 0)
			return r;
	}
	r = open_store(s);
	if (r < 0) {
		SSL_CTX_free(tls);
		return r;
	}
	http_router_add(d->router, "GET", "/version", version, s);
	r = daemon_listen(d, s->o.listen, tls);
	SSL_CTX_free(tls);
	if (r < 0)
		return r;
	unsigned port = http_server_port(d->server);
	bool v6 = strchr(host, ':') != NULL;
	s->url = xasprintf(v6 ? "%s://[%s]:%u" : "%s://%s:%u", s->o.insecure ? "http" : "https", host,
			   port);
	struct apiserver_config acfg = {
		.loop = d->loop,
		.store = s->store,
		.log = &d->log,
		.metrics = d->metrics,
		.service_cidr = s->o.service_cidr,
		.node_port_range = s->o.node_port_range,
		.advertise_address = host,
		.advertise_port = port,
		.token_file = s->o.token_file,
		.anonymous_admin = s->o.insecure,
	};
	r = apiserver_new(&acfg, api_ready, s, &s->api);
	if (r < 0)
		return r;
	apiserver_route(s->api, d->router);
	return 0;
}

void serve_free(struct serve *s)
{
	if (!s)
		return;
	/* The store's last callbacks still reach the API server. */
	store_close(s->store);
	s->api = apiserver_free(s->api);
	pki_cert_free(s->ca);
	pki_cert_free(s->admin);
	for (size_t i = 0; i < s->nendpoints; i++)
		free(s->endpoints[i]);
	free(s->endpoints);
	free(s->url);
	free(s->host);
	free(s);
}
