/* libFuzzer: label selectors parse → format → reparse to the same canonical string, and
 * matching never misbehaves. */
#include "api/api.h"

#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = xstrndup((const char *)data, size);
	struct api_label_selector *s = NULL, *s2 = NULL;
	char *err = NULL;

	if (api_label_selector_parse(in, &s, &err) < 0) {
		if (!err)
			abort();
		free(err);
		free(in);
		return 0;
	}
	char *f = api_label_selector_format(s);
	if (api_label_selector_parse(f, &s2, &err) < 0) {
		fprintf(stderr, "format \"%s\" of \"%s\" does not reparse: %s\n", f, in, err);
		abort();
	}
	char *f2 = api_label_selector_format(s2);
	if (!streq(f, f2)) {
		fprintf(stderr, "\"%s\" formats as \"%s\" then \"%s\"\n", in, f, f2);
		abort();
	}

	/* A label set made of the selector's own keys and first values. */
	json_t *labels = json_object();
	for (size_t i = 0; i < s->n; i += 2) {
		const struct api_label_requirement *r = &s->reqs[i];

		json_object_set_new(labels, r->key, json_string(r->nvalues ? r->values[0] : ""));
	}
	if (api_label_selector_matches(s, labels) != api_label_selector_matches(s2, labels))
		abort();
	for (size_t i = 0; i < s->n; i++) {
		const char *v;
		(void)api_label_selector_requires_exact(s, s->reqs[i].key, &v);
	}
	json_decref(labels);
	api_label_selector_free(s);
	api_label_selector_free(s2);
	free(f);
	free(f2);
	free(in);
	return 0;
}
