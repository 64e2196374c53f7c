/* libFuzzer: resource.Quantity parse → format must reparse to an equal value, the
 * canonical string must settle, and arithmetic must stay exact or fail cleanly. */
#include "api/api.h"

#include <stdio.h>

static void check(bool ok, const char *what, const char *in)
{
	if (!ok) {
		fprintf(stderr, "fuzz_quantity: %s for \"%s\"\n", what, in);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = xstrndup((const char *)data, size);
	struct api_quantity q, r, sum;
	char *err = NULL;
	int64_t v;

	if (api_quantity_parse(in, &q, &err) < 0) {
		check(err != NULL, "no message", in);
		free(err);
		free(in);
		return 0;
	}
	char *s = api_quantity_format(&q);
	check(api_quantity_parse(s, &r, NULL) == 0, "format does not reparse", in);
	check(api_quantity_cmp(&q, &r) == 0, "reparsed value differs", in);
	/* A BinarySI value printed without a suffix reads back as DecimalSI (in Kubernetes
	 * too), so the string is stable from the second round on. */
	char *s2 = api_quantity_format(&r);
	struct api_quantity r2;
	check(api_quantity_parse(s2, &r2, NULL) == 0, "second format does not reparse", in);
	char *s3 = api_quantity_format(&r2);
	check(streq(s2, s3), "canonical form not stable", in);
	free(s3);

	/* q + q - q == q, when it fits */
	sum = q;
	if (api_quantity_add(&sum, &q) == 0 && api_quantity_sub(&sum, &q) == 0)
		check(api_quantity_cmp(&sum, &q) == 0, "add/sub not exact", in);
	(void)api_quantity_value(&q, &v);
	(void)api_quantity_milli_value(&q, &v);
	(void)api_quantity_scaled_value(&q, 12, &v);
	api_quantity_neg(&r);
	check(api_quantity_cmp(&r, &q) == -api_quantity_sign(&q) || api_quantity_is_zero(&q),
	      "negation", in);

	json_t *j = api_quantity_to_json(&q);
	check(j && api_quantity_from_json(j, &r, NULL) == 0 && api_quantity_cmp(&q, &r) == 0,
	      "JSON round trip", in);
	json_decref(j);
	free(s);
	free(s2);
	free(in);
	return 0;
}
