/* Leases: grant, revoke and keepalive. LeaseKeepAlive is a stream method;
 * each renewal here is its own short stream (one request, one answer),
 * which lets it share the unary call path with its deadline and
 * retries. */
#include "etcd-internal.h"

struct lease_ctx {
	store_lease_fn fn;
	store_rev_fn rev_fn;
	void *ud;
};

static int lease_start(struct etcd *e, const char *path, const ProtobufCMessage *req,
		       const ProtobufCMessageDescriptor *resp, bool idempotent, etcd_rpc_fn done,
		       store_lease_fn fn, store_rev_fn rev_fn, void *ud)
{
	struct lease_ctx *c = xnew(struct lease_ctx, 1);
	*c = (struct lease_ctx){fn, rev_fn, ud};
	int r = etcd_rpc_start(e, path, req, resp, idempotent, done, c);
	if (r < 0)
		free(c);
	return r;
}

static void grant_done(void *ctx, int err, const ProtobufCMessage *msg)
{
	struct lease_ctx *c = ctx;
	const Etcdserverpb__LeaseGrantResponse *resp = (const void *)msg;

	if (err == 0 && resp->error && resp->error[0])
		err = grpc_status_errno(GRPC_UNKNOWN, resp->error);
	if (err < 0)
		c->fn(c->ud, err, 0, 0);
	else
		c->fn(c->ud, 0, resp->id, resp->ttl);
	free(c);
}

int etcd_lease_grant(struct store *s, int64_t ttl_s, int64_t id, store_lease_fn fn, void *ud)
{
	Etcdserverpb__LeaseGrantRequest pb;

	etcdserverpb__lease_grant_request__init(&pb);
	pb.ttl = ttl_s;
	pb.id = id;
	return lease_start(etcd_of(s), "/etcdserverpb.Lease/LeaseGrant", &pb.base,
			   &etcdserverpb__lease_grant_response__descriptor, false, grant_done, fn,
			   NULL, ud);
}

static void revoke_done(void *ctx, int err, const ProtobufCMessage *msg)
{
	struct lease_ctx *c = ctx;
	const Etcdserverpb__LeaseRevokeResponse *resp = (const void *)msg;

	c->rev_fn(c->ud, err, err < 0 || !resp->header ? 0 : resp->header->revision);
	free(c);
}

int etcd_lease_revoke(struct store *s, int64_t id, store_rev_fn fn, void *ud)
{
	Etcdserverpb__LeaseRevokeRequest pb;

	etcdserverpb__lease_revoke_request__init(&pb);
	pb.id = id;
	return lease_start(etcd_of(s), "/etcdserverpb.Lease/LeaseRevoke", &pb.base,
			   &etcdserverpb__lease_revoke_response__descriptor, false, revoke_done,
			   NULL, fn, ud);
}

static void keepalive_done(void *ctx, int err, const ProtobufCMessage *msg)
{
	struct lease_ctx *c = ctx;
	const Etcdserverpb__LeaseKeepAliveResponse *resp = (const void *)msg;

	/* etcd answers an unknown lease with TTL 0 rather than an error. */
	if (err == 0 && resp->ttl <= 0)
		err = -ENOENT;
	if (err < 0)
		c->fn(c->ud, err, 0, 0);
	else
		c->fn(c->ud, 0, resp->id, resp->ttl);
	free(c);
}

int etcd_lease_keepalive(struct store *s, int64_t id, store_lease_fn fn, void *ud)
{
	Etcdserverpb__LeaseKeepAliveRequest pb;

	etcdserverpb__lease_keep_alive_request__init(&pb);
	pb.id = id;
	return lease_start(etcd_of(s), "/etcdserverpb.Lease/LeaseKeepAlive", &pb.base,
			   &etcdserverpb__lease_keep_alive_response__descriptor, true,
			   keepalive_done, fn, NULL, ud);
}
