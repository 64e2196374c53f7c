/* What the HTTP/2 server and client share. */
#include "http/internal.h"

ssize_t h2_outq_pull(struct h2_outq *q, uint8_t *out, size_t length, uint32_t *flags)
{
	size_t avail = h2_outq_len(q);

	if (!avail) {
		if (q->eof) {
			*flags |= NGHTTP2_DATA_FLAG_EOF;
			return 0;
		}
		q->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	size_t n = MIN(avail, length);
	memcpy(out, q->b.data + q->off, n);
	q->off += n;
	if (q->off == q->b.len) {
		buf_clear(&q->b);
		q->off = 0;
		if (q->eof)
			*flags |= NGHTTP2_DATA_FLAG_EOF;
	} else if (q->off > 65536 && q->off * 2 > q->b.len) {
		/* A long stream: drop what was sent now and then. */
		buf_consume(&q->b, q->off);
		q->off = 0;
	}
	return (ssize_t)n;
}

void h2_outq_free(struct h2_outq *q)
{
	buf_free(&q->b);
	*q = (struct h2_outq){0};
}
