/*
 * cache_fill.c: the cache module at the response head: store the answer
 * as its body streams to the client, as it is sent (gzip's and gunzip's
 * head filters run first: one variant per encoding, under the Vary they
 * add), refresh a stored answer the server confirmed (304), answer stale
 * when the server failed, drop what an unsafe method changed, and say
 * what happened in Cache-Status.
 */
#include "config.h"

#include <stdio.h>

#include "log.h"
#include "modules/cache_state.h"

void cache_fill_abort(struct cache_state *st)
{
	if (!st->filling)
		return;
	cs_abort(st->cs, &st->w);
	st->filling = false;
}

static int64_t request_time(const struct exchange *x, int64_t now)
{
	return now - (int64_t)((ev_now_us() - x->start_us) / 1000000);
}

/* ---- the body, as it streams ---- */

static void store_piece(struct exchange *x, struct cache_state *st, struct slice s)
{
	if (st->body_stored + s.len > st->zone->max_object) {
		st->detail = "too-large";
		cache_fill_abort(st);
		return;
	}
	if (cs_append(st->cs, &st->w, s.p, s.len) != P_OK) {
		exchange_log(x, LL_INFO, 0, "cache \"%s\": no room for an answer being stored",
			     st->zone->name);
		st->detail = "no-room";
		cache_fill_abort(st);
		return;
	}
	st->body_stored += s.len;
}

static void store_end(struct cache_state *st)
{
	uint64_t len = st->body_stored;

	if (cs_write_at(st->cs, &st->w, CACHE_META_BODY_LEN_AT, &len, sizeof(len)) != P_OK ||
	    cs_commit(st->cs, &st->w) != P_OK) {
		cache_fill_abort(st);
		return;
	}
	st->filling = false;
	st->stored = true;
}

/* The body filter of a fill: keeps a copy of what passes. */
static int tee(struct exchange *x, void *state, const struct body_out *in, bool last,
	       struct body_out *out)
{
	struct cache_state *st = state;
	unsigned i;

	for (i = 0; i < in->n; i++) {
		if (st->filling)
			store_piece(x, st, in->s[i]);
		if (body_emit(out, in->s[i]) != P_OK) {
			exchange_log(x, LL_ERROR, 0, "cache: more pieces of a body than a "
				     "filter passes on");
			return P_ERROR;
		}
	}
	if (last && st->filling)
		store_end(st);
	return P_OK;
}

/* ---- deciding to store ---- */

static bool status_listed(const struct conf_route *r, int status)
{
	if (!conf_route_statuses_listed(r))
		return true;
	return r->cache_statuses[(status - 100) / 64] & (1ULL << ((status - 100) % 64));
}

/* The meta and head of the answer, written first. */
static bool write_start(struct cache_state *st, const struct cache_meta *m, const char *head)
{
	return cs_append(st->cs, &st->w, m, sizeof(*m)) == P_OK &&
	       cs_append(st->cs, &st->w, head, m->head_len) == P_OK;
}

/* The answer varies on names. When the key held is the request's own,
 * the names are stored there and the answer goes under its secondary
 * key, taken now. When it is a secondary key already, it is kept if it
 * is still the one these names make, else the right one is taken. */
static bool key_for_variant(struct exchange *x, struct cache_state *st, const char *names,
			    size_t nlen)
{
	struct cache_meta m = { .magic = CACHE_META_MAGIC, .kind = OBJ_VARY,
				.head_len = (uint32_t)nlen, .lifetime = INT32_MAX };
	size_t klen = st->primary_len;

	if (st->klen == st->primary_len) {
		if (!write_start(st, &m, names) || cs_commit(st->cs, &st->w) != P_OK) {
			cache_fill_abort(st);
			return false;
		}
		st->filling = false;
	}
	memcpy(st->scratch, st->key, st->primary_len);
	if (!cache_vary_key(&x->req, (struct slice){ names, nlen }, st->scratch, &klen, st->kcap))
		return false;
	if (st->filling && klen == st->klen && memcmp(st->scratch, st->key, klen) == 0)
		return true;
	cache_fill_abort(st);
	memcpy(st->key, st->scratch, klen);
	st->klen = klen;
	st->filling = cs_begin(st->cs, st->key, klen, cache_writer, &st->w) == P_OK;
	return st->filling;
}

/* The response as its head will be sent (what the head filters before
 * the cache made of it: the fields they dropped out, those they added
 * in), so that what is stored is what the client gets; false when it
 * has more fields than a head holds. */
static bool as_sent(const struct exchange *x, struct http_message *view)
{
	const struct http_message *resp = &x->resp;
	unsigned i, n = 0;

	*view = *resp;
	for (i = 0; i < resp->nheaders; i++)
		if (!(resp->headers[i].flags & HTTP_HDR_DROP))
			view->headers[n++] = resp->headers[i];
	if (n + x->nadded > HTTP_MAX_HEADERS)
		return false;
	for (i = 0; i < x->nadded; i++)
		view->headers[n++] = x->added[i];
	view->nheaders = n;
	return true;
}

static bool too_large(const struct cache_state *st, const struct http_message *resp)
{
	return resp->framing == HTTP_BODY_LENGTH && resp->content_length > st->zone->max_object;
}

/* What decides whether rt's answers are stored. A route behind
 * authentication lets a request in by its credentials, which need not
 * be in Authorization (a session cookie forward authentication reads, a
 * JWT taken from a cookie): its answers are shared only when marked so,
 * as those to a request with Authorization are. */
static struct cache_rules rules_of(const struct conf_route *rt)
{
	return (struct cache_rules){ .ignore = rt->cache_ignore, .valid_s = rt->cache_valid / 1000,
				     .credentials = conf_route_authenticates(rt) };
}

/* Whether the answer is stored, and if so, its start written and the
 * filter that copies the body set. */
static void start_store(struct exchange *x, struct cache_state *st)
{
	const struct conf_route *rt = x->route;
	struct cache_rules rules = rules_of(rt);
	struct http_message sent, *resp = &sent;
	enum http_cache_refusal why;
	int64_t now = cache_now();
	struct cache_meta m;
	bool star = false;
	size_t nlen = 0;

	if (x->own_answer || !status_listed(rt, x->resp.status) || too_large(st, &x->resp) ||
	    cache_no_store(x) || !as_sent(x, &sent)) {
		st->detail = too_large(st, &x->resp) ? "too-large" :
			     !status_listed(rt, x->resp.status) ? "status" : NULL;
		cache_fill_abort(st);
		return;
	}
	if (!cache_meta_make(&x->req, resp, &rules, request_time(x, now), now, &m, &why)) {
		st->detail = http_cache_refusal_name(why);
		cache_fill_abort(st);
		return;
	}
	if (!(rt->cache_ignore & CONF_IGNORE_VARY))
		nlen = cache_vary_names(resp, st->names, CACHE_NAMES_CAP, &star);
	if (star || nlen > CACHE_NAMES_CAP ||
	    (st->head == NULL && (st->head = buf_get()) == NULL) ||
	    (nlen > 0 && !key_for_variant(x, st, st->names, nlen)) ||
	    (m.head_len = (uint32_t)cache_head_write(resp, rt->cache_ignore, st->head->start,
						     (size_t)(st->head->end - st->head->start))) == 0 ||
	    !write_start(st, &m, st->head->start) ||
	    exchange_add_body_filter(x, (struct body_filter){ tee, st, true }) < 0)
		cache_fill_abort(st);
}

/* ---- a 304 to our validators ---- */

/* The stored answer with the 304's fields, stored anew, then answered.
 * Its body is copied over within the zone. */
static bool refresh(struct exchange *x, struct cache_state *st)
{
	const struct conf_route *rt = x->route;
	struct cache_rules rules = rules_of(rt);
	struct http_message stored, merged;
	int64_t now = cache_now();
	enum http_cache_refusal why;
	struct cache_meta m;
	char copy[4096], *head, *out;
	size_t cap, len;
	ssize_t n;

	if (st->head == NULL && (st->head = buf_get()) == NULL)
		return false;
	head = st->head->start;
	cap = (size_t)(st->head->end - st->head->start) / 2;
	if (cache_find(x, st) != CS_HIT || st->meta.head_len > cap ||
	    cs_read(st->cs, &st->r, head, st->meta.head_len) != (ssize_t)st->meta.head_len ||
	    http_parse_response(head, st->meta.head_len, &stored, &x->ctx->head_limits,
				HTTP_GET) != P_OK)
		return false;
	out = head + st->meta.head_len;
	len = cache_head_merge(&stored, &x->resp, out, cap);
	if (len == 0 || http_parse_response(out, len, &merged, &x->ctx->head_limits,
					    HTTP_GET) != P_OK ||
	    !cache_meta_make(&x->req, &merged, &rules, request_time(x, now), now, &m, &why))
		return false;
	m.head_len = (uint32_t)len;
	m.body_len = st->meta.body_len;
	if (!write_start(st, &m, out))
		return false;
	while ((n = cs_read(st->cs, &st->r, copy, sizeof(copy))) > 0)
		if (cs_append(st->cs, &st->w, copy, (size_t)n) != P_OK)
			return false;
	if (n < 0 || cs_commit(st->cs, &st->w) != P_OK)
		return false;
	st->filling = false;
	return true;
}

/* After the server confirmed it: the refreshed answer, or the old one
 * when it could not be stored again. */
static void answer_validated(struct exchange *x, struct cache_state *st)
{
	if (!refresh(x, st))
		exchange_log(x, LL_WARN, 0, "cache \"%s\": a revalidated answer could not be "
			     "stored again", st->zone->name);
	cache_fill_abort(st);
	cache_forget_validators(x, st);
	if (cache_find(x, st) == CS_HIT && cache_serve(x, st)) {
		st->hit = true;
		return;
	}
	exchange_log(x, LL_ERROR, 0, "cache \"%s\": a revalidated answer was evicted",
		     st->zone->name);
	exchange_respond(x, 502, TERM_RESOURCE, false);
}

/* ---- the server failed ---- */

static bool may_serve_stale_on_error(const struct exchange *x, const struct cache_state *st)
{
	const struct cache_meta *m = &st->meta;

	return st->have_stored && (x->own_answer || x->resp.status >= 500) &&
	       !(m->flags & (META_MUST_REVALIDATE | META_NO_CACHE)) &&
	       cache_meta_staleness(m, cache_now()) < (int64_t)m->stale_if_error;
}

static bool answer_stale(struct exchange *x, struct cache_state *st)
{
	cache_fill_abort(st);
	cache_forget_validators(x, st);
	if (cache_find(x, st) != CS_HIT || !cache_serve(x, st))
		return false;
	st->hit = st->stale_served = true;
	st->detail = "stale-if-error";
	return true;
}

/* ---- unsafe methods ---- */

/* The answers under key[len], every variant too (key has room for one
 * byte more). */
static void drop_key(struct cache_state *st, char *key, size_t len)
{
	cs_remove(st->cs, key, len);
	key[len] = '\n';
	cs_remove_prefix(st->cs, key, len + 1);
}

/* A POST, PUT, DELETE or PATCH that worked changed the target, and the
 * Location and Content-Location it names on the same site (RFC 9111 4.4). */
static void invalidate(struct exchange *x, struct cache_state *st)
{
	static const char *const fields[] = { "location", "content-location" };
	unsigned i;
	size_t len;

	if (x->own_answer || x->resp.status < 200 || x->resp.status >= 400)
		return;
	drop_key(st, st->key, st->primary_len);
	for (i = 0; i < ARRAY_LEN(fields); i++) {
		len = cache_key_of_uri(x, http_header_value(&x->resp, fields[i]), st->scratch,
				       st->kcap - 1);
		if (len > 0)
			drop_key(st, st->scratch, len);
	}
}

/* ---- Cache-Status (RFC 9211), and the access log's word ---- */

/* In the words of nginx's $upstream_cache_status, which log readers know. */
static const char *result_word(const struct cache_state *st)
{
	if (st->stale_served)
		return "STALE";
	if (st->hit)
		return st->fwd == FWD_NONE ? "HIT" : "REVALIDATED";
	switch (st->fwd) {
	case FWD_BYPASS:
	case FWD_METHOD:
		return "BYPASS";
	case FWD_STALE:
		return "EXPIRED";
	default:
		return "MISS";
	}
}

static const char *fwd_name(enum cache_fwd f)
{
	switch (f) {
	case FWD_BYPASS: return "bypass";
	case FWD_METHOD: return "method";
	case FWD_URI_MISS: return "miss";
	case FWD_VARY_MISS: return "vary-miss";
	case FWD_MISS: return "miss";
	case FWD_REQUEST: return "request";
	case FWD_STALE: return "stale";
	default: return NULL;
	}
}

static int add_cache_status(struct exchange *x, struct cache_state *st)
{
	char *p = st->status_text, *end = p + sizeof(st->status_text);
	const char *fwd = fwd_name(st->fwd);

	p += snprintf(p, (size_t)(end - p), "portico");
	if (st->hit && fwd == NULL)
		p += snprintf(p, (size_t)(end - p), "; hit");
	if (fwd != NULL)
		p += snprintf(p, (size_t)(end - p), "; fwd=%s", fwd);
	if (fwd != NULL && st->fwd_status > 0)
		p += snprintf(p, (size_t)(end - p), "; fwd-status=%d", st->fwd_status);
	if (st->hit)
		p += snprintf(p, (size_t)(end - p), "; ttl=%lld",
			      (long long)(st->meta.lifetime - cache_meta_age(&st->meta, cache_now())));
	if (st->filling)
		p += snprintf(p, (size_t)(end - p), "; stored");
	if (st->detail != NULL)
		p += snprintf(p, (size_t)(end - p), "; detail=%s", st->detail);
	if (p >= end)
		p = end - 1;
	x->cache_result = result_word(st);
	return exchange_add_field(x, SLICE_LIT("Cache-Status"),
				  (struct slice){ st->status_text, (size_t)(p - st->status_text) });
}

/* ---- the hook ---- */

int cache_response_head(struct exchange *x)
{
	struct cache_state *st = x->cache;

	if (st == NULL || st->purge)
		return P_OK;
	if (!st->hit) {
		if (!x->own_answer)
			st->fwd_status = x->resp.status;
		if (!(may_serve_stale_on_error(x, st) && answer_stale(x, st))) {
			if (st->revalidating && !x->own_answer && x->resp.status == 304)
				answer_validated(x, st);
			else if (st->filling)
				start_store(x, st);
		}
		if (st->invalidate)
			invalidate(x, st);
	}
	return add_cache_status(x, st) == 0 ? P_OK : P_ERROR;
}
