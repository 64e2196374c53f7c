/* libFuzzer: the proxy's --from-file reader on arbitrary bytes (JSON or
 * YAML; one object, a List, or "---" separated documents). Either an error
 * with a message, or a set of objects each keyed "Kind/ns/name" by its own
 * kind, namespace and name. */
#include <assert.h>
#include <stdio.h>

#include "api/api.h"
#include "base/base.h"
#include "dataplane/proxy/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *err = NULL;
	json_t *all = proxy_file_parse((const char *)data, size, &err);
	const char *key;
	json_t *v;

	if (!all) {
		assert(err && *err);
		free(err);
		return 0;
	}
	assert(!err);
	json_object_foreach(all, key, v) {
		char want[1024];
		const char *kind = api_obj_kind(v), *ns = api_meta_namespace(v), *name = api_meta_name(v);
		assert(json_is_object(v) && kind && ns && name);
		snprintf(want, sizeof(want), "%s/%s/%s", kind, ns, name);
		assert(strlen(key) >= sizeof(want) - 1 || streq(key, want));
	}
	json_decref(all);
	return 0;
}
