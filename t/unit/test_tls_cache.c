/*
 * test_tls_cache.c: the shared TLS session cache and ticket keys: store,
 * find, replace, expire, evict the least recently used when full, kinds
 * kept apart, sessions seen by a forked child, and the key ring.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>

#include "tap.h"
#include "log.h"
#include "tls_cache.h"

static void id_of(unsigned n, uint8_t id[32])
{
	memset(id, 0, 32);
	memcpy(id, &n, sizeof(n));
}

static struct tls_cache *fresh(size_t size, struct shm_zone **zp)
{
	char err[128];
	struct shm_zone *z = shm_zone_create("tls", size, err, sizeof(err));

	*zp = z;
	return z ? tls_cache_create(z) : NULL;
}

static void test_put_get(void)
{
	struct shm_zone *z;
	struct tls_cache *c = fresh(64 * 1024, &z);
	uint8_t id[32], out[64];
	time_t now = time(NULL);

	ok(c != NULL, "a cache in a new zone");
	id_of(1, id);
	is_int(tls_cache_get(c, TLS_CACHE_SERVER, id, 32, out, sizeof(out), now), 0,
	       "an unknown session is not found");
	is_int(tls_cache_put(c, TLS_CACHE_SERVER, id, 32, (const uint8_t *)"first", 5, now + 60),
	       0, "a session is stored");
	is_int(tls_cache_get(c, TLS_CACHE_SERVER, id, 32, out, sizeof(out), now), 5,
	       "and found again");
	ok(memcmp(out, "first", 5) == 0, "with its bytes");
	is_int(tls_cache_get(c, TLS_CACHE_UPSTREAM, id, 32, out, sizeof(out), now), 0,
	       "another kind with the same ID is another entry");
	tls_cache_put(c, TLS_CACHE_SERVER, id, 32, (const uint8_t *)"second!", 7, now + 60);
	is_int(tls_cache_get(c, TLS_CACHE_SERVER, id, 32, out, sizeof(out), now), 7,
	       "storing the same ID again replaces it");
	is_int(tls_cache_count(c), 1, "... and keeps one entry");
	is_int(tls_cache_get(c, TLS_CACHE_SERVER, id, 32, out, 3, now), 0,
	       "a session larger than the caller's buffer is not returned");
	is_int(tls_cache_get(c, TLS_CACHE_SERVER, id, 32, out, sizeof(out), now + 61), 0,
	       "an expired session is not found");
	is_int(tls_cache_count(c), 0, "... and was dropped");
	tls_cache_put(c, TLS_CACHE_SERVER, id, 32, (const uint8_t *)"x", 1, now + 60);
	tls_cache_remove(c, TLS_CACHE_SERVER, id, 32);
	is_int(tls_cache_get(c, TLS_CACHE_SERVER, id, 32, out, sizeof(out), now), 0,
	       "a removed session is gone");
	is_int(tls_cache_put(c, TLS_CACHE_SERVER, id, 0, out, 1, now + 60), -1,
	       "an empty ID is refused");
	is_int(tls_cache_put(c, TLS_CACHE_SERVER, id, 33, out, 1, now + 60), -1,
	       "an ID over 32 bytes is refused");
	shm_zone_destroy(z);
}

/* A full zone drops the least recently used sessions; what a child
 * process stores, the parent finds. */
static void test_evict_and_share(void)
{
	struct shm_zone *z;
	struct tls_cache *c = fresh(64 * 1024, &z);
	static uint8_t blob[1500];
	uint8_t id[32], out[2048];
	time_t now = time(NULL);
	unsigned i, stored = 0, found_old = 0;
	pid_t pid;
	int status;

	for (i = 0; i < 200; i++) {
		id_of(i, id);
		blob[0] = (uint8_t)i;
		stored += tls_cache_put(c, TLS_CACHE_SERVER, id, 32, blob, sizeof(blob), now + 60) == 0;
	}
	is_int(stored, 200, "every store succeeds, evicting when the zone is full");
	ok(tls_cache_count(c) < 200, "the zone holds fewer (%u)", tls_cache_count(c));
	id_of(199, id);
	ok(tls_cache_get(c, TLS_CACHE_SERVER, id, 32, out, sizeof(out), now) == sizeof(blob) &&
	   out[0] == 199, "the newest session is there");
	for (i = 1; i < 5; i++) {
		id_of(i, id);
		found_old += tls_cache_get(c, TLS_CACHE_SERVER, id, 32, out, sizeof(out), now) != 0;
	}
	is_int(found_old, 0, "the oldest ones were evicted");

	pid = fork();
	if (pid == 0) {
		id_of(1000, id);
		_exit(tls_cache_put(c, TLS_CACHE_UPSTREAM, id, 32, (const uint8_t *)"child", 5,
				    now + 60) == 0 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	id_of(1000, id);
	is_int(tls_cache_get(c, TLS_CACHE_UPSTREAM, id, 32, out, sizeof(out), now), 5,
	       "a session a child stored is found by its parent");
	shm_zone_destroy(z);
}

static void test_keys(void)
{
	struct shm_zone *z;
	struct tls_cache *c = fresh(64 * 1024, &z), *c2;
	struct tls_ticket_key k1, k2, k, first;
	struct shm_zone *z2;

	ok(tls_cache_current_key(c, &k) < 0, "no key before the first rotation");
	is_int(tls_cache_rotate_keys(c), 0, "a key is made");
	tls_cache_current_key(c, &first);
	is_int(tls_cache_find_key(c, first.name, &k), 1, "it is the current key");
	tls_cache_rotate_keys(c);
	tls_cache_current_key(c, &k1);
	ok(memcmp(k1.name, first.name, 16) != 0 && memcmp(k1.aes, first.aes, 32) != 0,
	   "a rotation makes a new, different key");
	is_int(tls_cache_find_key(c, first.name, &k), 2, "the previous key is still found, as old");
	ok(memcmp(k.hmac, first.hmac, 32) == 0, "with its secrets");
	tls_cache_rotate_keys(c);
	is_int(tls_cache_find_key(c, first.name, &k), 2, "two rotations later still");
	tls_cache_rotate_keys(c);
	is_int(tls_cache_find_key(c, first.name, &k), 0, "three rotations later it is gone");

	c2 = fresh(128 * 1024, &z2);
	tls_cache_copy_keys(c2, c);
	tls_cache_current_key(c2, &k2);
	tls_cache_current_key(c, &k);
	ok(memcmp(k2.name, k.name, 16) == 0, "a new zone takes the keys of the old one");
	is_int(tls_cache_find_key(c2, k1.name, &k), 2, "... older ones included");
	shm_zone_destroy(z2);
	shm_zone_destroy(z);
}

/* Keys from the operator's files: nginx's layouts, and the ring they
 * replace; a rotation afterwards keeps the rotated number only. */
static void test_key_files(void)
{
	struct shm_zone *z;
	struct tls_cache *c = fresh(64 * 1024, &z);
	struct tls_ticket_key keys[TLS_TICKET_KEYS_MAX + 1], k;
	uint8_t buf[80];
	unsigned i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	is_int(tls_ticket_key_parse(buf, 80, &keys[0]), 0, "an 80-byte key file is a key");
	ok(keys[0].keylen == 32 && keys[0].name[15] == 15 && keys[0].hmac[0] == 16 &&
	   keys[0].aes[0] == 48 && keys[0].aes[31] == 79,
	   "name, HMAC, AES-256, as nginx reads it");
	is_int(tls_ticket_key_parse(buf, 48, &keys[1]), 0, "a 48-byte key file is a key");
	ok(keys[1].keylen == 16 && keys[1].aes[0] == 16 && keys[1].hmac[0] == 32 &&
	   keys[1].hmac[15] == 47, "name, AES-128, HMAC, as nginx reads it");
	is_int(tls_ticket_key_parse(buf, 79, &k), -1, "79 bytes are not a key");
	is_int(tls_ticket_key_parse(buf, 0, &k), -1, "nor is an empty file");

	tls_cache_rotate_keys(c);
	buf[0] = 0xaa;
	tls_ticket_key_parse(buf, 80, &keys[1]);
	tls_cache_set_keys(c, keys, 2);
	tls_cache_current_key(c, &k);
	ok(memcmp(&k, &keys[0], sizeof(k)) == 0, "the first file's key encrypts");
	is_int(tls_cache_find_key(c, keys[1].name, &k), 2, "the second only decrypts (renewed)");
	for (i = 0; i < TLS_TICKET_KEYS_MAX + 1; i++) {
		buf[0] = (uint8_t)(0x10 + i);
		tls_ticket_key_parse(buf, 80, &keys[i]);
	}
	tls_cache_set_keys(c, keys, TLS_TICKET_KEYS_MAX + 1);
	is_int(tls_cache_find_key(c, keys[TLS_TICKET_KEYS_MAX - 1].name, &k), 2,
	       "the ring holds TLS_TICKET_KEYS_MAX of them");
	is_int(tls_cache_find_key(c, keys[TLS_TICKET_KEYS_MAX].name, &k), 0, "and no more");
	tls_cache_rotate_keys(c);
	is_int(tls_cache_find_key(c, keys[1].name, &k), 2,
	       "a rotation after them (the files dropped on reload) keeps the latest");
	is_int(tls_cache_find_key(c, keys[2].name, &k), 0,
	       "... as many as rotation keeps, TLS_TICKET_KEYS in all");
	shm_zone_destroy(z);
}

int main(void)
{
	log_set_level(LL_EMERG);
	test_put_get();
	test_evict_and_share();
	test_keys();
	test_key_files();
	return done_testing();
}
