/* Internal to the protobuf codec (protobuf.c, protobuf_encode.c): the
 * wire types and the nesting limit both directions share. */
#pragma once

/* Messages nested deeper than this are refused, reading or writing. */
#define MAX_DEPTH 64

enum wire {
	WIRE_VARINT = 0,
	WIRE_FIXED64 = 1,
	WIRE_LEN = 2,
	WIRE_FIXED32 = 5,
};

/* What an envelope starts with: "k8s" and a NUL. */
#define PB_MAGIC "k8s"
