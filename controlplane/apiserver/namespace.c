/* Namespace deletion. A Namespace with spec.finalizers is first marked
 * Terminating; then everything in it is deleted and the "kubernetes"
 * finalizer removed, after which the Namespace itself goes. Kubernetes
 * does the second half in its namespace controller; until kelp's
 * controllers exist it runs here, as a job on the API server's loop. */
#include "apiserver/internal.h"

struct ns_job {
	struct apiserver *a;
	struct ns_job *prev, *next_job;
	char *ns;
	size_t next;   /* the next resource to empty */
	int pending;
	int tries;
	struct loop_timer retry;
};

static void job_next(struct ns_job *j);

static void job_free(struct ns_job *j)
{
	struct apiserver *a = j->a;
	if (j->prev)
		j->prev->next_job = j->next_job;
	else
		a->ns_jobs = j->next_job;
	if (j->next_job)
		j->next_job->prev = j->prev;
	loop_timer_disarm(j->a->loop, &j->retry);
	free(j->ns);
	free(j);
}

static void finalized(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct ns_job *j = ud;
	if (err || !ok)
		log_warn(j->a->log, "namespace could not be finalized", LOG_S("namespace", j->ns),
			 LOG_ERR(err));
	else
		log_info(j->a->log, "namespace deleted", LOG_S("namespace", j->ns));
	job_free(j);
}

/* Everything is gone: drop the finalizer, and with it the Namespace. */
static void ns_got(void *ud, int err, int64_t rev, const struct store_kv *kv)
{
	struct ns_job *j = ud;

	if (err || !kv) {
		job_free(j);
		return;
	}
	json_t *ns = object_from_kv(kv);
	json_t *fins = api_get_array(ns, "spec.finalizers");
	size_t i;
	json_t *f;
	json_array_foreach(fins, i, f) {
		if (json_is_string(f) && streq(json_string_value(f), "kubernetes")) {
			json_array_remove(fins, i);
			break;
		}
	}
	int r;
	if (!json_array_size(fins) && !json_array_size(api_meta_finalizers(ns))) {
		r = store_delete(j->a->store, kv->key, kv->key_len, kv->mod_rev, finalized, j);
	} else {
		const struct resource *res = resource_for_kind(j->a, "", "Namespace");
		struct buf b = {0};
		object_to_store(res, ns, &b);
		r = store_update(j->a->store, kv->key, kv->key_len, b.data, b.len, kv->mod_rev, 0,
				 finalized, j);
		buf_free(&b);
	}
	json_decref(ns);
	if (r < 0)
		job_free(j);
}

static void deleted_one(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct ns_job *j = ud;
	if (--j->pending == 0) {
		if (err == -ECANCELED)
			job_free(j);
		else
			job_next(j);
	}
}

static void listed(void *ud, int err, int64_t rev, const struct store_range_res *res)
{
	struct ns_job *j = ud;

	if (err == -ECANCELED) {
		job_free(j);
		return;
	}
	if (err) {
		loop_timer_arm(j->a->loop, &j->retry, 1000 * 1000000u);
		return;
	}
	j->pending = 1;
	for (size_t i = 0; i < res->n; i++) {
		j->pending++;
		if (store_delete(j->a->store, res->kvs[i].key, res->kvs[i].key_len, 0, deleted_one, j) < 0)
			j->pending--;
	}
	if (--j->pending == 0)
		job_next(j);
}

static void job_next(struct ns_job *j)
{
	struct apiserver *a = j->a;

	while (j->next < a->nresources) {
		const struct resource *res = &a->resources[j->next++];
		if (!res->kind->namespaced)
			continue;
		_cleanup_free_ char *prefix = resource_prefix(res, j->ns);
		_cleanup_free_ char *end = xmalloc(strlen(prefix) + 1);
		size_t end_len = store_prefix_end(prefix, strlen(prefix), end);
		if (store_range(a->store,
				&(struct store_range_req){.key = prefix,
							  .key_len = strlen(prefix),
							  .end = end,
							  .end_len = end_len,
							  .keys_only = true},
				listed, j) == 0)
			return;
	}
	const struct resource *nsres = resource_for_kind(a, "", "Namespace");
	_cleanup_free_ char *key = resource_key(nsres, NULL, j->ns);
	if (store_get(a->store, key, strlen(key), 0, ns_got, j) < 0)
		job_free(j);
}

static void retry_fire(struct loop_timer *t)
{
	struct ns_job *j = container_of(t, struct ns_job, retry);
	if (j->next)
		j->next--;
	job_next(j);
}

void namespace_finalize_start(struct apiserver *a, const char *ns)
{
	struct ns_job *j = xnew(struct ns_job, 1);
	j->a = a;
	j->ns = xstrdup(ns);
	j->retry.fn = retry_fire;
	j->next_job = a->ns_jobs;
	if (a->ns_jobs)
		a->ns_jobs->prev = j;
	a->ns_jobs = j;
	log_info(a->log, "namespace terminating: deleting its content", LOG_S("namespace", ns));
	job_next(j);
}

void namespace_jobs_free(struct apiserver *a)
{
	while (a->ns_jobs)
		job_free(a->ns_jobs);
}

static void sa_created(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
}

/* A new namespace gets its "default" ServiceAccount, which pods without
 * one use. Kubernetes' serviceaccount controller does this; until kelp's
 * controllers exist, the API server does it at once. */
void namespace_created(struct apiserver *a, const char *ns)
{
	const struct resource *res = resource_for_kind(a, "", "ServiceAccount");
	char uid[37], ts[API_TIME_LEN];

	if (!res)
		return;
	json_t *sa = json_pack("{s:s, s:s, s:{s:s, s:s}}", "kind", "ServiceAccount", "apiVersion", "v1",
			       "metadata", "name", "default", "namespace", ns);
	object_new_uid(uid);
	api_meta_set_uid(sa, uid);
	api_time_format((int64_t)(now_real_ns() / 1000000000u * 1000000000u), ts);
	api_set_str(sa, "metadata.creationTimestamp", ts);
	_cleanup_free_ char *key = resource_key(res, ns, "default");
	struct buf b = {0};
	object_to_store(res, sa, &b);
	store_create(a->store, key, strlen(key), b.data, b.len, 0, sa_created, NULL);
	buf_free(&b);
	json_decref(sa);
}
