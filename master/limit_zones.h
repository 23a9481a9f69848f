/*
 * limit_zones.h: the master's zones of limit_req and limit_conn, one per
 * section (limit_zone.h has their shape).
 *
 * Owns: making a limit's zone, or keeping the one running when its kind,
 * name and size are unchanged (a reload keeps every bucket and count;
 * a new rate applies to the kept buckets); taking back what a dead
 * worker held. A binary upgrade starts the limits afresh.
 *
 * A zone is counted: one reference per struct shared that uses it.
 */
#ifndef PORTICO_LIMIT_ZONES_H
#define PORTICO_LIMIT_ZONES_H

#include <sys/types.h>

#include "conf.h"
#include "limit_zone.h"

struct limit_ref {
	struct limit_zone *z;
	unsigned refs;
};

/* The zone for l: one of prev[0..nprev) made for it, else a new one.
 * NULL with a reason in err. */
struct limit_ref *limit_ref_get(struct limit_ref *const *prev, unsigned nprev,
				const struct conf_limit *l, char *err, size_t errlen);
void limit_ref_put(struct limit_ref *r);

/* Give back the open exchanges that pid (a process that exited) held. */
void limit_zones_reap(struct limit_ref *const *refs, unsigned n, pid_t pid);

#endif
