/* The log on disk: the sync thread turns what the loop queued into one
 * frame, writes it with one pwritev into a pre-zeroed segment and makes it
 * durable with one fdatasync (group commit: whatever arrives during a sync
 * goes into the next frame). The background thread prepares the next
 * segment ahead of need and publishes snapshots. Both report to the loop
 * by posting struct emb_link. */
#include "internal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "log/log.h"
#include "metrics/metrics.h"

char *wal_seg_name(uint64_t seq)
{
	return xasprintf("wal-%016" PRIx64 ".log", seq);
}

char *wal_snap_name(uint64_t lsn, const char *suffix)
{
	return xasprintf("snap-%016" PRIx64 "%s", lsn, suffix);
}

static int fsync_dir(struct wal *w)
{
	return fsync(w->dir_fd) < 0 ? -errno : 0;
}

static void post_locked(struct wal *w)
{
	if (w->link->pending || w->closing)
		return;
	w->link->pending = true;
	loop_post(w->loop, &w->link->task);
}

int wal_segment_create(struct wal *w, uint64_t seq, int *ret_fd, uint64_t *ret_salt,
		       uint64_t *ret_size)
{
	_cleanup_free_ char *name = wal_seg_name(seq);
	_cleanup_free_ char *tmp = xasprintf("wal-%016" PRIx64 ".tmp", seq);
	_cleanup_close_ int fd = -1;
	char hdr[SEG_HEADER_BYTES];
	struct seg_header h = {.seq = seq};
	int r = 0;

	if (getrandom(&h.salt, sizeof(h.salt), 0) != sizeof(h.salt))
		h.salt = now_real_ns() ^ (seq * 0x9e3779b97f4a7c15ull);
	fd = openat(w->dir_fd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	seg_header_encode(&h, hdr);
	if (pwrite(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		r = errno ? -errno : -EIO;
	if (r == 0 && w->sync == STORE_SYNC_FDATASYNC) {
		/* Written zeros, not a hole or fallocate's unwritten extents:
		 * an fdatasync over them has no metadata to journal. */
		const size_t chunk = 1 << 20;
		_cleanup_free_ char *zero = xcalloc(1, chunk);
		for (uint64_t off = SEG_HEADER_BYTES; r == 0 && off < w->seg_bytes; off += chunk) {
			size_t n = (size_t)MIN((uint64_t)chunk, w->seg_bytes - off);
			if (pwrite(fd, zero, n, (off_t)off) != (ssize_t)n)
				r = errno ? -errno : -EIO;
		}
		if (r == 0 && fdatasync(fd) < 0)
			r = -errno;
	} else if (r == 0 && ftruncate(fd, (off_t)w->seg_bytes) < 0) {
		r = -errno;
	}
	if (r == 0 && renameat(w->dir_fd, tmp, w->dir_fd, name) < 0)
		r = -errno;
	if (r == 0)
		r = fsync_dir(w);
	if (r < 0) {
		unlinkat(w->dir_fd, tmp, 0);
		return r;
	}
	*ret_fd = TAKE_FD(fd);
	*ret_salt = h.salt;
	*ret_size = w->seg_bytes;
	return 0;
}

/* --- the sync thread --- */

static int roll(struct wal *w)
{
	pthread_mutex_lock(&w->mu);
	while (w->spare_fd < 0 && !w->spare_err) {
		pthread_cond_signal(&w->bg_work);
		pthread_cond_wait(&w->changed, &w->mu);
	}
	if (w->spare_fd < 0) {
		int r = w->spare_err;
		w->spare_err = 0;
		pthread_mutex_unlock(&w->mu);
		return r;
	}
	close(w->seg_fd);
	w->seg_fd = TAKE_FD(w->spare_fd);
	w->seg_seq = w->spare_seq;
	w->seg_salt = w->spare_salt;
	w->seg_size = w->spare_size;
	w->seg_off = SEG_HEADER_BYTES;
	w->segs = xrealloc(w->segs, (w->nsegs + 1) * sizeof(*w->segs));
	w->segs[w->nsegs++] = (struct seg_info){.seq = w->seg_seq, .bytes = w->seg_size};
	pthread_cond_signal(&w->bg_work);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static int pwritev_all(int fd, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t k = pwritev(fd, iov, n, (off_t)off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (uint64_t)k;
		while (n > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

static int write_frame(struct wal *w, const struct buf *payload, uint64_t first_lsn, uint32_t count)
{
	static const char pad[8];
	uint64_t span = frame_span((uint32_t)payload->len);
	char hdr[FRAME_HEADER_BYTES];
	int r;

	if (w->seg_off + span > w->seg_size && w->seg_off > SEG_HEADER_BYTES) {
		r = roll(w);
		if (r < 0)
			return r;
	}
	frame_header_encode(&(struct frame_header){.len = (uint32_t)payload->len,
						   .salt = w->seg_salt,
						   .first_lsn = first_lsn,
						   .count = count},
			    payload->data, hdr);
	struct iovec iov[3] = {
		{hdr, sizeof(hdr)},
		{payload->data, payload->len},
		{(void *)pad, span - FRAME_HEADER_BYTES - payload->len},
	};
	r = pwritev_all(w->seg_fd, iov, 3, w->seg_off);
	if (r < 0)
		return r;
	if (w->sync == STORE_SYNC_FDATASYNC) {
		uint64_t t0 = now_mono_ns();
		if (fdatasync(w->seg_fd) < 0)
			return -errno;
		metric_observe(w->sync_seconds, (double)(now_mono_ns() - t0) / 1e9);
	}
	metric_observe(w->batch_records, count);
	w->seg_off += span;
	pthread_mutex_lock(&w->mu);
	struct seg_info *cur = &w->segs[w->nsegs - 1];
	if (!cur->first_lsn)
		cur->first_lsn = first_lsn;
	cur->bytes = MAX(cur->bytes, w->seg_off);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

/* Take whole records from the queue, up to FRAME_CUT_BYTES (at least one). */
static uint32_t take_batch(struct wal *w, struct buf *batch)
{
	size_t off = 0;
	uint32_t n = 0;

	while (off < w->queue.len) {
		size_t rl = (size_t)get_le32(w->queue.data + off) + 4;
		if (off && off + rl > FRAME_CUT_BYTES)
			break;
		off += rl;
		n++;
	}
	if (off == w->queue.len) {
		struct buf t = w->queue;
		w->queue = *batch;
		*batch = t;
	} else {
		buf_append(batch, w->queue.data, off);
		buf_consume(&w->queue, off);
	}
	return n;
}

static void *sync_main(void *arg)
{
	struct wal *w = arg;
	struct buf batch = {0};

	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->queue.len && !w->closing)
			pthread_cond_wait(&w->work, &w->mu);
		if (!w->queue.len)
			break;
		if (w->err) {
			/* Nothing is written after a failure. */
			buf_clear(&w->queue);
			w->queue_count = 0;
			continue;
		}
		uint64_t first = w->queue_first_lsn;
		uint32_t n = take_batch(w, &batch);
		w->queue_first_lsn += n;
		w->queue_count -= n;
		pthread_mutex_unlock(&w->mu);

		int r = write_frame(w, &batch, first, n);
		buf_clear(&batch);

		pthread_mutex_lock(&w->mu);
		if (r < 0) {
			w->err = r;
			log_error(w->log, "store: writing the log failed; refusing every later write",
				  LOG_S("dir", w->dir), LOG_ERR(r));
		} else {
			w->synced_lsn = first + n - 1;
		}
		pthread_cond_broadcast(&w->changed);
		post_locked(w);
	}
	pthread_mutex_unlock(&w->mu);
	buf_free(&batch);
	return NULL;
}

/* --- the background thread --- */

static void publish_snapshot(struct wal *w, uint64_t lsn)
{
	_cleanup_free_ char *tmp = wal_snap_name(lsn, ".tmp");
	_cleanup_free_ char *name = wal_snap_name(lsn, ".snap");
	struct stat st;
	int r = 0;

	if (renameat(w->dir_fd, tmp, w->dir_fd, name) < 0)
		r = -errno;
	if (r == 0)
		r = fsync_dir(w);
	pthread_mutex_lock(&w->mu);
	uint64_t old = w->snap_published;
	if (r == 0) {
		w->snap_published = lsn;
		w->snap_bytes = fstatat(w->dir_fd, name, &st, 0) == 0 ? (uint64_t)st.st_size : 0;
	}
	/* Segments whose every record the snapshot holds: the ones before
	 * a segment starting at or below lsn + 1. Never the current one. */
	size_t drop = 0;
	while (r == 0 && drop + 1 < w->nsegs && w->segs[drop + 1].first_lsn &&
	       w->segs[drop + 1].first_lsn <= lsn + 1)
		drop++;
	uint64_t *seqs = xnew(uint64_t, drop + 1);
	for (size_t i = 0; i < drop; i++)
		seqs[i] = w->segs[i].seq;
	if (drop) {
		memmove(w->segs, w->segs + drop, (w->nsegs - drop) * sizeof(*w->segs));
		w->nsegs -= drop;
	}
	w->snap_done = true;
	w->snap_result = r;
	pthread_mutex_unlock(&w->mu);

	if (r < 0) {
		log_error(w->log, "store: publishing a snapshot failed", LOG_ERR(r));
		unlinkat(w->dir_fd, tmp, 0);
	} else {
		if (old && old != lsn) {
			_cleanup_free_ char *o = wal_snap_name(old, ".snap");
			unlinkat(w->dir_fd, o, 0);
		}
		for (size_t i = 0; i < drop; i++) {
			_cleanup_free_ char *s = wal_seg_name(seqs[i]);
			unlinkat(w->dir_fd, s, 0);
		}
		fsync_dir(w);
		log_info(w->log, "store: snapshot published", LOG_U("lsn", lsn),
			 LOG_U("segments_deleted", drop));
	}
	free(seqs);
}

/* After the child wrote the snapshot: publish it once the log is synced
 * up to it (it may hold writes not yet acknowledged). Called locked. */
static void snapshot_finished(struct wal *w, int status)
{
	uint64_t lsn = w->snap_lsn;

	w->snap_pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		while (w->synced_lsn < lsn && !w->err && !w->bg_stop)
			pthread_cond_wait(&w->changed, &w->mu);
		if (w->synced_lsn >= lsn) {
			pthread_mutex_unlock(&w->mu);
			publish_snapshot(w, lsn);
			pthread_mutex_lock(&w->mu);
			post_locked(w);
			return;
		}
	}
	_cleanup_free_ char *tmp = wal_snap_name(lsn, ".tmp");
	unlinkat(w->dir_fd, tmp, 0);
	if (!w->bg_stop)
		log_warn(w->log, "store: snapshot not written", LOG_U("lsn", lsn),
			 LOG_I("status", status));
	w->snap_done = true;
	w->snap_result = -EIO;
	post_locked(w);
}

static void *bg_main(void *arg)
{
	struct wal *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		if (w->spare_fd < 0 && !w->spare_err && !w->bg_stop) {
			uint64_t seq = w->segs[w->nsegs - 1].seq + 1, salt, size;
			int fd = -1;
			pthread_mutex_unlock(&w->mu);
			int r = wal_segment_create(w, seq, &fd, &salt, &size);
			pthread_mutex_lock(&w->mu);
			if (r < 0) {
				log_error(w->log, "store: preparing a log segment failed", LOG_ERR(r));
				w->spare_err = r;
			} else {
				w->spare_fd = fd;
				w->spare_seq = seq;
				w->spare_salt = salt;
				w->spare_size = size;
			}
			pthread_cond_broadcast(&w->changed);
			continue;
		}
		if (w->snap_pid > 0) {
			int status;
			pid_t p = waitpid(w->snap_pid, &status, w->bg_stop ? 0 : WNOHANG);
			if (p == w->snap_pid || (p < 0 && errno != EINTR)) {
				snapshot_finished(w, p < 0 ? -1 : status);
				continue;
			}
			/* Poll the child; the spare and closing wake us sooner. */
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10 * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&w->bg_work, &w->mu, &ts);
			continue;
		}
		if (w->bg_stop)
			break;
		pthread_cond_wait(&w->bg_work, &w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* --- the loop's side --- */

int wal_start(struct wal *w)
{
	int r = pthread_create(&w->sync_thread, NULL, sync_main, w);
	if (r)
		return -r;
	r = pthread_create(&w->bg_thread, NULL, bg_main, w);
	if (r) {
		pthread_mutex_lock(&w->mu);
		w->closing = true;
		pthread_cond_signal(&w->work);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->sync_thread, NULL);
		return -r;
	}
	w->threads = true;
	return 0;
}

void wal_append(struct wal *w, const char *rec, size_t n, uint64_t lsn)
{
	pthread_mutex_lock(&w->mu);
	if (!w->queue_count)
		w->queue_first_lsn = lsn;
	buf_append(&w->queue, rec, n);
	w->queue_count++;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
}

void wal_stop(struct wal *w)
{
	if (!w->threads)
		return;
	pthread_mutex_lock(&w->mu);
	w->closing = true;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->sync_thread, NULL);

	pthread_mutex_lock(&w->mu);
	w->bg_stop = true;
	if (w->snap_pid > 0)
		kill(w->snap_pid, SIGKILL);
	pthread_cond_broadcast(&w->bg_work);
	pthread_cond_broadcast(&w->changed);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->bg_thread, NULL);
	w->threads = false;
}

void wal_destroy(struct wal *w)
{
	if (w->seg_fd >= 0)
		close(w->seg_fd);
	if (w->spare_fd >= 0)
		close(w->spare_fd);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	buf_free(&w->queue);
	free(w->segs);
	free(w->dir);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->bg_work);
	pthread_cond_destroy(&w->changed);
}

uint64_t wal_db_bytes(struct wal *w)
{
	uint64_t n;

	pthread_mutex_lock(&w->mu);
	n = w->snap_bytes + (w->spare_fd >= 0 ? w->spare_size : 0);
	for (size_t i = 0; i < w->nsegs; i++)
		n += w->segs[i].bytes;
	pthread_mutex_unlock(&w->mu);
	return n;
}
