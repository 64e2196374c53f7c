/* Watches: one Watch stream (an HTTP/2 stream on the current endpoint's
 * connection) carries every watch of the store, each with an id chosen
 * here. Each watch remembers the first revision it has not delivered;
 * when the stream breaks, a new one is opened (on the next endpoint if
 * need be) and every watch is created again from that revision, so
 * nothing is lost or repeated. A revision compacted meanwhile closes the
 * watch with -ESTALE, as etcd reports it. */
#include "etcd-internal.h"

#include "metrics/metrics.h"

enum watch_state {
	W_LIVE,
	W_CLOSING, /* closed() queued for the deferred task */
	W_CLOSED,  /* closed() has run: free it */
};

enum progress {
	P_NONE,
	P_WANTED, /* store_watch_request_progress() asked */
	P_ASKED,  /* in the stream's current progress round */
};

struct etcd_watch {
	struct store_watch base;
	struct etcd *e;
	struct etcd_watch *prev, *next;
	char *key, *end;
	size_t key_len, end_len;
	bool prev_kv, progress_notify;
	const struct store_watch_ops *ops;
	void *ud;
	int64_t next_rev; /* the first revision not yet delivered; 0: from now */
	int64_t id;       /* on e->ws; 0: not on it */
	bool created;     /* etcd confirmed it on e->ws */
	enum progress progress;
	enum watch_state state;
	int close_err;
	int64_t close_compact;
};

/* A slot whose watch is gone, awaiting etcd's cancel answer before its id
 * may be used again. */
static struct etcd_watch cancelling;

struct etcd_wstream {
	struct etcd *e;
	struct http_call *call;
	size_t ep;
	bool reached;
	bool broken;
	int http_status;
	struct grpc_status st;
	bool has_st;
	struct grpc_deframer df;
	uint64_t opened_ns;
	/* watch id i+1 is slot i */
	struct etcd_watch **byid;
	size_t nbyid, cap;
	int64_t *free_ids;
	size_t nfree, free_cap;
	/* ids of creates awaiting their answer, in order */
	int64_t *creating;
	size_t ncreating, creating_cap;
	/* request progress: answer 1 gives the revision, answer 2 (to a
	 * second request sent after answer 1) delivers it; see README */
	int phase;
	int64_t progress_rev;
};

static void ws_progress_maybe(struct etcd_wstream *ws);

/* --- ids --- */

static int64_t id_alloc(struct etcd_wstream *ws, struct etcd_watch *w)
{
	int64_t id;

	if (ws->nfree) {
		id = ws->free_ids[--ws->nfree];
	} else {
		if (ws->nbyid == ws->cap) {
			ws->cap = ws->cap ? ws->cap * 2 : 16;
			ws->byid = xrealloc(ws->byid, ws->cap * sizeof(*ws->byid));
		}
		ws->byid[ws->nbyid++] = NULL;
		id = (int64_t)ws->nbyid;
	}
	ws->byid[id - 1] = w;
	return id;
}

static struct etcd_watch *id_get(struct etcd_wstream *ws, int64_t id)
{
	return id >= 1 && (size_t)id <= ws->nbyid ? ws->byid[id - 1] : NULL;
}

static void id_release(struct etcd_wstream *ws, int64_t id)
{
	if (!id_get(ws, id))
		return;
	ws->byid[id - 1] = NULL;
	if (ws->nfree == ws->free_cap) {
		ws->free_cap = ws->free_cap ? ws->free_cap * 2 : 16;
		ws->free_ids = xrealloc(ws->free_ids, ws->free_cap * sizeof(*ws->free_ids));
	}
	ws->free_ids[ws->nfree++] = id;
}

/* --- requests on the stream --- */

static void ws_send(struct etcd_wstream *ws, const Etcdserverpb__WatchRequest *req)
{
	struct buf b = {0};

	grpc_frame_append(&b, &req->base);
	http_call_write(ws->call, b.data, b.len);
	buf_free(&b);
}

static void ws_create(struct etcd_wstream *ws, struct etcd_watch *w)
{
	Etcdserverpb__WatchRequest req;
	Etcdserverpb__WatchCreateRequest cr;

	w->id = id_alloc(ws, w);
	w->created = false;
	if (ws->ncreating == ws->creating_cap) {
		ws->creating_cap = ws->creating_cap ? ws->creating_cap * 2 : 16;
		ws->creating = xrealloc(ws->creating, ws->creating_cap * sizeof(*ws->creating));
	}
	ws->creating[ws->ncreating++] = w->id;
	etcdserverpb__watch_create_request__init(&cr);
	cr.key.data = (uint8_t *)w->key;
	cr.key.len = w->key_len;
	cr.range_end.data = (uint8_t *)w->end;
	cr.range_end.len = w->end_len;
	cr.start_revision = w->next_rev;
	/* Always: etcd's periodic notifications move next_rev on, so a
	 * quiet watch resumes from a recent revision after a reconnect. */
	cr.progress_notify = true;
	cr.prev_kv = w->prev_kv;
	cr.watch_id = w->id;
	etcdserverpb__watch_request__init(&req);
	req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CREATE_REQUEST;
	req.create_request = &cr;
	ws_send(ws, &req);
}

static void ws_cancel_id(struct etcd_wstream *ws, int64_t id)
{
	Etcdserverpb__WatchRequest req;
	Etcdserverpb__WatchCancelRequest cr;

	etcdserverpb__watch_cancel_request__init(&cr);
	cr.watch_id = id;
	etcdserverpb__watch_request__init(&req);
	req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_CANCEL_REQUEST;
	req.cancel_request = &cr;
	ws_send(ws, &req);
	ws->byid[id - 1] = &cancelling;
}

static void ws_progress_request(struct etcd_wstream *ws)
{
	Etcdserverpb__WatchRequest req;
	Etcdserverpb__WatchProgressRequest pr;

	etcdserverpb__watch_progress_request__init(&pr);
	etcdserverpb__watch_request__init(&req);
	req.request_union_case = ETCDSERVERPB__WATCH_REQUEST__REQUEST_UNION_PROGRESS_REQUEST;
	req.progress_request = &pr;
	ws_send(ws, &req);
}

/* --- closing a watch --- */

static void watch_close(struct etcd_watch *w, int err, int64_t compact_rev)
{
	struct etcd *e = w->e;
	struct etcd_wstream *ws = e->ws;

	if (w->state != W_LIVE)
		return;
	if (ws && w->id && id_get(ws, w->id) == w)
		ws_cancel_id(ws, w->id);
	w->id = 0;
	w->state = W_CLOSING;
	w->close_err = err;
	w->close_compact = compact_rev;
	etcd_kick(e);
}

static void watch_free(struct etcd_watch *w)
{
	struct etcd *e = w->e;

	if (w->prev)
		w->prev->next = w->next;
	else
		e->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	free(w->key);
	free(w->end);
	free(w);
}

/* --- answers --- */

static void deliver_events(struct etcd_watch *w, const Etcdserverpb__WatchResponse *resp)
{
	struct etcd *e = w->e;
	struct store_event *ev = xnew(struct store_event, resp->n_events);
	size_t k = 0;
	int64_t last = 0;

	for (size_t i = 0; i < resp->n_events; i++) {
		const Mvccpb__Event *pe = resp->events[i];
		if (!pe->kv || pe->kv->mod_revision < w->next_rev)
			continue; /* seen before a reconnect */
		ev[k].type = pe->type == MVCCPB__EVENT__EVENT_TYPE__DELETE ? STORE_EVENT_DELETE
									   : STORE_EVENT_PUT;
		etcd_kv_from_pb(pe->kv, false, &ev[k].kv);
		if (pe->prev_kv) {
			etcd_kv_from_pb(pe->prev_kv, false, &ev[k].prev);
			ev[k].has_prev = true;
		}
		last = pe->kv->mod_revision;
		k++;
	}
	if (k) {
		w->next_rev = last + 1;
		ETCD_CALLBACK(e, w->ops->events(w->ud, ev, k));
	}
	free(ev);
}

/* answer: the reply to store_watch_request_progress(); otherwise one of
 * etcd's periodic notifications, which may predate the request. */
static void deliver_progress(struct etcd_watch *w, int64_t rev, bool answer)
{
	struct etcd *e = w->e;
	/* While a request is out, its answer is the next progress the
	 * caller sees: a periodic one may say less than it asked for. */
	bool wanted = answer || (w->progress_notify && w->progress == P_NONE);

	if (answer)
		w->progress = P_NONE;
	if (rev + 1 > w->next_rev)
		w->next_rev = rev + 1;
	if (wanted && w->ops->progress)
		ETCD_CALLBACK(e, w->ops->progress(w->ud, w->next_rev - 1));
}

static void on_created(struct etcd_wstream *ws, const Etcdserverpb__WatchResponse *resp,
		       int64_t rev)
{
	int64_t id = resp->watch_id;

	/* Creates are answered in order; a failed one says id -1. */
	if (ws->ncreating) {
		if (id < 0)
			id = ws->creating[0];
		memmove(ws->creating, ws->creating + 1, --ws->ncreating * sizeof(*ws->creating));
	}
	struct etcd_watch *w = id_get(ws, id);
	if (!w || w == &cancelling)
		return;
	if (resp->canceled) {
		int err = grpc_status_errno(GRPC_UNKNOWN, resp->cancel_reason);
		log_warn(w->e->base.log, "etcd refused a watch",
			 LOG_S("reason", resp->cancel_reason));
		ws->byid[id - 1] = NULL; /* never registered: not reused either */
		w->id = 0;
		watch_close(w, err, 0);
		return;
	}
	w->created = true;
	if (!w->next_rev)
		w->next_rev = rev + 1;
	ws_progress_maybe(ws);
}

static void on_canceled(struct etcd_wstream *ws, const Etcdserverpb__WatchResponse *resp)
{
	struct etcd_watch *w = id_get(ws, resp->watch_id);

	if (!w)
		return;
	if (w == &cancelling) {
		id_release(ws, resp->watch_id); /* our cancel, done */
		return;
	}
	/* etcd ended it: a compacted start revision, or an error. */
	int err = resp->compact_revision > 0 ? -ESTALE
		  : resp->cancel_reason && resp->cancel_reason[0]
			  ? grpc_status_errno(GRPC_UNKNOWN, resp->cancel_reason)
			  : -EIO;
	if (resp->compact_revision > 0)
		etcd_note_compacted(w->e, resp->compact_revision);
	watch_close(w, err, resp->compact_revision);
}

static void on_progress_answer(struct etcd_wstream *ws, int64_t rev)
{
	struct etcd *e = ws->e;

	if (ws->phase == 1) {
		/* etcd 3.4 answers out of band with its event queue: a second
		 * round trip lets the events queued before rev go first. */
		ws->progress_rev = rev;
		ws->phase = 2;
		ws_progress_request(ws);
		return;
	}
	if (ws->phase != 2)
		return;
	ws->phase = 0;
	for (struct etcd_watch *w = e->watches; w && !e->closing; w = w->next)
		if (w->state == W_LIVE && w->progress == P_ASKED && e->ws == ws)
			deliver_progress(w, ws->progress_rev, true);
	if (!e->closing && e->ws == ws)
		ws_progress_maybe(ws);
}

static int on_message(void *ud, const uint8_t *p, size_t len)
{
	struct etcd_wstream *ws = ud;
	struct etcd *e = ws->e;
	Etcdserverpb__WatchResponse *resp;

	if (e->closing || ws->broken)
		return -ECANCELED;
	resp = etcdserverpb__watch_response__unpack(NULL, len, p);
	if (!resp)
		return -EPROTO;
	int64_t rev = resp->header ? resp->header->revision : 0;
	if (resp->created) {
		on_created(ws, resp, rev);
	} else if (resp->canceled) {
		on_canceled(ws, resp);
	} else if (resp->watch_id == -1) {
		on_progress_answer(ws, rev);
	} else {
		struct etcd_watch *w = id_get(ws, resp->watch_id);
		if (w && w != &cancelling && w->state == W_LIVE) {
			if (resp->n_events)
				deliver_events(w, resp);
			else
				deliver_progress(w, rev,
						 false); /* per watch: in order with events */
		}
	}
	etcdserverpb__watch_response__free_unpacked(resp, NULL);
	return e->closing || ws->broken ? -ECANCELED : 0;
}

/* --- the stream --- */

static void ws_headers(struct http_call *c, int status, const struct http_header *h, unsigned n,
		       void *ud)
{
	struct etcd_wstream *ws = ud;

	ws->http_status = status;
	ws->reached = true;
	etcd_endpoint_ok(ws->e, ws->ep);
	grpc_status_free(&ws->st);
	ws->has_st = grpc_status_parse(h, n, &ws->st);
}

static void ws_data(struct http_call *c, const char *p, size_t len, void *ud)
{
	struct etcd_wstream *ws = ud;
	struct etcd *e = ws->e;

	if (ws->broken)
		return;
	if (ws->http_status != 200) {
		ws->broken = true;
		http_call_cancel(c);
		return;
	}
	int err = grpc_deframe(&ws->df, p, len, on_message, ws);
	if (err < 0 && !e->closing && !ws->broken) {
		log_warn(e->base.log, "etcd watch stream unreadable", LOG_ERR(err));
		ws->broken = true;
		http_call_cancel(c);
	}
}

static void ws_free(struct etcd_wstream *ws)
{
	grpc_deframer_free(&ws->df);
	grpc_status_free(&ws->st);
	free(ws->byid);
	free(ws->free_ids);
	free(ws->creating);
	free(ws);
}

static void ws_timer_fire(struct loop_timer *t)
{
	struct etcd *e = container_of(t, struct etcd, ws_timer);

	e->ws_wait = false;
	etcd_kick(e);
}

static void ws_done(struct http_call *c, int err, const struct http_header *trailers, unsigned n,
		    void *ud)
{
	struct etcd_wstream *ws = ud;
	struct etcd *e = ws->e;
	bool sent = http_call_version(c) != 0;

	if (e->ws == ws)
		e->ws = NULL;
	if (e->closing) {
		ws_free(ws);
		return;
	}
	if (trailers && n) {
		grpc_status_free(&ws->st);
		ws->has_st = grpc_status_parse(trailers, n, &ws->st);
	}
	log_info(e->base.log, "etcd watch stream ended", LOG_S("endpoint", e->eps[ws->ep].url),
		 LOG_ERR(err), LOG_S("grpc_message", ws->has_st ? ws->st.message : ""));
	if (err < 0 && !sent)
		etcd_endpoint_failed(e, ws->ep);
	/* Every live watch waits for the next stream. */
	for (struct etcd_watch *w = e->watches; w; w = w->next) {
		w->id = 0;
		w->created = false;
		if (w->progress == P_ASKED)
			w->progress = P_WANTED;
	}
	/* A stream that lived a while reconnects at once; one that failed
	 * quickly backs off, so a refusing server is not hammered. */
	uint64_t lived = loop_now(e->base.loop) - ws->opened_ns;
	if (ws->reached && lived > 1000000000u)
		e->ws_backoff_ms = 0;
	else
		e->ws_backoff_ms = MIN(MAX(e->ws_backoff_ms * 2, (unsigned)ETCD_BACKOFF_MIN_MS),
				       (unsigned)ETCD_BACKOFF_MAX_MS);
	ws_free(ws);
	if (etcd_all_dead(e)) {
		e->ws_wait = true; /* the retry timer brings it back */
	} else if (e->ws_backoff_ms) {
		e->ws_wait = true;
		e->ws_timer.fn = ws_timer_fire;
		loop_timer_arm(e->base.loop, &e->ws_timer, (uint64_t)e->ws_backoff_ms * 1000000u);
	} else {
		etcd_kick(e);
	}
}

static const struct http_call_ops ws_ops = {ws_headers, ws_data, ws_done};

static void ws_open(struct etcd *e)
{
	struct http_header h[4];
	char tbuf[16];
	struct http_call_request req;

	int ep = etcd_pick_endpoint(e);
	if (ep < 0) {
		e->ws_wait = true;
		return;
	}
	struct etcd_wstream *ws = xnew(struct etcd_wstream, 1);
	ws->e = e;
	ws->ep = (size_t)ep;
	ws->df.max_len = ETCD_MAX_RESPONSE;
	ws->opened_ns = loop_now(e->base.loop);
	ws->has_st = false;
	etcd_call_request("/etcdserverpb.Watch/Watch", 0, h, tbuf, &req);
	req.stream_body = true;
	int r = http_client_call(e->eps[ep].cl, &req, &ws_ops, ws, &ws->call);
	if (r < 0) {
		log_error(e->base.log, "etcd watch stream refused", LOG_ERR(r));
		ws_free(ws);
		e->ws_wait = true;
		e->ws_timer.fn = ws_timer_fire;
		loop_timer_arm(e->base.loop, &e->ws_timer, ETCD_BACKOFF_MAX_MS * 1000000ull);
		return;
	}
	e->ws = ws;
	if (e->ws_opened)
		metric_inc(e->m_resumes);
	e->ws_opened = true;
	for (struct etcd_watch *w = e->watches; w; w = w->next)
		if (w->state == W_LIVE)
			ws_create(ws, w);
}

/* Start a progress round for the watches that asked, once created. */
static void ws_progress_maybe(struct etcd_wstream *ws)
{
	struct etcd *e = ws->e;
	bool any = false;

	if (ws->phase)
		return;
	for (struct etcd_watch *w = e->watches; w; w = w->next) {
		if (w->state == W_LIVE && w->created && w->progress == P_WANTED) {
			w->progress = P_ASKED;
			any = true;
		}
	}
	if (any) {
		ws->phase = 1;
		ws_progress_request(ws);
	}
}

/* --- store ops --- */

int etcd_watch(struct store *s, const struct store_watch_req *req,
	       const struct store_watch_ops *ops, void *ud, struct store_watch **ret)
{
	struct etcd *e = etcd_of(s);

	if (e->closing)
		return -ECANCELED;
	struct etcd_watch *w = xnew(struct etcd_watch, 1);
	w->base.store = s;
	w->e = e;
	w->key = xmalloc(req->key_len);
	memcpy(w->key, req->key, req->key_len);
	w->key_len = req->key_len;
	w->end = xmalloc(req->end_len);
	if (req->end_len)
		memcpy(w->end, req->end, req->end_len);
	w->end_len = req->end_len;
	w->prev_kv = req->prev_kv;
	w->progress_notify = req->progress_notify;
	w->ops = ops;
	w->ud = ud;
	w->next_rev = req->start_rev;
	w->next = e->watches;
	if (e->watches)
		e->watches->prev = w;
	e->watches = w;
	if (e->ws)
		ws_create(e->ws, w);
	else if (!e->ws_wait)
		etcd_kick(e); /* the deferred task opens the stream */
	*ret = &w->base;
	return 0;
}

void etcd_watch_cancel(struct store_watch *sw)
{
	watch_close((struct etcd_watch *)sw, -ECANCELED, 0);
}

void etcd_watch_request_progress(struct store_watch *sw)
{
	struct etcd_watch *w = (struct etcd_watch *)sw;
	struct etcd *e = w->e;

	if (w->state != W_LIVE || w->progress != P_NONE)
		return;
	w->progress = P_WANTED;
	if (e->ws && w->created)
		ws_progress_maybe(e->ws);
}

void etcd_watch_work(struct etcd *e)
{
	bool again = true;

	/* closed() may end other watches: walk again until nothing is left
	 * to report. */
	while (again && !e->closing) {
		again = false;
		for (struct etcd_watch *w = e->watches; w; w = w->next) {
			if (w->state == W_CLOSING) {
				w->state = W_CLOSED;
				ETCD_CALLBACK(
					e, w->ops->closed(w->ud, w->close_err, w->close_compact));
				again = true;
				break;
			}
		}
	}
	if (e->closing)
		return;
	for (struct etcd_watch *w = e->watches, *next; w; w = next) {
		next = w->next;
		if (w->state == W_CLOSED)
			watch_free(w);
	}
	bool need = false;
	for (struct etcd_watch *w = e->watches; w && !need; w = w->next)
		need = w->state == W_LIVE;
	if (need && !e->ws && !e->ws_wait)
		ws_open(e);
}

void etcd_watch_cancel_all(struct etcd *e)
{
	for (struct etcd_watch *w = e->watches; w; w = w->next) {
		if (w->state == W_CLOSED)
			continue;
		int err = w->state == W_CLOSING ? w->close_err : -ECANCELED;
		int64_t compact = w->state == W_CLOSING ? w->close_compact : 0;
		w->state = W_CLOSED;
		ETCD_CALLBACK(e, w->ops->closed(w->ud, err, compact));
	}
}

void etcd_watch_free_all(struct etcd *e)
{
	if (e->ws) {
		ws_free(e->ws);
		e->ws = NULL;
	}
	while (e->watches)
		watch_free(e->watches);
}
