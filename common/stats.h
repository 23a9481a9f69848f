/*
 * stats.h: traffic counters, one record per child process in the "stats"
 * shared-memory zone, summed when read.
 *
 * Owns: the record layout and the rules for touching it. A record has one
 * writer, its process, which updates it without a lock or a locked
 * instruction; readers (the status page) add up every record under the
 * zone lock, which the master also takes to link and unlink records. When
 * a process has exited, the master folds its counters into the zone's
 * retired totals, so nothing counted is lost, and gives back its share of
 * open connections in the health table.
 */
#ifndef PORTICO_STATS_H
#define PORTICO_STATS_H

#include <stdint.h>
#include <sys/types.h>

#include "shm.h"

struct stats_counters {
	uint64_t connections;		/* client connections accepted */
	uint64_t requests;		/* requests answered */
	uint64_t responses[6];		/* by class: [1] 1xx .. [5] 5xx, [0] other */
	uint64_t bytes_out;		/* response bytes sent to clients */
	uint64_t upstream_failures;	/* attempts that failed (passive failures) */
	uint64_t retries;		/* requests sent on to another server */
	uint64_t no_server;		/* requests no server could take (503) */
	uint64_t tls_handshakes;	/* client TLS handshakes completed */
	uint64_t tls_resumed;		/* ... of which resumed a session */
	/* requests of cached routes, by what the cache did */
	uint64_t cache_hits;		/* answered from the store */
	uint64_t cache_misses;		/* fetched: nothing stored fit */
	uint64_t cache_stale;		/* answered with a stale stored answer */
	uint64_t cache_revalidated;	/* a stored answer the server confirmed */
	uint64_t cache_bypassed;	/* not looked up (method, cache_bypass) */
	uint64_t cache_stored;		/* answers written to the store */
	uint64_t cache_collapsed;	/* misses that waited for another's fill */
	uint64_t filtered;		/* requests a request filter refused */
	/* requests of limited routes */
	uint64_t limit_req_refused;	/* over a limit_req's rate and burst */
	uint64_t limit_req_delayed;	/* ... made to wait their turn */
	uint64_t limit_conn_refused;	/* over a limit_conn's max */
	/* HTTP Basic authentication */
	uint64_t auth_basic_verifications;	/* passwords hashed, right or wrong */
	uint64_t auth_basic_cache_hits;	/* ... found right in the auth cache */
	uint64_t auth_basic_refused;	/* requests answered 401 */
	/* JWT bearer authentication */
	uint64_t auth_jwt_verifications;	/* tokens checked in full, signature too */
	uint64_t auth_jwt_cache_hits;	/* ... known good from the auth cache */
	uint64_t auth_jwt_refused;	/* requests answered 401 */
	/* Forward authentication */
	uint64_t auth_request_asked;	/* subrequests sent to auth servers */
	uint64_t auth_request_cache_hits;	/* decisions found in the auth cache */
	uint64_t auth_request_refused;	/* answered 401, 403 or 3xx as told */
	uint64_t auth_request_failed;	/* answered 500: no decision to go by */
	uint64_t request_time_us;	/* sum of the answered requests' times,
					 * head complete to end */
};
#define STATS_NCOUNTERS (sizeof(struct stats_counters) / sizeof(uint64_t))

/* Gauges: meaningful only while the process lives. */
struct stats_gauges {
	uint64_t connections_open;	/* client connections open now */
};

struct stats_proc {
	struct stats_counters c;
	struct stats_gauges g;
	pid_t pid;			/* set by the master after fork */
	unsigned generation;
	struct stats_proc *next;	/* all live records of the zone */
	unsigned nservers;		/* entries of conns[] */
	int32_t conns[];		/* this process's open exchanges per
					 * server id: see health_conn_open() */
};

/* The first block of the zone. */
struct stats_root {
	struct stats_counters retired;	/* of processes that have exited */
	struct stats_proc *procs;
	int64_t started;		/* Unix time the first zone was made:
					 * the server's start, kept over
					 * reloads */
};

/* One writer: a plain read-modify-write, stored whole for the readers. */
#define STATS_ADD(rec, field, n) \
	__atomic_store_n(&(rec)->field, (rec)->field + (n), __ATOMIC_RELAXED)

/* Add up the counters of every record and the retired totals, and the
 * gauges of live records. Takes the zone lock. */
void stats_sum(struct shm_zone *z, struct stats_root *root,
	       struct stats_counters *c, struct stats_gauges *g, unsigned *nprocs);

/* Fold an exited process's counters into root's retired totals; the
 * caller (the master) holds the lock of root's zone. */
void stats_retire(struct stats_root *root, struct stats_proc *p);

#endif
