/* gRPC framing, status and etcd's error strings. */
#include "grpc.h"

#include <inttypes.h>
#include <stdio.h>

#include "http/http.h"

void grpc_frame_append(struct buf *out, const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *p;

	buf_reserve(out, GRPC_PREFIX_LEN + n + 1);
	p = (uint8_t *)out->data + out->len;
	p[0] = 0;
	p[1] = (uint8_t)(n >> 24);
	p[2] = (uint8_t)(n >> 16);
	p[3] = (uint8_t)(n >> 8);
	p[4] = (uint8_t)n;
	protobuf_c_message_pack(m, p + GRPC_PREFIX_LEN);
	out->len += GRPC_PREFIX_LEN + n;
	out->data[out->len] = '\0';
}

static int prefix_parse(const struct grpc_deframer *d, const uint8_t *p, size_t *ret_len)
{
	uint32_t n = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];

	if (p[0] != 0)
		return -EPROTO;
	if (n > d->max_len)
		return -EMSGSIZE;
	*ret_len = n;
	return 0;
}

/* Room for a message of len announced by its prefix; a big one grows as
 * its bytes arrive, so a bogus length costs nothing up front. */
static void reserve(struct grpc_deframer *d, size_t len)
{
	size_t want = GRPC_PREFIX_LEN + MIN(len, (size_t)4 << 20);
	if (want > d->part.len)
		buf_reserve(&d->part, want - d->part.len);
}

int grpc_deframe(struct grpc_deframer *d, const char *p, size_t n, grpc_msg_fn fn, void *ud)
{
	const uint8_t *in = (const uint8_t *)p;
	size_t len = 0;
	int r;

	/* Finish the message begun earlier. */
	while (d->part.len && n) {
		size_t want = GRPC_PREFIX_LEN;
		if (d->part.len >= GRPC_PREFIX_LEN) {
			prefix_parse(d, (const uint8_t *)d->part.data, &len);
			want += len;
		}
		size_t take = MIN(n, want - d->part.len);
		buf_append(&d->part, in, take);
		in += take;
		n -= take;
		if (d->part.len < GRPC_PREFIX_LEN)
			return 0;
		/* Checked as soon as the prefix is whole, before gathering. */
		r = prefix_parse(d, (const uint8_t *)d->part.data, &len);
		if (r < 0)
			return r;
		if (d->part.len < GRPC_PREFIX_LEN + len) {
			reserve(d, len);
			continue;
		}
		r = fn(ud, (const uint8_t *)d->part.data + GRPC_PREFIX_LEN, len);
		/* Do not keep a big buffer around for a long stream. */
		if (d->part.cap > 1024 * 1024)
			buf_free(&d->part);
		else
			buf_clear(&d->part);
		if (r < 0)
			return r;
	}
	/* Whole messages straight from the input. */
	while (n >= GRPC_PREFIX_LEN) {
		r = prefix_parse(d, in, &len);
		if (r < 0)
			return r;
		if (n - GRPC_PREFIX_LEN < len)
			break;
		r = fn(ud, in + GRPC_PREFIX_LEN, len);
		if (r < 0)
			return r;
		in += GRPC_PREFIX_LEN + len;
		n -= GRPC_PREFIX_LEN + len;
	}
	if (n) {
		if (n >= GRPC_PREFIX_LEN)
			reserve(d, len);
		buf_append(&d->part, in, n);
	}
	return 0;
}

void grpc_deframer_free(struct grpc_deframer *d) { buf_free(&d->part); }

void grpc_timeout_format(uint64_t ms, char out[16])
{
	/* The value has at most 8 digits: coarser units for long ones. */
	if (ms <= 99999999)
		snprintf(out, 16, "%" PRIu64 "m", ms);
	else if (ms / 1000 <= 99999999)
		snprintf(out, 16, "%" PRIu64 "S", ms / 1000);
	else
		snprintf(out, 16, "%" PRIu64 "H", MIN(ms / 3600000, (uint64_t)99999999));
}

/* grpc-message is percent-encoded; a malformed escape stays as it is. */
static char *percent_decode(const char *s)
{
	size_t n = strlen(s), k = 0;
	char *out = xmalloc(n + 1);

	for (size_t i = 0; i < n; i++) {
		int hi, lo;
		if (s[i] == '%' && i + 2 < n && (hi = hex_digit(s[i + 1])) >= 0 &&
		    (lo = hex_digit(s[i + 2])) >= 0) {
			out[k++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[k++] = s[i];
		}
	}
	out[k] = '\0';
	return out;
}

bool grpc_status_parse(const struct http_header *h, unsigned n, struct grpc_status *ret)
{
	const char *code = NULL, *msg = NULL;

	for (unsigned i = 0; i < n; i++) {
		if (streq(h[i].name, "grpc-status"))
			code = h[i].value;
		else if (streq(h[i].name, "grpc-message"))
			msg = h[i].value;
	}
	uint64_t v;
	if (!code || parse_u64(code, strlen(code), &v) < 0 || v > 16) {
		*ret = (struct grpc_status){GRPC_UNKNOWN,
					    xstrdup(code ? "malformed grpc-status" : "")};
		return code != NULL;
	}
	*ret = (struct grpc_status){(int)v, percent_decode(msg ? msg : "")};
	return true;
}

void grpc_status_free(struct grpc_status *st)
{
	free(st->message);
	st->message = NULL;
}

int grpc_code_from_http(int http_status)
{
	switch (http_status) {
	case 400:
		return GRPC_INTERNAL;
	case 401:
		return GRPC_UNAUTHENTICATED;
	case 403:
		return GRPC_PERMISSION_DENIED;
	case 404:
		return GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return GRPC_UNAVAILABLE;
	default:
		return GRPC_UNKNOWN;
	}
}

/* etcd's error strings (its rpctypes) that have an errno of their own. */
static const struct {
	const char *text;
	int err;
} etcd_errors[] = {
	{"required revision has been compacted", -ESTALE},
	{"required revision is a future revision", -ERANGE},
	{"requested lease not found", -ENOENT},
	{"request is too large", -E2BIG},
	{"received message larger than max", -E2BIG},
	{"duplicate key given in txn request", -ENOTUNIQ},
	{"too many operations in txn request", -EOVERFLOW},
	{"key is not provided", -EINVAL},
	{"lease already exists", -EEXIST},
	{"too large lease TTL", -EINVAL},
	{"database space exceeded", -ENOSPC},
	{"too many requests", -EAGAIN},
	{"permission denied", -EACCES},
	{"invalid auth token", -EACCES},
	{"request timed out", -ETIMEDOUT},
	{"corrupt cluster", -EIO},
};

int grpc_status_errno(int code, const char *message)
{
	if (code == GRPC_OK)
		return 0;
	for (size_t i = 0; message && i < ARRAY_SIZE(etcd_errors); i++)
		if (strstr(message, etcd_errors[i].text))
			return etcd_errors[i].err;
	switch (code) {
	case GRPC_CANCELLED:
		return -ECANCELED;
	case GRPC_INVALID_ARGUMENT:
		return -EINVAL;
	case GRPC_DEADLINE_EXCEEDED:
		return -ETIMEDOUT;
	case GRPC_NOT_FOUND:
		return -ENOENT;
	case GRPC_ALREADY_EXISTS:
		return -EEXIST;
	case GRPC_PERMISSION_DENIED:
	case GRPC_UNAUTHENTICATED:
		return -EACCES;
	case GRPC_RESOURCE_EXHAUSTED:
		return -ENOSPC;
	case GRPC_OUT_OF_RANGE:
		return -ERANGE;
	case GRPC_UNIMPLEMENTED:
		return -EOPNOTSUPP;
	case GRPC_UNAVAILABLE:
		return -ENOTCONN;
	case GRPC_DATA_LOSS:
		return -EIO;
	case GRPC_ABORTED:
		return -EAGAIN;
	default:
		return -EPROTO;
	}
}

bool grpc_status_retryable(int code, const char *message)
{
	/* etcd refuses these before proposing anything to raft. */
	static const char *const before_raft[] = {
		"etcdserver: no leader",
		"etcdserver: not capable",
		"etcdserver: unhealthy cluster",
	};

	if (code != GRPC_UNAVAILABLE || !message)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(before_raft); i++)
		if (streq(message, before_raft[i]))
			return true;
	return false;
}
