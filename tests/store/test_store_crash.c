/* The embedded store under kill -9 (issue 3).
 *
 * A child process opens the store and keeps 64 writes in flight (puts,
 * creates, guarded updates, deletes, multi-key txns) with a watcher
 * running; it reports each acknowledged write and each watch event to the
 * parent over a pipe the moment its callback runs. The parent SIGKILLs it
 * at a random moment (sometimes during start-up or right after recovery),
 * reopens the store itself and checks what a user relies on:
 *  - every acknowledged write is in the history, with its value;
 *  - revisions are contiguous from the first write to the current one;
 *  - every value verifies (nothing half-written);
 *  - a watcher resuming from its last seen revision + 1 gets every later
 *    event exactly once, and no watcher ever saw a write that was lost.
 *
 * The load and the check are vm/store_load.h, shared with the power-loss
 * test. KELP_CRASH_ROUNDS (default 24) sets the number of kills. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "vm/store_load.h"

/* --- the child: writes until killed --- */

static void child_say(void *ud, const char *line, size_t n)
{
	if (write_all(*(int *)ud, line, n) < 0)
		_exit(3); /* the parent is gone */
}

static void child_status(void *ud, int err, const struct store_status *st)
{
	char line[64];
	int n = snprintf(line, sizeof(line), "O %" PRId64 "\n", err ? -1 : st->rev);
	child_say(ud, line, (size_t)n);
}

static _noreturn_ void child_main(const char *dir, int fd, uint64_t seed, int64_t watch_from)
{
	struct load *ld = xnew(struct load, 1);
	struct loop *l = NULL;
	struct store *s = NULL;
	int r;

	/* Never outlive the test. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	r = loop_new(&(struct loop_config){0}, &l);
	if (r == 0)
		r = store_open(l,
			       &(struct store_config){.backend = "embedded", .data_dir = dir,
						      .sync = STORE_SYNC_FDATASYNC,
						      .auto_compact_retention_s = -1},
			       &s);
	if (r < 0) {
		char line[96];
		int n = snprintf(line, sizeof(line), "E open: %s\n", strerror(-r));
		child_say(&fd, line, (size_t)n);
		_exit(2);
	}
	*ld = (struct load){.store = s, .depth = 64, .rng = seed | 1, .seq = seed << 20,
			    .say = child_say, .say_ud = &fd};
	if (store_status(s, child_status, &fd) < 0 || load_start(ld, watch_from) < 0)
		_exit(6);
	for (;;)
		loop_run_once(l, 100 * 1000000u);
}

/* --- the parent: kills and checks --- */

struct stats {
	int rounds, open_fail, bad_exit, acks;
	uint64_t max_recovery_ms;
	struct load_check k; /* summed over the rounds */
};

static struct stats S;
static struct wrs acks;      /* every acknowledged write, all rounds */
static int64_t last_watched; /* the child watcher's last seen revision */
static char dir[64];

/* Reopen as the next user would, check, close. */
static void check_store(int round, const struct wrs *child_watch, int64_t watch_from)
{
	struct load_check k = {0};
	int r;

	loop_new(&(struct loop_config){0}, &C.loop);
	uint64_t t0 = now_mono_ns();
	r = store_open(C.loop, &C.cfg, &C.store);
	uint64_t ms = (now_mono_ns() - t0) / 1000000u;
	S.max_recovery_ms = MAX(S.max_recovery_ms, ms);
	if (r < 0) {
		LOAD_FAIL(S.open_fail, "round %d: the store does not open: %s", round,
			  strerror(-r));
	} else {
		load_check(&k, &acks, child_watch, watch_from, &last_watched);
		printf("# round %d: rev %" PRId64 ", %zu events, reopened in %" PRIu64 " ms%s\n",
		       round, k.rev, k.events, ms, load_check_ok(&k) ? "" : ": FAILED");
	}
	store_close(C.store);
	C.store = NULL;
	loop_free(C.loop);
	C.loop = NULL;
	S.k.lost += k.lost;
	S.k.gaps += k.gaps;
	S.k.dups += k.dups;
	S.k.bad_values += k.bad_values;
	S.k.state_diff += k.state_diff;
	S.k.resume_fail += k.resume_fail;
	S.k.phantom += k.phantom;
	S.k.watch_fail += k.watch_fail;
}

/* Read the child's lines until the deadline; 0 ns: until EOF. */
struct pipe_in {
	int fd;
	struct buf b;
	bool opened, eof;
};

static void pipe_read(struct pipe_in *p, uint64_t deadline_ns, struct wrs *child_watch,
		      size_t *nacks)
{
	while (!p->eof) {
		uint64_t now = now_mono_ns();
		if (deadline_ns && now >= deadline_ns)
			return;
		int tmo = deadline_ns ? (int)((deadline_ns - now) / 1000000u) + 1 : 10000;
		struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
		if (poll(&pfd, 1, tmo) <= 0) {
			if (!deadline_ns)
				p->eof = true; /* the child is dead; nothing more comes */
			continue;
		}
		char chunk[65536];
		ssize_t n = read(p->fd, chunk, sizeof(chunk));
		if (n <= 0) {
			p->eof = true;
			break;
		}
		buf_append(&p->b, chunk, (size_t)n);
		char *nl;
		while ((nl = memchr(p->b.data, '\n', p->b.len))) {
			*nl = '\0';
			struct wr w;
			if (p->b.data[0] == 'O') {
				p->opened = true;
			} else if (p->b.data[0] == 'A' && load_parse_line(p->b.data, &w)) {
				wrs_add(&acks, &w);
				(*nacks)++;
			} else if (p->b.data[0] == 'W' && load_parse_line(p->b.data, &w)) {
				wrs_add(child_watch, &w);
			} else {
				printf("# child: %s\n", p->b.data);
				S.bad_exit++;
			}
			buf_consume(&p->b, (size_t)(nl - p->b.data) + 1);
		}
	}
}

static void run_round(int round, uint64_t *rng)
{
	struct wrs child_watch = {0};
	struct pipe_in p = {0};
	int fds[2];
	size_t nacks = 0;
	int64_t watch_from = last_watched + 1;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		LOAD_FAIL(S.bad_exit, "pipe: %s", strerror(errno));
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child_main(dir, fds[1], load_rnd(rng), watch_from);
	}
	close(fds[1]);
	p.fd = fds[0];

	/* When to kill: during start-up and recovery, right after it, or
	 * while writes are in full flow. */
	int mode = round % 5;
	uint64_t delay_ms = mode == 0   ? load_rnd(rng) % 30
			    : mode == 1 ? load_rnd(rng) % 5
					: 100 + load_rnd(rng) % 1100;
	uint64_t t0 = now_mono_ns();
	if (mode != 0) {
		while (!p.opened && !p.eof && now_mono_ns() - t0 < 30000 * 1000000ull)
			pipe_read(&p, now_mono_ns() + 10 * 1000000u, &child_watch, &nacks);
		if (!p.opened)
			LOAD_FAIL(S.open_fail, "round %d: the child did not open the store", round);
		t0 = now_mono_ns();
	}
	pipe_read(&p, t0 + delay_ms * 1000000u, &child_watch, &nacks);
	kill(pid, SIGKILL);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pipe_read(&p, 0, &child_watch, &nacks);
	close(p.fd);
	buf_free(&p.b);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		LOAD_FAIL(S.bad_exit, "round %d: the child ended by itself (status %#x)", round,
			  status);
	printf("# round %d: killed %" PRIu64 " ms %s, %zu acknowledged writes, %zu watch events\n",
	       round, delay_ms, mode == 0 ? "after start" : "after opening", nacks, child_watch.n);
	S.acks += (int)nacks;
	check_store(round, &child_watch, watch_from);
	free(child_watch.v);
}

static void test_store_reopens_after_each_kill(void)
{
	const char *env = getenv("KELP_CRASH_ROUNDS");
	int rounds = env ? atoi(env) : 24;
	uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();

	printf("# seed %#" PRIx64 ", %d rounds\n", rng, rounds);
	for (int i = 0; i < rounds; i++) {
		run_round(i, &rng);
		S.rounds++;
	}
	printf("# %d acknowledged writes in all; longest reopen %" PRIu64 " ms\n", S.acks,
	       S.max_recovery_ms);
	CHECK(S.rounds >= 20);
	CHECK_INT(S.open_fail, 0);
	CHECK_INT(S.bad_exit, 0);
	CHECK(S.acks > 0);
}

static void test_every_acknowledged_write_survives(void)
{
	CHECK_INT(S.k.lost, 0);
	CHECK_INT(S.k.state_diff, 0);
}

static void test_revisions_are_contiguous_and_unique(void)
{
	CHECK_INT(S.k.gaps, 0);
	CHECK_INT(S.k.dups, 0);
}

static void test_no_value_is_half_written(void)
{
	CHECK_INT(S.k.bad_values, 0);
}

static void test_watchers_resume_with_every_later_event_once(void)
{
	CHECK_INT(S.k.resume_fail, 0);
	CHECK_INT(S.k.watch_fail, 0);
}

static void test_watchers_never_see_a_write_that_is_lost(void)
{
	CHECK_INT(S.k.phantom, 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	snprintf(dir, sizeof(dir), "/tmp/kelp-store-crash-XXXXXX");
	if (!mkdtemp(dir)) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	C.backend = "embedded";
	C.cfg = (struct store_config){.backend = "embedded", .data_dir = dir,
				      .sync = STORE_SYNC_FDATASYNC,
				      .auto_compact_retention_s = -1};

	RUN(test_store_reopens_after_each_kill);
	RUN(test_every_acknowledged_write_survives);
	RUN(test_revisions_are_contiguous_and_unique);
	RUN(test_no_value_is_half_written);
	RUN(test_watchers_resume_with_every_later_event_once);
	RUN(test_watchers_never_see_a_write_that_is_lost);

	free(acks.v);
	rm_tree(dir);
	return tap_done();
}
