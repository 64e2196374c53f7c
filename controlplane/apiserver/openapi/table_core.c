/* Table printers for the core kinds users look at most: pods (with the
 * STATUS kubectl shows: CrashLoopBackOff, Init:0/1, Completed,
 * Terminating...), nodes, events, namespaces, config maps, secrets,
 * service accounts, replication controllers and claims. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include "api/api.h"
#include "apiserver/openapi/internal.h"

#define ZERO_TIME INT64_MIN

static int64_t parse_time(const char *s)
{
	int64_t t;

	if (!s || !*s || api_time_parse(s, &t, NULL) < 0)
		return ZERO_TIME;
	return t;
}

static bool condition_true(const json_t *obj, const char *path, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(api_get_array(obj, path), i, c)
		if (streq(jstr(c, "type"), type) && streq(jstr(c, "status"), "True"))
			return true;
	return false;
}

/* ---- pods ---- */

static const struct tcol pod_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Ready", "string", "", "Ready containers out of all the pod's containers.", 0},
	{"Status", "string", "",
	 "The pod's state as one word: its phase, or the reason a container is not running.", 0},
	{"Restarts", "string", "", "Container restarts, and how long ago the last one was.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"IP", "string", "", "The pod's IP address.", 1},
	{"Node", "string", "", "The node the pod runs on.", 1},
	{"Nominated Node", "string", "", "The node a preempting pod is expected to run on.", 1},
	{"Readiness Gates", "string", "", "Readiness gates that are true, out of all of them.", 1},
};

static json_t *find_container(const json_t *containers, const char *name)
{
	size_t i;
	json_t *c;

	json_array_foreach((json_t *)containers, i, c)
		if (streq(jstr(c, "name"), name))
			return c;
	return NULL;
}

static bool restartable_init(const json_t *c)
{
	return c && streq(jstr(c, "restartPolicy"), "Always");
}

static void set_reason(char *reason, size_t cap, const char *fmt, ...) _printf_(3, 4);
static void set_reason(char *reason, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, cap, fmt, ap);
	va_end(ap);
}

static void later(int64_t *date, const json_t *cs)
{
	int64_t t = parse_time(api_get_str(cs, "lastState.terminated.finishedAt"));

	if (api_get_object(cs, "lastState.terminated") && t != ZERO_TIME && *date < t)
		*date = t;
}

static void print_pod(const json_t *pod, struct trow *r)
{
	const json_t *init_specs = api_get_array(pod, "spec.initContainers");
	int64_t restarts = 0, init_restarts = 0;
	int64_t total = (int64_t)jlen(pod, "spec.containers"), ready = 0;
	int64_t last_restart = ZERO_TIME, last_init_restart = ZERO_TIME;
	const char *phase = jstr(pod, "status.phase");
	char reason[256];
	size_t i;
	json_t *c;

	const char *status_reason = jstr(pod, "status.reason");
	snprintf(reason, sizeof(reason), "%s", *status_reason ? status_reason : phase);
	json_array_foreach(api_get_array(pod, "status.conditions"), i, c)
		if (streq(jstr(c, "type"), "PodScheduled") &&
		    streq(jstr(c, "reason"), "SchedulingGated"))
			snprintf(reason, sizeof(reason), "SchedulingGated");

	if (streq(phase, "Succeeded") || streq(phase, "Failed")) {
		json_t *cond = json_object();
		bool ok = streq(phase, "Succeeded");
		json_object_set_new(cond, "type", json_string("Completed"));
		json_object_set_new(cond, "status", json_string("True"));
		json_object_set_new(cond, "reason", json_string(phase));
		json_object_set_new(cond, "message",
				    json_string(ok ? "The pod has completed successfully."
						   : "The pod failed."));
		r->conditions = json_array();
		json_array_append_new(r->conditions, cond);
	}

	json_array_foreach((json_t *)init_specs, i, c)
		if (restartable_init(c))
			total++;

	bool initializing = false;
	json_array_foreach(api_get_array(pod, "status.initContainerStatuses"), i, c) {
		const json_t *spec = find_container(init_specs, jstr(c, "name"));
		const char *treason = jstr(c, "state.terminated.reason");
		const char *wreason = jstr(c, "state.waiting.reason");
		bool terminated = api_get_object(c, "state.terminated");

		restarts += jint(c, "restartCount");
		later(&last_restart, c);
		if (restartable_init(spec)) {
			init_restarts += jint(c, "restartCount");
			later(&last_init_restart, c);
		}
		if (terminated && jint(c, "state.terminated.exitCode") == 0)
			continue;
		if (restartable_init(spec) && jbool(c, "started")) {
			if (jbool(c, "ready"))
				ready++;
			continue;
		}
		if (terminated) {
			if (!*treason && jint(c, "state.terminated.signal") != 0)
				set_reason(reason, sizeof(reason), "Init:Signal:%lld",
					   (long long)jint(c, "state.terminated.signal"));
			else if (!*treason)
				set_reason(reason, sizeof(reason), "Init:ExitCode:%lld",
					   (long long)jint(c, "state.terminated.exitCode"));
			else
				set_reason(reason, sizeof(reason), "Init:%s", treason);
		} else if (api_get_object(c, "state.waiting") && *wreason &&
			   !streq(wreason, "PodInitializing")) {
			set_reason(reason, sizeof(reason), "Init:%s", wreason);
		} else {
			set_reason(reason, sizeof(reason), "Init:%zu/%zu", i,
				   json_array_size(init_specs));
		}
		initializing = true;
		break;
	}

	if (!initializing || condition_true(pod, "status.conditions", "Initialized")) {
		json_t *statuses = api_get_array(pod, "status.containerStatuses");
		bool running = false;

		restarts = init_restarts;
		last_restart = last_init_restart;
		for (size_t j = json_array_size(statuses); j-- > 0;) {
			c = json_array_get(statuses, j);
			const char *wreason = jstr(c, "state.waiting.reason");
			const char *treason = jstr(c, "state.terminated.reason");
			bool terminated = api_get_object(c, "state.terminated");

			restarts += jint(c, "restartCount");
			later(&last_restart, c);
			if (api_get_object(c, "state.waiting") && *wreason)
				snprintf(reason, sizeof(reason), "%s", wreason);
			else if (terminated && *treason)
				snprintf(reason, sizeof(reason), "%s", treason);
			else if (terminated && jint(c, "state.terminated.signal") != 0)
				set_reason(reason, sizeof(reason), "Signal:%lld",
					   (long long)jint(c, "state.terminated.signal"));
			else if (terminated)
				set_reason(reason, sizeof(reason), "ExitCode:%lld",
					   (long long)jint(c, "state.terminated.exitCode"));
			else if (jbool(c, "ready") && api_get_object(c, "state.running")) {
				running = true;
				ready++;
			}
		}
		/* A pod with a container still running is not Completed. */
		if (streq(reason, "Completed") && running) {
			bool ready_cond = condition_true(pod, "status.conditions", "Ready");
			snprintf(reason, sizeof(reason), "%s", ready_cond ? "Running" : "NotReady");
		}
	}

	bool deleting = api_get(pod, "metadata.deletionTimestamp") != NULL;
	if (deleting && streq(status_reason, "NodeLost"))
		snprintf(reason, sizeof(reason), "Unknown");
	else if (deleting && !streq(phase, "Succeeded") && !streq(phase, "Failed"))
		snprintf(reason, sizeof(reason), "Terminating");

	cell_str(r, api_meta_name(pod));
	cell_printf(r, "%lld/%lld", (long long)ready, (long long)total);
	cell_str(r, reason);
	if (restarts != 0 && last_restart != ZERO_TIME) {
		char ago[32];
		table_human_duration(r->now - last_restart, ago, sizeof(ago));
		cell_printf(r, "%lld (%s ago)", (long long)restarts, ago);
	} else {
		cell_printf(r, "%lld", (long long)restarts);
	}
	cell_age(r, pod);

	const char *ip = jstr(json_array_get(api_get_array(pod, "status.podIPs"), 0), "ip");
	const char *node = jstr(pod, "spec.nodeName");
	const char *nominated = jstr(pod, "status.nominatedNodeName");
	cell_str(r, *ip ? ip : "<none>");
	cell_str(r, *node ? node : "<none>");
	cell_str(r, *nominated ? nominated : "<none>");
	json_t *gates = api_get_array(pod, "spec.readinessGates");
	if (json_array_size(gates) == 0) {
		cell_str(r, "<none>");
		return;
	}
	size_t true_gates = 0;
	json_array_foreach(gates, i, c) {
		size_t j;
		json_t *cond;
		json_array_foreach(api_get_array(pod, "status.conditions"), j, cond) {
			if (streq(jstr(cond, "type"), jstr(c, "conditionType"))) {
				if (streq(jstr(cond, "status"), "True"))
					true_gates++;
				break;
			}
		}
	}
	cell_printf(r, "%zu/%zu", true_gates, json_array_size(gates));
}

/* ---- nodes ---- */

static const struct tcol node_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Status", "string", "", "Ready or NotReady, and SchedulingDisabled when cordoned.", 0},
	{"Roles", "string", "", "The roles the node's labels give it.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"Version", "string", "", "The version of the node agent.", 0},
	{"Internal-IP", "string", "", "The node's first internal address.", 1},
	{"External-IP", "string", "", "The node's first external address.", 1},
	{"OS-Image", "string", "", "The operating system the node reports.", 1},
	{"Kernel-Version", "string", "", "The node's kernel version.", 1},
	{"Container-Runtime", "string", "", "The node's container runtime and its version.", 1},
};

static const char *node_address(const json_t *node, const char *type)
{
	size_t i;
	json_t *a;

	json_array_foreach(api_get_array(node, "status.addresses"), i, a)
		if (streq(jstr(a, "type"), type))
			return jstr(a, "address");
	return "<none>";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void print_node(const json_t *node, struct trow *r)
{
	static const char role_prefix[] = "node-role.kubernetes.io/";
	struct buf status = {0}, roles = {0};
	const char *k;
	json_t *v;
	size_t i, n = 0;
	json_t *c, *ready = NULL;

	json_array_foreach(api_get_array(node, "status.conditions"), i, c)
		if (streq(jstr(c, "type"), "Ready"))
			ready = c;
	if (!ready)
		buf_puts(&status, "Unknown");
	else
		buf_puts(&status, streq(jstr(ready, "status"), "True") ? "Ready" : "NotReady");
	if (jbool(node, "spec.unschedulable"))
		buf_puts(&status, ",SchedulingDisabled");

	json_t *labels = api_meta_labels(node);
	const char **found = xnew(const char *, json_object_size(labels) + 1);
	json_object_foreach(labels, k, v) {
		const char *role = NULL;
		if (str_has_prefix(k, role_prefix) && k[strlen(role_prefix)])
			role = k + strlen(role_prefix);
		else if (streq(k, "kubernetes.io/role") && json_string_length(v) > 0)
			role = json_string_value(v);
		if (role)
			found[n++] = role;
	}
	qsort(found, n, sizeof(*found), cmp_str);
	for (i = 0; i < n; i++)
		if (i == 0 || !streq(found[i], found[i - 1]))
			buf_printf(&roles, "%s%s", roles.len ? "," : "", found[i]);
	free(found);

	cell_str(r, api_meta_name(node));
	cell_str(r, status.data);
	cell_str(r, roles.len ? roles.data : "<none>");
	cell_age(r, node);
	cell_str(r, jstr(node, "status.nodeInfo.kubeletVersion"));
	cell_str(r, node_address(node, "InternalIP"));
	cell_str(r, node_address(node, "ExternalIP"));
	static const char *const info[] = {"status.nodeInfo.osImage",
					   "status.nodeInfo.kernelVersion",
					   "status.nodeInfo.containerRuntimeVersion"};
	for (i = 0; i < ARRAY_SIZE(info); i++)
		cell_str(r, *jstr(node, info[i]) ? jstr(node, info[i]) : "<unknown>");
	buf_free(&status);
	buf_free(&roles);
}

/* ---- events (core/v1 and events.k8s.io/v1, which renames the fields) ---- */

static const struct tcol event_cols[] = {
	{"Last Seen", "string", "", "Time since the event was last seen.", 0},
	{"Type", "string", "", "Normal or Warning.", 0},
	{"Reason", "string", "", "Why the event happened, in CamelCase.", 0},
	{"Object", "string", "", "The object the event is about, as kind/name.", 0},
	{"Subobject", "string", "", "The part of the object concerned, such as a container.", 1},
	{"Source", "string", "", "The component that reported the event.", 1},
	{"Message", "string", "", "What happened, for humans.", 0},
	{"First Seen", "string", "", "Time since the event was first seen.", 1},
	{"Count", "string", "", "How many times the event happened.", 1},
	{"Name", "string", "name", OA_D_NAME, 1},
};

struct event_fields {
	const char *first, *last, *count, *involved, *message, *component, *host, *controller;
};

static const struct event_fields core_event = {
	"firstTimestamp", "lastTimestamp", "count", "involvedObject", "message",
	"source.component", "source.host", "reportingComponent",
};
static const struct event_fields new_event = {
	"deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount", "regarding",
	"note",
	"deprecatedSource.component", "deprecatedSource.host", "reportingController",
};

static void print_event_with(const json_t *ev, struct trow *r, const struct event_fields *f)
{
	char first[32], last[32], path[64];
	const char *kind, *name, *msg;
	int64_t count = jint(ev, f->count);

	since(r->now, api_get_str(ev, f->first), first, sizeof(first));
	if (parse_time(api_get_str(ev, f->first)) == ZERO_TIME)
		since(r->now, api_get_str(ev, "eventTime"), first, sizeof(first));
	since(r->now, api_get_str(ev, f->last), last, sizeof(last));
	if (parse_time(api_get_str(ev, f->last)) == ZERO_TIME)
		snprintf(last, sizeof(last), "%s", first);
	if (api_get_object(ev, "series")) {
		since(r->now, api_get_str(ev, "series.lastObservedTime"), last, sizeof(last));
		count = jint(ev, "series.count");
	} else if (count == 0) {
		count = 1; /* singleton events of the new API have no count */
	}

	snprintf(path, sizeof(path), "%s.kind", f->involved);
	kind = jstr(ev, path);
	snprintf(path, sizeof(path), "%s.name", f->involved);
	name = jstr(ev, path);
	char *lower = xstrdup(kind);
	for (char *p = lower; *p; p++)
		*p = (char)tolower((unsigned char)*p);

	const char *component = jstr(ev, f->component), *host = jstr(ev, f->host);
	if (!*component)
		component = jstr(ev, f->controller);
	if (!*host)
		host = jstr(ev, "reportingInstance");

	cell_str(r, last);
	cell_str(r, jstr(ev, "type"));
	cell_str(r, jstr(ev, "reason"));
	if (*name)
		cell_printf(r, "%s/%s", lower, name);
	else
		cell_str(r, lower);
	snprintf(path, sizeof(path), "%s.fieldPath", f->involved);
	cell_str(r, jstr(ev, path));
	if (*host)
		cell_printf(r, "%s, %s", component, host);
	else
		cell_str(r, component);
	/* strings.TrimSpace */
	msg = jstr(ev, f->message);
	while (isspace((unsigned char)*msg))
		msg++;
	size_t len = strlen(msg);
	while (len > 0 && isspace((unsigned char)msg[len - 1]))
		len--;
	cell_printf(r, "%.*s", (int)len, msg);
	cell_str(r, first);
	cell_int(r, count);
	cell_str(r, api_meta_name(ev));
	free(lower);
}

static void print_event(const json_t *ev, struct trow *r)
{
	print_event_with(ev, r, &core_event);
}

static void print_new_event(const json_t *ev, struct trow *r)
{
	print_event_with(ev, r, &new_event);
}

/* ---- the simple ones ---- */

static const struct tcol namespace_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Status", "string", "", "Active, or Terminating while being deleted.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void print_namespace(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_str(r, jstr(o, "status.phase"));
	cell_age(r, o);
}

static const struct tcol configmap_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Data", "string", "", "Number of keys in data and binaryData.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void print_configmap(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_int(r, (int64_t)(jlen(o, "data") + jlen(o, "binaryData")));
	cell_age(r, o);
}

static const struct tcol secret_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Type", "string", "", "What the secret holds, such as Opaque or kubernetes.io/tls.", 0},
	{"Data", "string", "", "Number of keys in data.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void print_secret(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_str(r, jstr(o, "type"));
	cell_int(r, (int64_t)jlen(o, "data"));
	cell_age(r, o);
}

static const struct tcol serviceaccount_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Secrets", "string", "", "Number of secrets listed for the account.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void print_serviceaccount(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_int(r, (int64_t)jlen(o, "secrets"));
	cell_age(r, o);
}

static const struct tcol rc_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Desired", "integer", "", "Pods the controller should run.", 0},
	{"Current", "integer", "", "Pods the controller runs.", 0},
	{"Ready", "integer", "", "Pods that are ready.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"Containers", "string", "", OA_D_CONTAINERS, 1},
	{"Images", "string", "", OA_D_IMAGES, 1},
	{"Selector", "string", "", OA_D_SELECTOR, 1},
};

static void print_rc(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_int(r, jint(o, "spec.replicas"));
	cell_int(r, jint(o, "status.replicas"));
	cell_int(r, jint(o, "status.readyReplicas"));
	cell_age(r, o);
	cell_containers(r, api_get_array(o, "spec.template.spec.containers"));
	_cleanup_free_ char *sel = format_labels(api_get_object(o, "spec.selector"));
	cell_str(r, sel);
}

static const struct tcol pvc_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Status", "string", "", "Pending, Bound or Lost; Terminating while being deleted.", 0},
	{"Volume", "string", "", "The volume bound to the claim.", 0},
	{"Capacity", "string", "", "The storage the bound volume provides.", 0},
	{"Access Modes", "string", "", "How the volume can be mounted: RWO, ROX, RWX, RWOP.", 0},
	{"StorageClass", "string", "", "The storage class of the claim.", 0},
	{"VolumeAttributesClass", "string", "", "The volume attributes class of the claim.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"VolumeMode", "string", "", "Filesystem or Block.", 1},
};

static bool has_mode(const json_t *modes, const char *mode)
{
	size_t i;
	json_t *m;

	json_array_foreach((json_t *)modes, i, m)
		if (json_is_string(m) && streq(json_string_value(m), mode))
			return true;
	return false;
}

static void print_pvc(const json_t *o, struct trow *r)
{
	static const char *const modes[][2] = {
		{"ReadWriteOnce", "RWO"},
		{"ReadOnlyMany", "ROX"},
		{"ReadWriteMany", "RWX"},
		{"ReadWriteOncePod", "RWOP"},
	};
	const char *volume = jstr(o, "spec.volumeName");
	struct buf access = {0};
	_cleanup_free_ char *capacity = NULL;

	buf_puts(&access, "");
	if (*volume) {
		struct api_quantity q;
		json_t *storage = api_get(o, "status.capacity.storage");
		if (api_quantity_from_json(storage, &q, NULL) == 0)
			capacity = api_quantity_format(&q);
		json_t *am = api_get_array(o, "status.accessModes");
		for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
			if (has_mode(am, modes[i][0]))
				buf_printf(&access, "%s%s", access.len ? "," : "", modes[i][1]);
	}
	const char *cls = api_meta_annotation(o, "volume.beta.kubernetes.io/storage-class");
	if (!cls)
		cls = jstr(o, "spec.storageClassName");
	const char *vac = api_get_str(o, "spec.volumeAttributesClassName");
	const char *mode = api_get_str(o, "spec.volumeMode");

	cell_str(r, api_meta_name(o));
	if (api_get(o, "metadata.deletionTimestamp"))
		cell_str(r, "Terminating");
	else
		cell_str(r, jstr(o, "status.phase"));
	cell_str(r, volume);
	cell_str(r, capacity ? capacity : "");
	cell_str(r, access.data);
	cell_str(r, cls);
	cell_str(r, vac ? vac : "<unset>");
	cell_age(r, o);
	cell_str(r, mode ? mode : "<unset>");
	buf_free(&access);
}

const struct tprinter oa_printers_core[] = {
	TPRINTER("", "Pod", pod_cols, print_pod),
	TPRINTER("", "Node", node_cols, print_node),
	TPRINTER("", "Event", event_cols, print_event),
	TPRINTER("events.k8s.io", "Event", event_cols, print_new_event),
	TPRINTER("", "Namespace", namespace_cols, print_namespace),
	TPRINTER("", "ConfigMap", configmap_cols, print_configmap),
	TPRINTER("", "Secret", secret_cols, print_secret),
	TPRINTER("", "ServiceAccount", serviceaccount_cols, print_serviceaccount),
	TPRINTER("", "ReplicationController", rc_cols, print_rc),
	TPRINTER("", "PersistentVolumeClaim", pvc_cols, print_pvc),
};
const size_t oa_nprinters_core = ARRAY_SIZE(oa_printers_core);
