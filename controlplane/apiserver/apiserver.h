/* controlplane/apiserver: the Kubernetes REST API on the store.
 *
 * apiserver_new() bootstraps what a cluster starts with (the default,
 * kube-system, kube-public and kube-node-lease namespaces; the kubernetes
 * Service and its endpoints) and starts one watch cache per resource;
 * apiserver_route() puts /api, /apis, /openapi and /version on a router.
 * Everything runs on the loop the store uses. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct logger;
struct metrics_registry;
struct store;
struct http_router;

struct apiserver_config {
	struct loop *loop;
	struct store *store;
	const struct logger *log;
	struct metrics_registry *metrics; /* may be NULL */
	const char *service_cidr;     /* default 198.19.0.0/16 */
	const char *node_port_range;  /* default 30000-32767 */
	const char *advertise_address; /* the kubernetes Service's endpoint, default 127.0.0.1 */
	unsigned advertise_port;       /* default 6443 */
	const char *token_file;        /* static tokens (token,user,uid,"groups"); may be NULL */
	unsigned max_inflight_read;    /* 429 above it; default 400 */
	unsigned max_inflight_mutating; /* default 200 */
	/* Let requests without credentials in as system:anonymous with
	 * everything allowed (tests and a bare `kelp server` without TLS). */
	bool anonymous_admin;
};

struct apiserver;

/* ready is called once the bootstrap objects exist and the caches are
 * synced (or with an error). */
int apiserver_new(const struct apiserver_config *cfg, void (*ready)(void *ud, int err), void *ud,
		  struct apiserver **ret);
struct apiserver *apiserver_free(struct apiserver *a);
void apiserver_route(struct apiserver *a, struct http_router *r);
