/*
 * base64.c: strict base64 and base64url decoding.
 */
#include "config.h"

#include "base64.h"

static int digit_value(unsigned char c, enum base64_form form)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (form == BASE64_URL ? '-' : '+'))
		return 62;
	if (c == (form == BASE64_URL ? '_' : '/'))
		return 63;
	return -1;
}

/* How many of in[len]'s characters are digits: all but the padding. */
static ssize_t digits_of(const char *in, size_t len, enum base64_form form)
{
	size_t pad = 0;

	if (form == BASE64_URL)
		return (ssize_t)len;
	if (len % 4 != 0)
		return -1;
	while (pad < 2 && pad < len && in[len - 1 - pad] == '=')
		pad++;
	return (ssize_t)(len - pad);
}

ssize_t base64_decode(const char *in, size_t len, enum base64_form form, uint8_t *out,
		      size_t cap)
{
	ssize_t digits = digits_of(in, len, form);
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t i, n = 0;
	int v;

	/* One digit alone carries 6 bits: no byte ends there. */
	if (digits < 0 || digits % 4 == 1)
		return -1;
	for (i = 0; i < (size_t)digits; i++) {
		if ((v = digit_value((unsigned char)in[i], form)) < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;	/* the last digit's unused bits */
	return (ssize_t)n;
}
