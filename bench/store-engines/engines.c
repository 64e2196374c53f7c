/* The store engine spike: the same durable, group-committed write workload
 * against LMDB, SQLite (WAL mode) and a write-ahead log with an in-memory
 * ordered index, to choose the embedded store's engine by measurement.
 *
 *   store-engines DIR [lmdb|sqlite|wal ...]
 *
 * Writers are threads that each put and wait for the acknowledgement; one
 * committer thread takes whatever arrived while it was busy and makes it
 * durable with one commit (group commit). Every acknowledged write is on
 * disk: LMDB's default sync commit, SQLite's synchronous=FULL in WAL mode,
 * fdatasync of the log. Output: one line per engine and phase. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lmdb.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"

#define NKEYS 10000
#define VALUE_BYTES 1024
#define SEQ_PUTS 3000
#define WRITERS 64
#define PUTS_PER_WRITER 300

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "store-engines: %s: %s\n", what, detail);
	exit(1);
}

struct put {
	char key[48];
	size_t key_len;
	const char *value;
	int64_t rev; /* given by the committer */
	bool done;
	struct put *next;
};

struct engine {
	const char *name;
	void *(*open)(const char *dir);
	/* Make every put of the batch durable, in order, at revisions rev0.. */
	void (*commit)(void *e, struct put *batch, int64_t rev0);
	/* Read the latest value of every key in [lo, hi); returns how many. */
	long (*range)(void *e, const char *lo, const char *hi);
	void (*close)(void *e);
};

/* --- LMDB: "kv" key -> rev+value (the latest), "log" rev -> key+value --- */

struct lmdb {
	MDB_env *env;
	MDB_dbi kv, log;
};

static void lmdb_check(int rc, const char *what)
{
	if (rc)
		die(what, mdb_strerror(rc));
}

static void *lmdb_open(const char *dir)
{
	struct lmdb *e = calloc(1, sizeof(*e));
	MDB_txn *t;

	lmdb_check(mdb_env_create(&e->env), "mdb_env_create");
	lmdb_check(mdb_env_set_mapsize(e->env, 4ull << 30), "mapsize");
	lmdb_check(mdb_env_set_maxdbs(e->env, 4), "maxdbs");
	lmdb_check(mdb_env_open(e->env, dir, MDB_NOTLS, 0644), "mdb_env_open");
	lmdb_check(mdb_txn_begin(e->env, NULL, 0, &t), "txn");
	lmdb_check(mdb_dbi_open(t, "kv", MDB_CREATE, &e->kv), "dbi kv");
	lmdb_check(mdb_dbi_open(t, "log", MDB_CREATE | MDB_INTEGERKEY, &e->log), "dbi log");
	lmdb_check(mdb_txn_commit(t), "commit");
	return e;
}

static void lmdb_commit(void *p, struct put *b, int64_t rev)
{
	struct lmdb *e = p;
	MDB_txn *t;
	char buf[64 + VALUE_BYTES];

	lmdb_check(mdb_txn_begin(e->env, NULL, 0, &t), "txn");
	for (; b; b = b->next, rev++) {
		memcpy(buf, &rev, 8);
		memcpy(buf + 8, b->value, VALUE_BYTES);
		MDB_val k = {b->key_len, b->key}, v = {8 + VALUE_BYTES, buf};
		lmdb_check(mdb_put(t, e->kv, &k, &v, 0), "put kv");
		MDB_val rk = {8, &rev};
		memcpy(buf + 8, b->key, b->key_len);
		memcpy(buf + 8 + b->key_len, b->value, VALUE_BYTES);
		MDB_val rv = {8 + b->key_len + VALUE_BYTES, buf};
		lmdb_check(mdb_put(t, e->log, &rk, &rv, MDB_APPEND), "put log");
	}
	lmdb_check(mdb_txn_commit(t), "commit");
}

static long lmdb_range(void *p, const char *lo, const char *hi)
{
	struct lmdb *e = p;
	MDB_txn *t;
	MDB_cursor *c;
	MDB_val k = {strlen(lo), (void *)lo}, v;
	long n = 0, sum = 0;

	lmdb_check(mdb_txn_begin(e->env, NULL, MDB_RDONLY, &t), "txn");
	lmdb_check(mdb_cursor_open(t, e->kv, &c), "cursor");
	for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
		if (memcmp(k.mv_data, hi, strlen(hi)) >= 0)
			break;
		sum += ((const char *)v.mv_data)[8];
		n++;
	}
	mdb_cursor_close(c);
	mdb_txn_abort(t);
	return sum >= 0 ? n : -1;
}

static void lmdb_close(void *p)
{
	struct lmdb *e = p;
	mdb_env_close(e->env);
	free(e);
}

/* --- SQLite in WAL mode: one revisioned table, as k3s's kine keeps it --- */

struct sqlite {
	sqlite3 *db;
	sqlite3_stmt *ins, *range;
};

static void sql_exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		die(sql, err ? err : "?");
}

static void *sqlite_open(const char *dir)
{
	struct sqlite *e = calloc(1, sizeof(*e));
	char path[4096];

	snprintf(path, sizeof(path), "%s/state.db", dir);
	if (sqlite3_open(path, &e->db) != SQLITE_OK)
		die("sqlite3_open", sqlite3_errmsg(e->db));
	sql_exec(e->db, "PRAGMA journal_mode=WAL");
	sql_exec(e->db, "PRAGMA synchronous=FULL");
	sql_exec(e->db, "CREATE TABLE IF NOT EXISTS kine (id INTEGER PRIMARY KEY, name BLOB, "
			"create_revision INTEGER, prev_revision INTEGER, value BLOB)");
	sql_exec(e->db, "CREATE INDEX IF NOT EXISTS kine_name ON kine (name, id)");
	if (sqlite3_prepare_v2(e->db, "INSERT INTO kine VALUES (?, ?, ?, 0, ?)", -1, &e->ins,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(e->db,
			       "SELECT name, value FROM kine WHERE id IN (SELECT MAX(id) FROM "
			       "kine WHERE name >= ? AND name < ? GROUP BY name) ORDER BY name",
			       -1, &e->range, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(e->db));
	return e;
}

static void sqlite_commit(void *p, struct put *b, int64_t rev)
{
	struct sqlite *e = p;

	sql_exec(e->db, "BEGIN");
	for (; b; b = b->next, rev++) {
		sqlite3_bind_int64(e->ins, 1, rev);
		sqlite3_bind_blob(e->ins, 2, b->key, (int)b->key_len, SQLITE_STATIC);
		sqlite3_bind_int64(e->ins, 3, rev);
		sqlite3_bind_blob(e->ins, 4, b->value, VALUE_BYTES, SQLITE_STATIC);
		if (sqlite3_step(e->ins) != SQLITE_DONE)
			die("insert", sqlite3_errmsg(e->db));
		sqlite3_reset(e->ins);
	}
	sql_exec(e->db, "COMMIT");
}

static long sqlite_range(void *p, const char *lo, const char *hi)
{
	struct sqlite *e = p;
	long n = 0;

	sqlite3_bind_blob(e->range, 1, lo, (int)strlen(lo), SQLITE_STATIC);
	sqlite3_bind_blob(e->range, 2, hi, (int)strlen(hi), SQLITE_STATIC);
	while (sqlite3_step(e->range) == SQLITE_ROW)
		n += sqlite3_column_bytes(e->range, 1) > 0;
	sqlite3_reset(e->range);
	return n;
}

static void sqlite_close(void *p)
{
	struct sqlite *e = p;
	sqlite3_finalize(e->ins);
	sqlite3_finalize(e->range);
	sqlite3_close(e->db);
	free(e);
}

/* --- A log with an in-memory index: frames of records, CRC32C, fdatasync
 * of a pre-zeroed file (no metadata to journal); the index is a skip list
 * of key -> latest (rev, value) --- */

#define SKIP_LEVELS 20

struct node {
	int64_t rev;
	char *value;
	size_t key_len;
	struct node *next[SKIP_LEVELS];
	char key[];
};

struct wal {
	int fd;
	int64_t off;
	char *buf;
	size_t cap;
	uint64_t rng;
	pthread_mutex_t mu; /* the committer writes the index, readers read it */
	struct node head;   /* last: it ends in a flexible array */
};

#define WAL_PREALLOC (256ll << 20)

static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

static void wal_index(struct wal *e, const char *key, size_t key_len, int64_t rev,
		      const char *value)
{
	struct node *upd[SKIP_LEVELS], *x = &e->head;

	for (int l = SKIP_LEVELS - 1; l >= 0; l--) {
		while (x->next[l] && key_cmp(x->next[l]->key, x->next[l]->key_len, key, key_len) < 0)
			x = x->next[l];
		upd[l] = x;
	}
	x = x->next[0];
	if (!x || key_cmp(x->key, x->key_len, key, key_len) != 0) {
		int lvl = 1;
		e->rng = e->rng * 6364136223846793005ull + 1442695040888963407ull;
		for (uint64_t r = e->rng >> 33; (r & 3) == 0 && lvl < SKIP_LEVELS; r >>= 2)
			lvl++;
		x = calloc(1, sizeof(*x) + key_len);
		memcpy(x->key, key, key_len);
		x->key_len = key_len;
		x->value = malloc(VALUE_BYTES);
		for (int l = 0; l < lvl; l++) {
			x->next[l] = upd[l]->next[l];
			upd[l]->next[l] = x;
		}
	}
	x->rev = rev;
	memcpy(x->value, value, VALUE_BYTES);
}

static void *wal_open(const char *dir)
{
	struct wal *e = calloc(1, sizeof(*e));
	char path[4096];
	struct stat st;

	pthread_mutex_init(&e->mu, NULL);
	e->rng = 42;
	snprintf(path, sizeof(path), "%s/wal", dir);
	e->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (e->fd < 0 || fstat(e->fd, &st) < 0)
		die("open", path);
	if (st.st_size == 0) {
		/* Pre-zero (the real engine does it ahead, in the background). */
		static const char zero[1 << 20];
		for (int64_t o = 0; o < WAL_PREALLOC; o += sizeof(zero))
			if (pwrite(e->fd, zero, sizeof(zero), o) != (ssize_t)sizeof(zero))
				die("pwrite", path);
		fsync(e->fd);
		return e;
	}
	/* Recovery: replay frames until the first zero or bad one, reading the
	 * file in chunks (most of it is the pre-zeroed tail). */
	size_t cap = 8 << 20, have = 0, pos = 0;
	char *chunk = malloc(cap);
	int64_t off = 0;
	bool eof = false;
	for (;;) {
		if (have - pos < 8 && !eof) {
			memmove(chunk, chunk + pos, have - pos);
			have -= pos;
			pos = 0;
			ssize_t got = pread(e->fd, chunk + have, cap - have, off + (int64_t)have);
			eof = got <= 0;
			have += got > 0 ? (size_t)got : 0;
			continue;
		}
		if (have - pos < 8)
			break;
		uint32_t len, crc;
		memcpy(&len, chunk + pos, 4);
		memcpy(&crc, chunk + pos + 4, 4);
		size_t fl = 8 + ((len + 7) & ~(size_t)7);
		if (!len)
			break;
		if (fl > have - pos) {
			if (eof)
				break;
			memmove(chunk, chunk + pos, have - pos);
			have -= pos;
			pos = 0;
			if (fl > cap) {
				cap = fl;
				chunk = realloc(chunk, cap);
			}
			ssize_t got = pread(e->fd, chunk + have, cap - have, off + (int64_t)have);
			eof = got <= 0;
			have += got > 0 ? (size_t)got : 0;
			continue;
		}
		if (crc32c(0, chunk + pos + 8, len) != crc)
			break;
		for (const char *r = chunk + pos + 8, *end = r + len; r < end;) {
			uint16_t kl;
			int64_t rev;
			memcpy(&rev, r, 8);
			memcpy(&kl, r + 8, 2);
			wal_index(e, r + 10, kl, rev, r + 10 + kl);
			r += 10 + kl + VALUE_BYTES;
		}
		pos += fl;
		off += (int64_t)fl;
	}
	e->off = off;
	free(chunk);
	return e;
}

static void wal_commit(void *p, struct put *b, int64_t rev)
{
	struct wal *e = p;
	size_t n = 8;

	for (struct put *x = b; x; x = x->next)
		n += 10 + x->key_len + VALUE_BYTES;
	n = (n + 7) & ~(size_t)7;
	if (n > e->cap) {
		e->cap = n * 2;
		e->buf = realloc(e->buf, e->cap);
	}
	memset(e->buf, 0, n);
	size_t o = 8;
	for (struct put *x = b; x; x = x->next) {
		uint16_t kl = (uint16_t)x->key_len;
		int64_t r = rev++;
		memcpy(e->buf + o, &r, 8);
		memcpy(e->buf + o + 8, &kl, 2);
		memcpy(e->buf + o + 10, x->key, kl);
		memcpy(e->buf + o + 10 + kl, x->value, VALUE_BYTES);
		o += 10 + kl + VALUE_BYTES;
	}
	uint32_t len = (uint32_t)(o - 8), crc = crc32c(0, e->buf + 8, len);
	memcpy(e->buf, &len, 4);
	memcpy(e->buf + 4, &crc, 4);
	if (pwrite(e->fd, e->buf, n, e->off) != (ssize_t)n || fdatasync(e->fd) < 0)
		die("wal", strerror(errno));
	e->off += (int64_t)n;
	/* Acknowledged writes become visible: index them. */
	pthread_mutex_lock(&e->mu);
	for (struct put *x = b; x; x = x->next)
		wal_index(e, x->key, x->key_len, x->rev, x->value);
	pthread_mutex_unlock(&e->mu);
}

static long wal_range(void *p, const char *lo, const char *hi)
{
	struct wal *e = p;
	struct node *x = &e->head;
	size_t lo_n = strlen(lo), hi_n = strlen(hi);
	long n = 0, sum = 0;

	pthread_mutex_lock(&e->mu);
	for (int l = SKIP_LEVELS - 1; l >= 0; l--)
		while (x->next[l] && key_cmp(x->next[l]->key, x->next[l]->key_len, lo, lo_n) < 0)
			x = x->next[l];
	for (x = x->next[0]; x && key_cmp(x->key, x->key_len, hi, hi_n) < 0; x = x->next[0]) {
		sum += x->value[0];
		n++;
	}
	pthread_mutex_unlock(&e->mu);
	return sum >= 0 ? n : -1;
}

static void wal_close(void *p)
{
	struct wal *e = p;
	struct node *x = e->head.next[0];
	while (x) {
		struct node *next = x->next[0];
		free(x->value);
		free(x);
		x = next;
	}
	close(e->fd);
	free(e->buf);
	free(e);
}

static const struct engine engines[] = {
	{"lmdb", lmdb_open, lmdb_commit, lmdb_range, lmdb_close},
	{"sqlite", sqlite_open, sqlite_commit, sqlite_range, sqlite_close},
	{"wal", wal_open, wal_commit, wal_range, wal_close},
};

/* --- group commit --- */

struct bench {
	const struct engine *eng;
	void *e;
	pthread_mutex_t mu;
	pthread_cond_t arrived, acked;
	struct put *head, **tail;
	bool stop;
	int64_t rev;
	long batches;
	char value[VALUE_BYTES];
};

static void *committer(void *p)
{
	struct bench *b = p;

	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->head && !b->stop)
			pthread_cond_wait(&b->arrived, &b->mu);
		if (!b->head)
			break;
		struct put *batch = b->head;
		b->head = NULL;
		b->tail = &b->head;
		pthread_mutex_unlock(&b->mu);
		int64_t rev0 = b->rev + 1;
		for (struct put *x = batch; x; x = x->next)
			x->rev = ++b->rev;
		b->eng->commit(b->e, batch, rev0);
		b->batches++;
		pthread_mutex_lock(&b->mu);
		for (struct put *x = batch; x; x = x->next)
			x->done = true;
		pthread_cond_broadcast(&b->acked);
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

static void put(struct bench *b, unsigned k)
{
	struct put p = {.value = b->value};

	p.key_len = (size_t)snprintf(p.key, sizeof(p.key), "/registry/pods/default/pod-%06u", k);
	pthread_mutex_lock(&b->mu);
	*b->tail = &p;
	b->tail = &p.next;
	pthread_cond_signal(&b->arrived);
	while (!p.done)
		pthread_cond_wait(&b->acked, &b->mu);
	pthread_mutex_unlock(&b->mu);
}

struct writer {
	struct bench *b;
	unsigned id, n;
	uint64_t *lat;
};

static void *writer(void *p)
{
	struct writer *w = p;
	for (unsigned i = 0; i < w->n; i++) {
		uint64_t t0 = now_ns();
		put(w->b, (w->id * 7919u + i * 104729u) % NKEYS);
		w->lat[i] = now_ns() - t0;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static void phase(struct bench *b, const char *name, unsigned writers, unsigned per)
{
	pthread_t th[WRITERS];
	struct writer w[WRITERS];
	uint64_t *lat = calloc((size_t)writers * per, sizeof(uint64_t));
	long batches0 = b->batches;

	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < writers; i++) {
		w[i] = (struct writer){b, i, per, lat + (size_t)i * per};
		pthread_create(&th[i], NULL, writer, &w[i]);
	}
	for (unsigned i = 0; i < writers; i++)
		pthread_join(th[i], NULL);
	double s = (double)(now_ns() - t0) / 1e9;
	size_t n = (size_t)writers * per;
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("%-7s %-11s writes/s %8.0f  p50_ms %6.2f  p99_ms %6.2f  per_sync %5.1f\n",
	       b->eng->name, name, (double)n / s, (double)lat[n / 2] / 1e6,
	       (double)lat[n * 99 / 100] / 1e6, (double)n / (double)(b->batches - batches0));
	free(lat);
}

static void run(const struct engine *eng, const char *root)
{
	char dir[4096];
	struct bench b = {.eng = eng};
	pthread_t th;

	snprintf(dir, sizeof(dir), "%s/%s", root, eng->name);
	mkdir(dir, 0755);
	memset(b.value, 'v', sizeof(b.value));
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.arrived, NULL);
	pthread_cond_init(&b.acked, NULL);
	b.tail = &b.head;
	b.e = eng->open(dir);
	pthread_create(&th, NULL, committer, &b);

	/* Every key once, so the range covers NKEYS keys. */
	phase(&b, "load", WRITERS, NKEYS / WRITERS + 1);
	phase(&b, "sequential", 1, SEQ_PUTS);
	phase(&b, "64-writers", WRITERS, PUTS_PER_WRITER);

	pthread_mutex_lock(&b.mu);
	b.stop = true;
	pthread_cond_signal(&b.arrived);
	pthread_mutex_unlock(&b.mu);
	pthread_join(th, NULL);

	uint64_t t0 = now_ns();
	long n = 0;
	for (int i = 0; i < 10; i++)
		n = eng->range(b.e, "/registry/pods/", "/registry/pods0");
	printf("%-7s range       keys %ld  ms %.2f\n", eng->name, n,
	       (double)(now_ns() - t0) / 10 / 1e6);
	eng->close(b.e);

	/* Recovery: open again and read everything once. */
	t0 = now_ns();
	b.e = eng->open(dir);
	n = eng->range(b.e, "/registry/pods/", "/registry/pods0");
	printf("%-7s recovery    revisions %" PRId64 "  keys %ld  ms %.1f\n", eng->name, b.rev, n,
	       (double)(now_ns() - t0) / 1e6);
	eng->close(b.e);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: store-engines DIR [lmdb|sqlite|wal ...]\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(engines) / sizeof(engines[0]); i++) {
		bool want = argc == 2;
		for (int a = 2; a < argc; a++)
			want |= strcmp(argv[a], engines[i].name) == 0;
		if (want)
			run(&engines[i], argv[1]);
	}
	return 0;
}
