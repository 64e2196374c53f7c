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
	for (unsigned i = 0; i < c->n_spare; i++)
		free(c->spare[i].t);
	free(c->written);
	lb_vips_clear(&c->vips);
	free(c->patch.e);
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

/* ---- the table's entries, written since ---------------------------------------------------- */

void lb_patch_append(struct lb_patch_log *l, enum lb_patch_kind kind, __u32 i)
{
	if (l->n >= l->limit) {
		lb_patch_reset(l);
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->e = xrealloc(l->e, (size_t)l->cap * sizeof(*l->e));
	}
	l->e[l->n++] = (struct lb_patch){.gen = l->gen, .kind = kind, .i = i};
}

void lb_patch_reset(struct lb_patch_log *l)
{
	l->since = l->gen;
	l->n = 0;
}

/* Notes no block will need: those up to generation g, the oldest one kept. */
static void patch_trim(struct lb_patch_log *l, __u64 g)
{
	__u32 k = 0;

	while (k < l->n && l->e[k].gen <= g)
		k++;
	if (k) {
		memmove(l->e, l->e + k, (size_t)(l->n - k) * sizeof(*l->e));
		l->n -= k;
	}
}

/* ---- blocks --------------------------------------------------------------------------------- */

/* Memory for a block of size bytes: a retired one when one is big enough
 * (the newest, which has the fewest entries to bring up to date). Reusing
 * them spares the allocator a multi-megabyte malloc and free, and the
 * kernel the page faults on fresh memory, on every build. gen 0: fresh. */
static struct lb_block block_alloc(struct lb_compiler *c, size_t size)
{
	unsigned k = c->n_spare;

	for (unsigned i = 0; i < c->n_spare; i++)
		if (c->spare[i].cap >= size &&
		    (k == c->n_spare || c->spare[i].gen > c->spare[k].gen))
			k = i;
	if (k < c->n_spare) {
		struct lb_block b = c->spare[k];
		c->spare[k] = c->spare[--c->n_spare];
		return b;
	}
	return (struct lb_block){.t = xmalloc(size + size / 8), .cap = size + size / 8};
}

/* Would a spare block of cap bytes serve tables of about need bytes? Not
 * when too small, nor when the table shrank so far that it only holds memory. */
static bool block_fits(size_t cap, size_t need)
{
	return cap >= need && cap <= 2 * need + 65536;
}

/* A retired block into the spares, in place of the smallest when they are
 * all taken; need: the newest table's size. */
static void block_keep(struct lb_compiler *c, struct lb_block b, size_t need)
{
	unsigned k = 0;

	if (!block_fits(b.cap, need)) {
		free(b.t);
		return;
	}
	if (c->n_spare < LB_SPARE_BLOCKS) {
		c->spare[c->n_spare++] = b;
		return;
	}
	for (unsigned i = 1; i < c->n_spare; i++)
		if (c->spare[i].cap < c->spare[k].cap)
			k = i;
	if (c->spare[k].cap < b.cap) {
		struct lb_block smaller = c->spare[k];
		c->spare[k] = b;
		b = smaller;
	}
	free(b.t);
}

/* Block b (of generation b.gen, 0 when fresh) into table t's shape by
 * copying only the entries written since b.gen: possible when b has t's
 * shape and the log reaches back that far, and worth it while they are few. */
static bool block_patch(struct lb_compiler *c, const struct lb_block *b,
			const struct lb_table *t)
{
	const struct lb_patch_log *l = &c->patch;
	const struct lb_table *o = b->t;
	struct lb_service *svc = (struct lb_service *)((char *)b->t + t->off_services);
	struct lb_backend *be = (struct lb_backend *)((char *)b->t + t->off_backends);
	__u32 *index = (__u32 *)((char *)b->t + t->off_index), k = 0;

	if (!b->gen || b->gen < l->since || o->n_services != t->n_services ||
	    o->n_backends != t->n_backends || o->n_index != t->n_index)
		return false;
	while (k < l->n && l->e[k].gen <= b->gen)
		k++;
	if ((uint64_t)(l->n - k) * 4 > (uint64_t)t->n_services + t->n_backends + t->n_index)
		return false; /* a copy of everything is cheaper */
	for (; k < l->n; k++) {
		__u32 i = l->e[k].i;
		if (l->e[k].kind == LB_PATCH_SERVICE && i < t->n_services)
			svc[i] = c->vips.svc[i];
		else if (l->e[k].kind == LB_PATCH_BACKEND && i < t->n_backends)
			be[i] = c->be[i];
		else if (l->e[k].kind == LB_PATCH_INDEX && i < t->n_index)
			index[i] = c->vips.index[i];
	}
	return true;
}

struct lb_block lb_table_assemble(struct lb_compiler *c, __u64 gen)
{
	const struct lb_vips *v = &c->vips;
	__u32 n = v->n, n_index = v->n_index, n_be = c->be_idx.hwm;

	while (n_be && !c->be[n_be - 1].id)
		n_be--;
	uint64_t off_be = sizeof(struct lb_table) + (uint64_t)n * sizeof(struct lb_service);
	uint64_t off_index = off_be + (uint64_t)n_be * sizeof(struct lb_backend);
	uint64_t size = off_index + (uint64_t)n_index * sizeof(__u32);
	if (size > UINT32_MAX)
		base_oom(); /* a table of 4 GiB: no executor could take it either */
	const struct lb_table h = {
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
	struct lb_block b = block_alloc(c, size);
	char *t = (char *)b.t;

	if (!block_patch(c, &b, &h)) {
		if (n)
			memcpy(t + h.off_services, v->svc, n * sizeof(struct lb_service));
		if (n_be)
			memcpy(t + h.off_backends, c->be, n_be * sizeof(struct lb_backend));
		memcpy(t + h.off_index, v->index, n_index * sizeof(__u32));
	}
	*b.t = h;
	b.gen = gen;
#ifndef NDEBUG
	/* A patch that missed a write would publish a wrong table: builds with
	 * checks on (the unit tests') compare every table with a whole copy. */
	if ((n && memcmp(t + h.off_services, v->svc, n * sizeof(struct lb_service))) ||
	    (n_be && memcmp(t + h.off_backends, c->be, n_be * sizeof(struct lb_backend))) ||
	    memcmp(t + h.off_index, v->index, n_index * sizeof(__u32)))
		abort();
#endif
	return b;
}

const struct lb_table *lb_compiler_build(struct lb_compiler *c, struct lb_delta *ret_delta)
{
	__u64 gen = c->generation + 1;
	/* After the first table, only the VIPs of the Services compiled now move. */
	bool patch = c->built;

	c->n_written = 0;
	c->patch.gen = gen;
	if (patch)
		lb_vips_begin(c);
	for (struct lb_svc *s = c->dirty; s; s = s->next_dirty)
		lb_svc_compile(c, s, gen);
	lb_adopt_finish(c, gen);
	if (!patch || !lb_vips_finish(c))
		lb_vips_rebuild(c);
	while (c->dirty) {
		struct lb_svc *s = c->dirty;
		c->dirty = s->next_dirty;
		s->dirty = false;
		if (!s->spec && !s->n_slices) {
			lb_hmap_del(&c->svcs, s->key, strlen(s->key));
			free(s->ports);
			svc_free(s);
		}
	}
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
	/* Past a note for every fourth entry, copying the whole table is cheaper. */
	c->patch.limit = MAX((t->n_services + t->n_backends + t->n_index) / 4, 1024u);
	if (ret_delta)
		*ret_delta = (struct lb_delta){.rings_written = c->written,
					       .n_rings_written = c->n_written};
	return t;
}

void lb_compiler_retire(struct lb_compiler *c, __u64 g)
{
	unsigned keep = 0;
	size_t need = c->n_blocks ? c->blocks[c->n_blocks - 1].t->size : 0;

	/* Tables older than g go (their memory to the spares, as far as it
	 * suits the newest table's size); the newest stays whatever g says. */
	for (unsigned i = 0; i < c->n_spare; i++) {
		if (block_fits(c->spare[i].cap, need))
			c->spare[keep++] = c->spare[i];
		else
			free(c->spare[i].t);
	}
	c->n_spare = keep;
	keep = 0;
	for (unsigned i = 0; i < c->n_blocks; i++) {
		struct lb_block *b = &c->blocks[i];
		if (b->gen >= g || i + 1 == c->n_blocks)
			c->blocks[keep++] = *b;
		else
			block_keep(c, *b, need);
	}
	c->n_blocks = keep;
	/* What the oldest block kept (in use or spare) has is all a patch needs. */
	__u64 oldest = c->n_blocks ? c->blocks[0].gen : 0;
	for (unsigned i = 0; i < c->n_spare; i++)
		oldest = MIN(oldest, c->spare[i].gen);
	patch_trim(&c->patch, oldest);
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
