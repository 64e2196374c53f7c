/* batch/v1: Job (defaults, the generated selector, spec rules, immutable fields) and
 * CronJob (schedule, time zone, job template). */
#include <stdio.h>

#include "apiserver/validate/pod.h"

/* ---- Job ---- */

static void job_default(json_t *job)
{
	json_t *spec = js_obj(job, "spec");
	json_t *tmpl = js_obj(spec, "template");
	json_t *tlabels = js_obj(js_obj(tmpl, "metadata"), "labels");

	if (!spec)
		return;
	pod_template_default(tmpl);
	if (!js_has(spec, "completions") && !js_has(spec, "parallelism"))
		json_object_set_new(spec, "completions", json_integer(1));
	if (!js_has(spec, "parallelism"))
		json_object_set_new(spec, "parallelism", json_integer(1));
	if (!js_has(spec, "backoffLimit"))
		json_object_set_new(spec, "backoffLimit",
				    json_integer(js_has(spec, "backoffLimitPerIndex") ? INT32_MAX : 6));
	if (!js_has(spec, "completionMode"))
		json_object_set_new(spec, "completionMode", json_string("NonIndexed"));
	if (!js_has(spec, "suspend"))
		json_object_set_new(spec, "suspend", json_false());
	if (!js_has(spec, "manualSelector"))
		json_object_set_new(spec, "manualSelector", json_false());
	if (!js_has(spec, "podReplacementPolicy"))
		json_object_set_new(spec, "podReplacementPolicy",
				    json_string(js_has(spec, "podFailurePolicy") ? "Failed"
										 : "TerminatingOrFailed"));
	if (json_object_size(tlabels) && !json_object_size(api_meta_labels(job))) {
		json_t *meta = js_obj(job, "metadata");

		if (!meta) {
			meta = json_object();
			json_object_set_new(job, "metadata", meta);
		}
		json_object_set_new(meta, "labels", json_deep_copy(tlabels));
	}
}

/* Once the server knows the Job's uid: the selector and pod labels it generates, unless
 * the client chose manualSelector. */
void job_generate_selector(json_t *job)
{
	static const char *const name_labels[] = {"job-name", "batch.kubernetes.io/job-name", NULL};
	static const char *const uid_labels[] = {"controller-uid",
						 "batch.kubernetes.io/controller-uid", NULL};
	json_t *spec = js_obj(job, "spec"), *tmpl, *meta, *labels, *sel, *ml;
	const char *uid = api_meta_uid(job), *name = api_meta_name(job);

	if (!spec || !uid || !*uid || js_bool(spec, "manualSelector"))
		return;
	tmpl = js_obj(spec, "template");
	if (!tmpl) {
		tmpl = json_object();
		json_object_set_new(spec, "template", tmpl);
	}
	meta = js_obj(tmpl, "metadata");
	if (!meta) {
		meta = json_object();
		json_object_set_new(tmpl, "metadata", meta);
	}
	labels = js_obj(meta, "labels");
	if (!labels) {
		labels = json_object();
		json_object_set_new(meta, "labels", labels);
	}
	for (size_t i = 0; name_labels[i]; i++)
		if (!json_object_get(labels, name_labels[i]))
			json_object_set_new(labels, name_labels[i], json_string(name ? name : ""));
	for (size_t i = 0; uid_labels[i]; i++)
		if (!json_object_get(labels, uid_labels[i]))
			json_object_set_new(labels, uid_labels[i], json_string(uid));
	sel = js_obj(spec, "selector");
	if (!sel) {
		sel = json_object();
		json_object_set_new(spec, "selector", sel);
	}
	ml = js_obj(sel, "matchLabels");
	if (!ml) {
		ml = json_object();
		json_object_set_new(sel, "matchLabels", ml);
	}
	if (!json_object_get(ml, "batch.kubernetes.io/controller-uid"))
		json_object_set_new(ml, "batch.kubernetes.io/controller-uid", json_string(uid));
}

/* validateJobSpec, at base ("spec" or "spec.jobTemplate.spec"). */
static void job_spec_common(const json_t *spec, const char *base, struct api_field_errors *e)
{
	static const char *const modes[] = {"NonIndexed", "Indexed", NULL};
	static const char *const restart[] = {"OnFailure", "Never", NULL};
	static const char *const counts[] = {"parallelism", "completions", "activeDeadlineSeconds",
					     "backoffLimit", "ttlSecondsAfterFinished", NULL};
	json_t *tmpl = js_obj(spec, "template"), *ps = js_obj(tmpl, "spec");
	CHILD(tp, base, "template");
	CHILD(cmp, base, "completionMode");
	CHILD(cp, base, "completions");
	CHILD(rpp, tp, "spec.restartPolicy");
	const char *rp = js_str(ps, "restartPolicy");

	for (size_t i = 0; counts[i]; i++) {
		CHILD(p, base, counts[i]);
		if (js_has(spec, counts[i]))
			check_nonnegative(js_int(spec, counts[i], 0), p, e);
	}
	if (js_has(spec, "completionMode")) {
		const char *m = js_str(spec, "completionMode");

		if (!str_in(m, modes))
			err_not_supported(e, cmp, m, modes);
		if (streq(m, "Indexed") && !js_has(spec, "completions"))
			err_required(e, cp, "when completion mode is Indexed");
	}
	pod_template_validate(tmpl, tp, e);
	if (!str_in(rp, restart))
		err_not_supported(e, rpp, rp, restart);
	else if (streq(rp, "OnFailure") && js_has(spec, "podFailurePolicy"))
		err_invalid_str(e, rpp, rp, "only \"Never\" is supported when podFailurePolicy is "
					    "specified");
}

static void job_validate(const json_t *job, struct api_field_errors *e)
{
	json_t *spec = js_obj(job, "spec"), *sel = js_obj(spec, "selector");
	json_t *labels = js_obj(js_obj(js_obj(spec, "template"), "metadata"), "labels");
	struct api_label_selector *s = NULL;

	if (!sel)
		err_required(e, "spec.selector", NULL);
	else
		check_label_selector(sel, "spec.selector", e);
	if (api_label_selector_from_json(sel, &s, NULL) == 0) {
		if (!api_label_selector_matches(s, labels)) {
			_cleanup_free_ char *raw = go_string_map(labels);
			err_invalid_raw(e, "spec.template.metadata.labels", raw,
					"`selector` does not match template `labels`");
		}
		api_label_selector_free(s);
	}
	job_spec_common(spec, "spec", e);
}

static void job_update(const json_t *job, const json_t *old, struct api_field_errors *e)
{
	static const char *const fixed[] = {"completions", "selector", "template", "completionMode",
					    "podFailurePolicy", "successPolicy",
					    "backoffLimitPerIndex", "managedBy", NULL};
	json_t *ns = js_obj(job, "spec"), *os = js_obj(old, "spec");

	for (size_t i = 0; fixed[i]; i++) {
		json_t *nv = json_object_get(ns ? ns : json_null(), fixed[i]);
		_cleanup_free_ char *p = vp_child("spec", fixed[i]);

		if (!js_equal(nv, json_object_get(os ? os : json_null(), fixed[i])))
			err_immutable(e, p, nv ? nv : json_null());
	}
}

/* ---- CronJob ---- */

/* robfig/cron's standard parser, enough to refuse what it refuses, with its words. */
static const char *cron_field(const char *f, int lo, int hi, char *err, size_t errlen)
{
	_cleanup_free_ char *copy = xstrdup(f);
	char *save = NULL;

	for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(part, '/'), *dash;
		long a = lo, b = hi;

		if (slash) {
			char *end;
			long step;

			*slash = '\0';
			step = strtol(slash + 1, &end, 10);
			if (*end || !slash[1] || step <= 0) {
				snprintf(err, errlen, "failed to parse int from %s: strconv.Atoi: parsing "
					 "\"%s\": invalid syntax", slash + 1, slash + 1);
				return err;
			}
		}
		if (streq(part, "*") || streq(part, "?"))
			continue;
		dash = strchr(part, '-');
		if (dash)
			*dash = '\0';
		for (char *s = part; s; s = dash ? dash + 1 : NULL) {
			char *end;
			long v = strtol(s, &end, 10);

			if (!*s || *end) {
				snprintf(err, errlen, "failed to parse int from %s: strconv.Atoi: parsing "
					 "\"%s\": invalid syntax", s, s);
				return err;
			}
			if (s == part)
				a = v;
			b = v;
			if (!dash || s != part)
				break;
		}
		if (!dash)
			b = a;
		if (a < lo) {
			snprintf(err, errlen, "beginning of range (%ld) below minimum (%d): %s", a, lo, f);
			return err;
		}
		if (b > hi) {
			snprintf(err, errlen, "end of range (%ld) above maximum (%d): %s", b, hi, f);
			return err;
		}
		if (a > b) {
			snprintf(err, errlen, "beginning of range (%ld) beyond end of range (%ld): %s", a,
				 b, f);
			return err;
		}
	}
	return NULL;
}

static void check_schedule(const char *sched, struct api_field_errors *e)
{
	static const char *const descriptors[] = {"@yearly", "@annually", "@monthly", "@weekly",
						  "@daily", "@midnight", "@hourly", NULL};
	static const int bounds[5][2] = {{0, 59}, {0, 23}, {1, 31}, {1, 12}, {0, 6}};
	_cleanup_free_ char *copy = xstrdup(sched);
	char *fields[8], *save = NULL, err[256];
	size_t n = 0;

	if (strstr(sched, "TZ"))
		err_invalid_str(e, "spec.schedule", sched, "cannot use TZ or CRON_TZ in schedule, use "
							   "timeZone field instead");
	if (str_in(sched, descriptors) || str_has_prefix(sched, "@every "))
		return;
	for (char *f = strtok_r(copy, " \t", &save); f; f = strtok_r(NULL, " \t", &save))
		if (n < ARRAY_SIZE(fields))
			fields[n++] = f;
		else
			n++;
	if (n != 5) {
		struct buf b = {0};

		buf_printf(&b, "expected exactly 5 fields, found %zu: [", n);
		for (size_t i = 0; i < n && i < ARRAY_SIZE(fields); i++)
			buf_printf(&b, "%s%s", i ? " " : "", fields[i]);
		buf_putc(&b, ']');
		err_invalid_str(e, "spec.schedule", sched, b.data);
		buf_free(&b);
		return;
	}
	for (size_t i = 0; i < 5; i++)
		if (cron_field(fields[i], bounds[i][0], bounds[i][1], err, sizeof(err))) {
			err_invalid_str(e, "spec.schedule", sched, err);
			return;
		}
}

static void cronjob_validate(const json_t *cj, struct api_field_errors *e)
{
	static const char *const policies[] = {"Allow", "Forbid", "Replace", NULL};
	json_t *spec = js_obj(cj, "spec"), *jt = js_obj(spec, "jobTemplate");
	json_t *js = js_obj(jt, "spec");
	const char *cp = js_str(spec, "concurrencyPolicy");

	if (!*js_str(spec, "schedule"))
		err_required(e, "spec.schedule", NULL);
	else
		check_schedule(js_str(spec, "schedule"), e);
	if (js_has(spec, "timeZone")) {
		const char *tz = js_str(spec, "timeZone");

		if (!*tz || strchr(tz, ' ')) {
			_cleanup_free_ char *d = xasprintf("unknown time zone %s", tz);
			err_invalid_str(e, "spec.timeZone", tz, d);
		}
	}
	if (js_has(spec, "startingDeadlineSeconds"))
		check_nonnegative(js_int(spec, "startingDeadlineSeconds", 0),
				  "spec.startingDeadlineSeconds", e);
	if (!*cp)
		err_required(e, "spec.concurrencyPolicy", NULL);
	else if (!str_in(cp, policies))
		err_not_supported(e, "spec.concurrencyPolicy", cp, policies);
	if (js_has(spec, "successfulJobsHistoryLimit"))
		check_nonnegative(js_int(spec, "successfulJobsHistoryLimit", 0),
				  "spec.successfulJobsHistoryLimit", e);
	if (js_has(spec, "failedJobsHistoryLimit"))
		check_nonnegative(js_int(spec, "failedJobsHistoryLimit", 0),
				  "spec.failedJobsHistoryLimit", e);
	check_labels(js_obj(js_obj(jt, "metadata"), "labels"), "spec.jobTemplate.metadata.labels", e);
	job_spec_common(js, "spec.jobTemplate.spec", e);
	if (js_has(js, "selector"))
		err_invalid_json(e, "spec.jobTemplate.spec.selector", js_obj(js, "selector"),
				 "`selector` will be auto-generated");
	if (js_bool(js, "manualSelector")) {
		static const char *const ms[] = {"nil", "false", NULL};
		err_not_supported(e, "spec.jobTemplate.spec.manualSelector", "true", ms);
		json_decref(e->v[e->n - 1].value);
		e->v[e->n - 1].value = json_true();
	}
}

static void cronjob_create(const json_t *cj, struct api_field_errors *e)
{
	const char *name = api_meta_name(cj);

	if (name && strlen(name) > 52)
		err_invalid_str(e, "metadata.name", name, "must be no more than 52 characters");
}

static void cronjob_default(json_t *cj)
{
	pod_template_default(js_obj(js_obj(js_obj(js_obj(cj, "spec"), "jobTemplate"), "spec"),
				    "template"));
}

const struct kind_rules batch_rules[] = {
	{.group = "batch", .kind = "Job", .name = NAME_DNS_SUBDOMAIN, .defaults = job_default,
	 .validate = job_validate, .update = job_update},
	{.group = "batch", .kind = "CronJob", .name = NAME_DNS_SUBDOMAIN,
	 .defaults = cronjob_default, .validate = cronjob_validate, .create = cronjob_create},
};
const size_t batch_nrules = ARRAY_SIZE(batch_rules);
