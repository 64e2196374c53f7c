#include "codec.h"

#include <endian.h>

#include "crc32c.h"

/* --- fields --- */

void put_u8(struct buf *b, uint8_t v) { buf_append(b, &v, 1); }

void put_u32(struct buf *b, uint32_t v)
{
	uint32_t le = htole32(v);
	buf_append(b, &le, 4);
}

void put_u64(struct buf *b, uint64_t v)
{
	uint64_t le = htole64(v);
	buf_append(b, &le, 8);
}

void put_bytes32(struct buf *b, const void *p, size_t n)
{
	put_u32(b, (uint32_t)n);
	if (n)
		buf_append(b, p, n);
}

uint32_t get_le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return le32toh(v);
}

uint64_t get_le64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

void set_le32(void *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

void set_le64(void *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static const char *take(struct cursor *c, size_t n)
{
	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		return NULL;
	}
	const char *p = c->p;
	c->p += n;
	return p;
}

uint8_t get_u8(struct cursor *c)
{
	const char *p = take(c, 1);
	return p ? (uint8_t)*p : 0;
}

uint32_t get_u32(struct cursor *c)
{
	const char *p = take(c, 4);
	return p ? get_le32(p) : 0;
}

uint64_t get_u64(struct cursor *c)
{
	const char *p = take(c, 8);
	return p ? get_le64(p) : 0;
}

const char *get_bytes32(struct cursor *c, size_t *ret_len)
{
	uint32_t n = get_u32(c);
	const char *p = take(c, n);
	*ret_len = p ? n : 0;
	return p ? p : "";
}

/* --- segments --- */

void seg_header_encode(const struct seg_header *h, char out[SEG_HEADER_BYTES])
{
	memset(out, 0, SEG_HEADER_BYTES);
	memcpy(out, SEG_MAGIC, 8);
	set_le64(out + 8, h->seq);
	set_le64(out + 16, h->salt);
	set_le32(out + 24, 1); /* format version */
	set_le32(out + 28, crc32c(0, out, 28));
}

int seg_header_decode(const char *p, size_t n, struct seg_header *ret)
{
	if (n < 32 || memcmp(p, SEG_MAGIC, 8) != 0 || get_le32(p + 24) != 1 ||
	    get_le32(p + 28) != crc32c(0, p, 28))
		return -EBADMSG;
	ret->seq = get_le64(p + 8);
	ret->salt = get_le64(p + 16);
	return 0;
}

/* --- frames --- */

static uint32_t frame_crc(const char *hdr, const char *payload, uint32_t len)
{
	return crc32c(crc32c(0, hdr, 28), payload, len);
}

void frame_header_encode(const struct frame_header *h, const char *payload,
			 char out[FRAME_HEADER_BYTES])
{
	set_le32(out, FRAME_MAGIC);
	set_le32(out + 4, h->len);
	set_le64(out + 8, h->salt);
	set_le64(out + 16, h->first_lsn);
	set_le32(out + 24, h->count);
	set_le32(out + 28, frame_crc(out, payload, h->len));
}

int frame_check(const char *p, size_t n, uint64_t salt, struct frame_header *ret)
{
	static const char zero[FRAME_HEADER_BYTES];

	if (n < FRAME_HEADER_BYTES)
		return -EBADMSG;
	if (memcmp(p, zero, FRAME_HEADER_BYTES) == 0)
		return -ENODATA;
	uint32_t len = get_le32(p + 4);
	if (get_le32(p) != FRAME_MAGIC || get_le64(p + 8) != salt || len > FRAME_MAX_BYTES ||
	    n - FRAME_HEADER_BYTES < len || get_le32(p + 28) != frame_crc(p, p + 32, len))
		return -EBADMSG;
	*ret = (struct frame_header){
		.len = len,
		.salt = salt,
		.first_lsn = get_le64(p + 16),
		.count = get_le32(p + 24),
	};
	return 0;
}

/* --- records --- */

size_t rec_begin(struct buf *b, enum rec_type type)
{
	size_t at = b->len;
	put_u32(b, 0);
	put_u8(b, (uint8_t)type);
	return at;
}

void rec_end(struct buf *b, size_t at)
{
	set_le32(b->data + at, (uint32_t)(b->len - at - 4));
}

int rec_next(struct cursor *c, struct rec *ret)
{
	uint32_t len = get_u32(c);
	const char *body = take(c, len);
	if (!body || !len)
		return -EBADMSG;
	struct cursor r = {body, body + len, false};
	*ret = (struct rec){.type = get_u8(&r)};
	switch (ret->type) {
	case REC_TXN:
		ret->rev = get_i64(&r);
		ret->wall_ns = get_i64(&r);
		ret->revoke_lease = get_i64(&r);
		ret->nevents = get_u32(&r);
		ret->events = r;
		return r.bad || ret->rev < 0 ? -EBADMSG : 0;
	case REC_LEASE_GRANT:
		ret->lease_id = get_i64(&r);
		ret->lease_ttl = get_i64(&r);
		return r.bad || r.p != r.end || ret->lease_id <= 0 ? -EBADMSG : 0;
	case REC_COMPACT:
		ret->compact_rev = get_i64(&r);
		return r.bad || r.p != r.end || ret->compact_rev <= 0 ? -EBADMSG : 0;
	default:
		return -EBADMSG;
	}
}

int rec_next_event(struct cursor *c, struct rec_ev *ret)
{
	*ret = (struct rec_ev){.kind = get_u8(c)};
	ret->key = get_bytes32(c, &ret->key_len);
	switch (ret->kind) {
	case REC_EV_PUT:
		ret->lease = get_i64(c);
		ret->value = get_bytes32(c, &ret->value_len);
		break;
	case REC_EV_DEL:
		break;
	default:
		return -EBADMSG;
	}
	return c->bad || !ret->key_len ? -EBADMSG : 0;
}

void rec_txn_begin(struct buf *b, size_t *ret_at, size_t *ret_nev_at, int64_t rev,
		   int64_t wall_ns, int64_t revoke_lease)
{
	*ret_at = rec_begin(b, REC_TXN);
	put_i64(b, rev);
	put_i64(b, wall_ns);
	put_i64(b, revoke_lease);
	*ret_nev_at = b->len;
	put_u32(b, 0);
}

void rec_txn_put(struct buf *b, const char *key, size_t key_len, const char *value,
		 size_t value_len, int64_t lease)
{
	put_u8(b, REC_EV_PUT);
	put_bytes32(b, key, key_len);
	put_i64(b, lease);
	put_bytes32(b, value, value_len);
}

void rec_txn_del(struct buf *b, const char *key, size_t key_len)
{
	put_u8(b, REC_EV_DEL);
	put_bytes32(b, key, key_len);
}

void rec_lease_grant(struct buf *b, int64_t id, int64_t ttl)
{
	size_t at = rec_begin(b, REC_LEASE_GRANT);
	put_i64(b, id);
	put_i64(b, ttl);
	rec_end(b, at);
}

void rec_compact(struct buf *b, int64_t rev)
{
	size_t at = rec_begin(b, REC_COMPACT);
	put_i64(b, rev);
	rec_end(b, at);
}
