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

/* The site for host (a Host field value or an SNI name; empty: none) on
 * listener lst, by its index of host patterns (host_index.h):
 * the exact name, the longest leading wildcard, the longest trailing
 * wildcard, the first regex, "*"; else the listener's default site. NULL
 * only when no site uses the listener. A ":port" and a trailing dot are
 * ignored. */
const struct conf_site *router_site(const struct conf_listen *lst, struct slice host);

extern const struct module router_module;

#endif
