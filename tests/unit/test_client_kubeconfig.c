/* lib/client's kubeconfig loading: the file `kelp server` writes, kubectl's
 * variants (files instead of data, tokens and token files, contexts,
 * insecure-skip-tls-verify), and a clear message naming each missing or
 * malformed piece. */
#include "client/client.h"
#include "loop/loop.h"

#include <stdio.h>

#include "tap.h"

struct dir {
	char path[64];
};

static void dir_make(struct dir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/kelp-test-client-XXXXXX");
	CHECK(mkdtemp(d->path) != NULL);
}

static void dir_remove(struct dir *d)
{
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", d->path);
	CHECK_INT(system(cmd), 0);
}

static char *dir_write(struct dir *d, const char *name, const char *text)
{
	char *path = xasprintf("%s/%s", d->path, name);
	CHECK_INT(write_file_atomic(path, text, strlen(text), 0600), 0);
	return path;
}

/* A CA and an admin certificate, as `kelp server` has them. */
struct creds {
	struct pki_cert *ca, *admin;
	char *ca_pem, *cert_pem, *key_pem;
};

static void creds_make(struct creds *c, const char *dir)
{
	*c = (struct creds){0};
	_cleanup_free_ char *pki = xasprintf("%s/pki", dir);
	CHECK_INT(pki_ca_load_or_create(pki, &c->ca, NULL), 0);
	CHECK_INT(pki_issue_client(c->ca, "kelp-admin", (const char *const[]){"system:masters"}, 1,
				   &c->admin), 0);
	CHECK_INT(pki_cert_pem(c->ca, &c->ca_pem, NULL), 0);
	CHECK_INT(pki_cert_pem(c->admin, &c->cert_pem, &c->key_pem), 0);
}

static void creds_free(struct creds *c)
{
	pki_cert_free(c->ca);
	pki_cert_free(c->admin);
	free(c->ca_pem);
	free(c->cert_pem);
	free(c->key_pem);
}

/* client_new's answer for kc (no connection is made until a request). */
static int try_client(const struct pki_kubeconfig *kc, char **ret_msg)
{
	struct loop *l = NULL;
	struct client *c = NULL;
	CHECK_INT(loop_new(NULL, &l), 0);
	int r = client_new(l, &(struct client_options){.kubeconfig = kc}, &c, ret_msg);
	client_free(c);
	loop_free(l);
	return r;
}

static void test_the_kubeconfig_kelp_server_writes(void)
{
	struct dir d;
	struct creds c;
	struct pki_kubeconfig *kc = NULL;
	char *msg = NULL;

	dir_make(&d);
	creds_make(&c, d.path);
	_cleanup_free_ char *path = xasprintf("%s/kubeconfig", d.path);
	CHECK_INT(pki_kubeconfig_write_admin(path, "https://127.0.0.1:41234", c.ca, c.admin), 0);
	CHECK_INT(client_kubeconfig_load(path, NULL, &kc, &msg), 0);
	CHECK(msg == NULL);
	if (kc) {
		CHECK_STREQ(kc->server, "https://127.0.0.1:41234");
		CHECK_STREQ(kc->ca_pem, c.ca_pem);
		CHECK_STREQ(kc->client_cert_pem, c.cert_pem);
		CHECK_STREQ(kc->client_key_pem, c.key_pem);
		CHECK(kc->token == NULL && !kc->insecure_skip_tls_verify);
		CHECK_INT(try_client(kc, NULL), 0);
	}
	pki_kubeconfig_free(kc);
	creds_free(&c);
	dir_remove(&d);
}

static void test_files_tokens_and_contexts(void)
{
	struct dir d;
	struct creds c;
	struct pki_kubeconfig *kc = NULL;
	char *msg = NULL;

	dir_make(&d);
	creds_make(&c, d.path);
	free(dir_write(&d, "ca.crt", c.ca_pem));
	free(dir_write(&d, "admin.crt", c.cert_pem));
	free(dir_write(&d, "admin.key", c.key_pem));
	free(dir_write(&d, "token", "t0ken-from-file\n"));
	_cleanup_free_ char *path = dir_write(&d, "config",
		"apiVersion: v1\n"
		"kind: Config\n"
		"current-context: files\n"
		"clusters:\n"
		"- name: local\n"
		"  cluster:\n"
		"    server: https://127.0.0.1:6443\n"
		"    certificate-authority: ca.crt\n"
		"- name: lab\n"
		"  cluster: {server: 'https://198.18.0.5:6443', insecure-skip-tls-verify: true}\n"
		"users:\n"
		"- name: admin\n"
		"  user: {client-certificate: admin.crt, client-key: admin.key}\n"
		"- name: robot\n"
		"  user: {tokenFile: token}\n"
		"- name: both\n"
		"  user: {token: inline, tokenFile: token}\n"
		"contexts:\n"
		"- name: files\n"
		"  context: {cluster: local, user: admin, namespace: team-a}\n"
		"- name: robot\n"
		"  context: {cluster: lab, user: robot}\n"
		"- name: both\n"
		"  context: {cluster: lab, user: both}\n"
		"- name: anonymous\n"
		"  context: {cluster: local}\n");

	CHECK_INT(client_kubeconfig_load(path, NULL, &kc, &msg), 0);
	if (kc) {
		CHECK_STREQ(kc->context, "files");
		CHECK_STREQ(kc->namespace, "team-a");
		CHECK_STREQ(kc->ca_pem, c.ca_pem);
		CHECK_STREQ(kc->client_cert_pem, c.cert_pem);
		CHECK_STREQ(kc->client_key_pem, c.key_pem);
		CHECK_INT(try_client(kc, NULL), 0);
	}
	kc = pki_kubeconfig_free(kc);
	CHECK_INT(client_kubeconfig_load(path, "robot", &kc, &msg), 0);
	if (kc) {
		CHECK_STREQ(kc->token, "t0ken-from-file"); /* the newline trimmed */
		CHECK(kc->insecure_skip_tls_verify);
		CHECK(kc->client_cert_pem == NULL && kc->ca_pem == NULL);
		CHECK_INT(try_client(kc, NULL), 0);
	}
	kc = pki_kubeconfig_free(kc);
	CHECK_INT(client_kubeconfig_load(path, "both", &kc, &msg), 0);
	CHECK_STREQ(kc ? kc->token : NULL, "inline"); /* token beats tokenFile, as in kubectl */
	kc = pki_kubeconfig_free(kc);
	CHECK_INT(client_kubeconfig_load(path, "anonymous", &kc, &msg), 0);
	CHECK(kc && kc->user == NULL && kc->token == NULL);
	kc = pki_kubeconfig_free(kc);
	CHECK(msg == NULL);
	creds_free(&c);
	dir_remove(&d);
}

/* Each broken kubeconfig and the message it must produce. */
static const struct {
	const char *text;
	int err;
	const char *msg;
} broken[] = {
	{"a: [b", -EBADMSG, "not YAML: "},
	{"- 1\n", -EBADMSG, "not a kubeconfig: the document is an array, not a mapping"},
	{"kind: Config\n", -EBADMSG, "no current-context is set and no context was named"},
	{"current-context: x\ncontexts: []\n", -EBADMSG, "context \"x\" is not defined"},
	{"current-context: x\ncontexts: [{name: x, context: {user: u}}]\n", -EBADMSG,
	 "context \"x\" names no cluster"},
	{"current-context: x\ncontexts: [{name: x, context: {cluster: k}}]\n", -EBADMSG,
	 "cluster \"k\" (of context \"x\") is not defined"},
	{"current-context: x\ncontexts: [{name: x, context: {cluster: k}}]\n"
	 "clusters: [{name: k, cluster: {}}]\n", -EBADMSG, "cluster \"k\" has no server"},
	{"current-context: x\ncontexts: [{name: x, context: {cluster: k}}]\n"
	 "clusters: [{name: k, cluster: {server: 127.0.0.1:6443}}]\n", -EBADMSG,
	 "cluster \"k\": server \"127.0.0.1:6443\" is not an https:// or http:// URL"},
	{"current-context: x\ncontexts: [{name: x, context: {cluster: k}}]\n"
	 "clusters: [{name: k, cluster: {server: 'https://a', certificate-authority-data: '@@'}}]\n",
	 -EBADMSG, "cluster \"k\": certificate-authority-data is not valid base64"},
	{"current-context: x\ncontexts: [{name: x, context: {cluster: k}}]\n"
	 "clusters: [{name: k, cluster: {server: 'https://a', certificate-authority: /nonexistent/ca.crt}}]\n",
	 -ENOENT, "cluster \"k\": cannot read certificate-authority /nonexistent/ca.crt: No such file or directory"},
	{"current-context: x\ncontexts: [{name: x, context: {cluster: k, user: u}}]\n"
	 "clusters: [{name: k, cluster: {server: 'https://a'}}]\n", -EBADMSG,
	 "user \"u\" (of context \"x\") is not defined"},
	{"current-context: x\ncontexts: [{name: x, context: {cluster: k, user: u}}]\n"
	 "clusters: [{name: k, cluster: {server: 'https://a'}}]\n"
	 "users: [{name: u, user: {client-certificate-data: Y2VydA==}}]\n", -EBADMSG,
	 "user \"u\": client-certificate(-data) without client-key(-data)"},
	{"current-context: x\ncontexts: [{name: x, context: {cluster: k, user: u}}]\n"
	 "clusters: [{name: k, cluster: {server: 'https://a'}}]\n"
	 "users: [{name: u, user: {exec: {command: aws}}}]\n", -EBADMSG,
	 "user \"u\" authenticates through an exec plugin, which kelp does not support"},
	{"current-context: x\ncontexts: [{name: x, context: {cluster: k, user: u}}]\n"
	 "clusters: [{name: k, cluster: {server: 'https://a'}}]\n"
	 "users: [{name: u, user: {tokenFile: /nonexistent/token}}]\n", -ENOENT,
	 "user \"u\": cannot read tokenFile /nonexistent/token: No such file or directory"},
};

static void test_broken_pieces_are_named(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(broken); i++) {
		struct pki_kubeconfig *kc = NULL;
		char *msg = NULL;
		int r = client_kubeconfig_parse(broken[i].text, strlen(broken[i].text), NULL, NULL, &kc,
						&msg);
		CHECK_INT(r, broken[i].err);
		CHECK(kc == NULL);
		if (!msg || !str_has_prefix(msg, broken[i].msg))
			printf("#   case %zu: got \"%s\", want \"%s\"\n", i, msg ? msg : "(null)",
			       broken[i].msg);
		CHECK(msg && str_has_prefix(msg, broken[i].msg));
		free(msg);
	}
	/* A context named on the command line that the file lacks. */
	struct pki_kubeconfig *kc = NULL;
	char *msg = NULL;
	const char *t = broken[6].text;
	CHECK_INT(client_kubeconfig_parse(t, strlen(t), NULL, "prod", &kc, &msg), -EBADMSG);
	CHECK_STREQ(msg, "context \"prod\" is not defined");
	free(msg);
}

static void test_missing_files_and_bad_pem(void)
{
	struct dir d;
	struct pki_kubeconfig *kc = NULL;
	char *msg = NULL;

	dir_make(&d);
	_cleanup_free_ char *none = xasprintf("%s/none", d.path);
	CHECK_INT(client_kubeconfig_load(none, NULL, &kc, &msg), -ENOENT);
	_cleanup_free_ char *want = xasprintf("cannot read kubeconfig %s: No such file or directory", none);
	CHECK_STREQ(msg, want);
	free(msg);

	/* The file's name prefixes what is wrong inside it. */
	_cleanup_free_ char *path = dir_write(&d, "config", "current-context: nope\n");
	CHECK_INT(client_kubeconfig_load(path, NULL, &kc, &msg), -EBADMSG);
	_cleanup_free_ char *want2 = xasprintf("kubeconfig %s: context \"nope\" is not defined", path);
	CHECK_STREQ(msg, want2);
	free(msg);

	/* Valid base64 that is no certificate: refused when the client is made. */
	struct pki_kubeconfig bad_ca = {.cluster = "k", .server = "https://127.0.0.1:1", .ca_pem = "junk"};
	CHECK_INT(try_client(&bad_ca, &msg), -EINVAL);
	CHECK_STREQ(msg, "the certificate-authority of cluster \"k\" holds no PEM certificate");
	free(msg);
	struct creds c;
	creds_make(&c, d.path);
	struct pki_kubeconfig mismatch = {.cluster = "k", .user = "u", .server = "https://127.0.0.1:1",
					  .ca_pem = c.ca_pem, .client_cert_pem = c.cert_pem,
					  .client_key_pem = c.ca_pem};
	CHECK_INT(try_client(&mismatch, &msg), -EINVAL);
	CHECK_STREQ(msg, "the client certificate and key of user \"u\" do not parse or do not match");
	free(msg);
	mismatch.client_key_pem = NULL;
	CHECK_INT(try_client(&mismatch, &msg), -EINVAL);
	CHECK_STREQ(msg, "user \"u\" has a client certificate without its key");
	free(msg);
	creds_free(&c);
	dir_remove(&d);
}

static void test_default_path_follows_kubectl(void)
{
	_cleanup_free_ char *saved_kc = getenv("KUBECONFIG") ? xstrdup(getenv("KUBECONFIG")) : NULL;
	_cleanup_free_ char *saved_home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
	char *p;

	setenv("KUBECONFIG", "/etc/a.conf:/etc/b.conf", 1);
	CHECK_STREQ(p = client_kubeconfig_default_path(), "/etc/a.conf");
	free(p);
	unsetenv("KUBECONFIG");
	setenv("HOME", "/home/kelp", 1);
	CHECK_STREQ(p = client_kubeconfig_default_path(), "/home/kelp/.kube/config");
	free(p);
	unsetenv("HOME");
	CHECK(client_kubeconfig_default_path() == NULL);
	if (saved_kc)
		setenv("KUBECONFIG", saved_kc, 1);
	if (saved_home)
		setenv("HOME", saved_home, 1);
}

int main(void)
{
	RUN(test_the_kubeconfig_kelp_server_writes);
	RUN(test_files_tokens_and_contexts);
	RUN(test_broken_pieces_are_named);
	RUN(test_missing_files_and_bad_pem);
	RUN(test_default_path_follows_kubectl);
	return tap_done();
}
