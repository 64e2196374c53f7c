/* libFuzzer: the table compiler on arbitrary objects and operation orders,
 * and the table validator on arbitrary bytes.
 *
 * Input "T" + arena + block: lb_table_check() on raw bytes (the kernel
 * module's view): never reads outside them, and a block it accepts finds
 * every service it holds. The arena is a little-endian u16 slot count and
 * that many u32 slots, then the block.
 *
 * Any other input is JSON: an array of operations (or one), each a Service
 * or an EndpointSlice to set, {"op":"delete","kind":K,"namespace":N,"name":M},
 * {"op":"build"} or {"op":"retire","back":B}. After every build: the table
 * passes lb_table_check(), every VIP is found and named, a second build
 * gives NULL, and the rings of every generation not yet retired still hold
 * exactly what they held when built. */
#include <stdio.h>

#include "base/base.h"
#include "dataplane/lbtable/lbtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void raw_table(const uint8_t *data, size_t size)
{
	if (size < 2)
		return;
	size_t n_arena = data[0] | (size_t)data[1] << 8;
	data += 2, size -= 2;
	if (n_arena * 4 > size)
		n_arena = size / 4;
	__u32 *arena = xnew(__u32, n_arena);
	memcpy(arena, data, n_arena * 4);
	data += n_arena * 4, size -= n_arena * 4;
	/* The kernel module copies the block into memory of its own: aligned. */
	struct lb_table *t = xmalloc(size);
	memcpy(t, data, size);
	if (lb_table_check(t, size, arena, (__u32)n_arena) == 0)
		for (__u32 i = 0; i < t->n_services; i++)
			if (lb_table_find(t, &lb_table_services(t)[i].key) != &lb_table_services(t)[i])
				abort();
	free(t);
	free(arena);
}

/* A table not yet retired, and a digest of what its rings read. */
#define LIVE_MAX 64
struct live {
	const struct lb_table *t;
	__u64 gen; /* read from t only while t is live */
	uint64_t digest;
};

static uint64_t ring_digest(const struct lb_table *t, const __u32 *arena)
{
	uint64_t h = 1469598103934665603ull;
	const struct lb_service *s = lb_table_services(t);

	for (__u32 i = 0; i < t->n_services; i++)
		for (__u32 k = 0; k < s[i].ring_size; k++)
			h = (h ^ arena[s[i].ring_off + k]) * 1099511628211ull;
	return h;
}

static void after_build(struct lb_compiler *c, const struct lb_table *t, struct live *live,
			unsigned *n_live)
{
	__u32 n_arena;
	const __u32 *arena = lb_compiler_arena(c, &n_arena);

	if (lb_table_check(t, t->size, arena, n_arena) != 0)
		abort();
	for (__u32 i = 0; i < t->n_services; i++) {
		const struct lb_service *s = &lb_table_services(t)[i];
		if (lb_table_find(t, &s->key) != s || !lb_compiler_service_name(c, s->id))
			abort();
	}
	/* Older generations still read what they read. */
	for (unsigned i = 0; i < *n_live; i++)
		if (lb_table_check(live[i].t, live[i].t->size, arena, n_arena) != 0 ||
		    ring_digest(live[i].t, arena) != live[i].digest)
			abort();
	/* Full: stop watching the oldest (the newest must stay: it is never freed). */
	if (*n_live == LIVE_MAX) {
		memmove(live, live + 1, (LIVE_MAX - 1) * sizeof(*live));
		(*n_live)--;
	}
	live[(*n_live)++] = (struct live){t, t->generation, ring_digest(t, arena)};
	if (lb_compiler_build(c, NULL))
		abort();
}

static void retire(struct lb_compiler *c, __u64 g, struct live *live, unsigned *n_live)
{
	unsigned keep = 0;

	lb_compiler_retire(c, g);
	for (unsigned i = 0; i < *n_live; i++)
		if (live[i].gen >= g || i + 1 == *n_live)
			live[keep++] = live[i];
	*n_live = keep;
}

static void operate(struct lb_compiler *c, json_t *op, struct live *live, unsigned *n_live)
{
	const char *kind = json_string_value(json_object_get(op, "kind"));
	const char *what = json_string_value(json_object_get(op, "op"));
	char *err = NULL;
	int r;

	if (what && streq(what, "build")) {
		const struct lb_table *t = lb_compiler_build(c, NULL);
		if (t)
			after_build(c, t, live, n_live);
		return;
	}
	if (what && streq(what, "retire")) {
		__u64 newest = *n_live ? live[*n_live - 1].gen : 0;
		__u64 back = (__u64)json_integer_value(json_object_get(op, "back"));
		retire(c, back < newest ? newest - back : 0, live, n_live);
		return;
	}
	if (what && streq(what, "delete")) {
		const char *ns = json_string_value(json_object_get(op, "namespace"));
		const char *name = json_string_value(json_object_get(op, "name"));
		if (kind && streq(kind, "Service"))
			r = lb_compiler_delete_service(c, ns, name);
		else
			r = lb_compiler_delete_slice(c, ns, name);
		if (r != 0)
			abort();
		return;
	}
	if (kind && streq(kind, "Service"))
		r = lb_compiler_set_service(c, op, &err);
	else
		r = lb_compiler_set_slice(c, op, &err);
	if (!(r == 0 && !err) && !(r == -EINVAL && err))
		abort();
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size && data[0] == 'T') {
		raw_table(data + 1, size - 1);
		return 0;
	}
	json_t *ops = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!ops)
		return 0;
	struct lb_addr addrs[2];
	lb_addr_parse("198.18.100.1", &addrs[0]);
	lb_addr_parse("fd00:18::1", &addrs[1]);
	/* Small rings now and then, so the cap and truncation are reached. */
	struct lb_compiler_config cfg = {.node_name = "node-a", .node_addrs = addrs,
					 .n_node_addrs = 2, .max_ring = size % 3 ? 0 : 251,
					 .fullnat = size & 1, .dsr = size & 2};
	struct lb_compiler *c = lb_compiler_new(&cfg);
	struct live live[LIVE_MAX];
	unsigned n_live = 0;
	size_t i;
	json_t *op;

	if (json_is_array(ops)) {
		json_array_foreach(ops, i, op)
			operate(c, op, live, &n_live);
	} else
		operate(c, ops, live, &n_live);
	const struct lb_table *t = lb_compiler_build(c, NULL);
	if (t)
		after_build(c, t, live, &n_live);
	lb_compiler_free(c);
	json_decref(ops);
	return 0;
}
