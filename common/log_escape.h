/*
 * log_escape.h: values written into access log lines, escaped as the
 * log format says (conf.h, enum conf_log_escape), so that no request
 * can forge a line or break a JSON one.
 *
 * Owns: nothing; pure functions.
 */
#ifndef PORTICO_LOG_ESCAPE_H
#define PORTICO_LOG_ESCAPE_H

#include <stddef.h>

#include "conf.h"

/* The longest one byte may become: "\u00XX". */
#define LOG_ESCAPE_WIDEST 6

/*
 * Write in[len] into out[cap], escaped for mode: default writes '"',
 * '\', control bytes and bytes above 0x7e as \xHH; json writes '"' and
 * '\' as \" and \\, control bytes as \n, \r, \t, \b, \f or \u00XX, keeps
 * valid UTF-8 and writes other bytes above 0x7e as \u00XX; none copies.
 * An escape is never cut: the value stops before one that does not fit.
 * Returns the bytes written.
 */
size_t log_escape(enum conf_log_escape mode, const char *in, size_t len, char *out, size_t cap);

/* The length of the valid UTF-8 sequence of 2 to 4 bytes that p[len]
 * starts with (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF), or 0. */
size_t log_utf8_sequence(const char *p, size_t len);

#endif
