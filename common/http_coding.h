/*
 * http_coding.h: what a request's Accept-Encoding allows (RFC 9110
 * 12.5.3), for the compression of responses.
 */
#ifndef PORTICO_HTTP_CODING_H
#define PORTICO_HTTP_CODING_H

#include "core.h"
#include "http_parse.h"

/*
 * What the Accept-Encoding values seen so far say of gzip: its own
 * weight ("gzip" or "x-gzip"), else that of "*", in thousandths; -1 for
 * a coding not named.
 */
struct accept_coding {
	int gzip_q;
	int any_q;
};

void accept_coding_init(struct accept_coding *a);

/* Add one Accept-Encoding field value to a. */
void accept_coding_add(struct accept_coding *a, struct slice value);

/* Whether a lets a response be sent with gzip: its weight, or that of
 * "*" when gzip is not named, is above 0. Without either (no field,
 * "identity" alone) it does not. */
bool accept_coding_gzip(const struct accept_coding *a);

/* The same, read from every Accept-Encoding field of req. */
bool http_accepts_gzip(const struct http_message *req);

#endif
