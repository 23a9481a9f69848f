/*
 * cache_state.h: what the cache module keeps for one exchange of a cached
 * route (x->cache), shared by cache.c, cache_key.c, cache_serve.c and
 * cache_fill.c (each file says what it owns; none calls a file above it:
 * cache.c uses the others, cache_fill.c uses cache_serve.c and
 * cache_key.c).
 */
#ifndef PORTICO_MODULES_CACHE_STATE_H
#define PORTICO_MODULES_CACHE_STATE_H

#include <sys/types.h>

#include "cache_object.h"
#include "cache_store.h"
#include "exchange.h"

/* Why the request went to the server, as Cache-Status' fwd says it. */
enum cache_fwd {
	FWD_NONE = 0,		/* it did not: a hit */
	FWD_BYPASS,		/* cache_bypass said so */
	FWD_METHOD,		/* a method the cache does not answer */
	FWD_URI_MISS,		/* nothing stored under the key */
	FWD_VARY_MISS,		/* answers stored, none for these fields */
	FWD_MISS,		/* the lock wait ran out */
	FWD_REQUEST,		/* the client asked for a fresh one */
	FWD_STALE		/* the stored answer needed validating */
};

struct cache_state {
	struct cache_state *next_free;
	struct cache_store *cs;
	const struct conf_cache *zone;
	uint8_t fwd;			/* enum cache_fwd */
	bool hit;			/* answered from the store ... */
	bool stale_served;		/* ... with a stale answer ... */
	const char *detail;		/* ... or a note for Cache-Status */
	bool filling;			/* holds w: this exchange fetches key */
	bool stored;			/* what it fetched was stored */
	bool revalidating;		/* the request carries our validators */
	bool have_stored;		/* r and meta: an answer under key */
	bool invalidate;		/* unsafe method: drop the URI if it works */
	bool purge;			/* a PURGE: no Cache-Status */
	int fwd_status;			/* the server's status, when it answered */
	uint32_t uses;			/* the URL's requests before this one,
					 * while fewer than cache_min_uses */
	struct cs_writer w;
	struct cs_reader r;		/* the stored answer, after its meta */
	struct cache_meta meta;		/* ... its meta */
	uint64_t body_stored;		/* of the fill */
	uint64_t wait_until;		/* ms: the wait for another's fill ends */
	unsigned poll_ms;
	size_t klen;			/* key[0..klen): the answer's key */
	size_t primary_len;		/* key[0..primary_len): the request's */
	struct buf *keybuf;		/* holds key, names, validators, scratch */
	struct buf *head;		/* a head being answered or stored */
	size_t kcap;			/* room for a key, and for scratch */
	char *key;
	char *names;			/* Vary's names read from the store */
	char *scratch;			/* a second key */
	char status_text[160];		/* Cache-Status */
	char age_text[24];
	char length_text[24];
	char range_text[64];
	char tail[PUMP_VIEW_TAIL];	/* an answer's last bytes, copied */
	char *cond_etag;		/* our validators, in keybuf ... */
	char *cond_date;
	unsigned nvalidators;		/* ... added to x->req's fields */
};

#define CACHE_NAMES_CAP		1024
#define CACHE_VALIDATOR_CAP	512

/* cache_serve.c: answer x from the stored answer in st (r positioned
 * after its meta); false when it cannot be read (evicted meanwhile). */
bool cache_serve(struct exchange *x, struct cache_state *st);

/* This worker's pid: who the store knows a fill's writer by (cache.c). */
extern pid_t cache_writer;

/* cache_refresh.c: refresh the answer x found stale in the background,
 * with a request of portico's own; false when none can be started. */
bool cache_refresh_start(const struct exchange *x);

/* cache_fill.c: the response head hook's work: store, refresh, answer
 * stale, invalidate; then Cache-Status. */
int cache_response_head(struct exchange *x);

/* Let go of a fill in progress (the exchange ended before the body). */
void cache_fill_abort(struct cache_state *st);

/* cache_key.c: the request's key from the route's cache_key (false when
 * it is empty or too long). */
bool cache_make_key(struct exchange *x, struct cache_state *st);

/* cache_key.c: the key a URI of this request's site would be stored
 * under (invalidation of Location); its length in out, or 0. */
size_t cache_key_of_uri(const struct exchange *x, struct slice uri, char *out, size_t cap);

/* cache_key.c: find the answer for the key: under it, or under Vary's
 * secondary key; CS_HIT (st->r after its meta), CS_BUSY or CS_MISS. */
int cache_find(struct exchange *x, struct cache_state *st);

/* cache_key.c: whether one of n expressions is neither empty nor "0"
 * (cache_bypass), and whether cache_no_store says so. */
bool cache_any_holds(const struct exchange *x, const struct conf_expr *e, unsigned n);
bool cache_no_store(const struct exchange *x);

/* cache_key.c: the stored answer's validators (r after its meta) on the
 * request, to revalidate it; false when it has none. And out again, so
 * that only the client's own preconditions are answered. */
bool cache_add_validators(struct exchange *x, struct cache_state *st);
/* cache_key.c: whether a request field is one of the client's own
 * preconditions or its range, which a fetch for the store leaves out. */
bool cache_client_condition(struct slice name);
void cache_forget_validators(struct exchange *x, struct cache_state *st);

#endif
