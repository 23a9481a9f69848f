/*
 * stats_series.h: the master's side of the series in the stats zone.
 *
 * Owns: each generation's layout (stats.h), made in the zone from its
 * configuration, and the zone's named series it refers to: a series
 * named as one of an earlier layout is that same series, so a site, a
 * route or an upstream that stays keeps counting where it was; one new
 * to the zone starts from the totals of the series of that name in the
 * zone it replaces. Series no layout names any more are freed with the
 * last layout that did.
 */
#ifndef PORTICO_STATS_SERIES_H
#define PORTICO_STATS_SERIES_H

#include "conf.h"
#include "shm.h"
#include "stats.h"

/* Values in a record of c's layout, and the zone memory the layout and
 * its series take at most. */
size_t stats_layout_words(const struct conf *c);
size_t stats_layout_bytes(const struct conf *c);

/* c's layout in z (whose first block is root); from (may be NULL) is the
 * root of a zone whose totals are carried over. NULL when z is full.
 * Takes the lock of z. */
struct stats_layout *stats_layout_new(struct shm_zone *z, struct stats_root *root,
				      const struct conf *c, struct stats_root *from);

/* Drop a reference to l; the last frees it. Takes the lock of z. */
void stats_layout_put(struct shm_zone *z, struct stats_root *root, struct stats_layout *l);

#endif
