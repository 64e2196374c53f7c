/* Kubernetes' protobuf wire encoding, through the schema tables. */
#pragma once

#include <jansson.h>

#include "apiserver/schema.h"
#include "base/base.h"

#define PB_CONTENT_TYPE "application/vnd.kubernetes.protobuf"

struct pb_envelope {
	char api_version[128];
	char kind[128];
	const uint8_t *raw; /* points into the unwrapped data */
	size_t raw_len;
	bool content_encoding_set; /* compressed bodies are not supported */
};

/* "k8s\0" + runtime.Unknown: -EBADMSG when it is not one. */
int pb_unwrap(const void *data, size_t len, struct pb_envelope *ret);
void pb_wrap(const char *api_version, const char *kind, const void *raw, size_t raw_len,
	     struct buf *out);

/* The object message of type t <-> its JSON form. Decoding skips unknown
 * fields; encoding refuses JSON that does not fit the schema. */
int pb_decode(const struct sch_type *t, const void *data, size_t len, json_t **ret, char **errmsg);
int pb_encode(const struct sch_type *t, const json_t *obj, struct buf *out, char **errmsg);

/* Go's time.Duration text form. */
void pb_format_duration(int64_t ns, char *out, size_t cap);
int pb_parse_duration(const char *s, int64_t *ret);
