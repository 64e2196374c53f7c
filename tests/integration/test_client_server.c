/* lib/client against a real `kelp server` (started here on 127.0.0.1:0 with
 * a scratch data dir): the REST client's verbs and errors over HTTP/2, an
 * informer on configmaps that sees what the REST client and kubectl do and
 * matches a fresh list, and a server restart during which a delete is made
 * while the informer is cut off — found again through the 410 relist.
 *   test_client_server path/to/kelp */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "client/client.h"
#include "log/log.h"
#include "loop/loop.h"

#include "../unit/tap.h"

#define NS "client-it"

struct it {
	const char *kelp;
	char work[64];
	char *data, *kubeconfig, *listen;
	pid_t pid;
	struct loop *l;
	struct client *c;
	struct pki_kubeconfig *kc;
	/* the informer and what its handlers heard */
	struct informer *inf;
	json_t *seen; /* key → {"add": n, "update": n, "delete": n, "unknown": n} */
	int synced;
};

static struct it it;

/* --- the server --- */

static void server_log_tail(void)
{
	_cleanup_free_ char *cmd = xasprintf("tail -n 20 '%s/server.log' | sed 's/^/# /'", it.work);
	(void)!system(cmd);
}

static bool server_start(void)
{
	struct stat st;

	unlink(it.kubeconfig);
	it.pid = fork();
	if (it.pid == 0) {
		_cleanup_free_ char *log = xasprintf("%s/server.log", it.work);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(it.kelp, "kelp", "server", "--data-dir", it.data, "--listen", it.listen, NULL);
		_exit(127);
	}
	for (int i = 0; i < 600; i++) {
		if (stat(it.kubeconfig, &st) == 0 && st.st_size > 0)
			return true;
		if (waitpid(it.pid, NULL, WNOHANG) == it.pid) {
			it.pid = 0;
			break;
		}
		usleep(50 * 1000);
	}
	server_log_tail();
	return false;
}

static void server_stop(void)
{
	if (it.pid <= 0)
		return;
	kill(it.pid, SIGTERM);
	waitpid(it.pid, NULL, 0);
	it.pid = 0;
}

/* --- calls, made synchronous for the test --- */

struct res {
	bool done;
	int err, code, version;
	char *reason, *message;
	json_t *obj;
};

static void res_done(const struct client_result *r, void *ud)
{
	struct res *s = ud;
	s->done = true;
	s->err = r->err;
	s->code = r->code;
	s->version = r->http_version;
	s->reason = xstrdup(r->reason);
	s->message = xstrdup(r->message);
	s->obj = json_incref(r->object);
}

static void res_clear(struct res *s)
{
	free(s->reason);
	free(s->message);
	json_decref(s->obj);
	*s = (struct res){0};
}

static void run_until(struct loop *l, const bool *flag, int ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)ms * 1000000u;
	while (!*flag && now_mono_ns() < end)
		loop_run_once(l, 10 * 1000000u);
}

static void wait_res(struct res *r)
{
	run_until(it.l, &r->done, 10000);
	if (r->err && !r->code)
		printf("#   call: %d %s: %s\n", r->code, r->reason ? r->reason : "",
		       r->message ? r->message : "(no answer)");
}

static struct client_ref cm_ref(const char *name)
{
	return (struct client_ref){CLIENT_GVR_CONFIGMAPS, NS, name};
}

static json_t *cm_new(const char *name, const char *value)
{
	return json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
			 "metadata", "name", name, "data", "v", value);
}

static int create_cm(struct client *c, struct loop *l, const char *name, const char *value)
{
	struct res r = {0};
	json_t *o = cm_new(name, value);
	struct client_ref ref = cm_ref(NULL);
	client_create(c, &ref, o, NULL, res_done, &r, NULL);
	run_until(l, &r.done, 10000);
	json_decref(o);
	int code = r.code;
	res_clear(&r);
	return code;
}

static int delete_cm(struct client *c, struct loop *l, const char *name)
{
	struct res r = {0};
	struct client_ref ref = cm_ref(name);
	client_delete(c, &ref, NULL, res_done, &r, NULL);
	run_until(l, &r.done, 10000);
	int code = r.code;
	res_clear(&r);
	return code;
}

/* --- the informer's handlers --- */

static void count(const json_t *o, const char *what)
{
	_cleanup_free_ char *key = client_store_key(o);
	json_t *e = json_object_get(it.seen, key);
	if (!e) {
		e = json_pack("{s:i, s:i, s:i, s:i}", "add", 0, "update", 0, "delete", 0, "unknown", 0);
		json_object_set_new(it.seen, key, e);
	}
	json_object_set_new(e, what, json_integer(json_integer_value(json_object_get(e, what)) + 1));
}

static int seen(const char *name, const char *what)
{
	_cleanup_free_ char *key = xasprintf(NS "/%s", name);
	return (int)json_integer_value(json_object_get(json_object_get(it.seen, key), what));
}

static void on_add(const json_t *o, void *ud) { count(o, "add"); }
static void on_update(const json_t *old, const json_t *o, void *ud) { count(o, "update"); }
static void on_delete(const json_t *o, bool unknown, void *ud)
{
	count(o, "delete");
	if (unknown)
		count(o, "unknown");
}
static void on_synced(void *ud) { it.synced++; }

static const struct informer_handlers handlers = {on_add, on_update, on_delete, on_synced};

static bool wait_seen(const char *name, const char *what, int n)
{
	uint64_t end = now_mono_ns() + 20ull * 1000000000u;
	while (seen(name, what) < n && now_mono_ns() < end)
		loop_run_once(it.l, 10 * 1000000u);
	return seen(name, what) >= n;
}

/* The cache holds what a fresh list holds, at the same versions. */
static bool cache_matches_list(void)
{
	struct res r = {0};
	struct client_ref ref = cm_ref(NULL);
	const struct client_store *s = informer_store(it.inf);
	bool same = true;
	size_t i;
	json_t *item;

	client_list(it.c, &ref, NULL, res_done, &r, NULL);
	wait_res(&r);
	json_t *items = api_get_array(r.obj, "items");
	same = items && json_array_size(items) == client_store_len(s);
	json_array_foreach(items, i, item) {
		const json_t *cached = client_store_get(s, NS, api_meta_name(item));
		if (!cached || !streq(api_meta_resource_version(cached), api_meta_resource_version(item))) {
			printf("#   %s differs\n", api_meta_name(item));
			same = false;
		}
	}
	res_clear(&r);
	return same;
}

/* --- the tests, in order --- */

static void test_rest_verbs_over_http2(void)
{
	struct res r = {0};

	client_raw(it.c, "GET", "/version", NULL, NULL, 0, res_done, &r, NULL);
	wait_res(&r);
	CHECK_INT(r.code, 200);
	CHECK_INT(r.version, 20); /* one HTTP/2 connection, as kubectl */
	CHECK(str_has_prefix(api_get_str(r.obj, "gitVersion"), "v1.32"));
	res_clear(&r);

	json_t *ns = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
			       "metadata", "name", NS);
	client_create(it.c, &(struct client_ref){CLIENT_GVR_NAMESPACES}, ns, NULL, res_done, &r, NULL);
	wait_res(&r);
	CHECK_INT(r.code, 201);
	res_clear(&r);
	json_decref(ns);

	CHECK_INT(create_cm(it.c, it.l, "verbs", "1"), 201);
	CHECK_INT(create_cm(it.c, it.l, "verbs", "1"), 409);
	struct client_ref ref = cm_ref("verbs");
	client_get(it.c, &ref, res_done, &r, NULL);
	wait_res(&r);
	CHECK_STREQ(api_get_str(r.obj, "data.v"), "1");
	json_t *obj = json_incref(r.obj);
	res_clear(&r);

	api_set_str(obj, "data.v", "2");
	client_update(it.c, &ref, obj, NULL, res_done, &r, NULL);
	wait_res(&r);
	CHECK(r.code == 200 && streq(api_get_str(r.obj, "data.v"), "2"));
	res_clear(&r);
	/* The same stale version again: Conflict, with Kubernetes' words. */
	client_update(it.c, &ref, obj, NULL, res_done, &r, NULL);
	wait_res(&r);
	CHECK_INT(r.code, 409);
	CHECK_STREQ(r.reason, "Conflict");
	CHECK(r.message && strstr(r.message, "the object has been modified"));
	res_clear(&r);
	json_decref(obj);

	static const struct {
		enum client_patch_type type;
		const char *body, *want;
	} patches[] = {
		{CLIENT_PATCH_MERGE, "{\"data\":{\"v\":\"merge\"}}", "merge"},
		{CLIENT_PATCH_STRATEGIC, "{\"data\":{\"v\":\"strategic\"}}", "strategic"},
		{CLIENT_PATCH_JSON, "[{\"op\":\"replace\",\"path\":\"/data/v\",\"value\":\"json\"}]", "json"},
		{CLIENT_PATCH_APPLY, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: verbs\n"
				     "data:\n  v: applied\n", "applied"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(patches); i++) {
		struct client_write_opts o = {.field_manager = "client-it",
					      .force = patches[i].type == CLIENT_PATCH_APPLY};
		client_patch(it.c, &ref, patches[i].type, patches[i].body, strlen(patches[i].body), &o,
			     res_done, &r, NULL);
		wait_res(&r);
		CHECK_INT(r.code, 200);
		CHECK_STREQ(api_get_str(r.obj, "data.v"), patches[i].want);
		res_clear(&r);
	}
	struct client_ref nope = cm_ref("nope");
	client_get(it.c, &nope, res_done, &r, NULL);
	run_until(it.l, &r.done, 10000);
	CHECK_INT(r.err, -EREMOTEIO);
	CHECK_INT(r.code, 404);
	CHECK_STREQ(r.reason, "NotFound");
	CHECK_STREQ(r.message, "configmaps \"nope\" not found");
	res_clear(&r);
	CHECK_INT(delete_cm(it.c, it.l, "verbs"), 200);
	CHECK_INT(delete_cm(it.c, it.l, "verbs"), 404);
}

static void test_informer_follows_changes(void)
{
	/* Some objects before it starts, more than one page of them. */
	for (int i = 1; i <= 5; i++) {
		char name[8];
		snprintf(name, sizeof(name), "c%d", i);
		CHECK_INT(create_cm(it.c, it.l, name, "0"), 201);
	}
	struct informer_options o = {
		.ref = {CLIENT_GVR_CONFIGMAPS, NS},
		.page_size = 2,
		.handlers = &handlers,
	};
	CHECK_INT(informer_new(it.c, &o, &it.inf), 0);
	informer_start(it.inf);
	uint64_t end = now_mono_ns() + 20ull * 1000000000u;
	while (!informer_synced(it.inf) && now_mono_ns() < end)
		loop_run_once(it.l, 10 * 1000000u);
	CHECK(informer_synced(it.inf));
	CHECK_INT(it.synced, 1);
	CHECK_INT(seen("c1", "add") + seen("c5", "add"), 2);

	CHECK_INT(create_cm(it.c, it.l, "c6", "0"), 201);
	CHECK(wait_seen("c6", "add", 1));
	struct res r = {0};
	struct client_ref ref = cm_ref("c2");
	const char *p1 = "{\"data\":{\"v\":\"1\"}}";
	client_patch(it.c, &ref, CLIENT_PATCH_MERGE, p1, strlen(p1), NULL, res_done, &r, NULL);
	wait_res(&r);
	res_clear(&r);
	CHECK(wait_seen("c2", "update", 1));
	CHECK_INT(delete_cm(it.c, it.l, "c3"), 200);
	CHECK(wait_seen("c3", "delete", 1));
	CHECK_INT(seen("c3", "unknown"), 0); /* seen in the watch, not guessed by a relist */

	if (system("command -v kubectl >/dev/null") == 0) {
		_cleanup_free_ char *cmd = xasprintf(
			"kubectl --kubeconfig '%s' --cache-dir '%s/cache' -n " NS
			" create configmap from-kubectl --from-literal=a=b >/dev/null",
			it.kubeconfig, it.work);
		CHECK_INT(system(cmd), 0);
		CHECK(wait_seen("from-kubectl", "add", 1));
	}
	CHECK(cache_matches_list());
	struct informer_stats st;
	informer_get_stats(it.inf, &st);
	CHECK_INT(st.lists, 1);
	CHECK_INT(st.gone, 0);
}

static void test_informer_survives_a_restart_and_keeps_the_delete(void)
{
	struct loop *l2 = NULL;
	struct client *c2 = NULL;
	struct res r = {0};

	/* A write elsewhere moves the cluster's revision past what the informer
	 * has seen: after the restart its version is older than the new watch
	 * cache's, so it must hear 410 and list again. */
	json_t *sec = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
				"metadata", "name", "bump");
	client_create(it.c, &(struct client_ref){CLIENT_GVR_SECRETS, NS}, sec, NULL, res_done, &r, NULL);
	wait_res(&r);
	CHECK_INT(r.code, 201);
	res_clear(&r);
	json_decref(sec);

	/* From here the test's loop does not run: the informer is cut off until
	 * the server is back and others have changed things. */
	server_stop();
	CHECK(server_start());
	CHECK_INT(loop_new(NULL, &l2), 0);
	CHECK_INT(client_new(l2, &(struct client_options){.kubeconfig = it.kc}, &c2, NULL), 0);
	int code = 0;
	for (int i = 0; i < 100 && code != 200; i++) /* until the restarted API serves */
		if ((code = delete_cm(c2, l2, "c1")) != 200)
			usleep(50 * 1000);
	CHECK_INT(code, 200);
	CHECK_INT(create_cm(c2, l2, "c7", "0"), 201);
	struct client_ref c4 = cm_ref("c4");
	const char *p9 = "{\"data\":{\"v\":\"9\"}}";
	client_patch(c2, &c4, CLIENT_PATCH_MERGE, p9, strlen(p9), NULL, res_done, &r, NULL);
	run_until(l2, &r.done, 10000);
	CHECK_INT(r.code, 200);
	res_clear(&r);
	client_free(c2);
	loop_free(l2);

	/* Now the informer reconnects, meets 410, lists again. */
	CHECK(wait_seen("c1", "delete", 1));
	CHECK_INT(seen("c1", "unknown"), 1); /* found by the relist */
	CHECK(wait_seen("c7", "add", 1));
	CHECK(wait_seen("c4", "update", 1));
	struct informer_stats st;
	informer_get_stats(it.inf, &st);
	CHECK(st.gone >= 1);
	CHECK(st.lists >= 2);
	/* Never an add twice, never a delete twice. */
	const char *key;
	json_t *e;
	json_object_foreach(it.seen, key, e) {
		if (json_integer_value(json_object_get(e, "add")) != 1 ||
		    json_integer_value(json_object_get(e, "delete")) > 1) {
			_cleanup_free_ char *d = json_dumps(e, JSON_COMPACT);
			printf("#   %s: %s\n", key, d);
			CHECK(!"an add or delete was delivered twice");
		}
	}
	/* And it watches on: a change after the relist arrives as an event. */
	CHECK_INT(delete_cm(it.c, it.l, "c5"), 200);
	CHECK(wait_seen("c5", "delete", 1));
	CHECK_INT(seen("c5", "unknown"), 0);
	CHECK(cache_matches_list());
	CHECK_INT(it.synced, 1);
}

struct h1_watch {
	int added;
	bool done;
};

static void h1_event(const char *type, json_t *obj, void *ud)
{
	struct h1_watch *w = ud;
	if (streq(type, "ADDED") && streq(api_meta_name(obj), "h1"))
		w->added++;
}

static void h1_done(const struct client_result *r, void *ud) { ((struct h1_watch *)ud)->done = true; }

/* The same watch on an HTTP/1.1 client: chunked events, and a cancel that
 * drops the connection. */
static void test_watch_over_http1(void)
{
	struct client *c1 = NULL;
	struct h1_watch w = {0};
	struct client_call *call = NULL;
	struct res r = {0};

	CHECK_INT(client_new(it.l, &(struct client_options){.kubeconfig = it.kc, .http1 = true}, &c1,
			     NULL), 0);
	client_raw(c1, "GET", "/version", NULL, NULL, 0, res_done, &r, NULL);
	wait_res(&r);
	CHECK_INT(r.version, 11);
	res_clear(&r);
	struct client_ref ref = cm_ref(NULL);
	struct client_list_opts o = {.resource_version = informer_resource_version(it.inf),
				     .field_selector = "metadata.name=h1"};
	CHECK_INT(client_watch(c1, &ref, &o, h1_event, h1_done, &w, &call), 0);
	CHECK_INT(create_cm(it.c, it.l, "h1", "0"), 201);
	uint64_t end = now_mono_ns() + 10ull * 1000000000u;
	while (!w.added && now_mono_ns() < end)
		loop_run_once(it.l, 10 * 1000000u);
	CHECK_INT(w.added, 1);
	client_call_cancel(call);
	CHECK(!w.done);
	client_free(c1);
	CHECK(wait_seen("h1", "add", 1)); /* the informer too */
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: test_client_server path/to/kelp\n");
		return 2;
	}
	it.kelp = argv[1];
	snprintf(it.work, sizeof(it.work), "/tmp/kelp-it-client.XXXXXX");
	if (!mkdtemp(it.work))
		return 1;
	it.data = xasprintf("%s/data", it.work);
	it.kubeconfig = xasprintf("%s/kubeconfig", it.data);
	it.listen = xstrdup("127.0.0.1:0");
	it.seen = json_object();
	struct logger log = log_default("client-it");
	char *msg = NULL;
	bool up = server_start() && client_kubeconfig_load(it.kubeconfig, NULL, &it.kc, &msg) == 0;
	if (up) {
		/* A restart comes back on the same port. */
		free(it.listen);
		it.listen = xstrdup(strrchr(it.kc->server, '/') + 1);
		loop_new(NULL, &it.l);
		up = client_new(it.l, &(struct client_options){.kubeconfig = it.kc, .qps = 200,
								.burst = 50, .log = &log},
				&it.c, &msg) == 0;
	}
	if (!up) {
		printf("not ok 1 - kelp server starts and its kubeconfig loads # %s\n1..1\n",
		       msg ? msg : "");
		server_stop();
		return 1;
	}
	RUN(test_rest_verbs_over_http2);
	RUN(test_informer_follows_changes);
	RUN(test_informer_survives_a_restart_and_keeps_the_delete);
	RUN(test_watch_over_http1);
	informer_free(it.inf);
	client_free(it.c);
	loop_free(it.l);
	server_stop();
	pki_kubeconfig_free(it.kc);
	json_decref(it.seen);
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", it.work);
	(void)!system(cmd);
	free(it.data);
	free(it.kubeconfig);
	free(it.listen);
	return tap_done();
}
