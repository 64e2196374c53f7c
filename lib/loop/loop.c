#include "loop/loop.h"

#include <fcntl.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>

#include "base/base.h"
#include "log/log.h"

enum op_kind {
	OP_OTHER,
	OP_RECV_MULTI,
};

#define CQE_BATCH 64
#define BUF_GROUP 0

struct loop {
	struct io_uring ring;
	bool stop;
	uint64_t now;
	const struct logger *log;

	/* Provided buffers for multishot recv. */
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	char *bufs;
	unsigned buf_count, buf_size;

	/* Min-heap of armed timers, 1-based. */
	struct loop_timer **heap;
	unsigned nheap, heap_cap;

	/* Work handed over by other threads. */
	pthread_mutex_t mu;
	struct loop_task *posted, *posted_tail;
	int efd;
	struct loop_op efd_op;

	/* Same-thread work run at the end of the iteration. */
	struct loop_task *deferred, *deferred_tail;
};

static struct io_uring_sqe *get_sqe(struct loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
	while (unlikely(!sqe)) {
		/* The SQ is full: push it to the kernel now and retry. */
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

static struct io_uring_sqe *op_sqe(struct loop *l, struct loop_op *op, int fd, uint8_t kind)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	op->fd = fd;
	op->kind = kind;
	op->busy = true;
	op->cancelled = false;
	return sqe;
}

static void eventfd_arm(struct loop *l);

static void eventfd_ready(struct loop_op *op, const struct loop_cqe *c)
{
	struct loop *l = container_of(op, struct loop, efd_op);
	struct loop_task *t;
	uint64_t v;

	(void)!read(l->efd, &v, sizeof(v));
	pthread_mutex_lock(&l->mu);
	t = l->posted;
	l->posted = l->posted_tail = NULL;
	pthread_mutex_unlock(&l->mu);
	while (t) {
		struct loop_task *next = t->next;
		t->fn(t);
		t = next;
	}
	if (!c->more && !l->stop)
		eventfd_arm(l);
}

static void eventfd_arm(struct loop *l)
{
	l->efd_op.fn = eventfd_ready;
	loop_poll(l, &l->efd_op, l->efd, POLLIN, true);
}

static int setup_buffers(struct loop *l)
{
	struct io_uring_buf_reg reg = {0};
	int r;

	l->br_bytes = (size_t)l->buf_count * sizeof(struct io_uring_buf);
	l->br = mmap(NULL, l->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (l->br == MAP_FAILED) {
		l->br = NULL;
		return -errno;
	}
	reg.ring_addr = (uint64_t)(uintptr_t)l->br;
	reg.ring_entries = l->buf_count;
	reg.bgid = BUF_GROUP;
	r = io_uring_register_buf_ring(&l->ring, &reg, 0);
	if (r < 0)
		return r;
	l->bufs = xmalloc((size_t)l->buf_count * l->buf_size);
	io_uring_buf_ring_init(l->br);
	for (unsigned i = 0; i < l->buf_count; i++)
		io_uring_buf_ring_add(l->br, l->bufs + (size_t)i * l->buf_size, l->buf_size,
				      (unsigned short)i, io_uring_buf_ring_mask(l->buf_count), (int)i);
	io_uring_buf_ring_advance(l->br, (int)l->buf_count);
	return 0;
}

int loop_new(const struct loop_config *cfg, struct loop **ret)
{
	struct loop_config c = cfg ? *cfg : (struct loop_config){0};
	struct io_uring_params p = {0};
	struct loop *l;
	int r;

	if (!c.entries)
		c.entries = 1024;
	if (!c.buf_count)
		c.buf_count = 256;
	if (!c.buf_size)
		c.buf_size = 16384;
	if (c.buf_count & (c.buf_count - 1) || c.buf_count > 32768)
		return -EINVAL;

	l = xnew(struct loop, 1);
	l->log = c.log;
	l->buf_count = c.buf_count;
	l->buf_size = c.buf_size;
	l->efd = -1;
	pthread_mutex_init(&l->mu, NULL);

	/* Completions run only when we ask for them (DEFER_TASKRUN): fewer
	 * interrupts of the loop; fall back for kernels that lack it. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = c.entries * 4;
	p.flags |= IORING_SETUP_CQSIZE;
	r = io_uring_queue_init_params(c.entries, &l->ring, &p);
	if (r == -EINVAL) {
		p = (struct io_uring_params){.flags = IORING_SETUP_CQSIZE, .cq_entries = c.entries * 4};
		r = io_uring_queue_init_params(c.entries, &l->ring, &p);
	}
	if (r < 0) {
		pthread_mutex_destroy(&l->mu);
		free(l);
		return r;
	}
	r = setup_buffers(l);
	if (r < 0)
		goto fail;
	l->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->efd < 0) {
		r = -errno;
		goto fail;
	}
	eventfd_arm(l);
	l->now = now_mono_ns();
	*ret = l;
	return 0;
fail:
	loop_free(l);
	return r;
}

struct loop *loop_free(struct loop *l)
{
	if (!l)
		return NULL;
	io_uring_queue_exit(&l->ring);
	if (l->br)
		munmap(l->br, l->br_bytes);
	free(l->bufs);
	free(l->heap);
	if (l->efd >= 0)
		close(l->efd);
	pthread_mutex_destroy(&l->mu);
	free(l);
	return NULL;
}

uint64_t loop_now(const struct loop *l) { return l->now; }
const struct logger *loop_log(const struct loop *l) { return l->log; }
void loop_stop(struct loop *l) { l->stop = true; }

void loop_post(struct loop *l, struct loop_task *t)
{
	uint64_t one = 1;
	bool wake;

	t->next = NULL;
	pthread_mutex_lock(&l->mu);
	wake = !l->posted;
	if (l->posted_tail)
		l->posted_tail->next = t;
	else
		l->posted = t;
	l->posted_tail = t;
	pthread_mutex_unlock(&l->mu);
	if (wake)
		(void)!write(l->efd, &one, sizeof(one));
}

void loop_defer(struct loop *l, struct loop_task *t)
{
	t->next = NULL;
	if (l->deferred_tail)
		l->deferred_tail->next = t;
	else
		l->deferred = t;
	l->deferred_tail = t;
}

void loop_defer_cancel(struct loop *l, struct loop_task *t)
{
	struct loop_task *prev = NULL;

	for (struct loop_task *x = l->deferred; x; prev = x, x = x->next) {
		if (x != t)
			continue;
		if (prev)
			prev->next = t->next;
		else
			l->deferred = t->next;
		if (l->deferred_tail == t)
			l->deferred_tail = prev;
		t->next = NULL;
		return;
	}
}

static void run_deferred(struct loop *l)
{
	/* Tasks deferred while running these run in this pass too. */
	while (l->deferred) {
		struct loop_task *t = l->deferred;
		l->deferred = t->next;
		if (!l->deferred)
			l->deferred_tail = NULL;
		t->fn(t);
	}
}

/* --- operations --- */

static void sqe_set_op(struct io_uring_sqe *sqe, struct loop_op *op)
{
	io_uring_sqe_set_data(sqe, op);
}

void loop_accept_multishot(struct loop *l, struct loop_op *op, int fd)
{
	struct io_uring_sqe *sqe = op_sqe(l, op, fd, OP_OTHER);
	io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
	sqe_set_op(sqe, op);
}

void loop_recv_multishot(struct loop *l, struct loop_op *op, int fd)
{
	struct io_uring_sqe *sqe = op_sqe(l, op, fd, OP_RECV_MULTI);
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BUF_GROUP;
	sqe_set_op(sqe, op);
}

void loop_recv(struct loop *l, struct loop_op *op, int fd, void *buf, size_t len)
{
	struct io_uring_sqe *sqe = op_sqe(l, op, fd, OP_OTHER);
	io_uring_prep_recv(sqe, fd, buf, len, 0);
	sqe_set_op(sqe, op);
}

void loop_send(struct loop *l, struct loop_op *op, int fd, const void *buf, size_t len)
{
	struct io_uring_sqe *sqe = op_sqe(l, op, fd, OP_OTHER);
	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	sqe_set_op(sqe, op);
}

void loop_connect(struct loop *l, struct loop_op *op, int fd, const struct sockaddr *sa,
		  socklen_t len)
{
	struct io_uring_sqe *sqe = op_sqe(l, op, fd, OP_OTHER);
	io_uring_prep_connect(sqe, fd, sa, len);
	sqe_set_op(sqe, op);
}

void loop_read(struct loop *l, struct loop_op *op, int fd, void *buf, size_t len, int64_t off)
{
	struct io_uring_sqe *sqe = op_sqe(l, op, fd, OP_OTHER);
	io_uring_prep_read(sqe, fd, buf, (unsigned)MIN(len, (size_t)UINT32_MAX), (__u64)off);
	sqe_set_op(sqe, op);
}

void loop_write(struct loop *l, struct loop_op *op, int fd, const void *buf, size_t len,
		int64_t off)
{
	struct io_uring_sqe *sqe = op_sqe(l, op, fd, OP_OTHER);
	io_uring_prep_write(sqe, fd, buf, (unsigned)MIN(len, (size_t)UINT32_MAX), (__u64)off);
	sqe_set_op(sqe, op);
}

void loop_poll(struct loop *l, struct loop_op *op, int fd, unsigned events, bool multishot)
{
	struct io_uring_sqe *sqe = op_sqe(l, op, fd, OP_OTHER);
	if (multishot)
		io_uring_prep_poll_multishot(sqe, fd, events);
	else
		io_uring_prep_poll_add(sqe, fd, events);
	sqe_set_op(sqe, op);
}

void loop_cancel(struct loop *l, struct loop_op *op)
{
	if (!op->busy)
		return;
	op->cancelled = true;
	struct io_uring_sqe *sqe = get_sqe(l);
	io_uring_prep_cancel(sqe, op, 0);
	io_uring_sqe_set_data(sqe, NULL);
}

void loop_cancel_fd(struct loop *l, int fd)
{
	struct io_uring_sqe *sqe = get_sqe(l);
	io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
	io_uring_sqe_set_data(sqe, NULL);
}

/* --- timers --- */

static void heap_swap(struct loop *l, unsigned a, unsigned b)
{
	struct loop_timer *t = l->heap[a];
	l->heap[a] = l->heap[b];
	l->heap[b] = t;
	l->heap[a]->heap_idx = a;
	l->heap[b]->heap_idx = b;
}

static void heap_up(struct loop *l, unsigned i)
{
	while (i > 1 && l->heap[i / 2]->deadline_ns > l->heap[i]->deadline_ns) {
		heap_swap(l, i, i / 2);
		i /= 2;
	}
}

static void heap_down(struct loop *l, unsigned i)
{
	for (;;) {
		unsigned m = i, a = 2 * i, b = 2 * i + 1;
		if (a <= l->nheap && l->heap[a]->deadline_ns < l->heap[m]->deadline_ns)
			m = a;
		if (b <= l->nheap && l->heap[b]->deadline_ns < l->heap[m]->deadline_ns)
			m = b;
		if (m == i)
			return;
		heap_swap(l, i, m);
		i = m;
	}
}

void loop_timer_disarm(struct loop *l, struct loop_timer *t)
{
	unsigned i = t->heap_idx;
	if (!i)
		return;
	t->heap_idx = 0;
	if (i != l->nheap) {
		l->heap[i] = l->heap[l->nheap];
		l->heap[i]->heap_idx = i;
		l->nheap--;
		heap_up(l, i);
		heap_down(l, i);
	} else {
		l->nheap--;
	}
}

void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t ns)
{
	loop_timer_disarm(l, t);
	if (l->nheap + 2 > l->heap_cap) {
		l->heap_cap = l->heap_cap ? l->heap_cap * 2 : 64;
		l->heap = xrealloc(l->heap, l->heap_cap * sizeof(*l->heap));
	}
	t->deadline_ns = now_mono_ns() + ns;
	l->heap[++l->nheap] = t;
	t->heap_idx = l->nheap;
	heap_up(l, l->nheap);
}

static void run_timers(struct loop *l)
{
	while (l->nheap && l->heap[1]->deadline_ns <= l->now) {
		struct loop_timer *t = l->heap[1];
		loop_timer_disarm(l, t);
		t->fn(t);
	}
}

/* --- the loop --- */

static void recycle_buffer(struct loop *l, unsigned bid)
{
	io_uring_buf_ring_add(l->br, l->bufs + (size_t)bid * l->buf_size, l->buf_size,
			      (unsigned short)bid, io_uring_buf_ring_mask(l->buf_count), 0);
	io_uring_buf_ring_advance(l->br, 1);
}

static void dispatch(struct loop *l, struct loop_op *op, int res, unsigned flags)
{
	struct loop_cqe c = {.res = res, .more = flags & IORING_CQE_F_MORE};
	int bid = -1;

	if (flags & IORING_CQE_F_BUFFER) {
		bid = (int)(flags >> IORING_CQE_BUFFER_SHIFT);
		c.data = l->bufs + (size_t)bid * l->buf_size;
	}
	if (op->kind == OP_RECV_MULTI && !c.more && !op->cancelled && (res > 0 || res == -ENOBUFS)) {
		/* The kernel ended the multishot (no buffers left, or it
		 * chose to): arm it again so the caller sees one stream. */
		loop_recv_multishot(l, op, op->fd);
		c.more = true;
		if (res == -ENOBUFS)
			return;
	}
	if (!c.more)
		op->busy = false;
	op->fn(op, &c);
	if (bid >= 0)
		recycle_buffer(l, (unsigned)bid);
}

int loop_run_once(struct loop *l, uint64_t timeout_ns)
{
	struct io_uring_cqe *cqes[CQE_BATCH];
	struct __kernel_timespec ts;
	struct io_uring_cqe *cqe;
	uint64_t wait = timeout_ns;
	int r;

	run_deferred(l);
	if (l->nheap) {
		uint64_t now = now_mono_ns(), d = l->heap[1]->deadline_ns;
		wait = MIN(wait, d > now ? d - now : 0);
	}
	ts.tv_sec = (long long)(wait / 1000000000u);
	ts.tv_nsec = (long long)(wait % 1000000000u);
	r = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
	if (r < 0 && r != -ETIME && r != -EINTR && r != -EBUSY)
		return r;
	l->now = now_mono_ns();
	for (;;) {
		unsigned n = io_uring_peek_batch_cqe(&l->ring, cqes, CQE_BATCH);
		if (!n)
			break;
		/* Copy out and release the CQ slots before running callbacks,
		 * which may submit more work. */
		struct { void *op; int res; unsigned flags; } done[CQE_BATCH];
		for (unsigned i = 0; i < n; i++)
			done[i].op = io_uring_cqe_get_data(cqes[i]), done[i].res = cqes[i]->res,
			done[i].flags = cqes[i]->flags;
		io_uring_cq_advance(&l->ring, n);
		for (unsigned i = 0; i < n; i++)
			if (done[i].op)
				dispatch(l, done[i].op, done[i].res, done[i].flags);
	}
	run_timers(l);
	run_deferred(l);
	return 0;
}

int loop_run(struct loop *l)
{
	l->stop = false;
	while (!l->stop) {
		int r = loop_run_once(l, 3600ull * 1000000000u);
		if (r < 0) {
			log_error(l->log, "io_uring wait failed", LOG_ERR(r));
			return r;
		}
	}
	/* Hand the SQEs queued by the last callbacks to the kernel. */
	io_uring_submit(&l->ring);
	return 0;
}

/* --- signals --- */

static void signals_ready(struct loop_op *op, const struct loop_cqe *c)
{
	struct loop_signals *s = container_of(op, struct loop_signals, op);
	struct signalfd_siginfo si;

	if (c->res < 0)
		return;
	while (read(s->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		s->fn(s, (int)si.ssi_signo);
}

int loop_signals_start(struct loop *l, struct loop_signals *s, const sigset_t *set)
{
	int r = pthread_sigmask(SIG_BLOCK, set, NULL);
	if (r)
		return -r;
	s->fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->fd < 0)
		return -errno;
	s->op.fn = signals_ready;
	loop_poll(l, &s->op, s->fd, POLLIN, true);
	return 0;
}

void loop_signals_stop(struct loop *l, struct loop_signals *s)
{
	if (s->fd < 0)
		return;
	loop_cancel(l, &s->op);
	close(s->fd);
	s->fd = -1;
}
