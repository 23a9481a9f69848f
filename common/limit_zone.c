/*
 * limit_zone.c: the buckets and counts of limit_req and limit_conn in
 * shared memory, changed only by compare-and-swap (limit_zone.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "core.h"
#include "limit_zone.h"

#define LZ_MAGIC	"portlim2"
#define LZ_NAME_MAX	64
#define LZ_MIN_SLOTS	LIMIT_PROBE

/* limit_conn's state word */
#define CONN_SHIFT	40
#define CONN_TIME_MASK	((1ULL << CONN_SHIFT) - 1)
#define CONN_COUNT(s)	((s) >> CONN_SHIFT)

struct lz_head {
	char magic[8];
	char name[LZ_NAME_MAX];
	uint32_t kind;			/* enum limit_kind */
	uint32_t nslots;
	size_t size;			/* as asked for */
	uint32_t journal_cap;		/* entries of a journal record */
	uint32_t owners;		/* journal records */
	uint32_t evicting;		/* set by the first eviction */
	uint32_t used;			/* slots claimed (none is freed) */
	uint64_t seed[2];		/* of the hashes, drawn at creation: a
					 * client cannot aim its keys at another's
					 * slots */
};

/* A key's slot: h1 == 0 is free; h2 == 0 is being claimed (whoever
 * finds it so first writes its own). */
struct lz_slot {
	uint64_t h1, h2;
	uint64_t state;
};

/* One process's journal: the slots (+ 1) it counted an exchange in. */
struct lz_owner {
	int32_t pid;			/* 0: free */
	uint32_t entries[];
};

/* The mapping, and what this process keeps of its own journal. */
struct limit_zone {
	void *base;
	size_t mapped;
	int fd;				/* the memfd, for a new binary */
	struct lz_head *head;
	struct lz_slot *slots;
	char *owners;			/* head->owners records, limit_conn */
	size_t owner_size;
	pid_t owner_pid;		/* whose the fields below are */
	struct lz_owner *mine;
	uint32_t *free_entries;		/* a stack of free entries of mine */
	uint32_t nfree;
};

static uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static bool cas(uint64_t *p, uint64_t *expected, uint64_t desired)
{
	return __atomic_compare_exchange_n(p, expected, desired, false, __ATOMIC_ACQ_REL,
					   __ATOMIC_ACQUIRE);
}

/* ---- keys ---- */

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

/* A 64-bit hash of p[len] from seed: 8 bytes a round, each round
 * mixed in before the next. */
static uint64_t hash64(const unsigned char *p, size_t len, uint64_t seed)
{
	uint64_t h = mix(seed ^ (len * 0x9e3779b97f4a7c15ULL)), m;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, 8);
		h = mix(h ^ mix(m + seed)) * 0x9e3779b97f4a7c15ULL;
	}
	m = 0;
	memcpy(&m, p + i, len - i);
	return mix(h ^ mix(m ^ seed ^ (uint64_t)(len - i)));
}

struct limit_key limit_key_of(const struct limit_zone *z, const void *p, size_t len)
{
	struct limit_key k = {
		.h1 = hash64(p, len, z->head->seed[0]),
		.h2 = hash64(p, len, z->head->seed[1]),
	};

	/* 0 marks a free slot, or one being claimed */
	k.h1 |= k.h1 == 0;
	k.h2 |= k.h2 == 0;
	return k;
}

/* ---- the zone ---- */

static size_t owner_size(uint32_t cap)
{
	return (sizeof(struct lz_owner) + cap * sizeof(uint32_t) + 7) & ~(size_t)7;
}

/* Journal records for a configuration of workers: its workers and a new
 * generation's as many, while a reload or a binary upgrade overlaps
 * them, and a margin for a generation still draining. */
static uint32_t owners_for(enum limit_kind kind, unsigned workers)
{
	return kind == LZ_CONN ? 2 * MAX(workers, 1u) + LIMIT_OWNERS_MARGIN : 0;
}

/* The shape of a zone of size bytes with owners journal records, into
 * its header. limit_conn: a quarter of it for the journals. */
static void layout(struct lz_head *head, enum limit_kind kind, size_t size, uint32_t owners)
{
	size_t room = size - sizeof(struct lz_head), journals = 0;
	uint32_t cap = 0;

	if (kind == LZ_CONN) {
		cap = (uint32_t)MIN(room / 4 / owners / sizeof(uint32_t) - 2, (size_t)1 << 24);
		journals = owners * owner_size(cap);
	}
	head->kind = kind;
	head->owners = owners;
	head->journal_cap = cap;
	head->nslots = (uint32_t)MIN((room - journals) / sizeof(struct lz_slot),
				     (size_t)UINT32_MAX);
}

/* Where the parts are, from the header. */
static void locate(struct limit_zone *z)
{
	z->slots = (struct lz_slot *)(z->head + 1);
	z->owner_size = owner_size(z->head->journal_cap);
	z->owners = z->head->journal_cap ? (char *)(z->slots + z->head->nslots) : NULL;
}

/* Map fd's size bytes. */
static struct limit_zone *map(int fd, size_t size, const char *what, char *err, size_t errlen)
{
	struct limit_zone *z = calloc(1, sizeof(*z));

	if (z == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	z->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (z->base == MAP_FAILED) {
		snprintf(err, errlen, "%s: mmap of %zu bytes: %s", what, size, strerror(errno));
		free(z);
		return NULL;
	}
	z->mapped = size;
	z->fd = fd;
	z->head = z->base;
	return z;
}

struct limit_zone *limit_zone_create(const char *name, enum limit_kind kind, size_t size,
				     unsigned workers, char *err, size_t errlen)
{
	uint32_t owners = owners_for(kind, workers);
	size_t min = sizeof(struct lz_head) + LZ_MIN_SLOTS * sizeof(struct lz_slot) +
		     owners * owner_size(16) * 4;
	struct limit_zone *z;
	uint64_t seed[2];
	int fd;

	if (size < min) {
		snprintf(err, errlen, "limit \"%s\": a zone of %zu bytes is too small (at least %zu)",
			 name, size, min);
		return NULL;
	}
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed)) {
		snprintf(err, errlen, "limit \"%s\": getrandom: %s", name, strerror(errno));
		return NULL;
	}
	/* a memfd, so that a new binary can map it again */
	if ((fd = memfd_create(name, MFD_CLOEXEC)) < 0 || ftruncate(fd, (off_t)size) != 0) {
		snprintf(err, errlen, "limit \"%s\": memfd of %zu bytes: %s", name, size,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if ((z = map(fd, size, name, err, errlen)) == NULL) {
		close(fd);
		return NULL;
	}
	memcpy(z->head->magic, LZ_MAGIC, sizeof(z->head->magic));
	snprintf(z->head->name, sizeof(z->head->name), "%s", name);
	z->head->size = size;
	memcpy(z->head->seed, seed, sizeof(seed));
	layout(z->head, kind, size, owners);
	locate(z);
	return z;
}

struct limit_zone *limit_zone_attach(int fd, char *err, size_t errlen)
{
	struct limit_zone *z;
	struct lz_head want = { .kind = 0 };
	struct stat st;

	if (fstat(fd, &st) != 0 || st.st_size < (off_t)sizeof(struct lz_head)) {
		snprintf(err, errlen, "inherited limit zone (fd %d): not a limit zone", fd);
		return NULL;
	}
	if ((z = map(fd, (size_t)st.st_size, "inherited limit zone", err, errlen)) == NULL)
		return NULL;
	/* the shape this binary would give it, or it is not one of ours */
	if (memcmp(z->head->magic, LZ_MAGIC, sizeof(z->head->magic)) == 0 &&
	    (z->head->kind == LZ_REQ || (z->head->kind == LZ_CONN && z->head->owners > 0))) {
		layout(&want, (enum limit_kind)z->head->kind, (size_t)st.st_size, z->head->owners);
	}
	if (want.kind == 0 || z->head->size != (size_t)st.st_size ||
	    z->head->nslots != want.nslots || z->head->journal_cap != want.journal_cap) {
		snprintf(err, errlen, "inherited limit zone (fd %d): not a limit zone of this "
			 "version", fd);
		munmap(z->base, z->mapped);
		free(z);
		return NULL;
	}
	locate(z);
	return z;
}

int limit_zone_fd(const struct limit_zone *z)
{
	return z->fd;
}

void limit_zone_destroy(struct limit_zone *z)
{
	if (z == NULL)
		return;
	munmap(z->base, z->mapped);
	close(z->fd);
	free(z->free_entries);
	free(z);
}

bool limit_zone_matches(const struct limit_zone *z, const char *name, enum limit_kind kind,
			size_t size, unsigned workers)
{
	return z->head->kind == (uint32_t)kind && z->head->size == size &&
	       z->head->owners >= owners_for(kind, workers) &&
	       strncmp(z->head->name, name, sizeof(z->head->name)) == 0;
}

const char *limit_zone_name(const struct limit_zone *z)
{
	return z->head->name;
}

unsigned limit_zone_capacity(const struct limit_zone *z)
{
	return z->head->nslots;
}

unsigned limit_zone_keys(const struct limit_zone *z)
{
	return __atomic_load_n(&z->head->used, __ATOMIC_RELAXED);
}

/* ---- slots ---- */

/* Whether slot s is k's: its h2 is k's, or nobody's yet and now k's. */
static bool owns(struct lz_slot *s, struct limit_key k)
{
	uint64_t h2 = load(&s->h2);

	if (h2 == 0 && cas(&s->h2, &h2, k.h2))
		return true;
	return h2 == k.h2;
}

/* How long s has been idle at now (larger: idler), or 0 when it is not:
 * a bucket not yet full, a key with open exchanges, a slot claimed a
 * moment ago whose state is not stamped yet (0). */
static uint64_t idle_for(const struct limit_zone *z, uint64_t state, uint64_t now)
{
	uint64_t last = state & CONN_TIME_MASK;

	if (state == 0)
		return 0;
	if (z->head->kind == LZ_REQ)
		return state <= now ? now - state + 1 : 0;
	if (CONN_COUNT(state) != 0)
		return 0;
	/* let go by a process whose clock was read after ours: just now */
	now &= CONN_TIME_MASK;
	return last <= now ? now - last + 1 : 1;
}

/* Give slot s, holding old, to k: its state starts over, used at now (a
 * full bucket; no open request), so that it is not the idlest for the
 * next new key before k counts in it. Another process that matched the
 * old key just before keeps at worst one request's count (its
 * compare-and-swap lands before the reset, or fails). */
static bool evict(struct limit_zone *z, struct lz_slot *s, uint64_t old, struct limit_key k,
		  uint64_t now)
{
	uint64_t st;

	if (!cas(&s->h1, &old, k.h1))
		return false;
	__atomic_store_n(&s->h2, k.h2, __ATOMIC_RELEASE);
	st = load(&s->state);
	/* an exchange counted meanwhile stays counted: it will be given back */
	while (!cas(&s->state, &st, z->head->kind == LZ_REQ ? now :
		    (st & ~CONN_TIME_MASK) | (now & CONN_TIME_MASK)))
		;
	return true;
}

/* A free slot s, just claimed for k, starts as used at now (a full
 * bucket; no open request), like an evicted one: left at 0 it would look
 * the idlest of its window (idle since the clock's start), for another
 * key to take before k's first compare-and-swap. A process that counted
 * in it meanwhile has stamped it already. */
static void claimed(struct limit_zone *z, struct lz_slot *s, uint64_t now)
{
	uint64_t none = 0;

	__atomic_add_fetch(&z->head->used, 1, __ATOMIC_RELAXED);
	cas(&s->state, &none, z->head->kind == LZ_REQ ? now : MAX(now & CONN_TIME_MASK, 1));
}

/* The slot of k: found, claimed free, or taken from the idlest key of
 * its probe window. NULL when every slot there is in use. */
static struct lz_slot *slot_of(struct limit_zone *z, struct limit_key k, uint64_t now,
			       bool *first_eviction)
{
	uint32_t n = z->head->nslots, start = (uint32_t)(k.h1 % n), i;
	struct lz_slot *idlest;
	uint64_t best, h1, idle;
	uint32_t zero = 0;

again:
	idlest = NULL;
	best = 0;
	for (i = 0; i < LIMIT_PROBE; i++) {
		struct lz_slot *s = &z->slots[(start + i) % n];

		h1 = load(&s->h1);
		if (h1 == 0) {
			if (cas(&s->h1, &h1, k.h1))
				claimed(z, s, now);
			else if (h1 != k.h1)
				continue;
			if (owns(s, k))
				return s;
			continue;
		}
		if (h1 == k.h1 && owns(s, k))
			return s;
		idle = idle_for(z, load(&s->state), now);
		if (idle > best) {
			best = idle;
			idlest = s;
		}
	}
	if (idlest == NULL)
		return NULL;
	h1 = load(&idlest->h1);
	if (h1 == k.h1 || !evict(z, idlest, h1, k, now))
		goto again;
	*first_eviction = __atomic_compare_exchange_n(&z->head->evicting, &zero, 1, false,
						      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
	return idlest;
}

/* ---- limit_req ---- */

struct limit_result limit_req_take(struct limit_zone *z, struct limit_key k,
				   const struct limit_rate *r, uint64_t now_us)
{
	struct limit_result res = { LIMIT_PASS, 0, false };
	struct lz_slot *s = slot_of(z, k, now_us, &res.first_eviction);
	uint64_t tat, due, ahead;

	if (s == NULL) {
		res.verdict = LIMIT_FULL;
		return res;
	}
	tat = load(&s->state);
	do {
		due = MAX(tat, now_us);
		ahead = due - now_us;
		if (ahead > r->burst_us) {
			res.verdict = LIMIT_REFUSE;
			res.wait_us = ahead - r->burst_us;
			return res;
		}
	} while (!cas(&s->state, &tat, due + r->interval_us));
	if (r->delay_us != UINT64_MAX && ahead > r->delay_us) {
		res.verdict = LIMIT_DELAY;
		res.wait_us = ahead - r->delay_us;
	}
	return res;
}

/* ---- limit_conn ---- */

static struct lz_owner *owner_at(const struct limit_zone *z, unsigned i)
{
	return (struct lz_owner *)(z->owners + i * z->owner_size);
}

/* This process's journal record, claimed on its first use of the zone;
 * NULL when every record is some live process's (it counts unjournaled). */
static struct lz_owner *my_journal(struct limit_zone *z)
{
	pid_t pid = getpid();
	unsigned i;
	uint32_t j;

	if (z->owner_pid == pid)
		return z->mine;
	z->owner_pid = pid;
	z->mine = NULL;
	free(z->free_entries);
	z->free_entries = malloc(z->head->journal_cap * sizeof(uint32_t));
	z->nfree = 0;
	if (z->free_entries == NULL)
		return NULL;
	for (i = 0; i < z->head->owners && z->mine == NULL; i++) {
		struct lz_owner *o = owner_at(z, i);
		int32_t none = 0;

		if (__atomic_compare_exchange_n(&o->pid, &none, (int32_t)pid, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			z->mine = o;
	}
	if (z->mine == NULL)
		return NULL;
	for (j = z->head->journal_cap; j > 0; j--)
		z->free_entries[z->nfree++] = j - 1;
	return z->mine;
}

/* Write slot (+ 1) into a free entry of this process's journal; its
 * number + 1, or 0 when there is none. */
static uint32_t journal_add(struct limit_zone *z, uint32_t slot)
{
	struct lz_owner *o = my_journal(z);
	uint32_t e;

	if (o == NULL || z->nfree == 0)
		return 0;
	e = z->free_entries[--z->nfree];
	__atomic_store_n(&o->entries[e], slot + 1, __ATOMIC_RELEASE);
	return e + 1;
}

static void journal_clear(struct limit_zone *z, uint32_t entry)
{
	if (entry == 0 || z->mine == NULL)
		return;
	__atomic_store_n(&z->mine->entries[entry - 1], 0, __ATOMIC_RELEASE);
	z->free_entries[z->nfree++] = entry - 1;
}

/* One exchange fewer on s, never below none. */
static void conn_down(struct lz_slot *s, uint64_t now_ms)
{
	uint64_t st = load(&s->state);

	while (CONN_COUNT(st) > 0 &&
	       !cas(&s->state, &st, ((CONN_COUNT(st) - 1) << CONN_SHIFT) | (now_ms & CONN_TIME_MASK)))
		;
}

struct limit_result limit_conn_take(struct limit_zone *z, struct limit_key k, unsigned max,
				    uint64_t now_ms, struct limit_hold *h)
{
	struct limit_result res = { LIMIT_PASS, 0, false };
	struct lz_slot *s = slot_of(z, k, now_ms, &res.first_eviction);
	uint32_t slot, entry;
	uint64_t st;

	memset(h, 0, sizeof(*h));
	if (s == NULL) {
		res.verdict = LIMIT_FULL;
		return res;
	}
	slot = (uint32_t)(s - z->slots);
	/* journaled first: a process killed after counting is found */
	entry = journal_add(z, slot);
	st = load(&s->state);
	do {
		if (CONN_COUNT(st) >= MIN(max, LIMIT_CONN_MAX)) {
			journal_clear(z, entry);
			res.verdict = LIMIT_REFUSE;
			return res;
		}
	} while (!cas(&s->state, &st, st + (1ULL << CONN_SHIFT)));
	h->slot = slot + 1;
	h->entry = entry;
	return res;
}

void limit_conn_release(struct limit_zone *z, struct limit_hold *h, uint64_t now_ms)
{
	if (h->slot == 0)
		return;
	conn_down(&z->slots[h->slot - 1], now_ms);
	journal_clear(z, h->entry);
	memset(h, 0, sizeof(*h));
}

unsigned limit_conn_count(struct limit_zone *z, struct limit_key k)
{
	uint32_t n = z->head->nslots, start = (uint32_t)(k.h1 % n), i;

	for (i = 0; i < LIMIT_PROBE; i++) {
		struct lz_slot *s = &z->slots[(start + i) % n];

		if (load(&s->h1) == k.h1 && load(&s->h2) == k.h2)
			return (unsigned)CONN_COUNT(load(&s->state));
	}
	return 0;
}

/* The workers' clock (event.c), for the master. */
static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

unsigned limit_zone_reap(struct limit_zone *z, pid_t pid)
{
	unsigned i, given = 0;
	uint32_t j, slot;

	if (z->owners == NULL)
		return 0;
	for (i = 0; i < z->head->owners; i++) {
		struct lz_owner *o = owner_at(z, i);

		if (__atomic_load_n(&o->pid, __ATOMIC_ACQUIRE) != (int32_t)pid)
			continue;
		for (j = 0; j < z->head->journal_cap; j++) {
			slot = __atomic_load_n(&o->entries[j], __ATOMIC_ACQUIRE);
			if (slot == 0 || slot > z->head->nslots)
				continue;
			conn_down(&z->slots[slot - 1], now_ms());
			o->entries[j] = 0;
			given++;
		}
		__atomic_store_n(&o->pid, 0, __ATOMIC_RELEASE);
	}
	return given;
}
