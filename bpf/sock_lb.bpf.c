/* Socket-level ClusterIP balancing, as Cilium's socket LB does it: a process
 * in an attached cgroup that connects (or sends a datagram) to a Service VIP
 * is connected to one of its backends instead, so no packet ever carries the
 * VIP and nothing is NATed per packet.
 *
 *   connect4/6     TCP and connected UDP: pick a backend, rewrite the address
 *   sendmsg4/6     unconnected UDP: the same, per datagram
 *   recvmsg4/6     a reply from that backend shows the VIP as its source
 *   getpeername4/6 a connected socket reports the VIP as its peer
 *
 * The table is the pinned maps of lb_maps.bpf.h (shared with the XDP
 * program). Two maps of ours remember where a socket was sent instead of a
 * VIP, for the reverse translation: lb_sock_conn, storage on the socket
 * itself (its last translation, gone with the socket, never evicted: a
 * long-lived connection always shows its VIP), and lb_sock, an LRU hash
 * keyed by (socket cookie, backend), for unconnected UDP sockets that talk
 * to several services.
 *
 * Choices a user can see:
 *  - backend: connect picks at random (bpf_get_prandom_u32) into the
 *    service's Maglev ring; sendmsg hashes the socket cookie instead, so one
 *    socket's datagrams to a service keep one backend, as a conntrack entry
 *    would keep them;
 *  - sessionAffinity ClientIP: the client is the network namespace (its
 *    cookie), since at connect time no source address is bound yet and a
 *    Pod is one netns with one address; node processes share one identity,
 *    as they share the node's address;
 *  - a service with no ready endpoint refuses: connect() and sendto() fail
 *    with ECONNREFUSED, what a client of kube-proxy sees from its ICMP
 *    port-unreachable reject;
 *  - an IPv4 socket never gets an IPv6 backend: that also refuses;
 *  - TCP and UDP only: SCTP VIPs are left to the packet executors. */
#include "vmlinux.h"

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/lb_maps.bpf.h"

#define ECONNREFUSED 111

/* What a cgroup sock_addr program returns. */
#define SOCK_PROCEED 1
#define SOCK_REJECT 0

/* The default sessionAffinityConfig.clientIP.timeoutSeconds. */
#define AFFINITY_DEFAULT_S 10800u

/* The affinity client of a socket: its netns cookie inside 100::/64, the
 * discard-only prefix (RFC 6666), so it never equals a real client address
 * that the XDP program keys the same map with. */
#define AFFINITY_NETNS_PREFIX 0x01000000u

/* A socket's last translation. */
struct sock_xlate {
	struct lb_addr backend;
	__be16 backend_port;
	__u16 pad;
	__u32 pad2;
	struct lb_sock_val vip;
};

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct sock_xlate);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_sock_conn SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct lb_sock_key);
	__type(value, struct lb_sock_val);
	__uint(max_entries, LB_MAX_FLOWS);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lb_sock SEC(".maps");

static __always_inline void addr_from_ip4(struct lb_addr *a, __be32 ip)
{
	a->a[0] = 0;
	a->a[1] = 0;
	a->a[2] = bpf_htonl(0xffff);
	a->a[3] = ip;
}

static __always_inline bool addr_eq(const struct lb_addr *a, const struct lb_addr *b)
{
	return a->a[0] == b->a[0] && a->a[1] == b->a[1] && a->a[2] == b->a[2] && a->a[3] == b->a[3];
}

static __always_inline bool addr_is_ip4(const struct lb_addr *a)
{
	return a->a[0] == 0 && a->a[1] == 0 && a->a[2] == bpf_htonl(0xffff);
}

/* The user's destination address as a table address; ctx fields of the
 * other family may not be read, hence the split by family. */
static __always_inline void dst_get(struct bpf_sock_addr *ctx, bool v6, struct lb_addr *a)
{
	if (v6) {
		a->a[0] = ctx->user_ip6[0];
		a->a[1] = ctx->user_ip6[1];
		a->a[2] = ctx->user_ip6[2];
		a->a[3] = ctx->user_ip6[3];
	} else {
		addr_from_ip4(a, ctx->user_ip4);
	}
}

static __always_inline void dst_set(struct bpf_sock_addr *ctx, bool v6, const struct lb_addr *a,
				    __be16 port)
{
	if (v6) {
		ctx->user_ip6[0] = a->a[0];
		ctx->user_ip6[1] = a->a[1];
		ctx->user_ip6[2] = a->a[2];
		ctx->user_ip6[3] = a->a[3];
	} else {
		ctx->user_ip4 = a->a[3];
	}
	ctx->user_port = (__u32)port;
}

static __always_inline struct lb_counters *counters(__u32 service_id)
{
	return bpf_map_lookup_elem(&lb_counters, &service_id);
}

/* Fibonacci hashing of a socket cookie (cookies are sequential). */
static __always_inline __u32 cookie_hash(__u64 cookie, __u32 service_id)
{
	return (__u32)(((cookie ^ ((__u64)service_id << 32)) * 0x9e3779b97f4a7c15ull) >> 32);
}

/* The backend behind slot h of the service's ring, or NULL. */
static __always_inline const struct lb_backend *ring_pick(const struct lb_service *svc, __u32 h,
							  __u32 *ret_idx)
{
	__u32 slot = svc->ring_off + h % svc->ring_size;
	__u32 *idx = bpf_map_lookup_elem(&lb_rings, &slot);
	if (!idx)
		return NULL;
	const struct lb_backend *be = bpf_map_lookup_elem(&lb_backends, idx);
	if (!be || be->id == 0)
		return NULL;
	*ret_idx = *idx;
	return be;
}

/* ClientIP affinity: the backend this netns used last, while it is still
 * the same backend and the timeout has not passed; otherwise pick and
 * remember. */
static __always_inline const struct lb_backend *affinity_pick(struct bpf_sock_addr *ctx,
							      const struct lb_service *svc, __u32 h)
{
	struct lb_affinity_key key = {.service_id = svc->id};
	__u64 cookie = bpf_get_netns_cookie(ctx);
	__u64 now = bpf_ktime_get_coarse_ns(); /* the clock xdp_lb uses for lb_affinity */
	__u64 timeout = svc->affinity_timeout ? svc->affinity_timeout : AFFINITY_DEFAULT_S;
	const struct lb_backend *be;
	__u32 idx;

	key.client.a[0] = bpf_htonl(AFFINITY_NETNS_PREFIX);
	key.client.a[2] = (__u32)(cookie >> 32);
	key.client.a[3] = (__u32)cookie;

	struct lb_affinity_val *val = bpf_map_lookup_elem(&lb_affinity, &key);
	if (val && now - val->last_ns <= timeout * 1000000000ull) {
		idx = val->backend_idx;
		be = bpf_map_lookup_elem(&lb_backends, &idx);
		if (be && be->id != 0 && be->id == val->backend_id) {
			val->last_ns = now;
			return be;
		}
	}
	be = ring_pick(svc, h, &idx);
	if (!be)
		return NULL;
	struct lb_affinity_val nval = {.backend_idx = idx, .backend_id = be->id, .last_ns = now};
	bpf_map_update_elem(&lb_affinity, &key, &nval, BPF_ANY);
	return be;
}

/* Translate the destination of ctx when it is a service VIP. datagram: a
 * sendmsg (counts packets and picks by socket cookie). Returns what the hook
 * returns. */
static __always_inline int xlate_fwd(struct bpf_sock_addr *ctx, bool v6, bool datagram)
{
	struct lb_vip_key vkey = {};
	const struct lb_service *svc;
	const struct lb_backend *be;
	struct lb_counters *cnt;
	__u64 cookie;
	__u32 h, idx;

	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return SOCK_PROCEED;
	dst_get(ctx, v6, &vkey.addr);
	vkey.port = (__be16)ctx->user_port;
	vkey.proto = (__u8)ctx->protocol;
	svc = bpf_map_lookup_elem(&lb_services, &vkey);
	if (!svc)
		return SOCK_PROCEED;

	cnt = counters(svc->id);
	cookie = bpf_get_socket_cookie(ctx);
	be = NULL;
	if (svc->ring_size != 0) {
		h = datagram ? cookie_hash(cookie, svc->id) : bpf_get_prandom_u32();
		if (svc->flags & LB_SVC_AFFINITY)
			be = affinity_pick(ctx, svc, h);
		else
			be = ring_pick(svc, h, &idx);
	}
	if (!be || (!v6 && !addr_is_ip4(&be->addr))) {
		if (cnt)
			__sync_fetch_and_add(&cnt->no_backend, 1);
		bpf_set_retval(-ECONNREFUSED);
		return SOCK_REJECT;
	}

	struct lb_sock_val sval = {.vip = vkey.addr, .vip_port = vkey.port, .service_id = svc->id};
	struct sock_xlate *x = bpf_sk_storage_get(&lb_sock_conn, ctx->sk, 0,
						  BPF_SK_STORAGE_GET_F_CREATE);
	if (x) {
		x->backend = be->addr;
		x->backend_port = be->port;
		x->vip = sval;
	}
	/* A connected socket has one peer: its storage is enough. An
	 * unconnected one may have many; the first datagram of each pair
	 * counts as a connection. */
	bool seen = false;
	if (datagram || !x) {
		struct lb_sock_key skey = {.cookie = cookie, .backend = be->addr, .backend_port = be->port};
		seen = datagram && bpf_map_lookup_elem(&lb_sock, &skey);
		if (!seen)
			bpf_map_update_elem(&lb_sock, &skey, &sval, BPF_ANY);
	}
	if (cnt) {
		if (!seen)
			__sync_fetch_and_add(&cnt->connections, 1);
		if (datagram)
			__sync_fetch_and_add(&cnt->packets, 1);
	}
	dst_set(ctx, v6, &be->addr, be->port);
	return SOCK_PROCEED;
}

/* Show the VIP instead of the backend ctx holds (a datagram's source, a
 * connected socket's peer) when this socket was sent there by xlate_fwd. */
static __always_inline int xlate_rev(struct bpf_sock_addr *ctx, bool v6)
{
	struct lb_sock_key skey = {.cookie = bpf_get_socket_cookie(ctx)};
	const struct lb_sock_val *val;

	dst_get(ctx, v6, &skey.backend);
	skey.backend_port = (__be16)ctx->user_port;
	val = bpf_map_lookup_elem(&lb_sock, &skey);
	if (!val) {
		struct sock_xlate *x = bpf_sk_storage_get(&lb_sock_conn, ctx->sk, 0, 0);
		if (x && x->backend_port == skey.backend_port && addr_eq(&x->backend, &skey.backend))
			val = &x->vip;
	}
	if (val && (v6 || addr_is_ip4(&val->vip)))
		dst_set(ctx, v6, &val->vip, val->vip_port);
	return SOCK_PROCEED;
}

/* The eight hooks: sock_connect4 ... sock_getpeername6. */
#define HOOK(name, body)                                   \
	SEC("cgroup/" #name)                               \
	int sock_##name(struct bpf_sock_addr *ctx) { return body; }

HOOK(connect4, xlate_fwd(ctx, false, false))
HOOK(connect6, xlate_fwd(ctx, true, false))
HOOK(sendmsg4, xlate_fwd(ctx, false, true))
HOOK(sendmsg6, xlate_fwd(ctx, true, true))
HOOK(recvmsg4, xlate_rev(ctx, false))
HOOK(recvmsg6, xlate_rev(ctx, true))
HOOK(getpeername4, xlate_rev(ctx, false))
HOOK(getpeername6, xlate_rev(ctx, true))

char LICENSE[] SEC("license") = "Dual BSD/GPL";
