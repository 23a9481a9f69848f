/*
 * tls_cache.c: sessions and ticket keys in shared memory.
 */
#include "config.h"

#include <string.h>

#include <openssl/rand.h>

#include "shm_table.h"
#include "tls_cache.h"

/* About one session per this many bytes of zone. */
#define BYTES_PER_SESSION 512

/* The sessions' table and the key ring live in the same zone; the ring
 * is kept under the table's lock. */
struct tls_cache {
	struct shm_table *sessions;
	uint64_t key_serial;		/* keys made so far */
	struct tls_ticket_key keys[TLS_TICKET_KEYS_MAX];	/* [0] current */
	unsigned nkeys;
};

struct tls_cache *tls_cache_create(struct shm_zone *z)
{
	struct tls_cache *c = shm_alloc(z, sizeof(*c));

	if (c == NULL)
		return NULL;
	memset(c, 0, sizeof(*c));
	c->sessions = shm_table_create(z, "TLS session cache", BYTES_PER_SESSION);
	if (c->sessions == NULL) {
		shm_free(z, c);
		return NULL;
	}
	return c;
}

static int lock(struct tls_cache *c)
{
	return shm_table_lock(c->sessions);
}

static void unlock(struct tls_cache *c)
{
	shm_table_unlock(c->sessions);
}

int tls_cache_put(struct tls_cache *c, int kind, const uint8_t *id, size_t idlen,
		  const uint8_t *der, size_t len, time_t expires)
{
	if (len == 0 || expires < 0)
		return -1;
	return shm_table_put(c->sessions, (unsigned)kind, id, idlen, der, len,
			     (uint64_t)expires);
}

size_t tls_cache_get(struct tls_cache *c, int kind, const uint8_t *id, size_t idlen,
		     uint8_t *out, size_t cap, time_t now)
{
	ssize_t len = shm_table_get(c->sessions, (unsigned)kind, id, idlen, out, cap,
				    (uint64_t)MAX(now, (time_t)0));

	return len < 0 ? 0 : (size_t)len;
}

void tls_cache_remove(struct tls_cache *c, int kind, const uint8_t *id, size_t idlen)
{
	shm_table_remove(c->sessions, (unsigned)kind, id, idlen);
}

unsigned tls_cache_count(struct tls_cache *c)
{
	return shm_table_count(c->sessions);
}

int tls_cache_rotate_keys(struct tls_cache *c)
{
	struct tls_ticket_key k;

	if (RAND_bytes(k.name, sizeof(k.name)) != 1 || RAND_bytes(k.aes, sizeof(k.aes)) != 1 ||
	    RAND_bytes(k.hmac, sizeof(k.hmac)) != 1)
		return -1;
	k.keylen = sizeof(k.aes);
	if (lock(c) < 0)
		return -1;
	memmove(&c->keys[1], &c->keys[0], (TLS_TICKET_KEYS - 1) * sizeof(c->keys[0]));
	c->keys[0] = k;
	/* After the operator's keys, only the rotated ones' number stays. */
	c->nkeys = MIN(c->nkeys + 1, TLS_TICKET_KEYS);
	c->key_serial++;
	unlock(c);
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
}

int tls_ticket_key_parse(const uint8_t *buf, size_t len, struct tls_ticket_key *out)
{
	if (len != TLS_TICKET_KEY_FILE && len != TLS_TICKET_KEY_FILE_SHORT)
		return -1;
	memset(out, 0, sizeof(*out));
	memcpy(out->name, buf, sizeof(out->name));
	/* nginx's layouts, so that the same files serve both. */
	if (len == TLS_TICKET_KEY_FILE) {
		memcpy(out->hmac, buf + 16, 32);
		memcpy(out->aes, buf + 48, 32);
		out->keylen = 32;
	} else {
		memcpy(out->aes, buf + 16, 16);
		memcpy(out->hmac, buf + 32, 16);
		out->keylen = 16;
	}
	return 0;
}

void tls_cache_set_keys(struct tls_cache *c, const struct tls_ticket_key *keys, unsigned n)
{
	n = MIN(n, (unsigned)TLS_TICKET_KEYS_MAX);
	if (lock(c) < 0)
		return;
	OPENSSL_cleanse(c->keys, sizeof(c->keys));
	memcpy(c->keys, keys, n * sizeof(keys[0]));
	c->nkeys = n;
	c->key_serial++;
	unlock(c);
}

void tls_cache_copy_keys(struct tls_cache *to, struct tls_cache *from)
{
	struct tls_ticket_key keys[TLS_TICKET_KEYS_MAX];
	unsigned n;

	if (lock(from) < 0)
		return;
	memcpy(keys, from->keys, sizeof(keys));
	n = from->nkeys;
	unlock(from);
	if (lock(to) == 0) {
		memcpy(to->keys, keys, sizeof(keys));
		to->nkeys = n;
		unlock(to);
	}
	OPENSSL_cleanse(keys, sizeof(keys));
}

int tls_cache_current_key(struct tls_cache *c, struct tls_ticket_key *out)
{
	int r = -1;

	if (lock(c) < 0)
		return -1;
	if (c->nkeys > 0) {
		*out = c->keys[0];
		r = 0;
	}
	unlock(c);
	return r;
}

int tls_cache_find_key(struct tls_cache *c, const uint8_t name[16],
		       struct tls_ticket_key *out)
{
	unsigned i;
	int r = 0;

	if (lock(c) < 0)
		return 0;
	for (i = 0; i < c->nkeys; i++)
		if (memcmp(c->keys[i].name, name, sizeof(c->keys[i].name)) == 0) {
			*out = c->keys[i];
			r = i == 0 ? 1 : 2;
			break;
		}
	unlock(c);
	return r;
}
