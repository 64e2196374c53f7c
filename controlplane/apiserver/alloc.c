/* ClusterIPs and NodePorts for Services. Each address or port handed out
 * is a key in the store (created only if absent), so two Services never
 * get the same one, and allocations survive restarts. A Service's
 * deletion releases them. */
#include "apiserver/internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <sys/random.h>

#define IP_PREFIX "/registry/ranges/serviceips/"
#define PORT_PREFIX "/registry/ranges/servicenodeports/"
#define MAX_PROBES 256

struct alloc {
	struct req *q;
	json_t *svc;
	admit_fn done;
	/* what is being reserved now */
	bool ip;          /* else a node port */
	size_t port_idx;  /* spec.ports index for a node port */
	uint32_t candidate;
	bool requested;   /* the user asked for this exact one */
	unsigned probes;
	/* reserved so far, released again if the Service is refused */
	char **keys;
	size_t nkeys;
};

static void step(struct alloc *al);

static void release_keys(struct apiserver *a, char **keys, size_t n);

static void finish(struct alloc *al, json_t *status)
{
	admit_fn done = al->done;
	struct req *q = al->q;
	if (status)
		release_keys(q->a, al->keys, al->nkeys);
	for (size_t i = 0; i < al->nkeys; i++)
		free(al->keys[i]);
	free(al->keys);
	free(al);
	done(q, status);
}

static json_t *invalid(struct alloc *al, const char *field, json_t *value, const char *detail)
{
	struct api_field_errors errs = {0};
	api_field_invalid(&errs, field, value, detail);
	json_t *st = api_status_invalid("", "Service", api_meta_name(al->svc), &errs);
	api_field_errors_clear(&errs);
	return st;
}

static void ip_text(uint32_t ip, char *out)
{
	struct in_addr in = {.s_addr = htonl(ip)};
	inet_ntop(AF_INET, &in, out, INET_ADDRSTRLEN);
}

static void reserved(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
	struct alloc *al = ud;
	struct apiserver *a = al->q->a;
	char text[INET_ADDRSTRLEN];

	if (err) {
		finish(al, api_status_internal_error(store_strerror(err)));
		return;
	}
	if (!ok) {
		if (al->requested) {
			if (al->ip) {
				ip_text(al->candidate, text);
				_cleanup_free_ char *d = xasprintf("failed to allocate IP %s: provided IP is "
								   "already allocated", text);
				finish(al, invalid(al, "spec.clusterIPs", json_pack("[s]", text), d));
			} else {
				_cleanup_free_ char *f = xasprintf("spec.ports[%zu].nodePort", al->port_idx);
				finish(al, invalid(al, f, json_integer(al->candidate),
						   "provided port is already allocated"));
			}
			return;
		}
		if (++al->probes >= MAX_PROBES) {
			finish(al, api_status_internal_error(al->ip ? "range is full: no ClusterIP is free"
								   : "range is full: no NodePort is free"));
			return;
		}
		/* Taken: try the next one, wrapping within the range. */
		if (al->ip) {
			uint32_t first = a->svc_base + 2, last = a->svc_base + a->svc_size - 2;
			al->candidate = al->candidate >= last ? first : al->candidate + 1;
		} else {
			al->candidate = al->candidate >= a->nodeport_hi ? a->nodeport_lo : al->candidate + 1;
		}
		step(al);
		return;
	}
	al->keys = xrealloc(al->keys, (al->nkeys + 1) * sizeof(char *));
	al->keys[al->nkeys++] = xstrndup(cur->key, cur->key_len);
	if (al->ip) {
		ip_text(al->candidate, text);
		api_set_str(al->svc, "spec.clusterIP", text);
		api_set(al->svc, "spec.clusterIPs", json_pack("[s]", text));
		api_set(al->svc, "spec.ipFamilies", json_pack("[s]", "IPv4"));
		if (!api_get_str(al->svc, "spec.ipFamilyPolicy"))
			api_set_str(al->svc, "spec.ipFamilyPolicy", "SingleStack");
		al->ip = false;
		al->port_idx = 0;
		al->candidate = 0;
	} else {
		json_t *port = json_array_get(api_get_array(al->svc, "spec.ports"), al->port_idx);
		json_object_set_new(port, "nodePort", json_integer(al->candidate));
		al->port_idx++;
		al->candidate = 0;
	}
	al->probes = 0;
	step(al);
}

static bool wants_node_ports(const json_t *svc)
{
	const char *type = api_get_str(svc, "spec.type");
	return type && (streq(type, "NodePort") || streq(type, "LoadBalancer"));
}

/* Reserve the next thing the Service needs, or finish. */
static void step(struct alloc *al)
{
	struct apiserver *a = al->q->a;
	char text[INET_ADDRSTRLEN];
	uint32_t rnd;

	if (al->ip) {
		const char *want = api_get_str(al->svc, "spec.clusterIP");
		if (!al->candidate) {
			if (want && *want) {
				struct in_addr in;
				if (inet_pton(AF_INET, want, &in) != 1) {
					finish(al, invalid(al, "spec.clusterIPs", json_pack("[s]", want),
							   "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
					return;
				}
				uint32_t ip = ntohl(in.s_addr);
				if (ip < a->svc_base || ip >= a->svc_base + a->svc_size) {
					struct in_addr b = {.s_addr = htonl(a->svc_base)};
					char base[INET_ADDRSTRLEN];
					inet_ntop(AF_INET, &b, base, sizeof(base));
					int bits = 32 - __builtin_ctz(a->svc_size);
					_cleanup_free_ char *d = xasprintf(
						"failed to allocate IP %s: the provided IP (%s) is not in the "
						"valid range. The range of valid IPs is %s/%d", want, want, base, bits);
					finish(al, invalid(al, "spec.clusterIPs", json_pack("[s]", want), d));
					return;
				}
				al->candidate = ip;
				al->requested = true;
			} else {
				if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
					rnd = (uint32_t)now_mono_ns();
				al->candidate = a->svc_base + 2 + rnd % (a->svc_size - 3);
				al->requested = false;
			}
		}
		ip_text(al->candidate, text);
		_cleanup_free_ char *key = xasprintf(IP_PREFIX "%s", text);
		_cleanup_free_ char *owner = xasprintf("%s/%s", al->q->r.namespace, api_meta_name(al->svc));
		if (store_create(a->store, key, strlen(key), owner, strlen(owner), 0, reserved, al) < 0)
			finish(al, api_status_internal_error("cannot reserve the ClusterIP"));
		return;
	}
	json_t *ports = api_get_array(al->svc, "spec.ports");
	if (!wants_node_ports(al->svc) || al->port_idx >= json_array_size(ports)) {
		finish(al, NULL);
		return;
	}
	json_t *port = json_array_get(ports, al->port_idx);
	json_int_t want = json_integer_value(json_object_get(port, "nodePort"));
	if (!al->candidate) {
		if (want) {
			if (want < a->nodeport_lo || want > a->nodeport_hi) {
				_cleanup_free_ char *f = xasprintf("spec.ports[%zu].nodePort", al->port_idx);
				_cleanup_free_ char *d = xasprintf(
					"provided port is not in the valid range. The range of valid ports is %u-%u",
					a->nodeport_lo, a->nodeport_hi);
				finish(al, invalid(al, f, json_integer(want), d));
				return;
			}
			al->candidate = (uint32_t)want;
			al->requested = true;
		} else {
			if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
				rnd = (uint32_t)now_mono_ns();
			al->candidate = a->nodeport_lo + rnd % (a->nodeport_hi - a->nodeport_lo + 1);
			al->requested = false;
		}
	}
	_cleanup_free_ char *key = xasprintf(PORT_PREFIX "%u", al->candidate);
	_cleanup_free_ char *owner = xasprintf("%s/%s", al->q->r.namespace, api_meta_name(al->svc));
	if (store_create(a->store, key, strlen(key), owner, strlen(owner), 0, reserved, al) < 0)
		finish(al, api_status_internal_error("cannot reserve the NodePort"));
}

void alloc_service(struct req *q, json_t *svc, admit_fn done)
{
	struct alloc *al = xnew(struct alloc, 1);
	const char *type = api_get_str(svc, "spec.type");
	const char *ip = api_get_str(svc, "spec.clusterIP");

	al->q = q;
	al->svc = svc;
	al->done = done;
	if (!ip && json_array_size(api_get_array(svc, "spec.clusterIPs")))
		api_set_str(svc, "spec.clusterIP",
			    json_string_value(json_array_get(api_get_array(svc, "spec.clusterIPs"), 0)));
	ip = api_get_str(svc, "spec.clusterIP");
	bool external = type && streq(type, "ExternalName");
	bool headless = ip && streq(ip, "None");
	al->ip = !external && !headless;
	if (headless)
		api_set(svc, "spec.clusterIPs", json_pack("[s]", "None"));
	if (q->r.dry_run) {
		/* Nothing is reserved for a dry run. */
		finish(al, NULL);
		return;
	}
	step(al);
}

static void released(void *ud, int err, int64_t rev, bool ok, const struct store_kv *cur)
{
}

static void release_keys(struct apiserver *a, char **keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_delete(a->store, keys[i], strlen(keys[i]), 0, released, NULL);
}

void alloc_release_service(struct apiserver *a, const json_t *svc)
{
	const char *ip = api_get_str(svc, "spec.clusterIP");
	size_t i;
	json_t *port;

	if (ip && *ip && !streq(ip, "None")) {
		_cleanup_free_ char *key = xasprintf(IP_PREFIX "%s", ip);
		store_delete(a->store, key, strlen(key), 0, released, NULL);
	}
	json_array_foreach(api_get_array(svc, "spec.ports"), i, port) {
		json_int_t np = json_integer_value(json_object_get(port, "nodePort"));
		if (np > 0) {
			_cleanup_free_ char *key = xasprintf(PORT_PREFIX "%lld", (long long)np);
			store_delete(a->store, key, strlen(key), 0, released, NULL);
		}
	}
}

void alloc_reserve_ip(struct apiserver *a, const char *ip, const char *owner)
{
	_cleanup_free_ char *key = xasprintf(IP_PREFIX "%s", ip);
	store_create(a->store, key, strlen(key), owner, strlen(owner), 0, released, NULL);
}
