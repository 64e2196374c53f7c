/* lib/pki: building, signing, loading and saving certificates with OpenSSL 3. */
#include "pki/pki-internal.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

/* Clock skew between nodes should not make a fresh certificate "not yet valid". */
#define BACKDATE_SECONDS (5 * 60)

int pki_openssl_error(int err)
{
	ERR_clear_error();
	return err;
}

struct pki_cert *pki_cert_free(struct pki_cert *c)
{
	if (!c)
		return NULL;
	X509_free(c->x509);
	EVP_PKEY_free(c->key);
	free(c);
	return NULL;
}

X509 *pki_cert_x509(const struct pki_cert *c)
{
	return c->x509;
}

EVP_PKEY *pki_cert_key(const struct pki_cert *c)
{
	return c->key;
}

static void bio_freep(BIO **b)
{
	BIO_free(*b);
}

static char *bio_text(BIO *b)
{
	char *p;
	long n = BIO_get_mem_data(b, &p);
	return xstrndup(p, n > 0 ? (size_t)n : 0);
}

int pki_cert_pem(const struct pki_cert *c, char **ret_cert, char **ret_key)
{
	_cleanup_(bio_freep) BIO *cb = BIO_new(BIO_s_mem());
	_cleanup_(bio_freep) BIO *kb = BIO_new(BIO_s_mem());

	if (!c || (ret_key && !c->key))
		return -EINVAL;
	if (!cb || !kb)
		return pki_openssl_error(-EIO);
	if (ret_cert && !PEM_write_bio_X509(cb, c->x509))
		return pki_openssl_error(-EIO);
	if (ret_key && !PEM_write_bio_PrivateKey(kb, c->key, NULL, NULL, 0, NULL, NULL))
		return pki_openssl_error(-EIO);
	if (ret_cert)
		*ret_cert = bio_text(cb);
	if (ret_key)
		*ret_key = bio_text(kb);
	return 0;
}

int pki_cert_write(const struct pki_cert *c, const char *cert_path, const char *key_path)
{
	_cleanup_free_ char *cert = NULL, *key = NULL;
	int err;

	err = pki_cert_pem(c, &cert, key_path ? &key : NULL);
	if (err < 0)
		return err;
	if (key_path) {
		err = write_file_atomic(key_path, key, strlen(key), 0600);
		/* The key text is secret: do not leave it in freed memory. */
		OPENSSL_cleanse(key, strlen(key));
		if (err < 0)
			return err;
	}
	return write_file_atomic(cert_path, cert, strlen(cert), 0644);
}

int pki_cert_from_pem(const char *cert_pem, const char *key_pem, struct pki_cert **ret)
{
	_cleanup_(bio_freep) BIO *cb = NULL;
	_cleanup_(bio_freep) BIO *kb = NULL;
	_cleanup_(pki_cert_freep) struct pki_cert *c = xnew(struct pki_cert, 1);

	if (!cert_pem)
		return -EINVAL;
	cb = BIO_new_mem_buf(cert_pem, -1);
	if (!cb)
		return pki_openssl_error(-EIO);
	c->x509 = PEM_read_bio_X509(cb, NULL, NULL, NULL);
	if (!c->x509)
		return pki_openssl_error(-EBADMSG);
	if (key_pem) {
		kb = BIO_new_mem_buf(key_pem, -1);
		if (!kb)
			return pki_openssl_error(-EIO);
		c->key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
		if (!c->key || X509_check_private_key(c->x509, c->key) != 1)
			return pki_openssl_error(-EBADMSG);
	}
	*ret = TAKE_PTR(c);
	return 0;
}

int pki_cert_load(const char *cert_path, const char *key_path, struct pki_cert **ret)
{
	struct buf cert = {0}, key = {0};
	int err;

	err = read_file(cert_path, 1 << 20, &cert);
	if (err == 0 && key_path)
		err = read_file(key_path, 1 << 20, &key);
	if (err == 0)
		err = pki_cert_from_pem(cert.data, key_path ? key.data : NULL, ret);
	if (key.data)
		OPENSSL_cleanse(key.data, key.len);
	buf_free(&cert);
	buf_free(&key);
	return err;
}

static int set_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn;
	int ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return pki_openssl_error(-EIO);
	/* Positive, non-zero and of a fixed length, as RFC 5280 asks. */
	b[0] = (unsigned char)((b[0] & 0x7f) | 0x40);
	bn = BN_bin2bn(b, sizeof(b), NULL);
	ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok ? 0 : pki_openssl_error(-EIO);
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!e)
		return pki_openssl_error(-EIO);
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : pki_openssl_error(-EIO);
}

struct ext {
	int nid;
	const char *value;
};

/* Make a certificate for key, signed by issuer (NULL: self-signed). */
static int cert_sign(EVP_PKEY *key, const X509_NAME *subject, const struct pki_cert *issuer,
		     long days, const struct ext *exts, unsigned nexts, GENERAL_NAMES *san,
		     X509 **ret)
{
	X509 *x = X509_new();
	X509 *ix = issuer ? issuer->x509 : x;
	EVP_PKEY *ikey = issuer ? issuer->key : key;

	if (!x || !ikey || !X509_set_version(x, X509_VERSION_3) || set_serial(x) < 0 ||
	    !X509_set_subject_name(x, subject) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ix)) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECONDS) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) ||
	    !X509_set_pubkey(x, key))
		goto fail;
	/* Subject key id first: a self-signed cert's authority key id refers to it. */
	if (add_ext(x, ix, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, ix, NID_authority_key_identifier, "keyid:always") < 0)
		goto fail;
	for (unsigned i = 0; i < nexts; i++)
		if (add_ext(x, ix, exts[i].nid, exts[i].value) < 0)
			goto fail;
	if (san && !X509_add1_ext_i2d(x, NID_subject_alt_name, san, 0, X509V3_ADD_DEFAULT))
		goto fail;
	if (X509_sign(x, ikey, EVP_sha256()) <= 0)
		goto fail;
	*ret = x;
	return 0;
fail:
	X509_free(x);
	return pki_openssl_error(-EIO);
}

static void name_freep(X509_NAME **n)
{
	X509_NAME_free(*n);
}

static int name_add(X509_NAME *n, const char *field, const char *value)
{
	if (!value || !*value)
		return -EINVAL;
	if (!X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (const unsigned char *)value, -1,
					-1, 0))
		return pki_openssl_error(-EIO);
	return 0;
}

/* A fresh key and a certificate for it: the common part of every issue call. */
static int issue(const struct pki_cert *ca, const X509_NAME *subject, long days,
		 const struct ext *exts, unsigned nexts, GENERAL_NAMES *san, struct pki_cert **ret)
{
	_cleanup_(pki_cert_freep) struct pki_cert *c = xnew(struct pki_cert, 1);
	int err;

	if (ca && !ca->key)
		return -EINVAL;
	c->key = EVP_EC_gen("P-256");
	if (!c->key)
		return pki_openssl_error(-EIO);
	err = cert_sign(c->key, subject, ca, days, exts, nexts, san, &c->x509);
	if (err < 0)
		return err;
	*ret = TAKE_PTR(c);
	return 0;
}

int pki_ca_create(struct pki_cert **ret)
{
	static const struct ext exts[] = {
		{NID_basic_constraints, "critical,CA:TRUE"},
		{NID_key_usage, "critical,keyCertSign,cRLSign"},
	};
	_cleanup_(name_freep) X509_NAME *n = X509_NAME_new();

	if (!n)
		return pki_openssl_error(-EIO);
	int err = name_add(n, "CN", PKI_CA_CN);
	if (err < 0)
		return err;
	return issue(NULL, n, PKI_CA_DAYS, exts, ARRAY_SIZE(exts), NULL, ret);
}

static void names_freep(GENERAL_NAMES **g)
{
	GENERAL_NAMES_free(*g);
}

static bool dns_name_valid(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return false;
	return true;
}

static int san_push(GENERAL_NAMES *names, int type, ASN1_STRING *value)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();

	if (!gn) {
		ASN1_STRING_free(value);
		return pki_openssl_error(-EIO);
	}
	GENERAL_NAME_set0_value(gn, type, value);
	if (!sk_GENERAL_NAME_push(names, gn)) {
		GENERAL_NAME_free(gn);
		return pki_openssl_error(-EIO);
	}
	return 0;
}

static int san_build(const char *const *dns, unsigned ndns, const char *const *ips, unsigned nips,
		     GENERAL_NAMES **ret)
{
	_cleanup_(names_freep) GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	int err;

	if (!names)
		return pki_openssl_error(-EIO);
	for (unsigned i = 0; i < ndns; i++) {
		if (!dns_name_valid(dns[i]))
			return -EINVAL;
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		if (!s || !ASN1_STRING_set(s, dns[i], -1)) {
			ASN1_IA5STRING_free(s);
			return pki_openssl_error(-EIO);
		}
		err = san_push(names, GEN_DNS, s);
		if (err < 0)
			return err;
	}
	for (unsigned i = 0; i < nips; i++) {
		ASN1_OCTET_STRING *ip = ips[i] ? a2i_IPADDRESS(ips[i]) : NULL;
		if (!ip)
			return pki_openssl_error(-EINVAL);
		err = san_push(names, GEN_IPADD, ip);
		if (err < 0)
			return err;
	}
	*ret = TAKE_PTR(names);
	return 0;
}

int pki_issue_server(const struct pki_cert *ca, const char *cn, const char *const *dns,
		     unsigned ndns, const char *const *ips, unsigned nips, struct pki_cert **ret)
{
	static const struct ext exts[] = {
		{NID_basic_constraints, "critical,CA:FALSE"},
		{NID_key_usage, "critical,digitalSignature"},
		{NID_ext_key_usage, "serverAuth"},
	};
	_cleanup_(names_freep) GENERAL_NAMES *san = NULL;
	_cleanup_(name_freep) X509_NAME *n = X509_NAME_new();
	int err;

	if (!ca || (ndns == 0 && nips == 0) || (ndns && !dns) || (nips && !ips))
		return -EINVAL;
	if (!n)
		return pki_openssl_error(-EIO);
	err = san_build(dns, ndns, ips, nips, &san);
	if (err < 0)
		return err;
	err = name_add(n, "CN", cn ? cn : ndns ? dns[0] : ips[0]);
	if (err < 0)
		return err;
	return issue(ca, n, PKI_LEAF_DAYS, exts, ARRAY_SIZE(exts), san, ret);
}

int pki_issue_client(const struct pki_cert *ca, const char *cn, const char *const *orgs,
		     unsigned norgs, struct pki_cert **ret)
{
	static const struct ext exts[] = {
		{NID_basic_constraints, "critical,CA:FALSE"},
		{NID_key_usage, "critical,digitalSignature"},
		{NID_ext_key_usage, "clientAuth"},
	};
	_cleanup_(name_freep) X509_NAME *n = X509_NAME_new();
	int err;

	if (!ca || (norgs && !orgs))
		return -EINVAL;
	if (!n)
		return pki_openssl_error(-EIO);
	/* O before CN, the order Go's crypto/x509 (and so Kubernetes) writes them in. */
	for (unsigned i = 0; i < norgs; i++) {
		err = name_add(n, "O", orgs[i]);
		if (err < 0)
			return err;
	}
	err = name_add(n, "CN", cn);
	if (err < 0)
		return err;
	return issue(ca, n, PKI_LEAF_DAYS, exts, ARRAY_SIZE(exts), NULL, ret);
}
