/*
 * shm_table.h: a table of expiring entries in a shared-memory zone,
 * seen alike by every process that maps the zone: a hash table of
 * entries, each a kind, an ID of up to SHM_TABLE_ID_MAX bytes and a
 * value, with a least-recently-used list that makes room when the zone
 * is full.
 *
 * Owns: the table's root and entries, allocated in its zone. Expiry
 * times are in whatever clock the caller keeps, as long as it keeps one
 * clock for a table (tls_cache.c: seconds of the wall clock; auth_cache.c:
 * milliseconds of CLOCK_MONOTONIC).
 *
 * Every call takes the zone's lock for a copy in or out. A process that
 * dies holding it makes the next one drop every entry (the index may be
 * half-updated): the table is a cache, so that costs work, never
 * correctness.
 */
#ifndef PORTICO_SHM_TABLE_H
#define PORTICO_SHM_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "shm.h"

#define SHM_TABLE_ID_MAX 32

struct shm_table;

/* A table in zone z, with about one hash bucket per bytes_per_entry of
 * the zone; name says whose it is in the log. NULL when z is full. */
struct shm_table *shm_table_create(struct shm_zone *z, const char *name,
				   size_t bytes_per_entry);

/* Take and give back the zone's lock around the caller's own data in the
 * zone (a process that died holding it emptied the table): 0, or -1 when
 * the lock is unusable. */
int shm_table_lock(struct shm_table *t);
void shm_table_unlock(struct shm_table *t);

/* Store a value (replacing the entry of the same kind and ID), evicting
 * the least recently used entries when the zone is full. 0, or -1 when
 * it does not fit at all, or the kind is over 255, or the ID is empty or
 * too long. */
int shm_table_put(struct shm_table *t, unsigned kind, const uint8_t *id, size_t idlen,
		  const void *val, size_t len, uint64_t expires);

/* Copy a live value into out[cap]: its length, or -1 when there is none
 * (or it expired, and is dropped, or is longer than cap). */
ssize_t shm_table_get(struct shm_table *t, unsigned kind, const uint8_t *id, size_t idlen,
		      void *out, size_t cap, uint64_t now);

void shm_table_remove(struct shm_table *t, unsigned kind, const uint8_t *id, size_t idlen);

unsigned shm_table_count(struct shm_table *t);

#endif
