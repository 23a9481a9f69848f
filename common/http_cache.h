/*
 * http_cache.h: the rules of HTTP caching (RFC 9111) for a shared cache:
 * what a response's Cache-Control says, whether it may be stored, how
 * long it stays fresh, and how old it already was when it arrived.
 *
 * Owns: pure functions over parsed heads (http_parse.h) and times in
 * seconds since the epoch; nothing is allocated, nothing is stored. The
 * cache module decides with them; the store (cache_store.h) keeps what
 * they let through.
 *
 * Where RFC 9111 leaves a choice, the safe side is taken: a directive
 * whose value cannot be read makes the response stale at once, private
 * and no-cache with a field list count as the plain directive, and a
 * directive given twice keeps its first value.
 */
#ifndef PORTICO_HTTP_CACHE_H
#define PORTICO_HTTP_CACHE_H

#include <stdint.h>

#include "core.h"
#include "http_parse.h"

/* http_cc.flags */
#define CC_NO_STORE		0x001
#define CC_NO_CACHE		0x002
#define CC_PRIVATE		0x004
#define CC_PUBLIC		0x008
#define CC_MUST_REVALIDATE	0x010
#define CC_PROXY_REVALIDATE	0x020
#define CC_NO_TRANSFORM		0x040
#define CC_ONLY_IF_CACHED	0x080
#define CC_IMMUTABLE		0x100
#define CC_MAX_STALE_ANY	0x200	/* max-stale without a value */
#define CC_INVALID		0x400	/* a value that could not be read */

#define CC_UNSET		(-1)
#define CC_DELTA_MAX		2147483648LL	/* RFC 9111 1.2.2: larger values become this */

/* Cache-Control of one message, every field line of it combined. */
struct http_cc {
	unsigned flags;
	int64_t max_age, s_maxage, max_stale, min_fresh;	/* CC_UNSET when absent */
	int64_t stale_while_revalidate, stale_if_error;
};

void http_cc_parse(const struct http_message *msg, struct http_cc *cc);

/* An HTTP-date in any of its three forms (RFC 9110 5.6.7): seconds since
 * the epoch, or -1 when it is not one. */
int64_t http_date_parse(struct slice s);

/* Why a response may not be stored; HC_STORABLE when it may. */
enum http_cache_refusal {
	HC_STORABLE = 0,
	HC_METHOD,		/* not an answer to GET */
	HC_STATUS,		/* partial (206), 304, or not a final status */
	HC_NO_STORE,		/* no-store, in the request or the response */
	HC_PRIVATE,		/* meant for one user */
	HC_AUTHORIZATION,	/* asked with credentials, not marked shareable */
	HC_SET_COOKIE,		/* sets a cookie (unless allowed) */
	HC_VARY_STAR,		/* Vary: *, it never matches again */
	HC_NO_FRESHNESS,	/* no expiry given, and none may be guessed */
};

/* A word for the logs and Cache-Status' detail. */
const char *http_cache_refusal_name(enum http_cache_refusal why);

/* Why resp to req may not be stored by a shared cache (RFC 9111 3),
 * or HC_STORABLE. credentials: req was let in by credentials, maybe not
 * in its Authorization field (forward authentication by a cookie, say),
 * which count as Authorization does (3.5). */
enum http_cache_refusal http_cache_storable(const struct http_message *req,
					    const struct http_cc *req_cc,
					    const struct http_message *resp,
					    const struct http_cc *resp_cc,
					    bool allow_set_cookie, bool credentials);

/* Whether a status may be given a heuristic lifetime (RFC 9110 15.1). */
bool http_status_heuristic(int status);

/*
 * How long the response stays fresh after it was made, in seconds (RFC
 * 9111 4.2.1, 4.2.2): s-maxage, max-age, Expires against Date, or for a
 * heuristically cacheable status a tenth of the time since Last-Modified
 * (at most a day). 0: stale at once. response_time stands in for a
 * missing Date.
 */
int64_t http_freshness_lifetime(const struct http_message *resp, const struct http_cc *cc,
				int64_t response_time);

/* The response's age when it arrived (RFC 9111 4.2.3, corrected_initial_age);
 * its current age is that plus the time since response_time. */
int64_t http_initial_age(const struct http_message *resp, int64_t request_time,
			 int64_t response_time);

#endif
