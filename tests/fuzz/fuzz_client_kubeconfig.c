/* libFuzzer: any text given to lib/client's kubeconfig loader either
 * resolves to a usable server (with a client certificate only alongside its
 * key) or is refused with a message — never both, never neither. */
#include "client/client.h"

#include <stdio.h>

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_client_kubeconfig: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pki_kubeconfig *kc = NULL;
	char *msg = NULL;

	/* The loader reads the files a kubeconfig names: keep away from ones
	 * that could block or be huge. */
	if (memmem(data, size, "/dev", 4) || memmem(data, size, "/proc", 5) ||
	    memmem(data, size, "/sys", 4))
		return 0;
	int r = client_kubeconfig_parse((const char *)data, size, NULL, NULL, &kc, &msg);
	if (r == 0) {
		check(kc && !msg, "success without a result, or with a message");
		check(kc->server && (str_has_prefix(kc->server, "https://") ||
				     str_has_prefix(kc->server, "http://")),
		      "resolved without an http(s) server");
		check(!kc->client_cert_pem == !kc->client_key_pem, "a certificate without its key");
	} else {
		check(r < 0 && !kc && msg && *msg, "failure without a message");
	}
	pki_kubeconfig_free(kc);
	free(msg);
	return 0;
}
