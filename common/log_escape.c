/*
 * log_escape.c: escaping values for access log lines.
 */
#include "config.h"

#include <string.h>

#include "log_escape.h"

static const char hex[] = "0123456789abcdef";
static const char upper_hex[] = "0123456789ABCDEF";	/* as nginx writes \xHH */

size_t log_utf8_sequence(const char *text, size_t len)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (len < n)
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

static size_t escape_default(const unsigned char *in, size_t len, char *out, size_t cap)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = in[i];

		if (c >= ' ' && c < 0x7f && c != '"' && c != '\\') {
			if (o + 1 > cap)
				break;
			out[o++] = (char)c;
			continue;
		}
		if (o + 4 > cap)
			break;
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = upper_hex[c >> 4];
		out[o++] = upper_hex[c & 15];
	}
	return o;
}

/* The short escape JSON has for c, or 0. */
static char json_short(unsigned char c)
{
	switch (c) {
	case '"': return '"';
	case '\\': return '\\';
	case '\n': return 'n';
	case '\r': return 'r';
	case '\t': return 't';
	case '\b': return 'b';
	case '\f': return 'f';
	default: return 0;
	}
}

static size_t escape_json(const unsigned char *in, size_t len, char *out, size_t cap)
{
	size_t i = 0, o = 0, n;

	while (i < len) {
		unsigned char c = in[i];
		char s;

		if (c >= ' ' && c < 0x7f && c != '"' && c != '\\') {
			if (o + 1 > cap)
				break;
			out[o++] = (char)c;
			i++;
		} else if ((s = json_short(c)) != 0) {
			if (o + 2 > cap)
				break;
			out[o++] = '\\';
			out[o++] = s;
			i++;
		} else if (c >= 0x80 && (n = log_utf8_sequence((const char *)in + i, len - i)) > 0) {
			if (o + n > cap)
				break;
			memcpy(out + o, in + i, n);
			o += n;
			i += n;
		} else {
			if (o + 6 > cap)
				break;
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
			i++;
		}
	}
	return o;
}

size_t log_escape(enum conf_log_escape mode, const char *in, size_t len, char *out, size_t cap)
{
	switch (mode) {
	case LOG_ESCAPE_DEFAULT:
		return escape_default((const unsigned char *)in, len, out, cap);
	case LOG_ESCAPE_JSON:
		return escape_json((const unsigned char *)in, len, out, cap);
	case LOG_ESCAPE_NONE:
		break;
	}
	len = len < cap ? len : cap;
	if (len > 0)		/* an empty value has no bytes, maybe no pointer */
		memcpy(out, in, len);
	return len;
}
