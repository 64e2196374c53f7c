/* Validation, defaulting and strict decoding of API objects, driven by the schema
 * (apiserver/schema.h) plus the rules of each served kind, with Kubernetes' field paths
 * and messages.
 *
 * The request pipeline, for a create or an update of kind k with body obj:
 *
 *   validate_decode(k->type, obj, &msg)          400 "<Kind> in version \"v1\" cannot be
 *                                                handled as a <Kind>: <msg>" on failure
 *   validate_unknown_fields(k->type, obj, &m)    fieldValidation=Strict: 400 "strict decoding
 *                                                error: <m joined by ", ">"; Warn: warnings;
 *                                                Ignore: nothing. Then validate_prune().
 *   validate_default(k, obj)
 *   (admission, the name from generateName, namespace from the URL (cleared for
 *    cluster-scoped kinds), system fields (uid, creationTimestamp, generation; on update
 *    the stored resourceVersion for an unconditional update, uid and timestamps kept):
 *    as kube-apiserver's BeforeCreate/BeforeUpdate)
 *   validate_prepare_create(k, obj) / validate_prepare_update(k, obj, old)
 *   validate_object(k, obj, old, &errs)          422 api_status_invalid() when errs.n > 0
 *
 * Objects are json_t trees as on the wire. Nothing here keeps state between calls. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "api/api.h"
#include "apiserver/schema.h"

/* Fill absent fields with their defaults: the schema's def= values (recursively, inside
 * list elements and map values too), then the kind's dynamic defaults as Kubernetes'
 * defaulting sets them (imagePullPolicy from the image tag, Service targetPort = port,
 * Deployment selector and strategy, ...). Fields present (even null-free empty values the
 * client sent) are left alone. */
void validate_default(const struct sch_kind *k, json_t *obj);

/* Strict field validation: one message per key the schema does not know, as Kubernetes
 * words them (`unknown field "spec.containers[0].foo"`), in document order, deduplicated,
 * at most 100. apiVersion and kind are known at the top of a kind (or list) type.
 * Duplicate keys are the JSON decoder's business (API_JSON_STRICT). */
void validate_unknown_fields(const struct sch_type *t, const json_t *obj, struct api_msgs *ret);

/* What decoding into Kubernetes' Go types would refuse: a JSON value of the wrong type
 * (`json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of
 * type int32`), an int32 out of range, a bad quantity, time or base64 string. 0 when the
 * object decodes, else -EINVAL and *errmsg (if non-NULL) gets the first problem, as Go
 * reports only the first. */
int validate_decode(const struct sch_type *t, const json_t *obj, char **errmsg);

/* What decoding into Go types and encoding back does: unknown fields (fieldValidation
 * Ignore/Warn) and null values are dropped (null map values of strings become ""),
 * quantities and times are written in canonical form ("0.5" cpu is "500m", times in
 * UTC). */
void validate_prune(const struct sch_type *t, json_t *obj);

/* What the kind's strategy does before validation (PrepareForCreate): status reset (a Pod
 * gets {phase: Pending, qosClass}, a Namespace {phase: Active} and the "kubernetes"
 * finalizer), a Job's selector and pod labels generated from its uid (set it first). */
void validate_prepare_create(const struct sch_kind *k, json_t *obj);
/* PrepareForUpdate: status kept from old where the kind has a status subresource, a
 * Namespace's spec kept, a Service keeps its allocated clusterIP(s), node ports and
 * health check port when the client left them out (as kubectl apply does). */
void validate_prepare_update(const struct sch_kind *k, json_t *obj, const json_t *old);

/* Create (old NULL) and update validation: metadata (validate_object_meta), structural
 * checks from the schema (JSON types, req, enum, fmt, min/max, union types, immutable
 * fields on update) and the kind's own rules, create- or update-time. Errors are appended
 * to errs with Kubernetes' field paths and messages, in the order Kubernetes finds them as
 * far as kelp can tell, without duplicates. */
void validate_object(const struct sch_kind *k, const json_t *obj, const json_t *old,
		     struct api_field_errors *errs);

/* The metadata rules every kind shares: name and generateName format for the kind (most
 * are DNS subdomains; Namespaces DNS labels, Services DNS-1035 labels, RBAC objects path
 * segments), namespace present iff the kind is namespaced, labels, annotations (keys,
 * total size <= 256 KiB), finalizers, ownerReferences, managedFields; on update (old
 * non-NULL) the immutable system fields and no new finalizers once deletion started. */
void validate_object_meta(const struct sch_kind *k, const json_t *obj, const json_t *old,
			  struct api_field_errors *errs);

/* The status subresource (PUT .../status): only status may change; metadata rules as for
 * an update, plus the kind's status rules. */
void validate_status_update(const struct sch_kind *k, const json_t *obj, const json_t *old,
			    struct api_field_errors *errs);
