/* lib/log: leveled, structured logs in klog-style text or JSON lines.
 *
 *   log_info(lg, "listening", LOG_S("addr", addr), LOG_I("fd", fd));
 *   log_error(lg, "accept failed", LOG_ERR(r));
 *
 * A logger is a small value owned by whoever configures the process (main)
 * and handed to components by pointer; it is read-only once set up, so
 * every thread may use it. Each line is written with one write(2). A NULL
 * logger discards everything. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
	LOG_TRACE = 4,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

struct logger {
	int fd;
	enum log_level level;
	enum log_format format;
	const char *component; /* e.g. "apiserver"; may be NULL */
};

enum log_field_type {
	LOG_F_END,
	LOG_F_STR,
	LOG_F_INT,
	LOG_F_UINT,
	LOG_F_DBL,
	LOG_F_BOOL,
	LOG_F_ERRNO,
};

struct log_field {
	const char *key;
	enum log_field_type type;
	union {
		const char *s;
		int64_t i;
		uint64_t u;
		double d;
		bool b;
	};
};

#define LOG_S(k, v) ((struct log_field){.key = (k), .type = LOG_F_STR, .s = (v)})
#define LOG_I(k, v) ((struct log_field){.key = (k), .type = LOG_F_INT, .i = (int64_t)(v)})
#define LOG_U(k, v) ((struct log_field){.key = (k), .type = LOG_F_UINT, .u = (uint64_t)(v)})
#define LOG_D(k, v) ((struct log_field){.key = (k), .type = LOG_F_DBL, .d = (double)(v)})
#define LOG_B(k, v) ((struct log_field){.key = (k), .type = LOG_F_BOOL, .b = (v)})
/* A negative errno (as kelp functions return) printed as its message. */
#define LOG_ERR(r) ((struct log_field){.key = "err", .type = LOG_F_ERRNO, .i = (int64_t)(r)})

/* A logger writing text at INFO to stderr. */
struct logger log_default(const char *component);
/* "error", "warn", "info", "debug", "trace" or 0..4; -EINVAL otherwise. */
int log_level_parse(const char *s, enum log_level *ret);
int log_format_parse(const char *s, enum log_format *ret);

static inline bool log_enabled(const struct logger *lg, enum log_level lvl)
{
	return lg && lvl <= lg->level;
}

void log_emit(const struct logger *lg, enum log_level lvl, const char *file, int line,
	      const char *msg, const struct log_field *fields, unsigned nfields);

/* Format one line into buf (no trailing newline is added twice); used by
 * log_emit and by tests. Returns the length written (truncated to cap-1). */
unsigned log_format_line(char *buf, unsigned cap, const struct logger *lg, enum log_level lvl,
			 uint64_t real_ns, const char *file, int line, const char *msg,
			 const struct log_field *fields, unsigned nfields);

#define log_at(lg, lvl, msg, ...)                                                        \
	do {                                                                             \
		const struct logger *lg_ = (lg);                                         \
		if (log_enabled(lg_, lvl)) {                                             \
			const struct log_field f_[] = {{0}, ##__VA_ARGS__};              \
			log_emit(lg_, lvl, __FILE__, __LINE__, msg, f_ + 1,              \
				 (unsigned)(sizeof(f_) / sizeof(f_[0]) - 1));            \
		}                                                                        \
	} while (0)

#define log_error(lg, msg, ...) log_at(lg, LOG_ERROR, msg, ##__VA_ARGS__)
#define log_warn(lg, msg, ...) log_at(lg, LOG_WARN, msg, ##__VA_ARGS__)
#define log_info(lg, msg, ...) log_at(lg, LOG_INFO, msg, ##__VA_ARGS__)
#define log_debug(lg, msg, ...) log_at(lg, LOG_DEBUG, msg, ##__VA_ARGS__)
#define log_trace(lg, msg, ...) log_at(lg, LOG_TRACE, msg, ##__VA_ARGS__)
