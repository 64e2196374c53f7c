/* Objects as the store keeps them: compact JSON without their
 * resourceVersion, which is the key's mod revision. */
#include "apiserver/internal.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/random.h>

void object_set_rv(json_t *obj, int64_t rev)
{
	char s[24];
	snprintf(s, sizeof(s), "%" PRId64, rev);
	api_meta_set_resource_version(obj, s);
}

int64_t object_rv(const json_t *obj)
{
	const char *s = api_meta_resource_version(obj);
	int64_t v;
	if (!s || parse_i64(s, strlen(s), &v) < 0)
		return 0;
	return v;
}

json_t *object_from_kv(const struct store_kv *kv)
{
	json_t *obj = json_loadb(kv->value, kv->value_len, JSON_DECODE_ANY, NULL);
	if (!json_is_object(obj)) {
		json_decref(obj);
		return NULL;
	}
	object_set_rv(obj, kv->mod_rev);
	return obj;
}

bool object_has_generation(const struct resource *res)
{
	static const char *const groups[] = {"apps", "batch", "policy", "networking.k8s.io",
					     "autoscaling"};
	const struct sch_kind *k = res->kind;

	if (!*k->group)
		return streq(k->kind, "ReplicationController");
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++)
		if (streq(k->group, groups[i]))
			return true;
	return false;
}

json_t *object_read(const struct resource *res, const struct store_kv *kv)
{
	json_t *obj = object_from_kv(kv);
	if (obj && events_v1(res))
		events_to_v1(obj);
	return obj;
}

void object_to_store(const struct resource *res, json_t *obj, struct buf *out)
{
	if (res->storage) {
		/* Stored as the other resource's kind; obj is left as it came. */
		json_t *copy = json_deep_copy(obj);
		events_to_core(copy);
		object_to_store(res->storage, copy, out);
		json_decref(copy);
		sch_canonicalize(res->kind->type, obj, true);
		return;
	}
	sch_canonicalize(res->kind->type, obj, true);
	json_t *meta = json_object_get(obj, "metadata");
	json_t *rv = meta ? json_incref(json_object_get(meta, "resourceVersion")) : NULL;
	if (rv)
		json_object_del(meta, "resourceVersion");
	api_json_dump(obj, out);
	if (rv)
		json_object_set_new(meta, "resourceVersion", rv);
}

void object_new_uid(char out[37])
{
	uint8_t b[16];
	if (getrandom(b, sizeof(b), 0) != sizeof(b)) {
		/* getrandom does not fail for 16 bytes once the pool is up. */
		uint64_t t = now_real_ns() ^ now_mono_ns();
		memcpy(b, &t, 8);
		memcpy(b + 8, &t, 8);
	}
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}
