/*
 * http_cond.h: conditional requests and ranges (RFC 9110 13 and 14), as
 * a cache answers them from a stored response: whether the client's copy
 * is current (304), and which part of the body it asked for (206).
 *
 * Owns: pure functions over parsed heads; nothing is allocated.
 */
#ifndef PORTICO_HTTP_COND_H
#define PORTICO_HTTP_COND_H

#include <stdint.h>

#include "core.h"
#include "http_parse.h"

/*
 * Whether a GET or HEAD request's preconditions say the client's copy of
 * the stored response (its ETag and Last-Modified values, empty when it
 * has none) is current: If-None-Match by weak comparison, or, only when
 * that is absent, If-Modified-Since against Last-Modified.
 */
bool http_not_modified(const struct http_message *req, struct slice etag,
		       struct slice last_modified);

/* Whether an entity tag is weak ("W/" before its quoted value). */
bool http_etag_is_weak(struct slice tag);

enum http_range_result {
	HTTP_RANGE_NONE = 0,		/* answer the whole body */
	HTTP_RANGE_PART,		/* answer [*first, *last] with 206 */
	HTTP_RANGE_UNSATISFIABLE	/* answer 416 */
};

/*
 * The range a request asks of a body of length bytes: one "bytes=" range
 * (a-b, a-, -n). Anything else, several ranges included, or an If-Range
 * that does not match the stored response by strong comparison, gets the
 * whole body, as RFC 9110 allows.
 */
enum http_range_result http_range(const struct http_message *req, uint64_t length,
				  struct slice etag, struct slice last_modified,
				  uint64_t *first, uint64_t *last);

#endif
