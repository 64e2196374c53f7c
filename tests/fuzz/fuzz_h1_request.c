/* Fuzz the HTTP/1.1 request-head parser and the chunked decoder: whatever
 * the bytes, no crash, no read outside them, and results that hold
 * together. */
#include "http/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = xmalloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';

	size_t scan = 0;
	size_t end = h1_find_head_end(copy, size, &scan);
	if (end) {
		struct h1_head h;
		const char *err = NULL;
		int r = h1_parse_request(copy, end, &h, &err);
		if (r > 0) {
			if ((size_t)r > end || !h.method || !h.path || h.nheaders > HTTP_MAX_HEADERS)
				abort();
			for (unsigned i = 0; i < h.nheaders; i++)
				if (strlen(h.headers[i].name) == 0)
					abort();
		} else if (r < 0 && (!err || !*err)) {
			abort();
		}
		/* The rest, as a chunked body, in two pieces. */
		struct h1_chunked d = {0};
		struct buf out = {0};
		size_t rest = size - end, half = rest / 2;
		ssize_t a = h1_chunked_decode(&d, copy + end, half, &out, 1 << 20, &err);
		if (a >= 0 && !d.done)
			h1_chunked_decode(&d, copy + end + half, rest - half, &out, 1 << 20, &err);
		if (out.len > rest)
			abort();
		buf_free(&out);
	}
	free(copy);
	return 0;
}
