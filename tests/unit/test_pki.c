/* lib/pki: the CA, issued certificates and kubeconfig files, checked with OpenSSL and kubectl. */
#include "pki/pki.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tap.h"

static char *tmpdir(void)
{
	char *d = xstrdup("/tmp/kelp-test-pki-XXXXXX");

	CHECK(mkdtemp(d) != NULL);
	return d;
}

static void rmrf(const char *dir)
{
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
	CHECK_INT(system(cmd), 0);
}

static int file_mode(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? -1 : (int)(st.st_mode & 0777);
}

/* Days from now until the certificate expires. */
static int days_left(X509 *x)
{
	int days = 0, secs = 0;

	CHECK(ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) == 1);
	return days;
}

static char *subject(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;

	X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253);
	long n = BIO_get_mem_data(b, &p);
	char *s = xstrndup(p, (size_t)n);
	BIO_free(b);
	return s;
}

/* X509_verify_cert of leaf against ca for a purpose; returns the verify error (0 = ok). */
static int verify(const struct pki_cert *ca, const struct pki_cert *leaf, int purpose,
		  const char *host)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int err;

	X509_STORE_add_cert(store, pki_cert_x509(ca));
	X509_STORE_CTX_init(ctx, store, pki_cert_x509(leaf), NULL);
	X509_STORE_CTX_set_purpose(ctx, purpose);
	if (host)
		X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx), host, 0);
	err = X509_verify_cert(ctx) == 1 ? 0 : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return err;
}

static void test_ca_is_created_once_and_reused(void)
{
	_cleanup_free_ char *dir = tmpdir();
	_cleanup_free_ char *sub = xasprintf("%s/data/pki", dir);
	_cleanup_free_ char *crt = xasprintf("%s/ca.crt", sub), *key = xasprintf("%s/ca.key", sub);
	_cleanup_(pki_cert_freep) struct pki_cert *ca = NULL, *again = NULL;
	bool created = false;
	char group[64] = "";

	CHECK_INT(pki_ca_load_or_create(sub, &ca, &created), 0);
	CHECK(created);
	CHECK_INT(file_mode(sub), 0700);
	CHECK_INT(file_mode(key), 0600);
	CHECK_INT(file_mode(crt), 0644);
	_cleanup_free_ char *subj = subject(pki_cert_x509(ca));
	CHECK_STREQ(subj, "CN=kelp-ca");
	CHECK_INT(X509_check_ca(pki_cert_x509(ca)), 1);
	CHECK(X509_get_key_usage(pki_cert_x509(ca)) == (KU_KEY_CERT_SIGN | KU_CRL_SIGN));
	CHECK(days_left(pki_cert_x509(ca)) >= 3649 && days_left(pki_cert_x509(ca)) <= 3650);
	CHECK(X509_check_issued(pki_cert_x509(ca), pki_cert_x509(ca)) == X509_V_OK);
	CHECK(EVP_PKEY_is_a(pki_cert_key(ca), "EC"));
	CHECK(EVP_PKEY_get_group_name(pki_cert_key(ca), group, sizeof(group), NULL) == 1);
	CHECK_STREQ(group, "prime256v1");

	CHECK_INT(pki_ca_load_or_create(sub, &again, &created), 0);
	CHECK(!created);
	CHECK(again && X509_cmp(pki_cert_x509(ca), pki_cert_x509(again)) == 0);
	CHECK(again && EVP_PKEY_eq(pki_cert_key(ca), pki_cert_key(again)) == 1);
	rmrf(dir);
}

static void test_broken_ca_dir_is_refused(void)
{
	_cleanup_free_ char *dir = tmpdir();
	_cleanup_free_ char *crt = xasprintf("%s/ca.crt", dir), *key = xasprintf("%s/ca.key", dir);
	_cleanup_(pki_cert_freep) struct pki_cert *ca = NULL, *other = NULL, *leaf = NULL;
	struct pki_cert *got = NULL;

	CHECK_INT(write_file_atomic(crt, "garbage\n", 8, 0644), 0);
	CHECK_INT(pki_ca_load_or_create(dir, &got, NULL), -ENOENT);
	CHECK_INT(write_file_atomic(key, "garbage\n", 8, 0600), 0);
	CHECK_INT(pki_ca_load_or_create(dir, &got, NULL), -EBADMSG);
	CHECK(got == NULL);
	/* A key that belongs to another certificate. */
	_cleanup_free_ char *sub1 = xasprintf("%s/one", dir), *sub2 = xasprintf("%s/two", dir);
	CHECK_INT(pki_ca_load_or_create(sub1, &ca, NULL), 0);
	CHECK_INT(pki_ca_load_or_create(sub2, &other, NULL), 0);
	_cleanup_free_ char *key2 = xasprintf("%s/ca.key", sub2);
	_cleanup_free_ char *crt1 = xasprintf("%s/ca.crt", sub1);
	CHECK_INT(pki_cert_load(crt1, key2, &got), -EBADMSG);
	/* A leaf certificate is no CA. */
	CHECK_INT(pki_issue_client(other, "x", NULL, 0, &leaf), 0);
	_cleanup_free_ char *sub3 = xasprintf("%s/three", dir);
	CHECK_INT(mkdir_p(sub3, 0700), 0);
	_cleanup_free_ char *crt3 = xasprintf("%s/ca.crt", sub3);
	_cleanup_free_ char *key3 = xasprintf("%s/ca.key", sub3);
	CHECK_INT(pki_cert_write(leaf, crt3, key3), 0);
	CHECK_INT(pki_ca_load_or_create(sub3, &got, NULL), -EBADMSG);
	CHECK(got == NULL);
	rmrf(dir);
}

static void test_server_cert_verifies_and_carries_sans(void)
{
	_cleanup_free_ char *dir = tmpdir();
	_cleanup_(pki_cert_freep) struct pki_cert *ca = NULL, *other = NULL, *srv = NULL;
	const char *dns[] = {"localhost", "kubernetes.default.svc", "node-1.example"};
	const char *ips[] = {"127.0.0.1", "198.19.0.1", "::1"};
	_cleanup_free_ char *sub1 = xasprintf("%s/a", dir), *sub2 = xasprintf("%s/b", dir);

	CHECK_INT(pki_ca_load_or_create(sub1, &ca, NULL), 0);
	CHECK_INT(pki_ca_load_or_create(sub2, &other, NULL), 0);
	CHECK_INT(pki_issue_server(ca, "kelp-apiserver", dns, 3, ips, 3, &srv), 0);
	X509 *x = pki_cert_x509(srv);
	_cleanup_free_ char *subj = subject(x);
	CHECK_STREQ(subj, "CN=kelp-apiserver");
	CHECK_INT(verify(ca, srv, X509_PURPOSE_SSL_SERVER, "kubernetes.default.svc"), 0);
	CHECK_INT(verify(ca, srv, X509_PURPOSE_SSL_SERVER, "other.example"),
		  X509_V_ERR_HOSTNAME_MISMATCH);
	CHECK_INT(verify(ca, srv, X509_PURPOSE_SSL_CLIENT, NULL), X509_V_ERR_INVALID_PURPOSE);
	CHECK_INT(verify(other, srv, X509_PURPOSE_SSL_SERVER, NULL),
		  X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	for (unsigned i = 0; i < ARRAY_SIZE(dns); i++)
		CHECK_INT(X509_check_host(x, dns[i], 0, 0, NULL), 1);
	for (unsigned i = 0; i < ARRAY_SIZE(ips); i++)
		CHECK_INT(X509_check_ip_asc(x, ips[i], 0), 1);
	CHECK_INT(X509_check_ip_asc(x, "198.19.0.2", 0), 0);
	CHECK(X509_get_extended_key_usage(x) == XKU_SSL_SERVER);
	CHECK_INT(X509_check_ca(x), 0);
	CHECK(days_left(x) >= 364 && days_left(x) <= 365);
	rmrf(dir);
}

static void test_server_cert_rejects_bad_names(void)
{
	_cleanup_free_ char *dir = tmpdir();
	_cleanup_(pki_cert_freep) struct pki_cert *ca = NULL;
	struct pki_cert *srv = NULL;

	CHECK_INT(pki_ca_load_or_create(dir, &ca, NULL), 0);
	CHECK_INT(pki_issue_server(ca, "x", NULL, 0, NULL, 0, &srv), -EINVAL);
	CHECK_INT(pki_issue_server(ca, "x", NULL, 0, (const char *const[]){"300.1.2.3"}, 1, &srv),
		  -EINVAL);
	CHECK_INT(pki_issue_server(ca, "x", (const char *const[]){"a b"}, 1, NULL, 0, &srv),
		  -EINVAL);
	CHECK_INT(pki_issue_server(NULL, "x", (const char *const[]){"a"}, 1, NULL, 0, &srv),
		  -EINVAL);
	CHECK(srv == NULL);
	/* Without a CN the first name becomes the subject. */
	CHECK_INT(pki_issue_server(ca, NULL, NULL, 0, (const char *const[]){"198.18.0.1"}, 1, &srv),
		  0);
	_cleanup_free_ char *subj = subject(pki_cert_x509(srv));
	CHECK_STREQ(subj, "CN=198.18.0.1");
	pki_cert_free(srv);
	rmrf(dir);
}

static void test_client_cert_carries_user_and_groups(void)
{
	_cleanup_free_ char *dir = tmpdir();
	_cleanup_(pki_cert_freep) struct pki_cert *ca = NULL, *cli = NULL;
	const char *orgs[] = {"system:masters", "kelp:admins"};

	CHECK_INT(pki_ca_load_or_create(dir, &ca, NULL), 0);
	CHECK_INT(pki_issue_client(ca, "kelp-admin", orgs, 2, &cli), 0);
	X509 *x = pki_cert_x509(cli);
	/* RFC 2253 prints the last RDN first: the DER order is O, O, CN. */
	_cleanup_free_ char *subj = subject(x);
	CHECK_STREQ(subj, "CN=kelp-admin,O=kelp:admins,O=system:masters");
	X509_NAME *n = X509_get_subject_name(x);
	CHECK_INT(X509_NAME_entry_count(n), 3);
	CHECK_INT(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(n, 0))),
		  NID_organizationName);
	CHECK_INT(verify(ca, cli, X509_PURPOSE_SSL_CLIENT, NULL), 0);
	CHECK_INT(verify(ca, cli, X509_PURPOSE_SSL_SERVER, NULL), X509_V_ERR_INVALID_PURPOSE);
	CHECK(X509_get_extended_key_usage(x) == XKU_SSL_CLIENT);
	CHECK_INT(pki_issue_client(ca, "", NULL, 0, &cli), -EINVAL);
	rmrf(dir);
}

static void test_cert_files_roundtrip(void)
{
	_cleanup_free_ char *dir = tmpdir();
	_cleanup_(pki_cert_freep) struct pki_cert *ca = NULL, *srv = NULL, *back = NULL;
	_cleanup_free_ char *crt = xasprintf("%s/serving.crt", dir);
	_cleanup_free_ char *key = xasprintf("%s/serving.key", dir);
	_cleanup_free_ char *ca_pem = NULL, *pem = NULL, *key_pem = NULL;
	struct pki_cert *got = NULL;

	CHECK_INT(pki_ca_load_or_create(dir, &ca, NULL), 0);
	CHECK_INT(pki_issue_server(ca, NULL, (const char *const[]){"localhost"}, 1, NULL, 0, &srv),
		  0);
	CHECK_INT(pki_cert_write(srv, crt, key), 0);
	CHECK_INT(file_mode(key), 0600);
	CHECK_INT(file_mode(crt), 0644);
	CHECK_INT(pki_cert_load(crt, key, &back), 0);
	CHECK(back && X509_cmp(pki_cert_x509(srv), pki_cert_x509(back)) == 0);
	CHECK(back && EVP_PKEY_eq(pki_cert_key(srv), pki_cert_key(back)) == 1);
	CHECK_INT(pki_cert_pem(srv, &pem, &key_pem), 0);
	CHECK(pem && str_has_prefix(pem, "-----BEGIN CERTIFICATE-----\n"));
	CHECK(key_pem && str_has_prefix(key_pem, "-----BEGIN PRIVATE KEY-----\n"));
	/* A CA certificate alone, as a client trusts it. */
	CHECK_INT(pki_cert_pem(ca, &ca_pem, NULL), 0);
	CHECK_INT(pki_cert_from_pem(ca_pem, NULL, &got), 0);
	CHECK(got && pki_cert_key(got) == NULL);
	CHECK_INT(verify(got, srv, X509_PURPOSE_SSL_SERVER, "localhost"), 0);
	got = pki_cert_free(got);
	CHECK_INT(pki_cert_from_pem(ca_pem, key_pem, &got), -EBADMSG);
	CHECK_INT(pki_cert_from_pem("junk", NULL, &got), -EBADMSG);
	_cleanup_free_ char *missing = xasprintf("%s/nope.crt", dir);
	CHECK_INT(pki_cert_load(missing, key, &got), -ENOENT);
	CHECK(got == NULL);
	rmrf(dir);
}

/* CA, admin client and a kubeconfig for them in dir/kubeconfig. */
static void make_admin_kubeconfig(const char *dir, const char *server, struct pki_cert **ret_ca,
				  struct pki_cert **ret_admin)
{
	_cleanup_free_ char *pki = xasprintf("%s/pki", dir);
	_cleanup_free_ char *path = xasprintf("%s/kubeconfig", dir);
	const char *groups[] = {"system:masters"};

	CHECK_INT(pki_ca_load_or_create(pki, ret_ca, NULL), 0);
	CHECK_INT(pki_issue_client(*ret_ca, "kelp-admin", groups, 1, ret_admin), 0);
	CHECK_INT(pki_kubeconfig_write_admin(path, server, *ret_ca, *ret_admin), 0);
}

static void test_kubeconfig_roundtrips_through_reader(void)
{
	_cleanup_free_ char *dir = tmpdir(), *path = xasprintf("%s/kubeconfig", dir);
	_cleanup_(pki_cert_freep) struct pki_cert *ca = NULL, *admin = NULL;
	_cleanup_(pki_cert_freep) struct pki_cert *cli = NULL, *trust = NULL;
	_cleanup_(pki_kubeconfig_freep) struct pki_kubeconfig *kc = NULL;
	_cleanup_free_ char *ca_pem = NULL, *cert_pem = NULL, *key_pem = NULL;
	struct buf text = {0};

	make_admin_kubeconfig(dir, "https://127.0.0.1:6443", &ca, &admin);
	CHECK_INT(file_mode(path), 0600);
	CHECK_INT(read_file(path, 1 << 20, &text), 0);
	const char *t = text.data ? text.data : "";
	CHECK(str_has_prefix(t, "apiVersion: v1\nclusters:\n- cluster:\n"
				"    certificate-authority-data: LS0t"));
	CHECK(strstr(t, "\n    server: https://127.0.0.1:6443\n  name: kelp\ncontexts:\n"
			"- context:\n    cluster: kelp\n    user: kelp-admin\n  name: kelp\n"
			"current-context: kelp\nkind: Config\npreferences: {}\nusers:\n"
			"- name: kelp-admin\n  user:\n    client-certificate-data: LS0t"));
	buf_free(&text);

	CHECK_INT(pki_kubeconfig_read(path, NULL, &kc), 0);
	CHECK_INT(pki_cert_pem(ca, &ca_pem, NULL), 0);
	CHECK_INT(pki_cert_pem(admin, &cert_pem, &key_pem), 0);
	CHECK_STREQ(kc->server, "https://127.0.0.1:6443");
	CHECK_STREQ(kc->context, "kelp");
	CHECK_STREQ(kc->cluster, "kelp");
	CHECK_STREQ(kc->user, "kelp-admin");
	CHECK(kc->namespace == NULL && kc->token == NULL && !kc->insecure_skip_tls_verify);
	CHECK_STREQ(kc->ca_pem, ca_pem);
	CHECK_STREQ(kc->client_cert_pem, cert_pem);
	CHECK_STREQ(kc->client_key_pem, key_pem);
	/* What a client builds from it verifies. */
	CHECK_INT(pki_cert_from_pem(kc->client_cert_pem, kc->client_key_pem, &cli), 0);
	CHECK_INT(pki_cert_from_pem(kc->ca_pem, NULL, &trust), 0);
	if (cli && trust)
		CHECK_INT(verify(trust, cli, X509_PURPOSE_SSL_CLIENT, NULL), 0);
	rmrf(dir);
}

static void test_kubeconfig_reader_resolves_contexts_and_files(void)
{
	_cleanup_free_ char *dir = tmpdir(), *path = xasprintf("%s/config", dir);
	_cleanup_free_ char *ca = xasprintf("%s/ca.pem", dir);
	struct pki_kubeconfig *kc = NULL;
	/* Flow style, quoting, comments, relative paths: as people write them by hand. */
	static const char text[] =
		"# hand-written\n"
		"kind: Config\n"
		"current-context: dev\n"
		"clusters:\n"
		"  - name: prod\n"
		"    cluster: {server: 'https://[::1]:6443', certificate-authority: ca.pem}\n"
		"  - name: lab\n"
		"    cluster:\n"
		"      server: \"https://198.18.0.5:6443\"\n"
		"      insecure-skip-tls-verify: true\n"
		"users:\n"
		"  - name: bob\n"
		"    user: {token: s3cr3t}\n"
		"  - {name: alice,\n"
		"     user: {client-certificate-data: 'Y2VydA==', client-key-data: a2V5}}\n"
		"contexts:\n"
		"  - name: dev\n"
		"    context: {cluster: lab, user: bob, namespace: team-a}\n"
		"  - name: admin\n"
		"    context: {cluster: prod, user: alice}\n"
		"  - name: broken\n"
		"    context: {cluster: nowhere, user: alice}\n";

	CHECK_INT(write_file_atomic(path, text, sizeof(text) - 1, 0600), 0);
	CHECK_INT(write_file_atomic(ca, "CA PEM\n", 7, 0644), 0);
	CHECK_INT(pki_kubeconfig_read(path, NULL, &kc), 0);
	if (kc) {
		CHECK_STREQ(kc->context, "dev");
		CHECK_STREQ(kc->server, "https://198.18.0.5:6443");
		CHECK(kc->insecure_skip_tls_verify);
		CHECK_STREQ(kc->namespace, "team-a");
		CHECK_STREQ(kc->token, "s3cr3t");
		CHECK(kc->ca_pem == NULL && kc->client_cert_pem == NULL);
	}
	kc = pki_kubeconfig_free(kc);
	CHECK_INT(pki_kubeconfig_read(path, "admin", &kc), 0);
	if (kc) {
		CHECK_STREQ(kc->server, "https://[::1]:6443");
		CHECK_STREQ(kc->ca_pem, "CA PEM\n");
		CHECK_STREQ(kc->client_cert_pem, "cert");
		CHECK_STREQ(kc->client_key_pem, "key");
		CHECK(kc->token == NULL && kc->namespace == NULL);
	}
	kc = pki_kubeconfig_free(kc);
	CHECK_INT(pki_kubeconfig_read(path, "broken", &kc), -EBADMSG);
	CHECK_INT(pki_kubeconfig_read(path, "missing", &kc), -EBADMSG);
	CHECK_INT(pki_kubeconfig_parse("a: [b", 5, NULL, NULL, &kc), -EBADMSG);
	CHECK_INT(pki_kubeconfig_parse("", 0, NULL, NULL, &kc), -EBADMSG);
	CHECK_INT(pki_kubeconfig_parse("- 1\n", 4, NULL, NULL, &kc), -EBADMSG);
	static const char bad64[] =
		"current-context: c\ncontexts: [{name: c, context: {cluster: k}}]\n"
		"clusters: [{name: k, cluster: {certificate-authority-data: '@@'}}]\n";
	CHECK_INT(pki_kubeconfig_parse(bad64, sizeof(bad64) - 1, NULL, NULL, &kc), -EBADMSG);
	CHECK(kc == NULL);
	_cleanup_free_ char *missing = xasprintf("%s/none", dir);
	CHECK_INT(pki_kubeconfig_read(missing, NULL, &kc), -ENOENT);
	rmrf(dir);
}

static void test_kubeconfig_quotes_what_yaml_would_misread(void)
{
	struct pki_kubeconfig in = {
		.context = "yes",
		.cluster = "1.5",
		.user = "a user: with #stuff",
		.namespace = "null",
		.client_cert_pem = "2001-12-14",
		.server = "https://[fd00::1]:6443",
		.token = "tab\there \"quoted\" \\",
	};
	_cleanup_free_ char *text = pki_kubeconfig_format(&in);
	_cleanup_(pki_kubeconfig_freep) struct pki_kubeconfig *out = NULL;

	CHECK_INT(pki_kubeconfig_parse(text, strlen(text), NULL, NULL, &out), 0);
	if (!out)
		return;
	CHECK_STREQ(out->context, in.context);
	CHECK_STREQ(out->cluster, in.cluster);
	CHECK_STREQ(out->user, in.user);
	CHECK_STREQ(out->namespace, in.namespace);
	CHECK_STREQ(out->server, in.server);
	CHECK_STREQ(out->token, in.token);
	CHECK_STREQ(out->client_cert_pem, in.client_cert_pem);
	/* Names that look like numbers, dates or end in a colon stay strings. */
	const char *odd[] = {"1:20", "0x1f", "2001-12-14", "ns:", "-x", "~", "Off", ".inf", "@a"};
	for (unsigned i = 0; i < ARRAY_SIZE(odd); i++) {
		struct pki_kubeconfig o = {.context = (char *)odd[i], .server = (char *)odd[i]};
		_cleanup_free_ char *t = pki_kubeconfig_format(&o);
		_cleanup_(pki_kubeconfig_freep) struct pki_kubeconfig *back = NULL;
		CHECK_INT(pki_kubeconfig_parse(t, strlen(t), NULL, NULL, &back), 0);
		CHECK_STREQ(back ? back->context : NULL, odd[i]);
		CHECK_STREQ(back ? back->server : NULL, odd[i]);
	}
}

static char *base64(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)n);
	return out;
}

/* Run a shell command, capture its stdout (trailing newline kept). */
static int run(const char *cmd, struct buf *out)
{
	FILE *p = popen(cmd, "r");
	char chunk[4096];
	size_t n;

	if (!p)
		return -errno;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		buf_append(out, chunk, n);
	int status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_kubectl_reads_kubeconfig_without_network(void)
{
	_cleanup_free_ char *dir = tmpdir(), *path = xasprintf("%s/kubeconfig", dir);
	_cleanup_(pki_cert_freep) struct pki_cert *ca = NULL, *admin = NULL;
	_cleanup_free_ char *ca_pem = NULL, *cert_pem = NULL, *key_pem = NULL;
	struct buf out = {0}, file = {0};

	if (access("/usr/bin/kubectl", X_OK) != 0) {
		rmrf(dir);
		SKIP("kubectl not installed at /usr/bin/kubectl");
	}
	/* An address nothing listens on: reaching out would fail the command. */
	make_admin_kubeconfig(dir, "https://198.18.0.1:6443", &ca, &admin);
	CHECK_INT(pki_cert_pem(ca, &ca_pem, NULL), 0);
	CHECK_INT(pki_cert_pem(admin, &cert_pem, &key_pem), 0);
	/* In a new network namespace (only a down loopback), with its own HOME for caches. */
	const char *isolate = run("unshare -n true", &out) == 0 ? "unshare -n " : "";
	if (!*isolate)
		printf("# unshare -n unavailable: running kubectl in this network namespace\n");
	buf_clear(&out);
	_cleanup_free_ char *cmd = xasprintf(
		"HOME=%s KUBECONFIG= %s/usr/bin/kubectl config view --kubeconfig %s --raw -o "
		"jsonpath='{.current-context}|{.clusters[0].cluster.server}|"
		"{.users[0].name}|{.clusters[0].cluster.certificate-authority-data}|"
		"{.users[0].user.client-certificate-data}|{.users[0].user.client-key-data}' 2>&1",
		dir, isolate, path);
	CHECK_INT(run(cmd, &out), 0);
	_cleanup_free_ char *b64_ca = base64(ca_pem), *b64_cert = base64(cert_pem);
	_cleanup_free_ char *b64_key = base64(key_pem);
	_cleanup_free_ char *want = xasprintf("kelp|https://198.18.0.1:6443|kelp-admin|%s|%s|%s",
					      b64_ca, b64_cert, b64_key);
	CHECK_STREQ(out.data, want);

	/* kubectl writes back exactly what we wrote: same keys, order and layout. */
	buf_clear(&out);
	_cleanup_free_ char *raw = xasprintf("HOME=%s KUBECONFIG= %s/usr/bin/kubectl config view "
					     "--kubeconfig %s --raw 2>&1",
					     dir, isolate, path);
	CHECK_INT(run(raw, &out), 0);
	CHECK_INT(read_file(path, 1 << 20, &file), 0);
	CHECK_STREQ(out.data, file.data);

	/* Names YAML could misread come back as the same strings. */
	struct pki_kubeconfig odd = {.context = "yes", .cluster = "1:20", .user = "a user: #x",
				     .namespace = "2001-12-14", .server = "https://[fd00::1]:6443"};
	CHECK_INT(pki_kubeconfig_write(path, &odd), 0);
	buf_clear(&out);
	_cleanup_free_ char *names = xasprintf(
		"HOME=%s KUBECONFIG= %s/usr/bin/kubectl config view --kubeconfig %s -o "
		"jsonpath='{.current-context}|{.clusters[0].name}|{.users[0].name}|"
		"{.contexts[0].context.namespace}|{.clusters[0].cluster.server}' 2>&1",
		dir, isolate, path);
	CHECK_INT(run(names, &out), 0);
	CHECK_STREQ(out.data, "yes|1:20|a user: #x|2001-12-14|https://[fd00::1]:6443");
	buf_free(&out);
	buf_free(&file);
	rmrf(dir);
}

int main(void)
{
	RUN(test_ca_is_created_once_and_reused);
	RUN(test_broken_ca_dir_is_refused);
	RUN(test_server_cert_verifies_and_carries_sans);
	RUN(test_server_cert_rejects_bad_names);
	RUN(test_client_cert_carries_user_and_groups);
	RUN(test_cert_files_roundtrip);
	RUN(test_kubeconfig_roundtrips_through_reader);
	RUN(test_kubeconfig_reader_resolves_contexts_and_files);
	RUN(test_kubeconfig_quotes_what_yaml_would_misread);
	RUN(test_kubectl_reads_kubeconfig_without_network);
	return tap_done();
}
