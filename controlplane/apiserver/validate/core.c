#include "apiserver/validate/internal.h"

const struct kind_rules core_rules[] = {
	{.group = "", .kind = "__none__"},
};
const size_t core_nrules = ARRAY_SIZE(core_rules);
