/* The embedded store's internals: checksums and encodings, the ordered
 * index against a reference, multi-version reads and compaction, and,
 * through the store API on a temporary directory, recovery from torn and
 * zeroed tails, refusal of corruption, snapshots, leases and automatic
 * compaction. */
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

static void test_crc32c_matches_the_standard_check_value(void)
{
	const char *s = "123456789";

	CHECK_INT(crc32c(0, s, 9), 0xe3069283u);
	CHECK_INT(crc32c(crc32c(0, s, 4), s + 4, 5), 0xe3069283u);
	CHECK_INT(crc32c(0, "", 0), 0);
	/* Lengths around the 8-byte steps agree with byte-wise continuation. */
	char buf[64];
	for (int i = 0; i < 64; i++)
		buf[i] = (char)(i * 37);
	for (size_t n = 0; n <= 64; n++) {
		uint32_t one = crc32c(0, buf, n), parts = 0;
		for (size_t i = 0; i < n; i++)
			parts = crc32c(parts, buf + i, 1);
		CHECK_INT(one, parts);
	}
}

static void test_records_round_trip_through_a_frame(void)
{
	struct buf b = {0};
	size_t at, nev_at;
	char hdr[FRAME_HEADER_BYTES];
	struct frame_header fh;
	struct rec r;
	struct rec_ev ev;

	rec_txn_begin(&b, &at, &nev_at, 7, 123456789, 0);
	rec_txn_put(&b, "/a", 2, "value", 5, 42);
	rec_txn_del(&b, "/b", 2);
	set_le32(b.data + nev_at, 2);
	rec_end(&b, at);
	rec_lease_grant(&b, 99, 30);
	rec_compact(&b, 5);

	/* A frame: header + payload, checked as the recovery reads it. */
	struct buf f = {0};
	frame_header_encode(&(struct frame_header){.len = (uint32_t)b.len, .salt = 77,
						   .first_lsn = 10, .count = 3},
			    b.data, hdr);
	buf_append(&f, hdr, sizeof(hdr));
	buf_append(&f, b.data, b.len);
	CHECK_INT(frame_check(f.data, f.len, 77, &fh), 0);
	CHECK_INT(fh.first_lsn, 10);
	CHECK_INT(fh.count, 3);
	CHECK_INT(fh.len, b.len);
	CHECK_INT(frame_check(f.data, f.len, 78, &fh), -EBADMSG);
	CHECK_INT(frame_check(f.data, f.len - 1, 77, &fh), -EBADMSG);
	f.data[FRAME_HEADER_BYTES + 3] ^= 1;
	CHECK_INT(frame_check(f.data, f.len, 77, &fh), -EBADMSG);
	memset(f.data, 0, FRAME_HEADER_BYTES);
	CHECK_INT(frame_check(f.data, f.len, 77, &fh), -ENODATA);

	struct cursor c = {b.data, b.data + b.len, false};
	CHECK_INT(rec_next(&c, &r), 0);
	CHECK_INT(r.type, REC_TXN);
	CHECK_INT(r.rev, 7);
	CHECK_INT(r.wall_ns, 123456789);
	CHECK_INT(r.nevents, 2);
	CHECK_INT(rec_next_event(&r.events, &ev), 0);
	CHECK_INT(ev.kind, REC_EV_PUT);
	CHECK(ev.key_len == 2 && memcmp(ev.key, "/a", 2) == 0);
	CHECK(ev.value_len == 5 && memcmp(ev.value, "value", 5) == 0);
	CHECK_INT(ev.lease, 42);
	CHECK_INT(rec_next_event(&r.events, &ev), 0);
	CHECK_INT(ev.kind, REC_EV_DEL);
	CHECK(ev.key_len == 2 && memcmp(ev.key, "/b", 2) == 0);
	CHECK_INT(rec_next(&c, &r), 0);
	CHECK_INT(r.type, REC_LEASE_GRANT);
	CHECK_INT(r.lease_id, 99);
	CHECK_INT(r.lease_ttl, 30);
	CHECK_INT(rec_next(&c, &r), 0);
	CHECK_INT(r.type, REC_COMPACT);
	CHECK_INT(r.compact_rev, 5);
	CHECK(c.p == c.end);
	/* A record cut short is refused. */
	struct cursor cut = {b.data, b.data + 10, false};
	CHECK_INT(rec_next(&cut, &r), -EBADMSG);

	char seg[SEG_HEADER_BYTES];
	struct seg_header sh;
	seg_header_encode(&(struct seg_header){.seq = 3, .salt = 5}, seg);
	CHECK_INT(seg_header_decode(seg, sizeof(seg), &sh), 0);
	CHECK_INT(sh.seq, 3);
	CHECK_INT(sh.salt, 5);
	seg[9] ^= 1;
	CHECK_INT(seg_header_decode(seg, sizeof(seg), &sh), -EBADMSG);
	buf_free(&b);
	buf_free(&f);
}

/* --- the index --- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_index_matches_a_sorted_reference_under_random_changes(void)
{
	struct kv_index x;
	char *ref[600];
	size_t nref = 0;
	uint64_t rng = 12345;
	bool created;

	kv_index_init(&x);
	for (int step = 0; step < 5000; step++) {
		rng = rng * 6364136223846793005ull + 1442695040888963407ull;
		char key[16];
		snprintf(key, sizeof(key), "k%03u", (unsigned)(rng >> 33) % 500);
		struct kv_key *k = kv_index_find(&x, key, strlen(key));
		size_t i;
		for (i = 0; i < nref && strcmp(ref[i], key); i++)
			;
		CHECK((k != NULL) == (i < nref));
		if ((rng >> 20) & 1) {
			k = kv_index_insert(&x, key, strlen(key), &created);
			CHECK(created == (i == nref));
			if (i == nref)
				ref[nref++] = xstrdup(key);
		} else if (k) {
			kv_index_remove(&x, k);
			free(ref[i]);
			ref[i] = ref[--nref];
		}
	}
	qsort(ref, nref, sizeof(*ref), cmp_str);
	CHECK_INT(x.n, nref);
	size_t i = 0;
	for (struct kv_key *k = kv_index_first(&x); k; k = kv_index_next(k), i++)
		CHECK(i < nref && k->key_len == strlen(ref[i]) &&
		      memcmp(kv_key_bytes(k), ref[i], k->key_len) == 0);
	CHECK_INT(i, nref);
	/* Seek finds the first key at or after any probe. */
	for (unsigned p = 0; p < 510; p += 7) {
		char probe[16];
		snprintf(probe, sizeof(probe), "k%03u", p);
		struct kv_key *k = kv_index_seek(&x, probe, strlen(probe));
		size_t j = 0;
		while (j < nref && strcmp(ref[j], probe) < 0)
			j++;
		if (j == nref)
			CHECK(k == NULL);
		else
			CHECK(k && memcmp(kv_key_bytes(k), ref[j], k->key_len) == 0);
	}
	for (i = 0; i < nref; i++)
		free(ref[i]);
	kv_index_destroy(&x);
	/* Bytes compare unsigned, then the shorter key first. */
	CHECK(kv_cmp("a", 1, "a\0", 2) < 0 && kv_cmp("a\xff", 2, "b", 1) < 0);
}

/* --- versions --- */

static void test_mvcc_reads_past_revisions_and_compaction_keeps_what_reads_need(void)
{
	struct mvcc m;

	mvcc_init(&m);
	CHECK_INT(m.rev, 1);
	mvcc_put(&m, 2, "/a", 2, "a1", 2, 0);
	mvcc_put(&m, 3, "/a", 2, "a2", 2, 0);
	mvcc_put(&m, 4, "/b", 2, "b1", 2, 0);
	struct kv_key *b = kv_index_find(&m.idx, "/b", 2);
	mvcc_del(&m, 5, b);
	mvcc_put(&m, 6, "/a", 2, "a3", 2, 0);
	struct kv_key *a = kv_index_find(&m.idx, "/a", 2);

	CHECK(mvcc_at(a, 1) == NULL);
	CHECK(memcmp(mvcc_at(a, 2)->value, "a1", 2) == 0);
	CHECK(memcmp(mvcc_at(a, 5)->value, "a2", 2) == 0);
	CHECK_INT(mvcc_at(a, 6)->version, 3);
	CHECK_INT(mvcc_at(a, 6)->create_rev, 2);
	CHECK(mvcc_at(b, 4) != NULL);
	CHECK(mvcc_at(b, 5) == NULL);
	CHECK_INT(m.live, 1);
	CHECK_INT(m.log_len, 5);

	/* Compact at 5: reads at 5 and later still work, /b is gone, the log
	 * starts at 5, and /a keeps a2 as the previous value of a3. */
	mvcc_compact(&m, 5);
	CHECK(memcmp(mvcc_at(a, 5)->value, "a2", 2) == 0);
	CHECK(memcmp(mvcc_at(a, 6)->value, "a3", 2) == 0);
	CHECK(a->head->older && a->head->older->older == NULL);
	CHECK(kv_index_find(&m.idx, "/b", 2) != NULL); /* its deletion at 5 is history of 5 */
	CHECK_INT(m.log_len, 2);
	CHECK_INT(mvcc_log_at(&m, 0)->mod_rev, 5);
	mvcc_compact(&m, 6);
	CHECK(kv_index_find(&m.idx, "/b", 2) == NULL);
	CHECK(a->head->older && a->head->older->older == NULL);
	CHECK_INT(m.log_len, 1);
	CHECK_INT(m.idx.n, 1);
	mvcc_destroy(&m);
}

static void test_mvcc_finds_the_revision_current_at_a_time(void)
{
	struct mvcc m;

	mvcc_init(&m);
	CHECK_INT(mvcc_rev_at_time(&m, 1000), 0);
	mvcc_note_time(&m, 2, 1000000000);
	mvcc_note_time(&m, 3, 1050000000);
	mvcc_note_time(&m, 9, 2000000000);
	mvcc_note_time(&m, 20, 5000000000);
	mvcc_note_time(&m, 21, 5020000000);
	mvcc_note_time(&m, 22, 5040000000); /* replaces 21: within 100 ms of 20 */
	CHECK_INT(m.nsamples, 5);
	CHECK_INT(mvcc_rev_at_time(&m, 999999999), 0);
	CHECK_INT(mvcc_rev_at_time(&m, 1040000000), 2);
	CHECK_INT(mvcc_rev_at_time(&m, 1500000000), 3);
	CHECK_INT(mvcc_rev_at_time(&m, 4999999999), 9);
	/* Never newer than the truth (21 at 5.03 s): older at worst. */
	CHECK_INT(mvcc_rev_at_time(&m, 5030000000), 20);
	CHECK_INT(mvcc_rev_at_time(&m, 9000000000), 22);
	mvcc_destroy(&m);
}

/* --- the store on disk --- */

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
	RUN(test_crc32c_matches_the_standard_check_value);
	RUN(test_records_round_trip_through_a_frame);
	RUN(test_index_matches_a_sorted_reference_under_random_changes);
	RUN(test_mvcc_reads_past_revisions_and_compaction_keeps_what_reads_need);
	RUN(test_mvcc_finds_the_revision_current_at_a_time);
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
