/* validate/: what the pod-family files (pod.c, container.c, podspec.c) share. */
#pragma once

#include "apiserver/validate/internal.h"

/* IsConfigMapKey, with Kubernetes' messages. */
void check_config_key(const char *key, const char *path, struct api_field_errors *e);
/* ".", ".." and a ".." prefix are refused. */
void check_chdir_prefix(const char *s, const char *path, struct api_field_errors *e);
void check_local_descending_path(const char *s, const char *path, struct api_field_errors *e);
void check_header_name(const char *s, const char *path, struct api_field_errors *e);
/* ResourceRequirements: names, quantities, requests <= limits. */
void check_resources(const json_t *res, const char *path, struct api_field_errors *e);
void check_quantity_value(const char *name, const struct api_quantity *q, const char *path,
			  struct api_field_errors *e);
/* grace: the pod's terminationGracePeriodSeconds, -1 when unset. */
void check_probes_and_lifecycle(const json_t *c, int64_t grace, const char *path,
				struct api_field_errors *e);
/* validateContainerCommon; vols: names of the pod's valid volumes. */
void check_container_common(const json_t *c, const struct api_msgs *vols, const char *path,
			    struct api_field_errors *e);
void check_tolerations(const json_t *tols, const char *path, struct api_field_errors *e);
