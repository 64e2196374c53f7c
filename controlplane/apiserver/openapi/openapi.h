/* Discovery, OpenAPI and Table output, all computed from the schema tables
 * (apiserver/schema.h): which kinds are served, their resources, scopes,
 * short names, categories, subresources and verbs, and every type's fields.
 *
 * Every function returns a new reference the caller owns (json_decref), in
 * Kubernetes' JSON shapes and key order, ready for api_json_dump(). None
 * touches global mutable state; the documents are pure functions of the
 * tables, so a caller may build them once and keep them (struct
 * openapi_docs does that for the OpenAPI documents, which are large). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apiserver/schema.h"
#include "base/base.h"

/* ---- Discovery --------------------------------------------------------------------------- */

/* The Content-Type that makes kubectl accept an aggregated discovery body. */
#define DISCOVERY_AGGREGATED_CONTENT_TYPE \
	"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

/* GET /api: APIVersions {"kind":"APIVersions","versions":["v1"],
 * "serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":...}]}.
 * server_address is "host:port"; NULL or "" leaves the address list empty. */
json_t *discovery_api_versions(const char *server_address);
/* GET /apis: APIGroupList, groups in kube-apiserver's order (apps, events.k8s.io, ...). */
json_t *discovery_group_list(void);
/* GET /apis/<group>: APIGroup; NULL when no kind of that group is served. */
json_t *discovery_group(const char *group);
/* GET /api/v1 (group "" or "core") and /apis/<g>/<v>: APIResourceList with every
 * resource and subresource ("pods/log", "deployments/scale" with group autoscaling,
 * version v1, kind Scale), sorted by name as Kubernetes sorts them; NULL when the
 * group version is not served. */
json_t *discovery_resource_list(const char *group, const char *version);
/* apidiscovery.k8s.io/v2 APIGroupDiscoveryList: for /api when legacy, else for /apis.
 * Send it with DISCOVERY_AGGREGATED_CONTENT_TYPE. */
json_t *discovery_aggregated(bool legacy);

/* ---- OpenAPI ----------------------------------------------------------------------------- */

/* GET /openapi/v3: {"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=H"},
 * "apis/apps/v1":{...}}} where H is the document's hash (openapi_hash()). Builds every
 * document to hash it: use struct openapi_docs to serve it repeatedly. */
json_t *openapi_v3_root(void);
/* GET /openapi/v3/<path> for path "api/v1" or "apis/<group>/<version>": the OpenAPI 3.0
 * document of that group version (paths with every operation, components.schemas with
 * every type reachable from them); NULL when not served. */
json_t *openapi_v3_document(const char *path);
/* GET /openapi/v2: the Swagger 2.0 document of the whole API. */
json_t *openapi_v2(void);

/* The hash kube-apiserver puts in serverRelativeURL and the ETag: the upper-case hex
 * SHA-512 of the serialized document (129 bytes with the NUL). */
#define OPENAPI_HASH_LEN 129
void openapi_hash(const void *data, size_t len, char out[OPENAPI_HASH_LEN]);

/* Every OpenAPI document serialized once, with its hash, built on first use.
 * Not thread-safe: use it from one loop. */
struct openapi_docs;

struct openapi_docs *openapi_docs_new(void);
struct openapi_docs *openapi_docs_free(struct openapi_docs *d);
DEFINE_FREEP(struct openapi_docs, openapi_docs_free)

/* The serialized JSON body and hash of /openapi/v3 (path "" or NULL) or of
 * /openapi/v3/<path>; -ENOENT when there is no such document. The pointers stay valid
 * until openapi_docs_free(). */
int openapi_docs_v3(struct openapi_docs *d, const char *path, const char **ret_body,
		    size_t *ret_len, const char **ret_hash);
/* The same for /openapi/v2 (JSON; kubectl asks for protobuf there and copes with a 406). */
int openapi_docs_v2(struct openapi_docs *d, const char **ret_body, size_t *ret_len,
		    const char **ret_hash);

/* ---- Table (meta.k8s.io/v1) -------------------------------------------------------------- */

/* The Table kube-apiserver returns for `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`
 * for n objects of kind k: the printer columns of pkg/printers for that kind (priority 1
 * columns are the ones kubectl shows with -o wide), one row per object with its cells
 * computed now (AGE "5m", pod STATUS "CrashLoopBackOff"...), and in each row the object
 * as PartialObjectMetadata, or the whole object when with_object (includeObject=Object).
 * list_resource_version and cont become metadata.resourceVersion and metadata.continue
 * (NULL or "" omits them; for one object pass its resourceVersion). Kinds without a
 * printer get Kubernetes' default table (Name, Created At). For a watch event after the
 * first, set "columnDefinitions" to null as kube-apiserver does. */
json_t *table_build(const struct sch_kind *k, json_t *const *objs, size_t n,
		    const char *list_resource_version, const char *cont, bool with_object);
/* The same with an explicit clock (nanoseconds since the epoch). */
json_t *table_build_at(const struct sch_kind *k, json_t *const *objs, size_t n,
		       const char *list_resource_version, const char *cont, bool with_object,
		       int64_t now_ns);

/* duration.HumanDuration: "45s", "5m", "5m3s", "3h10m", "2d5h", "3y12d"; "<invalid>" for
 * more than a second in the future. */
void table_human_duration(int64_t ns, char *out, size_t cap);
