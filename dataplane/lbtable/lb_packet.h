/* What a frame is, for the load balancer: byte order, unaligned loads,
 * Internet checksums (RFC 1071/1624) and SCTP's CRC32c, the parse of
 * Ethernet/VLAN/IPv4/IPv6/TCP/UDP/SCTP/ICMP errors into struct lb_pkt, and
 * the flow hash. Pure functions of the bytes given; no state, no seam (that
 * is lb_path.h, the one header executors include). Plain C, no libc, every
 * read bounds-checked against the frame's end, every loop bounded: it is
 * compiled by clang -target bpf as well as by the C compilers.
 *
 * The parse's verdicts: LB_P_NOT_IP (not IPv4/IPv6 after up to two VLAN
 * tags), LB_P_MALFORMED (truncated headers, IHL < 5, lengths past the frame,
 * UDP length < 8, an IPv6 UDP zero checksum, a zero IPv6 payload length
 * (jumbogram), an IPv6 extension chain longer than LB_IP6_MAX_EXT or cut
 * short, L4 deeper than LB_MAX_L4_OFF), LB_P_OTHER (IP with nothing to
 * balance: no ports, ICMP that is not an error, a routing header with
 * segments left, an error quoting something else) and LB_P_OK. */
#pragma once

#include "bpf/lb_maps.h"
#include "lib/base/crc32c_table.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((__always_inline__))
#endif
#define LB_PATH static __always_inline

/* Unrolled loops: the verifier sees straight code with constant offsets. */
#if defined(__clang__)
#define LB_UNROLL _Pragma("unroll")
#else
#define LB_UNROLL _Pragma("GCC unroll 32")
#endif

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LB_BE16(x) ((__u16)__builtin_bswap16((__u16)(x)))
#define LB_BE32(x) ((__u32)__builtin_bswap32((__u32)(x)))
#define LB_LE32(x) ((__u32)(x))
#else
#define LB_BE16(x) ((__u16)(x))
#define LB_BE32(x) ((__u32)(x))
#define LB_LE32(x) ((__u32)__builtin_bswap32((__u32)(x)))
#endif

enum {
	LB_ETH_HLEN = 14,
	LB_ETH_P_IP = 0x0800,
	LB_ETH_P_IPV6 = 0x86dd,
	LB_ETH_P_8021Q = 0x8100,
	LB_ETH_P_8021AD = 0x88a8,
	LB_IPP_HOPOPTS = 0,
	LB_IPP_ICMP = 1,
	LB_IPP_IPIP = 4,
	LB_IPP_TCP = 6,
	LB_IPP_UDP = 17,
	LB_IPP_IPV6 = 41,
	LB_IPP_ROUTING = 43,
	LB_IPP_FRAGMENT = 44,
	LB_IPP_AH = 51,
	LB_IPP_ICMPV6 = 58,
	LB_IPP_NONE = 59,
	LB_IPP_DSTOPTS = 60,
	LB_IPP_SCTP = 132,
};

#define LB_MAX_VLANS 2      /* 802.1ad + 802.1Q */
#define LB_IP6_MAX_EXT 4    /* IPv6 extension headers skipped */
#define LB_MAX_L4_OFF 384   /* deeper L4 headers are passed */
#define LB_MAX_WRITE_OFF 512
#define LB_SNAT_TRIES 4     /* full-NAT source ports tried per new flow */
#define LB_ENCAP_TTL 64

/* ---- loads and stores of unaligned fields (raw, network order) ---------------- */

#ifdef __bpf__
#define lb_ld16(p) (*(const __u16 *)(const void *)(p))
#define lb_ld32(p) (*(const __u32 *)(const void *)(p))
#define lb_st16(p, v) (*(__u16 *)(void *)(p) = (__u16)(v))
#define lb_st32(p, v) (*(__u32 *)(void *)(p) = (__u32)(v))
#else
LB_PATH __u16 lb_ld16(const void *p) { __u16 v; __builtin_memcpy(&v, p, 2); return v; }
LB_PATH __u32 lb_ld32(const void *p) { __u32 v; __builtin_memcpy(&v, p, 4); return v; }
LB_PATH void lb_st16(void *p, __u16 v) { __builtin_memcpy(p, &v, 2); }
LB_PATH void lb_st32(void *p, __u32 v) { __builtin_memcpy(p, &v, 4); }
#endif

LB_PATH void lb_addr_set4(struct lb_addr *a, __u32 ip)
{
	a->a[0] = 0;
	a->a[1] = 0;
	a->a[2] = LB_BE32(0xffff);
	a->a[3] = ip;
}

LB_PATH int lb_addr_is4(const struct lb_addr *a)
{
	return a->a[0] == 0 && a->a[1] == 0 && a->a[2] == LB_BE32(0xffff);
}

LB_PATH int lb_addr_eq(const struct lb_addr *x, const struct lb_addr *y)
{
	return x->a[0] == y->a[0] && x->a[1] == y->a[1] && x->a[2] == y->a[2] && x->a[3] == y->a[3];
}

LB_PATH void lb_addr_load(struct lb_addr *a, const __u8 *p, int v4)
{
	if (v4) {
		lb_addr_set4(a, lb_ld32(p));
		return;
	}
	for (int i = 0; i < 4; i++)
		a->a[i] = lb_ld32(p + 4 * i);
}

LB_PATH int lb_flow_eq(const struct lb_flow *x, const struct lb_flow *y)
{
	return lb_addr_eq(&x->saddr, &y->saddr) && lb_addr_eq(&x->daddr, &y->daddr) &&
	       x->sport == y->sport && x->dport == y->dport && x->proto == y->proto;
}

/* Bound x (a packet offset) for the verifier: clang may keep a range check
 * on another register than the one used for the access, so in BPF the
 * mask is an instruction clang cannot fold away. */
#ifdef __bpf__
#define LB_BOUND(x, mask) asm volatile("%0 &= " #mask : "+r"(x))
#else
#define LB_BOUND(x, mask) ((void)0)
#endif

/* ---- checksums (RFC 1071 sums, RFC 1624 updates) -------------------------------- */

enum lb_csum_flags {
	LB_CSUM_L3 = 1u << 0,     /* an IPv4 header checksum (else an L4 one) */
	LB_CSUM_PSEUDO = 1u << 1, /* the change is in the pseudo-header */
	LB_CSUM_UDP = 1u << 2,    /* 0 means "none" and stays 0; a result of 0 is 0xffff */
	LB_CSUM_16 = 1u << 3,     /* from/to are 16-bit values (else 32-bit) */
};

LB_PATH __u16 lb_csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* HC' = ~(~HC + ~m + m') over the 16-bit halves of a 16- or 32-bit change. */
LB_PATH __u16 lb_csum_replace(__u16 csum, __u32 from, __u32 to, __u32 flags)
{
	__u32 s = (__u16)~csum;
	if (flags & LB_CSUM_16) {
		s += (__u16)~from + (__u16)to;
	} else {
		s += (__u16)~from + (__u16)(~from >> 16);
		s += (__u16)to + (__u16)(to >> 16);
	}
	return (__u16)~lb_csum_fold(s);
}

/* ---- parse ---------------------------------------------------------------------- */

enum lb_pkt_flags {
	LB_PKT_FRAG = 1u << 0,       /* one fragment of a datagram */
	LB_PKT_FRAG_LATER = 1u << 1, /* not the first fragment: no L4 header */
	LB_PKT_ICMP_ERR = 1u << 2,   /* an ICMP error; flow is the quoted packet's, reversed */
	LB_PKT_L4_CSUM = 1u << 3,    /* csum_off is the L4 checksum over flow's ports */
	LB_PKT_SYN = 1u << 4,        /* TCP SYN without ACK: a connection starts */
};

struct lb_pkt {
	struct lb_flow flow;      /* the packet's 5-tuple (ICMP errors: the quoted one reversed) */
	struct lb_addr icmp_saddr; /* ICMP errors: the outer source */
	__be32 frag_id;           /* IPv4 ID (16 bits) or IPv6 fragment identification */
	__u16 l3_off;             /* the IP header (after Ethernet and VLAN tags) */
	__u16 l4_off;             /* the L4 header (ICMP errors: the ICMP header) */
	__u16 l3_len;             /* the IP datagram's length; what follows is padding */
	__u16 csum_off;           /* flags & LB_PKT_L4_CSUM: the L4 (or ICMP) checksum */
	__u16 in_l3_off;          /* ICMP errors: the quoted IP header */
	__u16 in_l4_off;          /*   and its L4 header (8 bytes at least) */
	__u16 in_csum_off;        /*   its L4 checksum when quoted whole, else 0 */
	__u16 in_csum;            /*   that checksum's value */
	__u8 family;              /* 4 or 6 */
	__u8 l4_proto;            /* the outer L4 protocol (ICMP for ICMP errors) */
	__u8 flags;               /* enum lb_pkt_flags */
	__u8 tos;                 /* IPv4 TOS / IPv6 traffic class */
	__u8 df;                  /* IPv4 don't-fragment */
	__u8 pad[3];
};

enum lb_parse_result {
	LB_P_OK = 0,        /* flow is complete (later fragments: no ports) */
	LB_P_NOT_IP = 1,    /* not IPv4/IPv6 */
	LB_P_MALFORMED = 2, /* headers that lie or end early */
	LB_P_OTHER = 3,     /* IP with nothing to balance (no ports, echo, ...) */
};

LB_PATH int lb_ports_known(__u8 proto)
{
	return proto == LB_IPP_TCP || proto == LB_IPP_UDP || proto == LB_IPP_SCTP;
}

/* The quoted packet of an ICMP error: IP header of the same family, then at
 * least 8 bytes of TCP/UDP/SCTP. The flow becomes that packet reversed. */
LB_PATH int lb_parse_quoted(const __u8 *data, const __u8 *end, __u32 off, __u32 l3_end,
			    struct lb_pkt *p)
{
	const __u8 *ip = data + off;
	__u32 l4;
	__u8 proto;
	struct lb_addr qs, qd;

	if (p->family == 4) {
		if (ip + 20 > end || off + 20 > l3_end)
			return LB_P_MALFORMED;
		__u32 ihl = (ip[0] & 0xf) * 4;
		if ((ip[0] >> 4) != 4 || ihl < 20)
			return LB_P_MALFORMED;
		if (lb_ld16(ip + 6) & LB_BE16(0x1fff))
			return LB_P_OTHER;
		proto = ip[9];
		lb_addr_load(&qs, ip + 12, 1);
		lb_addr_load(&qd, ip + 16, 1);
		l4 = off + ihl;
	} else {
		if (ip + 40 > end || off + 40 > l3_end)
			return LB_P_MALFORMED;
		if ((ip[0] >> 4) != 6)
			return LB_P_MALFORMED;
		proto = ip[6];
		lb_addr_load(&qs, ip + 8, 0);
		lb_addr_load(&qd, ip + 24, 0);
		l4 = off + 40;
	}
	if (!lb_ports_known(proto))
		return LB_P_OTHER;
	if (l4 > LB_MAX_L4_OFF)
		return LB_P_MALFORMED;
	const __u8 *h = data + l4;
	if (h + 8 > end || l4 + 8 > l3_end)
		return LB_P_MALFORMED;
	/* The error went to the quoted packet's source. */
	if (!lb_addr_eq(&p->flow.daddr, &qs))
		return LB_P_OTHER;
	p->icmp_saddr = p->flow.saddr;
	p->flow.saddr = qd;
	p->flow.daddr = qs;
	p->flow.sport = lb_ld16(h + 2);
	p->flow.dport = lb_ld16(h);
	p->flow.proto = proto;
	p->in_l3_off = (__u16)off;
	p->in_l4_off = (__u16)l4;
	/* The offset from l4 (bounded), not read back from p (a __u16: the 6.1
	 * verifier gives no packet range to a pointer 0xffff bytes in). */
	__u32 coff = 0;
	if (proto == LB_IPP_UDP)
		coff = l4 + 6;
	else if (proto == LB_IPP_TCP && l4 + 18 <= l3_end && h + 18 <= end)
		coff = l4 + 16;
	if (coff) {
		const __u8 *c = data + coff;
		if (c + 2 > end)
			return LB_P_MALFORMED;
		p->in_csum_off = (__u16)coff;
		p->in_csum = lb_ld16(c);
	}
	p->flags |= LB_PKT_ICMP_ERR | LB_PKT_L4_CSUM;
	return LB_P_OK;
}

LB_PATH int lb_icmp_is_error(int family, __u8 type)
{
	if (family == 4)
		return type == 3 || type == 11; /* unreachable (frag needed), time exceeded */
	return type == 1 || type == 2 || type == 3; /* unreachable, too big, time exceeded */
}

/* The L4 header at l4 of a datagram ending at l3_end (not a later fragment). */
LB_PATH int lb_parse_l4(const __u8 *data, const __u8 *end, __u32 l4, __u32 l3_end, __u8 proto,
			struct lb_pkt *p)
{
	const __u8 *h = data + l4;

	p->l4_off = (__u16)l4;
	p->l4_proto = proto;
	p->flow.proto = proto;
	if (l4 > LB_MAX_L4_OFF)
		return LB_P_MALFORMED;
	if (proto == LB_IPP_TCP) {
		if (h + 20 > end || l4 + 20 > l3_end)
			return LB_P_MALFORMED;
		__u32 doff = (h[12] >> 4) * 4;
		if (doff < 20 || l4 + doff > l3_end)
			return LB_P_MALFORMED;
		p->csum_off = (__u16)(l4 + 16);
		p->flags |= LB_PKT_L4_CSUM;
		if ((h[13] & 0x12) == 0x02)
			p->flags |= LB_PKT_SYN;
	} else if (proto == LB_IPP_UDP) {
		if (h + 8 > end || l4 + 8 > l3_end)
			return LB_P_MALFORMED;
		__u32 ulen = LB_BE16(lb_ld16(h + 4));
		if (ulen < 8 || (!(p->flags & LB_PKT_FRAG) && l4 + ulen > l3_end))
			return LB_P_MALFORMED;
		if (p->family == 6 && lb_ld16(h + 6) == 0)
			return LB_P_MALFORMED; /* IPv6 UDP must carry a checksum */
		p->csum_off = (__u16)(l4 + 6);
		p->flags |= LB_PKT_L4_CSUM;
	} else if (proto == LB_IPP_SCTP) {
		if (h + 12 > end || l4 + 12 > l3_end)
			return LB_P_MALFORMED;
	} else if (proto == (p->family == 4 ? LB_IPP_ICMP : LB_IPP_ICMPV6)) {
		if (h + 8 > end || l4 + 8 > l3_end)
			return LB_P_MALFORMED;
		if (!lb_icmp_is_error(p->family, h[0]) || (p->flags & LB_PKT_FRAG))
			return LB_P_OTHER;
		p->csum_off = (__u16)(l4 + 2);
		return lb_parse_quoted(data, end, l4 + 8, l3_end, p);
	} else {
		return LB_P_OTHER;
	}
	p->flow.sport = lb_ld16(h);
	p->flow.dport = lb_ld16(h + 2);
	return LB_P_OK;
}

LB_PATH int lb_parse_ip4(const __u8 *data, const __u8 *end, __u32 off, struct lb_pkt *p)
{
	const __u8 *ip = data + off;

	if (ip + 20 > end)
		return LB_P_MALFORMED;
	__u32 ihl = (ip[0] & 0xf) * 4;
	__u32 tot = LB_BE16(lb_ld16(ip + 2));
	LB_BOUND(tot, 0xffff); /* a byte swap's result is unbounded to the 6.1 verifier */
	if ((ip[0] >> 4) != 4 || ihl < 20 || tot < ihl || ip + tot > end || ip + ihl > end)
		return LB_P_MALFORMED;
	__u16 frag = LB_BE16(lb_ld16(ip + 6));
	p->family = 4;
	p->l3_off = (__u16)off;
	p->l3_len = (__u16)tot;
	p->tos = ip[1];
	p->df = (frag & 0x4000) != 0;
	p->frag_id = lb_ld16(ip + 4);
	lb_addr_load(&p->flow.saddr, ip + 12, 1);
	lb_addr_load(&p->flow.daddr, ip + 16, 1);
	if (frag & 0x3fff)
		p->flags |= LB_PKT_FRAG;
	if (frag & 0x1fff) {
		p->flags |= LB_PKT_FRAG_LATER;
		p->l4_off = (__u16)(off + ihl);
		p->l4_proto = p->flow.proto = ip[9];
		return LB_P_OK;
	}
	return lb_parse_l4(data, end, off + ihl, off + tot, ip[9], p);
}

LB_PATH int lb_ip6_is_ext(__u8 nh)
{
	return nh == LB_IPP_HOPOPTS || nh == LB_IPP_ROUTING || nh == LB_IPP_FRAGMENT ||
	       nh == LB_IPP_AH || nh == LB_IPP_DSTOPTS;
}

LB_PATH int lb_parse_ip6(const __u8 *data, const __u8 *end, __u32 off, struct lb_pkt *p)
{
	const __u8 *ip = data + off;

	if (ip + 40 > end || (ip[0] >> 4) != 6)
		return LB_P_MALFORMED;
	__u32 plen = LB_BE16(lb_ld16(ip + 4));
	LB_BOUND(plen, 0xffff); /* as tot above */
	if (plen == 0 || ip + 40 + plen > end)
		return LB_P_MALFORMED; /* jumbograms (payload length 0) are not ours */
	__u32 l3_end = off + 40 + plen;
	p->family = 6;
	p->l3_off = (__u16)off;
	p->l3_len = (__u16)(40 + plen);
	p->tos = (__u8)(((ip[0] & 0xf) << 4) | (ip[1] >> 4));
	lb_addr_load(&p->flow.saddr, ip + 8, 0);
	lb_addr_load(&p->flow.daddr, ip + 24, 0);

	__u8 nh = ip[6];
	__u32 l = off + 40;
	for (int i = 0; i < LB_IP6_MAX_EXT; i++) {
		if (!lb_ip6_is_ext(nh))
			break;
		const __u8 *h = data + l;
		if (h + 8 > end || l + 8 > l3_end)
			return LB_P_MALFORMED;
		if (nh == LB_IPP_FRAGMENT) {
			__u16 fo = LB_BE16(lb_ld16(h + 2));
			p->flags |= LB_PKT_FRAG;
			p->frag_id = lb_ld32(h + 4);
			if (fo & 0xfff8) {
				p->flags |= LB_PKT_FRAG_LATER;
				p->l4_off = (__u16)(l + 8);
				p->l4_proto = p->flow.proto = h[0];
				return LB_P_OK;
			}
			l += 8;
		} else if (nh == LB_IPP_AH) {
			l += (h[1] + 2) * 4;
		} else {
			/* A routing header with segments left: the destination is not final. */
			if (nh == LB_IPP_ROUTING && h[3] != 0)
				return LB_P_OTHER;
			l += (h[1] + 1) * 8;
		}
		nh = h[0];
		if (l > LB_MAX_L4_OFF)
			return LB_P_MALFORMED;
	}
	if (lb_ip6_is_ext(nh))
		return LB_P_MALFORMED; /* longer chain than we follow */
	return lb_parse_l4(data, end, l, l3_end, nh, p);
}

/* Fill *p from the frame [data, end). */
LB_PATH int lb_parse(const __u8 *data, const __u8 *end, struct lb_pkt *p)
{
	__builtin_memset(p, 0, sizeof(*p));
	if (data + LB_ETH_HLEN > end)
		return LB_P_MALFORMED;
	__u16 proto = lb_ld16(data + 12);
	__u32 off = LB_ETH_HLEN;
LB_UNROLL
	for (int i = 0; i < LB_MAX_VLANS; i++) {
		if (proto != LB_BE16(LB_ETH_P_8021Q) && proto != LB_BE16(LB_ETH_P_8021AD))
			break;
		if (data + off + 4 > end)
			return LB_P_MALFORMED;
		proto = lb_ld16(data + off + 2);
		off += 4;
	}
	if (proto == LB_BE16(LB_ETH_P_IP))
		return lb_parse_ip4(data, end, off, p);
	if (proto == LB_BE16(LB_ETH_P_IPV6))
		return lb_parse_ip6(data, end, off, p);
	return LB_P_NOT_IP;
}

/* ---- hash ------------------------------------------------------------------- */

LB_PATH __u32 lb_rotl32(__u32 x, int r) { return (x << r) | (x >> (32 - r)); }

/* murmur3_x86_32 (seed 0) of the 40 bytes of struct lb_flow (pads zero):
 * the same value in every executor, so every LB behind ECMP picks alike. */
LB_PATH __u32 lb_flow_hash(const struct lb_flow *f)
{
	const __u8 *b = (const __u8 *)f;
	__u32 h = 0;
LB_UNROLL
	for (int i = 0; i < (int)(sizeof(*f) / 4); i++) {
		__u32 k = LB_LE32(lb_ld32(b + 4 * i)) * 0xcc9e2d51u;
		k = lb_rotl32(k, 15) * 0x1b873593u;
		h = lb_rotl32(h ^ k, 13) * 5 + 0xe6546b64u;
	}
	h ^= (__u32)sizeof(*f);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	return h ^ (h >> 16);
}

/* ---- SCTP ------------------------------------------------------------------------ */

/* CRC32c (Castagnoli, reflected), SCTP's checksum, a byte at a time. A
 * table rather than the bitwise loop: `poly & -(crc & 1)` oopses the 6.18
 * verifier (maybe_fork_scalars), and the table is faster anyway. */
static const __u32 lb_crc32c_tab[256] = CRC32C_TABLE_INIT;

LB_PATH __u32 lb_crc32c_byte(__u32 crc, __u8 b)
{
	__u32 i = (crc ^ b) & 0xff;
	/* clang masks crc before the XOR, whose result the 6.1 verifier
	 * leaves unbounded: an index into the table must be bounded. */
	LB_BOUND(i, 0xff);
	return lb_crc32c_tab[i] ^ (crc >> 8);
}

/* Recompute the SCTP checksum of [off, off + len) in a flat frame: at most
 * LB_SCTP_MAX bytes (a larger packet whose port changes is dropped). */
#define LB_SCTP_MAX 1600
LB_PATH int lb_sctp_recsum(__u8 *data, __u8 *end, __u32 off, __u32 len)
{
	if (off > LB_MAX_L4_OFF || len < 12 || len > LB_SCTP_MAX)
		return -1;
	__u8 *s = data + off;
	if (s + 12 > end)
		return -1;
	lb_st32(s + 8, 0);
	__u32 crc = 0xffffffffu;
	for (__u32 i = 0; i < LB_SCTP_MAX; i++) {
		if (i >= len || s + i + 1 > end)
			break;
		crc = lb_crc32c_byte(crc, s[i]);
	}
	crc = ~crc;
	s[8] = (__u8)crc; /* stored little-endian, as the kernel does */
	s[9] = (__u8)(crc >> 8);
	s[10] = (__u8)(crc >> 16);
	s[11] = (__u8)(crc >> 24);
	return 0;
}

