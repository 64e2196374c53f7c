/* lib/pki: the cluster's CA, the certificates it issues, and kubeconfig files.
 *
 *   struct pki_cert *ca, *srv, *admin;
 *   r = pki_ca_load_or_create("/var/lib/kelp/pki", &ca, NULL);
 *   r = pki_issue_server(ca, "kelp-apiserver", dns, ndns, ips, nips, &srv);
 *   r = pki_issue_client(ca, "kelp-admin", (const char *const[]){"system:masters"}, 1, &admin);
 *   r = pki_kubeconfig_write_admin("/var/lib/kelp/kubeconfig", "https://127.0.0.1:6443",
 *                                  ca, admin);
 *
 * Keys are EC P-256, signatures ECDSA with SHA-256 (OpenSSL 3). Private keys
 * are written with mode 0600, every file atomically. Errors are negative
 * errno values: -EINVAL for bad arguments, -EBADMSG for files that do not
 * parse (or a key that does not match its certificate), -EIO when OpenSSL
 * fails, or the errno of the failed file operation. */
#pragma once

#include <stdbool.h>

#include <openssl/types.h>

#include "base/base.h"

#define PKI_CA_CERT_FILE "ca.crt"
#define PKI_CA_KEY_FILE "ca.key"
#define PKI_CA_CN "kelp-ca"

/* Validity of what pki issues. */
#define PKI_CA_DAYS 3650
#define PKI_LEAF_DAYS 365

/* A certificate with its private key (or without, when only trusted). */
struct pki_cert;

struct pki_cert *pki_cert_free(struct pki_cert *c);
DEFINE_FREEP(struct pki_cert, pki_cert_free)

/* Borrowed pointers, valid while c lives (for SSL_CTX_use_certificate etc.);
 * the key is NULL for a certificate loaded without one. */
X509 *pki_cert_x509(const struct pki_cert *c);
EVP_PKEY *pki_cert_key(const struct pki_cert *c);

/* PEM text of the certificate and/or the key (PKCS#8); either ret may be NULL. */
int pki_cert_pem(const struct pki_cert *c, char **ret_cert, char **ret_key);
/* The key (mode 0600) first, then the certificate (mode 0644): a
 * certificate on disk means its key is there too. */
int pki_cert_write(const struct pki_cert *c, const char *cert_path, const char *key_path);
/* A pair from PEM text (key_pem may be NULL for a certificate alone, as for
 * a CA a client trusts); -EBADMSG when they do not parse or match. */
int pki_cert_from_pem(const char *cert_pem, const char *key_pem, struct pki_cert **ret);
/* -ENOENT when a file is missing, -EBADMSG when they do not parse or match. */
int pki_cert_load(const char *cert_path, const char *key_path, struct pki_cert **ret);

/* Load dir/ca.crt and dir/ca.key, or, when the certificate is absent,
 * create a self-signed CA (CN=kelp-ca, CA:TRUE, keyCertSign and cRLSign,
 * PKI_CA_DAYS) and write it there (dir is created with mode 0700).
 * *ret_created (may be NULL) says which happened. */
int pki_ca_load_or_create(const char *dir, struct pki_cert **ret, bool *ret_created);

/* A serving certificate (serverAuth, PKI_LEAF_DAYS) with subject CN=cn and
 * subjectAltNames for each DNS name and IP address (IPv4 or IPv6 text);
 * -EINVAL for an IP that does not parse or when there is no name at all. */
int pki_issue_server(const struct pki_cert *ca, const char *cn, const char *const *dns,
		     unsigned ndns, const char *const *ips, unsigned nips, struct pki_cert **ret);
/* A client certificate (clientAuth, PKI_LEAF_DAYS) with subject O=orgs...,
 * CN=cn: Kubernetes reads CN as the user name and each O as a group. */
int pki_issue_client(const struct pki_cert *ca, const char *cn, const char *const *orgs,
		     unsigned norgs, struct pki_cert **ret);

/* What a client needs from a kubeconfig: one context, resolved. Strings are
 * owned by the struct; any may be NULL. PEM fields hold PEM text, decoded
 * from the *-data fields or read from the files the kubeconfig names. */
struct pki_kubeconfig {
	char *context;	   /* context name; "kelp" when written with NULL */
	char *cluster;	   /* cluster name; "kelp" when written with NULL */
	char *user;	   /* user name; "kelp-admin" when written with NULL */
	char *namespace;   /* the context's namespace */
	char *server;	   /* e.g. https://127.0.0.1:6443 */
	char *ca_pem;	   /* certificate-authority(-data) */
	bool insecure_skip_tls_verify;
	char *client_cert_pem; /* client-certificate(-data) */
	char *client_key_pem;  /* client-key(-data) */
	char *token;	       /* bearer token */
};

struct pki_kubeconfig *pki_kubeconfig_free(struct pki_kubeconfig *kc);
DEFINE_FREEP(struct pki_kubeconfig, pki_kubeconfig_free)

/* The YAML kubectl would write for kc (one cluster, user and context, the
 * current one), with the PEM data base64-embedded. */
char *pki_kubeconfig_format(const struct pki_kubeconfig *kc);
/* Format and write atomically with mode 0600 (it holds a private key). */
int pki_kubeconfig_write(const char *path, const struct pki_kubeconfig *kc);
/* A kubeconfig for server with the CA and an admin client certificate. */
int pki_kubeconfig_write_admin(const char *path, const char *server, const struct pki_cert *ca,
			       const struct pki_cert *client);

/* Parse a kubeconfig and resolve context (NULL: current-context) to its
 * cluster and user. Relative file paths are taken from base_dir (NULL: the
 * working directory). -EBADMSG when it is not YAML, not a Config, or names
 * a context, cluster or user it does not define. */
int pki_kubeconfig_parse(const char *text, size_t n, const char *base_dir, const char *context,
			 struct pki_kubeconfig **ret);
/* Read and parse a file; relative paths inside are relative to its directory. */
int pki_kubeconfig_read(const char *path, const char *context, struct pki_kubeconfig **ret);
