/*
 * auth_cache.c: authentication's decisions in shared memory.
 */
#include "config.h"

#include "auth_cache.h"
#include "shm_table.h"

/* About one decision per this many bytes of zone. */
#define BYTES_PER_DECISION 256

struct auth_cache {
	struct shm_table *table;
};

struct auth_cache *auth_cache_create(struct shm_zone *z)
{
	struct auth_cache *c = shm_alloc(z, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->table = shm_table_create(z, "authentication cache", BYTES_PER_DECISION);
	if (c->table == NULL) {
		shm_free(z, c);
		return NULL;
	}
	return c;
}

int auth_cache_put(struct auth_cache *c, unsigned kind, const uint8_t *key, size_t klen,
		   const void *val, size_t vlen, uint64_t expires_ms)
{
	if (klen > AUTH_CACHE_KEY_MAX || vlen > AUTH_CACHE_VALUE_MAX)
		return -1;
	return shm_table_put(c->table, kind, key, klen, val, vlen, expires_ms);
}

ssize_t auth_cache_get(struct auth_cache *c, unsigned kind, const uint8_t *key, size_t klen,
		       void *out, size_t cap, uint64_t now_ms)
{
	return shm_table_get(c->table, kind, key, klen, out, cap, now_ms);
}

unsigned auth_cache_count(struct auth_cache *c)
{
	return shm_table_count(c->table);
}
