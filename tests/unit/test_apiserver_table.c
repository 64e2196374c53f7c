/* Table output as `kubectl get` prints it: kube-apiserver's columns per
 * kind, the cells it computes (pod STATUS, RESTARTS, node ROLES, service
 * PORT(S), AGE...) and the object carried in each row. */
#include "api/api.h"
#include "apiserver/openapi/openapi.h"

#include "tap.h"

static int64_t NOW;

#define KIND(g, k) ((struct sch_kind){.group = (g), .version = "v1", .kind = (k)})

static json_t *obj(const char *text)
{
	json_error_t err;
	json_t *o = json_loads(text, 0, &err);

	if (!o)
		printf("# bad test JSON: %s: %s\n", err.text, text);
	return o;
}

/* The cells of a one-object table, as compact JSON. */
static char *cells(struct sch_kind k, const char *text)
{
	json_t *o = obj(text);
	json_t *t = table_build_at(&k, &o, 1, NULL, NULL, false, NOW);
	/* jansson's compact form, without Go's \u003c escapes, reads better here */
	json_t *row = json_array_get(json_object_get(t, "rows"), 0);
	char *s = json_dumps(json_object_get(row, "cells"), JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(t);
	json_decref(o);
	return s;
}

/* "name:type:priority,..." of a kind's columns. */
static char *columns(struct sch_kind k)
{
	json_t *t = table_build_at(&k, NULL, 0, NULL, NULL, false, NOW);
	struct buf b = {0};
	size_t i;
	json_t *c;

	buf_puts(&b, "");
	json_array_foreach(json_object_get(t, "columnDefinitions"), i, c)
		buf_printf(&b, "%s%s:%s:%lld", i ? "," : "",
			   json_string_value(json_object_get(c, "name")),
			   json_string_value(json_object_get(c, "type")),
			   (long long)json_integer_value(json_object_get(c, "priority")));
	json_decref(t);
	return buf_steal(&b);
}

static void test_human_durations_round_as_kubectl_shows_them(void)
{
	static const struct {
		int64_t s;
		const char *want;
	} cases[] = {
		{-5, "<invalid>"}, {-1, "0s"}, {0, "0s"}, {59, "59s"}, {119, "119s"},
		{120, "2m"}, {150, "2m30s"}, {600, "10m"}, {179 * 60, "179m"}, {3 * 3600, "3h"},
		{3 * 3600 + 600, "3h10m"}, {8 * 3600 + 59, "8h"}, {47 * 3600, "47h"},
		{48 * 3600, "2d"}, {50 * 3600, "2d2h"}, {8 * 86400, "8d"}, {729 * 86400, "729d"},
		{730 * 86400, "2y"}, {731 * 86400, "2y1d"}, {8 * 365 * 86400LL, "8y"},
	};
	char out[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		table_human_duration(cases[i].s * 1000000000LL, out, sizeof(out));
		CHECK_STREQ(out, cases[i].want);
	}
	table_human_duration(-1500000000LL, out, sizeof(out));
	CHECK_STREQ(out, "0s");
}

static void test_pod_columns_are_kube_apiservers(void)
{
	_cleanup_free_ char *c = columns(KIND("", "Pod"));
	CHECK_STREQ(c, "Name:string:0,Ready:string:0,Status:string:0,Restarts:string:0,"
		       "Age:string:0,"
		       "IP:string:1,Node:string:1,Nominated Node:string:1,"
		       "Readiness Gates:string:1");
	json_t *t = table_build_at(&KIND("", "Pod"), NULL, 0, NULL, NULL, false, NOW);
	json_t *first = json_array_get(json_object_get(t, "columnDefinitions"), 0);
	_cleanup_free_ char *name = api_json_dumps(first);
	CHECK(str_has_prefix(name, "{\"name\":\"Name\",\"type\":\"string\",\"format\":\"name\","
				   "\"description\":"));
	CHECK(str_has_suffix(name, ",\"priority\":0}"));
	json_decref(t);
}

static void test_running_pod(void)
{
	_cleanup_free_ char *c = cells(KIND("", "Pod"),
		"{\"metadata\":{\"name\":\"web-1\",\"creationTimestamp\":\"2026-11-27T11:55:00Z\"},"
		"\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"a\"}]},"
		"\"status\":{\"phase\":\"Running\",\"podIPs\":[{\"ip\":\"198.18.0.5\"}],"
		"\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"
		"\"containerStatuses\":[{\"name\":\"a\",\"ready\":true,\"restartCount\":0,"
		"\"state\":{\"running\":{}}}]}}");
	CHECK_STREQ(c, "[\"web-1\",\"1/1\",\"Running\",\"0\",\"5m\",\"198.18.0.5\",\"n1\","
		       "\"<none>\",\"<none>\"]");
}

static void test_crashing_pod_shows_the_waiting_reason_and_last_restart(void)
{
	_cleanup_free_ char *c = cells(KIND("", "Pod"),
		"{\"metadata\":{\"name\":\"bad\",\"creationTimestamp\":\"2026-11-27T11:50:00Z\"},"
		"\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
		"\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"a\","
		"\"ready\":false,"
		"\"restartCount\":5,\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}},"
		"\"lastState\":{\"terminated\":{\"exitCode\":1,"
		"\"finishedAt\":\"2026-11-27T11:57:00Z\"}}}]}}");
	CHECK_STREQ(c, "[\"bad\",\"0/1\",\"CrashLoopBackOff\",\"5 (3m ago)\",\"10m\",\"<none>\","
		       "\"<none>\","
		       "\"<none>\",\"<none>\"]");
}

static void test_finished_pods_are_completed_with_a_row_condition(void)
{
	json_t *o = obj("{\"metadata\":{\"name\":\"job-x\","
			"\"creationTimestamp\":\"2026-11-27T11:00:00Z\"},"
			"\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
			"\"status\":{\"phase\":\"Succeeded\","
			"\"containerStatuses\":[{\"name\":\"a\","
			"\"state\":{\"terminated\":{\"exitCode\":0,"
			"\"reason\":\"Completed\"}}}]}}");
	json_t *t = table_build_at(&KIND("", "Pod"), &o, 1, NULL, NULL, false, NOW);
	json_t *row = json_array_get(json_object_get(t, "rows"), 0);
	_cleanup_free_ char *c = json_dumps(json_object_get(row, "cells"), JSON_COMPACT);
	_cleanup_free_ char *cond = api_json_dumps(json_object_get(row, "conditions"));
	CHECK_STREQ(c, "[\"job-x\",\"0/1\",\"Completed\",\"0\",\"60m\",\"<none>\",\"<none>\","
		       "\"<none>\",\"<none>\"]");
	CHECK_STREQ(cond, "[{\"type\":\"Completed\",\"status\":\"True\",\"reason\":\"Succeeded\","
			  "\"message\":\"The pod has completed successfully.\"}]");
	json_decref(t);
	json_decref(o);

	_cleanup_free_ char *f = cells(KIND("", "Pod"),
		"{\"metadata\":{\"name\":\"f\"},\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
		"\"status\":{\"phase\":\"Failed\",\"containerStatuses\":[{\"name\":\"a\",\"state\":"
		"{\"terminated\":{\"exitCode\":137,\"signal\":9}}}]}}");
	CHECK_STREQ(f, "[\"f\",\"0/1\",\"Signal:9\",\"0\",\"<unknown>\",\"<none>\",\"<none>\","
		       "\"<none>\",\"<none>\"]");
}

static const char *status_of(const char *pod_json, char *out, size_t cap)
{
	json_t *o = obj(pod_json);
	json_t *t = table_build_at(&KIND("", "Pod"), &o, 1, NULL, NULL, false, NOW);
	json_t *cellv = json_object_get(json_array_get(json_object_get(t, "rows"), 0), "cells");
	snprintf(out, cap, "%s/%s", json_string_value(json_array_get(cellv, 1)),
		 json_string_value(json_array_get(cellv, 2)));
	json_decref(t);
	json_decref(o);
	return out;
}

static void test_pod_status_while_initializing(void)
{
	char s[128];

	CHECK_STREQ(status_of("{\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],"
			      "\"containers\":[{\"name\":\"a\"}]},"
			      "\"status\":{\"phase\":\"Pending\","
			      "\"initContainerStatuses\":[{\"name\":\"i1\","
			      "\"state\":{\"running\":{}}},"
			      "{\"name\":\"i2\","
			      "\"state\":{\"waiting\":{\"reason\":\"PodInitializing\"}}}]}}",
			      s, sizeof(s)),
		    "0/1/Init:0/2");
	CHECK_STREQ(status_of("{\"spec\":{\"initContainers\":[{\"name\":\"i1\"},{\"name\":\"i2\"}],"
			      "\"containers\":[{\"name\":\"a\"}]},"
			      "\"status\":{\"phase\":\"Pending\","
			      "\"initContainerStatuses\":[{\"name\":\"i1\","
			      "\"state\":{\"terminated\":"
			      "{\"exitCode\":0}}},{\"name\":\"i2\","
			      "\"state\":{\"waiting\":{\"reason\":"
			      "\"CrashLoopBackOff\"}}}]}}",
			      s, sizeof(s)),
		    "0/1/Init:CrashLoopBackOff");
	CHECK_STREQ(status_of("{\"spec\":{\"initContainers\":[{\"name\":\"i1\"}],"
			      "\"containers\":[{\"name\":\"a\"}]},"
			      "\"status\":{\"phase\":\"Pending\","
			      "\"initContainerStatuses\":[{\"name\":\"i1\","
			      "\"state\":{\"terminated\":"
			      "{\"exitCode\":3}}}]}}",
			      s, sizeof(s)),
		    "0/1/Init:ExitCode:3");
	/* a running sidecar (restartable init container) counts as a container */
	CHECK_STREQ(status_of("{\"spec\":{\"initContainers\":[{\"name\":\"side\",\"restartPolicy\":"
			      "\"Always\"}],\"containers\":[{\"name\":\"a\"}]},"
			      "\"status\":{\"phase\":"
			      "\"Running\",\"conditions\":[{\"type\":\"Initialized\","
			      "\"status\":\"True\"}],"
			      "\"initContainerStatuses\":[{\"name\":\"side\",\"started\":true,"
			      "\"ready\":true,"
			      "\"state\":{\"running\":{}}}],\"containerStatuses\":[{\"name\":\"a\","
			      "\"ready\":true,\"state\":{\"running\":{}}}]}}",
			      s, sizeof(s)),
		    "2/2/Running");
}

static void test_pod_status_reasons(void)
{
	char s[128];

	CHECK_STREQ(status_of("{\"metadata\":{\"deletionTimestamp\":\"2026-11-27T11:59:00Z\"},"
			      "\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
			      "\"status\":{\"phase\":\"Running\"}}",
			      s, sizeof(s)),
		    "0/1/Terminating");
	CHECK_STREQ(status_of("{\"metadata\":{\"deletionTimestamp\":\"2026-11-27T11:59:00Z\"},"
			      "\"spec\":{\"containers\":[{\"name\":\"a\"}]},"
			      "\"status\":{\"phase\":\"Running\","
			      "\"reason\":\"NodeLost\"}}",
			      s, sizeof(s)),
		    "0/1/Unknown");
	CHECK_STREQ(status_of("{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":"
			      "\"Pending\",\"conditions\":[{\"type\":\"PodScheduled\","
			      "\"status\":\"False\","
			      "\"reason\":\"SchedulingGated\"}]}}",
			      s, sizeof(s)),
		    "0/1/SchedulingGated");
	CHECK_STREQ(status_of("{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{\"phase\":"
			      "\"Pending\",\"containerStatuses\":[{\"name\":\"a\","
			      "\"state\":{\"waiting\":"
			      "{\"reason\":\"ContainerCreating\"}}}]}}",
			      s, sizeof(s)),
		    "0/1/ContainerCreating");
	CHECK_STREQ(status_of("{\"spec\":{\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"}]},"
			      "\"status\":{\"phase\":\"Running\","
			      "\"containerStatuses\":[{\"name\":\"a\","
			      "\"ready\":true,\"state\":{\"running\":{}}},{\"name\":\"b\","
			      "\"state\":"
			      "{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}}",
			      s, sizeof(s)),
		    "1/2/NotReady");
	CHECK_STREQ(status_of("{\"spec\":{\"containers\":[{\"name\":\"a\"}]},\"status\":{}}", s,
			      sizeof(s)),
		    "0/1/");
}

static void test_readiness_gates_count_true_conditions(void)
{
	_cleanup_free_ char *c = cells(KIND("", "Pod"),
		"{\"metadata\":{\"name\":\"g\"},\"spec\":{\"containers\":[],\"readinessGates\":"
		"[{\"conditionType\":\"x\"},{\"conditionType\":\"y\"}]},"
		"\"status\":{\"phase\":\"Running\","
		"\"nominatedNodeName\":\"n2\",\"conditions\":[{\"type\":\"x\",\"status\":\"True\"},"
		"{\"type\":\"y\",\"status\":\"False\"}]}}");
	CHECK_STREQ(c, "[\"g\",\"0/0\",\"Running\",\"0\",\"<unknown>\",\"<none>\",\"<none>\","
		       "\"n2\",\"1/2\"]");
}

static void test_rows_carry_partial_metadata_or_the_object(void)
{
	json_t *o = obj("{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"x\","
			"\"namespace\":\"default\",\"resourceVersion\":\"101\"},\"spec\":{}}");
	json_t *t = table_build_at(&KIND("", "Pod"), &o, 1, "103", "next", false, NOW);
	_cleanup_free_ char *meta = api_json_dumps(json_object_get(t, "metadata"));
	json_t *first = json_array_get(json_object_get(t, "rows"), 0);
	_cleanup_free_ char *row = api_json_dumps(json_object_get(first, "object"));
	CHECK_STREQ(json_string_value(json_object_get(t, "kind")), "Table");
	CHECK_STREQ(json_string_value(json_object_get(t, "apiVersion")), "meta.k8s.io/v1");
	CHECK_STREQ(meta, "{\"resourceVersion\":\"103\",\"continue\":\"next\"}");
	CHECK_STREQ(row, "{\"kind\":\"PartialObjectMetadata\",\"apiVersion\":\"meta.k8s.io/v1\","
			 "\"metadata\":{\"name\":\"x\",\"namespace\":\"default\","
			 "\"resourceVersion\":\"101\"}}");
	json_decref(t);

	t = table_build_at(&KIND("", "Pod"), &o, 1, NULL, NULL, true, NOW);
	json_t *row0 = json_array_get(json_object_get(t, "rows"), 0);
	CHECK(json_equal(json_object_get(row0, "object"), o));
	_cleanup_free_ char *empty_meta = api_json_dumps(json_object_get(t, "metadata"));
	CHECK_STREQ(empty_meta, "{}");
	json_decref(t);
	json_decref(o);

	t = table_build_at(&KIND("", "Pod"), NULL, 0, "5", NULL, false, NOW);
	_cleanup_free_ char *rows = api_json_dumps(json_object_get(t, "rows"));
	CHECK_STREQ(rows, "[]");
	json_decref(t);
}

static void test_nodes_show_status_roles_and_addresses(void)
{
	_cleanup_free_ char *cols = columns(KIND("", "Node"));
	CHECK_STREQ(cols, "Name:string:0,Status:string:0,Roles:string:0,Age:string:0,"
			  "Version:string:0,"
			  "Internal-IP:string:1,External-IP:string:1,OS-Image:string:1,"
			  "Kernel-Version:string:1,Container-Runtime:string:1");
	_cleanup_free_ char *c = cells(KIND("", "Node"),
		"{\"metadata\":{\"name\":\"n1\",\"creationTimestamp\":\"2026-11-25T12:00:00Z\","
		"\"labels\":{\"node-role.kubernetes.io/worker\":\"\","
		"\"node-role.kubernetes.io/control-plane\":\"\","
		"\"kubernetes.io/role\":\"infra\",\"node-role.kubernetes.io/\":\"\"}},"
		"\"spec\":{\"unschedulable\":true},"
		"\"status\":{\"conditions\":[{\"type\":\"MemoryPressure\","
		"\"status\":\"False\"},{\"type\":\"Ready\",\"status\":\"True\"}],\"addresses\":"
		"[{\"type\":\"Hostname\",\"address\":\"n1\"},{\"type\":\"InternalIP\","
		"\"address\":\"198.18.0.1\"}],"
		"\"nodeInfo\":{\"kubeletVersion\":\"v1.32.0\","
		"\"osImage\":\"Debian GNU/Linux 12\"}}}");
	CHECK_STREQ(c, "[\"n1\",\"Ready,SchedulingDisabled\",\"control-plane,infra,worker\",\"2d\","
		       "\"v1.32.0\",\"198.18.0.1\",\"<none>\",\"Debian GNU/Linux 12\",\"<unknown>\","
		       "\"<unknown>\"]");
	_cleanup_free_ char *u = cells(KIND("", "Node"), "{\"metadata\":{\"name\":\"n2\"}}");
	CHECK_STREQ(u, "[\"n2\",\"Unknown\",\"<none>\",\"<unknown>\",\"\",\"<none>\",\"<none>\","
		       "\"<unknown>\",\"<unknown>\",\"<unknown>\"]");
}

static void test_services_show_addresses_and_ports(void)
{
	_cleanup_free_ char *cols = columns(KIND("", "Service"));
	CHECK_STREQ(cols, "Name:string:0,Type:string:0,Cluster-IP:string:0,External-IP:string:0,"
			  "Port(s):string:0,Age:string:0,Selector:string:1");
	_cleanup_free_ char *c = cells(KIND("", "Service"),
		"{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2026-11-27T11:59:30Z\"},"
		"\"spec\":{\"type\":\"NodePort\",\"clusterIPs\":[\"198.19.0.10\"],"
		"\"selector\":{\"tier\":\"fe\","
		"\"app\":\"web\"},\"ports\":[{\"port\":80,\"nodePort\":30080,\"protocol\":\"TCP\"},"
		"{\"port\":53,\"protocol\":\"UDP\"}]}}");
	CHECK_STREQ(c, "[\"web\",\"NodePort\",\"198.19.0.10\",\"<none>\",\"80:30080/TCP,53/UDP\","
		       "\"30s\","
		       "\"app=web,tier=fe\"]");
	_cleanup_free_ char *lb = cells(KIND("", "Service"),
		"{\"metadata\":{\"name\":\"lb\"},\"spec\":{\"type\":\"LoadBalancer\","
		"\"clusterIPs\":"
		"[\"198.19.0.11\"],\"ports\":[{\"port\":443,\"protocol\":\"TCP\","
		"\"nodePort\":31000}]}}");
	CHECK_STREQ(lb, "[\"lb\",\"LoadBalancer\",\"198.19.0.11\",\"<pending>\",\"443:31000/TCP\","
			"\"<unknown>\",\"<none>\"]");
	_cleanup_free_ char *lb2 = cells(KIND("", "Service"),
		"{\"metadata\":{\"name\":\"lb\"},\"spec\":{\"type\":\"LoadBalancer\","
		"\"externalIPs\":"
		"[\"192.0.2.9\"]},"
		"\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"192.0.2.7\"},"
		"{\"hostname\":\"a.example\"},{\"ip\":\"192.0.2.7\"}]}}}");
	CHECK_STREQ(lb2, "[\"lb\",\"LoadBalancer\",\"<none>\",\"192.0.2.7,a.example,192.0.2.9\","
			 "\"<none>\","
			 "\"<unknown>\",\"<none>\"]");
	_cleanup_free_ char *en = cells(KIND("", "Service"),
		"{\"metadata\":{\"name\":\"ext\"},\"spec\":{\"type\":\"ExternalName\","
		"\"externalName\":"
		"\"db.example\"}}");
	CHECK_STREQ(en, "[\"ext\",\"ExternalName\",\"<none>\",\"db.example\",\"<none>\","
			"\"<unknown>\",\"<none>\"]");
}

static void test_endpoints_show_three_addresses_and_the_rest_counted(void)
{
	_cleanup_free_ char *c = cells(KIND("", "Endpoints"),
		"{\"metadata\":{\"name\":\"web\"},"
		"\"subsets\":[{\"addresses\":[{\"ip\":\"198.18.0.1\"},"
		"{\"ip\":\"198.18.0.2\"}],\"ports\":[{\"port\":80},{\"port\":443}]}]}");
	CHECK_STREQ(c, "[\"web\",\"198.18.0.1:80,198.18.0.2:80,198.18.0.1:443 + 1 more...\","
		       "\"<unknown>\"]");
	_cleanup_free_ char *none = cells(KIND("", "Endpoints"), "{\"metadata\":{\"name\":\"x\"}}");
	CHECK_STREQ(none, "[\"x\",\"<none>\",\"<unknown>\"]");
	_cleanup_free_ char *slice = cells(KIND("discovery.k8s.io", "EndpointSlice"),
		"{\"metadata\":{\"name\":\"web-abc\"},\"addressType\":\"IPv4\","
		"\"ports\":[{\"port\":80},"
		"{\"name\":\"https\"}],\"endpoints\":[{\"addresses\":[\"198.18.0.1\"]}]}");
	CHECK_STREQ(slice, "[\"web-abc\",\"IPv4\",\"80,https\",\"198.18.0.1\",\"<unknown>\"]");
	_cleanup_free_ char *empty = cells(KIND("discovery.k8s.io", "EndpointSlice"),
		"{\"metadata\":{\"name\":\"e\"},\"addressType\":\"IPv4\"}");
	CHECK_STREQ(empty, "[\"e\",\"IPv4\",\"<unset>\",\"<unset>\",\"<unknown>\"]");
}

static void test_workload_controllers(void)
{
	_cleanup_free_ char *dc = columns(KIND("apps", "Deployment"));
	CHECK_STREQ(dc, "Name:string:0,Ready:string:0,Up-to-date:string:0,Available:string:0,"
			"Age:string:0,Containers:string:1,Images:string:1,Selector:string:1");
	_cleanup_free_ char *d = cells(KIND("apps", "Deployment"),
		"{\"metadata\":{\"name\":\"web\",\"creationTimestamp\":\"2026-11-27T09:00:00Z\"},"
		"\"spec\":{\"replicas\":3,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},"
		"\"template\":"
		"{\"spec\":{\"containers\":[{\"name\":\"nginx\",\"image\":\"nginx:1.27\"},"
		"{\"name\":\"log\","
		"\"image\":\"busybox\"}]}}},\"status\":{\"replicas\":3,\"readyReplicas\":2,"
		"\"updatedReplicas\":3,\"availableReplicas\":2}}");
	CHECK_STREQ(d, "[\"web\",\"2/3\",3,2,\"3h\",\"nginx,log\",\"nginx:1.27,busybox\","
		       "\"app=web\"]");
	_cleanup_free_ char *rs = cells(KIND("apps", "ReplicaSet"),
		"{\"metadata\":{\"name\":\"web-1\"},\"spec\":{\"replicas\":2,"
		"\"selector\":{\"matchExpressions\":"
		"[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"b\",\"a\"]}]}},"
		"\"status\":{\"replicas\":2}}");
	CHECK_STREQ(rs, "[\"web-1\",2,2,0,\"<unknown>\",\"\",\"\",\"tier in (a,b)\"]");
	_cleanup_free_ char *sts = cells(KIND("apps", "StatefulSet"),
		"{\"metadata\":{\"name\":\"db\"},\"spec\":{\"replicas\":3},"
		"\"status\":{\"readyReplicas\":1}}");
	CHECK_STREQ(sts, "[\"db\",\"1/3\",\"<unknown>\",\"\",\"\"]");
	_cleanup_free_ char *ds = cells(KIND("apps", "DaemonSet"),
		"{\"metadata\":{\"name\":\"agent\"},"
		"\"spec\":{\"template\":{\"spec\":{\"nodeSelector\":"
		"{\"kubernetes.io/os\":\"linux\"}}}},\"status\":{\"desiredNumberScheduled\":2,"
		"\"currentNumberScheduled\":2,\"numberReady\":1,\"updatedNumberScheduled\":2,"
		"\"numberAvailable\":1}}");
	CHECK_STREQ(ds, "[\"agent\",2,2,1,2,1,\"kubernetes.io/os=linux\",\"<unknown>\",\"\",\"\","
			"\"<none>\"]");
}

static void test_jobs_and_cronjobs(void)
{
	_cleanup_free_ char *j = cells(KIND("batch", "Job"),
		"{\"metadata\":{\"name\":\"pi\",\"creationTimestamp\":\"2026-11-27T11:55:00Z\"},"
		"\"spec\":{\"completions\":3},\"status\":{\"succeeded\":1,"
		"\"startTime\":\"2026-11-27T11:58:00Z\"}}");
	CHECK_STREQ(j, "[\"pi\",\"Running\",\"1/3\",\"2m\",\"5m\",\"\",\"\",\"<none>\"]");
	_cleanup_free_ char *done = cells(KIND("batch", "Job"),
		"{\"metadata\":{\"name\":\"pi\"},\"spec\":{\"parallelism\":2},"
		"\"status\":{\"succeeded\":1,"
		"\"startTime\":\"2026-11-27T11:00:00Z\","
		"\"completionTime\":\"2026-11-27T11:00:42Z\","
		"\"conditions\":[{\"type\":\"Complete\",\"status\":\"True\"}]}}");
	CHECK_STREQ(done, "[\"pi\",\"Complete\",\"1/1 of 2\",\"42s\",\"<unknown>\",\"\",\"\","
			  "\"<none>\"]");
	_cleanup_free_ char *cj = cells(KIND("batch", "CronJob"),
		"{\"metadata\":{\"name\":\"tick\"},\"spec\":{\"schedule\":\"*/5 * * * *\","
		"\"suspend\":false},"
		"\"status\":{\"active\":[{\"name\":\"a\"}],"
		"\"lastScheduleTime\":\"2026-11-27T11:55:00Z\"}}");
	CHECK_STREQ(cj, "[\"tick\",\"*/5 * * * *\",\"<none>\",\"False\",1,\"5m\",\"<unknown>\","
			"\"\",\"\",\"<none>\"]");
}

static void test_events_show_last_seen_type_reason_object_message(void)
{
	_cleanup_free_ char *cols = columns(KIND("", "Event"));
	CHECK_STREQ(cols, "Last Seen:string:0,Type:string:0,Reason:string:0,Object:string:0,"
			  "Subobject:string:1,Source:string:1,Message:string:0,First Seen:string:1,"
			  "Count:string:1,Name:string:1");
	_cleanup_free_ char *c = cells(KIND("", "Event"),
		"{\"metadata\":{\"name\":\"web-1.abc\"},\"type\":\"Warning\","
		"\"reason\":\"BackOff\","
		"\"message\":\" Back-off restarting failed container\\n\",\"count\":3,"
		"\"firstTimestamp\":\"2026-11-27T11:50:00Z\","
		"\"lastTimestamp\":\"2026-11-27T11:58:00Z\","
		"\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"web-1\","
		"\"fieldPath\":\"spec.containers{a}\"},"
		"\"source\":{\"component\":\"kubelet\",\"host\":\"n1\"}}");
	CHECK_STREQ(c, "[\"2m\",\"Warning\",\"BackOff\",\"pod/web-1\",\"spec.containers{a}\","
		       "\"kubelet, n1\","
		       "\"Back-off restarting failed container\",\"10m\",3,\"web-1.abc\"]");
	_cleanup_free_ char *n = cells(KIND("", "Event"),
		"{\"metadata\":{\"name\":\"e\"},\"type\":\"Normal\",\"reason\":\"Scheduled\","
		"\"message\":\"ok\","
		"\"eventTime\":\"2026-11-27T11:59:00.000000Z\","
		"\"reportingComponent\":\"default-scheduler\","
		"\"involvedObject\":{\"kind\":\"Node\"}}");
	CHECK_STREQ(n, "[\"60s\",\"Normal\",\"Scheduled\",\"node\",\"\",\"default-scheduler\","
		       "\"ok\",\"60s\",1,\"e\"]");
	_cleanup_free_ char *v1 = cells(KIND("events.k8s.io", "Event"),
		"{\"metadata\":{\"name\":\"e\"},\"type\":\"Normal\",\"reason\":\"Pulled\","
		"\"note\":\"done\","
		"\"eventTime\":\"2026-11-27T11:59:00.000000Z\",\"reportingController\":\"kubelet\","
		"\"reportingInstance\":\"n1\",\"regarding\":{\"kind\":\"Pod\",\"name\":\"p\"},"
		"\"series\":{\"count\":4,\"lastObservedTime\":\"2026-11-27T11:59:50.000000Z\"}}");
	CHECK_STREQ(v1, "[\"10s\",\"Normal\",\"Pulled\",\"pod/p\",\"\",\"kubelet, n1\",\"done\","
			"\"60s\",4,\"e\"]");
}

static void test_config_secrets_accounts_namespaces(void)
{
	_cleanup_free_ char *cm = cells(KIND("", "ConfigMap"),
		"{\"metadata\":{\"name\":\"cfg\",\"creationTimestamp\":\"2026-11-27T11:59:59Z\"},"
		"\"data\":{\"a\":\"1\",\"b\":\"2\"},\"binaryData\":{\"c\":\"AA==\"}}");
	CHECK_STREQ(cm, "[\"cfg\",3,\"1s\"]");
	_cleanup_free_ char *sc = columns(KIND("", "Secret"));
	CHECK_STREQ(sc, "Name:string:0,Type:string:0,Data:string:0,Age:string:0");
	_cleanup_free_ char *s = cells(KIND("", "Secret"),
		"{\"metadata\":{\"name\":\"tls\"},\"type\":\"kubernetes.io/tls\","
		"\"data\":{\"tls.crt\":\"\","
		"\"tls.key\":\"\"}}");
	CHECK_STREQ(s, "[\"tls\",\"kubernetes.io/tls\",2,\"<unknown>\"]");
	_cleanup_free_ char *sa = cells(KIND("", "ServiceAccount"),
					"{\"metadata\":{\"name\":\"default\"}}");
	CHECK_STREQ(sa, "[\"default\",0,\"<unknown>\"]");
	_cleanup_free_ char *ns = cells(KIND("", "Namespace"),
		"{\"metadata\":{\"name\":\"kube-system\"},\"status\":{\"phase\":\"Active\"}}");
	CHECK_STREQ(ns, "[\"kube-system\",\"Active\",\"<unknown>\"]");
}

static void test_networking_policy_and_coordination(void)
{
	_cleanup_free_ char *ing = cells(KIND("networking.k8s.io", "Ingress"),
		"{\"metadata\":{\"name\":\"web\"},\"spec\":{\"ingressClassName\":\"nginx\","
		"\"tls\":[{}],"
		"\"rules\":[{\"host\":\"a.example\"},{},{\"host\":\"b.example\"}]}}");
	CHECK_STREQ(ing, "[\"web\",\"nginx\",\"a.example,b.example\",\"\",\"80, 443\","
			 "\"<unknown>\"]");
	_cleanup_free_ char *np = cells(KIND("networking.k8s.io", "NetworkPolicy"),
		"{\"metadata\":{\"name\":\"deny\"},\"spec\":{\"podSelector\":{}}}");
	CHECK_STREQ(np, "[\"deny\",\"<none>\",\"<unknown>\"]");
	_cleanup_free_ char *pdb = cells(KIND("policy", "PodDisruptionBudget"),
		"{\"metadata\":{\"name\":\"p\"},\"spec\":{\"minAvailable\":\"50%\"},\"status\":"
		"{\"disruptionsAllowed\":1}}");
	CHECK_STREQ(pdb, "[\"p\",\"50%\",\"N/A\",1,\"<unknown>\"]");
	_cleanup_free_ char *lease = cells(KIND("coordination.k8s.io", "Lease"),
		"{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"holderIdentity\":\"n1\"}}");
	CHECK_STREQ(lease, "[\"n1\",\"n1\",\"<unknown>\"]");
	_cleanup_free_ char *rb = cells(KIND("rbac.authorization.k8s.io", "RoleBinding"),
		"{\"metadata\":{\"name\":\"rb\"},\"roleRef\":{\"kind\":\"Role\",\"name\":\"view\"},"
		"\"subjects\":[{\"kind\":\"User\",\"name\":\"alice\"},{\"kind\":\"ServiceAccount\","
		"\"namespace\":\"ns\",\"name\":\"sa\"},{\"kind\":\"User\",\"name\":\"bob\"}]}");
	CHECK_STREQ(rb, "[\"rb\",\"Role/view\",\"<unknown>\",\"alice, bob\",\"\",\"ns/sa\"]");
}

static void test_kinds_without_a_printer_get_the_default_table(void)
{
	struct sch_kind k = KIND("example.com", "Widget");
	_cleanup_free_ char *cols = columns(k);
	CHECK_STREQ(cols, "Name:string:0,Created At:date:0");
	_cleanup_free_ char *c = cells(k, "{\"metadata\":{\"name\":\"w\",\"creationTimestamp\":"
					  "\"2026-11-27T11:00:00Z\"}}");
	CHECK_STREQ(c, "[\"w\",\"2026-11-27T11:00:00Z\"]");
	json_t *t = table_build_at(&k, NULL, 0, NULL, NULL, false, NOW);
	CHECK(json_is_null(json_object_get(t, "rows")));
	json_decref(t);
}

static void test_every_served_kind_has_one_cell_per_column(void)
{
	json_t *objs[2];

	objs[0] = obj("{\"metadata\":{\"name\":\"x\","
		      "\"creationTimestamp\":\"2026-11-27T11:00:00Z\"}}");
	objs[1] = obj("{}");
	for (size_t i = 0; i < sch_nkinds; i++) {
		json_t *t = table_build(&sch_kinds[i], objs, 2, "1", NULL, false);
		size_t ncols = json_array_size(json_object_get(t, "columnDefinitions"));
		json_t *rows = json_object_get(t, "rows");
		CHECK_INT(json_array_size(rows), 2);
		for (size_t r = 0; r < json_array_size(rows); r++) {
			json_t *row = json_array_get(rows, r);
			CHECK_INT(json_array_size(json_object_get(row, "cells")), ncols);
		}
		json_decref(t);
	}
	json_decref(objs[0]);
	json_decref(objs[1]);
}

int main(void)
{
	if (api_time_parse("2026-11-27T12:00:00Z", &NOW, NULL) < 0)
		return 1;
	RUN(test_human_durations_round_as_kubectl_shows_them);
	RUN(test_pod_columns_are_kube_apiservers);
	RUN(test_running_pod);
	RUN(test_crashing_pod_shows_the_waiting_reason_and_last_restart);
	RUN(test_finished_pods_are_completed_with_a_row_condition);
	RUN(test_pod_status_while_initializing);
	RUN(test_pod_status_reasons);
	RUN(test_readiness_gates_count_true_conditions);
	RUN(test_rows_carry_partial_metadata_or_the_object);
	RUN(test_nodes_show_status_roles_and_addresses);
	RUN(test_services_show_addresses_and_ports);
	RUN(test_endpoints_show_three_addresses_and_the_rest_counted);
	RUN(test_workload_controllers);
	RUN(test_jobs_and_cronjobs);
	RUN(test_events_show_last_seen_type_reason_object_message);
	RUN(test_config_secrets_accounts_namespaces);
	RUN(test_networking_policy_and_coordination);
	RUN(test_kinds_without_a_printer_get_the_default_table);
	RUN(test_every_served_kind_has_one_cell_per_column);
	return tap_done();
}
