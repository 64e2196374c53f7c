/* Fuzz the Kubernetes protobuf path of the API server: the envelope, then
 * the object decoded with the schema of a kind the first byte picks, then
 * encoded and decoded again, which must give the same JSON. */
#include "apiserver/protobuf.h"

#include "api/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Negative zero as zero: written as "-0" (as Go writes it), it comes back
 * through jansson as the integer 0, which loses the sign; the two are the
 * same number. */
static void zero_sign(json_t *v)
{
	const char *key;
	json_t *x;
	size_t i;

	if (json_is_real(v) && json_real_value(v) == 0)
		json_real_set(v, 0.0);
	json_object_foreach(v, key, x)
		zero_sign(x);
	json_array_foreach(v, i, x)
		zero_sign(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pb_envelope env;
	json_t *obj = NULL, *again = NULL;
	struct buf b = {0};

	if (size < 1 || !sch_nkinds)
		return 0;
	const struct sch_kind *k = &sch_kinds[data[0] % sch_nkinds];
	data++;
	size--;
	/* Either a whole envelope or a bare message. */
	const uint8_t *msg = data;
	size_t len = size;
	if (pb_unwrap(data, size, &env) == 0) {
		msg = env.raw;
		len = env.raw_len;
	}
	if (pb_decode(k->type, msg, len, &obj, NULL) == 0) {
		if (pb_encode(k->type, obj, &b, NULL) == 0) {
			if (pb_decode(k->type, b.data, b.len, &again, NULL) != 0)
				abort();
			/* Compared as the JSON that goes on the wire: 0.0 and 0
			 * are the same number there, and fields go in schema order. */
			zero_sign(obj);
			zero_sign(again);
			sch_canonicalize(k->type, obj, false);
			sch_canonicalize(k->type, again, false);
			char *x = api_json_dumps(obj), *y = api_json_dumps(again);
			if (!streq(x, y))
				abort();
			free(x);
			free(y);
		}
	}
	json_decref(obj);
	json_decref(again);
	buf_free(&b);
	return 0;
}
