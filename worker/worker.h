/*
 * worker.h: a worker process: drops privileges, then serves connections
 * from the shared listeners in an event loop until told to stop.
 *
 * Owns: the worker's main loop, its listeners and control channel, and
 * graceful or fast exit.
 */
#ifndef PORTICO_WORKER_H
#define PORTICO_WORKER_H

#include "conf.h"
#include "logfiles.h"
#include "http_parse.h"
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
};

/* Run the worker in the current (freshly forked) process; never returns. */
void worker_main(const struct worker_args *args) __attribute__((noreturn));

/* The configuration this worker serves. */
extern const struct conf *worker_conf;

/* This worker's counters (in shared memory, or private when the zone was
 * full) and the health table entries, by conf_server.id. */
extern struct stats_proc *worker_stats;
extern struct health_peer *const *worker_peers;
extern struct shm_zone *worker_stats_zone;
extern struct stats_root *worker_stats_root;
/* The shared TLS session cache, or NULL. */
extern struct tls_cache *worker_tls_cache;

/* The parser's limits for heads, from the configuration. */
static inline struct http_limits worker_head_limits(void)
{
	return (struct http_limits){
		.max_request_line = worker_conf->max_request_line,
		.max_header_line = worker_conf->max_header_line,
		.max_head = worker_conf->header_buffer_size,
	};
}

#endif
