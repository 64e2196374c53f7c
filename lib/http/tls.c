/* OpenSSL contexts for the server and the client. */
#include "http/internal.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static const unsigned char alpn_h2_h1[] = "\x02h2\x08http/1.1";
static const unsigned char alpn_h1[] = "\x08http/1.1";

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned inlen, void *arg)
{
	/* Our preference order: h2, then http/1.1. */
	if (SSL_select_next_proto((unsigned char **)out, outlen, alpn_h2_h1,
				  sizeof(alpn_h2_h1) - 1, in, inlen) == OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_OK;
	return SSL_TLSEXT_ERR_NOACK;
}

static SSL_CTX *ctx_new(const SSL_METHOD *m)
{
	SSL_CTX *ctx = SSL_CTX_new(m);
	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

int http_tls_server_ctx(const char *cert_file, const char *key_file, const char *client_ca_file,
			SSL_CTX **ret)
{
	SSL_CTX *ctx = ctx_new(TLS_server_method());

	if (!ctx)
		return -ENOMEM;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	if (client_ca_file) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(client_ca_file);
		if (!names || SSL_CTX_load_verify_locations(ctx, client_ca_file, NULL) != 1) {
			sk_X509_NAME_pop_free(names, X509_NAME_free);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		/* Ask for a certificate; clients without one (bearer tokens,
		 * anonymous) are still let in and judged by the server. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
	*ret = ctx;
	return 0;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return -EINVAL;
}

static int use_pem(SSL_CTX *ctx, const char *ca_pem, const char *cert_pem, const char *key_pem)
{
	if (ca_pem) {
		X509_STORE *store = SSL_CTX_get_cert_store(ctx);
		BIO *b = BIO_new_mem_buf(ca_pem, -1);
		X509 *x;
		int n = 0;
		while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
			X509_STORE_add_cert(store, x);
			X509_free(x);
			n++;
		}
		BIO_free(b);
		ERR_clear_error();
		if (!n)
			return -EINVAL;
	} else {
		SSL_CTX_set_default_verify_paths(ctx);
	}
	if (cert_pem && key_pem) {
		BIO *cb = BIO_new_mem_buf(cert_pem, -1), *kb = BIO_new_mem_buf(key_pem, -1);
		X509 *cert = PEM_read_bio_X509(cb, NULL, NULL, NULL);
		EVP_PKEY *key = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
		int ok = cert && key && SSL_CTX_use_certificate(ctx, cert) == 1 &&
			 SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
		X509_free(cert);
		EVP_PKEY_free(key);
		BIO_free(cb);
		BIO_free(kb);
		if (!ok)
			return -EINVAL;
	}
	return 0;
}

int http_tls_client_ctx(const char *ca_pem, const char *cert_pem, const char *key_pem,
			bool offer_h2, SSL_CTX **ret)
{
	SSL_CTX *ctx = ctx_new(TLS_client_method());
	int r;

	if (!ctx)
		return -ENOMEM;
	r = use_pem(ctx, ca_pem, cert_pem, key_pem);
	if (r < 0) {
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return r;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (offer_h2)
		SSL_CTX_set_alpn_protos(ctx, alpn_h2_h1, sizeof(alpn_h2_h1) - 1);
	else
		SSL_CTX_set_alpn_protos(ctx, alpn_h1, sizeof(alpn_h1) - 1);
	*ret = ctx;
	return 0;
}
