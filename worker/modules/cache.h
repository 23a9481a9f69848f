/*
 * cache.h: the cache module: answers of cached routes from the route's
 * cache zone, and what the server sends stored there for everyone.
 *
 * Owns: for a route with cache = "NAME", the lookup (by cache_key, then
 * by Vary's secondary key), the answer from the store (with Age, 304 to
 * a conditional request, 206 to a range), one fetch per key at a time
 * across all workers (the others wait, bounded by cache_lock_timeout),
 * revalidation of stale answers with their validators, stale answers
 * when the server fails (stale-if-error) or while another request
 * refreshes them (stale-while-revalidate), storing as the body streams
 * to the first client, invalidation by unsafe methods, PURGE, and
 * Cache-Status (RFC 9211) on every answer of a cached route.
 *
 * cache.c decides; cache_key.c finds; cache_serve.c answers from the
 * store; cache_fill.c stores and refreshes. What they share is
 * cache_state.h.
 */
#ifndef PORTICO_MODULES_CACHE_H
#define PORTICO_MODULES_CACHE_H

#include "module.h"

extern const struct module cache_module;

#endif
