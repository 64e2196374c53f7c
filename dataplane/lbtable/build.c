/* The compiler's front: objects in (set/delete), generations out (build),
 * and the bookkeeping that lets executors read old generations until they
 * retire them. */
#include "dataplane/lbtable/internal.h"

struct lb_compiler *lb_compiler_new(const struct lb_compiler_config *cfg)
{
	struct lb_compiler *c = xnew(struct lb_compiler, 1);
	const struct lb_compiler_config none = {0};

	if (!cfg)
		cfg = &none;
	c->node_name = cfg->node_name ? xstrdup(cfg->node_name) : NULL;
	c->n_node_addrs = cfg->node_addrs ? cfg->n_node_addrs : 0;
	c->node_addrs = xnew(struct lb_addr, c->n_node_addrs);
	if (c->n_node_addrs)
		memcpy(c->node_addrs, cfg->node_addrs, c->n_node_addrs * sizeof(struct lb_addr));
	c->max_ring = cfg->max_ring ? cfg->max_ring : LB_RING_MAX;
	c->base_flags = (cfg->fullnat ? LB_SVC_FULLNAT : 0) | (cfg->dsr ? LB_SVC_DSR : 0);
	c->next_be_id = 1;
	lb_arena_init(&c->arena);
	return c;
}

static void svc_free(struct lb_svc *s)
{
	lb_svc_spec_free(s->spec);
	free(s->slices);
	free(s->key);
	free(s);
}

struct lb_compiler *lb_compiler_free(struct lb_compiler *c)
{
	if (!c)
		return NULL;
	lb_hmap_foreach(&c->svcs, it) {
		struct lb_svc *s = it->val;
		for (unsigned i = 0; i < s->n_ports; i++)
			lb_svc_port_release(c, &s->ports[i], c->generation + 1);
		free(s->ports);
		svc_free(s);
	}
	lb_hmap_foreach(&c->slices, it) {
		struct lb_slice *sl = it->val;
		lb_slice_spec_free(sl->spec);
		free(sl);
	}
	lb_hmap_clear(&c->svcs);
	lb_hmap_clear(&c->slices);
	lb_hmap_clear(&c->be_map);
	free(c->be);
	free(c->be_meta);
	lb_idpool_clear(&c->be_idx);
	lb_idpool_clear(&c->ids);
	for (__u32 i = 0; i < c->n_id_names; i++)
		free(c->id_names[i]);
	free(c->id_names);
	lb_arena_clear(&c->arena);
	lb_adoption_free(c->adopt);
	for (unsigned i = 0; i < c->n_blocks; i++)
		free(c->blocks[i].t);
	free(c->blocks);
	free(c->spare.t);
	free(c->written);
	free(c->tmp_svcs);
	free(c->tmp_owner);
	free(c->tmp_owner_svc);
	free(c->tmp_index);
	free(c->node_addrs);
	free(c->node_name);
	free(c);
	return NULL;
}

/* ---- objects in ------------------------------------------------------------------------- */

static void mark_dirty(struct lb_compiler *c, struct lb_svc *s)
{
	if (s->dirty)
		return;
	s->dirty = true;
	s->next_dirty = c->dirty;
	c->dirty = s;
}

static struct lb_svc *svc_get(struct lb_compiler *c, const char *key)
{
	struct lb_svc *s = lb_hmap_get_str(&c->svcs, key);

	if (!s) {
		s = xnew(struct lb_svc, 1);
		s->key = xstrdup(key);
		lb_hmap_put(&c->svcs, key, strlen(key), s);
	}
	return s;
}

static void slice_link(struct lb_compiler *c, struct lb_slice *sl, struct lb_svc *s)
{
	if (s->n_slices == s->cap_slices) {
		s->cap_slices = s->cap_slices ? s->cap_slices * 2 : 2;
		s->slices = xrealloc(s->slices, s->cap_slices * sizeof(*s->slices));
	}
	s->slices[s->n_slices++] = sl;
	sl->svc = s;
	mark_dirty(c, s);
}

static void slice_unlink(struct lb_compiler *c, struct lb_slice *sl)
{
	struct lb_svc *s = sl->svc;

	if (!s)
		return;
	for (unsigned i = 0; i < s->n_slices; i++)
		if (s->slices[i] == sl) {
			s->slices[i] = s->slices[--s->n_slices];
			break;
		}
	sl->svc = NULL;
	mark_dirty(c, s);
}

int lb_compiler_set_service(struct lb_compiler *c, const json_t *svc, char **ret_err)
{
	_cleanup_free_ char *key = NULL;
	struct lb_svc_spec *spec;

	if (lb_parse_service(svc, &key, &spec, ret_err) < 0)
		return -EINVAL;
	struct lb_svc *s = svc_get(c, key);
	lb_svc_spec_free(s->spec);
	s->spec = spec;
	mark_dirty(c, s);
	return 0;
}

static char *obj_key(const char *ns, const char *name)
{
	return xasprintf("%s/%s", ns && *ns ? ns : "default", name ? name : "");
}

int lb_compiler_delete_service(struct lb_compiler *c, const char *ns, const char *name)
{
	_cleanup_free_ char *key = obj_key(ns, name);
	struct lb_svc *s = lb_hmap_get_str(&c->svcs, key);

	if (!s || !s->spec)
		return 0;
	s->spec = lb_svc_spec_free(s->spec);
	mark_dirty(c, s);
	return 0;
}

int lb_compiler_set_slice(struct lb_compiler *c, const json_t *slice, char **ret_err)
{
	_cleanup_free_ char *key = NULL;
	struct lb_slice_spec *spec;

	if (lb_parse_slice(slice, c->node_name, &key, &spec, ret_err) < 0)
		return -EINVAL;
	struct lb_slice *sl = lb_hmap_get_str(&c->slices, key);
	if (!sl) {
		sl = xnew(struct lb_slice, 1);
		lb_hmap_put(&c->slices, key, strlen(key), sl);
	}
	slice_unlink(c, sl);
	lb_slice_spec_free(sl->spec);
	sl->spec = spec;
	if (spec->service)
		slice_link(c, sl, svc_get(c, spec->service));
	return 0;
}

int lb_compiler_delete_slice(struct lb_compiler *c, const char *ns, const char *name)
{
	_cleanup_free_ char *key = obj_key(ns, name);
	struct lb_slice *sl = lb_hmap_del(&c->slices, key, strlen(key));

	if (!sl)
		return 0;
	slice_unlink(c, sl);
	lb_slice_spec_free(sl->spec);
	free(sl);
	return 0;
}

/* ---- generations out -------------------------------------------------------------------- */

/* Which of two service ports claiming one VIP keeps it: the Service that
 * sorts first, then its port listed first, whatever order they came in. */
static bool owner_before(const struct lb_svc *a, const struct lb_svc_port *pa,
			 const struct lb_svc *b, const struct lb_svc_port *pb)
{
	int r = strcmp(a->key, b->key);

	return r ? r < 0 : (a == b && pa < pb);
}

static void reserve_tmp(struct lb_compiler *c, __u32 n, __u32 n_index)
{
	if (n > c->cap_tmp) {
		c->cap_tmp = MAX(n, c->cap_tmp * 2);
		c->tmp_svcs = xrealloc(c->tmp_svcs, c->cap_tmp * sizeof(*c->tmp_svcs));
		c->tmp_owner = xrealloc(c->tmp_owner, c->cap_tmp * sizeof(*c->tmp_owner));
		c->tmp_owner_svc =
			xrealloc(c->tmp_owner_svc, c->cap_tmp * sizeof(*c->tmp_owner_svc));
	}
	if (n_index > c->cap_tmp_index) {
		c->cap_tmp_index = n_index;
		c->tmp_index = xrealloc(c->tmp_index, n_index * sizeof(*c->tmp_index));
	}
	memset(c->tmp_index, 0, n_index * sizeof(*c->tmp_index));
}

/* Memory for a block of size bytes: the spare one when it is big enough.
 * Reusing it spares the allocator a multi-megabyte malloc and free (and the
 * kernel the page faults) on every build. */
static struct lb_block block_alloc(struct lb_compiler *c, size_t size)
{
	struct lb_block b = c->spare;

	c->spare = (struct lb_block){0};
	if (b.cap < size) {
		free(b.t);
		b.cap = size + size / 8;
		b.t = xmalloc(b.cap);
	}
	return b;
}

struct lb_block lb_table_assemble(struct lb_compiler *c, __u64 gen)
{
	__u32 n_index = lb_index_size(c->n_vips), n = 0, n_be = c->be_idx.hwm;

	reserve_tmp(c, c->n_vips, n_index);
	lb_hmap_foreach(&c->svcs, it) {
		const struct lb_svc *s = it->val;
		for (unsigned p = 0; p < s->n_ports; p++)
			for (unsigned v = 0; v < s->ports[p].n_vips; v++) {
				const struct lb_service *vip = &s->ports[p].vips[v];
				__u32 *slot = lb_index_slot(c->tmp_index, n_index, c->tmp_svcs,
							    &vip->key, s->ports[p].hashes[v]);
				__u32 i = *slot ? *slot - 1 : n;
				if (*slot && !owner_before(s, &s->ports[p], c->tmp_owner_svc[i],
							   c->tmp_owner[i]))
					continue;
				c->tmp_svcs[i] = *vip;
				c->tmp_owner[i] = &s->ports[p];
				c->tmp_owner_svc[i] = s;
				if (!*slot)
					*slot = ++n;
			}
	}
	while (n_be && !c->be[n_be - 1].id)
		n_be--;

	uint64_t off_be = sizeof(struct lb_table) + (uint64_t)n * sizeof(struct lb_service);
	uint64_t off_index = off_be + (uint64_t)n_be * sizeof(struct lb_backend);
	uint64_t size = off_index + (uint64_t)n_index * sizeof(__u32);
	if (size > UINT32_MAX)
		base_oom(); /* a table of 4 GiB: no executor could take it either */
	struct lb_block b = block_alloc(c, size);
	struct lb_table *t = b.t;
	b.gen = gen;
	*t = (struct lb_table){
		.magic = LB_TABLE_MAGIC,
		.version = LB_TABLE_VERSION,
		.generation = gen,
		.size = (__u32)size,
		.n_services = n,
		.n_backends = n_be,
		.n_index = n_index,
		.off_services = sizeof(struct lb_table),
		.off_backends = (__u32)off_be,
		.off_index = (__u32)off_index,
		.arena_size = c->arena.size,
	};
	if (n)
		memcpy((char *)t + t->off_services, c->tmp_svcs, n * sizeof(struct lb_service));
	if (n_be)
		memcpy((char *)t + t->off_backends, c->be, n_be * sizeof(struct lb_backend));
	memcpy((char *)t + t->off_index, c->tmp_index, n_index * sizeof(__u32));
	return b;
}

const struct lb_table *lb_compiler_build(struct lb_compiler *c, struct lb_delta *ret_delta)
{
	__u64 gen = c->generation + 1;

	c->n_written = 0;
	while (c->dirty) {
		struct lb_svc *s = c->dirty;
		c->dirty = s->next_dirty;
		s->dirty = false;
		lb_svc_compile(c, s, gen);
		if (!s->spec && !s->n_slices) {
			lb_hmap_del(&c->svcs, s->key, strlen(s->key));
			free(s->ports);
			svc_free(s);
		}
	}
	lb_adopt_finish(c, gen);
	if (c->built && !c->changed)
		return NULL;

	if (c->n_blocks == c->cap_blocks) {
		c->cap_blocks = c->cap_blocks ? c->cap_blocks * 2 : 4;
		c->blocks = xrealloc(c->blocks, c->cap_blocks * sizeof(*c->blocks));
	}
	c->blocks[c->n_blocks] = lb_table_assemble(c, gen);
	const struct lb_table *t = c->blocks[c->n_blocks++].t;
	lb_arena_publish(&c->arena);
	c->generation = gen;
	c->built = true;
	c->changed = false;
	if (ret_delta)
		*ret_delta = (struct lb_delta){.rings_written = c->written,
					       .n_rings_written = c->n_written};
	return t;
}

void lb_compiler_retire(struct lb_compiler *c, __u64 g)
{
	unsigned keep = 0;

	/* Tables older than g go; the newest stays whatever g says. */
	for (unsigned i = 0; i < c->n_blocks; i++) {
		struct lb_block *b = &c->blocks[i];
		if (b->gen >= g || i + 1 == c->n_blocks) {
			c->blocks[keep++] = *b;
			continue;
		}
		/* Keep the largest retired block for the next build. */
		if (b->cap > c->spare.cap) {
			free(c->spare.t);
			c->spare = *b;
		} else
			free(b->t);
	}
	c->n_blocks = keep;
	if (g > c->generation)
		g = c->generation;
	lb_arena_retire(&c->arena, g);
	lb_idpool_retire(&c->be_idx, g);
	lb_idpool_retire(&c->ids, g);
}

const __u32 *lb_compiler_arena(const struct lb_compiler *c, __u32 *ret_size)
{
	if (ret_size)
		*ret_size = c->arena.size;
	return c->arena.slots;
}

const char *lb_compiler_service_name(const struct lb_compiler *c, __u32 id)
{
	return id < c->n_id_names ? c->id_names[id] : NULL;
}
