/*
 * shm.h: shared-memory zones with a slab allocator and a robust,
 * process-shared lock.
 *
 * Owns: one mmap(MAP_SHARED|MAP_ANONYMOUS) region per zone, created by the
 * master before it forks. The zone header (name, size, lock, allocator
 * state, stats) lives at the start of the region, then a table with one
 * entry per page, then the 4 KiB pages themselves.
 *
 * Pointers, not offsets: every process inherits the mapping at the same
 * address across fork(), so blocks may hold plain pointers to each other.
 * A zone must therefore never be re-mapped at another address.
 *
 * Allocation: requests up to half a page come from slab pages of one size
 * class (powers of two, 16 to 2048 bytes; a per-page bitmap in the page
 * table marks used slots); larger requests take runs of whole pages, first
 * fit over a list of free runs, neighbours coalesced on free. Blocks are
 * aligned to their class size (at least 16 bytes); page runs to 4 KiB.
 *
 * Crash recovery: the page table (each run's state and length, each slab
 * page's bitmap) is the only truth; free lists and stats are derived from
 * it. Every operation prepares what the table walk cannot see yet and then
 * commits with a single aligned store, so a process killed anywhere leaves
 * a table that is valid, at worst leaking the block it was allocating or
 * freeing. When shm_lock() inherits the lock from a dead owner it rebuilds
 * all derived state from the table and returns SHM_RECOVERED.
 */
#ifndef PORTICO_SHM_H
#define PORTICO_SHM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core.h"

/* shm_lock(): the lock was taken over from a dead owner and repaired. */
#define SHM_RECOVERED 1

#define SHM_PAGE_SIZE	4096
#define SHM_MIN_SHIFT	4	/* smallest class: 16 bytes */
#define SHM_MAX_SHIFT	11	/* largest class: half a page */
#define SHM_NCLASSES	(SHM_MAX_SHIFT - SHM_MIN_SHIFT + 1)
#define SHM_MIN_SIZE	(8 * SHM_PAGE_SIZE)
#define SHM_NAME_MAX	32

struct shm_zone;

struct shm_stats {
	size_t size;			/* bytes mapped, metadata included */
	size_t pages_total;		/* pages the allocator hands out */
	size_t pages_free;
	size_t pages_slab;		/* pages carved into small blocks */
	size_t pages_large;		/* pages in runs given out whole */
	size_t bytes_used;		/* rounded-up sizes of live blocks */
	size_t class_used[SHM_NCLASSES];	/* live small blocks per class */
	size_t large_used;		/* live page runs */
	unsigned long fails;		/* allocations refused: zone full */
	unsigned long bad_frees;	/* frees of pointers not allocated */
	unsigned long recoveries;	/* locks taken over from the dead */
};

/*
 * Map a zone of at least size bytes (rounded up to pages, at least
 * SHM_MIN_SIZE). NULL with a reason in err on failure.
 */
struct shm_zone *shm_zone_create(const char *name, size_t size, char *err,
				 size_t errlen);
void shm_zone_destroy(struct shm_zone *z);

/* Whether z was created with this name and size (a reload may keep it). */
bool shm_zone_matches(const struct shm_zone *z, const char *name, size_t size);
const char *shm_zone_name(const struct shm_zone *z);

/*
 * P_OK; SHM_RECOVERED when the previous owner died holding the lock (the
 * allocator is repaired, the caller's own data may be half-updated); or
 * P_ERROR when the lock is unusable.
 */
int shm_lock(struct shm_zone *z);
void shm_unlock(struct shm_zone *z);

/*
 * NULL when the zone is full (or n is 0). These take the lock. Freeing a
 * pointer the zone did not hand out (or twice) is refused and counted in
 * bad_frees, as far as it can be told apart.
 */
void *shm_alloc(struct shm_zone *z, size_t n);
void shm_free(struct shm_zone *z, void *p);
void shm_stats(struct shm_zone *z, struct shm_stats *out);

/* The same, for callers already holding the lock. */
void *shm_alloc_locked(struct shm_zone *z, size_t n);
void shm_free_locked(struct shm_zone *z, void *p);
void shm_stats_locked(struct shm_zone *z, struct shm_stats *out);

/*
 * Process-shared robust mutexes, for zones of other shapes too. init
 * returns 0 or an errno. lock returns P_OK; SHM_RECOVERED after calling
 * repair(arg) because the previous owner died holding the lock; or
 * P_ERROR when the lock is unusable.
 */
int shm_mutex_init(pthread_mutex_t *m);
int shm_mutex_lock(pthread_mutex_t *m, void (*repair)(void *), void *arg);

/*
 * Verify the free lists and stats against the page table. P_OK, or
 * P_ERROR with the first inconsistency in err. Takes the lock.
 */
int shm_check(struct shm_zone *z, char *err, size_t errlen);

#endif
