/*
 * auth_request.h: forward authentication (nginx's auth_request,
 * Traefik's ForwardAuth).
 *
 * Owns, in the access phase of a route with auth_request: the subrequest
 * to the auth server (an upstream: its balancing, health, retries and
 * timeouts) while the exchange waits, its verdict, what it changes in
 * the request (fields copied from a 2xx answer, the user) or the answer
 * the client gets instead (401, 403, 3xx as the auth server gave them;
 * 500 for anything else), and the decisions kept in the auth cache.
 */
#ifndef PORTICO_AUTH_REQUEST_H
#define PORTICO_AUTH_REQUEST_H

#include "module.h"

extern const struct module auth_request_module;

#endif
