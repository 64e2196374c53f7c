/* What a request to the Kubernetes REST API asks for: the path split into
 * group, version, namespace, resource, name and subresource, the verb, and
 * the query options the API understands. Pure parsing: no I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"

enum api_verb {
	VERB_NONE,
	VERB_GET,
	VERB_LIST,
	VERB_WATCH,
	VERB_CREATE,
	VERB_UPDATE,
	VERB_PATCH,
	VERB_DELETE,
	VERB_DELETECOLLECTION,
};

enum api_path_kind {
	PATH_RESOURCE,    /* /api/v1/..., /apis/g/v/... below a group version */
	PATH_API_ROOT,    /* /api */
	PATH_APIS_ROOT,   /* /apis */
	PATH_GROUP,       /* /apis/g */
	PATH_GROUP_VERSION, /* /api/v1, /apis/g/v */
};

struct api_request {
	enum api_path_kind kind;
	enum api_verb verb;
	char *group; /* "" for the core group */
	char *version;
	char *namespace; /* NULL: cluster scope or all namespaces */
	char *resource;  /* "pods" */
	char *name;      /* NULL: the collection */
	char *subresource;

	/* query options (NULL / 0 / false when absent) */
	char *label_selector;
	char *field_selector;
	char *resource_version;
	char *resource_version_match;
	char *continue_token;
	int64_t limit;
	int64_t timeout_seconds;
	bool has_timeout;
	bool watch;
	bool allow_watch_bookmarks;
	bool send_initial_events;
	bool has_send_initial_events;
	bool dry_run; /* dryRun=All */
	char *field_manager;
	char *field_validation; /* Ignore, Warn, Strict */
	bool force;
	int64_t grace_period_seconds;
	bool has_grace_period;
	char *propagation_policy;
	bool has_orphan_dependents;
	bool orphan_dependents;
	bool pretty;
};

/* Parse method, path (percent-encoded) and query into r. Returns 0, or
 * -ENOENT when the path is not an API path (so it is a 404 elsewhere), or
 * -EINVAL with *errmsg set (Kubernetes' wording) for a malformed query or
 * path. */
int api_request_parse(const char *method, const char *path, const char *query,
		      struct api_request *r, char **errmsg);
void api_request_clear(struct api_request *r);

/* Go's strconv.ParseBool: 1 t T TRUE true True 0 f F FALSE false False. */
int api_parse_bool(const char *s, bool *ret);
