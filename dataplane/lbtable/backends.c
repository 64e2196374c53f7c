/* Backends: one entry per (address, port, protocol) however many rings hold
 * it. Its index is what rings store; its id tells connection tracking that
 * an index now means another backend. */
#include <arpa/inet.h>

#include "dataplane/lbtable/internal.h"

struct lb_be_ident lb_be_ident(const struct lb_addr *a, __u16 port, __u8 proto)
{
	struct lb_be_ident id;

	memcpy(id.b, a->a, 16);
	id.b[16] = (__u8)(port >> 8);
	id.b[17] = (__u8)port;
	id.b[18] = proto;
	return id;
}

static void set_flags(struct lb_compiler *c, __u32 idx)
{
	const struct lb_backend_meta *m = &c->be_meta[idx];
	__u8 flags = (m->local ? LB_BE_LOCAL : 0) | (m->terminating ? LB_BE_TERMINATING : 0);

	if (c->be[idx].flags != flags) {
		c->be[idx].flags = flags;
		lb_patch_note(&c->patch, LB_PATCH_BACKEND, idx);
		c->changed = true;
	}
}

/* Room in the backend arrays for index idx. */
static void reserve(struct lb_compiler *c, __u32 idx)
{
	if (idx < c->be_cap)
		return;
	__u32 cap = c->be_cap ? c->be_cap * 2 : 1024;
	while (cap <= idx)
		cap *= 2;
	c->be = xrealloc(c->be, cap * sizeof(*c->be));
	c->be_meta = xrealloc(c->be_meta, cap * sizeof(*c->be_meta));
	memset(c->be + c->be_cap, 0, (cap - c->be_cap) * sizeof(*c->be));
	memset(c->be_meta + c->be_cap, 0, (cap - c->be_cap) * sizeof(*c->be_meta));
	c->be_cap = cap;
}

static __u32 create(struct lb_compiler *c, const struct lb_be_ident *id,
		    const struct lb_addr *a, __u16 port, __u8 proto)
{
	__u32 idx = lb_idpool_alloc(&c->be_idx);

	reserve(c, idx);
	/* Ids are never reused, and never 0. */
	if (!c->next_be_id)
		c->next_be_id = 1;
	c->be[idx] = (struct lb_backend){
		.addr = *a,
		.port = htons(port),
		.proto = proto,
		.id = c->next_be_id++,
	};
	c->be_meta[idx] = (struct lb_backend_meta){0};
	lb_hmap_put(&c->be_map, id->b, sizeof(id->b), (void *)(uintptr_t)(idx + 1));
	lb_patch_note(&c->patch, LB_PATCH_BACKEND, idx);
	c->changed = true;
	return idx;
}

__u32 lb_backend_acquire(struct lb_compiler *c, const struct lb_addr *a, __u16 port, __u8 proto,
			 __u8 state, bool local)
{
	struct lb_be_ident id = lb_be_ident(a, port, proto);
	uintptr_t v = (uintptr_t)lb_hmap_get(&c->be_map, id.b, sizeof(id.b));
	__u32 idx = v ? (__u32)(v - 1) : create(c, &id, a, port, proto);
	struct lb_backend_meta *m = &c->be_meta[idx];

	m->refs++;
	m->terminating += state == LB_EP_TERMINATING;
	m->local += local;
	set_flags(c, idx);
	return idx;
}

void lb_backend_release(struct lb_compiler *c, const struct lb_be_ref *ref, __u64 gen)
{
	struct lb_backend_meta *m = &c->be_meta[ref->idx];

	m->refs--;
	m->terminating -= ref->state == LB_EP_TERMINATING;
	m->local -= ref->local;
	if (m->refs)
		set_flags(c, ref->idx);
	else
		lb_backend_forget(c, ref->idx, gen);
}

void lb_backend_forget(struct lb_compiler *c, __u32 idx, __u64 gen)
{
	struct lb_backend *b = &c->be[idx];
	struct lb_be_ident id = lb_be_ident(&b->addr, ntohs(b->port), b->proto);

	lb_hmap_del(&c->be_map, id.b, sizeof(id.b));
	*b = (struct lb_backend){0};
	lb_patch_note(&c->patch, LB_PATCH_BACKEND, idx);
	lb_idpool_release(&c->be_idx, idx, gen);
	c->changed = true;
}

void lb_backend_adopt(struct lb_compiler *c, __u32 idx, const struct lb_backend *b)
{
	struct lb_be_ident id = lb_be_ident(&b->addr, ntohs(b->port), b->proto);

	reserve(c, idx);
	/* No ring holds it yet: no flags until one does. */
	c->be[idx] = (struct lb_backend){.addr = b->addr, .port = b->port, .proto = b->proto,
					 .id = b->id};
	c->be_meta[idx] = (struct lb_backend_meta){0};
	lb_hmap_put(&c->be_map, id.b, sizeof(id.b), (void *)(uintptr_t)(idx + 1));
	lb_patch_note(&c->patch, LB_PATCH_BACKEND, idx);
	if (c->next_be_id <= b->id)
		c->next_be_id = b->id + 1;
}
