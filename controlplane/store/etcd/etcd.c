/* The etcd backend: opening and closing, the endpoint list with
 * failover, and periodic compaction. */
#include "etcd-internal.h"

#include <inttypes.h>
#include <stdio.h>

#include "metrics/metrics.h"

/* The key kube-apiserver uses to agree, among several servers, on who
 * compacts in each period. */
#define COMPACT_KEY "compact_rev_key"

static const struct store_backend_ops etcd_ops;

/* --- deferred work --- */

static void teardown(struct etcd *e)
{
	e->tearing_down = true;
	/* Freeing a client fails its calls: their handlers free themselves. */
	for (size_t i = 0; i < e->neps; i++) {
		e->eps[i].cl = http_client_free(e->eps[i].cl);
		free(e->eps[i].url);
	}
	etcd_rpc_free_all(e);
	etcd_watch_free_all(e);
	free(e->eps);
	if (e->freed)
		*e->freed = true;
	free(e);
}

static void task_run(struct loop_task *t)
{
	struct etcd *e = container_of(t, struct etcd, task);

	e->task_queued = false;
	if (e->closing) {
		teardown(e);
		return;
	}
	etcd_watch_work(e);
}

void etcd_kick(struct etcd *e)
{
	if (e->task_queued || e->tearing_down)
		return;
	e->task_queued = true;
	e->task.fn = task_run;
	loop_defer(e->base.loop, &e->task);
}

/* --- endpoints --- */

static void retry_fire(struct loop_timer *t)
{
	struct etcd *e = container_of(t, struct etcd, retry_timer);

	/* A new round: every endpoint gets another chance. */
	e->dead = 0;
	e->backoff_ms = MIN(e->backoff_ms * 2, (unsigned)ETCD_BACKOFF_MAX_MS);
	etcd_rpc_resume(e);
	if (e->ws_wait && !loop_timer_armed(&e->ws_timer)) {
		e->ws_wait = false;
		etcd_kick(e);
	}
}

void etcd_endpoint_failed(struct etcd *e, size_t ep)
{
	/* Only the first failure of the current endpoint moves on: calls
	 * that were queued on it fail together. */
	if (ep != e->cur || etcd_all_dead(e))
		return;
	log_warn(e->base.log, "etcd endpoint unreachable", LOG_S("endpoint", e->eps[ep].url));
	e->dead++;
	e->cur = (e->cur + 1) % e->neps;
	metric_inc(e->m_failovers);
	if (etcd_all_dead(e) && !loop_timer_armed(&e->retry_timer)) {
		log_warn(e->base.log, "no etcd endpoint reachable, retrying",
			 LOG_U("after_ms", e->backoff_ms));
		loop_timer_arm(e->base.loop, &e->retry_timer, (uint64_t)e->backoff_ms * 1000000u);
	}
}

void etcd_endpoint_ok(struct etcd *e, size_t ep)
{
	if (ep != e->cur)
		return;
	e->dead = 0;
	e->backoff_ms = ETCD_BACKOFF_MIN_MS;
}

int etcd_pick_endpoint(struct etcd *e)
{
	while (!etcd_all_dead(e)) {
		if (e->eps[e->cur].cl)
			return (int)e->cur;
		etcd_endpoint_failed(e, e->cur);
	}
	return -1;
}

void etcd_call_request(const char *path, unsigned timeout_ms, struct http_header *h,
		       char *timeout_buf, struct http_call_request *ret)
{
	unsigned n = 0;

	h[n++] = (struct http_header){"content-type", "application/grpc"};
	h[n++] = (struct http_header){"te", "trailers"};
	h[n++] = (struct http_header){"user-agent", "kelp-store-etcd"};
	if (timeout_ms) {
		grpc_timeout_format(timeout_ms, timeout_buf);
		h[n++] = (struct http_header){"grpc-timeout", timeout_buf};
	}
	*ret = (struct http_call_request){
		.method = "POST",
		.target = path,
		.headers = h,
		.nheaders = n,
	};
}

void etcd_note_compacted(struct etcd *e, int64_t rev)
{
	if (rev > e->compact_rev_seen)
		e->compact_rev_seen = rev;
}

/* --- periodic compaction ---
 *
 * As kube-apiserver does: each period, a txn bumps COMPACT_KEY's version
 * if it is still what this server saw last time (so among several
 * servers one wins per period), and the winner compacts to the revision
 * it read a period earlier: at least one period of history stays. */

static void compact_arm(struct etcd *e)
{
	if (!e->closing)
		loop_timer_arm(e->base.loop, &e->compact_timer,
			       (uint64_t)e->retention_s * 1000000000u);
}

static void compact_done(void *ud, int err, int64_t rev)
{
	struct etcd *e = ud;

	e->compacting = false;
	if (err < 0 && err != -ECANCELED && err != -ESTALE)
		log_warn(e->base.log, "etcd compaction failed", LOG_ERR(err));
	compact_arm(e);
}

static void compact_txn_done(void *ud, int err, int64_t rev, const struct store_txn_res *res)
{
	struct etcd *e = ud;
	int64_t target;

	if (err < 0) {
		e->compacting = false;
		if (err != -ECANCELED)
			log_warn(e->base.log, "etcd compaction txn failed", LOG_ERR(err));
		compact_arm(e);
		return;
	}
	if (!res->succeeded) {
		/* Another server compacts this period: follow its count. */
		const struct store_range_res *rr = &res->results[0].range;
		e->compact_key_version = rr->n ? rr->kvs[0].version : 0;
		e->compact_next_rev = rev;
		e->compacting = false;
		compact_arm(e);
		return;
	}
	e->compact_key_version++;
	target = e->compact_next_rev;
	e->compact_next_rev = rev;
	if (target <= 0 || e->closing) {
		e->compacting = false;
		compact_arm(e);
		return;
	}
	log_info(e->base.log, "compacting etcd", LOG_I("rev", target));
	if (etcd_compact(&e->base, target, compact_done, e) < 0) {
		e->compacting = false;
		compact_arm(e);
	}
}

static void compact_fire(struct loop_timer *t)
{
	struct etcd *e = container_of(t, struct etcd, compact_timer);
	char val[24];

	if (e->compacting) {
		compact_arm(e);
		return;
	}
	snprintf(val, sizeof(val), "%" PRId64, e->compact_next_rev);
	struct store_cmp cmp = {
		.key = COMPACT_KEY,
		.key_len = strlen(COMPACT_KEY),
		.target = STORE_CMP_VERSION,
		.op = STORE_CMP_EQ,
		.num = e->compact_key_version,
	};
	struct store_op put = {
		.type = STORE_OP_PUT,
		.key = COMPACT_KEY,
		.key_len = strlen(COMPACT_KEY),
		.value = val,
		.value_len = strlen(val),
	};
	struct store_op get = {
		.type = STORE_OP_RANGE, .key = COMPACT_KEY, .key_len = strlen(COMPACT_KEY)};
	struct store_txn_req req = {.cmps = &cmp,
				    .ncmps = 1,
				    .success = &put,
				    .nsuccess = 1,
				    .failure = &get,
				    .nfailure = 1};
	e->compacting = true;
	if (etcd_txn(&e->base, &req, compact_txn_done, e) < 0) {
		e->compacting = false;
		compact_arm(e);
	}
}

/* --- open and close --- */

static void etcd_close(struct store *s)
{
	struct etcd *e = etcd_of(s);

	if (e->closing)
		return;
	e->closing = true;
	loop_timer_disarm(s->loop, &e->retry_timer);
	loop_timer_disarm(s->loop, &e->ws_timer);
	loop_timer_disarm(s->loop, &e->compact_timer);
	etcd_rpc_cancel_all(e);
	etcd_watch_cancel_all(e);
	if (e->depth == 0 && !e->task_queued) {
		teardown(e);
		return;
	}
	/* Inside one of our callbacks (or with the task queued): the rest
	 * happens from the loop, once the stack has unwound. */
	etcd_kick(e);
	if (e->depth > 0)
		return;
	/* The flag outlives e, which the task frees. */
	bool *freed = xnew(bool, 1);
	struct loop *l = s->loop;
	e->freed = freed;
	while (!*freed)
		loop_run_once(l, 100 * 1000000u);
	free(freed);
}

static int endpoint_open(struct etcd *e, const struct store_config *cfg, const char *url,
			 struct etcd_ep *ret)
{
	bool https = str_has_prefix(url, "https://");
	int r;

	if (!https && !str_has_prefix(url, "http://"))
		return -EINVAL;
	if (https && !cfg->tls)
		return -EINVAL;
	*ret = (struct etcd_ep){.url = xstrdup(url)};
	r = http_client_new(e->base.loop,
			    &(struct http_client_config){
				    .url = url,
				    .tls = https ? cfg->tls : NULL,
				    .h2 = true,
				    .connect_timeout_ms = MIN(e->timeout_ms, 3000u),
				    .log = cfg->log,
			    },
			    &ret->cl);
	if (r == -EINVAL) {
		free(ret->url);
		return r;
	}
	if (r < 0) {
		/* Unresolvable now: treated as a dead endpoint. */
		log_warn(cfg->log, "etcd endpoint unusable", LOG_S("endpoint", url), LOG_ERR(r));
		ret->cl = NULL;
	}
	return 0;
}

static void metrics_setup(struct etcd *e)
{
	struct metric_family *f;

	if (!e->base.metrics)
		return;
	if (metrics_counter_new(
		    e->base.metrics, "kelp_store_etcd_failovers_total",
		    "Times an etcd endpoint could not be reached and the next was tried.", NULL, 0,
		    &f) == 0)
		e->m_failovers = metric_solo(f);
	if (metrics_counter_new(e->base.metrics, "kelp_store_etcd_watch_resumes_total",
				"Times the etcd watch stream was opened again after it broke.",
				NULL, 0, &f) == 0)
		e->m_resumes = metric_solo(f);
}

int store_etcd_open(struct loop *l, const struct store_config *cfg, struct store **ret)
{
	if (!cfg->endpoints || !cfg->nendpoints)
		return -EINVAL;
	struct etcd *e = xnew(struct etcd, 1);
	e->base = (struct store){&etcd_ops, l, cfg->log, cfg->metrics};
	e->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 10000;
	e->backoff_ms = ETCD_BACKOFF_MIN_MS;
	e->retry_timer.fn = retry_fire;
	e->compact_timer.fn = compact_fire;
	e->eps = xnew(struct etcd_ep, cfg->nendpoints);
	bool usable = false;
	for (size_t i = 0; i < cfg->nendpoints; i++) {
		int r = cfg->endpoints[i] ? endpoint_open(e, cfg, cfg->endpoints[i], &e->eps[i])
					  : -EINVAL;
		if (r < 0) {
			e->neps = i;
			e->closing = true;
			teardown(e);
			return r;
		}
		usable |= e->eps[i].cl != NULL;
	}
	e->neps = cfg->nendpoints;
	if (!usable) {
		e->closing = true;
		teardown(e);
		return -EHOSTUNREACH;
	}
	e->retention_s = cfg->auto_compact_retention_s ? cfg->auto_compact_retention_s : 300;
	if (e->retention_s > 0)
		compact_arm(e);
	metrics_setup(e);
	*ret = &e->base;
	return 0;
}

static const struct store_backend_ops etcd_ops = {
	.name = "etcd",
	.range = etcd_range,
	.txn = etcd_txn,
	.watch = etcd_watch,
	.watch_cancel = etcd_watch_cancel,
	.watch_request_progress = etcd_watch_request_progress,
	.compact = etcd_compact,
	.status = etcd_status,
	.lease_grant = etcd_lease_grant,
	.lease_revoke = etcd_lease_revoke,
	.lease_keepalive = etcd_lease_keepalive,
	.close = etcd_close,
};
