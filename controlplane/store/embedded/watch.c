/* Watches. Each watch keeps the next revision it is owed; a pump walks
 * the revision log from there up to the committed revision, so history
 * replay and live delivery are one path: in revision order, each event
 * once, never an unacknowledged one. */
#include "internal.h"

/* Events per callback (a revision is never split) and log entries one
 * watch may scan per pump before others get a turn. */
#define CHUNK_EVENTS 1024
#define SCAN_BUDGET 65536
#define PROGRESS_NS (1000 * 1000000ull)

struct emb_watch {
	struct store_watch base;
	struct emb_watch *prev, *next;
	const struct store_watch_ops *ops;
	void *ud;
	char *key, *end;
	size_t key_len, end_len;
	bool single, open_end;
	bool prev_kv, progress_notify;
	bool progress_wanted;
	bool closing; /* closed() is due */
	int close_err;
	int64_t close_rev;
	int64_t next_rev;
	uint64_t last_sent_ns;
};

static void unlink_watch(struct emb *s, struct emb_watch *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		s->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	s->nwatches--;
	if (w->progress_notify)
		s->nprogress--;
}

static void progress_tick(struct loop_timer *t);

static void arm_progress(struct emb *s)
{
	s->progress_timer.fn = progress_tick;
	if (s->nprogress && !loop_timer_armed(&s->progress_timer) && !s->closing)
		loop_timer_arm(s->loop, &s->progress_timer, PROGRESS_NS / 4);
}

int emb_watch(struct store *st, const struct store_watch_req *req,
	      const struct store_watch_ops *ops, void *ud, struct store_watch **ret)
{
	struct emb *s = emb_of(st);

	if (s->closing)
		return -ECANCELED;
	struct emb_watch *w = xnew(struct emb_watch, 1);
	w->base.store = st;
	w->ops = ops;
	w->ud = ud;
	w->key = xmalloc(req->key_len + req->end_len + 1);
	memcpy(w->key, req->key, req->key_len);
	if (req->end_len)
		memcpy(w->key + req->key_len, req->end, req->end_len);
	w->end = w->key + req->key_len;
	w->key_len = req->key_len;
	w->end_len = req->end_len;
	w->single = req->end_len == 0;
	w->open_end = req->end_len == 1 && req->end[0] == '\0';
	w->prev_kv = req->prev_kv;
	w->progress_notify = req->progress_notify;
	w->next_rev = req->start_rev ? req->start_rev : s->committed_rev + 1;
	w->last_sent_ns = now_mono_ns();
	if (req->start_rev && req->start_rev < s->m.compact_rev) {
		w->closing = true;
		w->close_err = -ESTALE;
		w->close_rev = s->m.compact_rev;
	}
	w->next = s->watches;
	if (w->next)
		w->next->prev = w;
	s->watches = w;
	s->nwatches++;
	if (w->progress_notify) {
		s->nprogress++;
		arm_progress(s);
	}
	*ret = &w->base;
	emb_kick(s);
	return 0;
}

void emb_watch_cancel(struct store_watch *sw)
{
	struct emb_watch *w = (struct emb_watch *)sw;
	struct emb *s = emb_of(sw->store);

	if (w->closing)
		return;
	w->closing = true;
	w->close_err = -ECANCELED;
	emb_kick(s);
}

void emb_watch_request_progress(struct store_watch *sw)
{
	struct emb_watch *w = (struct emb_watch *)sw;

	w->progress_wanted = true;
	emb_kick(emb_of(sw->store));
}

static bool in_watch(const struct emb_watch *w, const struct kv_key *k)
{
	int c = kv_cmp(kv_key_bytes(k), k->key_len, w->key, w->key_len);
	if (w->single)
		return c == 0;
	if (c < 0)
		return false;
	return w->open_end || kv_cmp(kv_key_bytes(k), k->key_len, w->end, w->end_len) < 0;
}

static void kv_of(struct store_kv *kv, const struct kv_ver *v)
{
	*kv = (struct store_kv){
		.key = kv_key_bytes(v->key),
		.key_len = v->key->key_len,
		.value = v->value,
		.value_len = v->value_len,
		.create_rev = v->create_rev,
		.mod_rev = v->mod_rev,
		.version = v->version,
		.lease = v->lease,
	};
}

static struct store_event *event_slot(struct emb *s, size_t n)
{
	if (n == s->evs_cap) {
		s->evs_cap = s->evs_cap ? s->evs_cap * 2 : 256;
		s->evs = xrealloc(s->evs, s->evs_cap * sizeof(*s->evs));
	}
	return &s->evs[n];
}

static void fill_event(struct store_event *ev, const struct emb_watch *w, const struct kv_ver *v)
{
	*ev = (struct store_event){0};
	if (kv_ver_live(v)) {
		ev->type = STORE_EVENT_PUT;
		kv_of(&ev->kv, v);
	} else {
		ev->type = STORE_EVENT_DELETE;
		ev->kv.key = kv_key_bytes(v->key);
		ev->kv.key_len = v->key->key_len;
		ev->kv.mod_rev = v->mod_rev;
	}
	if (w->prev_kv && kv_ver_live(v->older)) {
		ev->has_prev = true;
		kv_of(&ev->prev, v->older);
	}
}

/* Deliver what w is owed; false when the store closed in a callback. */
static bool deliver(struct emb *s, struct emb_watch *w, bool *ret_more)
{
	size_t scanned = 0;

	while (!w->closing && w->next_rev <= s->committed_rev) {
		const struct mvcc *m = &s->m;
		size_t i = mvcc_log_find(m, w->next_rev), n = 0;
		int64_t last = 0, next = s->committed_rev + 1;
		for (; i < m->log_len; i++, scanned++) {
			const struct kv_ver *v = mvcc_log_at(m, i);
			if (v->mod_rev > s->committed_rev)
				break;
			if (v->mod_rev != last && (n >= CHUNK_EVENTS || scanned >= SCAN_BUDGET)) {
				next = v->mod_rev;
				break;
			}
			last = v->mod_rev;
			if (in_watch(w, v->key))
				fill_event(event_slot(s, n++), w, v);
		}
		w->next_rev = next;
		if (n) {
			w->last_sent_ns = now_mono_ns();
			w->ops->events(w->ud, s->evs, n);
			if (s->closing)
				return false;
		}
		if (scanned >= SCAN_BUDGET && w->next_rev <= s->committed_rev) {
			*ret_more = true;
			return true;
		}
	}
	if (w->progress_wanted && !w->closing && w->next_rev > s->committed_rev) {
		w->progress_wanted = false;
		w->last_sent_ns = now_mono_ns();
		if (w->ops->progress) {
			w->ops->progress(w->ud, s->committed_rev);
			if (s->closing)
				return false;
		}
	}
	return true;
}

static void finish(struct emb *s, struct emb_watch *w)
{
	int err = w->closing ? w->close_err : -ECANCELED;
	int64_t rev = err == -ESTALE ? w->close_rev : 0;

	unlink_watch(s, w);
	w->ops->closed(w->ud, err, rev);
	free(w->key);
	free(w);
}

bool emb_watch_pump(struct emb *s)
{
	bool more = false;

	for (struct emb_watch *w = s->watches, *next; w; w = next) {
		next = w->next;
		if (w->closing) {
			finish(s, w);
			if (s->closing)
				return false;
			/* next may have been cancelled (flagged), never freed. */
			continue;
		}
		if (!deliver(s, w, &more))
			return false;
	}
	if (more)
		emb_kick(s);
	return true;
}

static void progress_tick(struct loop_timer *t)
{
	struct emb *s = container_of(t, struct emb, progress_timer);
	uint64_t now = now_mono_ns();

	if (!emb_enter(s))
		return;
	for (struct emb_watch *w = s->watches; w; w = w->next) {
		if (!w->progress_notify || w->closing || w->next_rev <= s->committed_rev ||
		    now - w->last_sent_ns < PROGRESS_NS || !w->ops->progress)
			continue;
		w->last_sent_ns = now;
		w->ops->progress(w->ud, s->committed_rev);
		if (s->closing)
			break;
	}
	if (!s->closing)
		arm_progress(s);
	emb_leave(s);
}

void emb_watch_compacted(struct emb *s, int64_t rev)
{
	bool any = false;

	for (struct emb_watch *w = s->watches; w; w = w->next) {
		if (w->closing || w->next_rev >= rev)
			continue;
		w->closing = true;
		w->close_err = -ESTALE;
		w->close_rev = rev;
		any = true;
	}
	if (any)
		emb_kick(s);
}

void emb_watch_close_all(struct emb *s)
{
	struct emb_watch *w;

	while ((w = s->watches)) {
		if (!w->closing)
			w->close_err = -ECANCELED;
		w->closing = true;
		finish(s, w);
	}
}
