/* The compiled load-balancing table: one flat, versioned layout that every
 * executor reads (DPDK in place, the BPF maps as a mirror, the kernel module
 * through one validated copy).
 *
 * A generation is one immutable block:
 *
 *   struct lb_table | struct lb_service[n_services] | struct lb_backend[n_backends]
 *                   | __u32 index[n_index]
 *
 * plus the ring arena it points into: one array of __u32 backend indices
 * shared by every generation. A service's Maglev ring is the arena range
 * [ring_off, ring_off + ring_size). A changed service gets a new range, so a
 * new generation never writes what an older one still reads; ranges are
 * reused only after every executor has moved past the generation that
 * dropped them. The BPF executor's ring map is the arena, index for index.
 *
 * This header is included by user space, by the BPF programs (after
 * vmlinux.h) and by the kernel module: fixed-width __u types only, no libc. */
#pragma once

#ifndef __bpf__
#include <linux/types.h>
#endif

#define LB_TABLE_MAGIC 0x6b6c7062u /* "kelpb" without the e */
#define LB_TABLE_VERSION 1u

/* Default and largest Maglev ring size (prime). A service's ring is the
 * smallest prime of lb_ring_sizes above 100 × its backends, capped here. */
#define LB_RING_MAX 65537u

enum lb_proto {
	LB_PROTO_TCP = 6,
	LB_PROTO_UDP = 17,
	LB_PROTO_SCTP = 132,
};

/* An address: IPv6, or IPv4 as ::ffff:a.b.c.d. Network byte order. */
struct lb_addr {
	__be32 a[4];
};

/* What a packet is matched on: destination address, port and protocol. */
struct lb_vip_key {
	struct lb_addr addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};

enum lb_service_flags {
	LB_SVC_AFFINITY = 1u << 0,  /* sessionAffinity: ClientIP */
	LB_SVC_NODEPORT = 1u << 1,  /* the VIP is a node address with a NodePort */
	LB_SVC_EXTERNAL = 1u << 2,  /* an externalIP or a LoadBalancer ingress IP */
	LB_SVC_LOCAL = 1u << 3,     /* the ring holds node-local endpoints only */
	LB_SVC_FULLNAT = 1u << 4,   /* packet executors: SNAT to the node as well */
	LB_SVC_DSR = 1u << 5,       /* packet executors: IPIP-encapsulate, no NAT */
};

/* One VIP:port/proto. A Service with a ClusterIP, two externalIPs and a
 * NodePort on one node address is four of these per port. */
struct lb_service {
	struct lb_vip_key key;
	__u32 id;               /* stable for the service port's life: counters' index */
	__u32 flags;            /* enum lb_service_flags */
	__u32 ring_off;         /* arena offset of the ring */
	__u32 ring_size;        /* M, a prime; 0 when there is no ready endpoint */
	__u32 n_backends;       /* distinct backends in the ring */
	__u32 affinity_timeout; /* seconds (sessionAffinityConfig.clientIP.timeoutSeconds) */
};

enum lb_backend_flags {
	LB_BE_LOCAL = 1u << 0,       /* on this node */
	LB_BE_TERMINATING = 1u << 1, /* serving but terminating: only when none is ready */
};

/* One endpoint address and target port. Indexes into the backend array are
 * reused; ids never are, so a connection-tracking entry holding (index, id)
 * can tell that its backend is gone. */
struct lb_backend {
	struct lb_addr addr;
	__be16 port;
	__u8 proto;
	__u8 flags; /* enum lb_backend_flags */
	__u32 id;   /* never 0 */
};

struct lb_table {
	__u32 magic;   /* LB_TABLE_MAGIC */
	__u32 version; /* LB_TABLE_VERSION */
	__u64 generation;
	__u32 size;        /* bytes of this block */
	__u32 n_services;
	__u32 n_backends;  /* highest index in use + 1 (unused slots have id 0) */
	__u32 n_index;     /* a power of two, at least 2 × n_services */
	__u32 off_services, off_backends, off_index; /* byte offsets in the block */
	__u32 arena_size;  /* slots in the ring arena this generation reads */
};

/* The VIP index: open addressing with linear probing over
 * lb_vip_hash(key) & (n_index - 1); a slot holds service index + 1, 0 is
 * empty. */
static inline __u32 lb_vip_hash(const struct lb_vip_key *k)
{
	/* FNV-1a over the 20 key bytes: cheap, and the same in every executor. */
	const __u8 *p = (const __u8 *)k;
	__u32 h = 2166136261u;
	for (int i = 0; i < (int)sizeof(*k); i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

static inline const struct lb_service *lb_table_services(const struct lb_table *t)
{
	return (const struct lb_service *)((const __u8 *)t + t->off_services);
}

static inline const struct lb_backend *lb_table_backends(const struct lb_table *t)
{
	return (const struct lb_backend *)((const __u8 *)t + t->off_backends);
}

static inline const __u32 *lb_table_index(const struct lb_table *t)
{
	return (const __u32 *)((const __u8 *)t + t->off_index);
}

#ifndef __bpf__
#ifndef __KERNEL__
/* ---- user space ------------------------------------------------------------------ */
#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* Addresses: IPv4 text becomes ::ffff:a.b.c.d, IPv6 text stays as it is. */
#define LB_ADDR_STRLEN 46 /* INET6_ADDRSTRLEN */
int lb_addr_parse(const char *s, struct lb_addr *ret);
/* The text form into buf ("198.19.0.1", "fd00::1"); buf. */
const char *lb_addr_format(const struct lb_addr *a, char buf[LB_ADDR_STRLEN]);
static inline bool lb_addr_is_zero(const struct lb_addr *a)
{
	return !(a->a[0] | a->a[1] | a->a[2] | a->a[3]);
}
static inline bool lb_addr_is_v4(const struct lb_addr *a)
{
	const __u8 *b = (const __u8 *)a->a;
	for (int i = 0; i < 10; i++)
		if (b[i])
			return false;
	return b[10] == 0xff && b[11] == 0xff;
}

/* The prime ring sizes in use, ascending, ending with LB_RING_MAX. */
extern const __u32 lb_ring_sizes[];
extern const unsigned lb_n_ring_sizes;
/* The ring size for n backends: the smallest of lb_ring_sizes above 100 × n,
 * capped at the largest one not above max_m (0: LB_RING_MAX). 0 when n is 0
 * or when even the cap is not above n. */
__u32 lb_ring_size_for(unsigned n, __u32 max_m);

/* The service for key, or NULL. */
const struct lb_service *lb_table_find(const struct lb_table *t, const struct lb_vip_key *key);

/* 0 when block is a well-formed table whose rings lie inside an arena of
 * arena_slots (offsets, sizes, counts, backend indices in every ring);
 * -EINVAL otherwise. What the kernel module runs on each write. */
int lb_table_check(const void *block, size_t len, const __u32 *arena, __u32 arena_slots);

/* Maglev (NSDI 2016) over backends given by their identity bytes: sorts
 * in[] by identity (in place), then fills ring[0..m) with their values, so
 * the ring depends on the set only, never on the order given. Each backend
 * of weight w (0 counts as 1) takes w turns per round, interleaved, so its
 * share of m is proportional to w within about a slot; with equal weights
 * each gets floor(m/n) or ceil(m/n) slots. m must be a prime above n;
 * identities must be distinct. Returns 0 or -EINVAL. */
struct lb_maglev_input {
	const void *id; /* identity bytes (for a backend: address, port, protocol) */
	size_t id_len;
	__u32 weight;
	__u32 value;    /* what goes into the ring for it (a backend index) */
};
int lb_maglev_build(struct lb_maglev_input *in, unsigned n, __u32 m, __u32 *ring);

/* ---- the compiler ---------------------------------------------------------------- */

struct lb_compiler_config {
	const char *node_name;            /* endpoints with this nodeName are local */
	const struct lb_addr *node_addrs; /* NodePort VIPs; may be empty */
	unsigned n_node_addrs;
	__u32 max_ring;                   /* 0: LB_RING_MAX */
	bool fullnat;                     /* packet executors: SNAT as well as DNAT */
	bool dsr;                         /* packet executors: IPIP DSR instead of NAT */
};

struct lb_compiler;

/* What one build changed, for executors that apply differences (BPF maps).
 * The array belongs to the compiler and lasts until the next build. */
struct lb_delta {
	__u32 *rings_written; /* arena offsets of rings written by this build, */
	__u32 n_rings_written; /* each of the size of the service that points at it */
};

struct lb_compiler *lb_compiler_new(const struct lb_compiler_config *cfg);
struct lb_compiler *lb_compiler_free(struct lb_compiler *c);

/* Services (core/v1) and EndpointSlices (discovery.k8s.io/v1) as the API
 * serves them, keyed by namespace/name. set replaces; delete of an unknown
 * key is 0. Objects that cannot be load-balanced (headless, ExternalName, no
 * ports) are kept but compile to nothing. -EINVAL with *ret_err (owned by
 * the caller) when obj is not a usable object at all. */
int lb_compiler_set_service(struct lb_compiler *c, const json_t *svc, char **ret_err);
int lb_compiler_delete_service(struct lb_compiler *c, const char *ns, const char *name);
int lb_compiler_set_slice(struct lb_compiler *c, const json_t *slice, char **ret_err);
int lb_compiler_delete_slice(struct lb_compiler *c, const char *ns, const char *name);

/* Take over the table a previous process left in an executor (read back
 * from its maps after a restart), before the first build: be[0..n_be) is
 * its backend array (id 0: an empty slot), svcs[0..n_svcs) its services.
 * A backend whose identity the first build acquires again gets its old
 * index and id (new ids come from above every id in be), and a VIP gets
 * its old service-port id. The arena ranges the old services read are not
 * written by the first build; what it does not take again (backends, ids,
 * ranges) it drops like anything it drops, so they are reused only once it
 * is retired. Call it before any build, with every object of the first
 * build set before that build. -EBUSY after a build or a second call, -EINVAL (and nothing
 * taken) for what kelp cannot have written. */
int lb_compiler_adopt(struct lb_compiler *c, const struct lb_backend *be, __u32 n_be,
		      const struct lb_service *svcs, __u32 n_svcs);
/* Optional, after lb_compiler_adopt() and before the first build: what the
 * executor's ring array holds, slots[0..n_slots). A ring of the first build
 * that comes out exactly as the one its VIP read then stays in place and is
 * not written (not in the delta). -EBUSY when out of that order. */
int lb_compiler_adopt_rings(struct lb_compiler *c, const __u32 *slots, __u32 n_slots);

/* Compile what changed since the last build into a new generation (the
 * first build is generation 1, each next one + 1). Only services whose
 * Service or EndpointSlices changed are recompiled, and only a ring whose
 * set of backends changed is written anew. The table and the arena buffer
 * it was built with stay valid until lb_compiler_retire() passes its
 * generation. NULL when the table would be the same as the last one. */
const struct lb_table *lb_compiler_build(struct lb_compiler *c, struct lb_delta *ret_delta);
/* Every executor now reads generation g or later: free what older ones held
 * (tables, arena ranges and buffers), and let service-port ids and backend
 * indexes dropped by generations up to g be handed out again. */
void lb_compiler_retire(struct lb_compiler *c, __u64 g);
/* The ring arena: *ret_size slots. The pointer changes when the arena grows. */
const __u32 *lb_compiler_arena(const struct lb_compiler *c, __u32 *ret_size);

/* The Service a service port came from, for counters and logs:
 * "ns/name:portname", or "ns/name:80" for an unnamed port; NULL for an id
 * never handed out. Valid until the next build. */
const char *lb_compiler_service_name(const struct lb_compiler *c, __u32 id);

#endif /* !__KERNEL__ */
#endif /* !__bpf__ */
