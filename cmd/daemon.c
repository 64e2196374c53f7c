#include "daemon.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>

#include "api/api.h"
#include "base/base.h"

int daemon_log_option(struct daemon *d, const char *name, const char *value)
{
	if (streq(name, "log-level")) {
		if (log_level_parse(value, &d->log.level) < 0) {
			fprintf(stderr, "kelp: --log-level: want error, warn, info, debug or trace\n");
			return -EINVAL;
		}
		return 0;
	}
	if (streq(name, "log-format")) {
		if (log_format_parse(value, &d->log.format) < 0) {
			fprintf(stderr, "kelp: --log-format: want text or json\n");
			return -EINVAL;
		}
		return 0;
	}
	return -ENOENT;
}

int daemon_parse(struct daemon *d, int argc, char **argv, const char *role,
		 const struct option *longopts,
		 int (*option)(void *ctx, const char *name, const char *value), void *ctx,
		 const char *help)
{
	int c, idx;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
		if (c == 'h') {
			fputs(help, stdout);
			return 1;
		}
		if (c != 0) {
			fputs(help, stderr);
			return -EINVAL;
		}
		int r = daemon_log_option(d, longopts[idx].name, optarg);
		if (r == -ENOENT)
			r = option(ctx, longopts[idx].name, optarg);
		if (r < 0)
			return -EINVAL;
	}
	if (optind < argc) {
		fprintf(stderr, "kelp %s: unexpected argument \"%s\"\n", role, argv[optind]);
		return -EINVAL;
	}
	return 0;
}

static void health(struct http_exchange *ex, void *ud)
{
	struct daemon *d = ud;
	const char *path = http_exchange_request(ex)->path;

	if (streq(path, "/readyz") && !d->ready) {
		http_respond_text(ex, 503, "not ready");
		return;
	}
	http_respond(ex, 200, "text/plain; charset=utf-8", "ok", 2);
}

static void metrics(struct http_exchange *ex, void *ud)
{
	struct daemon *d = ud;
	struct buf b = {0};

	metrics_expose(d->metrics, &b);
	http_respond(ex, 200, METRICS_CONTENT_TYPE, b.data, b.len);
	buf_free(&b);
}

/* Count every request by method and code on its way to the router. */
static void counted(struct http_exchange *ex, void *ud)
{
	struct daemon *d = ud;
	metric_inc(metric_with(d->requests, http_exchange_request(ex)->method));
	http_router_dispatch(ex, d->router);
}

static void on_signal(struct loop_signals *s, int signo)
{
	struct daemon *d = container_of(s, struct daemon, signals);
	log_info(&d->log, "stopping", LOG_S("signal", strsignal(signo)));
	d->stop_signal = signo;
	loop_stop(d->loop);
}

int daemon_init(struct daemon *d, const char *component)
{
	int r;

	d->log.component = component;
	d->signals.fd = -1;
	r = loop_new(&(struct loop_config){.log = &d->log}, &d->loop);
	if (r < 0) {
		log_error(&d->log, "cannot set up io_uring", LOG_ERR(r));
		return r;
	}
	d->metrics = metrics_registry_new();
	metrics_register_process(d->metrics);
	metrics_counter_new(d->metrics, "kelp_http_requests_total",
			    "HTTP requests received, by method.", (const char *const[]){"method"}, 1,
			    &d->requests);
	d->router = http_router_new();
	http_router_add(d->router, "GET", "/healthz", health, d);
	http_router_add(d->router, "GET", "/livez", health, d);
	http_router_add(d->router, "GET", "/readyz", health, d);
	http_router_add(d->router, "GET", "/metrics", metrics, d);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	d->signals.fn = on_signal;
	r = loop_signals_start(d->loop, &d->signals, &set);
	if (r < 0)
		log_error(&d->log, "cannot watch signals", LOG_ERR(r));
	signal(SIGPIPE, SIG_IGN);
	return r;
}

/* Requests the HTTP layer refuses (a body over the limit...) are answered
 * with a Kubernetes Status on API paths, plain text elsewhere. */
static void http_error(struct http_exchange *ex, int status, const char *msg, void *ud)
{
	const char *path = http_exchange_request(ex)->path;
	if (!str_has_prefix(path, "/api")) {
		http_respond_text(ex, status, msg);
		return;
	}
	json_t *st = status == 413 ? api_status_request_entity_too_large(3 * 1024 * 1024)
				   : api_status_failure(status, api_status_reason_for_code(status), msg);
	char *body = api_json_dumps(st);
	http_respond(ex, status, "application/json", body, strlen(body));
	free(body);
	json_decref(st);
}

int daemon_listen(struct daemon *d, const char *listen, SSL_CTX *tls)
{
	int r = http_server_new(d->loop,
				&(struct http_server_config){.listen = listen,
							     .tls = tls,
							     .handler = counted,
							     .handler_ud = d,
							     .error_fn = http_error,
							     .log = &d->log},
				&d->server);
	if (r < 0)
		log_error(&d->log, "cannot listen", LOG_S("address", listen), LOG_ERR(r));
	else
		log_info(&d->log, "serving", LOG_S("address", http_server_address(d->server)),
			 LOG_B("tls", tls != NULL));
	return r;
}

int daemon_run(struct daemon *d)
{
	return loop_run(d->loop);
}

void daemon_fini(struct daemon *d)
{
	d->server = http_server_free(d->server);
	if (d->signals.fd >= 0)
		loop_signals_stop(d->loop, &d->signals);
	/* Reap the cancelled signal poll before the loop goes. */
	if (d->loop)
		loop_run_once(d->loop, 0);
	d->router = http_router_free(d->router);
	d->metrics = metrics_registry_free(d->metrics);
	d->loop = loop_free(d->loop);
}
