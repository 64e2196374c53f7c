/* lib/client: the rate-limited work queue (client-go's workqueue on one
 * loop). Sets are jansson objects keyed by the work key: dirty (queued, or
 * to be queued again when its processing ends), processing, failures (key →
 * count) and waiting (key → deadline of a delayed add). */
#include "client/client-internal.h"

#include "loop/loop.h"

#define BASE_DELAY_NS (5ull * 1000000u)
#define MAX_DELAY_NS (1000ull * 1000000000u)
#define QPS_DEFAULT 10.0
#define BURST_DEFAULT 100

struct wq_item {
	struct wq_item *next;
	char key[];
};

struct wq_delayed {
	uint64_t at;
	char *key;
};

struct workqueue {
	struct loop *loop;
	struct workqueue_options o;
	struct wq_item *head, *tail;
	size_t len;
	json_t *dirty, *processing, *failures, *waiting;
	struct wq_delayed *heap; /* min-heap by at */
	size_t nheap, capheap;
	struct loop_timer delay_timer;
	struct loop_timer kick; /* hands keys to process() soon, outside the caller's frame */
	struct client_bucket bucket;
	bool shutting_down;
};

static bool has(const json_t *set, const char *key) { return json_object_get(set, key) != NULL; }

static void kick_soon(struct workqueue *q)
{
	if (q->o.process && !q->shutting_down && q->head && !loop_timer_armed(&q->kick))
		loop_timer_arm(q->loop, &q->kick, 0);
}

static void push(struct workqueue *q, const char *key)
{
	size_t n = strlen(key) + 1;
	struct wq_item *it = xmalloc(sizeof(*it) + n);

	memcpy(it->key, key, n);
	it->next = NULL;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->len++;
	kick_soon(q);
}

void workqueue_add(struct workqueue *q, const char *key)
{
	if (q->shutting_down || !key || has(q->dirty, key))
		return;
	json_object_set_new(q->dirty, key, json_true());
	if (has(q->processing, key))
		return; /* queued again by workqueue_done() */
	push(q, key);
}

const char *workqueue_get(struct workqueue *q)
{
	struct wq_item *it = q->head;

	if (q->shutting_down || !it)
		return NULL;
	q->head = it->next;
	if (!q->head)
		q->tail = NULL;
	q->len--;
	json_object_set_new(q->processing, it->key, json_true());
	json_object_del(q->dirty, it->key);
	/* The key's storage in the processing set lives until done. */
	const char *key = json_object_iter_key(json_object_iter_at(q->processing, it->key));
	free(it);
	return key;
}

void workqueue_done(struct workqueue *q, const char *key)
{
	_cleanup_free_ char *k = key ? xstrdup(key) : NULL;

	if (!k || json_object_del(q->processing, k) < 0)
		return;
	if (has(q->dirty, k) && !q->shutting_down)
		push(q, k);
	kick_soon(q);
}

static void kick_fire(struct loop_timer *t)
{
	struct workqueue *q = container_of(t, struct workqueue, kick);
	const char *key;

	while (json_object_size(q->processing) < q->o.workers && (key = workqueue_get(q)))
		q->o.process(q, key, q->o.ud);
}

/* --- delayed adds --- */

static void heap_swap(struct workqueue *q, size_t a, size_t b)
{
	struct wq_delayed t = q->heap[a];
	q->heap[a] = q->heap[b];
	q->heap[b] = t;
}

static void heap_push(struct workqueue *q, uint64_t at, const char *key)
{
	if (q->nheap == q->capheap) {
		q->capheap = q->capheap ? q->capheap * 2 : 16;
		q->heap = xrealloc(q->heap, q->capheap * sizeof(*q->heap));
	}
	size_t i = q->nheap++;
	q->heap[i] = (struct wq_delayed){at, xstrdup(key)};
	while (i && q->heap[(i - 1) / 2].at > q->heap[i].at) {
		heap_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static struct wq_delayed heap_pop(struct workqueue *q)
{
	struct wq_delayed top = q->heap[0];
	size_t i = 0;

	q->heap[0] = q->heap[--q->nheap];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < q->nheap && q->heap[l].at < q->heap[m].at)
			m = l;
		if (r < q->nheap && q->heap[r].at < q->heap[m].at)
			m = r;
		if (m == i)
			break;
		heap_swap(q, i, m);
		i = m;
	}
	return top;
}

static void arm_delay(struct workqueue *q)
{
	uint64_t now = loop_now(q->loop);

	if (!q->nheap) {
		loop_timer_disarm(q->loop, &q->delay_timer);
		return;
	}
	loop_timer_arm(q->loop, &q->delay_timer, q->heap[0].at > now ? q->heap[0].at - now : 0);
}

static void delay_fire(struct loop_timer *t)
{
	struct workqueue *q = container_of(t, struct workqueue, delay_timer);
	uint64_t now = loop_now(q->loop);

	while (q->nheap && q->heap[0].at <= now) {
		struct wq_delayed d = heap_pop(q);
		json_t *w = json_object_get(q->waiting, d.key);
		/* An entry superseded by an earlier deadline is stale. */
		if (w && (uint64_t)json_integer_value(w) == d.at) {
			json_object_del(q->waiting, d.key);
			workqueue_add(q, d.key);
		}
		free(d.key);
	}
	arm_delay(q);
}

void workqueue_add_after(struct workqueue *q, const char *key, uint64_t delay_ns)
{
	if (q->shutting_down || !key)
		return;
	if (!delay_ns) {
		workqueue_add(q, key);
		return;
	}
	uint64_t at = loop_now(q->loop) + delay_ns;
	json_t *w = json_object_get(q->waiting, key);
	if (w && (uint64_t)json_integer_value(w) <= at)
		return;
	json_object_set_new(q->waiting, key, json_integer((json_int_t)at));
	heap_push(q, at, key);
	arm_delay(q);
}

/* --- rate limiting --- */

uint64_t workqueue_add_rate_limited(struct workqueue *q, const char *key)
{
	if (!key)
		return 0;
	unsigned n = workqueue_num_requeues(q, key);
	uint64_t item = client_backoff_exp(q->o.base_delay_ns, q->o.max_delay_ns, n);
	uint64_t overall = client_bucket_reserve(&q->bucket, loop_now(q->loop));
	uint64_t d = MAX(item, overall);

	json_object_set_new(q->failures, key, json_integer((json_int_t)n + 1));
	workqueue_add_after(q, key, d);
	return d;
}

void workqueue_forget(struct workqueue *q, const char *key)
{
	if (key)
		json_object_del(q->failures, key);
}

unsigned workqueue_num_requeues(const struct workqueue *q, const char *key)
{
	return key ? (unsigned)json_integer_value(json_object_get(q->failures, key)) : 0;
}

/* --- the queue --- */

int workqueue_new(struct loop *l, const struct workqueue_options *o, struct workqueue **ret)
{
	struct workqueue *q = xnew(struct workqueue, 1);

	q->loop = l;
	q->o = *o;
	if (!q->o.workers)
		q->o.workers = 1;
	if (!q->o.base_delay_ns)
		q->o.base_delay_ns = BASE_DELAY_NS;
	if (!q->o.max_delay_ns)
		q->o.max_delay_ns = MAX_DELAY_NS;
	client_bucket_init(&q->bucket, o->qps ? o->qps : QPS_DEFAULT,
			   o->burst ? o->burst : BURST_DEFAULT, loop_now(l));
	q->dirty = json_object();
	q->processing = json_object();
	q->failures = json_object();
	q->waiting = json_object();
	q->delay_timer.fn = delay_fire;
	q->kick.fn = kick_fire;
	*ret = q;
	return 0;
}

struct workqueue *workqueue_free(struct workqueue *q)
{
	if (!q)
		return NULL;
	loop_timer_disarm(q->loop, &q->delay_timer);
	loop_timer_disarm(q->loop, &q->kick);
	while (q->head) {
		struct wq_item *it = q->head;
		q->head = it->next;
		free(it);
	}
	for (size_t i = 0; i < q->nheap; i++)
		free(q->heap[i].key);
	free(q->heap);
	json_decref(q->dirty);
	json_decref(q->processing);
	json_decref(q->failures);
	json_decref(q->waiting);
	free(q);
	return NULL;
}

size_t workqueue_len(const struct workqueue *q) { return q->len; }

size_t workqueue_processing(const struct workqueue *q) { return json_object_size(q->processing); }

void workqueue_shut_down(struct workqueue *q)
{
	q->shutting_down = true;
	loop_timer_disarm(q->loop, &q->kick);
	loop_timer_disarm(q->loop, &q->delay_timer);
}

bool workqueue_shutting_down(const struct workqueue *q) { return q->shutting_down; }

/* --- informer → queue --- */

static void key_add(const json_t *obj, void *ud)
{
	_cleanup_free_ char *key = client_store_key(obj);
	workqueue_add(ud, key);
}

static void key_update(const json_t *old, const json_t *obj, void *ud) { key_add(obj, ud); }

static void key_delete(const json_t *obj, bool final_state_unknown, void *ud) { key_add(obj, ud); }

const struct informer_handlers workqueue_key_handlers = {key_add, key_update, key_delete, NULL};
