/*
 * http_coding.h: what a request's Accept-Encoding allows (RFC 9110
 * 12.5.3): the one reading of it, for the compression of responses and
 * for the cache's variants by encoding.
 */
#ifndef PORTICO_HTTP_CODING_H
#define PORTICO_HTTP_CODING_H

#include "core.h"
#include "http_parse.h"

/* The content codings a response may come in, in the order a cache's
 * variant key lists them (http_coding_name). */
enum http_coding {
	CODING_BR = 0,
	CODING_DEFLATE,
	CODING_GZIP,
	CODING_ZSTD,
	CODING_COUNT
};

/*
 * What the Accept-Encoding values seen so far say: each coding's own
 * weight ("x-gzip" counts as gzip), and that of "*", in thousandths; -1
 * for one not named.
 */
struct accept_coding {
	int q[CODING_COUNT];
	int any_q;
};

void accept_coding_init(struct accept_coding *a);

/* Add one Accept-Encoding field value to a. */
void accept_coding_add(struct accept_coding *a, struct slice value);

/* Whether a lets a response be sent in coding: its weight, or that of
 * "*" when the coding is not named, is above 0. Without either (no
 * field, "identity" alone) it does not. */
bool accept_coding_allows(const struct accept_coding *a, enum http_coding coding);

/* a, read from every Accept-Encoding field of req. */
void http_accept_coding(const struct http_message *req, struct accept_coding *a);

/* Whether every Accept-Encoding field of req together allows gzip. */
bool http_accepts_gzip(const struct http_message *req);

/*
 * The weight, in thousandths, that the request's Accept fields (RFC 9110
 * 12.5.1) give the media type "type/subtype" (lower case): that of the
 * most specific range naming it (the type itself, then its "type/" range
 * with a star, then the range of every type), 0 when no range does, and
 * -1 when the request has no Accept field (anything goes).
 */
int http_accept_media(const struct http_message *req, const char *type);

/* The coding's token, lower case ("gzip"). */
const char *http_coding_name(enum http_coding coding);

#endif
