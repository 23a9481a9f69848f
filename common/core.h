/*
 * core.h: what every portico module shares: the return-code vocabulary
 * of I/O-shaped functions, byte slices, and a few helpers.
 */
#ifndef PORTICO_CORE_H
#define PORTICO_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

/* Return codes of I/O-shaped functions (read, write, parse, connect). */
enum {
	P_OK    =  0,	/* finished, go on */
	P_ERROR = -1,	/* failed; the caller closes or answers an error */
	P_AGAIN = -2,	/* would block or needs more input; call again later */
	P_DONE  = -3	/* the peer or the stream has ended cleanly */
};

/* A byte range inside a buffer someone else owns; never NUL-terminated. */
struct slice {
	const char *p;
	size_t len;
};

#define SLICE_LIT(s) ((struct slice){ (s), sizeof(s) - 1 })
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Eight bytes in network order as a number, and back: 128-bit addresses
 * compared and sorted as two words. */
static inline uint16_t load_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void store_be64(uint8_t *p, uint64_t v)
{
	unsigned i;

	for (i = 8; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
}

/* The value of hexadecimal digit c, or -1. */
static inline int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Case-insensitive comparison of a slice with a lower-case C string. */
static inline bool slice_ieq(struct slice s, const char *lower)
{
	size_t i;

	for (i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c >= 'A' && c <= 'Z')
			c |= 0x20;
		if (lower[i] == '\0' || c != (unsigned char)lower[i])
			return false;
	}
	return lower[i] == '\0';
}

/* s without the spaces and tabs (HTTP's OWS) at either end. */
static inline struct slice slice_trim(struct slice s)
{
	while (s.len > 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.len--;
	}
	while (s.len > 0 && (s.p[s.len - 1] == ' ' || s.p[s.len - 1] == '\t'))
		s.len--;
	return s;
}

/* The next item of a comma-separated list at *p (up to end), trimmed;
 * false when the list is over. */
static inline bool slice_list_next(const char **p, const char *end, struct slice *item)
{
	const char *comma;

	if (*p >= end)
		return false;
	comma = memchr(*p, ',', (size_t)(end - *p));
	*item = slice_trim((struct slice){ *p, (size_t)((comma ? comma : end) - *p) });
	*p = comma ? comma + 1 : end;
	return true;
}

#endif
