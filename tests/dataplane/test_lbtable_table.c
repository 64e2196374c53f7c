/* The table block: lookups find every VIP and nothing else; the validator
 * the kernel module runs accepts what the compiler builds and refuses
 * damaged blocks without reading outside them; a table built by patching
 * the last one says what a table compiled from scratch says, its delta
 * brings a mirror of the arena up to date, and no generation is touched
 * before it is retired. */
#include <arpa/inet.h>
#include <stdio.h>

#include "base/base.h"
#include "dataplane/lbtable/lbtable.h"

#include "tap.h"
#include "lbt_test.h"

struct fixture {
	struct lb_compiler *c;
	const struct lb_table *t;
	const __u32 *arena;
	__u32 n_arena;
};

/* n Services s0..: a ClusterIP each, every third a NodePort Service too,
 * 1 to 4 ready endpoints each. */
static struct fixture make(unsigned n)
{
	struct lb_addr node;
	struct fixture f = {0};

	lb_addr_parse("198.18.255.1", &node);
	f.c = lb_compiler_new(&(struct lb_compiler_config){.node_addrs = &node, .n_node_addrs = 1});
	for (unsigned i = 0; i < n; i++) {
		char name[32], ip[32];
		char *err = NULL;

		snprintf(name, sizeof(name), "s%u", i);
		snprintf(ip, sizeof(ip), "198.19.%u.%u", i / 250, i % 250 + 1);
		json_t *svc = json_pack("{s:s, s:{s:s, s:s}, s:{s:s, s:s, s:[{s:i, s:i}]}}",
					"kind", "Service", "metadata", "name", name, "namespace", "t",
					"spec", "type", i % 3 ? "ClusterIP" : "NodePort",
					"clusterIP", ip, "ports", "port", 80, "nodePort",
					i % 3 ? 0 : 30000 + (int)i);
		json_t *eps = json_array();
		for (unsigned k = 0; k <= i % 4; k++) {
			snprintf(ip, sizeof(ip), "198.18.%u.%u", i / 60, (i % 60) * 4 + k + 1);
			json_array_append_new(eps, json_pack("{s:[s]}", "addresses", ip));
		}
		json_t *sl = json_pack("{s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:[{s:i}], s:o}",
				       "kind", "EndpointSlice", "metadata", "name", name,
				       "namespace", "t", "labels", "kubernetes.io/service-name",
				       name, "addressType", "IPv4", "ports", "port", 8080,
				       "endpoints", eps);
		CHECK_INT(lb_compiler_set_service(f.c, svc, &err), 0);
		CHECK_INT(lb_compiler_set_slice(f.c, sl, &err), 0);
		free(err);
		json_decref(svc);
		json_decref(sl);
	}
	f.t = lb_compiler_build(f.c, NULL);
	f.arena = lb_compiler_arena(f.c, &f.n_arena);
	return f;
}

static void test_find_returns_each_vip_and_nothing_else(void)
{
	struct fixture f = make(300);
	const struct lb_service *s = lb_table_services(f.t);

	CHECK_INT(f.t->n_services, 400);
	for (__u32 i = 0; i < f.t->n_services; i++)
		CHECK(lb_table_find(f.t, &s[i].key) == &s[i]);

	struct lb_vip_key k = s[0].key;
	k.port = htons(81);
	CHECK(lb_table_find(f.t, &k) == NULL);
	k = s[0].key;
	k.proto = LB_PROTO_UDP;
	CHECK(lb_table_find(f.t, &k) == NULL);
	k = s[0].key;
	k.pad = 1; /* keys are compared, and hashed, as 20 bytes */
	CHECK(lb_table_find(f.t, &k) == NULL);
	lb_addr_parse("198.19.200.1", &k.addr);
	k.pad = 0;
	CHECK(lb_table_find(f.t, &k) == NULL);
	CHECK(lb_table_find(NULL, &k) == NULL);
	lb_compiler_free(f.c);
}

static void test_check_accepts_what_the_compiler_builds(void)
{
	const unsigned sizes[] = {0, 1, 7, 300};

	for (unsigned i = 0; i < ARRAY_SIZE(sizes); i++) {
		struct fixture f = make(sizes[i]);
		CHECK(f.t != NULL);
		CHECK_INT(lb_table_check(f.t, f.t->size, f.arena, f.n_arena), 0);
		/* A bigger arena than the table reads is fine. */
		CHECK_INT(lb_table_check(f.t, f.t->size, f.arena, f.n_arena), 0);
		lb_compiler_free(f.c);
	}
}

enum damage {
	BAD_MAGIC, BAD_VERSION, SIZE_NOT_LEN, INDEX_NOT_POW2, INDEX_TOO_SMALL,
	SERVICES_IN_HEADER, SERVICES_MISALIGNED, BACKENDS_PAST_END, INDEX_OVERLAPS,
	SERVICES_OVERLAP, ARENA_TOO_BIG, RING_OUTSIDE_ARENA, RING_NOT_A_SIZE, RING_EMPTY_WITH_BACKENDS,
	N_BACKENDS_WRONG, KEY_PAD, KEY_PROTO, UNKNOWN_FLAG, INDEX_PAST_SERVICES, INDEX_TWICE,
	INDEX_MISSING, INDEX_OFF_PATH, KEYS_SWAPPED, DUPLICATE_KEY, BACKEND_DEAD,
	BACKEND_PROTO, BACKEND_FLAG, RING_ENTRY_PAST_BACKENDS, N_DAMAGE
};

static __u32 *slot_of(struct lb_table *t, __u32 v)
{
	__u32 *index = (__u32 *)((char *)t + t->off_index);

	for (__u32 i = 0; i < t->n_index; i++)
		if (index[i] == v)
			return &index[i];
	return NULL;
}

static void damage(enum damage d, struct lb_table *t, __u32 *arena)
{
	struct lb_service *s = (struct lb_service *)((char *)t + t->off_services);
	struct lb_backend *b = (struct lb_backend *)((char *)t + t->off_backends);
	__u32 *empty = slot_of(t, 0);

	switch (d) {
	case BAD_MAGIC: t->magic ^= 1; break;
	case BAD_VERSION: t->version = 2; break;
	case SIZE_NOT_LEN: t->size += 4; break;
	case INDEX_NOT_POW2: t->n_index -= 1; break;
	case INDEX_TOO_SMALL: t->n_index /= 4; break;
	case SERVICES_IN_HEADER: t->off_services = 8; break;
	case SERVICES_MISALIGNED: t->off_services += 2; break;
	case BACKENDS_PAST_END: t->off_backends = t->size - 8; break;
	case INDEX_OVERLAPS: t->off_index = t->off_backends; break;
	case SERVICES_OVERLAP: t->n_services += 1; break;
	case ARENA_TOO_BIG: t->arena_size += 1; break;
	case RING_OUTSIDE_ARENA: s[0].ring_off = t->arena_size - s[0].ring_size + 1; break;
	case RING_NOT_A_SIZE: s[0].ring_size = 250; break;
	case RING_EMPTY_WITH_BACKENDS: s[0].ring_size = 0; break;
	case N_BACKENDS_WRONG: s[0].n_backends += 1; break;
	case KEY_PAD: s[1].key.pad = 1; break;
	case KEY_PROTO: s[1].key.proto = 1; break;
	case UNKNOWN_FLAG: s[2].flags |= 1u << 20; break;
	case INDEX_PAST_SERVICES: *empty = t->n_services + 1; break;
	case INDEX_TWICE: *empty = 1; break;
	case INDEX_MISSING: *slot_of(t, 1) = 0; break;
	case INDEX_OFF_PATH: {
		/* Move service 0 to an empty slot before its home: a probe from
		 * its home never gets there. */
		__u32 *index = (__u32 *)((char *)t + t->off_index), mask = t->n_index - 1;
		__u32 home = lb_vip_hash(&s[0].key) & mask, *from = slot_of(t, 1);
		for (__u32 i = 1; i < t->n_index; i++)
			if (!index[(home - i) & mask]) {
				index[(home - i) & mask] = 1;
				*from = 0;
				break;
			}
		break;
	}
	case KEYS_SWAPPED: {
		struct lb_vip_key k = s[0].key;
		s[0].key = s[1].key;
		s[1].key = k;
		break;
	}
	case DUPLICATE_KEY: s[1].key = s[0].key; break;
	case BACKEND_DEAD: b[arena[s[0].ring_off]].id = 0; break;
	case BACKEND_PROTO: b[0].proto = 2; break;
	case BACKEND_FLAG: b[0].flags |= 0x80; break;
	case RING_ENTRY_PAST_BACKENDS: arena[s[0].ring_off + 3] = t->n_backends; break;
	case N_DAMAGE: break;
	}
}

static void test_check_refuses_damaged_tables(void)
{
	struct fixture f = make(40);
	__u32 *arena = xnew(__u32, f.n_arena);
	struct lb_table *t = xmalloc(f.t->size);

	for (int d = 0; d < N_DAMAGE; d++) {
		memcpy(t, f.t, f.t->size);
		memcpy(arena, f.arena, f.n_arena * sizeof(*arena));
		damage((enum damage)d, t, arena);
		int r = lb_table_check(t, f.t->size, arena, f.n_arena);
		if (r != -EINVAL)
			printf("#   damage %d was accepted\n", d);
		CHECK_INT(r, -EINVAL);
	}
	/* Undamaged copies pass, and the arena is not optional. */
	memcpy(t, f.t, f.t->size);
	CHECK_INT(lb_table_check(t, f.t->size, f.arena, f.n_arena), 0);
	CHECK_INT(lb_table_check(t, f.t->size, NULL, f.n_arena), -EINVAL);
	CHECK_INT(lb_table_check(t, f.t->size, f.arena, f.t->arena_size - 1), -EINVAL);
	CHECK_INT(lb_table_check(NULL, 0, f.arena, f.n_arena), -EINVAL);
	free(t);
	free(arena);
	lb_compiler_free(f.c);
}

static void test_check_refuses_every_truncation(void)
{
	struct fixture f = make(10);
	unsigned accepted = 0;

	for (__u32 len = 0; len < f.t->size; len++) {
		/* A fresh allocation of exactly len bytes, so ASan sees any overread. */
		void *p = xmalloc(len);
		memcpy(p, f.t, len);
		accepted += lb_table_check(p, len, f.arena, f.n_arena) == 0;
		free(p);
	}
	CHECK_INT(accepted, 0);
	/* Misaligned blocks are refused before anything is read from them. */
	char *p = xmalloc(f.t->size + 1);
	memcpy(p + 1, f.t, f.t->size);
	CHECK_INT(lb_table_check(p + 1, f.t->size, f.arena, f.n_arena), -EINVAL);
	free(p);
	lb_compiler_free(f.c);
}

static void test_check_survives_random_damage(void)
{
	struct fixture f = make(60);
	struct lb_table *t = xmalloc(f.t->size);
	__u64 seed = 0x2545f4914f6cdd1dull;
	unsigned refused = 0, passed_and_found = 0;
	const unsigned rounds = 3000;

	for (unsigned r = 0; r < rounds; r++) {
		memcpy(t, f.t, f.t->size);
		for (int k = 0; k < 1 + (int)(r % 4); k++) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			((__u8 *)t)[seed % f.t->size] ^= (__u8)(1u << (seed >> 61));
		}
		if (lb_table_check(t, f.t->size, f.arena, f.n_arena) < 0) {
			refused++;
			continue;
		}
		/* Accepted: then every service is found where it is. */
		bool ok = true;
		for (__u32 i = 0; i < t->n_services; i++)
			ok &= lb_table_find(t, &lb_table_services(t)[i].key) ==
			      &lb_table_services(t)[i];
		passed_and_found += ok;
		CHECK(ok);
	}
	printf("# %u of %u damaged copies refused; the rest changed only what any value "
	       "may be (generation, ids, backend addresses and ports, timeouts, allowed "
	       "flags)\n", refused, rounds);
	CHECK(refused > rounds / 2);
	CHECK_INT(refused + passed_and_found, rounds);
	free(t);
	lb_compiler_free(f.c);
}


/* ---- generations built by patching the last one ----------------------------------------- */

#define N_SVC 48

/* Services and slices chosen at random from small pools, so VIPs (external
 * IPs, ingress IPs, NodePorts, two ports of one Service) and backends are
 * shared and fought over. */
struct world {
	json_t *svc[N_SVC];
	json_t *slice[N_SVC][2];
	__u64 seed;
};

static unsigned rnd(struct world *w, unsigned n)
{
	w->seed ^= w->seed << 13, w->seed ^= w->seed >> 7, w->seed ^= w->seed << 17;
	return (unsigned)((w->seed >> 11) % n);
}

static json_t *random_service(struct world *w, unsigned i)
{
	static const char *const types[] = {"ClusterIP", "NodePort", "LoadBalancer"};
	char ip[32];
	json_t *spec = json_object(), *ports = json_array(), *ext = json_array();

	snprintf(ip, sizeof(ip), "198.19.0.%u", i + 1);
	json_object_set_new(spec, "type", json_string(types[rnd(w, 3)]));
	json_object_set_new(spec, "clusterIP", json_string(rnd(w, 10) ? ip : "None"));
	for (unsigned k = rnd(w, 3); k > 0; k--) {
		snprintf(ip, sizeof(ip), "198.18.200.%u", rnd(w, 4) + 1);
		json_array_append_new(ext, json_string(ip));
	}
	json_object_set_new(spec, "externalIPs", ext);
	/* Two ports, in either order, sometimes on one number. */
	unsigned alt = rnd(w, 3) ? 81 : 80, first = rnd(w, 2);
	for (unsigned k = 0; k < 2; k++) {
		bool http = (k == 0) == (first == 0);
		if (!http && rnd(w, 2))
			continue;
		json_array_append_new(ports, json_pack("{s:s, s:i, s:i}", "name",
						       http ? "http" : "alt", "port",
						       http ? 80 : (int)alt, "nodePort",
						       30000 + (int)rnd(w, 3)));
	}
	json_object_set_new(spec, "ports", ports);
	if (rnd(w, 3) == 0)
		json_object_set_new(spec, "sessionAffinity", json_string("ClientIP"));
	if (rnd(w, 4) == 0)
		json_object_set_new(spec, "externalTrafficPolicy", json_string("Local"));
	if (rnd(w, 5) == 0)
		json_object_set_new(spec, "internalTrafficPolicy", json_string("Local"));
	snprintf(ip, sizeof(ip), "198.18.201.%u", rnd(w, 3) + 1);
	char name[16];
	snprintf(name, sizeof(name), "s%u", i);
	return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:{s:[{s:s}]}}}", "kind", "Service",
			 "metadata", "name", name, "namespace", "t", "spec", spec, "status",
			 "loadBalancer", "ingress", "ip", ip);
}

static json_t *random_slice(struct world *w, unsigned i, unsigned k)
{
	char name[16], svc[16], ip[32];
	json_t *eps = json_array();

	snprintf(name, sizeof(name), "s%u-%u", i, k);
	snprintf(svc, sizeof(svc), "s%u", i);
	for (unsigned e = rnd(w, 6); e > 0; e--) {
		snprintf(ip, sizeof(ip), "198.18.1.%u", rnd(w, 12) + 1);
		bool ready = rnd(w, 4) != 0;
		json_array_append_new(eps, json_pack("{s:[s], s:{s:b, s:b, s:b}, s:s}", "addresses",
						     ip, "conditions", "ready", ready, "serving", 1,
						     "terminating", !ready, "nodeName",
						     rnd(w, 2) ? "node-a" : "node-b"));
	}
	return json_pack("{s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:[{s:s, s:i}, {s:s, s:i}], s:o}",
			 "kind", "EndpointSlice", "metadata", "name", name, "namespace", "t",
			 "labels", "kubernetes.io/service-name", svc, "addressType", "IPv4",
			 "ports", "name", "http", "port", 8080, "name", "alt", "port", 8081,
			 "endpoints", eps);
}

static struct lb_compiler *world_compiler(void)
{
	struct lb_addr node;

	lb_addr_parse("198.18.255.1", &node);
	struct lb_compiler_config cfg = {.node_name = "node-a", .node_addrs = &node,
					 .n_node_addrs = 1};

	return lb_compiler_new(&cfg);
}

static void world_set(struct lb_compiler *c, json_t *o)
{
	char *err = NULL;
	bool svc = streq(json_string_value(json_object_get(o, "kind")), "Service");

	CHECK_INT(svc ? lb_compiler_set_service(c, o, &err) : lb_compiler_set_slice(c, o, &err), 0);
	if (err)
		printf("# %s\n", err);
	free(err);
}

/* One random change, to the world and to compiler c: to anything, or to
 * endpoints only (then the table keeps its shape, mostly). */
static void world_change(struct world *w, struct lb_compiler *c, bool endpoints_only)
{
	unsigned i = rnd(w, N_SVC), k = rnd(w, 2);
	char name[16];

	switch (endpoints_only ? 3 : rnd(w, 5)) {
	case 0: /* a Service goes */
		snprintf(name, sizeof(name), "s%u", i);
		json_decref(w->svc[i]);
		w->svc[i] = NULL;
		CHECK_INT(lb_compiler_delete_service(c, "t", name), 0);
		break;
	case 1: /* a slice goes */
		snprintf(name, sizeof(name), "s%u-%u", i, k);
		json_decref(w->slice[i][k]);
		w->slice[i][k] = NULL;
		CHECK_INT(lb_compiler_delete_slice(c, "t", name), 0);
		break;
	case 2:
		json_decref(w->svc[i]);
		w->svc[i] = random_service(w, i);
		world_set(c, w->svc[i]);
		break;
	default:
		json_decref(w->slice[i][k]);
		w->slice[i][k] = random_slice(w, i, k);
		world_set(c, w->slice[i][k]);
		break;
	}
}

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What t says, independent of how it was numbered and laid out: each VIP
 * (flags, timeout, name, and its ring slot by slot as backend addresses),
 * then each backend; one sorted line each. */
static char **table_lines(const struct lb_compiler *c, const struct lb_table *t, unsigned *ret_n)
{
	const struct lb_service *s = lb_table_services(t);
	const struct lb_backend *be = lb_table_backends(t);
	const __u32 *arena = lb_compiler_arena(c, NULL);
	char **lines = xnew(char *, t->n_services + t->n_backends);
	unsigned n = 0;
	char a[LB_ADDR_STRLEN];

	for (__u32 i = 0; i < t->n_services; i++) {
		uint64_t h = 14695981039346656037ull;
		for (__u32 k = 0; k < s[i].ring_size; k++) {
			const struct lb_backend *b = &be[arena[s[i].ring_off + k]];
			for (size_t j = 0; j < sizeof(b->addr) + sizeof(b->port); j++)
				h = (h ^ ((const __u8 *)b)[j]) * 1099511628211ull;
		}
		lines[n++] = xasprintf("vip %s:%u/%u flags %x timeout %u %s ring %u/%u %016" PRIx64,
				       lb_addr_format(&s[i].key.addr, a), ntohs(s[i].key.port),
				       s[i].key.proto, s[i].flags, s[i].affinity_timeout,
				       lb_compiler_service_name(c, s[i].id), s[i].ring_size,
				       s[i].n_backends, h);
	}
	for (__u32 i = 0; i < t->n_backends; i++) {
		if (!be[i].id)
			continue;
		lines[n++] = xasprintf("backend %s:%u/%u flags %x", lb_addr_format(&be[i].addr, a),
				       ntohs(be[i].port), be[i].proto, be[i].flags);
	}
	qsort(lines, n, sizeof(*lines), cmp_line);
	*ret_n = n;
	return lines;
}

static void lines_free(char **lines, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* t says what a fresh compiler says about the world. */
static bool same_as_fresh(const struct world *w, const struct lb_compiler *c,
			  const struct lb_table *t)
{
	struct lb_compiler *f = world_compiler();

	for (unsigned i = 0; i < N_SVC; i++) {
		if (w->svc[i])
			world_set(f, w->svc[i]);
		for (unsigned k = 0; k < 2; k++)
			if (w->slice[i][k])
				world_set(f, w->slice[i][k]);
	}
	const struct lb_table *ft = lb_compiler_build(f, NULL);
	unsigned n, fn;
	char **got = table_lines(c, t, &n), **want = table_lines(f, ft, &fn);
	bool same = n == fn;

	for (unsigned i = 0; same && i < n; i++)
		if (!streq(got[i], want[i])) {
			printf("#   got  %s\n#   want %s\n", got[i], want[i]);
			same = false;
		}
	if (n != fn)
		printf("#   %u lines, want %u\n", n, fn);
	lines_free(got, n);
	lines_free(want, fn);
	lb_compiler_free(f);
	return same;
}

/* An executor's copy of the arena, written only where the delta says. */
struct mirror {
	__u32 *slots;
	__u32 n;
};

static bool mirror_apply(struct mirror *m, const struct lb_compiler *c, const struct lb_table *t,
			 const struct lb_delta *d)
{
	__u32 n;
	const __u32 *arena = lb_compiler_arena(c, &n);
	const struct lb_service *s = lb_table_services(t);
	bool ok = true;

	if (n > m->n) {
		m->slots = xrealloc(m->slots, n * sizeof(*m->slots));
		memset(m->slots + m->n, 0xee, (n - m->n) * sizeof(*m->slots));
		m->n = n;
	}
	for (__u32 k = 0; k < d->n_rings_written; k++)
		for (__u32 i = 0; i < t->n_services; i++)
			if (s[i].ring_size && s[i].ring_off == d->rings_written[k]) {
				memcpy(m->slots + s[i].ring_off, arena + s[i].ring_off,
				       s[i].ring_size * sizeof(__u32));
				break;
			}
	for (__u32 i = 0; i < t->n_services; i++)
		ok &= !s[i].ring_size || !memcmp(m->slots + s[i].ring_off, arena + s[i].ring_off,
						 s[i].ring_size * sizeof(__u32));
	return ok;
}

/* A published table and a copy of it, until it is retired. */
struct kept {
	const struct lb_table *t;
	struct lb_table *copy;
};

static void test_patched_tables_match_a_fresh_compile(void)
{
	struct world w = {.seed = 0x9e3779b97f4a7c15ull};
	struct lb_compiler *c = world_compiler();
	struct mirror m = {0};
	struct kept kept[64];
	unsigned n_kept = 0, built = 0, mismatched = 0, bad_delta = 0, touched = 0;
	const struct lb_table *last = NULL;

	for (unsigned step = 0; step < 600; step++) {
		/* Mostly one change a build, now and then a batch; in the second
		 * half, endpoints alone change, as in a rollout. */
		for (unsigned k = rnd(&w, 8) ? 1 : 1 + rnd(&w, 12); k > 0; k--)
			world_change(&w, c, step >= 300);
		struct lb_delta d;
		const struct lb_table *t = lbt_build(c, &d);
		if (t) {
			built++;
			last = t;
			bad_delta += !mirror_apply(&m, c, t, &d);
			kept[n_kept].t = t;
			kept[n_kept].copy = xmalloc(t->size);
			memcpy(kept[n_kept++].copy, t, t->size);
		}
		if (last)
			mismatched += !same_as_fresh(&w, c, last);
		/* Executors lag behind by up to three generations, or catch up
		 * when the copies run out. */
		if (last && (rnd(&w, 3) == 0 || n_kept == ARRAY_SIZE(kept))) {
			__u64 g = last->generation - MIN(last->generation - 1, rnd(&w, 4));
			if (n_kept == ARRAY_SIZE(kept))
				g = last->generation;
			lb_compiler_retire(c, g);
			unsigned keep = 0;
			for (unsigned i = 0; i < n_kept; i++) {
				if (kept[i].copy->generation >= g || kept[i].t == last)
					kept[keep++] = kept[i];
				else
					free(kept[i].copy);
			}
			n_kept = keep;
		}
		/* What is not retired stays exactly as it was published. */
		for (unsigned i = 0; i < n_kept; i++)
			touched += memcmp(kept[i].t, kept[i].copy, kept[i].copy->size) != 0;
	}
	printf("# %u generations over 600 steps\n", built);
	CHECK(built > 300);
	CHECK_INT(mismatched, 0);
	CHECK_INT(bad_delta, 0);
	CHECK_INT(touched, 0);
	for (unsigned i = 0; i < n_kept; i++)
		free(kept[i].copy);
	for (unsigned i = 0; i < N_SVC; i++) {
		json_decref(w.svc[i]);
		json_decref(w.slice[i][0]);
		json_decref(w.slice[i][1]);
	}
	free(m.slots);
	lb_compiler_free(c);
}

int main(void)
{
	RUN(test_find_returns_each_vip_and_nothing_else);
	RUN(test_check_accepts_what_the_compiler_builds);
	RUN(test_check_refuses_damaged_tables);
	RUN(test_check_refuses_every_truncation);
	RUN(test_check_survives_random_damage);
	RUN(test_patched_tables_match_a_fresh_compile);
	return tap_done();
}
