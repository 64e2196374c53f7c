/* lib/loop: one io_uring event loop per thread.
 *
 * Operations take a caller-owned struct loop_op (usually embedded in the
 * caller's object, found again with container_of) whose fn runs on the loop
 * thread when the kernel completes it. An op must stay alive until its last
 * completion: one for single-shot ops, and for multishot ops the one whose
 * `more` is false. SQEs are batched and submitted once per loop iteration.
 *
 * Timers are kept in user space (a min-heap), so arming and disarming one
 * costs no system call; the loop waits with the nearest deadline.
 *
 * A loop is created, fed and run on one thread (io_uring SINGLE_ISSUER);
 * other threads hand work to it with loop_post(), the only thread-safe call. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct logger;

struct loop_cqe {
	int res;          /* result: >= 0 success, negative errno */
	bool more;        /* a multishot op will complete again */
	const char *data; /* loop_recv_multishot: the bytes received */
};

struct loop_op;
typedef void (*loop_fn)(struct loop_op *op, const struct loop_cqe *c);

struct loop_op {
	loop_fn fn;
	/* Owned by the loop: */
	int fd;
	uint8_t kind;
	bool busy;      /* submitted and not finally completed */
	bool cancelled; /* loop_cancel() was asked; no automatic re-arm */
};

struct loop_timer;
typedef void (*loop_timer_fn)(struct loop_timer *t);

struct loop_timer {
	loop_timer_fn fn;
	uint64_t deadline_ns; /* CLOCK_MONOTONIC */
	unsigned heap_idx;    /* 0 = not armed */
};

struct loop_task;
typedef void (*loop_task_fn)(struct loop_task *t);

struct loop_task {
	loop_task_fn fn;
	struct loop_task *next;
};

struct loop_config {
	unsigned entries;     /* SQ size; default 1024 */
	unsigned buf_count;   /* provided buffers for multishot recv (power of 2); default 256 */
	unsigned buf_size;    /* bytes each; default 16384 */
	const struct logger *log;
};

int loop_new(const struct loop_config *cfg, struct loop **ret);
/* Frees the ring and buffers; ops still in flight are abandoned. */
struct loop *loop_free(struct loop *l);

/* Run until loop_stop(). Returns 0, or a negative errno from io_uring. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);
/* Run one iteration, waiting at most timeout_ns for a completion. */
int loop_run_once(struct loop *l, uint64_t timeout_ns);
/* Monotonic time cached at the start of the current iteration. */
uint64_t loop_now(const struct loop *l);
const struct logger *loop_log(const struct loop *l);

/* Thread-safe: run t->fn on the loop's thread soon. t must stay alive
 * until it has run. */
void loop_post(struct loop *l, struct loop_task *t);

/* Same thread: run t->fn at the end of this iteration, after the
 * completions and timers, before the loop submits and waits again. Used to
 * coalesce work (e.g. one send per connection per iteration). */
void loop_defer(struct loop *l, struct loop_task *t);
/* Take a deferred task back before it runs (its owner is going away);
 * nothing when it is not queued. */
void loop_defer_cancel(struct loop *l, struct loop_task *t);

/* Socket ops. A multishot recv is re-armed by the loop when the kernel
 * ends it for want of buffers, so its fn sees more == false only on EOF
 * (res 0), an error, or cancellation. Its data is valid during fn only. */
void loop_accept_multishot(struct loop *l, struct loop_op *op, int fd);
void loop_recv_multishot(struct loop *l, struct loop_op *op, int fd);
void loop_recv(struct loop *l, struct loop_op *op, int fd, void *buf, size_t len);
void loop_send(struct loop *l, struct loop_op *op, int fd, const void *buf, size_t len);
void loop_connect(struct loop *l, struct loop_op *op, int fd, const struct sockaddr *sa,
		  socklen_t len);
/* Files. off = -1 means the current file position. */
void loop_read(struct loop *l, struct loop_op *op, int fd, void *buf, size_t len, int64_t off);
void loop_write(struct loop *l, struct loop_op *op, int fd, const void *buf, size_t len,
		int64_t off);
/* Readiness (poll(2) events), e.g. a pidfd becoming readable when the
 * process exits. Multishot polls complete until cancelled. */
void loop_poll(struct loop *l, struct loop_op *op, int fd, unsigned events, bool multishot);
/* Ask the kernel to cancel an op; its fn still runs (usually -ECANCELED). */
void loop_cancel(struct loop *l, struct loop_op *op);
/* Cancel every op on fd. */
void loop_cancel_fd(struct loop *l, int fd);

/* Timers: arm (or re-arm) to fire once after ns; disarming twice is fine. */
void loop_timer_arm(struct loop *l, struct loop_timer *t, uint64_t ns);
void loop_timer_disarm(struct loop *l, struct loop_timer *t);
static inline bool loop_timer_armed(const struct loop_timer *t) { return t->heap_idx != 0; }

/* Signals through a signalfd: the signals are blocked in the calling
 * thread and fn is called on the loop for each one received. */
struct loop_signals;
typedef void (*loop_signal_fn)(struct loop_signals *s, int signo);
struct loop_signals {
	loop_signal_fn fn;
	int fd;
	struct loop_op op;
};
int loop_signals_start(struct loop *l, struct loop_signals *s, const sigset_t *set);
void loop_signals_stop(struct loop *l, struct loop_signals *s);
