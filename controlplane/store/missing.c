/* Stand-ins for a backend whose directory is not part of this build. */
#include "base/base.h"
#include "store/backend.h"

#ifdef STORE_NO_EMBEDDED
int store_embedded_open(struct loop *l, const struct store_config *cfg, struct store **ret)
{
	return -EOPNOTSUPP;
}
#endif

#ifdef STORE_NO_ETCD
int store_etcd_open(struct loop *l, const struct store_config *cfg, struct store **ret)
{
	return -EOPNOTSUPP;
}
#endif
