/* lib/pki: the cluster CA kept in a directory, created once and reused on restart. */
#include "pki/pki-internal.h"

#include <openssl/x509v3.h>

int pki_ca_load_or_create(const char *dir, struct pki_cert **ret, bool *ret_created)
{
	_cleanup_free_ char *cert_path = NULL, *key_path = NULL;
	struct pki_cert *ca = NULL;
	bool created = false;
	int err;

	if (!dir || !*dir)
		return -EINVAL;
	err = mkdir_p(dir, 0700);
	if (err < 0)
		return err;
	cert_path = xasprintf("%s/%s", dir, PKI_CA_CERT_FILE);
	key_path = xasprintf("%s/%s", dir, PKI_CA_KEY_FILE);
	/* The certificate is written last, so its presence means the pair is complete. */
	if (access(cert_path, F_OK) < 0) {
		if (errno != ENOENT)
			return -errno;
		err = pki_ca_create(&ca);
		if (err == 0)
			err = pki_cert_write(ca, cert_path, key_path);
		created = true;
	} else {
		err = pki_cert_load(cert_path, key_path, &ca);
		if (err == 0 && X509_check_ca(ca->x509) != 1)
			err = -EBADMSG;
	}
	if (err < 0) {
		pki_cert_free(ca);
		return err;
	}
	*ret = ca;
	if (ret_created)
		*ret_created = created;
	return 0;
}
