/* Table printers for the workload controllers: deployments, replica sets,
 * stateful sets, daemon sets, jobs, cron jobs and controller revisions. */
#include <ctype.h>
#include <stdio.h>

#include "api/api.h"
#include "apiserver/openapi/internal.h"

static void cell_selector(struct trow *r, const json_t *ls)
{
	_cleanup_free_ char *s = format_label_selector(ls);
	cell_str(r, s);
}

static const struct tcol deployment_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Ready", "string", "", "Ready pods out of the desired number.", 0},
	{"Up-to-date", "string", "", "Pods that run the current template.", 0},
	{"Available", "string", "", "Pods ready for at least minReadySeconds.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"Containers", "string", "", OA_D_CONTAINERS, 1},
	{"Images", "string", "", OA_D_IMAGES, 1},
	{"Selector", "string", "", OA_D_SELECTOR, 1},
};

static void print_deployment(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_printf(r, "%lld/%lld", (long long)jint(o, "status.readyReplicas"),
		    (long long)jint(o, "spec.replicas"));
	cell_int(r, jint(o, "status.updatedReplicas"));
	cell_int(r, jint(o, "status.availableReplicas"));
	cell_age(r, o);
	cell_containers(r, api_get_array(o, "spec.template.spec.containers"));
	_cleanup_free_ char *sel = label_selector_string(api_get(o, "spec.selector"));
	cell_str(r, sel ? sel : "<invalid>");
}

static const struct tcol replicaset_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Desired", "integer", "", "Pods the replica set should run.", 0},
	{"Current", "integer", "", "Pods the replica set runs.", 0},
	{"Ready", "integer", "", "Pods that are ready.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"Containers", "string", "", OA_D_CONTAINERS, 1},
	{"Images", "string", "", OA_D_IMAGES, 1},
	{"Selector", "string", "", OA_D_SELECTOR, 1},
};

static void print_replicaset(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_int(r, jint(o, "spec.replicas"));
	cell_int(r, jint(o, "status.replicas"));
	cell_int(r, jint(o, "status.readyReplicas"));
	cell_age(r, o);
	cell_containers(r, api_get_array(o, "spec.template.spec.containers"));
	cell_selector(r, api_get(o, "spec.selector"));
}

static const struct tcol statefulset_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Ready", "string", "", "Ready pods out of the desired number.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"Containers", "string", "", OA_D_CONTAINERS, 1},
	{"Images", "string", "", OA_D_IMAGES, 1},
};

static void print_statefulset(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_printf(r, "%lld/%lld", (long long)jint(o, "status.readyReplicas"),
		    (long long)jint(o, "spec.replicas"));
	cell_age(r, o);
	cell_containers(r, api_get_array(o, "spec.template.spec.containers"));
}

static const struct tcol daemonset_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Desired", "integer", "", "Nodes that should run the daemon pod.", 0},
	{"Current", "integer", "", "Nodes that run at least one daemon pod.", 0},
	{"Ready", "integer", "", "Nodes whose daemon pod is ready.", 0},
	{"Up-to-date", "integer", "", "Nodes that run the current template.", 0},
	{"Available", "integer", "", "Nodes whose daemon pod is available.", 0},
	{"Node Selector", "string", "", "The labels a node needs to run the daemon pod.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"Containers", "string", "", OA_D_CONTAINERS, 1},
	{"Images", "string", "", OA_D_IMAGES, 1},
	{"Selector", "string", "", OA_D_SELECTOR, 1},
};

static void print_daemonset(const json_t *o, struct trow *r)
{
	cell_str(r, api_meta_name(o));
	cell_int(r, jint(o, "status.desiredNumberScheduled"));
	cell_int(r, jint(o, "status.currentNumberScheduled"));
	cell_int(r, jint(o, "status.numberReady"));
	cell_int(r, jint(o, "status.updatedNumberScheduled"));
	cell_int(r, jint(o, "status.numberAvailable"));
	_cleanup_free_ char *ns =
		format_labels(api_get_object(o, "spec.template.spec.nodeSelector"));
	cell_str(r, ns);
	cell_age(r, o);
	cell_containers(r, api_get_array(o, "spec.template.spec.containers"));
	cell_selector(r, api_get(o, "spec.selector"));
}

static const struct tcol job_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Status", "string", "", "Running, Complete, Failed, Suspended or Terminating.", 0},
	{"Completions", "string", "", "Pods that succeeded out of the completions wanted.", 0},
	{"Duration", "string", "", "How long the job ran or has been running.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"Containers", "string", "", OA_D_CONTAINERS, 1},
	{"Images", "string", "", OA_D_IMAGES, 1},
	{"Selector", "string", "", OA_D_SELECTOR, 1},
};

/* hasJobCondition: the first condition of that type decides. */
static bool job_condition(const json_t *o, const char *type)
{
	size_t i;
	json_t *c;

	json_array_foreach(api_get_array(o, "status.conditions"), i, c)
		if (streq(jstr(c, "type"), type))
			return streq(jstr(c, "status"), "True");
	return false;
}

static void print_job(const json_t *o, struct trow *r)
{
	int64_t succeeded = jint(o, "status.succeeded"), start, end;
	char duration[32] = "";
	const char *status;

	cell_str(r, api_meta_name(o));
	if (job_condition(o, "Complete"))
		status = "Complete";
	else if (job_condition(o, "Failed"))
		status = "Failed";
	else if (api_get(o, "metadata.deletionTimestamp"))
		status = "Terminating";
	else if (job_condition(o, "Suspended"))
		status = "Suspended";
	else if (job_condition(o, "FailureTarget"))
		status = "FailureTarget";
	else
		status = "Running";
	cell_str(r, status);

	if (api_get(o, "spec.completions"))
		cell_printf(r, "%lld/%lld", (long long)succeeded,
			    (long long)jint(o, "spec.completions"));
	else if (jint(o, "spec.parallelism") > 1)
		cell_printf(r, "%lld/1 of %lld", (long long)succeeded,
			    (long long)jint(o, "spec.parallelism"));
	else
		cell_printf(r, "%lld/1", (long long)succeeded);

	if (api_get_str(o, "status.startTime") &&
	    api_time_parse(api_get_str(o, "status.startTime"), &start, NULL) == 0) {
		if (api_get_str(o, "status.completionTime") &&
		    api_time_parse(api_get_str(o, "status.completionTime"), &end, NULL) == 0)
			table_human_duration(end - start, duration, sizeof(duration));
		else
			table_human_duration(r->now - start, duration, sizeof(duration));
	}
	cell_str(r, duration);
	cell_age(r, o);
	cell_containers(r, api_get_array(o, "spec.template.spec.containers"));
	cell_selector(r, api_get(o, "spec.selector"));
}

static const struct tcol cronjob_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Schedule", "string", "", "When jobs run, in cron format.", 0},
	{"Timezone", "string", "", "The time zone of the schedule.", 0},
	{"Suspend", "boolean", "", "Whether new runs are held back.", 0},
	{"Active", "integer", "", "Jobs running now.", 0},
	{"Last Schedule", "string", "", "Time since a job was last scheduled.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
	{"Containers", "string", "", OA_D_CONTAINERS, 1},
	{"Images", "string", "", OA_D_IMAGES, 1},
	{"Selector", "string", "", OA_D_SELECTOR, 1},
};

static void print_cronjob(const json_t *o, struct trow *r)
{
	const char *tz = api_get_str(o, "spec.timeZone");
	json_t *suspend = api_get(o, "spec.suspend");

	cell_str(r, api_meta_name(o));
	cell_str(r, jstr(o, "spec.schedule"));
	cell_str(r, tz ? tz : "<none>");
	/* printBoolPtr */
	if (!json_is_boolean(suspend))
		cell_str(r, "<unset>");
	else
		cell_str(r, json_is_true(suspend) ? "True" : "False");
	cell_int(r, (int64_t)jlen(o, "status.active"));
	if (api_get_str(o, "status.lastScheduleTime"))
		cell_since(r, api_get_str(o, "status.lastScheduleTime"));
	else
		cell_str(r, "<none>");
	cell_age(r, o);
	cell_containers(r, api_get_array(o, "spec.jobTemplate.spec.template.spec.containers"));
	cell_selector(r, api_get(o, "spec.jobTemplate.spec.selector"));
}

static const struct tcol revision_cols[] = {
	{"Name", "string", "name", OA_D_NAME, 0},
	{"Controller", "string", "", "The object that owns the revision, as kind.group/name.", 0},
	{"Revision", "string", "", "The revision number.", 0},
	{"Age", "string", "", OA_D_AGE, 0},
};

static void print_revision(const json_t *o, struct trow *r)
{
	json_t *ref = api_meta_controller_ref(o);

	cell_str(r, api_meta_name(o));
	if (!ref) {
		cell_str(r, "<none>");
	} else {
		/* strings.ToLower(GroupKind.String()) + "/" + name */
		const char *av = jstr(ref, "apiVersion"), *slash = strchr(av, '/');
		struct buf b = {0};
		buf_puts(&b, jstr(ref, "kind"));
		if (slash)
			buf_printf(&b, ".%.*s", (int)(slash - av), av);
		for (size_t i = 0; i < b.len; i++)
			b.data[i] = (char)tolower((unsigned char)b.data[i]);
		if (b.len)
			buf_printf(&b, "/%s", jstr(ref, "name"));
		else
			buf_puts(&b, jstr(ref, "name"));
		cell_str(r, b.data);
		buf_free(&b);
	}
	cell_int(r, jint(o, "revision"));
	cell_age(r, o);
}

const struct tprinter oa_printers_workloads[] = {
	TPRINTER("apps", "Deployment", deployment_cols, print_deployment),
	TPRINTER("apps", "ReplicaSet", replicaset_cols, print_replicaset),
	TPRINTER("apps", "StatefulSet", statefulset_cols, print_statefulset),
	TPRINTER("apps", "DaemonSet", daemonset_cols, print_daemonset),
	TPRINTER("apps", "ControllerRevision", revision_cols, print_revision),
	TPRINTER("batch", "Job", job_cols, print_job),
	TPRINTER("batch", "CronJob", cronjob_cols, print_cronjob),
};
const size_t oa_nprinters_workloads = ARRAY_SIZE(oa_printers_workloads);
