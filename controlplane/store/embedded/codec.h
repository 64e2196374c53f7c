/* On-disk encodings of the embedded store: log segment headers, frames
 * (one per group commit, length + CRC32C), the records inside frames, and
 * little-endian field helpers shared with snapshots. Layouts are in
 * controlplane/store/README.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

#define SEG_HEADER_BYTES 4096
#define SEG_MAGIC "kelpwal1"
#define FRAME_MAGIC 0x4c57424bu /* "KBWL" */
#define FRAME_HEADER_BYTES 32
/* A frame bigger than this is corrupt (a txn is at most ~1.5 MiB, and
 * the sync thread cuts batches at FRAME_CUT_BYTES). */
#define FRAME_MAX_BYTES (256u << 20)
#define FRAME_CUT_BYTES (8u << 20)

enum rec_type {
	REC_TXN = 1,
	REC_LEASE_GRANT = 2,
	REC_COMPACT = 3,
};

enum rec_event {
	REC_EV_PUT = 1,
	REC_EV_DEL = 2,
};

/* --- little-endian fields --- */

void put_u8(struct buf *b, uint8_t v);
void put_u32(struct buf *b, uint32_t v);
void put_u64(struct buf *b, uint64_t v);
static inline void put_i64(struct buf *b, int64_t v) { put_u64(b, (uint64_t)v); }
void put_bytes32(struct buf *b, const void *p, size_t n); /* u32 length, bytes */

uint32_t get_le32(const void *p);
uint64_t get_le64(const void *p);
void set_le32(void *p, uint32_t v);
void set_le64(void *p, uint64_t v);

/* A reader over [p, end); any short read sets bad and yields zeros. */
struct cursor {
	const char *p, *end;
	bool bad;
};

uint8_t get_u8(struct cursor *c);
uint32_t get_u32(struct cursor *c);
uint64_t get_u64(struct cursor *c);
static inline int64_t get_i64(struct cursor *c) { return (int64_t)get_u64(c); }
/* u32 length then bytes: a pointer into the input. */
const char *get_bytes32(struct cursor *c, size_t *ret_len);

/* --- segments and frames --- */

struct seg_header {
	uint64_t seq;
	uint64_t salt;
};

void seg_header_encode(const struct seg_header *h, char out[SEG_HEADER_BYTES]);
/* -EBADMSG unless p holds a valid segment header. */
int seg_header_decode(const char *p, size_t n, struct seg_header *ret);

struct frame_header {
	uint32_t len; /* payload bytes */
	uint64_t salt;
	uint64_t first_lsn;
	uint32_t count;
};

/* Bytes a frame with this payload takes in the log, padding included. */
static inline uint64_t frame_span(uint32_t len) { return (FRAME_HEADER_BYTES + (uint64_t)len + 7) & ~7ull; }
void frame_header_encode(const struct frame_header *h, const char *payload,
			 char out[FRAME_HEADER_BYTES]);
/* At p (n bytes available): 0 and the header when a whole frame with a
 * valid checksum and this salt is there; -ENODATA when the header is all
 * zero (the end of what was written); -EBADMSG otherwise. */
int frame_check(const char *p, size_t n, uint64_t salt, struct frame_header *ret);

/* --- records --- */

/* Begin a record of this type in b; returns where its length goes. */
size_t rec_begin(struct buf *b, enum rec_type type);
void rec_end(struct buf *b, size_t at);

struct rec {
	enum rec_type type;
	/* REC_TXN */
	int64_t rev; /* 0: nothing changed (a revoke of a lease without keys) */
	int64_t wall_ns;
	int64_t revoke_lease;
	uint32_t nevents;
	struct cursor events;
	/* REC_LEASE_GRANT */
	int64_t lease_id, lease_ttl;
	/* REC_COMPACT */
	int64_t compact_rev;
};

struct rec_ev {
	enum rec_event kind;
	const char *key;
	size_t key_len;
	const char *value;
	size_t value_len;
	int64_t lease;
};

/* The next record of a frame's payload; -EBADMSG when malformed. */
int rec_next(struct cursor *c, struct rec *ret);
/* The next event of a REC_TXN; -EBADMSG when malformed. */
int rec_next_event(struct cursor *c, struct rec_ev *ret);

/* The record writers (the txn layer builds REC_TXN by hand). */
void rec_txn_begin(struct buf *b, size_t *ret_at, size_t *ret_nev_at, int64_t rev,
		   int64_t wall_ns, int64_t revoke_lease);
void rec_txn_put(struct buf *b, const char *key, size_t key_len, const char *value,
		 size_t value_len, int64_t lease);
void rec_txn_del(struct buf *b, const char *key, size_t key_len);
void rec_lease_grant(struct buf *b, int64_t id, int64_t ttl);
void rec_compact(struct buf *b, int64_t rev);
