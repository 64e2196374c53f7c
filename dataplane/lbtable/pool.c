/* Service-port ids and backend indexes: small, dense, lowest free first,
 * reused only once no executor can still read the old meaning. */
#include "dataplane/lbtable/internal.h"

static void heap_push(struct lb_idpool *p, __u32 id)
{
	if (p->n_heap == p->cap_heap) {
		p->cap_heap = p->cap_heap ? p->cap_heap * 2 : 16;
		p->heap = xrealloc(p->heap, p->cap_heap * sizeof(*p->heap));
	}
	__u32 i = p->n_heap++;
	while (i > 0 && p->heap[(i - 1) / 2] > id) {
		p->heap[i] = p->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	p->heap[i] = id;
}

static __u32 heap_pop(struct lb_idpool *p)
{
	__u32 top = p->heap[0], last = p->heap[--p->n_heap], i = 0;

	for (;;) {
		__u32 c = 2 * i + 1;
		if (c >= p->n_heap)
			break;
		if (c + 1 < p->n_heap && p->heap[c + 1] < p->heap[c])
			c++;
		if (p->heap[c] >= last)
			break;
		p->heap[i] = p->heap[c];
		i = c;
	}
	if (p->n_heap)
		p->heap[i] = last;
	return top;
}

__u32 lb_idpool_alloc(struct lb_idpool *p)
{
	if (p->n_heap)
		return heap_pop(p);
	return p->hwm++;
}

void lb_idpool_release(struct lb_idpool *p, __u32 id, __u64 gen)
{
	if (p->n_pend == p->cap_pend) {
		p->cap_pend = p->cap_pend ? p->cap_pend * 2 : 16;
		p->pend = xrealloc(p->pend, p->cap_pend * sizeof(*p->pend));
	}
	p->pend[p->n_pend++] = (struct lb_pending_id){.gen = gen, .id = id};
}

void lb_idpool_retire(struct lb_idpool *p, __u64 g)
{
	__u32 keep = 0;

	for (__u32 i = 0; i < p->n_pend; i++) {
		if (p->pend[i].gen <= g)
			heap_push(p, p->pend[i].id);
		else
			p->pend[keep++] = p->pend[i];
	}
	p->n_pend = keep;
}

void lb_idpool_clear(struct lb_idpool *p)
{
	free(p->heap);
	free(p->pend);
	*p = (struct lb_idpool){0};
}

void lb_idpool_adopt(struct lb_idpool *p, const __u32 *used, __u32 n, __u32 hwm, __u64 gen)
{
	__u32 k = 0;

	for (__u32 id = 0; id < hwm; id++) {
		if (k < n && used[k] == id)
			k++;
		else
			lb_idpool_release(p, id, gen);
	}
	p->hwm = hwm;
}
