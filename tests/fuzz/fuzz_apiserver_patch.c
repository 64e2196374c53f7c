/* libFuzzer: a document and a patch, each through JSON patch, merge patch,
 * strategic merge patch (for a schema type the first byte picks), server-side
 * apply and the ownership an update records. Nothing may crash or leak, and
 * every result must be an object tree the encoder writes as valid JSON.
 *
 * Input: one selector byte, the document, a NUL, the patch. */
#include "api/api.h"
#include "apiserver/patch/patch.h"

#include <stdio.h>

#define NOW ((int64_t)1700000000 * 1000000000)

/* v encodes to JSON that parses back to the same value. */
static void check_json(const json_t *v)
{
	char *s = api_json_dumps(v);
	json_t *back = NULL;

	if (api_json_parse(s, strlen(s), 0, &back, NULL) < 0) {
		fprintf(stderr, "result is not valid JSON: %s\n", s);
		abort();
	}
	json_decref(back);
	free(s);
}

static void check_result(int r, json_t *out, char *msg)
{
	if ((r == 0) != (out != NULL) || (r < 0 && !msg))
		abort();
	if (out)
		check_json(out);
	if (r < 0) {
		json_t *st = patch_error_status(r, msg);
		check_json(st);
		json_decref(st);
	}
	json_decref(out);
	free(msg);
}

/* The applied object as kubectl would send it: the kind's apiVersion and kind. */
static json_t *as_config(const struct sch_kind *k, const json_t *patch)
{
	char av[160];
	json_t *c = json_deep_copy(patch);

	sch_api_version(k->group, k->version, av, sizeof(av));
	json_object_set_new(c, "apiVersion", json_string(av));
	json_object_set_new(c, "kind", json_string(k->kind));
	api_del(c, "metadata.managedFields");
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = NULL, *patch = NULL, *out;
	char *msg;
	int r;

	if (size < 2 || !sch_nkinds)
		return 0;
	const uint8_t *sep = memchr(data + 1, 0, size - 1);
	if (!sep)
		return 0;
	if (api_json_parse(data + 1, (size_t)(sep - data - 1), 0, &doc, NULL) < 0)
		return 0;
	if (api_json_parse(sep + 1, size - (size_t)(sep - data) - 1, 0, &patch, NULL) < 0) {
		json_decref(doc);
		return 0;
	}
	const struct sch_kind *k = &sch_kinds[data[0] % sch_nkinds];

	out = NULL, msg = NULL;
	r = patch_json(doc, patch, &out, &msg);
	check_result(r, out, msg);
	out = NULL, msg = NULL;
	r = patch_merge(doc, patch, &out, &msg);
	check_result(r, out, msg);
	out = NULL, msg = NULL;
	r = patch_strategic(k->type, doc, patch, &out, &msg);
	if (r == 0 && !json_is_object(out))
		abort();
	check_result(r, out, msg);

	if (json_is_object(patch)) {
		const json_t *live = json_is_object(doc) ? doc : NULL;
		json_t *cfg = as_config(k, patch), *conflict = NULL;
		out = NULL, msg = NULL;
		r = patch_apply(k->type, live, cfg, data[0] & 0x80 ? "kubectl" : "fuzz",
				data[0] & 0x40 ? "status" : NULL, data[0] & 0x20, NOW, &out,
				&conflict, &msg);
		if ((r == -EBUSY) != (conflict != NULL))
			abort();
		if (conflict)
			check_json(conflict);
		json_decref(conflict);
		if (out && !json_is_object(out))
			abort();
		if (out && live) {
			/* the update path on top of the applied result */
			json_t *again = json_deep_copy(out);
			patch_record_update(k->type, out, again, "fuzz-update", NULL, NOW);
			check_json(again);
			json_decref(again);
		}
		check_result(r, out, msg);
		json_decref(cfg);

		json_t *obj = json_deep_copy(patch);
		patch_record_update(k->type, live, obj, "fuzz", data[0] & 0x40 ? "status" : NULL,
				    NOW);
		check_json(obj);
		json_decref(obj);
	}
	json_decref(doc);
	json_decref(patch);
	return 0;
}
