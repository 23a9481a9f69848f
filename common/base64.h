/*
 * base64.h: strict decoding of base64 (RFC 4648 section 4, with its
 * padding: Basic credentials) and of base64url (section 5, without
 * padding: JWS, JWK). Strict: a byte outside the alphabet, padding where
 * the form has none or where it does not belong, a length no encoding
 * has, or unused bits that are not zero refuse the input, so that every
 * value has one encoding only.
 */
#ifndef PORTICO_BASE64_H
#define PORTICO_BASE64_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum base64_form {
	BASE64_PADDED,			/* "+/", "=" to a multiple of 4 */
	BASE64_URL			/* "-_", no padding */
};

/* in[len] decoded into out[cap]: its length, or -1 when it is not the
 * form's or does not fit. */
ssize_t base64_decode(const char *in, size_t len, enum base64_form form, uint8_t *out,
		      size_t cap);

#endif
