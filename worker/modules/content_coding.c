/*
 * content_coding.c: the head edits shared by gzip and gunzip.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "http_cache.h"
#include "http_cond.h"
#include "modules/content_coding.h"

const struct conf_gzip *coding_conf(const struct exchange *x)
{
	if (x->route != NULL)
		return &x->route->gzip;
	return x->site != NULL ? &x->site->gzip : NULL;
}

const struct http_header *coding_field(const struct exchange *x, const char *lower)
{
	unsigned i;

	for (i = 0; i < x->resp.nheaders; i++)
		if (!(x->resp.headers[i].flags & HTTP_HDR_DROP) &&
		    slice_ieq(x->resp.headers[i].name, lower))
			return &x->resp.headers[i];
	for (i = 0; i < x->nadded; i++)
		if (slice_ieq(x->added[i].name, lower))
			return &x->added[i];
	return NULL;
}

bool coding_body_recodable(const struct exchange *x)
{
	const struct http_message *r = &x->resp;
	int s = r->status;
	struct http_cc cc;

	if (s < 200 || s == 204 || s == 206 || s == 304 || r->framing == HTTP_BODY_NONE ||
	    x->req.method_id == HTTP_HEAD)
		return false;
	http_cc_parse(r, &cc);
	return !(cc.flags & CC_NO_TRANSFORM);
}

/* Whether h is a Vary field (counted in *count) naming Accept-Encoding
 * or "*". */
static bool vary_names_coding(const struct http_header *h, unsigned *count)
{
	const char *p = h->value.p, *end = p + h->value.len;
	struct slice item;

	if (!slice_ieq(h->name, "vary"))
		return false;
	++*count;
	while (slice_list_next(&p, end, &item))
		if (slice_ieq(item, "accept-encoding") || slice_ieq(item, "*"))
			return true;
	return false;
}

/* Whether the response's Vary, as it will be sent, covers Accept-Encoding;
 * *count: how many Vary fields it has. */
static bool vary_covers_coding(const struct exchange *x, unsigned *count)
{
	unsigned i;

	*count = 0;
	for (i = 0; i < x->resp.nheaders; i++)
		if (!(x->resp.headers[i].flags & HTTP_HDR_DROP) &&
		    vary_names_coding(&x->resp.headers[i], count))
			return true;
	for (i = 0; i < x->nadded; i++)
		if (vary_names_coding(&x->added[i], count))
			return true;
	return false;
}

int coding_add_vary(struct exchange *x, struct coding_fields *f)
{
	const struct http_header *h = coding_field(x, "vary");
	unsigned count;
	int n;

	if (vary_covers_coding(x, &count))
		return 0;
	if (count != 1 || f == NULL)
		return exchange_add_field(x, SLICE_LIT("Vary"), SLICE_LIT("Accept-Encoding"));
	n = snprintf(f->vary, sizeof(f->vary), "%.*s, Accept-Encoding", (int)h->value.len,
		     h->value.p);
	if (n < 0 || (size_t)n >= sizeof(f->vary))
		return exchange_add_field(x, SLICE_LIT("Vary"), SLICE_LIT("Accept-Encoding"));
	exchange_drop_field(x, "vary");
	return exchange_add_field(x, SLICE_LIT("Vary"), (struct slice){ f->vary, (size_t)n });
}

int coding_weaken_etag(struct exchange *x, struct coding_fields *f)
{
	const struct http_header *h = coding_field(x, "etag");
	int n;

	if (h == NULL || http_etag_is_weak(h->value))
		return 0;
	n = snprintf(f->etag, sizeof(f->etag), "W/%.*s", (int)h->value.len, h->value.p);
	exchange_drop_field(x, "etag");
	if (n < 0 || (size_t)n >= sizeof(f->etag))
		return 0;	/* too long to keep: sent without one */
	return exchange_add_field(x, SLICE_LIT("ETag"), (struct slice){ f->etag, (size_t)n });
}
