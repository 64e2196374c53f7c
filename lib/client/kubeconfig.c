/* lib/client: loading a kubeconfig. lib/pki resolves the context (one
 * reader of the format in kelp); this file checks the document first so that
 * a missing or malformed piece is reported by name, and adds what pki does
 * not read (tokenFile). */
#include "client/client-internal.h"

#include <libgen.h>
#include <stdio.h>

#define KUBECONFIG_MAX (16u << 20)
#define TOKEN_FILE_MAX (1u << 20)

_printf_(2, 3) static int fail(char **ret_errmsg, const char *fmt, ...)
{
	if (ret_errmsg) {
		struct buf b = {0};
		va_list ap;
		va_start(ap, fmt);
		buf_vprintf(&b, fmt, ap);
		va_end(ap);
		*ret_errmsg = buf_steal(&b);
	}
	return -EBADMSG;
}

static const char *str_or_null(const json_t *o, const char *key)
{
	const char *s = api_get_str(o, key);
	return s && *s ? s : NULL;
}

/* The `field` mapping of the entry named `name` in the list `list`
 * (contexts/context, clusters/cluster, users/user). *ret_found says whether
 * the entry exists; its body may still be empty. */
static const json_t *named(const json_t *root, const char *list, const char *name,
			   const char *field, bool *ret_found)
{
	const json_t *arr = json_object_get(root, list);
	size_t i;
	json_t *e;

	*ret_found = false;
	if (!json_is_array(arr))
		return NULL;
	json_array_foreach(arr, i, e) {
		const char *n = api_get_str(e, "name");
		if (n && streq(n, name)) {
			*ret_found = true;
			return api_get_object(e, field);
		}
	}
	return NULL;
}

static char *path_in(const char *base_dir, const char *path)
{
	if (path[0] == '/' || !base_dir)
		return xstrdup(path);
	return xasprintf("%s/%s", base_dir, path);
}

/* One PEM piece of a cluster or user: `<key>-data` must be base64, the file
 * `<key>` names must be readable. Returns whether either is set. */
static int check_pem(const json_t *m, const char *key, const char *owner, const char *base_dir,
		     bool *ret_set, char **ret_errmsg)
{
	_cleanup_free_ char *data_key = xasprintf("%s-data", key);
	const char *data = str_or_null(m, data_key), *file = str_or_null(m, key);

	*ret_set = data || file;
	if (data) {
		/* Go's decoder, as kubectl's, skips line breaks. */
		_cleanup_free_ char *flat = xmalloc(strlen(data) + 1);
		size_t n = 0;
		for (const char *p = data; *p; p++)
			if (*p != '\r' && *p != '\n')
				flat[n++] = *p;
		flat[n] = '\0';
		_cleanup_free_ uint8_t *raw = base64_decode(flat, &n);
		if (!raw)
			return fail(ret_errmsg, "%s: %s is not valid base64", owner, data_key);
		return 0;
	}
	if (file) {
		_cleanup_free_ char *path = path_in(base_dir, file);
		if (access(path, R_OK) < 0) {
			int err = -errno;
			if (ret_errmsg)
				*ret_errmsg = xasprintf("%s: cannot read %s %s: %s", owner, key, path,
							strerror(-err));
			return err;
		}
	}
	return 0;
}

static int check_cluster(const json_t *cl, const char *owner, const char *base_dir,
			 char **ret_errmsg)
{
	const char *server = str_or_null(cl, "server");
	bool set;

	if (!server)
		return fail(ret_errmsg, "%s has no server", owner);
	if (!str_has_prefix(server, "https://") && !str_has_prefix(server, "http://"))
		return fail(ret_errmsg, "%s: server \"%s\" is not an https:// or http:// URL", owner,
			    server);
	return check_pem(cl, "certificate-authority", owner, base_dir, &set, ret_errmsg);
}

static int check_user(const json_t *u, const char *owner, const char *base_dir,
		      const char **ret_token_file, char **ret_errmsg)
{
	bool cert, key;
	int r;

	r = check_pem(u, "client-certificate", owner, base_dir, &cert, ret_errmsg);
	if (r == 0)
		r = check_pem(u, "client-key", owner, base_dir, &key, ret_errmsg);
	if (r < 0)
		return r;
	if (cert != key)
		return fail(ret_errmsg, "%s: %s without %s", owner,
			    cert ? "client-certificate(-data)" : "client-key(-data)",
			    cert ? "client-key(-data)" : "client-certificate(-data)");
	*ret_token_file = str_or_null(u, "token") ? NULL : str_or_null(u, "tokenFile");
	if (!cert && !str_or_null(u, "token") && !*ret_token_file &&
	    (json_object_get(u, "exec") || json_object_get(u, "auth-provider")))
		return fail(ret_errmsg, "%s authenticates through an %s plugin, which kelp does not "
			    "support", owner, json_object_get(u, "exec") ? "exec" : "auth-provider");
	return 0;
}

/* Walk the document as kubectl resolves it and name the first problem. */
static int check(const json_t *root, const char *base_dir, const char *context,
		 const char **ret_token_file, char **ret_errmsg)
{
	const json_t *ctx, *cl, *u;
	const char *cname, *uname;
	bool found;
	int r;

	if (!json_is_object(root))
		return fail(ret_errmsg, "not a kubeconfig: the document is %s %s, not a mapping",
			    json_is_array(root) || json_is_object(root) ? "an" : "a",
			    api_json_type_word(root));
	if (!context)
		context = str_or_null(root, "current-context");
	if (!context)
		return fail(ret_errmsg, "no current-context is set and no context was named");
	ctx = named(root, "contexts", context, "context", &found);
	if (!found)
		return fail(ret_errmsg, "context \"%s\" is not defined", context);
	cname = str_or_null(ctx, "cluster");
	if (!cname)
		return fail(ret_errmsg, "context \"%s\" names no cluster", context);
	cl = named(root, "clusters", cname, "cluster", &found);
	if (!found)
		return fail(ret_errmsg, "cluster \"%s\" (of context \"%s\") is not defined", cname,
			    context);
	_cleanup_free_ char *cowner = xasprintf("cluster \"%s\"", cname);
	r = check_cluster(cl, cowner, base_dir, ret_errmsg);
	if (r < 0)
		return r;
	*ret_token_file = NULL;
	uname = str_or_null(ctx, "user");
	if (!uname)
		return 0;
	u = named(root, "users", uname, "user", &found);
	if (!found)
		return fail(ret_errmsg, "user \"%s\" (of context \"%s\") is not defined", uname,
			    context);
	_cleanup_free_ char *uowner = xasprintf("user \"%s\"", uname);
	return check_user(u, uowner, base_dir, ret_token_file, ret_errmsg);
}

/* A token file holds the token, maybe with a trailing newline. */
static int read_token(const char *base_dir, const char *file, const char *user, char **ret,
		      char **ret_errmsg)
{
	_cleanup_free_ char *path = path_in(base_dir, file);
	struct buf b = {0};
	int r = read_file(path, TOKEN_FILE_MAX, &b);

	if (r < 0) {
		if (ret_errmsg)
			*ret_errmsg = xasprintf("user \"%s\": cannot read tokenFile %s: %s", user, path,
						strerror(-r));
		return r;
	}
	while (b.len && strchr(" \t\r\n", b.data[b.len - 1]))
		b.data[--b.len] = '\0';
	if (!b.len) {
		buf_free(&b);
		return fail(ret_errmsg, "user \"%s\": tokenFile %s is empty", user, path);
	}
	*ret = buf_steal(&b);
	return 0;
}

int client_kubeconfig_parse(const char *text, size_t n, const char *base_dir, const char *context,
			    struct pki_kubeconfig **ret, char **ret_errmsg)
{
	struct pki_kubeconfig *kc = NULL;
	const char *token_file = NULL;
	json_t *root = NULL;
	char *yerr = NULL;
	int r;

	if (!text)
		return -EINVAL;
	r = api_yaml_parse(text, n, &root, &yerr);
	if (r < 0) {
		r = fail(ret_errmsg, "not YAML: %s", yerr ? yerr : "cannot be parsed");
		free(yerr);
		return r;
	}
	r = check(root, base_dir, context, &token_file, ret_errmsg);
	if (r < 0)
		goto out;
	r = pki_kubeconfig_parse(text, n, base_dir, context, &kc);
	if (r < 0) {
		/* check() accepted what pki refused: say so rather than nothing. */
		if (ret_errmsg)
			*ret_errmsg = xasprintf("the kubeconfig cannot be resolved: %s", strerror(-r));
		goto out;
	}
	/* What pki resolved is what the client uses: hold it to the same rules
	 * (the two readings differ where YAML is odd, e.g. a key given twice). */
	if (!kc->server || (!str_has_prefix(kc->server, "https://") &&
			    !str_has_prefix(kc->server, "http://"))) {
		r = fail(ret_errmsg, "cluster \"%s\": server \"%s\" is not an https:// or http:// URL",
			 kc->cluster, kc->server ? kc->server : "");
		goto out;
	}
	if (!kc->client_cert_pem != !kc->client_key_pem) {
		r = fail(ret_errmsg, "user \"%s\": a client certificate without its key, or a key "
			 "without its certificate", kc->user ? kc->user : "");
		goto out;
	}
	if (token_file && !kc->token) {
		r = read_token(base_dir, token_file, kc->user, &kc->token, ret_errmsg);
		if (r < 0)
			goto out;
	}
	*ret = TAKE_PTR(kc);
out:
	pki_kubeconfig_free(kc);
	json_decref(root);
	return r;
}

int client_kubeconfig_load(const char *path, const char *context, struct pki_kubeconfig **ret,
			   char **ret_errmsg)
{
	_cleanup_free_ char *dir = NULL;
	char *msg = NULL;
	struct buf b = {0};
	int r;

	if (!path)
		return -EINVAL;
	r = read_file(path, KUBECONFIG_MAX, &b);
	if (r < 0) {
		if (ret_errmsg)
			*ret_errmsg = xasprintf("cannot read kubeconfig %s: %s", path, strerror(-r));
		return r;
	}
	dir = xstrdup(path);
	r = client_kubeconfig_parse(b.data, b.len, dirname(dir), context, ret, &msg);
	explicit_bzero(b.data, b.len);
	buf_free(&b);
	if (r < 0 && ret_errmsg)
		*ret_errmsg = xasprintf("kubeconfig %s: %s", path, msg ? msg : strerror(-r));
	free(msg);
	return r;
}

char *client_kubeconfig_default_path(void)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");

	if (env && *env)
		return xstrndup(env, strcspn(env, ":"));
	if (home && *home)
		return xasprintf("%s/.kube/config", home);
	return NULL;
}
