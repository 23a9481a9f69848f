/*
 * proxy.h: the upstream module, the content of a route with an upstream:
 * pick a server and connect (trying the next one when a server cannot be
 * reached), send the request head and stream its body, read and check the
 * response head, and stream the response back to the client; or, after
 * 101, carry bytes both ways.
 *
 * Owns: the phases PH_CONNECT, PH_UPSTREAM, and PH_RESPONSE_BODY and
 * PH_TUNNEL of a proxied exchange, their timeouts, retries, and what the
 * health table learns from each attempt (x->up is its state).
 */
#ifndef PORTICO_PROXY_H
#define PORTICO_PROXY_H

#include "module.h"

extern const struct module proxy_module;

/* Send x's request to its route's upstream: for a module that claimed
 * the exchange and then leaves the answer to the server (the cache, on
 * a miss). */
void proxy_start(struct exchange *x);

#endif
