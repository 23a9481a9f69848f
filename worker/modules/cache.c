/*
 * cache.c: the cache module's decisions: claim a cached route's request,
 * look its answer up, and answer from the store, wait for another
 * request's fetch, or send it to the server (to fetch or to revalidate);
 * PURGE. Storing is cache_fill.c's, answering cache_serve.c's.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "cidr.h"
#include "proxy.h"
#include "modules/cache.h"
#include "modules/cache_state.h"

#define POLL_MAX_MS	64

static struct cache_state *free_states;
pid_t cache_writer;

static struct cache_state *state_new(struct exchange *x)
{
	struct cache_state *st = free_states;

	if (st != NULL)
		free_states = st->next_free;
	else if ((st = malloc(sizeof(*st))) == NULL)
		return NULL;
	memset(st, 0, sizeof(*st));
	if ((st->keybuf = buf_get()) == NULL) {
		st->next_free = free_states;
		free_states = st;
		return NULL;
	}
	/* the key (with Vary's part), Vary's names, our validators, and
	 * room for a second key */
	st->kcap = MIN((size_t)CS_KEY_MAX,
		       ((size_t)(st->keybuf->end - st->keybuf->start) - 2 * CACHE_NAMES_CAP) / 2);
	st->key = st->keybuf->start;
	st->names = st->key + st->kcap;
	st->cond_etag = st->cond_date = NULL;
	st->scratch = st->names + 2 * CACHE_NAMES_CAP;
	st->zone = x->route->cache;
	st->cs = x->ctx->caches[st->zone->index];
	x->cache = st;
	return st;
}

static void state_free(struct cache_state *st)
{
	buf_put(st->keybuf);
	buf_put(st->head);
	st->next_free = free_states;
	free_states = st;
}

/* ---- the client's wishes ---- */

/* The request asks for an answer the server confirmed: no-cache, or an
 * age the stored answer is past (Cache-Control, or Pragma without it). */
static bool wants_validated(const struct exchange *x, const struct cache_meta *m)
{
	struct http_cc cc;

	if (http_header_value(&x->req, "cache-control").p == NULL)
		return slice_ieq(http_header_value(&x->req, "pragma"), "no-cache");
	http_cc_parse(&x->req, &cc);
	return (cc.flags & CC_NO_CACHE) ||
	       (cc.max_age != CC_UNSET && cache_meta_age(m, cache_now()) > cc.max_age);
}

static bool only_if_cached(const struct exchange *x)
{
	struct http_cc cc;

	http_cc_parse(&x->req, &cc);
	return cc.flags & CC_ONLY_IF_CACHED;
}

/* ---- to the server ---- */

/* The client's own preconditions and range stay here: the server is
 * asked for the whole answer, which is stored, and the client's are
 * answered from it next time. */
static void drop_client_conditions(struct exchange *x)
{
	unsigned i;

	for (i = 0; i < x->req.nheaders; i++) {
		struct http_header *h = &x->req.headers[i];

		if (cache_client_condition(h->name))
			h->flags |= HTTP_HDR_DROP;
	}
}

/* To the server, holding the key (filling) or not. */
static void forward(struct exchange *x, struct cache_state *st)
{
	if (st->filling)
		drop_client_conditions(x);
	if (st->revalidating && !cache_add_validators(x, st))
		st->revalidating = false;	/* a whole answer replaces the stored one */
	proxy_start(x);
}

/* Take the key for this exchange's fetch: P_OK, CS_BUSY (another fetches
 * it) or P_ERROR (no room: fetched, not stored). */
static int take_key(struct cache_state *st)
{
	int r = cs_begin(st->cs, st->key, st->klen, cache_writer, &st->w);

	st->filling = r == P_OK;
	return r;
}

/* ---- waiting for another request's fetch ---- */

static bool act(struct exchange *x, struct cache_state *st, int found, bool waited);

static int wait_run(struct exchange *x)
{
	struct cache_state *st = x->cache;
	int found = cache_find(x, st);

	if (found == CS_BUSY && ev_now() < st->wait_until)
		return P_AGAIN;
	return act(x, st, found, true) ? P_OK : P_AGAIN;
}

/* Polls, from 1 ms up: a fetch usually takes a round trip to a server. */
static unsigned wait_ms(const struct exchange *x)
{
	const struct cache_state *st = x->cache;
	uint64_t now = ev_now();

	if (now >= st->wait_until)
		return 1;
	return (unsigned)MIN((uint64_t)st->poll_ms, st->wait_until - now);
}

static void wait_timeout(struct exchange *x)
{
	struct cache_state *st = x->cache;

	st->poll_ms = MIN(st->poll_ms * 2, (unsigned)POLL_MAX_MS);
}

static const struct content wait_content = {
	.name = "cache wait",
	.run = wait_run,
	.wait_ms = wait_ms,
	.timeout = wait_timeout,
};

static void start_wait(struct exchange *x, struct cache_state *st)
{
	STATS_ADD(x->ctx->stats, c.cache_collapsed, 1);
	st->wait_until = ev_now() + x->route->cache_lock_timeout;
	st->poll_ms = 1;
	exchange_set_content(x, &wait_content);
	exchange_goto(x, PH_WAIT);
}

/* ---- deciding ---- */

static void answer_stored(struct exchange *x, struct cache_state *st, bool stale)
{
	st->hit = true;
	st->stale_served = stale;
	st->fwd = FWD_NONE;
	if (cache_serve(x, st))
		return;
	/* evicted while we looked: fetch it */
	st->hit = st->stale_served = st->have_stored = false;
	st->fwd = FWD_URI_MISS;
	if (x->req.method_id == HTTP_GET)
		take_key(st);
	forward(x, st);
}

/* Served stale while another request refreshes it (stale-while-revalidate
 * of N: up to N seconds past its freshness; without it, never). */
static bool stale_while_refreshing(const struct cache_meta *m)
{
	return !(m->flags & (META_MUST_REVALIDATE | META_NO_CACHE)) &&
	       cache_meta_staleness(m, cache_now()) < (int64_t)m->stale_while_revalidate;
}

/* A stored answer that needs the server's word: revalidate it, unless
 * another request does already; within stale-while-revalidate, in the
 * background while this client gets it stale. false: keep waiting. */
static bool stored_stale(struct exchange *x, struct cache_state *st, bool waited)
{
	bool may_be_stale = st->fwd != FWD_REQUEST && stale_while_refreshing(&st->meta);
	int r;

	if (st->fwd != FWD_REQUEST)
		st->fwd = FWD_STALE;
	r = take_key(st);
	if (r == P_OK && may_be_stale && !x->client.background) {
		/* the refresh takes the key itself, in its own exchange */
		cs_abort(st->cs, &st->w);
		st->filling = false;
		if (cache_refresh_start(x)) {
			answer_stored(x, st, true);
			return true;
		}
		r = take_key(st);
	}
	if (r == CS_BUSY) {
		if (may_be_stale) {
			answer_stored(x, st, true);
			return true;
		}
		if (!waited) {
			start_wait(x, st);
			return true;
		}
		if (ev_now() < st->wait_until)
			return false;
	}
	st->revalidating = r == P_OK;
	forward(x, st);
	return true;
}

/* Not asked for cache_min_uses times yet: count this one instead of
 * storing the answer. */
static void count_use(struct cache_state *st)
{
	struct cache_meta m = { .magic = CACHE_META_MAGIC, .kind = OBJ_COUNT,
				.uses = st->uses + 1 };

	st->detail = "min-uses";
	if (st->klen != st->primary_len ||
	    cs_append(st->cs, &st->w, &m, sizeof(m)) != P_OK || cs_commit(st->cs, &st->w) != P_OK)
		cs_abort(st->cs, &st->w);
	st->filling = false;
}

/* Nothing stored fits: fetch it, unless another request does already.
 * false: keep waiting for that one. */
static bool not_stored(struct exchange *x, struct cache_state *st, bool waited)
{
	int r;

	if (only_if_cached(x)) {
		st->detail = "only-if-cached";
		exchange_respond(x, 504, TERM_LOCAL, false);
		return true;
	}
	if (st->fwd == FWD_NONE)
		st->fwd = FWD_URI_MISS;
	if (x->req.method_id != HTTP_GET) {
		forward(x, st);		/* HEAD: nothing to store */
		return true;
	}
	r = take_key(st);
	if (r == CS_BUSY && !waited) {
		start_wait(x, st);
		return true;
	}
	if (r == CS_BUSY) {
		if (ev_now() < st->wait_until)
			return false;
		st->fwd = FWD_MISS;
		st->detail = "lock-timeout";
	}
	if (st->filling && st->uses + 1 < x->route->cache_min_uses)
		count_use(st);
	forward(x, st);
	return true;
}

/* What the lookup found decides: answer, wait, or ask the server. false
 * when the exchange waits on (for another request's fetch). */
static bool act(struct exchange *x, struct cache_state *st, int found, bool waited)
{
	if (found == CS_HIT) {
		st->have_stored = true;
		if (wants_validated(x, &st->meta))
			st->fwd = FWD_REQUEST;
		else if (cache_meta_fresh(&st->meta, cache_now())) {
			answer_stored(x, st, false);
			return true;
		}
		return stored_stale(x, st, waited);
	}
	if (found == CS_BUSY && !waited) {
		start_wait(x, st);
		return true;
	}
	if (found == CS_BUSY) {
		st->fwd = FWD_MISS;
		st->detail = "lock-timeout";
		forward(x, st);
		return true;
	}
	return not_stored(x, st, waited);
}

/* ---- PURGE ---- */

static void put_json_string(char *out, size_t cap, size_t *n, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len && *n + 8 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			*n += (size_t)snprintf(out + *n, cap - *n, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			*n += (size_t)snprintf(out + *n, cap - *n, "\\u%04x", c);
		else
			out[(*n)++] = (char)c;
	}
}

/* PURGE of a URL drops its answers (every variant); of a URL ending in
 * '*', every answer whose key starts with what comes before it. */
static void purge(struct exchange *x, struct cache_state *st)
{
	const struct conf_route *rt = x->route;
	struct http_message *r = &x->req;
	bool prefix = r->target.len > 0 && r->target.p[r->target.len - 1] == '*';
	unsigned removed;
	char body[1024];
	size_t n = 0;

	if (!cidr_list_match(rt->cache_purge, rt->ncache_purge, exchange_client_bin(x))) {
		exchange_log(x, LL_INFO, 0, "PURGE from an address not in cache_purge, refused");
		exchange_respond(x, 403, TERM_PROXY, false);
		return;
	}
	if (prefix) {
		r->target.len--;
		r->path.len -= r->path.len > 0 && r->path.p[r->path.len - 1] == '*';
	}
	if (!cache_make_key(x, st)) {
		exchange_respond(x, 414, TERM_PROXY, false);
		return;
	}
	if (prefix) {
		removed = cs_remove_prefix(st->cs, st->key, st->klen);
	} else {
		removed = (unsigned)cs_remove(st->cs, st->key, st->klen);
		st->key[st->klen] = '\n';
		removed += cs_remove_prefix(st->cs, st->key, st->klen + 1);
	}
	exchange_log(x, LL_NOTICE, 0, "cache \"%s\": PURGE removed %u answers", st->zone->name,
		     removed);
	n = (size_t)snprintf(body, sizeof(body), "{\"purged\": %u, \"%s\": \"", removed,
			     prefix ? "prefix" : "key");
	put_json_string(body, sizeof(body), &n, st->key, st->klen);
	n += (size_t)snprintf(body + n, sizeof(body) - n, "\"}\n");
	exchange_respond_body(x, removed > 0 ? 200 : 404, "application/json", body,
			      MIN(n, sizeof(body) - 1));
}

/* ---- the hooks ---- */

static bool unsafe(int method)
{
	return method == HTTP_POST || method == HTTP_PUT || method == HTTP_DELETE ||
	       method == HTTP_PATCH;
}

static bool answered_from_cache(const struct exchange *x)
{
	unsigned m = x->route->cache_methods;

	return (x->req.method_id == HTTP_GET && (m & CONF_CACHE_GET)) ||
	       (x->req.method_id == HTTP_HEAD && (m & CONF_CACHE_HEAD));
}

/* A request the cache does not answer: to the server, which the
 * upstream module's hook after this one does; GET under cache_bypass
 * still refreshes the store. */
static bool pass(struct exchange *x, struct cache_state *st, enum cache_fwd why)
{
	st->fwd = (uint8_t)why;
	if (why == FWD_BYPASS && x->req.method_id == HTTP_GET)
		take_key(st);
	return false;
}

static bool cache_claim(struct exchange *x)
{
	struct cache_state *st;

	if (x->route == NULL || x->route->cache == NULL)
		return false;
	if ((st = state_new(x)) == NULL) {
		exchange_log(x, LL_ERROR, ENOMEM, "no memory to look the cache up");
		return false;
	}
	if (x->req.method.len == 5 && memcmp(x->req.method.p, "PURGE", 5) == 0) {
		st->purge = true;
		purge(x, st);
		return true;
	}
	if (!cache_make_key(x, st)) {
		st->detail = "key-too-long";
		return pass(x, st, FWD_BYPASS);
	}
	if (unsafe(x->req.method_id)) {
		st->invalidate = true;
		return pass(x, st, FWD_METHOD);
	}
	if (!answered_from_cache(x))
		return pass(x, st, FWD_METHOD);
	if (cache_any_holds(x, x->route->cache_bypass, x->route->ncache_bypass))
		return pass(x, st, FWD_BYPASS);
	act(x, st, cache_find(x, st), false);
	return true;
}

static void cache_count(const struct exchange *x)
{
	const struct cache_state *st = x->cache;
	struct stats_proc *s = x->ctx->stats;

	if (st == NULL)
		return;
	if (st->stale_served)
		STATS_ADD(s, c.cache_stale, 1);
	else if (st->hit && st->fwd == FWD_NONE)
		STATS_ADD(s, c.cache_hits, 1);
	else if (st->hit)
		STATS_ADD(s, c.cache_revalidated, 1);
	else if (st->fwd == FWD_BYPASS || st->fwd == FWD_METHOD)
		STATS_ADD(s, c.cache_bypassed, 1);
	else if (st->fwd != FWD_NONE)
		STATS_ADD(s, c.cache_misses, 1);
	if (st->stored)
		STATS_ADD(s, c.cache_stored, 1);
}

static void cache_end(struct exchange *x)
{
	struct cache_state *st = x->cache;

	if (st == NULL)
		return;
	cache_fill_abort(st);
	state_free(st);
	x->cache = NULL;
}

static int cache_init(const struct worker_ctx *ctx)
{
	(void)ctx;
	cache_writer = getpid();
	return 0;
}

const struct module cache_module = {
	.name = "cache",
	.init = cache_init,
	.content = cache_claim,
	.response_head = cache_response_head,
	.log = cache_count,
	.end = cache_end,
};
