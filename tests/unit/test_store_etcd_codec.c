/* The etcd backend's gRPC codec without an etcd: message framing (split,
 * coalesced, oversized, compressed), grpc-timeout, status trailers and
 * etcd's errors as store.h errno values. */
#include "base/base.h"
#include "http/http.h"
#include "store/etcd/grpc.h"
#include "store/store.h"
#include "tap.h"

/* The generated descriptors (rpc.pb-c.c), declared here so this test
 * needs none of the generated headers. */
extern const ProtobufCMessageDescriptor etcdserverpb__lease_keep_alive_request__descriptor;
extern const ProtobufCServiceDescriptor etcdserverpb__kv__descriptor;
extern const ProtobufCServiceDescriptor etcdserverpb__watch__descriptor;
extern const ProtobufCServiceDescriptor etcdserverpb__lease__descriptor;
extern const ProtobufCServiceDescriptor etcdserverpb__maintenance__descriptor;

struct got {
	int n;
	size_t len[8];
	char msg[8][64];
	int fail_at; /* return an error from this message on (0: never) */
};

static int collect(void *ud, const uint8_t *msg, size_t len)
{
	struct got *g = ud;
	if (g->fail_at && g->n + 1 >= g->fail_at)
		return -ENOSPC;
	if (g->n < 8) {
		g->len[g->n] = len;
		memcpy(g->msg[g->n], msg, MIN(len, sizeof(g->msg[0])));
	}
	g->n++;
	return 0;
}

/* A frame by hand: flag, big-endian length, bytes. */
static void frame_raw(struct buf *b, uint8_t flag, const char *s, size_t n)
{
	uint8_t h[5] = {flag, (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
			(uint8_t)n};
	buf_append(b, h, 5);
	buf_append(b, s, n);
}

static void three_frames(struct buf *b)
{
	frame_raw(b, 0, "alpha", 5);
	frame_raw(b, 0, "", 0);
	frame_raw(b, 0, "gamma-gamma", 11);
}

static void check_three(const struct got *g)
{
	CHECK_INT(g->n, 3);
	CHECK_INT(g->len[0], 5);
	CHECK(memcmp(g->msg[0], "alpha", 5) == 0);
	CHECK_INT(g->len[1], 0);
	CHECK_INT(g->len[2], 11);
	CHECK(memcmp(g->msg[2], "gamma-gamma", 11) == 0);
}

static void test_coalesced_frames_in_one_chunk_give_each_message(void)
{
	struct grpc_deframer d = {.max_len = 1024};
	struct buf b = {0};
	struct got g = {0};

	three_frames(&b);
	CHECK_INT(grpc_deframe(&d, b.data, b.len, collect, &g), 0);
	check_three(&g);
	CHECK(!grpc_deframer_partial(&d));
	buf_free(&b);
	grpc_deframer_free(&d);
}

static void test_frames_split_byte_by_byte_give_the_same_messages(void)
{
	struct grpc_deframer d = {.max_len = 1024};
	struct buf b = {0};
	struct got g = {0};

	three_frames(&b);
	for (size_t i = 0; i < b.len; i++) {
		CHECK_INT(grpc_deframe(&d, b.data + i, 1, collect, &g), 0);
		if (i + 1 < b.len)
			CHECK(g.n < 3);
	}
	check_three(&g);
	CHECK(!grpc_deframer_partial(&d));
	buf_free(&b);
	grpc_deframer_free(&d);
}

static void test_frames_split_at_every_point_give_the_same_messages(void)
{
	struct buf b = {0};

	three_frames(&b);
	for (size_t cut = 0; cut <= b.len; cut++) {
		for (size_t cut2 = cut; cut2 <= b.len; cut2++) {
			struct grpc_deframer d = {.max_len = 1024};
			struct got g = {0};
			CHECK_INT(grpc_deframe(&d, b.data, cut, collect, &g), 0);
			CHECK_INT(grpc_deframe(&d, b.data + cut, cut2 - cut, collect, &g), 0);
			CHECK_INT(grpc_deframe(&d, b.data + cut2, b.len - cut2, collect, &g), 0);
			check_three(&g);
			grpc_deframer_free(&d);
		}
	}
	buf_free(&b);
}

static void test_incomplete_frame_is_held_as_partial(void)
{
	struct grpc_deframer d = {.max_len = 1024};
	struct buf b = {0};
	struct got g = {0};

	frame_raw(&b, 0, "hello", 5);
	CHECK_INT(grpc_deframe(&d, b.data, 3, collect, &g), 0);
	CHECK(grpc_deframer_partial(&d));
	CHECK_INT(grpc_deframe(&d, b.data + 3, 4, collect, &g), 0);
	CHECK(grpc_deframer_partial(&d));
	CHECK_INT(g.n, 0);
	CHECK_INT(grpc_deframe(&d, b.data + 7, b.len - 7, collect, &g), 0);
	CHECK_INT(g.n, 1);
	CHECK(!grpc_deframer_partial(&d));
	buf_free(&b);
	grpc_deframer_free(&d);
}

static void test_oversized_frame_is_refused_from_its_prefix(void)
{
	struct grpc_deframer d = {.max_len = 100};
	struct got g = {0};
	/* Only the prefix of a 101-byte message: refused before the body. */
	const uint8_t big[5] = {0, 0, 0, 0, 101};
	const uint8_t ok[5] = {0, 0, 0, 0, 100};

	CHECK_INT(grpc_deframe(&d, (const char *)big, 5, collect, &g), -EMSGSIZE);
	grpc_deframer_free(&d);

	d = (struct grpc_deframer){.max_len = 100};
	CHECK_INT(grpc_deframe(&d, (const char *)big, 2, collect, &g), 0);
	CHECK_INT(grpc_deframe(&d, (const char *)big + 2, 3, collect, &g), -EMSGSIZE);
	grpc_deframer_free(&d);

	/* 4 GiB - 1 announced: refused, not allocated. */
	const uint8_t huge[5] = {0, 0xff, 0xff, 0xff, 0xff};
	d = (struct grpc_deframer){.max_len = 100};
	CHECK_INT(grpc_deframe(&d, (const char *)huge, 5, collect, &g), -EMSGSIZE);
	grpc_deframer_free(&d);

	d = (struct grpc_deframer){.max_len = 100};
	CHECK_INT(grpc_deframe(&d, (const char *)ok, 5, collect, &g), 0);
	CHECK(grpc_deframer_partial(&d));
	CHECK_INT(g.n, 0);
	grpc_deframer_free(&d);
}

static void test_compressed_frame_is_refused(void)
{
	struct grpc_deframer d = {.max_len = 100};
	struct buf b = {0};
	struct got g = {0};

	frame_raw(&b, 1, "zz", 2);
	CHECK_INT(grpc_deframe(&d, b.data, b.len, collect, &g), -EPROTO);
	CHECK_INT(g.n, 0);
	buf_free(&b);
	grpc_deframer_free(&d);
}

static void test_callback_error_stops_deframing(void)
{
	struct grpc_deframer d = {.max_len = 1024};
	struct buf b = {0};
	struct got g = {.fail_at = 2};

	three_frames(&b);
	CHECK_INT(grpc_deframe(&d, b.data, b.len, collect, &g), -ENOSPC);
	CHECK_INT(g.n, 1);
	buf_free(&b);
	grpc_deframer_free(&d);
}

static void test_packed_message_frames_and_unpacks(void)
{
	const ProtobufCMessageDescriptor *desc =
		&etcdserverpb__lease_keep_alive_request__descriptor;
	ProtobufCMessage *m = xmalloc(desc->sizeof_message);
	struct buf b = {0};

	desc->message_init(m);
	/* field 1 (ID): set through the descriptor, as the generated struct
	 * is not visible here */
	const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(desc, 1);
	CHECK(f && streq(f->name, "ID"));
	*(int64_t *)((char *)m + f->offset) = 0x1234567890;
	grpc_frame_append(&b, m);
	/* field 1 varint 0x1234567890 = 6 bytes + tag */
	CHECK_INT(b.len, 5 + 1 + 6);
	CHECK_INT((uint8_t)b.data[0], 0);
	CHECK_INT((uint8_t)b.data[4], 7);
	CHECK_INT((uint8_t)b.data[5], 0x08);
	ProtobufCMessage *u =
		protobuf_c_message_unpack(desc, NULL, b.len - 5, (uint8_t *)b.data + 5);
	CHECK(u != NULL);
	if (u)
		CHECK(*(int64_t *)((char *)u + f->offset) == 0x1234567890);
	protobuf_c_message_free_unpacked(u, NULL);
	free(m);
	buf_free(&b);
}

static void test_grpc_timeout_uses_at_most_eight_digits(void)
{
	char t[16];

	grpc_timeout_format(250, t);
	CHECK_STREQ(t, "250m");
	grpc_timeout_format(99999999, t);
	CHECK_STREQ(t, "99999999m");
	grpc_timeout_format(100000000, t);
	CHECK_STREQ(t, "100000S");
	grpc_timeout_format(UINT64_MAX, t);
	CHECK_STREQ(t, "99999999H");
}

static void test_status_is_read_from_trailers_and_decoded(void)
{
	struct http_header h[] = {
		{"content-type", "application/grpc"},
		{"grpc-status", "11"},
		{"grpc-message", "etcdserver: mvcc: required revision has been compacted%21%zz"},
	};
	struct grpc_status st;

	CHECK(grpc_status_parse(h, 3, &st));
	CHECK_INT(st.code, GRPC_OUT_OF_RANGE);
	CHECK_STREQ(st.message, "etcdserver: mvcc: required revision has been compacted!%zz");
	CHECK_INT(grpc_status_errno(st.code, st.message), -ESTALE);
	grpc_status_free(&st);

	CHECK(!grpc_status_parse(h, 1, &st));
	CHECK_INT(st.code, GRPC_UNKNOWN);
	grpc_status_free(&st);

	struct http_header bad[] = {{"grpc-status", "x1"}};
	CHECK(grpc_status_parse(bad, 1, &st));
	CHECK_INT(st.code, GRPC_UNKNOWN);
	grpc_status_free(&st);

	struct http_header ok[] = {{"grpc-status", "0"}};
	CHECK(grpc_status_parse(ok, 1, &st));
	CHECK_INT(grpc_status_errno(st.code, st.message), 0);
	grpc_status_free(&st);
}

static void test_etcd_errors_map_to_store_errnos(void)
{
	static const struct {
		int code;
		const char *msg;
		int err;
	} cases[] = {
		{GRPC_OUT_OF_RANGE, "etcdserver: mvcc: required revision has been compacted",
		 -ESTALE},
		{GRPC_OUT_OF_RANGE, "etcdserver: mvcc: required revision is a future revision",
		 -ERANGE},
		{GRPC_NOT_FOUND, "etcdserver: requested lease not found", -ENOENT},
		{GRPC_INVALID_ARGUMENT, "etcdserver: request is too large", -E2BIG},
		{GRPC_RESOURCE_EXHAUSTED,
		 "grpc: received message larger than max (3000000 vs. 2097152)", -E2BIG},
		{GRPC_INVALID_ARGUMENT, "etcdserver: duplicate key given in txn request",
		 -ENOTUNIQ},
		{GRPC_INVALID_ARGUMENT, "etcdserver: too many operations in txn request",
		 -EOVERFLOW},
		{GRPC_INVALID_ARGUMENT, "etcdserver: key is not provided", -EINVAL},
		{GRPC_FAILED_PRECONDITION, "etcdserver: lease already exists", -EEXIST},
		{GRPC_RESOURCE_EXHAUSTED, "etcdserver: mvcc: database space exceeded", -ENOSPC},
		{GRPC_UNAVAILABLE, "etcdserver: request timed out", -ETIMEDOUT},
		{GRPC_UNAVAILABLE, "etcdserver: no leader", -ENOTCONN},
		{GRPC_UNAVAILABLE, "", -ENOTCONN},
		{GRPC_DEADLINE_EXCEEDED, "context deadline exceeded", -ETIMEDOUT},
		{GRPC_CANCELLED, "context canceled", -ECANCELED},
		{GRPC_UNIMPLEMENTED, "unknown service", -EOPNOTSUPP},
		{GRPC_UNKNOWN, "what", -EPROTO},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int got = grpc_status_errno(cases[i].code, cases[i].msg);
		if (got != cases[i].err)
			printf("# %s\n", cases[i].msg);
		CHECK_INT(got, cases[i].err);
	}
}

static void test_store_strerror_texts_map_back_to_their_errnos(void)
{
	/* What store.h prints for etcd's errors is what etcd sends. */
	const int errs[] = {-E2BIG, -EOVERFLOW, -ENOTUNIQ, -ESTALE, -ERANGE, -ENOENT};
	for (size_t i = 0; i < ARRAY_SIZE(errs); i++)
		CHECK_INT(grpc_status_errno(GRPC_UNKNOWN, store_strerror(errs[i])), errs[i]);
}

static void test_only_refusals_before_raft_are_retryable(void)
{
	CHECK(grpc_status_retryable(GRPC_UNAVAILABLE, "etcdserver: no leader"));
	CHECK(grpc_status_retryable(GRPC_UNAVAILABLE, "etcdserver: not capable"));
	CHECK(!grpc_status_retryable(GRPC_UNAVAILABLE, "etcdserver: request timed out"));
	CHECK(!grpc_status_retryable(GRPC_UNAVAILABLE, "etcdserver: leader changed"));
	CHECK(!grpc_status_retryable(GRPC_INVALID_ARGUMENT, "etcdserver: no leader"));
}

static void test_http_errors_map_to_grpc_codes(void)
{
	CHECK_INT(grpc_code_from_http(503), GRPC_UNAVAILABLE);
	CHECK_INT(grpc_code_from_http(404), GRPC_UNIMPLEMENTED);
	CHECK_INT(grpc_code_from_http(401), GRPC_UNAUTHENTICATED);
	CHECK_INT(grpc_code_from_http(500), GRPC_UNKNOWN);
	CHECK_INT(grpc_status_errno(grpc_code_from_http(503), ""), -ENOTCONN);
}

static bool has_method(const ProtobufCServiceDescriptor *s, const char *name)
{
	for (unsigned i = 0; i < s->n_methods; i++)
		if (streq(s->methods[i].name, name))
			return true;
	return false;
}

static void test_protos_name_etcds_services_and_methods(void)
{
	/* The paths the backend calls: /<package>.<Service>/<Method>. */
	CHECK_STREQ(etcdserverpb__kv__descriptor.name, "etcdserverpb.KV");
	CHECK(has_method(&etcdserverpb__kv__descriptor, "Range"));
	CHECK(has_method(&etcdserverpb__kv__descriptor, "Txn"));
	CHECK(has_method(&etcdserverpb__kv__descriptor, "Compact"));
	CHECK_STREQ(etcdserverpb__watch__descriptor.name, "etcdserverpb.Watch");
	CHECK(has_method(&etcdserverpb__watch__descriptor, "Watch"));
	CHECK_STREQ(etcdserverpb__lease__descriptor.name, "etcdserverpb.Lease");
	CHECK(has_method(&etcdserverpb__lease__descriptor, "LeaseGrant"));
	CHECK(has_method(&etcdserverpb__lease__descriptor, "LeaseRevoke"));
	CHECK(has_method(&etcdserverpb__lease__descriptor, "LeaseKeepAlive"));
	CHECK_STREQ(etcdserverpb__maintenance__descriptor.name, "etcdserverpb.Maintenance");
	CHECK(has_method(&etcdserverpb__maintenance__descriptor, "Status"));
}

int main(void)
{
	RUN(test_coalesced_frames_in_one_chunk_give_each_message);
	RUN(test_frames_split_byte_by_byte_give_the_same_messages);
	RUN(test_frames_split_at_every_point_give_the_same_messages);
	RUN(test_incomplete_frame_is_held_as_partial);
	RUN(test_oversized_frame_is_refused_from_its_prefix);
	RUN(test_compressed_frame_is_refused);
	RUN(test_callback_error_stops_deframing);
	RUN(test_packed_message_frames_and_unpacks);
	RUN(test_grpc_timeout_uses_at_most_eight_digits);
	RUN(test_status_is_read_from_trailers_and_decoded);
	RUN(test_etcd_errors_map_to_store_errnos);
	RUN(test_store_strerror_texts_map_back_to_their_errnos);
	RUN(test_only_refusals_before_raft_are_retryable);
	RUN(test_http_errors_map_to_grpc_codes);
	RUN(test_protos_name_etcds_services_and_methods);
	return tap_done();
}
