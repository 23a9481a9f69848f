/*
 * test_auth_cache.c: authentication's shared decisions: store, find,
 * replace, expire by the millisecond, kinds kept apart, bounds on keys
 * and values, decisions seen across fork, a process killed holding the
 * zone's lock, and the keys decisions are stored under.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "tap.h"
#include "auth_cache.h"

static const uint8_t key_a[32] = "user a, hashed to 32 bytes.....";
static const uint8_t key_b[32] = "user b, hashed to 32 bytes.....";

static struct auth_cache *fresh(struct shm_zone **zp)
{
	char err[128];

	*zp = shm_zone_create("auth", 64 * 1024, err, sizeof(err));
	return *zp ? auth_cache_create(*zp) : NULL;
}

static void test_put_get(void)
{
	struct shm_zone *z;
	struct auth_cache *c = fresh(&z);
	char out[AUTH_CACHE_VALUE_MAX + 1];
	static char big[AUTH_CACHE_VALUE_MAX + 1];

	ok(c != NULL, "a cache in a new zone");
	is_int(auth_cache_get(c, AUTH_CACHE_BASIC, key_a, 32, out, sizeof(out), 1000), -1,
	       "an unknown key is not found");
	is_int(auth_cache_put(c, AUTH_CACHE_BASIC, key_a, 32, "", 0, 2000), 0,
	       "an empty value is stored");
	is_int(auth_cache_get(c, AUTH_CACHE_BASIC, key_a, 32, out, sizeof(out), 1000), 0,
	       "and found, as empty, not as absent");
	is_int(auth_cache_get(c, AUTH_CACHE_REQUEST, key_a, 32, out, sizeof(out), 1000), -1,
	       "another kind with the same key is another decision");
	is_int(auth_cache_get(c, AUTH_CACHE_BASIC, key_a, 32, out, sizeof(out), 1999), 0,
	       "a millisecond before it expires it is there");
	is_int(auth_cache_get(c, AUTH_CACHE_BASIC, key_a, 32, out, sizeof(out), 2000), -1,
	       "at its expiry it is gone");
	is_int(auth_cache_count(c), 0, "... and was dropped");
	auth_cache_put(c, AUTH_CACHE_REQUEST, key_b, 32, "204 first", 9, 5000);
	auth_cache_put(c, AUTH_CACHE_REQUEST, key_b, 32, "401 second", 10, 5000);
	ok(auth_cache_get(c, AUTH_CACHE_REQUEST, key_b, 32, out, sizeof(out), 1000) == 10 &&
	   memcmp(out, "401 second", 10) == 0, "storing a key again replaces its value");
	is_int(auth_cache_count(c), 1, "... and keeps one decision");
	is_int(auth_cache_get(c, AUTH_CACHE_REQUEST, key_b, 32, out, 4, 1000), -1,
	       "a value longer than the caller's buffer is not returned");
	is_int(auth_cache_put(c, AUTH_CACHE_BASIC, key_a, 33, "x", 1, 5000), -1,
	       "a key over 32 bytes is refused");
	is_int(auth_cache_put(c, AUTH_CACHE_BASIC, key_a, 0, "x", 1, 5000), -1,
	       "an empty key is refused");
	is_int(auth_cache_put(c, AUTH_CACHE_BASIC, key_a, 32, big, sizeof(big), 5000), -1,
	       "a value over AUTH_CACHE_VALUE_MAX is refused");
	is_int(auth_cache_put(c, AUTH_CACHE_BASIC, key_a, 32, big, sizeof(big) - 1, 5000), 0,
	       "one of AUTH_CACHE_VALUE_MAX is kept");
	shm_zone_destroy(z);
}

/* What a worker stores, another finds; a worker killed holding the lock
 * costs the decisions, not the cache. */
static void test_processes(void)
{
	struct shm_zone *z;
	struct auth_cache *c = fresh(&z);
	char out[64];
	pid_t pid;
	int status;

	pid = fork();
	if (pid == 0)
		_exit(auth_cache_put(c, AUTH_CACHE_BASIC, key_a, 32, "ok", 2, 9000) == 0 ? 0 : 1);
	waitpid(pid, &status, 0);
	is_int(auth_cache_get(c, AUTH_CACHE_BASIC, key_a, 32, out, sizeof(out), 1000), 2,
	       "a decision a child stored is found by its parent");

	pid = fork();
	if (pid == 0) {
		shm_lock(z);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	is_int(auth_cache_get(c, AUTH_CACHE_BASIC, key_a, 32, out, sizeof(out), 1000), -1,
	       "after a process died holding the lock, the decisions are dropped");
	is_int(auth_cache_put(c, AUTH_CACHE_BASIC, key_b, 32, "ok", 2, 9000), 0,
	       "and the cache takes new ones");
	is_int(auth_cache_get(c, AUTH_CACHE_BASIC, key_b, 32, out, sizeof(out), 1000), 2,
	       "... and finds them");
	shm_zone_destroy(z);
}

/* A full zone drops the least recently used decisions. */
static void test_eviction(void)
{
	struct shm_zone *z;
	struct auth_cache *c = fresh(&z);
	static char value[900];
	uint8_t key[32] = { 0 };
	char out[1024];
	unsigned i, stored = 0;

	for (i = 0; i < 300; i++) {
		memcpy(key, &i, sizeof(i));
		stored += auth_cache_put(c, AUTH_CACHE_REQUEST, key, 32, value, sizeof(value),
					 9000) == 0;
	}
	is_int(stored, 300, "every store succeeds, evicting when the zone is full");
	ok(auth_cache_count(c) < 300, "the zone holds fewer (%u)", auth_cache_count(c));
	i = 0;
	memcpy(key, &i, sizeof(i));
	is_int(auth_cache_get(c, AUTH_CACHE_REQUEST, key, 32, out, sizeof(out), 1000), -1,
	       "the oldest decision was evicted");
	i = 299;
	memcpy(key, &i, sizeof(i));
	is_int(auth_cache_get(c, AUTH_CACHE_REQUEST, key, 32, out, sizeof(out), 1000),
	       (int)sizeof(value), "the newest is there");
	shm_zone_destroy(z);
}

/* Keys: the same parts under the same tag, the same key; anything else,
 * another (the parts' bounds included). */
static void test_keys(void)
{
	uint8_t tag1[AUTH_CACHE_TAG_LEN] = { 1 }, tag2[AUTH_CACHE_TAG_LEN] = { 2 };
	uint8_t k1[AUTH_CACHE_KEY_MAX], k2[AUTH_CACHE_KEY_MAX];
	const struct slice ab_c[] = { { "ab", 2 }, { "c", 1 } }, a_bc[] = { { "a", 1 }, { "bc", 2 } };

	ok(auth_cache_key(tag1, ab_c, 2, k1) && auth_cache_key(tag1, ab_c, 2, k2) &&
	   memcmp(k1, k2, sizeof(k1)) == 0, "a key is the same each time");
	auth_cache_key(tag2, ab_c, 2, k2);
	ok(memcmp(k1, k2, sizeof(k1)) != 0, "another tag: another key");
	auth_cache_key(tag1, a_bc, 2, k2);
	ok(memcmp(k1, k2, sizeof(k1)) != 0, "the same bytes parted otherwise: another key");
}

int main(void)
{
	test_keys();
	test_put_get();
	test_processes();
	test_eviction();
	done_testing();
}
