/* The proxy's core: objects from a source go into the table compiler; one
 * sync per loop iteration compiles what changed and programs the executor. */
#include <arpa/inet.h>
#include <stdio.h>
#include <time.h>

#include "api/api.h"
#include "base/base.h"
#include "dataplane/proxy/internal.h"

/* Old rings are freed this long after the executor moved on, so a packet
 * that read a service entry just before the switch still finds its ring. */
#define RETIRE_DELAY_NS (100 * 1000000ull)
/* After a failed apply: the whole of the latest table again, this much later. */
#define RETRY_DELAY_NS (1000 * 1000000ull)

struct proxy {
	struct loop *loop;
	const struct logger *log;
	struct proxy_config cfg;
	struct lb_compiler *comp;
	const struct lb_table *table; /* what the executor holds */
	struct proxy_exec exec;
	struct proxy_file *file;
	struct proxy_api *api;
	bool synced;                  /* the source delivered a complete state */
	bool ready;                   /* ... and the executor holds it */
	bool sync_queued;
	struct loop_task sync_task;
	struct loop_timer retire_timer;
	__u64 retire_gen;
	const struct lb_table *pending; /* built but not held by the executor */
	struct loop_timer retry_timer;
	char **id_names;              /* the Service port each counter id last counted */
	size_t n_id_names;
	int64_t *triggers;            /* change times awaiting programming */
	size_t n_triggers, cap_triggers;
	bool adopting;                /* took over an earlier proxy's table; nothing built yet */
	__u32 *carried_ids;           /* its service ids (sorted): counters that go on counting */
	size_t n_carried_ids;         /* ... until the first table is programmed */

	struct metric *sync_seconds, *netprog_seconds, *last_sync, *generation, *vips;
	struct metric *sync_errors;
};

int proxy_dataplane_parse(const char *s, enum proxy_dataplane *ret)
{
	static const char *const names[] = {"auto", "dpdk", "xdp", "kmod", "none"};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (streq(s, names[i])) {
			*ret = (enum proxy_dataplane)i;
			return 0;
		}
	return -EINVAL;
}

const char *proxy_dataplane_name(enum proxy_dataplane d)
{
	static const char *const names[] = {"auto", "dpdk", "xdp", "kmod", "none"};
	return (unsigned)d < ARRAY_SIZE(names) ? names[d] : "?";
}

struct loop *proxy_loop(const struct proxy *p)
{
	return p->loop;
}

const struct logger *proxy_log(const struct proxy *p)
{
	return p->log;
}

bool proxy_ready(const struct proxy *p)
{
	return p && p->ready;
}

const char *proxy_executor_name(const struct proxy *p)
{
	return proxy_exec_name(&p->exec);
}

static int64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- sync ---------------------------------------------------------------------- */

/* Generation retire_gen became the executor's when the timer was armed, so
 * every older one has been out of use for RETIRE_DELAY_NS. Under steady
 * churn (syncs less than the delay apart) this still runs once a delay,
 * for whatever is current then: re-arming on every sync would never fire. */
static void retire(struct loop_timer *t)
{
	struct proxy *p = container_of(t, struct proxy, retire_timer);
	lb_compiler_retire(p->comp, p->retire_gen);
	if (p->table && p->table->generation > p->retire_gen) {
		p->retire_gen = p->table->generation;
		loop_timer_arm(p->loop, &p->retire_timer, RETIRE_DELAY_NS);
	}
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;
	return (x > y) - (x < y);
}

/* A service-port id counts for one Service port at a time: zero its
 * counters when this process first hands it out or it changes hands. */
static void counters_adopt(struct proxy *p, const struct lb_table *t)
{
	const struct lb_service *s = lb_table_services(t);

	for (__u32 i = 0; i < t->n_services; i++) {
		const char *name = lb_compiler_service_name(p->comp, s[i].id);
		__u32 id = s[i].id;
		if (!name)
			continue;
		if (id >= p->n_id_names) {
			size_t n = MAX((size_t)id + 1, p->n_id_names * 2);
			p->id_names = xrealloc(p->id_names, n * sizeof(char *));
			memset(p->id_names + p->n_id_names, 0, (n - p->n_id_names) * sizeof(char *));
			p->n_id_names = n;
		}
		if (p->id_names[id] && streq(p->id_names[id], name))
			continue;
		/* A VIP keeps the id an earlier proxy gave it: its counters go on. */
		bool carried = !p->id_names[id] &&
			       bsearch(&id, p->carried_ids, p->n_carried_ids, sizeof(__u32), cmp_u32);
		free(p->id_names[id]);
		p->id_names[id] = xstrdup(name);
		if (!carried)
			proxy_exec_counters_reset(&p->exec, id);
	}
}

/* Program t (delta NULL: all of it); t0 is when the work began. */
static void program(struct proxy *p, const struct lb_table *t, const struct lb_delta *delta,
		    uint64_t t0)
{
	__u32 arena_size;
	const __u32 *arena = lb_compiler_arena(p->comp, &arena_size);

	counters_adopt(p, t);
	int r = proxy_exec_apply(&p->exec, t, arena, arena_size, delta);
	if (r < 0) {
		/* The executor may hold part of it: the whole table again in a
		 * while (or a newer one sooner). Counted, logged, never fatal. */
		metric_inc(p->sync_errors);
		log_error(p->log, "programming the executor failed; retrying in 1 s",
			  LOG_S("executor", proxy_exec_name(&p->exec)),
			  LOG_U("generation", t->generation), LOG_ERR(r));
		p->table = NULL;
		p->pending = t;
		if (!loop_timer_armed(&p->retry_timer))
			loop_timer_arm(p->loop, &p->retry_timer, RETRY_DELAY_NS);
		return;
	}
	p->table = t;
	p->pending = NULL;
	free(p->carried_ids);
	p->carried_ids = NULL;
	p->n_carried_ids = 0;
	if (loop_timer_armed(&p->retry_timer))
		loop_timer_disarm(p->loop, &p->retry_timer);
	if (!loop_timer_armed(&p->retire_timer)) {
		p->retire_gen = t->generation;
		loop_timer_arm(p->loop, &p->retire_timer, RETIRE_DELAY_NS);
	}

	double secs = (double)(loop_now(p->loop) - t0) / 1e9;
	metric_observe(p->sync_seconds, secs);
	metric_set(p->last_sync, (double)realtime_ns() / 1e9);
	metric_set(p->generation, (double)t->generation);
	metric_set(p->vips, t->n_services);
	int64_t now = realtime_ns();
	for (size_t i = 0; i < p->n_triggers; i++)
		metric_observe(p->netprog_seconds,
			       now > p->triggers[i] ? (double)(now - p->triggers[i]) / 1e9 : 0);
	p->n_triggers = 0;
	if (p->synced && !p->ready) {
		p->ready = true;
		log_info(p->log, "programmed", LOG_S("executor", proxy_exec_name(&p->exec)),
			 LOG_U("vips", t->n_services), LOG_U("generation", t->generation));
	} else {
		log_debug(p->log, "synced", LOG_U("generation", t->generation),
			  LOG_U("vips", t->n_services),
			  LOG_U("rings_written", delta ? delta->n_rings_written : t->n_services),
			  LOG_D("seconds", secs));
	}
}

static void retry(struct loop_timer *timer)
{
	struct proxy *p = container_of(timer, struct proxy, retry_timer);

	if (p->pending)
		program(p, p->pending, NULL, loop_now(p->loop));
}

static void sync_now(struct loop_task *task)
{
	struct proxy *p = container_of(task, struct proxy, sync_task);
	struct lb_delta delta = {0};
	uint64_t t0 = loop_now(p->loop);

	p->sync_queued = false;
	/* Taking over: the first table must see the whole state, or backends not
	 * delivered yet would lose their indexes (kube-proxy waits as well). */
	if (p->adopting && !p->synced)
		return;
	bool adopted = p->adopting;
	p->adopting = false;
	const struct lb_table *t = lb_compiler_build(p->comp, &delta);
	if (!t) {
		/* Nothing changed; a first sync of an empty source still counts. */
		if (p->synced && !p->ready && p->table)
			p->ready = true;
		if (!p->pending)
			p->n_triggers = 0;
		return;
	}
	/* After a failure the executor's state is unknown: write everything.
	 * After a take-over it is known: the rings kept in place are there. */
	program(p, t, p->table || adopted ? &delta : NULL, t0);
}

static void request_sync(struct proxy *p)
{
	if (p->sync_queued)
		return;
	p->sync_queued = true;
	loop_defer(p->loop, &p->sync_task);
}

int proxy_object_set(struct proxy *p, const json_t *obj, int64_t trigger_ns, char **ret_err)
{
	const char *kind = api_obj_kind(obj);
	int r;

	if (kind && streq(kind, "Service"))
		r = lb_compiler_set_service(p->comp, obj, ret_err);
	else if (kind && streq(kind, "EndpointSlice"))
		r = lb_compiler_set_slice(p->comp, obj, ret_err);
	else
		return 0;
	if (r < 0)
		return r;
	if (trigger_ns > 0) {
		if (p->n_triggers == p->cap_triggers) {
			p->cap_triggers = p->cap_triggers ? p->cap_triggers * 2 : 64;
			p->triggers = xrealloc(p->triggers, p->cap_triggers * sizeof(int64_t));
		}
		p->triggers[p->n_triggers++] = trigger_ns;
	}
	request_sync(p);
	return 0;
}

void proxy_object_delete(struct proxy *p, const char *kind, const char *ns, const char *name)
{
	if (streq(kind, "Service"))
		lb_compiler_delete_service(p->comp, ns, name);
	else if (streq(kind, "EndpointSlice"))
		lb_compiler_delete_slice(p->comp, ns, name);
	else
		return;
	request_sync(p);
}

void proxy_source_synced(struct proxy *p)
{
	p->synced = true;
	request_sync(p);
	/* An empty source builds nothing: ready as soon as the sync runs. */
	if (!p->table && !p->sync_queued)
		p->ready = true;
}

/* ---- metrics ------------------------------------------------------------------- */

static void vip_string(const struct lb_vip_key *k, char *buf, size_t cap)
{
	char a[LB_ADDR_STRLEN];
	const char *proto = k->proto == LB_PROTO_UDP ? "UDP" : k->proto == LB_PROTO_SCTP ? "SCTP" : "TCP";
	lb_addr_format(&k->addr, a);
	snprintf(buf, cap, strchr(a, ':') ? "[%s]:%u/%s" : "%s:%u/%s", a, ntohs(k->port), proto);
}

/* One collector per counter; offset picks the field of struct lb_counters. */
struct counter_collector {
	struct proxy *p;
	size_t offset;
};

static void collect_counters(struct metrics_collection *c, void *ud)
{
	const struct counter_collector *cc = ud;
	struct proxy *p = cc->p;
	const struct lb_table *t = p->table;

	if (!t)
		return;
	const struct lb_service *s = lb_table_services(t);
	for (__u32 i = 0; i < t->n_services; i++) {
		struct lb_counters v;
		char vip[80];
		proxy_exec_counters(&p->exec, s[i].id, &v);
		vip_string(&s[i].key, vip, sizeof(vip));
		const char *name = lb_compiler_service_name(p->comp, s[i].id);
		__u64 x;
		memcpy(&x, (const char *)&v + cc->offset, sizeof(x));
		metrics_collect(c, (const char *const[]){name ? name : "", vip}, (double)x);
	}
}

static void register_metrics(struct proxy *p, struct metrics_registry *m,
			     struct counter_collector cc[4])
{
	static const double latency[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
					 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
	static const struct {
		const char *name, *help;
		size_t offset;
	} counters[4] = {
		{"kelp_proxy_service_packets_total", "Packets (or socket sends) to a service port.",
		 offsetof(struct lb_counters, packets)},
		{"kelp_proxy_service_bytes_total", "Bytes to a service port.",
		 offsetof(struct lb_counters, bytes)},
		{"kelp_proxy_service_connections_total", "New flows or connects to a service port.",
		 offsetof(struct lb_counters, connections)},
		{"kelp_proxy_service_no_backend_total",
		 "Packets or connects refused because the service port had no endpoint.",
		 offsetof(struct lb_counters, no_backend)},
	};
	struct metric_family *f;

	if (!m)
		return;
	if (metrics_histogram_new(m, "kelp_proxy_sync_proxy_rules_duration_seconds",
				  "Time to compile the table and program the executor.", NULL, 0,
				  latency, ARRAY_SIZE(latency), &f) == 0)
		p->sync_seconds = metric_solo(f);
	if (metrics_histogram_new(m, "kelp_proxy_network_programming_duration_seconds",
				  "From a Service or EndpointSlice change to the executor holding it.",
				  NULL, 0, latency, ARRAY_SIZE(latency), &f) == 0)
		p->netprog_seconds = metric_solo(f);
	if (metrics_gauge_new(m, "kelp_proxy_sync_proxy_rules_last_timestamp_seconds",
			      "When the executor was last programmed.", NULL, 0, &f) == 0)
		p->last_sync = metric_solo(f);
	if (metrics_gauge_new(m, "kelp_proxy_table_generation",
			      "The generation of the table the executor holds.", NULL, 0, &f) == 0)
		p->generation = metric_solo(f);
	if (metrics_gauge_new(m, "kelp_proxy_service_vips",
			      "Service VIP:port entries in the table.", NULL, 0, &f) == 0)
		p->vips = metric_solo(f);
	if (metrics_counter_new(m, "kelp_proxy_sync_proxy_rules_errors_total",
				"Syncs whose programming failed.", NULL, 0, &f) == 0)
		p->sync_errors = metric_solo(f);
	for (int i = 0; i < 4; i++) {
		cc[i] = (struct counter_collector){p, counters[i].offset};
		metrics_counter_collector_new(m, counters[i].name, counters[i].help,
					      (const char *const[]){"service", "vip"}, 2,
					      collect_counters, &cc[i]);
	}
}

/* ---- life ------------------------------------------------------------------------ */

/* An earlier proxy left its table in the executor (pinned maps): seed the
 * compiler with it, so that the same objects keep their backend indexes and
 * ids (established flows keep their backends, whatever order the objects
 * come in), VIPs keep their service ids, and the first apply writes no ring
 * where an old service still reads one. */
static void adopt(struct proxy *p)
{
	struct proxy_snapshot s;
	__u32 n_be = 0;
	int r = proxy_exec_snapshot(&p->exec, &s);

	if (r < 0) {
		log_warn(p->log, "reading back the executor's table failed; numbering afresh",
			 LOG_ERR(r));
		return;
	}
	if (!s.n_be && !s.n_svcs) {
		proxy_snapshot_done(&s);
		return;
	}
	r = lb_compiler_adopt(p->comp, s.be, s.n_be, s.svcs, s.n_svcs);
	if (r == 0)
		r = lb_compiler_adopt_rings(p->comp, s.rings, s.n_rings);
	if (r < 0) {
		log_warn(p->log, "the executor's table cannot be taken over; numbering afresh",
			 LOG_ERR(r));
		proxy_snapshot_done(&s);
		return;
	}
	for (__u32 i = 0; i < s.n_be; i++)
		n_be += s.be[i].id != 0;
	p->carried_ids = xnew(__u32, s.n_svcs);
	for (__u32 i = 0; i < s.n_svcs; i++)
		p->carried_ids[i] = s.svcs[i].id;
	qsort(p->carried_ids, s.n_svcs, sizeof(__u32), cmp_u32);
	p->n_carried_ids = s.n_svcs;
	p->adopting = true;
	log_info(p->log, "adopted the executor's table", LOG_U("backends", n_be),
		 LOG_U("vips", s.n_svcs), LOG_U("ring_slots", s.n_rings));
	proxy_snapshot_done(&s);
}

struct proxy_box {
	struct proxy p;
	struct counter_collector cc[4];
};

int proxy_new(struct loop *l, struct metrics_registry *m, const struct logger *log,
	      const struct proxy_config *cfg, struct proxy **ret)
{
	struct proxy_box *box = xnew(struct proxy_box, 1);
	struct proxy *p = &box->p;
	_cleanup_free_ char *err = NULL;
	int r;

	p->loop = l;
	p->log = log;
	p->cfg = *cfg;
	p->sync_task.fn = sync_now;
	p->retire_timer.fn = retire;
	p->retry_timer.fn = retry;
	p->comp = lb_compiler_new(&(struct lb_compiler_config){
		.node_name = cfg->node_name,
		.node_addrs = cfg->node_ips,
		.n_node_addrs = cfg->n_node_ips,
		.fullnat = cfg->fullnat,
		.dsr = cfg->dsr,
	});
	register_metrics(p, m, box->cc);

	r = proxy_exec_open(&p->exec, cfg, log, &err);
	if (r < 0) {
		log_error(log, "no executor", LOG_S("dataplane", proxy_dataplane_name(cfg->dataplane)),
			  LOG_S("reason", err));
		goto fail;
	}
	log_info(log, "executor", LOG_S("dataplane", proxy_exec_name(&p->exec)),
		 LOG_S("why", p->exec.why));
	adopt(p);

	if (cfg->from_file)
		r = proxy_file_open(p, cfg->from_file, &p->file);
	else if (cfg->kubeconfig)
		r = proxy_api_open(p, cfg->kubeconfig, &p->api);
	else
		r = -EINVAL;
	if (r < 0)
		goto fail;
	*ret = p;
	return 0;
fail:
	proxy_free(p);
	return r;
}

struct proxy *proxy_free(struct proxy *p)
{
	if (!p)
		return NULL;
	p->file = proxy_file_free(p->file);
	p->api = proxy_api_free(p->api);
	if (loop_timer_armed(&p->retire_timer))
		loop_timer_disarm(p->loop, &p->retire_timer);
	if (loop_timer_armed(&p->retry_timer))
		loop_timer_disarm(p->loop, &p->retry_timer);
	for (size_t i = 0; i < p->n_id_names; i++)
		free(p->id_names[i]);
	free(p->id_names);
	if (p->sync_queued)
		loop_defer_cancel(p->loop, &p->sync_task);
	proxy_exec_close(&p->exec);
	p->comp = lb_compiler_free(p->comp);
	free(p->triggers);
	free(p->carried_ids);
	free(container_of(p, struct proxy_box, p));
	return NULL;
}

int proxy_cleanup(const char *data_dir)
{
#ifdef KELP_HAVE_EBPF
	_cleanup_free_ char *pin = NULL;
	if (asprintf(&pin, "%s/bpf", data_dir) < 0)
		base_oom();
	return lb_ebpf_cleanup(pin);
#else
	(void)data_dir;
	return 0;
#endif
}
