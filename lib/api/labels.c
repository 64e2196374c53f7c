/* Label selectors: the lexer, parser, validation, matching and formatting of
 * k8s.io/apimachinery/pkg/labels, with its error messages. */
#include "api/internal.h"

enum tok {
	T_ERROR, T_EOS, T_CLOSE, T_COMMA, T_NOT, T_DEQ, T_EQ, T_GT, T_IDENT, T_IN, T_LT, T_NEQ,
	T_NOTIN, T_OPEN,
};

struct token {
	enum tok tok;
	char *lit;
};

struct lparser {
	struct token *items;
	size_t n, pos;
};

static const struct {
	const char *s;
	enum tok tok;
} keywords[] = {
	{")", T_CLOSE}, {",", T_COMMA}, {"!", T_NOT}, {"==", T_DEQ}, {"=", T_EQ}, {">", T_GT},
	{"in", T_IN}, {"<", T_LT}, {"!=", T_NEQ}, {"notin", T_NOTIN}, {"(", T_OPEN},
};

static enum tok keyword(const char *s, size_t n)
{
	for (size_t i = 0; i < ARRAY_SIZE(keywords); i++)
		if (strlen(keywords[i].s) == n && memcmp(keywords[i].s, s, n) == 0)
			return keywords[i].tok;
	return T_ERROR;
}

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_special(char c)
{
	return c && strchr("=!(),><", c);
}

/* Lex one token at *pp. Special symbols are read greedily while they form a keyword. */
static struct token lex(const char **pp)
{
	const char *p = *pp, *start;
	enum tok t;

	while (is_ws(*p))
		p++;
	start = p;
	if (!*p) {
		*pp = p;
		return (struct token){T_EOS, xstrdup("")};
	}
	if (is_special(*p)) {
		enum tok last = T_ERROR;
		size_t len = 0;

		for (size_t n = 1; is_special(p[n - 1]); n++) {
			t = keyword(p, n);
			if (t != T_ERROR) {
				last = t;
				len = n;
			} else if (last != T_ERROR) {
				break;
			}
		}
		*pp = p + len;
		return (struct token){last, xstrndup(start, len)};
	}
	while (*p && !is_special(*p) && !is_ws(*p))
		p++;
	*pp = p;
	t = keyword(start, (size_t)(p - start));
	return (struct token){t == T_IN || t == T_NOTIN ? t : T_IDENT,
			      xstrndup(start, (size_t)(p - start))};
}

/* In value context the keywords in/notin are plain identifiers. */
static enum tok as_value(enum tok t)
{
	return t == T_IN || t == T_NOTIN ? T_IDENT : t;
}

static struct token *peek(struct lparser *p)
{
	return &p->items[p->pos];
}

static struct token *next(struct lparser *p)
{
	return &p->items[p->pos < p->n - 1 ? p->pos++ : p->pos];
}

static const char *op_binary_list = "in, notin, =, ==, !=, gt, lt";

/* ---- Requirements ---- */

static void req_clear(struct api_label_requirement *r)
{
	free(r->key);
	for (size_t i = 0; i < r->nvalues; i++)
		free(r->values[i]);
	free(r->values);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A list of values; set_finish() makes it sorted and unique (sets.String.List()). */
struct strset {
	char **v;
	size_t n, cap;
};

static void set_insert(struct strset *s, const char *v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 4;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = xstrdup(v);
}

static void set_finish(struct strset *s)
{
	size_t n = 0;

	if (s->n < 2)
		return;
	qsort(s->v, s->n, sizeof(*s->v), cmp_str);
	for (size_t i = 0; i < s->n; i++) {
		if (n > 0 && streq(s->v[n - 1], s->v[i]))
			free(s->v[i]);
		else
			s->v[n++] = s->v[i];
	}
	s->n = n;
}

static void set_clear(struct strset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	*s = (struct strset){0};
}

static bool parse_int64(const char *s, int64_t *ret)
{
	return parse_i64(s, strlen(s), ret) == 0;
}

/* A JSON list of strings as Go marshals []string (nil for none). */
static json_t *values_json(char *const *values, size_t n, bool nil_if_empty)
{
	json_t *a;

	if (n == 0 && nil_if_empty)
		return json_null();
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, api_json_string_lossy(values[i]));
	return a;
}

/* NewRequirement's checks; the errors go to errs, paths under `path` ("" for none). */
static void check_requirement(const char *key, enum api_selector_op op, char *const *values,
			      size_t n, bool nil_values, const char *path,
			      struct api_field_errors *errs)
{
	struct api_msgs msgs = {0};
	char *f;

	if (api_is_qualified_name(key, &msgs)) {
		_cleanup_free_ char *j = api_msgs_join(&msgs, "; ");
		f = xasprintf("%s%skey", path, *path ? "." : "");
		api_field_invalid(errs, f, api_json_string_lossy(key), j);
		free(f);
	}
	api_msgs_clear(&msgs);
	f = xasprintf("%s%svalues", path, *path ? "." : "");
	switch (op) {
	case API_OP_IN:
	case API_OP_NOT_IN:
		if (n == 0)
			api_field_invalid(errs, f, values_json(values, n, nil_values),
					  "for 'in', 'notin' operators, values set can't be empty");
		break;
	case API_OP_EQUALS:
	case API_OP_DOUBLE_EQUALS:
	case API_OP_NOT_EQUALS:
		if (n != 1)
			api_field_invalid(errs, f, values_json(values, n, nil_values),
					  "exact-match compatibility requires one single value");
		break;
	case API_OP_EXISTS:
	case API_OP_DOES_NOT_EXIST:
		if (n != 0)
			api_field_invalid(errs, f, values_json(values, n, nil_values),
					  "values set must be empty for exists and does not exist");
		break;
	case API_OP_GT:
	case API_OP_LT:
		if (n != 1)
			api_field_invalid(errs, f, values_json(values, n, nil_values),
					  "for 'Gt', 'Lt' operators, exactly one value is "
					  "required");
		for (size_t i = 0; i < n; i++) {
			int64_t v;

			if (!parse_int64(values[i], &v)) {
				_cleanup_free_ char *fi = xasprintf("%s[%zu]", f, i);
				api_field_invalid(errs, fi, api_json_string_lossy(values[i]),
						  "for 'Gt', 'Lt' operators, the value must be an "
						  "integer");
			}
		}
		break;
	}
	for (size_t i = 0; i < n; i++) {
		if (api_is_valid_label_value(values[i], &msgs)) {
			_cleanup_free_ char *j = api_msgs_join(&msgs, "; ");
			_cleanup_free_ char *fi = xasprintf("%s[%zu][%s]", f, i, key);
			api_field_invalid(errs, fi, api_json_string_lossy(values[i]), j);
		}
		api_msgs_clear(&msgs);
	}
	free(f);
}

/* Append a requirement (taking the values) or fail with the aggregated errors. */
static int add_requirement(struct api_label_selector *s, const char *key,
			   enum api_selector_op op, struct strset *values, bool nil_values,
			   struct buf *err)
{
	struct api_field_errors errs = {0};

	check_requirement(key, op, values->v, values->n, nil_values, "", &errs);
	if (errs.n > 0) {
		_cleanup_free_ char *agg = api_field_errors_aggregate(&errs);
		buf_puts(err, agg);
		api_field_errors_clear(&errs);
		return -EINVAL;
	}
	if ((s->n & (s->n - 1)) == 0) /* grow at powers of two */
		s->reqs = xrealloc(s->reqs, (s->n ? 2 * s->n : 1) * sizeof(*s->reqs));
	s->reqs[s->n++] = (struct api_label_requirement){
		.key = xstrdup(key), .op = op, .values = values->v, .nvalues = values->n};
	*values = (struct strset){0};
	return 0;
}

struct indexed_req {
	struct api_label_requirement r;
	size_t i;
};

static int cmp_indexed(const void *a, const void *b)
{
	const struct indexed_req *x = a, *y = b;
	int c = strcmp(x->r.key, y->r.key);

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Sort by key as Kubernetes does, keeping equal keys in their order. */
static void sort_requirements(struct api_label_selector *s)
{
	struct indexed_req *t;

	if (s->n < 2)
		return;
	t = xnew(struct indexed_req, s->n);
	for (size_t i = 0; i < s->n; i++)
		t[i] = (struct indexed_req){s->reqs[i], i};
	qsort(t, s->n, sizeof(*t), cmp_indexed);
	for (size_t i = 0; i < s->n; i++)
		s->reqs[i] = t[i].r;
	free(t);
}

/* ---- Parser ---- */

static int parse_values(struct lparser *p, struct strset *set, struct buf *err)
{
	struct token *t = next(p);

	if (t->tok != T_OPEN) {
		buf_printf(err, "found '%s' expected: '('", t->lit);
		return -EINVAL;
	}
	t = peek(p);
	switch (as_value(t->tok)) {
	case T_CLOSE: /* "()" is the empty value */
		next(p);
		set_insert(set, "");
		return 0;
	case T_IDENT:
	case T_COMMA:
		break;
	default:
		buf_printf(err, "found '%s', expected: ',', ')' or identifier", t->lit);
		return -EINVAL;
	}
	for (;;) {
		t = next(p);
		enum tok la;

		switch (as_value(t->tok)) {
		case T_IDENT:
			set_insert(set, t->lit);
			la = as_value(peek(p)->tok);
			if (la == T_CLOSE) {
				next(p);
				return 0;
			}
			if (la != T_COMMA) {
				buf_printf(err, "found '%s', expected: ',' or ')'", peek(p)->lit);
				return -EINVAL;
			}
			break;
		case T_COMMA: /* "(," ",," and ",)" stand for the empty value */
			if (set->n == 0)
				set_insert(set, "");
			la = as_value(peek(p)->tok);
			if (la == T_CLOSE) {
				set_insert(set, "");
				next(p);
				return 0;
			}
			if (la == T_COMMA)
				set_insert(set, "");
			break;
		default:
			buf_printf(err, "found '%s', expected: ',', or identifier", t->lit);
			return -EINVAL;
		}
	}
}

static int parse_requirement(struct lparser *p, struct api_label_selector *s, struct buf *err)
{
	struct strset values = {0};
	enum api_selector_op op = API_OP_EXISTS;
	bool has_op = false, not = false;
	struct token *t = next(p);
	const char *key;
	int r = 0;

	if (t->tok == T_NOT) {
		not = true;
		t = next(p);
	}
	if (as_value(t->tok) != T_IDENT) {
		buf_printf(err, "found '%s', expected: identifier", t->lit);
		return -EINVAL;
	}
	key = t->lit;
	struct api_msgs msgs = {0};
	if (api_is_qualified_name(key, &msgs)) {
		_cleanup_free_ char *j = api_msgs_join(&msgs, "; ");
		buf_puts(err, "<nil>: Invalid value: ");
		go_quote(err, key, strlen(key));
		buf_printf(err, ": %s", j);
		api_msgs_clear(&msgs);
		return -EINVAL;
	}
	enum tok la = as_value(peek(p)->tok);
	if (not || la == T_EOS || la == T_COMMA)
		return add_requirement(s, key, not ? API_OP_DOES_NOT_EXIST : API_OP_EXISTS,
				       &values, false, err);

	t = next(p);
	switch (t->tok) {
	case T_IN: op = API_OP_IN; has_op = true; break;
	case T_NOTIN: op = API_OP_NOT_IN; has_op = true; break;
	case T_EQ: op = API_OP_EQUALS; has_op = true; break;
	case T_DEQ: op = API_OP_DOUBLE_EQUALS; has_op = true; break;
	case T_NEQ: op = API_OP_NOT_EQUALS; has_op = true; break;
	case T_GT: op = API_OP_GT; has_op = true; break;
	case T_LT: op = API_OP_LT; has_op = true; break;
	default: break;
	}
	if (!has_op) {
		buf_printf(err, "found '%s', expected: %s", t->lit, op_binary_list);
		return -EINVAL;
	}
	if (op == API_OP_IN || op == API_OP_NOT_IN) {
		r = parse_values(p, &values, err);
	} else {
		la = as_value(peek(p)->tok);
		if (la == T_EOS || la == T_COMMA) {
			set_insert(&values, "");
		} else if (as_value((t = next(p))->tok) == T_IDENT) {
			set_insert(&values, t->lit);
		} else {
			buf_printf(err, "found '%s', expected: identifier", t->lit);
			r = -EINVAL;
		}
	}
	set_finish(&values);
	if (r == 0)
		r = add_requirement(s, key, op, &values, false, err);
	set_clear(&values);
	return r;
}

static int parse_all(struct lparser *p, struct api_label_selector *s, struct buf *err)
{
	for (;;) {
		struct token *t = peek(p);
		enum tok tk = as_value(t->tok);

		if (tk == T_EOS)
			return 0;
		if (tk != T_IDENT && tk != T_NOT) {
			buf_printf(err, "found '%s', expected: !, identifier, or 'end of string'",
				   t->lit);
			return -EINVAL;
		}
		struct buf sub = {0};
		if (parse_requirement(p, s, &sub) < 0) {
			buf_printf(err, "unable to parse requirement: %s",
				   sub.data ? sub.data : "");
			buf_free(&sub);
			return -EINVAL;
		}
		buf_free(&sub);
		t = next(p);
		tk = as_value(t->tok);
		if (tk == T_EOS)
			return 0;
		if (tk != T_COMMA) {
			buf_printf(err, "found '%s', expected: ',' or 'end of string'", t->lit);
			return -EINVAL;
		}
		tk = as_value(peek(p)->tok);
		if (tk != T_IDENT && tk != T_NOT) {
			buf_printf(err, "found '%s', expected: identifier after ','", peek(p)->lit);
			return -EINVAL;
		}
	}
}

int api_label_selector_parse(const char *str, struct api_label_selector **ret, char **errmsg)
{
	struct api_label_selector *s = xnew(struct api_label_selector, 1);
	struct lparser p = {0};
	struct buf err = {0};
	const char *cur = str;
	int r;

	for (;;) {
		if ((p.n & (p.n - 1)) == 0)
			p.items = xrealloc(p.items, (p.n ? 2 * p.n : 1) * sizeof(*p.items));
		p.items[p.n] = lex(&cur);
		if (p.items[p.n++].tok == T_EOS)
			break;
	}
	r = parse_all(&p, s, &err);
	for (size_t i = 0; i < p.n; i++)
		free(p.items[i].lit);
	free(p.items);
	if (r < 0) {
		api_err(errmsg, r, "%s", err.data ? err.data : "");
		buf_free(&err);
		api_label_selector_free(s);
		return r;
	}
	sort_requirements(s);
	*ret = s;
	return 0;
}

/* ---- From metav1.LabelSelector ---- */

static const struct {
	const char *name;
	enum api_selector_op op;
} json_ops[] = {
	{"In", API_OP_IN},
	{"NotIn", API_OP_NOT_IN},
	{"Exists", API_OP_EXISTS},
	{"DoesNotExist", API_OP_DOES_NOT_EXIST},
};

int api_label_selector_from_json(const json_t *ls, struct api_label_selector **ret,
				 char **errmsg)
{
	_cleanup_(api_label_selector_freep) struct api_label_selector *s = NULL;
	json_t *ml, *me, *v, *expr;
	const char *key;
	struct buf err = {0};
	size_t i;

	if (!ls || json_is_null(ls)) {
		*ret = api_label_selector_nothing();
		return 0;
	}
	if (!json_is_object(ls))
		return api_err(errmsg, -EINVAL, "a label selector must be an object");
	s = xnew(struct api_label_selector, 1);
	ml = json_object_get(ls, "matchLabels");
	me = json_object_get(ls, "matchExpressions");
	json_object_foreach(ml, key, v) {
		struct strset vals = {0};

		if (!json_is_string(v))
			return api_err(errmsg, -EINVAL, "matchLabels.%s: must be a string", key);
		set_insert(&vals, json_string_value(v));
		int r = add_requirement(s, key, API_OP_EQUALS, &vals, false, &err);
		set_clear(&vals);
		if (r < 0)
			goto fail;
	}
	json_array_foreach(me, i, expr) {
		const char *op_name = json_string_value(json_object_get(expr, "operator"));
		const char *k = json_string_value(json_object_get(expr, "key"));
		json_t *jv = json_object_get(expr, "values"), *e;
		struct strset vals = {0};
		size_t j, o;

		for (o = 0; o < ARRAY_SIZE(json_ops); o++)
			if (op_name && streq(op_name, json_ops[o].name))
				break;
		if (o == ARRAY_SIZE(json_ops)) {
			go_quote(&err, op_name ? op_name : "", op_name ? strlen(op_name) : 0);
			buf_puts(&err, " is not a valid label selector operator");
			goto fail;
		}
		json_array_foreach(jv, j, e) {
			if (!json_is_string(e)) {
				set_clear(&vals);
				return api_err(errmsg, -EINVAL,
					       "matchExpressions[%zu].values[%zu]: must be a "
					       "string", i, j);
			}
			/* matchExpressions keep their values as given (no set semantics) */
			set_insert(&vals, json_string_value(e));
		}
		int r = add_requirement(s, k ? k : "", json_ops[o].op, &vals, true, &err);
		set_clear(&vals);
		if (r < 0)
			goto fail;
	}
	if (s->n == 0) {
		*ret = api_label_selector_everything();
		return 0;
	}
	sort_requirements(s);
	*ret = TAKE_PTR(s);
	return 0;
fail:
	api_err(errmsg, -EINVAL, "%s", err.data ? err.data : "");
	buf_free(&err);
	return -EINVAL;
}

struct api_label_selector *api_label_selector_everything(void)
{
	return xnew(struct api_label_selector, 1);
}

struct api_label_selector *api_label_selector_nothing(void)
{
	struct api_label_selector *s = xnew(struct api_label_selector, 1);

	s->nothing = true;
	return s;
}

struct api_label_selector *api_label_selector_free(struct api_label_selector *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		req_clear(&s->reqs[i]);
	free(s->reqs);
	free(s);
	return NULL;
}

/* ---- Matching and formatting ---- */

static bool has_value(const struct api_label_requirement *r, const char *v)
{
	for (size_t i = 0; i < r->nvalues; i++)
		if (streq(r->values[i], v))
			return true;
	return false;
}

static bool req_matches(const struct api_label_requirement *r, const json_t *labels)
{
	const char *v = json_string_value(json_object_get(labels, r->key));
	int64_t have, want;

	switch (r->op) {
	case API_OP_IN:
	case API_OP_EQUALS:
	case API_OP_DOUBLE_EQUALS:
		return v && has_value(r, v);
	case API_OP_NOT_IN:
	case API_OP_NOT_EQUALS:
		return !v || !has_value(r, v);
	case API_OP_EXISTS:
		return v != NULL;
	case API_OP_DOES_NOT_EXIST:
		return v == NULL;
	case API_OP_GT:
	case API_OP_LT:
		if (!v || r->nvalues != 1 || !parse_int64(v, &have) ||
		    !parse_int64(r->values[0], &want))
			return false;
		return r->op == API_OP_GT ? have > want : have < want;
	}
	return false;
}

bool api_label_selector_matches(const struct api_label_selector *s, const json_t *labels)
{
	if (s->nothing)
		return false;
	for (size_t i = 0; i < s->n; i++)
		if (!req_matches(&s->reqs[i], labels))
			return false;
	return true;
}

bool api_label_selector_empty(const struct api_label_selector *s)
{
	return !s->nothing && s->n == 0;
}

char *api_label_selector_format(const struct api_label_selector *s)
{
	static const char *const ops[] = {
		[API_OP_EQUALS] = "=", [API_OP_DOUBLE_EQUALS] = "==", [API_OP_NOT_EQUALS] = "!=",
		[API_OP_IN] = " in ", [API_OP_NOT_IN] = " notin ", [API_OP_GT] = ">",
		[API_OP_LT] = "<", [API_OP_EXISTS] = "", [API_OP_DOES_NOT_EXIST] = "",
	};
	struct buf b = {0};

	for (size_t i = 0; !s->nothing && i < s->n; i++) {
		const struct api_label_requirement *r = &s->reqs[i];
		bool set = r->op == API_OP_IN || r->op == API_OP_NOT_IN;

		if (i > 0)
			buf_putc(&b, ',');
		if (r->op == API_OP_DOES_NOT_EXIST)
			buf_putc(&b, '!');
		buf_puts(&b, r->key);
		if (r->op == API_OP_EXISTS || r->op == API_OP_DOES_NOT_EXIST)
			continue;
		buf_puts(&b, ops[r->op]);
		if (set)
			buf_putc(&b, '(');
		char **sorted = xnew(char *, r->nvalues);
		if (r->nvalues > 0) {
			memcpy(sorted, r->values, r->nvalues * sizeof(*sorted));
			qsort(sorted, r->nvalues, sizeof(*sorted), cmp_str);
		}
		for (size_t j = 0; j < r->nvalues; j++)
			buf_printf(&b, "%s%s", j > 0 ? "," : "", sorted[j]);
		free(sorted);
		if (set)
			buf_putc(&b, ')');
	}
	return buf_steal(&b);
}

bool api_label_selector_requires_exact(const struct api_label_selector *s, const char *label,
				       const char **ret_value)
{
	for (size_t i = 0; !s->nothing && i < s->n; i++) {
		const struct api_label_requirement *r = &s->reqs[i];

		if (!streq(r->key, label))
			continue;
		bool exact = r->op == API_OP_EQUALS || r->op == API_OP_DOUBLE_EQUALS ||
			     r->op == API_OP_IN;

		if (exact && r->nvalues == 1) {
			*ret_value = r->values[0];
			return true;
		}
		return false;
	}
	return false;
}
