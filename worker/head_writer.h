/*
 * head_writer.h: writing a message head into a buffer of fixed size,
 * remembering when something did not fit (the caller then gets 0 for
 * its length), for the heads portico sends and the ones it stores.
 */
#ifndef PORTICO_HEAD_WRITER_H
#define PORTICO_HEAD_WRITER_H

#include <string.h>

#include "core.h"
#include "http_parse.h"

struct head_writer {
	char *p, *end;
	bool overflow;
};

static inline void hw_put(struct head_writer *w, const char *s, size_t len)
{
	if (w->overflow || (size_t)(w->end - w->p) < len) {
		w->overflow = true;
		return;
	}
	memcpy(w->p, s, len);
	w->p += len;
}

static inline void hw_put_slice(struct head_writer *w, struct slice s)
{
	hw_put(w, s.p, s.len);
}

static inline void hw_put_str(struct head_writer *w, const char *s)
{
	hw_put(w, s, strlen(s));
}

static inline void hw_put_field(struct head_writer *w, struct slice name, struct slice value)
{
	hw_put_slice(w, name);
	hw_put(w, ": ", 2);
	hw_put_slice(w, value);
	hw_put(w, "\r\n", 2);
}

static inline void hw_put_header(struct head_writer *w, const struct http_header *h)
{
	hw_put_field(w, h->name, h->value);
}

/* "HTTP/1.1 200 OK\r\n" */
static inline void hw_put_status_line(struct head_writer *w, int status, struct slice reason)
{
	char digits[4] = {
		(char)('0' + status / 100 % 10), (char)('0' + status / 10 % 10),
		(char)('0' + status % 10), ' '
	};

	hw_put_str(w, "HTTP/1.1 ");
	hw_put(w, digits, sizeof(digits));
	hw_put_slice(w, reason);
	hw_put(w, "\r\n", 2);
}

/* The blank line that ends a head; the head's length from start, or 0
 * when it did not fit. */
static inline size_t hw_finish(struct head_writer *w, const char *start)
{
	hw_put(w, "\r\n", 2);
	return w->overflow ? 0 : (size_t)(w->p - start);
}

#endif
