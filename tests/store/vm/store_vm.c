/* The power-loss test's guest program (statically linked into the
 * initramfs by vm/run.sh), and its host-side line filter.
 *
 *   store_vm write DIR [nosync]
 *                             open the embedded store in DIR and write with
 *                             64 writes in flight until the guest is reset,
 *                             printing each acknowledged write and watch
 *                             event as a line to stdout (the serial console);
 *                             nosync (STORE_SYNC_NONE) shows the check fails
 *                             when writes are acknowledged before the disk
 *                             has them
 *   store_vm acks             (host) stdin: the serial log; stdout: the
 *                             lines that arrived whole, for the checker
 *   store_vm check DIR FILE   reopen the store after the reset and check it
 *                             against FILE; prints one line:
 *                             STORE_VM_VERDICT ok|fail ...
 *
 * The console can mix kernel messages into a line at the moment of the
 * reset, so each line carries its own checksum and a damaged line is
 * dropped (that write then counts as unacknowledged, which is safe). */
#include <stdio.h>

#include "store_load.h"

#define LINE_SUM_LEN 10 /* " #" + 8 hex digits */

static uint32_t line_sum(const char *p, size_t n)
{
	return (uint32_t)load_fnv64(p, n);
}

/* Each line out with its checksum, in one write (the tty keeps it whole). */
static void say_stdout(void *ud, const char *lines, size_t n)
{
	struct buf b = {0};
	const char *p = lines, *end = lines + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		buf_append(&b, p, len);
		buf_printf(&b, " #%08x\n", line_sum(p, len));
		p += len + 1;
	}
	if (write_all(STDOUT_FILENO, b.data, b.len) < 0)
		_exit(3);
	buf_free(&b);
}

static int open_store(const char *dir, enum store_sync sync, struct store **ret)
{
	int r = loop_new(&(struct loop_config){0}, &C.loop);
	if (r < 0)
		return r;
	C.cfg = (struct store_config){.backend = "embedded", .data_dir = dir, .sync = sync,
				      .auto_compact_retention_s = -1};
	return store_open(C.loop, &C.cfg, ret);
}

static int cmd_write(const char *dir, enum store_sync sync)
{
	struct load *ld = xnew(struct load, 1);
	struct res st;
	int r = open_store(dir, sync, &C.store);

	if (r < 0) {
		printf("STORE_VM_ERROR open %s: %s\n", dir, strerror(-r));
		return 1;
	}
	if (s_status(&st) < 0) {
		printf("STORE_VM_ERROR status: %s\n", store_strerror(st.err));
		return 1;
	}
	printf("STORE_VM_WRITING rev=%" PRId64 "\n", st.st.rev);
	fflush(stdout);
	*ld = (struct load){.store = C.store, .depth = 64, .rng = now_real_ns() | 1,
			    .say = say_stdout};
	r = load_start(ld, 1);
	if (r < 0) {
		printf("STORE_VM_ERROR load: %s\n", store_strerror(r));
		return 1;
	}
	/* Until the reset. */
	for (;;)
		loop_run_once(C.loop, 100 * 1000000u);
}

/* A line whose checksum matches, without it; NULL otherwise. */
static char *whole_line(char *line)
{
	size_t n = strlen(line);
	while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
		line[--n] = '\0';
	if (n <= LINE_SUM_LEN || line[n - LINE_SUM_LEN] != ' ' ||
	    line[n - LINE_SUM_LEN + 1] != '#')
		return NULL;
	char want[9];
	snprintf(want, sizeof(want), "%08x", line_sum(line, n - LINE_SUM_LEN));
	if (memcmp(want, line + n - 8, 8) != 0)
		return NULL;
	line[n - LINE_SUM_LEN] = '\0';
	return line;
}

static int cmd_acks(void)
{
	char line[512];
	struct wr w;
	size_t good = 0, damaged = 0;

	/* The watcher's lines count only up to the first damaged line: one lost
	 * in the middle (the reset's kernel message written into it, with
	 * whole lines still queued behind it) would look like a gap in what the
	 * watcher saw. The acknowledged writes need no such care. */
	while (fgets(line, sizeof(line), stdin)) {
		/* A load line may follow other output on the same line. */
		char *p = strstr(line, "A ");
		char *q = strstr(line, "W ");
		if (!p || (q && q < p))
			p = q;
		if (!p)
			continue;
		char *l = whole_line(p);
		if (l && load_parse_line(l, &w)) {
			if (l[0] == 'W' && damaged)
				continue;
			printf("%s\n", l);
			good++;
		} else if (strstr(line, LOAD_PREFIX)) {
			damaged++;
		}
	}
	fprintf(stderr, "store_vm acks: %zu lines whole, %zu damaged\n", good, damaged);
	return good ? 0 : 1;
}

static int cmd_check(const char *dir, const char *file)
{
	struct wrs acks = {0}, watched = {0};
	struct load_check k = {0};
	int64_t last_watched = 0;
	char line[256];
	struct wr w;
	FILE *f = fopen(file, "re");

	if (!f) {
		printf("STORE_VM_VERDICT fail cannot read %s\n", file);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (load_parse_line(line, &w))
			wrs_add(line[0] == 'A' ? &acks : &watched, &w);
	}
	fclose(f);

	uint64_t t0 = now_mono_ns();
	int r = open_store(dir, STORE_SYNC_FDATASYNC, &C.store);
	if (r < 0) {
		printf("STORE_VM_VERDICT fail the store does not open: %s\n", strerror(-r));
		return 1;
	}
	uint64_t open_ms = (now_mono_ns() - t0) / 1000000u;
	load_check(&k, &acks, &watched, 1, &last_watched);

	/* And it takes writes again. */
	struct res pr, gr;
	int pe = s_put("/vm/after", "reset", 0, &pr);
	int ge = s_get("/vm/after", 0, &gr);
	bool writable = pe == 0 && ge == 0 && gr.found && pr.rev == k.rev + 1;
	res_free(&pr);
	res_free(&gr);

	bool ok = load_check_ok(&k) && writable && acks.n > 0;
	printf("STORE_VM_VERDICT %s acks=%zu watched=%zu rev=%" PRId64 " events=%zu"
	       " open_ms=%" PRIu64 " lost=%d gaps=%d dups=%d bad_values=%d state=%d resume=%d"
	       " phantom=%d watch=%d writable=%d\n",
	       ok ? "ok" : "fail", acks.n, watched.n, k.rev, k.events, open_ms, k.lost, k.gaps,
	       k.dups, k.bad_values, k.state_diff, k.resume_fail, k.phantom, k.watch_fail,
	       writable);
	fflush(stdout);
	store_close(C.store);
	loop_free(C.loop);
	free(acks.v);
	free(watched.v);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((argc == 3 || argc == 4) && streq(argv[1], "write"))
		return cmd_write(argv[2], argc == 4 && streq(argv[3], "nosync") ? STORE_SYNC_NONE
									 : STORE_SYNC_FDATASYNC);
	if (argc == 2 && streq(argv[1], "acks"))
		return cmd_acks();
	if (argc == 4 && streq(argv[1], "check"))
		return cmd_check(argv[2], argv[3]);
	fprintf(stderr, "usage: %s write DIR [nosync] | acks | check DIR FILE\n", argv[0]);
	return 2;
}
