/* The packet path (dataplane/lbtable/lb_path.h) in user space: every vector
 * of vectors.txt through lb_forward / lb_reverse on in-memory tables, each
 * frame in a buffer of exactly its size (ASan sees any read past the end),
 * every rewritten frame compared byte for byte and its checksums verified
 * whole; then every vector frame cut at every length, and the checksum
 * arithmetic against sums computed whole. */
#define LB_PATH_FLAT_WRITES
#include "dataplane/lbtable/lb_path.h"

#include "lb_vectors.h"
#include "tap.h"

/* ---- an executor on plain arrays ------------------------------------------------ */

#define T_SLOTS 64
#define T_STATE 256

struct t_ct {
	bool used;
	struct lb_flow key;
	struct lb_ct_val val;
};

struct t_frag {
	bool used;
	struct lb_frag_key key;
	struct lb_frag_val val;
};

struct t_aff {
	bool used;
	struct lb_affinity_key key;
	struct lb_affinity_val val;
};

struct lb_exec {
	struct lb_service svcs[T_SLOTS];
	unsigned n_svcs;
	struct lb_backend backends[T_SLOTS];
	__u32 arena[4096];
	struct lb_config cfg;
	struct t_ct ct[T_STATE];
	struct t_frag frag[T_STATE];
	struct t_aff aff[T_STATE];
	struct lb_counters counters[T_SLOTS];
	__u64 now;
	__u8 *data, *end;
};

LB_PATH const struct lb_service *lb_env_service(struct lb_exec *x, const struct lb_vip_key *key)
{
	for (unsigned i = 0; i < x->n_svcs; i++)
		if (!memcmp(&x->svcs[i].key, key, sizeof(*key)))
			return &x->svcs[i];
	return NULL;
}

LB_PATH int lb_env_ring_slot(struct lb_exec *x, __u32 slot, __u32 *ret_idx)
{
	if (slot >= sizeof(x->arena) / sizeof(x->arena[0]))
		return -1;
	*ret_idx = x->arena[slot];
	return 0;
}

LB_PATH const struct lb_backend *lb_env_backend(struct lb_exec *x, __u32 idx)
{
	return idx < T_SLOTS ? &x->backends[idx] : NULL;
}

LB_PATH const struct lb_config *lb_env_config(struct lb_exec *x)
{
	return &x->cfg;
}

/* The three state tables: small arrays searched whole. */
#define T_FIND(tab, k)                                                     \
	({                                                                 \
		__typeof__(&(tab)[0]) f_ = NULL;                           \
		for (unsigned i_ = 0; i_ < T_STATE && !f_; i_++)           \
			if ((tab)[i_].used && !memcmp(&(tab)[i_].key, (k), sizeof(*(k)))) \
				f_ = &(tab)[i_];                           \
		f_;                                                        \
	})
#define T_PUT(tab, k, v)                                                   \
	({                                                                 \
		__typeof__(&(tab)[0]) e_ = T_FIND(tab, k);                 \
		for (unsigned i_ = 0; i_ < T_STATE && !e_; i_++)           \
			if (!(tab)[i_].used)                               \
				e_ = &(tab)[i_];                           \
		if (e_) {                                                  \
			e_->used = true;                                   \
			e_->key = *(k);                                    \
			e_->val = *(v);                                    \
		}                                                          \
		e_ ? 0 : -ENOSPC;                                          \
	})

LB_PATH struct lb_ct_val *lb_env_ct_lookup(struct lb_exec *x, const struct lb_flow *key)
{
	struct t_ct *e = T_FIND(x->ct, key);
	return e ? &e->val : NULL;
}

LB_PATH int lb_env_ct_update(struct lb_exec *x, const struct lb_flow *key,
			     const struct lb_ct_val *val, int only_new)
{
	if (only_new && T_FIND(x->ct, key))
		return -EEXIST;
	return T_PUT(x->ct, key, val);
}

LB_PATH struct lb_frag_val *lb_env_frag_lookup(struct lb_exec *x, const struct lb_frag_key *key)
{
	struct t_frag *e = T_FIND(x->frag, key);
	return e ? &e->val : NULL;
}

LB_PATH void lb_env_frag_update(struct lb_exec *x, const struct lb_frag_key *key,
				const struct lb_frag_val *val)
{
	(void)T_PUT(x->frag, key, val);
}

LB_PATH struct lb_affinity_val *lb_env_affinity_lookup(struct lb_exec *x,
							const struct lb_affinity_key *key)
{
	struct t_aff *e = T_FIND(x->aff, key);
	return e ? &e->val : NULL;
}

LB_PATH void lb_env_affinity_update(struct lb_exec *x, const struct lb_affinity_key *key,
				    const struct lb_affinity_val *val)
{
	(void)T_PUT(x->aff, key, val);
}

LB_PATH __u64 lb_env_now_ns(struct lb_exec *x)
{
	return x->now;
}

LB_PATH void lb_env_count(struct lb_exec *x, __u32 service_id, __u32 bytes, __u32 what)
{
	struct lb_counters *c = &x->counters[service_id % T_SLOTS];
	if (what & LB_COUNT_NO_BACKEND) {
		c->no_backend++;
		return;
	}
	c->packets++;
	c->bytes += bytes;
	c->connections += !!(what & LB_COUNT_NEW);
}

LB_PATH void lb_env_frame(struct lb_exec *x, __u8 **ret_data, __u8 **ret_end)
{
	*ret_data = x->data;
	*ret_end = x->end;
}

/* ---- one vector ----------------------------------------------------------------- */

#define HEADROOM 64

/* Run frame f through one side; *ret_out (malloc'd) is the frame after it. */
static int run_frame(struct lb_exec *x, bool reply, const uint8_t *f, size_t n,
		     uint8_t **ret_out, size_t *ret_n, int *ret_backend)
{
	uint8_t *buf = malloc(HEADROOM + n);
	struct lb_pkt p;
	struct lb_result r = {0};
	int v;

	memcpy(buf + HEADROOM, f, n);
	x->data = buf + HEADROOM;
	x->end = x->data + n;
	v = reply ? lb_reverse(x, x->data, x->end, &p) : lb_forward(x, x->data, x->end, &p, &r);
	if (v == LB_ENCAP) {
		x->data -= r.encap_len;
		if (lb_encap(x->data, x->end, &p, &r))
			v = LB_DROP;
		else
			v = LB_FWD;
	}
	*ret_n = (size_t)(x->end - x->data);
	*ret_out = malloc(*ret_n);
	memcpy(*ret_out, x->data, *ret_n);
	*ret_backend = reply ? -1 : (int)r.backend_idx;
	free(buf);
	return v == LB_PASS ? LBV_PASS : v == LB_DROP ? LBV_DROP : LBV_FWD;
}

static struct lb_exec *exec_;
static const struct lbv_step *step_;

static void hexdiff(const char *what, const uint8_t *got, size_t gn, const uint8_t *want, size_t wn)
{
	printf("#   %s differs (got %zu bytes, want %zu)\n#   got  ", what, gn, wn);
	for (size_t i = 0; i < gn; i++)
		printf("%02x", got[i]);
	printf("\n#   want ");
	for (size_t i = 0; i < wn; i++)
		printf("%02x", want[i]);
	printf("\n");
}

static void test_vector(void)
{
	const struct lbv_step *s = step_;
	uint8_t *out;
	size_t n;
	int be;
	int v = run_frame(exec_, s->reply, s->frame, s->frame_len, &out, &n, &be);

	CHECK_INT(v, s->verdict);
	if (s->verdict == LBV_FWD) {
		if (n < 12 || n - 12 != s->out_len || memcmp(out + 12, s->out, s->out_len)) {
			hexdiff("frame", out + 12, n >= 12 ? n - 12 : 0, s->out, s->out_len);
			CHECK(!"rewritten frame as expected");
		}
		const char *bad = lbv_verify_frame(out, n);
		if (bad)
			printf("#   %s\n", bad);
		CHECK(bad == NULL);
		if (s->backend >= 0)
			CHECK_INT(be, s->backend);
	} else if (n != s->frame_len || memcmp(out, s->frame, n)) {
		hexdiff("untouched frame", out, n, s->frame, s->frame_len);
		CHECK(!"frame untouched");
	}
	if (tap_.cur_failed)
		printf("#   at vectors.txt:%d\n", s->line);
	free(out);
}

static void test_counters(void)
{
	const struct lb_counters *c = &exec_->counters[step_->svc.id % T_SLOTS];
	CHECK_INT(c->packets, step_->counters.packets);
	CHECK_INT(c->bytes, step_->counters.bytes);
	CHECK_INT(c->connections, step_->counters.connections);
	CHECK_INT(c->no_backend, step_->counters.no_backend);
}

/* Apply a table directive to x. */
static void exec_step(struct lb_exec *x, const struct lbv_step *s)
{
	switch (s->kind) {
	case LBV_TABLE:
		memset(x, 0, sizeof(*x));
		x->now = 1000000000000ull;
		break;
	case LBV_CONFIG:
		x->cfg = s->cfg;
		break;
	case LBV_BACKEND:
		x->backends[s->idx % T_SLOTS] = s->be;
		break;
	case LBV_SERVICE: {
		struct lb_service *svc = (struct lb_service *)lb_env_service(x, &s->svc.key);
		if (!svc)
			svc = &x->svcs[x->n_svcs++ % T_SLOTS];
		*svc = s->svc;
		memcpy(x->arena + s->svc.ring_off, s->ring, s->svc.ring_size * sizeof(__u32));
		break;
	}
	case LBV_ADVANCE:
		x->now += (__u64)s->seconds * 1000000000ull;
		break;
	default:
		break;
	}
}

static struct lbv_file vectors_;

static void test_vectors_load(void)
{
	int line = 0;
	int r = lbv_load(lbv_path(), &vectors_, &line);
	if (r < 0)
		printf("# %s: %s (line %d)\n", lbv_path(), strerror(-r), line);
	CHECK_INT(r, 0);
	CHECK(vectors_.n > 50);
}

/* ---- every frame cut short, at every length --------------------------------------- */

static void test_truncated_frames_never_read_past_the_end(void)
{
	struct lb_exec *x = calloc(1, sizeof(*x));
	unsigned rewritten = 0;

	for (size_t i = 0; i < vectors_.n; i++) {
		const struct lbv_step *s = &vectors_.steps[i];
		if (s->kind != LBV_PACKET) {
			exec_step(x, s);
			continue;
		}
		for (size_t cut = 0; cut <= s->frame_len; cut++) {
			uint8_t *out;
			size_t n;
			int be;
			int v = run_frame(x, s->reply, s->frame, cut, &out, &n, &be);
			if (v == LBV_FWD) {
				rewritten++;
				/* Only whole datagrams are rewritten (the rest is padding). */
				const char *bad = lbv_verify_frame(out, n);
				if (bad)
					printf("#   %s cut at %zu: %s\n", s->name, cut, bad);
				CHECK(bad == NULL);
			}
			free(out);
		}
	}
	CHECK(rewritten > 0);
	free(x);
}

/* ---- the arithmetic --------------------------------------------------------------- */

static void test_incremental_checksum_matches_whole_sum(void)
{
	uint8_t b[20];
	uint32_t seed = 12345;

	for (int round = 0; round < 20000; round++) {
		for (size_t i = 0; i < sizeof(b); i++) {
			seed = seed * 1103515245u + 12345u;
			b[i] = (uint8_t)(seed >> 16);
		}
		if (round % 7 == 0)
			memset(b + 4, 0xff, 8); /* sums near 0xffff */
		b[10] = b[11] = 0;
		uint16_t c = htons((uint16_t)~lbv_fold(lbv_sum(b, 20, 0)));
		memcpy(b + 10, &c, 2);
		__u32 from, to = seed ^ 0x5a5a5a5au;
		memcpy(&from, b + 12, 4);
		c = lb_csum_replace(c, from, to, 0);
		memcpy(b + 12, &to, 4);
		memcpy(b + 10, &c, 2);
		if (lbv_fold(lbv_sum(b, 20, 0)) != 0xffff) {
			CHECK(!"RFC 1624 update verifies");
			break;
		}
	}
}

static void test_flow_hash_is_murmur3_of_the_flow(void)
{
	struct lb_flow f;
	/* Values from gen_vectors.py's murmur3, which every executor must match. */
	memset(&f, 0, sizeof(f));
	CHECK_INT(lb_flow_hash(&f), 0xc2067ae9u);
	lbv_addr("198.18.100.2", &f.saddr);
	lbv_addr("198.19.0.10", &f.daddr);
	f.sport = htons(40000);
	f.dport = htons(80);
	f.proto = 6;
	CHECK_INT(lb_flow_hash(&f), 0xdcbe9375u);
}

int main(void)
{
	RUN(test_vectors_load);
	exec_ = calloc(1, sizeof(*exec_));
	for (size_t i = 0; i < vectors_.n; i++) {
		step_ = &vectors_.steps[i];
		if (step_->kind == LBV_PACKET)
			tap_run_(step_->name, test_vector);
		else if (step_->kind == LBV_COUNTERS)
			tap_run_("counters", test_counters);
		else
			exec_step(exec_, step_);
	}
	RUN(test_truncated_frames_never_read_past_the_end);
	RUN(test_incremental_checksum_matches_whole_sum);
	RUN(test_flow_hash_is_murmur3_of_the_flow);
	free(exec_);
	lbv_free(&vectors_);
	return tap_done();
}
