/* Kubernetes protobuf out: the JSON object model written as the schema
 * tables describe it (protobuf.c reads it back), and the "k8s\0"
 * runtime.Unknown envelope around it. */
#include "apiserver/protobuf.h"

#include <math.h>
#include <stdio.h>

#include "api/api.h"
#include "base/base.h"
#include "apiserver/pb_wire.h"

/* --- encode --- */

static void wr_varint(struct buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	do {
		tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	buf_append(b, tmp, n);
}

static void wr_tag(struct buf *b, uint32_t num, unsigned wire)
{
	wr_varint(b, (uint64_t)num << 3 | wire);
}

static void wr_bytes(struct buf *b, uint32_t num, const void *p, size_t n)
{
	wr_tag(b, num, WIRE_LEN);
	wr_varint(b, n);
	buf_append(b, p, n);
}

/* A length-delimited field whose content is built in a scratch buffer. */
static void wr_sub(struct buf *b, uint32_t num, struct buf *sub)
{
	wr_bytes(b, num, sub->data ? sub->data : "", sub->len);
	buf_free(sub);
}

struct enc {
	char *err;
	int depth;
};

static int enc_fail(struct enc *e, const char *what, const struct sch_field *f)
{
	if (!e->err)
		e->err = xasprintf("protobuf: cannot encode %s: %s", f->name, what);
	return -EINVAL;
}

static int encode_message(struct enc *e, const struct sch_type *t, const json_t *obj,
			  struct buf *out);

static int encode_value(struct enc *e, const struct sch_field *f, uint32_t num, const json_t *v,
			struct buf *out)
{
	struct buf sub = {0};
	int64_t ns;
	int r;

	switch (f->scalar) {
	case SCH_STRING:
		if (!json_is_string(v))
			return enc_fail(e, "want a string", f);
		wr_bytes(out, num, json_string_value(v), json_string_length(v));
		return 0;
	case SCH_BOOL:
		if (!json_is_boolean(v))
			return enc_fail(e, "want a boolean", f);
		wr_tag(out, num, WIRE_VARINT);
		wr_varint(out, json_is_true(v));
		return 0;
	case SCH_INT32:
	case SCH_INT64:
		if (!json_is_integer(v))
			return enc_fail(e, "want an integer", f);
		wr_tag(out, num, WIRE_VARINT);
		/* Negative int32 values are sign-extended to ten bytes. */
		wr_varint(out, (uint64_t)json_integer_value(v));
		return 0;
	case SCH_FLOAT64: {
		if (!json_is_number(v))
			return enc_fail(e, "want a number", f);
		double x = json_number_value(v);
		wr_tag(out, num, WIRE_FIXED64);
		buf_append(out, &x, 8);
		return 0;
	}
	case SCH_BYTES: {
		size_t n;
		if (!json_is_string(v))
			return enc_fail(e, "want base64", f);
		_cleanup_free_ uint8_t *raw = base64_decode(json_string_value(v), &n);
		if (!raw)
			return enc_fail(e, "invalid base64", f);
		wr_bytes(out, num, raw, n);
		return 0;
	}
	case SCH_TIME:
	case SCH_MICROTIME:
		if (!json_is_string(v))
			return enc_fail(e, "want a time", f);
		r = f->scalar == SCH_TIME ? api_time_parse(json_string_value(v), &ns, NULL)
					  : api_microtime_parse(json_string_value(v), &ns, NULL);
		if (r < 0)
			return enc_fail(e, "invalid time", f);
		int64_t secs = ns / 1000000000, nanos = ns % 1000000000;
		if (nanos < 0) {
			secs--;
			nanos += 1000000000;
		}
		if (secs) {
			wr_tag(&sub, 1, WIRE_VARINT);
			wr_varint(&sub, (uint64_t)secs);
		}
		if (nanos) {
			wr_tag(&sub, 2, WIRE_VARINT);
			wr_varint(&sub, (uint64_t)nanos);
		}
		wr_sub(out, num, &sub);
		return 0;
	case SCH_QUANTITY: {
		struct api_quantity q;
		if (api_quantity_from_json(v, &q, NULL) < 0)
			return enc_fail(e, "invalid quantity", f);
		_cleanup_free_ char *s = api_quantity_format(&q);
		wr_bytes(&sub, 1, s, strlen(s));
		wr_sub(out, num, &sub);
		return 0;
	}
	case SCH_DURATION:
		if (!json_is_string(v) || pb_parse_duration(json_string_value(v), &ns) < 0)
			return enc_fail(e, "invalid duration", f);
		wr_tag(&sub, 1, WIRE_VARINT);
		wr_varint(&sub, (uint64_t)ns);
		wr_sub(out, num, &sub);
		return 0;
	case SCH_INTORSTRING:
		if (json_is_integer(v)) {
			wr_tag(&sub, 1, WIRE_VARINT);
			wr_varint(&sub, 0);
			wr_tag(&sub, 2, WIRE_VARINT);
			wr_varint(&sub, (uint64_t)(int64_t)(int32_t)json_integer_value(v));
		} else if (json_is_string(v)) {
			wr_tag(&sub, 1, WIRE_VARINT);
			wr_varint(&sub, 1);
			wr_bytes(&sub, 3, json_string_value(v), json_string_length(v));
		} else {
			return enc_fail(e, "want an integer or a string", f);
		}
		wr_sub(out, num, &sub);
		return 0;
	case SCH_RAW: {
		struct buf js = {0};
		api_json_dump(v, &js);
		wr_bytes(&sub, 1, js.data, js.len);
		buf_free(&js);
		wr_sub(out, num, &sub);
		return 0;
	}
	case SCH_MESSAGE:
		if (!json_is_object(v))
			return enc_fail(e, "want an object", f);
		if (++e->depth > MAX_DEPTH)
			return enc_fail(e, "nesting too deep", f);
		r = encode_message(e, f->type, v, &sub);
		e->depth--;
		if (r < 0) {
			buf_free(&sub);
			return r;
		}
		wr_sub(out, num, &sub);
		return 0;
	}
	return enc_fail(e, "unknown type", f);
}

static int encode_field(struct enc *e, const struct sch_field *f, const json_t *obj,
			struct buf *out)
{
	if (f->flags & SCH_F_INLINE) {
		/* The parent's JSON holds the inline struct's fields. */
		struct buf sub = {0};
		int r = encode_message(e, f->type, obj, &sub);
		if (r < 0) {
			buf_free(&sub);
			return r;
		}
		wr_sub(out, f->num, &sub);
		return 0;
	}
	const json_t *v = json_object_get(obj, f->name);
	if (!v || json_is_null(v))
		return 0;
	if (f->container == SCH_LIST) {
		size_t i;
		const json_t *x;
		if (!json_is_array(v))
			return enc_fail(e, "want an array", f);
		json_array_foreach(v, i, x) {
			int r = encode_value(e, f, f->num, x, out);
			if (r < 0)
				return r;
		}
		return 0;
	}
	if (f->container == SCH_MAP) {
		const char *k;
		const json_t *x;
		if (!json_is_object(v))
			return enc_fail(e, "want an object", f);
		json_object_foreach((json_t *)v, k, x) {
			struct buf entry = {0};
			wr_bytes(&entry, 1, k, strlen(k));
			int r = encode_value(e, f, 2, x, &entry);
			if (r < 0) {
				buf_free(&entry);
				return r;
			}
			wr_sub(out, f->num, &entry);
		}
		return 0;
	}
	return encode_value(e, f, f->num, v, out);
}

static int encode_message(struct enc *e, const struct sch_type *t, const json_t *obj,
			  struct buf *out)
{
	/* Ascending field numbers, as Kubernetes' own encoder writes them. */
	uint32_t last = 0;
	for (;;) {
		const struct sch_field *next = NULL;
		for (unsigned i = 0; i < t->nfields; i++)
			if (t->fields[i].num > last && (!next || t->fields[i].num < next->num))
				next = &t->fields[i];
		if (!next)
			return 0;
		int r = encode_field(e, next, obj, out);
		if (r < 0)
			return r;
		last = next->num;
	}
}

int pb_encode(const struct sch_type *t, const json_t *obj, struct buf *out, char **errmsg)
{
	struct enc e = {0};
	int r = encode_message(&e, t, obj, out);
	if (r < 0 && errmsg)
		*errmsg = TAKE_PTR(e.err);
	free(e.err);
	return r;
}

void pb_wrap(const char *api_version, const char *kind, const void *raw, size_t raw_len,
	     struct buf *out)
{
	struct buf tm = {0}, unk = {0};
	wr_bytes(&tm, 1, api_version, strlen(api_version));
	wr_bytes(&tm, 2, kind, strlen(kind));
	wr_sub(&unk, 1, &tm);
	wr_bytes(&unk, 2, raw, raw_len);
	/* contentEncoding and contentType are empty strings, as Kubernetes sends them. */
	wr_bytes(&unk, 3, "", 0);
	wr_bytes(&unk, 4, "", 0);
	buf_append(out, PB_MAGIC, 4);
	buf_append(out, unk.data, unk.len);
	buf_free(&unk);
}
