/* The embedded store on disk, through the store API on a temporary
 * directory: recovery from torn and zeroed tails, refusal of corruption,
 * snapshots, leases, automatic compaction, a failing log and a second open.
 * The data structures alone are test_store_embedded_structures.c. */
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "base/base.h"
#include "loop/loop.h"
#include "store/embedded/codec.h"
#include "store/embedded/crc32c.h"
#include "store/embedded/index.h"
#include "store/embedded/mvcc.h"
#include "store/store.h"
#include "tap.h"

/* --- a synchronous layer over the store for these tests --- */

struct t {
	struct loop *l;
	struct store *s;
	struct store_config cfg;
	char dir[64];
};

struct answer {
	bool done;
	int err;
	int64_t rev, id, ttl;
	bool ok;
	struct store_status st;
	size_t n;
	int64_t count;
	char **keys, **values;
	int64_t *mods;
};

static void answer_free(struct answer *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->keys[i]);
		free(a->values[i]);
	}
	free(a->keys);
	free(a->values);
	free(a->mods);
	*a = (struct answer){0};
}

static bool wait_done(struct t *t, const bool *done)
{
	uint64_t end = now_mono_ns() + 10000000000ull;
	while (!*done && now_mono_ns() < end)
		loop_run_once(t->l, 50000000);
	return *done;
}

static void run_ms(struct t *t, int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000;
	while (now_mono_ns() < end)
		loop_run_once(t->l, 10000000);
}

static int rm_one(const char *p, const struct stat *st, int fl, struct FTW *f)
{
	return remove(p);
}

static void t_open(struct t *t)
{
	CHECK_INT(store_open(t->l, &t->cfg, &t->s), 0);
}

static void t_reopen(struct t *t)
{
	store_close(t->s);
	t->s = NULL;
	t_open(t);
}

static void t_setup(struct t *t, enum store_sync sync, int64_t snapshot_bytes, int64_t retention)
{
	*t = (struct t){0};
	snprintf(t->dir, sizeof(t->dir), "/tmp/kelp-emb-test-XXXXXX");
	CHECK(mkdtemp(t->dir) != NULL);
	CHECK_INT(loop_new(&(struct loop_config){0}, &t->l), 0);
	t->cfg = (struct store_config){
		.data_dir = t->dir,
		.sync = sync,
		.snapshot_bytes = snapshot_bytes,
		.auto_compact_retention_s = retention,
	};
	t_open(t);
}

static void t_teardown(struct t *t)
{
	store_close(t->s);
	loop_free(t->l);
	nftw(t->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void on_cas(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct answer *a = ud;
	a->err = err;
	a->rev = rev;
	a->ok = ok;
	a->done = true;
}

/* The call's error, or its callback's, or its revision. */
static int64_t finish(struct t *t, struct answer *a, int r)
{
	if (r < 0)
		return r;
	if (!wait_done(t, &a->done))
		return -ETIMEDOUT;
	return a->err ? a->err : a->rev;
}

static int64_t put_lease(struct t *t, const char *key, const char *val, int64_t lease)
{
	struct answer a = {0};
	return finish(t, &a, store_put(t->s, key, strlen(key), val, strlen(val), lease, on_cas, &a));
}

static int64_t put(struct t *t, const char *key, const char *val)
{
	return put_lease(t, key, val, 0);
}

static int64_t del(struct t *t, const char *key)
{
	struct answer a = {0};
	return finish(t, &a, store_delete(t->s, key, strlen(key), 0, on_cas, &a));
}

static void on_range(void *ud, int err, int64_t rev, const struct store_range_res *res)
{
	struct answer *a = ud;
	a->err = err;
	a->rev = rev;
	a->done = true;
	if (err)
		return;
	a->n = res->n;
	a->count = res->count;
	a->keys = xnew(char *, res->n + 1);
	a->values = xnew(char *, res->n + 1);
	a->mods = xnew(int64_t, res->n + 1);
	for (size_t i = 0; i < res->n; i++) {
		a->keys[i] = xstrndup(res->kvs[i].key, res->kvs[i].key_len);
		a->values[i] = xstrndup(res->kvs[i].value, res->kvs[i].value_len);
		a->mods[i] = res->kvs[i].mod_rev;
	}
}

/* Everything under prefix at rev (0: latest) into a. */
static int range(struct t *t, const char *prefix, int64_t rev, struct answer *a)
{
	char end[128];
	size_t end_len = store_prefix_end(prefix, strlen(prefix), end);
	struct store_range_req q = {
		.key = prefix, .key_len = strlen(prefix), .end = end, .end_len = end_len, .rev = rev};
	*a = (struct answer){0};
	int r = store_range(t->s, &q, on_range, a);
	if (r < 0)
		return r;
	wait_done(t, &a->done);
	return a->err;
}

/* The range as one string "k=v@mod,..." to compare states. */
static char *dump(struct t *t, const char *prefix, int64_t rev)
{
	struct answer a;
	struct buf b = {0};
	int r = range(t, prefix, rev, &a);
	if (r < 0)
		buf_printf(&b, "error %d", r);
	for (size_t i = 0; i < a.n; i++)
		buf_printf(&b, "%s=%s@%lld,", a.keys[i], a.values[i], (long long)a.mods[i]);
	answer_free(&a);
	return buf_steal(&b);
}

static void on_status(void *ud, int err, const struct store_status *st)
{
	struct answer *a = ud;
	a->err = err;
	if (st)
		a->st = *st;
	a->done = true;
}

static struct store_status status(struct t *t)
{
	struct answer a = {0};
	CHECK_INT(store_status(t->s, on_status, &a), 0);
	wait_done(t, &a.done);
	return a.st;
}

static void on_rev(void *ud, int err, int64_t rev)
{
	struct answer *a = ud;
	a->err = err;
	a->rev = rev;
	a->done = true;
}

static int compact(struct t *t, int64_t rev)
{
	struct answer a = {0};
	int64_t r = finish(t, &a, store_compact(t->s, rev, on_rev, &a));
	return r < 0 ? (int)r : 0;
}

static void on_lease(void *ud, int err, int64_t id, int64_t ttl)
{
	struct answer *a = ud;
	a->err = err;
	a->id = id;
	a->ttl = ttl;
	a->done = true;
}

static int64_t grant(struct t *t, int64_t ttl)
{
	struct answer a = {0};
	int64_t r = finish(t, &a, store_lease_grant(t->s, ttl, 0, on_lease, &a));
	return r < 0 ? r : a.id;
}

/* --- files of the data directory --- */

static char *seg_path(struct t *t, uint64_t seq)
{
	return xasprintf("%s/wal-%016llx.log", t->dir, (unsigned long long)seq);
}

static char *read_all(const char *path, size_t *ret_n)
{
	struct buf b = {0};
	CHECK_INT(read_file(path, 1u << 30, &b), 0);
	*ret_n = b.len;
	return buf_steal(&b);
}

/* Offsets of the frames in a segment, and where they end. */
static size_t frames_of(const char *p, size_t n, uint64_t *offs, size_t max, uint64_t *ret_end)
{
	struct seg_header h;
	struct frame_header fh;
	size_t k = 0;
	uint64_t off = SEG_HEADER_BYTES;

	CHECK_INT(seg_header_decode(p, n, &h), 0);
	while (off + FRAME_HEADER_BYTES <= n && frame_check(p + off, n - off, h.salt, &fh) == 0) {
		if (k < max)
			offs[k++] = off;
		off += frame_span(fh.len);
	}
	*ret_end = off;
	return k;
}

static void write_at(const char *path, uint64_t off, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, p, n, (off_t)off) == (ssize_t)n);
	close(fd);
}

static size_t count_files(struct t *t, const char *pattern)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", t->dir, pattern);
	glob_t g;
	size_t n = glob(path, 0, NULL, &g) == 0 ? g.gl_pathc : 0;
	globfree(&g);
	return n;
}

/* --- encodings --- */

static void test_reopen_restores_every_write(void)
{
	struct t t;
	t_setup(&t, STORE_SYNC_FDATASYNC, 0, -1);
	int64_t r1 = put(&t, "/r/a", "1");
	put(&t, "/r/b", "2");
	put(&t, "/r/a", "3");
	del(&t, "/r/b");
	int64_t lease = grant(&t, 60);
	CHECK(lease > 0);
	put_lease(&t, "/r/l", "leased", lease);
	_cleanup_free_ char *before = dump(&t, "/r/", 0);
	_cleanup_free_ char *past = dump(&t, "/r/", r1);
	struct store_status st = status(&t);

	t_reopen(&t);
	_cleanup_free_ char *after = dump(&t, "/r/", 0);
	_cleanup_free_ char *past2 = dump(&t, "/r/", r1);
	CHECK_STREQ(after, before);
	CHECK_STREQ(past2, past);
	CHECK_INT(status(&t).rev, st.rev);
	CHECK_INT(status(&t).keys, 2);
	/* The lease came back: a put naming it works. */
	CHECK(put_lease(&t, "/r/l2", "x", lease) > 0);
	CHECK_INT(put(&t, "/r/c", "4"), st.rev + 2);
	t_teardown(&t);
}

/* A crash mid-write leaves part of the last frame: recovery cuts it and
 * keeps everything before it. */
static void test_torn_tail_is_cut_and_earlier_writes_survive(void)
{
	struct t t;
	uint64_t offs[64], end;
	size_t n;

	t_setup(&t, STORE_SYNC_NONE, 0, -1);
	for (int i = 0; i < 10; i++) {
		char k[16];
		snprintf(k, sizeof(k), "/t/%02d", i);
		put(&t, k, "v");
	}
	store_close(t.s);
	_cleanup_free_ char *path = seg_path(&t, 1);
	_cleanup_free_ char *p = read_all(path, &n);
	size_t nf = frames_of(p, n, offs, 64, &end);
	CHECK_INT(nf, 10);

	/* The last frame half written: its first half kept, the rest zero. */
	uint64_t last = offs[nf - 1], half = (end - last) / 2;
	char *zeros = xcalloc(1, end - last);
	write_at(path, last + half, zeros, end - last - half);
	/* And a torn frame after it: a header claiming more than is there. */
	char torn[64];
	memset(torn, 0x5a, sizeof(torn));
	set_le32(torn, FRAME_MAGIC);
	set_le32(torn + 4, 4000);
	write_at(path, end + 4096, torn, sizeof(torn));
	free(zeros);

	t_open(&t);
	struct answer a;
	CHECK_INT(range(&t, "/t/", 0, &a), 0);
	CHECK_INT(a.n, 9);
	CHECK_INT(a.rev, 10);
	answer_free(&a);
	/* The cut tail is clean space: new writes land there and survive. */
	CHECK_INT(put(&t, "/t/new", "n"), 11);
	t_reopen(&t);
	CHECK_INT(range(&t, "/t/", 0, &a), 0);
	CHECK_INT(a.n, 10);
	answer_free(&a);
	t_teardown(&t);
}

static void test_zeroed_tail_is_the_end_of_the_log(void)
{
	struct t t;
	uint64_t offs[64], end;
	size_t n;

	t_setup(&t, STORE_SYNC_NONE, 0, -1);
	for (int i = 0; i < 5; i++)
		put(&t, "/z/k", i % 2 ? "odd" : "even");
	store_close(t.s);
	_cleanup_free_ char *path = seg_path(&t, 1);
	_cleanup_free_ char *p = read_all(path, &n);
	size_t nf = frames_of(p, n, offs, 64, &end);
	CHECK_INT(nf, 5);
	/* Power loss before the last two frames reached the disk. */
	char *zeros = xcalloc(1, end - offs[3]);
	write_at(path, offs[3], zeros, end - offs[3]);
	free(zeros);

	t_open(&t);
	struct answer a;
	CHECK_INT(range(&t, "/z/", 0, &a), 0);
	CHECK_INT(a.n, 1);
	CHECK_STREQ(a.n ? a.values[0] : "", "even");
	CHECK_INT(a.rev, 4);
	answer_free(&a);
	t_teardown(&t);
}

static void test_corruption_before_the_tail_is_refused(void)
{
	struct t t;
	uint64_t offs[64], end;
	size_t n;

	t_setup(&t, STORE_SYNC_NONE, 0, -1);
	for (int i = 0; i < 6; i++)
		put(&t, "/c/k", "value");
	store_close(t.s);
	t.s = NULL;
	_cleanup_free_ char *path = seg_path(&t, 1);
	_cleanup_free_ char *p = read_all(path, &n);
	frames_of(p, n, offs, 64, &end);
	/* One bit flipped in the second frame, with good frames after it. */
	char c = (char)(p[offs[1] + FRAME_HEADER_BYTES + 5] ^ 0x10);
	write_at(path, offs[1] + FRAME_HEADER_BYTES + 5, &c, 1);

	CHECK_INT(store_open(t.l, &t.cfg, &t.s), -EUCLEAN);
	CHECK(t.s == NULL);
	/* The files are left as they were, for someone to look at. */
	size_t n2;
	_cleanup_free_ char *p2 = read_all(path, &n2);
	CHECK_INT(n2, n);
	CHECK(memcmp(p2 + offs[2], p + offs[2], end - offs[2]) == 0);
	/* Repaired, the directory opens again. */
	write_at(path, offs[1] + FRAME_HEADER_BYTES + 5, &p[offs[1] + FRAME_HEADER_BYTES + 5], 1);
	t_open(&t);
	store_close(t.s);
	t.s = NULL;
	t_teardown(&t);
}

static void on_watch_events(void *ud, const struct store_event *ev, size_t n)
{
	int64_t *seen = ud;
	seen[0] += (int64_t)n;
	seen[1] = ev[n - 1].kv.mod_rev;
}

static void on_watch_closed(void *ud, int err, int64_t rev)
{
	int64_t *seen = ud;
	seen[2] = err ? err : 1;
}

static const struct store_watch_ops count_ops = {
	.events = on_watch_events,
	.closed = on_watch_closed,
};

/* Snapshots replace the log they cover; the state recovered from a
 * snapshot plus the rest of the log is the state before. */
static void test_snapshot_recovery_equals_the_state_before(void)
{
	struct t t;
	char k[32], v[300];

	t_setup(&t, STORE_SYNC_NONE, 64 << 10, -1);
	memset(v, 'x', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	int64_t lease = grant(&t, 600);
	int64_t mid = 0;
	bool leased[150] = {0};
	for (int i = 0; i < 1200; i++) {
		snprintf(k, sizeof(k), "/s/%03d", i % 150);
		v[0] = (char)('a' + i % 26);
		leased[i % 150] = i % 7 != 3 && i % 5 == 0;
		if (i % 7 == 3)
			del(&t, k);
		else
			put_lease(&t, k, v, leased[i % 150] ? lease : 0);
		if (i == 600)
			mid = status(&t).rev;
		if (i == 900)
			CHECK_INT(compact(&t, mid), 0);
	}
	/* Let the background snapshot finish and the log it covers go. */
	for (int i = 0; i < 200 && count_files(&t, "snap-*.snap") == 0; i++)
		run_ms(&t, 20);
	run_ms(&t, 200);
	CHECK_INT(count_files(&t, "snap-*.snap"), 1);
	CHECK_INT(count_files(&t, "snap-*.tmp"), 0);

	struct store_status st = status(&t);
	_cleanup_free_ char *now = dump(&t, "/s/", 0);
	_cleanup_free_ char *then = dump(&t, "/s/", mid + 1);
	t_reopen(&t);
	struct store_status st2 = status(&t);
	_cleanup_free_ char *now2 = dump(&t, "/s/", 0);
	_cleanup_free_ char *then2 = dump(&t, "/s/", mid + 1);
	CHECK_STREQ(now2, now);
	CHECK_STREQ(then2, then);
	CHECK_INT(st2.rev, st.rev);
	CHECK_INT(st2.compact_rev, mid);
	CHECK_INT(st2.keys, st.keys);
	_cleanup_free_ char *stale = dump(&t, "/s/", mid - 1);
	CHECK(str_has_prefix(stale, "error"));

	/* A watch from the compacted revision replays the retained history. */
	int64_t seen[3] = {0};
	struct store_watch *w;
	CHECK_INT(store_watch(t.s,
			      &(struct store_watch_req){.key = "/s/", .key_len = 3, .end = "/s0",
							.end_len = 3, .start_rev = mid},
			      &count_ops, seen, &w),
		  0);
	for (int i = 0; i < 100 && seen[1] < st.rev; i++)
		run_ms(&t, 10);
	CHECK_INT(seen[1], st.rev);
	CHECK(seen[0] >= st.rev - mid);
	store_watch_cancel(w);
	run_ms(&t, 20);
	CHECK_INT(seen[2], -ECANCELED);
	/* Leased keys are attached again: revoking deletes them. */
	struct answer a = {0};
	CHECK_INT(store_lease_revoke(t.s, lease, on_rev, &a), 0);
	wait_done(&t, &a.done);
	CHECK_INT(a.err, 0);
	int64_t nleased = 0;
	for (int i = 0; i < 150; i++)
		nleased += leased[i];
	CHECK(nleased > 0);
	CHECK_INT(status(&t).keys, st.keys - nleased);
	t_teardown(&t);
}

static void test_lease_expiry_deletes_its_keys_and_survives_a_restart(void)
{
	struct t t;
	t_setup(&t, STORE_SYNC_NONE, 0, -1);
	int64_t lease = grant(&t, 1);
	put_lease(&t, "/l/a", "1", lease);
	put_lease(&t, "/l/b", "2", lease);
	put(&t, "/l/keep", "3");
	int64_t rev = status(&t).rev;

	/* Reopened, the lease starts its TTL again, then expires. */
	t_reopen(&t);
	struct answer a;
	CHECK_INT(range(&t, "/l/", 0, &a), 0);
	CHECK_INT(a.n, 3);
	answer_free(&a);
	for (int i = 0; i < 300 && status(&t).rev == rev; i++)
		run_ms(&t, 10);
	CHECK_INT(range(&t, "/l/", 0, &a), 0);
	CHECK_INT(a.n, 1);
	CHECK_INT(a.rev, rev + 1); /* both keys in one revision */
	answer_free(&a);
	CHECK_INT(put_lease(&t, "/l/c", "x", lease), -ENOENT);
	t_reopen(&t);
	CHECK_INT(status(&t).rev, rev + 1);
	CHECK_INT(put_lease(&t, "/l/c", "x", lease), -ENOENT);
	t_teardown(&t);
}

static void test_auto_compaction_keeps_the_retention_window(void)
{
	struct t t;
	t_setup(&t, STORE_SYNC_NONE, 0, 1);
	int64_t old = put(&t, "/ac/k", "1");
	put(&t, "/ac/k", "2");
	run_ms(&t, 1300);
	int64_t recent = put(&t, "/ac/k", "3");
	run_ms(&t, 400);
	struct store_status st = status(&t);
	CHECK(st.compact_rev > old);
	CHECK(st.compact_rev < recent);
	_cleanup_free_ char *gone = dump(&t, "/ac/", old);
	CHECK(str_has_prefix(gone, "error"));
	_cleanup_free_ char *kept = dump(&t, "/ac/", recent);
	CHECK(strstr(kept, "=3@") != NULL);
	t_teardown(&t);
}

/* A write the disk refuses fails, and so does every later one; nothing
 * is acknowledged that is not on disk; reads go on. (RLIMIT_FSIZE makes
 * the log's writes fail past a point, as a full or failing disk would.) */
static void test_a_failed_log_write_fails_every_later_write_with_eio(void)
{
	struct t t;
	struct rlimit old, lim;
	char key[32], val[1024];
	int64_t acked = 0, r = 0;

	t_setup(&t, STORE_SYNC_FDATASYNC, 4 << 20, -1);
	memset(val, 'e', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = (struct rlimit){.rlim_cur = 256 << 10, .rlim_max = old.rlim_max};
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "/eio/%04d", i);
		r = put(&t, key, val);
		if (r < 0)
			break;
		acked++;
	}
	CHECK_INT(r, -EIO);
	CHECK(acked > 100);
	CHECK_INT(put(&t, "/eio/later", "x"), -EIO);
	struct answer a;
	CHECK_INT(range(&t, "/eio/", 0, &a), 0);
	CHECK_INT(a.n, acked);
	answer_free(&a);
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, SIG_DFL);

	/* Reopened on a good disk: every acknowledged write, writable again. */
	t_reopen(&t);
	CHECK_INT(range(&t, "/eio/", 0, &a), 0);
	CHECK(a.n == (size_t)acked || a.n == (size_t)acked + 1);
	answer_free(&a);
	CHECK(put(&t, "/eio/after", "ok") > 0);
	t_teardown(&t);
}

static void test_a_second_open_of_the_same_dir_is_refused(void)
{
	struct t t;
	struct store *s2 = NULL;
	t_setup(&t, STORE_SYNC_NONE, 0, -1);
	CHECK_INT(store_open(t.l, &t.cfg, &s2), -EBUSY);
	t_teardown(&t);
}

int main(void)
{
	RUN(test_reopen_restores_every_write);
	RUN(test_torn_tail_is_cut_and_earlier_writes_survive);
	RUN(test_zeroed_tail_is_the_end_of_the_log);
	RUN(test_corruption_before_the_tail_is_refused);
	RUN(test_snapshot_recovery_equals_the_state_before);
	RUN(test_lease_expiry_deletes_its_keys_and_survives_a_restart);
	RUN(test_auto_compaction_keeps_the_retention_window);
	RUN(test_a_failed_log_write_fails_every_later_write_with_eio);
	RUN(test_a_second_open_of_the_same_dir_is_refused);
	return tap_done();
}
