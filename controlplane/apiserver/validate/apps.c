#include "apiserver/validate/internal.h"

const struct kind_rules apps_rules[] = {
	{.group = "", .kind = "__none__"},
};
const size_t apps_nrules = ARRAY_SIZE(apps_rules);
