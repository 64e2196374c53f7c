/* The API server's life: configuration, the resources and their watch
 * caches, the bootstrap objects, readiness. */
#include "apiserver/internal.h"

#include <arpa/inet.h>
#include <stdio.h>

#ifdef KELP_HAVE_OPENAPI
#include "apiserver/openapi/openapi.h"
#endif

static int parse_cidr(const char *s, uint32_t *ret_base, uint32_t *ret_size)
{
	char ip[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	uint64_t bits;
	struct in_addr in;

	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (inet_pton(AF_INET, ip, &in) != 1 || parse_u64(slash + 1, strlen(slash + 1), &bits) < 0 ||
	    bits < 8 || bits > 30)
		return -EINVAL;
	uint32_t size = 1u << (32 - bits);
	*ret_base = ntohl(in.s_addr) & ~(size - 1);
	*ret_size = size;
	return 0;
}

/* Ready once the bootstrap objects are written and every cache listed. */
static void ready_timer(struct loop_timer *t)
{
	struct apiserver *a = container_of(t, struct apiserver, ready_poll);
	bool synced = a->bootstrap_pending == 0;

	for (size_t i = 0; i < a->nresources && synced; i++)
		synced = watch_cache_synced(a->resources[i].cache);
	if (!synced) {
		loop_timer_arm(a->loop, &a->ready_poll, 10 * 1000000u);
		return;
	}
	a->ready = true;
	log_info(a->log, "API server ready", LOG_U("resources", a->nresources));
	if (a->ready_fn)
		a->ready_fn(a->ready_ud, 0);
}


int apiserver_new(const struct apiserver_config *cfg, void (*ready)(void *ud, int err), void *ud,
		  struct apiserver **ret)
{
	struct apiserver *a = xnew(struct apiserver, 1);
	int r;

	a->cfg = *cfg;
	a->loop = cfg->loop;
	a->store = cfg->store;
	a->log = cfg->log;
	a->ready_fn = ready;
	a->ready_ud = ud;
	if (!a->cfg.advertise_address)
		a->cfg.advertise_address = "127.0.0.1";
	if (!a->cfg.advertise_port)
		a->cfg.advertise_port = 6443;
	if (!a->cfg.max_inflight_read)
		a->cfg.max_inflight_read = 400;
	if (!a->cfg.max_inflight_mutating)
		a->cfg.max_inflight_mutating = 200;
	r = parse_cidr(cfg->service_cidr ? cfg->service_cidr : "198.19.0.0/16", &a->svc_base,
		       &a->svc_size);
	if (r < 0) {
		log_error(a->log, "invalid service CIDR", LOG_S("cidr", cfg->service_cidr));
		free(a);
		return r;
	}
	a->nodeport_lo = 30000;
	a->nodeport_hi = 32767;
	if (cfg->node_port_range &&
	    sscanf(cfg->node_port_range, "%u-%u", &a->nodeport_lo, &a->nodeport_hi) != 2) {
		log_error(a->log, "invalid node port range", LOG_S("range", cfg->node_port_range));
		free(a);
		return -EINVAL;
	}
	if (cfg->token_file) {
		r = handler_load_tokens(a, cfg->token_file);
		if (r < 0) {
			log_error(a->log, "cannot read the token file", LOG_S("file", cfg->token_file),
				  LOG_ERR(r));
			free(a);
			return r;
		}
	}
	if (cfg->metrics) {
		metrics_counter_new(cfg->metrics, "apiserver_request_total",
				    "API requests by verb, resource and HTTP code.",
				    (const char *const[]){"verb", "resource", "code"}, 3, &a->m_requests);
		metrics_histogram_new(cfg->metrics, "apiserver_request_duration_seconds",
				      "API request latency by verb and resource.",
				      (const char *const[]){"verb", "resource"}, 2, NULL, 0,
				      &a->m_duration);
	}
	a->server_address = xasprintf("%s:%u", a->cfg.advertise_address, a->cfg.advertise_port);
	registry_init(a);
	bootstrap_start(a);
	for (size_t i = 0; i < a->nresources; i++)
		watch_cache_start(a, &a->resources[i]);
	a->ready_poll.fn = ready_timer;
	loop_timer_arm(a->loop, &a->ready_poll, 0);
	*ret = a;
	return 0;
}

struct apiserver *apiserver_free(struct apiserver *a)
{
	if (!a)
		return NULL;
	loop_timer_disarm(a->loop, &a->ready_poll);
	namespace_jobs_free(a);
	registry_free(a);
#ifdef KELP_HAVE_OPENAPI
	openapi_docs_free(a->openapi);
#endif
	free(a->server_address);
	handler_free_tokens(a);
	free(a);
	return NULL;
}
