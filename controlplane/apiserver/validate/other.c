#include "apiserver/validate/internal.h"

const struct kind_rules other_rules[] = {
	{.group = "", .kind = "__none__"},
};
const size_t other_nrules = ARRAY_SIZE(other_rules);
