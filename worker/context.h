/*
 * context.h: what the request path reads of the worker process it runs
 * in: the configuration it serves, the shared zones, its counters.
 *
 * worker.c fills one context before serving and hands it to every module
 * (module init) and every exchange (x->ctx); nothing on the request path
 * reaches back into worker.c for it.
 */
#ifndef PORTICO_CONTEXT_H
#define PORTICO_CONTEXT_H

#include <stdbool.h>

#include "cache_store.h"
#include "auth_cache.h"
#include "conf.h"
#include "health.h"
#include "http_parse.h"
#include "limit_zone.h"
#include "logfiles.h"
#include "stats.h"
#include "tls_cache.h"

struct worker_ctx {
	const struct conf *conf;		/* the generation this worker serves */
	struct stats_proc *stats;		/* this process's counters */
	struct health_peer *const *peers;	/* health table, by conf_server.id */
	struct shm_zone *stats_zone;		/* every process's counters ... */
	struct stats_root *stats_root;		/* ... summed from here */
	struct tls_cache *tls_cache;		/* TLS sessions, or NULL */
	struct auth_cache *auth_cache;		/* authentication's decisions, or NULL */
	struct cache_store *const *caches;	/* by conf_cache.index */
	struct limit_zone *const *limits;	/* by conf_limit.index */
	struct logfiles *logs;			/* the files opened by the master */
	struct http_limits head_limits;		/* the parser's, from conf */
	bool quitting;				/* stopping gracefully */
};

#endif
