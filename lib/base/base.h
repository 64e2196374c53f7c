/* libkelp base: the few macros and helpers every component shares.
 *
 * Conventions (docs/architecture.md has the long form):
 *  - errors are negative errno values; output parameters are named ret_*
 *    and written only on success;
 *  - destructors accept NULL and return NULL: p = foo_free(p);
 *  - allocation failure aborts (x* helpers): a daemon that cannot allocate
 *    a few bytes cannot report it usefully either;
 *  - every fd is O_CLOEXEC. */
#pragma once

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _warn_unused_ __attribute__((warn_unused_result))

/* Hand a cleanup-owned pointer or fd to someone else. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)

/* Define foo_freep() for a type with a NULL-safe foo_free(). */
#define DEFINE_FREEP(type, fn)                 \
	static inline void fn##p(type **p)     \
	{                                      \
		if (*p)                        \
			(void)fn(*p);          \
	}

_noreturn_ void base_oom(void);

static inline void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (unlikely(!p))
		base_oom();
	return p;
}

static inline void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (unlikely(!p))
		base_oom();
	return p;
}

static inline void *xrealloc(void *old, size_t n)
{
	void *p = realloc(old, n ? n : 1);
	if (unlikely(!p))
		base_oom();
	return p;
}

char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
_printf_(1, 2) char *xasprintf(const char *fmt, ...);

#define xnew(type, n) ((type *)xcalloc((n), sizeof(type)))

static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static inline bool strcaseeq(const char *a, const char *b) { return strcasecmp(a, b) == 0; }
bool str_has_prefix(const char *s, const char *prefix);
bool str_has_suffix(const char *s, const char *suffix);
/* Case-insensitive compare of a length-delimited string with a C string. */
bool mem_caseeq(const char *s, size_t n, const char *lit);

/* A growable byte buffer. Always NUL-terminated after data[len] (when
 * data != NULL) so text can be used as a C string. Consumed bytes are
 * dropped from the front by buf_consume(). */
struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
static inline void buf_puts(struct buf *b, const char *s) { buf_append(b, s, strlen(s)); }
static inline void buf_putc(struct buf *b, char c) { buf_append(b, &c, 1); }
_printf_(2, 3) void buf_printf(struct buf *b, const char *fmt, ...);
_printf_(2, 0) void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_consume(struct buf *b, size_t n);
void buf_clear(struct buf *b);
void buf_free(struct buf *b);
/* Hand the bytes to the caller (NUL-terminated, never NULL). */
char *buf_steal(struct buf *b);

/* Parse a decimal integer that must fill [s, s+n). */
int parse_u64(const char *s, size_t n, uint64_t *ret);
int parse_i64(const char *s, size_t n, int64_t *ret);

/* The value of one hex digit (either case), or -1. */
static inline int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Standard base64 with padding (RFC 4648 section 4), as Go's encoding/json
 * writes []byte. Decoding is strict: NULL on anything else. */
char *base64_encode(const void *p, size_t n);
uint8_t *base64_decode(const char *s, size_t *ret_len);

/* Monotonic and wall clock in nanoseconds. */
uint64_t now_mono_ns(void);
uint64_t now_real_ns(void);

/* Write all of p to fd, retrying on EINTR and short writes. */
int write_all(int fd, const void *p, size_t n);
/* Read a whole (small) file into *ret (NUL-terminated). */
int read_file(const char *path, size_t max, struct buf *ret);
/* Write a file atomically: temp file, fsync, rename, fsync dir. */
int write_file_atomic(const char *path, const void *p, size_t n, int mode);
/* mkdir -p with mode for each created component. */
int mkdir_p(const char *path, int mode);
