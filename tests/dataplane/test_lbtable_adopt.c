/* A compiler taking over the table a previous process left in an executor
 * (lb_compiler_adopt): the same objects, in whatever order, compile to the
 * same backend indexes and ids and the same service-port ids; no ring of the
 * first table is written where an old service still reads one, and an
 * unchanged ring stays in place; what no object names again is dropped like
 * anything else, and reused only after retire. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>

#include "base/base.h"
#include "dataplane/lbtable/lbtable.h"

#include "tap.h"
#include "lbt_test.h"

/* JSON written with ' for " so the objects below stay readable. */
static json_t *J(const char *s)
{
	char *t = xstrdup(s);
	json_error_t err;

	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	json_t *v = json_loads(t, 0, &err);
	if (!v)
		printf("# bad test JSON: %s: %s\n", err.text, t);
	free(t);
	return v;
}

#define SVC(name, spec) \
	"{'kind':'Service','metadata':{'name':'" name "','namespace':'default'},'spec':" spec "}"
#define CIP(ip) "{'clusterIP':'" ip "','ports':[{'name':'http','port':80}]}"
#define SLICE(name, svc, eps)                                                              \
	"{'kind':'EndpointSlice','metadata':{'name':'" name "','namespace':'default',"     \
	"'labels':{'kubernetes.io/service-name':'" svc "'}},'addressType':'IPv4',"         \
	"'ports':[{'name':'http','port':8080,'protocol':'TCP'},"                           \
	"{'name':'dns','port':53,'protocol':'UDP'}],'endpoints':[" eps "]}"
#define EP(ip) "{'addresses':['" ip "']}"

/* Five Services: s3 has an external IP (two VIPs, one ring) and a UDP port;
 * 198.18.1.3 is an endpoint of s1 and s2 (one backend). */
static const char *const objects[] = {
	SVC("s1", CIP("198.19.1.1")),
	SLICE("s1-a", "s1", EP("198.18.1.1") "," EP("198.18.1.2") "," EP("198.18.1.3")),
	SVC("s2", CIP("198.19.1.2")),
	SLICE("s2-a", "s2", EP("198.18.1.3") "," EP("198.18.1.4")),
	SVC("s3", "{'clusterIP':'198.19.1.3','externalIPs':['198.18.200.3'],"
		  "'ports':[{'name':'http','port':80},{'name':'dns','port':53,'protocol':'UDP'}]}"),
	SLICE("s3-a", "s3", EP("198.18.1.5") "," EP("198.18.1.6")),
	SLICE("s3-b", "s3", EP("198.18.1.7")),
	SVC("s4", CIP("198.19.1.4")),
	SLICE("s4-a", "s4", EP("198.18.1.8")),
	SVC("s5", CIP("198.19.1.5")),
	SLICE("s5-a", "s5", EP("198.18.1.9") "," EP("198.18.1.10")),
};
#define N_OBJECTS ARRAY_SIZE(objects)

static void put(struct lb_compiler *c, const char *text)
{
	lbt_set(c, J(text));
}

static const struct lb_table *build(struct lb_compiler *c, struct lb_delta *d)
{
	const struct lb_table *t = lbt_build(c, d);

	CHECK(t != NULL);
	return t;
}

/* The previous process: the objects in their order, after some churn, so
 * that its indexes have holes and its ids do not start at 1. */
static const struct lb_table *previous(struct lb_compiler *c)
{
	put(c, SVC("gone", CIP("198.19.9.9")));
	put(c, SLICE("gone-a", "gone", EP("198.18.9.1") "," EP("198.18.9.2")));
	build(c, NULL);
	for (size_t i = 0; i < N_OBJECTS; i++)
		put(c, objects[i]);
	build(c, NULL);
	CHECK_INT(lb_compiler_delete_service(c, "default", "gone"), 0);
	CHECK_INT(lb_compiler_delete_slice(c, "default", "gone-a"), 0);
	const struct lb_table *t = build(c, NULL);
	lb_compiler_retire(c, t->generation);
	return t;
}

/* A new process's compiler, seeded with what t (and, when with_rings, its
 * arena) left in the executor. */
static struct lb_compiler *successor(const struct lb_compiler *old, const struct lb_table *t,
				     bool with_rings)
{
	struct lb_compiler *c = lb_compiler_new(NULL);
	__u32 n_arena;
	const __u32 *arena = lb_compiler_arena(old, &n_arena);

	CHECK_INT(lb_compiler_adopt(c, lb_table_backends(t), t->n_backends,
				    lb_table_services(t), t->n_services), 0);
	if (with_rings)
		CHECK_INT(lb_compiler_adopt_rings(c, arena, n_arena), 0);
	return c;
}

static bool same_backend(const struct lb_backend *a, const struct lb_backend *b)
{
	return !memcmp(&a->addr, &b->addr, sizeof(a->addr)) && a->port == b->port &&
	       a->proto == b->proto && a->id == b->id;
}

static __u32 max_id(const struct lb_table *t)
{
	__u32 m = 0;

	for (__u32 i = 0; i < t->n_backends; i++)
		m = MAX(m, lb_table_backends(t)[i].id);
	return m;
}

/* Does [off, off + size) overlap the ring of a service of t? */
static bool reads(const struct lb_table *t, __u32 off, __u32 size)
{
	for (__u32 i = 0; i < t->n_services; i++) {
		const struct lb_service *s = &lb_table_services(t)[i];
		if (s->ring_size && off < s->ring_off + s->ring_size && s->ring_off < off + size)
			return true;
	}
	return false;
}

static bool written(const struct lb_delta *d, __u32 off)
{
	for (__u32 i = 0; i < d->n_rings_written; i++)
		if (d->rings_written[i] == off)
			return true;
	return false;
}

static const struct lb_service *vip(const struct lb_table *t, const char *addr, unsigned port,
				    __u8 proto)
{
	struct lb_vip_key k = {.port = htons((uint16_t)port), .proto = proto};

	CHECK_INT(lb_addr_parse(addr, &k.addr), 0);
	return lb_table_find(t, &k);
}

/* The index of backend addr:port/proto in t, or UINT32_MAX. */
static __u32 index_of(const struct lb_table *t, const char *addr, unsigned port, __u8 proto)
{
	struct lb_addr a;

	CHECK_INT(lb_addr_parse(addr, &a), 0);
	for (__u32 i = 0; i < t->n_backends; i++) {
		const struct lb_backend *b = &lb_table_backends(t)[i];
		if (b->id && !memcmp(&b->addr, &a, sizeof(a)) && ntohs(b->port) == port &&
		    b->proto == proto)
			return i;
	}
	return UINT32_MAX;
}

static void test_same_objects_in_another_order_keep_indexes_ids_and_rings(void)
{
	struct lb_compiler *a = lb_compiler_new(NULL);
	const struct lb_table *ta = previous(a);
	struct lb_compiler *b = successor(a, ta, true);
	struct lb_delta d;

	/* An unrelated Service first, then the rest backwards: numbering from
	 * zero would give every backend another index. */
	put(b, SVC("new", CIP("198.19.2.1")));
	put(b, SLICE("new-a", "new", EP("198.18.2.1") "," EP("198.18.2.2")));
	for (size_t i = N_OBJECTS; i-- > 0;)
		put(b, objects[i]);
	const struct lb_table *tb = build(b, &d);
	if (!tb)
		goto out;

	/* Every backend at its index with its id; new ones above every old id. */
	CHECK(tb->n_backends >= ta->n_backends);
	for (__u32 i = 0; i < ta->n_backends; i++) {
		const struct lb_backend *x = &lb_table_backends(ta)[i];
		if (x->id)
			CHECK(same_backend(x, &lb_table_backends(tb)[i]));
		else
			CHECK_INT(lb_table_backends(tb)[i].id, 0);
	}
	__u32 n_new = 0;
	for (__u32 i = 0; i < tb->n_backends; i++) {
		const struct lb_backend *y = &lb_table_backends(tb)[i];
		if (y->id && (i >= ta->n_backends || !lb_table_backends(ta)[i].id)) {
			CHECK(y->id > max_id(ta));
			n_new++;
		}
	}
	CHECK_INT(n_new, 2); /* 198.18.2.1 and .2 */

	/* Every VIP with its service-port id, reading its ring where it was,
	 * not written again: the delta holds the new Service's ring only. */
	CHECK_INT(tb->n_services, ta->n_services + 1);
	for (__u32 i = 0; i < ta->n_services; i++) {
		const struct lb_service *x = &lb_table_services(ta)[i];
		const struct lb_service *y = lb_table_find(tb, &x->key);
		CHECK(y && !memcmp(x, y, sizeof(*x)));
		CHECK(!written(&d, x->ring_off));
	}
	CHECK_INT(d.n_rings_written, 1);
	for (__u32 i = 0; i < d.n_rings_written; i++)
		CHECK(!reads(ta, d.rings_written[i], 251));
out:
	lb_compiler_free(b);
	lb_compiler_free(a);
}

static void test_without_the_rings_nothing_is_written_where_old_services_read(void)
{
	struct lb_compiler *a = lb_compiler_new(NULL);
	const struct lb_table *ta = previous(a);
	struct lb_compiler *b = successor(a, ta, false);
	struct lb_delta d;
	__u32 n0;

	for (size_t i = N_OBJECTS; i-- > 0;)
		put(b, objects[i]);
	const struct lb_table *t1 = build(b, &d);
	if (!t1)
		goto out;
	lb_compiler_arena(b, &n0);
	/* Every ring is new, and none lies where an old one is read; the range
	 * the old process had freed (the deleted Service's, at 0) is used at once. */
	bool at_zero = false;
	for (__u32 i = 0; i < t1->n_services; i++) {
		const struct lb_service *s = &lb_table_services(t1)[i];
		CHECK(!s->ring_size || !reads(ta, s->ring_off, s->ring_size));
		CHECK(!s->ring_size || written(&d, s->ring_off));
		at_zero |= s->ring_size && s->ring_off == 0;
	}
	CHECK(at_zero);
	/* Until generation 1 is retired, a change still keeps off them... */
	put(b, SLICE("s5-a", "s5", EP("198.18.1.9") "," EP("198.18.1.11")));
	const struct lb_table *t2 = build(b, &d);
	CHECK(t2 && d.n_rings_written == 1);
	if (t2 && d.n_rings_written == 1)
		CHECK(!reads(ta, d.rings_written[0], 251));
	/* ...and once it is, the old ranges are reused: the arena does not grow. */
	lb_compiler_retire(b, t2->generation);
	put(b, SVC("s6", CIP("198.19.1.6")));
	put(b, SLICE("s6-a", "s6", EP("198.18.1.30")));
	put(b, SVC("s7", CIP("198.19.1.7")));
	put(b, SLICE("s7-a", "s7", EP("198.18.1.31")));
	put(b, SVC("s8", CIP("198.19.1.8")));
	put(b, SLICE("s8-a", "s8", EP("198.18.1.32")));
	const struct lb_table *t3 = build(b, &d);
	__u32 n3, n_old = 0;
	lb_compiler_arena(b, &n3);
	CHECK(t3 && d.n_rings_written == 3);
	CHECK_INT(n3, n0 + 251);
	for (__u32 i = 0; t3 && i < d.n_rings_written; i++)
		n_old += reads(ta, d.rings_written[i], 251);
	CHECK(n_old >= 2);
out:
	lb_compiler_free(b);
	lb_compiler_free(a);
}

static void test_what_changed_while_down_is_dropped_and_reused_after_retire(void)
{
	struct lb_compiler *a = lb_compiler_new(NULL);
	const struct lb_table *ta = previous(a);
	struct lb_compiler *b = successor(a, ta, true);
	struct lb_delta d;
	__u32 s4_id = vip(ta, "198.19.1.4", 80, LB_PROTO_TCP)->id;
	__u32 gone = index_of(ta, "198.18.1.8", 8080, LB_PROTO_TCP);
	__u32 gone_id = lb_table_backends(ta)[gone].id;
	__u32 kept = index_of(ta, "198.18.1.1", 8080, LB_PROTO_TCP);

	/* While the proxy was down: s4 went away, s1 lost 198.18.1.2 and gained
	 * 198.18.1.20, and a new Service came. */
	for (size_t i = 0; i < N_OBJECTS; i++)
		if (!strstr(objects[i], "'s4") && !strstr(objects[i], "'s1-a'"))
			put(b, objects[i]);
	put(b, SLICE("s1-a", "s1", EP("198.18.1.1") "," EP("198.18.1.3") "," EP("198.18.1.20")));
	put(b, SVC("new", CIP("198.19.2.1")));
	const struct lb_table *t1 = build(b, &d);
	if (!t1)
		goto out;

	/* s4's backend is emptied; s1's old ring is not kept and its new one
	 * lies where no old service reads; s2's ring stays. */
	CHECK(gone >= t1->n_backends || lb_table_backends(t1)[gone].id == 0);
	CHECK(index_of(t1, "198.18.1.2", 8080, LB_PROTO_TCP) == UINT32_MAX);
	CHECK(same_backend(&lb_table_backends(ta)[kept], &lb_table_backends(t1)[kept]));
	CHECK(!vip(t1, "198.19.1.4", 80, LB_PROTO_TCP));
	const struct lb_service *s1 = vip(t1, "198.19.1.1", 80, LB_PROTO_TCP);
	const struct lb_service *s2 = vip(t1, "198.19.1.2", 80, LB_PROTO_TCP);
	CHECK(s1 && s2 && written(&d, s1->ring_off) && !written(&d, s2->ring_off));
	CHECK(s1 && !reads(ta, s1->ring_off, s1->ring_size));
	CHECK(s2 && s2->ring_off == vip(ta, "198.19.1.2", 80, LB_PROTO_TCP)->ring_off);
	/* The new backend takes no index an old one had, and a new id. */
	__u32 added = index_of(t1, "198.18.1.20", 8080, LB_PROTO_TCP);
	CHECK(added >= ta->n_backends);
	CHECK(added < t1->n_backends && lb_table_backends(t1)[added].id > max_id(ta));
	/* The new Service does not get s4's id before retire. */
	const struct lb_service *nw = vip(t1, "198.19.2.1", 80, LB_PROTO_TCP);
	CHECK(nw && nw->id != s4_id);

	/* After retire, s4's service-port id and its backend's index are handed
	 * out again (lowest first, after the holes), its backend's id never. */
	lb_compiler_retire(b, t1->generation);
	put(b, SVC("s6", CIP("198.19.1.6")));
	put(b, SVC("s7", CIP("198.19.1.7")));
	put(b, SLICE("s6-a", "s6", EP("198.18.1.30") "," EP("198.18.1.31") "," EP("198.18.1.32") ","
			   EP("198.18.1.33") "," EP("198.18.1.34") "," EP("198.18.1.35")));
	const struct lb_table *t2 = build(b, &d);
	const struct lb_service *s6 = t2 ? vip(t2, "198.19.1.6", 80, LB_PROTO_TCP) : NULL;
	const struct lb_service *s7 = t2 ? vip(t2, "198.19.1.7", 80, LB_PROTO_TCP) : NULL;
	CHECK(s6 && s7 && (s6->id == s4_id || s7->id == s4_id));
	if (t2) {
		const struct lb_backend *x = &lb_table_backends(t2)[gone];
		CHECK(gone < t2->n_backends && x->id > max_id(ta) && x->id != gone_id);
		CHECK_INT(ntohs(x->port), 8080);
	}
out:
	lb_compiler_free(b);
	lb_compiler_free(a);
}

static void test_one_identity_twice_keeps_the_lower_index(void)
{
	struct lb_backend be[3] = {{.port = htons(8080), .proto = LB_PROTO_TCP, .id = 7},
				   {.id = 0},
				   {.port = htons(8080), .proto = LB_PROTO_TCP, .id = 9}};
	struct lb_compiler *c = lb_compiler_new(NULL);

	CHECK_INT(lb_addr_parse("198.18.1.1", &be[0].addr), 0);
	be[2].addr = be[0].addr;
	CHECK_INT(lb_compiler_adopt(c, be, 3, NULL, 0), 0);
	put(c, SVC("s1", CIP("198.19.1.1")));
	put(c, SLICE("s1-a", "s1", EP("198.18.1.1") "," EP("198.18.1.2")));
	const struct lb_table *t = build(c, NULL);
	if (t) {
		const struct lb_backend *x = lb_table_backends(t);
		CHECK(same_backend(&x[0], &be[0]));
		CHECK(t->n_backends > 3 && x[1].id == 0 && x[2].id == 0);
		/* Fresh ids come from above 9, the highest the maps held. */
		CHECK(x[3].id > 9);
	}
	lb_compiler_free(c);
}

static void test_adopting_out_of_order_or_garbage_is_refused(void)
{
	struct lb_compiler *c = lb_compiler_new(NULL);
	struct lb_service bad = {.key = {.port = htons(80), .proto = LB_PROTO_TCP},
				 .id = 3, .ring_off = 0, .ring_size = 250, .n_backends = 1};
	struct lb_backend be = {.port = htons(8080), .proto = 99, .id = 4};

	CHECK_INT(lb_compiler_adopt_rings(c, NULL, 0), -EBUSY);
	CHECK_INT(lb_compiler_adopt(c, NULL, 0, &bad, 1), -EINVAL);
	CHECK_INT(lb_compiler_adopt(c, &be, 1, NULL, 0), -EINVAL);
	/* Nothing was taken: numbering starts afresh. */
	put(c, SVC("s1", CIP("198.19.1.1")));
	put(c, SLICE("s1-a", "s1", EP("198.18.1.1")));
	const struct lb_table *t = build(c, NULL);
	CHECK(t && lb_table_backends(t)[0].id == 1 && lb_table_services(t)[0].ring_off == 0);
	CHECK_INT(lb_compiler_adopt(c, NULL, 0, NULL, 0), -EBUSY);
	lb_compiler_free(c);

	c = lb_compiler_new(NULL);
	CHECK_INT(lb_compiler_adopt(c, NULL, 0, NULL, 0), 0);
	CHECK_INT(lb_compiler_adopt(c, NULL, 0, NULL, 0), -EBUSY);
	lb_compiler_free(c);
}

int main(void)
{
	RUN(test_same_objects_in_another_order_keep_indexes_ids_and_rings);
	RUN(test_without_the_rings_nothing_is_written_where_old_services_read);
	RUN(test_what_changed_while_down_is_dropped_and_reused_after_retire);
	RUN(test_one_identity_twice_keeps_the_lower_index);
	RUN(test_adopting_out_of_order_or_garbage_is_refused);
	return tap_done();
}
