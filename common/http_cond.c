/*
 * http_cond.c: preconditions and ranges.
 */
#include "config.h"

#include <string.h>

#include "http_cond.h"
#include "http_cache.h"

/* An entity-tag without its weakness mark: the quoted part. */
static struct slice opaque(struct slice tag)
{
	if (tag.len >= 2 && tag.p[0] == 'W' && tag.p[1] == '/') {
		tag.p += 2;
		tag.len -= 2;
	}
	return tag;
}

bool http_etag_is_weak(struct slice tag)
{
	return tag.len >= 2 && tag.p[0] == 'W' && tag.p[1] == '/';
}

static bool slice_eq(struct slice a, struct slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* Whether one of the field's entity-tags (or "*") matches etag, weakly:
 * every If-None-Match line of the request counts. */
static bool none_match_hits(const struct http_message *req, struct slice etag)
{
	struct slice want = opaque(etag);
	unsigned i;

	for (i = 0; i < req->nheaders; i++) {
		struct slice v = req->headers[i].value, item;
		const char *p = v.p, *end = v.p + v.len;

		if (!slice_ieq(req->headers[i].name, "if-none-match"))
			continue;
		while (slice_list_next(&p, end, &item))
			if ((item.len == 1 && item.p[0] == '*') ||
			    (etag.len > 0 && slice_eq(opaque(item), want)))
				return true;
	}
	return false;
}

bool http_not_modified(const struct http_message *req, struct slice etag,
		       struct slice last_modified)
{
	struct slice ims;
	int64_t since, modified;

	if (http_header_value(req, "if-none-match").p != NULL)
		return none_match_hits(req, etag);
	ims = http_header_value(req, "if-modified-since");
	if (ims.p == NULL || last_modified.len == 0)
		return false;
	since = http_date_parse(ims);
	modified = http_date_parse(last_modified);
	return since >= 0 && modified >= 0 && modified <= since;
}

/* If-Range: an entity-tag compared strongly, or a date equal to a
 * Last-Modified (RFC 9110 13.1.5). Absent: the range applies. */
static bool if_range_holds(const struct http_message *req, struct slice etag,
			   struct slice last_modified)
{
	struct slice v = http_header_value(req, "if-range");

	if (v.p == NULL)
		return true;
	if (v.len > 0 && (v.p[0] == '"' || http_etag_is_weak(v)))
		return !http_etag_is_weak(v) && !http_etag_is_weak(etag) && etag.len > 0 && slice_eq(v, etag);
	return last_modified.len > 0 && http_date_parse(v) >= 0 &&
	       http_date_parse(v) == http_date_parse(last_modified);
}

/* Digits into *v; false when there are none or too many. */
static bool number(const char **p, const char *end, uint64_t *v)
{
	const char *start = *p;

	*v = 0;
	while (*p < end && **p >= '0' && **p <= '9') {
		if (*v > (UINT64_MAX - 9) / 10)
			return false;
		*v = *v * 10 + (uint64_t)(**p - '0');
		(*p)++;
	}
	return *p > start;
}

enum http_range_result http_range(const struct http_message *req, uint64_t length,
				  struct slice etag, struct slice last_modified,
				  uint64_t *first, uint64_t *last)
{
	struct slice v = slice_trim(http_header_value(req, "range"));
	const char *p, *end;
	uint64_t a, b;

	if (v.p == NULL || v.len < 7 || !slice_ieq((struct slice){ v.p, 6 }, "bytes=") ||
	    memchr(v.p, ',', v.len) != NULL || !if_range_holds(req, etag, last_modified))
		return HTTP_RANGE_NONE;
	p = v.p + 6;
	end = v.p + v.len;
	if (*p == '-') {			/* the last b bytes */
		p++;
		if (!number(&p, end, &b) || p != end)
			return HTTP_RANGE_NONE;
		if (b == 0 || length == 0)
			return HTTP_RANGE_UNSATISFIABLE;
		*first = b >= length ? 0 : length - b;
		*last = length - 1;
		return HTTP_RANGE_PART;
	}
	if (!number(&p, end, &a) || p == end || *p++ != '-')
		return HTTP_RANGE_NONE;
	b = UINT64_MAX;
	if (p != end && (!number(&p, end, &b) || p != end))
		return HTTP_RANGE_NONE;
	if (b < a)
		return HTTP_RANGE_NONE;		/* invalid: ignored (RFC 9110 14.1.1) */
	if (a >= length)
		return HTTP_RANGE_UNSATISFIABLE;
	*first = a;
	*last = b >= length ? length - 1 : b;
	return HTTP_RANGE_PART;
}
