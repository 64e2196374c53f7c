/* Opening a data directory: load the newest snapshot, replay the log
 * after it, cut a torn tail (what a crash or power loss leaves of the last
 * frame), and refuse corruption anywhere else. */
#include "internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "log/log.h"

struct seg_file {
	uint64_t seq;
	int fd;
	uint64_t size, salt;
	bool has_data; /* a valid first frame */
	uint64_t end;  /* where its valid frames end */
	uint64_t first_lsn;
};

static int corrupt(struct emb *s, const char *file, uint64_t off, const char *what)
{
	log_error(s->log,
		  "store: the data directory is corrupt; refusing to open it (restore it from a "
		  "backup, or move it away to start empty)",
		  LOG_S("dir", s->dir), LOG_S("file", file), LOG_U("offset", off),
		  LOG_S("problem", what));
	return -EUCLEAN;
}

static int pread_full(int fd, void *p, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, (char *)p + got, n - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EBADMSG;
		got += (size_t)k;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Is there a valid frame (this salt, checksum right) at an 8-aligned
 * offset at or after from? Then a bad frame before it is not a torn tail. */
static bool valid_frame_after(const char *p, uint64_t size, uint64_t from, uint64_t salt)
{
	struct frame_header fh;
	for (uint64_t off = (from + 7) & ~7ull; off + FRAME_HEADER_BYTES <= size; off += 8)
		if (get_le32(p + off) == FRAME_MAGIC && frame_check(p + off, size - off, salt, &fh) == 0)
			return true;
	return false;
}

static bool all_zero(const char *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* Does the segment start with a valid frame? (Read without loading it.) */
static bool first_frame_valid(struct seg_file *f)
{
	char h[FRAME_HEADER_BYTES];
	struct frame_header fh;

	if (f->size < SEG_HEADER_BYTES + FRAME_HEADER_BYTES ||
	    pread_full(f->fd, h, sizeof(h), SEG_HEADER_BYTES) < 0)
		return false;
	uint32_t len = get_le32(h + 4);
	if (get_le32(h) != FRAME_MAGIC || len > FRAME_MAX_BYTES ||
	    SEG_HEADER_BYTES + FRAME_HEADER_BYTES + (uint64_t)len > f->size)
		return false;
	_cleanup_free_ char *p = xmalloc(FRAME_HEADER_BYTES + (size_t)len);
	if (pread_full(f->fd, p, FRAME_HEADER_BYTES + (size_t)len, SEG_HEADER_BYTES) < 0)
		return false;
	if (frame_check(p, FRAME_HEADER_BYTES + (size_t)len, f->salt, &fh) < 0)
		return false;
	f->first_lsn = fh.first_lsn;
	return true;
}

struct replay {
	uint64_t snap_lsn;
	uint64_t next_lsn; /* expected; 0 before the first frame */
	int64_t bytes;     /* replayed after the snapshot */
	uint64_t now_ns;
};

static int replay_frame(struct emb *s, struct replay *rp, const char *payload,
			const struct frame_header *fh)
{
	struct cursor c = {payload, payload + fh->len, false};
	struct rec rec;

	for (uint32_t i = 0; i < fh->count; i++) {
		const char *start = c.p;
		uint64_t lsn = fh->first_lsn + i;
		if (rec_next(&c, &rec) < 0)
			return -EBADMSG;
		if (lsn <= rp->snap_lsn)
			continue;
		if (emb_apply_record(s, &rec, rp->now_ns) < 0)
			return -EBADMSG;
		rp->bytes += c.p - start;
	}
	return c.p == c.end ? 0 : -EBADMSG;
}

/* Replay one segment; f->end is where its frames end. *ret_dirty: what
 * follows is not zeros (a bad frame, or garbage). */
static int scan_segment(struct emb *s, struct replay *rp, struct seg_file *f, const char *name,
			bool *ret_dirty)
{
	_cleanup_free_ char *p = xmalloc(f->size ? f->size : 1);
	struct frame_header fh;
	uint64_t off = SEG_HEADER_BYTES;
	int r = pread_full(f->fd, p, f->size, 0);

	if (r < 0)
		return r == -EBADMSG ? corrupt(s, name, 0, "short read") : r;
	*ret_dirty = false;
	while (off + FRAME_HEADER_BYTES <= f->size) {
		r = frame_check(p + off, f->size - off, f->salt, &fh);
		if (r == -ENODATA)
			break;
		if (r < 0) {
			*ret_dirty = true;
			break;
		}
		/* Records after the snapshot must follow on without a gap;
		 * before it, the snapshot holds them anyway. */
		uint64_t after = rp->snap_lsn + 1;
		if (!fh.first_lsn || ((rp->next_lsn > after || fh.first_lsn > after) &&
				      fh.first_lsn != MAX(rp->next_lsn, after)))
			return corrupt(s, name, off, "log records are missing (a gap in the sequence)");
		if (replay_frame(s, rp, p + off + FRAME_HEADER_BYTES, &fh) < 0)
			return corrupt(s, name, off, "a frame with a valid checksum holds a bad record");
		rp->next_lsn = fh.first_lsn + fh.count;
		off += frame_span(fh.len);
	}
	f->end = MIN(off, f->size);
	if (!*ret_dirty && !all_zero(p + f->end, f->size - f->end))
		*ret_dirty = true;
	if (*ret_dirty && valid_frame_after(p, f->size, f->end + 8, f->salt))
		return corrupt(s, name, f->end, "a damaged frame is followed by valid ones");
	return 0;
}

/* Zero a torn tail so the next frames land on clean space. */
static int cut_tail(struct emb *s, struct seg_file *f, const char *name)
{
	const size_t chunk = 1 << 20;
	_cleanup_free_ char *zero = xcalloc(1, chunk);

	log_warn(s->log, "store: cutting a torn tail off the log (an unacknowledged write)",
		 LOG_S("file", name), LOG_U("offset", f->end), LOG_U("bytes", f->size - f->end));
	for (uint64_t off = f->end; off < f->size; off += chunk) {
		size_t n = (size_t)MIN((uint64_t)chunk, f->size - off);
		if (pwrite(f->fd, zero, n, (off_t)off) != (ssize_t)n)
			return errno ? -errno : -EIO;
	}
	return fdatasync(f->fd) < 0 ? -errno : 0;
}

struct listing {
	uint64_t *snaps, *segs;
	size_t nsnaps, nsegs;
};

static int list_dir(struct emb *s, struct listing *ls)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;
	uint64_t v;
	char tail[16];

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		const char *n = e->d_name;
		if (sscanf(n, "snap-%16" SCNx64 "%15s", &v, tail) == 2 && streq(tail, ".snap")) {
			ls->snaps = xrealloc(ls->snaps, (ls->nsnaps + 1) * sizeof(v));
			ls->snaps[ls->nsnaps++] = v;
		} else if (sscanf(n, "wal-%16" SCNx64 "%15s", &v, tail) == 2 && streq(tail, ".log")) {
			ls->segs = xrealloc(ls->segs, (ls->nsegs + 1) * sizeof(v));
			ls->segs[ls->nsegs++] = v;
		} else if ((str_has_prefix(n, "snap-") || str_has_prefix(n, "wal-")) &&
			   str_has_suffix(n, ".tmp")) {
			/* Left by a crash before it was complete. */
			unlinkat(s->wal.dir_fd, n, 0);
		}
	}
	closedir(d);
	if (ls->nsnaps)
		qsort(ls->snaps, ls->nsnaps, sizeof(uint64_t), cmp_u64);
	if (ls->nsegs)
		qsort(ls->segs, ls->nsegs, sizeof(uint64_t), cmp_u64);
	return 0;
}

static int load_snapshot(struct emb *s, struct listing *ls, uint64_t *ret_lsn)
{
	struct wal *w = &s->wal;
	struct stat st;

	*ret_lsn = 0;
	if (!ls->nsnaps)
		return 0;
	uint64_t lsn = ls->snaps[ls->nsnaps - 1];
	_cleanup_free_ char *name = wal_snap_name(lsn, ".snap");
	_cleanup_free_ char *path = xasprintf("%s/%s", s->dir, name);
	uint64_t got;
	int r = snapshot_load(s, path, &got);
	if (r == -EBADMSG || (r == 0 && got != lsn))
		return corrupt(s, name, 0, "the snapshot fails its checks");
	if (r < 0)
		return r;
	for (size_t i = 0; i + 1 < ls->nsnaps; i++) {
		_cleanup_free_ char *old = wal_snap_name(ls->snaps[i], ".snap");
		unlinkat(w->dir_fd, old, 0);
	}
	w->snap_published = lsn;
	w->snap_bytes = stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
	*ret_lsn = lsn;
	return 0;
}

static int open_segments(struct emb *s, struct listing *ls, struct seg_file *files)
{
	for (size_t i = 0; i < ls->nsegs; i++) {
		struct seg_file *f = &files[i];
		_cleanup_free_ char *name = wal_seg_name(ls->segs[i]);
		char hdr[SEG_HEADER_BYTES];
		struct seg_header h;
		struct stat st;

		f->seq = ls->segs[i];
		f->fd = openat(s->wal.dir_fd, name, O_RDWR | O_CLOEXEC);
		if (f->fd < 0 || fstat(f->fd, &st) < 0)
			return -errno;
		f->size = (uint64_t)st.st_size;
		if (f->size < SEG_HEADER_BYTES || pread_full(f->fd, hdr, sizeof(hdr), 0) < 0 ||
		    seg_header_decode(hdr, sizeof(hdr), &h) < 0 || h.seq != f->seq)
			return corrupt(s, name, 0, "bad segment header");
		f->salt = h.salt;
		f->has_data = first_frame_valid(f);
	}
	return 0;
}

/* Make the last segment with data the one written next; the one after it
 * (if empty) the spare; delete other empty ones. */
static int adopt_segments(struct emb *s, struct seg_file *files, size_t n)
{
	struct wal *w = &s->wal;
	size_t cur = 0;

	for (size_t i = 0; i < n; i++)
		if (files[i].has_data)
			cur = i;
	if (!n) {
		int fd;
		uint64_t salt, size;
		int r = wal_segment_create(w, 1, &fd, &salt, &size);
		if (r < 0)
			return r;
		w->seg_fd = fd;
		w->seg_seq = 1;
		w->seg_salt = salt;
		w->seg_size = size;
		w->seg_off = SEG_HEADER_BYTES;
		w->segs = xnew(struct seg_info, 1);
		w->segs[0] = (struct seg_info){.seq = 1, .bytes = size};
		w->nsegs = 1;
		return 0;
	}
	w->segs = xnew(struct seg_info, cur + 1);
	for (size_t i = 0; i <= cur; i++)
		w->segs[w->nsegs++] = (struct seg_info){files[i].seq, files[i].first_lsn, files[i].size};
	w->seg_fd = TAKE_FD(files[cur].fd);
	w->seg_seq = files[cur].seq;
	w->seg_salt = files[cur].salt;
	w->seg_size = files[cur].size;
	w->seg_off = MAX(files[cur].end, (uint64_t)SEG_HEADER_BYTES);
	for (size_t i = cur + 1; i < n; i++) {
		if (i == cur + 1 && files[i].seq == files[cur].seq + 1) {
			w->spare_fd = TAKE_FD(files[i].fd);
			w->spare_seq = files[i].seq;
			w->spare_salt = files[i].salt;
			w->spare_size = files[i].size;
			continue;
		}
		_cleanup_free_ char *name = wal_seg_name(files[i].seq);
		unlinkat(w->dir_fd, name, 0);
	}
	return 0;
}

int emb_recover(struct emb *s)
{
	struct listing ls = {0};
	struct seg_file *files = NULL;
	struct replay rp = {.now_ns = now_mono_ns()};
	uint64_t t0 = now_mono_ns();
	int r;

	r = list_dir(s, &ls);
	if (r < 0)
		goto out;
	r = load_snapshot(s, &ls, &rp.snap_lsn);
	if (r < 0)
		goto out;
	files = xnew(struct seg_file, ls.nsegs + 1);
	for (size_t i = 0; i < ls.nsegs; i++)
		files[i].fd = -1;
	r = open_segments(s, &ls, files);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < ls.nsegs; i++) {
		_cleanup_free_ char *name = wal_seg_name(files[i].seq);
		bool dirty = false, later = false;
		r = scan_segment(s, &rp, &files[i], name, &dirty);
		if (r < 0)
			goto out;
		if (!dirty)
			continue;
		for (size_t j = i + 1; j < ls.nsegs; j++)
			later |= files[j].has_data;
		if (later) {
			r = corrupt(s, name, files[i].end, "a damaged frame before the end of the log");
			goto out;
		}
		r = cut_tail(s, &files[i], name);
		if (r < 0)
			goto out;
	}
	rp.next_lsn = MAX(rp.next_lsn, rp.snap_lsn + 1);
	r = adopt_segments(s, files, ls.nsegs);
	if (r < 0)
		goto out;

	s->next_lsn = rp.next_lsn;
	s->committed_lsn = rp.next_lsn - 1;
	s->wal.synced_lsn = rp.next_lsn - 1;
	s->committed_rev = s->m.rev;
	s->committed_live = s->m.live;
	s->log_bytes = rp.bytes;
	s->snap_limit = MAX(s->snapshot_bytes, (int64_t)s->wal.snap_bytes);
	log_info(s->log, "store: opened", LOG_S("dir", s->dir), LOG_I("rev", s->m.rev),
		 LOG_I("keys", s->m.live), LOG_U("snapshot_lsn", rp.snap_lsn),
		 LOG_U("log_records", rp.next_lsn - 1 - MIN(rp.snap_lsn, rp.next_lsn - 1)),
		 LOG_D("ms", (double)(now_mono_ns() - t0) / 1e6));
out:
	for (size_t i = 0; files && i < ls.nsegs; i++)
		if (files[i].fd >= 0)
			close(files[i].fd);
	free(files);
	free(ls.snaps);
	free(ls.segs);
	return r;
}
