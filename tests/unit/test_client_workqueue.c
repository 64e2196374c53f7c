/* lib/client's work queue, as a controller uses it: keys deduplicated while
 * queued, a key never processed twice at once and re-queued after done when
 * it was added meanwhile, per-key exponential backoff with forget, the
 * queue-wide bucket, delayed adds on the loop's timers, worker slots. */
#include "client/client.h"
#include "loop/loop.h"

#include "tap.h"

#define MS 1000000ull
#define S 1000000000ull

static struct workqueue *new_queue(struct loop *l, const struct workqueue_options *o)
{
	struct workqueue *q = NULL;
	CHECK_INT(workqueue_new(l, o ? o : &(struct workqueue_options){0}, &q), 0);
	return q;
}

static void test_keys_are_deduplicated_while_queued(void)
{
	struct loop *l = NULL;
	loop_new(NULL, &l);
	struct workqueue *q = new_queue(l, NULL);

	workqueue_add(q, "ns/a");
	workqueue_add(q, "ns/b");
	workqueue_add(q, "ns/a");
	CHECK_INT(workqueue_len(q), 2);
	CHECK_STREQ(workqueue_get(q), "ns/a");
	CHECK_STREQ(workqueue_get(q), "ns/b");
	CHECK(workqueue_get(q) == NULL);
	CHECK_INT(workqueue_processing(q), 2);
	workqueue_done(q, "ns/a");
	workqueue_done(q, "ns/b");
	CHECK_INT(workqueue_processing(q), 0);
	CHECK_INT(workqueue_len(q), 0);
	workqueue_free(q);
	loop_free(l);
}

static void test_a_key_in_process_is_requeued_after_done(void)
{
	struct loop *l = NULL;
	loop_new(NULL, &l);
	struct workqueue *q = new_queue(l, NULL);

	workqueue_add(q, "k");
	const char *k = workqueue_get(q);
	CHECK_STREQ(k, "k");
	/* Added while it is processing: not handed to a second worker... */
	workqueue_add(q, "k");
	workqueue_add(q, "k");
	CHECK_INT(workqueue_len(q), 0);
	CHECK(workqueue_get(q) == NULL);
	/* ...but queued once when the first is done (done may be given the key
	 * pointer the queue handed out). */
	workqueue_done(q, k);
	CHECK_INT(workqueue_len(q), 1);
	k = workqueue_get(q);
	CHECK_STREQ(k, "k");
	workqueue_done(q, k);
	/* Not added again: gone for good. */
	CHECK_INT(workqueue_len(q), 0);
	CHECK(workqueue_get(q) == NULL);
	workqueue_free(q);
	loop_free(l);
}

static void test_rate_limited_adds_back_off_per_key(void)
{
	struct loop *l = NULL;
	loop_new(NULL, &l);
	struct workqueue *q = new_queue(l, &(struct workqueue_options){.qps = -1});

	uint64_t want = 5 * MS;
	for (int i = 0; i < 8; i++) {
		CHECK_INT(workqueue_add_rate_limited(q, "bad"), want);
		want *= 2;
	}
	CHECK_INT(workqueue_num_requeues(q, "bad"), 8);
	/* Other keys have their own count. */
	CHECK_INT(workqueue_add_rate_limited(q, "other"), 5 * MS);
	/* Success: forget, and the next failure starts at 5 ms again. */
	workqueue_forget(q, "bad");
	CHECK_INT(workqueue_num_requeues(q, "bad"), 0);
	CHECK_INT(workqueue_add_rate_limited(q, "bad"), 5 * MS);
	/* The cap: 5 ms · 2^n stops at 1000 s. */
	for (int i = 0; i < 40; i++)
		workqueue_add_rate_limited(q, "worse");
	CHECK_INT(workqueue_add_rate_limited(q, "worse"), 1000 * S);
	workqueue_free(q);
	loop_free(l);
}

static void test_the_overall_bucket_limits_readds(void)
{
	struct loop *l = NULL;
	loop_new(NULL, &l);
	/* 1 a second, bursts of 2: the third key waits on the bucket, not its own backoff. */
	struct workqueue *q = new_queue(l, &(struct workqueue_options){.qps = 1, .burst = 2});

	CHECK_INT(workqueue_add_rate_limited(q, "a"), 5 * MS);
	CHECK_INT(workqueue_add_rate_limited(q, "b"), 5 * MS);
	uint64_t d = workqueue_add_rate_limited(q, "c");
	CHECK(d > 900 * MS && d <= 1 * S);
	workqueue_free(q);
	loop_free(l);
}

static void run_until_len(struct loop *l, struct workqueue *q, size_t n, int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * MS;
	while (workqueue_len(q) < n && now_mono_ns() < end)
		loop_run_once(l, 1 * MS);
}

static void test_delayed_adds_wait_their_time(void)
{
	struct loop *l = NULL;
	loop_new(NULL, &l);
	struct workqueue *q = new_queue(l, NULL);

	uint64_t t0 = now_mono_ns();
	workqueue_add_after(q, "later", 30 * MS);
	CHECK_INT(workqueue_len(q), 0);
	run_until_len(l, q, 1, 2000);
	uint64_t took = now_mono_ns() - t0;
	CHECK_INT(workqueue_len(q), 1);
	CHECK(took >= 29 * MS && took < 1000 * MS);
	CHECK_STREQ(workqueue_get(q), "later");
	workqueue_done(q, "later");

	/* Waiting already: the earlier time wins, and the key comes once. */
	t0 = now_mono_ns();
	workqueue_add_after(q, "k", 300 * MS);
	workqueue_add_after(q, "k", 20 * MS);
	workqueue_add_after(q, "k", 200 * MS);
	run_until_len(l, q, 1, 2000);
	took = now_mono_ns() - t0;
	CHECK(took >= 19 * MS && took < 200 * MS);
	const char *k = workqueue_get(q);
	CHECK_STREQ(k, "k");
	workqueue_done(q, "k");
	uint64_t end = now_mono_ns() + 400 * MS;
	while (now_mono_ns() < end)
		loop_run_once(l, 5 * MS);
	CHECK_INT(workqueue_len(q), 0);

	/* A rate-limited re-add shows up after its backoff. */
	t0 = now_mono_ns();
	workqueue_add_rate_limited(q, "r");
	workqueue_add_rate_limited(q, "r"); /* 10 ms; the earlier 5 ms one wins */
	run_until_len(l, q, 1, 1000);
	took = now_mono_ns() - t0;
	CHECK(took >= 4 * MS && took < 500 * MS);
	workqueue_free(q); /* with nothing left armed: ASan checks the timers */
	loop_free(l);
}

struct workers {
	struct loop *l;
	struct workqueue *q;
	int in_flight, max_in_flight;
	int processed[4];
	int readd_k0; /* times k0 is added again while it is processing */
	struct pending {
		struct loop_timer t;
		char key[8];
		struct workers *w;
		bool used;
	} slots[8];
};

static void finish_later(struct loop_timer *t)
{
	struct pending *p = container_of(t, struct pending, t);
	struct workers *w = p->w;
	w->in_flight--;
	p->used = false;
	workqueue_done(w->q, p->key);
}

static void process(struct workqueue *q, const char *key, void *ud)
{
	struct workers *w = ud;
	int i = key[1] - '0';

	w->processed[i]++;
	w->in_flight++;
	w->max_in_flight = MAX(w->max_in_flight, w->in_flight);
	if (i == 0 && w->readd_k0 > 0) {
		w->readd_k0--;
		workqueue_add(q, "k0");
	}
	for (size_t s = 0; s < ARRAY_SIZE(w->slots); s++) {
		struct pending *p = &w->slots[s];
		if (p->used)
			continue;
		p->used = true;
		p->w = w;
		snprintf(p->key, sizeof(p->key), "%s", key);
		p->t.fn = finish_later;
		loop_timer_arm(w->l, &p->t, 3 * MS);
		return;
	}
	CHECK(!"no free slot");
}

static void test_workers_take_keys_one_at_a_time_each(void)
{
	struct workers w = {.readd_k0 = 1};
	loop_new(NULL, &w.l);
	w.q = new_queue(w.l, &(struct workqueue_options){.process = process, .ud = &w, .workers = 2});

	for (int round = 0; round < 3; round++)
		for (int i = 0; i < 4; i++) {
			char k[4];
			snprintf(k, sizeof(k), "k%d", i);
			workqueue_add(w.q, k);
		}
	CHECK_INT(w.processed[0], 0); /* nothing from inside add */
	uint64_t end = now_mono_ns() + 2 * 1000 * MS;
	while ((workqueue_len(w.q) || workqueue_processing(w.q)) && now_mono_ns() < end)
		loop_run_once(w.l, 1 * MS);
	CHECK_INT(w.max_in_flight, 2);
	/* Four keys added three times while queued: each once; k0 re-added while
	 * it was processing: once more, after it was done. */
	CHECK_INT(w.processed[0], 2);
	CHECK_INT(w.processed[1], 1);
	CHECK_INT(w.processed[2], 1);
	CHECK_INT(w.processed[3], 1);
	workqueue_free(w.q);
	loop_free(w.l);
}

static void test_shut_down_takes_no_more(void)
{
	struct loop *l = NULL;
	loop_new(NULL, &l);
	struct workqueue *q = new_queue(l, NULL);

	workqueue_add(q, "a");
	const char *a = workqueue_get(q);
	workqueue_add_after(q, "b", 10 * MS);
	workqueue_shut_down(q);
	CHECK(workqueue_shutting_down(q));
	workqueue_add(q, "c");
	workqueue_add_after(q, "d", 1 * MS);
	CHECK(workqueue_get(q) == NULL);
	workqueue_done(q, a); /* still fine */
	uint64_t end = now_mono_ns() + 50 * MS;
	while (now_mono_ns() < end)
		loop_run_once(l, 5 * MS);
	CHECK_INT(workqueue_len(q), 0);
	workqueue_free(q);
	loop_free(l);
}

static void test_informer_handlers_queue_keys(void)
{
	struct loop *l = NULL;
	loop_new(NULL, &l);
	struct workqueue *q = new_queue(l, NULL);
	json_t *a = json_pack("{s:{s:s, s:s}}", "metadata", "name", "a", "namespace", "ns");
	json_t *n = json_pack("{s:{s:s}}", "metadata", "name", "node-1");

	workqueue_key_handlers.on_add(a, q);
	workqueue_key_handlers.on_update(a, a, q);
	workqueue_key_handlers.on_delete(n, true, q);
	CHECK_INT(workqueue_len(q), 2);
	CHECK_STREQ(workqueue_get(q), "ns/a");
	CHECK_STREQ(workqueue_get(q), "node-1");
	json_decref(a);
	json_decref(n);
	workqueue_free(q);
	loop_free(l);
}

int main(void)
{
	RUN(test_keys_are_deduplicated_while_queued);
	RUN(test_a_key_in_process_is_requeued_after_done);
	RUN(test_rate_limited_adds_back_off_per_key);
	RUN(test_the_overall_bucket_limits_readds);
	RUN(test_delayed_adds_wait_their_time);
	RUN(test_workers_take_keys_one_at_a_time_each);
	RUN(test_shut_down_takes_no_more);
	RUN(test_informer_handlers_queue_keys);
	return tap_done();
}
