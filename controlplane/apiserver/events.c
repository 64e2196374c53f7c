/* events.k8s.io/v1 Events are core/v1 Events with other field names: one
 * store holds them (as core/v1), and this API reads and writes them through
 * the renames below. */
#include "apiserver/internal.h"

static const char *const renames[][2] = {
	/* {core/v1, events.k8s.io/v1} */
	{"involvedObject", "regarding"},
	{"message", "note"},
	{"reportingComponent", "reportingController"},
	{"source", "deprecatedSource"},
	{"firstTimestamp", "deprecatedFirstTimestamp"},
	{"lastTimestamp", "deprecatedLastTimestamp"},
	{"count", "deprecatedCount"},
};

static void rename_keys(json_t *obj, int from, int to)
{
	for (size_t i = 0; i < ARRAY_SIZE(renames); i++) {
		json_t *v = json_object_get(obj, renames[i][from]);
		if (!v)
			continue;
		json_object_set(obj, renames[i][to], v);
		json_object_del(obj, renames[i][from]);
	}
}

bool events_v1(const struct resource *res)
{
	return streq(res->kind->group, "events.k8s.io");
}

void events_to_v1(json_t *obj)
{
	rename_keys(obj, 0, 1);
	/* The core/v1 series carries a state field that events.k8s.io lacks. */
	json_object_del(json_object_get(obj, "series"), "state");
	json_object_set_new(obj, "apiVersion", json_string("events.k8s.io/v1"));
	json_object_set_new(obj, "kind", json_string("Event"));
}

void events_to_core(json_t *obj)
{
	rename_keys(obj, 1, 0);
	json_object_set_new(obj, "apiVersion", json_string("v1"));
	json_object_set_new(obj, "kind", json_string("Event"));
}
