/* bench/apiserver: load against a running kelp server through its
 * kubeconfig (TLS, HTTP/2, the admin client certificate), as a controller
 * or kubectl would talk to it. Prints one JSON object.
 *
 *   apiserver-bench KUBECONFIG [creates] [watchers] [watched pods] [pods per second]
 *
 * Phases: 64 clients creating ConfigMaps; 64 clients getting them; W
 * watchers on pods while P pods are created at a steady pace, each
 * delivery timed from the create's answer to the event's arrival. */
#include <stdio.h>

#include "base/base.h"
#include "common/samples.h"
#include "http/http.h"
#include "loop/loop.h"
#include "pki/pki.h"

#define CLIENTS 64
#define WATCH_CONNS 8

struct bench {
	struct loop *l;
	struct http_client *cl;
	struct http_client *wcl[WATCH_CONNS];
	struct samples lat;
	int errors;
	int inflight;
	int done;
	bool record_calls; /* call latencies go to lat (not during the watch phase) */
};

/* --- one request --- */

struct call {
	struct bench *b;
	uint64_t t0;
	int status;
	int idx;
	void (*done)(struct call *c);
};

static void c_headers(struct http_call *hc, int status, const struct http_header *h, unsigned n,
		      void *ud)
{
	((struct call *)ud)->status = status;
}

static void c_data(struct http_call *hc, const char *p, size_t len, void *ud)
{
}

static void c_done(struct http_call *hc, int err, const struct http_header *t, unsigned n, void *ud)
{
	struct call *c = ud;
	struct bench *b = c->b;
	if (err || c->status >= 300) {
		b->errors++;
		if (b->errors < 5)
			fprintf(stderr, "apiserver-bench: request failed: err %d status %d\n", err, c->status);
	}
	if (b->record_calls)
		samples_add(&b->lat, (double)(now_mono_ns() - c->t0) / 1e6);
	b->inflight--;
	b->done++;
	if (c->done)
		c->done(c);
	free(c);
}

static const struct http_call_ops call_ops = {c_headers, c_data, c_done};

static void request(struct bench *b, const char *method, const char *target, const char *body,
		    int idx, void (*done)(struct call *c))
{
	static const struct http_header json_hdr[] = {{"content-type", "application/json"},
						      {"accept", "application/json"}};
	struct call *c = xnew(struct call, 1);
	c->b = b;
	c->t0 = now_mono_ns();
	c->idx = idx;
	c->done = done;
	b->inflight++;
	if (http_client_call(b->cl,
			     &(struct http_call_request){.method = method,
							 .target = target,
							 .headers = json_hdr,
							 .nheaders = 2,
							 .body = body,
							 .body_len = body ? strlen(body) : 0},
			     &call_ops, c, NULL) < 0) {
		b->inflight--;
		b->errors++;
		free(c);
	}
}

static void run_until(struct bench *b, const int *v, int want, double secs)
{
	uint64_t end = now_mono_ns() + (uint64_t)(secs * 1e9);
	while (*v < want && now_mono_ns() < end)
		loop_run_once(b->l, 10 * 1000000u);
}

/* Keep CLIENTS requests in flight until total are done. */
static double closed_loop(struct bench *b, const char *method, int total,
			  char *(*make)(int i, char **ret_body))
{
	int issued = 0;
	b->done = 0;
	samples_reset(&b->lat);
	uint64_t t0 = now_mono_ns();
	while (b->done < total) {
		while (b->inflight < CLIENTS && issued < total) {
			char *body = NULL;
			char *target = make(issued, &body);
			request(b, method, target, body, issued, NULL);
			free(target);
			free(body);
			issued++;
		}
		loop_run_once(b->l, 10 * 1000000u);
		if (now_mono_ns() - t0 > 300ull * 1000000000u)
			break;
	}
	return b->done / ((double)(now_mono_ns() - t0) / 1e9);
}

static char *make_cm(int i, char **ret_body)
{
	*ret_body = xasprintf("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
			      "\"cm-%d\",\"labels\":{\"bench\":\"kelp\"}},\"data\":{\"key\":\"value-%d\"}}",
			      i, i);
	return xstrdup("/api/v1/namespaces/bench/configmaps");
}

static int get_total;
static char *get_cm(int i, char **ret_body)
{
	return xasprintf("/api/v1/namespaces/bench/configmaps/cm-%d", (i * 7919) % get_total);
}

/* --- watchers --- */

struct wstate {
	struct bench *b;
	uint64_t *ack; /* per pod: when its create was answered (0: not yet) */
	int pods;
	long delivered;
	struct buf line;
	int opened;
};

struct watcher {
	struct wstate *ws;
	struct buf in;
	bool open;
	bool alive; /* the call exists (until its on_done) */
};

static void w_headers(struct http_call *hc, int status, const struct http_header *h, unsigned n,
		      void *ud)
{
	struct watcher *w = ud;
	w->open = status == 200;
	w->ws->opened++;
}

static void w_data(struct http_call *hc, const char *p, size_t len, void *ud)
{
	struct watcher *w = ud;
	struct wstate *ws = w->ws;
	uint64_t now = now_mono_ns();

	buf_append(&w->in, p, len);
	char *nl;
	while ((nl = memchr(w->in.data, '\n', w->in.len))) {
		/* {"type":"ADDED","object":{...,"name":"pod-N",...}} */
		const char *name = strstr(w->in.data, "\"name\":\"pod-");
		if (name && name < nl && str_has_prefix(w->in.data, "{\"type\":\"ADDED\"")) {
			int idx = atoi(name + strlen("\"name\":\"pod-"));
			if (idx >= 0 && idx < ws->pods) {
				uint64_t ack = ws->ack[idx];
				samples_add(&ws->b->lat, ack && now > ack ? (double)(now - ack) / 1e6 : 0);
				ws->delivered++;
			}
		}
		buf_consume(&w->in, (size_t)(nl - w->in.data) + 1);
	}
}

static void w_done(struct http_call *hc, int err, const struct http_header *t, unsigned n, void *ud)
{
	struct watcher *w = ud;
	buf_free(&w->in);
	w->open = false;
	w->alive = false;
	if (!w->ws->opened)
		w->ws->opened++;
}

static const struct http_call_ops watch_ops = {w_headers, w_data, w_done};

static struct wstate *g_ws;
static void pod_created(struct call *c)
{
	g_ws->ack[c->idx] = now_mono_ns();
}

static char *make_pod(int i, char **ret_body)
{
	*ret_body = xasprintf(
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"pod-%d\",\"labels\":"
		"{\"app\":\"bench\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}",
		i);
	return xstrdup("/api/v1/namespaces/bench/pods");
}

static double watch_phase(struct bench *b, int nwatch, int npods, int pace, double *ret_p50)
{
	struct wstate ws = {.b = b, .pods = npods};
	struct watcher *w = xnew(struct watcher, (size_t)nwatch);
	struct http_call **calls = xnew(struct http_call *, (size_t)nwatch);

	ws.ack = xnew(uint64_t, (size_t)npods);
	g_ws = &ws;
	for (int i = 0; i < nwatch; i++) {
		w[i].ws = &ws;
		w[i].alive = true;
		http_client_call(b->wcl[i % WATCH_CONNS],
				 &(struct http_call_request){
					 .method = "GET",
					 .target = "/api/v1/namespaces/bench/pods?watch=true",
				 },
				 &watch_ops, &w[i], &calls[i]);
	}
	run_until(b, &ws.opened, nwatch, 30);
	samples_reset(&b->lat);
	b->record_calls = false;
	/* Pods at a steady pace (a busy cluster's churn, not a flood): every
	 * watcher sees every pod, so the server sends pace x watchers events
	 * a second; the latencies go into b->lat. */
	int issued = 0;
	b->done = 0;
	uint64_t start = now_mono_ns(), gap = 1000000000ull / (uint64_t)pace;
	while (b->done < npods) {
		while (issued < npods && now_mono_ns() >= start + (uint64_t)issued * gap) {
			char *body = NULL;
			char *target = make_pod(issued, &body);
			request(b, "POST", target, body, issued, pod_created);
			free(target);
			free(body);
			issued++;
		}
		loop_run_once(b->l, 1000000u);
		if (now_mono_ns() - start > 300ull * 1000000000u)
			break;
	}
	uint64_t end = now_mono_ns() + 60ull * 1000000000u;
	while (ws.delivered < (long)nwatch * npods && now_mono_ns() < end)
		loop_run_once(b->l, 10 * 1000000u);
	if (ws.delivered != (long)nwatch * npods) {
		fprintf(stderr, "apiserver-bench: %ld of %ld watch events arrived\n", ws.delivered,
			(long)nwatch * npods);
		b->errors++;
	}
	for (int i = 0; i < nwatch; i++)
		if (w[i].alive)
			http_call_cancel(calls[i]);
	loop_run_once(b->l, 1000000u);
	*ret_p50 = samples_pct(&b->lat, 0.5);
	double p99 = samples_pct(&b->lat, 0.99);
	free(ws.ack);
	free(w);
	free(calls);
	return p99;
}

int main(int argc, char **argv)
{
	struct bench b = {0};
	struct pki_kubeconfig *kc = NULL;
	SSL_CTX *tls = NULL;
	int creates = argc > 2 ? atoi(argv[2]) : 20000;
	int nwatch = argc > 3 ? atoi(argv[3]) : 1000;
	int npods = argc > 4 ? atoi(argv[4]) : 1000;
	int pace = argc > 5 ? atoi(argv[5]) : 100;

	if (argc < 2) {
		fprintf(stderr, "usage: apiserver-bench KUBECONFIG [creates] [watchers] [pods]\n");
		return 2;
	}
	if (pki_kubeconfig_read(argv[1], NULL, &kc) < 0 ||
	    http_tls_client_ctx(kc->ca_pem, kc->client_cert_pem, kc->client_key_pem, true, &tls) < 0) {
		fprintf(stderr, "apiserver-bench: cannot use %s\n", argv[1]);
		return 1;
	}
	loop_new(NULL, &b.l);
	b.record_calls = true;
	struct http_client_config cc = {.url = kc->server, .tls = tls, .h2 = true};
	if (http_client_new(b.l, &cc, &b.cl) < 0)
		return 1;
	for (int i = 0; i < WATCH_CONNS; i++)
		http_client_new(b.l, &cc, &b.wcl[i]);

	request(&b, "POST", "/api/v1/namespaces",
		"{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"bench\"}}", 0, NULL);
	int one = 1;
	run_until(&b, &b.done, one, 10);

	double create_rate = closed_loop(&b, "POST", creates, make_cm);
	double create_p50 = samples_pct(&b.lat, 0.5), create_p99 = samples_pct(&b.lat, 0.99);
	get_total = creates;
	double get_rate = closed_loop(&b, "GET", creates, get_cm);
	double get_p99 = samples_pct(&b.lat, 0.99);
	double watch_p50 = 0, watch_p99 = 0;
	if (nwatch > 0)
		watch_p99 = watch_phase(&b, nwatch, npods, pace, &watch_p50);

	printf("{\"clients\":%d,\"creates\":%d,\"creates_per_s\":%.0f,\"create_p50_ms\":%.2f,"
	       "\"create_p99_ms\":%.2f,\"gets_per_s\":%.0f,\"get_p99_ms\":%.2f,\"watchers\":%d,"
	       "\"watched_pods\":%d,\"pods_per_s\":%d,\"watch_p50_ms\":%.2f,\"watch_p99_ms\":%.2f,"
	       "\"errors\":%d}\n",
	       CLIENTS, creates, create_rate, create_p50, create_p99, get_rate, get_p99, nwatch,
	       nwatch ? npods : 0, nwatch ? pace : 0, watch_p50, watch_p99, b.errors);
	for (int i = 0; i < WATCH_CONNS; i++)
		http_client_free(b.wcl[i]);
	http_client_free(b.cl);
	loop_free(b.l);
	SSL_CTX_free(tls);
	pki_kubeconfig_free(kc);
	samples_free(&b.lat);
	return b.errors ? 1 : 0;
}
