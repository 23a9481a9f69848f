/*
 * test_shm.c: shared-memory zones: creation, the slab allocator (every
 * class, page runs, exhaustion, fragmentation, coalescing), the lock
 * shared by forked children, and recovery when a lock holder dies.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include "tap.h"
#include "shm.h"

static uint64_t rng_state;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

static struct shm_zone *zone(const char *name, size_t size)
{
	char err[256] = "";
	struct shm_zone *z = shm_zone_create(name, size, err, sizeof(err));

	if (z == NULL)
		printf("# shm_zone_create: %s\n", err);
	return z;
}

static int check(struct shm_zone *z)
{
	char err[256] = "";
	int r = shm_check(z, err, sizeof(err));

	if (r != P_OK)
		printf("# shm_check: %s\n", err);
	return r;
}

static size_t free_pages(struct shm_zone *z)
{
	struct shm_stats st;

	shm_stats(z, &st);
	return st.pages_free;
}

/* Fill a block with a pattern derived from seed; verify it later. */
static void fill(void *p, size_t n, unsigned seed)
{
	unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (unsigned char)(seed * 31 + i);
}

static int intact(const void *p, size_t n, unsigned seed)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != (unsigned char)(seed * 31 + i))
			return 0;
	return 1;
}

static void test_create(void)
{
	char err[256] = "";
	struct shm_stats st;
	struct shm_zone *z;

	z = zone("tiny", 1);
	ok(z != NULL, "a tiny zone is created");
	shm_stats(z, &st);
	is_int(st.size, SHM_MIN_SIZE, "a tiny zone gets the minimum size");
	ok(st.pages_total > 0 && st.pages_total < SHM_MIN_SIZE / SHM_PAGE_SIZE,
	   "metadata takes some pages, not all (%zu)", st.pages_total);
	is_int(st.pages_free, st.pages_total, "all pages start free");
	is_int(st.bytes_used, 0, "nothing in use");
	is_str(shm_zone_name(z), "tiny", "the zone keeps its name");
	ok(shm_zone_matches(z, "tiny", 1), "same name and size match");
	ok(!shm_zone_matches(z, "tiny", 2), "another size does not match");
	ok(!shm_zone_matches(z, "other", 1), "another name does not match");
	is_int(check(z), P_OK, "a new zone is consistent");
	ok(shm_alloc(z, 0) == NULL, "alloc(0) is NULL");
	shm_zone_destroy(z);

	z = zone("odd", 100000);
	shm_stats(z, &st);
	is_int(st.size, 25 * SHM_PAGE_SIZE, "100000 bytes round up to 25 pages");
	shm_zone_destroy(z);

	z = shm_zone_create("a-name-that-is-far-too-long-for-a-zone", 65536,
			    err, sizeof(err));
	ok(z == NULL && strstr(err, "too long"), "a long name is refused: %s", err);
}

/* Every class, at its exact size and just above the one below. */
static void test_classes(struct shm_zone *z)
{
	struct shm_stats st;
	size_t size, pages0 = free_pages(z);
	unsigned c, aligned = 1, counted = 1, intact_all = 1;
	void *a, *b;

	for (c = 0, size = 16; c < SHM_NCLASSES; c++, size *= 2) {
		a = shm_alloc(z, size);
		b = shm_alloc(z, size / 2 + 1);
		ok(a && b && a != b, "two blocks of class %zu", size);
		if (!a || !b)
			continue;
		if ((uintptr_t)a % size || (uintptr_t)b % size)
			aligned = 0;
		shm_stats(z, &st);
		if (st.class_used[c] != 2 || st.bytes_used != 2 * size)
			counted = 0;
		fill(a, size, c);
		fill(b, size, c + 100);
		if (!intact(a, size, c) || !intact(b, size, c + 100))
			intact_all = 0;
		shm_free(z, a);
		shm_free(z, b);
	}
	ok(aligned, "blocks are aligned to their class size");
	ok(counted, "stats count blocks per class");
	ok(intact_all, "blocks are writable and do not overlap");
	shm_stats(z, &st);
	is_int(st.bytes_used, 0, "all class blocks freed");
	is_int(st.pages_free, pages0, "their pages are back");
	is_int(check(z), P_OK, "consistent after every class");
}

static void test_large(struct shm_zone *z)
{
	struct shm_stats st;
	size_t pages0 = free_pages(z);
	char *a, *b;

	a = shm_alloc(z, 3 * SHM_PAGE_SIZE + 1);
	b = shm_alloc(z, 2049);
	ok(a && b, "page runs are allocated");
	ok((uintptr_t)a % SHM_PAGE_SIZE == 0 && (uintptr_t)b % SHM_PAGE_SIZE == 0,
	   "page runs are page aligned");
	shm_stats(z, &st);
	is_int(st.pages_large, 5, "3 pages + 1 byte takes 4 pages, 2049 bytes 1");
	is_int(st.large_used, 2, "two runs live");
	is_int(st.pages_free, pages0 - 5, "free pages drop by 5");
	ok(a + 4 * SHM_PAGE_SIZE <= b || b + SHM_PAGE_SIZE <= a, "runs do not overlap");
	fill(a, 4 * SHM_PAGE_SIZE, 7);
	fill(b, SHM_PAGE_SIZE, 8);
	ok(intact(a, 4 * SHM_PAGE_SIZE, 7) && intact(b, SHM_PAGE_SIZE, 8),
	   "runs are writable whole");
	shm_free(z, a);
	shm_free(z, b);
	is_int(free_pages(z), pages0, "freed runs give their pages back");
	is_int(check(z), P_OK, "consistent after page runs");
}

static void test_bad_free(struct shm_zone *z)
{
	struct shm_stats st, st2;
	int local;
	char *p;

	p = shm_alloc(z, 100);
	shm_stats(z, &st);
	shm_free(z, &local);
	shm_free(z, p + 16);
	shm_stats(z, &st2);
	is_int(st2.bad_frees - st.bad_frees, 2,
	       "foreign and misaligned frees are refused");
	is_int(st2.bytes_used, st.bytes_used, "and change nothing");
	shm_free(z, p);
	shm_free(z, p);
	shm_stats(z, &st2);
	is_int(st2.bad_frees - st.bad_frees, 3, "a double free is refused");
	shm_free(z, NULL);
	is_int(check(z), P_OK, "consistent after bad frees");
}

static void test_exhaustion(void)
{
	struct shm_zone *z = zone("full", 64 * 1024);
	struct shm_stats st;
	void *pages[64], *small;
	size_t n = 0, i;

	shm_stats(z, &st);
	while (n < 64 && (pages[n] = shm_alloc(z, SHM_PAGE_SIZE)) != NULL)
		n++;
	is_int(n, st.pages_total, "every page can be allocated (%zu)", n);
	ok(shm_alloc(z, SHM_PAGE_SIZE) == NULL, "a full zone returns NULL");
	ok(shm_alloc(z, 16) == NULL, "even for a small block");
	shm_stats(z, &st);
	is_int(st.pages_free, 0, "no free page left");
	ok(st.fails >= 2, "failures are counted");
	shm_free(z, pages[n / 2]);
	small = shm_alloc(z, 16);
	ok(small != NULL, "freeing a page makes room for small blocks");
	ok(shm_alloc(z, SHM_PAGE_SIZE) == NULL, "but not for a page as well");
	shm_free(z, small);
	pages[n / 2] = shm_alloc(z, SHM_PAGE_SIZE);
	ok(pages[n / 2] != NULL, "the emptied slab page is reusable whole");
	for (i = 0; i < n; i++)
		shm_free(z, pages[i]);
	shm_stats(z, &st);
	is_int(st.pages_free, st.pages_total, "all pages free again");
	ok(shm_alloc(z, st.pages_total * SHM_PAGE_SIZE) != NULL,
	   "the whole zone in one run");
	ok(shm_alloc(z, 1) == NULL, "leaves nothing");
	is_int(check(z), P_OK, "consistent after exhaustion");
	shm_zone_destroy(z);
}

#define NBLOCKS 600

static size_t mixed_size(void)
{
	static const size_t sizes[] = { 1, 16, 17, 40, 64, 100, 128, 250, 512,
		700, 1024, 2000, 2048, 2049, 4096, 5000, 9000, 20000 };

	return sizes[rng() % ARRAY_LEN(sizes)];
}

static void test_fragmentation(struct shm_zone *z)
{
	static void *blk[NBLOCKS];
	static size_t len[NBLOCKS];
	struct shm_stats st;
	size_t pages0 = free_pages(z), got = 0, i;
	int good = 1;

	for (i = 0; i < NBLOCKS; i++) {
		len[i] = mixed_size();
		if ((blk[i] = shm_alloc(z, len[i])) != NULL) {
			fill(blk[i], len[i], (unsigned)i);
			got++;
		}
	}
	is_int(got, NBLOCKS, "%d mixed blocks allocated", NBLOCKS);
	for (i = 0; i < NBLOCKS; i += 2) {
		shm_free(z, blk[i]);
		blk[i] = NULL;
	}
	is_int(check(z), P_OK, "consistent with every other block freed");
	for (i = 0, got = 0; i < NBLOCKS; i += 2) {
		len[i] = mixed_size();
		if ((blk[i] = shm_alloc(z, len[i])) != NULL) {
			fill(blk[i], len[i], (unsigned)i);
			got++;
		}
	}
	is_int(got, NBLOCKS / 2, "the holes are allocated again");
	for (i = 0; i < NBLOCKS; i++)
		if (blk[i] && !intact(blk[i], len[i], (unsigned)i))
			good = 0;
	ok(good, "no block was overwritten by another");
	is_int(check(z), P_OK, "consistent after refilling");
	for (i = 1; i < NBLOCKS; i += 2)
		shm_free(z, blk[i]);
	for (i = 0; i < NBLOCKS; i += 2)
		shm_free(z, blk[i]);
	shm_stats(z, &st);
	is_int(st.pages_free, pages0, "free pages back to the start");
	is_int(st.bytes_used, 0, "no bytes in use");
	is_int(st.pages_slab + st.pages_large, 0, "no slab or run pages left");
	is_int(check(z), P_OK, "consistent when empty again");
}

/* Free single pages in a scattered order: they must merge into one run. */
static void test_coalescing(void)
{
	struct shm_zone *z = zone("coalesce", 256 * 1024);
	struct shm_stats st;
	void *pg[64];
	size_t n = 0, i;

	while (n < 64 && (pg[n] = shm_alloc(z, SHM_PAGE_SIZE)) != NULL)
		n++;
	for (i = 1; i < n; i += 2)
		shm_free(z, pg[i]);
	shm_stats(z, &st);
	ok(shm_alloc(z, 2 * SHM_PAGE_SIZE) == NULL,
	   "free single pages between used ones hold no 2-page run");
	for (i = 0; i < n; i += 4)
		shm_free(z, pg[i]);
	for (i = n; i-- > 0; )
		if (i % 4 == 2)
			shm_free(z, pg[i]);
	is_int(check(z), P_OK, "consistent after scattered frees");
	shm_stats(z, &st);
	is_int(st.pages_free, st.pages_total, "every page free");
	ok(shm_alloc(z, st.pages_total * SHM_PAGE_SIZE) != NULL,
	   "coalesced pages hold the whole zone in one run");
	shm_zone_destroy(z);
}

#define CHILDREN 4
#define ROUNDS 10000

static void child_count(struct shm_zone *z, long *counter)
{
	void *p, *q;
	int i, bad = 0;

	for (i = 0; i < ROUNDS; i++) {
		if (shm_lock(z) < 0)
			_exit(2);
		(*counter)++;
		p = shm_alloc_locked(z, 1 + (size_t)(i % 3000));
		shm_unlock(z);
		q = shm_alloc(z, 64);
		if (!p || !q)
			bad = 1;
		shm_free(z, p);
		shm_free(z, q);
	}
	_exit(bad);
}

static int wait_child(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return status;
}

static void test_fork_counter(struct shm_zone *z)
{
	long *counter = shm_alloc(z, sizeof(*counter));
	struct shm_stats st;
	size_t used0;
	pid_t pid[CHILDREN];
	int i, clean = 1;

	*counter = 0;
	shm_stats(z, &st);
	used0 = st.bytes_used;
	fflush(stdout);
	for (i = 0; i < CHILDREN; i++)
		if ((pid[i] = fork()) == 0)
			child_count(z, counter);
	for (i = 0; i < CHILDREN; i++) {
		int status = wait_child(pid[i]);

		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			clean = 0;
	}
	ok(clean, "%d children allocated and freed without a failure", CHILDREN);
	is_int(*counter, CHILDREN * ROUNDS, "the shared counter lost no increment");
	shm_stats(z, &st);
	is_int(st.bytes_used, used0, "children freed all they allocated");
	is_int(st.recoveries, 0, "no lock needed recovery");
	is_int(check(z), P_OK, "consistent after concurrent children");
	shm_free(z, counter);
}

/* The parent must not hang if recovery fails: SIGALRM ends the test. */
static int lock_bounded(struct shm_zone *z)
{
	int r;

	alarm(5);
	r = shm_lock(z);
	alarm(0);
	return r;
}

static void test_dead_owner(struct shm_zone *z, int by_kill)
{
	const char *how = by_kill ? "SIGKILLed" : "_exit()ed";
	struct shm_stats st, st0;
	int fds[2], status;
	char c;
	void *p;
	pid_t pid;

	shm_stats(z, &st0);
	if (pipe(fds) < 0)
		return;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		shm_lock(z);
		shm_alloc_locked(z, 300);	/* leaks: its owner dies */
		if (!by_kill)
			_exit(0);
		(void)!write(fds[1], "L", 1);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (by_kill) {
		ok(read(fds[0], &c, 1) == 1, "the child holds the lock");
		kill(pid, SIGKILL);
	}
	close(fds[0]);
	status = wait_child(pid);
	ok(by_kill ? WIFSIGNALED(status) : WIFEXITED(status), "the child %s", how);
	is_int(lock_bounded(z), SHM_RECOVERED,
	       "the lock of a %s holder is recovered", how);
	shm_unlock(z);
	is_int(lock_bounded(z), P_OK, "and is an ordinary lock again");
	shm_unlock(z);
	shm_stats(z, &st);
	is_int(st.recoveries, st0.recoveries + 1, "the recovery is counted");
	is_int(st.bytes_used, st0.bytes_used + 512, "the dead child's block is kept");
	is_int(check(z), P_OK, "consistent after recovery");
	p = shm_alloc(z, 300);
	ok(p != NULL, "the zone allocates after recovery");
	shm_free(z, p);
	is_int(check(z), P_OK, "and frees");
}

/* Allocate and free at random until killed, mostly holding the lock. */
static void child_churn(struct shm_zone *z, unsigned seed)
{
	void *live[64] = { 0 };
	unsigned i, k;

	rng_state = seed | 1;
	for (;;) {
		if (shm_lock(z) < 0)
			_exit(2);
		for (i = 0; i < 50; i++) {
			k = rng() % 64;
			if (live[k]) {
				shm_free_locked(z, live[k]);
				live[k] = NULL;
			} else {
				live[k] = shm_alloc_locked(z, mixed_size());
			}
		}
		shm_unlock(z);
		if (rng() % 2) {
			k = rng() % 64;
			shm_free(z, live[k]);
			live[k] = shm_alloc(z, mixed_size());
		}
	}
}

#define KILLS 30

static void test_killed_mid_loop(void)
{
	struct shm_zone *z = zone("churn", 16 * 1024 * 1024);
	struct shm_stats st;
	struct timespec ts;
	int i, r, locked = 0, consistent = 0, allocs = 0, recovered = 0;
	void *p;
	pid_t pid;

	for (i = 0; i < KILLS; i++) {
		fflush(stdout);
		if ((pid = fork()) == 0)
			child_churn(z, rng());
		ts.tv_sec = 0;
		ts.tv_nsec = 1000000L + (long)(rng() % 20000000);
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		wait_child(pid);
		r = lock_bounded(z);
		if (r == P_OK || r == SHM_RECOVERED)
			locked++;
		if (r == SHM_RECOVERED)
			recovered++;
		if (r >= 0)
			shm_unlock(z);
		if (check(z) == P_OK)
			consistent++;
		if ((p = shm_alloc(z, 100)) != NULL)
			allocs++;
		shm_free(z, p);
	}
	is_int(locked, KILLS, "the lock is taken after each of %d kills", KILLS);
	is_int(consistent, KILLS, "the zone is consistent after each");
	is_int(allocs, KILLS, "and allocates after each");
	printf("# %d of %d kills hit a lock holder\n", recovered, KILLS);
	shm_stats(z, &st);
	is_int(st.pages_free + st.pages_slab + st.pages_large, st.pages_total,
	       "pages add up after the kills");
	ok(st.recoveries == (unsigned long)recovered, "every recovery was reported");
	shm_zone_destroy(z);
}

int main(void)
{
	struct shm_zone *z;

	rng_state = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	printf("# seed %llu\n", (unsigned long long)rng_state);
	test_create();
	z = zone("main", 4 * 1024 * 1024);
	test_classes(z);
	test_large(z);
	test_bad_free(z);
	test_exhaustion();
	test_fragmentation(z);
	test_coalescing();
	test_fork_counter(z);
	test_dead_owner(z, 0);
	test_dead_owner(z, 1);
	test_killed_mid_loop();
	shm_zone_destroy(z);
	return done_testing();
}
