/*
 * text.h: a text made with printf-like appends in memory that grows, for
 * answers made whole before they are sent (the status document, the
 * metrics).
 *
 * Owns: its buffer (malloc'd), until text_take() hands it over. Out of
 * memory, the text is void: later appends do nothing and text_take()
 * gives NULL.
 */
#ifndef PORTICO_TEXT_H
#define PORTICO_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

struct text {
	char *p;
	size_t len, cap;
	bool failed;			/* out of memory: the text is void */
};

/* Append, as printf would write it (always NUL-terminated after). */
void text_put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append s[len] escaped for mode, as an access log writes a value
 * (log_escape.h): json makes the inside of a JSON string. */
void text_escape(struct text *t, enum conf_log_escape mode, const char *s, size_t len);

/* The text, malloc'd, its length in *len, for the caller to free; the
 * text is empty again. NULL (and nothing to free) when it failed or
 * nothing was written. */
char *text_take(struct text *t, size_t *len);

#endif
