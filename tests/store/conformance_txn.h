/* Conformance: transactions. Part of conformance.c (one translation unit). */
#pragma once

#include "conformance.h"

#define KEY(k) .key = (k), .key_len = sizeof(k) - 1
#define VAL(v) .value = (v), .value_len = sizeof(v) - 1

/* One compare against /txn/k; succeeded or not, and no revision taken. */
static int cmp_holds(const struct store_cmp *cmp)
{
	struct store_op get = {.type = STORE_OP_RANGE, KEY("/txn/k")};
	struct store_txn_req req = {.cmps = cmp, .ncmps = 1, .success = &get, .nsuccess = 1};
	struct res r;
	int64_t before = cur_rev();

	if (s_txn(&req, &r) < 0)
		return -1;
	int ok = r.succeeded;
	CHECK_INT(r.nops, ok ? 1 : 0);
	CHECK_INT(r.rev, before);
	res_free(&r);
	return ok;
}

static void test_txn_compares_every_target_with_every_operator(void)
{
	struct res r;

	CHECK_INT(s_lease_grant(300, 0, &r), 0);
	int64_t lease = r.id;
	res_free(&r);
	int64_t create = put("/txn/k", "v1");
	put("/txn/k", "v2");
	CHECK_INT(s_put("/txn/k", "v3", lease, &r), 0);
	int64_t mod = r.rev;
	res_free(&r);

	/* version 3, create_rev create, mod_rev mod, value "v3", lease. */
	const struct {
		enum store_cmp_target target;
		int64_t cur;
	} nums[] = {
		{STORE_CMP_VERSION, 3},
		{STORE_CMP_CREATE, create},
		{STORE_CMP_MOD, mod},
		{STORE_CMP_LEASE, lease},
	};
	for (size_t i = 0; i < ARRAY_SIZE(nums); i++) {
		int64_t v = nums[i].cur;
		const struct {
			enum store_cmp_op op;
			int64_t num;
			int want;
		} cases[] = {
			{STORE_CMP_EQ, v, 1},     {STORE_CMP_EQ, v - 1, 0},
			{STORE_CMP_NE, v + 1, 1}, {STORE_CMP_NE, v, 0},
			{STORE_CMP_LT, v + 1, 1}, {STORE_CMP_LT, v, 0},
			{STORE_CMP_GT, v - 1, 1}, {STORE_CMP_GT, v, 0},
		};
		for (size_t j = 0; j < ARRAY_SIZE(cases); j++) {
			struct store_cmp cmp = {KEY("/txn/k"), .target = nums[i].target,
						.op = cases[j].op, .num = cases[j].num};
			int got = cmp_holds(&cmp);
			if (got != cases[j].want)
				printf("#   target %d op %d num %" PRId64 ": got %d\n",
				       nums[i].target, cases[j].op, cases[j].num, got);
			CHECK_INT(got, cases[j].want);
		}
	}

	/* Values compare as byte strings. */
	const struct {
		enum store_cmp_op op;
		const char *v;
		int want;
	} vals[] = {
		{STORE_CMP_EQ, "v3", 1}, {STORE_CMP_EQ, "v2", 0}, {STORE_CMP_NE, "x", 1},
		{STORE_CMP_NE, "v3", 0}, {STORE_CMP_LT, "v4", 1}, {STORE_CMP_LT, "v3", 0},
		{STORE_CMP_LT, "v30", 1}, {STORE_CMP_GT, "v2", 1}, {STORE_CMP_GT, "v3", 0},
		{STORE_CMP_GT, "v", 1},
	};
	for (size_t j = 0; j < ARRAY_SIZE(vals); j++) {
		struct store_cmp cmp = {KEY("/txn/k"), .target = STORE_CMP_VALUE, .op = vals[j].op,
					.value = vals[j].v, .value_len = strlen(vals[j].v)};
		int got = cmp_holds(&cmp);
		if (got != vals[j].want)
			printf("#   value op %d \"%s\": got %d\n", vals[j].op, vals[j].v, got);
		CHECK_INT(got, vals[j].want);
	}

	/* A missing key: version, revisions and lease 0; a value compare on
	 * it fails whatever the operator (etcd's rule). */
	const struct store_cmp missing[] = {
		{KEY("/txn/none"), .target = STORE_CMP_VERSION, .op = STORE_CMP_EQ, .num = 0},
		{KEY("/txn/none"), .target = STORE_CMP_CREATE, .op = STORE_CMP_EQ, .num = 0},
		{KEY("/txn/none"), .target = STORE_CMP_MOD, .op = STORE_CMP_LT, .num = 1},
		{KEY("/txn/none"), .target = STORE_CMP_LEASE, .op = STORE_CMP_EQ, .num = 0},
	};
	for (size_t j = 0; j < ARRAY_SIZE(missing); j++)
		CHECK_INT(cmp_holds(&missing[j]), 1);
	struct store_cmp vmiss = {KEY("/txn/none"), .target = STORE_CMP_VALUE, .op = STORE_CMP_NE,
				  VAL("x")};
	CHECK_INT(cmp_holds(&vmiss), 0);

	CHECK_INT(s_lease_revoke(lease, &r), 0);
	res_free(&r);
}

static void test_txn_takes_the_branch_its_compares_choose(void)
{
	struct res r;
	int64_t rev = put("/txn/b/guard", "g");
	put("/txn/b/old", "o");

	const struct store_cmp cmps[] = {
		{KEY("/txn/b/guard"), .target = STORE_CMP_VALUE, .op = STORE_CMP_EQ, VAL("g")},
		{KEY("/txn/b/guard"), .target = STORE_CMP_MOD, .op = STORE_CMP_EQ, .num = rev},
	};
	const struct store_op success[] = {
		{.type = STORE_OP_PUT, KEY("/txn/b/yes"), VAL("1")},
		{.type = STORE_OP_DELETE, KEY("/txn/b/old")},
	};
	const struct store_op failure[] = {
		{.type = STORE_OP_PUT, KEY("/txn/b/no"), VAL("1")},
		{.type = STORE_OP_RANGE, KEY("/txn/b/guard")},
	};
	struct store_txn_req req = {.cmps = cmps, .ncmps = 2, .success = success, .nsuccess = 2,
				    .failure = failure, .nfailure = 2};

	CHECK_INT(s_txn(&req, &r), 0);
	CHECK(r.succeeded);
	CHECK_INT(r.nops, 2);
	CHECK(r.nops == 2 && r.ops[0].type == STORE_OP_PUT && r.ops[1].type == STORE_OP_DELETE);
	CHECK(r.nops == 2 && r.ops[1].deleted == 1);
	int64_t trev = r.rev;
	res_free(&r);
	CHECK_INT(s_get("/txn/b/yes", 0, &r), 0);
	CHECK(r.found && r.kv.mod_rev == trev);
	res_free(&r);
	CHECK_INT(s_get("/txn/b/old", 0, &r), 0);
	CHECK(!r.found);
	res_free(&r);

	/* One compare false (the guard has moved on): the failure branch. */
	put("/txn/b/guard", "g");
	CHECK_INT(s_txn(&req, &r), 0);
	CHECK(!r.succeeded);
	CHECK_INT(r.nops, 2);
	CHECK(r.nops == 2 && r.ops[0].type == STORE_OP_PUT && r.ops[1].type == STORE_OP_RANGE);
	CHECK(r.nops == 2 && r.ops[1].n == 1 && kv_is(&r.ops[1].kvs[0], "/txn/b/guard", "g"));
	res_free(&r);
	CHECK_INT(s_get("/txn/b/no", 0, &r), 0);
	CHECK(r.found);
	res_free(&r);

	/* No compares at all: the success branch. */
	const struct store_op get = {.type = STORE_OP_RANGE, KEY("/txn/b/no")};
	CHECK_INT(s_txn(&(struct store_txn_req){.success = &get, .nsuccess = 1}, &r), 0);
	CHECK(r.succeeded && r.nops == 1 && r.ops[0].n == 1);
	res_free(&r);
}

static void test_txn_writes_share_one_revision(void)
{
	struct res r;

	put("/txn/m/x", "old-x");
	put("/txn/m/z", "old-z");
	int64_t before = cur_rev();
	const struct store_op ops[] = {
		{.type = STORE_OP_PUT, KEY("/txn/m/x"), VAL("new-x"), .prev_kv = true},
		{.type = STORE_OP_PUT, KEY("/txn/m/y"), VAL("new-y"), .prev_kv = true},
		{.type = STORE_OP_DELETE, KEY("/txn/m/z"), .prev_kv = true},
		/* A read after a write in the same txn sees that write. */
		{.type = STORE_OP_RANGE, KEY("/txn/m/x")},
		{.type = STORE_OP_RANGE, KEY("/txn/m/z")},
	};
	CHECK_INT(s_txn(&(struct store_txn_req){.success = ops, .nsuccess = 5}, &r), 0);
	CHECK_INT(r.rev, before + 1);
	CHECK_INT(r.nops, 5);
	if (r.nops == 5) {
		CHECK(r.ops[0].nprev == 1 && kv_is(&r.ops[0].prev[0], "/txn/m/x", "old-x"));
		CHECK_INT(r.ops[1].nprev, 0);
		CHECK_INT(r.ops[2].deleted, 1);
		CHECK(r.ops[2].nprev == 1 && kv_is(&r.ops[2].prev[0], "/txn/m/z", "old-z"));
		CHECK(r.ops[3].n == 1 && kv_is(&r.ops[3].kvs[0], "/txn/m/x", "new-x"));
		CHECK(r.ops[3].n == 1 && r.ops[3].kvs[0].mod_rev == before + 1);
		CHECK_INT(r.ops[4].n, 0);
	}
	res_free(&r);

	CHECK_INT(s_prefix("/txn/m/", 0, 0, &r), 0);
	CHECK_INT(r.n, 2);
	for (size_t i = 0; i < r.n; i++)
		CHECK_INT(r.kvs[i].mod_rev, before + 1);
	res_free(&r);
	CHECK_INT(cur_rev(), before + 1);
}

static void test_txn_delete_range_removes_keys_in_one_revision(void)
{
	struct res r;

	put("/txn/dr/a", "a");
	put("/txn/dr/b", "b");
	put("/txn/dr/c", "c");
	put("/txn/dr0", "outside");
	int64_t before = cur_rev();
	char end[16];
	size_t end_len = store_prefix_end("/txn/dr/", 8, end);
	const struct store_op op = {.type = STORE_OP_DELETE, KEY("/txn/dr/"), .end = end,
				    .end_len = end_len, .prev_kv = true};
	CHECK_INT(s_txn(&(struct store_txn_req){.success = &op, .nsuccess = 1}, &r), 0);
	CHECK_INT(r.rev, before + 1);
	CHECK(r.nops == 1 && r.ops[0].deleted == 3 && r.ops[0].nprev == 3);
	if (r.nops == 1 && r.ops[0].nprev == 3)
		CHECK(kv_is(&r.ops[0].prev[1], "/txn/dr/b", "b"));
	res_free(&r);
	CHECK_INT(s_prefix("/txn/dr", 0, 0, &r), 0);
	CHECK(r.n == 1 && kv_is(&r.kvs[0], "/txn/dr0", "outside"));
	res_free(&r);
}

static void test_txn_without_writes_takes_no_revision(void)
{
	struct res r;
	int64_t before = put("/txn/nw/k", "v");

	const struct store_op reads[] = {
		{.type = STORE_OP_RANGE, KEY("/txn/nw/k")},
		/* Deleting nothing is no write either. */
		{.type = STORE_OP_DELETE, KEY("/txn/nw/missing")},
	};
	CHECK_INT(s_txn(&(struct store_txn_req){.success = reads, .nsuccess = 2}, &r), 0);
	CHECK(r.succeeded);
	CHECK_INT(r.rev, before);
	CHECK(r.nops == 2 && r.ops[1].deleted == 0);
	res_free(&r);
	CHECK_INT(cur_rev(), before);

	/* A failing compare with an empty failure branch: nothing at all. */
	const struct store_cmp no = {KEY("/txn/nw/k"), .target = STORE_CMP_VERSION,
				     .op = STORE_CMP_EQ, .num = 99};
	const struct store_op w = {.type = STORE_OP_PUT, KEY("/txn/nw/k"), VAL("w")};
	CHECK_INT(s_txn(&(struct store_txn_req){.cmps = &no, .ncmps = 1, .success = &w,
						.nsuccess = 1},
			&r),
		  0);
	CHECK(!r.succeeded);
	CHECK_INT(r.nops, 0);
	CHECK_INT(r.rev, before);
	res_free(&r);
	CHECK_INT(cur_rev(), before);
}

static void test_txn_refuses_duplicate_keys_and_too_many_ops(void)
{
	struct res r;
	int64_t before = cur_rev();
	char end[16];
	size_t end_len = store_prefix_end("/txn/dup/", 9, end);

	const struct store_op twice[] = {
		{.type = STORE_OP_PUT, KEY("/txn/dup/a"), VAL("1")},
		{.type = STORE_OP_PUT, KEY("/txn/dup/a"), VAL("2")},
	};
	CHECK_INT(s_txn(&(struct store_txn_req){.success = twice, .nsuccess = 2}, &r), -ENOTUNIQ);
	CHECK(r.sync);
	CHECK_STREQ(store_strerror(-ENOTUNIQ), "etcdserver: duplicate key given in txn request");

	/* A delete range covering a put's key is a duplicate too. */
	const struct store_op overlap[] = {
		{.type = STORE_OP_PUT, KEY("/txn/dup/b"), VAL("1")},
		{.type = STORE_OP_DELETE, KEY("/txn/dup/"), .end = end, .end_len = end_len},
	};
	CHECK_INT(s_txn(&(struct store_txn_req){.failure = overlap, .nfailure = 2}, &r),
		  -ENOTUNIQ);

	/* The same key in each branch, or read and written, is fine. */
	const struct store_op rw[] = {
		{.type = STORE_OP_RANGE, KEY("/txn/dup/a")},
		{.type = STORE_OP_PUT, KEY("/txn/dup/a"), VAL("1")},
	};
	const struct store_op other[] = {{.type = STORE_OP_PUT, KEY("/txn/dup/a"), VAL("2")}};
	CHECK_INT(s_txn(&(struct store_txn_req){.success = rw, .nsuccess = 2, .failure = other,
						.nfailure = 1},
			&r),
		  0);
	res_free(&r);
	CHECK_INT(cur_rev(), before + 1);

	/* etcd's --max-txn-ops is 128. */
	struct store_op *many = xnew(struct store_op, 129);
	char (*keys)[24] = xmalloc(129 * sizeof(*keys));
	for (int i = 0; i < 129; i++) {
		snprintf(keys[i], sizeof(keys[i]), "/txn/many/%03d", i);
		many[i] = (struct store_op){.type = STORE_OP_PUT, .key = keys[i],
					    .key_len = strlen(keys[i]), VAL("x")};
	}
	CHECK_INT(s_txn(&(struct store_txn_req){.success = many, .nsuccess = 129}, &r), -EOVERFLOW);
	CHECK(r.sync);
	CHECK_INT(s_txn(&(struct store_txn_req){.success = many, .nsuccess = 128}, &r), 0);
	CHECK_INT(r.rev, before + 2);
	res_free(&r);
	CHECK_INT(s_prefix("/txn/many/", 0, 0, &r), 0);
	CHECK_INT(r.count, 128);
	res_free(&r);
	free(keys);
	free(many);

	/* Bad compares and ops are refused before anything happens. */
	const struct store_cmp empty = {.key = "", .key_len = 0, .target = STORE_CMP_VERSION};
	CHECK_INT(s_txn(&(struct store_txn_req){.cmps = &empty, .ncmps = 1}, &r), -EINVAL);
	const struct store_op neg = {.type = STORE_OP_RANGE, KEY("/txn/dup/a"), .rev = -5};
	CHECK_INT(s_txn(&(struct store_txn_req){.success = &neg, .nsuccess = 1}, &r), -EINVAL);
	CHECK_INT(cur_rev(), before + 2);
}

static void test_txn_range_ops_read_past_revisions(void)
{
	struct res r;
	int64_t r1 = put("/txn/pr/k", "v1");
	put("/txn/pr/k", "v2");

	const struct store_op ops[] = {
		{.type = STORE_OP_RANGE, KEY("/txn/pr/k"), .rev = r1},
		{.type = STORE_OP_RANGE, KEY("/txn/pr/k"), .count_only = true},
	};
	CHECK_INT(s_txn(&(struct store_txn_req){.success = ops, .nsuccess = 2}, &r), 0);
	CHECK(r.nops == 2 && r.ops[0].n == 1 && kv_is(&r.ops[0].kvs[0], "/txn/pr/k", "v1"));
	CHECK(r.nops == 2 && r.ops[1].n == 0 && r.ops[1].count == 1);
	res_free(&r);

	/* A read in the future fails the whole txn. */
	const struct store_op fut = {.type = STORE_OP_RANGE, KEY("/txn/pr/k"),
				     .rev = cur_rev() + 100};
	CHECK_INT(s_txn(&(struct store_txn_req){.success = &fut, .nsuccess = 1}, &r), -ERANGE);
	res_free(&r);
}
