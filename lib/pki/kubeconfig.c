/* lib/pki: writing kubeconfig files the way kubectl writes them. */
#include "pki/pki-internal.h"

#include <openssl/crypto.h>
#include <stdio.h>

char *pki_base64_encode(const void *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);

	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

int pki_base64_decode(const char *s, size_t n, char **ret, size_t *ret_len)
{
	EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
	unsigned char *out = xmalloc(n + 4);
	int len = 0, tail = 0;

	if (!ctx) {
		free(out);
		return pki_openssl_error(-EIO);
	}
	EVP_DecodeInit(ctx);
	if (n > INT32_MAX ||
	    EVP_DecodeUpdate(ctx, out, &len, (const unsigned char *)s, (int)n) < 0 ||
	    EVP_DecodeFinal(ctx, out + len, &tail) < 0) {
		EVP_ENCODE_CTX_free(ctx);
		free(out);
		return pki_openssl_error(-EBADMSG);
	}
	EVP_ENCODE_CTX_free(ctx);
	len += tail;
	out[len] = '\0';
	*ret = (char *)out;
	if (ret_len)
		*ret_len = (size_t)len;
	return 0;
}

static void free_secret(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

struct pki_kubeconfig *pki_kubeconfig_free(struct pki_kubeconfig *kc)
{
	if (!kc)
		return NULL;
	free(kc->context);
	free(kc->cluster);
	free(kc->user);
	free(kc->namespace);
	free(kc->server);
	free(kc->ca_pem);
	free(kc->client_cert_pem);
	free_secret(kc->client_key_pem);
	free_secret(kc->token);
	free(kc);
	return NULL;
}

/* Words YAML 1.1 readers (such as older kubectl) would take for booleans or null. */
static bool yaml_reserved(const char *s)
{
	static const char *const words[] = {"true", "false", "yes", "no", "on", "off",
					    "y", "n", "null", "~"};

	for (unsigned i = 0; i < ARRAY_SIZE(words); i++)
		if (strcaseeq(s, words[i]))
			return true;
	return false;
}

/* Plain when it cannot be read back as anything but this string: a letter
 * first rules out numbers, dates and sexagesimals; no ": ", "#" or trailing ":". */
static bool yaml_plain_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || yaml_reserved(s) || s[n - 1] == ':')
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (const char *c = s; *c; c++) {
		bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			  (*c >= '0' && *c <= '9') || strchr("._/:@+=-[]", *c);
		if (!ok)
			return false;
	}
	return true;
}

static void put_scalar(struct buf *b, const char *s)
{
	if (yaml_plain_ok(s)) {
		buf_puts(b, s);
		return;
	}
	buf_putc(b, '"');
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			buf_printf(b, "\\%c", *c);
		else if (*c == '\n')
			buf_puts(b, "\\n");
		else if (*c == '\t')
			buf_puts(b, "\\t");
		else if (*c < 0x20 || *c == 0x7f)
			buf_printf(b, "\\x%02x", *c);
		else
			buf_putc(b, (char)*c);
	}
	buf_putc(b, '"');
}

static void put_field(struct buf *b, const char *indent, const char *key, const char *value)
{
	buf_printf(b, "%s%s: ", indent, key);
	put_scalar(b, value);
	buf_putc(b, '\n');
}

static void put_data(struct buf *b, const char *key, const char *pem)
{
	_cleanup_free_ char *b64 = pki_base64_encode(pem, strlen(pem));

	buf_printf(b, "    %s: %s\n", key, b64);
}

char *pki_kubeconfig_format(const struct pki_kubeconfig *kc)
{
	const char *cluster = kc->cluster ? kc->cluster : "kelp";
	const char *user = kc->user ? kc->user : "kelp-admin";
	const char *context = kc->context ? kc->context : "kelp";
	struct buf b = {0};

	/* Keys sorted and lists indented as kubectl's own YAML output has them. */
	buf_puts(&b, "apiVersion: v1\nclusters:\n- cluster:\n");
	if (kc->ca_pem)
		put_data(&b, "certificate-authority-data", kc->ca_pem);
	if (kc->insecure_skip_tls_verify)
		buf_puts(&b, "    insecure-skip-tls-verify: true\n");
	if (kc->server)
		put_field(&b, "    ", "server", kc->server);
	put_field(&b, "  ", "name", cluster);
	buf_puts(&b, "contexts:\n- context:\n");
	put_field(&b, "    ", "cluster", cluster);
	if (kc->namespace)
		put_field(&b, "    ", "namespace", kc->namespace);
	put_field(&b, "    ", "user", user);
	put_field(&b, "  ", "name", context);
	put_field(&b, "", "current-context", context);
	buf_puts(&b, "kind: Config\npreferences: {}\nusers:\n");
	put_field(&b, "- ", "name", user);
	if (!kc->client_cert_pem && !kc->client_key_pem && !kc->token) {
		buf_puts(&b, "  user: {}\n");
		return buf_steal(&b);
	}
	buf_puts(&b, "  user:\n");
	if (kc->client_cert_pem)
		put_data(&b, "client-certificate-data", kc->client_cert_pem);
	if (kc->client_key_pem)
		put_data(&b, "client-key-data", kc->client_key_pem);
	if (kc->token)
		put_field(&b, "    ", "token", kc->token);
	return buf_steal(&b);
}

int pki_kubeconfig_write(const char *path, const struct pki_kubeconfig *kc)
{
	char *text;
	int err;

	if (!path || !kc)
		return -EINVAL;
	text = pki_kubeconfig_format(kc);
	err = write_file_atomic(path, text, strlen(text), 0600);
	free_secret(text);
	return err;
}

int pki_kubeconfig_write_admin(const char *path, const char *server, const struct pki_cert *ca,
			       const struct pki_cert *client)
{
	struct pki_kubeconfig kc = {.server = (char *)server};
	int err;

	if (!server || !ca || !client)
		return -EINVAL;
	err = pki_cert_pem(ca, &kc.ca_pem, NULL);
	if (err == 0)
		err = pki_cert_pem(client, &kc.client_cert_pem, &kc.client_key_pem);
	if (err == 0)
		err = pki_kubeconfig_write(path, &kc);
	free(kc.ca_pem);
	free(kc.client_cert_pem);
	free_secret(kc.client_key_pem);
	return err;
}
