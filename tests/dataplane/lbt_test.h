/* What the table's unit tests share: set an object (taking it), build and
 * validate. Test code; include after tap.h. */
#pragma once

#include <jansson.h>
#include <stdio.h>

#include "base/base.h"
#include "dataplane/lbtable/lbtable.h"

/* Set o (a Service or an EndpointSlice, by its kind) and drop it: it must
 * be accepted. */
static inline void lbt_set(struct lb_compiler *c, json_t *o)
{
	const char *kind = json_string_value(json_object_get(o, "kind"));
	char *err = NULL;

	CHECK(o != NULL && kind != NULL);
	if (!o || !kind) {
		json_decref(o);
		return;
	}
	if (streq(kind, "Service"))
		CHECK_INT(lb_compiler_set_service(c, o, &err), 0);
	else
		CHECK_INT(lb_compiler_set_slice(c, o, &err), 0);
	if (err)
		printf("# %s\n", err);
	free(err);
	json_decref(o);
}

/* The next generation (NULL when nothing changed), which must validate. */
static inline const struct lb_table *lbt_build(struct lb_compiler *c, struct lb_delta *d)
{
	const struct lb_table *t = lb_compiler_build(c, d);
	__u32 n;
	const __u32 *arena = lb_compiler_arena(c, &n);

	if (t)
		CHECK_INT(lb_table_check(t, t->size, arena, n), 0);
	return t;
}
