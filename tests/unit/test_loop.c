/* lib/loop: completions, timers, cross-thread posts, signals, pidfds. */
#include "loop/loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "base/base.h"
#include "tap.h"

static struct loop *new_loop(void)
{
	struct loop *l = NULL;
	int r = loop_new(&(struct loop_config){.buf_count = 4, .buf_size = 64}, &l);
	CHECK_INT(r, 0);
	return l;
}

static void run_until(struct loop *l, const bool *flag, int max_ms)
{
	uint64_t end = now_mono_ns() + (uint64_t)max_ms * 1000000u;
	while (!*flag && now_mono_ns() < end)
		loop_run_once(l, 10 * 1000000u);
}

struct order_timer {
	struct loop_timer t;
	int id;
	int *log;
	int *n;
};

static void order_fire(struct loop_timer *t)
{
	struct order_timer *o = container_of(t, struct order_timer, t);
	o->log[(*o->n)++] = o->id;
}

static void test_timers_fire_in_deadline_order_and_disarm(void)
{
	struct loop *l = new_loop();
	struct order_timer ts[6];
	int log[6], n = 0;
	const uint64_t ms = 1000000;
	const int delays[] = {30, 10, 50, 20, 40, 15};

	for (int i = 0; i < 6; i++) {
		ts[i] = (struct order_timer){.t.fn = order_fire, .id = i, .log = log, .n = &n};
		loop_timer_arm(l, &ts[i].t, (uint64_t)delays[i] * ms);
	}
	loop_timer_disarm(l, &ts[5].t);
	loop_timer_disarm(l, &ts[5].t);
	CHECK(!loop_timer_armed(&ts[5].t));
	uint64_t end = now_mono_ns() + 500 * ms;
	while (n < 5 && now_mono_ns() < end)
		loop_run_once(l, 100 * ms);
	CHECK_INT(n, 5);
	const int want[] = {1, 3, 0, 4, 2};
	for (int i = 0; i < 5; i++)
		CHECK_INT(log[i], want[i]);
	loop_free(l);
}

struct counted_task {
	struct loop_task t;
	int *ran;
};

static void counted_run(struct loop_task *t)
{
	struct counted_task *c = container_of(t, struct counted_task, t);
	(*c->ran)++;
}

struct poster {
	struct loop *l;
	struct counted_task *tasks;
	int n;
};

static void *poster_main(void *arg)
{
	struct poster *p = arg;
	for (int i = 0; i < p->n; i++)
		loop_post(p->l, &p->tasks[i].t);
	return NULL;
}

static void test_posts_from_other_threads_all_run_on_the_loop(void)
{
	struct loop *l = new_loop();
	enum { N = 2000 };
	struct counted_task *tasks = xnew(struct counted_task, 2 * N);
	int ran = 0;
	struct poster p[2];
	pthread_t th[2];

	for (int i = 0; i < 2 * N; i++)
		tasks[i] = (struct counted_task){.t.fn = counted_run, .ran = &ran};
	for (int i = 0; i < 2; i++) {
		p[i] = (struct poster){.l = l, .tasks = tasks + i * N, .n = N};
		pthread_create(&th[i], NULL, poster_main, &p[i]);
	}
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	uint64_t end = now_mono_ns() + 2000000000u;
	while (ran < 2 * N && now_mono_ns() < end)
		loop_run_once(l, 10000000u);
	CHECK_INT(ran, 2 * N);
	free(tasks);
	loop_free(l);
}

static void test_deferred_tasks_run_once_unless_taken_back(void)
{
	struct loop *l = new_loop();
	int ran = 0;
	struct counted_task t[3];

	for (int i = 0; i < 3; i++) {
		t[i] = (struct counted_task){.t.fn = counted_run, .ran = &ran};
		loop_defer(l, &t[i].t);
	}
	loop_defer_cancel(l, &t[2].t); /* the tail */
	loop_defer_cancel(l, &t[0].t); /* the head */
	loop_defer_cancel(l, &t[0].t); /* no longer queued: nothing */
	loop_run_once(l, 0);
	CHECK_INT(ran, 1);
	/* The list is whole after taking out both ends: a new task runs too. */
	loop_defer(l, &t[2].t);
	loop_run_once(l, 0);
	CHECK_INT(ran, 2);
	loop_free(l);
}

struct recv_ctx {
	struct loop_op op;
	struct buf got;
	bool eof;
	int completions;
};

static void recv_done(struct loop_op *op, const struct loop_cqe *c)
{
	struct recv_ctx *r = container_of(op, struct recv_ctx, op);
	r->completions++;
	if (c->res > 0)
		buf_append(&r->got, c->data, (size_t)c->res);
	else
		r->eof = true;
}

static void test_multishot_recv_survives_running_out_of_buffers(void)
{
	/* 4 buffers of 64 bytes: 64 KiB in one go forces the kernel to end
	 * the multishot; the loop must re-arm it transparently. */
	struct loop *l = new_loop();
	int sv[2];
	struct recv_ctx r = {.op.fn = recv_done};
	struct buf sent = {0};

	CHECK_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	loop_recv_multishot(l, &r.op, sv[0]);
	for (int i = 0; i < 4096; i++)
		buf_printf(&sent, "%015d\n", i);
	for (int round = 0; round < 4 && !r.eof; round++) {
		size_t part = sent.len / 4;
		CHECK_INT(write_all(sv[1], sent.data + round * part, part), 0);
		uint64_t end = now_mono_ns() + 2000000000u;
		while (r.got.len < (size_t)(round + 1) * part && now_mono_ns() < end)
			loop_run_once(l, 10000000u);
	}
	close(sv[1]);
	run_until(l, &r.eof, 2000);
	CHECK(r.eof);
	CHECK_INT(r.got.len, sent.len);
	CHECK(r.got.len == sent.len && memcmp(r.got.data, sent.data, sent.len) == 0);
	CHECK(!r.op.busy);
	close(sv[0]);
	buf_free(&r.got);
	buf_free(&sent);
	loop_free(l);
}

struct accept_ctx {
	struct loop_op op;
	int fds[8];
	int n;
};

static void accept_done(struct loop_op *op, const struct loop_cqe *c)
{
	struct accept_ctx *a = container_of(op, struct accept_ctx, op);
	if (c->res >= 0 && a->n < 8)
		a->fds[a->n++] = c->res;
}

static void test_multishot_accept_takes_every_connection(void)
{
	struct loop *l = new_loop();
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	struct accept_ctx a = {.op.fn = accept_done};
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), cfd[5];

	CHECK_INT(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(lfd, 16), 0);
	CHECK_INT(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
	loop_accept_multishot(l, &a.op, lfd);
	for (int i = 0; i < 5; i++) {
		cfd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK_INT(connect(cfd[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	uint64_t end = now_mono_ns() + 2000000000u;
	while (a.n < 5 && now_mono_ns() < end)
		loop_run_once(l, 10000000u);
	CHECK_INT(a.n, 5);
	CHECK(a.op.busy);
	loop_cancel(l, &a.op);
	end = now_mono_ns() + 2000000000u;
	while (a.op.busy && now_mono_ns() < end)
		loop_run_once(l, 10000000u);
	CHECK(!a.op.busy);
	for (int i = 0; i < a.n; i++)
		close(a.fds[i]);
	for (int i = 0; i < 5; i++)
		close(cfd[i]);
	close(lfd);
	loop_free(l);
}

struct child_ctx {
	struct loop_op op;
	bool exited;
};

static void child_exited(struct loop_op *op, const struct loop_cqe *c)
{
	struct child_ctx *ch = container_of(op, struct child_ctx, op);
	ch->exited = c->res > 0 && (c->res & POLLIN);
}

static void test_pidfd_poll_reports_child_exit(void)
{
	struct loop *l = new_loop();
	struct child_ctx ch = {.op.fn = child_exited};
	pid_t pid = fork();

	if (pid == 0) {
		usleep(20000);
		_exit(7);
	}
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	CHECK(pfd >= 0);
	loop_poll(l, &ch.op, pfd, POLLIN, false);
	run_until(l, &ch.exited, 3000);
	CHECK(ch.exited);
	int status = 0;
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	close(pfd);
	loop_free(l);
}

struct file_ctx {
	struct loop_op op;
	int res;
	bool done;
};

static void file_done(struct loop_op *op, const struct loop_cqe *c)
{
	struct file_ctx *f = container_of(op, struct file_ctx, op);
	f->res = c->res;
	f->done = true;
}

static void test_file_writes_and_reads_at_offsets(void)
{
	struct loop *l = new_loop();
	char path[] = "/tmp/kelp-test-loop-XXXXXX";
	int fd = mkstemp(path);
	struct file_ctx f = {.op.fn = file_done};
	char back[16] = {0};

	CHECK(fd >= 0);
	loop_write(l, &f.op, fd, "hello world", 11, 0);
	run_until(l, &f.done, 2000);
	CHECK_INT(f.res, 11);
	f.done = false;
	loop_write(l, &f.op, fd, "W", 1, 6);
	run_until(l, &f.done, 2000);
	CHECK_INT(f.res, 1);
	f.done = false;
	loop_read(l, &f.op, fd, back, sizeof(back) - 1, 0);
	run_until(l, &f.done, 2000);
	CHECK_INT(f.res, 11);
	CHECK_STREQ(back, "hello World");
	f.done = false;
	loop_read(l, &f.op, -1, back, 1, 0);
	run_until(l, &f.done, 2000);
	CHECK_INT(f.res, -EBADF);
	close(fd);
	unlink(path);
	loop_free(l);
}

struct sig_ctx {
	struct loop_signals s;
	int got;
};

static void sig_got(struct loop_signals *s, int signo)
{
	container_of(s, struct sig_ctx, s)->got = signo;
}

static void test_signals_arrive_through_the_loop(void)
{
	struct loop *l = new_loop();
	struct sig_ctx sc = {.s.fn = sig_got};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK_INT(loop_signals_start(l, &sc.s, &set), 0);
	kill(getpid(), SIGUSR1);
	uint64_t end = now_mono_ns() + 2000000000u;
	while (!sc.got && now_mono_ns() < end)
		loop_run_once(l, 10000000u);
	CHECK_INT(sc.got, SIGUSR1);
	loop_signals_stop(l, &sc.s);
	loop_free(l);
}

int main(void)
{
	RUN(test_timers_fire_in_deadline_order_and_disarm);
	RUN(test_posts_from_other_threads_all_run_on_the_loop);
	RUN(test_deferred_tasks_run_once_unless_taken_back);
	RUN(test_multishot_recv_survives_running_out_of_buffers);
	RUN(test_multishot_accept_takes_every_connection);
	RUN(test_pidfd_poll_reports_child_exit);
	RUN(test_signals_arrive_through_the_loop);
	RUN(test_file_writes_and_reads_at_offsets);
	return tap_done();
}
