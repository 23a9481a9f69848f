/*
 * cache_zones.h: the master's cache zones, one per cache section.
 *
 * Owns: making a zone for a configuration's cache, or keeping the one
 * running when its name and size are unchanged (a reload), or taking
 * the one a previous binary handed on (an upgrade: the memfd is named in
 * PORTICO_CACHE_FDS, as the listening sockets are in PORTICO_LISTEN_FDS);
 * handing the zones on to a new binary; freeing what a dead worker left
 * half written.
 *
 * A zone is counted: one reference per struct shared that uses it.
 */
#ifndef PORTICO_CACHE_ZONES_H
#define PORTICO_CACHE_ZONES_H

#include <sys/types.h>

#include "cache_store.h"
#include "conf.h"

#define CACHE_FDS_ENV "PORTICO_CACHE_FDS"

struct cache_zone {
	struct cache_store *cs;
	int fd;				/* the memfd, for a new binary */
	unsigned refs;
};

/* Adopt the zones a previous binary named in the environment (and take
 * the name out of it). Once, at start, before the first cache_zone_get. */
void cache_zones_inherit(void);

/* Zones inherited but not taken by the first configuration go. */
void cache_zones_drop_inherited(void);

/* The zone for cc: one of prev[0..nprev) with its name and size, else an
 * inherited one, else a new one. NULL with a reason in err. */
struct cache_zone *cache_zone_get(struct cache_zone *const *prev, unsigned nprev,
				  const struct conf_cache *cc, char *err, size_t errlen);
void cache_zone_put(struct cache_zone *z);

/* Mark the zones' descriptors inheritable and write them to the
 * environment, for a new binary about to be executed. */
void cache_zones_export(struct cache_zone *const *zones, unsigned n);

/* Free what writer (a process that died) left half written. */
void cache_zones_reap(struct cache_zone *const *zones, unsigned n, pid_t writer);

#endif
