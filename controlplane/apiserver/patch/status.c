/* The Status each patch error becomes, and the field manager of a request. */
#include "apiserver/patch/internal.h"

json_t *patch_error_status(int err, const char *errmsg)
{
	const char *msg = errmsg ? errmsg : "";

	switch (err) {
	case -EINVAL:
		return api_status_bad_request(msg);
	case -EDOM:
		/* Kubernetes answers a patch that does not apply with the generic
		 * 422 of NewGenericServerResponse: the reason stays on the server */
		return api_status_new(&(struct api_status){
			.message = "the server rejected our request due to an error in our request",
			.reason = "Invalid",
			.code = 422,
			.details = true});
	case -E2BIG: {
		_cleanup_free_ char *m = xasprintf("Request entity too large: %s", msg);
		return api_status_failure(413, "RequestEntityTooLarge", m);
	}
	case -EBUSY:
		return api_status_new(&(struct api_status){
			.message = msg, .reason = "Conflict", .code = 409, .details = true});
	default:
		/* a plain Go error: 500 without a reason */
		return api_status_new(&(struct api_status){.message = msg, .code = 500});
	}
}

char *patch_manager_name(const char *field_manager, const char *user_agent)
{
	struct buf b = {0};

	if (field_manager && *field_manager)
		return xstrdup(field_manager);
	if (!user_agent)
		return xstrdup("");
	/* the user agent's product, printable characters only, at most 128 bytes */
	for (const unsigned char *p = (const unsigned char *)user_agent; *p && *p != '/';) {
		size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : 4;
		size_t len = strnlen((const char *)p, n);
		bool printable = n > 1 || (*p >= 0x20 && *p < 0x7f);
		if (len < n)
			break;
		if (printable) {
			if (b.len + n > 128)
				break;
			buf_append(&b, p, n);
		}
		p += n;
	}
	/* invalid UTF-8 reads as U+FFFD, as Go's range over a string does */
	json_t *j = api_json_string_lossy(b.data ? b.data : "");
	char *out = xstrdup(json_string_value(j));
	json_decref(j);
	buf_free(&b);
	return out;
}
