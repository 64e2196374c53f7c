/* The eBPF executor's maps: the compiled table (dataplane/lbtable/lbtable.h)
 * mirrored into maps of the same layout, plus the state the programs keep.
 * Included by the BPF programs and by the loader in dataplane/; every map is
 * pinned by name under <data-dir>/bpf, so the XDP and socket programs share
 * them and a proxy restart keeps them.
 *
 *   lb_services  HASH      struct lb_vip_key -> struct lb_service
 *   lb_backends  ARRAY     backend index     -> struct lb_backend
 *   lb_rings     ARRAY     arena offset      -> __u32 backend index
 *   lb_counters  PERCPU_ARRAY service id     -> struct lb_counters
 *   lb_affinity  LRU_HASH  struct lb_affinity_key -> struct lb_affinity_val
 *   lb_ct        LRU_HASH  struct lb_flow    -> struct lb_ct_val   (XDP)
 *   lb_frag      LRU_HASH  struct lb_frag_key -> struct lb_frag_val (XDP)
 *   lb_config    ARRAY     0                 -> struct lb_config
 *   lb_sock      LRU_HASH  struct lb_sock_key -> struct lb_sock_val (socket LB)
 *   lb_sock_conn SK_STORAGE a socket's last translation (socket LB, its own type)
 *
 * The loader sets the sizes before load (bpf_map__set_max_entries); the
 * numbers below are the defaults. */
#pragma once

#include "dataplane/lbtable/lbtable.h"

#define LB_MAX_SERVICES 65536u   /* service ports (VIPs); also counters' size */
#define LB_MAX_BACKENDS 262144u
#define LB_MAX_RING_SLOTS (1u << 22) /* 4M slots = 16 MiB */
#define LB_MAX_FLOWS 262144u
#define LB_MAX_AFFINITY 65536u
#define LB_MAX_FRAGS 8192u

/* Per service port, per CPU; the proxy sums them for /metrics. */
struct lb_counters {
	__u64 packets;
	__u64 bytes;
	__u64 connections; /* new flows (XDP) or connect()/first sendmsg (socket LB) */
	__u64 no_backend;  /* dropped or refused: the ring was empty */
};

struct lb_affinity_key {
	__u32 service_id;
	__u32 pad;
	struct lb_addr client; /* socket LB: 100::<netns cookie> (RFC 6666 discard prefix) */
};

struct lb_affinity_val {
	__u32 backend_idx;
	__u32 backend_id;
	__u64 last_ns; /* bpf_ktime_get_coarse_ns() of the last use */
};

/* A flow as the client sent it (conntrack key). */
struct lb_flow {
	struct lb_addr saddr, daddr;
	__be16 sport, dport;
	__u8 proto;
	__u8 pad[3];
};

enum lb_ct_flags {
	LB_CT_REPLY = 1u << 0, /* keyed by the reply's 5-tuple: translates it back (tc) */
	LB_CT_MODE_SHIFT = 1,  /* forward entries: the flow's enum lb_mode (lb_path.h) */
	LB_CT_MODE_MASK = 3u << 1,
};

/* XDP conntrack (lb_ct). A forward entry is keyed by the flow as the client
 * sent it; with DNAT and full-NAT a reply entry, keyed by the 5-tuple the
 * backend answers with, holds that flow (orig) for the return path. */
struct lb_ct_val {
	__u32 backend_idx;
	__u32 backend_id; /* != the backend's id: the backend is gone, pick again */
	__u32 service_id;
	__u16 flags;      /* enum lb_ct_flags */
	__be16 snat_port; /* full-NAT: the source port towards the backend */
	__u64 last_ns;    /* lb_env_now_ns() (a coarse clock in BPF) of a packet in the last second */
	struct lb_flow orig; /* reply entries: the flow as the client sent it */
};

/* Later fragments have no ports: they follow the first one (lb_frag).
 * Addresses as in lb_addr; id is the IPv4 ID or the IPv6 fragment id. */
struct lb_frag_key {
	struct lb_addr saddr, daddr;
	__be32 id;
	__u8 proto;
	__u8 pad[3];
};

struct lb_frag_val {
	__u32 backend_idx;
	__u32 backend_id;
	__u32 service_id;
	__u8 mode;        /* enum lb_mode of lb_path.h: DNAT, full-NAT or DSR */
	__u8 pad[3];
};

enum lb_config_flags {
	LB_CFG_FULLNAT = 1u << 0,
	LB_CFG_DSR = 1u << 1,
};

struct lb_config {
	__u32 flags;     /* enum lb_config_flags */
	__u32 ifindex;   /* XDP: send rewritten packets here, to gw_mac (0: ask the FIB) */
	struct lb_addr snat_addr;  /* full-NAT source (the node's address on the LB side) */
	struct lb_addr encap_src;  /* DSR: the outer source (zero: snat_addr) */
	__u8 gw_mac[6];  /* next hop towards backends when ifindex is set */
	__u8 src_mac[6];
	struct lb_addr snat_addr6; /* the same for IPv6 */
	struct lb_addr encap_src6;
};

/* Socket LB: a socket that was sent to a backend instead of a VIP, so
 * recvmsg (a datagram from that backend) and getpeername can show the VIP
 * again. Keyed by backend too: an unconnected UDP socket may talk to
 * several services. */
struct lb_sock_key {
	__u64 cookie; /* bpf_get_socket_cookie() */
	struct lb_addr backend;
	__be16 backend_port;
	__u16 pad;
	__u32 pad2;
};

struct lb_sock_val {
	struct lb_addr vip;
	__be16 vip_port;
	__u16 pad;
	__u32 service_id;
};
