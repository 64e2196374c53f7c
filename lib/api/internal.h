/* lib/api private helpers shared by its files; not part of the public API. */
#pragma once

#include "api/api.h"

/* Set *errmsg (if errmsg) to a formatted message; returns err so callers can
 * `return api_err(errmsg, -EINVAL, "...")`. */
_printf_(3, 4) int api_err(char **errmsg, int err, const char *fmt, ...);

/* Go's strconv.Quote (what %q prints): "a\"b", \x.. for invalid UTF-8 bytes. */
void go_quote(struct buf *b, const char *s, size_t n);
/* The time package's quote: every byte < 0x20 or >= 0x80 as \xNN. */
void go_time_quote(struct buf *b, const char *s);

/* Length of the valid UTF-8 sequence at s (Go's rules: no overlongs, no surrogates,
 * <= U+10FFFF), 0 if invalid. */
size_t utf8_len(const unsigned char *s, size_t n, uint32_t *ret_cp);

/* A float64 the way Go prints it: fmt 'j' as encoding/json does, 'v' as %v does. */
void go_format_float(struct buf *b, double d, char fmt);
