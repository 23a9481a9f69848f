/*
 * worker.h: a worker process: drops privileges, then serves connections
 * from the shared listeners in an event loop until told to stop.
 *
 * Owns: the worker's main loop, its listeners and control channel, and
 * graceful or fast exit.
 */
#ifndef PORTICO_WORKER_H
#define PORTICO_WORKER_H

#include "auth_cache.h"
#include "conf.h"
#include "logfiles.h"
#include "health.h"
#include "stats.h"
#include "tls_cache.h"

struct worker_args {
	const struct conf *conf;
	unsigned index;			/* 0..workers-1 */
	int channel_fd;			/* master <-> this worker */
	const int *listen_fds;		/* one per conf->listens[i] */
	struct logfiles *logs;
	bool checker;			/* run the health checks, not listeners */
	struct health_peer *const *peers;	/* health table, by conf_server.id */
	struct stats_proc *stats;	/* this process's record, or NULL */
	struct shm_zone *stats_zone;	/* for the status page */
	struct stats_root *stats_root;
	struct tls_cache *tls_cache;	/* TLS sessions and ticket keys, or NULL */
	struct auth_cache *auth_cache;	/* authentication's decisions, or NULL */
	struct cache_store *const *caches;	/* by conf_cache.index */
	struct limit_zone *const *limits;	/* by conf_limit.index */
};

/* Run the worker in the current (freshly forked) process; never returns. */
void worker_main(const struct worker_args *args) __attribute__((noreturn));

#endif
