/* libFuzzer: field selectors parse; the printed form reparses and is stable after one
 * round (the first round normalises "==" and term order); matching is well behaved. */
#include "api/api.h"

#include <stdio.h>

static const char *getter(void *userdata, const char *field)
{
	const char *in = userdata;

	if (field[0] == 'x')
		return NULL; /* "unsupported" */
	return strlen(field) % 2 ? in : "";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = xstrndup((const char *)data, size);
	struct api_field_selector *s = NULL, *s2 = NULL, *s3 = NULL;
	char *err = NULL;
	const char *v;

	if (api_field_selector_parse(in, &s, &err) < 0) {
		if (!err)
			abort();
		free(err);
		free(in);
		return 0;
	}
	char *f = api_field_selector_format(s);
	if (api_field_selector_parse(f, &s2, NULL) < 0) {
		fprintf(stderr, "format \"%s\" of \"%s\" does not reparse\n", f, in);
		abort();
	}
	char *f2 = api_field_selector_format(s2);
	if (api_field_selector_parse(f2, &s3, NULL) < 0)
		abort();
	char *f3 = api_field_selector_format(s3);
	if (!streq(f2, f3) || s->n != s2->n) {
		fprintf(stderr, "\"%s\": \"%s\" then \"%s\"\n", in, f2, f3);
		abort();
	}
	int m = api_field_selector_match(s, getter, in, &err);
	if (m < 0)
		free(err);
	if (m != api_field_selector_match(s2, getter, in, NULL))
		abort();
	for (size_t i = 0; i < s->n; i++)
		(void)api_field_selector_requires_exact(s, s->reqs[i].field, &v);
	api_field_selector_free(s);
	api_field_selector_free(s2);
	api_field_selector_free(s3);
	free(f);
	free(f2);
	free(f3);
	free(in);
	return 0;
}
