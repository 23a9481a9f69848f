/*
 * tls_cache.h: TLS state shared by every worker, in the "tls" shared
 * memory zone: serialized sessions (server sessions by session ID, so
 * that a client resumes on any worker; upstream sessions by server, so
 * that portico resumes its own handshakes with backends) and the session
 * ticket keys.
 *
 * Owns: the zone's layout (a table of sessions, shm_table.h, and the key
 * ring beside it), and the keys: made and rotated by the
 * master, or installed by it from the operator's key files (the workers
 * only read keys).
 *
 * Every call takes the zone's lock for a copy in or out, never across
 * OpenSSL work. A worker that dies holding it makes the next caller drop
 * every session (the index may be half-updated); sessions are a cache, so
 * that costs full handshakes, never correctness.
 */
#ifndef PORTICO_TLS_CACHE_H
#define PORTICO_TLS_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "shm.h"

#define TLS_CACHE_ID_MAX	32
#define TLS_TICKET_KEYS		3	/* rotated: the current one and two before it */
#define TLS_TICKET_KEYS_MAX	8	/* from key files: the first and seven more */
#define TLS_TICKET_KEY_FILE	80	/* bytes of a key file: name, HMAC, AES-256 */
#define TLS_TICKET_KEY_FILE_SHORT 48	/* ... or name, AES-128, HMAC (16 each) */

enum tls_cache_kind {
	TLS_CACHE_SERVER = 1,		/* a client's session, by its ID */
	TLS_CACHE_UPSTREAM		/* our session with a server, by server */
};

struct tls_ticket_key {
	uint8_t name[16];
	uint8_t aes[32];		/* AES-256-CBC, or AES-128-CBC: 16 bytes */
	uint8_t hmac[32];		/* HMAC-SHA256 */
	uint8_t keylen;			/* of aes and hmac: 32, or 16 */
};

struct tls_cache;

/* The cache's root, made in zone z by the master (NULL when z is full). */
struct tls_cache *tls_cache_create(struct shm_zone *z);

/* Store a session (replacing one with the same kind and ID); evicts the
 * least recently used ones when the zone is full. 0, or -1 when it does
 * not fit at all. */
int tls_cache_put(struct tls_cache *c, int kind, const uint8_t *id, size_t idlen,
		  const uint8_t *der, size_t len, time_t expires);

/* Copy a live session into out[0..cap): its length, or 0 when there is
 * none (or it expired, or does not fit). */
size_t tls_cache_get(struct tls_cache *c, int kind, const uint8_t *id, size_t idlen,
		     uint8_t *out, size_t cap, time_t now);

void tls_cache_remove(struct tls_cache *c, int kind, const uint8_t *id, size_t idlen);

/* Sessions stored now (the status page shows it). */
unsigned tls_cache_count(struct tls_cache *c);

/* Master: make a new random key the current one; the two before it still
 * decrypt tickets. -1 when no random bytes could be had. */
int tls_cache_rotate_keys(struct tls_cache *c);

/* A key from the bytes of a key file (nginx's ssl_session_ticket_key
 * format, made with "openssl rand 80"): 0, or -1 when len is neither
 * TLS_TICKET_KEY_FILE nor TLS_TICKET_KEY_FILE_SHORT. */
int tls_ticket_key_parse(const uint8_t *buf, size_t len, struct tls_ticket_key *out);

/* Master: the operator's keys replace the ring, keys[0] the one new
 * tickets are encrypted with, the others (up to TLS_TICKET_KEYS_MAX in
 * all) only decrypt. */
void tls_cache_set_keys(struct tls_cache *c, const struct tls_ticket_key *keys, unsigned n);

/* Master: start from another cache's keys (a zone made anew on reload). */
void tls_cache_copy_keys(struct tls_cache *to, struct tls_cache *from);

/* The key new tickets are encrypted with: 0, or -1 when there is none. */
int tls_cache_current_key(struct tls_cache *c, struct tls_ticket_key *out);

/* The key named name: 1 when it is the current one, 2 when an older one
 * (the ticket should be renewed), 0 when unknown. */
int tls_cache_find_key(struct tls_cache *c, const uint8_t name[16],
		       struct tls_ticket_key *out);

#endif
