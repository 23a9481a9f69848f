/*
 * content_coding.h: what the modules that change a response's content
 * coding (gzip.c compresses, gunzip.c inflates) share: their settings,
 * the response's fields as they will go out, whether its body may be
 * recoded at all, and the head edits a recoded body needs (Vary names
 * Accept-Encoding, a strong ETag made weak).
 */
#ifndef PORTICO_MODULES_CONTENT_CODING_H
#define PORTICO_MODULES_CONTENT_CODING_H

#include "exchange.h"

#define CODING_FIELD_MAX 512		/* a merged Vary, a weakened ETag */

/* Field values made for one response; they must last until its head is
 * written, so they live in the module's state for the exchange. */
struct coding_fields {
	char vary[CODING_FIELD_MAX];
	char etag[CODING_FIELD_MAX];
};

/* The route's gzip settings (the site's when there is no route); NULL
 * when there is neither. */
const struct conf_gzip *coding_conf(const struct exchange *x);

/* The response's first field named lower as it will be sent: one of the
 * server's not dropped, or one a head filter added; NULL: none. */
const struct http_header *coding_field(const struct exchange *x, const char *lower);

/* Whether the response has a body whose coding may change: a final
 * status other than 204, 206 and 304, to a request other than HEAD, and
 * not Cache-Control: no-transform. */
bool coding_body_recodable(const struct exchange *x);

/* Vary names Accept-Encoding: added to the Vary the response has, in one
 * field made in f (NULL: a field of its own), or left as it is when it
 * names it or "*" already. 0, or -1 when no field can be added. */
int coding_add_vary(struct exchange *x, struct coding_fields *f);

/* A strong ETag made weak in f, as the bytes are no longer the server's
 * (one too long to be kept is dropped). 0, or -1. */
int coding_weaken_etag(struct exchange *x, struct coding_fields *f);

#endif
