/* Snapshots: the whole in-memory state (every retained version of every
 * key, leases, revision timestamps) at one log position, so recovery
 * reads the data once instead of the whole history.
 *
 * A forked child writes it from its copy-on-write image of the loop's
 * memory while the parent goes on: the child only reads that memory and
 * makes system calls (no malloc, no locks another thread might have held
 * at fork time). File: a 64-byte header, then blocks (u32 length, u32
 * CRC32C, payload) carrying a stream of items (u32 length, u8 type, body);
 * an 'E' item ends it. */
#include "internal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "crc32c.h"
#include "log/log.h"

#define SNAP_MAGIC "kelpsnp1"
#define SNAP_HEADER_BYTES 64
#define SNAP_BLOCK_BYTES (1u << 20)

enum {
	ITEM_KEY = 'K',
	ITEM_VER = 'V',
	ITEM_LEASE = 'L',
	ITEM_TIME = 'T',
	ITEM_END = 'E',
};

/* --- writing (in the child) --- */

struct snap_writer {
	int fd;
	char *blk;
	size_t cap, len;
	int err;
};

static void sw_flush(struct snap_writer *w)
{
	char hdr[8];

	if (!w->len || w->err)
		return;
	set_le32(hdr, (uint32_t)w->len);
	set_le32(hdr + 4, crc32c(0, w->blk, w->len));
	w->err = write_all(w->fd, hdr, sizeof(hdr));
	if (!w->err)
		w->err = write_all(w->fd, w->blk, w->len);
	w->len = 0;
}

static void sw_put(struct snap_writer *w, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		size_t k = MIN(n, w->cap - w->len);
		memcpy(w->blk + w->len, c, k);
		w->len += k;
		c += k;
		n -= k;
		if (w->len == w->cap)
			sw_flush(w);
	}
}

static void sw_u8(struct snap_writer *w, uint8_t v) { sw_put(w, &v, 1); }

static void sw_u32(struct snap_writer *w, uint32_t v)
{
	char b[4];
	set_le32(b, v);
	sw_put(w, b, 4);
}

static void sw_u64(struct snap_writer *w, uint64_t v)
{
	char b[8];
	set_le64(b, v);
	sw_put(w, b, 8);
}

static void sw_item(struct snap_writer *w, uint8_t type, uint32_t body_len)
{
	sw_u32(w, body_len + 1);
	sw_u8(w, type);
}

int snapshot_write(const struct emb *s, const char *path, uint64_t lsn, char *blk, size_t blk_cap)
{
	struct snap_writer w = {.blk = blk, .cap = blk_cap};
	char hdr[SNAP_HEADER_BYTES] = {0};
	uint64_t nkeys = 0, nvers = 0, nleases = 0;

	w.fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (w.fd < 0)
		return -errno;
	memcpy(hdr, SNAP_MAGIC, 8);
	set_le32(hdr + 8, 1);
	set_le64(hdr + 16, lsn);
	set_le64(hdr + 24, (uint64_t)s->m.rev);
	set_le64(hdr + 32, (uint64_t)s->m.compact_rev);
	set_le32(hdr + 60, crc32c(0, hdr, 60));
	w.err = write_all(w.fd, hdr, sizeof(hdr));

	for (const struct kv_key *k = kv_index_first(&s->m.idx); k && !w.err; k = kv_index_next(k)) {
		uint32_t n = 0;
		for (const struct kv_ver *v = k->head; v; v = v->older)
			n++;
		if (!n)
			continue;
		sw_item(&w, ITEM_KEY, 4 + k->key_len + 4);
		sw_u32(&w, k->key_len);
		sw_put(&w, kv_key_bytes(k), k->key_len);
		sw_u32(&w, n);
		for (const struct kv_ver *v = k->head; v; v = v->older) {
			sw_item(&w, ITEM_VER, 4 * 8 + 4 + 4 + v->value_len);
			sw_u64(&w, (uint64_t)v->mod_rev);
			sw_u64(&w, (uint64_t)v->create_rev);
			sw_u64(&w, (uint64_t)v->version);
			sw_u64(&w, (uint64_t)v->lease);
			sw_u32(&w, v->sub);
			sw_u32(&w, v->value_len);
			sw_put(&w, v->value, v->value_len);
		}
		nkeys++;
		nvers += n;
	}
	for (size_t i = 0; i < s->leases.cap && !w.err; i++) {
		const struct lease *l = s->leases.slots[i];
		if (!l)
			continue;
		sw_item(&w, ITEM_LEASE, 16);
		sw_u64(&w, (uint64_t)l->id);
		sw_u64(&w, (uint64_t)l->ttl);
		nleases++;
	}
	for (size_t i = 0; i < s->m.nsamples && !w.err; i++) {
		sw_item(&w, ITEM_TIME, 16);
		sw_u64(&w, (uint64_t)s->m.samples[i].rev);
		sw_u64(&w, (uint64_t)s->m.samples[i].wall_ns);
	}
	sw_item(&w, ITEM_END, 32);
	sw_u64(&w, nkeys);
	sw_u64(&w, nvers);
	sw_u64(&w, nleases);
	sw_u64(&w, s->m.nsamples);
	sw_flush(&w);
	if (!w.err && fsync(w.fd) < 0)
		w.err = -errno;
	close(w.fd);
	return w.err;
}

int emb_snapshot_start(struct emb *s)
{
	uint64_t lsn = s->next_lsn - 1;
	_cleanup_free_ char *name = wal_snap_name(lsn, ".tmp");
	_cleanup_free_ char *path = xasprintf("%s/%s", s->dir, name);
	_cleanup_free_ char *blk = xmalloc(SNAP_BLOCK_BYTES);
	pid_t parent = getpid();

	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* The child: dies with its parent, writes, leaves without
		 * running exit handlers (they belong to the parent). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* Hold none of the parent's files (its sockets, the lock). */
		close_range(3, ~0u, 0);
		_exit(snapshot_write(s, path, lsn, blk, SNAP_BLOCK_BYTES) < 0 ? 1 : 0);
	}
	pthread_mutex_lock(&s->wal.mu);
	s->wal.snap_pid = pid;
	s->wal.snap_lsn = lsn;
	pthread_cond_signal(&s->wal.bg_work);
	pthread_mutex_unlock(&s->wal.mu);
	log_debug(s->log, "store: writing a snapshot", LOG_U("lsn", lsn), LOG_I("pid", pid));
	return 0;
}

/* --- loading --- */

struct snap_reader {
	struct emb *s;
	struct kv_key *key; /* the key whose versions follow */
	uint32_t vers_left;
	int64_t last_mod;
	uint64_t nkeys, nvers, nleases, nsamples;
	bool ended;
};

static int load_item(struct snap_reader *rd, struct cursor *c)
{
	struct emb *s = rd->s;
	uint8_t type = get_u8(c);
	size_t n;

	if (rd->ended || (rd->vers_left && type != ITEM_VER))
		return -EBADMSG;
	switch (type) {
	case ITEM_KEY: {
		const char *key = get_bytes32(c, &n);
		rd->vers_left = get_u32(c);
		if (c->bad || !n || !rd->vers_left)
			return -EBADMSG;
		rd->key = mvcc_restore_key(&s->m, key, n);
		if (rd->key->head)
			return -EBADMSG;
		rd->last_mod = INT64_MAX;
		rd->nkeys++;
		return 0;
	}
	case ITEM_VER: {
		int64_t mod = get_i64(c), create = get_i64(c), version = get_i64(c);
		int64_t lease = get_i64(c);
		uint32_t sub = get_u32(c);
		const char *value = get_bytes32(c, &n);
		if (c->bad || !rd->vers_left || mod >= rd->last_mod || mod <= 0 || create < 0)
			return -EBADMSG;
		mvcc_restore_ver(&s->m, rd->key, mod, create, version, lease, sub, value, n);
		rd->last_mod = mod;
		rd->vers_left--;
		rd->nvers++;
		return 0;
	}
	case ITEM_LEASE: {
		int64_t id = get_i64(c), ttl = get_i64(c);
		if (c->bad || id <= 0 || lease_find(&s->leases, id))
			return -EBADMSG;
		lease_add(&s->leases, id, ttl, now_mono_ns() + (uint64_t)ttl * 1000000000ull);
		rd->nleases++;
		return 0;
	}
	case ITEM_TIME: {
		int64_t rev = get_i64(c), wall = get_i64(c);
		if (c->bad)
			return -EBADMSG;
		mvcc_note_time(&s->m, rev, wall);
		rd->nsamples++;
		return 0;
	}
	case ITEM_END:
		if (get_u64(c) != rd->nkeys || get_u64(c) != rd->nvers || get_u64(c) != rd->nleases ||
		    get_u64(c) != rd->nsamples || c->bad)
			return -EBADMSG;
		rd->ended = true;
		return 0;
	}
	return -EBADMSG;
}

static int read_full(int fd, void *p, size_t n, size_t *ret_got)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = read(fd, (char *)p + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	*ret_got = got;
	return 0;
}

int snapshot_load(struct emb *s, const char *path, uint64_t *ret_lsn)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char hdr[SNAP_HEADER_BYTES], bh[8];
	struct snap_reader rd = {.s = s};
	struct buf blk = {0}, stream = {0};
	size_t got;
	int r;

	if (fd < 0)
		return -errno;
	r = read_full(fd, hdr, sizeof(hdr), &got);
	if (r < 0)
		return r;
	if (got != sizeof(hdr) || memcmp(hdr, SNAP_MAGIC, 8) != 0 || get_le32(hdr + 8) != 1 ||
	    get_le32(hdr + 60) != crc32c(0, hdr, 60))
		return -EBADMSG;
	uint64_t lsn = get_le64(hdr + 16);
	int64_t rev = (int64_t)get_le64(hdr + 24), compact = (int64_t)get_le64(hdr + 32);
	if (rev < 0 || compact < 0 || compact > rev)
		return -EBADMSG;

	while (r == 0 && !rd.ended) {
		r = read_full(fd, bh, sizeof(bh), &got);
		if (r < 0)
			break;
		uint32_t len = get_le32(bh);
		if (got != sizeof(bh) || !len || len > SNAP_BLOCK_BYTES) {
			r = -EBADMSG;
			break;
		}
		buf_clear(&blk);
		buf_reserve(&blk, len);
		r = read_full(fd, blk.data, len, &got);
		if (r == 0 && (got != len || crc32c(0, blk.data, len) != get_le32(bh + 4)))
			r = -EBADMSG;
		if (r < 0)
			break;
		buf_append(&stream, blk.data, len);
		/* Every whole item in the stream. */
		size_t off = 0;
		while (r == 0 && stream.len - off >= 4) {
			uint32_t il = get_le32(stream.data + off);
			if (!il) {
				r = -EBADMSG;
				break;
			}
			if (stream.len - off - 4 < il)
				break;
			struct cursor c = {stream.data + off + 4, stream.data + off + 4 + il, false};
			r = load_item(&rd, &c);
			if (r == 0 && c.p != c.end)
				r = -EBADMSG;
			off += 4 + (size_t)il;
		}
		buf_consume(&stream, off);
	}
	if (r == 0 && (stream.len || read(fd, bh, 1) != 0 || rd.vers_left))
		r = -EBADMSG;
	buf_free(&blk);
	buf_free(&stream);
	if (r < 0)
		return r;

	s->m.rev = rev;
	s->m.compact_rev = compact;
	mvcc_restore_done(&s->m);
	for (struct kv_key *k = kv_index_first(&s->m.idx); k; k = kv_index_next(k)) {
		const struct kv_ver *v = mvcc_latest(k);
		if (v && v->mod_rev > rev)
			return -EBADMSG;
		if (v && v->lease) {
			struct lease *l = lease_find(&s->leases, v->lease);
			if (!l)
				return -EBADMSG;
			lease_attach(l, k);
		}
	}
	*ret_lsn = lsn;
	return 0;
}
