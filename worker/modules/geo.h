/*
 * geo.h: the client's region (geo sections, conf.h), for $geo_region,
 * routes that match on regions, and GSLB.
 *
 * Owns: the region of an exchange's client address in its site's geo
 * table, looked up once and kept in the exchange (x->geo_of,
 * x->geo_region). The route hook looks it up right after the real
 * client address is known (realip runs before it), so every later phase
 * finds it kept.
 */
#ifndef PORTICO_MODULES_GEO_H
#define PORTICO_MODULES_GEO_H

#include "module.h"

/* The region id of x's client by its site's geo: the longest prefix's,
 * else the geo's default; 0 when none, or when the site has no geo.
 * Looked up on the first call, kept for the next ones. */
unsigned geo_region_of_exchange(struct exchange *x);

/* The same by geo g (an upstream's), which may not be the site's; 0
 * when g is NULL. */
unsigned geo_region_in(struct exchange *x, const struct conf_geo *g);

extern const struct module geo_module;

#endif
