/*
 * text.c: texts that grow as they are written.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log_escape.h"
#include "text.h"

#define TEXT_START 16384

/* Room for more bytes and a NUL. */
static bool text_room(struct text *t, size_t more)
{
	size_t cap = t->cap ? t->cap : TEXT_START;
	char *p;

	while (cap - t->len <= more)
		cap *= 2;
	if (cap == t->cap)
		return true;
	if ((p = realloc(t->p, cap)) == NULL) {
		t->failed = true;
		return false;
	}
	t->p = p;
	t->cap = cap;
	return true;
}

void text_put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = true;
		return;
	}
	if (t->p == NULL || (size_t)n >= t->cap - t->len) {
		if (!text_room(t, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
		va_end(ap);
	}
	t->len += (size_t)n;
}

void text_escape(struct text *t, enum conf_log_escape mode, const char *s, size_t len)
{
	if (t->failed || !text_room(t, len * LOG_ESCAPE_WIDEST))
		return;
	t->len += log_escape(mode, s, len, t->p + t->len, t->cap - t->len - 1);
	t->p[t->len] = '\0';
}

char *text_take(struct text *t, size_t *len)
{
	char *p = t->failed ? NULL : t->p;

	if (t->failed)
		free(t->p);
	*len = p != NULL ? t->len : 0;
	*t = (struct text){ NULL, 0, 0, false };
	return p;
}
