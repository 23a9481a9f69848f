/*
 * limit_zones.h: the master's zones of limit_req and limit_conn, one per
 * section (limit_zone.h has their shape).
 *
 * Owns: making a limit's zone, or keeping the one running when its kind,
 * name and size are unchanged and its journals are enough for the
 * workers (a reload keeps every bucket and count;
 * a new rate applies to the kept buckets), or taking the one a previous
 * binary handed on (an upgrade: the memfd is named in PORTICO_LIMIT_FDS,
 * as the cache zones' are in PORTICO_CACHE_FDS), so that both
 * generations count in the same buckets; handing the zones on to a new
 * binary; taking back what a dead worker held.
 *
 * A zone is counted: one reference per struct shared that uses it.
 */
#ifndef PORTICO_LIMIT_ZONES_H
#define PORTICO_LIMIT_ZONES_H

#include <sys/types.h>

#include "conf.h"
#include "limit_zone.h"

#define LIMIT_FDS_ENV "PORTICO_LIMIT_FDS"

struct limit_ref {
	struct limit_zone *z;
	unsigned refs;
};

/* Adopt the zones a previous binary named in the environment (and take
 * the name out of it). Once, at start, before the first limit_ref_get. */
void limit_zones_inherit(void);

/* Zones inherited but not taken by the first configuration go. */
void limit_zones_drop_inherited(void);

/* The zone for l used by workers processes: one of prev[0..nprev) made
 * for it, else a new one. NULL with a reason in err. */
struct limit_ref *limit_ref_get(struct limit_ref *const *prev, unsigned nprev,
				const struct conf_limit *l, unsigned workers, char *err,
				size_t errlen);
void limit_ref_put(struct limit_ref *r);

/* Mark the zones' descriptors inheritable and write them to the
 * environment, for a new binary about to be executed. */
void limit_zones_export(struct limit_ref *const *refs, unsigned n);

/* Give back the open exchanges that pid (a process that exited) held. */
void limit_zones_reap(struct limit_ref *const *refs, unsigned n, pid_t pid);

#endif
