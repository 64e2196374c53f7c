/* The embedded store's data structures on their own, in memory: the
 * checksum, the record encoding and its frames, the ordered index against
 * a sorted reference, and multi-version reads with compaction. What the
 * store does with them on disk is test_store_embedded_internals.c. */
#include <stdio.h>

#include "base/base.h"
#include "store/embedded/codec.h"
#include "store/embedded/crc32c.h"
#include "store/embedded/index.h"
#include "store/embedded/mvcc.h"
#include "tap.h"

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

int main(void)
{
	RUN(test_crc32c_matches_the_standard_check_value);
	RUN(test_records_round_trip_through_a_frame);
	RUN(test_index_matches_a_sorted_reference_under_random_changes);
	RUN(test_mvcc_reads_past_revisions_and_compaction_keeps_what_reads_need);
	RUN(test_mvcc_finds_the_revision_current_at_a_time);
	return tap_done();
}
