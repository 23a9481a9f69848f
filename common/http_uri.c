/*
 * http_uri.c: normalizing a request's path.
 */
#include "config.h"

#include <string.h>

#include "http_uri.h"

bool http_uri_needs_normalizing(struct slice path)
{
	size_t i;

	for (i = 0; i < path.len; i++)
		if (path.p[i] == '%' || (path.p[i] == '/' && i + 1 < path.len &&
					 (path.p[i + 1] == '/' || path.p[i + 1] == '.')))
			return true;
	return false;
}

/* Decode %XX into out; its length, or -1 for a bad escape or a NUL. A
 * decoded "/" separates segments, as nginx reads it. */
static long decode(struct slice path, char *out)
{
	size_t i, n = 0;

	for (i = 0; i < path.len; i++) {
		int hi, lo;

		if (path.p[i] != '%') {
			out[n++] = path.p[i];
			continue;
		}
		if (i + 2 >= path.len || (hi = hex_value(path.p[i + 1])) < 0 ||
		    (lo = hex_value(path.p[i + 2])) < 0 || (hi | lo) == 0)
			return -1;
		out[n++] = (char)(hi << 4 | lo);
		i += 2;
	}
	return (long)n;
}

/* Merge slashes and resolve dot segments in p[0..len), in place (the
 * result is never longer); -1 when ".." would climb above the root. */
static long remove_dots(char *p, size_t len)
{
	size_t r = 0, w = 0;

	while (r < len) {		/* p[r] is a '/' */
		size_t s = r + 1, e = s, seg;
		bool last;

		while (e < len && p[e] != '/')
			e++;
		seg = e - s;
		last = e == len;
		if (seg == 2 && p[s] == '.' && p[s + 1] == '.') {
			if (w == 0)
				return -1;
			while (p[--w] != '/')	/* drop the last segment kept */
				;
			if (last)
				p[w++] = '/';
		} else if (seg == 0 || (seg == 1 && p[s] == '.')) {
			if (last)
				p[w++] = '/';
		} else {
			p[w++] = '/';
			memmove(p + w, p + s, seg);
			w += seg;
		}
		r = e;
	}
	if (w == 0)
		p[w++] = '/';
	return (long)w;
}

long http_uri_normalize(struct slice path, char *out)
{
	long n = decode(path, out);

	if (n <= 0 || out[0] != '/')
		return -1;
	return remove_dots(out, (size_t)n);
}
