/* JSON in and out: jansson parses, a byte scanner with Go encoding/json's state machine
 * words syntax errors as kube-apiserver reports them, and a small encoder writes JSON
 * byte-identical to Go's. */
#include "api/internal.h"

enum scan_state {
	S_BEGIN_VALUE,
	S_BEGIN_VALUE_OR_EMPTY,
	S_BEGIN_STRING_OR_EMPTY,
	S_BEGIN_STRING,
	S_END_VALUE,
	S_END_TOP,
	S_IN_STRING,
	S_IN_STRING_ESC,
	S_ESC_U, S_ESC_U1, S_ESC_U12, S_ESC_U123,
	S_NEG, S_ONE, S_ZERO, S_DOT, S_DOT0, S_E, S_E_SIGN, S_E0,
	S_T, S_TR, S_TRU, S_F, S_FA, S_FAL, S_FALS, S_N, S_NU, S_NUL,
	S_ERROR,
};

enum { P_OBJECT_KEY, P_OBJECT_VALUE, P_ARRAY_VALUE };

#define GO_MAX_DEPTH 10000

struct scanner {
	enum scan_state step;
	bool end_top;
	unsigned char *stack;
	size_t depth;
	struct buf *err;
};

/* Go's quoteChar: 'x', '\'', '"', '\n', '\x00', '\u0080' (a byte read as a Latin-1 rune). */
static void quote_char(struct buf *b, unsigned char c)
{
	struct buf q = {0};
	char utf8[2];

	if (c == '\'') {
		buf_puts(b, "'\\''");
		return;
	}
	if (c == '"') {
		buf_puts(b, "'\"'");
		return;
	}
	if (c < 0x80) {
		go_quote(&q, (const char *)&c, 1);
	} else {
		utf8[0] = (char)(0xC0 | (c >> 6));
		utf8[1] = (char)(0x80 | (c & 0x3F));
		go_quote(&q, utf8, 2);
	}
	buf_putc(b, '\'');
	buf_append(b, q.data + 1, q.len - 2);
	buf_putc(b, '\'');
	buf_free(&q);
}

static void scan_error(struct scanner *s, unsigned char c, const char *context)
{
	s->step = S_ERROR;
	buf_clear(s->err);
	buf_puts(s->err, "invalid character ");
	quote_char(s->err, c);
	buf_printf(s->err, " %s", context);
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static void push(struct scanner *s, unsigned char c, int state, enum scan_state next)
{
	s->step = next;
	if (s->depth >= GO_MAX_DEPTH) {
		scan_error(s, c, "exceeded max depth");
		return;
	}
	s->stack[s->depth++] = (unsigned char)state;
}

static void pop(struct scanner *s)
{
	s->depth--;
	if (s->depth == 0) {
		s->step = S_END_TOP;
		s->end_top = true;
	} else {
		s->step = S_END_VALUE;
	}
}

static void scan_literal(struct scanner *s, unsigned char c, unsigned char want,
			 enum scan_state next, const char *context)
{
	if (c == want)
		s->step = next;
	else
		scan_error(s, c, context);
}

static void step_begin_value(struct scanner *s, unsigned char c)
{
	if (is_space(c))
		return;
	switch (c) {
	case '{': push(s, c, P_OBJECT_KEY, S_BEGIN_STRING_OR_EMPTY); return;
	case '[': push(s, c, P_ARRAY_VALUE, S_BEGIN_VALUE_OR_EMPTY); return;
	case '"': s->step = S_IN_STRING; return;
	case '-': s->step = S_NEG; return;
	case '0': s->step = S_ZERO; return;
	case 't': s->step = S_T; return;
	case 'f': s->step = S_F; return;
	case 'n': s->step = S_N; return;
	}
	if (c >= '1' && c <= '9')
		s->step = S_ONE;
	else
		scan_error(s, c, "looking for beginning of value");
}

static void step_end_value(struct scanner *s, unsigned char c)
{
	if (s->depth == 0) {
		s->step = S_END_TOP;
		s->end_top = true;
		if (!is_space(c))
			scan_error(s, c, "after top-level value");
		return;
	}
	if (is_space(c)) {
		s->step = S_END_VALUE;
		return;
	}
	switch (s->stack[s->depth - 1]) {
	case P_OBJECT_KEY:
		if (c == ':') {
			s->stack[s->depth - 1] = P_OBJECT_VALUE;
			s->step = S_BEGIN_VALUE;
		} else {
			scan_error(s, c, "after object key");
		}
		return;
	case P_OBJECT_VALUE:
		if (c == ',') {
			s->stack[s->depth - 1] = P_OBJECT_KEY;
			s->step = S_BEGIN_STRING;
		} else if (c == '}') {
			pop(s);
		} else {
			scan_error(s, c, "after object key:value pair");
		}
		return;
	default:
		if (c == ',')
			s->step = S_BEGIN_VALUE;
		else if (c == ']')
			pop(s);
		else
			scan_error(s, c, "after array element");
	}
}

/* Number states fall through to the end of the value on any other byte. */
static void step_number(struct scanner *s, unsigned char c)
{
	bool digit = c >= '0' && c <= '9';

	switch (s->step) {
	case S_NEG:
		if (c == '0')
			s->step = S_ZERO;
		else if (c >= '1' && c <= '9')
			s->step = S_ONE;
		else
			scan_error(s, c, "in numeric literal");
		return;
	case S_ONE:
		if (digit)
			return;
		__attribute__((fallthrough));
	case S_ZERO:
		if (c == '.')
			s->step = S_DOT;
		else if (c == 'e' || c == 'E')
			s->step = S_E;
		else
			step_end_value(s, c);
		return;
	case S_DOT:
		if (digit)
			s->step = S_DOT0;
		else
			scan_error(s, c, "after decimal point in numeric literal");
		return;
	case S_DOT0:
		if (digit)
			return;
		if (c == 'e' || c == 'E')
			s->step = S_E;
		else
			step_end_value(s, c);
		return;
	case S_E:
		if (c == '+' || c == '-') {
			s->step = S_E_SIGN;
			return;
		}
		__attribute__((fallthrough));
	case S_E_SIGN:
		if (digit)
			s->step = S_E0;
		else
			scan_error(s, c, "in exponent of numeric literal");
		return;
	default: /* S_E0 */
		if (!digit)
			step_end_value(s, c);
	}
}

static void step(struct scanner *s, unsigned char c)
{
	switch (s->step) {
	case S_BEGIN_VALUE_OR_EMPTY:
		if (is_space(c))
			return;
		if (c == ']')
			step_end_value(s, c);
		else
			step_begin_value(s, c);
		return;
	case S_BEGIN_VALUE:
		step_begin_value(s, c);
		return;
	case S_BEGIN_STRING_OR_EMPTY:
		if (is_space(c))
			return;
		if (c == '}') {
			s->stack[s->depth - 1] = P_OBJECT_VALUE;
			step_end_value(s, c);
			return;
		}
		__attribute__((fallthrough));
	case S_BEGIN_STRING:
		if (is_space(c))
			return;
		if (c == '"')
			s->step = S_IN_STRING;
		else
			scan_error(s, c, "looking for beginning of object key string");
		return;
	case S_END_VALUE:
		step_end_value(s, c);
		return;
	case S_END_TOP:
		if (!is_space(c))
			scan_error(s, c, "after top-level value");
		return;
	case S_IN_STRING:
		if (c == '"')
			s->step = S_END_VALUE;
		else if (c == '\\')
			s->step = S_IN_STRING_ESC;
		else if (c < 0x20)
			scan_error(s, c, "in string literal");
		return;
	case S_IN_STRING_ESC:
		if (strchr("bfnrt\\/\"", c) && c)
			s->step = S_IN_STRING;
		else if (c == 'u')
			s->step = S_ESC_U;
		else
			scan_error(s, c, "in string escape code");
		return;
	case S_ESC_U:
	case S_ESC_U1:
	case S_ESC_U12:
	case S_ESC_U123:
		if (!is_hex(c))
			scan_error(s, c, "in \\u hexadecimal character escape");
		else
			s->step = s->step == S_ESC_U123 ? S_IN_STRING : s->step + 1;
		return;
	case S_T: scan_literal(s, c, 'r', S_TR, "in literal true (expecting 'r')"); return;
	case S_TR: scan_literal(s, c, 'u', S_TRU, "in literal true (expecting 'u')"); return;
	case S_TRU: scan_literal(s, c, 'e', S_END_VALUE, "in literal true (expecting 'e')"); return;
	case S_F: scan_literal(s, c, 'a', S_FA, "in literal false (expecting 'a')"); return;
	case S_FA: scan_literal(s, c, 'l', S_FAL, "in literal false (expecting 'l')"); return;
	case S_FAL: scan_literal(s, c, 's', S_FALS, "in literal false (expecting 's')"); return;
	case S_FALS:
		scan_literal(s, c, 'e', S_END_VALUE, "in literal false (expecting 'e')");
		return;
	case S_N: scan_literal(s, c, 'u', S_NU, "in literal null (expecting 'u')"); return;
	case S_NU: scan_literal(s, c, 'l', S_NUL, "in literal null (expecting 'l')"); return;
	case S_NUL: scan_literal(s, c, 'l', S_END_VALUE, "in literal null (expecting 'l')"); return;
	case S_ERROR:
		return;
	default:
		step_number(s, c);
	}
}

/* Go's checkValid: false and its message in err for the first syntax error. */
static bool go_json_valid(const unsigned char *d, size_t n, struct buf *err)
{
	struct scanner s = {.step = S_BEGIN_VALUE, .err = err};

	s.stack = xmalloc(MIN(n, (size_t)GO_MAX_DEPTH) + 1);
	for (size_t i = 0; i < n && s.step != S_ERROR; i++)
		step(&s, d[i]);
	if (s.step != S_ERROR && !s.end_top) {
		step(&s, ' ');
		if (s.step != S_ERROR && !s.end_top) {
			buf_clear(err);
			buf_puts(err, "unexpected end of JSON input");
			s.step = S_ERROR;
		}
	}
	free(s.stack);
	return s.step != S_ERROR;
}

enum parse_failure { PF_SYNTAX, PF_DUPLICATE, PF_OTHER };

static int parse(const void *data, size_t len, unsigned flags, json_t **ret, struct buf *msg,
		 enum parse_failure *ret_kind)
{
	size_t jflags = JSON_DECODE_ANY | ((flags & API_JSON_STRICT) ? JSON_REJECT_DUPLICATES : 0);
	json_error_t e;
	json_t *j = json_loadb(data, len, jflags, &e);

	if (j) {
		*ret = j;
		return 0;
	}
	if (!go_json_valid(data, len, msg)) {
		*ret_kind = PF_SYNTAX;
		return -EBADMSG;
	}
	*ret_kind = PF_OTHER;
	buf_clear(msg);
	switch (json_error_code(&e)) {
	case json_error_duplicate_key: {
		/* jansson says: duplicate object key near '"name"' */
		const char *near = strstr(e.text, "near '");
		size_t n = near ? strlen(near + 6) : 0;

		*ret_kind = PF_DUPLICATE;
		buf_puts(msg, "duplicate field ");
		if (n > 0)
			buf_append(msg, near + 6, n - 1);
		return -EBADMSG;
	}
	case json_error_null_character:
	case json_error_null_byte_in_key:
		buf_puts(msg, "strings containing \\u0000 are not supported");
		break;
	case json_error_invalid_utf8:
		buf_puts(msg, "invalid UTF-8 in string");
		break;
	case json_error_numeric_overflow:
		buf_printf(msg, "number out of range: %s", e.text);
		break;
	case json_error_stack_overflow:
		buf_printf(msg, "nesting deeper than %d levels is not supported",
			   JSON_PARSER_MAX_DEPTH);
		break;
	default:
		buf_printf(msg, "invalid JSON: %s", e.text);
	}
	return -EBADMSG;
}

int api_json_parse(const void *data, size_t len, unsigned flags, json_t **ret, char **errmsg)
{
	struct buf msg = {0};
	enum parse_failure kind;
	int r = parse(data, len, flags, ret, &msg, &kind);

	if (r < 0)
		api_err(errmsg, r, "%s", msg.data);
	buf_free(&msg);
	return r;
}

/* ---- Request bodies ---- */

#define ERR_GVK "couldn't get version/kind; json parse error: "

/* The handler's summarizeData(body, 30): text for an object, hex otherwise. */
static void summarize(struct buf *b, const unsigned char *d, size_t n)
{
	size_t m = MIN(n, (size_t)30);

	if (n == 0) {
		buf_puts(b, "<empty>");
		return;
	}
	if (d[0] == '{')
		buf_append(b, d, m);
	else
		for (size_t i = 0; i < m; i++)
			buf_printf(b, "%02x", d[i]);
	if (n > 30)
		buf_puts(b, " ...");
}

static const char *json_type_word(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER:
	case JSON_REAL: return "number";
	default: return "bool";
	}
}

static json_t *unrecognized(const char *kind, const char *err, const void *data, size_t len)
{
	struct buf b = {0};
	json_t *st;

	buf_printf(&b, "the object provided is unrecognized (must be of type %s): %s (", kind, err);
	summarize(&b, data, len);
	buf_putc(&b, ')');
	st = api_status_bad_request(b.data);
	buf_free(&b);
	return st;
}

int api_body_decode(const void *data, size_t len, size_t limit, const char *kind,
		    unsigned flags, json_t **ret, json_t **ret_status)
{
	struct buf msg = {0}, err = {0};
	enum parse_failure pf;
	json_t *obj = NULL, *st = NULL;
	int r;

	if (len > limit) {
		*ret_status = api_status_request_entity_too_large(limit);
		return -EMSGSIZE;
	}
	r = parse(data, len, flags, &obj, &msg, &pf);
	if (r < 0) {
		if (pf == PF_DUPLICATE) {
			buf_printf(&err, "strict decoding error: %s", msg.data);
			st = api_status_bad_request(err.data);
		} else {
			buf_printf(&err, "%s%s", ERR_GVK, msg.data);
			st = unrecognized(kind, err.data, data, len);
		}
		goto fail;
	}
	if (json_is_null(obj)) {
		json_decref(obj);
		obj = json_object();
	}
	if (!json_is_object(obj)) {
		buf_printf(&err, "%sjson: cannot unmarshal %s into Go value of type struct { "
				 "APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind "
				 "string \"json:\\\"kind,omitempty\\\"\" }", ERR_GVK,
			   json_type_word(obj));
		st = unrecognized(kind, err.data, data, len);
		goto fail;
	}
	static const char *const typemeta[] = {"apiVersion", "kind"};
	for (size_t i = 0; i < ARRAY_SIZE(typemeta); i++) {
		json_t *v = json_object_get(obj, typemeta[i]);

		if (v && !json_is_null(v) && !json_is_string(v)) {
			buf_printf(&err, "%sjson: cannot unmarshal %s into Go struct field .%s of "
					 "type string", ERR_GVK, json_type_word(v), typemeta[i]);
			st = unrecognized(kind, err.data, data, len);
			goto fail;
		}
	}
	const char *gv = json_string_value(json_object_get(obj, "apiVersion"));
	const char *slash = gv ? strchr(gv, '/') : NULL;
	if (slash && strchr(slash + 1, '/')) {
		buf_printf(&err, "unexpected GroupVersion string: %s", gv);
		st = unrecognized(kind, err.data, data, len);
		goto fail;
	}
	buf_free(&msg);
	*ret = obj;
	return 0;
fail:
	json_decref(obj);
	buf_free(&msg);
	buf_free(&err);
	*ret_status = st;
	return -EBADMSG;
}

/* ---- Encoding ---- */

static void dump_string(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t start = 0;

	buf_putc(b, '"');
	for (size_t i = 0; i < n;) {
		unsigned char c = u[i];
		const char *esc = NULL;
		char tmp[8];

		if (c < 0x80) {
			switch (c) {
			case '"': esc = "\\\""; break;
			case '\\': esc = "\\\\"; break;
			case '\b': esc = "\\b"; break;
			case '\f': esc = "\\f"; break;
			case '\n': esc = "\\n"; break;
			case '\r': esc = "\\r"; break;
			case '\t': esc = "\\t"; break;
			default:
				if (c < 0x20 || c == '<' || c == '>' || c == '&') {
					tmp[0] = '\\', tmp[1] = 'u', tmp[2] = '0', tmp[3] = '0';
					tmp[4] = hex[c >> 4], tmp[5] = hex[c & 0xF], tmp[6] = '\0';
					esc = tmp;
				}
			}
			if (esc) {
				buf_append(b, s + start, i - start);
				buf_puts(b, esc);
				start = i + 1;
			}
			i++;
			continue;
		}
		uint32_t cp;
		size_t w = utf8_len(u + i, n - i, &cp);
		if (w == 0 || cp == 0x2028 || cp == 0x2029) {
			buf_append(b, s + start, i - start);
			buf_puts(b, w == 0 ? "\\ufffd" : cp == 0x2028 ? "\\u2028" : "\\u2029");
			i += w ? w : 1;
			start = i;
			continue;
		}
		i += w;
	}
	buf_append(b, s + start, n - start);
	buf_putc(b, '"');
}

void api_json_dump(const json_t *v, struct buf *out)
{
	const char *key;
	size_t klen, i;
	json_t *val;
	bool first = true;

	if (!v) {
		buf_puts(out, "null");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		buf_putc(out, '{');
		json_object_keylen_foreach((json_t *)v, key, klen, val) {
			if (!first)
				buf_putc(out, ',');
			first = false;
			dump_string(out, key, klen);
			buf_putc(out, ':');
			api_json_dump(val, out);
		}
		buf_putc(out, '}');
		break;
	case JSON_ARRAY:
		buf_putc(out, '[');
		json_array_foreach(v, i, val) {
			if (i > 0)
				buf_putc(out, ',');
			api_json_dump(val, out);
		}
		buf_putc(out, ']');
		break;
	case JSON_STRING:
		dump_string(out, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		buf_printf(out, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		go_format_float(out, json_real_value(v), 'j');
		break;
	case JSON_TRUE:
		buf_puts(out, "true");
		break;
	case JSON_FALSE:
		buf_puts(out, "false");
		break;
	default:
		buf_puts(out, "null");
	}
}

char *api_json_dumps(const json_t *v)
{
	struct buf b = {0};

	api_json_dump(v, &b);
	return buf_steal(&b);
}
