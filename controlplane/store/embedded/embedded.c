/* The embedded backend: opening and closing, the queues of requests
 * waiting for durability, commits reported by the sync thread, and the
 * loop timers (answers, lease expiry, watch progress, compaction). */
#include "internal.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "log/log.h"
#include "metrics/metrics.h"

#define DEFAULT_SNAPSHOT_BYTES (64ll << 20)
#define DEFAULT_RETENTION_S 300

/* --- dispatch guards: a callback may close the store --- */

bool emb_enter(struct emb *s)
{
	if (s->closing)
		return false;
	s->busy++;
	return true;
}

static void emb_free(struct emb *s);

void emb_leave(struct emb *s)
{
	if (--s->busy == 0 && s->dead)
		emb_free(s);
}

/* --- requests --- */

struct emb_req *emb_req_new(struct emb *s, enum req_kind kind, void *ud)
{
	struct emb_req *r = xnew(struct emb_req, 1);
	r->kind = kind;
	r->ud = ud;
	return r;
}

void emb_req_free(struct emb_req *r)
{
	if (r->kind == REQ_RANGE)
		free((char *)r->range.key);
	emb_arena_free(r->arena);
	free(r);
}

static void list_push(struct req_list *l, struct emb_req *r)
{
	r->next = NULL;
	*l->tail = r;
	l->tail = &r->next;
}

static struct emb_req *list_pop(struct req_list *l)
{
	struct emb_req *r = l->head;
	if (r) {
		l->head = r->next;
		if (!l->head)
			l->tail = &l->head;
	}
	return r;
}

void emb_req_queue(struct emb *s, struct emb_req *r, uint64_t lsn)
{
	r->lsn = lsn;
	if (lsn <= s->committed_lsn) {
		list_push(&s->ready, r);
		emb_kick(s);
	} else {
		list_push(&s->waiting, r);
	}
}

static void answer(struct emb *s, struct emb_req *r, int err)
{
	switch (r->kind) {
	case REQ_RANGE:
		if (err)
			r->fn.range(r->ud, err, s->committed_rev, NULL);
		else
			emb_range_answer(s, r);
		break;
	case REQ_TXN:
		r->fn.txn(r->ud, err, err ? 0 : r->arg, err ? NULL : &r->res);
		break;
	case REQ_STATUS: {
		struct store_status st = {
			.rev = s->committed_rev,
			.compact_rev = s->m.compact_rev,
			.keys = s->committed_live,
			.db_bytes = (int64_t)wal_db_bytes(&s->wal),
		};
		r->fn.status(r->ud, err, err ? NULL : &st);
		break;
	}
	case REQ_COMPACT:
	case REQ_REVOKE:
		if (r->fn.rev)
			r->fn.rev(r->ud, err, s->committed_rev);
		break;
	case REQ_LEASE:
		r->fn.lease(r->ud, err, err ? 0 : r->arg, err ? 0 : r->arg2);
		break;
	}
}

uint64_t emb_log_record(struct emb *s)
{
	uint64_t lsn = s->next_lsn++;

	wal_append(&s->wal, s->rec.data, s->rec.len, lsn);
	s->log_bytes += (int64_t)s->rec.len;
	if (s->log_bytes >= s->snap_limit && !s->snap_running)
		emb_kick(s);
	return lsn;
}

/* --- commits --- */

void emb_commit(struct emb *s, uint64_t lsn)
{
	struct emb_req *r;

	s->committed_lsn = lsn;
	while ((r = s->waiting.head) && r->lsn <= lsn) {
		list_pop(&s->waiting);
		if (r->rev > s->committed_rev)
			s->committed_rev = r->rev;
		s->committed_live += r->live;
		if (r->kind == REQ_COMPACT) {
			s->pending_compactions--;
			emb_compact_apply(s, r->arg);
		}
		answer(s, r, 0);
		emb_req_free(r);
		if (s->closing)
			return;
	}
	emb_watch_pump(s);
}

void emb_fail(struct emb *s, int err)
{
	struct emb_req *r;

	s->failed = true;
	log_error(s->log,
		  "store: a write could not be made durable; failing every pending and later "
		  "write (reads go on; reopen the store once the disk is fixed)",
		  LOG_S("dir", s->dir), LOG_ERR(err));
	while ((r = list_pop(&s->waiting))) {
		if (r->kind == REQ_COMPACT)
			s->pending_compactions--;
		answer(s, r, -EIO);
		emb_req_free(r);
		if (s->closing)
			return;
	}
}

static void link_run(struct loop_task *t)
{
	struct emb_link *link = container_of(t, struct emb_link, task);
	struct emb *s = link->s;

	if (!s) {
		/* The store closed while this was queued. */
		free(link);
		return;
	}
	struct wal *w = &s->wal;
	pthread_mutex_lock(&w->mu);
	link->pending = false;
	uint64_t lsn = w->synced_lsn;
	int err = w->err;
	bool snap = w->snap_done;
	int64_t snap_bytes = (int64_t)w->snap_bytes;
	w->snap_done = false;
	pthread_mutex_unlock(&w->mu);

	if (!emb_enter(s))
		return;
	if (snap) {
		/* The log may grow as big as the snapshot before the next:
		 * recovery reads at most twice the data, and each byte of
		 * data is rewritten a bounded number of times. */
		s->snap_running = false;
		s->snap_limit = MAX(s->snapshot_bytes, snap_bytes);
	}
	if (lsn > s->committed_lsn)
		emb_commit(s, lsn);
	if (!s->closing && err && !s->failed)
		emb_fail(s, err);
	emb_leave(s);
}

/* --- the kick: answers and deliveries at the next loop iteration --- */

static void kick_fn(struct loop_timer *t)
{
	struct emb *s = container_of(t, struct emb, kick);

	if (!emb_enter(s))
		return;
	/* Only what was queued before: answers queued by callbacks wait for
	 * the next iteration. */
	struct emb_req *last = s->ready.head ? container_of(s->ready.tail, struct emb_req, next) : NULL;
	struct emb_req *r;
	while (last && !s->closing && (r = list_pop(&s->ready))) {
		answer(s, r, 0);
		bool done = r == last;
		emb_req_free(r);
		if (done)
			break;
	}
	if (!s->closing)
		emb_watch_pump(s);
	if (!s->closing && !s->snap_running && !s->failed && s->log_bytes >= s->snap_limit &&
	    !s->pending_compactions) {
		int r2 = emb_snapshot_start(s);
		if (r2 < 0) {
			log_warn(s->log, "store: cannot start a snapshot", LOG_ERR(r2));
			s->log_bytes = s->snap_limit / 2;
		} else {
			s->snap_running = true;
			s->log_bytes = 0;
		}
	}
	if (!s->closing && s->ready.head)
		emb_kick(s);
	emb_leave(s);
}

void emb_kick(struct emb *s)
{
	s->kick.fn = kick_fn;
	if (!s->closing && !loop_timer_armed(&s->kick))
		loop_timer_arm(s->loop, &s->kick, 0);
}

/* --- compaction and status --- */

static void queue_compaction(struct emb *s, int64_t rev, store_rev_fn fn, void *ud)
{
	struct emb_req *q = emb_req_new(s, REQ_COMPACT, ud);
	q->fn.rev = fn;
	q->arg = rev;
	buf_clear(&s->rec);
	rec_compact(&s->rec, rev);
	s->pending_compactions++;
	emb_req_queue(s, q, emb_log_record(s));
}

static int emb_compact(struct store *st, int64_t rev, store_rev_fn fn, void *ud)
{
	struct emb *s = emb_of(st);

	if (s->closing)
		return -ECANCELED;
	if (s->failed)
		return -EIO;
	if (rev <= s->m.compact_rev || (s->pending_compactions && rev <= s->compact_pending_rev))
		return -ESTALE;
	if (rev > s->committed_rev)
		return -ERANGE;
	s->compact_pending_rev = rev;
	queue_compaction(s, rev, fn, ud);
	return 0;
}

static void compact_tick(struct loop_timer *t)
{
	struct emb *s = container_of(t, struct emb, compact_timer);
	int64_t keep_ns = s->retention_s * 1000000000ll;

	if (!emb_enter(s))
		return;
	int64_t rev = mvcc_rev_at_time(&s->m, (int64_t)now_real_ns() - keep_ns);
	rev = MIN(rev, s->committed_rev);
	if (!s->failed && rev > s->m.compact_rev &&
	    (!s->pending_compactions || rev > s->compact_pending_rev)) {
		log_debug(s->log, "store: automatic compaction", LOG_I("rev", rev));
		s->compact_pending_rev = rev;
		queue_compaction(s, rev, NULL, NULL);
	}
	loop_timer_arm(s->loop, &s->compact_timer, (uint64_t)MIN(MAX(keep_ns / 10, 100000000ll),
								   3600000000000ll));
	emb_leave(s);
}

static int emb_status(struct store *st, store_status_fn fn, void *ud)
{
	struct emb *s = emb_of(st);

	if (s->closing)
		return -ECANCELED;
	struct emb_req *r = emb_req_new(s, REQ_STATUS, ud);
	r->fn.status = fn;
	emb_req_queue(s, r, 0);
	return 0;
}

/* --- closing --- */

static void emb_free(struct emb *s)
{
	wal_destroy(&s->wal);
	mvcc_destroy(&s->m);
	lease_table_destroy(&s->leases);
	buf_free(&s->rec);
	free(s->evs);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	free(s->dir);
	free(s);
}

static void cancel_list(struct emb *s, struct req_list *l)
{
	struct emb_req *r;
	while ((r = list_pop(l))) {
		answer(s, r, -ECANCELED);
		emb_req_free(r);
	}
}

static void emb_close(struct store *st)
{
	struct emb *s = emb_of(st);
	struct emb_link *link = s->wal.link;

	if (s->closing)
		return;
	s->closing = true;
	s->busy++;
	loop_timer_disarm(s->loop, &s->kick);
	loop_timer_disarm(s->loop, &s->lease_timer);
	loop_timer_disarm(s->loop, &s->progress_timer);
	loop_timer_disarm(s->loop, &s->compact_timer);
	cancel_list(s, &s->ready);
	cancel_list(s, &s->waiting);
	emb_watch_close_all(s);
	wal_stop(&s->wal);
	/* A completion the sync thread posted may still sit in the loop's
	 * queue: let the loop run it (it sees the store closing) or leave
	 * the link behind to free itself. */
	for (int i = 0; link->pending && i < 100; i++)
		loop_run_once(s->loop, 10 * 1000000ull);
	if (link->pending)
		link->s = NULL;
	else
		free(link);
	s->wal.link = NULL;
	if (--s->busy)
		s->dead = true;
	else
		emb_free(s);
}

/* --- opening --- */

static const struct store_backend_ops emb_ops = {
	.name = "embedded",
	.range = emb_range,
	.txn = emb_txn,
	.watch = emb_watch,
	.watch_cancel = emb_watch_cancel,
	.watch_request_progress = emb_watch_request_progress,
	.compact = emb_compact,
	.status = emb_status,
	.lease_grant = emb_lease_grant,
	.lease_revoke = emb_lease_revoke,
	.lease_keepalive = emb_lease_keepalive,
	.close = emb_close,
};

static void register_metrics(struct emb *s, struct metrics_registry *reg)
{
	struct metric_family *f;
	double b[14];

	if (!reg)
		return;
	metrics_buckets_exponential(0.0001, 2, 14, b);
	if (metrics_histogram_new(reg, "kelp_store_sync_seconds",
				  "Time of each fdatasync of the embedded store's log.", NULL, 0, b,
				  14, &f) == 0)
		s->wal.sync_seconds = metric_solo(f);
	metrics_buckets_exponential(1, 2, 13, b);
	if (metrics_histogram_new(reg, "kelp_store_batch_records",
				  "Records per group commit of the embedded store's log.", NULL, 0,
				  b, 13, &f) == 0)
		s->wal.batch_records = metric_solo(f);
}

static int lock_dir(struct emb *s)
{
	_cleanup_free_ char *path = xasprintf("%s/LOCK", s->dir);

	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return -errno;
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		int r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		log_error(s->log, "store: the data directory is in use by another process",
			  LOG_S("dir", s->dir), LOG_ERR(r));
		return r;
	}
	return 0;
}

static void wal_init(struct emb *s, struct loop *l, const struct store_config *cfg)
{
	struct wal *w = &s->wal;
	uint64_t seg = (uint64_t)s->snapshot_bytes / 4;

	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->bg_work, NULL);
	pthread_cond_init(&w->changed, NULL);
	w->dir = xstrdup(s->dir);
	w->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	w->seg_fd = w->spare_fd = -1;
	w->sync = cfg->sync;
	w->seg_bytes = (MIN(MAX(seg, 1ull << 20), 16ull << 20) + 4095) & ~4095ull;
	w->log = cfg->log;
	w->loop = l;
	w->link = xnew(struct emb_link, 1);
	w->link->task.fn = link_run;
	w->link->s = s;
}

/* Create the directory so that it survives power loss: each directory
 * that gained an entry is synced. */
static int make_data_dir(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	int r = mkdir_p(dir, 0700);
	if (r < 0)
		return r;
	_cleanup_free_ char *p = xstrdup(dir);
	for (char *slash = strrchr(p, '/'); slash; slash = strrchr(p, '/')) {
		*slash = '\0';
		_cleanup_close_ int fd = open(slash == p ? "/" : p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0)
			return -errno;
		if (slash == p)
			break;
	}
	if (dir[0] != '/') {
		_cleanup_close_ int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0)
			return -errno;
	}
	return 0;
}

int store_embedded_open(struct loop *l, const struct store_config *cfg, struct store **ret)
{
	struct emb *s;
	int r;

	if (!cfg->data_dir || !cfg->data_dir[0])
		return -EINVAL;
	r = make_data_dir(cfg->data_dir);
	if (r < 0)
		return r;
	s = xnew(struct emb, 1);
	s->base = (struct store){.ops = &emb_ops, .loop = l, .log = cfg->log, .metrics = cfg->metrics};
	s->loop = l;
	s->log = cfg->log;
	s->dir = xstrdup(cfg->data_dir);
	s->lock_fd = -1;
	s->snapshot_bytes = cfg->snapshot_bytes > 0 ? cfg->snapshot_bytes : DEFAULT_SNAPSHOT_BYTES;
	s->snap_limit = s->snapshot_bytes;
	s->retention_s = cfg->auto_compact_retention_s ? cfg->auto_compact_retention_s
						       : DEFAULT_RETENTION_S;
	s->ready.tail = &s->ready.head;
	s->waiting.tail = &s->waiting.head;
	mvcc_init(&s->m);
	lease_table_init(&s->leases);
	wal_init(s, l, cfg);
	register_metrics(s, cfg->metrics);

	r = s->wal.dir_fd < 0 ? -errno : lock_dir(s);
	if (r == 0)
		r = emb_recover(s);
	if (r == 0)
		r = wal_start(&s->wal);
	if (r < 0) {
		free(s->wal.link);
		emb_free(s);
		return r;
	}
	if (s->retention_s > 0) {
		s->compact_timer.fn = compact_tick;
		loop_timer_arm(l, &s->compact_timer,
			       (uint64_t)MIN(MAX(s->retention_s * 100000000ll, 100000000ll),
					     3600000000000ll));
	}
	emb_lease_rearm(s);
	*ret = &s->base;
	return 0;
}
