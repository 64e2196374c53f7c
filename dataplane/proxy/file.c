/* --from-file: Services and EndpointSlices from a Kubernetes List (JSON or
 * YAML; one object, a List, or YAML documents separated by "---"), read
 * again whenever the file is written or replaced. The differences from the
 * last good read go to the proxy: a file that does not parse changes
 * nothing, an object the compiler refuses keeps its previous version. */
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "api/api.h"
#include "base/base.h"
#include "dataplane/proxy/internal.h"

#define FILE_MAX (64u << 20)

struct proxy_file {
	struct proxy *p;
	char *path;
	char *dir, *base;
	int ifd;             /* inotify on the directory: editors replace files */
	struct loop_op op;
	bool closing;
	char evbuf[4096];
	json_t *objects;     /* "Kind/ns/name" -> object, as last applied */
};

static bool is_list(const json_t *v)
{
	const char *kind = api_obj_kind(v);
	return json_is_object(v) && json_is_array(json_object_get(v, "items")) &&
	       (!kind || (strlen(kind) >= 4 && streq(kind + strlen(kind) - 4, "List")));
}

static void add_object(json_t *into, json_t *v)
{
	if (is_list(v)) {
		size_t i;
		json_t *item;
		json_array_foreach(json_object_get(v, "items"), i, item)
			add_object(into, item);
		return;
	}
	const char *kind = api_obj_kind(v), *name = api_meta_name(v);
	if (!kind || !name)
		return;
	/* Objects in a file have no namespace more often than not. */
	const char *ns = api_meta_namespace(v);
	char *key = NULL;
	if (asprintf(&key, "%s/%s/%s", kind, ns && *ns ? ns : "default", name) < 0)
		base_oom();
	if (!ns || !*ns)
		api_meta_set_namespace(v, "default");
	json_object_set(into, key, v);
	free(key);
}

/* Start of the next YAML document separator line ("---" alone, or with a
 * comment) at or after s, or NULL. */
static const char *next_separator(const char *s, const char *end)
{
	for (const char *line = s; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		if (le - line >= 3 && !memcmp(line, "---", 3)) {
			const char *q = line + 3;
			while (q < le && (*q == ' ' || *q == '\t' || *q == '\r'))
				q++;
			if (q == le || *q == '#')
				return line;
		}
		line = nl ? nl + 1 : end;
	}
	return NULL;
}

json_t *proxy_file_parse(const char *data, size_t len, char **ret_err)
{
	_cleanup_(json_decrefp) json_t *all = json_object();
	const char *p = data, *end = data + len;

	while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	if (p < end && (*p == '{' || *p == '[')) {
		json_t *v;
		if (api_json_parse(data, len, 0, &v, ret_err) < 0)
			return NULL;
		add_object(all, v);
		json_decref(v);
		return TAKE_PTR(all);
	}
	for (p = data; p <= end;) {
		const char *sep = next_separator(p, end);
		const char *doc_end = sep ? sep : end;
		json_t *v;
		if (api_yaml_parse(p, (size_t)(doc_end - p), &v, ret_err) < 0)
			return NULL;
		if (!json_is_null(v))
			add_object(all, v);
		json_decref(v);
		if (!sep)
			break;
		const char *nl = memchr(sep, '\n', (size_t)(end - sep));
		p = nl ? nl + 1 : end;
		if (!nl)
			break;
	}
	return TAKE_PTR(all);
}

static int64_t mtime_ns(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	return (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
}

static void split_key(const char *key, char *kind, char *ns, char *name, size_t cap)
{
	const char *a = strchr(key, '/'), *b = a ? strchr(a + 1, '/') : NULL;
	snprintf(kind, cap, "%.*s", a ? (int)(a - key) : 0, key);
	snprintf(ns, cap, "%.*s", b ? (int)(b - a - 1) : 0, a ? a + 1 : "");
	snprintf(name, cap, "%s", b ? b + 1 : "");
}

/* Read the file and hand the differences to the proxy. */
static int reread(struct proxy_file *f)
{
	const struct logger *log = proxy_log(f->p);
	struct buf b = {0};
	char *err = NULL;
	int64_t when = mtime_ns(f->path);
	int r = read_file(f->path, FILE_MAX, &b);

	if (r < 0) {
		log_error(log, "cannot read the Services file; keeping the last good one",
			  LOG_S("path", f->path), LOG_ERR(r));
		return r;
	}
	json_t *objects = proxy_file_parse(b.data ? b.data : "", b.len, &err);
	buf_free(&b);
	if (!objects) {
		log_error(log, "the Services file does not parse; keeping the last good one",
			  LOG_S("path", f->path), LOG_S("error", err));
		free(err);
		return -EBADMSG;
	}

	const char *key;
	json_t *v;
	void *tmp;
	unsigned refused = 0;
	/* Removed objects first, so a Service that moved between names frees its VIP. */
	json_object_foreach_safe(f->objects, tmp, key, v) {
		if (json_object_get(objects, key))
			continue;
		char kind[256], ns[256], name[256];
		split_key(key, kind, ns, name, sizeof(kind));
		proxy_object_delete(f->p, kind, ns, name);
		json_object_del(f->objects, key);
	}
	json_object_foreach(objects, key, v) {
		json_t *old = json_object_get(f->objects, key);
		if (old && json_equal(old, v))
			continue;
		if (proxy_object_set(f->p, v, when, &err) < 0) {
			log_warn(log, "object refused; its previous version stays", LOG_S("object", key),
				 LOG_S("error", err));
			free(err);
			err = NULL;
			refused++;
			continue;
		}
		json_object_set(f->objects, key, v);
	}
	json_decref(objects);
	log_info(log, "read the Services file", LOG_S("path", f->path),
		 LOG_U("objects", json_object_size(f->objects)), LOG_U("refused", refused));
	return 0;
}

static void on_inotify(struct loop_op *op, const struct loop_cqe *c)
{
	struct proxy_file *f = container_of(op, struct proxy_file, op);
	bool ours = false;

	if (f->closing || c->res < 0) {
		if (!c->more && f->closing)
			free(f);
		return;
	}
	for (;;) {
		ssize_t n = read(f->ifd, f->evbuf, sizeof(f->evbuf));
		if (n <= 0)
			break;
		for (char *q = f->evbuf; q < f->evbuf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)q;
			if (ev->len && streq(ev->name, f->base))
				ours = true;
			if (ev->mask & IN_Q_OVERFLOW)
				ours = true;
			q += sizeof(*ev) + ev->len;
		}
	}
	if (ours)
		reread(f);
}

int proxy_file_open(struct proxy *p, const char *path, struct proxy_file **ret)
{
	struct proxy_file *f = xnew(struct proxy_file, 1);
	_cleanup_free_ char *d = xstrdup(path), *b = xstrdup(path);

	f->p = p;
	f->path = xstrdup(path);
	f->dir = xstrdup(dirname(d));
	f->base = xstrdup(basename(b));
	f->objects = json_object();
	f->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (f->ifd < 0 || inotify_add_watch(f->ifd, f->dir,
					    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE |
						    IN_MOVED_FROM) < 0) {
		int r = -errno;
		log_error(proxy_log(p), "cannot watch the Services file's directory",
			  LOG_S("dir", f->dir), LOG_ERR(r));
		f->op.busy = false;
		proxy_file_free(f);
		return r;
	}
	int r = reread(f);
	if (r < 0) {
		proxy_file_free(f);
		return r;
	}
	f->op.fn = on_inotify;
	loop_poll(proxy_loop(p), &f->op, f->ifd, POLLIN, true);
	proxy_source_synced(p);
	*ret = f;
	return 0;
}

struct proxy_file *proxy_file_free(struct proxy_file *f)
{
	if (!f)
		return NULL;
	free(f->path);
	free(f->dir);
	free(f->base);
	json_decref(f->objects);
	if (f->ifd >= 0 && f->op.busy) {
		/* The poll completes once more, cancelled; the last completion frees. */
		f->closing = true;
		loop_cancel(proxy_loop(f->p), &f->op);
		close(f->ifd);
		return NULL;
	}
	if (f->ifd >= 0)
		close(f->ifd);
	free(f);
	return NULL;
}
