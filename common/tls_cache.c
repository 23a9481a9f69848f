/*
 * tls_cache.c: sessions and ticket keys in shared memory.
 */
#include "config.h"

#include <string.h>

#include <openssl/rand.h>

#include "log.h"
#include "tls_cache.h"

/* A bucket per this many bytes of zone: about one session each. */
#define BYTES_PER_BUCKET 512
#define MIN_BUCKETS 64
/* Entries evicted to make room for one, at most. */
#define EVICT_MAX 16

struct entry {
	struct entry *hash_next;
	struct entry *lru_prev, *lru_next;	/* most recently used first */
	time_t expires;
	uint8_t kind;
	uint8_t idlen;
	uint8_t id[TLS_CACHE_ID_MAX];
	uint32_t len;
	uint8_t der[];
};

struct tls_cache {
	struct shm_zone *zone;
	struct entry *lru_head, *lru_tail;
	unsigned count;
	unsigned nbuckets;		/* a power of two */
	uint64_t key_serial;		/* keys made so far */
	struct tls_ticket_key keys[TLS_TICKET_KEYS_MAX];	/* [0] current */
	unsigned nkeys;
	struct entry *buckets[];
};

struct tls_cache *tls_cache_create(struct shm_zone *z)
{
	struct shm_stats st;
	struct tls_cache *c;
	unsigned nb = MIN_BUCKETS;

	shm_stats(z, &st);
	while ((size_t)nb * 2 * BYTES_PER_BUCKET <= st.size)
		nb *= 2;
	c = shm_alloc(z, sizeof(*c) + nb * sizeof(c->buckets[0]));
	if (c == NULL)
		return NULL;
	memset(c, 0, sizeof(*c) + nb * sizeof(c->buckets[0]));
	c->zone = z;
	c->nbuckets = nb;
	return c;
}

static unsigned bucket_of(const struct tls_cache *c, int kind, const uint8_t *id,
			  size_t idlen)
{
	uint32_t h = 2166136261u ^ (uint32_t)kind;
	size_t i;

	for (i = 0; i < idlen; i++)
		h = (h ^ id[i]) * 16777619u;
	return h & (c->nbuckets - 1);
}

/* After a holder of the lock died, the index may point anywhere: start
 * over with none. The entries' memory is lost until the zone is made
 * anew; the allocator itself was repaired by shm_lock(). */
static void reset_index(struct tls_cache *c)
{
	log_msg(LL_ALERT, "TLS session cache: a process died holding its lock, "
		"dropping %u sessions", c->count);
	memset(c->buckets, 0, c->nbuckets * sizeof(c->buckets[0]));
	c->lru_head = c->lru_tail = NULL;
	c->count = 0;
}

static int lock(struct tls_cache *c)
{
	int r = shm_lock(c->zone);

	if (r == SHM_RECOVERED)
		reset_index(c);
	return r == P_ERROR ? -1 : 0;
}

static void lru_unlink(struct tls_cache *c, struct entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
}

static void lru_push(struct tls_cache *c, struct entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head)
		c->lru_head->lru_prev = e;
	else
		c->lru_tail = e;
	c->lru_head = e;
}

/* The link pointing at the entry for (kind, id), or at the NULL that
 * ends its bucket. */
static struct entry **find(struct tls_cache *c, int kind, const uint8_t *id, size_t idlen)
{
	struct entry **pp = &c->buckets[bucket_of(c, kind, id, idlen)];

	for (; *pp != NULL; pp = &(*pp)->hash_next)
		if ((*pp)->kind == kind && (*pp)->idlen == idlen &&
		    memcmp((*pp)->id, id, idlen) == 0)
			break;
	return pp;
}

static void drop(struct tls_cache *c, struct entry **pp)
{
	struct entry *e = *pp;

	*pp = e->hash_next;
	lru_unlink(c, e);
	c->count--;
	shm_free_locked(c->zone, e);
}

static void evict_oldest(struct tls_cache *c)
{
	struct entry *e = c->lru_tail;

	drop(c, find(c, e->kind, e->id, e->idlen));
}

static struct entry *alloc_entry(struct tls_cache *c, size_t len)
{
	struct entry *e;
	int i;

	for (i = 0; i < EVICT_MAX; i++) {
		e = shm_alloc_locked(c->zone, sizeof(*e) + len);
		if (e != NULL || c->lru_tail == NULL)
			return e;
		evict_oldest(c);
	}
	return NULL;
}

int tls_cache_put(struct tls_cache *c, int kind, const uint8_t *id, size_t idlen,
		  const uint8_t *der, size_t len, time_t expires)
{
	struct entry **pp, *e;

	if (idlen == 0 || idlen > TLS_CACHE_ID_MAX || len == 0 || lock(c) < 0)
		return -1;
	pp = find(c, kind, id, idlen);
	if (*pp != NULL)
		drop(c, pp);
	e = alloc_entry(c, len);
	if (e != NULL) {
		e->expires = expires;
		e->kind = (uint8_t)kind;
		e->idlen = (uint8_t)idlen;
		memcpy(e->id, id, idlen);
		e->len = (uint32_t)len;
		memcpy(e->der, der, len);
		/* Eviction may have changed the bucket's chain. */
		pp = &c->buckets[bucket_of(c, kind, id, idlen)];
		e->hash_next = *pp;
		*pp = e;
		lru_push(c, e);
		c->count++;
	}
	shm_unlock(c->zone);
	return e != NULL ? 0 : -1;
}

size_t tls_cache_get(struct tls_cache *c, int kind, const uint8_t *id, size_t idlen,
		     uint8_t *out, size_t cap, time_t now)
{
	struct entry **pp, *e;
	size_t len = 0;

	if (idlen == 0 || idlen > TLS_CACHE_ID_MAX || lock(c) < 0)
		return 0;
	pp = find(c, kind, id, idlen);
	e = *pp;
	if (e != NULL && e->expires <= now) {
		drop(c, pp);
	} else if (e != NULL && e->len <= cap) {
		len = e->len;
		memcpy(out, e->der, len);
		lru_unlink(c, e);
		lru_push(c, e);
	}
	shm_unlock(c->zone);
	return len;
}

void tls_cache_remove(struct tls_cache *c, int kind, const uint8_t *id, size_t idlen)
{
	struct entry **pp;

	if (idlen == 0 || idlen > TLS_CACHE_ID_MAX || lock(c) < 0)
		return;
	pp = find(c, kind, id, idlen);
	if (*pp != NULL)
		drop(c, pp);
	shm_unlock(c->zone);
}

unsigned tls_cache_count(struct tls_cache *c)
{
	unsigned n;

	if (lock(c) < 0)
		return 0;
	n = c->count;
	shm_unlock(c->zone);
	return n;
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
	shm_unlock(c->zone);
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
	shm_unlock(c->zone);
}

void tls_cache_copy_keys(struct tls_cache *to, struct tls_cache *from)
{
	struct tls_ticket_key keys[TLS_TICKET_KEYS_MAX];
	unsigned n;

	if (lock(from) < 0)
		return;
	memcpy(keys, from->keys, sizeof(keys));
	n = from->nkeys;
	shm_unlock(from->zone);
	if (lock(to) == 0) {
		memcpy(to->keys, keys, sizeof(keys));
		to->nkeys = n;
		shm_unlock(to->zone);
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
	shm_unlock(c->zone);
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
	shm_unlock(c->zone);
	return r;
}
