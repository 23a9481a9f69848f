/*
 * auth_cache.c: authentication's decisions in shared memory.
 */
#include "config.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

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

/* This process's HMAC-SHA-256, made once: fetching the algorithms for
 * every request costs more than hashing a key. NULL when OpenSSL fails. */
static EVP_MAC_CTX *hmac_sha256(void)
{
	static EVP_MAC_CTX *ctx;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
		OSSL_PARAM_construct_end()
	};
	EVP_MAC *mac;

	if (ctx != NULL || (mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return ctx;
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);
	if (ctx != NULL && EVP_MAC_CTX_set_params(ctx, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

bool auth_cache_key(const uint8_t tag[AUTH_CACHE_TAG_LEN], const struct slice *parts,
		    unsigned n, uint8_t key[AUTH_CACHE_KEY_MAX])
{
	EVP_MAC_CTX *ctx = hmac_sha256();
	size_t len = 0;
	unsigned i;

	if (ctx == NULL || EVP_MAC_init(ctx, tag, AUTH_CACHE_TAG_LEN, NULL) != 1)
		return false;
	for (i = 0; i < n; i++) {
		uint8_t size[4] = { (uint8_t)(parts[i].len >> 24), (uint8_t)(parts[i].len >> 16),
				    (uint8_t)(parts[i].len >> 8), (uint8_t)parts[i].len };

		if (EVP_MAC_update(ctx, size, sizeof(size)) != 1 ||
		    EVP_MAC_update(ctx, (const unsigned char *)parts[i].p, parts[i].len) != 1)
			return false;
	}
	return EVP_MAC_final(ctx, key, &len, AUTH_CACHE_KEY_MAX) == 1 && len == AUTH_CACHE_KEY_MAX;
}

unsigned auth_cache_count(struct auth_cache *c)
{
	return shm_table_count(c->table);
}
