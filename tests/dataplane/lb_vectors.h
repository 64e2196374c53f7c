/* The reader of tests/dataplane/vectors.txt (its format is documented at its
 * top), shared by the tests of every executor, and a checksum verifier
 * written apart from lb_packet.h so that a rewrite is checked by code that
 * did not make it. Header-only; test code. */
#pragma once

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bpf/lb_maps.h"

enum lbv_kind {
	LBV_TABLE,
	LBV_CONFIG,
	LBV_BACKEND,
	LBV_SERVICE,
	LBV_ADVANCE,
	LBV_PACKET,
	LBV_COUNTERS,
};

enum lbv_verdict { LBV_PASS, LBV_DROP, LBV_FWD };

struct lbv_step {
	enum lbv_kind kind;
	int line;
	char name[80];
	struct lb_config cfg;   /* CONFIG */
	__u32 idx;              /* BACKEND: the slot */
	struct lb_backend be;   /* BACKEND */
	struct lb_service svc;  /* SERVICE (ring_off/ring_size in the table's arena) */
	__u32 *ring;            /* SERVICE: ring_size backend indexes */
	__u32 seconds;          /* ADVANCE */
	bool reply;             /* PACKET: the return side */
	uint8_t *frame, *out;   /* PACKET */
	size_t frame_len, out_len;
	int verdict;            /* PACKET: enum lbv_verdict */
	int backend;            /* PACKET: expected slot, or -1 */
	struct lb_counters counters; /* COUNTERS for service svc.id */
};

struct lbv_file {
	struct lbv_step *steps;
	size_t n;
};

static inline void lbv_free(struct lbv_file *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->steps[i].ring);
		free(f->steps[i].frame);
		free(f->steps[i].out);
	}
	free(f->steps);
	f->steps = NULL;
	f->n = 0;
}

/* The vector file: $KELP_LB_VECTORS, else vectors.txt beside this header. */
static inline const char *lbv_path(void)
{
	const char *e = getenv("KELP_LB_VECTORS");
	static char buf[4096];
	if (e && *e)
		return e;
	snprintf(buf, sizeof(buf), "%s", __FILE__);
	char *slash = strrchr(buf, '/');
	snprintf(slash ? slash + 1 : buf, sizeof(buf) - (size_t)(slash ? slash + 1 - buf : 0),
		 "vectors.txt");
	return buf;
}

static inline int lbv_addr(const char *s, struct lb_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->a[3]) == 1) {
		a->a[2] = htonl(0xffff);
		return 0;
	}
	return inet_pton(AF_INET6, s, a->a) == 1 ? 0 : -1;
}

static inline uint8_t *lbv_hex(const char *s, size_t *ret_len)
{
	size_t n = strlen(s);
	if (n % 2)
		return NULL;
	uint8_t *b = malloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = isxdigit((unsigned char)s[2 * i]), lo = isxdigit((unsigned char)s[2 * i + 1]);
		unsigned v;
		if (!hi || !lo || sscanf(s + 2 * i, "%2x", &v) != 1) {
			free(b);
			return NULL;
		}
		b[i] = (uint8_t)v;
	}
	*ret_len = n / 2;
	return b;
}

/* "key=value" among the words w[from..n): the value, or NULL. */
static inline const char *lbv_kv(char **w, int n, int from, const char *key)
{
	size_t k = strlen(key);
	for (int i = from; i < n; i++)
		if (strncmp(w[i], key, k) == 0 && w[i][k] == '=')
			return w[i] + k + 1;
	return NULL;
}

static inline int lbv_proto(const char *s)
{
	return !strcmp(s, "tcp") ? LB_PROTO_TCP : !strcmp(s, "udp") ? LB_PROTO_UDP
	       : !strcmp(s, "sctp") ? LB_PROTO_SCTP : -1;
}

/* One directive into st; steps before it give the arena cursor and the
 * packet a later expect/out line belongs to. */
static inline int lbv_line(struct lbv_file *f, char **w, int n, __u32 *arena)
{
	struct lbv_step *last = f->n ? &f->steps[f->n - 1] : NULL;
	const char *v;

	if (!strcmp(w[0], "expect") || !strcmp(w[0], "frame") || !strcmp(w[0], "out")) {
		if (!last || last->kind != LBV_PACKET || n < 2)
			return -1;
		if (!strcmp(w[0], "frame"))
			return (last->frame = lbv_hex(w[1], &last->frame_len)) ? 0 : -1;
		if (!strcmp(w[0], "out"))
			return (last->out = lbv_hex(w[1], &last->out_len)) ? 0 : -1;
		last->verdict = !strcmp(w[1], "pass") ? LBV_PASS : !strcmp(w[1], "drop") ? LBV_DROP
			      : !strcmp(w[1], "fwd") ? LBV_FWD : -1;
		last->backend = (v = lbv_kv(w, n, 2, "backend")) ? atoi(v) : -1;
		return last->verdict < 0 ? -1 : 0;
	}

	f->steps = realloc(f->steps, (f->n + 1) * sizeof(*f->steps));
	struct lbv_step *st = &f->steps[f->n];
	memset(st, 0, sizeof(*st));
	st->backend = -1;
	if (!strcmp(w[0], "table") && n == 2) {
		st->kind = LBV_TABLE;
		*arena = 0;
	} else if (!strcmp(w[0], "config") && n == 4) {
		st->kind = LBV_CONFIG;
		st->cfg.flags = !strcmp(w[1], "fullnat") ? LB_CFG_FULLNAT : !strcmp(w[1], "dsr") ? LB_CFG_DSR : 0;
		if (lbv_addr(lbv_kv(w, n, 2, "snat") ?: "", &st->cfg.snat_addr) ||
		    lbv_addr(lbv_kv(w, n, 2, "snat6") ?: "", &st->cfg.snat_addr6))
			return -1;
		if (st->cfg.snat_addr.a[3] == 0)
			memset(&st->cfg.snat_addr, 0, sizeof(st->cfg.snat_addr));
	} else if (!strcmp(w[0], "backend") && n == 5) {
		st->kind = LBV_BACKEND;
		st->idx = (__u32)atoi(w[1]);
		if (lbv_addr(w[2], &st->be.addr) || !(v = lbv_kv(w, n, 4, "id")))
			return -1;
		st->be.port = htons((uint16_t)atoi(w[3]));
		st->be.id = (__u32)atoi(v);
	} else if (!strcmp(w[0], "service") && n >= 6) {
		int proto = lbv_proto(w[3]);
		const char *ring = lbv_kv(w, n, 4, "ring"), *id = lbv_kv(w, n, 4, "id");
		st->kind = LBV_SERVICE;
		if (proto < 0 || !ring || !id || lbv_addr(w[1], &st->svc.key.addr))
			return -1;
		st->svc.key.port = htons((uint16_t)atoi(w[2]));
		st->svc.key.proto = (__u8)proto;
		st->svc.id = (__u32)atoi(id);
		if ((v = lbv_kv(w, n, 4, "affinity"))) {
			st->svc.flags |= LB_SVC_AFFINITY;
			st->svc.affinity_timeout = (__u32)atoi(v);
		}
		st->ring = calloc(64, sizeof(__u32));
		for (const char *p = strcmp(ring, "empty") ? ring : ""; *p && st->svc.ring_size < 64;) {
			st->ring[st->svc.ring_size++] = (__u32)strtoul(p, (char **)&p, 10);
			if (*p == ',')
				p++;
		}
		st->svc.ring_off = *arena;
		*arena += st->svc.ring_size;
	} else if (!strcmp(w[0], "advance") && n == 2) {
		st->kind = LBV_ADVANCE;
		st->seconds = (__u32)atoi(w[1]);
	} else if (!strcmp(w[0], "packet") && n == 3) {
		st->kind = LBV_PACKET;
		st->reply = !strcmp(w[2], "reply");
	} else if (!strcmp(w[0], "counters") && n == 6) {
		st->kind = LBV_COUNTERS;
		st->svc.id = (__u32)atoi(w[1]);
		st->counters.packets = strtoull(lbv_kv(w, n, 2, "packets") ?: "0", NULL, 10);
		st->counters.bytes = strtoull(lbv_kv(w, n, 2, "bytes") ?: "0", NULL, 10);
		st->counters.connections = strtoull(lbv_kv(w, n, 2, "conns") ?: "0", NULL, 10);
		st->counters.no_backend = strtoull(lbv_kv(w, n, 2, "no_backend") ?: "0", NULL, 10);
	} else {
		return -1;
	}
	snprintf(st->name, sizeof(st->name), "%s", n > 1 ? w[1] : "");
	f->n++;
	return 0;
}

/* Read the whole file; -EINVAL with the line number in *ret_line. */
static inline int lbv_load(const char *path, struct lbv_file *ret, int *ret_line)
{
	FILE *fp = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	__u32 arena = 0;
	int lineno = 0, r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!fp)
		return -errno;
	while (getline(&line, &cap, fp) > 0) {
		char *w[16];
		int n = 0;
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		for (char *tok = strtok(line, " \t\r\n"); tok && n < 16; tok = strtok(NULL, " \t\r\n"))
			w[n++] = tok;
		if (n == 0)
			continue;
		size_t before = ret->n;
		if (lbv_line(ret, w, n, &arena) < 0) {
			*ret_line = lineno;
			r = -EINVAL;
			break;
		}
		if (ret->n > before)
			ret->steps[ret->n - 1].line = lineno;
	}
	free(line);
	fclose(fp);
	if (r < 0)
		lbv_free(ret);
	return r;
}

/* ---- checksums, verified whole -------------------------------------------------- */

static inline uint32_t lbv_sum(const uint8_t *p, size_t n, uint32_t s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n % 2)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static inline uint16_t lbv_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static inline uint32_t lbv_crc32c(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
	}
	return ~crc;
}

/* The IP datagram at ip (n bytes; l3_len from its header): every checksum
 * that can be checked from these bytes. NULL when they verify, else what
 * did not. An ICMP error's quoted header and an IPIP inner datagram are
 * checked too; a fragment's L4 checksum cannot be, alone. */
static inline const char *lbv_verify_ip(const uint8_t *ip, size_t n, int depth)
{
	uint32_t ps;
	size_t hl, len, l4;
	uint8_t proto;
	bool frag = false;

	if (n < 20 || depth > 2)
		return "short IP";
	if ((ip[0] >> 4) == 4) {
		hl = (ip[0] & 0xf) * 4u;
		len = (size_t)(ip[2] << 8 | ip[3]);
		if (hl < 20 || len > n || len < hl)
			return "IPv4 lengths";
		if (lbv_fold(lbv_sum(ip, hl, 0)) != 0xffff)
			return "IPv4 header checksum";
		frag = (ip[6] << 8 | ip[7]) & 0x3fff;
		proto = ip[9];
		ps = lbv_sum(ip + 12, 8, 0) + proto;
		l4 = hl;
	} else {
		if (n < 40)
			return "short IPv6";
		len = 40 + (size_t)(ip[4] << 8 | ip[5]);
		if (len > n)
			return "IPv6 length";
		proto = ip[6];
		l4 = 40;
		for (int i = 0; i < 8 && (proto == 0 || proto == 43 || proto == 44 || proto == 60); i++) {
			if (l4 + 8 > len)
				return "IPv6 extension";
			if (proto == 44)
				frag = true;
			uint8_t nh = ip[l4];
			l4 += proto == 44 ? 8 : (ip[l4 + 1] + 1u) * 8;
			proto = nh;
		}
		ps = lbv_sum(ip + 8, 32, 0) + proto;
	}
	if (l4 > len)
		return "L4 offset";
	const uint8_t *h = ip + l4;
	size_t hn = len - l4;
	ps += (uint32_t)hn;
	if (frag)
		return NULL;
	switch (proto) {
	case 6:
		return hn < 20 || lbv_fold(lbv_sum(h, hn, ps)) != 0xffff ? "TCP checksum" : NULL;
	case 17:
		if (hn < 8)
			return "UDP length";
		if ((ip[0] >> 4) == 4 && h[6] == 0 && h[7] == 0)
			return NULL;
		return lbv_fold(lbv_sum(h, hn, ps)) != 0xffff ? "UDP checksum" : NULL;
	case 132: {
		if (hn < 12)
			return "SCTP length";
		uint8_t c[2048];
		if (hn > sizeof(c))
			return "SCTP too long to check";
		memcpy(c, h, hn);
		uint32_t want = (uint32_t)c[8] | (uint32_t)c[9] << 8 | (uint32_t)c[10] << 16 | (uint32_t)c[11] << 24;
		memset(c + 8, 0, 4);
		return lbv_crc32c(c, hn) != want ? "SCTP CRC32c" : NULL;
	}
	case 1:
	case 58:
		if (lbv_fold(lbv_sum(h, hn, proto == 58 ? ps : 0)) != 0xffff)
			return proto == 1 ? "ICMP checksum" : "ICMPv6 checksum";
		if (hn >= 28 && (ip[0] >> 4) == 4 && (h[0] == 3 || h[0] == 11) &&
		    lbv_fold(lbv_sum(h + 8, (h[8] & 0xf) * 4u, 0)) != 0xffff)
			return "quoted IPv4 header checksum";
		return NULL;
	case 4:
	case 41:
		return lbv_verify_ip(h, hn, depth + 1);
	}
	return NULL;
}

/* The frame: Ethernet, up to two VLAN tags, then lbv_verify_ip. */
static inline const char *lbv_verify_frame(const uint8_t *f, size_t n)
{
	size_t off = 12;
	while (off + 2 <= n && (f[off] == 0x81 || f[off] == 0x88) && (f[off + 1] == 0x00 || f[off + 1] == 0xa8))
		off += 4;
	if (off + 2 > n)
		return "short frame";
	uint16_t et = (uint16_t)(f[off] << 8 | f[off + 1]);
	if (et != 0x0800 && et != 0x86dd)
		return NULL;
	return lbv_verify_ip(f + off + 2, n - off - 2, 0);
}
