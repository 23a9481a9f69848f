/*
 * router.h: which site answers a request (by listener and Host), and the
 * routing module of the request path (PH_ROUTE): it picks the site,
 * refuses what the TLS handshake rules out (plain HTTP on a TLS port:
 * 400; a Host of another site than SNI's: 421), and redirects a site's
 * plain HTTP to https when told. The route inside the site is chosen
 * next (routes.h).
 *
 * Owns: lookups over the configuration; no state.
 */
#ifndef PORTICO_ROUTER_H
#define PORTICO_ROUTER_H

#include "core.h"
#include "conf.h"
#include "module.h"

/* The site for host on listener: exact name, then the longest matching
 * "*.suffix", then "*", then the listener's first site. NULL only when no
 * site uses the listener. host may carry a ":port", which is ignored. */
const struct conf_site *router_site(const struct conf *conf,
				    const struct conf_listen *lst,
				    struct slice host);

/* host without its ":port" (an IPv6 literal keeps its brackets). */
struct slice router_host_name(struct slice host);

extern const struct module router_module;

#endif
