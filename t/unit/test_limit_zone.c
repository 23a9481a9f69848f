/*
 * test_limit_zone.c: the buckets of limit_req (GCRA with burst, delay,
 * nodelay, on a clock the test sets), the counts of limit_conn and the
 * master taking back a dead process's, eviction of idle keys from a full
 * zone (a slot claimed free is not the idlest), journals for two
 * generations of workers, random seeds of each zone's hashes, a zone
 * mapped again from its memfd (a binary upgrade), and two
 * processes racing on one key giving exact counts.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "tap.h"
#include "limit_zone.h"

#define SEC 1000000ULL
#define T0 (1000 * SEC)			/* the clock's start, as a boot's */

static struct limit_zone *zone(const char *name, enum limit_kind kind, size_t size)
{
	char err[256] = "";
	struct limit_zone *z = limit_zone_create(name, kind, size, 2, err, sizeof(err));

	if (z == NULL)
		printf("# limit_zone_create: %s\n", err);
	return z;
}

static struct limit_key key(const struct limit_zone *z, const char *s)
{
	return limit_key_of(z, s, strlen(s));
}

static struct limit_rate rate(uint64_t interval, unsigned burst, long delay)
{
	return (struct limit_rate){ interval, interval * burst,
				    delay < 0 ? UINT64_MAX : interval * (uint64_t)delay };
}

static enum limit_verdict take(struct limit_zone *z, const char *k, struct limit_rate r,
			       uint64_t now, uint64_t *wait)
{
	struct limit_result res = limit_req_take(z, key(z, k), &r, now);

	if (wait != NULL)
		*wait = res.wait_us;
	return res.verdict;
}

static void test_nodelay(void)
{
	struct limit_zone *z = zone("nodelay", LZ_REQ, 1 << 20);
	struct limit_rate r = rate(SEC, 3, -1);
	uint64_t wait = 0;
	int i, passed = 0;

	for (i = 0; i < 10; i++)
		passed += take(z, "a", r, T0, NULL) == LIMIT_PASS;
	is_int(passed, 4, "1r/s, burst 3, nodelay: 4 of 10 at once pass");
	is_int(take(z, "a", r, T0, &wait), LIMIT_REFUSE, "the next is refused");
	is_int((long long)wait, (long long)SEC, "... and may come back in a second");
	is_int(take(z, "a", r, T0 + SEC / 2, &wait), LIMIT_REFUSE, "half a second on: refused");
	is_int((long long)wait, (long long)SEC / 2, "... for half a second more");
	is_int(take(z, "a", r, T0 + SEC, NULL), LIMIT_PASS, "a second on: one passes");
	is_int(take(z, "a", r, T0 + SEC, NULL), LIMIT_REFUSE, "... and only one");
	is_int(take(z, "b", r, T0, NULL), LIMIT_PASS, "another key has its own bucket");
	passed = 0;
	for (i = 0; i < 100; i++)
		passed += take(z, "a", r, T0 + 100 * SEC + (uint64_t)i * SEC / 10, NULL) ==
			  LIMIT_PASS;
	/* idle long enough to be full: 4 at once, then one a second */
	is_int(passed, 4 + 9, "over 10 s after a rest: the burst and one a second");
	limit_zone_destroy(z);
}

static void test_delay(void)
{
	struct limit_zone *z = zone("delay", LZ_REQ, 1 << 20);
	struct limit_rate r = rate(SEC, 3, 1);
	uint64_t wait = 0;

	is_int(take(z, "a", r, T0, NULL), LIMIT_PASS, "delay 1: the first passes");
	is_int(take(z, "a", r, T0, NULL), LIMIT_PASS, "... the second too (within delay)");
	is_int(take(z, "a", r, T0, &wait), LIMIT_DELAY, "the third waits");
	is_int((long long)wait, (long long)SEC, "... a second");
	is_int(take(z, "a", r, T0, &wait), LIMIT_DELAY, "the fourth waits");
	is_int((long long)wait, (long long)(2 * SEC), "... two seconds");
	is_int(take(z, "a", r, T0, NULL), LIMIT_REFUSE, "the fifth is over the burst: refused");

	r = rate(SEC, 2, 0);
	is_int(take(z, "b", r, T0, NULL), LIMIT_PASS, "delay 0: the first passes");
	is_int(take(z, "b", r, T0, &wait), LIMIT_DELAY, "the second waits");
	is_int((long long)wait, (long long)SEC, "... its turn, a second");
	is_int(take(z, "b", r, T0 + SEC / 2, &wait), LIMIT_DELAY, "the third, later, waits");
	is_int((long long)wait, (long long)(3 * SEC / 2), "... for its turn");
	is_int(take(z, "b", r, T0 + SEC / 2, NULL), LIMIT_REFUSE, "the fourth is refused");

	/* a new rate applies to a kept bucket: the time queued stays */
	r = rate(10 * SEC, 0, -1);
	is_int(take(z, "b", r, T0 + SEC, &wait), LIMIT_REFUSE,
	       "a new rate on a kept bucket: what it had queued still counts");
	is_int((long long)wait, (long long)(2 * SEC), "... until its time is up");
	is_int(take(z, "b", r, T0 + 3 * SEC, NULL), LIMIT_PASS, "then one passes");
	is_int(take(z, "b", r, T0 + 12 * SEC, NULL), LIMIT_REFUSE, "... and the next at the new rate");
	is_int(take(z, "b", r, T0 + 13 * SEC, NULL), LIMIT_PASS, "... 10 s later");
	limit_zone_destroy(z);
}

static void test_conn(void)
{
	struct limit_zone *z = zone("conn", LZ_CONN, 1 << 20);
	struct limit_hold h[3], other;
	int status;
	pid_t pid;

	is_int(limit_conn_take(z, key(z, "a"), 2, 1, &h[0]).verdict, LIMIT_PASS, "max 2: one open");
	is_int(limit_conn_take(z, key(z, "a"), 2, 1, &h[1]).verdict, LIMIT_PASS, "two open");
	is_int(limit_conn_take(z, key(z, "a"), 2, 1, &h[2]).verdict, LIMIT_REFUSE, "a third: refused");
	ok(h[2].slot == 0, "... and holds nothing");
	is_int(limit_conn_take(z, key(z, "b"), 2, 1, &other).verdict, LIMIT_PASS,
	       "another key is unaffected");
	limit_conn_release(z, &h[0], 2);
	is_int(limit_conn_count(z, key(z, "a")), 1, "one given back: one open");
	is_int(limit_conn_take(z, key(z, "a"), 2, 2, &h[0]).verdict, LIMIT_PASS, "and one more passes");
	limit_conn_release(z, &h[0], 3);
	limit_conn_release(z, &h[1], 3);
	limit_conn_release(z, &other, 3);
	is_int(limit_conn_count(z, key(z, "a")), 0, "all given back");

	/* a process that dies holding two: the master takes them back */
	pid = fork();
	if (pid == 0) {
		struct limit_hold mine[2];

		limit_conn_take(z, key(z, "a"), 2, 5, &mine[0]);
		limit_conn_take(z, key(z, "a"), 2, 5, &mine[1]);
		_exit(mine[0].entry != 0 && mine[1].entry != 0 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	is_int(WEXITSTATUS(status), 0, "a child counted two, journaled");
	is_int(limit_conn_count(z, key(z, "a")), 2, "... and died holding them");
	is_int(limit_zone_reap(z, getpid()), 0, "reaping a live other process gives nothing back");
	is_int(limit_zone_reap(z, pid), 2, "reaping the dead one gives back two");
	is_int(limit_conn_count(z, key(z, "a")), 0, "none open any more");
	is_int(limit_conn_take(z, key(z, "a"), 2, 6, &h[0]).verdict, LIMIT_PASS, "the key passes again");
	is_int(limit_zone_reap(z, pid), 0, "its journal record was freed");
	limit_conn_release(z, &h[0], 7);
	limit_zone_destroy(z);
}

static void test_eviction(void)
{
	struct limit_zone *z = zone("small", LZ_REQ, 64 * 1024);
	struct limit_rate slow = rate(60 * SEC, 0, -1), quick = rate(1, 0, -1);
	unsigned cap = limit_zone_capacity(z), i, full = 0, evicted = 0;
	char name[32];

	ok(cap > 1000 && cap < 64 * 1024 / 24, "a 64k zone holds %u keys", cap);
	is_int(take(z, "busy", slow, T0, NULL), LIMIT_PASS, "a busy key passes once");
	for (i = 0; i < 4 * cap; i++) {
		struct limit_result res;

		snprintf(name, sizeof(name), "k%u", i);
		res = limit_req_take(z, key(z, name), &quick, T0 + 10 + i);
		full += res.verdict == LIMIT_FULL;
		evicted += res.first_eviction;
	}
	is_int(full, 0, "keys idle for a microsecond make room: no key was refused");
	is_int(evicted, 1, "the first eviction is told once");
	ok(limit_zone_keys(z) <= cap, "the zone holds at most its capacity");
	is_int(take(z, "busy", slow, T0 + 20 * SEC, NULL), LIMIT_REFUSE,
	       "the busy key (bucket not full) was never evicted");

	/* every key busy: a new one finds no room */
	for (i = 0, full = 0; i < 2 * cap; i++) {
		snprintf(name, sizeof(name), "s%u", i);
		full += take(z, name, slow, T0 + 30 * SEC, NULL) == LIMIT_FULL;
	}
	ok(full > 0, "with every key busy, new keys are refused (%u)", full);
	limit_zone_destroy(z);
}

/* n key names whose probe windows start at the same slot. */
static unsigned same_window(struct limit_zone *z, char names[][32], unsigned n)
{
	unsigned cap = limit_zone_capacity(z), found = 0, i;
	uint64_t want = 0;

	for (i = 0; found < n && i < 10000000; i++) {
		snprintf(names[found], 32, "w%u", i);
		if (found == 0)
			want = key(z, names[0]).h1 % cap;
		if (key(z, names[found]).h1 % cap == want)
			found++;
	}
	return found;
}

/* A full window gives the slot of the key idle longest, never one with a
 * request open. */
static void test_idlest_first(void)
{
	struct limit_zone *z = zone("idlest", LZ_CONN, 64 * 1024);
	char names[LIMIT_PROBE + 1][32];
	struct limit_hold h[LIMIT_PROBE + 1];
	uint32_t slot_of_oldest = 0;
	unsigned i;

	if (!ok(same_window(z, names, LIMIT_PROBE + 1) == LIMIT_PROBE + 1,
		"%u keys of one probe window", LIMIT_PROBE + 1))
		return;
	for (i = 0; i < LIMIT_PROBE; i++)
		limit_conn_take(z, key(z, names[i]), 1, 10, &h[i]);
	/* key 0 stays open; the others are let go, key 3 first */
	for (i = 1; i < LIMIT_PROBE; i++) {
		if (i == 3)
			slot_of_oldest = h[i].slot;
		limit_conn_release(z, &h[i], i == 3 ? 20 : 100 + i);
	}
	is_int(limit_conn_take(z, key(z, names[LIMIT_PROBE]), 1, 200, &h[LIMIT_PROBE]).verdict,
	       LIMIT_PASS, "a new key in a full window passes");
	is_int(h[LIMIT_PROBE].slot, slot_of_oldest, "... in the slot of the key idle longest");
	limit_conn_release(z, &h[LIMIT_PROBE], 201);
	is_int(limit_conn_take(z, key(z, names[0]), 1, 202, &h[1]).verdict, LIMIT_REFUSE,
	       "the key with a request open kept its slot and count");
	limit_conn_release(z, &h[0], 203);
	limit_zone_destroy(z);
}

/* ---- two processes at once ---- */

#define ROUNDS 20000

struct race {
	unsigned passed[2];
	int open, worst;		/* limit_conn: open at once, at most */
};

static void race_req(struct limit_zone *z, struct race *rc, int who)
{
	struct limit_rate r = rate(60 * SEC, 4999, -1);
	unsigned i;

	for (i = 0; i < ROUNDS; i++)
		rc->passed[who] += take(z, "hot", r, T0, NULL) == LIMIT_PASS;
}

static void race_conn(struct limit_zone *z, struct race *rc, int who)
{
	struct limit_hold h;
	unsigned i;
	int now;

	for (i = 0; i < ROUNDS; i++) {
		if (limit_conn_take(z, key(z, "hot"), 3, 1, &h).verdict != LIMIT_PASS)
			continue;
		rc->passed[who]++;
		now = __atomic_add_fetch(&rc->open, 1, __ATOMIC_SEQ_CST);
		if (now > __atomic_load_n(&rc->worst, __ATOMIC_SEQ_CST))
			__atomic_store_n(&rc->worst, now, __ATOMIC_SEQ_CST);
		__atomic_sub_fetch(&rc->open, 1, __ATOMIC_SEQ_CST);
		limit_conn_release(z, &h, 2);
	}
}

static void race(enum limit_kind kind)
{
	struct limit_zone *z = zone("race", kind, 1 << 20);
	struct race *rc = mmap(NULL, sizeof(*rc), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pid_t pids[2];
	int who, status, good = 0;

	memset(rc, 0, sizeof(*rc));
	for (who = 0; who < 2; who++) {
		pids[who] = fork();
		if (pids[who] == 0) {
			if (kind == LZ_REQ)
				race_req(z, rc, who);
			else
				race_conn(z, rc, who);
			_exit(0);
		}
	}
	for (who = 0; who < 2; who++)
		good += waitpid(pids[who], &status, 0) == pids[who] && status == 0;
	is_int(good, 2, "two processes raced on one key");
	if (kind == LZ_REQ) {
		is_int(rc->passed[0] + rc->passed[1], 5000,
		       "limit_req: burst 4999 at one instant passes exactly 5000 of %u (%u + %u)",
		       2 * ROUNDS, rc->passed[0], rc->passed[1]);
	} else {
		ok(rc->worst <= 3, "limit_conn max 3: at most %d open at once", rc->worst);
		ok(rc->passed[0] > 0 && rc->passed[1] > 0, "both processes got through");
		is_int(limit_conn_count(z, key(z, "hot")), 0, "every count was given back");
	}
	munmap(rc, sizeof(*rc));
	limit_zone_destroy(z);
}

/* A new binary maps the zone again from its memfd: the same buckets. */
static void test_attach(void)
{
	struct limit_zone *z = zone("handed", LZ_CONN, 1 << 20), *again;
	struct limit_hold h;
	char err[256] = "";
	int fd;

	limit_conn_take(z, key(z, "a"), 5, 1, &h);
	fd = dup(limit_zone_fd(z));
	again = limit_zone_attach(fd, err, sizeof(err));
	ok(again != NULL, "a zone is mapped again from its memfd %s", err);
	if (again == NULL)
		return;
	ok(limit_zone_matches(again, "handed", LZ_CONN, 1 << 20, 2), "... with its name, kind and size");
	is_int(limit_conn_count(again, key(again, "a")), 1, "... and its counts, under its seeds");
	limit_zone_destroy(again);
	limit_conn_release(z, &h, 2);
	limit_zone_destroy(z);
	fd = memfd_create("other", 0);
	ok(fd >= 0 && ftruncate(fd, 1 << 16) == 0, "a memfd of something else");
	ok(limit_zone_attach(fd, err, sizeof(err)) == NULL && strstr(err, "not a limit zone"),
	   "is not taken for a zone: %s", err);
	close(fd);
}

static void test_keys(void)
{
	struct limit_zone *z = zone("keys", LZ_REQ, 1 << 16), *other = zone("keys", LZ_REQ, 1 << 16);
	struct limit_key a = key(z, "10.0.0.1"), b = key(z, "10.0.0.2"), c = key(z, "10.0.0.1");
	struct limit_key elsewhere = key(other, "10.0.0.1");
	char err[128] = "";

	ok(a.h1 == c.h1 && a.h2 == c.h2, "a key's text always names it the same");
	ok(a.h1 != b.h1 && a.h2 != b.h2, "two keys differ in both words");
	ok(a.h1 != elsewhere.h1 && a.h2 != elsewhere.h2,
	   "another zone names it otherwise: its seeds are its own, drawn at random");
	ok(limit_zone_create("tiny", LZ_REQ, 100, 2, err, sizeof(err)) == NULL &&
	   strstr(err, "too small") != NULL, "a zone too small is refused: %s", err);
	limit_zone_destroy(z);
	limit_zone_destroy(other);
}

/* A slot claimed free is stamped as used now: a key refused before it
 * ever counted is not taken for the idlest of its window. */
static void test_claim_stamped(void)
{
	struct limit_zone *z = zone("stamp", LZ_CONN, 64 * 1024);
	char names[LIMIT_PROBE + 2][32];
	struct limit_hold h[LIMIT_PROBE + 2];
	uint32_t slot_of_idlest;
	unsigned i;

	if (!ok(same_window(z, names, LIMIT_PROBE + 1) == LIMIT_PROBE + 1,
		"%u keys of one probe window", LIMIT_PROBE + 1))
		return;
	/* key 0 let go at 20; key 1 claims its slot at 100, refused (max 0) */
	limit_conn_take(z, key(z, names[0]), 1, 10, &h[0]);
	slot_of_idlest = h[0].slot;
	limit_conn_release(z, &h[0], 20);
	is_int(limit_conn_take(z, key(z, names[1]), 0, 100, &h[1]).verdict, LIMIT_REFUSE,
	       "a key refused at once (max 0)");
	for (i = 2; i < LIMIT_PROBE; i++)
		limit_conn_take(z, key(z, names[i]), 1, 100, &h[i]);
	is_int(limit_conn_take(z, key(z, names[LIMIT_PROBE]), 1, 200, &h[LIMIT_PROBE]).verdict,
	       LIMIT_PASS, "a new key in the full window passes");
	is_int(h[LIMIT_PROBE].slot, slot_of_idlest,
	       "... in the slot idle since 20, not in the one claimed at 100");
	is_int(limit_zone_keys(z), LIMIT_PROBE, "the zone counts the slots claimed");
	for (i = 2; i <= LIMIT_PROBE; i++)
		limit_conn_release(z, &h[i], 300);
	limit_zone_destroy(z);
}

/* A zone for 40 workers journals 80 processes at once (two generations):
 * none counts unjournaled, and the master takes back what each held. */
static void test_journals(void)
{
	char err[256] = "";
	struct limit_zone *z = limit_zone_create("many", LZ_CONN, 1 << 20, 40, err, sizeof(err));
	pid_t pids[80];
	unsigned i, journaled = 0, given = 0;
	int status;

	if (!ok(z != NULL, "a zone for 40 workers %s", err))
		return;
	ok(limit_zone_matches(z, "many", LZ_CONN, 1 << 20, 40) &&
	   !limit_zone_matches(z, "many", LZ_CONN, 1 << 20, 41),
	   "... kept for as many workers, not for more");
	for (i = 0; i < 80; i++) {
		struct limit_hold h;

		if ((pids[i] = fork()) == 0) {
			limit_conn_take(z, key(z, "k"), 1000, 1, &h);
			_exit(h.entry != 0 ? 0 : 1);
		}
		journaled += waitpid(pids[i], &status, 0) == pids[i] && status == 0;
	}
	is_int(journaled, 80, "80 processes that died holding one, each journaled");
	for (i = 0; i < 80; i++)
		given += limit_zone_reap(z, pids[i]);
	is_int(given, 80, "... and every one taken back");
	is_int(limit_conn_count(z, key(z, "k")), 0, "none open any more");
	limit_zone_destroy(z);
}

int main(void)
{
	test_keys();
	test_attach();
	test_nodelay();
	test_delay();
	test_conn();
	test_eviction();
	test_idlest_first();
	test_claim_stamped();
	test_journals();
	race(LZ_REQ);
	race(LZ_CONN);
	return done_testing();
}
