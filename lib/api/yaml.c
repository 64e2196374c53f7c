/* YAML into the JSON object model, as Kubernetes reads YAML request bodies
 * (server-side apply's application/apply-patch+yaml): one document;
 * mappings become objects with string keys, sequences arrays, plain scalars
 * are resolved to null, booleans, integers and floats the way go-yaml v2
 * (behind sigs.k8s.io/yaml) resolves them, quoted scalars stay strings.
 * Aliases are expanded with a cap on the total size, so a small document
 * cannot expand into a huge one. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <yaml.h>

#include "api/api.h"

#define MAX_NODES 1000000
#define MAX_DEPTH 1000

struct anchor {
	char *name;
	json_t *value;
};

struct ydec {
	yaml_parser_t p;
	struct anchor *anchors;
	size_t nanchors;
	size_t nodes;
	char *err;
};

static int fail(struct ydec *d, char *msg)
{
	if (!d->err)
		d->err = msg;
	else
		free(msg);
	return -EBADMSG;
}

static int next(struct ydec *d, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&d->p, ev))
		return fail(d, xasprintf("error converting YAML to JSON: yaml: line %zu: %s",
					 d->p.problem_mark.line + 1,
					 d->p.problem ? d->p.problem : "invalid YAML"));
	return 0;
}

static bool any_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (streq(s, *list))
			return true;
	return false;
}

static json_t *plain_scalar(const char *s, size_t n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On",
					    "ON", "y", "Y", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", "no", "No", "NO", "off",
					     "Off", "OFF", "n", "N", NULL};
	char *end;

	if (any_of(s, nulls))
		return json_null();
	if (any_of(s, trues))
		return json_true();
	if (any_of(s, falses))
		return json_false();
	/* Integers: decimal, 0x hex, 0o and leading-0 octal, with an optional sign. */
	errno = 0;
	const char *digits = s + (s[0] == '-' || s[0] == '+');
	int base = 10;
	if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
		base = 16;
	else if (digits[0] == '0' && digits[1] == 'o')
		base = 8;
	if (*digits && strspn(digits, base == 16 ? "0123456789abcdefABCDEFxX" : "0123456789o") ==
			       strlen(digits)) {
		long long v;
		if (base == 8 && digits[1] == 'o') {
			v = strtoll(digits + 2, &end, 8);
			if (s[0] == '-')
				v = -v;
		} else {
			v = strtoll(s, &end, base == 10 && digits[0] == '0' && digits[1] ? 8 : base);
		}
		if (!errno && *end == '\0')
			return json_integer(v);
	}
	if (streq(s, ".inf") || streq(s, ".Inf") || streq(s, ".INF") || streq(s, "+.inf"))
		return json_real(INFINITY);
	if (streq(s, "-.inf") || streq(s, "-.Inf") || streq(s, "-.INF"))
		return json_real(-INFINITY);
	if (strspn(s, "0123456789.eE+-") == n && strpbrk(s, "0123456789")) {
		double x = strtod(s, &end);
		if (*end == '\0')
			return json_real(x);
	}
	return json_stringn(s, n);
}

static int parse_node(struct ydec *d, yaml_event_t *ev, int depth, json_t **ret);

static void remember(struct ydec *d, const yaml_char_t *anchor, json_t *v)
{
	if (!anchor)
		return;
	d->anchors = xrealloc(d->anchors, (d->nanchors + 1) * sizeof(*d->anchors));
	d->anchors[d->nanchors++] = (struct anchor){xstrdup((const char *)anchor), json_incref(v)};
}

static size_t count_nodes(const json_t *v)
{
	size_t n = 1, i;
	const char *k;
	json_t *x;
	if (json_is_object(v))
		json_object_foreach((json_t *)v, k, x)
			n += count_nodes(x);
	else if (json_is_array(v))
		json_array_foreach(v, i, x)
			n += count_nodes(x);
	return n;
}

static int parse_mapping(struct ydec *d, const yaml_char_t *anchor, int depth, json_t **ret)
{
	json_t *obj = json_object();
	for (;;) {
		yaml_event_t ev;
		int r = next(d, &ev);
		if (r < 0) {
			json_decref(obj);
			return r;
		}
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		json_t *key = NULL, *val = NULL;
		r = parse_node(d, &ev, depth + 1, &key);
		if (r == 0 && !json_is_string(key)) {
			/* JSON keys are strings: scalars print as text, others are refused. */
			if (json_is_integer(key) || json_is_real(key) || json_is_boolean(key) ||
			    json_is_null(key)) {
				char *s = json_is_null(key) ? xstrdup("null") : api_json_dumps(key);
				json_decref(key);
				key = json_string(s);
				free(s);
			} else {
				r = fail(d, xstrdup("error converting YAML to JSON: unsupported map key type"));
			}
		}
		if (r == 0) {
			yaml_event_t vev;
			r = next(d, &vev);
			if (r == 0)
				r = parse_node(d, &vev, depth + 1, &val);
		}
		if (r < 0) {
			json_decref(key);
			json_decref(obj);
			return r;
		}
		json_object_set_new(obj, json_string_value(key), val);
		json_decref(key);
	}
	remember(d, anchor, obj);
	*ret = obj;
	return 0;
}

static int parse_sequence(struct ydec *d, const yaml_char_t *anchor, int depth, json_t **ret)
{
	json_t *arr = json_array();
	for (;;) {
		yaml_event_t ev;
		int r = next(d, &ev);
		if (r < 0) {
			json_decref(arr);
			return r;
		}
		if (ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		json_t *v = NULL;
		r = parse_node(d, &ev, depth + 1, &v);
		if (r < 0) {
			json_decref(arr);
			return r;
		}
		json_array_append_new(arr, v);
	}
	remember(d, anchor, arr);
	*ret = arr;
	return 0;
}

/* Turns the event (which it frees) into a value. */
static int parse_node(struct ydec *d, yaml_event_t *ev, int depth, json_t **ret)
{
	int r = 0;

	if (depth > MAX_DEPTH || ++d->nodes > MAX_NODES) {
		yaml_event_delete(ev);
		return fail(d, xstrdup("error converting YAML to JSON: the document is too deep or too large"));
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT: {
		const char *s = (const char *)ev->data.scalar.value;
		size_t n = ev->data.scalar.length;
		bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		const char *tag = (const char *)ev->data.scalar.tag;
		json_t *v = plain && (!tag || streq(tag, "!")) ? plain_scalar(s, n) : json_stringn(s, n);
		if (!v)
			r = fail(d, xstrdup("error converting YAML to JSON: invalid UTF-8 in a string"));
		else {
			remember(d, ev->data.scalar.anchor, v);
			*ret = v;
		}
		break;
	}
	case YAML_MAPPING_START_EVENT: {
		_cleanup_free_ char *anchor = ev->data.mapping_start.anchor
						      ? xstrdup((const char *)ev->data.mapping_start.anchor)
						      : NULL;
		yaml_event_delete(ev);
		return parse_mapping(d, (const yaml_char_t *)anchor, depth, ret);
	}
	case YAML_SEQUENCE_START_EVENT: {
		_cleanup_free_ char *anchor = ev->data.sequence_start.anchor
						      ? xstrdup((const char *)ev->data.sequence_start.anchor)
						      : NULL;
		yaml_event_delete(ev);
		return parse_sequence(d, (const yaml_char_t *)anchor, depth, ret);
	}
	case YAML_ALIAS_EVENT: {
		const char *name = (const char *)ev->data.alias.anchor;
		json_t *found = NULL;
		for (size_t i = d->nanchors; i-- > 0;)
			if (streq(d->anchors[i].name, name)) {
				found = d->anchors[i].value;
				break;
			}
		if (!found) {
			r = fail(d, xasprintf("error converting YAML to JSON: yaml: unknown anchor '%s' referenced", name));
			break;
		}
		d->nodes += count_nodes(found);
		if (d->nodes > MAX_NODES) {
			r = fail(d, xstrdup("error converting YAML to JSON: the document is too large once its aliases are expanded"));
			break;
		}
		*ret = json_deep_copy(found);
		break;
	}
	default:
		r = fail(d, xstrdup("error converting YAML to JSON: unexpected YAML structure"));
	}
	yaml_event_delete(ev);
	return r;
}

int api_yaml_parse(const void *data, size_t len, json_t **ret, char **errmsg)
{
	struct ydec d = {0};
	yaml_event_t ev;
	json_t *doc = NULL;
	int r = 0;

	yaml_parser_initialize(&d.p);
	yaml_parser_set_input_string(&d.p, data, len);
	/* stream start, document start (or the empty stream) */
	for (;;) {
		r = next(&d, &ev);
		if (r < 0)
			goto out;
		yaml_event_type_t t = ev.type;
		if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (t == YAML_STREAM_END_EVENT || t == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			doc = json_null();
			break;
		}
		r = parse_node(&d, &ev, 0, &doc);
		break;
	}
out:
	yaml_parser_delete(&d.p);
	for (size_t i = 0; i < d.nanchors; i++) {
		free(d.anchors[i].name);
		json_decref(d.anchors[i].value);
	}
	free(d.anchors);
	if (r < 0) {
		json_decref(doc);
		if (errmsg)
			*errmsg = TAKE_PTR(d.err);
		free(d.err);
		return r;
	}
	*ret = doc;
	return 0;
}
