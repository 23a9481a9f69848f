/*
 * cache_object.c: the stored form of answers, and Vary's keys.
 */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "cache_object.h"
#include "head_writer.h"
#include "http_coding.h"
#include "http_cond.h"

/* ---- what is stored ---- */

/* The response as the rules let it speak: the fields they ignore taken
 * out of a copy. */
static void without_ignored(const struct http_message *resp, unsigned ignore,
			    struct http_message *view)
{
	unsigned i, n = 0;

	*view = *resp;
	for (i = 0; i < resp->nheaders; i++) {
		struct slice name = resp->headers[i].name;

		if (((ignore & CONF_IGNORE_CACHE_CONTROL) && (slice_ieq(name, "cache-control") ||
							     slice_ieq(name, "pragma"))) ||
		    ((ignore & CONF_IGNORE_EXPIRES) && slice_ieq(name, "expires")) ||
		    ((ignore & CONF_IGNORE_SET_COOKIE) && slice_ieq(name, "set-cookie")) ||
		    ((ignore & CONF_IGNORE_VARY) && slice_ieq(name, "vary")))
			continue;
		view->headers[n++] = resp->headers[i];
	}
	view->nheaders = n;
}

static bool has_validator(const struct http_message *resp)
{
	return http_header_value(resp, "etag").p != NULL ||
	       http_header_value(resp, "last-modified").p != NULL;
}

static uint32_t seconds32(int64_t v)
{
	return v == CC_UNSET || v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

bool cache_meta_make(const struct http_message *req, const struct http_message *resp,
		     const struct cache_rules *rules, int64_t request_time,
		     int64_t response_time, struct cache_meta *m,
		     enum http_cache_refusal *why)
{
	struct http_message view;
	struct http_cc cc, req_cc;
	bool explicit_expiry;

	without_ignored(resp, rules->ignore, &view);
	http_cc_parse(req, &req_cc);
	http_cc_parse(&view, &cc);
	*why = http_cache_storable(req, &req_cc, &view, &cc,
				   rules->ignore & CONF_IGNORE_SET_COOKIE, rules->credentials);
	if (*why == HC_NO_FRESHNESS && rules->valid_s > 0)
		*why = HC_STORABLE;
	if (*why != HC_STORABLE)
		return false;
	explicit_expiry = cc.max_age != CC_UNSET || cc.s_maxage != CC_UNSET ||
			  http_header_value(&view, "expires").p != NULL;
	memset(m, 0, sizeof(*m));
	m->magic = CACHE_META_MAGIC;
	m->kind = OBJ_ANSWER;
	m->status = (uint16_t)resp->status;
	m->response_time = response_time;
	m->initial_age = http_initial_age(resp, request_time, response_time);
	m->lifetime = explicit_expiry || rules->valid_s == 0 ?
		      http_freshness_lifetime(&view, &cc, response_time) : rules->valid_s;
	if (cc.flags & CC_NO_CACHE)
		m->flags |= META_NO_CACHE;
	/* s-maxage implies proxy-revalidate (RFC 9111 5.2.2.10) */
	if ((cc.flags & (CC_MUST_REVALIDATE | CC_PROXY_REVALIDATE)) || cc.s_maxage != CC_UNSET)
		m->flags |= META_MUST_REVALIDATE;
	m->stale_while_revalidate = seconds32(cc.stale_while_revalidate);
	m->stale_if_error = seconds32(cc.stale_if_error);
	/* Stale at once and nothing to validate it with: storing it would
	 * only cost a copy. */
	if (m->lifetime <= 0 && !has_validator(resp)) {
		*why = HC_NO_FRESHNESS;
		return false;
	}
	return true;
}

/* Fields never stored: those of one connection, of the framing, and Age,
 * which is made anew for every answer. */
static bool kept(const struct http_header *h, unsigned ignore)
{
	return !(h->flags & HTTP_HDR_HOP) && h->id != HDR_CONTENT_LENGTH &&
	       h->id != HDR_TRANSFER_ENCODING && !slice_ieq(h->name, "age") &&
	       !((ignore & CONF_IGNORE_SET_COOKIE) && slice_ieq(h->name, "set-cookie"));
}

size_t cache_head_write(const struct http_message *resp, unsigned ignore, char *out,
			size_t cap)
{
	struct head_writer w = { out, out + cap, false };
	unsigned i;

	hw_put_status_line(&w, resp->status, resp->reason);
	for (i = 0; i < resp->nheaders; i++)
		if (kept(&resp->headers[i], ignore))
			hw_put_header(&w, &resp->headers[i]);
	return hw_finish(&w, out);
}

static bool has_field(const struct http_message *m, struct slice name)
{
	unsigned i;

	for (i = 0; i < m->nheaders; i++)
		if (m->headers[i].name.len == name.len &&
		    strncasecmp(m->headers[i].name.p, name.p, name.len) == 0)
			return true;
	return false;
}

/* The field a 304's field h becomes in the stored head: itself, but for
 * the server's strong ETag of a stored answer whose ETag is the weak
 * form of it (the stored bytes were recoded, gzip or gunzip), which
 * stays weak. */
static const struct http_header *merged_field(const struct http_message *stored,
					      const struct http_header *h)
{
	unsigned i;

	if (!slice_ieq(h->name, "etag") || http_etag_is_weak(h->value))
		return h;
	for (i = 0; i < stored->nheaders; i++) {
		const struct http_header *old = &stored->headers[i];

		if (slice_ieq(old->name, "etag") && http_etag_is_weak(old->value) &&
		    old->value.len == h->value.len + 2 &&
		    memcmp(old->value.p + 2, h->value.p, h->value.len) == 0)
			return old;
	}
	return h;
}

size_t cache_head_merge(const struct http_message *stored, const struct http_message *fresh,
			char *out, size_t cap)
{
	struct head_writer w = { out, out + cap, false };
	unsigned i;

	hw_put_status_line(&w, stored->status, stored->reason);
	for (i = 0; i < stored->nheaders; i++)
		if (!has_field(fresh, stored->headers[i].name) && kept(&stored->headers[i], 0))
			hw_put_header(&w, &stored->headers[i]);
	for (i = 0; i < fresh->nheaders; i++)
		if (kept(&fresh->headers[i], 0))
			hw_put_header(&w, merged_field(stored, &fresh->headers[i]));
	return hw_finish(&w, out);
}

/* ---- Vary ---- */

/* Whether the lower-case name[len] is in list ("a, b"). */
static bool listed(const char *list, size_t list_len, const char *name, size_t len)
{
	const char *p = list, *end = list + list_len;
	struct slice item;

	while (slice_list_next(&p, end, &item))
		if (item.len == len && memcmp(item.p, name, len) == 0)
			return true;
	return false;
}

size_t cache_vary_names(const struct http_message *resp, char *out, size_t cap, bool *star)
{
	size_t n = 0, i, k;
	struct slice item;
	char name[64];

	*star = false;
	for (i = 0; i < resp->nheaders; i++) {
		struct slice v = resp->headers[i].value;
		const char *p = v.p, *end = v.p + v.len;

		if (!slice_ieq(resp->headers[i].name, "vary"))
			continue;
		while (slice_list_next(&p, end, &item)) {
			if (item.len == 1 && item.p[0] == '*')
				*star = true;
			if (item.len == 0 || item.len >= sizeof(name))
				continue;
			for (k = 0; k < item.len; k++)
				name[k] = (char)tolower((unsigned char)item.p[k]);
			if (listed(out, n, name, item.len))
				continue;
			if (n + item.len + 2 > cap)
				return cap + 1;
			if (n > 0) {
				memcpy(out + n, ", ", 2);
				n += 2;
			}
			memcpy(out + n, name, item.len);
			n += item.len;
		}
	}
	return n;
}

/* Accept-Encoding as a variant is chosen by it: which of the codings a
 * server may answer with the client takes, "," between them ("" for
 * none). */
static size_t normalize_accept_encoding(const struct http_message *req, char *out, size_t cap)
{
	struct accept_coding a;
	size_t n = 0, len;
	unsigned i;

	http_accept_coding(req, &a);
	for (i = 0; i < CODING_COUNT; i++) {
		const char *name = http_coding_name((enum http_coding)i);

		if (!accept_coding_allows(&a, (enum http_coding)i))
			continue;
		len = strlen(name);
		if (n + len + 1 > cap)
			return cap + 1;
		if (n > 0)
			out[n++] = ',';
		memcpy(out + n, name, len);
		n += len;
	}
	return n;
}

bool cache_vary_key(const struct http_message *req, struct slice names, char *key, size_t *len,
		    size_t cap)
{
	const char *p = names.p, *end = names.p + names.len;
	size_t n = *len, i;
	struct slice name;
	char lower[64];

	while (slice_list_next(&p, end, &name)) {
		if (name.len >= sizeof(lower) || n + name.len + 3 > cap)
			return false;
		memcpy(lower, name.p, name.len);
		lower[name.len] = '\0';
		key[n++] = '\n';
		memcpy(key + n, name.p, name.len);
		n += name.len;
		key[n++] = ':';
		if (strcmp(lower, "accept-encoding") == 0) {
			size_t m = normalize_accept_encoding(req, key + n, cap - n);

			if (m > cap - n)
				return false;
			n += m;
			continue;
		}
		/* every line of the field, in order, as one list */
		for (i = 0; i < req->nheaders; i++) {
			struct slice v = req->headers[i].value;

			if (!slice_ieq(req->headers[i].name, lower))
				continue;
			if (n + v.len + 2 > cap)
				return false;
			memcpy(key + n, v.p, v.len);
			n += v.len;
			key[n++] = ',';
		}
	}
	*len = n;
	return true;
}
