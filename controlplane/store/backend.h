/* What a store backend implements (embedded/, etcd/). The frontend
 * (store.c) has validated each request before it gets here. */
#pragma once

#include "store/store.h"

struct store_backend_ops {
	const char *name;
	int (*range)(struct store *s, const struct store_range_req *req, store_range_fn fn,
		     void *ud);
	int (*txn)(struct store *s, const struct store_txn_req *req, store_txn_fn fn, void *ud);
	int (*watch)(struct store *s, const struct store_watch_req *req,
		     const struct store_watch_ops *ops, void *ud, struct store_watch **ret);
	void (*watch_cancel)(struct store_watch *w);
	void (*watch_request_progress)(struct store_watch *w);
	int (*compact)(struct store *s, int64_t rev, store_rev_fn fn, void *ud);
	int (*status)(struct store *s, store_status_fn fn, void *ud);
	int (*lease_grant)(struct store *s, int64_t ttl_s, int64_t id, store_lease_fn fn, void *ud);
	int (*lease_revoke)(struct store *s, int64_t id, store_rev_fn fn, void *ud);
	int (*lease_keepalive)(struct store *s, int64_t id, store_lease_fn fn, void *ud);
	/* As store_close(): pending callbacks run with -ECANCELED, watches
	 * close, then everything is freed (including s). */
	void (*close)(struct store *s);
};

/* Every backend's handle starts with this. */
struct store {
	const struct store_backend_ops *ops;
	struct loop *loop;
	const struct logger *log;
	struct metrics_registry *metrics;
};

/* Every watch handle starts with this. */
struct store_watch {
	struct store *store;
};

int store_embedded_open(struct loop *l, const struct store_config *cfg, struct store **ret);
int store_etcd_open(struct loop *l, const struct store_config *cfg, struct store **ret);
