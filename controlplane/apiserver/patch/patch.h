/* The patch engines of the API server: JSON patch (RFC 6902), JSON merge
 * patch (RFC 7386), strategic merge patch and server-side apply with field
 * ownership (metadata.managedFields). See README.md for what each matches in
 * Kubernetes and what is simplified.
 *
 * Every function is pure: no I/O, the inputs are not modified, results are
 * new references the caller owns. On failure a function returns a negative
 * errno and, if errmsg is non-NULL, an allocated message worded as
 * Kubernetes words it; patch_error_status() turns the pair into the Status
 * Kubernetes answers with:
 *
 *   -EINVAL   400 BadRequest, the message as is: a malformed patch
 *   -EDOM     422 Invalid, "the server rejected our request due to an error in
 *             our request" (Kubernetes does not pass the reason on)
 *   -E2BIG    413 RequestEntityTooLarge (a JSON patch of more than 10000 operations)
 *   -EPROTO   500 with no reason, the message as is (Kubernetes hands a plain
 *             Go error through: a strategic merge patch without a merge key, an
 *             applied object with duplicate list keys, ...)
 *   -EBUSY    409 Conflict (apply only): the Status is in *ret_conflict_status */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "apiserver/schema.h"

/* The most operations one JSON patch may hold (kube-apiserver's limit). */
#define PATCH_JSON_MAX_OPS 10000

/* RFC 6902 (application/json-patch+json): add, remove, replace, move, copy,
 * test, as gopkg.in/evanphx/json-patch.v4 (Kubernetes' engine) applies them,
 * quirks included (negative indices count from the end, replace of a missing
 * object member adds it, a test for null also matches an absent member). A
 * JSON null ops is the empty patch. */
int patch_json(const json_t *doc, const json_t *ops, json_t **ret, char **errmsg);

/* RFC 7386 (application/merge-patch+json). A null or scalar patch is
 * refused ("Invalid JSON Patch"); an array patch replaces the document (the
 * caller's decoding then refuses a non-object). */
int patch_merge(const json_t *doc, const json_t *patch, json_t **ret, char **errmsg);

/* Strategic merge patch (application/strategic-merge-patch+json) of an
 * object of type t, driven by the schema's merge keys and patch strategies,
 * with the directives $patch, $retainKeys, $setElementOrder/<list> and
 * $deleteFromPrimitiveList/<list>. Keys the schema does not know merge as in
 * a merge patch. A null patch changes nothing. */
int patch_strategic(const struct sch_type *t, const json_t *doc, const json_t *patch, json_t **ret,
		    char **errmsg);

/* Server-side apply (application/apply-patch+yaml, already decoded) of
 * `applied` by `manager` onto `live` (NULL: the object does not exist yet)
 * for kind type t (a kind: SCH_T_KIND). subresource is NULL or "" for the
 * object itself, "status" for .../status. now_ns stamps the managedFields
 * entries that change. On success *ret is the new object, managedFields
 * included; the caller defaults, validates and stores it as an update (or
 * a create). A conflict with another manager returns -EBUSY and, unless
 * force, the 409 Status in *ret_conflict_status. */
int patch_apply(const struct sch_type *t, const json_t *live, const json_t *applied,
		const char *manager, const char *subresource, bool force, int64_t now_ns,
		json_t **ret, json_t **ret_conflict_status, char **errmsg);

/* Record in obj's metadata.managedFields what an Update operation (create,
 * update, any patch that is not an apply) by `manager` changed from old
 * (NULL: a create) to obj, as Kubernetes' field manager does: the manager
 * gains the fields it changed, other managers lose them. managedFields the
 * client sent in obj replace the stored ones ([] or [{}] resets them); an
 * object that exists without managedFields is not tracked. Call it on the
 * defaulted object before it is validated and stored. Never fails: like
 * Kubernetes, it drops managedFields it cannot compute. */
void patch_record_update(const struct sch_type *t, const json_t *old, json_t *obj,
			 const char *manager, const char *subresource, int64_t now_ns);

/* The field manager of a request: fieldManager, else the user agent up to
 * its first '/' (printable characters, at most 128 bytes). */
char *patch_manager_name(const char *field_manager, const char *user_agent);

/* The Status for an error returned by a patch function (table above). */
json_t *patch_error_status(int err, const char *errmsg);
