/* Kubernetes' protobuf encoding, driven by the schema tables: an object
 * travels as the magic "k8s\0" followed by a runtime.Unknown message
 * {typeMeta{apiVersion=1, kind=2}=1, raw=2, contentEncoding=3,
 * contentType=4} whose raw bytes are the object's own message. The object
 * model stays JSON: decoding gives the JSON a client would have sent,
 * encoding reads the JSON we store. This file reads (decode, unwrap);
 * protobuf_encode.c writes (encode, wrap). */
#include "apiserver/protobuf.h"

#include <math.h>
#include <stdio.h>

#include "api/api.h"
#include "base/base.h"
#include "apiserver/pb_wire.h"


/* --- reading the wire --- */

struct rd {
	const uint8_t *p, *end;
};

static int rd_varint(struct rd *r, uint64_t *ret)
{
	uint64_t v = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (r->p >= r->end)
			return -EBADMSG;
		uint8_t b = *r->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return 0;
		}
	}
	return -EBADMSG;
}

static int rd_len(struct rd *r, struct rd *ret)
{
	uint64_t n;
	int e = rd_varint(r, &n);
	if (e < 0)
		return e;
	if (n > (uint64_t)(r->end - r->p))
		return -EBADMSG;
	ret->p = r->p;
	ret->end = r->p + n;
	r->p += n;
	return 0;
}

static int rd_skip(struct rd *r, unsigned wire)
{
	uint64_t v;
	struct rd sub;
	switch (wire) {
	case WIRE_VARINT:
		return rd_varint(r, &v);
	case WIRE_FIXED64:
		if (r->end - r->p < 8)
			return -EBADMSG;
		r->p += 8;
		return 0;
	case WIRE_FIXED32:
		if (r->end - r->p < 4)
			return -EBADMSG;
		r->p += 4;
		return 0;
	case WIRE_LEN:
		return rd_len(r, &sub);
	default:
		return -EBADMSG; /* groups are not used by Kubernetes */
	}
}

static int rd_tag(struct rd *r, uint32_t *num, unsigned *wire)
{
	uint64_t t;
	int e = rd_varint(r, &t);
	if (e < 0)
		return e;
	if (t >> 3 == 0 || t >> 3 > 536870911)
		return -EBADMSG;
	*num = (uint32_t)(t >> 3);
	*wire = (unsigned)(t & 7);
	return 0;
}

/* --- decode --- */

struct dec {
	char *err;
	int depth;
};

static int dec_fail(struct dec *d, const char *what, const struct sch_type *t, const struct sch_field *f)
{
	if (!d->err)
		d->err = xasprintf("protobuf: %s in %s%s%s", what, t ? t->name : "message",
				   f ? "." : "", f ? f->name : "");
	return -EBADMSG;
}

static int decode_message(struct dec *d, const struct sch_type *t, struct rd r, json_t *obj);

static int decode_time(struct rd r, bool micro, json_t **ret)
{
	uint64_t secs = 0, nanos = 0;
	while (r.p < r.end) {
		uint32_t num;
		unsigned wire;
		if (rd_tag(&r, &num, &wire) < 0)
			return -EBADMSG;
		if (wire == WIRE_VARINT && (num == 1 || num == 2)) {
			if (rd_varint(&r, num == 1 ? &secs : &nanos) < 0)
				return -EBADMSG;
		} else if (rd_skip(&r, wire) < 0) {
			return -EBADMSG;
		}
	}
	int64_t ns;
	if (__builtin_mul_overflow((int64_t)secs, (int64_t)1000000000, &ns) ||
	    __builtin_add_overflow(ns, (int64_t)(int32_t)nanos, &ns))
		return -EBADMSG;
	*ret = micro ? api_microtime_to_json(ns) : api_time_to_json(ns);
	return *ret ? 0 : -EBADMSG;
}

/* Go's time.Duration.String(): "1h2m3.5s", "1.5ms", "0s". */
void pb_format_duration(int64_t ns, char *out, size_t cap)
{
	struct buf b = {0};
	uint64_t u = ns < 0 ? (uint64_t)0 - (uint64_t)ns : (uint64_t)ns;

	if (ns < 0)
		buf_putc(&b, '-');
	if (u == 0) {
		buf_puts(&b, "0s");
	} else if (u < 1000000000ull) {
		/* below a second: ns, µs or ms with a fraction */
		const char *unit = u < 1000 ? "ns" : u < 1000000 ? "µs" : "ms";
		uint64_t div = u < 1000 ? 1 : u < 1000000 ? 1000 : 1000000;
		buf_printf(&b, "%llu", (unsigned long long)(u / div));
		uint64_t frac = u % div;
		if (frac) {
			char f[16];
			int w = div == 1000 ? 3 : 6;
			snprintf(f, sizeof(f), "%0*llu", w, (unsigned long long)frac);
			for (int i = w - 1; i >= 0 && f[i] == '0'; i--)
				f[i] = '\0';
			buf_printf(&b, ".%s", f);
		}
		buf_puts(&b, unit);
	} else {
		uint64_t h = u / 3600000000000ull, m = u / 60000000000ull % 60, s = u / 1000000000ull % 60;
		uint64_t frac = u % 1000000000ull;
		if (h)
			buf_printf(&b, "%lluh", (unsigned long long)h);
		if (h || m)
			buf_printf(&b, "%llum", (unsigned long long)m);
		buf_printf(&b, "%llu", (unsigned long long)s);
		if (frac) {
			char f[16];
			snprintf(f, sizeof(f), "%09llu", (unsigned long long)frac);
			for (int i = 8; i >= 0 && f[i] == '0'; i--)
				f[i] = '\0';
			buf_printf(&b, ".%s", f);
		}
		buf_putc(&b, 's');
	}
	snprintf(out, cap, "%s", b.data);
	buf_free(&b);
}

static int decode_scalar_msg(struct dec *d, const struct sch_type *t, const struct sch_field *f,
			     struct rd r, json_t **ret)
{
	switch (f->scalar) {
	case SCH_TIME:
	case SCH_MICROTIME:
		if (decode_time(r, f->scalar == SCH_MICROTIME, ret) < 0)
			return dec_fail(d, "bad time", t, f);
		return 0;
	case SCH_QUANTITY:
	case SCH_DURATION:
	case SCH_RAW:
	case SCH_INTORSTRING: {
		/* Quantity{string=1}, Duration{duration=1}, RawExtension{raw=1},
		 * IntOrString{type=1, intVal=2, strVal=3}. */
		uint64_t type = 0, ival = 0, dur = 0;
		struct rd str = {NULL, NULL};
		while (r.p < r.end) {
			uint32_t num;
			unsigned wire;
			if (rd_tag(&r, &num, &wire) < 0)
				return dec_fail(d, "truncated", t, f);
			int e = 0;
			if (wire == WIRE_LEN && (num == 1 || num == 3) && f->scalar != SCH_DURATION &&
			    !(f->scalar == SCH_INTORSTRING && num == 1))
				e = rd_len(&r, &str);
			else if (wire == WIRE_VARINT && f->scalar == SCH_INTORSTRING && num <= 2)
				e = rd_varint(&r, num == 1 ? &type : &ival);
			else if (wire == WIRE_VARINT && f->scalar == SCH_DURATION && num == 1)
				e = rd_varint(&r, &dur);
			else
				e = rd_skip(&r, wire);
			if (e < 0)
				return dec_fail(d, "truncated", t, f);
		}
		if (f->scalar == SCH_INTORSTRING) {
			if (type == 0)
				*ret = json_integer((int32_t)ival);
			else
				*ret = json_stringn((const char *)str.p ? (const char *)str.p : "",
						    (size_t)(str.end - str.p));
		} else if (f->scalar == SCH_DURATION) {
			char s[64];
			pb_format_duration((int64_t)dur, s, sizeof(s));
			*ret = json_string(s);
		} else if (f->scalar == SCH_QUANTITY) {
			*ret = json_stringn(str.p ? (const char *)str.p : "0", str.p ? (size_t)(str.end - str.p) : 1);
		} else {
			json_t *v = NULL;
			if (!str.p || str.p == str.end) {
				v = json_object();
			} else if (api_json_parse(str.p, (size_t)(str.end - str.p), 0, &v, NULL) < 0) {
				return dec_fail(d, "raw extension is not JSON", t, f);
			}
			*ret = v;
		}
		if (!*ret)
			return dec_fail(d, "invalid string", t, f);
		return 0;
	}
	default:
		return dec_fail(d, "unexpected message", t, f);
	}
}

static int decode_value(struct dec *d, const struct sch_type *t, const struct sch_field *f,
			unsigned wire, struct rd *r, json_t **ret)
{
	uint64_t v;
	struct rd sub;

	switch (f->scalar) {
	case SCH_BOOL:
	case SCH_INT32:
	case SCH_INT64:
		if (wire != WIRE_VARINT || rd_varint(r, &v) < 0)
			return dec_fail(d, "bad varint", t, f);
		if (f->scalar == SCH_BOOL)
			*ret = json_boolean(v != 0);
		else if (f->scalar == SCH_INT32)
			*ret = json_integer((int32_t)v);
		else
			*ret = json_integer((int64_t)v);
		return 0;
	case SCH_FLOAT64: {
		double x;
		if (wire != WIRE_FIXED64 || r->end - r->p < 8)
			return dec_fail(d, "bad double", t, f);
		memcpy(&x, r->p, 8);
		r->p += 8;
		if (!isfinite(x))
			return dec_fail(d, "non-finite double", t, f);
		*ret = json_real(x);
		return 0;
	}
	default:
		break;
	}
	if (wire != WIRE_LEN || rd_len(r, &sub) < 0)
		return dec_fail(d, "bad length", t, f);
	switch (f->scalar) {
	case SCH_STRING:
		*ret = json_stringn((const char *)sub.p, (size_t)(sub.end - sub.p));
		if (!*ret)
			return dec_fail(d, "invalid UTF-8", t, f);
		return 0;
	case SCH_BYTES: {
		char *b64 = base64_encode(sub.p, (size_t)(sub.end - sub.p));
		*ret = json_string(b64);
		free(b64);
		return 0;
	}
	case SCH_MESSAGE: {
		if (++d->depth > MAX_DEPTH)
			return dec_fail(d, "nesting too deep", t, f);
		json_t *o = json_object();
		int e = decode_message(d, f->type, sub, o);
		d->depth--;
		if (e < 0) {
			json_decref(o);
			return e;
		}
		*ret = o;
		return 0;
	}
	default:
		return decode_scalar_msg(d, t, f, sub, ret);
	}
}

static const struct sch_field *field_by_num(const struct sch_type *t, uint32_t num)
{
	for (unsigned i = 0; i < t->nfields; i++)
		if (t->fields[i].num == num)
			return &t->fields[i];
	return NULL;
}

/* A map entry: key=1 (string), value=2. */
static int decode_map_entry(struct dec *d, const struct sch_type *t, const struct sch_field *f,
			    struct rd r, json_t *map)
{
	struct rd key = {(const uint8_t *)"", (const uint8_t *)""};
	json_t *val = NULL;
	while (r.p < r.end) {
		uint32_t num;
		unsigned wire;
		if (rd_tag(&r, &num, &wire) < 0)
			goto bad;
		if (num == 1 && wire == WIRE_LEN) {
			if (rd_len(&r, &key) < 0)
				goto bad;
		} else if (num == 2) {
			json_decref(val);
			val = NULL;
			if (decode_value(d, t, f, wire, &r, &val) < 0)
				goto bad;
		} else if (rd_skip(&r, wire) < 0) {
			goto bad;
		}
	}
	if (memchr(key.p, '\0', (size_t)(key.end - key.p)))
		goto bad;
	if (!val) {
		/* An absent value is the zero value. */
		val = f->scalar == SCH_MESSAGE ? json_object()
		      : f->scalar == SCH_INT32 || f->scalar == SCH_INT64 ? json_integer(0)
		      : f->scalar == SCH_BOOL ? json_false() : json_string("");
	}
	if (json_object_setn_new(map, (const char *)key.p, (size_t)(key.end - key.p), val) < 0)
		return dec_fail(d, "invalid UTF-8 in a map key", t, f);
	return 0;
bad:
	json_decref(val);
	return dec_fail(d, "bad map entry", t, f);
}

static int decode_message(struct dec *d, const struct sch_type *t, struct rd r, json_t *obj)
{
	while (r.p < r.end) {
		uint32_t num;
		unsigned wire;
		if (rd_tag(&r, &num, &wire) < 0)
			return dec_fail(d, "truncated", t, NULL);
		const struct sch_field *f = field_by_num(t, num);
		if (!f) {
			/* Unknown fields are skipped, as protobuf readers do. */
			if (rd_skip(&r, wire) < 0)
				return dec_fail(d, "truncated", t, NULL);
			continue;
		}
		if (f->container == SCH_MAP) {
			struct rd entry;
			if (wire != WIRE_LEN || rd_len(&r, &entry) < 0)
				return dec_fail(d, "bad map", t, f);
			json_t *map = json_object_get(obj, f->name);
			if (!json_is_object(map)) {
				map = json_object();
				json_object_set_new(obj, f->name, map);
			}
			int e = decode_map_entry(d, t, f, entry, map);
			if (e < 0)
				return e;
			continue;
		}
		if (f->container == SCH_LIST && wire == WIRE_LEN &&
		    (f->scalar == SCH_INT32 || f->scalar == SCH_INT64 || f->scalar == SCH_BOOL)) {
			/* packed repeated scalars */
			struct rd packed;
			if (rd_len(&r, &packed) < 0)
				return dec_fail(d, "bad packed list", t, f);
			json_t *arr = json_object_get(obj, f->name);
			if (!json_is_array(arr)) {
				arr = json_array();
				json_object_set_new(obj, f->name, arr);
			}
			while (packed.p < packed.end) {
				json_t *v;
				int e = decode_value(d, t, f, WIRE_VARINT, &packed, &v);
				if (e < 0)
					return e;
				json_array_append_new(arr, v);
			}
			continue;
		}
		json_t *v = NULL;
		int e = decode_value(d, t, f, wire, &r, &v);
		if (e < 0)
			return e;
		if (json_is_null(v) && f->container == SCH_ONE) {
			/* A raw "null" is no value at all, as in the JSON form. */
			json_decref(v);
			continue;
		}
		if (f->container == SCH_LIST) {
			json_t *arr = json_object_get(obj, f->name);
			if (!json_is_array(arr)) {
				arr = json_array();
				json_object_set_new(obj, f->name, arr);
			}
			json_array_append_new(arr, v);
		} else if (f->flags & SCH_F_INLINE) {
			/* The inline struct's fields belong to the parent. */
			json_object_update(obj, v);
			json_decref(v);
		} else {
			json_object_set_new(obj, f->name, v);
		}
	}
	return 0;
}

int pb_decode(const struct sch_type *t, const void *data, size_t len, json_t **ret, char **errmsg)
{
	struct dec d = {0};
	json_t *obj = json_object();
	const uint8_t *p = data ? data : (const uint8_t *)"";
	int e = decode_message(&d, t, (struct rd){p, p + (data ? len : 0)}, obj);
	if (e < 0) {
		json_decref(obj);
		if (errmsg)
			*errmsg = TAKE_PTR(d.err);
		free(d.err);
		return e;
	}
	free(d.err);
	*ret = obj;
	return 0;
}

/* --- the envelope --- */

int pb_unwrap(const void *data, size_t len, struct pb_envelope *ret)
{
	struct rd r = {data, (const uint8_t *)data + len};
	struct pb_envelope env = {0};

	if (len < 4 || memcmp(data, PB_MAGIC, 4) != 0)
		return -EBADMSG;
	r.p += 4;
	while (r.p < r.end) {
		uint32_t num;
		unsigned wire;
		struct rd sub;
		if (rd_tag(&r, &num, &wire) < 0)
			return -EBADMSG;
		if (wire != WIRE_LEN) {
			if (rd_skip(&r, wire) < 0)
				return -EBADMSG;
			continue;
		}
		if (rd_len(&r, &sub) < 0)
			return -EBADMSG;
		if (num == 1) {
			/* TypeMeta{apiVersion=1, kind=2} */
			while (sub.p < sub.end) {
				uint32_t n2;
				unsigned w2;
				struct rd s2;
				if (rd_tag(&sub, &n2, &w2) < 0)
					return -EBADMSG;
				if (w2 != WIRE_LEN) {
					if (rd_skip(&sub, w2) < 0)
						return -EBADMSG;
					continue;
				}
				if (rd_len(&sub, &s2) < 0)
					return -EBADMSG;
				size_t n = (size_t)(s2.end - s2.p);
				if (n >= sizeof(env.api_version))
					return -EBADMSG;
				if (n2 == 1) {
					memcpy(env.api_version, s2.p, n);
					env.api_version[n] = '\0';
				} else if (n2 == 2) {
					if (n >= sizeof(env.kind))
						return -EBADMSG;
					memcpy(env.kind, s2.p, n);
					env.kind[n] = '\0';
				}
			}
		} else if (num == 2) {
			env.raw = sub.p;
			env.raw_len = (size_t)(sub.end - sub.p);
		} else if (num == 3) {
			env.content_encoding_set = sub.p != sub.end;
		}
	}
	*ret = env;
	return 0;
}


int pb_parse_duration(const char *s, int64_t *ret)
{
	/* Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ */
	static const struct {
		const char *unit;
		int64_t ns;
	} units[] = {{"ns", 1}, {"us", 1000}, {"µs", 1000}, {"μs", 1000}, {"ms", 1000000},
		     {"s", 1000000000}, {"m", 60000000000}, {"h", 3600000000000}};
	bool neg = false;
	__int128 total = 0;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (streq(s, "0")) {
		*ret = 0;
		return 0;
	}
	if (!*s)
		return -EINVAL;
	while (*s) {
		__int128 whole = 0, frac = 0, scale = 1;
		bool digits = false;
		while (*s >= '0' && *s <= '9') {
			whole = whole * 10 + (*s++ - '0');
			digits = true;
			if (whole > (__int128)INT64_MAX)
				return -ERANGE;
		}
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9') {
				if (scale < 1000000000000000000)
					frac = frac * 10 + (*s - '0'), scale *= 10;
				s++;
				digits = true;
			}
		}
		if (!digits)
			return -EINVAL;
		size_t best = 0;
		int64_t mult = 0;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			size_t n = strlen(units[i].unit);
			if (n > best && strncmp(s, units[i].unit, n) == 0) {
				best = n;
				mult = units[i].ns;
			}
		}
		if (!best)
			return -EINVAL;
		s += best;
		total += whole * mult + frac * mult / scale;
		if (total > (__int128)INT64_MAX)
			return -ERANGE;
	}
	*ret = neg ? -(int64_t)total : (int64_t)total;
	return 0;
}
