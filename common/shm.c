/*
 * shm.c: shared-memory zones, their slab allocator and their robust lock.
 *
 * The page table is the truth. Each entry's info word holds the state of
 * the run starting there (free, page run, slab page), its slab class and
 * its length in pages; a slab page's entry also holds the bitmap of used
 * slots. Walking the table from page 0, run by run, visits every page.
 *
 * Every change follows one rule: first write only what the walk cannot
 * reach yet (the entry of a page inside a free run, a boundary tag), then
 * commit with one aligned 64-bit store (a run head's info word, a bitmap
 * word). A process killed between two instructions thus leaves a walkable
 * table; what it leaves stale is only derived state (list links, boundary
 * tags, stats), which zone_rebuild() recomputes when shm_lock() inherits
 * the lock from a dead owner. The worst a crash does to the allocator is
 * leak the one block being allocated or freed.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "core.h"
#include "shm.h"

#define SHM_MAGIC	0x706f7368u	/* "posh" */
#define NIL		UINT32_MAX
#define SLOTS_MAX	(SHM_PAGE_SIZE >> SHM_MIN_SHIFT)
#define BITMAP_WORDS	(SLOTS_MAX / 64)
#define PAGES_MAX	(1u << 28)

enum { PG_FREE = 1, PG_RUN = 2, PG_SLAB = 3 };

struct shm_page {
	uint64_t info;			/* the truth: state, shift, npages */
	uint64_t bitmap[BITMAP_WORDS];	/* the truth: used slots of a slab */
	uint32_t next, prev;		/* derived: list links of a run head */
	uint32_t head;			/* derived: a run's last page: its head */
	uint32_t seen;			/* scratch of shm_check() */
};

struct shm_zone {
	uint32_t magic;
	uint32_t npages;		/* pages in the allocator */
	char name[SHM_NAME_MAX];
	size_t size;			/* bytes mapped */
	size_t asked;			/* size as given to shm_zone_create() */
	pthread_mutex_t mutex;
	struct shm_page *table;
	char *base;			/* page 0 */
	uint32_t free_runs;		/* derived: list of free runs */
	uint32_t partial[SHM_NCLASSES];	/* derived: slabs with a free slot */
	struct shm_stats stats;		/* derived, but for the event counters */
};

static inline uint64_t info_make(unsigned state, unsigned shift, uint32_t n)
{
	return (uint64_t)state << 56 | (uint64_t)shift << 48 | n;
}

static inline unsigned info_state(uint64_t info)
{
	return (unsigned)(info >> 56);
}

static inline unsigned info_shift(uint64_t info)
{
	return (unsigned)(info >> 48) & 0xff;
}

static inline uint32_t info_npages(uint64_t info)
{
	return (uint32_t)info;
}

/* The commit: one store another process can never see half of. */
static inline void info_commit(struct shm_page *pg, uint64_t info)
{
	__atomic_store_n(&pg->info, info, __ATOMIC_RELEASE);
}

static inline unsigned slab_slots(unsigned shift)
{
	return SHM_PAGE_SIZE >> shift;
}

/* Doubly linked lists of page indices, threaded through run heads. */
static void list_push(struct shm_zone *z, uint32_t *head, uint32_t i)
{
	z->table[i].prev = NIL;
	z->table[i].next = *head;
	if (*head != NIL)
		z->table[*head].prev = i;
	*head = i;
}

static void list_remove(struct shm_zone *z, uint32_t *head, uint32_t i)
{
	struct shm_page *pg = &z->table[i];

	if (pg->prev != NIL)
		z->table[pg->prev].next = pg->next;
	else
		*head = pg->next;
	if (pg->next != NIL)
		z->table[pg->next].prev = pg->prev;
	pg->next = pg->prev = NIL;
}

static void run_tag(struct shm_zone *z, uint32_t i, uint32_t n)
{
	z->table[i + n - 1].head = i;
}

/*
 * Take k pages, first fit, committing info at their head. Carving from
 * the end of a free run lets the new head be written while it is still
 * invisible inside the run; shrinking the run is then the commit.
 */
static uint32_t pages_take(struct shm_zone *z, uint32_t k, uint64_t info)
{
	uint32_t i, j, n;

	for (i = z->free_runs; i != NIL; i = z->table[i].next)
		if (info_npages(z->table[i].info) >= k)
			break;
	if (i == NIL)
		return NIL;
	n = info_npages(z->table[i].info);
	j = i + n - k;
	memset(z->table[j].bitmap, 0, sizeof(z->table[j].bitmap));
	run_tag(z, j, k);
	if (n > k) {
		z->table[j].info = info;
		z->table[j].next = z->table[j].prev = NIL;
		run_tag(z, i, n - k);
		info_commit(&z->table[i], info_make(PG_FREE, 0, n - k));
	} else {
		list_remove(z, &z->free_runs, i);
		info_commit(&z->table[i], info);
	}
	z->stats.pages_free -= k;
	return j;
}

/* The free run ending just before page i, or NIL. */
static uint32_t free_run_before(struct shm_zone *z, uint32_t i)
{
	uint32_t h;
	uint64_t info;

	if (i == 0)
		return NIL;
	h = z->table[i - 1].head;
	if (h >= i)
		return NIL;
	info = z->table[h].info;
	if (info_state(info) != PG_FREE || h + info_npages(info) != i)
		return NIL;
	return h;
}

/*
 * Give the run at i back, merged with free neighbours. The merged run's
 * head info is the one commit; the swallowed heads go stale unseen.
 */
static void pages_release(struct shm_zone *z, uint32_t i)
{
	uint32_t n = info_npages(z->table[i].info), total = n;
	uint32_t left, right = i + n;

	z->stats.pages_free += n;
	if (right < z->npages && info_state(z->table[right].info) == PG_FREE) {
		total += info_npages(z->table[right].info);
		list_remove(z, &z->free_runs, right);
	}
	left = free_run_before(z, i);
	if (left != NIL) {
		total += i - left;
		i = left;
	}
	run_tag(z, i, total);
	info_commit(&z->table[i], info_make(PG_FREE, 0, total));
	if (left == NIL)
		list_push(z, &z->free_runs, i);
}

static unsigned size_shift(size_t n)
{
	unsigned shift = SHM_MIN_SHIFT;

	while (((size_t)1 << shift) < n)
		shift++;
	return shift;
}

static unsigned slab_count(const struct shm_page *pg, unsigned shift)
{
	unsigned w, c = 0, words = (slab_slots(shift) + 63) / 64;

	for (w = 0; w < words; w++)
		c += (unsigned)__builtin_popcountll(pg->bitmap[w]);
	return c;
}

static int slab_find_slot(const struct shm_page *pg, unsigned shift)
{
	unsigned slot, nslots = slab_slots(shift);

	for (slot = 0; slot < nslots; slot++)
		if (!(pg->bitmap[slot / 64] & (UINT64_C(1) << (slot % 64))))
			return (int)slot;
	return -1;
}

static void *slab_alloc(struct shm_zone *z, unsigned shift)
{
	unsigned c = shift - SHM_MIN_SHIFT;
	uint32_t i = z->partial[c];
	struct shm_page *pg;
	int slot;

	if (i == NIL) {
		i = pages_take(z, 1, info_make(PG_SLAB, shift, 1));
		if (i == NIL)
			return NULL;
		z->stats.pages_slab++;
		list_push(z, &z->partial[c], i);
	}
	pg = &z->table[i];
	slot = slab_find_slot(pg, shift);
	if (slot < 0)		/* cannot happen: partial slabs have room */
		return NULL;
	__atomic_or_fetch(&pg->bitmap[slot / 64], UINT64_C(1) << (slot % 64),
			  __ATOMIC_RELEASE);
	if (slab_count(pg, shift) == slab_slots(shift))
		list_remove(z, &z->partial[c], i);
	z->stats.class_used[c]++;
	z->stats.bytes_used += (size_t)1 << shift;
	return z->base + (size_t)i * SHM_PAGE_SIZE + ((size_t)slot << shift);
}

static void slab_free(struct shm_zone *z, uint32_t i, size_t off)
{
	struct shm_page *pg = &z->table[i];
	unsigned shift = info_shift(pg->info), c = shift - SHM_MIN_SHIFT;
	size_t slot = off >> shift;
	uint64_t bit = UINT64_C(1) << (slot % 64);
	unsigned used;

	if ((off & (((size_t)1 << shift) - 1)) || !(pg->bitmap[slot / 64] & bit)) {
		z->stats.bad_frees++;
		return;
	}
	used = slab_count(pg, shift);
	__atomic_and_fetch(&pg->bitmap[slot / 64], ~bit, __ATOMIC_RELEASE);
	z->stats.class_used[c]--;
	z->stats.bytes_used -= (size_t)1 << shift;
	if (used == slab_slots(shift))
		list_push(z, &z->partial[c], i);
	if (used == 1) {
		list_remove(z, &z->partial[c], i);
		z->stats.pages_slab--;
		pages_release(z, i);
	}
}

void *shm_alloc_locked(struct shm_zone *z, size_t n)
{
	uint32_t k, i;

	if (n == 0)
		return NULL;
	if (n <= ((size_t)1 << SHM_MAX_SHIFT)) {
		void *p = slab_alloc(z, size_shift(n));

		if (p == NULL)
			z->stats.fails++;
		return p;
	}
	if (n > (size_t)z->npages * SHM_PAGE_SIZE) {
		z->stats.fails++;
		return NULL;
	}
	k = (uint32_t)((n + SHM_PAGE_SIZE - 1) / SHM_PAGE_SIZE);
	i = pages_take(z, k, info_make(PG_RUN, 0, k));
	if (i == NIL) {
		z->stats.fails++;
		return NULL;
	}
	z->stats.pages_large += k;
	z->stats.large_used++;
	z->stats.bytes_used += (size_t)k * SHM_PAGE_SIZE;
	return z->base + (size_t)i * SHM_PAGE_SIZE;
}

void shm_free_locked(struct shm_zone *z, void *p)
{
	char *cp = p;
	size_t off;
	uint32_t i, k;
	uint64_t info;

	if (p == NULL)
		return;
	if (cp < z->base || cp >= z->base + (size_t)z->npages * SHM_PAGE_SIZE) {
		z->stats.bad_frees++;
		return;
	}
	off = (size_t)(cp - z->base);
	i = (uint32_t)(off / SHM_PAGE_SIZE);
	info = z->table[i].info;
	if (info_state(info) == PG_SLAB) {
		slab_free(z, i, off % SHM_PAGE_SIZE);
		return;
	}
	/*
	 * Entries inside a run may be stale, so catching a bogus pointer is
	 * best effort; a pointer shm_alloc() returned always lands on a head.
	 */
	if (info_state(info) != PG_RUN || off % SHM_PAGE_SIZE) {
		z->stats.bad_frees++;
		return;
	}
	k = info_npages(info);
	z->stats.pages_large -= k;
	z->stats.large_used--;
	z->stats.bytes_used -= (size_t)k * SHM_PAGE_SIZE;
	pages_release(z, i);
}

/*
 * A run head the walk can trust? Anything else means memory was scribbled
 * over by someone, not left by a crash; such a page is fenced off.
 */
static bool run_valid(const struct shm_zone *z, uint32_t i, uint64_t info)
{
	uint32_t n = info_npages(info);
	unsigned shift = info_shift(info);

	if (n == 0 || n > z->npages - i)
		return false;
	switch (info_state(info)) {
	case PG_FREE:
	case PG_RUN:
		return true;
	case PG_SLAB:
		return n == 1 && shift >= SHM_MIN_SHIFT && shift <= SHM_MAX_SHIFT;
	}
	return false;
}

/* Clear bitmap bits past the last slot, which no allocation sets. */
static void slab_mask(struct shm_page *pg, unsigned shift)
{
	unsigned slot;

	for (slot = slab_slots(shift); slot < SLOTS_MAX; slot++)
		pg->bitmap[slot / 64] &= ~(UINT64_C(1) << (slot % 64));
}

/* Account for the slab at i; false when it is empty and should be freed. */
static bool rebuild_slab(struct shm_zone *z, uint32_t i)
{
	struct shm_page *pg = &z->table[i];
	unsigned shift = info_shift(pg->info), c = shift - SHM_MIN_SHIFT;
	unsigned used;

	slab_mask(pg, shift);
	used = slab_count(pg, shift);
	if (used == 0)
		return false;
	z->stats.pages_slab++;
	z->stats.class_used[c] += used;
	z->stats.bytes_used += (size_t)used << shift;
	if (used < slab_slots(shift))
		list_push(z, &z->partial[c], i);
	return true;
}

/* Extend the free run at last with the n pages at i, or start one. */
static uint32_t rebuild_free(struct shm_zone *z, uint32_t last, uint32_t i,
			     uint32_t n)
{
	z->stats.pages_free += n;
	if (last != NIL) {
		n += info_npages(z->table[last].info);
		run_tag(z, last, n);
		info_commit(&z->table[last], info_make(PG_FREE, 0, n));
		return last;
	}
	run_tag(z, i, n);
	info_commit(&z->table[i], info_make(PG_FREE, 0, n));
	list_push(z, &z->free_runs, i);
	return i;
}

/*
 * Recompute everything derived from the page table: lists, boundary tags,
 * stats. Adjacent free runs are merged; empty slabs become free pages.
 */
static void zone_rebuild(struct shm_zone *z)
{
	unsigned long fails = z->stats.fails, bad = z->stats.bad_frees;
	unsigned long recoveries = z->stats.recoveries;
	uint32_t i, n, c, last_free = NIL;
	uint64_t info;

	memset(&z->stats, 0, sizeof(z->stats));
	z->stats.size = z->size;
	z->stats.pages_total = z->npages;
	z->stats.fails = fails;
	z->stats.bad_frees = bad;
	z->stats.recoveries = recoveries;
	z->free_runs = NIL;
	for (c = 0; c < SHM_NCLASSES; c++)
		z->partial[c] = NIL;

	for (i = 0; i < z->npages; i += n) {
		info = z->table[i].info;
		if (!run_valid(z, i, info)) {
			info = info_make(PG_RUN, 0, 1);
			info_commit(&z->table[i], info);
		}
		n = info_npages(info);
		z->table[i].next = z->table[i].prev = NIL;
		run_tag(z, i, n);
		if (info_state(info) == PG_SLAB && rebuild_slab(z, i)) {
			last_free = NIL;
		} else if (info_state(info) == PG_RUN) {
			z->stats.pages_large += n;
			z->stats.large_used++;
			z->stats.bytes_used += (size_t)n * SHM_PAGE_SIZE;
			last_free = NIL;
		} else {
			last_free = rebuild_free(z, last_free, i, n);
		}
	}
}

/* Pages the allocator gets once the header and page table are placed. */
static uint32_t zone_npages(size_t size)
{
	size_t region = size / SHM_PAGE_SIZE, meta, n = region;

	for (;;) {
		meta = sizeof(struct shm_zone) + n * sizeof(struct shm_page);
		meta = (meta + SHM_PAGE_SIZE - 1) / SHM_PAGE_SIZE;
		if (n + meta <= region)
			return (uint32_t)n;
		n--;
	}
}

int shm_mutex_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t attr;
	int r;

	if ((r = pthread_mutexattr_init(&attr)) != 0)
		return r;
	if ((r = pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED)) == 0 &&
	    (r = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) == 0)
		r = pthread_mutex_init(m, &attr);
	pthread_mutexattr_destroy(&attr);
	return r;
}

int shm_mutex_lock(pthread_mutex_t *m, void (*repair)(void *), void *arg)
{
	int r = pthread_mutex_lock(m);

	if (r == 0)
		return P_OK;
	if (r != EOWNERDEAD)
		return P_ERROR;
	/*
	 * The owner died inside the critical section. A repair cut short by
	 * another death is simply redone: it only rewrites what can be
	 * derived again.
	 */
	repair(arg);
	if (pthread_mutex_consistent(m) != 0) {
		pthread_mutex_unlock(m);
		return P_ERROR;
	}
	return SHM_RECOVERED;
}

static int zone_mutex_init(struct shm_zone *z, char *err, size_t errlen)
{
	int r = shm_mutex_init(&z->mutex);

	if (r != 0)
		snprintf(err, errlen, "shared zone \"%s\": mutex: %s", z->name, strerror(r));
	return r == 0 ? P_OK : P_ERROR;
}

struct shm_zone *shm_zone_create(const char *name, size_t size, char *err,
				 size_t errlen)
{
	struct shm_zone *z;
	size_t asked = size;
	uint32_t n;

	if (name == NULL || strlen(name) >= SHM_NAME_MAX) {
		snprintf(err, errlen, "shared zone name too long (max %d)",
			 SHM_NAME_MAX - 1);
		return NULL;
	}
	if (size > (size_t)PAGES_MAX * SHM_PAGE_SIZE) {
		snprintf(err, errlen, "shared zone \"%s\": size %zu too large",
			 name, size);
		return NULL;
	}
	size = MAX(size, (size_t)SHM_MIN_SIZE);
	size = (size + SHM_PAGE_SIZE - 1) / SHM_PAGE_SIZE * SHM_PAGE_SIZE;
	z = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	if (z == MAP_FAILED) {
		snprintf(err, errlen, "shared zone \"%s\": mmap(%zu): %s",
			 name, size, strerror(errno));
		return NULL;
	}
	/* A fresh anonymous mapping is zeroed: only non-zero fields are set. */
	snprintf(z->name, sizeof(z->name), "%s", name);
	z->size = size;
	z->asked = asked;
	if (zone_mutex_init(z, err, errlen) != P_OK) {
		munmap(z, size);
		return NULL;
	}
	n = zone_npages(size);
	z->npages = n;
	z->table = (struct shm_page *)(z + 1);
	z->base = (char *)z + (size - (size_t)n * SHM_PAGE_SIZE);
	z->table[0].info = info_make(PG_FREE, 0, n);
	zone_rebuild(z);
	z->magic = SHM_MAGIC;
	return z;
}

void shm_zone_destroy(struct shm_zone *z)
{
	if (z == NULL)
		return;
	/* Children may still hold the mapping: the mutex is left alone. */
	munmap(z, z->size);
}

bool shm_zone_matches(const struct shm_zone *z, const char *name, size_t size)
{
	return strcmp(z->name, name) == 0 && z->asked == size;
}

const char *shm_zone_name(const struct shm_zone *z)
{
	return z->name;
}

/* The page table is valid by construction; everything derived from it
 * is made again. */
static void zone_repair(void *arg)
{
	struct shm_zone *z = arg;

	zone_rebuild(z);
	z->stats.recoveries++;
}

int shm_lock(struct shm_zone *z)
{
	return shm_mutex_lock(&z->mutex, zone_repair, z);
}

void shm_unlock(struct shm_zone *z)
{
	pthread_mutex_unlock(&z->mutex);
}

void *shm_alloc(struct shm_zone *z, size_t n)
{
	void *p;

	if (shm_lock(z) < 0)
		return NULL;
	p = shm_alloc_locked(z, n);
	shm_unlock(z);
	return p;
}

void shm_free(struct shm_zone *z, void *p)
{
	if (p == NULL || shm_lock(z) < 0)
		return;
	shm_free_locked(z, p);
	shm_unlock(z);
}

static int check_fail(char *err, size_t errlen, const char *what, uint32_t i)
{
	snprintf(err, errlen, "%s (page %u)", what, (unsigned)i);
	return P_ERROR;
}

/* Walk the table into expect, checking each run and marking heads seen. */
static int check_table(struct shm_zone *z, struct shm_stats *expect,
		       uint32_t *nfree, uint32_t *npartial, char *err, size_t errlen)
{
	uint32_t i, n;
	unsigned prev = 0, used, shift;
	uint64_t info;

	for (i = 0; i < z->npages; i++)
		z->table[i].seen = 0;
	for (i = 0; i < z->npages; i += n, prev = info_state(info)) {
		info = z->table[i].info;
		if (!run_valid(z, i, info))
			return check_fail(err, errlen, "invalid run head", i);
		n = info_npages(info);
		shift = info_shift(info);
		z->table[i].seen = 1;
		if (z->table[i + n - 1].head != i)
			return check_fail(err, errlen, "wrong boundary tag", i);
		switch (info_state(info)) {
		case PG_FREE:
			if (prev == PG_FREE)
				return check_fail(err, errlen, "adjacent free runs", i);
			expect->pages_free += n;
			(*nfree)++;
			break;
		case PG_RUN:
			expect->pages_large += n;
			expect->large_used++;
			expect->bytes_used += (size_t)n * SHM_PAGE_SIZE;
			break;
		case PG_SLAB:
			used = slab_count(&z->table[i], shift);
			if (used == 0)
				return check_fail(err, errlen, "empty slab page", i);
			expect->pages_slab++;
			expect->class_used[shift - SHM_MIN_SHIFT] += used;
			expect->bytes_used += (size_t)used << shift;
			if (used < slab_slots(shift))
				npartial[shift - SHM_MIN_SHIFT]++;
			break;
		}
	}
	return P_OK;
}

/* Count a list, whose members must all be heads in the given state. */
static int check_list(struct shm_zone *z, uint32_t head, unsigned state,
		      unsigned shift, uint32_t want, char *err, size_t errlen)
{
	uint32_t i, prev = NIL, count = 0;
	uint64_t info;

	for (i = head; i != NIL; prev = i, i = z->table[i].next) {
		if (i >= z->npages || !z->table[i].seen || ++count > want)
			return check_fail(err, errlen, "list runs astray", i);
		info = z->table[i].info;
		if (info_state(info) != state ||
		    (state == PG_SLAB && info_shift(info) != shift))
			return check_fail(err, errlen, "list member in wrong state", i);
		if (z->table[i].prev != prev)
			return check_fail(err, errlen, "list back link broken", i);
		if (state == PG_SLAB &&
		    slab_count(&z->table[i], shift) == slab_slots(shift))
			return check_fail(err, errlen, "full slab on partial list", i);
	}
	if (count != want)
		return check_fail(err, errlen, "list misses runs", head);
	return P_OK;
}

static int check_stats(const struct shm_stats *got, const struct shm_stats *want,
		       char *err, size_t errlen)
{
	unsigned c;

	if (got->pages_free != want->pages_free ||
	    got->pages_slab != want->pages_slab ||
	    got->pages_large != want->pages_large ||
	    got->large_used != want->large_used ||
	    got->bytes_used != want->bytes_used) {
		snprintf(err, errlen, "stats differ from the page table: "
			 "free %zu/%zu slab %zu/%zu large %zu/%zu bytes %zu/%zu",
			 got->pages_free, want->pages_free, got->pages_slab,
			 want->pages_slab, got->pages_large, want->pages_large,
			 got->bytes_used, want->bytes_used);
		return P_ERROR;
	}
	for (c = 0; c < SHM_NCLASSES; c++)
		if (got->class_used[c] != want->class_used[c]) {
			snprintf(err, errlen, "stats of class %u differ", c);
			return P_ERROR;
		}
	if (got->pages_free + got->pages_slab + got->pages_large != got->pages_total) {
		snprintf(err, errlen, "pages do not add up");
		return P_ERROR;
	}
	return P_OK;
}

static int check_locked(struct shm_zone *z, char *err, size_t errlen)
{
	struct shm_stats expect = { 0 };
	uint32_t nfree = 0, npartial[SHM_NCLASSES] = { 0 };
	unsigned c;

	if (z->magic != SHM_MAGIC)
		return check_fail(err, errlen, "bad zone magic", 0);
	if (check_table(z, &expect, &nfree, npartial, err, errlen) != P_OK ||
	    check_list(z, z->free_runs, PG_FREE, 0, nfree, err, errlen) != P_OK)
		return P_ERROR;
	for (c = 0; c < SHM_NCLASSES; c++)
		if (check_list(z, z->partial[c], PG_SLAB, c + SHM_MIN_SHIFT,
			       npartial[c], err, errlen) != P_OK)
			return P_ERROR;
	return check_stats(&z->stats, &expect, err, errlen);
}

int shm_check(struct shm_zone *z, char *err, size_t errlen)
{
	int r;

	if (shm_lock(z) < 0) {
		snprintf(err, errlen, "shared zone \"%s\": lock unusable", z->name);
		return P_ERROR;
	}
	r = check_locked(z, err, errlen);
	shm_unlock(z);
	return r;
}

void shm_stats_locked(struct shm_zone *z, struct shm_stats *out)
{
	*out = z->stats;
}

void shm_stats(struct shm_zone *z, struct shm_stats *out)
{
	if (shm_lock(z) < 0) {
		memset(out, 0, sizeof(*out));
		return;
	}
	shm_stats_locked(z, out);
	shm_unlock(z);
}
