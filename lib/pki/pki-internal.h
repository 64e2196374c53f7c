/* lib/pki internals shared by cert.c, ca.c and the kubeconfig files. */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pki/pki.h"

struct pki_cert {
	X509 *x509;
	EVP_PKEY *key; /* NULL for a certificate that is only trusted */
};

/* Drop OpenSSL's queued errors (they would confuse a later caller); returns err. */
int pki_openssl_error(int err);

/* A new self-signed CA key and certificate (CN=kelp-ca). */
int pki_ca_create(struct pki_cert **ret);

/* base64 of n bytes, one line, NUL-terminated. */
char *pki_base64_encode(const void *p, size_t n);
/* Decode base64 (whitespace allowed); -EBADMSG when it is not. */
int pki_base64_decode(const char *s, size_t n, char **ret, size_t *ret_len);
