/*
 * test_cache_store.c: the cache zone's objects: store, read back, replace,
 * evict by LRU, readers overtaken by eviction, writers that die, and
 * processes killed while they hold the lock, at chosen points and at
 * random ones. The store's source is included, so that a child can stop
 * in the middle of a change as a killed worker would.
 */
#include "../../common/cache_store.c"

#include <sys/wait.h>

#include "tap.h"

static char errbuf[256];

static void fill(char *buf, size_t len, unsigned seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (char)('a' + (seed * 31 + i * 7) % 26);
}

static int store(struct cache_store *cs, const char *key, const char *data, size_t len)
{
	struct cs_writer w;

	if (cs_begin(cs, key, strlen(key), getpid(), &w) != P_OK)
		return P_ERROR;
	if (cs_append(cs, &w, data, len) != P_OK) {
		cs_abort(cs, &w);
		return P_ERROR;
	}
	return cs_commit(cs, &w);
}

/* The object's data read back in pieces of step bytes; -1 on CS_GONE or
 * a miss, else its length. */
static ssize_t fetch(struct cache_store *cs, const char *key, char *out, size_t cap, size_t step)
{
	struct cs_reader r;
	size_t got = 0;
	ssize_t n;

	if (cs_lookup(cs, key, strlen(key), &r) != CS_HIT)
		return -1;
	while ((n = cs_read(cs, &r, out + got, MIN(step, cap - got))) > 0)
		got += (size_t)n;
	return n < 0 ? -1 : (ssize_t)got;
}

/* A zone for one test; its descriptor is not needed (the mapping keeps
 * the memory alive). */
static struct cache_store *make_zone(size_t size)
{
	int fd;
	struct cache_store *cs = cs_create("t", size, &fd, errbuf, sizeof(errbuf));

	if (cs != NULL)
		close(fd);
	return cs;
}

static bool consistent(struct cache_store *cs, const char *what)
{
	errbuf[0] = '\0';
	return ok(cs_check(cs, errbuf, sizeof(errbuf)) == P_OK, "%s: consistent%s%s", what,
		  errbuf[0] ? ": " : "", errbuf);
}

static void test_store_and_read(void)
{
	struct cache_store *cs = make_zone(1 << 20);
	char data[5000], back[6000], key[3000];
	struct cs_writer w;
	struct cs_reader r;

	ok(cs != NULL, "a zone of 1 MiB is made");
	fill(data, sizeof(data), 1);
	ok(store(cs, "k1", data, sizeof(data)) == P_OK, "an object of 5000 bytes is stored");
	is_int(fetch(cs, "k1", back, sizeof(back), 700), sizeof(data), "... and read back whole");
	ok(memcmp(back, data, sizeof(data)) == 0, "... byte for byte, across blocks");
	is_int(cs_lookup(cs, "k2", 2, &r), CS_MISS, "another key misses");

	fill(key, sizeof(key), 2);
	key[sizeof(key) - 1] = '\0';
	ok(store(cs, key, "x", 1) == P_OK, "a key longer than a block");
	is_int(fetch(cs, key, back, sizeof(back), 100), 1, "... is found, its data after it");
	key[sizeof(key) - 2] ^= 1;
	is_int(cs_lookup(cs, key, strlen(key), &r), CS_MISS, "... and a key differing in its last byte is not");

	ok(cs_begin(cs, "k3", 2, getpid(), &w) == P_OK, "an object begun");
	is_int(cs_lookup(cs, "k3", 2, &r), CS_BUSY, "... is busy while written");
	cs_abort(cs, &w);
	is_int(cs_lookup(cs, "k3", 2, &r), CS_MISS, "... and gone when aborted");

	fill(data, sizeof(data), 3);
	ok(store(cs, "k1", data, 1500) == P_OK, "k1 stored again, shorter");
	is_int(fetch(cs, "k1", back, sizeof(back), 4096), 1500, "... the new object is read");
	ok(memcmp(back, data, 1500) == 0, "... with its own bytes");

	struct cs_stats st;
	cs_stats(cs, &st);
	is_int(st.objects, 2, "two objects live (the old k1 freed)");
	is_int(st.blocks_used, 2 + 3, "blocks: the new k1 (2), the long key and its byte (3), none of k3");
	consistent(cs, "after stores, a replacement and an abort");
	cs_destroy(cs);
}

static void test_lru(void)
{
	struct cache_store *cs = make_zone(256 * 1024);
	char data[1500], key[32];
	struct cs_reader r;
	struct cs_stats st;
	int i;

	fill(data, sizeof(data), 4);
	store(cs, "hot", data, sizeof(data));
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "cold-%d", i);
		if (store(cs, key, data, sizeof(data)) != P_OK)
			break;
		cs_lookup(cs, "hot", 3, &r);
	}
	cs_stats(cs, &st);
	is_int(i, 1000, "1000 objects stored in a zone that holds about 100");
	ok(st.evicted > 800, "... by evicting the least recently used (%lu)", st.evicted);
	is_int(cs_lookup(cs, "hot", 3, &r), CS_HIT, "the object used all along stays");
	is_int(cs_lookup(cs, "cold-0", 6, &r), CS_MISS, "the oldest unused one went first");
	is_int(cs_lookup(cs, "cold-999", 8, &r), CS_HIT, "the newest is there");
	consistent(cs, "after 900 evictions");

	char *big = malloc(400 * 1024);
	struct cs_writer w;
	fill(big, 400 * 1024, 5);
	ok(cs_begin(cs, "big", 3, getpid(), &w) == P_OK, "an object larger than the zone begins");
	ok(cs_append(cs, &w, big, 400 * 1024) == P_ERROR, "... and is refused when it cannot fit");
	cs_abort(cs, &w);
	consistent(cs, "after a refused object");
	free(big);
	cs_destroy(cs);
}

static void test_overtaken_reader(void)
{
	struct cache_store *cs = make_zone(256 * 1024);
	char data[20000], back[20000], key[32];
	struct cs_reader r;
	int i;

	fill(data, sizeof(data), 6);
	store(cs, "victim", data, sizeof(data));
	ok(cs_lookup(cs, "victim", 6, &r) == CS_HIT, "a reader finds an object");
	is_int(cs_read(cs, &r, back, 3000), 3000, "... and reads part of it");
	for (i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "new-%d", i);
		store(cs, key, data, sizeof(data));
	}
	is_int(cs_lookup(cs, "victim", 6, &r) == CS_HIT ? 1 : 0, 0, "the object was evicted meanwhile");
	ok(cs_read(cs, &r, back, 50) == CS_GONE,
	   "the first reader is told CS_GONE, even for bytes within the block it was in");
	cs_destroy(cs);
}

/* A writer that dies outside the lock leaves its object WRITING. */
static void test_reap(void)
{
	struct cache_store *cs = make_zone(256 * 1024);
	struct cs_reader r;
	struct cs_stats st;
	pid_t pid = fork();

	if (pid == 0) {
		struct cs_writer w;
		char data[3000];

		fill(data, sizeof(data), 7);
		cs_begin(cs, "orphan", 6, getpid(), &w);
		cs_append(cs, &w, data, sizeof(data));
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	is_int(cs_lookup(cs, "orphan", 6, &r), CS_BUSY, "a dead writer's object is never served");
	is_int(cs_reap(cs, pid), 1, "cs_reap frees it");
	is_int(cs_lookup(cs, "orphan", 6, &r), CS_MISS, "... and the key misses");
	cs_stats(cs, &st);
	is_int(st.blocks_used, 0, "... its blocks are free again");
	consistent(cs, "after a reap");
	cs_destroy(cs);
}

/* One fill per key: a second writer is told the key is busy while the
 * first lives, and takes over once it died. */
static void test_one_writer(void)
{
	struct cache_store *cs = make_zone(256 * 1024);
	struct cs_writer w, w2;
	struct cs_reader r;
	int p[2];
	char c;
	pid_t pid;

	is_int(cs_begin(cs, "k", 1, getpid(), &w), P_OK, "a first writer starts");
	is_int(cs_begin(cs, "k", 1, getpid(), &w2), CS_BUSY, "a second one is told the key is busy");
	is_int(cs_begin(cs, "other", 5, getpid(), &w2), P_OK, "... other keys are not");
	cs_abort(cs, &w2);
	cs_append(cs, &w, "v1", 2);
	cs_commit(cs, &w);
	is_int(cs_begin(cs, "k", 1, getpid(), &w), P_OK, "a READY object does not stop a refill");
	is_int(cs_lookup(cs, "k", 1, &r), CS_HIT, "... and is served meanwhile");
	cs_abort(cs, &w);
	if (pipe(p) != 0)
		return;
	if ((pid = fork()) == 0) {
		cs_begin(cs, "k", 1, getpid(), &w);
		(void)!write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	(void)!read(p[0], &c, 1);
	is_int(cs_begin(cs, "k", 1, getpid(), &w), CS_BUSY, "a live writer in another process holds the key");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	is_int(cs_begin(cs, "k", 1, getpid(), &w), P_OK, "... a dead one does not");
	cs_append(cs, &w, "v2", 2);
	cs_commit(cs, &w);
	consistent(cs, "after writers took turns");
	close(p[0]);
	close(p[1]);
	cs_destroy(cs);
}

/* A length patched in at the end, across a block boundary; purging by
 * the start of keys. */
static void test_write_at_and_prefix(void)
{
	struct cache_store *cs = make_zone(256 * 1024);
	char data[3000], back[3000], key[32];
	struct cs_writer w;
	struct cs_reader r;
	unsigned k;

	fill(data, sizeof(data), 3);
	cs_begin(cs, "patched", 7, getpid(), &w);
	cs_append(cs, &w, data, sizeof(data));
	memset(data + CS_BLOCK - 10, 'x', 20);
	is_int(cs_write_at(cs, &w, CS_BLOCK - 10, data + CS_BLOCK - 10, 20), P_OK,
	       "cs_write_at over a block boundary");
	is_int(cs_write_at(cs, &w, sizeof(data) - 5, data, 10), P_ERROR,
	       "... not past what was appended");
	cs_commit(cs, &w);
	is_int(cs_write_at(cs, &w, 0, data, 1), P_ERROR, "... nor once committed");
	if (cs_lookup(cs, "patched", 7, &r) == CS_HIT)
		ok(cs_read(cs, &r, back, sizeof(back)) == (ssize_t)sizeof(back) &&
		   memcmp(back, data, sizeof(data)) == 0, "the patched bytes read back");
	else
		ok(0, "the patched object is there");
	for (k = 0; k < 6; k++) {
		snprintf(key, sizeof(key), k < 4 ? "http://a/x/%u" : "http://a/y/%u", k);
		cs_begin(cs, key, strlen(key), getpid(), &w);
		cs_append(cs, &w, "v", 1);
		cs_commit(cs, &w);
	}
	is_int(cs_remove_prefix(cs, "http://a/x/", 11), 4, "cs_remove_prefix drops the 4 under a prefix");
	is_int(cs_lookup(cs, "http://a/y/4", 12, &r), CS_HIT, "... and keeps the others");
	consistent(cs, "after a purge by prefix");
	cs_destroy(cs);
}

/* Bytes lent in place: runs of blocks that follow each other, the same
 * bytes as cs_read gives; and the reader learns when they stop being
 * the object's. */
static void test_view(void)
{
	struct cache_store *cs = make_zone(256 * 1024);
	char data[5000], back[5000];
	struct cs_writer w;
	struct cs_reader r;
	const char *p;
	size_t got = 0;
	ssize_t n;
	unsigned runs = 0;

	fill(data, sizeof(data), 5);
	cs_begin(cs, "v", 1, getpid(), &w);
	cs_append(cs, &w, data, sizeof(data));
	cs_commit(cs, &w);
	cs_lookup(cs, "v", 1, &r);
	while ((n = cs_view(cs, &r, 3000, &p)) > 0) {
		memcpy(back + got, p, (size_t)n);
		got += (size_t)n;
		runs++;
	}
	ok(got == sizeof(data) && memcmp(back, data, sizeof(data)) == 0,
	   "cs_view lends the object's bytes, all of them");
	ok(runs <= 3, "... in runs longer than a block when blocks follow each other (%u runs)", runs);
	ok(cs_reader_valid(cs, &r), "... and they are still the object's");
	cs_lookup(cs, "v", 1, &r);
	cs_view(cs, &r, 100, &p);
	cs_remove(cs, "v", 1);
	ok(!cs_reader_valid(cs, &r), "once the object is dropped, the reader is told");
	consistent(cs, "after views");
	cs_destroy(cs);
}

/* How many runs cs_view lends key's data in. */
static unsigned runs_of(struct cache_store *cs, const char *key)
{
	struct cs_reader r;
	const char *p;
	unsigned runs = 0;

	if (cs_lookup(cs, key, strlen(key), &r) != CS_HIT)
		return 0;
	while (cs_view(cs, &r, SIZE_MAX, &p) > 0)
		runs++;
	return runs;
}

/* Blocks freed go back in their order, so an object stored where others
 * were freed is lent in long runs again, not a block at a time. */
static void test_reuse_in_order(void)
{
	struct cache_store *cs = make_zone(256 * 1024);
	static char data[40000];

	fill(data, sizeof(data), 6);
	store(cs, "a", data, sizeof(data));
	store(cs, "b", data, 100);
	store(cs, "c", data, sizeof(data));
	cs_remove(cs, "a", 1);
	cs_remove(cs, "c", 1);
	store(cs, "d", data, sizeof(data));
	store(cs, "e", data, sizeof(data));
	is_int(runs_of(cs, "d"), 1, "an object stored in the blocks of a freed one is lent in one run");
	is_int(runs_of(cs, "e"), 1, "... and so is the next one, in the blocks of another");
	consistent(cs, "after reuse");
	cs_destroy(cs);
}

/* Objects nobody asks for within the inactive time go; asked-for ones
 * stay. Their last use is set back by hand (this file includes the
 * store), so no wait on the clock is needed. */
static void test_inactive(void)
{
	struct cache_store *cs = make_zone(256 * 1024);
	struct cs_writer w;
	struct cs_reader r;
	struct cs_stats st;
	uint32_t old, asked;

	cs_set_inactive(cs, 60);
	cs_begin(cs, "old", 3, getpid(), &w);
	cs_append(cs, &w, "v", 1);
	cs_commit(cs, &w);
	old = w.entry;
	cs_begin(cs, "asked", 5, getpid(), &w);
	cs_append(cs, &w, "v", 1);
	cs_commit(cs, &w);
	asked = w.entry;
	entry(cs, old)->used = zone_clock() - 61;
	entry(cs, asked)->used = zone_clock() - 59;
	is_int(cs_lookup(cs, "asked", 5, &r), CS_HIT, "an object asked for within inactive is there");
	ok(zone_clock() - entry(cs, asked)->used <= 1, "... and the lookup counts as a use");
	is_int(cs_lookup(cs, "old", 3, &r), CS_MISS, "one unasked for longer than inactive is gone");
	cs_stats(cs, &st);
	is_int(st.expired, 1, "... counted as expired");
	cs_begin(cs, "lru", 3, getpid(), &w);
	cs_append(cs, &w, "v", 1);
	cs_commit(cs, &w);
	entry(cs, asked)->used = zone_clock() - 61;
	cs_begin(cs, "new", 3, getpid(), &w);
	cs_abort(cs, &w);
	cs_stats(cs, &st);
	is_int(st.expired, 2, "storing drops the least recently used when it went unasked too long");
	is_int(cs_lookup(cs, "lru", 3, &r), CS_HIT, "... and only those");
	consistent(cs, "after expiry");
	cs_destroy(cs);
}

/* A child that takes the lock, makes half a change and dies with it. */
static void die_holding_lock(struct cache_store *cs, void (*half)(struct cache_store *))
{
	pid_t pid = fork();

	if (pid == 0) {
		cs_lock(cs);
		half(cs);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
}

static void half_free(struct cache_store *cs)
{
	uint32_t i = cs->lru_tail;	/* "a", the oldest */

	__atomic_store_n(&entry(cs, i)->state, E_FREE, __ATOMIC_RELEASE);
	bucket_remove(cs, i);
}

static void half_lru_move(struct cache_store *cs)
{
	lru_unlink(cs, cs->lru_head);
}

static void half_append(struct cache_store *cs)
{
	struct cs_writer w;
	char data[CS_BLOCK * 3];

	pthread_mutex_unlock(&cs->lock);
	cs_begin(cs, "half", 4, getpid(), &w);
	cs_lock(cs);
	fill(data, sizeof(data), 8);
	append_locked(cs, entry(cs, w.entry), data, sizeof(data));
	next_block(cs)[entry(cs, w.entry)->last] = block_take(cs);	/* linked, not counted */
}

static void test_dead_lock_holder(void)
{
	struct cache_store *cs = make_zone(256 * 1024);
	char data[2500], back[2500];
	struct cs_reader r;
	struct cs_stats st;

	fill(data, sizeof(data), 9);
	store(cs, "a", data, sizeof(data));
	store(cs, "b", data, sizeof(data));
	store(cs, "c", data, sizeof(data));

	die_holding_lock(cs, half_free);
	is_int(cs_lookup(cs, "a", 1, &r), CS_MISS, "an object half freed by a process that died: gone");
	cs_stats(cs, &st);
	is_int(st.recoveries, 1, "... the lock was taken over and the zone rebuilt");
	is_int(st.blocks_used, 6, "... its blocks are free, the others' kept");
	is_int(fetch(cs, "b", back, sizeof(back), 999), sizeof(data), "... the others are whole");
	consistent(cs, "after a death in the middle of a free");

	die_holding_lock(cs, half_lru_move);
	is_int(fetch(cs, "c", back, sizeof(back), 999), sizeof(data), "an object half moved in the LRU list is still served");
	ok(memcmp(back, data, sizeof(data)) == 0, "... whole");
	consistent(cs, "after a death in the middle of an LRU move");

	die_holding_lock(cs, half_append);
	is_int(cs_lookup(cs, "half", 4, &r), CS_MISS, "a dead writer's half-appended object is dropped");
	cs_stats(cs, &st);
	is_int(st.recoveries, 3, "... in the third recovery");
	is_int(st.blocks_used, 6, "... and every block it took is free again");
	consistent(cs, "after a death in the middle of an append");
	cs_destroy(cs);
}

/* Writers killed at random moments, 40 times: every object that is found
 * reads back exactly as written, and the zone stays consistent. */
static void writer_loop(struct cache_store *cs, int *ready_fd)
{
	char data[6000], key[32];
	unsigned n;

	(void)!write(*ready_fd, "x", 1);
	for (n = 0;; n++) {
		snprintf(key, sizeof(key), "obj-%u", n % 200);
		fill(data, sizeof(data), n % 200);
		store(cs, key, data, 500 + (n % 200) * 27);
	}
}

static void test_random_kills(void)
{
	struct cache_store *cs = make_zone(512 * 1024);
	char want[6000], back[6000], key[32];
	int round, bad = 0, inconsistent = 0, served = 0;
	struct cs_stats st;

	for (round = 0; round < 40; round++) {
		int p[2];
		char c;
		pid_t pid;

		if (pipe(p) != 0)
			break;
		if ((pid = fork()) == 0)
			writer_loop(cs, &p[1]);
		(void)!read(p[0], &c, 1);	/* it runs: now kill it somewhere */
		usleep((useconds_t)(round * 97 % 1500));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(p[0]);
		close(p[1]);
		cs_reap(cs, pid);
		if (cs_check(cs, errbuf, sizeof(errbuf)) != P_OK && inconsistent++ == 0)
			printf("# %s\n", errbuf);
		for (unsigned k = 0; k < 200; k++) {
			ssize_t n;

			snprintf(key, sizeof(key), "obj-%u", k);
			if ((n = fetch(cs, key, back, sizeof(back), 4096)) < 0)
				continue;
			fill(want, sizeof(want), k);
			served++;
			if ((size_t)n != 500 + k * 27 || memcmp(back, want, (size_t)n) != 0)
				bad++;
		}
	}
	cs_stats(cs, &st);
	is_int(inconsistent, 0, "40 writers killed at random moments: the zone stays consistent");
	is_int(bad, 0, "... and all %d objects served read back as written", served);
	is_int(st.writing, 0, "... nothing is left WRITING");
	printf("# %lu of the kills landed while the lock was held\n", st.recoveries);
	cs_destroy(cs);
}

/* A zone mapped a second time, at another address, as a new binary maps
 * the one it inherits: the same objects, both ways. */
static void test_attach(void)
{
	char data[3000], back[3000];
	int fd, junk;
	struct cache_store *cs = cs_create("t", 1 << 20, &fd, errbuf, sizeof(errbuf)), *again;

	fill(data, sizeof(data), 10);
	store(cs, "before", data, sizeof(data));
	again = cs_attach(fd, errbuf, sizeof(errbuf));
	ok(again != NULL && again != cs, "the zone's descriptor maps it again, elsewhere");
	is_int(fetch(again, "before", back, sizeof(back), 500), sizeof(data),
	       "an object stored through one mapping is read through the other");
	ok(memcmp(back, data, sizeof(data)) == 0, "... byte for byte");
	store(again, "after", data, 10);
	is_int(fetch(cs, "after", back, sizeof(back), 500), 10, "... and the other way");
	is_str(cs_name(again), "t", "it keeps its name");
	is_int(cs_requested_size(again), 1 << 20, "... and the size it was asked for");
	consistent(again, "seen through the second mapping");
	cs_destroy(again);
	cs_destroy(cs);
	close(fd);

	junk = memfd_create("junk", MFD_CLOEXEC);
	(void)!ftruncate(junk, 1 << 20);
	ok(cs_attach(junk, errbuf, sizeof(errbuf)) == NULL, "memory that is not a zone is refused");
	ok(strstr(errbuf, "not a cache zone") != NULL, "... saying so (%s)", errbuf);
	close(junk);
}

int main(void)
{
	test_store_and_read();
	test_lru();
	test_one_writer();
	test_write_at_and_prefix();
	test_inactive();
	test_view();
	test_reuse_in_order();
	test_overtaken_reader();
	test_reap();
	test_dead_lock_holder();
	test_random_kills();
	test_attach();
	return done_testing();
}
