/* The table block: lookup, the VIP index, addresses, and the validator the
 * kernel module runs on every table user space hands it. */
#include <arpa/inet.h>

#include "dataplane/lbtable/internal.h"

int lb_addr_parse(const char *s, struct lb_addr *ret)
{
	struct lb_addr a = {0};

	if (!s)
		return -EINVAL;
	if (strchr(s, ':')) {
		if (inet_pton(AF_INET6, s, a.a) != 1)
			return -EINVAL;
	} else {
		if (inet_pton(AF_INET, s, &a.a[3]) != 1)
			return -EINVAL;
		a.a[2] = htonl(0xffff);
	}
	*ret = a;
	return 0;
}

const char *lb_addr_format(const struct lb_addr *a, char buf[LB_ADDR_STRLEN])
{
	if (lb_addr_is_v4(a))
		return inet_ntop(AF_INET, &a->a[3], buf, LB_ADDR_STRLEN);
	return inet_ntop(AF_INET6, a->a, buf, LB_ADDR_STRLEN);
}

__u32 lb_index_size(__u32 n_services)
{
	uint64_t n = 16;

	while (n < 2ull * n_services)
		n *= 2;
	return (__u32)n;
}

__u32 *lb_index_slot(__u32 *index, __u32 n_index, const struct lb_service *svcs,
		     const struct lb_vip_key *k, __u32 h)
{
	__u32 mask = n_index - 1;

	for (;; h++) {
		__u32 *slot = &index[h & mask];
		if (!*slot || memcmp(&svcs[*slot - 1].key, k, sizeof(*k)) == 0)
			return slot;
	}
}

const struct lb_service *lb_table_find(const struct lb_table *t, const struct lb_vip_key *key)
{
	if (!t || !key || !t->n_index)
		return NULL;
	const struct lb_service *svcs = lb_table_services(t);
	const __u32 *index = lb_table_index(t);
	__u32 mask = t->n_index - 1, h = lb_vip_hash(key);

	/* Bounded even if the index had no empty slot. */
	for (__u32 i = 0; i < t->n_index; i++, h++) {
		__u32 v = index[h & mask];
		if (!v)
			return NULL;
		if (v <= t->n_services && memcmp(&svcs[v - 1].key, key, sizeof(*key)) == 0)
			return &svcs[v - 1];
	}
	return NULL;
}

/* ---- the validator ---------------------------------------------------------------------- */

struct region {
	uint64_t off, len;
	unsigned align;
};

static bool regions_ok(const struct lb_table *t)
{
	const struct region r[] = {
		{t->off_services, (uint64_t)t->n_services * sizeof(struct lb_service),
		 _Alignof(struct lb_service)},
		{t->off_backends, (uint64_t)t->n_backends * sizeof(struct lb_backend),
		 _Alignof(struct lb_backend)},
		{t->off_index, (uint64_t)t->n_index * sizeof(__u32), _Alignof(__u32)},
	};

	for (unsigned i = 0; i < ARRAY_SIZE(r); i++) {
		if (r[i].off < sizeof(*t) || r[i].off % r[i].align || r[i].off + r[i].len > t->size)
			return false;
		for (unsigned j = 0; j < i; j++)
			if (r[i].off < r[j].off + r[j].len && r[j].off < r[i].off + r[i].len)
				return false;
	}
	return true;
}

static bool proto_ok(__u8 p)
{
	return p == LB_PROTO_TCP || p == LB_PROTO_UDP || p == LB_PROTO_SCTP;
}

static bool backends_ok(const struct lb_table *t)
{
	const struct lb_backend *be = lb_table_backends(t), zero = {0};

	for (__u32 i = 0; i < t->n_backends; i++) {
		if (!be[i].id) {
			if (memcmp(&be[i], &zero, sizeof(zero)) != 0)
				return false;
		} else if (!proto_ok(be[i].proto) ||
			   (be[i].flags & ~(LB_BE_LOCAL | LB_BE_TERMINATING)))
			return false;
	}
	return true;
}

struct ring_ref {
	__u32 off, size, n_backends;
};

static int cmp_ring_ref(const void *pa, const void *pb)
{
	const struct ring_ref *a = pa, *b = pb;

	if (a->off != b->off)
		return a->off < b->off ? -1 : 1;
	return (a->size > b->size) - (a->size < b->size);
}

/* Every ring entry names a live backend, and the ring holds n_backends
 * distinct ones. seen[] is stamped with stamp per backend counted. */
static bool ring_ok(const struct lb_table *t, const __u32 *ring, const struct ring_ref *r,
		    __u32 *seen, __u32 stamp)
{
	const struct lb_backend *be = lb_table_backends(t);
	__u32 distinct = 0;

	for (__u32 i = 0; i < r->size; i++) {
		__u32 b = ring[i];
		if (b >= t->n_backends || !be[b].id)
			return false;
		if (seen[b] != stamp) {
			seen[b] = stamp;
			distinct++;
		}
	}
	return distinct == r->n_backends;
}

/* Services' keys, flags and rings. Rings shared by several services are
 * checked once: two services' ranges are the same range or do not meet, so
 * the work is bounded by the arena, not by services × ring size. */
static bool services_ok(const struct lb_table *t, const __u32 *arena)
{
	const struct lb_service *s = lb_table_services(t);
	const __u32 known = LB_SVC_AFFINITY | LB_SVC_NODEPORT | LB_SVC_EXTERNAL | LB_SVC_LOCAL |
			    LB_SVC_FULLNAT | LB_SVC_DSR;
	_cleanup_free_ struct ring_ref *refs = xnew(struct ring_ref, t->n_services);
	_cleanup_free_ __u32 *seen = xnew(__u32, t->n_backends);
	__u32 n_refs = 0;

	for (__u32 i = 0; i < t->n_services; i++) {
		if (s[i].key.pad || !proto_ok(s[i].key.proto) || (s[i].flags & ~known))
			return false;
		if (!s[i].ring_size) {
			if (s[i].ring_off || s[i].n_backends)
				return false;
			continue;
		}
		if (lb_ring_class(s[i].ring_size) < 0 || !s[i].n_backends ||
		    s[i].n_backends >= s[i].ring_size || s[i].n_backends > t->n_backends ||
		    (uint64_t)s[i].ring_off + s[i].ring_size > t->arena_size)
			return false;
		refs[n_refs++] = (struct ring_ref){s[i].ring_off, s[i].ring_size, s[i].n_backends};
	}
	qsort(refs, n_refs, sizeof(*refs), cmp_ring_ref);
	for (__u32 i = 0; i < n_refs; i++) {
		if (i && refs[i].off == refs[i - 1].off && refs[i].size == refs[i - 1].size) {
			if (refs[i].n_backends != refs[i - 1].n_backends)
				return false;
			continue;
		}
		if (i && refs[i].off < (uint64_t)refs[i - 1].off + refs[i - 1].size)
			return false;
		if (!ring_ok(t, arena + refs[i].off, &refs[i], seen, i + 1))
			return false;
	}
	return true;
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct lb_vip_key));
}

/* Each service is in the index once, where a linear probe from its key's
 * hash reaches it, and keys are distinct: then lb_table_find() finds every
 * service. O(n log n), however the slots were arranged. */
static bool index_ok(const struct lb_table *t)
{
	const struct lb_service *s = lb_table_services(t);
	const __u32 *index = lb_table_index(t);
	__u32 mask = t->n_index - 1, used = 0, zero = 0;
	_cleanup_free_ uint8_t *seen = xcalloc(t->n_services, 1);
	_cleanup_free_ struct lb_vip_key *keys = xnew(struct lb_vip_key, t->n_services);

	for (__u32 i = 0; i < t->n_index; i++) {
		if (index[i] > t->n_services)
			return false;
		if (index[i])
			used++;
		else
			zero = i;
	}
	if (used != t->n_services)
		return false;
	/* Walk once round from an empty slot: an entry may sit no further from
	 * its home slot than the start of the run of full slots it is in. */
	uint64_t run = zero + 1;
	for (uint64_t p = zero + 1; p <= (uint64_t)zero + t->n_index; p++) {
		__u32 v = index[p & mask];
		if (!v) {
			run = p + 1;
			continue;
		}
		if (seen[v - 1]++)
			return false;
		__u32 home = lb_vip_hash(&s[v - 1].key) & mask;
		if (((p - home) & mask) > p - run)
			return false;
	}
	for (__u32 i = 0; i < t->n_services; i++)
		keys[i] = s[i].key;
	qsort(keys, t->n_services, sizeof(*keys), cmp_key);
	for (__u32 i = 1; i < t->n_services; i++)
		if (!cmp_key(&keys[i - 1], &keys[i]))
			return false;
	return true;
}

int lb_table_check(const void *block, size_t len, const __u32 *arena, __u32 arena_slots)
{
	const struct lb_table *t = block;

	if (!block || len < sizeof(*t) || (uintptr_t)block % _Alignof(struct lb_table))
		return -EINVAL;
	if (t->magic != LB_TABLE_MAGIC || t->version != LB_TABLE_VERSION || t->size != len)
		return -EINVAL;
	if (t->arena_size > arena_slots || (t->arena_size && !arena))
		return -EINVAL;
	if (!t->n_index || (t->n_index & (t->n_index - 1)) ||
	    t->n_index < 2ull * t->n_services)
		return -EINVAL;
	if (!regions_ok(t) || !backends_ok(t) || !services_ok(t, arena) || !index_ok(t))
		return -EINVAL;
	return 0;
}
