/* The table block: lookups find every VIP and nothing else; the validator
 * the kernel module runs accepts what the compiler builds and refuses
 * damaged blocks without reading outside them. */
#include <arpa/inet.h>
#include <stdio.h>

#include "base/base.h"
#include "dataplane/lbtable/lbtable.h"

#include "tap.h"

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

int main(void)
{
	RUN(test_find_returns_each_vip_and_nothing_else);
	RUN(test_check_accepts_what_the_compiler_builds);
	RUN(test_check_refuses_damaged_tables);
	RUN(test_check_refuses_every_truncation);
	RUN(test_check_survives_random_damage);
	return tap_done();
}
