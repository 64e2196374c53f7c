/* libFuzzer: request bodies through api_json_parse and api_body_decode, the encoder's
 * output read back, and Status bodies built from hostile strings. */
#include "api/api.h"

#include <stdio.h>

static void dump_reparses(const json_t *v)
{
	char *s = api_json_dumps(v), *s2;
	json_t *back = NULL;

	if (api_json_parse(s, strlen(s), 0, &back, NULL) < 0) {
		fprintf(stderr, "encoder output does not parse: %s\n", s);
		abort();
	}
	/* one round normalises (-0 reads back as the integer 0); after that it is stable */
	s2 = api_json_dumps(back);
	json_t *again = NULL;
	if (api_json_parse(s2, strlen(s2), 0, &again, NULL) < 0)
		abort();
	char *s3 = api_json_dumps(again);
	if (!streq(s2, s3)) {
		fprintf(stderr, "encoding not stable: %s vs %s\n", s2, s3);
		abort();
	}
	json_decref(back);
	json_decref(again);
	free(s);
	free(s2);
	free(s3);
}

/* The encoder's output is valid JSON. */
static void dump_parses(const json_t *v)
{
	char *s = api_json_dumps(v);
	json_t *back = NULL;

	if (api_json_parse(s, strlen(s), 0, &back, NULL) < 0) {
		fprintf(stderr, "encoder output does not parse: %s\n", s);
		abort();
	}
	json_decref(back);
	free(s);
}

static void statuses(const char *text, json_t *value)
{
	struct api_field_errors errs = {0};
	json_t *st[12];
	size_t n = 0;

	api_field_invalid(&errs, text, json_incref(value), text);
	api_field_required(&errs, "spec", text);
	api_field_not_supported(&errs, text, json_string("x"), (const char *const[]){text}, 1);
	st[n++] = api_status_invalid(text, text, text, &errs);
	st[n++] = api_status_not_found(text, text, text);
	st[n++] = api_status_conflict("apps", text, text, NULL);
	st[n++] = api_status_forbidden(NULL, text, text, text);
	st[n++] = api_status_bad_request(text);
	st[n++] = api_status_internal_error(text);
	st[n++] = api_status_method_not_supported(text, text, text);
	st[n++] = api_status_unsupported_media_type((const char *const[]){text}, 1);
	st[n++] = api_status_timeout(text, 1);
	st[n++] = api_status_success(text, text, text, text, 200);
	for (size_t i = 0; i < n; i++) {
		if (!st[i])
			abort();
		dump_parses(st[i]);
		json_decref(st[i]);
	}
	api_field_errors_clear(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *v = NULL, *obj = NULL, *st = NULL;
	char *err = NULL;
	/* Status text: long enough for every escape, short enough to keep runs fast. */
	char *text = xstrndup((const char *)data, MIN(size, (size_t)256));

	if (api_json_parse(data, size, size % 2 ? API_JSON_STRICT : 0, &v, &err) == 0) {
		dump_reparses(v);
		struct api_quantity q;
		char *qerr = NULL;
		if (api_quantity_from_json(v, &q, &qerr) < 0)
			free(qerr);
		int64_t ns;
		char *terr = NULL;
		if (api_time_from_json(v, &ns, &terr) < 0)
			free(terr);
		struct api_label_selector *ls = NULL;
		char *lerr = NULL;
		if (api_label_selector_from_json(v, &ls, &lerr) == 0) {
			(void)api_label_selector_matches(ls, v);
			api_label_selector_free(ls);
		} else {
			free(lerr);
		}
	} else if (!err) {
		abort();
	}
	free(err);

	int r = api_body_decode(data, size, 4096, "Pod", size % 3 ? 0 : API_JSON_STRICT, &obj, &st);
	if ((r == 0) != (obj != NULL) || (r < 0) != (st != NULL))
		abort();
	if (st)
		dump_parses(st);
	json_decref(obj);
	json_decref(st);

	statuses(text, v ? v : json_null());
	(void)api_is_qualified_name(text, NULL);
	(void)api_is_dns1123_subdomain(text, NULL);
	(void)api_is_valid_label_value(text, NULL);
	json_decref(v);
	free(text);
	return 0;
}
