/*
 * routes.h: which route of its site answers a request, and the module of
 * the request path (PH_ROUTE) that picks it, after the site is known
 * (router.h) and the client's address is the real one (modules/realip.c):
 * it normalizes the path (http_uri.h; 400 for one that cannot be read),
 * chooses the route, and answers 404 when none matches.
 *
 * The order, as nginx's locations with conditions added (portico.conf(5),
 * ROUTE SELECTION); a route is a candidate when its pattern matches and
 * every condition on it holds (route_cond.h):
 *   1. "= /path" routes equal to the path, in file order;
 *   2. the longest matching prefix: "/prefix" and "^~ /prefix" routes,
 *      longest first, in file order for the same prefix; when the first
 *      candidate among them is a "^~" route, it is chosen;
 *   3. "~ regex" and "~* regex" routes, in file order;
 *   4. the prefix route step 2 found.
 *
 * Owns: lookups over the configuration (the site's route trie); no state.
 */
#ifndef PORTICO_ROUTES_H
#define PORTICO_ROUTES_H

#include "conf.h"
#include "module.h"
#include "route_cond.h"
#include "vars.h"

/* The route of site for in (in->req->uri is the path), or NULL. When a
 * regex route is chosen, its captures go into cap; cap->n is 0 otherwise. */
const struct conf_route *routes_choose(const struct conf_site *site,
				       const struct route_input *in, struct var_captures *cap);

extern const struct module routes_module;

#endif
