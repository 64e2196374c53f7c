/* OpenAPI schemas of the schema tables' types, named and shaped as
 * kube-openapi publishes them: io.k8s.api.core.v1.Pod, refs wrapped in
 * allOf (v3) with the field's description beside them, list and patch
 * extensions, inline structs flattened into their parent. */
#include <stdio.h>

#include "apiserver/openapi/internal.h"

#define META "io.k8s.apimachinery.pkg.apis.meta.v1."
#define RAW_EXTENSION "io.k8s.apimachinery.pkg.runtime.RawExtension"

static const char *const D_API_VERSION =
	"The versioned schema of this object: group/version, as in apps/v1 (just v1 for the "
	"core group). Servers convert what they recognise to their internal form.";
static const char *const D_KIND =
	"The kind of object this is, in CamelCase (Pod, Deployment); servers infer it from "
	"the endpoint when absent. Cannot be updated.";

void oa_type_name(const struct sch_type *t, char *out, size_t cap)
{
	const char *p = t->proto;

	/* Go package paths name the schemas: k8s.io/api/core/v1 becomes
	 * io.k8s.api.core.v1, and protobuf's '_' was Go's '-'. */
	if (str_has_prefix(p, "k8s.io.")) {
		snprintf(out, cap, "io.k8s.%s", p + strlen("k8s.io."));
		for (char *c = out; *c; c++)
			if (*c == '_')
				*c = '-';
	} else {
		snprintf(out, cap, "%s", p);
	}
}

json_t *oa_ref(enum oa_flavor fl, const char *name)
{
	char ref[512];

	snprintf(ref, sizeof(ref), "%s%s",
		 fl == OA_V3 ? "#/components/schemas/" : "#/definitions/", name);
	json_t *o = json_object();
	json_object_set_new(o, "$ref", json_string(ref));
	return o;
}

json_t *oa_type_ref(enum oa_flavor fl, const struct sch_type *t)
{
	char name[256];

	oa_type_name(t, name, sizeof(name));
	return oa_ref(fl, name);
}

static json_t *typed(const char *type, const char *format)
{
	json_t *o = json_object();

	json_object_set_new(o, "type", json_string(type));
	if (format)
		json_object_set_new(o, "format", json_string(format));
	return o;
}

/* ---- the shared named schemas ---- */

static json_t *named_schema(enum oa_flavor fl, const char *short_name)
{
	json_t *o = json_object();

	if (streq(short_name, "Time") || streq(short_name, "MicroTime")) {
		const char *precision = streq(short_name, "MicroTime") ? "microseconds" : "seconds";
		char desc[96];
		snprintf(desc, sizeof(desc), "A point in time, RFC 3339 with %s, in UTC.",
			 precision);
		json_object_set_new(o, "description", json_string(desc));
		json_object_set_new(o, "type", json_string("string"));
		json_object_set_new(o, "format", json_string("date-time"));
	} else if (streq(short_name, "Quantity")) {
		json_object_set_new(o, "description",
				    json_string("A fixed-point number with an optional suffix: a "
						"binary one (Ki, Mi, Gi, Ti, Pi, Ei), a decimal "
						"one (m, k, M, G, T, P, E) or an exponent (1e3). "
						"Written back in canonical form, such as 500m or "
						"1536Mi."));
		if (fl == OA_V3) {
			json_t *one = json_array();
			json_array_append_new(one, typed("string", NULL));
			json_array_append_new(one, typed("number", NULL));
			json_object_set_new(o, "oneOf", one);
		} else {
			json_object_set_new(o, "type", json_string("string"));
		}
	} else if (streq(short_name, "IntOrString")) {
		json_object_set_new(o, "description",
				    json_string("Either an integer or a string, such as a port "
						"number or name, or a count or a percentage."));
		json_object_set_new(o, "format", json_string("int-or-string"));
		if (fl == OA_V3) {
			json_t *one = json_array();
			json_array_append_new(one, typed("integer", NULL));
			json_array_append_new(one, typed("string", NULL));
			json_object_set_new(o, "oneOf", one);
		} else {
			json_object_set_new(o, "type", json_string("string"));
		}
	} else if (streq(short_name, "RawExtension")) {
		json_object_set_new(o, "description",
				    json_string("An embedded object of any kind, kept as it was "
						"written."));
		json_object_set_new(o, "type", json_string("object"));
	} else if (streq(short_name, "FieldsV1")) {
		json_object_set_new(o, "description",
				    json_string("A set of field paths as a JSON trie (keys such as "
						"f:spec, k:{\"name\":\"app\"}, v:\"x\", .)."));
		json_object_set_new(o, "type", json_string("object"));
	} else if (streq(short_name, "Patch")) {
		json_object_set_new(o, "description",
				    json_string("A patch body; its media type says how it "
						"applies."));
		json_object_set_new(o, "type", json_string("object"));
	} else if (streq(short_name, "WatchEvent")) {
		json_t *props = json_object(), *obj = json_object(), *type = typed("string", NULL);
		json_object_set_new(o, "description", json_string("One event of a watch stream."));
		if (fl == OA_V3) {
			json_t *all = json_array();
			json_array_append_new(all, oa_ref(fl, RAW_EXTENSION));
			json_object_set_new(obj, "allOf", all);
		} else {
			json_object_set_new(obj, "$ref",
					    json_string("#/definitions/" RAW_EXTENSION));
		}
		json_object_set_new(obj, "description",
				    json_string("The object after the change (ADDED, MODIFIED), as "
						"it was last seen (DELETED), a bookmark, or a "
						"Status (ERROR)."));
		json_object_set_new(type, "default", json_string(""));
		json_object_set_new(props, "object", obj);
		json_object_set_new(props, "type", type);
		json_object_set_new(o, "properties", props);
		json_t *req = json_array();
		json_array_append_new(req, json_string("type"));
		json_array_append_new(req, json_string("object"));
		json_object_set_new(o, "required", req);
		json_object_set_new(o, "type", json_string("object"));
	}
	return o;
}

static const char *named_full(const char *short_name)
{
	if (streq(short_name, "Quantity"))
		return "io.k8s.apimachinery.pkg.api.resource.Quantity";
	if (streq(short_name, "IntOrString"))
		return "io.k8s.apimachinery.pkg.util.intstr.IntOrString";
	if (streq(short_name, "RawExtension"))
		return RAW_EXTENSION;
	if (streq(short_name, "Time"))
		return META "Time";
	if (streq(short_name, "MicroTime"))
		return META "MicroTime";
	if (streq(short_name, "FieldsV1"))
		return META "FieldsV1";
	if (streq(short_name, "Patch"))
		return META "Patch";
	if (streq(short_name, "WatchEvent"))
		return META "WatchEvent";
	return NULL;
}

const char *oa_add_named(json_t *schemas, enum oa_flavor fl, const char *short_name)
{
	const char *full = named_full(short_name);

	if (!full)
		return NULL;
	if (!json_object_get(schemas, full)) {
		json_object_set_new(schemas, full, named_schema(fl, short_name));
		if (streq(short_name, "WatchEvent"))
			oa_add_named(schemas, fl, "RawExtension");
	}
	return full;
}

/* ---- field schemas ---- */

/* The shared schema a scalar refers to, or NULL for an inline one. */
static const char *scalar_named(const struct sch_field *f)
{
	switch (f->scalar) {
	case SCH_QUANTITY:
		return "Quantity";
	case SCH_TIME:
		return "Time";
	case SCH_MICROTIME:
		return "MicroTime";
	case SCH_INTORSTRING:
		return "IntOrString";
	case SCH_RAW:
		/* managedFields[].fieldsV1 is a FieldsV1 in Kubernetes. */
		return streq(f->name, "fieldsV1") ? "FieldsV1" : "RawExtension";
	default:
		return NULL;
	}
}

static json_t *scalar_schema(const struct sch_field *f)
{
	switch (f->scalar) {
	case SCH_BOOL:
		return typed("boolean", NULL);
	case SCH_INT32:
		return typed("integer", "int32");
	case SCH_INT64:
		return typed("integer", "int64");
	case SCH_FLOAT64:
		return typed("number", "double");
	case SCH_BYTES:
		return typed("string", "byte");
	default:
		return typed("string", NULL);
	}
}

/* The default as JSON: the .types files write strings bare (def="Always"
 * reaches us as Always) and everything else as JSON. */
static json_t *default_value(const struct sch_field *f)
{
	const char *d = f->def;
	json_t *v;

	if (f->container == SCH_ONE && (f->scalar == SCH_STRING || f->scalar == SCH_INTORSTRING)) {
		if (d[0] == '"' && (v = json_loads(d, JSON_DECODE_ANY, NULL)))
			return v;
		if (f->scalar == SCH_INTORSTRING && *d) {
			char *end;
			long long n = strtoll(d, &end, 10);
			if (!*end)
				return json_integer(n);
		}
		return json_string(d);
	}
	v = json_loads(d, JSON_DECODE_ANY, NULL);
	return v ? v : json_string(d);
}

/* The schema of one value of f (an item, for lists and maps); adds the types it
 * refers to. wrap: a v3 ref gets the allOf form so that siblings may follow. */
static json_t *value_schema(json_t *schemas, enum oa_flavor fl, const struct sch_field *f,
			    bool item)
{
	const char *named = scalar_named(f);
	json_t *ref = NULL;

	if (f->scalar == SCH_MESSAGE) {
		oa_add_type(schemas, fl, f->type);
		ref = oa_type_ref(fl, f->type);
	} else if (named) {
		ref = oa_ref(fl, oa_add_named(schemas, fl, named));
	} else {
		json_t *s = scalar_schema(f);
		if (f->enums && f->container == SCH_ONE) {
			json_t *e = json_array();
			for (const char *const *v = f->enums; *v; v++)
				json_array_append_new(e, json_string(*v));
			json_object_set_new(s, "enum", e);
		}
		return s;
	}
	/* Struct items carry kube-openapi's zero default; named scalars do not. */
	if (item && f->scalar != SCH_MESSAGE)
		return ref;
	if (fl == OA_V2) {
		if (item)
			json_object_set_new(ref, "default", json_object());
		return ref;
	}
	json_t *o = json_object(), *all = json_array();
	json_array_append_new(all, ref);
	json_object_set_new(o, "allOf", all);
	if (item)
		json_object_set_new(o, "default", json_object());
	return o;
}

static const char *patch_strategy(const struct sch_field *f)
{
	bool merge = f->flags & SCH_F_STRAT_MERGE, retain = f->flags & SCH_F_STRAT_RETAINKEYS;

	if (merge && retain)
		return "merge,retainKeys";
	if (merge)
		return "merge";
	if (retain)
		return "retainKeys";
	if (f->flags & SCH_F_STRAT_REPLACE)
		return "replace";
	return NULL;
}

static json_t *field_schema(json_t *schemas, enum oa_flavor fl, const struct sch_field *f)
{
	static const char *const list_types[] = {
		[SCH_LIST_ATOMIC] = "atomic", [SCH_LIST_SET] = "set", [SCH_LIST_MAP] = "map",
	};
	json_t *s;

	if (f->container == SCH_LIST) {
		s = typed("array", NULL);
		json_object_set_new(s, "items", value_schema(schemas, fl, f, true));
	} else if (f->container == SCH_MAP) {
		s = typed("object", NULL);
		json_object_set_new(s, "additionalProperties", value_schema(schemas, fl, f, true));
	} else {
		s = value_schema(schemas, fl, f, false);
	}
	if (f->desc && *f->desc)
		json_object_set_new(s, "description", json_string(f->desc));
	if (f->def)
		json_object_set_new(s, "default", default_value(f));
	if (f->container == SCH_LIST && f->list_type != SCH_LIST_UNSPECIFIED &&
	    f->list_type < ARRAY_SIZE(list_types)) {
		json_object_set_new(s, "x-kubernetes-list-type",
				    json_string(list_types[f->list_type]));
		if (f->list_type == SCH_LIST_MAP && f->list_keys) {
			json_t *keys = json_array();
			for (const char *const *k = f->list_keys; *k; k++)
				json_array_append_new(keys, json_string(*k));
			json_object_set_new(s, "x-kubernetes-list-map-keys", keys);
		}
	}
	if (f->merge_key)
		json_object_set_new(s, "x-kubernetes-patch-merge-key", json_string(f->merge_key));
	const char *strategy = patch_strategy(f);
	if (strategy)
		json_object_set_new(s, "x-kubernetes-patch-strategy", json_string(strategy));
	return s;
}

/* ---- type schemas ---- */

/* Go types with TypeMeta that are not served kinds themselves. */
static bool has_type_meta(const struct sch_type *t)
{
	static const char *const names[] = {"Status", "DeleteOptions", "Scale", "Eviction",
					    "TokenRequest"};

	if (t->flags & (SCH_T_KIND | SCH_T_LIST))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (streq(t->name, names[i]))
			return true;
	return false;
}

/* Kinds clients find by x-kubernetes-group-version-kind. */
static bool has_gvk(const struct sch_type *t)
{
	if (t->flags & (SCH_T_KIND | SCH_T_LIST))
		return true;
	return has_type_meta(t) && !streq(t->name, "Status") && !streq(t->name, "DeleteOptions");
}

static void add_fields(json_t *schemas, enum oa_flavor fl, const struct sch_type *t,
		       json_t *props, json_t *required)
{
	for (unsigned i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];
		if (f->flags & SCH_F_INLINE) {
			add_fields(schemas, fl, f->type, props, required);
			continue;
		}
		json_object_set_new(props, f->name, field_schema(schemas, fl, f));
		if (f->flags & SCH_F_REQUIRED)
			json_array_append_new(required, json_string(f->name));
	}
}

static json_t *type_schema(json_t *schemas, enum oa_flavor fl, const struct sch_type *t)
{
	json_t *o = json_object(), *props = json_object(), *required = json_array();

	if (t->desc && *t->desc)
		json_object_set_new(o, "description", json_string(t->desc));
	if (has_type_meta(t)) {
		json_t *av = typed("string", NULL), *kind = typed("string", NULL);
		json_object_set_new(av, "description", json_string(D_API_VERSION));
		json_object_set_new(kind, "description", json_string(D_KIND));
		json_object_set_new(props, "apiVersion", av);
		json_object_set_new(props, "kind", kind);
	}
	add_fields(schemas, fl, t, props, required);
	/* Lists always carry their items. */
	if ((t->flags & SCH_T_LIST) && json_array_size(required) == 0)
		json_array_append_new(required, json_string("items"));
	json_object_set_new(o, "properties", props);
	if (json_array_size(required) > 0)
		json_object_set_new(o, "required", required);
	else
		json_decref(required);
	json_object_set_new(o, "type", json_string("object"));
	if (has_gvk(t)) {
		json_t *gvk = json_object(), *a = json_array();
		json_object_set_new(gvk, "group", json_string(t->group));
		json_object_set_new(gvk, "kind", json_string(t->name));
		json_object_set_new(gvk, "version", json_string(t->version));
		json_array_append_new(a, gvk);
		json_object_set_new(o, "x-kubernetes-group-version-kind", a);
	}
	if (t->flags & SCH_T_ATOMIC)
		json_object_set_new(o, "x-kubernetes-map-type", json_string("atomic"));
	return o;
}

void oa_add_type(json_t *schemas, enum oa_flavor fl, const struct sch_type *t)
{
	char name[256];

	oa_type_name(t, name, sizeof(name));
	if (json_object_get(schemas, name))
		return;
	/* A placeholder first: types may refer to themselves. */
	json_object_set_new(schemas, name, json_object());
	json_object_set_new(schemas, name, type_schema(schemas, fl, t));
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *oa_sort_keys(json_t *v)
{
	if (json_is_array(v)) {
		json_t *a = json_array(), *e;
		size_t i;
		json_array_foreach(v, i, e)
			json_array_append_new(a, oa_sort_keys(e));
		return a;
	}
	if (!json_is_object(v))
		return json_incref(v);
	size_t n = json_object_size(v), i = 0;
	const char **keys = xnew(const char *, n);
	const char *k;
	json_t *e;
	json_object_foreach(v, k, e)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), cmp_key);
	json_t *o = json_object();
	for (i = 0; i < n; i++)
		json_object_set_new(o, keys[i], oa_sort_keys(json_object_get(v, keys[i])));
	free(keys);
	return o;
}
