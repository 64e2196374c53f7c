/* gRPC over HTTP/2, the part the etcd backend needs: length-prefixed
 * message framing, the grpc-timeout header, the status carried by
 * grpc-status / grpc-message, and etcd's errors as store.h's errno values.
 * No I/O here: rpc.c and watch.c drive lib/http's client with it. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

struct http_header;

/* Each message: 1 byte compressed flag, 4 bytes big-endian length. */
#define GRPC_PREFIX_LEN 5

enum grpc_code {
	GRPC_OK = 0,
	GRPC_CANCELLED = 1,
	GRPC_UNKNOWN = 2,
	GRPC_INVALID_ARGUMENT = 3,
	GRPC_DEADLINE_EXCEEDED = 4,
	GRPC_NOT_FOUND = 5,
	GRPC_ALREADY_EXISTS = 6,
	GRPC_PERMISSION_DENIED = 7,
	GRPC_RESOURCE_EXHAUSTED = 8,
	GRPC_FAILED_PRECONDITION = 9,
	GRPC_ABORTED = 10,
	GRPC_OUT_OF_RANGE = 11,
	GRPC_UNIMPLEMENTED = 12,
	GRPC_INTERNAL = 13,
	GRPC_UNAVAILABLE = 14,
	GRPC_DATA_LOSS = 15,
	GRPC_UNAUTHENTICATED = 16,
};

/* Append m to out as one uncompressed message. */
void grpc_frame_append(struct buf *out, const ProtobufCMessage *m);

/* Splits a response body into messages whatever the DATA frame
 * boundaries: a message arriving whole is handed over in place, a split
 * one is gathered first. */
struct grpc_deframer {
	size_t max_len;  /* a longer message is refused */
	struct buf part; /* a message begun and not finished */
};

typedef int (*grpc_msg_fn)(void *ud, const uint8_t *msg, size_t len);

/* Feed body bytes; fn runs for each complete message. Returns 0, fn's
 * first negative return (which stops it), -EMSGSIZE for a message over
 * max_len, -EPROTO for a compressed one (never negotiated). */
int grpc_deframe(struct grpc_deframer *d, const char *p, size_t n, grpc_msg_fn fn, void *ud);
/* Part of a message is held: the body must not end here. */
static inline bool grpc_deframer_partial(const struct grpc_deframer *d) { return d->part.len; }
void grpc_deframer_free(struct grpc_deframer *d);

/* The grpc-timeout value for ms ("250m", "30S"): at most 8 digits. */
void grpc_timeout_format(uint64_t ms, char out[16]);

struct grpc_status {
	int code;
	char *message; /* percent-decoded; "" when absent; owned */
};

/* Find grpc-status (and grpc-message) among headers or trailers. Returns
 * false when there is none; *ret is set either way (UNKNOWN if absent). */
bool grpc_status_parse(const struct http_header *h, unsigned n, struct grpc_status *ret);
void grpc_status_free(struct grpc_status *st);
/* The gRPC code for a non-200 HTTP answer (gRPC's HTTP mapping). */
int grpc_code_from_http(int http_status);
/* store.h's errno for a status: etcd's messages first (compacted ->
 * -ESTALE, future revision -> -ERANGE, lease not found -> -ENOENT, ...),
 * then the code (UNAVAILABLE -> -ENOTCONN, DEADLINE_EXCEEDED -> -ETIMEDOUT,
 * ...). 0 for OK. */
int grpc_status_errno(int code, const char *message);
/* The request never reached etcd's state machine: safe to send again
 * (etcd's "no leader", "not capable", a stopping server). */
bool grpc_status_retryable(int code, const char *message);
