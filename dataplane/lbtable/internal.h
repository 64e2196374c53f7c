/* dataplane/lbtable internals: the pieces the compiler is made of. Nothing
 * here is seen outside this directory. */
#pragma once

#include "base/base.h"
#include "dataplane/lbtable/lbtable.h"

/* ---- hashing (hash.c) ------------------------------------------------------------------ */

/* A 64-bit hash of bytes, the same on every architecture (little-endian
 * loads by hand): Maglev's permutations depend on it, so every node must
 * compute the same values. */
uint64_t lb_hash64(const void *p, size_t n, uint64_t seed);

/* A map from byte-string keys (copied in) to pointers: open addressing,
 * linear probing, deletion by backward shift. Values belong to the caller. */
struct lb_hmap_entry {
	uint64_t hash;
	char *key; /* NULL: empty */
	size_t klen;
	void *val;
};

struct lb_hmap {
	struct lb_hmap_entry *e;
	size_t cap, n; /* cap: 0 or a power of two */
};

void *lb_hmap_get(const struct lb_hmap *m, const void *key, size_t klen);
/* Insert or replace; the previous value, or NULL. */
void *lb_hmap_put(struct lb_hmap *m, const void *key, size_t klen, void *val);
/* Remove; the value it had, or NULL. */
void *lb_hmap_del(struct lb_hmap *m, const void *key, size_t klen);
void lb_hmap_clear(struct lb_hmap *m);
#define lb_hmap_foreach(m, it) \
	for (struct lb_hmap_entry *it = (m)->e; it && it < (m)->e + (m)->cap; it++) \
		if (it->key)

static inline void *lb_hmap_get_str(const struct lb_hmap *m, const char *s)
{
	return lb_hmap_get(m, s, strlen(s));
}

/* ---- ids and indexes that are reused late (pool.c) ------------------------------------- */

/* Numbers handed out lowest first; a released one becomes free again only
 * when lb_idpool_retire() passes the generation that released it, so no
 * executor still reading an older generation sees it mean something else. */
struct lb_idpool {
	__u32 hwm;        /* every number below is or was in use */
	__u32 *heap;      /* free numbers below hwm: a min-heap */
	__u32 n_heap, cap_heap;
	struct lb_pending_id {
		__u64 gen;
		__u32 id;
	} *pend;
	__u32 n_pend, cap_pend;
};

__u32 lb_idpool_alloc(struct lb_idpool *p);
void lb_idpool_release(struct lb_idpool *p, __u32 id, __u64 gen);
void lb_idpool_retire(struct lb_idpool *p, __u64 g);
void lb_idpool_clear(struct lb_idpool *p);
/* An empty pool takes over numbers handed out before: used[0..n) (sorted,
 * distinct, each below hwm) stay in use, and the others below hwm become
 * free once generation gen is retired. */
void lb_idpool_adopt(struct lb_idpool *p, const __u32 *used, __u32 n, __u32 hwm, __u64 gen);

/* ---- the ring arena (arena.c) ---------------------------------------------------------- */

/* Index of a ring size in lb_ring_sizes, or -1 when it is not one. */
int lb_ring_class(__u32 m);
/* The largest ring size lb_ring_size_for() gives under max_m. */
__u32 lb_ring_cap(__u32 max_m);

struct lb_arena_range {
	__u64 gen;
	__u32 off, size;
};

struct lb_arena {
	__u32 *slots;
	__u32 size, cap;   /* slots handed out (the bump end), slots allocated */
	const __u32 *published; /* the buffer the newest generation reads */
	struct lb_free_list {
		__u32 *off;
		__u32 n, cap;
	} *free;           /* one per ring size class */
	struct lb_arena_range *pend; /* dropped, waiting for retire */
	__u32 n_pend, cap_pend;
	struct lb_arena_old {
		__u64 gen;
		__u32 *buf;
	} *old;            /* buffers older generations still read */
	__u32 n_old, cap_old;
};

void lb_arena_init(struct lb_arena *a);
/* A range of m slots (m one of lb_ring_sizes) for generation gen. */
__u32 lb_arena_alloc(struct lb_arena *a, __u32 m, __u64 gen);
/* Generation gen no longer reads [off, off+m). */
void lb_arena_drop(struct lb_arena *a, __u32 off, __u32 m, __u64 gen);
/* Generation gen is published: remember which buffer it reads. */
void lb_arena_publish(struct lb_arena *a);
void lb_arena_retire(struct lb_arena *a, __u64 g);
void lb_arena_clear(struct lb_arena *a);
/* An empty arena starts with [0, end) handed out (a previous process's rings). */
void lb_arena_adopt(struct lb_arena *a, __u32 end);
/* Generation gen no longer reads [off, off + n), n of any size: dropped as
 * the largest ring sizes that fit, the rest (under 251 slots) never reused. */
void lb_arena_drop_span(struct lb_arena *a, __u32 off, __u32 n, __u64 gen);

/* ---- addresses ------------------------------------------------------------------------- */

enum { LB_FAM_V4, LB_FAM_V6, LB_N_FAM };

static inline int lb_addr_family(const struct lb_addr *a)
{
	return lb_addr_is_v4(a) ? LB_FAM_V4 : LB_FAM_V6;
}

/* ---- objects as the compiler keeps them (parse.c) -------------------------------------- */

/* An entry of a Service's spec.ports, or of an EndpointSlice's ports. */
struct lb_port_spec {
	char *name;  /* "" when unnamed */
	__u8 proto;
	__u16 port;
	__u16 node_port; /* 0: none (always, in a slice) */
};

struct lb_svc_spec {
	bool skip;                   /* headless, ExternalName, no ClusterIP: nothing to compile */
	struct lb_addr cluster[LB_N_FAM]; /* ClusterIPs, one per family at most */
	bool has_cluster[LB_N_FAM];
	struct lb_addr *external;    /* externalIPs, then LoadBalancer ingress IPs */
	unsigned n_external;
	bool node_ports;             /* type NodePort or LoadBalancer */
	bool etp_local, itp_local;
	bool affinity;
	__u32 affinity_timeout;
	struct lb_port_spec *ports;
	unsigned n_ports;
};

enum lb_ep_state {
	LB_EP_READY,
	LB_EP_TERMINATING, /* serving and terminating: the fallback when none is ready */
};

struct lb_slice_ep {
	struct lb_addr addr;
	__u8 state;  /* enum lb_ep_state */
	bool local;
};

struct lb_slice_spec {
	char *service;  /* "ns/name" from kubernetes.io/service-name, or NULL */
	int family;     /* LB_FAM_*, or -1 (FQDN): nothing to compile */
	struct lb_port_spec *ports; /* those with a port number only */
	unsigned n_ports;
	struct lb_slice_ep *eps;   /* usable endpoints only */
	unsigned n_eps;
};

/* Parse a Service / EndpointSlice. On success *ret_key is "ns/name" and
 * *ret the parsed form; on -EINVAL *ret_err says why. */
int lb_parse_service(const json_t *o, char **ret_key, struct lb_svc_spec **ret, char **ret_err);
int lb_parse_slice(const json_t *o, const char *node_name, char **ret_key,
		   struct lb_slice_spec **ret, char **ret_err);
struct lb_svc_spec *lb_svc_spec_free(struct lb_svc_spec *s);
struct lb_slice_spec *lb_slice_spec_free(struct lb_slice_spec *s);

/* ---- the block (table.c) --------------------------------------------------------------- */

/* n_index for n services: a power of two, at least 2 × n and at least 16. */
__u32 lb_index_size(__u32 n_services);
/* The slot of index[0..n_index) that holds key k of hash h (lb_vip_hash),
 * its value the service index + 1, or else the empty slot where k goes
 * (value 0). The index must have an empty slot. */
__u32 *lb_index_slot(__u32 *index, __u32 n_index, const struct lb_service *svcs,
		     const struct lb_vip_key *k, __u32 h);

/* ---- the compiler's state (compile.c, backends.c, build.c) ------------------------------ */

/* A backend's identity bytes: what Maglev hashes and what dedups backends. */
#define LB_BE_IDENT_LEN 19
struct lb_be_ident {
	__u8 b[LB_BE_IDENT_LEN]; /* address, port (network order), protocol */
};

/* One ring's hold on a backend. */
struct lb_be_ref {
	__u32 idx;
	__u8 state; /* enum lb_ep_state */
	bool local;
};

/* A ring: the arena range and the backends it holds (sorted by index). */
struct lb_ring {
	__u32 off, size; /* size 0: no ring (no usable endpoint) */
	struct lb_be_ref *refs;
	__u32 n;
	bool shown;      /* a published table has pointed at it since: executors hold it */
	__u64 written;   /* the build that wrote the range (its delta names it) */
};

enum { LB_SCOPE_CLUSTER, LB_SCOPE_LOCAL, LB_N_SCOPE };

#define LB_NO_ID UINT32_MAX

/* One entry of a Service's spec.ports, compiled. */
struct lb_svc_port {
	char *name;
	__u8 proto;
	__u32 id;                               /* LB_NO_ID while it has no VIP */
	struct lb_ring rings[LB_N_FAM][LB_N_SCOPE];
	struct lb_service *vips;
	__u32 *hashes;                          /* lb_vip_hash() of each VIP's key */
	unsigned n_vips;
};

struct lb_slice;

/* One Service key: the Service (if any), the slices naming it, and what
 * they compiled to. */
struct lb_svc {
	char *key;                 /* "ns/name" */
	struct lb_svc_spec *spec;  /* NULL when only slices name it */
	struct lb_slice **slices;
	unsigned n_slices, cap_slices;
	struct lb_svc_port *ports;
	unsigned n_ports;
	bool dirty;
	struct lb_svc *next_dirty;
};

struct lb_slice {
	struct lb_slice_spec *spec;
	struct lb_svc *svc; /* the Service it names, or NULL */
};

struct lb_backend_meta {
	__u32 refs, terminating, local; /* rings holding it, and how */
};

struct lb_block {
	__u64 gen;
	struct lb_table *t;
	size_t cap; /* bytes allocated */
};

/* ---- what changed in the table's entries (build.c) ------------------------------------- */

enum lb_patch_kind { LB_PATCH_SERVICE, LB_PATCH_BACKEND, LB_PATCH_INDEX };

/* The entries of the next table written since generation `since`: a
 * retired block of the same shape is brought up to date by copying those
 * alone, not the megabytes of the whole table. */
struct lb_patch_log {
	__u64 gen;   /* the generation being built, which notes are for */
	__u64 since; /* every write after this generation is noted */
	struct lb_patch {
		__u64 gen;
		__u32 kind; /* enum lb_patch_kind */
		__u32 i;    /* service position, backend index or index slot */
	} *e;
	__u32 n, cap, limit; /* past limit notes, copying everything is cheaper */
};

void lb_patch_append(struct lb_patch_log *l, enum lb_patch_kind kind, __u32 i);
/* Anything may change in generation l->gen: no block before it is patched. */
void lb_patch_reset(struct lb_patch_log *l);

static inline void lb_patch_note(struct lb_patch_log *l, enum lb_patch_kind kind, __u32 i)
{
	/* Reset in this build (a first build, say): no block that could be
	 * patched needs the note. */
	if (l->since != l->gen)
		lb_patch_append(l, kind, i);
}

/* ---- the next table's services and VIP index (vips.c) ---------------------------------- */

/* Which service port's entry a position of the service array holds. */
struct lb_vip_owner {
	struct lb_svc *svc; /* NULL while its owner is being recompiled */
	__u32 port;         /* index in svc->ports */
	__u32 claims;       /* service ports naming this VIP: more than one is a conflict */
	__u32 vacated;      /* during a build: 1 + its entry in lb_vips.vac; else 0 */
};

/* A position whose owner is being recompiled. */
struct lb_vip_vacated {
	__u32 pos;
	__u32 residual;             /* claims of services not being recompiled */
	const struct lb_svc *prev;  /* the owner before */
	bool reclaimed;             /* prev names the VIP again */
};

/* The service array and VIP index the next table is copied from, kept
 * between builds: a build patches the positions its Services own instead
 * of laying out every Service again. */
struct lb_vips {
	struct lb_service *svc;  /* positions 0..n */
	struct lb_vip_owner *own;
	__u32 n, cap;
	__u32 *index;            /* over svc[], as in the table */
	__u32 n_index;
	struct lb_vip_vacated *vac;
	__u32 n_vac, cap_vac;
	__u32 *set;              /* positions whose entry the current build changed */
	__u32 n_set, cap_set;
};

/* Every VIP of every compiled Service laid out afresh. */
void lb_vips_rebuild(struct lb_compiler *c);
/* Before the Services of c->dirty are recompiled: their VIPs leave. Their
 * positions stay until lb_vips_finish(), so a Service that names a VIP
 * again keeps its place. */
void lb_vips_begin(struct lb_compiler *c);
/* After: their VIPs come back, the positions nothing claims any more go,
 * and the index takes its size for c->n_vips claims. false when a VIP that
 * a Service outside c->dirty also claims lost its owner: only
 * lb_vips_rebuild() can tell who owns it now. */
bool lb_vips_finish(struct lb_compiler *c);
void lb_vips_clear(struct lb_vips *v);

/* Retired blocks kept for reuse: a burst of builds before a retire then
 * finds its memory allocated and faulted in already. */
#define LB_SPARE_BLOCKS 4

struct lb_compiler {
	char *node_name;
	struct lb_addr *node_addrs;
	unsigned n_node_addrs;
	__u32 max_ring;
	__u32 base_flags;          /* LB_SVC_FULLNAT, LB_SVC_DSR from the config */

	struct lb_hmap svcs;       /* "ns/name" -> struct lb_svc */
	struct lb_hmap slices;     /* "ns/name" -> struct lb_slice */
	struct lb_svc *dirty;      /* services to compile at the next build */
	__u32 n_vips;              /* over all service ports */

	struct lb_hmap be_map;     /* identity -> index + 1 */
	struct lb_backend *be;     /* the next table's backend array */
	struct lb_backend_meta *be_meta;
	__u32 be_cap;
	struct lb_idpool be_idx;
	__u32 next_be_id;

	struct lb_idpool ids;      /* service-port ids */
	char **id_names;
	__u32 n_id_names;

	struct lb_arena arena;
	struct lb_adoption *adopt; /* lb_compiler_adopt()'s, until the first build ends */
	__u64 generation;          /* of the newest table */
	bool built, changed;       /* changed: the next table differs from the newest */
	struct lb_block *blocks;   /* tables not yet retired, oldest first */
	unsigned n_blocks, cap_blocks;
	struct lb_block spare[LB_SPARE_BLOCKS]; /* retired tables' memory, for the next ones */
	unsigned n_spare;
	__u32 *written;            /* the current build's rings */
	__u32 n_written, cap_written;
	struct lb_vips vips;       /* the next table's services and index */
	struct lb_patch_log patch; /* writes to vips and be, for reused blocks */
};

struct lb_be_ident lb_be_ident(const struct lb_addr *a, __u16 port, __u8 proto);
/* Take a hold on the backend (addr, port, proto), creating it: its index. */
__u32 lb_backend_acquire(struct lb_compiler *c, const struct lb_addr *a, __u16 port, __u8 proto,
			 __u8 state, bool local);
/* Drop a hold; the last one frees the backend from generation gen on. */
void lb_backend_release(struct lb_compiler *c, const struct lb_be_ref *ref, __u64 gen);

/* A backend a previous process had at idx (lb_compiler_adopt): the same
 * index and id when something acquires its identity again. */
void lb_backend_adopt(struct lb_compiler *c, __u32 idx, const struct lb_backend *b);
/* Free backend idx from generation gen on (no ring holds it). */
void lb_backend_forget(struct lb_compiler *c, __u32 idx, __u64 gen);

/* ---- what a previous process left in the executor (adopt.c) ----------------------------- */

struct lb_adoption;
/* The service-port id VIP k had, if no port has taken it yet: taken now.
 * LB_NO_ID otherwise. */
__u32 lb_adopt_service_id(struct lb_compiler *c, const struct lb_vip_key *k);
/* The arena offset of the ring VIP k read, if that range holds exactly
 * ring[0..m) over n backends and no ring has taken it yet: taken now. */
bool lb_adopt_ring(struct lb_compiler *c, const struct lb_vip_key *k, const __u32 *ring,
		   __u32 m, __u32 n, __u32 *ret_off);
/* The first build (generation gen) has compiled everything: what no object
 * took again (backends, ids, ring ranges) is dropped as of gen. */
void lb_adopt_finish(struct lb_compiler *c, __u64 gen);
struct lb_adoption *lb_adoption_free(struct lb_adoption *a);

/* Compile one Service key for generation gen. */
void lb_svc_compile(struct lb_compiler *c, struct lb_svc *s, __u64 gen);
/* A table of generation gen points vip (of port p) at its ring: a ring no
 * published table pointed at yet goes into the delta if it is not there,
 * since executors copy only the delta's rings that a service reads. */
void lb_ring_show(struct lb_compiler *c, struct lb_svc_port *p, const struct lb_service *vip,
		  __u64 gen);
/* Release everything a compiled port holds, as of generation gen. */
void lb_svc_port_release(struct lb_compiler *c, struct lb_svc_port *p, __u64 gen);

/* The table block of generation gen: a copy of c->vips and c->be. */
struct lb_block lb_table_assemble(struct lb_compiler *c, __u64 gen);
