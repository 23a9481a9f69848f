/*
 * cache_object.h: how an answer lies in a cache zone, and the keys it is
 * found by.
 *
 * Owns: the stored form (a struct cache_meta, the response head as text,
 * then the body, after the key the store keeps), what of a response's
 * head is stored, the merging of a 304's fields into a stored head, and
 * Vary: the field names an answer varies on are stored as an object of
 * their own under the request's key (OBJ_VARY), and each answer under a
 * secondary key made of the key and the request's values of those
 * fields, Accept-Encoding normalised. Until a URL has been asked for
 * cache_min_uses times, an OBJ_COUNT under its key counts the requests.
 */
#ifndef PORTICO_CACHE_OBJECT_H
#define PORTICO_CACHE_OBJECT_H

#include <stdint.h>
#include <time.h>

#include "conf.h"
#include "http_cache.h"
#include "http_parse.h"

#define CACHE_META_MAGIC 0x31434f50u	/* "POC1" */

/* OBJ_COUNT: no answer yet, only how often it was asked for (min_uses). */
enum { OBJ_ANSWER = 1, OBJ_VARY = 2, OBJ_COUNT = 3 };

/* cache_meta.flags */
#define META_NO_CACHE		0x01	/* validated before every use */
#define META_MUST_REVALIDATE	0x02	/* never served stale */

struct cache_meta {
	uint32_t magic;
	uint8_t kind;			/* OBJ_* */
	uint8_t flags;			/* META_* */
	uint16_t status;
	uint32_t head_len;		/* the head's text, after this */
	uint32_t stale_while_revalidate;	/* s */
	uint32_t stale_if_error;	/* s */
	uint32_t uses;			/* OBJ_COUNT: requests so far */
	int64_t response_time;		/* s since the epoch: stored or validated */
	int64_t initial_age;		/* s: its age then */
	int64_t lifetime;		/* s fresh after it was made */
	uint64_t body_len;		/* written last, once known */
};

/* The byte of the stored data where body_len is, for the patch at the end. */
#define CACHE_META_BODY_LEN_AT offsetof(struct cache_meta, body_len)

/* The wall clock in seconds, as freshness counts it (Date, Expires). */
static inline int64_t cache_now(void)
{
	return (int64_t)time(NULL);
}

/* The age of a stored answer at now, in seconds. */
static inline int64_t cache_meta_age(const struct cache_meta *m, int64_t now)
{
	return m->initial_age + (now > m->response_time ? now - m->response_time : 0);
}

/* Whether it may be served without asking the server. */
static inline bool cache_meta_fresh(const struct cache_meta *m, int64_t now)
{
	return !(m->flags & META_NO_CACHE) && cache_meta_age(m, now) < m->lifetime;
}

/* How long past its freshness it is, in seconds (0 while fresh). */
static inline int64_t cache_meta_staleness(const struct cache_meta *m, int64_t now)
{
	int64_t over = cache_meta_age(m, now) - m->lifetime;

	return over > 0 ? over : 0;
}

/* What the route lets a response's own fields decide. */
struct cache_rules {
	unsigned ignore;		/* CONF_IGNORE_* */
	unsigned valid_s;		/* cache_valid, s; 0: the heuristic */
	bool credentials;		/* requests come in by authentication:
					 * each is taken as asked with
					 * Authorization */
};

/*
 * The meta of resp (kind OBJ_ANSWER, head_len and body_len left 0), from
 * its fields less those the rules ignore; request_time and response_time
 * bound the exchange. Returns false when the response may not be stored
 * at all, with the reason in *why.
 */
bool cache_meta_make(const struct http_message *req, const struct http_message *resp,
		     const struct cache_rules *rules, int64_t request_time,
		     int64_t response_time, struct cache_meta *m,
		     enum http_cache_refusal *why);

/* resp's head as stored: status line and the fields that are kept (no
 * hop-by-hop field, no framing, no Age; no Set-Cookie when the rules let
 * it be stored without). Its length, or 0 when it does not fit cap. */
size_t cache_head_write(const struct http_message *resp, unsigned ignore, char *out,
			size_t cap);

/* The stored head with a 304's fields in place of those it names (RFC
 * 9111 4.3.4); a stored weak ETag stays weak when the 304 has its strong
 * form (the stored body was recoded). Its length, or 0 when it does not
 * fit cap. */
size_t cache_head_merge(const struct http_message *stored, const struct http_message *fresh,
			char *out, size_t cap);

/* Vary's field names, lower-case, ", "-separated, into out; its length
 * (0: none), or cap + 1 when they do not fit. *star: Vary holds "*". */
size_t cache_vary_names(const struct http_message *resp, char *out, size_t cap, bool *star);

/* Append to key[*len] (room cap) the request's values of the fields in
 * names (as cache_vary_names made them); false when they do not fit. */
bool cache_vary_key(const struct http_message *req, struct slice names, char *key, size_t *len,
		    size_t cap);

#endif
