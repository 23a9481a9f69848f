/*
 * auth_cache.h: decisions of authentication that every worker reuses for
 * a short time, in the "auth" shared-memory zone (auth_cache_size):
 * passwords basic authentication has verified, tokens whose signature
 * was verified, answers of a forward-auth server.
 *
 * Owns: the zone's table (shm_table.h). Each kind of authentication makes
 * its own keys, hashed to at most AUTH_CACHE_KEY_MAX bytes so that no
 * secret is kept in clear, and its own values. Times are milliseconds of
 * CLOCK_MONOTONIC, which every process reads alike.
 */
#ifndef PORTICO_AUTH_CACHE_H
#define PORTICO_AUTH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm.h"

#define AUTH_CACHE_KEY_MAX	32
#define AUTH_CACHE_VALUE_MAX	1024
#define AUTH_CACHE_TAG_LEN	32

enum auth_cache_kind {
	AUTH_CACHE_BASIC = 1,		/* auth_basic: a verified password */
	AUTH_CACHE_JWT,			/* auth_jwt: a verified signature */
	AUTH_CACHE_REQUEST		/* auth_request: the auth server's answer */
};

struct auth_cache;

/* The cache's root, made in zone z by the master (NULL when z is full). */
struct auth_cache *auth_cache_create(struct shm_zone *z);

/* Keep val[vlen] under (kind, key) until expires_ms, evicting the least
 * recently used decisions when the zone is full. 0, or -1 when the key or
 * value is too long or it does not fit. */
int auth_cache_put(struct auth_cache *c, unsigned kind, const uint8_t *key, size_t klen,
		   const void *val, size_t vlen, uint64_t expires_ms);

/* The value under (kind, key) copied into out[cap]: its length, or -1
 * when there is none, it expired or it is longer than cap. */
ssize_t auth_cache_get(struct auth_cache *c, unsigned kind, const uint8_t *key, size_t klen,
		       void *out, size_t cap, uint64_t now_ms);

/* A decision's key: HMAC-SHA-256 of parts, each with its length (two
 * lists never give the same text), keyed by tag: random bytes made with
 * the settings the decision belongs to, so that a key never outlives a
 * reading of them and nobody can test guesses of a secret against one.
 * false when OpenSSL fails. */
bool auth_cache_key(const uint8_t tag[AUTH_CACHE_TAG_LEN], const struct slice *parts,
		    unsigned n, uint8_t key[AUTH_CACHE_KEY_MAX]);

/* How many decisions it holds (the status page). */
unsigned auth_cache_count(struct auth_cache *c);

#endif
