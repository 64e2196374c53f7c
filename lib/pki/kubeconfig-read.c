/* lib/pki: reading a kubeconfig (any YAML style) and resolving one context with libyaml. */
#include "pki/pki-internal.h"

#include <libgen.h>
#include <yaml.h>

#define KUBECONFIG_MAX (16u << 20)
#define PEM_FILE_MAX (1u << 20)

struct reader {
	yaml_document_t doc;
	const char *base_dir;
};

static yaml_node_t *node(struct reader *r, int id)
{
	return yaml_document_get_node(&r->doc, id);
}

/* A scalar's text, or NULL for anything else. libyaml NUL-terminates scalars. */
static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *map_get(struct reader *r, const yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(node(r, p->key));
		if (k && streq(k, key))
			return node(r, p->value);
	}
	return NULL;
}

static const char *map_str(struct reader *r, const yaml_node_t *map, const char *key)
{
	const char *s = scalar(map_get(r, map, key));
	return s && *s ? s : NULL;
}

/* The `field` mapping of the entry called `name` in the list `list`
 * (clusters/cluster, users/user, contexts/context); -EBADMSG when absent. */
static int named_entry(struct reader *r, const yaml_node_t *root, const char *list,
		       const char *name, const char *field, yaml_node_t **ret)
{
	yaml_node_t *seq = map_get(r, root, list);

	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return -EBADMSG;
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++) {
		yaml_node_t *entry = node(r, *i);
		const char *n = map_str(r, entry, "name");
		if (n && streq(n, name)) {
			/* "user: {}" and a missing body both mean: nothing set. */
			*ret = map_get(r, entry, field);
			return 0;
		}
	}
	return -EBADMSG;
}

static char *path_join(const char *base_dir, const char *path)
{
	if (path[0] == '/' || !base_dir)
		return xstrdup(path);
	return xasprintf("%s/%s", base_dir, path);
}

/* PEM from `<key>-data` (base64) or from the file `<key>` names. */
static int pem_field(struct reader *r, const yaml_node_t *map, const char *key, char **ret)
{
	_cleanup_free_ char *data_key = xasprintf("%s-data", key);
	const char *data = map_str(r, map, data_key);
	const char *file = map_str(r, map, key);
	int err;

	if (data)
		return pki_base64_decode(data, strlen(data), ret, NULL);
	if (file) {
		_cleanup_free_ char *path = path_join(r->base_dir, file);
		struct buf b = {0};
		err = read_file(path, PEM_FILE_MAX, &b);
		if (err < 0)
			return err;
		*ret = buf_steal(&b);
	}
	return 0;
}

static int resolve(struct reader *r, const char *context, struct pki_kubeconfig *kc)
{
	yaml_node_t *root = yaml_document_get_root_node(&r->doc);
	yaml_node_t *ctx, *cluster, *user;
	const char *s;
	int err;

	if (!root || root->type != YAML_MAPPING_NODE)
		return -EBADMSG;
	if (!context)
		context = map_str(r, root, "current-context");
	if (!context)
		return -EBADMSG;
	err = named_entry(r, root, "contexts", context, "context", &ctx);
	if (err < 0)
		return err;
	kc->context = xstrdup(context);
	s = map_str(r, ctx, "cluster");
	if (!s)
		return -EBADMSG;
	kc->cluster = xstrdup(s);
	s = map_str(r, ctx, "user");
	if (s)
		kc->user = xstrdup(s);
	s = map_str(r, ctx, "namespace");
	if (s)
		kc->namespace = xstrdup(s);

	err = named_entry(r, root, "clusters", kc->cluster, "cluster", &cluster);
	if (err < 0)
		return err;
	s = map_str(r, cluster, "server");
	if (s)
		kc->server = xstrdup(s);
	s = map_str(r, cluster, "insecure-skip-tls-verify");
	kc->insecure_skip_tls_verify = s && strcaseeq(s, "true");
	err = pem_field(r, cluster, "certificate-authority", &kc->ca_pem);
	if (err < 0 || !kc->user)
		return err;

	err = named_entry(r, root, "users", kc->user, "user", &user);
	if (err == 0)
		err = pem_field(r, user, "client-certificate", &kc->client_cert_pem);
	if (err == 0)
		err = pem_field(r, user, "client-key", &kc->client_key_pem);
	if (err == 0 && (s = map_str(r, user, "token")))
		kc->token = xstrdup(s);
	return err;
}

int pki_kubeconfig_parse(const char *text, size_t n, const char *base_dir, const char *context,
			 struct pki_kubeconfig **ret)
{
	struct reader r = {.base_dir = base_dir};
	struct pki_kubeconfig *kc;
	yaml_parser_t parser;
	int err;

	if (!text)
		return -EINVAL;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
	if (!yaml_parser_load(&parser, &r.doc)) {
		yaml_parser_delete(&parser);
		return -EBADMSG;
	}
	yaml_parser_delete(&parser);
	kc = xnew(struct pki_kubeconfig, 1);
	err = resolve(&r, context, kc);
	yaml_document_delete(&r.doc);
	if (err < 0) {
		pki_kubeconfig_free(kc);
		return err;
	}
	*ret = kc;
	return 0;
}

int pki_kubeconfig_read(const char *path, const char *context, struct pki_kubeconfig **ret)
{
	_cleanup_free_ char *dir = NULL;
	struct buf b = {0};
	int err;

	if (!path)
		return -EINVAL;
	err = read_file(path, KUBECONFIG_MAX, &b);
	if (err < 0)
		return err;
	dir = xstrdup(path);
	err = pki_kubeconfig_parse(b.data, b.len, dirname(dir), context, ret);
	OPENSSL_cleanse(b.data, b.len);
	buf_free(&b);
	return err;
}
